//! The data channel (pyftpdlib `handlers/ftp/data.py`, `DTPHandler`): the
//! dispatcher that moves one transfer's bytes, with sendfile(2) for
//! downloads, splice(2) for uploads, ASCII translation, TLS, throttling and
//! the server-wide bandwidth buckets. The passive and active dispatchers
//! that set its connection up are in `dispatchers`.
//!
//! Each data-side dispatcher is a dispatcher of its own in the loop and talks to its control
//! channel only through notices: `DataConnected` when the connection is up,
//! `DataReply` for a refusal or failure, `TransferDone` when a transfer
//! ends. The control channel owns the link and removes the data side
//! directly when it aborts or closes.

use std::io::{self, Write};
use std::rc::Rc;
use std::time::Instant;

use super::conn::Conn;
use super::dispatch::{Core, Notice, Timer};
use super::producers::{read_chunk, FromCrlf, Job, JobKind, Outcome, OutcomeKind, Source, ToCrlf};
use super::FtpHandler;
use crate::ioloop::{CallLater, Link, Ready, Status};
use crate::log::LOG;

/// Bytes moved per splice(2) call on uploads (also the pipe size asked for).
const SPLICE_CHUNK: usize = 1 << 20;

/// Bytes a data channel may move per loop round before yielding to others:
/// at full speed about half a millisecond of sendfile, a little more with
/// TLS. 4 MiB held an idle client's NOOP for 4.8 ms (p99) during a RETR;
/// 1 MiB: 1.9 ms, with the same MB/s (ftpbench --probe, benches/ab.sh).
pub(crate) const ROUND_BUDGET: u64 = 1 << 20;

/// Listing pieces (a batch of names read, or one buffer of formatted
/// entries) a data channel produces per loop round: one piece is a few
/// milliseconds of work at most.
const LISTING_PIECES_PER_ROUND: u32 = 1;

/// Server-wide rate limits: one token bucket per direction shared by every
/// data channel of the loop (pyftpdlib has only per-channel limits). A
/// bucket holds at most a tenth of a second of traffic, so a burst after a
/// quiet period stays small.
#[derive(Debug)]
pub(crate) struct Bandwidth {
    buckets: [Bucket; 2],
}

#[derive(Debug)]
struct Bucket {
    limit: u64,
    tokens: f64,
    last: Instant,
}

impl Default for Bandwidth {
    /// No limit either way.
    fn default() -> Bandwidth {
        Bandwidth::new(0, 0)
    }
}

impl Bandwidth {
    /// Limits in bytes per second for uploads and downloads; 0 = none.
    pub fn new(read_limit: u64, write_limit: u64) -> Bandwidth {
        let bucket = |limit| Bucket {
            limit,
            tokens: 0.0,
            last: Instant::now(),
        };
        Bandwidth {
            buckets: [bucket(read_limit), bucket(write_limit)],
        }
    }

    /// Change the limits, keeping the current tokens.
    pub fn set_limits(&mut self, read_limit: u64, write_limit: u64) {
        self.buckets[0].limit = read_limit;
        self.buckets[1].limit = write_limit;
    }

    /// Bytes available now in direction `receiving` (u64::MAX if unlimited).
    fn available(&mut self, receiving: bool) -> u64 {
        let b = &mut self.buckets[usize::from(!receiving)];
        if b.limit == 0 {
            return u64::MAX;
        }
        let now = Instant::now();
        let cap = (b.limit as f64 / 10.0).max(16384.0);
        b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * b.limit as f64).min(cap);
        b.last = now;
        b.tokens.max(0.0) as u64
    }

    fn consume(&mut self, receiving: bool, n: u64) {
        let b = &mut self.buckets[usize::from(!receiving)];
        if b.limit != 0 {
            b.tokens -= n as f64;
        }
    }

    /// Seconds until `want` bytes are available.
    fn wait(&self, receiving: bool, want: u64) -> f64 {
        let b = &self.buckets[usize::from(!receiving)];
        if b.limit == 0 {
            return 0.0;
        }
        ((want as f64 - b.tokens) / b.limit as f64).max(0.0)
    }
}

