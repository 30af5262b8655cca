//! Directory descriptors for listings: `open(O_PATH | O_DIRECTORY)` once,
//! then `fstatat(2)` each entry by name, so the kernel does not walk the
//! whole path again for every entry (pyftpdlib `os.lstat(join(dir, name))`).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// The fields of a `stat` result the listings use.
pub(crate) struct RawStat {
    pub mode: u32,
    pub nlink: u64,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime: i64,
    pub dev: u64,
    pub ino: u64,
}

/// Open `path` as a directory handle (no read access needed).
pub(crate) fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    let c = super::c_path(path)?;
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by open and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `fstatat(dir, name)`; `follow` = follow a final symlink (stat vs lstat).
pub(crate) fn stat_at(dir: &OwnedFd, name: &OsStr, follow: bool) -> io::Result<RawStat> {
    let c = std::ffi::CString::new(name.as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    // SAFETY: stat is plain data that fstatat fills.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, NUL-terminated name, writable stat buffer.
    let rc = unsafe { libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &mut st, flags) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(RawStat {
        mode: st.st_mode,
        nlink: st.st_nlink,
        uid: st.st_uid,
        gid: st.st_gid,
        size: u64::try_from(st.st_size).unwrap_or(0),
        mtime: st.st_mtime,
        dev: st.st_dev,
        ino: st.st_ino,
    })
}

/// Opens directory `path` (expected canonical) as an `O_PATH` handle
/// without following any symlink on the way: `openat2(RESOLVE_NO_SYMLINKS)`
/// where the kernel has it (5.6+), else `O_NOFOLLOW`, which guards the last
/// component only. A symlink swapped in since `path` was resolved gives
/// `ELOOP` (or `ENOTDIR`) instead of a handle elsewhere. For file-system
/// calls run off the loop on a checked directory (`unlinkat`, `renameat`).
pub(crate) fn open_dir_nofollow(path: &Path) -> io::Result<OwnedFd> {
    let c = super::c_path(path)?;
    let flags = libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: open_how is plain data.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = flags as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS;
    // SAFETY: valid NUL-terminated path and a filled open_how of the size given.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    let fd = if rc >= 0 {
        i32::try_from(rc).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?
    } else {
        let e = io::Error::last_os_error();
        if !matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) {
            return Err(e);
        }
        // No openat2 (old kernel, or a seccomp filter refusing it).
        // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
        let fd = unsafe { libc::open(c.as_ptr(), flags) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        fd
    };
    // SAFETY: `fd` was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn c_name(name: &OsStr) -> io::Result<std::ffi::CString> {
    std::ffi::CString::new(name.as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

/// `unlinkat(dir, name, 0)`: removes entry `name` of `dir` (a symlink
/// itself, never its target), as `unlink(2)` would.
pub(crate) fn unlink_at(dir: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let c = c_name(name)?;
    // SAFETY: valid descriptor and NUL-terminated name.
    if unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), 0) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `renameat(from_dir, from, to_dir, to)`, as `rename(2)` would.
pub(crate) fn rename_at(
    from_dir: &OwnedFd,
    from: &OsStr,
    to_dir: &OwnedFd,
    to: &OsStr,
) -> io::Result<()> {
    let (a, b) = (c_name(from)?, c_name(to)?);
    // SAFETY: valid descriptors and NUL-terminated names.
    let rc = unsafe {
        libc::renameat(
            from_dir.as_raw_fd(),
            a.as_ptr(),
            to_dir.as_raw_fd(),
            b.as_ptr(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_at_matches_std_metadata() {
        let dir = std::env::temp_dir().join(format!("ftpdlib-dir-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f"), b"12345").unwrap();
        std::os::unix::fs::symlink("f", dir.join("l")).unwrap();
        let fd = open_dir(&dir).unwrap();
        let st = stat_at(&fd, OsStr::new("f"), false).unwrap();
        assert_eq!(st.size, 5);
        let link = stat_at(&fd, OsStr::new("l"), false).unwrap();
        assert_eq!(link.mode & libc::S_IFMT, libc::S_IFLNK);
        let target = stat_at(&fd, OsStr::new("l"), true).unwrap();
        assert_eq!(target.ino, st.ino);
        assert!(stat_at(&fd, OsStr::new("missing"), false).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
