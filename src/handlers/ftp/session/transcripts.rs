//! Transcript tests of the interpreter: command lines in, replies and
//! effects out, data-side events played by hand. No socket, no loop.
//!
//! Each test reads like a session log: `t.says("CWD nope", "550 No such
//! file or directory.")` sends a line and checks its whole reply;
//! `t.expect("USER user", 331)` checks only the code; `t.effects()` names
//! what the control channel was asked to do. The data side (listener up,
//! client connected, transfer ended) is played with the session's `on_*`
//! methods, as the control channel would call them, and `t.replied(..)`
//! checks what they answered. Private state is read only where the wire
//! shows nothing.

use std::io::{Read, Seek, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use tempfile::TempDir;

use super::{DataSide, Effect, Ended, Opened, Passive, Session};
use crate::authorizers::DummyAuthorizer;
use crate::filesystems::FileHandle;
use crate::handlers::ftp::producers::{Job, JobKind, Outcome, OutcomeKind, Source};
use crate::handlers::ftp::FtpHandler;

/// The full-rights user and the password every test logs in with.
const USER: &str = "user";
const PASSWORD: &str = "12345";
/// A user who may only list (`el`): no `r`, no writes.
const VIEWER: &str = "viewer";
/// The client's control connection, and the server end of it.
const CLIENT: &str = "127.0.0.1:40000";
const SERVER: &str = "127.0.0.1:2121";
/// Where the passive listener comes up: port 50001 = 195 * 256 + 81.
const LISTENER: &str = "127.0.0.1:50001";
const NO_CONNECTION: &str = "425 No data connection: use PASV, EPSV, PORT or EPRT first.";
const NOT_LOGGED_IN: &str = "530 Log in with USER and PASS first.";

/// One session on a temporary home directory.
struct T {
    s: Session,
    home: TempDir,
}

impl T {
    /// Default settings, greeted.
    fn new() -> T {
        T::with(|_| {})
    }

    /// Settings changed by `configure`, greeted.
    fn with(configure: impl FnOnce(&mut FtpHandler)) -> T {
        let mut t = T::unopened(CLIENT, SERVER, configure);
        t.s.open();
        t.expect_output(220);
        t
    }

    /// A session between `remote` and `local`, not yet greeted. Users:
    /// `user` (every permission), `viewer` (`el`), `anonymous` (`elr`).
    fn unopened(remote: &str, local: &str, configure: impl FnOnce(&mut FtpHandler)) -> T {
        let home = tempfile::tempdir().expect("a temporary home");
        let mut auth = DummyAuthorizer::new();
        let users = [(USER, PASSWORD, "elradfmwMT"), (VIEWER, "pw", "el")];
        for (name, password, perms) in users {
            auth.add_user(name, password, home.path(), perms)
                .expect("a valid user");
        }
        auth.add_anonymous(home.path())
            .expect("a valid anonymous user");
        let mut cfg = FtpHandler::new(auth);
        configure(&mut cfg);
        let s = Session::new(Rc::new(cfg), addr(remote), addr(local));
        T { s, home }
    }

    /// Send one command line; the replies it produced.
    fn send(&mut self, line: &str) -> String {
        self.s.handle_line(line.as_bytes());
        self.output()
    }

    /// Send one command line; its reply is exactly `reply` (CRLF added).
    fn says(&mut self, line: &str, reply: &str) {
        let got = self.send(line);
        assert_eq!(got, format!("{reply}\r\n"), "the reply to {line:?}");
    }

    /// The pending output is exactly `reply` (CRLF added): what a data-side
    /// event or a delayed reply produced.
    fn replied(&mut self, reply: &str) {
        assert_eq!(self.output(), format!("{reply}\r\n"));
    }

    /// Send one command line and check the code of its (only) reply.
    fn expect(&mut self, line: &str, code: u16) -> String {
        self.s.handle_line(line.as_bytes());
        self.expect_output(code)
    }

    /// The replies not yet read, marked sent.
    fn output(&mut self) -> String {
        let out = String::from_utf8(self.s.output().to_vec()).expect("replies are UTF-8");
        self.s.output_sent(out.len());
        out
    }

    /// The pending output is one reply (single or multi-line) with `code`.
    fn expect_output(&mut self, code: u16) -> String {
        let out = self.output();
        let last = out.trim_end().rsplit("\r\n").next().unwrap_or("");
        let ok = out.starts_with(&code.to_string()) && last.starts_with(&format!("{code} "));
        assert!(ok, "expected a {code} reply, got {out:?}");
        out
    }

    /// What the session asked the control channel to do, by name.
    fn effects(&mut self) -> Vec<String> {
        self.s.take_effects().iter().map(describe).collect()
    }

    /// The one effect is a transfer to start: its job.
    fn job(&mut self) -> Job {
        let mut effects = self.s.take_effects();
        let names: Vec<String> = effects.iter().map(describe).collect();
        match (effects.pop(), effects.is_empty()) {
            (Some(Effect::StartJob(job)), true) => job,
            _ => panic!("expected one StartJob, got {names:?}"),
        }
    }

    fn login(&mut self) {
        self.login_as(USER, PASSWORD);
    }

    fn login_as(&mut self, user: &str, password: &str) {
        self.expect(&format!("USER {user}"), 331);
        self.expect(&format!("PASS {password}"), 230);
    }

    /// PASV, and the listener comes up: 227.
    fn pasv(&mut self) {
        assert_eq!(
            self.send("PASV"),
            "",
            "PASV answers once the listener is up"
        );
        assert_eq!(self.effects(), ["OpenPassive(Pasv)"]);
        self.s.on_passive_open(addr(LISTENER), Passive::Pasv);
        self.expect_output(227);
    }

    /// PASV, and the client connects: a data connection with no transfer.
    fn connected(&mut self) {
        self.pasv();
        self.s.on_data_connected(Opened::Passive);
        assert_eq!(self.output(), "");
        assert!(self.effects().is_empty(), "no transfer was queued");
    }

    /// The data side reports the end of `job`; the replies.
    fn finish(&mut self, job: Job, kind: OutcomeKind, by: Ended) -> String {
        let outcome = Outcome {
            transfer: job.transfer,
            path: job.path,
            ascii: false,
            bytes: 0,
            elapsed: 0.0,
            kind,
        };
        self.s.on_transfer_done(outcome, by);
        self.output()
    }

    /// The data side sent or received every byte of `job`: 226.
    fn complete(&mut self, job: Job) {
        let replies = self.finish(job, OutcomeKind::Complete, Ended::ByDataSide);
        assert_eq!(replies, "226 Transfer complete.\r\n");
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.home.path().join(rel)
    }

    fn put(&self, rel: &str, contents: &str) {
        std::fs::write(self.path(rel), contents).expect("a file in the home");
    }

    fn mkdir(&self, rel: &str) {
        std::fs::create_dir(self.path(rel)).expect("a directory in the home");
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).expect("a readable file")
    }
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("a socket address")
}

