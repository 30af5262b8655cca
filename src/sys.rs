//! Thin, safe wrappers over the few libc calls std does not offer: broken-down
//! time (pyftpdlib's `time.gmtime`/`time.localtime`), user and group names
//! (`pwd`/`grp`), `sendfile(2)` (`os.sendfile`), `SO_OOBINLINE` and
//! `utimensat(2)` (`os.utime`); for system users, the passwd and shadow
//! databases (`pwd.getpwnam`, `spwd.getspnam`), crypt(3) from libcrypt
//! (`crypt.crypt`) and the effective ids (`os.seteuid`/`os.setegid`). This is
//! the only module allowed to use `unsafe`.

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

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

// --- System accounts: passwd, shadow, groups ------------------------------

/// One entry of the passwd database (pyftpdlib's `pwd.struct_passwd`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    /// `pw_name`.
    pub name: String,
    /// `pw_uid`.
    pub uid: u32,
    /// `pw_gid`, the primary group.
    pub gid: u32,
    /// `pw_dir`, the home directory.
    pub home: PathBuf,
    /// `pw_shell`, the login shell.
    pub shell: PathBuf,
}

/// Whether a `get*nam_r` error code means "no such entry" (getpwnam_r(3)
/// lists these besides 0).
fn is_not_found(rc: libc::c_int) -> bool {
    matches!(
        rc,
        0 | libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM
    )
}

/// The bytes of a C string returned by the C library; empty for null.
///
/// # Safety
/// `p` is null or points to a NUL-terminated string alive for the call.
unsafe fn c_bytes(p: *const libc::c_char) -> Vec<u8> {
    if p.is_null() {
        return Vec::new();
    }
    // SAFETY: non-null and NUL-terminated, per this function's contract.
    unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()
}

/// The passwd entry of `name` (pyftpdlib `pwd.getpwnam`), via
/// `getpwnam_r`; `Ok(None)` if there is none (or the name holds a NUL).
pub(crate) fn account(name: &str) -> io::Result<Option<Account>> {
    let Ok(cname) = CString::new(name) else {
        return Ok(None);
    };
    let mut buf = vec![0 as libc::c_char; initial_buf_len(libc::_SC_GETPW_R_SIZE_MAX)];
    loop {
        // SAFETY: `passwd` is plain old data; all-zero is a valid value.
        let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to a live local, `buf.len()` is the
        // true length of `buf`, and the strings written into `pw` point into
        // `buf`, which outlives their use below.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pw,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < MAX_BUF_LEN {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if result.is_null() {
            return if is_not_found(rc) {
                Ok(None)
            } else {
                Err(io::Error::from_raw_os_error(rc))
            };
        }
        // SAFETY: on success the string fields are null or NUL-terminated
        // strings inside `buf`, which is alive here.
        let (name, home, shell) = unsafe {
            (
                c_bytes(pw.pw_name),
                c_bytes(pw.pw_dir),
                c_bytes(pw.pw_shell),
            )
        };
        return Ok(Some(Account {
            name: String::from_utf8_lossy(&name).into_owned(),
            uid: pw.pw_uid,
            gid: pw.pw_gid,
            home: PathBuf::from(OsString::from_vec(home)),
            shell: PathBuf::from(OsString::from_vec(shell)),
        }));
    }
}

