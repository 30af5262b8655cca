//! Transfer and listing commands: RETR STOR APPE STOU LIST NLST MLSD, and
//! MLST and STAT which answer on the control channel; plus `finish`, which
//! turns a transfer's outcome into its reply, log line and counters.

use std::io::SeekFrom;
use std::path::{Path, PathBuf};

use super::{off_loop, quota, DataState, Effect, Ended, Session};
use crate::authorizers::Perm;
use crate::filesystems::{format_mlsx_entry, FileHandle, OpenMode};
use crate::handlers::ftp::producers::{
    perms_at, Job, JobKind, ListFormat, Listing, Outcome, OutcomeKind, Source, TransferKind,
};
use crate::handlers::ftp::uploads::{self, Write};
use crate::reply::{self, MultiLine};

/// RETR: send a file, from the REST offset if one is pending. The file
/// and the offset are checked before the data connection (pyftpdlib's
/// order): a client learns of a missing file with its 550, not a 425.
pub(super) fn retr(s: &mut Session, _: &str, path: Option<PathBuf>) {
    if s.transfer_busy() {
        return;
    }
    let Some(path) = path else { return };
    let rest = std::mem::take(&mut s.restart_position);
    let binary = s.binary;
    let use_sendfile = s.cfg.use_sendfile && binary;
    let Some(fs) = s.fs_or_reply() else { return };
    if fs.isdir(&path) {
        return s.reply(reply::ACTION_NOT_TAKEN, "Is a directory.");
    }
    let opened = fs.open(&path, OpenMode::Read);
    let mut file = match opened {
        Ok(f) => f,
        Err(e) => return s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e)),
    };
    if rest > 0 && !seek_within(s, &mut *file, rest) {
        return;
    }
    if s.no_data_connection() {
        return;
    }
    let sendfile_offset = match file.raw_fd() {
        Some(_) if use_sendfile => Some(rest as i64),
        _ => None,
    };
    let source = Source::File {
        file,
        ascii: !binary,
        sendfile_offset,
    };
    let mut job = Job::new(TransferKind::Retr, path, JobKind::Send(source));
    job.account = quota::account(s);
    s.start_or_queue(job, None);
}

/// Seek to a REST offset, refusing one past the end (RFC 1123 554).
fn seek_within(s: &mut Session, file: &mut dyn FileHandle, rest: u64) -> bool {
    let size = match file.seek(SeekFrom::End(0)) {
        Ok(n) => n,
        Err(e) => {
            s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e));
            return false;
        }
    };
    if rest > size {
        let text = format!("REST position ({rest}) > file size ({size})");
        s.reply(reply::INVALID_REST, &text);
        return false;
    }
    if let Err(e) = file.seek(SeekFrom::Start(rest)) {
        s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e));
        return false;
    }
    true
}

/// STOR: receive a file; with a pending REST, write from that offset and
/// cut the file where the upload ends.
pub(super) fn stor(s: &mut Session, _: &str, path: Option<PathBuf>) {
    if s.transfer_busy() {
        return;
    }
    let Some(path) = path else { return };
    let rest = std::mem::take(&mut s.restart_position);
    let write = if rest > 0 {
        Write::Resume
    } else {
        Write::Store
    };
    receive(s, TransferKind::Stor, path, write, rest);
}

/// APPE: receive and append.
pub(super) fn appe(s: &mut Session, _: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    if s.restart_position != 0 {
        return s.reply(
            reply::FILE_UNAVAILABLE,
            "Can't APPE while REST request is pending.",
        );
    }
    if s.transfer_busy() {
        return;
    }
    receive(s, TransferKind::Appe, path, Write::Append, 0);
}