fn describe(effect: &Effect) -> String {
    match effect {
        Effect::OpenPassive(p) => format!("OpenPassive({p:?})"),
        Effect::ConnectActive(a) => format!("ConnectActive({a})"),
        Effect::CloseData => "CloseData".into(),
        Effect::AbortTransfer => "AbortTransfer".into(),
        Effect::DropTransfer => "DropTransfer".into(),
        Effect::StartJob(job) => format!("StartJob({})", job.transfer.name()),
        Effect::AuthDelay => "AuthDelay".into(),
        Effect::Close => "Close".into(),
        Effect::StartTls => "StartTls".into(),
        // Effects added on other branches (the session grows) still build.
        #[allow(unreachable_patterns)]
        _ => "another effect".into(),
    }
}

/// What the data channel would send for a download job.
fn sent(job: &mut Job) -> String {
    let mut out = Vec::new();
    match &mut job.kind {
        JobKind::Send(Source::File { file, .. }) => {
            file.read_to_end(&mut out).expect("a readable file");
        }
        JobKind::Send(Source::Listing(listing)) => while listing.fill(&mut out, 1 << 16) {},
        JobKind::Receive { .. } => panic!("a download was expected"),
    }
    String::from_utf8(out).expect("UTF-8 content")
}

/// The file an upload job writes into.
fn upload_file(job: &mut Job) -> &mut Box<dyn FileHandle> {
    match &mut job.kind {
        JobKind::Receive { file, .. } => file,
        JobKind::Send(_) => panic!("an upload was expected"),
    }
}

// ---- Login (RFC 959 §4.1.1, RFC 2577 §5) ----

#[test]
fn greeting_is_220_with_the_banner_per_rfc959() {
    let mut t = T::unopened(CLIENT, SERVER, |cfg| cfg.banner = "Hello there.".into());
    t.s.open();
    t.replied("220 Hello there.");
}

#[test]
fn a_refused_connection_gets_one_421_per_rfc959() {
    let mut t = T::unopened(CLIENT, SERVER, |_| {});
    t.s.refuse("Too many connections.");
    t.replied("421 Too many connections.");
}

#[test]
fn user_then_pass_logs_in_with_331_then_230_per_rfc959() {
    let mut t = T::new();
    t.says("USER user", "331 Username ok, send password.");
    t.says("PASS 12345", "230 Login successful.");
    t.says("PWD", "257 \"/\" is the current directory.");
}

#[test]
fn pass_before_user_is_503_bad_sequence_per_rfc959() {
    let mut t = T::new();
    t.says("PASS 12345", "503 Login with USER first.");
    t.login();
    t.says("PASS 12345", "503 User already authenticated.");
}

#[test]
fn a_wrong_password_is_answered_530_only_after_the_delay_per_rfc2577() {
    let mut t = T::new();
    t.expect("USER user", 331);
    assert_eq!(t.send("PASS wrong"), "", "no reply during the delay");
    assert_eq!(t.effects(), ["AuthDelay"]);
    t.s.on_auth_delay_over();
    t.replied("530 Authentication failed.");
    assert!(t.effects().is_empty(), "one failure does not disconnect");
    // The name was forgotten: the next PASS needs a USER again.
    t.says("PASS 12345", "503 Login with USER first.");
    t.login();
}

#[test]
fn without_a_delay_a_wrong_password_is_answered_530_at_once_as_pyftpdlib() {
    let mut t = T::with(|cfg| cfg.auth_failed_timeout = std::time::Duration::ZERO);
    t.expect("USER user", 331);
    t.says("PASS wrong", "530 Authentication failed.");
    assert!(t.effects().is_empty());
}

#[test]
fn the_third_failed_login_is_530_and_closes_the_connection_per_rfc2577() {
    let mut t = T::new();
    for attempt in 1..=3 {
        t.expect("USER user", 331);
        t.send("PASS wrong");
        assert_eq!(t.effects(), ["AuthDelay"]);
        t.s.on_auth_delay_over();
        let (reply, effects) = (t.output(), t.effects());
        if attempt < 3 {
            assert_eq!(reply, "530 Authentication failed.\r\n");
            assert!(effects.is_empty(), "attempt {attempt} keeps the connection");
        } else {
            assert_eq!(reply, "530 Authentication failed. Disconnecting.\r\n");
            assert_eq!(effects, ["Close"]);
        }
    }
}

#[test]
fn an_unknown_user_gets_331_like_a_known_one_per_rfc2577() {
    let mut t = T::new();
    t.says("USER nobody", "331 Username ok, send password.");
    t.send("PASS 12345");
    assert_eq!(t.effects(), ["AuthDelay"]);
    t.s.on_auth_delay_over();
    t.replied("530 Authentication failed.");
}

#[test]
fn anonymous_logs_in_with_any_password_and_may_not_write_per_rfc1635() {
    let mut t = T::new();
    t.login_as("anonymous", "guest@example.com");
    t.connected();
    t.says("STOR up", "550 Not enough privileges.");
    t.says("MKD d", "550 Not enough privileges.");
}

