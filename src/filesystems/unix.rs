//! pyftpdlib's `UnixFilesystem`: the whole machine, no confinement.

use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};

use super::{norm_virtual, AbstractedFs, FileHandle, Filesystem, OpenMode, Stat};

/// The real file system with real absolute paths, no confinement
/// (pyftpdlib `UnixFilesystem`): the virtual path *is* the real path, the
/// working directory starts at the user's home and
/// [`validpath`](Filesystem::validpath) is always true.
///
/// Only the kernel keeps users apart, so pair it with an authorizer that
/// impersonates system users ([`UnixAuthorizer`](crate::UnixAuthorizer));
/// with virtual users every command would run with the server's rights.
/// [`AbstractedFs`] stays the default ([`FtpHandler::abstracted_fs`]):
///
/// ```no_run
/// use ftpdlib::{FtpHandler, UnixAuthorizer, UnixFilesystem};
/// let mut handler = FtpHandler::new(UnixAuthorizer::new()?);
/// handler.abstracted_fs = Box::new(|home, _| Box::new(UnixFilesystem::new(home)));
/// # Ok::<(), ftpdlib::AuthorizerError>(())
/// ```
///
/// [`FtpHandler::abstracted_fs`]: crate::FtpHandler::abstracted_fs
#[derive(Debug, Clone)]
pub struct UnixFilesystem {
    /// An `AbstractedFs` rooted at `/`: its mapping is the identity.
    inner: AbstractedFs,
    home: PathBuf,
}

impl UnixFilesystem {
    /// The machine's file system for a user whose home is `home`; the
    /// working directory starts there (pyftpdlib `UnixFilesystem(root,
    /// cmd_channel)`).
    pub fn new(home: impl Into<PathBuf>) -> UnixFilesystem {
        let home = home.into();
        let mut inner = AbstractedFs::new("/");
        inner.cwd = norm_virtual("/", &home.to_string_lossy());
        UnixFilesystem { inner, home }
    }
}

impl Filesystem for UnixFilesystem {
    fn box_clone(&self) -> Box<dyn Filesystem> {
        Box::new(self.clone())
    }

    /// The user's home (pyftpdlib keeps it as `root`): RMD and RNFR refuse
    /// to remove or rename it, as with [`AbstractedFs`].
    fn root(&self) -> &Path {
        &self.home
    }

    fn cwd(&self) -> &str {
        self.inner.cwd()
    }

    fn ftpnorm(&self, ftppath: &str) -> String {
        self.inner.ftpnorm(ftppath)
    }

    /// The normalized virtual path, as a real path (pyftpdlib:
    /// `ftp2fs = ftpnorm`).
    fn ftp2fs(&self, ftppath: &str) -> PathBuf {
        self.inner.ftp2fs(ftppath)
    }

    /// The real path itself, normalized; a relative one is taken from the
    /// working directory (pyftpdlib: identity).
    fn fs2ftp(&self, fspath: &Path) -> String {
        self.inner.ftpnorm(&fspath.to_string_lossy())
    }

    /// Always true: nothing is out of bounds (pyftpdlib `validpath`).
    fn validpath(&self, _path: &Path) -> bool {
        true
    }

    fn chdir(&mut self, path: &Path) -> io::Result<()> {
        self.inner.chdir(path)
    }

    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn FileHandle>> {
        self.inner.open(path, mode)
    }

    fn mkstemp(&self, dir: &Path, prefix: &str) -> io::Result<(Box<dyn FileHandle>, PathBuf)> {
        self.inner.mkstemp(dir, prefix)
    }

    fn mkdir(&self, path: &Path) -> io::Result<()> {
        self.inner.mkdir(path)
    }

    fn rmdir(&self, path: &Path) -> io::Result<()> {
        self.inner.rmdir(path)
    }

    fn remove(&self, path: &Path) -> io::Result<()> {
        self.inner.remove(path)
    }

    fn rename(&self, src: &Path, dst: &Path) -> io::Result<()> {
        self.inner.rename(src, dst)
    }