/// STOR/APPE of `path` under the upload mode, after the quota check.
fn receive(s: &mut Session, transfer: TransferKind, path: PathBuf, write: Write, rest: u64) {
    let upload_mode = s.cfg.upload_mode;
    let account = quota::account(s);
    let Some(fs) = s.fs_or_reply() else { return };
    if fs.isdir(&path) {
        return s.reply(reply::ACTION_NOT_TAKEN, "Is a directory.");
    }
    if s.data.state() == DataState::Idle && write != Write::Resume {
        // No data connection: the 425 comes after what can be checked
        // without creating or truncating the file (REST + STOR's update
        // mode creates nothing, so it is opened and checked below).
        if let Err(e) = parent_is_dir(s, &path) {
            return s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e));
        }
        s.no_data_connection();
        return;
    }
    let Some(fs) = s.fs.as_deref() else { return };
    let written = quota::written_path(upload_mode, &path);
    let before = quota::file_size(fs, written.as_deref());
    let target_new = !fs.lexists(&path);
    if let Some(a) = &account {
        if let Err(text) = quota::allows(a, fs, target_new && before.is_none()) {
            return s.reply(reply::STORAGE_EXCEEDED, &text);
        }
    }
    // Over a big file, the truncation that frees its blocks runs on the
    // pool first (`off_loop`); the upload goes on in `store_truncated`.
    let plain_store = upload_mode == uploads::UploadMode::Normal && write == Write::Store;
    if plain_store && off_loop::worth_it(s, before) {
        if let Some(task) = s.fs.as_deref().and_then(|fs| fs.truncate_off_loop(&path)) {
            let then = off_loop::Upload {
                transfer,
                path,
                before,
            };
            return off_loop::start(s, task, off_loop::Pending::Upload(then));
        }
    }
    open_and_start(s, transfer, path, write, rest, before, account);
}

/// STOR whose target the pool truncated: open it and go on, as
/// [`receive`] would have (its checks passed before the truncation).
pub(super) fn store_truncated(s: &mut Session, u: off_loop::Upload) {
    let account = quota::account(s);
    open_and_start(s, u.transfer, u.path, Write::Store, 0, u.before, account);
}

/// The second half of [`receive`]: open the file written (truncating or
/// not), charge the quota, start or queue the transfer.
fn open_and_start(
    s: &mut Session,
    transfer: TransferKind,
    path: PathBuf,
    write: Write,
    rest: u64,
    before: Option<u64>,
    account: Option<std::rc::Rc<crate::handlers::ftp::accounts::Account>>,
) {
    let ascii = !s.binary;
    let upload_mode = s.cfg.upload_mode;
    let Some(fs) = s.fs.as_deref() else { return };
    let opened = match uploads::open(upload_mode, fs, &path, write) {
        Ok(o) => o,
        Err((code, text)) => return s.reply(code, &text),
    };
    let uploads::Opened { mut file, commit } = opened;
    if (rest > 0 && !seek_within(s, &mut *file, rest)) || s.no_data_connection() {
        if let (Some(c), Some(fs)) = (&commit, s.fs.as_deref()) {
            uploads::discard(fs, c);
        }
        return;
    }
    if let Some(a) = &account {
        // The file written is new unless it existed (atomic's is always new).
        quota::charge_start(a, write, before, rest, i64::from(before.is_none()));
    }
    let kind = JobKind::Receive {
        file,
        ascii,
        truncate: rest > 0,
    };
    let mut job = Job::new(transfer, path, kind);
    job.commit = commit.map(Box::new);
    job.account = account;
    s.start_or_queue(job, None);
}

/// The directory an upload would create its file in exists.
fn parent_is_dir(s: &Session, path: &Path) -> std::io::Result<()> {
    let (Some(fs), Some(parent)) = (s.fs.as_deref(), path.parent()) else {
        return Ok(());
    };
    if fs.isdir(parent) {
        Ok(())
    } else if fs.lexists(parent) {
        Err(std::io::Error::from_raw_os_error(libc::ENOTDIR))
    } else {
        Err(std::io::Error::from_raw_os_error(libc::ENOENT))
    }
}

