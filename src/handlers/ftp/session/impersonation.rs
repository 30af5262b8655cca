//! Commands of a logged-in user run as that user (pyftpdlib's
//! `impersonate_user` / `terminate_impersonation` around every command).

use std::rc::Rc;

use crate::handlers::ftp::FtpHandler;

/// A command running as the logged-in user: the server's identity comes
/// back when it ends, on every path. A command that panics unwinds through
/// the guard, which restores the identity before anything else runs on the
/// loop thread; if even that fails, the process aborts rather than go on
/// serving other sessions with this user's rights.
pub(super) struct Impersonation {
    cfg: Rc<FtpHandler>,
    /// The user impersonated (a command may change the session's name).
    user: String,
    ended: bool,
}

impl Impersonation {
    pub(super) fn begin(
        cfg: &Rc<FtpHandler>,
        user: &str,
        password: &str,
    ) -> std::io::Result<Impersonation> {
        cfg.authorizer.impersonate_user(user, password)?;
        Ok(Impersonation {
            cfg: Rc::clone(cfg),
            user: user.to_owned(),
            ended: false,
        })
    }

    /// Take back the server's identity after a command that returned.
    pub(super) fn end(mut self) -> std::io::Result<()> {
        self.ended = true;
        self.cfg.authorizer.terminate_impersonation(&self.user)
    }
}

impl Drop for Impersonation {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        if let Err(e) = self.cfg.authorizer.terminate_impersonation(&self.user) {
            log::error!(target: crate::log::LOGERROR, "cannot restore the server's identity after a panic: {e}; aborting");
            std::process::abort();
        }
    }
}
