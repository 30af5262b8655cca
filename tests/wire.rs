//! Wire behaviours of issue 11 over real sockets: ABOR and STAT preceded by
//! the Telnet IP/Synch sequence with the DM byte sent as TCP urgent data
//! (`MSG_OOB`, as ftp(1) does, and Python ftplib's `abort()`), file errors
//! before 425, STOU before PASV, OPTS after login, EPRT texts, REIN 220.
//! The same behaviours have socket-free transcripts in
//! `src/handlers/ftp/session/transcripts/wire.rs`.

mod common;
use common::*;

use std::io::Read;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::process::Command;

/// Telnet IAC IP and IAC DM (RFC 854).
const IAC: u8 = 0xff;
const IP: u8 = 0xf4;
const DM: u8 = 0xf2;

/// A download far larger than the socket buffers: with the client not
/// reading, it is still running when ABOR or STAT arrives.
const BIG: usize = 32 << 20;

/// `send(2)` on the control connection with `flags` (`MSG_OOB` for urgent
/// data); every byte must go.
fn send_flags(c: &Client, bytes: &[u8], flags: libc::c_int) {
    let fd = c.reader.get_ref().as_raw_fd();
    // SAFETY: `bytes` is a live slice of `bytes.len()` bytes; the kernel
    // only reads it; `fd` is the client's open socket.
    let n = unsafe { libc::send(fd, bytes.as_ptr().cast(), bytes.len(), flags) };
    assert_eq!(
        n,
        bytes.len() as isize,
        "{}",
        std::io::Error::last_os_error()
    );
}

/// What ftp(1) (BSD, netkit, inetutils) sends to abort: IAC IP IAC in
/// line, DM as urgent data, then the command.
fn send_urgent_bsd(c: &Client, cmd: &str) {
    send_flags(c, &[IAC, IP, IAC], 0);
    send_flags(c, &[DM], libc::MSG_OOB);
    send_flags(c, format!("{cmd}\r\n").as_bytes(), 0);
}

/// IAC IP in line, then IAC DM sent with MSG_OOB in one call (TCP marks
/// its last byte, the DM, urgent), then the command.
fn send_urgent_pair(c: &Client, cmd: &str) {
    send_flags(c, &[IAC, IP], 0);
    send_flags(c, &[IAC, DM], libc::MSG_OOB);
    send_flags(c, format!("{cmd}\r\n").as_bytes(), 0);
}

/// A logged-in client in binary type with a RETR of the big file running
/// (its first bytes read); the data socket.
fn big_retr(srv: &TestServer) -> (Client, TcpStream) {
    make_file(srv, "big", BIG);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let data = start_retr(&mut c, "big", 4096);
    (c, data)
}

/// The data connection of an aborted transfer ends (EOF or reset) before
/// the whole file came.
fn assert_cut_short(mut data: TcpStream) {
    let mut got = 4096usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match data.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    assert!(got < BIG, "the aborted RETR sent the whole file");
}

#[test]
fn urgent_abor_as_ftp1_sends_it_aborts_a_running_retr_per_rfc959() {
    let srv = TestServer::start();
    let (mut c, data) = big_retr(&srv);
    send_urgent_bsd(&c, "ABOR");
    assert_eq!(c.read_reply(), "426 Transfer aborted via ABOR.\r\n");
    assert_eq!(c.read_reply(), "226 ABOR command successful.\r\n");
    assert_cut_short(data);
    // The next command gets its own reply.
    assert_eq!(c.cmd("NOOP"), "200 I successfully did nothing.\r\n");
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
}

#[test]
fn urgent_abor_with_iac_dm_sent_out_of_band_aborts_a_running_retr() {
    let srv = TestServer::start();
    let (mut c, data) = big_retr(&srv);
    send_urgent_pair(&c, "ABOR");
    assert_eq!(c.read_reply(), "426 Transfer aborted via ABOR.\r\n");
    assert_eq!(c.read_reply(), "226 ABOR command successful.\r\n");
    assert_cut_short(data);
    assert_eq!(c.cmd("NOOP"), "200 I successfully did nothing.\r\n");
}

#[test]
fn urgent_abor_with_nothing_running_is_225() {
    let srv = TestServer::start();
    let mut c = srv.login();
    send_urgent_bsd(&c, "ABOR");
    assert_eq!(c.read_reply(), "225 No transfer to abort.\r\n");
    assert_eq!(c.cmd("NOOP"), "200 I successfully did nothing.\r\n");
}

#[test]
fn urgent_stat_reports_a_running_retr_which_goes_on() {
    let srv = TestServer::start();
    let (mut c, data) = big_retr(&srv);
    send_urgent_bsd(&c, "STAT");
    let r = c.read_reply();
    assert!(r.starts_with("211-FTP server status:\r\n"), "{r:?}");
    assert!(r.contains(" Data connection open: sent "), "{r:?}");
    assert!(r.ends_with("211 End of status.\r\n"), "{r:?}");
    // The transfer still runs: a plain ABOR ends it.
    assert_eq!(c.cmd("ABOR"), "426 Transfer aborted via ABOR.\r\n");
    assert_eq!(c.read_reply(), "226 ABOR command successful.\r\n");
    assert_cut_short(data);
    assert_eq!(c.cmd("NOOP"), "200 I successfully did nothing.\r\n");
}

