//! readonly_fs: a file system that can be read but not changed, the
//! pyftpdlib way: a subclass of `AbstractedFS` that overrides only the
//! methods that write and raises `FilesystemError` from them.
//!
//! Every user, whatever the permission letters of the authorizer, gets
//! `550 Read-only file system.` for STOR, APPE, STOU, DELE, MKD, RMD, RNFR/
//! RNTO, SITE CHMOD and MFMT; listing and downloading work as usual.
//!
//! ```text
//! cargo run --example readonly_fs         # port 2121, or: -- 2122
//! curl -u user:12345 ftp://127.0.0.1:2121/
//! curl -u user:12345 -T somefile ftp://127.0.0.1:2121/    # 550
//! ```

use std::io;
use std::path::{Path, PathBuf};

use ftpdlib::{AbstractedFs, FileHandle, Filesystem, FilesystemError, FilesystemOverrides};
use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};
use ftpdlib::{OpenMode, Subclass};

/// class ReadOnlyFS(AbstractedFS)
#[derive(Clone)]
struct ReadOnly;

/// pyftpdlib: `raise FilesystemError("Read-only file system")`.
fn refused<T>() -> io::Result<T> {
    Err(io::Error::other(FilesystemError(
        "Read-only file system.".into(),
    )))
}

impl FilesystemOverrides<AbstractedFs> for ReadOnly {
    fn open(
        &self,
        base: &AbstractedFs,
        path: &Path,
        mode: OpenMode,
    ) -> io::Result<Box<dyn FileHandle>> {
        match mode {
            OpenMode::Read => base.open(path, mode),
            OpenMode::Write | OpenMode::Append | OpenMode::Resume => refused(),
        }
    }
    fn mkstemp(
        &self,
        _: &AbstractedFs,
        _: &Path,
        _: &str,
    ) -> io::Result<(Box<dyn FileHandle>, PathBuf)> {
        refused()
    }
    fn mkdir(&self, _: &AbstractedFs, _: &Path) -> io::Result<()> {
        refused()
    }
    fn rmdir(&self, _: &AbstractedFs, _: &Path) -> io::Result<()> {
        refused()
    }
    fn remove(&self, _: &AbstractedFs, _: &Path) -> io::Result<()> {
        refused()
    }
    fn rename(&self, _: &AbstractedFs, _: &Path, _: &Path) -> io::Result<()> {
        refused()
    }
    fn chmod(&self, _: &AbstractedFs, _: &Path, _: u32) -> io::Result<()> {
        refused()
    }
    fn utime(&self, _: &AbstractedFs, _: &Path, _: i64) -> io::Result<()> {
        refused()
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(2121), |p| p.parse())?;

    let mut authorizer = DummyAuthorizer::new();
    // Full permissions: the file system, not the authorizer, says no.
    authorizer.add_user_with_perm("user", "12345", ".", "elradfmwMT")?;
    let mut handler = FtpHandler::new(authorizer);
    // handler.abstracted_fs = ReadOnlyFS
    handler.abstracted_fs =
        Box::new(|root, _session| Box::new(Subclass::new(AbstractedFs::new(root), ReadOnly)));
    let mut server = FtpServer::bind(("", port), handler)?;
    server.serve_forever()?;
    Ok(())
}
