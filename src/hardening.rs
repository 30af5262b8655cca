//! Layers below the path checks (ftpdlib extension; pyftpdlib has none):
//! what [`FtpServer::serve_forever`](crate::FtpServer::serve_forever) does
//! once its sockets are bound and its log files open, before it serves
//! the first client.
//!
//! 1. **Privilege drop** ([`Hardening::run_as`], `--run-as USER[:GROUP]`):
//!    supplementary groups, gid, uid, in that order, each checked, then
//!    verified (real, effective and saved ids all the target's). With an
//!    authorizer that switches ids per command ([`UnixAuthorizer`]), the
//!    process keeps `CAP_SETUID` and `CAP_SETGID` (effective) and
//!    `CAP_DAC_READ_SEARCH` (permitted only, raised around each read of
//!    the shadow file) and loses every other capability, the bounding
//!    set included.
//! 2. **`PR_SET_NO_NEW_PRIVS`** ([`Hardening::no_new_privs`]): nothing the
//!    process executes can gain privileges (set-uid files, file
//!    capabilities).
//! 3. **Landlock** ([`Hardening::landlock`]): the kernel confines the
//!    process's file access to the served trees, with the rights the
//!    users' permission letters need, plus the few system files the
//!    server reads; a naive [`Filesystem`](crate::Filesystem) that lets a
//!    path escape still cannot open anything outside them.
//!
//! `SECURITY.md` says what each layer stops and how to check it on a
//! running server.
//!
//! [`UnixAuthorizer`]: crate::UnixAuthorizer

use std::fmt;
use std::path::{Path, PathBuf};

use crate::authorizers::{Perm, Perms};
use crate::error::Error;
use crate::log::LOG;
use crate::sys;

/// The hardening settings of an [`FtpServer`](crate::FtpServer)
/// (`server.hardening`), all off by default (ftpdlib extension). The
/// `ftpdlib` command turns on `no_new_privs` and Landlock in
/// [`LandlockMode::Auto`].
///
/// ```no_run
/// use ftpdlib::{Access, DummyAuthorizer, FtpHandler, FtpServer};
/// use ftpdlib::{LandlockMode, LandlockRule, RunAs};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut auth = DummyAuthorizer::new();
/// auth.add_anonymous("/srv/ftp/pub")?;
/// let mut server = FtpServer::bind(("", 21), FtpHandler::new(auth))?;
/// server.hardening.run_as = Some(RunAs::parse("ftp")?);
/// server.hardening.no_new_privs = true;
/// server.hardening.landlock = LandlockMode::Required;
/// // Users added while serving will live under /srv/ftp/users.
/// let later = LandlockRule::new("/srv/ftp/users", Access::READ_WRITE);
/// server.hardening.landlock_rules.push(later);
/// server.serve_forever()?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Hardening {
    /// Switch the whole process to this account after start-up
    /// (`--run-as`). `None`: keep the identity it was started with (a
    /// warning is logged when that is root).
    pub run_as: Option<RunAs>,
    /// Set `PR_SET_NO_NEW_PRIVS` (always set when Landlock is applied,
    /// which needs it).
    pub no_new_privs: bool,
    /// Whether to confine the process with Landlock (`--landlock`).
    pub landlock: LandlockMode,
    /// Paths allowed besides those the authorizer names (your hooks' or
    /// file system's files, roots of users added while serving).
    pub landlock_rules: Vec<LandlockRule>,
}

/// Whether Landlock confines the server (`--landlock auto|required|off`;
/// ftpdlib extension).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LandlockMode {
    /// No Landlock (the library's default).
    #[default]
    Off,
    /// Confine when the kernel offers Landlock; without it, log a warning
    /// and serve as before (the command line's default).
    Auto,
    /// Confine, or fail to start.
    Required,
}

impl std::str::FromStr for LandlockMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "off" => Ok(LandlockMode::Off),
            "auto" => Ok(LandlockMode::Auto),
            "required" => Ok(LandlockMode::Required),
            _ => Err(format!("{s:?}: expected auto, required or off")),
        }
    }
}

/// The account of [`Hardening::run_as`]: a user name (or numeric uid) and
/// optionally a group (name or gid) instead of the user's primary group
/// (ftpdlib extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// User name or numeric uid.
    pub user: String,
    /// Group name or numeric gid; `None` = the user's primary group.
    pub group: Option<String>,
}

