//! Giving up privileges for good: `PR_SET_NO_NEW_PRIVS`, the switch of the
//! whole process to an unprivileged account (supplementary groups, gid,
//! uid, in that order, each checked, then verified), and the capability
//! sets kept when the server must still impersonate system users.
//!
//! Capabilities are per thread in Linux; every call here is made while the
//! process has one thread (the caller checks `sys::thread_count`), so the
//! threads started later inherit the result.

use std::io;
use std::sync::OnceLock;

use super::users::Ids;

/// `CAP_DAC_READ_SEARCH`: read any file, search any directory.
pub(crate) const CAP_DAC_READ_SEARCH: u32 = 2;
/// `CAP_SETGID`: set any gid and supplementary group list.
pub(crate) const CAP_SETGID: u32 = 6;
/// `CAP_SETUID`: set any uid.
pub(crate) const CAP_SETUID: u32 = 7;

/// `SECBIT_NO_SETUID_FIXUP`: uid changes leave the capability sets alone.
const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
/// `SECBIT_KEEP_CAPS`: permitted capabilities survive leaving uid 0.
const SECBIT_KEEP_CAPS: libc::c_ulong = 1 << 4;
/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit sets in two 32-bit words.
const CAP_VERSION_3: u32 = 0x2008_0522;

/// The identity the process dropped to, once [`drop_to`] succeeded: the
/// server's own ids from then on, which impersonation returns to after a
/// command.
static DROPPED: OnceLock<Ids> = OnceLock::new();

/// The ids the process dropped to, if it did.
pub(crate) fn dropped_ids() -> Option<&'static Ids> {
    DROPPED.get()
}

/// `prctl(PR_SET_NO_NEW_PRIVS, 1)`: no `execve` of this process or its
/// children can gain privileges again (set-uid bits and file capabilities
/// are ignored). Irreversible; needed by Landlock for unprivileged use.
pub(crate) fn set_no_new_privs() -> io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Whether `no_new_privs` is set.
pub(crate) fn no_new_privs() -> bool {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1 }
}

/// Real, effective and saved uid (`getresuid`).
pub(crate) fn res_uid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three valid, exclusively borrowed out-pointers.
    unsafe { libc::getresuid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// Real, effective and saved gid (`getresgid`).
pub(crate) fn res_gid() -> (u32, u32, u32) {
    let (mut r, mut e, mut s) = (0, 0, 0);
    // SAFETY: three valid, exclusively borrowed out-pointers.
    unsafe { libc::getresgid(&mut r, &mut e, &mut s) };
    (r, e, s)
}

/// Switch the whole process to `target` for good: supplementary groups,
/// then real/effective/saved gid, then uid (glibc's wrappers, which apply
/// to every thread), each checked; then verify that the three uids and
/// gids are the target's and that root cannot be regained.
///
/// `keep` lists capabilities to keep (for impersonation): they stay
/// permitted, `effective` of them also effective; every other capability
/// leaves the permitted, effective, inheritable, ambient and bounding
/// sets. Empty `keep`: the kernel clears every capability as the uids
/// leave 0, and that is verified too.
pub(crate) fn drop_to(target: &Ids, keep: &[u32], effective: &[u32]) -> io::Result<()> {
    let context =
        |what: &'static str| move |e: io::Error| io::Error::new(e.kind(), format!("{what}: {e}"));
    if !keep.is_empty() {
        // Uid changes below must not touch the capability sets; the sets are
        // then cut down explicitly.
        set_securebits(SECBIT_NO_SETUID_FIXUP | SECBIT_KEEP_CAPS)
            .map_err(context("PR_SET_SECUREBITS"))?;
    }
    drop_bounding(keep)?;
    let len = libc::c_int::try_from(target.groups.len())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: the kernel reads `len` gids from the live slice.
    if unsafe { libc::setgroups(len as libc::size_t, target.groups.as_ptr()) } != 0 {
        return Err(context("setgroups")(io::Error::last_os_error()));
    }
    let (u, g) = (target.uid, target.gid);
    // SAFETY: integer arguments only.
    if unsafe { libc::setresgid(g, g, g) } != 0 {
        return Err(context("setresgid")(io::Error::last_os_error()));
    }
    // SAFETY: integer arguments only.
    if unsafe { libc::setresuid(u, u, u) } != 0 {
        return Err(context("setresuid")(io::Error::last_os_error()));
    }
    if res_uid() != (u, u, u) || res_gid() != (g, g, g) {
        return Err(io::Error::other(format!(
            "after the switch the uids are {:?} and the gids {:?}, not {u} and {g}",
            res_uid(),
            res_gid()
        )));
    }
    let groups = super::users::effective_ids()?.groups;
    if !same_set(&groups, &target.groups) {
        return Err(io::Error::other(format!(
            "after setgroups the groups are {groups:?}, not {:?}",
            target.groups
        )));
    }
    if keep.is_empty() {
        let caps = capget()?;
        if caps.permitted != 0 || caps.effective != 0 {
            return Err(io::Error::other("capabilities survived the switch"));
        }
        // SAFETY: integer arguments only.
        if u != 0 && unsafe { libc::setuid(0) } == 0 {
            return Err(io::Error::other("root could be regained after the switch"));
        }
    } else {
        keep_only(keep, effective)?;
    }
    let _ = DROPPED.set(target.clone());
    Ok(())
}

fn mask(caps: &[u32]) -> u64 {
    caps.iter().fold(0u64, |m, c| m | (1u64 << c))
}

/// Remove every capability but `keep` from the bounding set (needs
/// `CAP_SETPCAP`, so while still root): not even an `execve` could get
/// them back.
fn drop_bounding(keep: &[u32]) -> io::Result<()> {
    let permitted = mask(keep);
    for cap in 0..64u32 {
        if permitted & (1 << cap) != 0 {
            continue;
        }
        // SAFETY: integer arguments only; EINVAL past the last capability.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
        if rc != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINVAL) {
                break;
            }
            return Err(io::Error::new(e.kind(), format!("PR_CAPBSET_DROP: {e}")));
        }
    }
    Ok(())
}