/// What one pump of a transfer achieved.
enum Step {
    /// The socket or file would block; wait for readiness.
    Blocked,
    /// The round's budget is spent; serve again next round.
    Yield,
    /// The rate limit is reached; sleep on a timer.
    Throttled,
    /// The transfer ended.
    Done(OutcomeKind),
}

/// An open data connection moving one transfer (pyftpdlib `DTPHandler`).
pub(crate) struct DataChannel {
    conn: Conn,
    /// This channel in the loop.
    me: Link,
    /// The control channel it belongs to.
    owner: Link,
    cfg: Rc<FtpHandler>,
    readable: bool,
    writable: bool,
    job: Option<Job>,
    buf: Vec<u8>,
    pos: usize,
    scratch: Vec<u8>,
    to_crlf: ToCrlf,
    from_crlf: FromCrlf,
    bytes: u64,
    source_done: bool,
    started: Instant,
    stall: Option<CallLater>,
    bytes_at_check: u64,
    /// Bytes per second allowed for this transfer, 0 = unlimited
    /// (`read_limit` / `write_limit`).
    limit: u64,
    wake: Option<CallLater>,
    /// This round's share of the server-wide limit, and the byte count
    /// when the round began.
    grant: u64,
    round_start: u64,
    /// The TLS handshake finished and its resumption was checked.
    tls_checked: bool,
    /// For plain binary uploads into a regular file: socket → pipe → file
    /// with splice(2), no user-space copy.
    pipe: Option<crate::sys::Pipe>,
    /// TLS close_notify queued at the end of a download.
    notified: bool,
}

impl DataChannel {
    pub(super) fn new(mut conn: Conn, me: Link, owner: Link, cfg: Rc<FtpHandler>) -> DataChannel {
        // The session ticket this connection issues waits until it is known
        // to be safe to send (`release_ticket`).
        conn.hold_tls_output();
        DataChannel {
            conn,
            tls_checked: false,
            pipe: None,
            notified: false,
            me,
            owner,
            cfg,
            readable: false,
            writable: false,
            job: None,
            buf: Vec::new(),
            pos: 0,
            scratch: Vec::new(),
            to_crlf: ToCrlf::default(),
            from_crlf: FromCrlf::default(),
            bytes: 0,
            source_done: false,
            started: Instant::now(),
            stall: None,
            bytes_at_check: 0,
            limit: 0,
            wake: None,
            grant: u64::MAX,
            round_start: 0,
        }
    }

    fn is_listing(&self) -> bool {
        matches!(
            self.job.as_ref().map(|j| &j.kind),
            Some(JobKind::Send(Source::Listing(_)))
        )
    }

    fn receiving(&self) -> bool {
        matches!(
            self.job.as_ref().map(|j| &j.kind),
            Some(JobKind::Receive { .. })
        )
    }

    /// Bytes moved, elapsed seconds and direction, for STAT.
    pub fn stats(&self) -> (u64, f64, bool) {
        let receiving = matches!(
            self.job.as_ref().map(|j| &j.kind),
            Some(JobKind::Receive { .. })
        );
        (self.bytes, self.started.elapsed().as_secs_f64(), receiving)
    }

    /// Readiness changed.
    pub fn on_ready(&mut self, ready: Ready, core: &mut Core) -> Status {
        self.readable |= ready.readable || ready.closed;
        self.writable |= ready.writable || ready.closed;
        self.pump(core)
    }

    /// The transfer to run.
    pub fn on_notice(&mut self, notice: Notice, core: &mut Core) -> Status {
        match notice {
            Notice::Start(job) => {
                self.start(job, core);
                self.pump(core)
            }
            _ => Status::Keep,
        }
    }

