//! Two ftpdlib instances behind HAProxy (issue 13, docs/cluster.md): HAProxy
//! on 127.0.0.1 sends PROXY v2 headers to instances on 127.0.0.2 and
//! 127.0.0.3 (one shared home, separate passive ranges, one HAProxy passive
//! frontend per instance), and clients bound to 127.0.0.10 and 127.0.0.11
//! (ftplib `source_address`, curl `--interface`, lftp `net:socket-bind-ipv4`)
//! see one server: uploads through one instance are downloaded through the
//! other, PASV and EPSV work with and without PROXY headers on the data
//! ports, logs and xferlog name the clients, `max_cons_per_ip` counts them,
//! untrusted headers are refused and HAProxy's health checks (LOCAL headers,
//! `tcp-check expect string 220`) mark both instances up.
//!
//! FTPS parts (explicit, and implicit through the TCP passthrough) need the
//! `tls` feature: `cargo test --features tls --test haproxy`.
//!
//! HAProxy comes from Debian's package (`.ci/run` installs it); without the
//! binary the tests say SKIPPED.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::curl::{run_curl, stderr};
use common::{code_of, connect_from, eventually, stop_child, PATIENCE};

const HAPROXY: &str = "/usr/sbin/haproxy";
const CLIENT_A: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 10);
const CLIENT_B: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 11);
/// Passive ports per instance.
const RANGE: u16 = 4;

fn haproxy_missing() -> bool {
    if Path::new(HAPROXY).exists() {
        return false;
    }
    eprintln!("SKIPPED: {HAPROXY} not installed (apt-get install haproxy)");
    true
}

/// How the cluster is set up.
#[derive(Clone, Copy, Default)]
struct Setup {
    /// PROXY headers on the passive ports too (`--proxy-data`).
    proxy_data: bool,
    /// `--max-cons-per-ip`, 0 = unlimited.
    per_ip: usize,
    /// `--tls` (explicit FTPS).
    tls: bool,
    /// `--implicit-tls`: the control frontend is a TCP passthrough of TLS.
    implicit: bool,
}

/// One ftpdlib instance.
struct Instance {
    child: Child,
    ip: Ipv4Addr,
    port: u16,
    log: PathBuf,
    xferlog: PathBuf,
}

/// HAProxy and its two instances; all stopped by PID on drop.
struct Cluster {
    dir: tempfile::TempDir,
    haproxy: Child,
    front: u16,
    instances: Vec<Instance>,
    setup: Setup,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        stop_child(&mut self.haproxy);
        for i in &mut self.instances {
            stop_child(&mut i.child);
        }
    }
}

/// Whether `ip:port` can be bound now.
fn bindable(ip: Ipv4Addr, port: u16) -> bool {
    TcpListener::bind((ip, port)).is_ok()
}

/// Ports handed out so far in this test process: the clusters of tests
/// running at once, and the pieces of one cluster, never share a port
/// (a port is only bound later, by the instance or by HAProxy).
fn reserved() -> std::sync::MutexGuard<'static, std::collections::HashSet<u16>> {
    static TAKEN: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<u16>>> =
        std::sync::OnceLock::new();
    TAKEN
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

/// `n` consecutive ports, free now on 127.0.0.1 and on `ip`, and not
/// handed out before; returns the first.
fn free_ports(ip: Ipv4Addr, n: u16) -> u16 {
    let mut taken = reserved();
    for _ in 0..1000 {
        let lo = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if lo > 65535 - n {
            continue;
        }
        let ok = (lo..lo + n)
            .all(|p| !taken.contains(&p) && bindable(Ipv4Addr::LOCALHOST, p) && bindable(ip, p));
        if ok {
            taken.extend(lo..lo + n);
            return lo;
        }
    }
    panic!("no {n} free ports");
}

/// Whether something listens on `ip:port` (from /proc/net/tcp).
fn listening(ip: Ipv4Addr, port: u16) -> bool {
    let o = ip.octets();
    let local = format!(
        "{:02X}{:02X}{:02X}{:02X}:{port:04X}",
        o[3], o[2], o[1], o[0]
    );
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    tcp.lines().any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.get(1) == Some(&local.as_str()) && f.get(3) == Some(&"0A")
    })
}

