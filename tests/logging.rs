//! The three log streams of a real session at INFO, read back through a
//! capturing `log::Log` implementation: line formats of pyftpdlib (reference
//! §7), the `log_cmd` lines, the error stream, PASS never in clear, and the
//! xferlog file.
//!
//! The `log` facade allows one logger per process: this test binary installs
//! one capturing logger that enables `ftpdlib::lines` at INFO only (so the
//! `log_cmd` lines are written, as pyftpdlib writes them when not in debug
//! mode) and the other targets down to DEBUG. The DEBUG wire lines are tested
//! in `tests/logging_debug.rs`, another binary with another logger. Tests run
//! in parallel threads of this binary: each one keeps the records of its own
//! sessions by the client's port in the session prefix.

mod common;
use common::capture::{
    self, all_records, prefix, session_records, wait_closed, wait_for, Capture, Rec,
};
use common::*;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ftpdlib::log::{format_line, LOG, LOGERROR, LOGLINE, PREFIX};
use ftpdlib::{Hooks, SessionInfo};
use log::Level;

// ---------------------------------------------------------------------------
// Capturing logger

/// The logger of this binary: `ftpdlib::lines` at INFO, as a logger
/// configured at INFO for the command-line stream (the server must see DEBUG
/// disabled there); the other targets down to DEBUG.
fn capture() -> &'static Capture {
    capture::capture(Level::Info)
}

/// Check the full line shape `[L YYYY-MM-DD HH:MM:SS] msg` as the default
/// formatter writes it.
fn assert_line_shape(r: &Rec) {
    let line = format_line(PREFIX, r.level, &r.msg);
    let b = line.as_bytes();
    let letter = match r.level {
        Level::Error => b'E',
        Level::Warn => b'W',
        Level::Info => b'I',
        Level::Debug => b'D',
        Level::Trace => b'T',
    };
    let digit = |i: usize| b.get(i).is_some_and(|c| c.is_ascii_digit());
    let ok = b.len() > 24
        && b[0] == b'['
        && b[1] == letter
        && b[2] == b' '
        && (3..7).all(digit)
        && b[7] == b'-'
        && (8..10).all(digit)
        && b[10] == b'-'
        && (11..13).all(digit)
        && b[13] == b' '
        && (14..16).all(digit)
        && b[16] == b':'
        && (17..19).all(digit)
        && b[19] == b':'
        && (20..22).all(digit)
        && b[22] == b']'
        && b[23] == b' '
        && line[24..] == format!("{}\n", r.msg.replace('\n', "\n    "));
    assert!(ok, "bad line shape: {line:?}");
}

/// No captured record, from any session, shows one of `secrets`.
fn assert_no_secret(secrets: &[&str]) {
    for r in all_records() {
        for s in secrets {
            assert!(!r.msg.contains(s), "password {s:?} logged in {r:?}");
        }
    }
}

/// The transfer line `CMD path completed=C bytes=N seconds=S`: returns
/// (path, completed, bytes) after checking `seconds` is a float as Python
/// prints it (one to three decimals).
fn parse_transfer(msg: &str, pfx: &str, cmd: &str) -> (String, u8, u64) {
    let rest = msg
        .strip_prefix(&format!("{pfx} {cmd} "))
        .unwrap_or_else(|| panic!("not a {cmd} line of {pfx}: {msg:?}"));
    let mut words: Vec<&str> = rest.rsplitn(4, ' ').collect();
    words.reverse();
    assert_eq!(words.len(), 4, "{msg:?}");
    let completed = words[1]
        .strip_prefix("completed=")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("completed= in {msg:?}"));
    let bytes = words[2]
        .strip_prefix("bytes=")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("bytes= in {msg:?}"));
    let secs = words[3]
        .strip_prefix("seconds=")
        .unwrap_or_else(|| panic!("seconds= in {msg:?}"));
    let (int, frac) = secs.split_once('.').expect("seconds has a decimal point");
    assert!(
        !int.is_empty() && int.bytes().all(|c| c.is_ascii_digit()),
        "{msg:?}"
    );
    assert!(
        (1..=3).contains(&frac.len()) && frac.bytes().all(|c| c.is_ascii_digit()),
        "{msg:?}"
    );
    assert!(secs.parse::<f64>().unwrap() < 60.0, "{msg:?}");
    (words[0].to_string(), completed, bytes)
}

