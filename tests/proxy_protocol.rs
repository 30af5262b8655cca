//! PROXY protocol on a real server (ftpdlib extension, docs/cluster.md): the
//! header before the greeting, split across segments, bounded in time; the
//! client it names is the session's address for limits, hooks and the
//! data-connection checks; untrusted peers; LOCAL headers; PROXY headers on
//! data connections (`proxy_data`) with the bytes after them kept.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{code_of, connect_from, pasv_addr, Client, TestServer, PASSWD, PATIENCE, USER};
use ftpdlib::proxy_protocol::{parse_cidr_list, ProxyProtocol};
use ftpdlib::{FtpHandler, Hooks, SessionInfo};

/// Remembers the address every session was opened with.
struct Seen(Arc<Mutex<Vec<SocketAddr>>>);

impl Hooks for Seen {
    fn on_connect(&self, session: &SessionInfo<'_>) {
        self.0.lock().unwrap().push(session.remote);
    }
}

/// A server behind "the proxy" 127.0.0.1 in `mode`; returns it and the
/// addresses its sessions saw.
fn server(
    mode: ProxyProtocol,
    tweak: impl FnOnce(&mut FtpHandler) + Send + 'static,
    per_ip: usize,
) -> (TestServer, Arc<Mutex<Vec<SocketAddr>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hooks = Seen(Arc::clone(&seen));
    let srv = TestServer::start_full(
        |_, _| {},
        move |h| {
            h.proxy_protocol = mode;
            h.trusted_proxies = parse_cidr_list("127.0.0.1/32").unwrap();
            h.proxy_header_timeout = Duration::from_millis(300);
            h.hooks = Box::new(hooks);
            tweak(h);
        },
        move |s| s.max_cons_per_ip = per_ip,
    );
    (srv, seen)
}

fn v1(src: &str, sport: u16, dst: &str) -> Vec<u8> {
    format!("PROXY TCP4 {src} {dst} {sport} 21\r\n").into_bytes()
}

fn v2_tcp4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16) -> Vec<u8> {
    let mut h = b"\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c".to_vec();
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    h.extend_from_slice(&sport.to_be_bytes());
    h.extend_from_slice(&dport.to_be_bytes());
    h
}

/// A client on the proxy's address that sent `header` (and `then`) first.
fn via_proxy(addr: SocketAddr, header: &[u8], then: &[u8]) -> Client {
    let mut sock = TcpStream::connect(addr).expect("connect");
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut all = header.to_vec();
    all.extend_from_slice(then);
    sock.write_all(&all).unwrap();
    let mut c = Client {
        reader: std::io::BufReader::new(sock),
        greeting: String::new(),
    };
    c.greeting = c.read_reply();
    c
}

/// Whether the server closed `sock` without sending a byte.
fn closed_silently(sock: &mut TcpStream) -> bool {
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 64];
    match sock.read(&mut buf) {
        Ok(0) => true,
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Ok(n) => panic!("got {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) => panic!("still open: {e}"),
    }
}

