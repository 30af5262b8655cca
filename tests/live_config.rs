//! Live configuration of a running server over real sockets: users added
//! and removed through a shared `DummyAuthorizer`, through a
//! `ServerHandle` from another thread and from a scheduled call inside the
//! loop; a banner and permissions changed; a logged-in session of a removed
//! user ending with 421 at its next command; bans across sessions.

mod common;

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use common::{code_of, connect_from, Client, PATIENCE};
use ftpdlib::{
    Authorizer, DummyAuthorizer, FtpHandler, FtpServer, Hooks, ServerHandle, SessionInfo,
    StopHandle, VirtualHost,
};

/// A server in a thread, with a clone of its authorizer and a handle.
struct Live {
    addr: SocketAddr,
    users: DummyAuthorizer,
    handle: ServerHandle,
    stop: StopHandle,
    home: tempfile::TempDir,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Live {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Live {
    fn start(
        setup: impl FnOnce(&mut FtpHandler, &mut FtpServer, &DummyAuthorizer) + Send + 'static,
    ) -> Live {
        let home = tempfile::tempdir().expect("home");
        let root: PathBuf = home.path().to_path_buf();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut auth = DummyAuthorizer::new();
            auth.add_user_with_perm("alice", "pw-a", &root, "elr")
                .expect("alice");
            let users = auth.clone();
            let mut h = FtpHandler::new(auth);
            h.auth_failed_timeout = Duration::from_millis(1);
            let mut server = FtpServer::bind(("127.0.0.1", 0), h).expect("bind");
            server.handle_exit = false;
            let mut h2 = FtpHandler::default();
            setup(&mut h2, &mut server, &users);
            let handle = server.handle();
            tx.send((server.address(), users, handle, server.stop_handle()))
                .expect("send");
            server.serve_forever().expect("serve");
        });
        let (addr, users, handle, stop) = rx.recv().expect("started");
        Live {
            addr,
            users,
            handle,
            stop,
            home,
            thread: Some(thread),
        }
    }

    /// Run `change` through the handle and wait until the loop ran it.
    fn configure(&self, change: impl FnOnce(&mut FtpServer) + Send + 'static) {
        let (tx, rx) = mpsc::channel();
        self.handle
            .configure(move |s| {
                change(s);
                let _ = tx.send(());
            })
            .expect("server alive");
        rx.recv_timeout(PATIENCE).expect("change applied");
    }
}

/// The connection's end: EOF (or a reset) once the server closed it.
fn closed(c: &mut Client) -> bool {
    let mut rest = Vec::new();
    match c.reader.read_to_end(&mut rest) {
        Ok(_) => true,
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    }
}

#[test]
fn user_added_from_another_thread_logs_in_and_removed_users_session_ends_with_421() {
    let srv = Live::start(|_, _, _| {});
    let mut alice = Client::connect(srv.addr);
    alice.login("alice", "pw-a");
    alice.expect("PWD", 257);

    // pyftpdlib: server.handler.authorizer.add_user(...) while serving.
    let mut users = srv.users.clone();
    let root = srv.home.path().to_path_buf();
    std::thread::spawn(move || users.add_user_with_perm("bob", "pw-b", &root, "elr"))
        .join()
        .expect("thread")
        .expect("add bob");
    let mut bob = Client::connect(srv.addr);
    bob.login("bob", "pw-b");

    srv.users
        .clone()
        .remove_user("alice")
        .expect("remove alice");
    // Alice's next command: 421, then the server closes the connection.
    let reply = alice.cmd("PWD");
    assert_eq!(code_of(&reply), 421, "{reply}");
    assert!(reply.contains("no longer exists"), "{reply}");
    assert!(closed(&mut alice));
    // A new login as alice is refused; bob goes on.
    let mut again = Client::connect(srv.addr);
    again.expect("USER alice", 331);
    again.expect("PASS pw-a", 530);
    bob.expect("PWD", 257);
}

