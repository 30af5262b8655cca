//! The session's side of quotas and upload modes: the 552 checks before an
//! upload, the usage charged when it starts, and the settling of its
//! temporary file and usage when it ends (see `accounts` and `uploads`).

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::Session;
use crate::filesystems::Filesystem;
use crate::handlers::ftp::accounts::Account;
use crate::handlers::ftp::producers::Outcome;
use crate::handlers::ftp::uploads::{self, UploadMode, Write};
use crate::reply;

/// The logged-in user's account, when the authorizer gives the user a
/// quota or a bandwidth limit.
pub(super) fn account(s: &Session) -> Option<Rc<Account>> {
    if !s.authenticated {
        return None;
    }
    let limits = s.authorizer().user_limits(&s.username);
    // Sites (HOST) have users of their own: one account per site and name.
    s.cfg.accounts.get(s.site, &s.username, limits)
}

/// The file an upload of `target` writes into, when known before it is
/// opened (atomic mode's temporary file is always new).
pub(super) fn written_path(mode: UploadMode, target: &Path) -> Option<PathBuf> {
    match mode {
        UploadMode::Normal => Some(target.to_path_buf()),
        UploadMode::Atomic => None,
        UploadMode::AtomicResume => uploads::part_path(target),
    }
}

/// The size of `path` if it is a regular file.
pub(super) fn file_size(fs: &dyn Filesystem, path: Option<&Path>) -> Option<u64> {
    let st = fs.lstat(path?).ok()?;
    st.is_file().then_some(st.size)
}

/// Refuse (552) an upload when the user is at the byte quota, or at the
/// file quota and the upload adds a file; `Err(text)` of the reply.
pub(super) fn allows(
    account: &Account,
    fs: &dyn Filesystem,
    adds_file: bool,
) -> Result<(), String> {
    let limits = account.limits();
    if !limits.has_quota() {
        return Ok(());
    }
    let usage = account.usage(fs);
    if limits.quota_bytes != 0 && usage.bytes >= limits.quota_bytes {
        return Err(format!(
            "Quota exceeded: {} of {} bytes used.",
            usage.bytes, limits.quota_bytes
        ));
    }
    if limits.quota_files != 0 && adds_file && usage.files >= limits.quota_files {
        return Err(format!(
            "Quota exceeded: {} of {} files.",
            usage.files, limits.quota_files
        ));
    }
    Ok(())
}

/// Charge the start of an upload: a new file, and the bytes a truncating
/// write frees (`before` = the old size of the file written, `rest` = the
/// REST offset).
pub(super) fn charge_start(
    account: &Account,
    write: Write,
    before: Option<u64>,
    rest: u64,
    new_files: i64,
) {
    let freed = match write {
        Write::Store => before.unwrap_or(0),
        Write::Resume => before.unwrap_or(0).saturating_sub(rest),
        Write::Append => 0,
    };
    account.adjust(-(freed as i64), new_files);
}

/// An upload ended: rename a complete temporary file over its target (a
/// failed rename makes it incomplete), and charge what that changed.
/// Returns whether the upload is complete now.
pub(super) fn commit(s: &mut Session, outcome: &mut Outcome, account: Option<&Account>) -> bool {
    let completed = outcome.completed();
    let Some(c) = outcome.commit.as_ref() else {
        return completed;
    };
    let Some(fs) = s.fs.as_deref() else {
        return false;
    };
    if completed {
        let replaced = file_size(fs, Some(&c.target));
        match uploads::complete(fs, c) {
            Ok(()) => {
                if let Some(a) = account {
                    let size = replaced.unwrap_or(0) as i64;
                    a.adjust(-size, -i64::from(replaced.is_some()));
                }
                return true;
            }
            Err(e) => {
                let text = format!(
                    "Can't rename the upload into place: {}",
                    reply::strerror(&e)
                );
                s.log(&text);
                outcome.kind = crate::handlers::ftp::producers::OutcomeKind::LocalError(e);
            }
        }
    }
    if let Some(a) = account {
        if !c.keep {
            a.adjust(-(outcome.bytes as i64), -1);
        }
        if c.reserved {
            a.adjust(0, -1);
        }
    }
    // The incomplete-upload hook sees where the bytes are.
    outcome.path = c.temp.clone();
    false
}

/// After the reply and the hooks: remove what an incomplete upload leaves
/// that its mode does not keep.
pub(super) fn discard(s: &Session, outcome: &Outcome) {
    if outcome.completed() {
        return;
    }
    if let (Some(c), Some(fs)) = (outcome.commit.as_ref(), s.fs.as_deref()) {
        uploads::discard(fs, c);
    }
}

/// DELE or RNTO removed (or replaced) a file of `size` bytes.
pub(super) fn freed(s: &Session, size: Option<u64>) {
    if let (Some(size), Some(a)) = (size, account(s)) {
        a.adjust(-(size as i64), -1);
    }
}