#[test]
fn user_while_logged_in_flushes_the_account_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.pasv();
    t.says(
        "USER viewer",
        "331 Previous account information was flushed, send password.",
    );
    assert_eq!(t.effects(), ["CloseData"], "the data set-up goes too");
    t.says("PWD", NOT_LOGGED_IN);
    t.expect("PASS pw", 230);
    t.says("DELE x", "550 Not enough privileges.");
}

#[test]
fn file_and_data_commands_before_login_are_530_per_rfc959() {
    let mut t = T::new();
    for line in [
        "RETR f",
        "LIST",
        "CWD /",
        "CWD",
        "PWD",
        "PASV",
        "STAT /",
        "SITE CHMOD 755 f",
    ] {
        t.says(line, NOT_LOGGED_IN);
    }
}

#[test]
fn feat_help_syst_noop_opts_and_bare_stat_work_before_login_per_rfc959() {
    let mut t = T::new();
    t.expect("FEAT", 211);
    t.expect("HELP", 214);
    t.expect("SITE HELP", 214);
    t.says("SYST", "215 UNIX Type: L8");
    t.says("NOOP", "200 I successfully did nothing.");
    t.says("OPTS UTF8 ON", "200 Always in UTF8 mode.");
    assert_eq!(
        t.send("STAT"),
        "211-FTP server status:\r\n Connected to: 127.0.0.1:2121\r\n Waiting for username.\r\n \
         TYPE: ASCII; STRUcture: File; MODE: Stream\r\n Data connection closed.\r\n\
         211 End of status.\r\n"
    );
}

#[test]
fn quit_before_login_says_goodbye_and_closes_per_rfc959() {
    let mut t = T::new();
    t.says("QUIT", "221 Goodbye.");
    assert_eq!(t.effects(), ["Close"]);
}

// ---- Passive data connections (RFC 959 §4.1.2, RFC 2428 §3) ----

#[test]
fn pasv_replies_227_with_address_and_port_bytes_once_listening_per_rfc959() {
    let mut t = T::new();
    t.login();
    assert_eq!(t.send("PASV"), "");
    assert_eq!(t.effects(), ["OpenPassive(Pasv)"]);
    t.s.on_passive_open(addr(LISTENER), Passive::Pasv);
    t.replied("227 Entering passive mode (127,0,0,1,195,81).");
}

#[test]
fn pasv_announces_the_masquerade_address_behind_nat_as_pyftpdlib() {
    let mut t = T::with(|cfg| cfg.masquerade_address = "203.0.113.7".parse().ok());
    t.login();
    t.send("PASV");
    t.s.on_passive_open(addr(LISTENER), Passive::Pasv);
    t.replied("227 Entering passive mode (203,0,113,7,195,81).");
}

#[test]
fn epsv_replies_229_with_the_port_only_per_rfc2428() {
    let mut t = T::new();
    t.login();
    assert_eq!(t.send("EPSV"), "");
    assert_eq!(t.effects(), ["OpenPassive(Epsv)"]);
    t.s.on_passive_open(addr(LISTENER), Passive::Epsv);
    t.replied("229 Entering extended passive mode (|||50001|).");
    t.says("EPSV 3", "501 Unknown network protocol (use 1).");
}

#[test]
fn epsv_all_leaves_only_epsv_to_open_data_connections_per_rfc2428() {
    let mut t = T::new();
    t.login();
    t.says("EPSV ALL", "200 EPSV ALL command successful.");
    t.says("PASV", "501 PASV not allowed after EPSV ALL.");
    t.says(
        "PORT 127,0,0,1,7,208",
        "501 PORT not allowed after EPSV ALL.",
    );
    t.says(
        "EPRT |1|127.0.0.1|2000|",
        "501 EPRT not allowed after EPSV ALL.",
    );
    assert!(t.effects().is_empty());
    t.send("EPSV");
    assert_eq!(t.effects(), ["OpenPassive(Epsv)"]);
}

#[test]
fn on_ipv6_pasv_is_refused_and_epsv_and_eprt_use_protocol_2_per_rfc2428() {
    let mut t = T::unopened("[::1]:40000", "[::1]:2121", |_| {});
    t.login();
    t.says(
        "PASV",
        "425 PASV is IPv4 only on this connection; use EPSV.",
    );
    t.says(
        "EPRT |1|127.0.0.1|2000|",
        "522 Network protocol not supported (use 2).",
    );
    t.send("EPSV 2");
    assert_eq!(t.effects(), ["OpenPassive(Epsv)"]);
    t.s.on_passive_open(addr("[::1]:50001"), Passive::Epsv);
    t.replied("229 Entering extended passive mode (|||50001|).");
}

// ---- Transfers on the data connection (RFC 959 §5.4) ----

#[test]
fn retr_after_pasv_is_150_and_starts_when_the_client_connects_then_226_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.says(
        "RETR f",
        "150 File status okay. About to open data connection.",
    );
    assert!(
        t.effects().is_empty(),
        "no transfer before the client connects"
    );
    t.s.on_data_connected(Opened::Passive);
    assert_eq!(t.output(), "", "the 150 already announced it");
    let mut job = t.job();
    assert_eq!(sent(&mut job), "hello");
    t.complete(job);
}

#[test]
fn retr_on_an_open_data_connection_is_125_and_starts_at_once_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.says(
        "RETR f",
        "125 Data connection already open. Transfer starting.",
    );
    let job = t.job();
    t.complete(job);
}

#[test]
fn retr_without_pasv_or_port_is_425_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.says("RETR f", NO_CONNECTION);
    assert!(t.effects().is_empty());
}