impl RunAs {
    /// Parse `USER[:GROUP]`.
    pub fn parse(spec: &str) -> Result<RunAs, String> {
        let (user, group) = match spec.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (spec, None),
        };
        if user.is_empty() || group.is_some_and(str::is_empty) {
            return Err(format!("{spec:?}: expected USER or USER:GROUP"));
        }
        Ok(RunAs {
            user: user.to_string(),
            group: group.map(str::to_string),
        })
    }
}

/// File-system rights of a Landlock rule (ftpdlib extension).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Access(u64);

impl Access {
    /// Read files and list directories.
    pub const READ: Access = Access(sys::landlock::READ_FILE | sys::landlock::READ_DIR);
    /// Write to existing files (append to a log file, for instance).
    pub const WRITE_FILE: Access = Access(sys::landlock::WRITE_FILE | sys::landlock::TRUNCATE);
    /// Everything a user holding every permission letter needs.
    pub const READ_WRITE: Access = Access(
        sys::landlock::READ_FILE
            | sys::landlock::READ_DIR
            | sys::landlock::WRITE_FILE
            | sys::landlock::TRUNCATE
            | sys::landlock::MAKE_REG
            | sys::landlock::MAKE_DIR
            | sys::landlock::MAKE_SYM
            | sys::landlock::REMOVE_FILE
            | sys::landlock::REMOVE_DIR
            | sys::landlock::REFER,
    );

    /// The rights the permission letters `perms` need: `e`/`l` list
    /// directories, `r` reads files, `a` appends (and creates), `w` writes,
    /// creates, truncates and replaces, `d` removes, `f` renames (remove + create +
    /// move across directories), `m` makes directories; `M` and `T` need
    /// none (Landlock does not restrict chmod or utimes).
    pub fn from_perms(perms: Perms) -> Access {
        use sys::landlock::*;
        let has = |p: Perm| perms.contains(p);
        let mut a = 0;
        if has(Perm::ChangeDir) || has(Perm::List) {
            a |= READ_DIR;
        }
        if has(Perm::Retrieve) {
            a |= READ_FILE;
        }
        if has(Perm::Append) {
            a |= WRITE_FILE | MAKE_REG;
        }
        if has(Perm::Store) {
            // REMOVE_FILE too: an upload written to a temporary name and
            // renamed over its target removes the name it replaces.
            a |= WRITE_FILE | MAKE_REG | TRUNCATE | REMOVE_FILE;
        }
        if has(Perm::Delete) {
            a |= REMOVE_FILE | REMOVE_DIR;
        }
        if has(Perm::Rename) {
            a |= REMOVE_FILE | REMOVE_DIR | MAKE_REG | MAKE_DIR | MAKE_SYM | REFER;
        }
        if has(Perm::MakeDir) {
            a |= MAKE_DIR;
        }
        Access(a)
    }

    /// Both sets of rights.
    pub const fn union(self, other: Access) -> Access {
        Access(self.0 | other.0)
    }

    /// Whether no right is granted.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether any right beyond reading is granted.
    pub const fn writes(self) -> bool {
        self.0 & !Access::READ.0 != 0
    }
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use sys::landlock::*;
        const NAMES: [(u64, &str); 16] = [
            (EXECUTE, "execute"),
            (WRITE_FILE, "write_file"),
            (READ_FILE, "read_file"),
            (READ_DIR, "read_dir"),
            (REMOVE_DIR, "remove_dir"),
            (REMOVE_FILE, "remove_file"),
            (MAKE_CHAR, "make_char"),
            (MAKE_DIR, "make_dir"),
            (MAKE_REG, "make_reg"),
            (MAKE_SOCK, "make_sock"),
            (MAKE_FIFO, "make_fifo"),
            (MAKE_BLOCK, "make_block"),
            (MAKE_SYM, "make_sym"),
            (REFER, "refer"),
            (TRUNCATE, "truncate"),
            (IOCTL_DEV, "ioctl_dev"),
        ];
        let names: Vec<&str> = NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, n)| *n)
            .collect();
        if names.is_empty() {
            return f.write_str("none");
        }
        f.write_str(&names.join(","))
    }
}

/// One Landlock rule: `access` beneath `path` (a directory tree or one
/// file; ftpdlib extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LandlockRule {
    /// The directory (with everything beneath it) or file.
    pub path: PathBuf,
    /// What may be done there.
    pub access: Access,
}

impl LandlockRule {
    /// `access` beneath `path`.
    pub fn new(path: impl Into<PathBuf>, access: Access) -> LandlockRule {
        LandlockRule {
            path: path.into(),
            access,
        }
    }
}

