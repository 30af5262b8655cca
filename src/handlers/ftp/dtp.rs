//! The data side (pyftpdlib `handlers/ftp/data.py` and `dispatchers.py`):
//! the passive listener, the active connector and the data channel that
//! moves a transfer's bytes.
//!
//! Each is a dispatcher of its own in the loop and talks to its control
//! channel only through notices: `DataConnected` when the connection is up,
//! `DataReply` for a refusal or failure, `TransferDone` when a transfer
//! ends. The control channel owns the link and removes the data side
//! directly when it aborts or closes.

use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Token};

use super::conn::{Conn, TlsConfig};
use super::producers::{read_chunk, FromCrlf, Job, JobKind, Outcome, OutcomeKind, Source, ToCrlf};
use super::FtpHandler;
use crate::ioloop::{CallLater, Core, Dispatcher, Notice, Ready, Status, TimerKind};
use crate::log::LOG;
use crate::reply;

/// Bytes moved per splice(2) call on uploads (also the pipe size asked for).
const SPLICE_CHUNK: usize = 1 << 20;

/// Bytes a data channel may move per loop round before yielding to others.
const ROUND_BUDGET: u64 = 4 << 20;

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

/// The control channel a data-side dispatcher belongs to.
pub(crate) type Owner = (Token, u64);

/// A PASV/EPSV listener waiting for the client (pyftpdlib `PassiveDTP`).
pub(crate) struct PassiveListener {
    listener: TcpListener,
    pub gen: u64,
    owner: Owner,
    remote_ip: IpAddr,
    cfg: Rc<FtpHandler>,
    timer: Option<CallLater>,
    tls: TlsConfig,
}

/// Open a passive listener on `local_ip` for `owner`; returns its token,
/// generation and bound address.
pub(crate) fn open_passive(
    core: &mut Core,
    owner: Owner,
    cfg: &Rc<FtpHandler>,
    local_ip: IpAddr,
    remote_ip: IpAddr,
    tls: TlsConfig,
) -> io::Result<(Token, u64, SocketAddr)> {
    let std_listener = bind_passive(cfg, local_ip)?;
    crate::sys::listen(&std_listener, cfg.passive_dtp.backlog)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let mut listener = TcpListener::from_std(std_listener);
    let gen = core.next_gen();
    let token = core.insert_with(|token, core| {
        core.registry
            .register(&mut listener, token, Interest::READABLE)?;
        let timeout = cfg.passive_dtp.timeout;
        let timer =
            (!timeout.is_zero()).then(|| core.timer(timeout, token, gen, TimerKind::DataSetup));
        Ok(Dispatcher::Passive(Box::new(PassiveListener {
            listener,
            gen,
            owner,
            remote_ip,
            cfg: Rc::clone(cfg),
            timer,
            tls,
        })))
    })?;
    Ok((token, gen, addr))
}

/// Bind a port of `passive_ports`, starting at a random one (RFC 2577 port
/// stealing), or a kernel-chosen port when there is no range or it is full.
fn bind_passive(cfg: &FtpHandler, ip: IpAddr) -> io::Result<std::net::TcpListener> {
    let random = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    if let Some(range) = &cfg.passive_ports {
        let (lo, hi) = (u32::from(*range.start()), u32::from(*range.end()));
        let span = hi - lo + 1;
        let start = (random % u64::from(span)) as u32;
        for i in 0..span {
            let port = (lo + (start + i) % span) as u16;
            if let Ok(l) = std::net::TcpListener::bind(SocketAddr::new(ip, port)) {
                return Ok(l);
            }
        }
        log::warn!(target: LOG, "Can't find a valid passive port in the configured range. A random kernel-assigned port will be used.");
    } else {
        // No range: try a few random ports of the dynamic range ourselves.
        // Binding port 0 makes the kernel search its whole ephemeral range
        // for a free port, which dominated the CPU profile of many small
        // transfers (measured with perf in benches/ftpbench).
        const LO: u64 = 32768;
        const SPAN: u64 = 60999 - 32768 + 1;
        for i in 0..8u64 {
            let port = (LO + (random.wrapping_add(i.wrapping_mul(7919))) % SPAN) as u16;
            if let Ok(l) = std::net::TcpListener::bind(SocketAddr::new(ip, port)) {
                return Ok(l);
            }
        }
    }
    std::net::TcpListener::bind(SocketAddr::new(ip, 0))
}

