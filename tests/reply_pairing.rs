//! Replies pair with commands in every failure path of the data channel
//! (issue 11): each way a data connection can fail is driven over real
//! sockets, then the next commands must get their own replies (NOOP its
//! 200, PWD its 257). A reply sent to nobody (pyftpdlib's unsolicited
//! `421 Passive data channel timed out.`) or a reply missing (a 150 never
//! closed) would show here as NOOP reading someone else's reply.
//! The TLS paths are in `tests/reply_pairing_tls.rs`.

mod common;
use common::*;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{FromRawFd, OwnedFd};
use std::time::Duration;

/// A download far larger than the socket buffers, so it is mid-way when
/// the test breaks it.
const BIG: usize = 32 << 20;
const NO_DATA: &str = "425 No data connection: use PASV, EPSV, PORT or EPRT first.\r\n";

/// The session is in step: NOOP and PWD get their own replies.
fn in_step(c: &mut Client) {
    assert_eq!(c.cmd("NOOP"), "200 I successfully did nothing.\r\n");
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
}

/// A logged-in client in binary type.
fn binary_client(srv: &TestServer) -> Client {
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    c
}

/// A port on 127.0.0.1 where nothing listens.
fn closed_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Close `s` with a reset (SO_LINGER 0) instead of a FIN.
fn reset(s: TcpStream) {
    set_linger0(&s);
    drop(s);
}

/// A listener whose accept queue is full: a connect to it stays in
/// progress (SYNs dropped) until the connector gives up.
fn full_backlog_listener() -> (OwnedFd, SocketAddr, Vec<TcpStream>) {
    // SAFETY: plain socket calls on a descriptor owned right away; the
    // address structs are live and sized as passed.
    let (fd, addr) = unsafe {
        let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(raw >= 0);
        let fd = OwnedFd::from_raw_fd(raw);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let sa = sockaddr_in(Ipv4Addr::LOCALHOST, 0);
        assert_eq!(
            libc::bind(raw, (&sa as *const libc::sockaddr_in).cast(), len),
            0
        );
        assert_eq!(libc::listen(raw, 0), 0);
        let mut out = sockaddr_in(Ipv4Addr::UNSPECIFIED, 0);
        let mut olen = len;
        assert_eq!(
            libc::getsockname(raw, (&mut out as *mut libc::sockaddr_in).cast(), &mut olen),
            0
        );
        (
            fd,
            SocketAddr::from(([127, 0, 0, 1], u16::from_be(out.sin_port))),
        )
    };
    // A backlog of 0 queues one connection; later SYNs are dropped (the
    // second filler only guards against a kernel whose queue holds two).
    let first = TcpStream::connect_timeout(&addr, PATIENCE).expect("first backlog filler");
    let mut fillers = vec![first];
    if let Ok(s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
        fillers.push(s);
    }
    (fd, addr, fillers)
}

// ---- Active connections ----

#[test]
fn a_refused_port_connect_is_ports_own_reply() {
    let srv = TestServer::start();
    let mut c = binary_client(&srv);
    let closed = closed_port();
    assert_eq!(
        c.cmd(&format!("PORT {}", port_arg(closed))),
        "425 Can't connect to specified address.\r\n"
    );
    in_step(&mut c);
    assert_eq!(
        c.cmd(&format!("EPRT |1|127.0.0.1|{}|", closed.port())),
        "425 Can't connect to specified address.\r\n"
    );
    in_step(&mut c);
    assert_eq!(c.cmd("LIST"), NO_DATA);
}

#[test]
fn abor_during_a_port_connect_waits_for_ports_reply_then_is_225() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.active_dtp.timeout = Duration::from_secs(1));
    let (_listener, addr, _fillers) = full_backlog_listener();
    let mut c = binary_client(&srv);
    // PORT and ABOR in one write: the server reads no command while the
    // connect is in progress, so PORT's reply comes first.
    c.send_raw(format!("PORT {}\r\nABOR\r\n", port_arg(addr)).as_bytes());
    assert_eq!(c.read_reply(), "421 Active data channel timed out.\r\n");
    assert_eq!(c.read_reply(), "225 No transfer to abort.\r\n");
    in_step(&mut c);
}

