//! The command-line stream at DEBUG (pyftpdlib's `-D` mode): every command
//! `<- LINE` with PASS masked and every reply `-> CODE text`, the `log_cmd`
//! lines suppressed, the session/transfer lines kept; and where the event
//! hooks fire relative to the replies (reference §2), seen through a hook
//! implementation that logs.
//!
//! This binary installs one capturing logger with every `ftpdlib` target
//! enabled at DEBUG (`tests/logging.rs` has the INFO one). Tests run in
//! parallel: each keeps the records of its own sessions by the client port.

mod common;
use common::capture::{self, all_records, prefix, session_records, wait_closed, Capture, Rec};
use common::*;

use std::path::Path;
use std::time::{Duration, Instant};

use ftpdlib::log::{format_line, LOG, LOGLINE, PREFIX};
use ftpdlib::{Hooks, SessionInfo};
use log::Level;

/// The logger of this binary: every `ftpdlib` target at DEBUG.
fn capture() -> &'static Capture {
    capture::capture(Level::Debug)
}

/// `[D YYYY-MM-DD HH:MM:SS] msg`.
fn assert_line_shape(r: &Rec) {
    let line = format_line(PREFIX, r.level, &r.msg);
    let letter = match r.level {
        Level::Error => 'E',
        Level::Warn => 'W',
        Level::Info => 'I',
        Level::Debug => 'D',
        Level::Trace => 'T',
    };
    let b = line.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    assert!(
        line.starts_with(&format!("[{letter} "))
            && digits(3..7)
            && b[7] == b'-'
            && digits(8..10)
            && b[10] == b'-'
            && digits(11..13)
            && b[13] == b' '
            && digits(14..16)
            && b[16] == b':'
            && digits(17..19)
            && b[19] == b':'
            && digits(20..22)
            && line[22..].starts_with("] "),
        "{line:?}"
    );
}

fn assert_no_secret(secret: &str) {
    for r in all_records() {
        assert!(!r.msg.contains(secret), "password logged in {r:?}");
    }
}

/// The reply as the wire line shows it: first line, no CRLF.
fn wire(reply: &str) -> String {
    reply.lines().next().unwrap_or("").to_string()
}

#[test]
fn wire_lines_show_every_command_and_reply_with_pass_masked() {
    capture();
    const PW: &str = "Carol-Secret-9b3f";
    let srv = TestServer::start_with(
        |a, root| {
            a.add_user_with_perm("carol", PW, root, "elradfmwMT")
                .unwrap()
        },
        |_| {},
    );
    std::fs::write(srv.root().join("f"), b"data").unwrap();
    let root = std::fs::canonicalize(srv.root()).unwrap();
    let mut c = srv.client();
    let port = local_port(&c);
    let greeting = c.greeting.clone();
    let r_user = c.expect("USER carol", 331);
    let r_pass = c.expect(&format!("PASS {PW}"), 230);
    let r_noop = c.expect("NOOP", 200);
    let r_dele = c.expect("DELE f", 250);
    let r_quit = c.expect("QUIT", 221);
    wait_closed(port);

    let p0 = prefix(port, "");
    let p = prefix(port, "carol");
    let recs = session_records(port);
    for r in &recs {
        assert_line_shape(r);
        let wire_line = r.msg.contains(" <- ") || r.msg.contains(" -> ");
        if wire_line {
            assert_eq!(
                (r.level, r.target.as_str()),
                (Level::Debug, LOGLINE),
                "{r:?}"
            );
        }
    }
    let msgs: Vec<String> = recs.iter().map(|r| r.msg.clone()).collect();
    let want = vec![
        format!("{p0} FTP session opened (connect)"),
        format!("{p0} -> {}", wire(&greeting)),
        format!("{p0} <- USER carol"),
        format!("{p} -> {}", wire(&r_user)),
        format!("{p} <- PASS ******"),
        format!("{p} -> {}", wire(&r_pass)),
        format!("{p} USER 'carol' logged in."),
        format!("{p} <- NOOP"),
        format!("{p} -> {}", wire(&r_noop)),
        format!("{p} <- DELE f"),
        format!("{p} -> {}", wire(&r_dele)),
        // No "DELE /path 250" log_cmd line in debug mode.
        format!("{p} <- QUIT"),
        format!("{p} -> {}", wire(&r_quit)),
        format!("{p} FTP session closed (disconnect)."),
    ];
    assert_eq!(msgs, want);
    assert!(!msgs
        .iter()
        .any(|m| m.contains(&format!("DELE {}", root.join("f").display()))));
    let levels: Vec<Level> = recs.iter().map(|r| r.level).collect();
    assert_eq!(levels[0], Level::Info);
    assert_eq!(levels[6], Level::Info);
    assert_eq!(levels[13], Level::Info);
    assert_no_secret(PW);
}