#[test]
fn a_second_transfer_while_one_runs_is_425_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    t.says("RETR f", "425 A transfer is already in progress.");
    t.says("STOR g", "425 A transfer is already in progress.");
    assert!(t.effects().is_empty());
    t.complete(job);
    // One data connection serves one transfer.
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn a_new_pasv_keeps_the_queued_transfer_for_the_new_connection_as_pyftpdlib() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    t.send("PASV");
    assert_eq!(t.effects(), ["CloseData", "OpenPassive(Pasv)"]);
    t.s.on_passive_open(addr(LISTENER), Passive::Pasv);
    t.expect_output(227);
    t.s.on_data_connected(Opened::Passive);
    let job = t.job();
    assert_eq!(job.path, t.path("f"));
}

#[test]
fn a_foreign_client_on_the_listener_is_refused_and_the_listener_waits_per_rfc2577() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    let text = "Rejected data connection from foreign address 10.0.0.9:5000.";
    t.s.on_data_reply(425, text, DataSide::Alive);
    t.replied(&format!("425 {text}"));
    t.s.on_data_connected(Opened::Passive);
    t.job();
}

#[test]
fn stor_writes_through_the_jobs_file_then_226_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.connected();
    t.expect("STOR up", 125);
    let mut job = t.job();
    upload_file(&mut job)
        .write_all(b"uploaded")
        .expect("a writable file");
    t.complete(job);
    assert_eq!(t.read("up"), "uploaded");
}

#[test]
fn appe_appends_to_the_existing_file_per_rfc959() {
    let mut t = T::new();
    t.put("log", "one,");
    t.login();
    t.connected();
    t.expect("APPE log", 125);
    let mut job = t.job();
    upload_file(&mut job)
        .write_all(b"two")
        .expect("a writable file");
    t.complete(job);
    assert_eq!(t.read("log"), "one,two");
}

#[test]
fn stou_stores_under_a_new_name_given_in_the_125_per_rfc1123() {
    let mut t = T::new();
    t.login();
    t.connected();
    let reply = t.expect("STOU", 125);
    let name = reply
        .strip_prefix("125 FILE: ")
        .and_then(|r| r.strip_suffix("\r\n"))
        .expect("a FILE: reply");
    assert!(name.starts_with("ftpd."), "{name}");
    let job = t.job();
    assert_eq!(job.path, t.path(name));
    assert!(t.path(name).is_file(), "STOU created the file");
}

#[test]
fn list_nlst_and_mlsd_are_queued_as_jobs_of_their_kind_per_rfc959_and_rfc3659() {
    let mut t = T::new();
    t.put("f", "x");
    t.mkdir("sub");
    t.login();
    for (line, kind) in [("LIST", "LIST"), ("NLST -la", "NLST"), ("MLSD /", "MLSD")] {
        t.pasv();
        t.expect(line, 150);
        assert!(t.effects().is_empty(), "{line} waits for the connection");
        t.s.on_data_connected(Opened::Passive);
        let mut job = t.job();
        assert_eq!(job.transfer.name(), kind);
        let listing = sent(&mut job);
        if kind == "NLST" {
            assert_eq!(listing, "f\r\nsub\r\n");
        } else {
            assert_eq!(listing.lines().count(), 2, "{listing}");
        }
        t.complete(job);
    }
}

#[test]
fn mlsd_of_a_file_is_501_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.connected();
    t.says("MLSD f", "501 No such directory.");
    assert!(t.effects().is_empty());
}

#[test]
fn retr_of_a_directory_or_a_missing_file_is_550_per_rfc959() {
    let mut t = T::new();
    t.mkdir("sub");
    t.put("f", "hello");
    t.login();
    t.connected();
    t.says("RETR sub", "550 Is a directory.");
    t.says("RETR nope", "550 No such file or directory.");
    // ".." cannot climb above the virtual root: this names <home>/etc/passwd.
    t.says("RETR ../../etc/passwd", "550 No such file or directory.");
    assert!(t.effects().is_empty());
    t.expect("RETR f", 125); // the data connection is still usable
}

#[test]
fn a_broken_transfer_is_426_and_a_full_disk_452_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    let broken = [
        (
            "RETR f",
            OutcomeKind::ClientGone(std::io::Error::from_raw_os_error(libc::ECONNRESET)),
            "426 Connection reset by peer. Transfer aborted; 0 bytes transmitted.\r\n",
        ),
        (
            "STOR g",
            OutcomeKind::LocalError(std::io::Error::from_raw_os_error(libc::ENOSPC)),
            "452 No space left on device; transfer aborted.\r\n",
        ),
        (
            "RETR f",
            OutcomeKind::Stalled,
            "426 Data connection timed out; transfer aborted.\r\n",
        ),
    ];
    for (line, kind, reply) in broken {
        t.connected();
        t.expect(line, 125);
        let job = t.job();
        assert_eq!(t.finish(job, kind, Ended::ByDataSide), reply, "{line}");
    }
}

#[test]
fn stat_during_a_transfer_shows_its_progress_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("TYPE I", 200);
    t.expect("RETR f", 125);
    let _job = t.job();
    let stats = super::TransferStats {
        bytes: 1024,
        receiving: false,
        elapsed: 2.0,
    };
    t.s.set_transfer_stats(Some(stats));
    let status = t.expect("STAT", 211);
    assert!(status.contains(" Logged in as: user\r\n"), "{status}");
    assert!(status.contains(" TYPE: Binary;"), "{status}");
    assert!(
        status.contains(" Data connection open: sent 1024 bytes in 2.0 seconds.\r\n"),
        "{status}"
    );
}

// ---- Active data connections (RFC 959 §4.1.2, RFC 2428 §2, RFC 2577) ----

#[test]
fn port_asks_for_a_connect_and_200_comes_once_connected_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    assert_eq!(
        t.send("PORT 127,0,0,1,7,208"),
        "",
        "answered once connected"
    );
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:2000)"]);
    t.s.on_data_connected(Opened::Active);
    t.replied("200 Active data connection established.");
    assert!(t.effects().is_empty());
    t.expect("RETR f", 125);
    let job = t.job();
    t.complete(job);
}