impl PassiveListener {
    /// Accept the client's connection; connections from another address are
    /// refused and the listener keeps waiting.
    pub fn on_ready(&mut self, core: &mut Core) -> Status {
        loop {
            match self.listener.accept() {
                Ok((stream, peer)) => {
                    let ip = peer.ip().to_canonical();
                    if !self.cfg.permit_foreign_addresses && ip != self.remote_ip {
                        let text = format!(
                            "Rejected data connection from foreign address {}:{}.",
                            ip,
                            peer.port()
                        );
                        log::warn!(target: LOG, "{text}");
                        core.notify(
                            self.owner.0,
                            self.owner.1,
                            Notice::DataReply {
                                code: reply::CANT_OPEN_DATA,
                                text,
                                fatal: false,
                            },
                        );
                        continue;
                    }
                    return connected(stream, self.owner, &self.cfg, self.tls.take(), core);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Status::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let text = format!("Can't open data connection: {}", reply::strerror(&e));
                    core.notify(
                        self.owner.0,
                        self.owner.1,
                        Notice::DataReply {
                            code: reply::CANT_OPEN_DATA,
                            text,
                            fatal: true,
                        },
                    );
                    return Status::Remove;
                }
            }
        }
    }

    /// Timeout or close request.
    pub fn on_notice(&mut self, notice: Notice, core: &mut Core) -> Status {
        match notice {
            Notice::Timer(TimerKind::DataSetup) => {
                core.notify(
                    self.owner.0,
                    self.owner.1,
                    Notice::DataReply {
                        code: reply::NOT_AVAILABLE,
                        text: "Passive data channel timed out.".into(),
                        fatal: true,
                    },
                );
                Status::Remove
            }
            _ => Status::Keep,
        }
    }

    /// Deregister and cancel the timer.
    pub fn close(&mut self, core: &mut Core) {
        if let Some(t) = self.timer.take() {
            t.cancel();
        }
        let _ = core.registry.deregister(&mut self.listener);
    }
}

/// A PORT/EPRT connect in progress (pyftpdlib `ActiveDTP`).
pub(crate) struct ActiveConnector {
    sock: Option<TcpStream>,
    pub gen: u64,
    owner: Owner,
    cfg: Rc<FtpHandler>,
    timer: Option<CallLater>,
    tls: TlsConfig,
}

/// Start a non-blocking connect to `addr` for `owner`.
pub(crate) fn connect_active(
    core: &mut Core,
    owner: Owner,
    cfg: &Rc<FtpHandler>,
    addr: SocketAddr,
    tls: TlsConfig,
) -> io::Result<(Token, u64)> {
    let mut sock = TcpStream::connect(addr)?;
    let gen = core.next_gen();
    let token = core.insert_with(|token, core| {
        core.register(&mut sock, token)?;
        let timeout = cfg.active_dtp.timeout;
        let timer =
            (!timeout.is_zero()).then(|| core.timer(timeout, token, gen, TimerKind::DataSetup));
        Ok(Dispatcher::Active(Box::new(ActiveConnector {
            sock: Some(sock),
            gen,
            owner,
            cfg: Rc::clone(cfg),
            timer,
            tls,
        })))
    })?;
    Ok((token, gen))
}

