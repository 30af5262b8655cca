//! DELE, RNTO over a big file and STOR over a big file on the worker pool
//! (issue 15): freeing the blocks and cached pages of a file of hundreds of
//! MiB takes `unlink(2)`, `rename(2)` or the truncating `open(2)` tens of
//! milliseconds, during which a loop that made the
//! call inline would serve nobody else. nginx's thread pools for blocking
//! file operations answer the same way.
//!
//! The session's checks (login, confinement, permissions) and the quota
//! stat stay in the loop, as before; the file system prepares the call
//! ([`Filesystem::remove_off_loop`](crate::Filesystem::remove_off_loop)),
//! the control channel hands it to the pool and reads no further command
//! until it is back (like a login check); then the reply, the quota
//! release and the command's log line are those of the inline call. A
//! session whose control connection closed meanwhile leaves its quota
//! release and log line to the loop ([`Session::off_loop_orphaned`]); the
//! call itself completes either way. STOR (normal upload mode, no REST)
//! over a big file has the pool truncate it first, then opens it as
//! always (empty by then) and goes on: the 150, the transfer, the quota
//! and REST/APPE and the atomic modes are untouched.
//!
//! It stays in the loop when the pool has no thread (size 0), for a store
//! that does not offer the call (a [`Subclass`](crate::Subclass), whose
//! own `remove` must decide), for files under [`MIN_BYTES`], and for a
//! session whose commands run under another identity (a system user
//! impersonated per thread: the pool's threads do not have it).

use std::io;
use std::path::PathBuf;

use super::{cmd_fs, cmd_transfer, quota, Effect, Session};
use crate::filesystems::OffLoopTask;
use crate::handlers::ftp::producers::TransferKind;
use crate::reply::{self, Code};

/// Files smaller than this are removed in the loop: freeing them takes
/// microseconds, less than the trip to the pool and back.
pub(crate) const MIN_BYTES: u64 = 1 << 20;

/// A call on the pool and what follows it.
pub(crate) enum Pending {
    /// DELE / RNTO: the reply, quota release and log line.
    Reply(Reply),
    /// STOR's truncation: then the upload goes on.
    Upload(Upload),
}

/// STOR after its target was truncated on the pool.
pub(crate) struct Upload {
    /// STOR.
    pub transfer: TransferKind,
    /// The target.
    pub path: PathBuf,
    /// Its size before, which the upload frees (quota).
    pub before: Option<u64>,
}

/// A call on the pool: what its reply, quota release and log line need.
pub(crate) struct Reply {
    /// The command, for the log line.
    pub cmd: &'static str,
    /// The path the command names.
    pub path: PathBuf,
    /// The size of the file the call frees, for the quota.
    pub freed: Option<u64>,
    /// The reply on success.
    pub ok: (Code, &'static str),
}

/// Whether a call freeing a regular file of `size` bytes should go to
/// the pool.
pub(super) fn worth_it(s: &Session, size: Option<u64>) -> bool {
    s.off_loop_pool && s.own_identity == Some(true) && size.is_some_and(|n| n >= MIN_BYTES)
}

/// Hand `task` to the pool with what its completion needs; without a
/// task, `done` comes back to run the call inline.
pub(super) fn hand_over(s: &mut Session, task: Option<OffLoopTask>, done: Reply) -> Option<Reply> {
    let Some(task) = task else {
        return Some(done);
    };
    start(s, task, Pending::Reply(done));
    None
}

/// Hand `task` to the pool; `then` follows when it is back.
pub(super) fn start(s: &mut Session, task: OffLoopTask, then: Pending) {
    s.off_loop = Some(Box::new(then));
    s.effects.push(Effect::OffLoop(task));
}

/// What a session closed while its call was on the pool leaves to do
/// once the call is back: the quota release and the log line.
pub(crate) type Orphaned = Box<dyn FnOnce(io::Result<()>)>;

impl Session {
    /// The call handed to the pool came back: reply, release the quota and
    /// log as the inline call would have.
    pub fn on_off_loop_done(&mut self, result: io::Result<()>) {
        let Some(pending) = self.off_loop.take() else {
            return;
        };
        let p = match *pending {
            Pending::Reply(p) => p,
            // Truncated or not (then the open truncates, or fails as it
            // would have), the upload goes on.
            Pending::Upload(u) => return cmd_transfer::store_truncated(self, u),
        };
        if result.is_ok() {
            quota::freed(self, p.freed);
        }
        cmd_fs::act(self, p.cmd, &p.path, result, p.ok);
    }

    /// The session closes with its call still on the pool: what to do
    /// when the call is back (no reply, nobody to send it to).
    pub fn off_loop_orphaned(&mut self) -> Option<Orphaned> {
        let pending = self.off_loop.take()?;
        let account = quota::account(self);
        let p = match *pending {
            Pending::Reply(p) => p,
            Pending::Upload(u) => {
                // The upload never starts; what the truncation freed is
                // free (the inline open would have charged it at once).
                return Some(Box::new(move |result: io::Result<()>| {
                    if let (Ok(()), Some(size), Some(a)) = (&result, u.before, account) {
                        a.adjust(-(size as i64), 0);
                    }
                }));
            }
        };
        let cfg = std::rc::Rc::clone(&self.cfg);
        let prefix = self.prefix.clone();
        Some(Box::new(move |result: io::Result<()>| {
            if let (Ok(()), Some(size), Some(a)) = (&result, p.freed, account) {
                a.adjust(-(size as i64), -1);
            }
            let (code, text) = match result {
                Ok(()) => (p.ok.0, p.ok.1.to_string()),
                Err(e) => (reply::ACTION_NOT_TAKEN, reply::strerror(&e)),
            };
            super::log_cmd_line(&cfg, &prefix, p.cmd, &p.path.to_string_lossy(), code, &text);
        }))
    }

    /// Whether the worker pool has threads for this session's calls (the
    /// control channel tells, from its loop).
    pub fn set_off_loop_pool(&mut self, threads: bool) {
        self.off_loop_pool = threads;
    }
}