#[test]
fn banner_and_limits_changed_through_the_handle_apply_to_the_next_connection() {
    let srv = Live::start(|_, _, _| {});
    let before = Client::connect(srv.addr);
    assert!(!before.greeting.contains("Closed for lunch"));
    let mut alice = Client::connect(srv.addr);
    alice.login("alice", "pw-a");

    srv.configure(|s| {
        s.handler_mut().banner = "Closed for lunch, mostly.".into();
        s.handler_mut().max_login_attempts = 1;
        s.max_cons_per_ip = 4;
    });
    let mut next = Client::connect(srv.addr);
    assert!(
        next.greeting.starts_with("220 Closed for lunch"),
        "{}",
        next.greeting
    );
    // max_login_attempts 1: the first failure disconnects.
    next.expect("USER alice", 331);
    let reply = next.cmd("PASS wrong");
    assert!(
        reply.starts_with("530") && reply.contains("Disconnecting"),
        "{reply}"
    );
    // The session logged in before the change goes on, on the new settings.
    alice.expect("PWD", 257);
    // max_cons_per_ip 4: `before`, `alice` and two more; the fifth is refused.
    let _third = Client::connect(srv.addr);
    let _fourth = Client::connect(srv.addr);
    let fifth = Client::connect(srv.addr);
    assert!(fifth.greeting.starts_with("421"), "{}", fifth.greeting);
    drop(before);
}

#[test]
fn permissions_changed_while_logged_in_apply_to_the_next_command() {
    let srv = Live::start(|_, _, _| {});
    let mut alice = Client::connect(srv.addr);
    alice.login("alice", "pw-a");
    alice.expect("MKD made", 550);
    srv.users
        .clone()
        .set_perm("alice", "elrm")
        .expect("set_perm");
    alice.expect("MKD made", 257);
    assert!(srv.home.path().join("made").is_dir());
    srv.users
        .clone()
        .set_perm("alice", "elr")
        .expect("set_perm");
    alice.expect("MKD made2", 550);
}

#[test]
fn a_scheduled_call_inside_the_loop_adds_a_user_removes_another_and_changes_the_banner() {
    let srv = Live::start(|_, server, users| {
        let mut users = users.clone();
        // pyftpdlib: ioloop.call_later(...) with a callback that edits the
        // authorizer and the handler's banner.
        server.call_later(Duration::from_millis(300), move |s| {
            let home = users.get_home_dir("alice").expect("alice's home");
            users
                .add_user_with_perm("carol", "pw-c", home, "elr")
                .expect("add carol");
            users.remove_user("alice").expect("remove alice");
            s.handler_mut().banner = "Carol's server.".into();
        });
    });
    let mut alice = Client::connect(srv.addr);
    alice.login("alice", "pw-a");
    // The call runs 300 ms after start: wait for its effects, not a time.
    common::eventually("carol exists", || {
        srv.users.user_names().contains(&"carol".to_string())
    });
    let mut carol = Client::connect(srv.addr);
    assert!(
        carol.greeting.contains("Carol's server."),
        "{}",
        carol.greeting
    );
    carol.login("carol", "pw-c");
    assert_eq!(code_of(&alice.cmd("NOOP")), 421);
    assert!(closed(&mut alice));
}

/// Log in badly `n` times from `src` (the server disconnects after
/// `max_login_attempts`; reconnect as needed).
fn bad_logins(addr: SocketAddr, src: Ipv4Addr, n: usize) {
    let mut left = n;
    while left > 0 {
        let mut c = Client::from_stream(connect_from(src, addr).expect("connect"));
        assert!(c.greeting.starts_with("220"), "{}", c.greeting);
        for _ in 0..2.min(left) {
            c.expect("USER alice", 331);
            let reply = c.cmd("PASS nope");
            assert_eq!(code_of(&reply), 530, "{reply}");
            left -= 1;
        }
    }
}

#[test]
fn address_banned_after_n_failed_logins_gets_421_while_another_address_logs_in() {
    let srv = Live::start(|_, server, _| {
        server.handler_mut().ban_attempts = 3;
        server.handler_mut().max_login_attempts = 2;
    });
    let bad = Ipv4Addr::new(127, 0, 0, 10);
    let good = Ipv4Addr::new(127, 0, 0, 11);
    bad_logins(srv.addr, bad, 3);
    // A new connection from .10: 421 at once, then closed.
    let mut refused = Client::from_stream(connect_from(bad, srv.addr).expect("connect"));
    assert!(refused.greeting.starts_with("421"), "{}", refused.greeting);
    assert!(closed(&mut refused));
    // .11 logs in as alice normally (name bans are off by default).
    let mut ok = Client::from_stream(connect_from(good, srv.addr).expect("connect"));
    ok.login("alice", "pw-a");
}

#[test]
fn a_connection_open_before_the_ban_is_refused_at_its_next_pass() {
    let srv = Live::start(|_, server, _| server.handler_mut().ban_attempts = 2);
    let bad = Ipv4Addr::new(127, 0, 0, 12);
    let mut early = Client::from_stream(connect_from(bad, srv.addr).expect("connect"));
    bad_logins(srv.addr, bad, 2);
    early.expect("USER alice", 331);
    assert_eq!(code_of(&early.cmd("PASS pw-a")), 421);
    assert!(closed(&mut early));
}

