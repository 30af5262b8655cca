//! The user's view of the file store (pyftpdlib's `filesystems.py`).
//!
//! [`Filesystem`] is pyftpdlib's `AbstractedFS` interface: virtual (FTP) paths
//! are `&str` with `/` separators, real paths are [`Path`]s. [`AbstractedFs`]
//! is the default implementation, confining a user to a home directory
//! (symlinks resolved, see [`Filesystem::validpath`]); [`UnixFilesystem`]
//! (in `filesystems/unix.rs`) shows the whole machine, unconfined. The free
//! functions render `LIST` and `MLSD`/`MLST` lines and `MDTM` times.

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::ffi::OsString;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::authorizers::{Perm, Perms};
use crate::error::FilesystemError;
use crate::sys;

mod unix;

pub use unix::UnixFilesystem;

const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;

/// Result of `stat`/`lstat` (pyftpdlib's `os.stat_result`), independent of
/// [`fs::Metadata`] so other stores can build it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stat {
    /// `st_mode`, file type bits included.
    pub mode: u32,
    /// `st_nlink`.
    pub nlink: u64,
    /// `st_uid`.
    pub uid: u32,
    /// `st_gid`.
    pub gid: u32,
    /// `st_size` in bytes.
    pub size: u64,
    /// `st_mtime`, epoch seconds.
    pub mtime: i64,
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
}

impl Stat {
    /// Converts std metadata (pyftpdlib uses `os.stat_result` directly).
    pub fn from_metadata(m: &fs::Metadata) -> Stat {
        Stat {
            mode: m.mode(),
            nlink: m.nlink(),
            uid: m.uid(),
            gid: m.gid(),
            size: m.size(),
            mtime: m.mtime(),
            dev: m.dev(),
            ino: m.ino(),
        }
    }

    /// `stat.S_ISDIR(mode)`.
    pub fn is_dir(&self) -> bool {
        self.mode & S_IFMT == S_IFDIR
    }

    /// `stat.S_ISREG(mode)`.
    pub fn is_file(&self) -> bool {
        self.mode & S_IFMT == S_IFREG
    }

    /// `stat.S_ISLNK(mode)`.
    pub fn is_symlink(&self) -> bool {
        self.mode & S_IFMT == S_IFLNK
    }
}

/// How [`Filesystem::open`] opens a file (pyftpdlib's `open()` modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// `"rb"`: existing file, read only.
    Read,
    /// `"wb"`: create or truncate, write only.
    Write,
    /// `"ab"`: create if missing, every write appends.
    Append,
    /// `"r+b"`: existing file, read/write, not truncated (REST + STOR).
    Resume,
}

/// An open file of a [`Filesystem`] (pyftpdlib's file objects).
/// [`raw_fd`](FileHandle::raw_fd) lets the data channel use `sendfile(2)`.
pub trait FileHandle: io::Read + io::Write + io::Seek {
    /// The OS descriptor, if any (pyftpdlib's `file.fileno()`).
    fn raw_fd(&self) -> Option<RawFd> {
        None
    }

    /// Truncates or extends the file to `len` bytes (`file.truncate`).
    fn set_len(&mut self, _len: u64) -> io::Result<()> {
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

impl FileHandle for fs::File {
    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.as_raw_fd())
    }

    fn set_len(&mut self, len: u64) -> io::Result<()> {
        fs::File::set_len(self, len)
    }
}

