//! Checksum commands (ftpdlib extension, the `hash` feature): `HASH` and
//! `RANG` of draft-bryan-ftpext-hash (with `OPTS HASH`, in `cmd_info`),
//! and the older `XCRC`, `XMD5`, `XSHA1`, `XSHA256`, `XSHA512`.
//!
//! Each command checks its file and range, then hands a
//! [`HashJob`](crate::handlers::ftp::checksum::HashJob) to the control
//! channel, which computes it a round budget at a time and sends the reply
//! through [`Session::on_hash_done`]. No further command is interpreted
//! until then, except that an `ABOR` or `QUIT` sent meanwhile cancels it.

use std::io::SeekFrom;
use std::path::PathBuf;

use super::{printable, Effect, Session};
use crate::authorizers::Perm;
use crate::filesystems::OpenMode;
use crate::handlers::ftp::checksum::{algos, HashJob};
use crate::reply::{self, Code};

/// The table rows of the checksum commands.
pub(crate) fn rows() -> Vec<super::commands::Command> {
    use super::commands::{ArgRule, Command, PathRule};
    let x = |name: &str, help: &str, run: super::commands::Builtin| {
        Command::builtin(name, help, run).feat(name)
    };
    vec![
        Command::builtin(
            "HASH",
            "Syntax: HASH <SP> file-name (checksum of a file, see OPTS HASH).",
            hash,
        )
        .perm(Perm::Retrieve)
        .path(PathRule::Arg),
        Command::builtin(
            "RANG",
            "Syntax: RANG <SP> start <SP> end (byte range of the next HASH).",
            rang,
        ),
        x(
            "XCRC",
            "Syntax: XCRC <SP> file-name [<SP> start [<SP> end]] (CRC32 of a file).",
            xcrc,
        ),
        x(
            "XMD5",
            "Syntax: XMD5 <SP> file-name [<SP> start [<SP> end]] (MD5 of a file).",
            xmd5,
        ),
        x(
            "XSHA1",
            "Syntax: XSHA1 <SP> file-name [<SP> start [<SP> end]] (SHA-1 of a file).",
            xsha1,
        ),
        x(
            "XSHA256",
            "Syntax: XSHA256 <SP> file-name [<SP> start [<SP> end]] (SHA-256 of a file).",
            xsha256,
        ),
        x(
            "XSHA512",
            "Syntax: XSHA512 <SP> file-name [<SP> start [<SP> end]] (SHA-512 of a file).",
            xsha512,
        ),
    ]
    .into_iter()
    .map(|c| c.arg(ArgRule::Required))
    .collect()
}

/// HASH path: `213 ALGO start-end hex path` with the selected algorithm,
/// over the RANG range if one is pending (`end` exclusive, the file size
/// without one).
fn hash(s: &mut Session, arg: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let range = s
        .hash_range
        .take()
        .map(|(start, last)| (start, Some(last + 1)));
    let algo = s.hash_algo;
    let shown = printable(arg);
    start(s, path, algo, range, |start, end| Form {
        code: reply::FILE_STATUS,
        prefix: format!("{algo} {start}-{end} "),
        suffix: format!(" {shown}"),
    });
}

/// RANG start end (draft-bryan-ftp-range): the inclusive byte range of the
/// next HASH; `RANG 1 0` resets it. It applies to HASH only (RETR and STOR
/// keep REST), so it is not announced in FEAT.
fn rang(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    let mut words = arg.split(' ');
    let parsed = match (words.next(), words.next(), words.next()) {
        (Some(a), Some(b), None) => a.parse::<u64>().ok().zip(b.parse::<u64>().ok()),
        _ => None,
    };
    match parsed {
        Some((1, 0)) => {
            s.hash_range = None;
            s.reply(reply::PENDING, "Restarting at 1. Ending byte 0.");
        }
        Some((start, end)) if start <= end => {
            s.hash_range = Some((start, end));
            let text = format!("Restarting at {start}. Ending byte {end}.");
            s.reply(reply::PENDING, &text);
        }
        _ => s.reply(reply::BAD_ARGUMENT, "Invalid range."),
    }
}

fn xcrc(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    x_checksum(s, arg, "CRC32");
}

fn xmd5(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    x_checksum(s, arg, "MD5");
}

fn xsha1(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    x_checksum(s, arg, "SHA-1");
}

fn xsha256(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    x_checksum(s, arg, "SHA-256");
}

fn xsha512(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    x_checksum(s, arg, "SHA-512");
}