    fn remove_off_loop(&self, path: &Path) -> Option<super::OffLoopTask> {
        self.inner.remove_off_loop(path)
    }

    fn rename_off_loop(&self, src: &Path, dst: &Path) -> Option<super::OffLoopTask> {
        self.inner.rename_off_loop(src, dst)
    }

    fn truncate_off_loop(&self, path: &Path) -> Option<super::OffLoopTask> {
        self.inner.truncate_off_loop(path)
    }

    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
        self.inner.chmod(path, mode)
    }

    fn stat(&self, path: &Path) -> io::Result<Stat> {
        self.inner.stat(path)
    }

    fn lstat(&self, path: &Path) -> io::Result<Stat> {
        self.inner.lstat(path)
    }

    fn readlink(&self, path: &Path) -> io::Result<PathBuf> {
        self.inner.readlink(path)
    }

    fn utime(&self, path: &Path, mtime: i64) -> io::Result<()> {
        self.inner.utime(path, mtime)
    }

    fn listdir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.inner.listdir(path)
    }

    /// Opened as the user (the permission check); read later by the data
    /// channel from the open directory.
    fn open_listing(&self, path: &Path) -> io::Result<Box<dyn crate::filesystems::DirNames>> {
        self.inner.open_listing(path)
    }

    fn isfile(&self, path: &Path) -> bool {
        self.inner.isfile(path)
    }

    fn isdir(&self, path: &Path) -> bool {
        self.inner.isdir(path)
    }

    fn islink(&self, path: &Path) -> bool {
        self.inner.islink(path)
    }

    fn lexists(&self, path: &Path) -> bool {
        self.inner.lexists(path)
    }

    fn getsize(&self, path: &Path) -> io::Result<u64> {
        self.inner.getsize(path)
    }

    fn getmtime(&self, path: &Path) -> io::Result<i64> {
        self.inner.getmtime(path)
    }

    fn realpath(&self, path: &Path) -> io::Result<PathBuf> {
        self.inner.realpath(path)
    }

    fn get_user_by_uid(&self, uid: u32) -> String {
        self.inner.get_user_by_uid(uid)
    }

    fn get_group_by_gid(&self, gid: u32) -> String {
        self.inner.get_group_by_gid(gid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn identity_mapping_from_home() {
        let t = tempfile::tempdir().unwrap();
        let home = fs::canonicalize(t.path()).unwrap();
        fs::create_dir(home.join("sub")).unwrap();
        let mut ufs = UnixFilesystem::new(&home);
        assert_eq!(ufs.root(), home);
        assert_eq!(ufs.cwd(), home.to_str().unwrap());
        assert_eq!(ufs.ftp2fs("sub/x"), home.join("sub/x"));
        assert_eq!(ufs.ftp2fs("/etc/passwd"), PathBuf::from("/etc/passwd"));
        assert_eq!(ufs.ftp2fs("/../../etc"), PathBuf::from("/etc"));
        assert_eq!(ufs.fs2ftp(Path::new("/etc/./x/..")), "/etc");
        assert_eq!(ufs.fs2ftp(Path::new("sub")), format!("{}/sub", ufs.cwd()));
        assert!(ufs.validpath(Path::new("/etc")) && ufs.validpath(Path::new("/")));
        ufs.chdir(Path::new("/")).unwrap();
        assert_eq!(ufs.cwd(), "/");
        assert_eq!(ufs.ftp2fs(".."), PathBuf::from("/"));
        ufs.chdir(&home.join("sub")).unwrap();
        assert_eq!(ufs.ftpnorm(".."), home.to_str().unwrap());
        assert!(ufs.chdir(&home.join("missing")).is_err());
        let clone = ufs.box_clone();
        assert_eq!(clone.cwd(), ufs.cwd());
        assert_eq!(clone.root(), home);
        ufs.open(&home.join("f"), OpenMode::Write).unwrap();
        assert!(ufs.isfile(&home.join("f")));
        assert_eq!(
            ufs.listdir(&home).unwrap(),
            ["f", "sub"].map(OsString::from)
        );
    }
}
