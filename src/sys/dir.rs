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
