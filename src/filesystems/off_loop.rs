//! [`AbstractedFs`](super::AbstractedFs)'s removals and renames on the
//! worker pool ([`Filesystem::remove_off_loop`](super::Filesystem::remove_off_loop)).
//!
//! The session checked the path on the loop (inside the home once symlinks
//! are resolved, permission letters); here, still on the loop, the parent
//! directory is resolved again, checked to be inside the home too, and
//! opened without following any symlink (`sys::open_dir_nofollow`). The
//! pool only gets that handle and the entry's name: `unlinkat(dir, name)`
//! or `renameat`, so a symlink swapped into the path after the checks
//! cannot send the call outside the home. Whatever does not fit (a path
//! without a plain last component, a parent that resolves outside the
//! home, a parent that cannot be opened) gets `None`: the call then runs in
//! the loop as before, with the same result as ever.
//!
//! A truncation (STOR over a big file) opens the checked file in the loop,
//! without truncating it, and gives the pool that descriptor to
//! `ftruncate`: nothing is looked up again off the loop.

use std::ffi::OsString;
use std::os::fd::OwnedFd;
use std::path::{Component, Path};

use super::{resolve, OffLoopTask};
use crate::sys;

/// The opened parent of `path` and its last component, when both are fit
/// for an off-loop call confined to `root`.
fn checked_entry(root: &Path, path: &Path) -> Option<(OwnedFd, OsString)> {
    let Some(Component::Normal(name)) = path.components().next_back() else {
        return None;
    };
    let parent = resolve(path.parent()?).ok()?;
    let root = resolve(root).ok()?;
    if !parent.starts_with(&root) {
        return None;
    }
    let dir = sys::open_dir_nofollow(&parent).ok()?;
    Some((dir, name.to_owned()))
}

/// `unlink(path)` on the pool.
pub(super) fn remove(root: &Path, path: &Path) -> Option<OffLoopTask> {
    let (dir, name) = checked_entry(root, path)?;
    Some(Box::new(move || sys::unlink_at(&dir, &name)))
}

/// `rename(src, dst)` on the pool.
pub(super) fn rename(root: &Path, src: &Path, dst: &Path) -> Option<OffLoopTask> {
    let (from_dir, from) = checked_entry(root, src)?;
    let (to_dir, to) = checked_entry(root, dst)?;
    Some(Box::new(move || {
        sys::rename_at(&from_dir, &from, &to_dir, &to)
    }))
}

/// The truncation of `open(path, OpenMode::Write)` on the pool: `path`
/// (a regular file, not a symlink) is opened here, the pool truncates it.
pub(super) fn truncate(path: &Path) -> Option<OffLoopTask> {
    use std::os::unix::fs::OpenOptionsExt;
    // Not blocking on a FIFO swapped in, not following a symlink swapped in:
    // those get the inline open and its usual outcome.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    Some(Box::new(move || file.set_len(0)))
}

#[cfg(test)]
mod tests {
    use super::super::{AbstractedFs, Filesystem};
    use std::fs;
    use std::os::unix::fs::symlink;

    /// The off-loop calls give what the inline ones give, errors included,
    /// and refuse (`None`) what they cannot confine.
    #[test]
    fn off_loop_calls_match_the_inline_ones() {
        let dir = tempfile::tempdir().unwrap();
        let top = fs::canonicalize(dir.path()).unwrap();
        let home = top.join("home");
        fs::create_dir_all(home.join("sub")).unwrap();
        fs::create_dir(top.join("outside")).unwrap();
        fs::write(top.join("outside/victim"), b"v").unwrap();
        symlink(top.join("outside"), home.join("escape")).unwrap();
        symlink("sub", home.join("inner")).unwrap();
        let afs = AbstractedFs::new(&home);
        fs::write(home.join("sub/a"), b"a").unwrap();
        // Through an inner symlink: the resolved parent is used.
        let task = afs.remove_off_loop(&home.join("inner/a")).unwrap();
        task().unwrap();
        assert!(!home.join("sub/a").exists());
        // Missing file, directory: the errors of remove(2).
        for p in ["missing", "sub"] {
            let inline = afs.remove(&home.join(p)).unwrap_err();
            let off = afs.remove_off_loop(&home.join(p)).unwrap()().unwrap_err();
            assert_eq!(inline.raw_os_error(), off.raw_os_error(), "{p}");
        }
        // The home itself and a parent outside it: not off the loop.
        assert!(afs.remove_off_loop(&home).is_none());
        assert!(afs.remove_off_loop(&home.join("escape/victim")).is_none());
        assert!(afs.remove_off_loop(&home.join("no/such/dir")).is_none());
        assert!(top.join("outside/victim").exists());
        // A symlink swapped in after the task was made: the task still
        // removes in the directory that was checked.
        fs::create_dir(home.join("d")).unwrap();
        fs::write(home.join("d/victim"), b"x").unwrap();
        let task = afs.remove_off_loop(&home.join("d/victim")).unwrap();
        fs::rename(home.join("d"), home.join("d.old")).unwrap();
        symlink(top.join("outside"), home.join("d")).unwrap();
        task().unwrap();
        assert!(top.join("outside/victim").exists());
        assert!(!home.join("d.old/victim").exists());
        // Rename over an existing file.
        fs::write(home.join("from"), b"new").unwrap();
        fs::write(home.join("sub/to"), b"old").unwrap();
        afs.rename_off_loop(&home.join("from"), &home.join("inner/to"))
            .unwrap()()
        .unwrap();
        assert_eq!(fs::read(home.join("sub/to")).unwrap(), b"new");
        let inline = afs.rename(&home.join("gone"), &home.join("x")).unwrap_err();
        let off = afs
            .rename_off_loop(&home.join("gone"), &home.join("x"))
            .unwrap()()
        .unwrap_err();
        assert_eq!(inline.raw_os_error(), off.raw_os_error());
        assert!(afs
            .rename_off_loop(&home.join("sub/to"), &home.join("escape/new"))
            .is_none());
        // Truncation: of the file opened here, whatever is swapped in after.
        fs::write(home.join("t"), b"0123456789").unwrap();
        let task = afs.truncate_off_loop(&home.join("t")).unwrap();
        fs::rename(home.join("t"), home.join("t.old")).unwrap();
        symlink(top.join("outside/victim"), home.join("t")).unwrap();
        task().unwrap();
        assert_eq!(fs::read(home.join("t.old")).unwrap(), b"");
        assert_eq!(fs::read(top.join("outside/victim")).unwrap(), b"v");
        assert!(
            afs.truncate_off_loop(&home.join("t")).is_none(),
            "a symlink"
        );
        assert!(afs.truncate_off_loop(&home.join("sub")).is_none());
        assert!(afs.truncate_off_loop(&home.join("missing")).is_none());
    }
}