/// A user's view of a store (pyftpdlib `AbstractedFS`). Real paths are
/// [`Path`]s, virtual (FTP) paths are `&str` with `/` separators. Errors may
/// carry a [`FilesystemError`] (`io::Error::other`) to choose the 550 text.
pub trait Filesystem {
    /// A copy of this view (same root and cwd) for a directory listing that
    /// the data channel produces while the session goes on. Stores backed by
    /// shared state clone a handle to it.
    fn box_clone(&self) -> Box<dyn Filesystem>;
    /// The real home directory (`AbstractedFS.root`).
    fn root(&self) -> &Path;
    /// The virtual working directory, starting at `/` (`AbstractedFS.cwd`).
    fn cwd(&self) -> &str;
    /// Normalized absolute virtual path, relative to the cwd (`ftpnorm`).
    fn ftpnorm(&self, ftppath: &str) -> String;
    /// Virtual path to real path (`ftp2fs`).
    fn ftp2fs(&self, ftppath: &str) -> PathBuf;
    /// Real path to virtual path; outside the root gives `/` (`fs2ftp`).
    fn fs2ftp(&self, fspath: &Path) -> String;
    /// Whether `path` is inside the root after resolving symlinks (`validpath`).
    fn validpath(&self, path: &Path) -> bool;
    /// Makes `path` the working directory (`chdir`).
    fn chdir(&mut self, path: &Path) -> io::Result<()>;
    /// Opens a file (`open`).
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn FileHandle>>;
    /// Creates a new uniquely named file in `dir` (`mkstemp`, for STOU).
    fn mkstemp(&self, dir: &Path, prefix: &str) -> io::Result<(Box<dyn FileHandle>, PathBuf)>;
    /// `mkdir`.
    fn mkdir(&self, path: &Path) -> io::Result<()>;
    /// `rmdir`.
    fn rmdir(&self, path: &Path) -> io::Result<()>;
    /// `remove` (a file).
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// `rename`.
    fn rename(&self, src: &Path, dst: &Path) -> io::Result<()>;
    /// `chmod`.
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// `stat` (symlinks followed).
    fn stat(&self, path: &Path) -> io::Result<Stat>;
    /// `lstat` (symlinks not followed).
    fn lstat(&self, path: &Path) -> io::Result<Stat>;
    /// `readlink`.
    fn readlink(&self, path: &Path) -> io::Result<PathBuf>;
    /// Sets atime and mtime to `mtime` epoch seconds (`utime`).
    fn utime(&self, path: &Path, mtime: i64) -> io::Result<()>;
    /// Entry names of a directory sorted by raw bytes (`listdir`).
    fn listdir(&self, path: &Path) -> io::Result<Vec<OsString>>;
    /// `os.path.isfile`.
    fn isfile(&self, path: &Path) -> bool;
    /// `os.path.isdir`.
    fn isdir(&self, path: &Path) -> bool;
    /// `os.path.islink`.
    fn islink(&self, path: &Path) -> bool;
    /// `os.path.lexists`.
    fn lexists(&self, path: &Path) -> bool;
    /// `os.path.getsize`.
    fn getsize(&self, path: &Path) -> io::Result<u64>;
    /// `os.path.getmtime` (epoch seconds).
    fn getmtime(&self, path: &Path) -> io::Result<i64>;
    /// `os.path.realpath` (missing components kept).
    fn realpath(&self, path: &Path) -> io::Result<PathBuf>;
    /// User name of `uid`, or the number as text (`get_user_by_uid`).
    fn get_user_by_uid(&self, uid: u32) -> String;
    /// Group name of `gid`, or the number as text (`get_group_by_gid`).
    fn get_group_by_gid(&self, gid: u32) -> String;
}

/// Entries kept per name cache (users, groups).
const NAME_CACHE_LEN: usize = 64;

/// The default confined file system (pyftpdlib `AbstractedFS`).
#[derive(Debug, Clone)]
pub struct AbstractedFs {
    root: PathBuf,
    cwd: String,
    users: NameCache,
    groups: NameCache,
}

impl AbstractedFs {
    /// A file system rooted at `root` (expected canonical, kept as given),
    /// cwd `/` (pyftpdlib `AbstractedFS(root, cmd_channel)`).
    pub fn new(root: impl Into<PathBuf>) -> AbstractedFs {
        AbstractedFs {
            root: root.into(),
            cwd: "/".to_owned(),
            users: RefCell::default(),
            groups: RefCell::default(),
        }
    }
}

type NameCache = RefCell<Vec<(u32, String)>>;

/// Looks `id` up in `cache`, else computes, stores (bounded) and returns it.
fn cached_name(cache: &NameCache, id: u32, f: fn(u32) -> Option<String>) -> String {
    if let Some((_, n)) = cache.borrow().iter().find(|(k, _)| *k == id) {
        return n.clone();
    }
    let name = f(id).unwrap_or_else(|| id.to_string());
    let mut c = cache.borrow_mut();
    if c.len() >= NAME_CACHE_LEN {
        c.remove(0);
    }
    c.push((id, name.clone()));
    name
}