// ---------------------------------------------------------------------------
// Helpers

/// ABOR a running transfer: 426 then 226.
fn abort(c: &mut Client) {
    let first = c.cmd("ABOR");
    assert_eq!(code_of(&first), 426, "{first:?}");
    let second = c.read_reply();
    assert_eq!(code_of(&second), 226, "{second:?}");
}

/// A server whose downloads are throttled, so a big RETR is still running
/// when the client aborts it.
fn throttled_server(
    configure: impl FnOnce(&mut ftpdlib::FtpHandler) + Send + 'static,
) -> TestServer {
    TestServer::start_with(
        |_, _| {},
        move |h| {
            h.dtp_handler.write_limit = 256 * 1024;
            configure(h);
        },
    )
}

// ---------------------------------------------------------------------------
// Tests

#[test]
fn a_session_logs_pyftpdlib_lines_in_order() {
    capture();
    const PW: &str = "Alice-Pw-7c1e9";
    let srv = TestServer::start_with(
        |a, root| {
            a.add_user_with_perm("alice", PW, root, "elradfmwMT")
                .unwrap()
        },
        |_| {},
    );
    std::fs::write(srv.root().join("a.txt"), b"hello\n").unwrap();
    let root = real_root(&srv);
    let mut c = srv.client();
    let port = local_port(&c);
    c.login("alice", PW);
    c.expect("TYPE I", 200);
    let (data, done) = c.retrieve("RETR a.txt");
    assert_eq!(data, b"hello\n");
    assert_eq!(code_of(&done), 226);
    let done = c.store("STOR up.txt", &[b'x'; 1000]);
    assert_eq!(code_of(&done), 226);
    c.expect("DELE up.txt", 250);
    c.expect("QUIT", 221);
    wait_closed(port);

    let p0 = prefix(port, "");
    let p = prefix(port, "alice");
    let recs: Vec<Rec> = session_records(port)
        .into_iter()
        .filter(|r| r.level <= Level::Info)
        .collect();
    for r in &recs {
        assert_line_shape(r);
    }
    let msgs: Vec<&str> = recs.iter().map(|r| r.msg.as_str()).collect();
    assert_eq!(msgs.len(), 6, "{recs:#?}");
    assert_eq!(msgs[0], format!("{p0} FTP session opened (connect)"));
    assert_eq!(msgs[1], format!("{p} USER 'alice' logged in."));
    assert_eq!(
        parse_transfer(msgs[2], &p, "RETR"),
        (root.join("a.txt").display().to_string(), 1, 6)
    );
    assert_eq!(
        parse_transfer(msgs[3], &p, "STOR"),
        (root.join("up.txt").display().to_string(), 1, 1000)
    );
    assert_eq!(
        msgs[4],
        format!("{p} DELE {} 250", root.join("up.txt").display())
    );
    assert_eq!(msgs[5], format!("{p} FTP session closed (disconnect)."));
    let targets: Vec<&str> = recs.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(targets, [LOG, LOG, LOG, LOG, LOGLINE, LOG]);
    assert!(recs.iter().all(|r| r.level == Level::Info), "{recs:#?}");
    assert_no_secret(&[PW]);
}

#[test]
fn full_line_has_pyftpdlib_prefix() {
    capture();
    let srv = TestServer::start();
    let mut c = srv.login();
    let port = local_port(&c);
    let r = wait_for(port, "login", |r| r.msg.contains("logged in."));
    let line = format_line(PREFIX, r.level, &r.msg);
    // [I 2026-11-25 16:50:56] 127.0.0.1:PORT-[user] USER 'user' logged in.
    assert!(line.starts_with("[I 2"), "{line:?}");
    assert!(
        line.ends_with(&format!(
            "] 127.0.0.1:{port}-[user] USER 'user' logged in.\n"
        )),
        "{line:?}"
    );
    assert_line_shape(&r);
    c.expect("QUIT", 221);
}