#[test]
fn pass_is_masked_whatever_its_form() {
    capture();
    const PW: &str = "Odd-Pass-Form-41c";
    let srv = TestServer::start();
    let mut c = srv.client();
    let port = local_port(&c);
    c.expect("USER user", 331);
    // Lower case, a failed attempt, extra spaces.
    c.expect(&format!("pass {PW}"), 530);
    c.expect("USER user", 331);
    c.expect(&format!("PaSs  {PW} "), 530);
    c.expect("USER user", 331);
    c.expect(&format!("PASS {PASSWD}"), 230);
    c.expect("QUIT", 221);
    wait_closed(port);
    let masked = session_records(port)
        .iter()
        .filter(|r| r.msg.ends_with(" <- PASS ******"))
        .count();
    assert_eq!(masked, 3, "{:#?}", session_records(port));
    assert_no_secret(PW);
}

#[test]
fn transfer_lines_stay_in_debug_mode() {
    capture();
    let srv = TestServer::start();
    std::fs::write(srv.root().join("a.txt"), b"hello\n").unwrap();
    let root = std::fs::canonicalize(srv.root()).unwrap();
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("TYPE I", 200);
    let (data, _) = c.retrieve("RETR a.txt");
    assert_eq!(data, b"hello\n");
    c.expect("QUIT", 221);
    wait_closed(port);
    let want = format!(
        "{} RETR {} completed=1 bytes=6 seconds=",
        prefix(port, "user"),
        root.join("a.txt").display()
    );
    let r = session_records(port)
        .into_iter()
        .find(|r| r.msg.starts_with(&want))
        .expect("transfer line");
    assert_eq!((r.level, r.target.as_str()), (Level::Info, LOG));
}

#[test]
fn multi_line_replies_make_readable_wire_lines() {
    capture();
    let srv = TestServer::start();
    let mut c = srv.client();
    let port = local_port(&c);
    let feat = c.expect("FEAT", 211);
    assert!(feat.ends_with("211 End FEAT.\r\n"));
    c.expect("HELP", 214);
    c.expect("QUIT", 221);
    wait_closed(port);
    for r in session_records(port) {
        // A log line must not carry raw CRs, nor the code twice
        // (pyftpdlib logs the final line of a multi-line reply,
        // "-> 211 End FEAT.").
        assert!(!r.msg.contains('\r'), "{r:?}");
        assert!(!r.msg.contains("-> 211 211"), "{r:?}");
        assert!(!r.msg.contains("-> 214 214"), "{r:?}");
    }
}

// ---------------------------------------------------------------------------
// Hook order against the replies, seen through a hook that logs.

struct LoggingHooks;

fn hook_line(s: &SessionInfo<'_>, what: &str) {
    // Same prefix as the session's, so the record sorts with its session.
    log::info!(
        target: LOG,
        "127.0.0.1:{}-[{}] hook {what}",
        s.remote.port(),
        s.username
    );
}

