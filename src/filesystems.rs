//! The user's view of the file store (pyftpdlib's `filesystems.py`).
//!
//! [`Filesystem`] is pyftpdlib's `AbstractedFS` interface: virtual (FTP) paths
//! are `&str` with `/` separators, real paths are [`Path`]s. [`AbstractedFs`]
//! is the default implementation, confining a user to a home directory
//! (symlinks resolved, see [`Filesystem::validpath`]); [`UnixFilesystem`]
//! (in `filesystems/unix.rs`) shows the whole machine, unconfined. The free
//! functions (in `filesystems/format.rs`) render `LIST` and `MLSD`/`MLST`
//! lines and `MDTM` times.

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use crate::error::FilesystemError;
use crate::sys;

mod format;
mod off_loop;
mod unix;

pub(crate) use format::days_from_civil;
pub use format::{
    format_list_entry, format_list_entry_in, format_mdtm, format_mlsx_entry, format_mlsx_entry_in,
    parse_mdtm, Facts,
};
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

/// A file in memory (pyftpdlib: the `io.BytesIO` a subclass passes to
/// `push_dtp_data`), for a [`Filesystem`] that serves generated content or
/// a custom command's data transfer. ftpdlib extension.
#[derive(Debug, Default, Clone)]
pub struct MemoryFile(io::Cursor<Vec<u8>>);

impl MemoryFile {
    /// A file holding `data`, positioned at its start.
    pub fn new(data: Vec<u8>) -> MemoryFile {
        MemoryFile(io::Cursor::new(data))
    }

    /// The bytes written or given so far.
    pub fn into_inner(self) -> Vec<u8> {
        self.0.into_inner()
    }
}

impl io::Read for MemoryFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl io::Write for MemoryFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for MemoryFile {
    fn seek(&mut self, pos: io::SeekFrom) -> io::Result<u64> {
        self.0.seek(pos)
    }
}

