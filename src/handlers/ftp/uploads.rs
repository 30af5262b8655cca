//! Upload modes (ftpdlib extension; pyftpdlib writes every upload in
//! place): where an upload's bytes go while they arrive, and what becomes
//! of them when it ends. See [`UploadMode`] and `docs/uploads.md`.

use std::io;
use std::path::{Path, PathBuf};

use crate::filesystems::{FileHandle, Filesystem, OpenMode};
use crate::reply::{self, Code};

/// How STOR, APPE and STOU write a file (ftpdlib extension, like sftpgo's
/// `upload_mode` and pure-ftpd's `--notruncate` temporary names).
///
/// - [`Normal`](Self::Normal): in place, as pyftpdlib does; a cut upload
///   leaves what arrived under the file's name.
/// - [`Atomic`](Self::Atomic): into a new hidden file of the same
///   directory, `.ftpdlib-upload.XXXXXX`, renamed over the target when the
///   upload is complete and removed when it is not: the name shows the old
///   file or the new one, never half of it. Resuming (REST + STOR) and
///   appending to an existing file are refused (550): they cannot be atomic
///   without copying the file.
/// - [`AtomicResume`](Self::AtomicResume): into `.ftpdlib-part.NAME` (the
///   target's name with that prefix, in the same directory), renamed over
///   the target when complete and *kept* when not, so that a later
///   `REST n` + `STOR NAME` or `APPE NAME` continues it; `SIZE
///   .ftpdlib-part.NAME` tells a client where to resume. A plain STOR
///   starts the partial file afresh. APPE or REST onto a complete file with
///   no partial one is refused (550).
///
/// STOU, in both atomic modes, reserves its unique name (an empty file)
/// and writes through a temporary file renamed over it at the end; a cut
/// STOU removes the reserved name (atomic_resume keeps its bytes as
/// `.ftpdlib-part.NAME`). The rename is not preceded by fsync(2): the name
/// never shows a partial upload, but a power loss may still lose data that
/// had not reached the disk, as with any upload in pyftpdlib.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadMode {
    /// Write in place (pyftpdlib's behaviour, the default).
    #[default]
    Normal,
    /// Temporary name, rename on success, remove on failure.
    Atomic,
    /// Temporary name derived from the target, rename on success, keep on
    /// failure for a later REST/APPE.
    AtomicResume,
}

impl std::str::FromStr for UploadMode {
    type Err = String;

    /// `normal`, `atomic` or `atomic_resume` (the `--upload-mode` values).
    fn from_str(s: &str) -> Result<UploadMode, String> {
        match s {
            "normal" => Ok(UploadMode::Normal),
            "atomic" => Ok(UploadMode::Atomic),
            "atomic_resume" | "atomic-resume" => Ok(UploadMode::AtomicResume),
            _ => Err(format!(
                "unknown upload mode {s:?} (normal, atomic or atomic_resume)"
            )),
        }
    }
}

/// Prefix of atomic mode's temporary files.
pub(crate) const TEMP_PREFIX: &str = ".ftpdlib-upload.";
/// Prefix of atomic_resume's partial files.
pub(crate) const PART_PREFIX: &str = ".ftpdlib-part.";

/// What to do with an upload's temporary file when it ends.
#[derive(Debug)]
pub(crate) struct Commit {
    /// Where the bytes are written.
    pub temp: PathBuf,
    /// The name they get when complete.
    pub target: PathBuf,
    /// Kept (atomic_resume) or removed (atomic) when incomplete.
    pub keep: bool,
    /// The target is STOU's reserved empty file: removed when incomplete.
    pub reserved: bool,
}

/// The file an upload writes into, opened, and its commit.
pub(crate) struct Opened {
    pub file: Box<dyn FileHandle>,
    pub commit: Option<Commit>,
}

/// Why an upload is refused before it starts.
pub(crate) type Refusal = (Code, String);

/// Which upload command, for [`open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    /// STOR without REST.
    Store,
    /// STOR after REST n > 0.
    Resume,
    /// APPE.
    Append,
}

