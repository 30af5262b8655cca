//! Landlock (Linux 5.13+): an unprivileged process restricts its own file
//! system access to a set of trees, irreversibly, for itself and every
//! thread and process it starts later. Three system calls
//! (`landlock_create_ruleset` 444, `landlock_add_rule` 445,
//! `landlock_restrict_self` 446, the same numbers on every architecture);
//! the C library has no wrappers, so they are made with `syscall(2)`.
//!
//! The kernel's ABI version says which access rights it knows: 1 the
//! first thirteen, 2 adds `REFER` (link and rename across directories),
//! 3 `TRUNCATE`, 5 `IOCTL_DEV`; 4 (network) and 6 (scopes) add rules this
//! module does not use. A ruleset handles only what the running kernel
//! knows ([`handled`]), so the same program works, with less
//! confinement, on older kernels.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use super::c_path;

/// `LANDLOCK_ACCESS_FS_EXECUTE`.
pub(crate) const EXECUTE: u64 = 1 << 0;
/// `LANDLOCK_ACCESS_FS_WRITE_FILE`: open a file for writing.
pub(crate) const WRITE_FILE: u64 = 1 << 1;
/// `LANDLOCK_ACCESS_FS_READ_FILE`: open a file for reading.
pub(crate) const READ_FILE: u64 = 1 << 2;
/// `LANDLOCK_ACCESS_FS_READ_DIR`: open a directory to list it.
pub(crate) const READ_DIR: u64 = 1 << 3;
/// `LANDLOCK_ACCESS_FS_REMOVE_DIR`.
pub(crate) const REMOVE_DIR: u64 = 1 << 4;
/// `LANDLOCK_ACCESS_FS_REMOVE_FILE`: unlink or rename away a file.
pub(crate) const REMOVE_FILE: u64 = 1 << 5;
/// `LANDLOCK_ACCESS_FS_MAKE_CHAR`.
pub(crate) const MAKE_CHAR: u64 = 1 << 6;
/// `LANDLOCK_ACCESS_FS_MAKE_DIR`.
pub(crate) const MAKE_DIR: u64 = 1 << 7;
/// `LANDLOCK_ACCESS_FS_MAKE_REG`: create (or rename/link into place) a file.
pub(crate) const MAKE_REG: u64 = 1 << 8;
/// `LANDLOCK_ACCESS_FS_MAKE_SOCK`.
pub(crate) const MAKE_SOCK: u64 = 1 << 9;
/// `LANDLOCK_ACCESS_FS_MAKE_FIFO`.
pub(crate) const MAKE_FIFO: u64 = 1 << 10;
/// `LANDLOCK_ACCESS_FS_MAKE_BLOCK`.
pub(crate) const MAKE_BLOCK: u64 = 1 << 11;
/// `LANDLOCK_ACCESS_FS_MAKE_SYM`.
pub(crate) const MAKE_SYM: u64 = 1 << 12;
/// `LANDLOCK_ACCESS_FS_REFER` (ABI 2): link or rename into another directory.
pub(crate) const REFER: u64 = 1 << 13;
/// `LANDLOCK_ACCESS_FS_TRUNCATE` (ABI 3).
pub(crate) const TRUNCATE: u64 = 1 << 14;
/// `LANDLOCK_ACCESS_FS_IOCTL_DEV` (ABI 5).
pub(crate) const IOCTL_DEV: u64 = 1 << 15;

/// The rights that make sense on a file (not a directory) in a rule: the
/// kernel refuses a rule on a file that grants directory rights.
pub(crate) const FILE_RIGHTS: u64 = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV;

const SYS_CREATE_RULESET: libc::c_long = 444;
const SYS_ADD_RULE: libc::c_long = 445;
const SYS_RESTRICT_SELF: libc::c_long = 446;
const CREATE_RULESET_VERSION: libc::c_long = 1;
const RULE_PATH_BENEATH: libc::c_long = 1;