#[test]
fn eprt_asks_for_a_connect_in_the_control_family_per_rfc2428() {
    let mut t = T::new();
    t.login();
    assert_eq!(t.send("EPRT |1|127.0.0.1|2000|"), "");
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:2000)"]);
    t.says(
        "EPRT |2|::1|2000|",
        "522 Network protocol not supported (use 1).",
    );
    t.says(
        "EPRT |3|127.0.0.1|2000|",
        "501 Unknown network protocol (use 1).",
    );
    t.says("EPRT 127.0.0.1:2000", "501 Invalid EPRT format.");
    t.says("PORT 127,0,0,1,7", "501 Invalid PORT format.");
    assert!(t.effects().is_empty());
}

#[test]
fn port_to_a_foreign_address_is_refused_501_per_rfc2577() {
    let mut t = T::new();
    t.login();
    t.says(
        "PORT 10,0,0,1,7,208",
        "501 Rejected data connection to foreign address 10.0.0.1:2000.",
    );
    t.says(
        "EPRT |1|10.0.0.1|2000|",
        "501 Rejected data connection to foreign address 10.0.0.1:2000.",
    );
    assert!(t.effects().is_empty(), "no bounce connect");
}

#[test]
fn port_to_a_privileged_port_is_refused_501_unless_permitted_per_rfc2577() {
    let mut t = T::new();
    t.login();
    t.says(
        "PORT 127,0,0,1,0,21",
        "501 PORT against the privileged port \"21\" refused.",
    );
    assert!(t.effects().is_empty());
    let mut t = T::with(|cfg| cfg.permit_privileged_ports = true);
    t.login();
    t.send("PORT 127,0,0,1,0,21");
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:21)"]);
}

#[test]
fn an_ipv4_mapped_client_may_port_to_its_own_address_per_rfc2577() {
    let mut t = T::unopened(
        "[::ffff:127.0.0.1]:40000",
        "[::ffff:127.0.0.1]:2121",
        |_| {},
    );
    t.login();
    t.send("PORT 127,0,0,1,7,208");
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:2000)"]);
    // The mapped control connection is IPv4 for PASV too.
    t.send("PASV");
    assert_eq!(t.effects(), ["CloseData", "OpenPassive(Pasv)"]);
    t.s.on_passive_open(addr("[::ffff:127.0.0.1]:50001"), Passive::Pasv);
    t.replied("227 Entering passive mode (127,0,0,1,195,81).");
}

#[test]
fn a_failed_connect_is_425_and_leaves_no_data_connection_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.send("PORT 127,0,0,1,7,208");
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:2000)"]);
    let text = "Can't connect to specified address.";
    t.s.on_data_reply(425, text, DataSide::Gone);
    t.replied(&format!("425 {text}"));
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn a_lost_listener_drops_the_queued_transfer_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    let text = "Can't open data connection: Too many open files.";
    t.s.on_data_reply(425, text, DataSide::Gone);
    t.replied(&format!("425 {text}"));
    t.says("RETR f", NO_CONNECTION);
    // The dropped RETR does not start on the next connection.
    t.connected();
}

// ---- ABOR in every data state (RFC 959 §4.1.3) ----

#[test]
fn abor_with_nothing_set_up_is_225_no_transfer_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("ABOR", "225 No transfer to abort.");
    assert!(t.effects().is_empty());
}

#[test]
fn abor_closes_a_waiting_listener_with_225_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.pasv();
    t.says("ABOR", "225 ABOR command successful; data channel closed.");
    assert_eq!(t.effects(), ["CloseData"]);
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn abor_closes_a_pending_active_connect_with_225_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.send("PORT 127,0,0,1,7,208");
    t.effects();
    t.says("ABOR", "225 ABOR command successful; data channel closed.");
    assert_eq!(t.effects(), ["CloseData"]);
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn abor_closes_an_idle_data_connection_with_225_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.connected();
    t.says("ABOR", "225 ABOR command successful; data channel closed.");
    assert_eq!(t.effects(), ["CloseData"]);
    t.says("LIST", NO_CONNECTION);
}

#[test]
fn abor_of_a_running_transfer_is_426_then_226_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    assert_eq!(t.send("ABOR"), "", "the replies come with the outcome");
    assert_eq!(t.effects(), ["AbortTransfer"]);
    assert_eq!(
        t.finish(job, OutcomeKind::Aborted, Ended::ByAbor),
        "426 Transfer aborted via ABOR.\r\n226 ABOR command successful.\r\n"
    );
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn abor_finding_the_transfer_already_gone_is_225_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    t.job();
    t.send("ABOR");
    assert_eq!(t.effects(), ["AbortTransfer"]);
    t.s.on_abort_without_transfer();
    t.replied("225 ABOR command successful; data channel closed.");
    t.says("RETR f", NO_CONNECTION);
}

// ---- REIN and QUIT (RFC 959 §4.1.1) ----

#[test]
fn rein_logs_out_and_closes_the_data_set_up_but_keeps_the_connection_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.expect("TYPE I", 200);
    t.pasv();
    t.says("REIN", "230 Ready for new user.");
    assert_eq!(t.effects(), ["CloseData"], "the connection itself stays");
    t.says("PWD", NOT_LOGGED_IN);
    t.says("REIN", NOT_LOGGED_IN);
    t.login();
    let status = t.expect("STAT", 211);
    assert!(status.contains(" TYPE: ASCII;"), "TYPE was reset: {status}");
    assert!(status.contains(" Data connection closed.\r\n"), "{status}");
}

#[test]
fn rein_lets_a_running_transfer_finish_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    t.expect("REIN", 230);
    assert!(t.effects().is_empty(), "the transfer is not aborted");
    t.complete(job);
}

#[test]
fn quit_when_logged_in_is_221_then_close_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("QUIT", "221 Goodbye.");
    assert_eq!(t.effects(), ["Close"]);
}