#[test]
fn a_header_sent_byte_by_byte_comes_before_the_greeting_and_names_the_client() {
    let (srv, seen) = server(ProxyProtocol::Required, |_| {}, 0);
    let header = v2_tcp4([127, 0, 0, 10], 40000, [127, 0, 0, 1], 21);
    let mut sock = TcpStream::connect(srv.addr).unwrap();
    sock.set_nodelay(true).unwrap();
    for b in &header[..header.len() - 1] {
        sock.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    // Not greeted while the header is incomplete.
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(
        sock.read(&mut buf).map_err(|e| e.kind()),
        Err(ErrorKind::WouldBlock)
    );
    sock.set_nonblocking(false).unwrap();
    // The last header byte and the first command in one segment: the
    // command survives.
    sock.write_all(&[header[header.len() - 1]]).unwrap();
    sock.write_all(b"USER user\r\n").unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut c = Client {
        reader: std::io::BufReader::new(sock),
        greeting: String::new(),
    };
    assert_eq!(code_of(&c.read_reply()), 220);
    assert_eq!(code_of(&c.read_reply()), 331);
    c.expect(&format!("PASS {PASSWD}"), 230);
    assert_eq!(
        *seen.lock().unwrap(),
        vec!["127.0.0.10:40000".parse::<SocketAddr>().unwrap()]
    );
}

#[test]
fn a_v1_header_with_a_command_in_the_same_segment() {
    let (srv, seen) = server(ProxyProtocol::Required, |_| {}, 0);
    let mut c = via_proxy(srv.addr, &v1("127.0.0.11", 5000, "127.0.0.1"), b"NOOP\r\n");
    assert_eq!(code_of(&c.greeting), 220);
    assert_eq!(code_of(&c.read_reply()), 200);
    assert_eq!(seen.lock().unwrap()[0], "127.0.0.11:5000".parse().unwrap());
}

#[test]
fn a_stalled_header_is_closed_by_the_timer_while_others_are_served() {
    let (srv, _) = server(ProxyProtocol::Required, |_| {}, 0);
    let mut stalled = TcpStream::connect(srv.addr).unwrap();
    stalled.write_all(b"PROXY TCP4 127.0.0.").unwrap();
    let mut silent = TcpStream::connect(srv.addr).unwrap();
    // Meanwhile the loop serves another client.
    let mut c = via_proxy(srv.addr, &v1("127.0.0.12", 1, "127.0.0.1"), b"");
    c.login(USER, PASSWD);
    assert!(closed_silently(&mut stalled));
    assert!(closed_silently(&mut silent));
}

#[test]
fn broken_and_oversized_headers_are_closed_without_a_greeting() {
    let (srv, _) = server(ProxyProtocol::Required, |_| {}, 0);
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(200, b'x');
    let mut v2_big = v2_tcp4([1, 1, 1, 1], 1, [2, 2, 2, 2], 2);
    v2_big[14..16].copy_from_slice(&60000u16.to_be_bytes());
    for bad in [
        b"USER anonymous\r\n".to_vec(),
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n".to_vec(),
        long,
        v2_big,
    ] {
        let mut s = TcpStream::connect(srv.addr).unwrap();
        s.write_all(&bad).unwrap();
        assert!(closed_silently(&mut s), "{bad:?}");
    }
}

#[test]
fn required_mode_closes_untrusted_peers_even_with_a_header() {
    let (srv, seen) = server(ProxyProtocol::Required, |_| {}, 0);
    let mut s = connect_from(Ipv4Addr::new(127, 0, 0, 5), srv.addr).unwrap();
    let _ = s.write_all(&v1("127.0.0.10", 1, "127.0.0.1"));
    assert!(closed_silently(&mut s));
    assert!(seen.lock().unwrap().is_empty());
}

#[test]
fn optional_mode_treats_an_untrusted_header_as_ftp_input() {
    let (srv, seen) = server(ProxyProtocol::Optional, |_| {}, 0);
    let s = connect_from(Ipv4Addr::new(127, 0, 0, 5), srv.addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut c = Client {
        reader: std::io::BufReader::new(s),
        greeting: String::new(),
    };
    assert_eq!(code_of(&c.read_reply()), 220);
    let reply = c.cmd("PROXY TCP4 127.0.0.10 127.0.0.1 1 21");
    assert_eq!(code_of(&reply), 500, "{reply}");
    assert_eq!(seen.lock().unwrap()[0].ip().to_string(), "127.0.0.5");
}

#[test]
fn optional_mode_greets_a_trusted_peer_that_sends_no_header() {
    let (srv, seen) = server(ProxyProtocol::Optional, |_| {}, 0);
    let mut c = Client::connect(srv.addr);
    assert_eq!(code_of(&c.greeting), 220);
    c.login(USER, PASSWD);
    assert_eq!(seen.lock().unwrap()[0].ip().to_string(), "127.0.0.1");
    // And a header still works in optional mode.
    let c2 = via_proxy(srv.addr, &v1("127.0.0.13", 7, "127.0.0.1"), b"");
    assert_eq!(code_of(&c2.greeting), 220);
    assert_eq!(seen.lock().unwrap()[1].ip().to_string(), "127.0.0.13");
}

#[test]
fn local_and_unknown_headers_keep_the_socket_address() {
    let (srv, seen) = server(ProxyProtocol::Required, |_| {}, 0);
    let local = b"\r\n\r\n\0\r\nQUIT\n\x20\x00\x00\x00";
    let c = via_proxy(srv.addr, local, b"");
    assert_eq!(code_of(&c.greeting), 220);
    let c2 = via_proxy(srv.addr, b"PROXY UNKNOWN\r\n", b"");
    assert_eq!(code_of(&c2.greeting), 220);
    for a in seen.lock().unwrap().iter() {
        assert_eq!(a.ip().to_string(), "127.0.0.1");
    }
}

#[test]
fn max_cons_per_ip_counts_the_client_behind_the_proxy() {
    let (srv, _) = server(ProxyProtocol::Required, |_| {}, 1);
    let first = via_proxy(srv.addr, &v1("127.0.0.10", 1, "127.0.0.1"), b"");
    assert_eq!(code_of(&first.greeting), 220);
    let second = via_proxy(srv.addr, &v1("127.0.0.10", 2, "127.0.0.1"), b"");
    assert_eq!(code_of(&second.greeting), 421, "{}", second.greeting);
    let other = via_proxy(srv.addr, &v1("127.0.0.11", 3, "127.0.0.1"), b"");
    assert_eq!(code_of(&other.greeting), 220);
    drop(first);
    // The slot of .10 comes back when its session ends.
    common::eventually("the first session of .10 to be released", || {
        let again = via_proxy(srv.addr, &v1("127.0.0.10", 4, "127.0.0.1"), b"");
        code_of(&again.greeting) == 220
    });
}

#[test]
fn pasv_announces_the_header_destination_and_port_checks_the_client() {
    let (srv, _) = server(ProxyProtocol::Required, |_| {}, 0);
    let mut c = via_proxy(srv.addr, &v1("127.0.0.10", 1, "127.0.0.9"), b"");
    c.login(USER, PASSWD);
    let reply = c.expect("PASV", 227);
    assert_eq!(pasv_addr(&reply).ip().to_string(), "127.0.0.9");
    // PORT to the proxy's address is foreign for a client at .10 ...
    let reply = c.cmd("PORT 127,0,0,1,200,1");
    assert_eq!(code_of(&reply), 501, "{reply}");
    assert!(reply.contains("foreign"), "{reply}");
}

/// A logged-in session of client `.10` relayed by 127.0.0.1 and announced
/// at 127.0.0.1, so that its PASV port is reachable directly.
fn proxied_login(srv: &TestServer) -> Client {
    let mut c = via_proxy(srv.addr, &v1("127.0.0.10", 1, "127.0.0.1"), b"");
    c.login(USER, PASSWD);
    c
}

#[test]
fn proxy_data_needs_the_sessions_client_as_the_data_header_source() {
    let (srv, _) = server(ProxyProtocol::Required, |h| h.proxy_data = true, 0);
    let mut c = proxied_login(&srv);
    let port = pasv_addr(&c.expect("PASV", 227));
    // A stranger's data connection relayed by the proxy is refused (closed;
    // no reply, since no command awaits one) and the listener waits on ...
    let mut thief = TcpStream::connect(port).unwrap();
    thief.write_all(&v1("127.0.0.66", 9, "127.0.0.1")).unwrap();
    assert!(closed_silently(&mut thief));
    // ... so is one with no header at all ...
    let mut bare = TcpStream::connect(port).unwrap();
    bare.write_all(b"hello").unwrap();
    assert!(closed_silently(&mut bare));
    // ... and the client's own, whose upload follows its header in the same
    // segment, is taken with every byte after the header.
    let body: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let mut data = TcpStream::connect(port).unwrap();
    let mut first = v1("127.0.0.10", 2, "127.0.0.1");
    first.extend_from_slice(&body);
    let prelim = c.cmd("STOR up.bin");
    assert!(matches!(code_of(&prelim), 125 | 150), "{prelim}");
    data.write_all(&first).unwrap();
    drop(data);
    assert_eq!(code_of(&c.read_reply()), 226);
    assert_eq!(std::fs::read(srv.root().join("up.bin")).unwrap(), body);
}

#[test]
fn without_proxy_data_a_proxied_sessions_data_may_come_from_the_proxy() {
    let (srv, _) = server(ProxyProtocol::Required, |_| {}, 0);
    std::fs::write(srv.root().join("f.txt"), b"through the balancer").unwrap();
    let mut c = proxied_login(&srv);
    c.expect("TYPE I", 200);
    let (data, reply) = c.retrieve("RETR f.txt");
    assert_eq!(code_of(&reply), 226);
    assert_eq!(data, b"through the balancer");
    // A direct peer that is neither the client nor a trusted proxy is not:
    // it is closed and the listener still serves the proxy's connection.
    let port = pasv_addr(&c.expect("PASV", 227));
    let mut thief = connect_from(Ipv4Addr::new(127, 0, 0, 66), port).unwrap();
    assert!(closed_silently(&mut thief));
    let data = TcpStream::connect(port).unwrap();
    let prelim = c.cmd("NLST");
    assert!(matches!(code_of(&prelim), 125 | 150), "{prelim}");
    let names = std::io::read_to_string(data).unwrap();
    assert!(names.contains("f.txt"), "{names}");
    assert_eq!(code_of(&c.read_reply()), 226);
}

#[test]
fn a_masquerade_address_wins_over_the_header_destination() {
    let (srv, _) = server(
        ProxyProtocol::Required,
        |h| h.masquerade_address = Some("127.0.0.77".parse().unwrap()),
        0,
    );
    let mut c = via_proxy(srv.addr, &v1("127.0.0.10", 1, "127.0.0.9"), b"");
    c.login(USER, PASSWD);
    let reply = c.expect("PASV", 227);
    assert_eq!(pasv_addr(&reply).ip().to_string(), "127.0.0.77");
}

#[test]
fn an_ipv6_client_behind_an_ipv4_proxy_is_the_sessions_address() {
    let (srv, seen) = server(ProxyProtocol::Required, |_| {}, 0);
    let header = b"PROXY TCP6 2001:db8::10 2001:db8::1 4242 21\r\n";
    let mut c = via_proxy(srv.addr, header, b"");
    c.login(USER, PASSWD);
    assert_eq!(
        seen.lock().unwrap()[0],
        "[2001:db8::10]:4242".parse::<SocketAddr>().unwrap()
    );
    // The client reached an IPv6 address: PASV cannot name one (it used
    // to announce 0,0,0,0), so it is refused as on a direct IPv6
    // connection, and EPSV 1 names the family to use.
    let reply = c.cmd("PASV");
    assert_eq!(code_of(&reply), 425, "{reply}");
    assert!(reply.contains("use EPSV"), "{reply}");
    assert_eq!(code_of(&c.cmd("EPSV 1")), 522);
    // EPSV works (the data connection comes from the proxy).
    std::fs::write(srv.root().join("v6.txt"), b"x").unwrap();
    let reply = c.expect("EPSV", 229);
    let port: u16 = reply
        .split("|||")
        .nth(1)
        .and_then(|r| r.split('|').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{reply}"));
    let data = TcpStream::connect((srv.addr.ip(), port)).unwrap();
    let prelim = c.cmd("NLST");
    assert!(matches!(code_of(&prelim), 125 | 150), "{prelim}");
    let names = std::io::read_to_string(data).unwrap();
    assert!(names.contains("v6.txt"), "{names}");
    assert_eq!(code_of(&c.read_reply()), 226);
}

#[test]
fn connections_waiting_for_their_header_are_bounded_by_max_cons() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let hooks = Seen(Arc::clone(&seen));
    let srv = TestServer::start_full(
        |_, _| {},
        move |h| {
            h.proxy_protocol = ProxyProtocol::Required;
            h.trusted_proxies = parse_cidr_list("127.0.0.1").unwrap();
            // Far beyond the test's patience: only the bound closes.
            h.proxy_header_timeout = Duration::from_secs(600);
            h.hooks = Box::new(hooks);
        },
        |s| s.max_cons = 2,
    );
    let silent1 = TcpStream::connect(srv.addr).unwrap();
    let _silent2 = TcpStream::connect(srv.addr).unwrap();
    let mut third = TcpStream::connect(srv.addr).unwrap();
    assert!(closed_silently(&mut third));
    drop(silent1);
    // One left: a header is read again.
    common::eventually("a slot for a header to free", || {
        let mut s = TcpStream::connect(srv.addr).unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        s.write_all(&v1("127.0.0.10", 1, "127.0.0.1")).unwrap();
        let mut buf = [0u8; 3];
        matches!(s.read(&mut buf), Ok(3) if &buf == b"220")
    });
}