#[test]
fn failed_login_is_logged_without_the_password() {
    capture();
    const BAD: &str = "Nobody-Wrong-Pw-33a1";
    let srv = TestServer::start();
    let mut c = srv.client();
    let port = local_port(&c);
    c.expect("USER nobody", 331);
    c.expect(&format!("PASS {BAD}"), 530);
    // pyftpdlib clears the user name when PASS fails and logs the failure
    // after the delayed 530, so the prefix shows no user (reference §7).
    let r = wait_for(port, "failed login", |r| r.msg.contains("failed login."));
    assert_eq!(
        r.msg,
        format!("{} USER 'nobody' failed login.", prefix(port, ""))
    );
    assert_eq!((r.level, r.target.as_str()), (Level::Info, LOG));
    assert_line_shape(&r);
    c.expect("QUIT", 221);
    wait_closed(port);
    assert_no_secret(&[BAD]);
}

#[test]
fn password_is_never_logged_in_clear() {
    capture();
    const PW: &str = "Pw-In-Clear-Never-5d2";
    let srv = TestServer::start_with(
        |a, root| a.add_user_with_perm("bob", PW, root, "elr").unwrap(),
        |_| {},
    );
    let mut c = srv.client();
    let port = local_port(&c);
    c.login("bob", PW);
    // A PASS sent while logged in, a PASS with the password of another user.
    c.expect(&format!("PASS {PW}"), 503);
    c.expect("QUIT", 221);
    let mut c2 = srv.client();
    let port2 = local_port(&c2);
    c2.expect("USER user", 331);
    c2.expect(&format!("PASS {PW}"), 530);
    c2.expect("QUIT", 221);
    wait_closed(port);
    wait_closed(port2);
    assert_no_secret(&[PW]);
}

#[test]
fn refused_port_is_logged_at_warning() {
    capture();
    let srv = TestServer::start();
    let mut c = srv.login();
    let port = local_port(&c);
    let reply = c.expect("PORT 10,1,2,3,200,10", 501);
    assert_eq!(
        reply,
        "501 Rejected data connection to foreign address 10.1.2.3:51210.\r\n"
    );
    let reply = c.expect("PORT 127,0,0,1,0,21", 501);
    assert_eq!(
        reply,
        "501 PORT against the privileged port \"21\" refused.\r\n"
    );
    c.expect("QUIT", 221);
    wait_closed(port);
    let p = prefix(port, "user");
    let warns: Vec<Rec> = session_records(port)
        .into_iter()
        .filter(|r| r.level == Level::Warn)
        .collect();
    assert_eq!(
        warns,
        [
            Rec {
                level: Level::Warn,
                target: LOG.into(),
                msg: format!("{p} Rejected data connection to foreign address 10.1.2.3:51210."),
            },
            Rec {
                level: Level::Warn,
                target: LOG.into(),
                msg: format!("{p} PORT against the privileged port \"21\" refused."),
            },
        ]
    );
    for r in &warns {
        assert_line_shape(r);
        assert!(format_line(PREFIX, r.level, &r.msg).starts_with("[W "));
    }
    // PORT is not in the default log_cmds_list: no log_cmd line (pyftpdlib
    // filters log_cmd by that list).
    assert!(
        !session_records(port)
            .iter()
            .any(|r| r.target == LOGLINE && r.msg.starts_with(&format!("{p} PORT"))),
        "{:#?}",
        session_records(port)
    );
}

#[test]
fn refused_port_gets_a_log_cmd_line_when_listed() {
    capture();
    let srv = TestServer::start_with(|_, _| {}, |h| h.log_cmds_list.push("PORT".into()));
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("PORT 10,1,2,3,200,10", 501);
    c.expect("QUIT", 221);
    wait_closed(port);
    let p = prefix(port, "user");
    let lines: Vec<Rec> = session_records(port)
        .into_iter()
        .filter(|r| r.target == LOGLINE)
        .collect();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    let r = &lines[0];
    assert_eq!(r.level, Level::Info);
    assert!(r.msg.starts_with(&format!("{p} PORT ")), "{r:?}");
    assert!(
        r.msg
            .ends_with(" 501 'Rejected data connection to foreign address 10.1.2.3:51210.'"),
        "{r:?}"
    );
    assert_line_shape(r);
}