/// The hashed password of `name` in the shadow database (pyftpdlib
/// `spwd.getspnam(name).sp_pwd`), via `getspnam_r`; `Ok(None)` if there is
/// no entry. Reading the shadow database needs root.
pub(crate) fn shadow_password(name: &str) -> io::Result<Option<String>> {
    let Ok(cname) = CString::new(name) else {
        return Ok(None);
    };
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        // SAFETY: `spwd` is plain old data; all-zero is a valid value.
        let mut sp: libc::spwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::spwd = std::ptr::null_mut();
        // SAFETY: as in `account`: live locals, true buffer length, and the
        // returned strings point into `buf`.
        let rc = unsafe {
            libc::getspnam_r(
                cname.as_ptr(),
                &mut sp,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < MAX_BUF_LEN {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if result.is_null() {
            return if rc == 0 || rc == libc::ENOENT {
                Ok(None)
            } else {
                Err(io::Error::from_raw_os_error(rc))
            };
        }
        // SAFETY: on success `sp_pwdp` is null or a NUL-terminated string
        // inside `buf`, which is alive here.
        let pwd = unsafe { c_bytes(sp.sp_pwdp) };
        return Ok(Some(String::from_utf8_lossy(&pwd).into_owned()));
    }
}

/// Every group `name` belongs to, `gid` included (what `initgroups(3)`
/// would install), via `getgrouplist`.
pub(crate) fn group_list(name: &str, gid: u32) -> io::Result<Vec<u32>> {
    let cname = CString::new(name)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "user name holds a NUL"))?;
    let mut len: libc::c_int = 32;
    loop {
        let mut groups = vec![0 as libc::gid_t; usize::try_from(len).unwrap_or(0)];
        let mut count = len;
        // SAFETY: `groups` holds `count` writable entries; getgrouplist
        // writes at most that many and stores the real count in `count`.
        let rc =
            unsafe { libc::getgrouplist(cname.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
        if rc >= 0 {
            groups.truncate(usize::try_from(count).unwrap_or(0));
            return Ok(groups);
        }
        len = if count > len { count } else { len * 2 };
        if len > 65_536 {
            return Err(io::Error::other("too many supplementary groups"));
        }
    }
}

// --- Effective ids ----------------------------------------------------------

/// Effective uid, effective gid and supplementary groups of a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ids {
    /// Effective uid.
    pub uid: u32,
    /// Effective gid.
    pub gid: u32,
    /// Supplementary groups.
    pub groups: Vec<u32>,
}

/// The calling thread's effective ids (`geteuid`, `getegid`, `getgroups`).
pub(crate) fn effective_ids() -> io::Result<Ids> {
    // SAFETY: geteuid and getegid have no preconditions and cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    // SAFETY: with a size of 0 getgroups writes nothing and returns the count.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let mut groups =
        vec![0 as libc::gid_t; usize::try_from(n).map_err(|_| io::Error::last_os_error())?];
    // SAFETY: `groups` holds exactly `n` writable entries.
    let m = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
    groups.truncate(usize::try_from(m).map_err(|_| io::Error::last_os_error())?);
    Ok(Ids { uid, gid, groups })
}

/// Switches the calling thread to `ids`: effective gid, then supplementary
/// groups, then effective uid (pyftpdlib's `os.setegid` + `os.seteuid`, with
/// `initgroups` in between): once the uid is not root the groups could no
/// longer change. The real and saved uid stay, so [`restore_ids`] can come
/// back.
///
/// The switch is per thread: these are the raw system calls, not glibc's
/// wrappers, which would broadcast the change to every thread of the
/// process. Only the event-loop thread changes identity.
pub(crate) fn become_ids(ids: &Ids) -> io::Result<()> {
    set_egid(ids.gid)?;
    set_groups(&ids.groups)?;
    set_euid(ids.uid)
}

/// Returns the calling thread to `ids` (the server's own, root) in the
/// reverse order of [`become_ids`]: uid first, since only root may change
/// groups and gid.
pub(crate) fn restore_ids(ids: &Ids) -> io::Result<()> {
    set_euid(ids.uid)?;
    set_groups(&ids.groups)?;
    set_egid(ids.gid)
}

/// `-1` for the ids `setres[ug]id` must leave unchanged.
const UNCHANGED: libc::c_long = -1;

/// The result of `syscall(2)`: -1 and errno on failure.
fn syscall_result(rc: libc::c_long) -> io::Result<()> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// This thread's effective uid (`setresuid(-1, uid, -1)`).
fn set_euid(uid: u32) -> io::Result<()> {
    // SAFETY: setresuid takes integers only; on 64-bit Linux SYS_setresuid
    // is the 32-bit-id call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_setresuid,
            UNCHANGED,
            libc::c_long::from(uid),
            UNCHANGED,
        )
    };
    syscall_result(rc)
}

/// This thread's effective gid (`setresgid(-1, gid, -1)`).
fn set_egid(gid: u32) -> io::Result<()> {
    // SAFETY: setresgid takes integers only.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_setresgid,
            UNCHANGED,
            libc::c_long::from(gid),
            UNCHANGED,
        )
    };
    syscall_result(rc)
}