impl FileHandle for MemoryFile {
    fn set_len(&mut self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        self.0.get_mut().resize(len, 0);
        Ok(())
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
    /// [`remove`](Self::remove) of `path` as a task for the server's worker
    /// pool, so that freeing a big file's blocks (tens of milliseconds for
    /// a file of hundreds of MiB) does not hold the loop, like nginx's
    /// thread pools for blocking file operations. ftpdlib extension.
    ///
    /// Called on the loop after the session's confinement and permission
    /// checks passed; `Some(task)` must do exactly what `remove(path)`
    /// would (same errors) from another thread, which has the server's
    /// identity, not an impersonated user's (such sessions never ask).
    /// `None` (the default) runs [`remove`](Self::remove) in the loop as
    /// usual: a store that overrides `remove` keeps it, and
    /// [`Subclass`](crate::Subclass) never forwards it to its base.
    fn remove_off_loop(&self, path: &Path) -> Option<OffLoopTask> {
        let _ = path;
        None
    }
    /// [`rename`](Self::rename) of `src` to `dst` (which replaces, and so
    /// frees, an existing `dst`) as a task for the worker pool, on the same
    /// terms as [`remove_off_loop`](Self::remove_off_loop). ftpdlib
    /// extension; default `None`.
    fn rename_off_loop(&self, src: &Path, dst: &Path) -> Option<OffLoopTask> {
        let _ = (src, dst);
        None
    }
    /// The truncation that [`open`](Self::open) of an existing file with
    /// [`OpenMode::Write`] does (and that frees its blocks), as a task for
    /// the worker pool, on the same terms as
    /// [`remove_off_loop`](Self::remove_off_loop): STOR over a big file
    /// runs it first, then opens the file, empty by then, as usual. ftpdlib
    /// extension; default `None`.
    fn truncate_off_loop(&self, path: &Path) -> Option<OffLoopTask> {
        let _ = path;
        None
    }
    /// `chmod`.
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()>;
    /// `stat` (symlinks followed).
    fn stat(&self, path: &Path) -> io::Result<Stat>;
    /// `lstat` (symlinks not followed).
    fn lstat(&self, path: &Path) -> io::Result<Stat>;
    /// `lstat` of entry `name` of directory `dir`, for listings, which ask
    /// for every entry of one directory in turn; a store may answer faster
    /// than `lstat(dir/name)` (AbstractedFs uses `fstatat` on one directory
    /// handle). Default: `lstat(dir.join(name))`.
    fn lstat_in(&self, dir: &Path, name: &OsStr) -> io::Result<Stat> {
        self.lstat(&dir.join(name))
    }
    /// `stat` (symlinks followed) of entry `name` of directory `dir`, as
    /// [`lstat_in`](Self::lstat_in). Default: `stat(dir.join(name))`.
    fn stat_in(&self, dir: &Path, name: &OsStr) -> io::Result<Stat> {
        self.stat(&dir.join(name))
    }
    /// `readlink`.
    fn readlink(&self, path: &Path) -> io::Result<PathBuf>;
    /// Sets atime and mtime to `mtime` epoch seconds (`utime`).
    fn utime(&self, path: &Path, mtime: i64) -> io::Result<()>;
    /// Entry names of a directory sorted by raw bytes (`listdir`).
    fn listdir(&self, path: &Path) -> io::Result<Vec<OsString>>;
    /// Opens directory `path` to read its names a batch at a time: LIST,
    /// NLST and MLSD read a huge directory over several loop rounds
    /// instead of holding the loop for one long `listdir` (the listing
    /// sorts the names once all are read). A store that changes
    /// [`listdir`](Self::listdir) keeps the default, which calls it.
    /// Not in pyftpdlib.
    fn open_listing(&self, path: &Path) -> io::Result<Box<dyn DirNames>> {
        Ok(Box::new(AllNames(self.listdir(path)?.into_iter())))
    }
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
    /// Appends the `LIST` line of entry `entry` of directory `dir` to `out`
    /// (one entry of pyftpdlib's `format_list(basedir, listing)`); `now`
    /// decides between `HH:MM` and the year, `utc` is `use_gmt_times`.
    /// Override it to change the listing format. Default:
    /// [`format_list_entry_in`].
    fn format_list(
        &self,
        dir: &Path,
        entry: &OsStr,
        now: i64,
        utc: bool,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        format_list_entry_in(self, dir, entry, now, utc, out)
    }
    /// Appends the `MLSD` line of entry `entry` of directory `dir` to `out`
    /// (one entry of pyftpdlib's `format_mlsx(basedir, listing, perms,
    /// facts)`). Default: [`format_mlsx_entry_in`].
    fn format_mlsx(
        &self,
        dir: &Path,
        entry: &OsStr,
        perms: crate::authorizers::Perms,
        facts: Facts,
        utc: bool,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        format_mlsx_entry_in(self, dir, entry, perms, facts, utc, out)
    }
}

/// A blocking file-system call prepared on the loop and run on the worker
/// pool ([`Filesystem::remove_off_loop`]); its result comes back to the
/// session, which replies as the inline call would. ftpdlib extension.
pub type OffLoopTask = Box<dyn FnOnce() -> io::Result<()> + Send>;

/// The names of one directory, read a batch at a time
/// ([`Filesystem::open_listing`]).
pub trait DirNames {
    /// Append at most `max` more names to `out`, in any order; `Ok(false)`
    /// once the directory has no more.
    fn read_names(&mut self, max: usize, out: &mut Vec<OsString>) -> io::Result<bool>;
}

/// Names already read (the default of [`Filesystem::open_listing`]).
struct AllNames(std::vec::IntoIter<OsString>);

/// `names` as a [`DirNames`] (a listing of one file).
pub(crate) fn given_names(names: Vec<OsString>) -> Box<dyn DirNames> {
    Box::new(AllNames(names.into_iter()))
}

impl DirNames for AllNames {
    fn read_names(&mut self, max: usize, out: &mut Vec<OsString>) -> io::Result<bool> {
        out.extend(self.0.by_ref().take(max));
        Ok(self.0.len() > 0)
    }
}

/// A directory read with `readdir` as the listing goes.
struct ReadNames(fs::ReadDir);

impl DirNames for ReadNames {
    fn read_names(&mut self, max: usize, out: &mut Vec<OsString>) -> io::Result<bool> {
        for _ in 0..max {
            match self.0.next() {
                Some(entry) => out.push(entry?.file_name()),
                None => return Ok(false),
            }
        }
        Ok(true)
    }
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
    listing_dir: DirHandle,
}

/// The directory a listing is reading, kept open for `fstatat`. A clone
/// (each listing works on its own clone) starts empty, so a handle never
/// outlives the listing that opened it.
#[derive(Debug, Default)]
struct DirHandle(RefCell<Option<(PathBuf, std::os::fd::OwnedFd)>>);

impl Clone for DirHandle {
    fn clone(&self) -> Self {
        DirHandle::default()
    }
}

impl DirHandle {
    fn stat(&self, dir: &Path, name: &OsStr, follow: bool) -> io::Result<Stat> {
        let mut slot = self.0.borrow_mut();
        if !slot.as_ref().is_some_and(|(p, _)| p == dir) {
            *slot = Some((dir.to_path_buf(), sys::open_dir(dir)?));
        }
        let Some((_, fd)) = slot.as_ref() else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let st = sys::stat_at(fd, name, follow)?;
        Ok(Stat {
            mode: st.mode,
            nlink: st.nlink,
            uid: st.uid,
            gid: st.gid,
            size: st.size,
            mtime: st.mtime,
            dev: st.dev,
            ino: st.ino,
        })
    }
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
            listing_dir: DirHandle::default(),
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

    fn remove_off_loop(&self, path: &Path) -> Option<OffLoopTask> {
        off_loop::remove(&self.root, path)
    }

    fn rename_off_loop(&self, src: &Path, dst: &Path) -> Option<OffLoopTask> {
        off_loop::rename(&self.root, src, dst)
    }

    fn truncate_off_loop(&self, path: &Path) -> Option<OffLoopTask> {
        off_loop::truncate(path)
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

    fn lstat_in(&self, dir: &Path, name: &OsStr) -> io::Result<Stat> {
        self.listing_dir.stat(dir, name, false)
    }

    fn stat_in(&self, dir: &Path, name: &OsStr) -> io::Result<Stat> {
        self.listing_dir.stat(dir, name, true)
    }

    fn readlink(&self, path: &Path) -> io::Result<PathBuf> {
        fs::read_link(path)
    }

    fn utime(&self, path: &Path, mtime: i64) -> io::Result<()> {
        sys::set_mtime(path, mtime)
    }

    fn open_listing(&self, path: &Path) -> io::Result<Box<dyn DirNames>> {
        Ok(Box::new(ReadNames(fs::read_dir(path)?)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A unique temp dir holding `home/sub`, removed on drop.
    pub(super) struct TmpDir(PathBuf);
    impl TmpDir {
        pub(super) fn new(tag: &str) -> (TmpDir, PathBuf, AbstractedFs) {
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
    pub(super) fn b_txt(afs: &AbstractedFs, home: &Path) -> PathBuf {
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
}
