//! File-system commands on the control channel: CWD CDUP PWD MKD RMD DELE
//! RNFR RNTO SIZE MDTM MFMT SITE CHMOD (and their X* aliases).
//!
//! Each receives the real path that the dispatcher already confined to the
//! user's home and checked against the user's permissions.

use std::io;
use std::path::{Path, PathBuf};

use super::{off_loop, Session};
use crate::filesystems::{format_mdtm, parse_mdtm, Filesystem};
use crate::reply::{self, Code};

/// Quote a path for 257/250 replies, doubling embedded quotes (RFC 959
/// appendix II).
fn quoted(path: &str) -> String {
    format!("\"{}\"", path.replace('"', "\"\""))
}

/// Run a file-system operation, reply `ok` on success or 550 with the OS
/// error, and log it as pyftpdlib's `log_cmd` does.
pub(super) fn act(
    s: &mut Session,
    cmd: &str,
    path: &Path,
    result: io::Result<()>,
    ok: (Code, &str),
) {
    let (code, text) = match result {
        Ok(()) => (ok.0, ok.1.to_string()),
        Err(e) => (reply::ACTION_NOT_TAKEN, reply::strerror(&e)),
    };
    s.reply(code, &text);
    s.log_cmd(cmd, &path.to_string_lossy(), code, &text);
}

/// The file system, which the dispatcher guarantees after login.
fn fs(s: &mut Session) -> Option<&mut Box<dyn Filesystem>> {
    s.fs_or_reply()
}

/// CWD / XCWD / CDUP / XCUP.
pub(super) fn cwd(s: &mut Session, _: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let Some(fs) = fs(s) else { return };
    let result = fs.chdir(&path);
    let text = format!("{} is the current directory.", quoted(fs.cwd()));
    act(s, "CWD", &path, result, (reply::FILE_ACTION_OK, &text));
}

/// PWD / XPWD.
pub(super) fn pwd(s: &mut Session, _: &str, _: Option<PathBuf>) {
    let Some(fs) = fs(s) else { return };
    let text = format!("{} is the current directory.", quoted(fs.cwd()));
    s.reply(reply::PATH_CREATED, &text);
}

/// MKD / XMKD.
pub(super) fn mkd(s: &mut Session, _: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let Some(fs) = fs(s) else { return };
    let result = fs.mkdir(&path);
    let text = format!("{} directory created.", quoted(&fs.fs2ftp(&path)));
    act(s, "MKD", &path, result, (reply::PATH_CREATED, &text));
}

/// RMD / XRMD.
pub(super) fn rmd(s: &mut Session, _: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let Some(fs) = fs(s) else { return };
    if fs.realpath(&path).ok().as_deref() == fs.realpath(fs.root()).ok().as_deref() {
        return s.reply(reply::ACTION_NOT_TAKEN, "Can't remove root directory.");
    }
    let result = fs.rmdir(&path);
    act(
        s,
        "RMD",
        &path,
        result,
        (reply::FILE_ACTION_OK, "Directory removed."),
    );
}

/// DELE (a big file's removal runs on the worker pool, see `off_loop`).
pub(super) fn dele(s: &mut Session, _: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let Some(fs) = fs(s) else { return };
    let size = super::quota::file_size(&**fs, Some(&path));
    if off_loop::worth_it(s, size) {
        let task = s.fs.as_deref().and_then(|fs| fs.remove_off_loop(&path));
        let done = off_loop::Reply {
            cmd: "DELE",
            path,
            freed: size,
            ok: (reply::FILE_ACTION_OK, "File removed."),
        };
        let Some(done) = off_loop::hand_over(s, task, done) else {
            return;
        };
        return dele_inline(s, done.path, size);
    }
    dele_inline(s, path, size);
}

fn dele_inline(s: &mut Session, path: PathBuf, size: Option<u64>) {
    let Some(fs) = fs(s) else { return };
    let result = fs.remove(&path);
    if result.is_ok() {
        super::quota::freed(s, size);
    }
    act(
        s,
        "DELE",
        &path,
        result,
        (reply::FILE_ACTION_OK, "File removed."),
    );
}

/// RNFR: remember the source of a rename.
pub(super) fn rnfr(s: &mut Session, _: &str, path: Option<PathBuf>) {
    // RNTO belongs to the RNFR just before it (RFC 959 §4.1.3): a refused
    // RNFR leaves nothing to rename (pyftpdlib keeps an older source).
    s.rnfr = None;
    let Some(path) = path else { return };
    let Some(fs) = fs(s) else { return };
    if fs.realpath(&path).ok().as_deref() == fs.realpath(fs.root()).ok().as_deref() {
        return s.reply(reply::ACTION_NOT_TAKEN, "Can't rename home directory.");
    }
    if !fs.lexists(&path) {
        let text = "No such file or directory.";
        s.reply(reply::ACTION_NOT_TAKEN, text);
        return s.log_cmd(
            "RNFR",
            &path.to_string_lossy(),
            reply::ACTION_NOT_TAKEN,
            text,
        );
    }
    s.log_cmd("RNFR", &path.to_string_lossy(), reply::PENDING, "");
    s.rnfr = Some(path);
    s.reply(reply::PENDING, "Ready for destination name.");
}