/// This thread's supplementary groups (`setgroups`).
fn set_groups(groups: &[u32]) -> io::Result<()> {
    let len = libc::c_long::try_from(groups.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the kernel reads `len` gids from the live slice `groups`.
    let rc = unsafe { libc::syscall(libc::SYS_setgroups, len, groups.as_ptr()) };
    syscall_result(rc)
}

// --- crypt(3) ---------------------------------------------------------------

#[link(name = "crypt")]
extern "C" {
    fn crypt_rn(
        phrase: *const libc::c_char,
        setting: *const libc::c_char,
        data: *mut libc::c_void,
        size: libc::c_int,
    ) -> *mut libc::c_char;
    fn crypt_gensalt_rn(
        prefix: *const libc::c_char,
        count: libc::c_ulong,
        rbytes: *const libc::c_char,
        nrbytes: libc::c_int,
        output: *mut libc::c_char,
        output_size: libc::c_int,
    ) -> *mut libc::c_char;
}

/// `sizeof(struct crypt_data)` in libxcrypt's `<crypt.h>`.
const CRYPT_DATA_SIZE: usize = 32_768;
/// `CRYPT_GENSALT_OUTPUT_SIZE` in `<crypt.h>`.
const CRYPT_GENSALT_OUTPUT_SIZE: usize = 192;
/// Random bytes handed to `crypt_gensalt_rn` (128 bits of salt).
const SALT_BYTES: usize = 16;

/// crypt(3) (pyftpdlib's `crypt.crypt(password, setting)`): hashes `phrase`
/// with the method, cost and salt of `setting` (a full hash to check against,
/// or a setting from [`crypt_gensalt`]), via the reentrant `crypt_rn`.
/// `None` when libcrypt refuses: unknown method, malformed setting, a NUL
/// byte, a phrase longer than 512 bytes.
pub(crate) fn crypt(phrase: &str, setting: &str) -> Option<String> {
    let phrase = CString::new(phrase).ok()?;
    let setting = CString::new(setting).ok()?;
    let size = libc::c_int::try_from(CRYPT_DATA_SIZE).ok()?;
    // u128 words: zeroed, and aligned for any field libcrypt keeps in there.
    let mut data = vec![0u128; CRYPT_DATA_SIZE / std::mem::size_of::<u128>()];
    // SAFETY: both strings are NUL-terminated and alive; `data` is a zeroed,
    // writable, 16-byte-aligned area of exactly `size` bytes, as crypt_rn
    // requires of its `struct crypt_data`.
    let out = unsafe {
        crypt_rn(
            phrase.as_ptr(),
            setting.as_ptr(),
            data.as_mut_ptr().cast(),
            size,
        )
    };
    let hash = if out.is_null() {
        None
    } else {
        // SAFETY: on success crypt_rn returns a NUL-terminated string inside
        // `data`, which is alive here.
        Some(
            unsafe { CStr::from_ptr(out) }
                .to_string_lossy()
                .into_owned(),
        )
    };
    data.fill(0);
    std::hint::black_box(&data);
    // crypt_rn never returns the "*0"/"*1" failure tokens, but be sure.
    hash.filter(|h| !h.starts_with('*'))
}

/// A new setting for `prefix` (`"$y$"`, `"$6$"`...) with the library's
/// default cost and a random salt (`crypt_gensalt_rn`). `Unsupported` when
/// this libcrypt does not offer the method.
pub(crate) fn crypt_gensalt(prefix: &str) -> io::Result<String> {
    let cprefix = CString::new(prefix).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut rbytes = [0u8; SALT_BYTES];
    random_bytes(&mut rbytes)?;
    let mut out = vec![0 as libc::c_char; CRYPT_GENSALT_OUTPUT_SIZE];
    let (nrbytes, out_len) = (
        SALT_BYTES as libc::c_int,
        CRYPT_GENSALT_OUTPUT_SIZE as libc::c_int,
    );
    // SAFETY: `cprefix` is NUL-terminated, `rbytes` holds `nrbytes` bytes and
    // `out` is writable for `out_len` bytes; all three outlive the call.
    let p = unsafe {
        crypt_gensalt_rn(
            cprefix.as_ptr(),
            0,
            rbytes.as_ptr().cast(),
            nrbytes,
            out.as_mut_ptr(),
            out_len,
        )
    };
    if p.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("libcrypt does not support {prefix}"),
        ));
    }
    // SAFETY: on success `p` is a NUL-terminated string inside `out`.
    Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Fills `buf` from the kernel's random source (`getrandom(2)`, falling back
