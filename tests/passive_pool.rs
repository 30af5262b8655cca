//! Pooled passive ports (`FtpHandler::passive_pool`, ftpdlib extension): a
//! range of 2 ports serves 20 clients listing at once from 20 addresses,
//! because a passive connection is matched to its session by the client's
//! address; one address that already waits on every port gets a clear 425
//! and succeeds on retry.

mod common;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::Command;

use common::{code_of, connect_from, pasv_addr, Client, TestServer, PASSWD, USER};

/// Two consecutive free ports (checked by binding them; another process
/// may still take one before the server does, then bind errors say so).
fn two_free_ports() -> (u16, u16) {
    for _ in 0..200 {
        let Ok(a) = TcpListener::bind("127.0.0.1:0") else {
            continue;
        };
        let p = a.local_addr().unwrap().port();
        if p < 65535 && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return (p, p + 1);
        }
    }
    panic!("no two consecutive free ports");
}

fn pooled_server() -> (TestServer, (u16, u16)) {
    let (lo, hi) = two_free_ports();
    let srv = TestServer::start_with(
        |_, _| {},
        move |h| {
            h.passive_ports = Some((lo..=hi).into());
            h.passive_pool = true;
        },
    );
    (srv, (lo, hi))
}

const TWENTY_CLIENTS: &str = r#"
import ftplib, json, sys, threading, time
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
n = 20
barrier = threading.Barrier(n)
results = [None] * n
class Recording(ftplib.FTP):
    def makepasv(self):
        h, p = super().makepasv()
        self.ports.append(p)
        return h, p
def client(i):
    src = "127.0.0.%d" % (20 + i)
    busy = 0
    try:
        ftp = Recording()
        ftp.ports = []
        ftp.connect(host, port, timeout=60, source_address=(src, 0))
        ftp.login(user, pw)
        barrier.wait(timeout=60)
        for attempt in range(50):
            lines = []
            try:
                ftp.retrlines("LIST", lines.append)
                break
            except ftplib.error_temp as e:
                if not str(e).startswith("425"):
                    raise
                busy += 1
                time.sleep(0.05)
        else:
            raise RuntimeError("still 425 after 50 tries")
        names = [l.split()[-1] for l in lines]
        ftp.quit()
        results[i] = {"src": src, "ok": "shared.txt" in names, "busy": busy, "ports": ftp.ports}
    except Exception as e:
        results[i] = {"src": src, "ok": False, "error": repr(e), "busy": busy}
threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps(results))
"#;

#[test]
fn two_ports_serve_twenty_clients_listing_at_once_from_twenty_addresses() {
    let (srv, (lo, hi)) = pooled_server();
    std::fs::write(srv.root().join("shared.txt"), b"x").unwrap();
    let out = Command::new("python3")
        .args(["-c", TWENTY_CLIENTS])
        .arg(srv.addr.ip().to_string())
        .arg(srv.addr.port().to_string())
        .args([USER, PASSWD])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every client listed the directory; addresses never compete for a
    // port, so none needed a retry.
    assert_eq!(text.matches("\"ok\": true").count(), 20, "{text}");
    assert_eq!(text.matches("\"busy\": 0").count(), 20, "{text}");
    // Every data connection went to one of the two pooled ports (without
    // the pool, PASVs beyond the range get a kernel-chosen port instead).
    let ports = format!("\"ports\": [{lo}]");
    let ports_hi = format!("\"ports\": [{hi}]");
    assert_eq!(
        text.matches(&ports).count() + text.matches(&ports_hi).count(),
        20,
        "{text}"
    );
}

/// A logged-in client connected from `src`.
fn login_from(srv: &TestServer, src: Ipv4Addr) -> Client {
    let s = connect_from(src, srv.addr).unwrap();
    s.set_read_timeout(Some(common::PATIENCE)).unwrap();
    let mut c = Client {
        reader: std::io::BufReader::new(s),
        greeting: String::new(),
    };
    c.greeting = c.read_reply();
    c.login(USER, PASSWD);
    c
}

#[test]
fn one_address_waiting_on_every_port_gets_425_and_succeeds_on_retry() {
    let (srv, (lo, hi)) = pooled_server();
    let me = Ipv4Addr::new(127, 0, 0, 40);
    let mut a = login_from(&srv, me);
    let mut b = login_from(&srv, me);
    let mut c = login_from(&srv, me);
    let pa = pasv_addr(&a.expect("PASV", 227));
    let pb = pasv_addr(&b.expect("PASV", 227));
    let mut ports = [pa.port(), pb.port()];
    ports.sort();
    assert_eq!(ports, [lo, hi], "the two sessions wait on different ports");
    let reply = c.cmd("PASV");
    assert_eq!(code_of(&reply), 425, "{reply}");
    // Another address is not affected: it may wait on a port .40 waits on.
    let mut other = login_from(&srv, Ipv4Addr::new(127, 0, 0, 41));
    other.expect("PASV", 227);
    // A's transfer takes its connection off the pool; C's retry succeeds.
    let data = connect_from(me, pa).unwrap();
    let prelim = a.cmd("LIST");
    assert!(matches!(code_of(&prelim), 125 | 150), "{prelim}");
    drop(std::io::read_to_string(data).unwrap());
    assert_eq!(code_of(&a.read_reply()), 226);
    let pc: SocketAddr = pasv_addr(&c.expect("PASV", 227));
    assert_eq!(pc.port(), pa.port());
    let data = connect_from(me, pc).unwrap();
    let prelim = c.cmd("NLST");
    assert!(matches!(code_of(&prelim), 125 | 150), "{prelim}");
    drop(std::io::read_to_string(data).unwrap());
    assert_eq!(code_of(&c.read_reply()), 226);
}