/// What an authorizer tells the hardening layers
/// ([`Authorizer::confinement`](crate::Authorizer::confinement); ftpdlib
/// extension).
#[derive(Debug, Clone, Default)]
pub struct Confinement {
    /// Every directory its users can reach (homes, anonymous's, override
    /// directories), with the permission letters held there.
    pub roots: Vec<(PathBuf, Perms)>,
    /// Files the authorizer reads while serving (`/etc/shadow`...).
    pub reads: Vec<PathBuf>,
    /// Whether `impersonate_user` switches the thread's uid and gid: after
    /// a privilege drop the process then keeps `CAP_SETUID` and
    /// `CAP_SETGID`.
    pub switches_ids: bool,
}

/// What the handler's authorizers report together: the default site's and
/// every virtual host's (`HOST`). `None` when any of them does not say.
pub(crate) fn confinement_of(handler: &crate::FtpHandler) -> Option<Confinement> {
    let mut all = handler.authorizer.confinement()?;
    let mut index = 0;
    while let Some((_, site)) = handler.site(index) {
        let c = site.authorizer.confinement()?;
        all.roots.extend(c.roots);
        all.reads.extend(c.reads);
        all.switches_ids |= c.switches_ids;
        index += 1;
    }
    Some(all)
}

/// Files every server reads while serving: the user and group databases
/// (owner names in LIST), the time zone (`--use-localtime`), `/dev/null`.
const SYSTEM_READS: [&str; 6] = [
    "/etc/passwd",
    "/etc/group",
    "/etc/nsswitch.conf",
    "/etc/localtime",
    "/usr/share/zoneinfo",
    "/dev/null",
];

/// Apply `h` for a server whose authorizer answered `confinement`: the
/// privilege drop, `no_new_privs`, then Landlock. Called by
/// `serve_forever` once, before any worker thread or process exists.
/// The lines saying what was done are logged at `level` (DEBUG in inetd
/// mode, where every session is a process); `warn_root`: say so when
/// serving as root (a pre-forked worker does not: its supervisor did).
pub(crate) fn apply(
    h: &Hardening,
    confinement: Option<Confinement>,
    level: log::Level,
    warn_root: bool,
) -> Result<(), Error> {
    if warn_root {
        warn_if_root(h);
    }
    // Names are resolved and the rules opened while the process can still
    // see everything.
    let ruleset = landlock_ruleset(h, confinement.as_ref())?;
    if let Some(run_as) = &h.run_as {
        let switches = confinement.as_ref().is_some_and(|c| c.switches_ids);
        drop_privileges(run_as, switches, level)?;
    }
    if h.no_new_privs || ruleset.is_some() {
        sys::privilege::set_no_new_privs()
            .map_err(|e| Error::Config(format!("PR_SET_NO_NEW_PRIVS: {e}")))?;
        if !sys::privilege::no_new_privs() {
            return Err(Error::Config("PR_SET_NO_NEW_PRIVS did not take".into()));
        }
        log::debug!(target: LOG, "no_new_privs set");
    }
    if let Some((rules, abi, lines)) = ruleset {
        if let Err(e) = rules.restrict_self() {
            return landlock_unavailable(h.landlock, &format!("landlock_restrict_self: {e}"));
        }
        // One line: a burst of start-up records overflows a syslog
        // socket's queue (10 datagrams by default) and loses some.
        log::log!(target: LOG, level, "Landlock ABI {abi}: file access confined to {}", lines.join(", "));
    }
    Ok(())
}

/// The one warning line of a server started as root without `run_as`.
pub(crate) fn warn_if_root(h: &Hardening) {
    let root = sys::effective_ids().is_ok_and(|ids| ids.uid == 0);
    if root && h.run_as.is_none() {
        log::warn!(target: LOG, "serving as root: every session runs with root's rights; drop them with --run-as USER (FtpServer.hardening.run_as)");
    }
}