/// A self-signed certificate and key in `dir`.
fn make_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    common::write_self_signed(&cert, &key);
    (cert, key)
}

impl Cluster {
    fn start(setup: Setup) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir(&home).unwrap();
        let ips = [Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 3)];
        let front = free_ports(Ipv4Addr::LOCALHOST, 1);
        let ranges: Vec<u16> = ips.iter().map(|ip| free_ports(*ip, RANGE)).collect();
        let cert = (setup.tls || setup.implicit).then(|| make_cert(dir.path()));
        let mut instances = Vec::new();
        for (n, ip) in ips.into_iter().enumerate() {
            let name = ["a", "b"][n];
            let port = free_ports(ip, 1);
            let log = dir.path().join(format!("{name}.log"));
            let xferlog = dir.path().join(format!("xfer-{name}.log"));
            let lo = ranges[n];
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_ftpdlib"));
            cmd.args(["-i", &ip.to_string(), "-p", &port.to_string()])
                .args(["--range", &format!("{lo}-{}", lo + RANGE - 1)])
                .args(["--banner", &format!("instance {name} ready.")])
                .arg("--user")
                .arg(format!("user:12345:{}:elradfmw", home.display()))
                .arg("--no-anonymous")
                .args(["--proxy-protocol", "required"])
                .args(["--trusted-proxies", "127.0.0.1/32"])
                .arg("--xferlog")
                .arg(&xferlog)
                .args(["--max-cons-per-ip", &setup.per_ip.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&log).unwrap());
            if setup.proxy_data {
                cmd.arg("--proxy-data");
            }
            if let Some((cert, key)) = &cert {
                cmd.arg("--tls").arg("--certfile").arg(cert);
                cmd.arg("--keyfile").arg(key);
                if setup.implicit {
                    cmd.arg("--implicit-tls");
                }
            }
            let child = cmd.spawn().expect("spawn ftpdlib");
            instances.push(Instance {
                child,
                ip,
                port,
                log,
                xferlog,
            });
        }
        let cfg = dir.path().join("haproxy.cfg");
        std::fs::write(
            &cfg,
            haproxy_config(dir.path(), setup, front, &instances, &ranges),
        )
        .unwrap();
        let haproxy = Command::new(HAPROXY)
            .arg("-db")
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(dir.path().join("haproxy.out")).unwrap())
            .stderr(std::fs::File::create(dir.path().join("haproxy.err")).unwrap())
            .spawn()
            .expect("spawn haproxy");
        let mut cluster = Cluster {
            dir,
            haproxy,
            front,
            instances,
            setup,
        };
        cluster.wait_up(&ranges);
        cluster
    }

    /// Wait until every listener is up and HAProxy's checks passed.
    fn wait_up(&mut self, ranges: &[u16]) {
        for i in &self.instances {
            eventually("an instance listening", || listening(i.ip, i.port));
        }
        eventually("haproxy listening", || {
            if let Ok(Some(status)) = self.haproxy.try_wait() {
                panic!("haproxy exited {status}: {}", self.haproxy_err());
            }
            listening(Ipv4Addr::LOCALHOST, self.front)
                && ranges
                    .iter()
                    .all(|lo| listening(Ipv4Addr::LOCALHOST, *lo + RANGE - 1))
        });
        // Before its first check HAProxy already counts a server as up:
        // wait for checks that passed (L7OK: the greeting after a LOCAL
        // header), not just for the status.
        eventually("haproxy's health checks to pass", || {
            let stat = self.show_stat();
            ["a", "b"].iter().all(|s| server_checked_up(&stat, s))
        });
    }

    fn haproxy_err(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("haproxy.err")).unwrap_or_default()
    }

    /// `show stat` on HAProxy's stats socket.
    fn show_stat(&self) -> String {
        let Ok(mut s) = UnixStream::connect(self.dir.path().join("haproxy.sock")) else {
            return String::new();
        };
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let _ = s.write_all(b"show stat\n");
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn url(&self, path: &str) -> String {
        let scheme = if self.implicit() { "ftps" } else { "ftp" };
        format!("{scheme}://127.0.0.1:{}/{path}", self.front)
    }

    fn implicit(&self) -> bool {
        self.setup.implicit
    }

    fn log(&self, n: usize) -> String {
        std::fs::read_to_string(&self.instances[n].log).unwrap_or_default()
    }

    fn xferlog(&self, n: usize) -> String {
        std::fs::read_to_string(&self.instances[n].xferlog).unwrap_or_default()
    }

    fn all_logs(&self) -> String {
        format!("--- a\n{}\n--- b\n{}", self.log(0), self.log(1))
    }
}