#[test]
fn python_ftplib_abort_sends_abor_as_urgent_data_and_gets_426_then_226() {
    // ftplib's FTP.abort() sends the whole "ABOR\r\n" with MSG_OOB: its
    // last byte (the LF) is the urgent one, so the line only ends if the
    // server reads urgent data in line (SO_OOBINLINE).
    let srv = TestServer::start();
    make_file(&srv, "big", BIG);
    let script = format!(
        r#"
import ftplib
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", {port}, timeout=10)
ftp.login("{user}", "{pw}")
ftp.voidcmd("TYPE I")
conn = ftp.transfercmd("RETR big")
assert len(conn.recv(4096)) > 0
print(ftp.abort())
print(ftp.getresp())
print(ftp.sendcmd("NOOP"))
conn.close()
ftp.quit()
"#,
        port = srv.addr.port(),
        user = USER,
        pw = PASSWD
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "426 Transfer aborted via ABOR.",
            "226 ABOR command successful.",
            "200 I successfully did nothing."
        ]
    );
}

#[test]
fn file_errors_come_before_425_as_pyftpdlib() {
    let srv = TestServer::start();
    std::fs::write(srv.root().join("keep"), b"precious").unwrap();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    assert_eq!(c.cmd("RETR nope"), "550 No such file or directory.\r\n");
    assert_eq!(c.cmd("STOR no/dir"), "550 No such file or directory.\r\n");
    c.expect("REST 100", 350);
    assert_eq!(
        c.cmd("RETR keep"),
        "554 REST position (100) > file size (8)\r\n"
    );
    let no_data = "425 No data connection: use PASV, EPSV, PORT or EPRT first.\r\n";
    assert_eq!(c.cmd("RETR keep"), no_data);
    assert_eq!(c.cmd("STOR keep"), no_data);
    assert_eq!(std::fs::read(srv.root().join("keep")).unwrap(), b"precious");
}

#[test]
fn stou_before_pasv_uploads_on_the_next_data_connection_as_pyftpdlib() {
    let srv = TestServer::start();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let r = c.expect("STOU", 150);
    let name = r
        .trim_end()
        .strip_prefix("150 FILE: ")
        .expect("150 FILE: name")
        .to_string();
    let mut data = c.pasv();
    std::io::Write::write_all(&mut data, b"uploaded late").unwrap();
    drop(data);
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
    assert_eq!(
        std::fs::read(srv.root().join(&name)).unwrap(),
        b"uploaded late"
    );
    assert_eq!(c.cmd("NOOP"), "200 I successfully did nothing.\r\n");
}

#[test]
fn opts_needs_login_rein_is_220_and_eprt_texts_as_pyftpdlib() {
    let srv = TestServer::start();
    let mut c = srv.client();
    assert_eq!(
        c.cmd("OPTS UTF8 ON"),
        "530 Log in with USER and PASS first.\r\n"
    );
    c.login(USER, PASSWD);
    assert_eq!(c.cmd("OPTS UTF8 ON"), "200 Always in UTF8 mode.\r\n");
    assert_eq!(
        c.cmd("EPRT |2|bogus|2000|"),
        "522 Network protocol not supported (use 1).\r\n"
    );
    assert_eq!(
        c.cmd("EPRT |3|x|2000|"),
        "501 Unknown network protocol (use 1).\r\n"
    );
    assert_eq!(c.cmd("EPRT |1|1.2.3|2000|"), "501 Invalid EPRT format.\r\n");
    assert_eq!(c.cmd("REIN"), "220 Ready for new user.\r\n");
    assert_eq!(c.cmd("PWD"), "530 Log in with USER and PASS first.\r\n");
}

// ---- pyftpdlib's defaults ----

#[test]
fn add_user_without_perm_is_read_only_elr_as_pyftpdlib() {
    let srv = TestServer::start_with(
        |a, root| a.add_user("reader", "pw", root).expect("add_user"),
        |_| {},
    );
    std::fs::write(srv.root().join("f"), b"readable").unwrap();
    let mut c = srv.client();
    c.login("reader", "pw");
    c.expect("TYPE I", 200);
    let (data, r) = c.retrieve("RETR f");
    assert_eq!((data.as_slice(), code_of(&r)), (&b"readable"[..], 226));
    assert_eq!(c.cmd("MKD d"), "550 Not enough privileges.\r\n");
    assert_eq!(c.cmd("DELE f"), "550 Not enough privileges.\r\n");
    assert_eq!(c.cmd("STOR g"), "550 Not enough privileges.\r\n");
    let r = c.cmd("MLST f");
    assert!(r.contains("perm=r;"), "{r:?}");
}

#[test]
fn passive_listener_backlog_defaults_to_pyftpdlibs_100() {
    assert_eq!(ftpdlib::PassiveDtp::default().backlog, 100);
}
