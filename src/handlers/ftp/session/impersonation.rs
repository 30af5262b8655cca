//! Commands of a logged-in user run as that user (pyftpdlib's
//! `impersonate_user` / `terminate_impersonation` around every command).

use crate::handlers::ftp::sites::SiteAuthorizer;

/// A command running as the logged-in user: the server's identity comes
/// back when it ends, on every path. A command that panics unwinds through
/// the guard, which restores the identity before anything else runs on the
/// loop thread; if even that fails, the process aborts rather than go on
/// serving other sessions with this user's rights.
pub(crate) struct Impersonation {
    auth: SiteAuthorizer,
    /// The user impersonated (a command may change the session's name),
    /// in a buffer the session lends for the command and gets back from
    /// [`end`](Self::end): no allocation per command.
    user: String,
    ended: bool,
}

impl Impersonation {
    /// Impersonate `user`, copied into `buffer`.
    pub(crate) fn begin(
        auth: SiteAuthorizer,
        user: &str,
        password: &str,
        mut buffer: String,
    ) -> Result<Impersonation, (std::io::Error, String)> {
        if let Err(e) = auth.impersonate_user(user, password) {
            return Err((e, buffer));
        }
        buffer.clear();
        buffer.push_str(user);
        Ok(Impersonation {
            auth,
            user: buffer,
            ended: false,
        })
    }

    /// Take back the server's identity after a command that returned; the
    /// buffer comes back with the outcome.
    pub(crate) fn end(mut self) -> (std::io::Result<()>, String) {
        self.ended = true;
        let outcome = self.auth.terminate_impersonation(&self.user);
        (outcome, std::mem::take(&mut self.user))
    }
}

impl Drop for Impersonation {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        if let Err(e) = self.auth.terminate_impersonation(&self.user) {
            log::error!(target: crate::log::LOGERROR, "cannot restore the server's identity after a panic: {e}; aborting");
            std::process::abort();
        }
    }
}
