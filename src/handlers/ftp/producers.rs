//! What a data channel moves (pyftpdlib `producers.py`): a file to send, a
//! listing produced a few entries at a time, a file to receive; ASCII
//! translation in both directions, safe across chunk boundaries; and the
//! [`Outcome`] reported to the control channel when a transfer ends.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use super::session::impersonation::Impersonation;
use super::sites::SiteAuthorizer;
use crate::authorizers::{Perm, Perms};
use crate::filesystems::{DirNames, Facts, FileHandle, Filesystem};

/// The command a transfer serves: what the xferlog, the hooks and the
/// transfer log line are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferKind {
    /// RETR: a file to the client.
    Retr,
    /// STOR: a file from the client.
    Stor,
    /// APPE: a file from the client, appended.
    Appe,
    /// STOU: a file from the client, under a new unique name.
    Stou,
    /// LIST: `ls -l` lines.
    List,
    /// NLST: bare names.
    Nlst,
    /// MLSD: RFC 3659 facts.
    Mlsd,
    /// Bytes a custom command sends (`CommandContext::push_dtp_data`).
    Pushed,
}

/// Which way a transfer's bytes go, as the xferlog's direction field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Server to client (`o`, outgoing).
    Download,
    /// Client to server (`i`, incoming).
    Upload,
}

impl TransferKind {
    /// The command name, for logs.
    pub fn name(self) -> &'static str {
        match self {
            TransferKind::Retr => "RETR",
            TransferKind::Stor => "STOR",
            TransferKind::Appe => "APPE",
            TransferKind::Stou => "STOU",
            TransferKind::List => "LIST",
            TransferKind::Nlst => "NLST",
            TransferKind::Mlsd => "MLSD",
            TransferKind::Pushed => "DATA",
        }
    }

    /// Whether a file (not a listing) moves: only those transfers are
    /// logged, written to the xferlog and reported to the file hooks.
    pub fn moves_a_file(self) -> bool {
        !matches!(
            self,
            TransferKind::List | TransferKind::Nlst | TransferKind::Mlsd | TransferKind::Pushed
        )
    }

    /// Which way the bytes go.
    pub fn direction(self) -> Direction {
        match self {
            TransferKind::Stor | TransferKind::Appe | TransferKind::Stou => Direction::Upload,
            TransferKind::Retr
            | TransferKind::List
            | TransferKind::Nlst
            | TransferKind::Mlsd
            | TransferKind::Pushed => Direction::Download,
        }
    }
}

/// A transfer handed from the session to its data channel.
pub(crate) struct Job {
    /// The command it serves.
    pub transfer: TransferKind,
    /// Real path of the file, or of the listed directory.
    pub path: PathBuf,
    pub kind: JobKind,
    /// An upload written under a temporary name (upload modes).
    pub commit: Option<Box<super::uploads::Commit>>,
    /// The user whose per-user bandwidth and quota this transfer counts
    /// against, when the authorizer gives the user any.
    pub account: Option<std::rc::Rc<super::accounts::Account>>,
}

impl Job {
    /// A `transfer` of `path` moving `kind`.
    pub fn new(transfer: TransferKind, path: PathBuf, kind: JobKind) -> Job {
        Job {
            transfer,
            path,
            kind,
            commit: None,
            account: None,
        }
    }
}

/// Direction and content of a transfer.
pub(crate) enum JobKind {
    /// Server → client.
    Send(Source),
    /// Client → server into `file`; `truncate` = cut the file at the end of
    /// the written data (a resumed STOR must not keep a stale tail).
    Receive {
        file: Box<dyn FileHandle>,
        ascii: bool,
        truncate: bool,
    },
}

/// What a download reads from.
pub(crate) enum Source {
    /// A file, from its current position.
    File {
        file: Box<dyn FileHandle>,
        ascii: bool,
        /// File offset for sendfile(2); `None` = plain reads.
        sendfile_offset: Option<i64>,
    },
    /// A directory listing.
    Listing(Box<Listing>),
}