fn haproxy_config(
    dir: &Path,
    setup: Setup,
    front: u16,
    instances: &[Instance],
    ranges: &[u16],
) -> String {
    let data_proxy = if setup.proxy_data {
        " send-proxy-v2"
    } else {
        ""
    };
    // Implicit FTPS: the greeting is inside TLS, so the check speaks TLS
    // (after its LOCAL header) before it expects the 220.
    let check_ssl = if setup.implicit {
        " check-ssl verify none"
    } else {
        ""
    };
    // Per-IP limits hold cluster-wide only when one address always reaches
    // the same instance: `balance source` (docs/cluster.md).
    let balance = if setup.per_ip > 0 {
        "source"
    } else {
        "roundrobin"
    };
    let mut c = format!(
        "global\n\
         \x20   stats socket {sock} mode 600 level admin\n\
         \x20   maxconn 1000\n\
         defaults\n\
         \x20   mode tcp\n\
         \x20   timeout connect 5s\n\
         \x20   timeout client 10m\n\
         \x20   timeout server 10m\n\
         \x20   timeout tunnel 1h\n\
         listen ftp\n\
         \x20   bind 127.0.0.1:{front}\n\
         \x20   balance {balance}\n\
         \x20   option tcp-check\n\
         \x20   tcp-check expect string 220\n\
         \x20   tcp-check send \"QUIT\\r\\n\"\n\
         \x20   default-server send-proxy-v2 check check-send-proxy{check_ssl} inter 300 rise 1 fall 3\n",
        sock = dir.join("haproxy.sock").display(),
    );
    for (n, i) in instances.iter().enumerate() {
        c.push_str(&format!(
            "    server {} {}:{}\n",
            ["a", "b"][n],
            i.ip,
            i.port
        ));
    }
    for (n, i) in instances.iter().enumerate() {
        let lo = ranges[n];
        c.push_str(&format!(
            "listen pasv_{name}\n    bind 127.0.0.1:{lo}-{hi}\n    server {name} {ip}{data_proxy}\n",
            name = ["a", "b"][n],
            hi = lo + RANGE - 1,
            ip = i.ip,
        ));
    }
    c
}

/// Whether `show stat` has server `name` of proxy `ftp` UP after a passed
/// layer-7 check.
fn server_checked_up(stat: &str, name: &str) -> bool {
    let mut lines = stat.lines();
    let Some(head) = lines.next() else {
        return false;
    };
    let cols: Vec<&str> = head.trim_start_matches("# ").split(',').collect();
    let col = |n: &str| cols.iter().position(|c| *c == n);
    let (Some(px), Some(sv), Some(st), Some(ck)) = (
        col("pxname"),
        col("svname"),
        col("status"),
        col("check_status"),
    ) else {
        return false;
    };
    lines.any(|l| {
        let f: Vec<&str> = l.split(',').collect();
        f.get(px) == Some(&"ftp")
            && f.get(sv) == Some(&name)
            && f.get(st) == Some(&"UP")
            && f.get(ck) == Some(&"L7OK")
    })
}