// ---- Passive connections ----

#[test]
fn a_pasv_never_connected_times_out_without_a_reply_to_nobody() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| h.passive_dtp.timeout = Duration::from_millis(300),
    );
    let mut c = binary_client(&srv);
    c.expect("PASV", 227);
    // The listener closes at the timeout; no reply goes out for it, and
    // STAT (each time with its own reply) sees it gone.
    eventually("the listener to time out", || {
        c.expect("STAT", 211).contains(" Data connection closed.")
    });
    in_step(&mut c);
    std::fs::write(srv.root().join("f"), b"x").unwrap();
    assert_eq!(c.cmd("RETR f"), NO_DATA);
}

#[test]
fn a_pasv_timeout_with_a_queued_retr_is_the_retrs_final_reply() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| h.passive_dtp.timeout = Duration::from_millis(300),
    );
    std::fs::write(srv.root().join("f"), b"x").unwrap();
    let mut c = binary_client(&srv);
    c.expect("PASV", 227);
    c.expect("RETR f", 150);
    assert_eq!(c.read_reply(), "421 Passive data channel timed out.\r\n");
    in_step(&mut c);
}

#[test]
fn a_data_connection_from_a_foreign_address_gets_no_reply_and_the_owner_still_can() {
    let srv = TestServer::start();
    std::fs::write(srv.root().join("f"), b"mine").unwrap();
    let mut c = binary_client(&srv);
    let addr = pasv_addr(&c.expect("PASV", 227));
    let mut intruder = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr).expect("intruder");
    // The server refuses (closes) the intruder; nothing is said on the
    // control connection, whose next replies are its commands'.
    let mut buf = Vec::new();
    let _ = intruder.read_to_end(&mut buf);
    assert!(buf.is_empty(), "the intruder got data");
    in_step(&mut c);
    let mut data = TcpStream::connect(addr).unwrap();
    data.set_read_timeout(Some(PATIENCE)).unwrap();
    let r = c.cmd("RETR f");
    assert!(matches!(code_of(&r), 125 | 150), "{r:?}");
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"mine");
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
    in_step(&mut c);
}

#[test]
fn a_foreign_connection_while_retr_waits_leaves_retr_waiting_for_its_owner() {
    let srv = TestServer::start();
    std::fs::write(srv.root().join("f"), b"mine").unwrap();
    let mut c = binary_client(&srv);
    let addr = pasv_addr(&c.expect("PASV", 227));
    c.expect("RETR f", 150);
    let mut intruder = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr).expect("intruder");
    let mut buf = Vec::new();
    let _ = intruder.read_to_end(&mut buf);
    assert!(buf.is_empty(), "the intruder got data");
    let mut data = TcpStream::connect(addr).unwrap();
    data.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut got = Vec::new();
    data.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"mine");
    // RETR's final reply is 226: no 425 about the intruder came before it.
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
    in_step(&mut c);
}

#[test]
fn abor_of_a_waiting_listener_and_of_a_queued_retr_pair() {
    let srv = TestServer::start();
    std::fs::write(srv.root().join("f"), b"x").unwrap();
    let mut c = binary_client(&srv);
    c.expect("PASV", 227);
    assert_eq!(
        c.cmd("ABOR"),
        "225 ABOR command successful; data channel closed.\r\n"
    );
    in_step(&mut c);
    c.expect("PASV", 227);
    c.expect("RETR f", 150);
    assert_eq!(c.cmd("ABOR"), "426 Transfer aborted via ABOR.\r\n");
    assert_eq!(c.read_reply(), "226 ABOR command successful.\r\n");
    in_step(&mut c);
}

// ---- Transfers broken by the client ----

