//! Thin, safe wrappers over the few libc calls std does not offer: broken-down
//! time (pyftpdlib's `time.gmtime`/`time.localtime`), user and group names
//! (`pwd`/`grp`), `sendfile(2)` (`os.sendfile`), `SO_OOBINLINE` and
//! `utimensat(2)` (`os.utime`); for system users, the passwd and shadow
//! databases (`pwd.getpwnam`, `spwd.getspnam`), crypt(3) from libcrypt
//! (`crypt.crypt`) and the effective ids (`os.seteuid`/`os.setegid`). This
//! module and its submodules are the only code allowed to use `unsafe`.
//!
//! Grouped by concern:
//! - [`time`]: broken-down time and file times;
//! - [`users`]: user and group names, passwd/shadow lookups, group lists,
//!   effective ids (impersonation) and the access check made under them;
//! - [`net`]: sendfile, socket options, listen backlog, the splice pipe;
//! - [`process`]: signalfd, fork and reaping, shared counters;
//! - [`crypt`]: crypt(3), salts and random bytes;
//! - [`dir`]: directory handles and `fstatat` for listings;
//! - [`fd`]: sockets passed in by systemd socket activation and inetd;
//! - [`privilege`]: the privilege drop, `no_new_privs`, capabilities;
//! - [`landlock`]: Landlock rulesets (kernel-enforced file confinement);
//! - [`reuseport`]: per-worker `SO_REUSEPORT` listeners, the thread count.
//!
//! Everything is re-exported here, so callers keep using `crate::sys::NAME`.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

mod crypt;
mod dir;
mod fd;
pub(crate) mod landlock;
mod net;
pub(crate) mod privilege;
mod process;
mod reuseport;
mod time;
mod users;

pub(crate) use self::crypt::{crypt, crypt_gensalt};
pub(crate) use self::dir::{open_dir, open_dir_nofollow, rename_at, stat_at, unlink_at};
pub(crate) use self::fd::{activated, listen_fds, take_stdin_socket};
pub(crate) use self::net::{is_append, listen, sendfile, set_oobinline, Pipe};
pub(crate) use self::process::{
    fork, lower_thread_priority, wait_any, Child, SharedCounters, SignalFd,
};
pub(crate) use self::reuseport::{
    die_with_parent, register_exclusive, reuseport_twin, thread_count,
};
pub(crate) use self::time::{broken_down, set_mtime};
pub(crate) use self::users::{
    account, account_names, become_ids, can_search, effective_ids, group_list, group_name,
    restore_ids, shadow_password, user_name, Account, Ids,
};
/// `path` as a C string; an interior NUL is an `InvalidInput` error.
fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// A fresh path in the temporary directory for a test's file.
#[cfg(test)]
fn tmp(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!("ftpdlib-sys-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}