#[test]
fn quit_during_a_transfer_closes_once_the_transfer_ends_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    t.says("QUIT", "221 Goodbye.");
    assert!(t.effects().is_empty(), "no Close while the transfer runs");
    assert!(t.s.is_quitting(), "no further line is read");
    t.complete(job);
    assert_eq!(t.effects(), ["Close"]);
}

// ---- REST (RFC 3659 §5) ----

#[test]
fn rest_then_stor_writes_from_the_offset_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    t.expect("TYPE I", 200);
    t.says("REST 4", "350 Restarting at position 4.");
    t.connected();
    t.expect("STOR f", 125);
    let mut job = t.job();
    let JobKind::Receive { truncate, .. } = job.kind else {
        panic!("an upload was expected")
    };
    assert!(truncate, "a resumed upload cuts the stale tail at its end");
    let file = upload_file(&mut job);
    assert_eq!(file.stream_position().expect("a position"), 4);
    file.write_all(b"XY").expect("a writable file");
    t.complete(job);
    assert_eq!(t.read("f"), "0123XY6789");
    assert_eq!(t.s.restart_position, 0, "STOR consumed the offset");
}

#[test]
fn rest_then_retr_sends_from_the_offset_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    t.expect("TYPE I", 200);
    t.expect("REST 6", 350);
    t.connected();
    t.expect("RETR f", 125);
    let mut job = t.job();
    let JobKind::Send(Source::File {
        sendfile_offset, ..
    }) = &job.kind
    else {
        panic!("a file download was expected")
    };
    assert!(
        matches!(sendfile_offset, None | Some(6)),
        "{sendfile_offset:?}"
    );
    assert_eq!(sent(&mut job), "6789");
}

#[test]
fn rest_is_refused_501_in_ascii_type_as_pyftpdlib() {
    let mut t = T::new();
    t.login();
    t.says(
        "REST 4",
        "501 Resuming transfers not allowed in ASCII mode.",
    );
    assert_eq!(t.s.restart_position, 0);
}

#[test]
fn rest_with_something_else_than_a_number_is_501_per_rfc3659() {
    let mut t = T::new();
    t.login();
    t.expect("TYPE I", 200);
    for line in [
        "REST abc",
        "REST -1",
        "REST 1e3",
        "REST 99999999999999999999999",
    ] {
        t.says(line, "501 Invalid parameter.");
    }
}

#[test]
fn rest_past_the_end_of_the_file_is_554_per_rfc1123() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    t.expect("TYPE I", 200);
    t.expect("REST 100", 350);
    t.connected();
    t.says("RETR f", "554 REST position (100) > file size (10)");
    assert!(t.effects().is_empty());
}

#[test]
fn appe_and_stou_with_a_pending_rest_are_450_as_pyftpdlib() {
    let mut t = T::new();
    t.login();
    t.expect("TYPE I", 200);
    t.expect("REST 4", 350);
    t.connected();
    t.says("APPE f", "450 Can't APPE while REST request is pending.");
    t.says("STOU", "450 Can't STOU while REST request is pending.");
    assert!(t.effects().is_empty());
}

// ---- The dispatch order: 501, 530, 550 outside home, 550 permission ----

/// A session whose home holds `f` and `escape`, a symlink to a directory
/// outside the home holding `secret`; the second directory is returned to
/// keep it alive.
fn with_escape() -> (T, TempDir) {
    let t = T::new();
    let outside = tempfile::tempdir().expect("a directory outside the home");
    std::fs::write(outside.path().join("secret"), "x").expect("a file outside");
    std::os::unix::fs::symlink(outside.path(), t.path("escape")).expect("a symlink");
    t.put("f", "hello");
    (t, outside)
}

#[test]
fn a_missing_argument_is_501_before_the_login_check_as_pyftpdlib() {
    let mut t = T::new();
    t.says("RETR", "501 Syntax error: command needs an argument.");
    t.says(
        "PWD now",
        "501 Syntax error: command does not accept arguments.",
    );
}

#[test]
fn the_login_is_checked_before_the_path_as_pyftpdlib() {
    let (mut t, _outside) = with_escape();
    t.says("RETR f", NOT_LOGGED_IN);
    t.says("RETR escape/secret", NOT_LOGGED_IN);
}

#[test]
fn a_path_leaving_the_home_is_550_before_the_permission_check_as_pyftpdlib() {
    let (mut t, _outside) = with_escape();
    t.login_as(VIEWER, "pw");
    t.says(
        "RETR escape/secret",
        "550 '/escape/secret' points to a path which is outside the user's root directory.",
    );
}

#[test]
fn a_user_without_the_r_permission_gets_550_not_enough_privileges_per_rfc959() {
    let (mut t, _outside) = with_escape();
    t.login_as(VIEWER, "pw");
    // Checked before the data connection: no PASV was needed to learn it.
    t.says("RETR f", "550 Not enough privileges.");
    t.says("DELE f", "550 Not enough privileges.");
    t.says("SITE CHMOD 600 f", "550 Not enough privileges.");
}

#[test]
fn a_path_with_a_nul_or_a_line_break_is_501_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("MKD a\0b", "501 Path contains a NUL byte.");
    t.says("MKD a\rb", "501 Path contains a line break.");
    assert!(!t.path("a").exists());
}

#[test]
fn an_undecodable_line_is_501_per_rfc2640() {
    let mut t = T::new();
    t.login();
    t.s.handle_line(b"MKD \xff\xfe");
    t.replied("501 Can't decode command.");
}

#[test]
fn an_unknown_command_is_500_even_before_login_per_rfc959() {
    let mut t = T::new();
    t.says("XYZZY", "500 Command \"XYZZY\" not understood.");
    t.says("SITE FOO bar", "500 Command \"SITE FOO\" not understood.");
}

// ---- File-system commands on the control channel (RFC 959 §4.1.3) ----

