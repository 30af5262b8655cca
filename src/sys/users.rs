//! System users and groups: names by id (`pwd`/`grp`), the passwd and
//! shadow databases (pyftpdlib's `pwd.getpwnam`, `spwd.getspnam`), group
//! lists, and the per-thread effective ids used to impersonate a user
//! (`os.seteuid`/`os.setegid`), with the access check made under them.

use std::ffi::{CStr, CString, OsString};
use std::io;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use super::c_path;

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

/// The names of every account of the passwd database (`getpwent`), in
/// its order. Not thread-safe in the C library: called at start-up only.
pub(crate) fn account_names() -> Vec<String> {
    let mut names = Vec::new();
    // SAFETY: setpwent/getpwent/endpwent are called from one thread at
    // start-up; each entry's name is copied before the next call.
    unsafe {
        libc::setpwent();
        loop {
            let pw = libc::getpwent();
            if pw.is_null() {
                break;
            }
            let name = c_bytes((*pw).pw_name);
            names.push(String::from_utf8_lossy(&name).into_owned());
            if names.len() >= 1 << 20 {
                break;
            }
        }
        libc::endpwent();
    }
    names
}

/// The hashed password of `name` in the shadow database (pyftpdlib
/// `spwd.getspnam(name).sp_pwd`), via `getspnam_r`; `Ok(None)` if there is
/// no entry. Reading the shadow database needs root.
/// A privilege-dropped server raises `CAP_DAC_READ_SEARCH` for the read.
pub(crate) fn shadow_password(name: &str) -> io::Result<Option<String>> {
    super::privilege::with_capability(super::privilege::CAP_DAC_READ_SEARCH, || read_shadow(name))
}

fn read_shadow(name: &str) -> io::Result<Option<String>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
        assert!(group_name(0).is_some());
        assert_eq!(user_name(4_000_000_000), None);
        assert_eq!(group_name(4_000_000_000), None);
    }

    #[test]
    fn access() {
        can_search(&std::env::temp_dir()).unwrap();
        assert!(can_search(Path::new("/nonexistent-ftpdlib")).is_err());
        assert!(can_search(Path::new("x\0")).is_err());
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
