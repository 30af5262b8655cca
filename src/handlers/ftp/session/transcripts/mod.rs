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
            auth.add_user_with_perm(name, password, home.path(), perms)
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

mod commands;
mod data;
mod hosts;
mod login;
mod wire;
