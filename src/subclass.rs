//! Override one method, inherit the rest: what a pyftpdlib porter does by
//! subclassing `DummyAuthorizer`, `UnixAuthorizer` or `AbstractedFS`
//! (ftpdlib extension; pyftpdlib uses Python inheritance).
//!
//! A [`Subclass`] holds a base value (the "parent class" instance) and an
//! overrides value (the "subclass" body). The overrides type implements
//! [`AuthorizerOverrides`] or [`FilesystemOverrides`], whose methods all
//! have default bodies that call the base, so it writes only the methods it
//! changes. Every method gets the base as its `base` argument: calling
//! `base.validate_authentication(..)` is pyftpdlib's `super()`. The
//! subclass dereferences to its base, so the base's own methods
//! (`add_user`, `override_perm`, ...) stay callable on it.
//!
//! The tutorial's `DummyMD5Authorizer`, in full:
//!
//! ```
//! use ftpdlib::{AuthenticationFailed, AuthorizerOverrides, DummyAuthorizer, Subclass};
//!
//! struct Md5;
//! impl AuthorizerOverrides<DummyAuthorizer> for Md5 {
//!     fn validate_authentication(&self, base: &DummyAuthorizer, username: &str, password: &str)
//!         -> Result<(), AuthenticationFailed> {
//!         let digest = format!("{:x}", password.len()); // a real digest in examples/md5_ftpd.rs
//!         match base.user(username) {
//!             Some(user) if user.pwd == digest => Ok(()),
//!             _ => Err(AuthenticationFailed("Authentication failed.".into())),
//!         }
//!     }
//! }
//!
//! let mut authorizer = Subclass::new(DummyAuthorizer::new(), Md5);
//! authorizer.add_anonymous(".").unwrap(); // DummyAuthorizer's own method
//! ```
//!
//! Two defaults do not simply call the base, so that an override is never
//! skipped: [`Authorizer::begin_validation`] of a subclass checks on the
//! spot through the subclass's `validate_authentication` (a subclass that
//! keeps the base's validation and wants its off-loop check back, say of a
//! [`UnixAuthorizer`](crate::UnixAuthorizer), overrides `begin_validation`
//! as `Some(base.begin_validation(username, password))`), and a
//! subclassed file system lists directories through its own `listdir`
//! and stats listing entries through its own `lstat`/`stat`. Nor does a
//! subclassed file system hand out its base's off-loop calls
//! ([`Filesystem::remove_off_loop`] and siblings): its DELE, RNTO and STOR
//! go through its own `remove`, `rename` and `open`, in the loop.

use std::ffi::{OsStr, OsString};
use std::io;
use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};

use crate::authorizers::{Authorizer, Perm, Perms, Validation};
use crate::error::{AuthenticationFailed, AuthorizerError};
use crate::filesystems::{DirNames, FileHandle, Filesystem, OpenMode, Stat};

/// A base authorizer or file system with some of its methods overridden
/// (pyftpdlib: `class Mine(DummyAuthorizer)` / `class Mine(AbstractedFS)`).
/// See the [module docs](self).
#[derive(Debug, Clone, Default)]
pub struct Subclass<B, O> {
    /// The base value (the parent class's state).
    pub base: B,
    /// The overriding methods and whatever state they keep.
    pub overrides: O,
}

impl<B, O> Subclass<B, O> {
    /// `base` with the methods of `overrides` in front of it.
    pub fn new(base: B, overrides: O) -> Self {
        Subclass { base, overrides }
    }
}

impl<B, O> Deref for Subclass<B, O> {
    type Target = B;
    fn deref(&self) -> &B {
        &self.base
    }
}

impl<B, O> DerefMut for Subclass<B, O> {
    fn deref_mut(&mut self) -> &mut B {
        &mut self.base
    }
}

