//! Per-user state shared by all of a user's sessions in one event loop
//! (ftpdlib extension): the bandwidth buckets of the per-user limits and
//! the disk usage a quota is checked against. The limits themselves come
//! from [`Authorizer::user_limits`](crate::Authorizer::user_limits), asked
//! again at every transfer, so a changed limit applies to the next one.
//!
//! Usage is counted once per user and server process, by walking the
//! user's home through its file system the first time a quota is checked
//! (in the loop: a home of 100,000 files takes a fraction of a second, paid
//! once), then tracked: bytes as they arrive, files as uploads create them,
//! DELE and RNTO over a file. Changes made outside this server are not
//! seen until it restarts. With `--workers N` each worker counts on its
//! own, like the server-wide limits.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use super::dtp::Bandwidth;
use crate::filesystems::Filesystem;

/// A user's quota and bandwidth limits (ftpdlib extension; pyftpdlib has
/// per-channel limits only). Zero means no limit.
///
/// ```
/// use ftpdlib::{DummyAuthorizer, FtpHandler, UploadMode, UserLimits};
/// let mut auth = DummyAuthorizer::new();
/// auth.add_user_with_perm("bob", "pw", ".", "elradfmw").unwrap();
/// let limits = UserLimits {
///     quota_bytes: 1 << 30,
///     quota_files: 10_000,
///     write_limit: 1 << 20,
///     ..UserLimits::default()
/// };
/// auth.set_user_limits("bob", limits).unwrap();
/// let mut handler = FtpHandler::new(auth);
/// handler.upload_mode = UploadMode::AtomicResume;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UserLimits {
    /// Bytes the user's regular files may take under the home (partial
    /// and temporary uploads included); an upload that reaches it is cut
    /// with `552`.
    pub quota_bytes: u64,
    /// Regular files the user may have under the home; an upload that
    /// would create one more is refused with `552`.
    pub quota_files: u64,
    /// Upload bytes per second, shared by all of the user's sessions.
    pub read_limit: u64,
    /// Download bytes per second, shared by all of the user's sessions.
    pub write_limit: u64,
}

impl UserLimits {
    /// Whether any limit is set.
    pub fn any(&self) -> bool {
        *self != UserLimits::default()
    }

    /// Whether a quota is set.
    pub fn has_quota(&self) -> bool {
        self.quota_bytes != 0 || self.quota_files != 0
    }
}

/// What a user's files take: bytes and regular files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    pub bytes: u64,
    pub files: u64,
}

/// One user's shared state.
#[derive(Debug)]
pub(crate) struct Account {
    limits: Cell<UserLimits>,
    usage: Cell<Option<Usage>>,
    /// Per-user rate limits: `[upload, download]` buckets.
    pub bandwidth: RefCell<Bandwidth>,
}

impl Account {
    /// The limits as of the latest transfer.
    pub fn limits(&self) -> UserLimits {
        self.limits.get()
    }

    /// The usage, counted by walking `fs`'s root the first time.
    pub fn usage(&self, fs: &dyn Filesystem) -> Usage {
        if let Some(u) = self.usage.get() {
            return u;
        }
        let u = walk(fs);
        self.usage.set(Some(u));
        u
    }

    /// Bytes an upload may still write before the byte quota is reached
    /// (`u64::MAX` without one).
    pub fn room(&self) -> u64 {
        let quota = self.limits.get().quota_bytes;
        match (quota, self.usage.get()) {
            (0, _) | (_, None) => u64::MAX,
            (q, Some(u)) => q.saturating_sub(u.bytes),
        }
    }

    /// Change the usage by `bytes` and `files` (negative: freed).
    pub fn adjust(&self, bytes: i64, files: i64) {
        if let Some(mut u) = self.usage.get() {
            u.bytes = u.bytes.saturating_add_signed(bytes);
            u.files = u.files.saturating_add_signed(files);
            self.usage.set(Some(u));
        }
    }
}

/// Every user's [`Account`], created at a user's first transfer with a
/// limit.
#[derive(Debug, Default)]
pub(crate) struct Accounts {
    /// By virtual host (`None` = the default site), then user name.
    users: RefCell<HashMap<Option<usize>, SiteAccounts>>,
}

/// One site's accounts by user name.
type SiteAccounts = HashMap<String, Rc<Account>>;

impl Accounts {
    /// The account of `username` of `site` under `limits`, or `None` when
    /// no limit applies to the user.
    pub fn get(
        &self,
        site: Option<usize>,
        username: &str,
        limits: UserLimits,
    ) -> Option<Rc<Account>> {
        let mut sites = self.users.borrow_mut();
        let users = sites.entry(site).or_default();
        if !limits.any() {
            // Keep a known account (its usage stays counted) but hand it
            // out only while a limit applies.
            if let Some(a) = users.get(username) {
                a.limits.set(limits);
            }
            return None;
        }
        let account = users.entry(username.to_string()).or_insert_with(|| {
            Rc::new(Account {
                limits: Cell::new(limits),
                usage: Cell::new(None),
                bandwidth: RefCell::new(Bandwidth::new(limits.read_limit, limits.write_limit)),
            })
        });
        account.limits.set(limits);
        account
            .bandwidth
            .borrow_mut()
            .set_limits(limits.read_limit, limits.write_limit);
        Some(Rc::clone(account))
    }
}

/// Bytes and regular files under `fs`'s root (symlinks not followed).
fn walk(fs: &dyn Filesystem) -> Usage {
    let mut usage = Usage::default();
    let mut dirs = vec![fs.root().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(names) = fs.listdir(&dir) else {
            continue;
        };
        for name in names {
            let Ok(st) = fs.lstat_in(&dir, &name) else {
                continue;
            };
            if st.is_dir() {
                dirs.push(dir.join(&name));
            } else if st.is_file() {
                usage.bytes += st.size;
                usage.files += 1;
            }
        }
    }
    usage
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_is_walked_once_then_tracked() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("a"), vec![0u8; 100]).unwrap();
        std::fs::create_dir(home.path().join("d")).unwrap();
        std::fs::write(home.path().join("d/b"), vec![0u8; 50]).unwrap();
        let fs = crate::filesystems::AbstractedFs::new(std::fs::canonicalize(home.path()).unwrap());
        let accounts = Accounts::default();
        let limits = UserLimits {
            quota_bytes: 1000,
            ..UserLimits::default()
        };
        let a = accounts.get(None, "u", limits).unwrap();
        assert_eq!(a.room(), u64::MAX, "unknown usage does not cut");
        assert_eq!(
            a.usage(&fs),
            Usage {
                bytes: 150,
                files: 2
            }
        );
        assert_eq!(a.room(), 850);
        a.adjust(-100, -1);
        assert_eq!(
            a.usage(&fs),
            Usage {
                bytes: 50,
                files: 1
            }
        );
        assert!(accounts.get(None, "u", UserLimits::default()).is_none());
        let again = accounts.get(None, "u", limits).unwrap();
        assert_eq!(again.usage(&fs).bytes, 50, "the count survives");
    }
}