#[test]
fn log_cmd_lines_for_listed_commands_only() {
    capture();
    let srv = TestServer::start();
    std::fs::write(srv.root().join("f"), b"x").unwrap();
    let root = real_root(&srv);
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("MKD d", 257);
    c.expect("CWD d", 250);
    c.expect("CWD /", 250);
    c.expect("RMD d", 250);
    c.expect("CWD nonexist", 550);
    c.expect("RNFR f", 350);
    c.expect("RNTO g", 250);
    c.expect("SITE CHMOD 600 g", 200);
    // Not listed: no line.
    c.expect("TYPE I", 200);
    c.expect("SIZE g", 213);
    c.expect("PWD", 257);
    c.expect("QUIT", 221);
    wait_closed(port);
    let p = prefix(port, "user");
    let r = |name: &str| root.join(name).display().to_string();
    let got: Vec<String> = session_records(port)
        .into_iter()
        .filter(|r| r.target == LOGLINE)
        .inspect(|rec| {
            assert_eq!(rec.level, Level::Info, "{rec:?}");
            assert_line_shape(rec);
        })
        .map(|r| r.msg)
        .collect();
    let want = vec![
        format!("{p} MKD {} 257", r("d")),
        format!("{p} CWD {} 250", r("d")),
        format!("{p} CWD {} 250", root.display()),
        format!("{p} RMD {} 250", r("d")),
        format!("{p} CWD {} 550 'No such file or directory.'", r("nonexist")),
        format!("{p} RNFR {} 350", r("f")),
        format!("{p} RNTO {} 250", r("g")),
        format!("{p} SITE CHMOD {} 200", r("g")),
    ];
    assert_eq!(got, want);
}

#[test]
fn rein_log_cmd_line() {
    capture();
    let srv = TestServer::start();
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("REIN", 220);
    c.expect("QUIT", 221);
    wait_closed(port);
    let got: Vec<String> = session_records(port)
        .into_iter()
        .filter(|r| r.target == LOGLINE)
        .map(|r| r.msg)
        .collect();
    // pyftpdlib: "%s %s" % (" ".join([cmd, arg]).strip(), code): an empty
    // argument leaves one space; REIN has already cleared the user name.
    assert_eq!(got, [format!("{} REIN 220", prefix(port, ""))]);
}

#[test]
fn appe_stou_and_aborted_retr_transfer_lines() {
    capture();
    let srv = throttled_server(|_| {});
    make_file(&srv, "big", 8 * 1024 * 1024);
    let root = real_root(&srv);
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("TYPE I", 200);
    assert_eq!(code_of(&c.store("APPE log.txt", b"12345")), 226);
    assert_eq!(code_of(&c.store("STOU", b"abc")), 226);
    let data = start_retr(&mut c, "big", 1000);
    abort(&mut c);
    drop(data);
    c.expect("QUIT", 221);
    wait_closed(port);

    let p = prefix(port, "user");
    let recs: Vec<Rec> = session_records(port)
        .into_iter()
        .filter(|r| r.target == LOG && r.msg.contains(" completed="))
        .collect();
    assert_eq!(recs.len(), 3, "{recs:#?}");
    assert_eq!(
        parse_transfer(&recs[0].msg, &p, "APPE"),
        (r_str(&root, "log.txt"), 1, 5)
    );
    let (stou_path, completed, bytes) = parse_transfer(&recs[1].msg, &p, "STOU");
    assert_eq!((completed, bytes), (1, 3));
    let stou_path = PathBuf::from(stou_path);
    assert_eq!(stou_path.parent(), Some(root.as_path()));
    assert_eq!(std::fs::read(&stou_path).unwrap(), b"abc");
    let (path, completed, bytes) = parse_transfer(&recs[2].msg, &p, "RETR");
    assert_eq!(path, r_str(&root, "big"));
    assert_eq!(completed, 0);
    assert!((1000..8 * 1024 * 1024).contains(&bytes), "{bytes}");
    for r in &recs {
        assert_eq!(r.level, Level::Info);
        assert_line_shape(r);
    }
}

fn r_str(root: &Path, name: &str) -> String {
    root.join(name).display().to_string()
}

struct PanickyLogin;

