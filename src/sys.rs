//! Thin, safe wrappers over the few libc calls std does not offer: broken-down
//! time (pyftpdlib's `time.gmtime`/`time.localtime`), user and group names
//! (`pwd`/`grp`), `sendfile(2)` (`os.sendfile`), `SO_OOBINLINE` and
//! `utimensat(2)` (`os.utime`); for system users, the passwd and shadow
//! databases (`pwd.getpwnam`, `spwd.getspnam`), crypt(3) from libcrypt
//! (`crypt.crypt`) and the effective ids (`os.seteuid`/`os.setegid`). This is
//! the only module allowed to use `unsafe`.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

/// Broken-down calendar time (Python's `time.struct_time`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tm {
    /// Full year, e.g. 2020.
    pub year: i32,
    /// Month, 1-12.
    pub month: u32,
    /// Day of the month, 1-31.
    pub day: u32,
    /// Hour, 0-23.
    pub hour: u32,
    /// Minute, 0-59.
    pub min: u32,
    /// Second, 0-60.
    pub sec: u32,
}

/// The epoch, used when the C library cannot convert a timestamp.
const EPOCH: Tm = Tm {
    year: 1970,
    month: 1,
    day: 1,
    hour: 0,
    min: 0,
    sec: 0,
};

/// `ts` (epoch seconds) as UTC (`gmtime_r`) or local time (`localtime_r`);
/// the epoch if the conversion fails.
pub(crate) fn broken_down(ts: i64, utc: bool) -> Tm {
    // time_t is 64-bit on every target ftpdlib supports.
    let t = ts as libc::time_t;
    // SAFETY: `libc::tm` is plain old data for which all-zero bytes are a
    // valid value (the pointer field `tm_zone` becomes null).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers refer to live, properly aligned locals; the
    // reentrant variants write only into `tm`.
    let res = unsafe {
        if utc {
            libc::gmtime_r(&t, &mut tm)
        } else {
            libc::localtime_r(&t, &mut tm)
        }
    };
    if res.is_null() {
        return EPOCH;
    }
    let field = |v: libc::c_int| u32::try_from(v).unwrap_or(0);
    Tm {
        year: tm.tm_year.saturating_add(1900),
        month: field(tm.tm_mon) + 1,
        day: field(tm.tm_mday),
        hour: field(tm.tm_hour),
        min: field(tm.tm_min),
        sec: field(tm.tm_sec),
    }
}

/// Initial buffer size for the `get*_r` functions.
fn initial_buf_len(name: libc::c_int) -> usize {
    // SAFETY: sysconf has no memory-safety preconditions.
    let n = unsafe { libc::sysconf(name) };
    usize::try_from(n)
        .ok()
        .filter(|&n| n > 0)
        .unwrap_or(1024)
        .min(1 << 16)
}

/// Largest buffer tried when the C library keeps answering ERANGE.
const MAX_BUF_LEN: usize = 1 << 20;