    /// It yielded its round with bytes left to move.
    pub fn on_resume(&mut self, core: &mut Core) -> Status {
        self.pump(core)
    }

    /// The throttle sleep or the stall check is over.
    pub fn on_timer(&mut self, timer: Timer, core: &mut Core) -> Status {
        match timer {
            Timer::ThrottleWake => {
                self.wake = None;
                self.pump(core)
            }
            Timer::DataStall => {
                if self.job.is_some() && self.bytes == self.bytes_at_check {
                    self.finish(OutcomeKind::Stalled, core);
                    return Status::Remove;
                }
                self.bytes_at_check = self.bytes;
                self.arm_stall(core);
                Status::Keep
            }
            _ => Status::Keep,
        }
    }

    fn start(&mut self, job: Job, core: &mut Core) {
        self.started = Instant::now();
        let dtp = &self.cfg.dtp_handler;
        self.limit = match &job.kind {
            JobKind::Receive { .. } => dtp.read_limit,
            JobKind::Send(_) => dtp.write_limit,
        };
        // Buffers are allocated on first use: sendfile and splice need none.
        self.pipe = self.splice_pipe(&job);
        self.job = Some(job);
        self.release_ticket();
        self.arm_stall(core);
    }

    /// A TLS 1.3 data connection issues one session ticket, which the
    /// client needs to resume the session on its next data connection
    /// (rustls clients use each ticket once). It is held
    /// (`Conn::hold_tls_output`) until the handshake is complete and has
    /// passed the resumption check, so that a connection that did not
    /// resume this session (another client that took the port) never gets
    /// one; then it goes out ahead of a download's data, which the client
    /// reads. An upload's stays held until the upload's end has been read
    /// (`close`): sent earlier, it would sit unread in the socket of a
    /// client that only writes, and that client's close would reset the
    /// connection and discard the upload's tail. The job may be known
    /// before or after the handshake ends: both call this.
    fn release_ticket(&mut self) {
        let sending = matches!(self.job.as_ref().map(|j| &j.kind), Some(JobKind::Send(_)));
        if self.tls_checked && sending {
            self.conn.release_tls_output();
        }
    }

    fn arm_stall(&mut self, core: &mut Core) {
        let timeout = self.cfg.dtp_handler.timeout;
        if !timeout.is_zero() {
            self.stall = Some(core.timer(timeout, self.me, Timer::DataStall));
        }
    }

    /// Bytes the rate limit lets this channel move now; `u64::MAX` when
    /// unlimited. The allowance grows by `limit` bytes per second since the
    /// transfer started, plus a small burst (ThrottledDTPHandler, but
    /// computed continuously rather than per one-second window).
    fn allowance(&self) -> u64 {
        let server = self.grant.saturating_sub(self.bytes - self.round_start);
        if self.limit == 0 {
            return server;
        }
        let burst = (self.limit / 32).max(512);
        let earned = self.started.elapsed().as_secs_f64() * self.limit as f64;
        (earned as u64 + burst)
            .saturating_sub(self.bytes)
            .min(server)
    }

    /// The check every transfer loop starts with: the bytes this iteration
    /// may move, or why it must stop now (its share of the loop round is
    /// spent, or a rate limit is reached).
    fn may_move(&self, moved: u64) -> Result<u64, Step> {
        if moved >= ROUND_BUDGET {
            return Err(Step::Yield);
        }
        match self.allowance() {
            0 => Err(Step::Throttled),
            n => Ok(n),
        }
    }

    /// Sleep until the limit allows a small chunk again.
    fn throttle(&mut self, core: &mut Core) {
        if self.wake.is_some() {
            return;
        }
        let mut wait: f64 = 0.001;
        if self.limit != 0 {
            let chunk = (self.limit / 20).clamp(1, 65536) as f64;
            let due = (self.bytes as f64 + chunk) / self.limit as f64;
            wait = wait.max(due - self.started.elapsed().as_secs_f64());
        }
        wait = wait.max(core.shared.bandwidth.wait(self.receiving(), 4096));
        if let Some(a) = self.job.as_ref().and_then(|j| j.account.as_ref()) {
            wait = wait.max(a.bandwidth.borrow().wait(self.receiving(), 4096));
        }
        let delay =
            std::time::Duration::try_from_secs_f64(wait).unwrap_or(std::time::Duration::MAX);
        self.wake = Some(core.timer(delay, self.me, Timer::ThrottleWake));
    }