/// Run the ftplib client of tests/py/haproxy_ftplib.py.
fn ftplib(
    c: &Cluster,
    src: Ipv4Addr,
    want: &str,
    action: &str,
    remote: &str,
    local: &Path,
    tls: bool,
) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py/haproxy_ftplib.py");
    let out = Command::new("python3")
        .arg(script)
        .args(["127.0.0.1", &c.front.to_string(), &src.to_string(), want])
        .args([action, remote])
        .arg(local)
        .arg(if tls { "tls" } else { "plain" })
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "ftplib {action} {remote}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        c.all_logs()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// curl from `src` with `args` (`-sS --max-time 60`, `-k --ssl-reqd` for
/// explicit FTPS).
fn curl(c: &Cluster, src: Ipv4Addr, tls: bool, args: &[&str]) -> Output {
    let iface = src.to_string();
    let mut base = vec![
        "-sS",
        "--max-time",
        "60",
        "-u",
        "user:12345",
        "--interface",
        iface.as_str(),
    ];
    if tls || c.implicit() {
        base.extend(["-k"]);
    }
    if tls {
        base.extend(["--ssl-reqd"]);
    }
    let out = run_curl(&base, args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "curl {args:?}: {}\n{}",
        stderr(&out),
        c.all_logs()
    );
    out
}

fn blob(n: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The same file goes up through instance a and comes down through b
/// (ftplib, PASV); then curl moves files both ways with EPSV and with PASV
/// from the other client address.
fn transfers_across_instances(c: &Cluster, tls: bool) {
    let up = blob(300_000, 1);
    std::fs::write(c.file("up.bin"), &up).unwrap();
    let served = ftplib(
        c,
        CLIENT_A,
        "a",
        "stor",
        "shared.bin",
        &c.file("up.bin"),
        tls,
    );
    assert!(served.starts_with("instance a"), "{served}");
    let served = ftplib(
        c,
        CLIENT_B,
        "b",
        "retr",
        "shared.bin",
        &c.file("down.bin"),
        tls,
    );
    assert!(served.starts_with("instance b"), "{served}");
    assert!(
        std::fs::read(c.file("down.bin")).unwrap() == up,
        "download differs"
    );

    // curl: EPSV (its default) upload from .11, download from .10; then
    // PASV (--disable-epsv) both ways. Round robin spreads them over both
    // instances; the shared home makes that invisible.
    let up2 = blob(200_000, 2);
    std::fs::write(c.file("up2.bin"), &up2).unwrap();
    let up_path = c.file("up2.bin");
    let up_arg = up_path.to_str().unwrap();
    for (i, epsv) in [(0, true), (1, true), (2, false), (3, false)] {
        let name = format!("curl{i}.bin");
        let mut args = vec!["-T", up_arg];
        if !epsv {
            args.push("--disable-epsv");
        }
        let url = c.url(&name);
        args.push(&url);
        curl(c, CLIENT_B, tls, &args);
        let mut args = vec![];
        if !epsv {
            args.push("--disable-epsv");
        }
        args.push(&url);
        let got = curl(c, CLIENT_A, tls, &args);
        assert!(got.stdout == up2, "curl download {i} differs");
    }
}

/// Logs and xferlog name the client addresses, never the balancer's: the
/// balancer appears only as the proxy of a session or in health checks.
fn logs_name_the_clients(c: &Cluster) {
    let logs = c.all_logs();
    assert!(
        logs.contains("127.0.0.10:") && logs.contains("127.0.0.11:"),
        "{logs}"
    );
    assert!(logs.contains("relayed by proxy 127.0.0.1:"), "{logs}");
    let mut transfers = 0;
    for line in logs.lines() {
        if line.contains(" RETR ") || line.contains(" STOR ") {
            transfers += 1;
            assert!(
                line.contains("] 127.0.0.10:") || line.contains("] 127.0.0.11:"),
                "transfer logged under another address: {line}"
            );
        }
    }
    assert!(transfers >= 10, "{logs}");
    let xfer = format!("{}{}", c.xferlog(0), c.xferlog(1));
    assert!(
        !c.xferlog(0).is_empty() && !c.xferlog(1).is_empty(),
        "{xfer}"
    );
    for line in xfer.lines() {
        // Field 7 of an xferlog line is the remote host.
        let host = line.split_whitespace().nth(6).unwrap_or("");
        assert!(
            host == "127.0.0.10" || host == "127.0.0.11",
            "xferlog names {host:?}: {line}"
        );
    }
}

#[test]
fn plain_ftp_through_haproxy_without_proxy_headers_on_data_ports() {
    if haproxy_missing() {
        return;
    }
    let c = Cluster::start(Setup::default());
    transfers_across_instances(&c, false);
    lftp_round_trip(&c);
    logs_name_the_clients(&c);
}

#[test]
fn plain_ftp_through_haproxy_with_proxy_headers_on_data_ports() {
    if haproxy_missing() {
        return;
    }
    let c = Cluster::start(Setup {
        proxy_data: true,
        ..Setup::default()
    });
    transfers_across_instances(&c, false);
    logs_name_the_clients(&c);
}

/// lftp, bound to .10, lists and fetches what ftplib uploaded.
fn lftp_round_trip(c: &Cluster) {
    if Command::new("lftp").arg("--version").output().is_err() {
        eprintln!("SKIPPED (lftp part): lftp not installed");
        return;
    }
    let out_file = c.file("lftp.bin");
    let script = format!(
        "set net:socket-bind-ipv4 127.0.0.10; set net:max-retries 1; set net:timeout 60; \
         set ftp:ssl-allow no; open -u user,12345 ftp://127.0.0.1:{}; cls -1; get shared.bin -o {}; bye",
        c.front,
        out_file.display()
    );
    let out = Command::new("lftp")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("lftp");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "lftp: {text}{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        c.all_logs()
    );
    assert!(text.contains("shared.bin"), "{text}");
    assert!(
        std::fs::read(&out_file).unwrap() == std::fs::read(c.home().join("shared.bin")).unwrap()
    );
    assert!(
        c.all_logs().contains("127.0.0.10:"),
        "lftp session not named .10"
    );
}