/// The account `run_as` names, resolved, and the process switched to it.
fn drop_privileges(run_as: &RunAs, switches_ids: bool, level: log::Level) -> Result<(), Error> {
    let fail = |what: String| Error::Config(format!("--run-as {}: {what}", run_as.user));
    let account = match sys::account(&run_as.user)? {
        Some(a) => a,
        None => match run_as.user.parse::<u32>() {
            Ok(uid) => sys::Account {
                name: sys::user_name(uid).unwrap_or_else(|| uid.to_string()),
                uid,
                gid: uid,
                home: PathBuf::from("/"),
                shell: PathBuf::new(),
            },
            Err(_) => return Err(fail("no such user".into())),
        },
    };
    let gid = match &run_as.group {
        None => account.gid,
        Some(g) => match sys::privilege::group_id(g)? {
            Some(gid) => gid,
            None => g
                .parse()
                .map_err(|_| fail(format!("no such group {g:?}")))?,
        },
    };
    let groups = sys::group_list(&account.name, gid).unwrap_or_else(|_| vec![gid]);
    let target = sys::Ids {
        uid: account.uid,
        gid,
        groups,
    };
    if sys::effective_ids()? == target && sys::privilege::res_uid().0 == account.uid {
        log::log!(target: LOG, level, "already running as {} (uid {}, gid {gid})", account.name, account.uid);
        return Ok(());
    }
    let me = sys::effective_ids()?.uid;
    if me != 0 {
        return Err(fail(format!(
            "switching to another account needs a server started as root (this one runs as uid {me})"
        )));
    }
    if sys::thread_count() > 1 && switches_ids {
        return Err(fail(
            "capabilities are per thread: drop privileges before any other thread starts".into(),
        ));
    }
    use sys::privilege::{CAP_DAC_READ_SEARCH, CAP_SETGID, CAP_SETUID};
    let (keep, effective): (&[u32], &[u32]) = if switches_ids {
        (
            &[CAP_SETUID, CAP_SETGID, CAP_DAC_READ_SEARCH],
            &[CAP_SETUID, CAP_SETGID],
        )
    } else {
        (&[], &[])
    };
    sys::privilege::drop_to(&target, keep, effective).map_err(|e| fail(e.to_string()))?;
    let kept = if switches_ids {
        "; kept CAP_SETUID, CAP_SETGID (to act as each system user) and CAP_DAC_READ_SEARCH (raised only to read the shadow file)"
    } else {
        ", no capabilities"
    };
    log::log!(
        target: LOG,
        level,
        "privileges dropped: running as {} (uid {}, gid {gid}, groups {:?}){kept}",
        account.name,
        account.uid,
        target.groups
    );
    Ok(())
}

/// A built (not yet applied) ruleset with its ABI and log lines, or
/// `None` when Landlock is off or (in `Auto`) unavailable.
type Built = Option<(sys::landlock::Ruleset, u32, Vec<String>)>;

fn landlock_ruleset(h: &Hardening, confinement: Option<&Confinement>) -> Result<Built, Error> {
    if h.landlock == LandlockMode::Off {
        return Ok(None);
    }
    let Some(abi) = sys::landlock::abi_version() else {
        return landlock_unavailable(
            h.landlock,
            "the kernel offers no Landlock (Linux 5.13+ with landlock among its LSMs)",
        )
        .map(|()| None);
    };
    let Some(confinement) = confinement else {
        return landlock_unavailable(
            h.landlock,
            "the authorizer does not say which directories it serves (Authorizer::confinement)",
        )
        .map(|()| None);
    };
    if sys::thread_count() > 1 {
        log::warn!(target: LOG, "Landlock confines the thread that serves and the threads it starts; this process has other threads already, which stay unconfined");
    }
    let mut rules = merged_rules(h, confinement);
    if abi < 2 && rules.iter().any(|r| r.access.0 & sys::landlock::REFER != 0) {
        log::warn!(target: LOG, "Landlock ABI 1 cannot allow moves between directories: RNFR/RNTO into another directory will fail (EXDEV)");
    }
    // Owner names in listings: warm the NSS modules up before the files
    // they would load are out of reach.
    let _ = (sys::user_name(0), sys::group_name(0));
    rules.sort_by(|a, b| a.path.cmp(&b.path));
    let mut set = sys::landlock::Ruleset::new(sys::landlock::handled(abi))
        .map_err(|e| Error::Config(format!("landlock_create_ruleset: {e}")))?;
    let mut lines = Vec::new();
    for rule in rules {
        if rule.path == Path::new("/") {
            log::warn!(target: LOG, "a Landlock rule allows the whole file system ({:?}): a user's home or an extra rule is /", rule.access);
        }
        match set.allow(&rule.path, rule.access.0) {
            Ok(granted) => lines.push(format!("{} ({:?})", rule.path.display(), Access(granted))),
            // A system file this machine does not have needs no rule.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !rule.access.writes() => {}
            Err(e) => {
                return Err(Error::Config(format!(
                    "Landlock rule for {}: {e}",
                    rule.path.display()
                )))
            }
        }
    }
    Ok(Some((set, abi, lines)))
}