/// to `/dev/urandom` on kernels without it).
pub(crate) fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a writable buffer of `rest.len()` bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match usize::try_from(n) {
            Ok(n) => filled += n,
            Err(_) => {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::ENOSYS) => {
                        use std::io::Read;
                        return std::fs::File::open("/dev/urandom")?.read_exact(rest);
                    }
                    _ => return Err(err),
                }
            }
        }
    }
    Ok(())
}

/// A table of atomic counters in memory shared with forked children
/// (mmap MAP_SHARED | MAP_ANONYMOUS), for server-wide connection limits
/// across pre-forked workers.
pub(crate) struct SharedCounters {
    ptr: std::ptr::NonNull<std::sync::atomic::AtomicU32>,
    len: usize,
}

impl SharedCounters {
    /// `len` zeroed counters.
    pub(crate) fn new(len: usize) -> io::Result<SharedCounters> {
        let bytes = len.max(1) * std::mem::size_of::<u32>();
        // SAFETY: an anonymous shared mapping with no address hint; the
        // result is checked against MAP_FAILED before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(p.cast())
            .ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(SharedCounters {
            ptr,
            len: len.max(1),
        })
    }

    /// Add `delta` to counter `i` (out-of-range indexes use the last one);
    /// returns the new value.
    pub(crate) fn add(&self, i: usize, delta: i32) -> u32 {
        use std::sync::atomic::Ordering;
        let i = i.min(self.len - 1);
        // SAFETY: `i < len`, the mapping holds `len` zero-initialised u32s
        // (valid AtomicU32s) and lives as long as `self`.
        let cell = unsafe { &*self.ptr.as_ptr().add(i) };
        if delta >= 0 {
            cell.fetch_add(delta.unsigned_abs(), Ordering::SeqCst)
                .wrapping_add(delta.unsigned_abs())
        } else {
            let d = delta.unsigned_abs();
            let prev = cell
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                    Some(v.saturating_sub(d))
                })
                .unwrap_or(0);
            prev.saturating_sub(d)
        }
    }
}

impl Drop for SharedCounters {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mapped in `new`.
        unsafe {
            libc::munmap(
                self.ptr.as_ptr().cast(),
                self.len * std::mem::size_of::<u32>(),
            )
        };
    }
}

/// A forked worker process.
pub(crate) struct Child {
    pid: libc::pid_t,
}

impl Child {
    /// Its process id.
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Ask it to stop (SIGTERM).
    pub(crate) fn terminate(&self) {
        // SAFETY: plain kill(2) on a pid we forked.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
    }

    /// Wait until it exits.
    pub(crate) fn wait(self) {
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        while unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }
}

/// fork(2): `Some(child)` in the parent, `None` in the child. Only called
/// from a single-threaded process (the CLI, before any thread starts).
pub(crate) fn fork() -> io::Result<Option<Child>> {
    // SAFETY: the caller forks before spawning threads, so the child's
    // copy of the process is consistent.
    let pid = unsafe { libc::fork() };
    match pid {
        p if p < 0 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        p => Ok(Some(Child { pid: p })),
    }
}

/// Reap one exited child, waiting at most `timeout`: `(pid, exited
/// cleanly)`.
pub(crate) fn wait_any(timeout: std::time::Duration) -> io::Result<Option<(i32, bool)>> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let mut status = 0;
        // SAFETY: non-blocking waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            let clean = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            return Ok(Some((pid, clean)));
        }
        if pid < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        if std::time::Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A non-blocking pipe for splice(2): uploads move socket → pipe → file
/// inside the kernel, without a user-space buffer.
pub(crate) struct Pipe {
    read: std::os::fd::OwnedFd,
    write: std::os::fd::OwnedFd,
}

impl Pipe {
    /// A pipe of about `size` bytes (the kernel may round or cap it).
    pub(crate) fn new(size: usize) -> io::Result<Pipe> {
        use std::os::fd::FromRawFd;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded; each descriptor is owned once, here.
        let (read, write) = unsafe {
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        };
        let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
        // SAFETY: F_SETPIPE_SZ on our own pipe; failure only keeps the default size.
        unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, size) };
        Ok(Pipe { read, write })
    }

    /// Move up to `len` bytes from socket `from` into the pipe.
    pub(crate) fn fill_from(&self, from: RawFd, len: usize) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        splice(from, self.write.as_raw_fd(), len)
    }

    /// Move exactly `len` bytes from the pipe into file `to` at its
    /// current position.
    pub(crate) fn drain_into(&self, to: RawFd, mut len: usize) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        while len > 0 {
            match splice(self.read.as_raw_fd(), to, len) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => len -= n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: null offsets make splice use and advance the descriptors' own
    // positions; invalid descriptors yield EBADF.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.unsigned_abs())
}