/// The reply a fresh control connection from `src` gets first.
fn greeting_from(c: &Cluster, src: Ipv4Addr) -> (std::net::TcpStream, String) {
    let front: SocketAddr = (Ipv4Addr::LOCALHOST, c.front).into();
    let mut s = connect_from(src, front).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap_or(0);
    (s, String::from_utf8_lossy(&buf[..n]).into_owned())
}

#[test]
fn per_ip_limits_count_clients_and_untrusted_headers_are_refused() {
    if haproxy_missing() {
        return;
    }
    let c = Cluster::start(Setup {
        per_ip: 1,
        ..Setup::default()
    });
    // With source stickiness both sessions of .10 reach one instance: the
    // second is refused, and .11 still gets in.
    let (_first, g) = greeting_from(&c, CLIENT_A);
    assert_eq!(code_of(&g), 220, "{g}\n{}", c.all_logs());
    let (_second, g) = greeting_from(&c, CLIENT_A);
    assert_eq!(code_of(&g), 421, "{g}\n{}", c.all_logs());
    assert!(
        g.contains("Too many connections from the same IP address"),
        "{g}"
    );
    // .11 gets in meanwhile, on either instance.
    let (_s11, g) = greeting_from(&c, CLIENT_B);
    assert_eq!(code_of(&g), 220, "{g}");
    assert!(c.all_logs().contains("127.0.0.10:"));
    // A PROXY header straight from a client (not the balancer) is refused:
    // the connection closes without a greeting.
    let inst: SocketAddr = (c.instances[0].ip, c.instances[0].port).into();
    let mut s = connect_from(CLIENT_A, inst).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = s.write_all(b"PROXY TCP4 127.0.0.99 127.0.0.2 1 21\r\n");
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "{:?}", String::from_utf8_lossy(&buf[..n]));
    eventually("the refusal in the instance's log", || {
        c.log(0).contains("127.0.0.10:") && c.log(0).contains("not a trusted proxy")
    });
    assert!(!c.all_logs().contains("127.0.0.99"));
    // And the health checks still pass.
    let stat = c.show_stat();
    assert!(
        server_checked_up(&stat, "a") && server_checked_up(&stat, "b"),
        "{stat}"
    );
}