/// The [`Authorizer`] methods a [`Subclass`] may override; each default
/// calls the same method of `base` (pyftpdlib `super()`).
#[allow(missing_docs)] // each method is the Authorizer method of the same name
pub trait AuthorizerOverrides<B: Authorizer> {
    fn validate_authentication(
        &self,
        base: &B,
        username: &str,
        password: &str,
    ) -> Result<(), AuthenticationFailed> {
        base.validate_authentication(username, password)
    }
    /// Default: `None`, i.e. check on the spot through the subclass's
    /// `validate_authentication` (see the module docs).
    fn begin_validation(&self, base: &B, username: &str, password: &str) -> Option<Validation> {
        let _ = (base, username, password);
        None
    }
    fn has_user(&self, base: &B, username: &str) -> bool {
        base.has_user(username)
    }
    fn has_perm(&self, base: &B, username: &str, perm: Perm, path: Option<&Path>) -> bool {
        base.has_perm(username, perm, path)
    }
    fn get_perms(&self, base: &B, username: &str) -> Perms {
        base.get_perms(username)
    }
    fn perms_vary_by_path(&self, base: &B, username: &str) -> bool {
        base.perms_vary_by_path(username)
    }
    fn get_home_dir(&self, base: &B, username: &str) -> Result<PathBuf, AuthorizerError> {
        base.get_home_dir(username)
    }
    fn get_msg_login(&self, base: &B, username: &str) -> String {
        base.get_msg_login(username)
    }
    fn get_msg_quit(&self, base: &B, username: &str) -> String {
        base.get_msg_quit(username)
    }
    fn generation(&self, base: &B) -> u64 {
        base.generation()
    }
    fn impersonate_user(&self, base: &B, username: &str, password: &str) -> io::Result<()> {
        base.impersonate_user(username, password)
    }
    fn terminate_impersonation(&self, base: &B, username: &str) -> io::Result<()> {
        base.terminate_impersonation(username)
    }
    fn authenticate_certificate(
        &self,
        base: &B,
        username: &str,
        cert: &crate::authorizers::ClientCertificate,
    ) -> bool {
        base.authenticate_certificate(username, cert)
    }
    fn user_limits(&self, base: &B, username: &str) -> crate::UserLimits {
        base.user_limits(username)
    }
    /// The base's roots for Landlock and whether it switches ids: override
    /// it too when an override changes homes or permissions.
    fn confinement(&self, base: &B) -> Option<crate::hardening::Confinement> {
        base.confinement()
    }
}