    fn pump(&mut self, core: &mut Core) -> Status {
        if let Some(status) = self.check_tls(core) {
            return status;
        }
        let sending = match self.job.as_ref() {
            None => return Status::Keep,
            Some(j) => matches!(j.kind, JobKind::Send(_)),
        };
        let account = self.job.as_ref().and_then(|j| j.account.clone());
        self.grant = core.shared.bandwidth.available(!sending);
        if let Some(a) = &account {
            self.grant = self.grant.min(a.bandwidth.borrow_mut().available(!sending));
        }
        self.round_start = self.bytes;
        let this = &mut *self;
        let run =
            std::panic::AssertUnwindSafe(|| if sending { this.send() } else { this.receive() });
        let step = std::panic::catch_unwind(run).unwrap_or_else(|_| {
            // A failing file system or listing producer: 426, the loop goes on.
            log::error!(target: crate::log::LOGERROR, "data channel of {:?} panicked; transfer aborted", self.owner.token());
            Step::Done(OutcomeKind::LocalError(io::Error::other("Internal error")))
        });
        let moved = self.bytes - self.round_start;
        core.shared.bandwidth.consume(!sending, moved);
        if let Some(a) = &account {
            a.bandwidth.borrow_mut().consume(!sending, moved);
        }
        match step {
            Step::Throttled => {
                self.throttle(core);
                Status::Keep
            }
            Step::Blocked => Status::Keep,
            Step::Yield => {
                core.defer(self.me);
                Status::Keep
            }
            Step::Done(kind) => {
                self.finish(kind, core);
                Status::Remove
            }
        }
    }

    /// Drive a data-channel TLS handshake and, once done, check that it
    /// resumed the control connection's session when that is required.
    /// `Some(status)` when the pump must stop here.
    fn check_tls(&mut self, core: &mut Core) -> Option<Status> {
        if !self.conn.is_tls() || self.tls_checked {
            return None;
        }
        let failure = match self.conn.drive_handshake() {
            Ok(false) => return Some(Status::Keep),
            Ok(true) => {
                self.tls_checked = true;
                if !self.reuse_required() || self.conn.resumed() {
                    self.release_ticket();
                    return None;
                }
                // Closed without close_notify: it would go out after the
                // held ticket, which this connection must never get.
                self.notified = true;
                log::info!(target: LOG, "data connection refused: TLS session not resumed");
                "Data connection refused: it must resume the control connection's TLS session."
                    .to_string()
            }
            Err(e) => format!("SSL handshake failed on the data channel: {e}."),
        };
        if self.job.is_some() {
            self.finish(OutcomeKind::Refused(failure), core);
        } else {
            // No transfer of this connection has been asked for (or its
            // Start is still on the way): the session decides whether a
            // command awaits this as its reply.
            core.notify(self.owner, Notice::DataGone { reason: failure });
        }
        Some(Status::Remove)
    }

    fn reuse_required(&self) -> bool {
        #[cfg(feature = "tls")]
        if let Some(t) = &self.cfg.tls {
            return t.require_tls_session_reuse;
        }
        false
    }