/// STOU [name]: receive into a new file with a unique name (RFC 1123
/// "FILE: name" reply). Sent before any PASV/PORT it is accepted as in
/// pyftpdlib: the file is created, `150 FILE: name` answered, and the
/// upload runs on the data connection of the next PASV/EPSV/PORT/EPRT.
pub(super) fn stou(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if s.restart_position != 0 {
        return s.reply(
            reply::FILE_UNAVAILABLE,
            "Can't STOU while REST request is pending.",
        );
    }
    if s.transfer_busy() {
        return;
    }
    let Some((virt_dir, prefix)) = unique_name_parts(s, arg) else {
        return;
    };
    let Some(dir) = s.checked_path(&virt_dir, Perm::Store) else {
        return;
    };
    let ascii = !s.binary;
    let account = quota::account(s);
    if let (Some(a), Some(fs)) = (&account, s.fs.as_deref()) {
        if let Err(text) = quota::allows(a, fs, true) {
            return s.reply(reply::STORAGE_EXCEEDED, &text);
        }
    }
    let Some((file, path)) = create_unique(s, &dir, &prefix) else {
        return;
    };
    let Some((file, commit)) = unique_upload(s, file, &path) else {
        return;
    };
    if let Some(a) = &account {
        // The reserved name, and the temporary file of the atomic modes.
        a.adjust(0, 1 + i64::from(commit.is_some()));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let kind = JobKind::Receive {
        file,
        ascii,
        truncate: false,
    };
    let mut job = Job::new(TransferKind::Stou, path, kind);
    job.commit = commit.map(Box::new);
    job.account = account;
    s.start_or_queue(job, Some(&name));
}

/// Under an atomic upload mode, the temporary file STOU writes instead of
/// its reserved `path` (else `file` itself); the reserved name is removed
/// and the error replied when it cannot be made.
fn unique_upload(
    s: &mut Session,
    file: Box<dyn FileHandle>,
    path: &Path,
) -> Option<(Box<dyn FileHandle>, Option<uploads::Commit>)> {
    let fs = s.fs.as_deref()?;
    match uploads::open_unique(s.cfg.upload_mode, fs, path) {
        Ok(Some(o)) => Some((o.file, o.commit)),
        Ok(None) => Some((file, None)),
        Err(e) => {
            let _ = fs.remove(path);
            s.reply(reply::FILE_UNAVAILABLE, &reply::strerror(&e));
            None
        }
    }
}

/// The virtual directory and the name prefix of STOU's new file: the
/// argument's directory and `base.`, or the cwd and `ftpd.` without one.
fn unique_name_parts(s: &Session, arg: &str) -> Option<(String, String)> {
    if arg.is_empty() {
        return Some((String::new(), "ftpd.".to_string()));
    }
    let norm = s.fs.as_deref()?.ftpnorm(arg);
    let (dir, base) = norm.rsplit_once('/').unwrap_or(("", norm.as_str()));
    let dir = if dir.is_empty() { "/" } else { dir };
    Some((dir.to_string(), format!("{base}.")))
}

/// Create STOU's file in `dir` and check the store permission on the file
/// itself (a per-directory override may refuse it); replies on failure.
fn create_unique(
    s: &mut Session,
    dir: &Path,
    prefix: &str,
) -> Option<(Box<dyn FileHandle>, PathBuf)> {
    let fs = s.fs_or_reply()?;
    let created = fs.mkstemp(dir, prefix);
    let (file, path) = match created {
        Ok(pair) => pair,
        Err(e) => {
            s.reply(reply::FILE_UNAVAILABLE, &reply::strerror(&e));
            return None;
        }
    };
    if !s
        .authorizer()
        .has_perm(&s.username, Perm::Store, Some(&path))
    {
        if let Some(fs) = s.fs.as_deref() {
            let _ = fs.remove(&path);
        }
        s.reply(reply::ACTION_NOT_TAKEN, "Not enough privileges.");
        return None;
    }
    Some((file, path))
}

/// LIST [path]: `ls -l` lines on the data channel.
pub(super) fn list(s: &mut Session, _: &str, path: Option<PathBuf>) {
    if s.transfer_busy() {
        return;
    }
    listing(s, TransferKind::List, path, ListFormat::List);
}

/// NLST [path]: bare names on the data channel.
pub(super) fn nlst(s: &mut Session, _: &str, path: Option<PathBuf>) {
    if s.transfer_busy() {
        return;
    }
    listing(s, TransferKind::Nlst, path, ListFormat::Nlst);
}

/// MLSD [path]: RFC 3659 facts of a directory's entries.
pub(super) fn mlsd(s: &mut Session, _: &str, path: Option<PathBuf>) {
    if s.transfer_busy() {
        return;
    }
    let Some(path) = path else { return };
    let is_dir = s.fs.as_deref().is_some_and(|fs| fs.isdir(&path));
    if !is_dir {
        return s.reply(reply::BAD_ARGUMENT, "No such directory.");
    }
    let facts = s.facts;
    listing(s, TransferKind::Mlsd, Some(path), ListFormat::Mlsd(facts));
}

fn listing(s: &mut Session, transfer: TransferKind, path: Option<PathBuf>, format: ListFormat) {
    let Some(path) = path else { return };
    let utc = s.cfg.use_gmt_times;
    let auth = crate::handlers::ftp::sites::SiteAuthorizer::new(&s.cfg, s.site);
    let perms = Some((auth.clone(), s.username.clone()));
    let Some(fs) = s.fs_or_reply() else { return };
    let listed = entries_of(&**fs, &path);
    let (dir, names) = match listed {
        Ok(pair) => pair,
        Err(e) => return s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e)),
    };
    if s.no_data_connection() {
        return;
    }
    let Some(fs) = s.fs.as_deref() else { return };
    let producer = Listing::new(fs.box_clone(), dir, names, format, utc, perms);
    // The data channel produces it later, outside this command's
    // impersonation: it stats the entries as the user again.
    let producer = producer.with_user(auth, &s.username, &s.password);
    let job = Job::new(
        transfer,
        path,
        JobKind::Send(Source::Listing(Box::new(producer))),
    );
    s.start_or_queue(job, None);
}