/// `struct landlock_ruleset_attr`, its first field only: the kernel takes
/// a shorter struct than its own (the newer fields count as zero), so
/// network rules and scopes are simply not handled.
#[repr(C)]
struct RulesetAttr {
    handled_access_fs: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the kernel's header).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// The Landlock ABI version of the running kernel: `None` when it has no
/// Landlock or it is disabled (ENOSYS, EOPNOTSUPP).
pub(crate) fn abi_version() -> Option<u32> {
    // SAFETY: with a NULL attribute and size 0, the VERSION flag only
    // queries the ABI; no memory is read or written.
    let v = unsafe {
        libc::syscall(
            SYS_CREATE_RULESET,
            std::ptr::null::<RulesetAttr>(),
            0usize,
            CREATE_RULESET_VERSION,
        )
    };
    u32::try_from(v).ok().filter(|&v| v > 0)
}

/// Every file system right ABI `abi` knows.
pub(crate) fn handled(abi: u32) -> u64 {
    let mut rights = (MAKE_SYM << 1) - 1;
    if abi >= 2 {
        rights |= REFER;
    }
    if abi >= 3 {
        rights |= TRUNCATE;
    }
    if abi >= 5 {
        rights |= IOCTL_DEV;
    }
    rights
}

/// A ruleset being built: rights handled (denied unless a rule allows
/// them), rules added one path at a time, then applied to the calling
/// thread with [`restrict_self`](Ruleset::restrict_self).
pub(crate) struct Ruleset {
    fd: OwnedFd,
    handled: u64,
}

impl Ruleset {
    /// A ruleset handling `handled` rights (every right it does not handle
    /// stays allowed everywhere).
    pub(crate) fn new(handled: u64) -> io::Result<Ruleset> {
        let attr = RulesetAttr {
            handled_access_fs: handled,
        };
        // SAFETY: `attr` is a live, initialised struct of the size passed.
        let fd = unsafe {
            libc::syscall(
                SYS_CREATE_RULESET,
                &attr as *const RulesetAttr,
                std::mem::size_of::<RulesetAttr>(),
                0 as libc::c_long,
            )
        };
        let fd = i32::try_from(fd).map_err(|_| io::Error::other("bad ruleset descriptor"))?;
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the kernel just returned this descriptor; nobody else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Ruleset { fd, handled })
    }

    /// Allow `access` (limited to the handled rights, and to file rights
    /// when `path` is not a directory) beneath `path`. Returns the rights
    /// actually granted.
    pub(crate) fn allow(&mut self, path: &Path, access: u64) -> io::Result<u64> {
        let cpath = c_path(path)?;
        // SAFETY: `cpath` is NUL-terminated and outlives the call.
        let raw = unsafe { libc::open(cpath.as_ptr(), libc::O_PATH | libc::O_CLOEXEC) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` was just opened here and is owned by nobody else.
        let parent = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut access = access & self.handled;
        if !path.is_dir() {
            access &= FILE_RIGHTS;
        }
        if access == 0 {
            return Ok(0);
        }
        let attr = PathBeneathAttr {
            allowed_access: access,
            parent_fd: parent.as_raw_fd(),
        };
        // SAFETY: `attr` is a live, initialised rule; both descriptors are open.
        let rc = unsafe {
            libc::syscall(
                SYS_ADD_RULE,
                self.fd.as_raw_fd() as libc::c_long,
                RULE_PATH_BENEATH,
                &attr as *const PathBeneathAttr,
                0 as libc::c_long,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(access)
    }

    /// Apply the ruleset to the calling thread and the threads and
    /// processes it creates from now on. Needs `no_new_privs` (or
    /// `CAP_SYS_ADMIN`). Irreversible.
    pub(crate) fn restrict_self(self) -> io::Result<()> {
        // SAFETY: plain integers; the ruleset descriptor is open.
        let rc = unsafe {
            libc::syscall(
                SYS_RESTRICT_SELF,
                self.fd.as_raw_fd() as libc::c_long,
                0 as libc::c_long,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_grow_with_the_abi() {
        assert_eq!(handled(1), 0x1fff);
        assert_eq!(handled(2), 0x3fff);
        assert_eq!(handled(3), 0x7fff);
        assert_eq!(handled(4), 0x7fff);
        assert_eq!(handled(5), 0xffff);
        assert_eq!(handled(7), 0xffff);
    }

    #[test]
    fn rules_are_built_without_restricting_anything() {
        // Building a ruleset restricts nothing: only restrict_self does,
        // and that is tested in child processes (tests/landlock.rs).
        let Some(abi) = abi_version() else {
            eprintln!("no Landlock in this kernel: skipped");
            return;
        };
        let mut rules = Ruleset::new(handled(abi)).unwrap();
        let dir = std::env::temp_dir();
        assert_eq!(
            rules.allow(&dir, READ_DIR | READ_FILE).unwrap(),
            READ_DIR | READ_FILE
        );
        let file = super::super::tmp("landlock-rule");
        std::fs::write(&file, b"x").unwrap();
        // A file takes file rights only.
        assert_eq!(rules.allow(&file, READ_DIR | READ_FILE).unwrap(), READ_FILE);
        assert!(rules
            .allow(Path::new("/nonexistent-ftpdlib"), READ_FILE)
            .is_err());
        std::fs::remove_file(&file).unwrap();
    }
}