/// Name of user `uid` (pyftpdlib `pwd.getpwuid(uid).pw_name`), via
/// `getpwuid_r`; `None` if unknown.
pub(crate) fn user_name(uid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; initial_buf_len(libc::_SC_GETPW_R_SIZE_MAX)];
    loop {
        // SAFETY: `passwd` is plain old data; all-zero is a valid value.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to a live local, `buf.len()` is the
        // true length of `buf`, and the strings written into `pw` point into
        // `buf`, which outlives their use below.
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < MAX_BUF_LEN {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pw.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success `pw_name` is a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr(pw.pw_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

/// Name of group `gid` (pyftpdlib `grp.getgrgid(gid).gr_name`), via
/// `getgrgid_r`; `None` if unknown.
pub(crate) fn group_name(gid: u32) -> Option<String> {
    let mut buf = vec![0 as libc::c_char; initial_buf_len(libc::_SC_GETGR_R_SIZE_MAX)];
    loop {
        // SAFETY: `group` is plain old data; all-zero is a valid value.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as in `user_name`: live locals, true buffer length, and
        // the returned strings point into `buf`.
        let rc =
            unsafe { libc::getgrgid_r(gid, &mut gr, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < MAX_BUF_LEN {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || gr.gr_name.is_null() {
            return None;
        }
        // SAFETY: on success `gr_name` is a NUL-terminated string inside `buf`.
        let name = unsafe { CStr::from_ptr(gr.gr_name) };
        return Some(name.to_string_lossy().into_owned());
    }
}

/// Copies up to `count` bytes from `in_fd` at `*offset` to `out_fd` with
/// `sendfile(2)` (pyftpdlib `os.sendfile`), advancing `*offset`; returns the
/// bytes sent. `EAGAIN` surfaces as [`io::ErrorKind::WouldBlock`].
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn sendfile(
    out_fd: RawFd,
    in_fd: RawFd,
    offset: &mut i64,
    count: usize,
) -> io::Result<usize> {
    let mut off =
        libc::off_t::try_from(*offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `off` is a live local; sendfile only reads/writes the given
    // descriptors (invalid ones yield EBADF) and updates `off`.
    let n = unsafe { libc::sendfile(out_fd, in_fd, &mut off, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off;
    Ok(n.unsigned_abs())
}

/// `sendfile(2)` is Linux-only here: other systems report `Unsupported` and
/// the caller falls back to read/write.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn sendfile(
    _out_fd: RawFd,
    _in_fd: RawFd,
    _offset: &mut i64,
    _count: usize,
) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Sets `SO_OOBINLINE` on a socket (pyftpdlib's control channel does
/// `setsockopt(SOL_SOCKET, SO_OOBINLINE, 1)` so urgent data is read inline).
pub(crate) fn set_oobinline(fd: RawFd) -> io::Result<()> {
    let one: libc::c_int = 1;
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `one` is a live c_int and `len` is its exact size; the kernel
    // only reads from the pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_OOBINLINE,
            std::ptr::addr_of!(one).cast::<libc::c_void>(),
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `path` as a C string; an interior NUL is an `InvalidInput` error.
fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// Sets access and modification time of `path` (symlinks followed) to
/// `mtime` epoch seconds, like pyftpdlib's `os.utime(path, (t, t))`.
pub(crate) fn set_mtime(path: &Path, mtime: i64) -> io::Result<()> {
    let cpath = c_path(path)?;
    let secs =
        libc::time_t::try_from(mtime).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let ts = libc::timespec {
        tv_sec: secs,
        tv_nsec: 0,
    };
    let times = [ts, ts];
    // SAFETY: `cpath` is NUL-terminated and `times` is a live array of the
    // two timespecs utimensat reads.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, cpath.as_ptr(), times.as_ptr(), 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether the calling thread may search (enter) directory `path`, checked
/// with its *effective* ids (`faccessat(X_OK, AT_EACCESS)`), so the answer
/// is the impersonated user's: the check behind pyftpdlib's `os.chdir`
/// succeeding.
pub(crate) fn can_search(path: &Path) -> io::Result<()> {
    let cpath = c_path(path)?;
    // SAFETY: `cpath` is a NUL-terminated string that outlives the call.
    let rc =
        unsafe { libc::faccessat(libc::AT_FDCWD, cpath.as_ptr(), libc::X_OK, libc::AT_EACCESS) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Changes the listen() backlog of a bound, listening socket (pyftpdlib's
/// `backlog`; std always listens with 128). Linux accepts a second listen()
/// on a listening socket and only updates the backlog.
pub(crate) fn listen(listener: &std::net::TcpListener, backlog: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is owned by `listener`, alive for the call.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), backlog.max(1)) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// SIGINT and SIGTERM delivered as readable data on a descriptor
/// (signalfd(2)), so the event loop sees them as one more event source and
/// no signal handler runs. The signals are blocked in the calling thread
/// while it lives; dropping it restores the previous mask.
pub(crate) struct SignalFd {
    fd: std::os::fd::OwnedFd,
    old_mask: libc::sigset_t,
}

impl SignalFd {
    /// Block SIGINT and SIGTERM in this thread and open a signalfd for them.
    pub(crate) fn new() -> io::Result<SignalFd> {
        use std::os::fd::FromRawFd;
        // SAFETY: sigset_t is plain data; sigemptyset initialises it.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above, for the old mask filled in by pthread_sigmask.
        let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` and `old_mask` are valid, exclusively borrowed sigsets.
        let fd = unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask);
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
        };
        if fd < 0 {
            let err = io::Error::last_os_error();
            // SAFETY: restoring the mask saved just above.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
            return Err(err);
        }
        // SAFETY: `fd` was just returned by signalfd and is owned by nobody else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(SignalFd { fd, old_mask })
    }

    /// The raw descriptor, to register with the poller.
    pub(crate) fn raw(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.fd.as_raw_fd()
    }

    /// Read one pending signal number, if any.
    pub(crate) fn read(&self) -> Option<i32> {
        // SAFETY: signalfd_siginfo is plain data.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: `info` is a writable buffer of exactly `size` bytes.
        let n = unsafe {
            libc::read(
                self.raw(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if n == size as isize {
            i32::try_from(info.ssi_signo).ok()
        } else {
            None
        }
    }
}

impl Drop for SignalFd {
    fn drop(&mut self) {
        // SAFETY: restoring the mask saved in `new` for this thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    fn tmp(name: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("ftpdlib-sys-{}-{name}", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    #[test]
    fn broken_down_utc() {
        let tm = broken_down(1_579_083_630, true);
        let want = Tm {
            year: 2020,
            month: 1,
            day: 15,
            hour: 10,
            min: 20,
            sec: 30,
        };
        assert_eq!(tm, want);
        assert_eq!(broken_down(0, true), EPOCH);
        let local = broken_down(1_579_083_630, false);
        assert_eq!((local.year, local.month), (2020, 1));
        // Far out of range (year overflows int): no panic, epoch fallback.
        assert_eq!(broken_down(i64::MAX, true), EPOCH);
    }

    #[test]
    fn names() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert!(group_name(0).is_some());
        assert_eq!(user_name(4_000_000_000), None);
        assert_eq!(group_name(4_000_000_000), None);
    }

    #[test]
    fn sendfile_copies() {
        let p = tmp("sendfile");
        std::fs::write(&p, b"hello world").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut off = 6;
        let n = sendfile(a.as_raw_fd(), f.as_raw_fd(), &mut off, 100).unwrap();
        assert_eq!((n, off), (5, 11));
        assert_eq!(
            sendfile(a.as_raw_fd(), f.as_raw_fd(), &mut off, 100).unwrap(),
            0
        );
        drop(a);
        let mut got = String::new();
        b.read_to_string(&mut got).unwrap();
        assert_eq!(got, "world");
        assert!(sendfile(-1, f.as_raw_fd(), &mut off, 1).is_err());
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn sendfile_would_block() {
        let p = tmp("sendfile-wb");
        std::fs::write(&p, vec![7u8; 1 << 20]).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut off = 0;
        let err = loop {
            match sendfile(a.as_raw_fd(), f.as_raw_fd(), &mut off, 1 << 20) {
                Ok(0) => panic!("unexpected EOF"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn oobinline() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        set_oobinline(s.as_raw_fd()).unwrap();
        let p = tmp("oob");
        let f = std::fs::File::create(&p).unwrap();
        assert!(set_oobinline(f.as_raw_fd()).is_err());
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn mtime_and_access() {
        let p = tmp("mtime");
        std::fs::write(&p, b"x").unwrap();
        set_mtime(&p, 1_579_083_630).unwrap();
        let m = std::fs::metadata(&p).unwrap();
        let secs =
            |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        assert_eq!(secs(m.modified().unwrap()), 1_579_083_630);
        assert_eq!(secs(m.accessed().unwrap()), 1_579_083_630);
        assert!(set_mtime(Path::new("a\0b"), 0).is_err());
        assert!(set_mtime(&p.with_extension("missing"), 0).is_err());
        can_search(&std::env::temp_dir()).unwrap();
        assert!(can_search(Path::new("/nonexistent-ftpdlib")).is_err());
        assert!(can_search(Path::new("x\0")).is_err());
        std::fs::remove_file(&p).unwrap();
    }
}