/// RNTO: rename the RNFR source to this path.
pub(super) fn rnto(s: &mut Session, _: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let Some(src) = s.rnfr.take() else {
        return s.reply(
            reply::BAD_SEQUENCE,
            "Bad sequence of commands: use RNFR first.",
        );
    };
    let Some(fs) = fs(s) else { return };
    let replaced = super::quota::file_size(&**fs, Some(&path)).filter(|_| src != path);
    if off_loop::worth_it(s, replaced) {
        let task =
            s.fs.as_deref()
                .and_then(|fs| fs.rename_off_loop(&src, &path));
        let done = off_loop::Reply {
            cmd: "RNTO",
            path,
            freed: replaced,
            ok: (reply::FILE_ACTION_OK, "Renaming ok."),
        };
        let Some(done) = off_loop::hand_over(s, task, done) else {
            return;
        };
        return rnto_inline(s, src, done.path, replaced);
    }
    rnto_inline(s, src, path, replaced);
}

fn rnto_inline(s: &mut Session, src: PathBuf, path: PathBuf, replaced: Option<u64>) {
    let Some(fs) = fs(s) else { return };
    let result = fs.rename(&src, &path);
    if result.is_ok() {
        super::quota::freed(s, replaced);
    }
    act(
        s,
        "RNTO",
        &path,
        result,
        (reply::FILE_ACTION_OK, "Renaming ok."),
    );
}

/// SIZE: the size of a regular file, in binary type only (in ASCII the
/// transferred size is unknown without reading the file).
pub(super) fn size(s: &mut Session, _: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    if !s.binary {
        return s.reply(reply::ACTION_NOT_TAKEN, "SIZE not allowed in ASCII mode.");
    }
    let Some(fs) = fs(s) else { return };
    if !fs.isfile(&path) {
        let text = format!("{} is not retrievable.", fs.fs2ftp(&path));
        return s.reply(reply::ACTION_NOT_TAKEN, &text);
    }
    match fs.getsize(&path) {
        Ok(n) => s.reply(reply::FILE_STATUS, &n.to_string()),
        Err(e) => s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e)),
    }
}

/// MDTM: last modification time as `YYYYMMDDHHMMSS` (RFC 3659 §3).
pub(super) fn mdtm(s: &mut Session, _: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let utc = s.cfg.use_gmt_times;
    let Some(fs) = fs(s) else { return };
    if !fs.isfile(&path) {
        let text = format!("{} is not retrievable", fs.fs2ftp(&path));
        return s.reply(reply::ACTION_NOT_TAKEN, &text);
    }
    match fs.getmtime(&path) {
        Ok(t) => s.reply(reply::FILE_STATUS, &format_mdtm(t, utc)),
        Err(e) => s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e)),
    }
}

/// MFMT: set the modification time (draft-somers-ftp-mfxx).
pub(super) fn mfmt(s: &mut Session, arg: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let value = arg.split(' ').next().unwrap_or("");
    let Some(when) = parse_mdtm(value) else {
        return s.reply(
            reply::ACTION_NOT_TAKEN,
            "Invalid time format; expected: YYYYMMDDHHMMSS.",
        );
    };
    let Some(fs) = fs(s) else { return };
    let virt = fs.fs2ftp(&path);
    if !fs.isfile(&path) {
        let text = format!("{virt} is not retrievable");
        return s.reply(reply::ACTION_NOT_TAKEN, &text);
    }
    let result = fs.utime(&path, when);
    let text = format!("Modify={value}; {virt}.");
    act(s, "MFMT", &path, result, (reply::FILE_STATUS, &text));
}

/// SITE CHMOD mode path: 3 or 4 octal digits.
pub(super) fn site_chmod(s: &mut Session, arg: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let mode_text = arg.split(' ').next().unwrap_or("");
    let mode = match parse_chmod_mode(mode_text) {
        Some(m) => m,
        None => return s.reply(reply::BAD_ARGUMENT, "Invalid SITE CHMOD format."),
    };
    let Some(fs) = fs(s) else { return };
    let result = fs.chmod(&path, mode);
    act(
        s,
        "SITE CHMOD",
        &path,
        result,
        (reply::OK, "SITE CHMOD successful."),
    );
}

fn parse_chmod_mode(text: &str) -> Option<u32> {
    if !(3..=4).contains(&text.len()) || !text.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    u32::from_str_radix(text, 8).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_are_doubled_per_rfc959() {
        assert_eq!(quoted("/a\"b"), "\"/a\"\"b\"");
    }

    #[test]
    fn chmod_mode_is_three_or_four_octal_digits() {
        assert_eq!(parse_chmod_mode("755"), Some(0o755));
        assert_eq!(parse_chmod_mode("4755"), Some(0o4755));
        assert_eq!(parse_chmod_mode("78"), None);
        assert_eq!(parse_chmod_mode("789"), None);
        assert_eq!(parse_chmod_mode("77777"), None);
    }
}