#[test]
fn cwd_and_cdup_move_and_pwd_quotes_the_directory_per_rfc959() {
    let mut t = T::new();
    t.mkdir("sub");
    t.login();
    t.says("CWD sub", "250 \"/sub\" is the current directory.");
    t.says("PWD", "257 \"/sub\" is the current directory.");
    t.says("CDUP", "250 \"/\" is the current directory.");
    t.says("CDUP", "250 \"/\" is the current directory.");
}

#[test]
fn cwd_to_a_missing_directory_is_550_and_the_cwd_stays_per_rfc959() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("CWD nope", "550 No such file or directory.");
    t.says("CWD f", "550 Not a directory.");
    t.says("PWD", "257 \"/\" is the current directory.");
}

#[test]
fn mkd_is_257_with_the_new_path_and_an_existing_one_is_550_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("MKD new", "257 \"/new\" directory created.");
    assert!(t.path("new").is_dir());
    t.says("MKD new", "550 File exists.");
    t.says("XMKD new", "550 File exists.");
}

#[test]
fn rmd_of_a_missing_directory_or_of_the_root_is_550_per_rfc959() {
    let mut t = T::new();
    t.mkdir("old");
    t.login();
    t.says("RMD nope", "550 No such file or directory.");
    t.says("RMD /", "550 Can't remove root directory.");
    t.says("RMD old", "250 Directory removed.");
    assert!(!t.path("old").exists());
}

#[test]
fn dele_of_a_missing_file_is_550_per_rfc959() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("DELE nope", "550 No such file or directory.");
    t.says("DELE f", "250 File removed.");
    assert!(!t.path("f").exists());
}

#[test]
fn rnto_without_rnfr_is_503_bad_sequence_per_rfc959() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("RNTO g", "503 Bad sequence of commands: use RNFR first.");
    assert!(t.path("f").exists() && !t.path("g").exists());
}

#[test]
fn rnfr_of_a_missing_file_is_550_and_rnto_still_needs_an_rnfr_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("RNFR nope", "550 No such file or directory.");
    t.expect("RNTO g", 503);
}

#[test]
fn rnfr_then_rnto_renames_with_350_then_250_per_rfc959() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("RNFR f", "350 Ready for destination name.");
    t.says("RNTO g", "250 Renaming ok.");
    assert_eq!(t.read("g"), "x");
    t.expect("RNTO h", 503);
}

#[test]
fn size_is_213_in_binary_and_refused_in_ascii_or_for_a_directory_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.mkdir("sub");
    t.login();
    t.says("SIZE f", "550 SIZE not allowed in ASCII mode.");
    t.expect("TYPE I", 200);
    t.says("SIZE f", "213 10");
    t.says("SIZE sub", "550 /sub is not retrievable.");
}

#[test]
fn mfmt_sets_the_time_that_mdtm_reads_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("MFMT 20200102030405 f", "213 Modify=20200102030405; /f.");
    t.says("MDTM f", "213 20200102030405");
}

#[test]
fn mdtm_of_a_missing_file_is_550_per_rfc3659() {
    let mut t = T::new();
    t.mkdir("sub");
    t.login();
    t.says("MDTM nope", "550 /nope is not retrievable");
    t.says("MDTM sub", "550 /sub is not retrievable");
}

#[test]
fn mfmt_with_a_bad_time_is_550_and_without_a_path_501_as_pyftpdlib() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says(
        "MFMT 2020 f",
        "550 Invalid time format; expected: YYYYMMDDHHMMSS.",
    );
    t.says(
        "MFMT 20200102030405",
        "501 Syntax error: command needs two arguments.",
    );
    t.says("MFMT 20200102030405 nope", "550 /nope is not retrievable");
}

#[test]
fn site_chmod_takes_three_or_four_octal_digits_else_501_as_pyftpdlib() {
    use std::os::unix::fs::PermissionsExt;
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("SITE CHMOD 999 f", "501 Invalid SITE CHMOD format.");
    t.says(
        "SITE CHMOD 600",
        "501 Syntax error: command needs two arguments.",
    );
    t.says("site chmod 600 f", "200 SITE CHMOD successful.");
    let mode = std::fs::metadata(t.path("f"))
        .expect("a file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

// ---- Transfer parameters (RFC 959 §4.1.2) ----

#[test]
fn type_accepts_ascii_and_image_and_refuses_others_with_504_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("TYPE I", "200 Type set to: Binary.");
    t.says("TYPE A", "200 Type set to: ASCII.");
    t.says("TYPE L 8", "200 Type set to: Binary.");
    t.says("TYPE E", "504 Unsupported type \"E\".");
    assert!(t.s.binary, "a refused TYPE changes nothing");
}

#[test]
fn mode_and_stru_take_only_stream_and_file_504_or_501_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("MODE S", "200 Transfer mode set to: S");
    t.says("MODE B", "504 Unimplemented MODE type.");
    t.says("MODE X", "501 Unrecognized MODE type.");
    t.says("STRU F", "200 File transfer structure set to: F.");
    t.says("STRU P", "504 Unimplemented STRU type.");
    t.says("STRU X", "501 Unrecognized STRU type.");
}

#[test]
fn allo_is_202_superfluous_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("ALLO 100", "202 No storage allocation necessary.");
}

// ---- Information: FEAT, OPTS, HELP, SITE HELP, MLST, STAT (RFC 2389, 3659) ----

#[test]
fn feat_lists_the_extensions_sorted_one_per_line_per_rfc2389() {
    let mut t = T::new();
    assert_eq!(
        t.send("FEAT"),
        "211-Features supported:\r\n EPRT\r\n EPSV\r\n MDTM\r\n MFMT\r\n \
         MLST type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;\r\n \
         REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End FEAT.\r\n"
    );
}

#[test]
fn opts_of_a_command_without_options_is_501_per_rfc2389() {
    let mut t = T::new();
    t.says("OPTS FOO on", "501 Unsupported command \"FOO\".");
    t.says("OPTS a b c", "501 Invalid number of arguments.");
    t.says("OPTS MLST size", "501 Invalid argument.");
}

