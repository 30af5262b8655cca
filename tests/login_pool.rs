//! Slow login checks run on the worker pool: the loop goes on serving
//! everyone else meanwhile (issue 15), within limits of checks in flight.

mod common;

use std::io::{BufReader, ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{code_of, connect_from, Client, PASSWD, USER};
use ftpdlib::{Authorizer, DummyAuthorizer, FtpHandler, StopHandle, Validation};

/// A gate the test opens; slow checks wait for it (at most 30 s, so a
/// broken test ends instead of hanging) and count how many started.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>, Arc<AtomicUsize>);

impl Gate {
    /// Checks that started running on the pool.
    fn entered(&self) -> usize {
        self.1.load(Ordering::SeqCst)
    }

    /// Wait (bounded) until `n` checks have started.
    fn wait_entered(&self, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.entered() < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(self.entered(), n, "checks started on the pool");
    }

    fn open(&self) {
        *self.0 .0.lock().expect("gate") = true;
        self.0 .1.notify_all();
    }

    fn wait(&self) {
        self.1.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut open = self.0 .0.lock().expect("gate");
        while !*open && Instant::now() < deadline {
            open = self
                .0
                 .1
                .wait_timeout(open, Duration::from_millis(100))
                .expect("gate")
                .0;
        }
    }
}

/// The test users of a `DummyAuthorizer`, plus "slow" (any password),
/// whose check waits for the gate on the worker pool, as an LDAP call would.
struct GatedAuthorizer {
    inner: DummyAuthorizer,
    gate: Gate,
}

impl Authorizer for GatedAuthorizer {
    delegate_authorizer_to_inner!();
    fn begin_validation(&self, user: &str, pass: &str) -> Validation {
        if user != "slow" {
            return self.inner.begin_validation(user, pass);
        }
        let gate = self.gate.clone();
        Validation::Slow(Box::new(move || {
            gate.wait();
            Ok(())
        }))
    }
}

/// A server in a thread; stopped and joined on drop.
struct Server {
    addr: SocketAddr,
    _home: tempfile::TempDir,
    stop: StopHandle,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serve `home` with users user/12345 and slow, handler settings adjusted
/// by `configure`.
fn serve(
    gate: Gate,
    prepare: impl FnOnce(&mut DummyAuthorizer, &Path) + Send + 'static,
    configure: impl FnOnce(&mut FtpHandler) + Send + 'static,
) -> Server {
    let home = tempfile::tempdir().expect("home");
    let root = home.path().to_path_buf();
    let (addr, stop, thread) = common::serve_thread(move || {
        let mut inner = DummyAuthorizer::new();
        inner
            .add_user_with_perm(USER, PASSWD, &root, "elradfmw")
            .expect("user");
        inner
            .add_user_with_perm("slow", "unused", &root, "elr")
            .expect("slow");
        prepare(&mut inner, &root);
        let mut h = FtpHandler::new(GatedAuthorizer { inner, gate });
        h.auth_failed_timeout = Duration::from_millis(1);
        configure(&mut h);
        h
    });
    Server {
        addr,
        _home: home,
        stop,
        thread: Some(thread),
    }
}

/// A client whose control connection comes from `src` (127.0.0.0/8).
fn client_from(src: Ipv4Addr, addr: SocketAddr) -> Client {
    let sock = connect_from(src, addr).expect("connect");
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut c = Client {
        reader: BufReader::new(sock),
        greeting: String::new(),
    };
    c.greeting = c.read_reply();
    c
}

/// Send USER slow + PASS without reading PASS's reply.
fn start_slow_login(c: &mut Client) {
    c.expect("USER slow", 331);
    c.send_raw(b"PASS whatever\r\n");
}

/// Whether a reply is waiting on `c` within `wait` (used only where no
/// reply can legitimately exist yet: the gate is closed).
fn has_reply_within(c: &mut Client, wait: Duration) -> bool {
    let sock = c.reader.get_ref();
    sock.set_read_timeout(Some(wait)).expect("timeout");
    let mut byte = [0u8; 1];
    let got = match sock.peek(&mut byte) {
        Ok(n) => n > 0,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(e) => panic!("peek: {e}"),
    };
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    got
}

#[test]
fn a_login_check_waiting_on_the_pool_does_not_hold_other_clients() {
    let gate = Gate::default();
    let srv = serve(
        gate.clone(),
        |_, root| {
            std::fs::write(root.join("f.bin"), vec![7u8; 256 * 1024]).expect("file");
        },
        |_| {},
    );
    let mut slow = Client::connect(srv.addr);
    start_slow_login(&mut slow);
    // With the check held on the pool, another client logs in, lists and
    // downloads: none of it waits for the slow login.
    let mut other = Client::connect(srv.addr);
    other.login(USER, PASSWD);
    other.expect("NOOP", 200);
    let (data, done) = other.retrieve("RETR f.bin");
    assert_eq!(data, vec![7u8; 256 * 1024]);
    assert_eq!(code_of(&done), 226, "{done}");
    assert!(
        !has_reply_within(&mut slow, Duration::from_millis(200)),
        "answered before the check ended"
    );
    gate.open();
    let reply = slow.read_reply();
    assert_eq!(code_of(&reply), 230, "{reply}");
    slow.expect("PWD", 257);
}

#[test]
fn a_session_reads_no_command_while_its_login_is_checked() {
    let gate = Gate::default();
    let srv = serve(gate.clone(), |_, _| {}, |_| {});
    let mut c = Client::connect(srv.addr);
    c.expect("USER slow", 331);
    // PASS and a pipelined PWD: PWD must be run after the login, as the user.
    c.send_raw(b"PASS whatever\r\nPWD\r\n");
    assert!(!has_reply_within(&mut c, Duration::from_millis(200)));
    gate.open();
    assert_eq!(code_of(&c.read_reply()), 230);
    let pwd = c.read_reply();
    assert!(pwd.starts_with("257 \"/\""), "{pwd}");
}

#[test]
fn checks_beyond_the_per_address_limit_wait_while_other_addresses_go_on() {
    let gate = Gate::default();
    let srv = serve(gate.clone(), |_, _| {}, |h| h.auth_max_in_flight_per_ip = 1);
    let a = Ipv4Addr::new(127, 0, 0, 1);
    let b = Ipv4Addr::new(127, 0, 0, 2);
    let mut first = client_from(a, srv.addr);
    start_slow_login(&mut first);
    gate.wait_entered(1);
    // Same address, one check already on the pool: this one waits its turn.
    let mut second = client_from(a, srv.addr);
    start_slow_login(&mut second);
    // Another address still has its share of the pool.
    let mut third = client_from(b, srv.addr);
    start_slow_login(&mut third);
    gate.wait_entered(2);
    // The second cannot have started: the first holds its address's only
    // slot until the gate opens.
    assert!(!has_reply_within(&mut second, Duration::from_millis(100)));
    assert_eq!(gate.entered(), 2);
    gate.open();
    for c in [&mut first, &mut second, &mut third] {
        let reply = c.read_reply();
        assert_eq!(code_of(&reply), 230, "{reply}");
    }
    assert_eq!(gate.entered(), 3);
}

#[test]
fn checks_beyond_the_total_limit_wait_from_any_address() {
    let gate = Gate::default();
    let srv = serve(gate.clone(), |_, _| {}, |h| h.auth_max_in_flight = 1);
    let mut first = client_from(Ipv4Addr::new(127, 0, 0, 1), srv.addr);
    start_slow_login(&mut first);
    gate.wait_entered(1);
    let mut other = client_from(Ipv4Addr::new(127, 0, 0, 3), srv.addr);
    start_slow_login(&mut other);
    assert!(!has_reply_within(&mut other, Duration::from_millis(100)));
    assert_eq!(gate.entered(), 1, "started beyond the total limit");
    // Plain-text logins never wait for the pool.
    let mut plain = Client::connect(srv.addr);
    plain.login(USER, PASSWD);
    gate.open();
    assert_eq!(code_of(&first.read_reply()), 230);
    assert_eq!(code_of(&other.read_reply()), 230);
}

#[test]
fn a_closed_client_frees_its_slot_when_its_check_ends() {
    let gate = Gate::default();
    let srv = serve(gate.clone(), |_, _| {}, |h| h.auth_max_in_flight = 1);
    let mut gone = Client::connect(srv.addr);
    start_slow_login(&mut gone);
    gate.wait_entered(1);
    // A plain close (FIN) may be a half-close with replies still wanted:
    // the session lives until its check ends, then notices the end.
    drop(gone);
    let mut next = Client::connect(srv.addr);
    start_slow_login(&mut next);
    gate.open();
    assert_eq!(code_of(&next.read_reply()), 230);
    assert_eq!(gate.entered(), 2);
}

#[test]
fn a_client_reset_during_its_check_frees_its_slot_at_once() {
    let gate = Gate::default();
    let srv = serve(gate.clone(), |_, _| {}, |h| h.auth_max_in_flight = 1);
    let mut gone = Client::connect(srv.addr);
    start_slow_login(&mut gone);
    gate.wait_entered(1);
    common::reset_client(gone);
    // The gate is still closed: only the reset session's freed slot lets
    // the next check start.
    let mut next = Client::connect(srv.addr);
    start_slow_login(&mut next);
    gate.wait_entered(2);
    gate.open();
    assert_eq!(code_of(&next.read_reply()), 230);
}

#[test]
fn a_client_reset_while_its_check_waits_never_runs_it() {
    let gate = Gate::default();
    let srv = serve(gate.clone(), |_, _| {}, |h| h.auth_max_in_flight = 1);
    let mut first = Client::connect(srv.addr);
    start_slow_login(&mut first);
    gate.wait_entered(1);
    let mut waiting = Client::connect(srv.addr);
    start_slow_login(&mut waiting);
    // Let the server see the second PASS before the client goes.
    let mut plain = Client::connect(srv.addr);
    plain.login(USER, PASSWD);
    common::reset_client(waiting);
    plain.expect("NOOP", 200);
    gate.open();
    assert_eq!(code_of(&first.read_reply()), 230);
    let mut last = Client::connect(srv.addr);
    last.expect("USER slow", 331);
    last.expect("PASS whatever", 230);
    // first and last ran; the vanished one's check was dropped unrun.
    assert_eq!(gate.entered(), 2);
}

#[test]
fn hashed_passwords_log_in_through_the_pool_and_inline() {
    for workers in [0, 2] {
        let srv = serve(
            Gate::default(),
            |a, root| {
                let hash = ftpdlib::hash_password("s3cret").expect("hash");
                a.add_user_with_perm("hashed", &hash, root, "elr")
                    .expect("hashed");
            },
            move |h| h.auth_workers = workers,
        );
        let mut c = Client::connect(srv.addr);
        c.expect("USER hashed", 331);
        c.expect("PASS wrong", 530);
        c.expect("USER hashed", 331);
        c.expect("PASS s3cret", 230);
    }
}

#[test]
fn a_brute_force_client_leaves_others_downloading_and_logging_in() {
    const FILE: usize = 8 << 20;
    let srv = serve(
        Gate::default(),
        |a, root| {
            let hash = ftpdlib::hash_password("s3cret").expect("hash");
            a.add_user_with_perm("hashed", &hash, root, "elr")
                .expect("hashed");
            std::fs::write(root.join("big.bin"), vec![1u8; FILE]).expect("file");
        },
        |h| h.max_login_attempts = 0,
    );
    let addr = srv.addr;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Two attackers send wrong passwords for "hashed" as fast as they are
    // answered; bounded in count and time.
    let attackers: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let deadline = Instant::now() + Duration::from_secs(30);
                let mut refused = 0u32;
                while refused < 2000
                    && Instant::now() < deadline
                    && !stop.load(std::sync::atomic::Ordering::SeqCst)
                {
                    c.expect("USER hashed", 331);
                    c.expect("PASS guess", 530);
                    refused += 1;
                }
                refused
            })
        })
        .collect();
    let mut victim = Client::connect(addr);
    victim.login(USER, PASSWD);
    for _ in 0..3 {
        let (data, done) = victim.retrieve("RETR big.bin");
        assert_eq!(data.len(), FILE);
        assert!(data.iter().all(|&b| b == 1));
        assert_eq!(code_of(&done), 226, "{done}");
    }
    let mut hashed = Client::connect(addr);
    hashed.expect("USER hashed", 331);
    hashed.expect("PASS s3cret", 230);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for a in attackers {
        let refused = a.join().expect("attacker");
        assert!(refused > 0, "the attacker was never answered");
    }
    let mut buf = [0u8; 1];
    victim.send_raw(b"QUIT\r\n");
    let quit = victim.read_reply();
    assert_eq!(code_of(&quit), 221);
    let _ = victim.reader.get_mut().read(&mut buf);
}