/// How a transfer ended.
pub(crate) struct Outcome {
    /// The command the transfer served.
    pub transfer: TransferKind,
    pub path: PathBuf,
    /// ASCII type (for the xferlog).
    pub ascii: bool,
    pub bytes: u64,
    pub elapsed: f64,
    pub kind: OutcomeKind,
    /// The job's temporary-name upload, settled by the session.
    pub commit: Option<Box<super::uploads::Commit>>,
}

impl Outcome {
    /// Whether every byte moved.
    pub fn completed(&self) -> bool {
        matches!(self.kind, OutcomeKind::Complete)
    }
}

/// The reason a transfer ended.
pub(crate) enum OutcomeKind {
    /// Every byte moved.
    Complete,
    /// Stopped by ABOR.
    Aborted,
    /// The data connection failed (reset, EOF mid-download...).
    ClientGone(io::Error),
    /// A local error: reading or writing the file failed.
    LocalError(io::Error),
    /// No byte moved for `DtpHandler::timeout`.
    Stalled,
    /// The user's quota (bytes) was reached: 552.
    QuotaExceeded,
    /// The data connection broke a TLS rule (no session resumption, failed
    /// handshake); the text is the 522 reply.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Refused(String),
}

/// The three listing formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListFormat {
    /// `ls -l` lines (LIST).
    List,
    /// Bare names (NLST).
    Nlst,
    /// Machine-readable facts (MLSD).
    Mlsd(Facts),
}

/// Names read from the directory per call while a listing reads it.
const NAMES_PER_READ: usize = 4096;

/// Names per sorted run: sorting this many is a piece of ~2 ms, and fewer
/// runs make the merge cheaper per entry.
const NAMES_PER_RUN: usize = 4 * NAMES_PER_READ;

/// How long one call may format entries before it returns with its buffer
/// not full: stat'ing entries whose inodes are not in the cache reads the
/// disk (a cold 100,000-entry LIST held the loop 49 ms in one 64 KiB
/// buffer), so the piece is bounded in time, not only in bytes.
const FORMAT_TIME: std::time::Duration = std::time::Duration::from_millis(2);

/// Entries formatted between two looks at the clock.
const ENTRIES_PER_CLOCK_CHECK: u32 = 16;

/// A directory listing produced a few entries per call, so a directory of
/// 100,000 entries never holds the loop for long (pyftpdlib
/// `BufferedIteratorProducer`): the directory is read [`NAMES_PER_READ`]
/// names per call, sorted [`NAMES_PER_RUN`] at a time (sorted runs), then the
/// runs are merged an entry at a time as entries are formatted, a buffer
/// at a time. No call sorts the whole directory (100,000 names took
/// ~10 ms in one piece). Memory: the names of the whole directory (their
/// bytes plus 24 per entry on 64-bit), and one output buffer.
pub(crate) struct Listing {
    fs: Box<dyn Filesystem>,
    dir: PathBuf,
    /// The directory while it is still being read.
    reading: Option<Box<dyn DirNames>>,
    /// Names read and not yet in a sorted run.
    pending: Vec<OsString>,
    /// The sorted runs.
    runs: Vec<std::vec::IntoIter<OsString>>,
    /// The smallest name not yet listed of each run, with its run.
    heads: BinaryHeap<Reverse<(OsString, usize)>>,
    format: ListFormat,
    now: i64,
    utc: bool,
    /// For the MLSD perm fact: the authorizer and user to ask.
    perms: Option<(SiteAuthorizer, String)>,
    /// The perm fact when it is the same for every entry.
    fixed_perms: std::cell::Cell<Option<Perms>>,
    /// The user the entries are stat'ed as, when the listing is produced
    /// outside the command that started it (by the data channel).
    act_as: Option<Box<ActAs>>,
}

/// Who a listing's data-channel work runs as: `impersonate_user` around
/// each piece of it.
struct ActAs {
    auth: SiteAuthorizer,
    user: String,
    password: String,
    /// The name buffer lent to each impersonation.
    buffer: String,
}

impl Listing {
    /// A listing of the names `reading` gives, entries of `dir`.
    pub fn new(
        fs: Box<dyn Filesystem>,
        dir: PathBuf,
        reading: Box<dyn DirNames>,
        format: ListFormat,
        utc: bool,
        perms: Option<(SiteAuthorizer, String)>,
    ) -> Listing {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        Listing {
            fs,
            dir,
            reading: Some(reading),
            pending: Vec::new(),
            runs: Vec::new(),
            heads: BinaryHeap::new(),
            format,
            now,
            utc,
            perms,
            fixed_perms: std::cell::Cell::new(None),
            act_as: None,
        }
    }