impl<B: Authorizer, O: AuthorizerOverrides<B>> Authorizer for Subclass<B, O> {
    fn validate_authentication(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(), AuthenticationFailed> {
        self.overrides
            .validate_authentication(&self.base, username, password)
    }
    fn begin_validation(&self, username: &str, password: &str) -> Validation {
        match self
            .overrides
            .begin_validation(&self.base, username, password)
        {
            Some(v) => v,
            None => Validation::Done(self.validate_authentication(username, password)),
        }
    }
    fn has_user(&self, username: &str) -> bool {
        self.overrides.has_user(&self.base, username)
    }
    fn has_perm(&self, username: &str, perm: Perm, path: Option<&Path>) -> bool {
        self.overrides.has_perm(&self.base, username, perm, path)
    }
    fn get_perms(&self, username: &str) -> Perms {
        self.overrides.get_perms(&self.base, username)
    }
    fn perms_vary_by_path(&self, username: &str) -> bool {
        self.overrides.perms_vary_by_path(&self.base, username)
    }
    fn get_home_dir(&self, username: &str) -> Result<PathBuf, AuthorizerError> {
        self.overrides.get_home_dir(&self.base, username)
    }
    fn get_msg_login(&self, username: &str) -> String {
        self.overrides.get_msg_login(&self.base, username)
    }
    fn get_msg_quit(&self, username: &str) -> String {
        self.overrides.get_msg_quit(&self.base, username)
    }
    fn generation(&self) -> u64 {
        self.overrides.generation(&self.base)
    }
    fn impersonate_user(&self, username: &str, password: &str) -> io::Result<()> {
        self.overrides
            .impersonate_user(&self.base, username, password)
    }
    fn terminate_impersonation(&self, username: &str) -> io::Result<()> {
        self.overrides.terminate_impersonation(&self.base, username)
    }
    fn authenticate_certificate(
        &self,
        username: &str,
        cert: &crate::authorizers::ClientCertificate,
    ) -> bool {
        self.overrides
            .authenticate_certificate(&self.base, username, cert)
    }
    fn user_limits(&self, username: &str) -> crate::UserLimits {
        self.overrides.user_limits(&self.base, username)
    }
    fn confinement(&self) -> Option<crate::hardening::Confinement> {
        self.overrides.confinement(&self.base)
    }
}

/// The [`Filesystem`] methods a [`Subclass`] may override; each default
/// calls the same method of `base` (pyftpdlib `super()`).
#[allow(missing_docs)] // each method is the Filesystem method of the same name
pub trait FilesystemOverrides<B: Filesystem> {
    fn root<'a>(&self, base: &'a B) -> &'a Path {
        base.root()
    }
    fn cwd<'a>(&self, base: &'a B) -> &'a str {
        base.cwd()
    }
    fn ftpnorm(&self, base: &B, ftppath: &str) -> String {
        base.ftpnorm(ftppath)
    }
    fn ftp2fs(&self, base: &B, ftppath: &str) -> PathBuf {
        base.ftp2fs(ftppath)
    }
    fn fs2ftp(&self, base: &B, fspath: &Path) -> String {
        base.fs2ftp(fspath)
    }
    fn validpath(&self, base: &B, path: &Path) -> bool {
        base.validpath(path)
    }
    fn chdir(&self, base: &mut B, path: &Path) -> io::Result<()> {
        base.chdir(path)
    }
    fn open(&self, base: &B, path: &Path, mode: OpenMode) -> io::Result<Box<dyn FileHandle>> {
        base.open(path, mode)
    }
    fn mkstemp(
        &self,
        base: &B,
        dir: &Path,
        prefix: &str,
    ) -> io::Result<(Box<dyn FileHandle>, PathBuf)> {
        base.mkstemp(dir, prefix)
    }
    fn mkdir(&self, base: &B, path: &Path) -> io::Result<()> {
        base.mkdir(path)
    }
    fn rmdir(&self, base: &B, path: &Path) -> io::Result<()> {
        base.rmdir(path)
    }
    fn remove(&self, base: &B, path: &Path) -> io::Result<()> {
        base.remove(path)
    }
    fn rename(&self, base: &B, src: &Path, dst: &Path) -> io::Result<()> {
        base.rename(src, dst)
    }
    fn chmod(&self, base: &B, path: &Path, mode: u32) -> io::Result<()> {
        base.chmod(path, mode)
    }
    fn stat(&self, base: &B, path: &Path) -> io::Result<Stat> {
        base.stat(path)
    }
    fn lstat(&self, base: &B, path: &Path) -> io::Result<Stat> {
        base.lstat(path)
    }
    fn readlink(&self, base: &B, path: &Path) -> io::Result<PathBuf> {
        base.readlink(path)
    }
    fn utime(&self, base: &B, path: &Path, mtime: i64) -> io::Result<()> {
        base.utime(path, mtime)
    }
    fn listdir(&self, base: &B, path: &Path) -> io::Result<Vec<OsString>> {
        base.listdir(path)
    }
    fn isfile(&self, base: &B, path: &Path) -> bool {
        base.isfile(path)
    }
    fn isdir(&self, base: &B, path: &Path) -> bool {
        base.isdir(path)
    }
    fn islink(&self, base: &B, path: &Path) -> bool {
        base.islink(path)
    }
    fn lexists(&self, base: &B, path: &Path) -> bool {
        base.lexists(path)
    }
    fn getsize(&self, base: &B, path: &Path) -> io::Result<u64> {
        base.getsize(path)
    }
    fn getmtime(&self, base: &B, path: &Path) -> io::Result<i64> {
        base.getmtime(path)
    }
    fn realpath(&self, base: &B, path: &Path) -> io::Result<PathBuf> {
        base.realpath(path)
    }
    fn get_user_by_uid(&self, base: &B, uid: u32) -> String {
        base.get_user_by_uid(uid)
    }
    fn get_group_by_gid(&self, base: &B, gid: u32) -> String {
        base.get_group_by_gid(gid)
    }
    /// One `LIST` line; the default formats with the subclass's own
    /// `lstat`, `readlink` and name lookups (`this`).
    fn format_list(
        &self,
        this: &dyn Filesystem,
        dir: &Path,
        entry: &OsStr,
        now: i64,
        utc: bool,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        crate::filesystems::format_list_entry_in(this, dir, entry, now, utc, out)
    }
    /// One `MLSD` line; the default formats with the subclass's own `stat`.
    #[allow(clippy::too_many_arguments)]
    fn format_mlsx(
        &self,
        this: &dyn Filesystem,
        dir: &Path,
        entry: &OsStr,
        perms: Perms,
        facts: crate::filesystems::Facts,
        utc: bool,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        crate::filesystems::format_mlsx_entry_in(this, dir, entry, perms, facts, utc, out)
    }
}