impl Hooks for PanickyLogin {
    fn on_login(&self, _: &SessionInfo<'_>, _: &str) {
        panic!("on_login hook failure (expected by the test)");
    }
}

#[test]
fn a_panicking_hook_is_logged_on_the_error_stream() {
    capture();
    let srv = TestServer::start_with(|_, _| {}, |h| h.hooks = Box::new(PanickyLogin));
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("NOOP", 200);
    let r = wait_for(port, "hook error", |r| r.target == LOGERROR);
    assert_eq!(r.level, Level::Error);
    assert!(r.msg.starts_with(&prefix(port, "user")), "{r:?}");
    assert!(r.msg.contains("on_login"), "{r:?}");
    assert_line_shape(&r);
    c.expect("QUIT", 221);
}

#[test]
fn startup_and_shutdown_banners() {
    capture();
    let srv = TestServer::start();
    let addr = srv.addr;
    let pid = std::process::id();
    let start = format!(">>> starting FTP server on {addr}, pid={pid} <<<");
    // Logged at once; PATIENCE is the generous bound of every such wait.
    let deadline = Instant::now() + PATIENCE;
    while !all_records().iter().any(|r| r.msg == start) {
        assert!(Instant::now() < deadline, "no {start:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let r = all_records().into_iter().find(|r| r.msg == start).unwrap();
    assert_eq!((r.level, r.target.as_str()), (Level::Info, LOG));
    assert_line_shape(&r);
    let before = all_records().len();
    drop(srv);
    let shutdown = format!(">>> shutting down FTP server, pid={pid}, ");
    assert!(
        all_records()[before..]
            .iter()
            .any(|r| r.msg.starts_with(&shutdown) && r.msg.ends_with(" open socket(s) <<<")),
        "no shutdown banner"
    );
}

// ---------------------------------------------------------------------------
// xferlog

/// One parsed xferlog record (wu-ftpd format).
#[derive(Debug)]
struct Xfer {
    transfer_time: u64,
    remote_host: String,
    size: u64,
    filename: String,
    transfer_type: String,
    special: String,
    direction: String,
    access: String,
    username: String,
    service: String,
    auth_method: String,
    auth_user: String,
    completion: String,
}

/// Day of week (0 = Sunday) of a Gregorian date (Sakamoto's method).
fn weekday(y: i32, m: u32, d: u32) -> usize {
    const T: [i32; 12] = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    let y = if m < 3 { y - 1 } else { y };
    ((y + y / 4 - y / 100 + y / 400 + T[(m - 1) as usize] + d as i32).rem_euclid(7)) as usize
}

fn parse_xferlog(line: &str) -> Xfer {
    let t: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(t.len(), 18, "ctime (5) + 13 fields: {line:?}");
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == t[1]).expect("month") as u32 + 1;
    let day: u32 = t[2].parse().expect("day");
    assert!((1..=31).contains(&day), "{line:?}");
    let hms: Vec<u32> = t[3]
        .split(':')
        .map(|x| x.parse().expect("hh:mm:ss"))
        .collect();
    assert!(
        hms.len() == 3 && hms[0] < 24 && hms[1] < 60 && hms[2] < 61,
        "{line:?}"
    );
    assert!(t[3].len() == 8, "{line:?}");
    let year: i32 = t[4].parse().expect("year");
    assert!((2000..3000).contains(&year), "{line:?}");
    assert_eq!(t[0], DAYS[weekday(year, month, day)], "weekday of {line:?}");
    // ctime pads the day to two characters.
    let ctime = &line[..24];
    assert_eq!(ctime.split_whitespace().count(), 5, "{line:?}");
    assert_eq!(&ctime[8..10], format!("{day:2}"), "{line:?}");
    Xfer {
        transfer_time: t[5].parse().expect("transfer-time"),
        remote_host: t[6].into(),
        size: t[7].parse().expect("file-size"),
        filename: t[8].into(),
        transfer_type: t[9].into(),
        special: t[10].into(),
        direction: t[11].into(),
        access: t[12].into(),
        username: t[13].into(),
        service: t[14].into(),
        auth_method: t[15].into(),
        auth_user: t[16].into(),
        completion: t[17].into(),
    }
}

#[test]
fn xferlog_lines_parse_in_the_standard_layout() {
    capture();
    let dir = tempfile::tempdir().unwrap();
    let xferlog = dir.path().join("xferlog");
    let path = xferlog.clone();
    let srv = throttled_server(move |h| h.set_xferlog(&path).unwrap());
    std::fs::write(srv.root().join("a.txt"), b"hello\r\nworld\r\n").unwrap();
    make_file(&srv, "big", 8 * 1024 * 1024);
    let root = real_root(&srv);

    let mut c = srv.login();
    // ASCII download (the default type), binary upload.
    let (data, done) = c.retrieve("RETR a.txt");
    assert_eq!(code_of(&done), 226);
    assert_eq!(data, b"hello\r\nworld\r\n");
    c.expect("TYPE I", 200);
    assert_eq!(code_of(&c.store("STOR up.bin", &[7u8; 4096])), 226);
    // An aborted download.
    let data = start_retr(&mut c, "big", 1000);
    abort(&mut c);
    drop(data);
    c.expect("QUIT", 221);

    // Anonymous download.
    let mut anon = srv.client();
    anon.login("anonymous", "guest@example.org");
    anon.expect("TYPE I", 200);
    let (data, _) = anon.retrieve("RETR a.txt");
    assert_eq!(data.len(), 14);
    anon.expect("QUIT", 221);

    let text = std::fs::read_to_string(&xferlog).unwrap();
    assert!(text.ends_with('\n'));
    let recs: Vec<Xfer> = text.lines().map(parse_xferlog).collect();
    assert_eq!(recs.len(), 4, "{text}");
    for r in &recs {
        assert_eq!(r.remote_host, "127.0.0.1");
        assert_eq!(r.special, "_");
        assert_eq!(r.service, "ftp");
        assert_eq!(r.auth_method, "0");
        assert_eq!(r.auth_user, "*");
        assert!(r.transfer_time >= 1 && r.transfer_time < 60, "{r:?}");
    }
    let [retr, stor, aborted, anon_retr] = &recs[..] else {
        unreachable!()
    };
    assert_eq!(
        (
            retr.filename.as_str(),
            retr.size,
            retr.transfer_type.as_str(),
            retr.direction.as_str(),
            retr.access.as_str(),
            retr.username.as_str(),
            retr.completion.as_str()
        ),
        (
            r_str(&root, "a.txt").as_str(),
            14,
            "a",
            "o",
            "r",
            "user",
            "c"
        )
    );
    assert_eq!(
        (
            stor.filename.as_str(),
            stor.size,
            stor.transfer_type.as_str(),
            stor.direction.as_str(),
            stor.access.as_str(),
            stor.username.as_str(),
            stor.completion.as_str()
        ),
        (
            r_str(&root, "up.bin").as_str(),
            4096,
            "b",
            "i",
            "r",
            "user",
            "c"
        )
    );
    assert_eq!(aborted.filename, r_str(&root, "big"));
    assert_eq!(aborted.direction, "o");
    assert_eq!(aborted.transfer_type, "b");
    assert_eq!(aborted.completion, "i");
    assert!((1000..8 * 1024 * 1024).contains(&aborted.size));
    assert_eq!(anon_retr.access, "a");
    assert_eq!(anon_retr.direction, "o");
    assert_eq!(anon_retr.completion, "c");
    assert_eq!(anon_retr.size, 14);
    // The password (the anonymous e-mail) is not written either.
    assert!(!text.contains("guest@example.org"));
}

#[test]
fn xferlog_keeps_its_shape_with_spaces_in_names() {
    capture();
    let dir = tempfile::tempdir().unwrap();
    let xferlog = dir.path().join("xferlog");
    let path = xferlog.clone();
    let srv = TestServer::start_with(|_, _| {}, move |h| h.set_xferlog(&path).unwrap());
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    assert_eq!(code_of(&c.store("STOR my file.txt", b"abc")), 226);
    c.expect("QUIT", 221);
    let text = std::fs::read_to_string(&xferlog).unwrap();
    let r = parse_xferlog(text.lines().next().unwrap());
    assert!(r.filename.ends_with("/my_file.txt"), "{r:?}");
    assert_eq!(r.size, 3);
    assert!(srv.root().join("my file.txt").exists());
}