/// A directory opened for reading its names as the listing goes, or a
/// single non-directory as one entry of its parent.
fn entries_of(
    fs: &dyn crate::Filesystem,
    path: &Path,
) -> std::io::Result<(PathBuf, Box<dyn crate::DirNames>)> {
    if fs.isdir(path) {
        return Ok((path.to_path_buf(), fs.open_listing(path)?));
    }
    if !fs.lexists(path) {
        return Err(std::io::Error::from_raw_os_error(libc::ENOENT));
    }
    let parent = path.parent().unwrap_or(path).to_path_buf();
    let name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    Ok((parent, crate::filesystems::given_names(vec![name])))
}

/// MLST [path]: the facts of one path on the control channel.
pub(super) fn mlst(s: &mut Session, _: &str, path: Option<PathBuf>) {
    let Some(path) = path else { return };
    let (utc, facts) = (s.cfg.use_gmt_times, s.facts);
    let perms = perms_at(s.authorizer(), &s.username, &path);
    let Some(fs) = s.fs_or_reply() else { return };
    let virt = fs.fs2ftp(&path);
    let mut entry = Vec::new();
    let formatted = format_mlsx_entry(&**fs, &path, virt.as_bytes(), perms, facts, utc, &mut entry);
    if let Err(e) = formatted {
        return s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e));
    }
    let mut lines = MultiLine::new(reply::FILE_ACTION_OK, &format!("Listing \"{virt}\":"));
    let entry = String::from_utf8_lossy(&entry);
    lines.line(entry.strip_suffix("\r\n").unwrap_or(&entry));
    let (code, text) = lines.end("End MLST.");
    s.reply_raw(code, &text);
}

/// STAT: server status, or with a path a LIST on the control channel.
pub(super) fn stat(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if arg.is_empty() {
        return server_status(s);
    }
    if arg.contains(['*', '?', '[']) {
        return s.reply(reply::ACTION_NOT_TAKEN, "Globbing not supported.");
    }
    let target = super::listing_target(arg).to_string();
    let Some(path) = s.checked_path(&target, Perm::List) else {
        return;
    };
    let utc = s.cfg.use_gmt_times;
    let Some(fs) = s.fs_or_reply() else { return };
    let listed = entries_of(&**fs, &path);
    let (dir, names) = match listed {
        Ok(pair) => pair,
        Err(e) => return s.reply(reply::ACTION_NOT_TAKEN, &reply::strerror(&e)),
    };
    let virt = fs.fs2ftp(&path);
    let mut body = Vec::new();
    let mut producer = Listing::new(fs.box_clone(), dir, names, ListFormat::List, utc, None);
    while producer.fill(&mut body, 1 << 16) {}
    let mut lines = MultiLine::new(reply::FILE_STATUS, &format!("Status of \"{virt}\":"));
    for line in String::from_utf8_lossy(&body).lines() {
        lines.line(line);
    }
    let (code, text) = lines.end("End of status.");
    s.reply_raw(code, &text);
}