impl ActiveConnector {
    /// The connect finished, one way or the other.
    pub fn on_ready(&mut self, ready: Ready, core: &mut Core) -> Status {
        if !(ready.writable || ready.closed) {
            return Status::Keep;
        }
        let Some(sock) = self.sock.as_ref() else {
            return Status::Remove;
        };
        let failed = match sock.take_error() {
            Ok(Some(_)) | Err(_) => true,
            Ok(None) => match sock.peer_addr() {
                Ok(_) => false,
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Status::Keep,
                Err(_) => true,
            },
        };
        if failed {
            self.fail(
                core,
                reply::CANT_OPEN_DATA,
                "Can't connect to specified address.",
            );
            return Status::Remove;
        }
        let tls = self.tls.take();
        let Some(mut sock) = self.sock.take() else {
            return Status::Remove;
        };
        let _ = core.registry.deregister(&mut sock);
        connected(sock, self.owner, &self.cfg, tls, core)
    }

    fn fail(&self, core: &mut Core, code: u16, text: &str) {
        core.notify(
            self.owner.0,
            self.owner.1,
            Notice::DataReply {
                code,
                text: text.into(),
                fatal: true,
            },
        );
    }

    /// Timeout or close request.
    pub fn on_notice(&mut self, notice: Notice, core: &mut Core) -> Status {
        match notice {
            Notice::Timer(TimerKind::DataSetup) => {
                self.fail(core, reply::NOT_AVAILABLE, "Active data channel timed out.");
                Status::Remove
            }
            _ => Status::Keep,
        }
    }

    /// Deregister and cancel the timer.
    pub fn close(&mut self, core: &mut Core) {
        if let Some(t) = self.timer.take() {
            t.cancel();
        }
        if let Some(mut s) = self.sock.take() {
            let _ = core.registry.deregister(&mut s);
        }
    }
}