/// Normalizes `ftppath` against `cwd` (pyftpdlib `ftpnorm`): `/` is the only
/// separator, empty and `.` segments vanish, `..` never climbs above `/`.
fn norm_virtual(cwd: &str, ftppath: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let base = if ftppath.starts_with('/') { "" } else { cwd };
    for seg in base.split('/').chain(ftppath.split('/')) {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    let mut out = String::with_capacity(ftppath.len() + cwd.len() + 1);
    for p in &parts {
        out.push('/');
        out.push_str(p);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// Lexical normalization of a real path (`os.path.normpath`).
fn normpath(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// Non-strict `realpath` (Python's `os.path.realpath`): resolves every
/// symlink, including dangling ones, and keeps missing components as they
/// are. Symlink loops give `ELOOP`.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    if path.as_os_str().as_bytes().contains(&0) {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    if let Ok(p) = fs::canonicalize(path) {
        return Ok(p);
    }
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    // Pending components, next one last.
    let mut stack: Vec<OsString> = Vec::new();
    let push_all = |stack: &mut Vec<OsString>, p: &Path| {
        let comps: Vec<OsString> = p.components().map(|c| c.as_os_str().to_owned()).collect();
        stack.extend(comps.into_iter().rev());
    };
    push_all(&mut stack, &abs);
    let mut out = PathBuf::from("/");
    let mut hops = 0;
    while let Some(seg) = stack.pop() {
        match seg.as_bytes() {
            b"/" => out = PathBuf::from("/"),
            b"." => {}
            b".." => {
                out.pop();
            }
            _ => {
                let cand = out.join(&seg);
                match fs::symlink_metadata(&cand) {
                    Ok(m) if m.file_type().is_symlink() => {
                        hops += 1;
                        if hops > 40 {
                            return Err(io::Error::from_raw_os_error(libc::ELOOP));
                        }
                        push_all(&mut stack, &fs::read_link(&cand)?);
                    }
                    _ => out = cand,
                }
            }
        }
    }
    Ok(out)
}

impl Filesystem for AbstractedFs {
    fn box_clone(&self) -> Box<dyn Filesystem> {
        Box::new(self.clone())
    }

    fn root(&self) -> &Path {
        &self.root
    }

    fn cwd(&self) -> &str {
        &self.cwd
    }

    fn ftpnorm(&self, ftppath: &str) -> String {
        norm_virtual(&self.cwd, ftppath)
    }

    fn ftp2fs(&self, ftppath: &str) -> PathBuf {
        let norm = self.ftpnorm(ftppath);
        let rel = &norm[1..];
        let root = normpath(&self.root);
        if rel.is_empty() {
            root
        } else {
            root.join(rel)
        }
    }

    fn fs2ftp(&self, fspath: &Path) -> String {
        let p = if fspath.is_absolute() {
            normpath(fspath)
        } else {
            normpath(&self.root.join(fspath))
        };
        if !self.validpath(&p) {
            return "/".to_owned();
        }
        let Ok(rest) = p.strip_prefix(normpath(&self.root)) else {
            return "/".to_owned();
        };
        norm_virtual("/", &rest.to_string_lossy())
    }

    fn validpath(&self, path: &Path) -> bool {
        let (Ok(root), Ok(real)) = (resolve(&self.root), resolve(path)) else {
            return false;
        };
        real.starts_with(root)
    }

    fn chdir(&mut self, path: &Path) -> io::Result<()> {
        if !fs::metadata(path)?.is_dir() {
            return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
        }
        sys::can_search(path)?;
        self.cwd = self.fs2ftp(path);
        Ok(())
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn FileHandle>> {
        let mut o = fs::OpenOptions::new();
        match mode {
            OpenMode::Read => o.read(true),
            OpenMode::Write => o.write(true).create(true).truncate(true),
            OpenMode::Append => o.append(true).create(true),
            OpenMode::Resume => o.read(true).write(true),
        };
        Ok(Box::new(o.open(path)?))
    }

    fn mkstemp(&self, dir: &Path, prefix: &str) -> io::Result<(Box<dyn FileHandle>, PathBuf)> {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789_";
        let state = RandomState::new();
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        for attempt in 0u32..50 {
            let mut h = state.build_hasher();
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            h.write_u32(attempt);
            let mut bits = h.finish();
            let mut name = prefix.as_bytes().to_vec();
            for _ in 0..8 {
                let idx = usize::try_from(bits % CHARS.len() as u64).unwrap_or(0);
                name.push(CHARS[idx]);
                bits /= CHARS.len() as u64;
            }
            let path = dir.join(OsString::from_vec(name));
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(f) => return Ok((Box::new(f), path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(FilesystemError(
            "No usable unique file name found".to_owned(),
        )))
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        fs::create_dir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir(path)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn rename(&self, src: &Path, dst: &Path) -> io::Result<()> {
        fs::rename(src, dst)
    }

    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }

    fn stat(&self, path: &Path) -> io::Result<Stat> {
        fs::metadata(path).map(|m| Stat::from_metadata(&m))
    }

    fn lstat(&self, path: &Path) -> io::Result<Stat> {
        fs::symlink_metadata(path).map(|m| Stat::from_metadata(&m))
    }

    fn readlink(&self, path: &Path) -> io::Result<PathBuf> {
        fs::read_link(path)
    }

    fn utime(&self, path: &Path, mtime: i64) -> io::Result<()> {
        sys::set_mtime(path, mtime)
    }

    fn listdir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        let mut names = fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<Vec<_>>>()?;
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        Ok(names)
    }

    fn isfile(&self, path: &Path) -> bool {
        fs::metadata(path).is_ok_and(|m| m.is_file())
    }

    fn isdir(&self, path: &Path) -> bool {
        fs::metadata(path).is_ok_and(|m| m.is_dir())
    }

    fn islink(&self, path: &Path) -> bool {
        fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
    }

    fn lexists(&self, path: &Path) -> bool {
        fs::symlink_metadata(path).is_ok()
    }

    fn getsize(&self, path: &Path) -> io::Result<u64> {
        fs::metadata(path).map(|m| m.len())
    }

    fn getmtime(&self, path: &Path) -> io::Result<i64> {
        fs::metadata(path).map(|m| m.mtime())
    }

    fn realpath(&self, path: &Path) -> io::Result<PathBuf> {
        resolve(path)
    }

    fn get_user_by_uid(&self, uid: u32) -> String {
        cached_name(&self.users, uid, sys::user_name)
    }

    fn get_group_by_gid(&self, gid: u32) -> String {
        cached_name(&self.groups, gid, sys::group_name)
    }
}

/// MLST/MLSD facts, a bit set (pyftpdlib's `_available_facts` /
/// `_current_facts` lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts(u16);

/// Fact names in canonical order; name `i` is bit `1 << i`.
const FACT_NAMES: &str = "type size modify perm unique unix.mode unix.uid unix.gid";

impl Facts {
    /// No fact (pyftpdlib `[]`, after `OPTS MLST` with an empty list).
    pub const NONE: Facts = Facts(0);
    /// `type`: file, dir, cdir, pdir.
    pub const TYPE: Facts = Facts(1);
    /// `size`: `st_size`.
    pub const SIZE: Facts = Facts(1 << 1);
    /// `modify`: mtime as `YYYYMMDDHHMMSS`.
    pub const MODIFY: Facts = Facts(1 << 2);
    /// `perm`: RFC 3659 permission letters.
    pub const PERM: Facts = Facts(1 << 3);
    /// `unique`: `<dev hex>g<ino hex>`.
    pub const UNIQUE: Facts = Facts(1 << 4);
    /// `unix.mode`: permission bits in octal.
    pub const UNIX_MODE: Facts = Facts(1 << 5);
    /// `unix.uid`: numeric owner.
    pub const UNIX_UID: Facts = Facts(1 << 6);
    /// `unix.gid`: numeric group.
    pub const UNIX_GID: Facts = Facts(1 << 7);
    /// Every fact (pyftpdlib `_available_facts` on POSIX).
    pub const AVAILABLE: Facts = Facts(0xff);
    /// Enabled by default: type, perm, size, modify, unique (pyftpdlib
    /// `_current_facts`).
    pub const DEFAULT: Facts = Facts(0x1f);

    /// Whether every fact of `other` is in `self` (pyftpdlib `fact in facts`).
    pub fn contains(self, other: Facts) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of two sets (pyftpdlib list concatenation).
    pub fn union(self, other: Facts) -> Facts {
        Facts(self.0 | other.0)
    }

    /// Parses the argument of `OPTS MLST` (`"type;size;UNIX.mode;"`):
    /// names lower-cased, unknown ones dropped, as pyftpdlib `ftp_OPTS`.
    pub fn parse_opts(arg: &str) -> Facts {
        arg.split(';').fold(Facts::NONE, |acc, f| {
            let f = f.to_ascii_lowercase();
            let bit = FACT_NAMES.split(' ').position(|n| n == f);
            bit.map_or(acc, |i| acc.union(Facts(1 << i)))
        })
    }

    /// The names of the facts in the set, canonical order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        let names = FACT_NAMES.split(' ').enumerate();
        names
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| n)
    }

    /// The FEAT `MLST` argument (pyftpdlib `ftp_FEAT`): every available fact
    /// in pyftpdlib's order, `*` after the enabled ones, each ending in `;`.
    pub fn feat_line(enabled: Facts) -> String {
        let mut out = String::new();
        for name in "type perm size modify unique unix.mode unix.uid unix.gid".split(' ') {
            out.push_str(name);
            if enabled.contains(Facts::parse_opts(name)) {
                out.push('*');
            }
            out.push(';');
        }
        out
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Ten-character `ls -l` mode string (Python `stat.filemode`).
fn filemode(mode: u32) -> [u8; 10] {
    let kind = match mode & S_IFMT {
        S_IFLNK => b'l',
        0o140_000 => b's',
        S_IFREG => b'-',
        0o060_000 => b'b',
        S_IFDIR => b'd',
        0o020_000 => b'c',
        0o010_000 => b'p',
        _ => b'-',
    };
    let mut s = [kind, b'-', b'-', b'-', b'-', b'-', b'-', b'-', b'-', b'-'];
    for (i, who) in [(0o700u32, 6u32), (0o070, 3), (0o007, 0)]
        .iter()
        .enumerate()
    {
        let bits = (mode & who.0) >> who.1;
        let at = 1 + i * 3;
        if bits & 4 != 0 {
            s[at] = b'r';
        }
        if bits & 2 != 0 {
            s[at + 1] = b'w';
        }
        let special = mode & [0o4000, 0o2000, 0o1000][i] != 0;
        let (on, off) = if i == 2 { (b't', b'T') } else { (b's', b'S') };
        s[at + 2] = match (bits & 1 != 0, special) {
            (true, true) => on,
            (false, true) => off,
            (true, false) => b'x',
            (false, false) => b'-',
        };
    }
    s
}

/// Appends one `LIST` line for `path` (lstat, links not followed) to `out`:
/// `perms nlink owner group size date name\r\n`, where `name` is what to
/// display and symlinks render as `name -> target` (pyftpdlib
/// `AbstractedFS.format_list`, one entry). The date shows the year instead
/// of `HH:MM` when `now - mtime` exceeds 180 days; `utc` selects UTC
/// (`use_gmt_times`).
pub fn format_list_entry(
    fs: &dyn Filesystem,
    path: &Path,
    name: &[u8],
    now: i64,
    utc: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let st = fs.lstat(path)?;
    let mut tm = sys::broken_down(st.mtime, utc);
    if tm.year < 1900 {
        tm = sys::broken_down(now, utc);
    }
    let month = MONTHS[usize::try_from(tm.month.clamp(1, 12) - 1).unwrap_or(0)];
    let date = if now.saturating_sub(st.mtime) > 180 * 86_400 {
        format!("{month} {:02}  {}", tm.day, tm.year)
    } else {
        format!("{month} {:02} {:02}:{:02}", tm.day, tm.hour, tm.min)
    };
    out.extend_from_slice(&filemode(st.mode));
    let head = format!(
        " {:>3} {:<8} {:<8} {:>8} {date} ",
        st.nlink.max(1),
        fs.get_user_by_uid(st.uid),
        fs.get_group_by_gid(st.gid),
        st.size
    );
    out.extend_from_slice(head.as_bytes());
    out.extend_from_slice(name);
    if st.is_symlink() {
        if let Ok(target) = fs.readlink(path) {
            out.extend_from_slice(b" -> ");
            out.extend_from_slice(target.as_os_str().as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// The RFC 3659 `perm` fact (pyftpdlib `format_mlsx`): directories drop
/// a, r, w and get `c` if any of w/a/f, `p` if d; files drop c, e, l, m, p.
fn perm_fact(perms: Perms, is_dir: bool) -> String {
    let dropped = if is_dir { "arw" } else { "celmp" };
    let mut s = perms.to_letters();
    s.retain(|c| !dropped.contains(c));
    if is_dir {
        let creates = [Perm::Store, Perm::Append, Perm::Rename];
        if creates.into_iter().any(|p| perms.contains(p)) {
            s.push('c');
        }
        if perms.contains(Perm::Delete) {
            s.push('p');
        }
    }
    s
}

/// Appends one `MLSD`/`MLST` line for `path` (stat, symlinks followed) to
/// `out`: the enabled `facts` sorted by name as `name=value;`, one space,
/// `name`, CRLF (pyftpdlib `AbstractedFS.format_mlsx`, one entry). `perms`
/// are the user's permissions there; `utc` selects UTC for `modify`.
/// `unix.mode` is RFC-style octal (`0644`), not Python's `0o644`.
pub fn format_mlsx_entry(
    fs: &dyn Filesystem,
    path: &Path,
    name: &[u8],
    perms: Perms,
    facts: Facts,
    utc: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let st = fs.stat(path)?;
    // Sorted by fact name: modify, perm, size, type, unique, unix.gid,
    // unix.mode, unix.uid.
    let mut line = String::with_capacity(128);
    if facts.contains(Facts::MODIFY) {
        line.push_str(&format!("modify={};", format_mdtm(st.mtime, utc)));
    }
    if facts.contains(Facts::PERM) {
        line.push_str(&format!("perm={};", perm_fact(perms, st.is_dir())));
    }
    if facts.contains(Facts::SIZE) {
        line.push_str(&format!("size={};", st.size));
    }
    if facts.contains(Facts::TYPE) {
        let kind = match name {
            b"." => "cdir",
            b".." => "pdir",
            _ if st.is_dir() => "dir",
            _ => "file",
        };
        line.push_str(&format!("type={kind};"));
    }
    if facts.contains(Facts::UNIQUE) {
        line.push_str(&format!("unique={:x}g{:x};", st.dev, st.ino));
    }
    if facts.contains(Facts::UNIX_GID) {
        line.push_str(&format!("unix.gid={};", st.gid));
    }
    if facts.contains(Facts::UNIX_MODE) {
        line.push_str(&format!("unix.mode=0{:03o};", st.mode & 0o7777));
    }
    if facts.contains(Facts::UNIX_UID) {
        line.push_str(&format!("unix.uid={};", st.uid));
    }
    line.push(' ');
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// `YYYYMMDDHHMMSS` for MDTM and the `modify` fact (pyftpdlib
/// `time.strftime("%Y%m%d%H%M%S", timefunc(mtime))`).
pub fn format_mdtm(mtime: i64, utc: bool) -> String {
    let t = sys::broken_down(mtime, utc);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.min, t.sec
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses MFMT's `YYYYMMDDHHMMSS` as UTC into epoch seconds (pyftpdlib
/// `ftp_MFMT`: `strptime` + `calendar.timegm`); `None` unless exactly 14
/// digits forming a valid date and time.
pub fn parse_mdtm(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 14 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0'));
    let (y, mo, d) = (num(0..4), num(4..6), num(6..8));
    let (h, mi, sec) = (num(8..10), num(10..12), num(12..14));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let mdays = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&mo) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    if d < 1 || d > mdays {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A unique temp dir holding `home/sub`, removed on drop.
    struct TmpDir(PathBuf);
    impl TmpDir {
        fn new(tag: &str) -> (TmpDir, PathBuf, AbstractedFs) {
            let n = std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos();
            let name = format!("ftpdlib-fs-{tag}-{}-{n}", std::process::id());
            let p = fs::canonicalize(std::env::temp_dir()).unwrap().join(name);
            fs::create_dir_all(p.join("home/sub")).unwrap();
            let home = p.join("home");
            (TmpDir(p), home.clone(), AbstractedFs::new(home))
        }
    }
    impl Drop for TmpDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    /// `home/b.txt`: 12 bytes, mode 0644, mtime 2020-01-15 10:20:30 UTC.
    fn b_txt(afs: &AbstractedFs, home: &Path) -> PathBuf {
        let p = home.join("b.txt");
        fs::write(&p, b"hello world!").unwrap();
        afs.chmod(&p, 0o644).unwrap();
        afs.utime(&p, 1_579_083_630).unwrap();
        p
    }

    #[test]
    fn ftpnorm_table() {
        let mut afs = AbstractedFs::new("/srv");
        let table = "=/ ..=/ /../..=/ //x=/x a/./b=/a/b a/b/=/a/b a\\b=/a\\b /a//b/../c/.=/a/c";
        for (input, want) in table.split(' ').filter_map(|c| c.split_once('=')) {
            assert_eq!(afs.ftpnorm(input), want, "{input:?}");
        }
        afs.cwd = "/x/y".to_owned();
        let table = "=/x/y ../z=/x/z ../../../..=/ /abs=/abs z/=/x/y/z";
        for (input, want) in table.split(' ').filter_map(|c| c.split_once('=')) {
            assert_eq!(afs.ftpnorm(input), want, "{input:?}");
        }
    }

    #[test]
    fn ftp2fs_fs2ftp() {
        let (t, home, afs) = TmpDir::new("map");
        assert_eq!(afs.ftp2fs("/"), home);
        assert_eq!(afs.ftp2fs("../sub/x"), home.join("sub/x"));
        for v in ["/", "/sub", "/sub/missing/deeper", "/a b"] {
            assert_eq!(afs.fs2ftp(&afs.ftp2fs(v)), v);
        }
        assert_eq!(afs.fs2ftp(Path::new("sub")), "/sub");
        assert_eq!(afs.fs2ftp(&home.join("../home/sub")), "/sub");
        assert_eq!(afs.fs2ftp(&t.0), "/");
        assert_eq!(afs.fs2ftp(Path::new("/etc")), "/");
        let slash = AbstractedFs::new("/");
        assert_eq!(slash.ftp2fs("/etc/../x"), PathBuf::from("/x"));
        assert_eq!(slash.ftp2fs(""), PathBuf::from("/"));
        assert_eq!(slash.fs2ftp(Path::new("/etc/passwd")), "/etc/passwd");
    }

    #[test]
    fn validpath_and_chdir() {
        let (t, home, mut afs) = TmpDir::new("valid");
        fs::create_dir(t.0.join("outside")).unwrap();
        symlink(t.0.join("outside"), home.join("escape")).unwrap();
        symlink("sub", home.join("inner")).unwrap();
        symlink(t.0.join("gone"), home.join("dangling-out")).unwrap();
        symlink("sub/gone", home.join("dangling-in")).unwrap();
        symlink("loop", home.join("loop")).unwrap();
        let valid = |rel: &str| afs.validpath(&home.join(rel));
        for ok in [
            "",
            "sub",
            "inner",
            "inner/new.txt",
            "missing/child",
            "dangling-in",
        ] {
            assert!(valid(ok), "{ok}");
        }
        for bad in [
            "escape",
            "escape/new",
            "dangling-out",
            "loop",
            "a\0b",
            "..",
            "sub/../..",
        ] {
            assert!(!valid(bad), "{bad}");
        }
        assert!(!afs.validpath(Path::new("/")));
        assert_eq!(afs.fs2ftp(&home.join("escape")), "/");
        assert_eq!(afs.fs2ftp(&home.join("inner")), "/inner");
        assert_eq!(
            afs.realpath(&home.join("inner/x/../y")).unwrap(),
            home.join("sub/y")
        );
        assert!(afs.realpath(Path::new("\0")).is_err());
        afs.chdir(&home.join("inner")).unwrap();
        assert_eq!(afs.cwd(), "/inner");
        fs::write(home.join("f"), b"").unwrap();
        assert!(afs.chdir(&home.join("f")).is_err() && afs.chdir(&home.join("nope")).is_err());
        assert!(afs.chdir(&home.join("a\0")).is_err());
        assert_eq!(
            (afs.cwd(), afs.ftp2fs("x")),
            ("/inner", home.join("inner/x"))
        );
    }

    #[test]
    fn file_operations() {
        let (_t, home, afs) = TmpDir::new("ops");
        let p = home.join("a.txt");
        afs.open(&p, OpenMode::Write)
            .unwrap()
            .write_all(b"hello")
            .unwrap();
        afs.open(&p, OpenMode::Append)
            .unwrap()
            .write_all(b" world")
            .unwrap();
        let mut h = afs.open(&p, OpenMode::Resume).unwrap();
        h.write_all(b"J").unwrap();
        h.set_len(7).unwrap();
        assert!(h.raw_fd().is_some());
        drop(h);
        let mut s = String::new();
        afs.open(&p, OpenMode::Read)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        assert_eq!(s, "Jello w");
        assert!(afs.open(&home.join("none"), OpenMode::Resume).is_err());
        assert!(afs.open(&home.join("a\0"), OpenMode::Write).is_err());
        let (mut f, name) = afs.mkstemp(&home, "up.").unwrap();
        f.write_all(b"x").unwrap();
        let base = name.file_name().unwrap().to_str().unwrap();
        assert!(base.starts_with("up.") && base.len() == 11 && name.parent() == Some(&*home));
        assert_ne!(afs.mkstemp(&home, "up.").unwrap().1, name);
        assert!(afs.mkstemp(&home.join("nodir"), "").is_err());
        afs.mkdir(&home.join("B")).unwrap();
        afs.rename(&name, &home.join("c")).unwrap();
        let names = afs.listdir(&home).unwrap();
        assert_eq!(&names[..4], ["B", "a.txt", "c", "sub"].map(OsString::from));
        assert!(afs.isfile(&p) && !afs.isdir(&p) && afs.isdir(&home) && afs.lexists(&p));
        assert_eq!(afs.getsize(&p).unwrap(), 7);
        afs.utime(&p, 1_000_000).unwrap();
        assert_eq!(afs.getmtime(&p).unwrap(), 1_000_000);
        afs.chmod(&p, 0o600).unwrap();
        assert_eq!(afs.stat(&p).unwrap().mode, 0o100_600);
        assert!(afs.stat(&p).unwrap().is_file() && afs.lstat(&home).unwrap().is_dir());
        symlink("a.txt", home.join("ln")).unwrap();
        assert!(afs.islink(&home.join("ln")) && afs.lstat(&home.join("ln")).unwrap().is_symlink());
        assert_eq!(
            afs.readlink(&home.join("ln")).unwrap(),
            PathBuf::from("a.txt")
        );
        afs.remove(&p).unwrap();
        afs.rmdir(&home.join("B")).unwrap();
        assert!(!afs.lexists(&p) && afs.rmdir(&home.join("B")).is_err());
        assert_eq!(afs.get_user_by_uid(0), "root");
        assert_eq!(afs.get_user_by_uid(4_000_000_000), "4000000000");
        assert_eq!(afs.get_group_by_gid(4_000_000_001), "4000000001");
        (0..100).for_each(|i| drop(afs.get_user_by_uid(4_000_000_000 + i)));
        assert_eq!(afs.users.borrow().len(), NAME_CACHE_LEN);
    }

    #[test]
    fn mode_strings() {
        let table = "100644=-rw-r--r-- 40755=drwxr-xr-x 120777=lrwxrwxrwx 104755=-rwsr-xr-x \
                     102644=-rw-r-Sr-- 41777=drwxrwxrwt 41754=drwxr-xr-T 20620=crw--w---- \
                     60660=brw-rw---- 10600=prw------- 140755=srwxr-xr-x";
        for (mode, want) in table.split(' ').filter_map(|c| c.split_once('=')) {
            let mode = u32::from_str_radix(mode, 8).unwrap();
            assert_eq!(filemode(mode), want.as_bytes(), "{mode:o}");
        }
    }

    #[test]
    fn list_lines() {
        let (_t, home, afs) = TmpDir::new("list");
        let p = b_txt(&afs, &home);
        let st = afs.lstat(&p).unwrap();
        let (user, group) = (afs.get_user_by_uid(st.uid), afs.get_group_by_gid(st.gid));
        let line = |path: &Path, name: &str, now: i64| {
            let mut out = Vec::new();
            format_list_entry(&afs, path, name.as_bytes(), now, true, &mut out).map(|()| out)
        };
        let head = format!("-rw-r--r--   1 {user:<8} {group:<8}       12 Jan 15");
        let (recent, old) = (
            format!("{head} 10:20 b.txt\r\n"),
            format!("{head}  2020 b.txt\r\n"),
        );
        let t0 = 1_579_083_630;
        assert_eq!(line(&p, "b.txt", t0 + 86_400).unwrap(), recent.as_bytes());
        assert_eq!(
            line(&p, "b.txt", t0 + 180 * 86_400).unwrap(),
            recent.as_bytes()
        );
        assert_eq!(
            line(&p, "b.txt", t0 + 180 * 86_400 + 1).unwrap(),
            old.as_bytes()
        );
        assert_eq!(line(&p, "b.txt", 0).unwrap(), recent.as_bytes());
        symlink("/etc", home.join("escape")).unwrap();
        let s = String::from_utf8(line(&home.join("escape"), "escape", 0).unwrap()).unwrap();
        assert!(
            s.starts_with("lrwxrwxrwx   1 ") && s.contains("        4 "),
            "{s}"
        );
        assert!(s.ends_with(" escape -> /etc\r\n"), "{s}");
        let out = line(&home.join("sub"), "sub", 0).unwrap();
        assert!(out.starts_with(b"drwx") && out.ends_with(b" sub\r\n"));
        assert!(line(&home.join("nope"), "nope", 0).is_err());
    }

    #[test]
    fn mlsx_lines() {
        let (_t, home, afs) = TmpDir::new("mlsx");
        let p = b_txt(&afs, &home);
        let line = |path: &Path, name: &str, perms: Perms, facts: Facts| {
            let mut out = Vec::new();
            let r = format_mlsx_entry(&afs, path, name.as_bytes(), perms, facts, true, &mut out);
            r.map(|()| String::from_utf8(out).unwrap())
        };
        let (st, all, ro) = (
            afs.stat(&p).unwrap(),
            Perms::ALL,
            Perms::parse("elr").unwrap(),
        );
        let uniq = format!("{:x}g{:x}", st.dev, st.ino);
        assert_eq!(
            line(&p, "b.txt", all, Facts::DEFAULT).unwrap(),
            format!(
                "modify=20200115102030;perm=radfwMT;size=12;type=file;unique={uniq}; b.txt\r\n"
            )
        );
        let full = line(&p, "b.txt", all, Facts::AVAILABLE).unwrap();
        let unix = format!(
            "unix.gid={};unix.mode=0644;unix.uid={}; b.txt\r\n",
            st.gid, st.uid
        );
        assert!(full.ends_with(&format!("unique={uniq};{unix}")), "{full}");
        assert_eq!(
            line(&p, "b.txt", ro, Facts::PERM).unwrap(),
            "perm=r; b.txt\r\n"
        );
        let sub = home.join("sub");
        let d = afs.stat(&sub).unwrap();
        let dl = line(&sub, "sub", all, Facts::DEFAULT).unwrap();
        let unique = format!("unique={:x}g{:x}", d.dev, d.ino);
        let want = format!(";perm=eldfmMTcp;size={};type=dir;{unique}; sub\r\n", d.size);
        assert!(dl.starts_with("modify=") && dl.ends_with(&want), "{dl}");
        assert_eq!(
            line(&sub, "sub", ro, Facts::PERM).unwrap(),
            "perm=el; sub\r\n"
        );
        assert_eq!(
            line(&sub, ".", ro, Facts::TYPE).unwrap(),
            "type=cdir; .\r\n"
        );
        assert_eq!(
            line(&sub, "..", ro, Facts::TYPE).unwrap(),
            "type=pdir; ..\r\n"
        );
        assert_eq!(line(&sub, "s", ro, Facts::NONE).unwrap(), " s\r\n");
        afs.chmod(&p, 0o4755).unwrap();
        assert_eq!(
            line(&p, "b", ro, Facts::UNIX_MODE).unwrap(),
            "unix.mode=04755; b\r\n"
        );
        symlink("sub", home.join("ln")).unwrap();
        assert_eq!(
            line(&home.join("ln"), "ln", ro, Facts::TYPE).unwrap(),
            "type=dir; ln\r\n"
        );
        assert!(line(&home.join("x"), "x", ro, Facts::TYPE).is_err());
    }

    #[test]
    fn facts() {
        let f = Facts::parse_opts("type;size;UNIX.mode;bogus;");
        assert_eq!(f, Facts::TYPE.union(Facts::SIZE).union(Facts::UNIX_MODE));
        assert_eq!(f.names().collect::<Vec<_>>(), ["type", "size", "unix.mode"]);
        assert_eq!(Facts::parse_opts(""), Facts::NONE);
        assert_eq!(Facts::parse_opts(" type;"), Facts::NONE);
        assert_eq!(Facts::AVAILABLE.names().count(), 8);
        let feat = "type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;";
        assert_eq!(Facts::feat_line(Facts::DEFAULT), feat);
        let feat = "type*;perm;size*;modify;unique;unix.mode*;unix.uid;unix.gid;";
        assert_eq!(Facts::feat_line(f), feat);
    }

    #[test]
    fn mdtm() {
        assert_eq!(format_mdtm(1_579_083_630, true), "20200115102030");
        assert_eq!(format_mdtm(0, true), "19700101000000");
        assert_eq!(parse_mdtm("20200115102030"), Some(1_579_083_630));
        assert_eq!(parse_mdtm("20000229235959"), Some(951_868_799));
        assert_eq!(parse_mdtm("19690101000000"), Some(-31_536_000));
        for t in [0, 951_868_799, 4_102_444_800, 1_700_000_000] {
            assert_eq!(parse_mdtm(&format_mdtm(t, true)), Some(t));
        }
        let bad = "2020011510203 abcdefghijklmn 20201315102030 20200015102030 20190229000000 \
                   20200132000000 20200115242030 20200115106030 20200115102060 \
                   202001151020300 +2020011510203 2020-1-15102030";
        for s in bad.split_whitespace().chain([""]) {
            assert_eq!(parse_mdtm(s), None, "{s}");
        }
    }
}