    /// Produce the entries as `user` (logged in with `password`): the data
    /// channel calls [`fill_as_user`](Self::fill_as_user), which wraps each
    /// call in the authorizer's impersonation, so entries are stat'ed with
    /// the user's rights, not the server's.
    pub fn with_user(mut self, auth: SiteAuthorizer, user: &str, password: &str) -> Listing {
        self.act_as = Some(Box::new(ActAs {
            auth,
            user: user.to_owned(),
            password: password.to_owned(),
            buffer: String::new(),
        }));
        self
    }

    /// [`fill`](Self::fill) as the listing's user, if it has one. An
    /// error when the user's identity cannot be taken (the listing ends);
    /// if the server's identity cannot be taken back, the process aborts
    /// rather than serve other sessions with this user's rights.
    pub fn fill_as_user(&mut self, out: &mut Vec<u8>, limit: usize) -> io::Result<bool> {
        let Some(mut who) = self.act_as.take() else {
            return Ok(self.fill(out, limit));
        };
        let buffer = std::mem::take(&mut who.buffer);
        let auth = who.auth.clone();
        let guard = match Impersonation::begin(auth, &who.user, &who.password, buffer) {
            Ok(guard) => guard,
            Err((e, buffer)) => {
                who.buffer = buffer;
                self.act_as = Some(who);
                return Err(e);
            }
        };
        let more = self.fill(out, limit);
        let (outcome, buffer) = guard.end();
        if let Err(e) = outcome {
            log::error!(target: crate::log::LOGERROR, "cannot restore the server's identity after a listing: {e}; aborting");
            std::process::abort();
        }
        who.buffer = buffer;
        self.act_as = Some(who);
        Ok(more)
    }

    /// Read the next names of the directory, or, once all are read and
    /// sorted, append entries to `out` until it holds at least `limit`
    /// bytes or [`FORMAT_TIME`] has passed; returns false when nothing is
    /// left. Either way one call is a
    /// bounded piece of work. Entries that vanish or cannot be read
    /// mid-listing are skipped, as pyftpdlib does (ignore_err=True).
    pub fn fill(&mut self, out: &mut Vec<u8>, limit: usize) -> bool {
        if let Some(reading) = self.reading.as_mut() {
            let more = matches!(
                reading.read_names(NAMES_PER_READ, &mut self.pending),
                Ok(true)
            );
            if !self.pending.is_empty() && (!more || self.pending.len() >= NAMES_PER_RUN) {
                let mut run = std::mem::take(&mut self.pending);
                run.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
                self.runs.push(run.into_iter());
            }
            if more {
                return true;
            }
            self.reading = None;
            for run in 0..self.runs.len() {
                self.advance(run);
            }
            if !self.heads.is_empty() {
                return true;
            }
        }
        let started = std::time::Instant::now();
        let mut formatted = 0u32;
        while out.len() < limit {
            formatted += 1;
            if formatted % ENTRIES_PER_CLOCK_CHECK == 0 && started.elapsed() >= FORMAT_TIME {
                break;
            }
            let Some(Reverse((name, run))) = self.heads.pop() else {
                return false;
            };
            self.advance(run);
            let shown = name.as_encoded_bytes();
            let _ = match self.format {
                ListFormat::Nlst => {
                    out.extend_from_slice(shown);
                    out.extend_from_slice(b"\r\n");
                    Ok(())
                }
                ListFormat::List => self
                    .fs
                    .format_list(&self.dir, &name, self.now, self.utc, out),
                ListFormat::Mlsd(facts) => {
                    let perms = self.perms_in(&name);
                    self.fs
                        .format_mlsx(&self.dir, &name, perms, facts, self.utc, out)
                }
            };
        }
        !self.heads.is_empty()
    }

    /// Put the next name of sorted run `run` among the heads (OsStr orders
    /// by raw bytes on Unix, as the runs are sorted).
    fn advance(&mut self, run: usize) {
        if let Some(name) = self.runs.get_mut(run).and_then(Iterator::next) {
            self.heads.push(Reverse((name, run)));
        }
    }