#[test]
fn user_name_banned_after_n_failures_from_several_addresses_gets_530() {
    let srv = Live::start(|_, server, _| {
        server.handler_mut().ban_user_attempts = 2;
    });
    bad_logins(srv.addr, Ipv4Addr::new(127, 0, 0, 13), 1);
    bad_logins(srv.addr, Ipv4Addr::new(127, 0, 0, 14), 1);
    let mut c =
        Client::from_stream(connect_from(Ipv4Addr::new(127, 0, 0, 15), srv.addr).expect("connect"));
    c.expect("USER alice", 331);
    let reply = c.cmd("PASS pw-a");
    assert!(
        reply.starts_with("530") && reply.contains("Too many failed logins"),
        "{reply}"
    );
    // Another user from the same address is not concerned.
    let root = srv.home.path().to_path_buf();
    srv.users
        .clone()
        .add_user_with_perm("dave", "pw-d", root, "elr")
        .expect("dave");
    c.login("dave", "pw-d");
}

#[test]
fn authorizer_replaced_through_the_handle_serves_the_next_login_and_ends_sessions_of_users_it_lacks(
) {
    let srv = Live::start(|_, _, _| {});
    let mut alice = Client::connect(srv.addr);
    alice.login("alice", "pw-a");
    let root = srv.home.path().to_path_buf();
    srv.configure(move |s| {
        let mut other = DummyAuthorizer::new();
        other
            .add_user_with_perm("erin", "pw-e", &root, "elr")
            .expect("erin");
        s.handler_mut().authorizer = Box::new(other);
    });
    let mut erin = Client::connect(srv.addr);
    erin.login("erin", "pw-e");
    assert_eq!(code_of(&alice.cmd("PWD")), 421);
    assert!(closed(&mut alice));
    // A second change that leaves the authorizer alone keeps erin's.
    srv.configure(|s| s.handler_mut().banner = "Erin's.".into());
    let mut again = Client::connect(srv.addr);
    assert!(again.greeting.contains("Erin's."), "{}", again.greeting);
    again.login("erin", "pw-e");
    erin.expect("PWD", 257);
}

/// Counts logins.
struct CountLogins(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl Hooks for CountLogins {
    fn on_login(&self, _: &SessionInfo<'_>, _: &str) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn hooks_and_file_system_carry_over_to_a_new_generation() {
    let logins = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&logins);
    let srv = Live::start(move |_, server, _| {
        server.handler_mut().hooks = Box::new(CountLogins(counter));
    });
    std::fs::write(srv.home.path().join("seen.txt"), b"x").expect("file");
    Client::connect(srv.addr).login("alice", "pw-a");
    assert_eq!(logins.load(std::sync::atomic::Ordering::SeqCst), 1);
    srv.configure(|s| s.handler_mut().banner = "Generation two.".into());
    let mut c = Client::connect(srv.addr);
    assert!(c.greeting.contains("Generation two."), "{}", c.greeting);
    c.login("alice", "pw-a");
    // The hooks of the first generation still run, and its file system.
    assert_eq!(logins.load(std::sync::atomic::Ordering::SeqCst), 2);
    c.expect("TYPE I", 200);
    c.expect("SIZE seen.txt", 213);
}

#[test]
fn a_virtual_hosts_users_survive_a_reconfiguration_and_its_removed_user_is_disconnected() {
    let (tx, rx) = mpsc::channel();
    let srv = Live::start(move |_, server, _| {
        let mut site_users = DummyAuthorizer::new();
        let home = std::env::temp_dir();
        site_users
            .add_user_with_perm("sam", "pw-s", &home, "elr")
            .expect("sam");
        tx.send(site_users.clone()).expect("send");
        let mut site = VirtualHost::new(site_users);
        site.banner = Some("Site A.".into());
        server.handler_mut().add_site("a.example", site);
    });
    let mut site_users = rx.recv().expect("the site's users");
    srv.configure(|s| s.handler_mut().banner = "Main site.".into());
    let mut c = Client::connect(srv.addr);
    assert!(c.greeting.contains("Main site."), "{}", c.greeting);
    assert!(c.expect("HOST a.example", 220).contains("Site A."));
    c.login("sam", "pw-s");
    c.expect("PWD", 257);
    site_users.remove_user("sam").expect("remove sam");
    // sam is gone from the site's table: his next command is 421.
    assert_eq!(code_of(&c.cmd("NOOP")), 421);
    assert!(closed(&mut c));
}