/// Turn an established connection into a data channel and tell the owner.
fn connected(
    mut sock: TcpStream,
    owner: Owner,
    cfg: &Rc<FtpHandler>,
    tls: TlsConfig,
    core: &mut Core,
) -> Status {
    let gen = core.next_gen();
    let made = core.insert_with(|token, core| {
        core.register(&mut sock, token)?;
        Ok(Dispatcher::Data(Box::new(DataChannel::new(
            Conn::with_tls(sock, tls)?,
            token,
            gen,
            owner,
            Rc::clone(cfg),
        ))))
    });
    match made {
        Ok(token) => core.notify(owner.0, owner.1, Notice::DataConnected(token, gen)),
        Err(e) => core.notify(
            owner.0,
            owner.1,
            Notice::DataReply {
                code: reply::CANT_OPEN_DATA,
                text: format!("Can't open data connection: {}", reply::strerror(&e)),
                fatal: true,
            },
        ),
    }
    Status::Remove
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
    pub gen: u64,
    token: Token,
    owner: Owner,
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
    fn new(conn: Conn, token: Token, gen: u64, owner: Owner, cfg: Rc<FtpHandler>) -> DataChannel {
        DataChannel {
            conn,
            tls_checked: false,
            pipe: None,
            notified: false,
            gen,
            token,
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

    /// A job to run, a timer, a close request.
    pub fn on_notice(&mut self, notice: Notice, core: &mut Core) -> Status {
        match notice {
            Notice::Start(job) => {
                self.start(job, core);
                self.pump(core)
            }
            Notice::Resume => self.pump(core),
            Notice::Timer(TimerKind::ThrottleWake) => {
                self.wake = None;
                self.pump(core)
            }
            Notice::Timer(TimerKind::DataStall) => {
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
        self.arm_stall(core);
    }

    fn arm_stall(&mut self, core: &mut Core) {
        let timeout = self.cfg.dtp_handler.timeout;
        if !timeout.is_zero() {
            self.stall = Some(core.timer(timeout, self.token, self.gen, TimerKind::DataStall));
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
        wait = wait.max(core.bandwidth.wait(self.receiving(), 4096));
        let delay = std::time::Duration::from_secs_f64(wait);
        self.wake = Some(core.timer(delay, self.token, self.gen, TimerKind::ThrottleWake));
    }

    fn pump(&mut self, core: &mut Core) -> Status {
        if let Some(status) = self.check_tls(core) {
            return status;
        }
        let sending = match self.job.as_ref() {
            None => return Status::Keep,
            Some(j) => matches!(j.kind, JobKind::Send(_)),
        };
        self.grant = core.bandwidth.available(!sending);
        self.round_start = self.bytes;
        let this = &mut *self;
        let run =
            std::panic::AssertUnwindSafe(|| if sending { this.send() } else { this.receive() });
        let step = std::panic::catch_unwind(run).unwrap_or_else(|_| {
            // A failing file system or listing producer: 426, the loop goes on.
            log::error!(target: crate::log::LOGERROR, "data channel of {:?} panicked; transfer aborted", self.owner.0);
            Step::Done(OutcomeKind::LocalError(io::Error::other("Internal error")))
        });
        core.bandwidth
            .consume(!sending, self.bytes - self.round_start);
        match step {
            Step::Throttled => {
                self.throttle(core);
                Status::Keep
            }
            Step::Blocked => Status::Keep,
            Step::Yield => {
                core.defer(self.token, self.gen);
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
                    return None;
                }
                log::info!(target: LOG, "data connection refused: TLS session not resumed");
                "Data connection refused: it must resume the control connection's TLS session."
                    .to_string()
            }
            Err(e) => format!("SSL handshake failed on the data channel: {e}."),
        };
        if self.job.is_some() {
            self.finish(OutcomeKind::Refused(failure), core);
        } else {
            let reply = Notice::DataReply {
                code: reply::BAD_NETWORK_PROTOCOL,
                text: failure,
                fatal: true,
            };
            core.notify(self.owner.0, self.owner.1, reply);
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
        while self.writable {
            if moved >= ROUND_BUDGET {
                return Step::Yield;
            }
            let allowed = self.allowance();
            if allowed == 0 {
                return Step::Throttled;
            }
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
                if !listing.fill(&mut self.buf, want) {
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
            if moved >= ROUND_BUDGET {
                return Step::Yield;
            }
            let allowed = self.allowance();
            if allowed == 0 {
                return Step::Throttled;
            }
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
            if moved >= ROUND_BUDGET {
                return Step::Yield;
            }
            let allowed = self.allowance();
            if allowed == 0 {
                return Step::Throttled;
            }
            let want = size.min(allowed.min(usize::MAX as u64) as usize);
            match self.conn.read(&mut self.buf[..want]) {
                Ok(0) => return Step::Done(OutcomeKind::Complete),
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
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Step::Done(OutcomeKind::ClientGone(e)),
            }
        }
        Step::Blocked
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
        self.job.as_ref()?;
        Some(self.conclude(OutcomeKind::Aborted))
    }

    /// Close the file, tell the control channel.
    fn finish(&mut self, kind: OutcomeKind, core: &mut Core) {
        let outcome = self.conclude(kind);
        core.notify(self.owner.0, self.owner.1, Notice::TransferDone(outcome));
    }

    /// Flush and trim an upload, build the outcome, drop the job.
    fn conclude(&mut self, mut kind: OutcomeKind) -> Outcome {
        let job = self.job.take();
        let (cmd, path) = match &job {
            Some(j) => (j.cmd, j.path.clone()),
            None => ("", PathBuf::new()),
        };
        let ascii = match job.as_ref().map(|j| &j.kind) {
            Some(JobKind::Receive { ascii, .. }) => *ascii,
            Some(JobKind::Send(Source::File { ascii, .. })) => *ascii,
            _ => true,
        };
        if let Some(Job {
            kind:
                JobKind::Receive {
                    mut file,
                    ascii,
                    truncate,
                },
            ..
        }) = job
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
            cmd,
            path,
            ascii,
            bytes: self.bytes,
            elapsed: self.started.elapsed().as_secs_f64(),
            kind,
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
            self.notified = true;
            self.conn.close_notify();
        }
        let _ = core.registry.deregister(&mut self.conn.sock);
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