#[cfg(feature = "tls")]
#[test]
fn explicit_ftps_through_haproxy_with_and_without_proxy_on_data_ports() {
    if haproxy_missing() {
        return;
    }
    for proxy_data in [false, true] {
        let c = Cluster::start(Setup {
            proxy_data,
            tls: true,
            ..Setup::default()
        });
        transfers_across_instances(&c, true);
        logs_name_the_clients(&c);
    }
}

#[cfg(feature = "tls")]
#[test]
fn implicit_ftps_through_a_tcp_passthrough() {
    if haproxy_missing() {
        return;
    }
    for proxy_data in [false, true] {
        let c = Cluster::start(Setup {
            proxy_data,
            implicit: true,
            ..Setup::default()
        });
        // The ClientHello follows the PROXY header at once.
        let up = blob(150_000, 3);
        std::fs::write(c.file("i.bin"), &up).unwrap();
        let path = c.file("i.bin");
        for (i, epsv) in [(0, true), (1, false), (2, true), (3, false)] {
            let name = format!("implicit{i}.bin");
            let url = c.url(&name);
            let mut args = vec!["-T", path.to_str().unwrap()];
            if !epsv {
                args.push("--disable-epsv");
            }
            args.push(&url);
            curl(&c, CLIENT_A, false, &args);
            let got = curl(&c, CLIENT_B, false, &[&url]);
            assert!(got.stdout == up, "implicit download {i} differs");
        }
        logs_name_the_clients_of_implicit(&c);
    }
}

#[cfg(feature = "tls")]
fn logs_name_the_clients_of_implicit(c: &Cluster) {
    let xfer = format!("{}{}", c.xferlog(0), c.xferlog(1));
    assert!(xfer.lines().count() >= 8, "{xfer}");
    for line in xfer.lines() {
        let host = line.split_whitespace().nth(6).unwrap_or("");
        assert!(host == "127.0.0.10" || host == "127.0.0.11", "{line}");
    }
}

/// Without PROXY headers on the data ports every relayed data connection
/// comes from the balancer, so the address check cannot stop another user
/// of the balancer who connects to a session's passive port first: TLS
/// session reuse does (docs/cluster.md). The thief's fresh TLS session is
/// refused, nothing leaks, and the client's transfer command finds no data
/// connection (522 if it was already waiting for that one, else 425).
#[cfg(feature = "tls")]
#[test]
fn without_proxy_data_tls_session_reuse_stops_a_data_port_thief() {
    if haproxy_missing() {
        return;
    }
    const THIEF: &str = r#"
import ftplib, socket, ssl, sys
host, port = sys.argv[1], int(sys.argv[2])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ftp = ftplib.FTP_TLS(context=ctx, timeout=60)
ftp.connect(host, port, source_address=("127.0.0.10", 0))
ftp.auth()
ftp.login("user", "12345")
ftp.prot_p()
_, pasv_port = ftp.makepasv()
# Another client of the balancer takes the passive port first, with a TLS
# session of its own.
thief = socket.create_connection((host, pasv_port), source_address=("127.0.0.66", 0), timeout=60)
stolen = b""
try:
    t = ctx.wrap_socket(thief)
    while True:
        chunk = t.recv(4096)
        if not chunk:
            break
        stolen += chunk
except (ssl.SSLError, OSError):
    pass
ftp.putcmd("LIST")
while True:
    line = ftp.getline()
    if line[:3].isdigit() and not line.startswith("1") and line[3:4] == " ":
        break
print(line)
print("stolen=%d" % len(stolen))
"#;
    let c = Cluster::start(Setup {
        tls: true,
        ..Setup::default()
    });
    std::fs::write(c.home().join("secret.txt"), b"x").unwrap();
    let out = Command::new("python3")
        .args(["-c", THIEF, "127.0.0.1", &c.front.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        c.all_logs()
    );
    assert!(
        text.starts_with("522 ") || text.starts_with("425 "),
        "{text}\n{}",
        c.all_logs()
    );
    assert!(text.contains("stolen=0"), "{text}");
    assert!(
        c.all_logs().contains("TLS session not resumed"),
        "{}",
        c.all_logs()
    );
}