/// The served roots, the authorizer's files, the system files and the
/// extra rules, one rule per path with the union of the rights asked for
/// it.
fn merged_rules(h: &Hardening, c: &Confinement) -> Vec<LandlockRule> {
    let mut rules: Vec<LandlockRule> = Vec::new();
    let mut add = |path: &Path, access: Access| {
        let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        match rules.iter_mut().find(|r| r.path == path) {
            Some(r) => r.access = r.access.union(access),
            None => rules.push(LandlockRule { path, access }),
        }
    };
    for (root, perms) in &c.roots {
        add(root, Access::from_perms(*perms));
    }
    for file in &c.reads {
        add(file, Access::READ);
    }
    for file in SYSTEM_READS {
        add(Path::new(file), Access::READ);
    }
    for rule in &h.landlock_rules {
        add(&rule.path, rule.access);
    }
    rules.retain(|r| !r.access.is_empty());
    // A rule inside another that grants at least as much adds nothing.
    let covered = |r: &LandlockRule| {
        rules.iter().any(|o| {
            o.path != r.path && r.path.starts_with(&o.path) && r.access.0 & !o.access.0 == 0
        })
    };
    let keep: Vec<bool> = rules.iter().map(|r| !covered(r)).collect();
    let mut keep = keep.into_iter();
    rules.retain(|_| keep.next().unwrap_or(true));
    rules
}

/// Landlock cannot be applied: a warning in `Auto`, an error in `Required`.
fn landlock_unavailable(mode: LandlockMode, why: &str) -> Result<(), Error> {
    if mode == LandlockMode::Required {
        return Err(Error::Config(format!("--landlock required: {why}")));
    }
    log::warn!(target: LOG, "Landlock not applied: {why}; file access is confined by the path checks only");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_as_takes_a_user_and_an_optional_group() {
        let r = RunAs::parse("nobody").unwrap();
        assert_eq!((r.user.as_str(), r.group), ("nobody", None));
        let r = RunAs::parse("ftp:nogroup").unwrap();
        assert_eq!(r.group.as_deref(), Some("nogroup"));
        assert!(RunAs::parse("").is_err());
        assert!(RunAs::parse("a:").is_err());
        assert!(RunAs::parse(":g").is_err());
    }

    #[test]
    fn read_only_letters_grant_read_rights_only() {
        assert_eq!(Access::from_perms(Perms::READ), Access::READ);
        assert!(!Access::from_perms(Perms::READ).writes());
        assert!(Access::from_perms(Perms::ALL).writes());
        let w = Perms::parse("w").unwrap();
        assert_eq!(
            format!("{:?}", Access::from_perms(w)),
            "write_file,remove_file,make_reg,truncate"
        );
        assert_eq!(format!("{:?}", Access::default()), "none");
        assert_eq!("required".parse(), Ok(LandlockMode::Required));
        let all = Access::from_perms(Perms::ALL)
            .union(Access::READ)
            .union(Access::WRITE_FILE);
        assert_eq!(all, Access::READ_WRITE);
        assert!("yes".parse::<LandlockMode>().is_err());
    }

    #[test]
    fn landlock_without_the_authorizers_roots_is_an_error_only_when_required() {
        // Nothing is restricted here: no ruleset is built without roots.
        let mut h = Hardening {
            landlock: LandlockMode::Auto,
            ..Hardening::default()
        };
        assert!(matches!(landlock_ruleset(&h, None), Ok(None)));
        h.landlock = LandlockMode::Required;
        let err = landlock_ruleset(&h, None).err().map(|e| e.to_string());
        let err = err.unwrap_or_default();
        assert!(err.contains("--landlock required"), "{err}");
        h.landlock = LandlockMode::Off;
        assert!(matches!(
            landlock_ruleset(&h, Some(&Confinement::default())),
            Ok(None)
        ));
    }

    #[test]
    fn rules_merge_per_path() {
        let dir = tempfile::tempdir().unwrap();
        let c = Confinement {
            roots: vec![
                (dir.path().to_path_buf(), Perms::READ),
                (dir.path().to_path_buf(), Perms::parse("w").unwrap()),
            ],
            ..Confinement::default()
        };
        let inner = dir.path().join("inner");
        std::fs::create_dir(&inner).unwrap();
        let mut h = Hardening::default();
        h.landlock_rules
            .push(LandlockRule::new(&inner, Access::READ));
        let rules = merged_rules(&h, &c);
        let root = std::fs::canonicalize(dir.path()).unwrap();
        assert!(
            !rules.iter().any(|r| r.path.ends_with("inner")),
            "a rule inside a wider one is dropped"
        );
        let mine: Vec<_> = rules.iter().filter(|r| r.path == root).collect();
        assert_eq!(mine.len(), 1);
        assert_eq!(
            mine[0].access,
            Access::READ.union(Access::from_perms(Perms::parse("w").unwrap()))
        );
    }
}