    /// The file is all sent: with TLS, close_notify goes out first.
    fn end_download(&mut self) -> Step {
        if self.conn.is_tls() {
            if !self.notified {
                self.notified = true;
                self.conn.close_notify();
            }
            match self.conn.flush_tls() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.writable = false;
                    return Step::Blocked;
                }
                Err(e) => return Step::Done(OutcomeKind::ClientGone(e)),
            }
        }
        Step::Done(OutcomeKind::Complete)
    }

    /// Download: sendfile for binary files, buffered writes otherwise.
    fn send(&mut self) -> Step {
        let mut moved = 0u64;
        let mut listing_pieces = 0;
        while self.writable {
            let allowed = match self.may_move(moved) {
                Ok(n) => n,
                Err(step) => return step,
            };
            if let Some(step) = self.sendfile_step(&mut moved, allowed) {
                match step {
                    Step::Blocked if !self.writable => return Step::Blocked,
                    Step::Blocked => continue,
                    other => return other,
                }
            }
            if self.conn.tls_pending() {
                match self.conn.flush_tls() {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        self.writable = false;
                        continue;
                    }
                    Err(e) => return Step::Done(OutcomeKind::ClientGone(e)),
                }
            }
            if self.pos == self.buf.len() {
                if self.source_done {
                    return self.end_download();
                }
                if self.is_listing() && listing_pieces >= LISTING_PIECES_PER_ROUND {
                    // Reading and stat'ing entries is the cost here, not
                    // bytes: yield after a bounded piece of work.
                    return Step::Yield;
                }
                listing_pieces += 1;
                if let Err(e) = self.refill() {
                    return Step::Done(OutcomeKind::LocalError(e));
                }
                continue;
            }
            let end = self.buf.len().min(
                self.pos
                    .saturating_add(allowed.min(usize::MAX as u64) as usize),
            );
            match self.conn.write(&self.buf[self.pos..end]) {
                Ok(0) => {
                    return Step::Done(OutcomeKind::ClientGone(io::ErrorKind::WriteZero.into()))
                }
                Ok(n) => {
                    self.pos += n;
                    self.bytes += n as u64;
                    moved += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Step::Done(OutcomeKind::ClientGone(e)),
            }
        }
        Step::Blocked
    }

    /// One sendfile(2) call when the job uses it; `None` when it does not.
    /// Falls back to plain reads if the kernel refuses sendfile for this file.
    fn sendfile_step(&mut self, moved: &mut u64, allowed: u64) -> Option<Step> {
        let chunk = (self.cfg.dtp_handler.ac_out_buffer_size.max(65536) * 4)
            .min(allowed.min(usize::MAX as u64) as usize);
        let Some(Job {
            kind:
                JobKind::Send(Source::File {
                    file,
                    sendfile_offset: offset @ Some(_),
                    ..
                }),
            ..
        }) = self.job.as_mut()
        else {
            return None;
        };
        let fd = file.raw_fd()?;
        let off = offset.as_mut()?;
        let sock = self.conn.plain_fd()?;
        match crate::sys::sendfile(sock, fd, off, chunk) {
            Ok(0) => Some(self.end_download()),
            Ok(n) => {
                self.bytes += n as u64;
                *moved += n as u64;
                Some(Step::Blocked)
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.writable = false;
                Some(Step::Blocked)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Some(Step::Blocked),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)
                ) || e.kind() == io::ErrorKind::Unsupported =>
            {
                // Not a sendfile-able file: continue with reads from the
                // same offset.
                let at = *off as u64;
                *offset = None;
                if let Err(e) = file.seek(io::SeekFrom::Start(at)) {
                    return Some(Step::Done(OutcomeKind::LocalError(e)));
                }
                None
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN)
                ) =>
            {
                Some(Step::Done(OutcomeKind::ClientGone(e)))
            }
            Err(e) => Some(Step::Done(OutcomeKind::LocalError(e))),
        }
    }

    /// Fill the send buffer from the file or listing.
    fn refill(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.pos = 0;
        let want = self.cfg.dtp_handler.ac_out_buffer_size.max(512);
        let Some(Job {
            kind: JobKind::Send(source),
            ..
        }) = self.job.as_mut()
        else {
            self.source_done = true;
            return Ok(());
        };
        match source {
            Source::File {
                file, ascii: false, ..
            } => {
                if read_chunk(&mut **file, &mut self.buf, want)? == 0 {
                    self.source_done = true;
                }
            }
            Source::File {
                file, ascii: true, ..
            } => {
                self.scratch.clear();
                if read_chunk(&mut **file, &mut self.scratch, want / 2)? == 0 {
                    self.source_done = true;
                }
                self.to_crlf.push(&self.scratch, &mut self.buf);
            }
            Source::Listing(listing) => {
                if !listing.fill_as_user(&mut self.buf, want)? {
                    self.source_done = true;
                }
            }
        }
        Ok(())
    }

    /// A splice pipe when the upload can use one: binary, plain socket, a
    /// real file not in append mode (splice refuses O_APPEND).
    fn splice_pipe(&self, job: &Job) -> Option<crate::sys::Pipe> {
        let JobKind::Receive {
            file, ascii: false, ..
        } = &job.kind
        else {
            return None;
        };
        let fd = file.raw_fd()?;
        self.conn.plain_fd()?;
        if job
            .account
            .as_ref()
            .is_some_and(|a| a.limits().quota_bytes != 0)
        {
            // The quota is checked per read: plain reads, not splice.
            return None;
        }
        if crate::sys::is_append(fd) {
            return None;
        }
        crate::sys::Pipe::new(SPLICE_CHUNK).ok()
    }

    /// Upload with splice(2): socket → pipe → file.
    fn receive_spliced(&mut self) -> Step {
        let mut moved = 0u64;
        let (Some(pipe), Some(sock)) = (self.pipe.as_ref(), self.conn.plain_fd()) else {
            return Step::Blocked;
        };
        let Some(Job {
            kind: JobKind::Receive { file, .. },
            ..
        }) = self.job.as_ref()
        else {
            return Step::Blocked;
        };
        let Some(file_fd) = file.raw_fd() else {
            return Step::Blocked;
        };
        while self.readable {
            let allowed = match self.may_move(moved) {
                Ok(n) => n,
                Err(step) => return step,
            };
            let want = SPLICE_CHUNK.min(allowed.min(usize::MAX as u64) as usize);
            match pipe.fill_from(sock, want) {
                Ok(0) => return Step::Done(OutcomeKind::Complete),
                Ok(n) => {
                    self.bytes += n as u64;
                    moved += n as u64;
                    if let Err(e) = pipe.drain_into(file_fd, n) {
                        return Step::Done(OutcomeKind::LocalError(e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Step::Done(OutcomeKind::ClientGone(e)),
            }
        }
        Step::Blocked
    }

    /// Upload: read the socket until EOF, write to the file.
    fn receive(&mut self) -> Step {
        if self.pipe.is_some() {
            return self.receive_spliced();
        }
        let mut moved = 0u64;
        let size = self.cfg.dtp_handler.ac_in_buffer_size.max(512);
        self.buf.resize(size, 0);
        while self.readable {
            let allowed = match self.may_move(moved) {
                Ok(n) => n,
                Err(step) => return step,
            };
            let room = self.quota_room();
            // At the quota, one byte more tells EOF (complete) from more
            // data (552).
            let want = size.min(allowed.min(room.max(1)).min(usize::MAX as u64) as usize);
            match self.conn.read(&mut self.buf[..want]) {
                Ok(0) => return Step::Done(OutcomeKind::Complete),
                Ok(_) if room == 0 => return Step::Done(OutcomeKind::QuotaExceeded),
                // TLS ended without close_notify: keep what arrived, as most
                // servers do (the xferlog and hooks still see a complete file).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    log::debug!(target: LOG, "upload ended without TLS close_notify");
                    return Step::Done(OutcomeKind::Complete);
                }
                Ok(n) => {
                    self.bytes += n as u64;
                    moved += n as u64;
                    if let Err(e) = self.write_file(n) {
                        return Step::Done(OutcomeKind::LocalError(e));
                    }
                    self.charge_quota(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Step::Done(OutcomeKind::ClientGone(e)),
            }
        }
        Step::Blocked
    }

    /// Bytes the user's byte quota still allows this upload to write.
    fn quota_room(&self) -> u64 {
        match self.job.as_ref().and_then(|j| j.account.as_ref()) {
            Some(a) => a.room(),
            None => u64::MAX,
        }
    }

    /// Count `n` received bytes against the user's quota.
    fn charge_quota(&self, n: usize) {
        if let Some(a) = self.job.as_ref().and_then(|j| j.account.as_ref()) {
            a.adjust(n as i64, 0);
        }
    }

    fn write_file(&mut self, n: usize) -> io::Result<()> {
        let Some(Job {
            kind: JobKind::Receive { file, ascii, .. },
            ..
        }) = self.job.as_mut()
        else {
            return Ok(());
        };
        if *ascii {
            self.scratch.clear();
            self.from_crlf.push(&self.buf[..n], &mut self.scratch);
            file.write_all(&self.scratch)
        } else {
            file.write_all(&self.buf[..n])
        }
    }

    /// End the transfer now (ABOR, or the control channel closing): the
    /// outcome to report, if a transfer was running.
    pub fn abort(&mut self) -> Option<Outcome> {
        let job = self.job.take()?;
        Some(self.conclude(job, OutcomeKind::Aborted))
    }

    /// Close the file, tell the control channel.
    fn finish(&mut self, kind: OutcomeKind, core: &mut Core) {
        if let Some(job) = self.job.take() {
            let outcome = self.conclude(job, kind);
            core.notify(self.owner, Notice::TransferDone(outcome));
        }
    }

    /// Flush and trim an upload, build the outcome of `job`.
    fn conclude(&mut self, job: Job, mut kind: OutcomeKind) -> Outcome {
        let Job {
            transfer,
            path,
            kind: content,
            commit,
            ..
        } = job;
        let ascii = match &content {
            JobKind::Receive { ascii, .. } => *ascii,
            JobKind::Send(Source::File { ascii, .. }) => *ascii,
            JobKind::Send(Source::Listing(_)) => true,
        };
        if let JobKind::Receive {
            mut file,
            ascii,
            truncate,
        } = content
        {
            if let Err(e) = finish_upload(&mut *file, &mut self.from_crlf, ascii, truncate) {
                if matches!(kind, OutcomeKind::Complete) {
                    kind = OutcomeKind::LocalError(e);
                }
            }
        }
        for t in [self.stall.take(), self.wake.take()].into_iter().flatten() {
            t.cancel();
        }
        Outcome {
            transfer,
            path,
            ascii,
            bytes: self.bytes,
            elapsed: self.started.elapsed().as_secs_f64(),
            kind,
            commit,
        }
    }

    /// Deregister the socket and cancel timers; the socket closes on drop.
    pub fn close(&mut self, core: &mut Core) {
        for t in [self.stall.take(), self.wake.take()].into_iter().flatten() {
            t.cancel();
        }
        if !self.notified {
            // TLS clients wait for the server's close_notify after an upload
            // (Python's unwrap(), lftp); a bare FIN reads as a truncation.
            // The held session ticket goes first: the upload is over, every
            // byte of it has arrived, a reset cannot lose any now.
            self.notified = true;
            self.conn.close_notify();
        }
        let _ = core.registry().deregister(&mut self.conn.sock);
    }
}

/// Write a held CR of an ASCII upload, cut a resumed upload's stale tail,
/// and flush.
fn finish_upload(
    file: &mut dyn crate::filesystems::FileHandle,
    from: &mut FromCrlf,
    ascii: bool,
    truncate: bool,
) -> io::Result<()> {
    if ascii {
        let mut tail = Vec::new();
        from.finish(&mut tail);
        file.write_all(&tail)?;
    }
    file.flush()?;
    if truncate {
        let end = file.stream_position()?;
        file.set_len(end)?;
    }
    Ok(())
}
