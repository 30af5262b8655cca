//! The session's side of live configuration and bans: moving to the newest
//! handler generation between commands, ending the session of a removed
//! user, and the ban checks and counts (`handlers/ftp/live.rs`,
//! `handlers/ftp/bans.rs`).

use std::net::IpAddr;
use std::rc::Rc;
use std::time::Instant;

use super::{Effect, Session};
use crate::handlers::ftp::bans::Policy;
use crate::log::LOG;
use crate::reply;

/// 421 to a connection from a banned address.
pub(crate) const BANNED_ADDRESS: &str =
    "Too many failed logins from your address; try again later.";
/// 530 to a login as a banned user name.
pub(crate) const BANNED_USER: &str = "Too many failed logins for this user; try again later.";
/// 421 to a logged-in session whose user was removed.
pub(crate) const USER_REMOVED: &str = "This account no longer exists; closing control connection.";

/// The generations a session last saw: the handler's and its authorizer's.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Seen {
    handler: u64,
    authorizer: u64,
}

impl Session {
    /// The generations seen now, for a new session.
    pub(super) fn seen_now(cfg: &crate::FtpHandler) -> Seen {
        Seen {
            handler: cfg.live.state.generation.get(),
            authorizer: cfg.authorizer.generation(),
        }
    }

    /// Before a command: move to the newest handler generation, and when
    /// the configuration moved, check that a logged-in user still exists.
    /// False when the session is ending (421 sent, close queued). Costs
    /// one `Cell` read and one atomic load when nothing changed.
    pub(super) fn refresh(&mut self) -> bool {
        let mut moved = false;
        let generation = self.cfg.live.state.generation.get();
        if generation != self.seen.handler {
            if let Some(latest) = self.cfg.live.state.latest() {
                self.cfg = latest;
            }
            self.seen.handler = generation;
            moved = true;
        }
        let users = self.authorizer().generation();
        if users != self.seen.authorizer {
            self.seen.authorizer = users;
            moved = true;
        }
        if !moved || !self.authenticated || self.authorizer().has_user(&self.username) {
            return true;
        }
        log::info!(target: LOG, "{} USER '{}' removed while logged in; session closed.",
            self.prefix, super::printable(&self.username));
        self.reply(reply::NOT_AVAILABLE, USER_REMOVED);
        super::cmd_login::logout(self);
        super::cmd_login::flush_account(self);
        self.effects.push(Effect::Close);
        false
    }

    /// The client address bans are counted for: the session's remote
    /// address, the one every log line names (with a PROXY header, the
    /// client's).
    fn ban_address(&self) -> IpAddr {
        self.remote.ip()
    }

    fn ban_policy(&self) -> Option<Policy> {
        let h = &self.cfg;
        (h.ban_attempts != 0 || h.ban_user_attempts != 0).then_some(Policy {
            attempts: h.ban_attempts,
            user_attempts: h.ban_user_attempts,
            window: h.ban_window,
            time: h.ban_time,
            table_size: h.ban_table_size,
        })
    }

    /// At connect: when the client's address is banned, 421 (logged at
    /// DEBUG only: a banned client hammering the port must not flood the
    /// log) and true.
    pub(crate) fn refuse_banned(&mut self) -> bool {
        let Some(policy) = self.ban_policy() else {
            return false;
        };
        let ip = self.ban_address();
        let left = self
            .cfg
            .live
            .state
            .bans
            .borrow_mut()
            .ip_ban(ip, Instant::now(), &policy);
        let Some(left) = left else {
            return false;
        };
        log::debug!(target: LOG, "ban: client {ip} refused, banned for {}s more", left.as_secs());
        self.reply(reply::NOT_AVAILABLE, BANNED_ADDRESS);
        true
    }

    /// At PASS: whether the address (then `Err(421 text)`) or the user
    /// name (then `Ok(Some(530 text))`) is banned.
    pub(super) fn login_ban(&mut self, user: &str) -> Result<Option<&'static str>, &'static str> {
        let Some(policy) = self.ban_policy() else {
            return Ok(None);
        };
        let ip = self.ban_address();
        let now = Instant::now();
        let state = Rc::clone(&self.cfg.live.state);
        let mut bans = state.bans.borrow_mut();
        if bans.ip_ban(ip, now, &policy).is_some() {
            return Err(BANNED_ADDRESS);
        }
        Ok(bans.user_ban(user, now, &policy).map(|_| BANNED_USER))
    }

    /// A login failed: count it for the address and the name; log a ban
    /// it starts (the fixed phrase fail2ban filters look for, see
    /// `docs/bans.md`).
    pub(super) fn count_failed_login(&mut self, user: &str) {
        let Some(policy) = self.ban_policy() else {
            return;
        };
        let ip = self.ban_address();
        let outcome =
            self.cfg
                .live
                .state
                .bans
                .borrow_mut()
                .failed(ip, user, Instant::now(), &policy);
        let (n, secs, name) = (
            policy.attempts,
            policy.time.as_secs(),
            super::printable(user),
        );
        let window = policy.window.as_secs();
        if outcome.ip_banned {
            log::warn!(target: LOG,
                "ban: client {ip} user '{name}' banned for {secs}s after {n} failed logins in {window}s");
        }
        if outcome.user_banned {
            log::warn!(target: LOG,
                "ban: user '{name}' banned for {secs}s after {n} failed logins in {window}s (last client {ip})");
        }
    }
}