fn server_status(s: &mut Session) {
    let mut lines = MultiLine::new(reply::SYSTEM_STATUS, "FTP server status:");
    let local = s.local;
    lines.line(&format!("Connected to: {}:{}", local.ip(), local.port()));
    if s.authenticated {
        let user = super::printable(&s.username);
        lines.line(&format!("Logged in as: {user}"));
    } else if s.username.is_empty() {
        lines.line("Waiting for username.");
    } else {
        lines.line("Waiting for password.");
    }
    let kind = if s.binary { "Binary" } else { "ASCII" };
    lines.line(&format!("TYPE: {kind}; STRUcture: File; MODE: Stream"));
    lines.line(&data_status(s));
    let (code, text) = lines.end("End of status.");
    s.reply_raw(code, &text);
}

/// STAT's line about the data connection.
fn data_status(s: &Session) -> String {
    match (s.data.state(), s.stats) {
        (DataState::Transferring, Some(st)) => format!(
            "Data connection open: {} {} bytes in {:.1} seconds.",
            if st.receiving { "received" } else { "sent" },
            st.bytes,
            st.elapsed
        ),
        (DataState::Listening, _) => "Passive data channel waiting for connection.".to_string(),
        (DataState::Connecting, _) => "Active data channel connecting.".to_string(),
        (DataState::Connected, _) => "Data connection open, no transfer.".to_string(),
        _ => "Data connection closed.".to_string(),
    }
}

/// Reply to a finished transfer, log it, and close the session if QUIT was
/// waiting for it.
pub(super) fn finish(s: &mut Session, mut outcome: Outcome, by: Ended) {
    let account = quota::account(s);
    quota::commit(s, &mut outcome, account.as_deref());
    match &outcome.kind {
        OutcomeKind::Complete => s.reply(reply::TRANSFER_COMPLETE, "Transfer complete."),
        OutcomeKind::Aborted if by == Ended::Replaced => {
            let text = format!("Transfer aborted; {} bytes transmitted.", outcome.bytes);
            s.reply(reply::TRANSFER_ABORTED, &text);
        }
        OutcomeKind::Aborted => {
            s.reply(reply::TRANSFER_ABORTED, "Transfer aborted via ABOR.");
            if by == Ended::ByAbor {
                s.reply(reply::TRANSFER_COMPLETE, "ABOR command successful.");
            }
        }
        OutcomeKind::ClientGone(e) => {
            let text = format!(
                "{} Transfer aborted; {} bytes transmitted.",
                reply::strerror(e),
                outcome.bytes
            );
            s.reply(reply::TRANSFER_ABORTED, &text);
        }
        OutcomeKind::LocalError(e) => {
            let text = format!(
                "{}; transfer aborted.",
                reply::strerror(e).trim_end_matches('.')
            );
            s.reply(reply::write_error_code(e), &text);
        }
        OutcomeKind::Refused(text) => s.reply(reply::BAD_NETWORK_PROTOCOL, text),
        OutcomeKind::Stalled => s.reply(
            reply::TRANSFER_ABORTED,
            "Data connection timed out; transfer aborted.",
        ),
        OutcomeKind::QuotaExceeded => {
            s.reply(reply::STORAGE_EXCEEDED, "Quota exceeded; transfer aborted.")
        }
    }
    if outcome.transfer.moves_a_file() {
        let transfer = outcome.transfer;
        super::transfer_log::record(s, transfer, &outcome);
    }
    quota::discard(s, &outcome);
    if s.quitting {
        s.effects.push(Effect::Close);
    }
}
