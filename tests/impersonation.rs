//! Impersonation around every command of a logged-in user is undone on every
//! path, a panicking command included (issue 12): a thread left with a
//! user's identity would serve the next sessions with that user's rights.

mod common;

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{code_of, Client, PASSWD, USER};
use ftpdlib::{Authorizer, Command, DummyAuthorizer, FtpHandler};

/// A `DummyAuthorizer` that counts how deep the thread is impersonated.
struct Counting {
    inner: DummyAuthorizer,
    depth: Arc<AtomicI32>,
}

impl Authorizer for Counting {
    delegate_authorizer_to_inner!();
    fn impersonate_user(&self, _: &str, _: &str) -> std::io::Result<()> {
        self.depth.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn terminate_impersonation(&self, _: &str) -> std::io::Result<()> {
        self.depth.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn a_panicking_command_gives_the_server_its_identity_back() {
    let depth = Arc::new(AtomicI32::new(0));
    let home = tempfile::tempdir().expect("home");
    let root = home.path().to_path_buf();
    let seen = Arc::clone(&depth);
    let (addr, stop, thread) = common::serve_thread(move || {
        let mut inner = DummyAuthorizer::new();
        inner
            .add_user_with_perm(USER, PASSWD, &root, "elradfmw")
            .expect("user");
        let mut h = FtpHandler::new(Counting { inner, depth: seen });
        h.auth_failed_timeout = Duration::from_millis(1);
        h.add_command(
            Command::new("SITE BOOM", "Syntax: SITE BOOM (panics).", |_| {
                panic!("a bug in a custom command")
            })
            .arg(ftpdlib::ArgRule::Forbidden),
        );
        h
    });
    let mut c = Client::connect(addr);
    c.login(USER, PASSWD);
    c.expect("PWD", 257);
    assert_eq!(
        depth.load(Ordering::SeqCst),
        0,
        "PWD ran impersonated, then restored"
    );
    let reply = c.cmd("SITE BOOM");
    assert_eq!(code_of(&reply), 421, "{reply}");
    assert_eq!(depth.load(Ordering::SeqCst), 0, "restored after the panic");
    // Another session of the same server is served normally.
    let mut other = Client::connect(addr);
    other.login(USER, PASSWD);
    other.expect("PWD", 257);
    assert_eq!(depth.load(Ordering::SeqCst), 0);
    stop.stop();
    thread.join().expect("server thread");
}