/// Whether `fd` was opened with O_APPEND (splice refuses such files).
pub(crate) fn is_append(fd: RawFd) -> bool {
    // SAFETY: F_GETFL only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_APPEND != 0
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
    #[test]
    fn passwd_and_groups() {
        let root = account("root").unwrap().unwrap();
        assert_eq!((root.uid, root.gid, root.name.as_str()), (0, 0, "root"));
        assert!(root.home.is_absolute() && !root.shell.as_os_str().is_empty());
        assert_eq!(account("ftpdlib-no-such-user").unwrap(), None);
        assert_eq!(account("a\0b").unwrap(), None);
        assert_eq!(account("").unwrap(), None);
        assert!(group_list("root", 0).unwrap().contains(&0));
        assert!(group_list("a\0b", 0).is_err());
        let me = effective_ids().unwrap();
        // SAFETY: geteuid has no preconditions.
        assert_eq!(me.uid, unsafe { libc::geteuid() });
        if me.uid == 0 {
            let hash = shadow_password("root").unwrap();
            assert!(hash.is_some());
            assert_eq!(shadow_password("ftpdlib-no-such-user").unwrap(), None);
        }
    }

    #[test]
    fn crypt_and_salts() {
        let sha512 = "$6$saltsalt$bS8uFVRzMrb1ylbOyDWAlPhX./AH4Wgwbcp6PSOQdctbNq4.17j.43u4YKqn/mHb3zik88vMAwyrY4nYHaOFC/";
        assert_eq!(crypt("12345", "$6$saltsalt$").as_deref(), Some(sha512));
        assert_eq!(crypt("12345", sha512).as_deref(), Some(sha512));
        assert_eq!(crypt("12345", "$zz$bogus"), None);
        assert_eq!(crypt("a\0b", sha512), None);
        assert_eq!(crypt(&"x".repeat(513), sha512), None);
        let y = crypt_gensalt("$y$").unwrap();
        assert!(y.starts_with("$y$"), "{y}");
        assert_ne!(y, crypt_gensalt("$y$").unwrap());
        assert!(crypt("pw", &y).unwrap().starts_with(&y));
        assert!(crypt_gensalt("$6$").unwrap().starts_with("$6$"));
        assert_eq!(
            crypt_gensalt("$zz$").unwrap_err().kind(),
            io::ErrorKind::Unsupported
        );
        let mut buf = [0u8; 64];
        random_bytes(&mut buf).unwrap();
        assert!(buf.iter().any(|&b| b != 0));
        random_bytes(&mut []).unwrap();
    }

    #[test]
    fn effective_ids_switch_per_thread() {
        let server = effective_ids().unwrap();
        if server.uid != 0 {
            eprintln!("effective_ids_switch_per_thread: not root, skipped");
            return;
        }
        let nobody = account("nobody").unwrap().expect("nobody exists");
        let dir = std::env::temp_dir().join(format!("ftpdlib-sys-ids-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let d = dir.clone();
        let target = Ids {
            uid: nobody.uid,
            gid: nobody.gid,
            groups: group_list(&nobody.name, nobody.gid).unwrap(),
        };
        let t = std::thread::spawn(move || {
            become_ids(&target).unwrap();
            let inside = effective_ids().unwrap();
            let denied = can_search(&d).is_err();
            // No way back to root but through the saved ids: not root now.
            let regain = set_groups(&[]).is_err();
            restore_ids(&server).unwrap();
            (inside, denied, regain, effective_ids().unwrap(), server)
        });
        let (inside, denied, regain, after, server) = t.join().unwrap();
        assert_eq!((inside.uid, inside.gid), (nobody.uid, nobody.gid));
        assert!(denied && regain);
        assert_eq!(after, server);
        // The other threads never changed identity.
        assert_eq!(effective_ids().unwrap().uid, 0);
        can_search(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