impl<B, O> Filesystem for Subclass<B, O>
where
    B: Filesystem + Clone + 'static,
    O: FilesystemOverrides<B> + Clone + 'static,
{
    fn box_clone(&self) -> Box<dyn Filesystem> {
        Box::new(self.clone())
    }
    fn root(&self) -> &Path {
        self.overrides.root(&self.base)
    }
    fn cwd(&self) -> &str {
        self.overrides.cwd(&self.base)
    }
    fn ftpnorm(&self, ftppath: &str) -> String {
        self.overrides.ftpnorm(&self.base, ftppath)
    }
    fn ftp2fs(&self, ftppath: &str) -> PathBuf {
        self.overrides.ftp2fs(&self.base, ftppath)
    }
    fn fs2ftp(&self, fspath: &Path) -> String {
        self.overrides.fs2ftp(&self.base, fspath)
    }
    fn validpath(&self, path: &Path) -> bool {
        self.overrides.validpath(&self.base, path)
    }
    fn chdir(&mut self, path: &Path) -> io::Result<()> {
        self.overrides.chdir(&mut self.base, path)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn FileHandle>> {
        self.overrides.open(&self.base, path, mode)
    }
    fn mkstemp(&self, dir: &Path, prefix: &str) -> io::Result<(Box<dyn FileHandle>, PathBuf)> {
        self.overrides.mkstemp(&self.base, dir, prefix)
    }
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        self.overrides.mkdir(&self.base, path)
    }
    fn rmdir(&self, path: &Path) -> io::Result<()> {
        self.overrides.rmdir(&self.base, path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.overrides.remove(&self.base, path)
    }
    fn rename(&self, src: &Path, dst: &Path) -> io::Result<()> {
        self.overrides.rename(&self.base, src, dst)
    }
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
        self.overrides.chmod(&self.base, path, mode)
    }
    fn stat(&self, path: &Path) -> io::Result<Stat> {
        self.overrides.stat(&self.base, path)
    }
    fn lstat(&self, path: &Path) -> io::Result<Stat> {
        self.overrides.lstat(&self.base, path)
    }
    fn readlink(&self, path: &Path) -> io::Result<PathBuf> {
        self.overrides.readlink(&self.base, path)
    }
    fn utime(&self, path: &Path, mtime: i64) -> io::Result<()> {
        self.overrides.utime(&self.base, path, mtime)
    }
    fn listdir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.overrides.listdir(&self.base, path)
    }
    fn open_listing(&self, path: &Path) -> io::Result<Box<dyn DirNames>> {
        Ok(crate::filesystems::given_names(self.listdir(path)?))
    }
    fn isfile(&self, path: &Path) -> bool {
        self.overrides.isfile(&self.base, path)
    }
    fn isdir(&self, path: &Path) -> bool {
        self.overrides.isdir(&self.base, path)
    }
    fn islink(&self, path: &Path) -> bool {
        self.overrides.islink(&self.base, path)
    }
    fn lexists(&self, path: &Path) -> bool {
        self.overrides.lexists(&self.base, path)
    }
    fn getsize(&self, path: &Path) -> io::Result<u64> {
        self.overrides.getsize(&self.base, path)
    }
    fn getmtime(&self, path: &Path) -> io::Result<i64> {
        self.overrides.getmtime(&self.base, path)
    }
    fn realpath(&self, path: &Path) -> io::Result<PathBuf> {
        self.overrides.realpath(&self.base, path)
    }
    fn get_user_by_uid(&self, uid: u32) -> String {
        self.overrides.get_user_by_uid(&self.base, uid)
    }
    fn get_group_by_gid(&self, gid: u32) -> String {
        self.overrides.get_group_by_gid(&self.base, gid)
    }
    fn format_list(
        &self,
        dir: &Path,
        entry: &OsStr,
        now: i64,
        utc: bool,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.overrides.format_list(self, dir, entry, now, utc, out)
    }
    fn format_mlsx(
        &self,
        dir: &Path,
        entry: &OsStr,
        perms: Perms,
        facts: crate::filesystems::Facts,
        utc: bool,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        self.overrides
            .format_mlsx(self, dir, entry, perms, facts, utc, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filesystems::AbstractedFs;
    use crate::DummyAuthorizer;

    struct Upper;
    impl AuthorizerOverrides<DummyAuthorizer> for Upper {
        fn get_msg_login(&self, base: &DummyAuthorizer, username: &str) -> String {
            base.get_msg_login(username).to_uppercase()
        }
        fn validate_authentication(
            &self,
            _: &DummyAuthorizer,
            _: &str,
            password: &str,
        ) -> Result<(), AuthenticationFailed> {
            if password == "open sesame" {
                Ok(())
            } else {
                Err(AuthenticationFailed("no".into()))
            }
        }
    }

    #[test]
    fn an_override_wins_and_the_rest_is_inherited() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Subclass::new(DummyAuthorizer::new(), Upper);
        a.add_user_with_perm("bob", "pw", dir.path(), "elr")
            .unwrap();
        assert_eq!(a.get_msg_login("bob"), "LOGIN SUCCESSFUL.");
        assert_eq!(Authorizer::get_msg_quit(&a, "bob"), "Goodbye.");
        assert!(Authorizer::has_perm(&a, "bob", Perm::List, None));
        assert!(!Authorizer::has_perm(&a, "bob", Perm::Store, None));
        // begin_validation goes through the override, not the base's check.
        let dynauth: &dyn Authorizer = &a;
        assert!(matches!(
            dynauth.begin_validation("bob", "open sesame"),
            Validation::Done(Ok(()))
        ));
        assert!(matches!(
            dynauth.begin_validation("bob", "pw"),
            Validation::Done(Err(_))
        ));
    }

    #[derive(Clone)]
    struct Hide;
    impl FilesystemOverrides<AbstractedFs> for Hide {
        fn listdir(&self, base: &AbstractedFs, path: &Path) -> io::Result<Vec<OsString>> {
            let mut names = base.listdir(path)?;
            names.retain(|n| !n.to_string_lossy().starts_with('.'));
            Ok(names)
        }
    }

    /// A method added to `Authorizer` or `Filesystem` (with a default
    /// body, by another part of the crate) must be forwarded by
    /// `Subclass` too, or a subclass would answer with the trait's default
    /// instead of its base's.
    #[test]
    fn subclass_forwards_every_trait_method() {
        let this = include_str!("subclass.rs");
        let authorizers = include_str!("authorizers.rs");
        let filesystems = include_str!("filesystems.rs");
        let overrides = crate::source_scan::block_fns(this, "pub trait AuthorizerOverrides");
        let sample = "pub trait T {\n    fn a(&self) { x { } }\n    fn b_c(&self);\n}\nfn d() {}";
        assert_eq!(
            crate::source_scan::block_fns(sample, "pub trait T"),
            ["a", "b_c"]
        );
        assert!(crate::source_scan::block_fns(authorizers, "pub trait Authorizer ").len() >= 11);
        assert!(crate::source_scan::block_fns(filesystems, "pub trait Filesystem ").len() >= 33);
        for m in crate::source_scan::block_fns(authorizers, "pub trait Authorizer ") {
            assert!(overrides.contains(&m), "AuthorizerOverrides lacks {m}");
        }
        let forwarded = crate::source_scan::block_fns(this, "impl<B, O> Filesystem for Subclass");
        // lstat_in / stat_in keep the trait defaults on purpose: they call
        // the subclass's own lstat / stat. The *_off_loop methods keep
        // their default (`None`: run in the loop) on purpose too: the
        // base's off-loop task would unlink, rename or truncate without
        // the subclass's own remove / rename / open, say a read-only
        // store's refusal.
        for m in crate::source_scan::block_fns(filesystems, "pub trait Filesystem ") {
            let by_default = [
                "lstat_in",
                "stat_in",
                "remove_off_loop",
                "rename_off_loop",
                "truncate_off_loop",
            ]
            .contains(&m.as_str());
            assert!(
                by_default || forwarded.contains(&m),
                "Subclass lacks Filesystem::{m}"
            );
        }
    }

    /// A subclass never hands the base's off-loop removal out: its own
    /// `remove` (here a refusal) decides.
    #[test]
    fn a_subclass_removes_in_the_loop() {
        #[derive(Clone)]
        struct NoRemove;
        impl FilesystemOverrides<AbstractedFs> for NoRemove {
            fn remove(&self, _: &AbstractedFs, _: &Path) -> io::Result<()> {
                Err(io::ErrorKind::PermissionDenied.into())
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("f"), b"x").unwrap();
        let fs = Subclass::new(AbstractedFs::new(&root), NoRemove);
        assert!(fs.base.remove_off_loop(&root.join("f")).is_some());
        assert!(fs.remove_off_loop(&root.join("f")).is_none());
        assert!(fs
            .rename_off_loop(&root.join("f"), &root.join("g"))
            .is_none());
        assert!(fs.truncate_off_loop(&root.join("f")).is_none());
        assert!(fs.remove(&root.join("f")).is_err() && root.join("f").exists());
    }

    #[test]
    fn a_filesystem_override_reaches_the_listing() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join(".secret"), b"x").unwrap();
        std::fs::write(root.join("shown"), b"x").unwrap();
        let fs = Subclass::new(AbstractedFs::new(&root), Hide);
        let mut listing = fs.open_listing(&root).unwrap();
        let mut names = Vec::new();
        while listing.read_names(10, &mut names).unwrap() {}
        assert_eq!(names, vec![OsString::from("shown")]);
        assert_eq!(fs.ftp2fs("/shown"), root.join("shown"));
        let mut out = Vec::new();
        fs.format_list(&root, OsStr::new("shown"), 0, true, &mut out)
            .unwrap();
        assert!(out.ends_with(b" shown\r\n"), "{out:?}");
    }
}