    fn perms_in(&self, name: &std::ffi::OsStr) -> Perms {
        if let Some(fixed) = self.fixed_perms.get() {
            return fixed;
        }
        let path = self.dir.join(name);
        let path = path.as_path();
        let perms = match &self.perms {
            Some((auth, user)) => perms_at(&**auth, user, path),
            None => Perms::default(),
        };
        // Without per-directory overrides every entry has the same answer.
        if let Some((auth, user)) = &self.perms {
            if !auth.perms_vary_by_path(user) {
                self.fixed_perms.set(Some(perms));
            }
        }
        perms
    }
}

/// The user's permissions at `path`, honouring per-directory overrides.
pub(crate) fn perms_at(
    auth: &dyn crate::authorizers::Authorizer,
    user: &str,
    path: &std::path::Path,
) -> Perms {
    Perm::ALL
        .into_iter()
        .filter(|p| auth.has_perm(user, *p, Some(path)))
        .fold(Perms::default(), Perms::with)
}

/// LF → CRLF for ASCII downloads (RFC 959 §3.1.1.1), remembering whether
/// the previous chunk ended in CR.
#[derive(Debug, Default)]
pub(crate) struct ToCrlf {
    last_cr: bool,
}

impl ToCrlf {
    /// Append `input` translated to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if b == b'\n' && !self.last_cr {
                out.push(b'\r');
            }
            out.push(b);
            self.last_cr = b == b'\r';
        }
    }
}

/// CRLF → LF for ASCII uploads, holding a trailing CR until the next chunk
/// shows whether an LF follows.
#[derive(Debug, Default)]
pub(crate) struct FromCrlf {
    held_cr: bool,
}

impl FromCrlf {
    /// Append `input` translated to `out`.
    pub fn push(&mut self, input: &[u8], out: &mut Vec<u8>) {
        for &b in input {
            if self.held_cr {
                self.held_cr = false;
                if b != b'\n' {
                    out.push(b'\r');
                }
            }
            if b == b'\r' {
                self.held_cr = true;
            } else {
                out.push(b);
            }
        }
    }

    /// Flush a CR held at the very end of the data.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if std::mem::take(&mut self.held_cr) {
            out.push(b'\r');
        }
    }
}