#[test]
fn a_client_closing_the_data_connection_mid_retr_gets_one_426() {
    let srv = TestServer::start();
    make_file(&srv, "big", BIG);
    let mut c = binary_client(&srv);
    let data = start_retr(&mut c, "big", 4096);
    drop(data);
    let r = c.read_reply();
    assert!(r.starts_with("426 "), "{r:?}");
    in_step(&mut c);
}

#[test]
fn a_client_resetting_the_data_connection_mid_retr_gets_one_426() {
    let srv = TestServer::start();
    make_file(&srv, "big", BIG);
    let mut c = binary_client(&srv);
    let data = start_retr(&mut c, "big", 4096);
    reset(data);
    let r = c.read_reply();
    assert!(r.starts_with("426 "), "{r:?}");
    in_step(&mut c);
}

#[test]
fn a_client_resetting_the_data_connection_mid_stor_gets_one_426() {
    let srv = TestServer::start();
    let mut c = binary_client(&srv);
    let mut data = c.pasv();
    let r = c.cmd("STOR up");
    assert!(matches!(code_of(&r), 125 | 150), "{r:?}");
    data.write_all(&vec![7u8; 1 << 16]).unwrap();
    // The server has the bytes before the reset (it would otherwise see a
    // clean reset of an empty upload, also a 426).
    eventually("the upload's first bytes on disk", || {
        std::fs::metadata(srv.root().join("up")).is_ok_and(|m| m.len() > 0)
    });
    reset(data);
    let r = c.read_reply();
    assert!(r.starts_with("426 "), "{r:?}");
    in_step(&mut c);
}

#[test]
fn abor_mid_retr_is_426_then_226() {
    let srv = TestServer::start();
    make_file(&srv, "big", BIG);
    let mut c = binary_client(&srv);
    let _data = start_retr(&mut c, "big", 4096);
    assert_eq!(c.cmd("ABOR"), "426 Transfer aborted via ABOR.\r\n");
    assert_eq!(c.read_reply(), "226 ABOR command successful.\r\n");
    in_step(&mut c);
}

#[test]
fn a_new_pasv_mid_retr_is_one_426_then_its_227() {
    let srv = TestServer::start();
    make_file(&srv, "big", BIG);
    let mut c = binary_client(&srv);
    let _data = start_retr(&mut c, "big", 4096);
    let r = c.cmd("PASV");
    assert!(r.starts_with("426 Transfer aborted; "), "{r:?}");
    assert_eq!(code_of(&c.read_reply()), 227);
    in_step(&mut c);
}

#[test]
fn a_stalled_retr_is_one_426() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| h.dtp_handler.timeout = Duration::from_millis(300),
    );
    make_file(&srv, "big", BIG);
    let mut c = binary_client(&srv);
    let _data = start_retr(&mut c, "big", 4096);
    // Nobody reads: the transfer stalls and is declared dead.
    assert_eq!(
        c.read_reply(),
        "426 Data connection timed out; transfer aborted.\r\n"
    );
    in_step(&mut c);
}

// ---- STOU sent before PASV/PORT (queued until a data connection comes) ----

#[test]
fn stou_before_a_refused_port_gets_its_final_reply_after_ports_own() {
    let srv = TestServer::start();
    let mut c = binary_client(&srv);
    c.expect("STOU", 150);
    let closed = closed_port();
    // One 425 for PORT, one as STOU's final reply.
    assert_eq!(
        c.cmd(&format!("PORT {}", port_arg(closed))),
        "425 Can't connect to specified address.\r\n"
    );
    assert_eq!(
        c.read_reply(),
        "425 Can't connect to specified address.\r\n"
    );
    in_step(&mut c);
}

#[test]
fn stou_before_a_pasv_that_times_out_gets_the_timeout_as_final_reply() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| h.passive_dtp.timeout = Duration::from_millis(300),
    );
    let mut c = binary_client(&srv);
    c.expect("STOU", 150);
    c.expect("PASV", 227);
    assert_eq!(c.read_reply(), "421 Passive data channel timed out.\r\n");
    in_step(&mut c);
}