#[test]
fn mlst_shows_the_facts_chosen_by_opts_mlst_on_the_control_channel_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    let all = t.expect("MLST f", 250);
    assert!(all.starts_with("250-Listing \"/f\":\r\n modify="), "{all}");
    assert!(
        all.contains(";perm=r"),
        "a file's perm fact starts at r: {all}"
    );
    assert!(all.contains(";size=10;type=file;unique="), "{all}");
    assert!(all.ends_with("; /f\r\n250 End MLST.\r\n"), "{all}");
    t.says("OPTS MLST type;size;", "200 MLST OPTS type;size;");
    assert_eq!(
        t.send("MLST f"),
        "250-Listing \"/f\":\r\n size=10;type=file; /f\r\n250 End MLST.\r\n"
    );
    t.says("MLST nope", "550 No such file or directory.");
}

#[test]
fn help_of_a_command_is_its_syntax_214_per_rfc959() {
    let mut t = T::new();
    t.says(
        "HELP retr",
        "214 Syntax: RETR <SP> file-name (retrieve a file).",
    );
    t.says("HELP XYZZY", "501 Unrecognized command.");
    let all = t.expect("HELP", 214);
    assert!(
        all.starts_with("214-The following commands are recognized:\r\n"),
        "{all}"
    );
    assert!(all.contains(" ABOR   ALLO   APPE   CDUP"), "{all}");
    assert!(!all.contains("CHMOD"), "SITE commands have their own HELP");
}

#[test]
fn site_help_lists_the_site_commands_per_rfc959() {
    let mut t = T::new();
    assert_eq!(
        t.send("SITE HELP"),
        "214-The following SITE commands are recognized:\r\n CHMOD\r\n HELP\r\n\
         214 Help SITE command successful.\r\n"
    );
    t.says(
        "SITE HELP chmod",
        "214 Syntax: SITE CHMOD <SP> mode path (change file mode).",
    );
    t.says("SITE HELP FOO", "501 Unrecognized SITE command.");
}

#[test]
fn stat_with_a_path_lists_it_on_the_control_channel_213_per_rfc959() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    let status = t.expect("STAT f", 213);
    assert!(
        status.starts_with("213-Status of \"/f\":\r\n -rw"),
        "{status}"
    );
    assert!(status.ends_with(" f\r\n213 End of status.\r\n"), "{status}");
    t.says("STAT *.txt", "550 Globbing not supported.");
    assert!(t.effects().is_empty(), "no data connection is involved");
}

// ---- Events of the control connection ----

#[test]
fn an_idle_timeout_is_421_per_rfc959() {
    let mut t = T::new();
    t.s.idle_timeout();
    t.replied("421 Control connection timed out.");
}

#[test]
fn a_line_too_long_is_500_and_the_session_goes_on_per_rfc959() {
    let mut t = T::new();
    t.s.line_too_long();
    t.replied("500 Command too long.");
    t.login();
}

#[test]
fn a_panicking_command_loses_its_effects_and_answers_421_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.send("PASV");
    t.s.command_panicked(b"PASV");
    t.replied("421 Internal error; closing control connection.");
    assert!(
        t.effects().is_empty(),
        "no half-done command is carried out"
    );
}

#[test]
fn a_data_connection_failing_before_any_transfer_is_not_answered_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    // A protected data connection dropped before its TLS handshake: no
    // command awaits a reply, so none is sent (it would put every later
    // reply one behind its command).
    t.s.on_data_gone("SSL handshake failed on the data channel: EOF.");
    assert_eq!(t.output(), "");
    t.says("NOOP", "200 I successfully did nothing.");
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn a_transfer_whose_data_connection_fails_its_handshake_gets_522_per_rfc4217() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let _job_on_its_way = t.job();
    t.s.on_data_gone(
        "Data connection refused: it must resume the control connection's TLS session.",
    );
    t.replied("522 Data connection refused: it must resume the control connection's TLS session.");
    t.says("RETR f", NO_CONNECTION);
}

// ---- Bugs these transcripts found, fixed: each test states the correct behaviour ----

#[test]
fn a_pasv_during_a_transfer_ends_it_without_abors_replies_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    assert_eq!(t.send("PASV"), "");
    assert_eq!(t.effects(), ["DropTransfer", "OpenPassive(Pasv)"]);
    // What control.rs does with these effects, in order.
    let mut replies = t.finish(job, OutcomeKind::Aborted, Ended::Replaced);
    t.s.on_passive_open(addr(LISTENER), Passive::Pasv);
    replies += &t.output();
    assert!(replies.starts_with("426 "), "RETR's final reply: {replies}");
    assert!(!replies.contains("226 ABOR"), "no ABOR was sent: {replies}");
    assert!(replies.ends_with("\r\n227 Entering passive mode (127,0,0,1,195,81).\r\n"));
    assert_eq!(
        replies.lines().count(),
        2,
        "one reply per command: {replies}"
    );
}

#[test]
fn rnto_after_a_failed_rnfr_is_503_and_renames_nothing_per_rfc959() {
    let mut t = T::new();
    t.put("a", "x");
    t.login();
    t.expect("RNFR a", 350);
    t.expect("RNFR nope", 550);
    t.says("RNTO b", "503 Bad sequence of commands: use RNFR first.");
    assert!(t.path("a").exists() && !t.path("b").exists());
}

#[test]
fn abor_of_a_queued_transfer_is_426_then_226_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    assert_eq!(
        t.send("ABOR"),
        "426 Transfer aborted via ABOR.\r\n226 ABOR command successful.\r\n"
    );
    assert_eq!(t.effects(), ["CloseData"]);
}

#[test]
fn a_second_transfer_before_the_connection_is_up_is_425_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    t.says("STOR g", "425 A transfer is already in progress.");
    assert!(!t.path("g").exists(), "the refused STOR created nothing");
    t.s.on_data_connected(Opened::Passive);
    assert_eq!(t.job().path, t.path("f"), "the first transfer runs");
}
