//! pyftpdlib's event callbacks through [`ftpdlib::Hooks`]: every hook fires
//! when pyftpdlib fires it (reference §2), with the session's details and
//! the absolute real path; the incomplete-transfer hooks fire on ABOR and on
//! a client that goes away mid-transfer; a panicking hook leaves the server
//! up.
//!
//! Hooks run in the server thread; the recorder shares its event list with
//! the test through an `Arc<Mutex<..>>`. Where a hook runs before the reply
//! that follows it is flushed (on_login after the 230 is queued, file hooks
//! after the 226...), the event is already recorded when the client reads
//! that reply; the other events are waited for.

mod common;
use common::*;

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ftpdlib::{FtpHandler, Hooks, SessionInfo};

/// One hook call.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Event {
    /// Hook name without `on_`.
    hook: &'static str,
    /// Client port (`SessionInfo::remote`).
    port: u16,
    /// `SessionInfo::username` and `authenticated` when called.
    user: String,
    authenticated: bool,
    /// The hook's own arguments (user name, password, path).
    args: Vec<String>,
}

type Events = Arc<Mutex<Vec<Event>>>;

struct Recorder {
    events: Events,
    server: SocketAddr,
    /// Panic in on_login after recording it.
    panic_on_login: bool,
}

impl Recorder {
    fn push(&self, hook: &'static str, s: &SessionInfo<'_>, args: &[&str]) {
        // Every hook sees the server address the client connected to.
        assert_eq!(s.local.ip(), self.server.ip());
        assert_eq!(s.local.port(), self.server.port());
        self.events.lock().unwrap().push(Event {
            hook,
            port: s.remote.port(),
            user: s.username.to_string(),
            authenticated: s.authenticated,
            args: args.iter().map(|a| a.to_string()).collect(),
        });
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}

impl Hooks for Recorder {
    fn on_connect(&self, s: &SessionInfo<'_>) {
        self.push("connect", s, &[]);
    }
    fn on_disconnect(&self, s: &SessionInfo<'_>) {
        self.push("disconnect", s, &[]);
    }
    fn on_login(&self, s: &SessionInfo<'_>, username: &str) {
        self.push("login", s, &[username]);
        if self.panic_on_login {
            panic!("on_login failure (expected by the test)");
        }
    }
    fn on_login_failed(&self, s: &SessionInfo<'_>, username: &str, password: &str) {
        self.push("login_failed", s, &[username, password]);
    }
    fn on_logout(&self, s: &SessionInfo<'_>, username: &str) {
        self.push("logout", s, &[username]);
    }
    fn on_file_sent(&self, s: &SessionInfo<'_>, file: &Path) {
        self.push("file_sent", s, &[&p(file)]);
    }
    fn on_file_received(&self, s: &SessionInfo<'_>, file: &Path) {
        self.push("file_received", s, &[&p(file)]);
    }
    fn on_incomplete_file_sent(&self, s: &SessionInfo<'_>, file: &Path) {
        self.push("incomplete_file_sent", s, &[&p(file)]);
    }
    fn on_incomplete_file_received(&self, s: &SessionInfo<'_>, file: &Path) {
        self.push("incomplete_file_received", s, &[&p(file)]);
    }
}

/// A server with a recorder; `configure` adjusts the handler further.
fn server_with(
    panic_on_login: bool,
    configure: impl FnOnce(&mut FtpHandler) + Send + 'static,
) -> (TestServer, Events) {
    let events: Events = Arc::default();
    let shared = Arc::clone(&events);
    // The server address is known only after bind: the recorder learns it
    // through this slot, filled before the first client connects.
    let addr_slot: Arc<Mutex<Option<SocketAddr>>> = Arc::default();
    let slot = Arc::clone(&addr_slot);
    let srv = TestServer::start_with(
        |_, _| {},
        move |h| {
            h.hooks = Box::new(LateRecorder {
                slot,
                events: shared,
                panic_on_login,
            });
            configure(h);
        },
    );
    *addr_slot.lock().unwrap() = Some(srv.addr);
    (srv, events)
}

/// A [`Recorder`] that reads the server address from a slot.
struct LateRecorder {
    slot: Arc<Mutex<Option<SocketAddr>>>,
    events: Events,
    panic_on_login: bool,
}

impl LateRecorder {
    fn rec(&self) -> Recorder {
        Recorder {
            events: Arc::clone(&self.events),
            server: self.slot.lock().unwrap().expect("server address"),
            panic_on_login: self.panic_on_login,
        }
    }
}

impl Hooks for LateRecorder {
    fn on_connect(&self, s: &SessionInfo<'_>) {
        self.rec().on_connect(s)
    }
    fn on_disconnect(&self, s: &SessionInfo<'_>) {
        self.rec().on_disconnect(s)
    }
    fn on_login(&self, s: &SessionInfo<'_>, u: &str) {
        self.rec().on_login(s, u)
    }
    fn on_login_failed(&self, s: &SessionInfo<'_>, u: &str, pw: &str) {
        self.rec().on_login_failed(s, u, pw)
    }
    fn on_logout(&self, s: &SessionInfo<'_>, u: &str) {
        self.rec().on_logout(s, u)
    }
    fn on_file_sent(&self, s: &SessionInfo<'_>, f: &Path) {
        self.rec().on_file_sent(s, f)
    }
    fn on_file_received(&self, s: &SessionInfo<'_>, f: &Path) {
        self.rec().on_file_received(s, f)
    }
    fn on_incomplete_file_sent(&self, s: &SessionInfo<'_>, f: &Path) {
        self.rec().on_incomplete_file_sent(s, f)
    }
    fn on_incomplete_file_received(&self, s: &SessionInfo<'_>, f: &Path) {
        self.rec().on_incomplete_file_received(s, f)
    }
}

/// The hooks called so far for client port `port`, as `(hook, args)`.
fn calls(events: &Events, port: u16) -> Vec<(&'static str, Vec<String>)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.port == port)
        .map(|e| (e.hook, e.args.clone()))
        .collect()
}

fn find(events: &Events, port: u16, hook: &str) -> Option<Event> {
    events
        .lock()
        .unwrap()
        .iter()
        .find(|e| e.port == port && e.hook == hook)
        .cloned()
}

/// Wait until `hook` was called for `port` (within milliseconds; PATIENCE
/// is the generous bound of every wait for the server).
fn wait_hook(events: &Events, port: u16, hook: &str) -> Event {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(e) = find(events, port, hook) {
            return e;
        }
        assert!(
            Instant::now() < deadline,
            "no {hook} for {port}: {:?}",
            calls(events, port)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn call(hook: &'static str, args: &[&str]) -> (&'static str, Vec<String>) {
    (hook, args.iter().map(|a| a.to_string()).collect())
}

fn rp(root: &Path, name: &str) -> String {
    p(&root.join(name))
}

/// A throttled server (transfers of a few MB last seconds) with a recorder.
fn throttled() -> (TestServer, Events) {
    server_with(false, |h| {
        h.dtp_handler.write_limit = 256 * 1024;
        h.dtp_handler.read_limit = 256 * 1024;
    })
}

// ---------------------------------------------------------------------------

#[test]
fn connect_login_failed_login_logout_disconnect() {
    let (srv, events) = server_with(false, |_| {});
    let mut c = srv.client();
    let port = local_port(&c);
    // on_connect: before the 220, so already there when the greeting is read.
    let e = find(&events, port, "connect").expect("on_connect before 220");
    assert_eq!((e.user.as_str(), e.authenticated), ("", false));

    c.expect("USER user", 331);
    c.expect("PASS bad-password", 530);
    // on_login_failed(username, password): called with the 530, before the
    // next command is read.
    let e = find(&events, port, "login_failed").expect("on_login_failed with the 530");
    assert_eq!(e.args, ["user", "bad-password"]);
    assert!(!e.authenticated);

    c.expect("USER user", 331);
    c.expect(&format!("PASS {PASSWD}"), 230);
    let e = find(&events, port, "login").expect("on_login with the 230");
    assert_eq!(e.args, ["user"]);
    // The session is logged in when on_login runs (fs created).
    assert_eq!((e.user.as_str(), e.authenticated), ("user", true));

    c.expect("QUIT", 221);
    let e = wait_hook(&events, port, "disconnect");
    assert!(!e.authenticated || e.user == "user");
    assert_eq!(
        calls(&events, port),
        [
            call("connect", &[]),
            call("login_failed", &["user", "bad-password"]),
            call("login", &["user"]),
            call("logout", &["user"]),
            call("disconnect", &[]),
        ]
    );
}

#[test]
fn logout_on_rein_and_on_a_new_user_but_not_on_disconnect() {
    let (srv, events) = server_with(false, |_| {});
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("REIN", 220);
    assert_eq!(find(&events, port, "logout").unwrap().args, ["user"]);
    c.login(USER, PASSWD);
    // USER while logged in flushes the account: on_logout for the old user.
    c.expect("USER anonymous", 331);
    c.expect("PASS guest@", 230);
    // A plain disconnect while logged in: no on_logout.
    drop(c);
    wait_hook(&events, port, "disconnect");
    assert_eq!(
        calls(&events, port),
        [
            call("connect", &[]),
            call("login", &["user"]),
            call("logout", &["user"]),
            call("login", &["user"]),
            call("logout", &["user"]),
            call("login", &["anonymous"]),
            call("disconnect", &[]),
        ]
    );
}

#[test]
fn quit_before_login_is_no_logout() {
    let (srv, events) = server_with(false, |_| {});
    let mut c = srv.client();
    let port = local_port(&c);
    c.expect("USER user", 331);
    c.expect("QUIT", 221);
    wait_hook(&events, port, "disconnect");
    assert_eq!(
        calls(&events, port),
        [call("connect", &[]), call("disconnect", &[])]
    );
}

#[test]
fn file_hooks_get_absolute_real_paths() {
    let (srv, events) = server_with(false, |_| {});
    std::fs::write(srv.root().join("a.txt"), b"hello\n").unwrap();
    std::fs::create_dir(srv.root().join("sub")).unwrap();
    let root = real_root(&srv);
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("TYPE I", 200);
    c.expect("CWD sub", 250);
    let (data, done) = c.retrieve("RETR /a.txt");
    assert_eq!((data.as_slice(), code_of(&done)), (&b"hello\n"[..], 226));
    assert_eq!(code_of(&c.store("STOR up.bin", b"12345")), 226);
    assert_eq!(code_of(&c.store("APPE up.bin", b"678")), 226);
    let mut dc = c.pasv();
    let prelim = c.cmd("STOU");
    let unique = prelim
        .trim_end()
        .strip_prefix("150 FILE: ")
        .or_else(|| prelim.trim_end().strip_prefix("125 FILE: "))
        .unwrap_or_else(|| panic!("{prelim:?}"))
        .to_string();
    dc.write_all(b"unique").unwrap();
    drop(dc);
    assert_eq!(code_of(&c.read_reply()), 226);
    // Listings are no file transfers.
    let (_, done) = c.retrieve("LIST");
    assert_eq!(code_of(&done), 226);
    let got = calls(&events, port);
    let stou_real = root.join("sub").join(&unique);
    assert_eq!(
        got,
        [
            call("connect", &[]),
            call("login", &["user"]),
            call("file_sent", &[&rp(&root, "a.txt")]),
            call("file_received", &[&rp(&root, "sub/up.bin")]),
            call("file_received", &[&rp(&root, "sub/up.bin")]),
            call("file_received", &[&p(&stou_real)]),
        ]
    );
    assert_eq!(std::fs::read(root.join("sub/up.bin")).unwrap(), b"12345678");
    assert_eq!(std::fs::read(&stou_real).unwrap(), b"unique");
    for e in events.lock().unwrap().iter().skip(2) {
        assert!(Path::new(&e.args[0]).is_absolute());
        assert_eq!((e.user.as_str(), e.authenticated), ("user", true));
    }
    c.expect("QUIT", 221);
}

#[test]
fn incomplete_file_sent_on_abor() {
    let (srv, events) = throttled();
    make_file(&srv, "big", 8 << 20);
    let root = real_root(&srv);
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("TYPE I", 200);
    let data = start_retr(&mut c, "big", 4096);
    assert_eq!(code_of(&c.cmd("ABOR")), 426);
    assert_eq!(code_of(&c.read_reply()), 226);
    drop(data);
    assert_eq!(
        calls(&events, port)[2..],
        [call("incomplete_file_sent", &[&rp(&root, "big")])]
    );
    // The session goes on: a complete RETR now reports on_file_sent.
    std::fs::write(srv.root().join("small"), b"abc").unwrap();
    let (d, done) = c.retrieve("RETR small");
    assert_eq!((d.as_slice(), code_of(&done)), (&b"abc"[..], 226));
    assert_eq!(
        calls(&events, port)[3..],
        [call("file_sent", &[&rp(&root, "small")])]
    );
}

#[test]
fn incomplete_file_sent_when_the_client_closes_the_data_connection() {
    let (srv, events) = throttled();
    make_file(&srv, "big", 8 << 20);
    let root = real_root(&srv);
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("TYPE I", 200);
    let data = start_retr(&mut c, "big", 4096);
    drop(data);
    let reply = c.read_reply();
    assert_eq!(code_of(&reply), 426, "{reply:?}");
    assert_eq!(
        calls(&events, port)[2..],
        [call("incomplete_file_sent", &[&rp(&root, "big")])]
    );
    c.expect("QUIT", 221);
}

#[test]
fn incomplete_file_sent_when_the_client_disconnects() {
    let (srv, events) = throttled();
    make_file(&srv, "big", 8 << 20);
    let root = real_root(&srv);
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("TYPE I", 200);
    let data = start_retr(&mut c, "big", 4096);
    drop(c);
    wait_hook(&events, port, "disconnect");
    drop(data);
    assert_eq!(
        calls(&events, port)[2..],
        [
            call("incomplete_file_sent", &[&rp(&root, "big")]),
            call("disconnect", &[]),
        ]
    );
}

#[test]
fn incomplete_file_received_on_abor() {
    let (srv, events) = throttled();
    let root = real_root(&srv);
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    let prelim = c.cmd("STOR up.bin");
    assert!(matches!(code_of(&prelim), 125 | 150), "{prelim:?}");
    data.write_all(&[1u8; 64 * 1024]).unwrap();
    // Let the server read some of it before the ABOR: wait until it wrote
    // some to the file (a fixed sleep let a slow server get the ABOR
    // before the transfer started, and a queued transfer gets a 225).
    let up = srv.root().join("up.bin");
    eventually("the server receiving the upload", || file_len(&up) > 0);
    assert_eq!(code_of(&c.cmd("ABOR")), 426);
    assert_eq!(code_of(&c.read_reply()), 226);
    drop(data);
    assert_eq!(
        calls(&events, port)[2..],
        [call("incomplete_file_received", &[&rp(&root, "up.bin")])]
    );
    c.expect("QUIT", 221);
}

#[test]
fn incomplete_file_received_when_the_client_disconnects_mid_stor() {
    let (srv, events) = throttled();
    let root = real_root(&srv);
    let mut c = srv.login();
    let port = local_port(&c);
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    let prelim = c.cmd("STOR up.bin");
    assert!(matches!(code_of(&prelim), 125 | 150), "{prelim:?}");
    data.write_all(&[2u8; 64 * 1024]).unwrap();
    // The transfer is running (the server wrote some of it) before the
    // client goes.
    let up = srv.root().join("up.bin");
    eventually("the server receiving the upload", || file_len(&up) > 0);
    // The control connection goes first (a data EOF alone would mean a
    // complete upload), then the data connection.
    drop(c);
    wait_hook(&events, port, "disconnect");
    drop(data);
    assert_eq!(
        calls(&events, port),
        [
            call("connect", &[]),
            call("login", &["user"]),
            call("incomplete_file_received", &[&rp(&root, "up.bin")]),
            call("disconnect", &[]),
        ]
    );
}

// ---------------------------------------------------------------------------
// Panicking hooks

struct PanicEverywhere;

impl Hooks for PanicEverywhere {
    fn on_connect(&self, _: &SessionInfo<'_>) {
        panic!("on_connect (expected)");
    }
    fn on_disconnect(&self, _: &SessionInfo<'_>) {
        panic!("on_disconnect (expected)");
    }
    fn on_login(&self, _: &SessionInfo<'_>, _: &str) {
        panic!("on_login (expected)");
    }
    fn on_login_failed(&self, _: &SessionInfo<'_>, _: &str, _: &str) {
        panic!("on_login_failed (expected)");
    }
    fn on_logout(&self, _: &SessionInfo<'_>, _: &str) {
        panic!("on_logout (expected)");
    }
    fn on_file_sent(&self, _: &SessionInfo<'_>, _: &Path) {
        panic!("on_file_sent (expected)");
    }
    fn on_file_received(&self, _: &SessionInfo<'_>, _: &Path) {
        panic!("on_file_received (expected)");
    }
    fn on_incomplete_file_sent(&self, _: &SessionInfo<'_>, _: &Path) {
        panic!("on_incomplete_file_sent (expected)");
    }
    fn on_incomplete_file_received(&self, _: &SessionInfo<'_>, _: &Path) {
        panic!("on_incomplete_file_received (expected)");
    }
}

#[test]
fn a_panicking_on_login_leaves_the_session_and_server_up() {
    let (srv, events) = server_with(true, |_| {});
    std::fs::write(srv.root().join("a.txt"), b"hello\n").unwrap();
    let root = real_root(&srv);
    let mut c = srv.client();
    let port = local_port(&c);
    c.expect("USER user", 331);
    let reply = c.expect(&format!("PASS {PASSWD}"), 230);
    assert!(reply.starts_with("230 "), "{reply:?}");
    // The session is logged in and goes on; later hooks still fire.
    c.expect("TYPE I", 200);
    let (data, _) = c.retrieve("RETR a.txt");
    assert_eq!(data, b"hello\n");
    c.expect("QUIT", 221);
    wait_hook(&events, port, "disconnect");
    assert_eq!(
        calls(&events, port),
        [
            call("connect", &[]),
            call("login", &["user"]),
            call("file_sent", &[&rp(&root, "a.txt")]),
            call("logout", &["user"]),
            call("disconnect", &[]),
        ]
    );
    // A fresh client connects and transfers.
    let mut c2 = srv.login();
    assert_eq!(code_of(&c2.store("STOR b.txt", b"xyz")), 226);
    c2.expect("QUIT", 221);
    assert_eq!(std::fs::read(srv.root().join("b.txt")).unwrap(), b"xyz");
}

#[test]
fn hooks_that_all_panic_leave_the_server_up() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.hooks = Box::new(PanicEverywhere);
            h.dtp_handler.write_limit = 256 * 1024;
        },
    );
    std::fs::write(srv.root().join("a.txt"), b"hello\n").unwrap();
    make_file(&srv, "big", 4 << 20);
    for round in 0..2 {
        let mut c = srv.client();
        assert!(c.greeting.starts_with("220 "), "{:?}", c.greeting);
        c.expect("USER user", 331);
        c.expect("PASS nope", 530);
        c.login(USER, PASSWD);
        c.expect("TYPE I", 200);
        let (data, done) = c.retrieve("RETR a.txt");
        assert_eq!((data.as_slice(), code_of(&done)), (&b"hello\n"[..], 226));
        assert_eq!(code_of(&c.store("STOR up.txt", b"abc")), 226);
        let d = start_retr(&mut c, "big", 1024);
        assert_eq!(code_of(&c.cmd("ABOR")), 426);
        assert_eq!(code_of(&c.read_reply()), 226);
        drop(d);
        c.expect("REIN", 220);
        c.login(USER, PASSWD);
        if round == 0 {
            c.expect("QUIT", 221);
        } else {
            drop(c);
        }
    }
    // Still serving.
    let mut c = srv.login();
    c.expect("NOOP", 200);
    c.expect("QUIT", 221);
}