impl Hooks for LoggingHooks {
    fn on_connect(&self, s: &SessionInfo<'_>) {
        hook_line(s, "on_connect");
    }
    fn on_disconnect(&self, s: &SessionInfo<'_>) {
        hook_line(s, "on_disconnect");
    }
    fn on_login(&self, s: &SessionInfo<'_>, username: &str) {
        hook_line(s, &format!("on_login {username}"));
    }
    fn on_login_failed(&self, s: &SessionInfo<'_>, username: &str, _password: &str) {
        hook_line(s, &format!("on_login_failed {username}"));
    }
    fn on_logout(&self, s: &SessionInfo<'_>, username: &str) {
        hook_line(s, &format!("on_logout {username}"));
    }
    fn on_file_sent(&self, s: &SessionInfo<'_>, file: &Path) {
        hook_line(s, &format!("on_file_sent {}", file.display()));
    }
    fn on_file_received(&self, s: &SessionInfo<'_>, file: &Path) {
        hook_line(s, &format!("on_file_received {}", file.display()));
    }
}

fn position(msgs: &[String], suffix: &str) -> usize {
    msgs.iter()
        .position(|m| m.ends_with(suffix))
        .unwrap_or_else(|| panic!("no line ending {suffix:?} in {msgs:#?}"))
}

#[test]
fn hooks_fire_after_their_replies() {
    capture();
    let srv = TestServer::start_with(|_, _| {}, |h| h.hooks = Box::new(LoggingHooks));
    std::fs::write(srv.root().join("a.txt"), b"hello\n").unwrap();
    let root = std::fs::canonicalize(srv.root()).unwrap();
    let mut c = srv.client();
    let port = local_port(&c);
    c.expect("USER user", 331);
    c.expect("PASS wrong", 530);
    c.login(USER, PASSWD);
    c.expect("TYPE I", 200);
    let (_, done) = c.retrieve("RETR a.txt");
    assert_eq!(code_of(&done), 226);
    assert_eq!(code_of(&c.store("STOR b.txt", b"x")), 226);
    c.expect("QUIT", 221);
    wait_closed(port);
    // Called at once; PATIENCE is the generous bound of every such wait.
    let deadline = Instant::now() + PATIENCE;
    while !session_records(port)
        .iter()
        .any(|r| r.msg.ends_with("hook on_disconnect"))
    {
        assert!(Instant::now() < deadline, "no on_disconnect");
        std::thread::sleep(Duration::from_millis(10));
    }
    let msgs: Vec<String> = session_records(port).into_iter().map(|r| r.msg).collect();
    // on_connect: before the 220 is sent.
    assert!(position(&msgs, "hook on_connect") < position(&msgs, "-> 220 ftpdlib 0.1.0 ready."));
    // on_login_failed: after the 530 (and the failed-login log line).
    let i530 = position(&msgs, "-> 530 Authentication failed.");
    let failed = position(&msgs, "hook on_login_failed user");
    assert!(i530 < failed, "{msgs:#?}");
    assert!(
        position(&msgs, "USER 'user' failed login.") < failed,
        "{msgs:#?}"
    );
    // on_login: after the 230 and the "logged in" line.
    let i230 = msgs
        .iter()
        .position(|m| m.contains(" -> 230 "))
        .expect("230 line");
    let login = position(&msgs, "hook on_login user");
    assert!(i230 < login, "{msgs:#?}");
    assert!(position(&msgs, "USER 'user' logged in.") < login);
    // File hooks: after the 226 and the transfer line.
    let sent = position(
        &msgs,
        &format!("hook on_file_sent {}", root.join("a.txt").display()),
    );
    let retr_line = msgs
        .iter()
        .position(|m| m.contains(" RETR /") && m.contains(" completed=1 "))
        .unwrap();
    assert!(retr_line < sent);
    let received = position(
        &msgs,
        &format!("hook on_file_received {}", root.join("b.txt").display()),
    );
    let i226s: Vec<usize> = msgs
        .iter()
        .enumerate()
        .filter(|(_, m)| m.ends_with("-> 226 Transfer complete."))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(i226s.len(), 2, "{msgs:#?}");
    assert!(i226s[0] < sent && sent < i226s[1] && i226s[1] < received);
    // on_logout after the 221, on_disconnect after the session-closed line.
    assert!(position(&msgs, "-> 221 Goodbye.") < position(&msgs, "hook on_logout user"));
    assert!(
        position(&msgs, "FTP session closed (disconnect).") < position(&msgs, "hook on_disconnect")
    );
}
