//! Event callbacks (pyftpdlib's `on_*` methods of `FTPHandler`).
//!
//! pyftpdlib users subclass `FTPHandler` and override `on_login`,
//! `on_file_received`... ftpdlib users implement [`Hooks`] and set
//! [`FtpHandler::hooks`](super::FtpHandler::hooks). Every method has an
//! empty default, so an implementation overrides only what it needs. The
//! hooks run inside the event loop, like pyftpdlib's: they must not block.
//! A hook that panics is logged on the error stream and the server goes on.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use crate::log::LOGERROR;

/// The session a hook is called for (what pyftpdlib's `self` offers).
#[derive(Debug, Clone, Copy)]
pub struct SessionInfo<'a> {
    /// The client's address (pyftpdlib `remote_ip`, `remote_port`).
    pub remote: SocketAddr,
    /// The server address the client connected to.
    pub local: SocketAddr,
    /// The user name given with USER (pyftpdlib `username`).
    pub username: &'a str,
    /// Whether the user is logged in (pyftpdlib `authenticated`).
    pub authenticated: bool,
    /// Where [`reply`](Self::reply) and [`close`](Self::close) go; `None`
    /// where the session can no longer answer.
    pub(crate) actions: Option<&'a RefCell<Vec<HookAction>>>,
}

/// What a hook asked the session to do.
#[derive(Debug)]
pub(crate) enum HookAction {
    Reply(u16, String),
    Close,
}

impl SessionInfo<'_> {
    /// Send a reply from a hook (pyftpdlib `self.respond("...")` inside an
    /// `on_*` method); it goes out after the replies of the event that
    /// called the hook. Ignored where the session can no longer answer
    /// (`on_disconnect`, the file-system factory).
    #[doc(alias = "respond")]
    pub fn reply(&self, code: u16, text: &str) {
        if let Some(a) = self.actions {
            a.borrow_mut()
                .push(HookAction::Reply(code, text.to_owned()));
        }
    }

    /// Close the control connection once the replies are sent (pyftpdlib
    /// `self.close_when_done()` inside an `on_*` method).
    #[doc(alias = "close_when_done")]
    pub fn close(&self) {
        if let Some(a) = self.actions {
            a.borrow_mut().push(HookAction::Close);
        }
    }
}

/// pyftpdlib's event callbacks. `file` arguments are absolute real paths.
///
/// (A method added here must also be forwarded by the stand-in of
/// `handlers/ftp/live.rs`, used by a reconfigured server's new handler
/// generation.)
#[doc(alias = "on_file_received")]
pub trait Hooks {
    /// Every command line, before the command table is consulted
    /// (pyftpdlib `pre_process_command(line, cmd, arg)`): `ctx.command()`
    /// is the upper-cased name (`SITE X` for SITE commands), `ctx.arg()`
    /// the argument. Return false to refuse the command; the hook then
    /// sends the reply itself (`ctx.respond("550 ...")`), or nothing.
    /// Default: true, run it.
    fn pre_process_command(&self, _ctx: &mut super::CommandContext<'_>) -> bool {
        true
    }
    /// A client connected; called before the 220 greeting.
    fn on_connect(&self, _session: &SessionInfo<'_>) {}
    /// The control connection closed.
    fn on_disconnect(&self, _session: &SessionInfo<'_>) {}
    /// A user logged in (after the 230 reply).
    fn on_login(&self, _session: &SessionInfo<'_>, _username: &str) {}
    /// A login failed (after the failed-login delay and the 530 reply).
    fn on_login_failed(&self, _session: &SessionInfo<'_>, _username: &str, _password: &str) {}
    /// A user logged out with QUIT, REIN or a new USER (not on a plain
    /// disconnect).
    fn on_logout(&self, _session: &SessionInfo<'_>, _username: &str) {}
    /// A RETR completed.
    fn on_file_sent(&self, _session: &SessionInfo<'_>, _file: &Path) {}
    /// A STOR, APPE or STOU completed.
    fn on_file_received(&self, _session: &SessionInfo<'_>, _file: &Path) {}
    /// A RETR ended early (ABOR, client gone, timeout, error).
    fn on_incomplete_file_sent(&self, _session: &SessionInfo<'_>, _file: &Path) {}
    /// An upload ended early (ABOR, client gone, timeout, error).
    fn on_incomplete_file_received(&self, _session: &SessionInfo<'_>, _file: &Path) {}
}

/// The default: no callbacks.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl Hooks for NoHooks {}

/// Run a hook, containing a panic: it is logged with the session and the
/// hook's name, and the server goes on.
pub(crate) fn call(name: &str, prefix: &str, f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        log::error!(target: LOGERROR, "{prefix} hook {name} panicked; the session goes on");
    }
}