/// Cut the capability sets down to `keep` (permitted) and `effective`:
/// ambient, then the three thread sets; verified.
fn keep_only(keep: &[u32], effective: &[u32]) -> io::Result<()> {
    let (permitted, effective) = (mask(keep), mask(effective) & mask(keep));
    // SAFETY: integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        )
    };
    capset(Caps {
        effective,
        permitted,
        inheritable: 0,
    })?;
    let now = capget()?;
    if now.permitted != permitted || now.effective != effective || now.inheritable != 0 {
        return Err(io::Error::other(format!(
            "capabilities are {:#x}/{:#x} (permitted/effective), not {permitted:#x}/{effective:#x}",
            now.permitted, now.effective
        )));
    }
    Ok(())
}

/// Run `f` with `cap` in the calling thread's effective set when it is
/// only permitted (the privilege-dropped server raising
/// `CAP_DAC_READ_SEARCH` to read the shadow file), lowering it after;
/// otherwise just run `f`.
pub(crate) fn with_capability<T>(cap: u32, f: impl FnOnce() -> T) -> T {
    let bit = 1u64 << cap;
    let Ok(caps) = capget() else { return f() };
    if caps.effective & bit != 0 || caps.permitted & bit == 0 {
        return f();
    }
    let raised = capset(Caps {
        effective: caps.effective | bit,
        ..caps
    })
    .is_ok();
    let out = f();
    if raised && capset(caps).is_err() {
        log::error!(target: crate::log::LOGERROR, "cannot lower capability {cap} again; aborting");
        std::process::abort();
    }
    out
}

/// The gid of group `name` (`getgrnam_r`), `None` if there is none.
pub(crate) fn group_id(name: &str) -> io::Result<Option<u32>> {
    let Ok(cname) = std::ffi::CString::new(name) else {
        return Ok(None);
    };
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        // SAFETY: `group` is plain old data; all-zero is a valid value.
        let mut gr: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: live locals, the true buffer length; the strings written
        // into `gr` point into `buf` and are not used.
        let rc = unsafe {
            libc::getgrnam_r(
                cname.as_ptr(),
                &mut gr,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if result.is_null() {
            return if matches!(
                rc,
                0 | libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM
            ) {
                Ok(None)
            } else {
                Err(io::Error::from_raw_os_error(rc))
            };
        }
        return Ok(Some(gr.gr_gid));
    }
}

fn same_set(a: &[u32], b: &[u32]) -> bool {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    a.sort_unstable();
    a.dedup();
    b.sort_unstable();
    b.dedup();
    a == b
}

fn set_securebits(bits: libc::c_ulong) -> io::Result<()> {
    // SAFETY: integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_SECUREBITS, bits, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The three capability sets of the calling thread, 64 bits each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

/// `struct __user_cap_header_struct`.
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct`.
#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// `capget(2)` for the calling thread.
pub(crate) fn capget() -> io::Result<Caps> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: a valid header and the two data words version 3 expects.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let join = |lo: u32, hi: u32| u64::from(lo) | (u64::from(hi) << 32);
    Ok(Caps {
        effective: join(data[0].effective, data[1].effective),
        permitted: join(data[0].permitted, data[1].permitted),
        inheritable: join(data[0].inheritable, data[1].inheritable),
    })
}

/// `capset(2)` for the calling thread (the raw call: per thread).
fn capset(caps: Caps) -> io::Result<()> {
    let mut header = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let split = |v: u64| (v as u32, (v >> 32) as u32);
    let (e0, e1) = split(caps.effective);
    let (p0, p1) = split(caps.permitted);
    let (i0, i1) = split(caps.inheritable);
    let data = [
        CapData {
            effective: e0,
            permitted: p0,
            inheritable: i0,
        },
        CapData {
            effective: e1,
            permitted: p1,
            inheritable: i1,
        },
    ];
    // SAFETY: a valid header and the two data words version 3 expects.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_read_back() {
        let caps = capget().unwrap();
        assert_eq!(caps.effective & !caps.permitted, 0);
        // Raising a capability that is effective already changes nothing.
        let same = with_capability(CAP_SETUID, capget).unwrap();
        assert_eq!(same, caps);
    }
}