/// `XCRC path [start [end]]` and friends: `250 hex`. The path may be
/// quoted; trailing numbers are offsets unless the whole argument names an
/// existing file. One number is the end offset, two are start and end
/// (`end` exclusive; past the end of the file means the end of the file).
fn x_checksum(s: &mut Session, arg: &str, algo: &'static str) {
    let exists = |virt: &str| {
        s.fs.as_deref()
            .is_some_and(|fs| fs.lexists(&fs.ftp2fs(virt)))
    };
    let (virt, start_at, end) = match split_offsets(arg) {
        Some(split) if !exists(arg) => split,
        _ => (arg.to_string(), 0, None),
    };
    let Some(path) = s.checked_path(&virt, Perm::Retrieve) else {
        return;
    };
    let range = Some((start_at, end));
    start(s, path, algo, range, |_, _| Form {
        code: reply::FILE_ACTION_OK,
        prefix: String::new(),
        suffix: String::new(),
    });
}

/// An argument split into path, start and end offset, when it ends in
/// offsets or is quoted.
fn split_offsets(arg: &str) -> Option<(String, u64, Option<u64>)> {
    if let Some(rest) = arg.strip_prefix('"') {
        let (name, tail) = rest.split_once('"')?;
        let nums = numbers(tail.trim())?;
        return Some((name.to_string(), nums.0, nums.1));
    }
    let words: Vec<&str> = arg.rsplitn(3, ' ').collect();
    let num = |w: &str| w.parse::<u64>().ok();
    match words.as_slice() {
        [end, start, name] if num(end).is_some() && num(start).is_some() => {
            Some((name.to_string(), num(start)?, num(end)))
        }
        [end, _, _] | [end, _] if num(end).is_some() => {
            let name = arg.rsplit_once(' ')?.0;
            Some((name.to_string(), 0, num(end)))
        }
        _ => None,
    }
}

/// Offsets after a quoted path: none, `end`, or `start end`.
fn numbers(tail: &str) -> Option<(u64, Option<u64>)> {
    let parts: Vec<&str> = tail.split_whitespace().collect();
    match parts.as_slice() {
        [] => Some((0, None)),
        [end] => Some((0, Some(end.parse().ok()?))),
        [start, end] => Some((start.parse().ok()?, Some(end.parse().ok()?))),
        _ => None,
    }
}

/// The reply of a finished job.
struct Form {
    code: Code,
    prefix: String,
    suffix: String,
}

/// Open `path`, check the range `start..end` (`end` clamped to the size),
/// and hand the job to the control channel; replies the error otherwise.
fn start(
    s: &mut Session,
    path: PathBuf,
    algo: &'static str,
    range: Option<(u64, Option<u64>)>,
    form: impl FnOnce(u64, u64) -> Form,
) {
    let Some(fs) = s.fs_or_reply() else { return };
    if !fs.isfile(&path) {
        return s.reply(reply::ACTION_NOT_TAKEN, "Not a regular file.");
    }
    let opened = fs.open(&path, OpenMode::Read);
    let mut file = match opened {
        Ok(f) => f,
        Err(e) => return s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e)),
    };
    let size = match file.seek(SeekFrom::End(0)) {
        Ok(n) => n,
        Err(e) => return s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e)),
    };
    let (first, end) = match range {
        Some((first, end)) => (first, end.map_or(size, |e| e.min(size))),
        None => (0, size),
    };
    if first > end {
        let text = format!("Invalid range: start {first} is past the end ({end}).");
        return s.reply(reply::BAD_ARGUMENT, &text);
    }
    if let Err(e) = file.seek(SeekFrom::Start(first)) {
        return s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e));
    }
    let Some(digest) = algos::new(algo) else {
        return s.reply(reply::NOT_IMPLEMENTED_FOR_ARG, "Unsupported algorithm.");
    };
    let Form {
        code,
        prefix,
        suffix,
    } = form(first, end);
    let job = HashJob::new(file, end - first, digest, code, prefix, suffix);
    s.effects.push(Effect::Hash(Box::new(job)));
}

#[cfg(test)]
mod tests {
    use super::split_offsets;

    #[test]
    fn x_command_arguments_split_into_path_and_offsets() {
        assert_eq!(split_offsets("a.bin"), None);
        assert_eq!(
            split_offsets("a.bin 10 20"),
            Some(("a.bin".into(), 10, Some(20)))
        );
        assert_eq!(
            split_offsets("a.bin 20"),
            Some(("a.bin".into(), 0, Some(20)))
        );
        assert_eq!(
            split_offsets("my file 5 9"),
            Some(("my file".into(), 5, Some(9)))
        );
        assert_eq!(
            split_offsets("\"my file\" 5 9"),
            Some(("my file".into(), 5, Some(9)))
        );
        assert_eq!(
            split_offsets("\"my file\""),
            Some(("my file".into(), 0, None))
        );
        assert_eq!(split_offsets("\"my file\" x"), None);
    }
}