/// Read up to `want` bytes of `file` into the end of `out`.
pub(crate) fn read_chunk(
    file: &mut dyn FileHandle,
    out: &mut Vec<u8>,
    want: usize,
) -> io::Result<usize> {
    let start = out.len();
    out.resize(start + want, 0);
    let n = loop {
        match file.read(&mut out[start..]) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                out.truncate(start);
                return Err(e);
            }
        }
    };
    out.truncate(start + n);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_listing_is_read_and_formatted_in_bounded_pieces() {
        let home = tempfile::tempdir().expect("home");
        let n = 3 * NAMES_PER_READ + 10;
        for i in 0..n {
            std::fs::write(home.path().join(format!("f{i:05}")), b"").expect("file");
        }
        let fs = crate::AbstractedFs::new(home.path().to_path_buf());
        let reading = fs.open_listing(home.path()).expect("open");
        let mut listing = Listing::new(
            Box::new(fs),
            home.path().to_path_buf(),
            reading,
            ListFormat::Nlst,
            true,
            None,
        );
        let mut pieces = Vec::new();
        let mut out = Vec::new();
        loop {
            let before = out.len();
            let more = listing.fill(&mut out, before + 4096);
            pieces.push(out.len() - before);
            if !more {
                break;
            }
        }
        // Four reads of at most NAMES_PER_READ names produce nothing yet;
        // then entries come a bounded buffer at a time, sorted.
        assert_eq!(&pieces[..4], &[0, 0, 0, 0]);
        assert!(
            pieces[4..].iter().all(|&p| p > 0 && p < 4096 + 16),
            "{pieces:?}"
        );
        let text = String::from_utf8(out).expect("names");
        let names: Vec<&str> = text.lines().collect();
        assert_eq!(names.len(), n);
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted");
    }

    /// A file system whose LIST lines are slow (1 ms each, like entries
    /// whose inodes must be read from a slow disk).
    #[derive(Clone)]
    struct SlowStat;

    impl crate::FilesystemOverrides<crate::AbstractedFs> for SlowStat {
        fn format_list(
            &self,
            this: &dyn Filesystem,
            dir: &std::path::Path,
            entry: &std::ffi::OsStr,
            now: i64,
            utc: bool,
            out: &mut Vec<u8>,
        ) -> io::Result<()> {
            std::thread::sleep(std::time::Duration::from_millis(1));
            crate::filesystems::format_list_entry_in(this, dir, entry, now, utc, out)
        }
    }

    #[test]
    fn a_piece_of_slow_entries_ends_on_time_not_on_a_full_buffer() {
        let home = tempfile::tempdir().expect("home");
        let n = 200;
        for i in 0..n {
            std::fs::write(home.path().join(format!("f{i:03}")), b"").expect("file");
        }
        let base = crate::AbstractedFs::new(home.path().to_path_buf());
        let reading = base.open_listing(home.path()).expect("open");
        let fs = crate::Subclass::new(base, SlowStat);
        let mut listing = Listing::new(
            Box::new(fs),
            home.path().to_path_buf(),
            reading,
            ListFormat::List,
            true,
            None,
        );
        // The names are read and sorted in the first call.
        let mut out = Vec::new();
        assert!(listing.fill(&mut out, 1 << 20));
        assert!(out.is_empty());
        // A 1 MiB buffer would take all 200 lines (200 ms here); the piece
        // stops at the first look at the clock past FORMAT_TIME: 15 lines
        // of 1 ms at least (the sleep makes it later, never earlier).
        let mut lines = Vec::new();
        loop {
            let mut out = Vec::new();
            let more = listing.fill(&mut out, 1 << 20);
            lines.push(out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count());
            if !more {
                break;
            }
        }
        let per_piece = ENTRIES_PER_CLOCK_CHECK as usize - 1;
        assert_eq!(lines.iter().sum::<usize>(), n);
        assert_eq!(lines.len(), n.div_ceil(per_piece), "{lines:?}");
        assert!(
            lines[..lines.len() - 1].iter().all(|&l| l == per_piece),
            "{lines:?}"
        );
    }

    #[test]
    fn only_file_transfers_are_logged_and_uploads_are_incoming() {
        use TransferKind::*;
        let logged: Vec<_> = [Retr, Stor, Appe, Stou, List, Nlst, Mlsd]
            .into_iter()
            .filter(|k| k.moves_a_file())
            .map(TransferKind::name)
            .collect();
        assert_eq!(logged, ["RETR", "STOR", "APPE", "STOU"]);
        assert_eq!(TransferKind::Retr.direction(), Direction::Download);
        assert_eq!(TransferKind::Mlsd.direction(), Direction::Download);
        assert_eq!(TransferKind::Stou.direction(), Direction::Upload);
        assert_eq!(TransferKind::Appe.direction(), Direction::Upload);
    }

    #[test]
    fn lf_becomes_crlf_across_chunks() {
        let mut t = ToCrlf::default();
        let mut out = Vec::new();
        t.push(b"a\nb\r", &mut out);
        t.push(b"\nc\n", &mut out);
        assert_eq!(out, b"a\r\nb\r\nc\r\n");
    }

    #[test]
    fn crlf_becomes_lf_across_chunks_and_lone_cr_survives() {
        let mut t = FromCrlf::default();
        let mut out = Vec::new();
        t.push(b"a\r", &mut out);
        t.push(b"\nb\rc\r", &mut out);
        t.finish(&mut out);
        assert_eq!(out, b"a\nb\rc\r");
    }

    #[test]
    fn ascii_round_trip_of_a_unix_text() {
        let text = b"line one\nline two\n\nend";
        let mut wire = Vec::new();
        let mut back = Vec::new();
        let mut to = ToCrlf::default();
        let mut from = FromCrlf::default();
        for chunk in text.chunks(3) {
            to.push(chunk, &mut wire);
        }
        for chunk in wire.chunks(2) {
            from.push(chunk, &mut back);
        }
        from.finish(&mut back);
        assert_eq!(wire, b"line one\r\nline two\r\n\r\nend");
        assert_eq!(back, text);
    }
}