/// Open the file a STOR/APPE of `target` writes into under `mode`.
pub(crate) fn open(
    mode: UploadMode,
    fs: &dyn Filesystem,
    target: &Path,
    write: Write,
) -> Result<Opened, Refusal> {
    let in_place = |m| {
        fs.open(target, m)
            .map(|file| Opened { file, commit: None })
            .map_err(refusal)
    };
    match (mode, write) {
        (UploadMode::Normal, Write::Store) => in_place(OpenMode::Write),
        (UploadMode::Normal, Write::Resume) => in_place(OpenMode::Resume),
        (UploadMode::Normal, Write::Append) => in_place(OpenMode::Append),
        (UploadMode::Atomic, Write::Resume) => Err(not_atomic()),
        (UploadMode::Atomic, Write::Append) if fs.lexists(target) => Err(not_atomic()),
        (UploadMode::Atomic, _) => {
            let dir = target.parent().unwrap_or(target);
            let (file, temp) = fs.mkstemp(dir, TEMP_PREFIX).map_err(refusal)?;
            let commit = Commit {
                temp,
                target: target.to_path_buf(),
                keep: false,
                reserved: false,
            };
            Ok(Opened {
                file,
                commit: Some(commit),
            })
        }
        (UploadMode::AtomicResume, _) => open_part(fs, target, write),
    }
}

/// atomic_resume: the partial file of `target`, new for a plain STOR,
/// continued for REST/APPE.
fn open_part(fs: &dyn Filesystem, target: &Path, write: Write) -> Result<Opened, Refusal> {
    let part = part_path(target).ok_or_else(|| refusal(io::ErrorKind::InvalidInput.into()))?;
    let have_part = fs.lexists(&part);
    let open_mode = match write {
        Write::Store => OpenMode::Write,
        Write::Resume if have_part => OpenMode::Resume,
        Write::Append if have_part => OpenMode::Append,
        Write::Append if !fs.lexists(target) => OpenMode::Write,
        Write::Resume | Write::Append => {
            return Err((
                reply::ACTION_NOT_TAKEN,
                "No partial upload of this file to resume (upload mode atomic_resume).".into(),
            ))
        }
    };
    let file = fs.open(&part, open_mode).map_err(refusal)?;
    let commit = Commit {
        temp: part,
        target: target.to_path_buf(),
        keep: true,
        reserved: false,
    };
    Ok(Opened {
        file,
        commit: Some(commit),
    })
}

/// STOU under an atomic mode: `reserved` (the new unique file) gets its
/// bytes through a temporary file.
pub(crate) fn open_unique(
    mode: UploadMode,
    fs: &dyn Filesystem,
    reserved: &Path,
) -> io::Result<Option<Opened>> {
    let (file, temp, keep) = match mode {
        UploadMode::Normal => return Ok(None),
        UploadMode::Atomic => {
            let dir = reserved.parent().unwrap_or(reserved);
            let (file, temp) = fs.mkstemp(dir, TEMP_PREFIX)?;
            (file, temp, false)
        }
        UploadMode::AtomicResume => {
            let part = part_path(reserved).ok_or(io::ErrorKind::InvalidInput)?;
            (fs.open(&part, OpenMode::Write)?, part, true)
        }
    };
    let commit = Commit {
        temp,
        target: reserved.to_path_buf(),
        keep,
        reserved: true,
    };
    Ok(Some(Opened {
        file,
        commit: Some(commit),
    }))
}

/// The partial file of `target`: `.ftpdlib-part.NAME` beside it.
pub(crate) fn part_path(target: &Path) -> Option<PathBuf> {
    let name = target.file_name()?;
    let mut part = std::ffi::OsString::from(PART_PREFIX);
    part.push(name);
    Some(target.with_file_name(part))
}

/// The upload ended: rename a complete one over its target; an incomplete
/// one is left for [`discard`]. Returns the rename's error.
pub(crate) fn complete(fs: &dyn Filesystem, commit: &Commit) -> io::Result<()> {
    fs.rename(&commit.temp, &commit.target)
}

/// An incomplete upload: remove its temporary file unless it is kept for
/// resume, and STOU's reserved name.
pub(crate) fn discard(fs: &dyn Filesystem, commit: &Commit) {
    if !commit.keep {
        let _ = fs.remove(&commit.temp);
    }
    if commit.reserved {
        let _ = fs.remove(&commit.target);
    }
}

fn not_atomic() -> Refusal {
    (
        reply::ACTION_NOT_TAKEN,
        "Resuming or appending to an existing file is not possible in upload mode atomic.".into(),
    )
}

fn refusal(e: io::Error) -> Refusal {
    (reply::ACTION_NOT_TAKEN, reply::strerror(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_mode_names_and_part_paths() {
        assert_eq!("atomic".parse(), Ok(UploadMode::Atomic));
        assert_eq!("atomic_resume".parse(), Ok(UploadMode::AtomicResume));
        assert_eq!("normal".parse(), Ok(UploadMode::Normal));
        assert!("fast".parse::<UploadMode>().is_err());
        assert_eq!(
            part_path(Path::new("/home/u/a.bin")),
            Some(PathBuf::from("/home/u/.ftpdlib-part.a.bin"))
        );
    }
}
