//! The control-channel dispatcher (the socket half of pyftpdlib's
//! `FTPHandler`): reads command lines, feeds them to the [`Session`],
//! writes its replies and carries out its effects on the data side.
//!
//! Memory per connection is bounded: the input buffer holds at most one
//! line of [`MAX_LINE`] bytes plus one read, and lines stop being
//! processed while [`MAX_PENDING_OUT`] bytes of replies wait for a client
//! that does not read them. Buffers are released when idle.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use mio::net::TcpStream;

use super::checksum::HashJob;
use super::conn::{Conn, TlsConfig};
use super::dispatch::{Core, Dispatcher, Done, Notice, Timer};
use super::dispatchers;
use super::dtp::ROUND_BUDGET;
use super::login_gate::Limits;
use super::proxied::{DataPeer, Via};
use super::session::{DataSide, Effect, Ended, Opened, Passive, Session, TransferStats};
use super::FtpHandler;
use crate::authorizers::SlowCheck;
use crate::error::AuthenticationFailed;
use crate::ioloop::{CallLater, Link, Ready, Status};
use crate::reply;

/// Longest command line accepted (pyftpdlib: 2048 bytes).
pub(crate) const MAX_LINE: usize = 2048;
/// Replies waiting to be sent beyond which no further command is read.
pub(crate) const MAX_PENDING_OUT: usize = 64 * 1024;
/// Lines interpreted per loop round before yielding to other clients.
const LINES_PER_ROUND: usize = 64;
/// Bytes read from the socket per call.
const READ_CHUNK: usize = 4096;
/// Buffers larger than this are released once empty.
const KEEP_CAPACITY: usize = 1024;

/// How the acceptor let a connection in.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Admission {
    /// A 421 text when a connection limit refuses it.
    pub refusal: Option<&'static str>,
    /// TLS starts at connect (implicit FTPS).
    pub implicit_tls: bool,
    /// The proxy that relayed it, when a PROXY header named the client.
    pub via: Option<Via>,
}

/// Why input is not being interpreted right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Interpreting.
    No,
    /// The failed-login delay runs.
    Auth,
    /// A PORT/EPRT connect runs; its reply must come before later ones.
    Active,
    /// The login check runs on the worker pool.
    Verify,
    /// A checksum (HASH, XCRC...) is being computed; only an ABOR or QUIT
    /// is looked at meanwhile.
    Hash,
    /// A file-system call that frees a big file (DELE, RNTO or STOR over
    /// it) runs on the worker pool.
    OffLoop,
}

/// One client's control connection.
pub(crate) struct ControlChannel {
    conn: Conn,
    /// This channel in the loop.
    me: Link,
    acceptor: Link,
    peer_ip: IpAddr,
    /// The address of the proxy that relayed it (PROXY protocol).
    proxy_ip: Option<IpAddr>,
    session: Session,
    inbuf: Vec<u8>,
    readable: bool,
    writable: bool,
    eof: bool,
    closing: bool,
    discarding: bool,
    /// Where in `inbuf` over-long lines stood (each was cut out): their
    /// "500 Command too long." is answered in turn, after the lines before
    /// them. Empty (no allocation) but for hostile input.
    overlong: Vec<usize>,
    wait: Wait,
    /// The passive listener, active connect or data channel of the session.
    data: Option<Link>,
    idle: Option<CallLater>,
    auth_timer: Option<CallLater>,
    /// Refused at connect (connection limits): no session, no hooks.
    refused: bool,
    /// AUTH TLS was accepted: switch once its reply is sent.
    start_tls: bool,
    /// CCC was accepted: end TLS once its reply is written.
    clear_tls: bool,
    /// The TLS handshake's outcome (SNI, certificate) went to the session.
    tls_peer_known: bool,
    /// This session's TLS configuration (own session cache and ticket
    /// token), made at the first AUTH and reused by its data connections.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    tls_config: SessionTlsConfig,
    /// Its data connections' TLS configuration, made at the first PROT P
    /// data connection.
    data_tls_config: TlsConfig,
    handshake_timer: Option<CallLater>,
    /// The checksum being computed, a round budget at a time.
    hash: Option<Box<HashJob>>,
}

impl ControlChannel {
    /// Register a freshly accepted connection and greet it, or refuse it
    /// with a 421 when a connection limit is reached.
    pub fn open(
        mut sock: TcpStream,
        peer: SocketAddr,
        me: Link,
        acceptor: Link,
        cfg: Rc<FtpHandler>,
        admission: Admission,
        core: &mut Core,
    ) -> io::Result<ControlChannel> {
        use std::os::fd::AsRawFd;
        if cfg.tcp_no_delay {
            sock.set_nodelay(true)?;
        }
        // Urgent data (the Telnet Synch before ABOR) is read in line, as in
        // pyftpdlib; not on a TLS connection, where an in-line urgent byte
        // would break the record stream (`Conn::start_tls` clears it).
        crate::sys::set_oobinline(sock.as_raw_fd(), !admission.implicit_tls)?;
        core.register(&mut sock, me.token())?;
        let local = sock.local_addr()?;
        let tls_config = if admission.implicit_tls {
            session_tls_config(&cfg, None)
        } else {
            None
        };
        let conn = Conn::with_tls(sock, control_config(&tls_config))?;
        let mut c = ControlChannel {
            conn,
            me,
            acceptor,
            peer_ip: peer.ip().to_canonical(),
            proxy_ip: admission.via.map(|v| v.proxy.ip().to_canonical()),
            session: Session::new(Rc::clone(&cfg), peer, local),
            inbuf: Vec::new(),
            readable: false,
            writable: true,
            eof: false,
            closing: false,
            discarding: false,
            overlong: Vec::new(),
            wait: Wait::No,
            data: None,
            idle: None,
            auth_timer: None,
            refused: admission.refusal.is_some(),
            start_tls: false,
            clear_tls: false,
            tls_peer_known: false,
            tls_config,
            data_tls_config: None,
            handshake_timer: None,
            hash: None,
        };
        c.session.set_off_loop_pool(core.workers() > 0);
        if let Some(via) = admission.via {
            c.session.set_announced(via.destination.map(|d| d.ip()));
            if admission.refusal.is_none() {
                c.session.log(&format!("relayed by proxy {}", via.proxy));
            }
        }
        if c.conn.is_tls() {
            c.session.tls_started();
            let timeout = handshake_timeout(&cfg);
            c.handshake_timer = Some(core.timer(timeout, me, Timer::Handshake));
        }
        c.greet(admission.refusal, core);
        Ok(c)
    }

    /// Greet the client, or refuse it (then close once the 421 is sent).
    fn greet(&mut self, refusal: Option<&'static str>, core: &mut Core) {
        // A banned address is counted like any connection (`refused` stays
        // false, so closing releases it).
        if refusal.is_none() && self.session.refuse_banned() {
            self.closing = true;
            return;
        }
        if let Some(text) = refusal {
            self.session.refuse(text);
            self.closing = true;
            return;
        }
        self.session.open();
        let timeout = self.session.cfg().timeout;
        if !timeout.is_zero() {
            self.idle = Some(core.timer(timeout, self.me, Timer::Idle));
        }
    }

    /// Readiness changed.
    pub fn on_ready(&mut self, ready: Ready, core: &mut Core) -> Status {
        self.readable |= ready.readable;
        self.writable |= ready.writable;
        if ready.closed {
            return Status::Remove;
        }
        self.pump(core)
    }

    /// It yielded with lines left: interpret them.
    pub fn on_resume(&mut self, core: &mut Core) -> Status {
        self.pump(core)
    }

    /// One of its timers fired.
    pub fn on_timer(&mut self, timer: Timer, core: &mut Core) -> Status {
        match timer {
            Timer::Idle => self.idle_timeout(core),
            Timer::Handshake => {
                self.handshake_timer = None;
                if self.conn.handshaking() {
                    self.session.log("TLS handshake timed out.");
                    return Status::Remove;
                }
            }
            Timer::AuthDelay => {
                self.auth_timer = None;
                self.wait = Wait::No;
                self.session.on_auth_delay_over();
            }
            Timer::DataSetup
            | Timer::DataStall
            | Timer::ThrottleWake
            | Timer::ProxyHeader
            | Timer::MetricsDeadline => {}
        }
        self.run_effects(core);
        self.pump(core)
    }

    /// The login check or a file-system call came back from the worker
    /// pool.
    pub fn on_done(&mut self, done: Done, core: &mut Core) -> Status {
        match done {
            Done::Verified(result) if self.wait == Wait::Verify => {
                self.login_check_over(core);
                self.wait = Wait::No;
                self.session.on_verified(result);
            }
            Done::OffLoop(result) if self.wait == Wait::OffLoop => {
                self.wait = Wait::No;
                self.session.on_off_loop_done(result);
            }
            Done::Verified(_) | Done::OffLoop(_) => {}
        }
        self.run_effects(core);
        self.pump(core)
    }

    /// The data side reported.
    pub fn on_notice(&mut self, notice: Notice, core: &mut Core) -> Status {
        match notice {
            Notice::DataConnected(link) => {
                self.data = Some(link);
                let active = self.wait == Wait::Active;
                if active {
                    self.wait = Wait::No;
                }
                let how = if active {
                    Opened::Active
                } else {
                    Opened::Passive
                };
                self.session.on_data_connected(how);
            }
            Notice::DataReply { code, text, left } => {
                if left == DataSide::Gone {
                    self.data = None;
                    if self.wait == Wait::Active {
                        self.wait = Wait::No;
                    }
                }
                self.session.on_data_reply(code, &text, left);
            }
            Notice::DataGone { reason } => {
                self.data = None;
                self.session.on_data_gone(&reason);
            }
            Notice::TransferDone(outcome) => {
                self.data = None;
                self.session.on_transfer_done(outcome, Ended::ByDataSide);
                self.touch();
            }
            Notice::Start(_)
            | Notice::ControlClosed(_)
            | Notice::HeaderRead { .. }
            | Notice::DataArrived { .. } => {}
        }
        self.run_effects(core);
        self.pump(core)
    }

    fn idle_timeout(&mut self, core: &mut Core) {
        if self.session.is_transferring() || self.hash.is_some() || self.wait == Wait::OffLoop {
            // Suspended during transfers: arm a fresh timer (a fired one
            // cannot be reset).
            let timeout = self.session.cfg().timeout;
            self.idle = Some(core.timer(timeout, self.me, Timer::Idle));
            return;
        }
        self.session.idle_timeout();
        self.closing = true;
    }

    /// Re-arm the idle timer.
    fn touch(&self) {
        if let Some(t) = &self.idle {
            t.reset();
        }
    }

    /// Flush replies, interpret buffered lines, read more; repeat until
    /// nothing moves.
    fn pump(&mut self, core: &mut Core) -> Status {
        let mut lines = 0;
        loop {
            if self.flush().is_err() {
                return Status::Remove;
            }
            if self.closing {
                return if self.pending_out() == 0 {
                    Status::Remove
                } else {
                    Status::Keep
                };
            }
            if self.hash.is_some() {
                match self.hash_round(core) {
                    Some(status) => return status,
                    None => continue,
                }
            }
            let before = lines;
            self.run_lines(core, &mut lines);
            if lines >= LINES_PER_ROUND {
                if self.flush().is_err() {
                    return Status::Remove;
                }
                core.defer(self.me);
                return Status::Keep;
            }
            if self.closing {
                continue;
            }
            let read = match self.read_some() {
                Ok(n) => n,
                Err(_) => return Status::Remove,
            };
            if self.eof && !self.has_line() {
                // A client that half-closed after its last command still
                // gets the replies (best effort, the socket may be gone).
                let _ = self.flush();
                return Status::Remove;
            }
            if read == 0 && lines == before {
                return Status::Keep;
            }
        }
    }

    /// One round of the running checksum: `Some(status)` when the round
    /// ends here (its budget spent, the channel deferred to the next
    /// round), `None` once it finished or was cancelled by an ABOR or QUIT
    /// read meanwhile, and interpreting goes on.
    fn hash_round(&mut self, core: &mut Core) -> Option<Status> {
        if self.read_some().is_err() {
            return Some(Status::Remove);
        }
        if self.hash_cancelled() {
            self.hash = None;
            self.wait = Wait::No;
            self.session.on_hash_aborted();
            return None;
        }
        let job = self.hash.as_mut()?;
        let run = std::panic::AssertUnwindSafe(|| job.step(ROUND_BUDGET));
        let result = std::panic::catch_unwind(run)
            .unwrap_or_else(|_| Err(io::Error::other("Internal error")));
        match result {
            Ok(None) => {
                if self.flush().is_err() {
                    return Some(Status::Remove);
                }
                core.defer(self.me);
                Some(Status::Keep)
            }
            Ok(Some(done)) => {
                self.hash = None;
                self.wait = Wait::No;
                self.session.on_hash_done(Ok(done));
                None
            }
            Err(e) => {
                self.hash = None;
                self.wait = Wait::No;
                self.session.on_hash_done(Err(e));
                None
            }
        }
    }

    /// Whether a complete line read during a checksum is an ABOR or QUIT
    /// (with pyftpdlib's tolerance of Telnet garbage before the name).
    fn hash_cancelled(&self) -> bool {
        self.inbuf
            .split(|&b| b == b'\n')
            .take(self.inbuf.iter().filter(|&&b| b == b'\n').count())
            .any(Session::cancels_checksum)
    }

    fn pending_out(&self) -> usize {
        self.session.output().len() + usize::from(self.conn.tls_pending())
    }

    /// Switch the control connection to TLS (after AUTH's 234 is sent).
    fn begin_tls(&mut self) -> io::Result<()> {
        self.start_tls = false;
        #[cfg(feature = "tls")]
        {
            if self.tls_config.is_none() {
                self.tls_config = session_tls_config(self.session.cfg(), self.session.site_name());
            }
            // A new handshake (AUTH again after CCC) may bring another
            // client certificate: the data connections follow it.
            self.tls_peer_known = false;
            self.data_tls_config = None;
            let Some(config) = control_config(&self.tls_config) else {
                return Err(io::Error::other("TLS is not configured"));
            };
            self.conn.start_tls(config)?;
            self.session.tls_started();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.writable && !self.session.output().is_empty() {
            match self.conn.write(self.session.output()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.session.output_sent(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.writable && self.conn.tls_pending() {
            match self.conn.flush_tls() {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) => return Err(e),
            }
        }
        if self.start_tls && self.pending_out() == 0 {
            self.begin_tls()?;
        }
        #[cfg(feature = "tls")]
        if self.clear_tls && self.session.output().is_empty() {
            // CCC's 200 is in the TLS layer: close_notify goes after it.
            self.clear_tls = false;
            // The data connections' TLS settings depend on the control
            // connection's TLS version, unknown once TLS is off: fix them now.
            let _ = self.data_tls();
            self.conn.begin_clear();
            self.session.tls_cleared();
            if self.writable && self.conn.tls_pending() {
                match self.conn.flush_tls() {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    fn has_line(&self) -> bool {
        !self.overlong.is_empty() || self.inbuf.contains(&b'\n')
    }

    /// Whether input may be interpreted (and so read) now.
    fn interpreting(&self) -> bool {
        self.wait == Wait::No
            && !self.closing
            && !self.session.is_quitting()
            && self.pending_out() <= MAX_PENDING_OUT
    }

    /// Whether more input may be read now.
    fn may_read(&self) -> bool {
        let hashing = self.wait == Wait::Hash && !self.closing;
        self.readable
            && !self.eof
            && !self.start_tls
            && !self.clear_tls
            && (self.interpreting() || hashing)
            && !self.has_line()
    }

    /// Read once into the input buffer; returns the bytes read.
    fn read_some(&mut self) -> io::Result<usize> {
        if !self.may_read() {
            return Ok(0);
        }
        let mut chunk = [0u8; READ_CHUNK];
        // During a checksum, never more than one line's worth: an over-long
        // line's 500 must not overtake the checksum's reply.
        let room = if self.wait == Wait::Hash {
            (MAX_LINE + 1)
                .saturating_sub(self.inbuf.len())
                .min(READ_CHUNK)
        } else {
            READ_CHUNK
        };
        if room == 0 {
            return Ok(0);
        }
        loop {
            match self.conn.read(&mut chunk[..room]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => {
                    self.take_input(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.readable = false;
                    return Ok(0);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    self.eof = true;
                    return Ok(0);
                }
                Err(e) => {
                    if e.kind() == io::ErrorKind::InvalidData {
                        // Logged once; the connection is dropped, no spin.
                        self.session.log(&format!("SSL handshake failed: {e}"));
                    }
                    return Err(e);
                }
            }
        }
    }

    /// Append input, enforcing the line-length cap: an over-long line gets
    /// one "500 Command too long." and is discarded up to its end.
    fn take_input(&mut self, mut data: &[u8]) {
        if self.discarding {
            match data.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.discarding = false;
                    data = &data[i + 1..];
                }
                None => return,
            }
        }
        self.inbuf.extend_from_slice(data);
        let tail_start = self
            .inbuf
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        // One extra byte for a CR whose LF has not arrived yet.
        if self.inbuf.len() - tail_start > MAX_LINE + 1 {
            self.inbuf.truncate(tail_start);
            self.discarding = true;
            self.overlong.push(tail_start);
        }
    }

    /// Interpret complete lines while allowed.
    fn run_lines(&mut self, core: &mut Core, lines: &mut usize) {
        if !self.tls_peer_known && self.has_line() {
            // A line arrived over TLS: the handshake is complete.
            if let Some((server_name, certificate)) = self.conn.tls_peer() {
                self.tls_peer_known = true;
                self.session.tls_established(server_name, certificate);
            }
        }
        let mut start = 0;
        while self.interpreting() && *lines < LINES_PER_ROUND {
            if self.overlong.first() == Some(&start) {
                self.overlong.remove(0);
                self.touch();
                self.session.line_too_long();
                *lines += 1;
                self.run_effects(core);
                continue;
            }
            let Some(i) = self.inbuf[start..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let end = start + i;
            self.touch();
            self.refresh_stats(core);
            self.interpret(start, end);
            start = end + 1;
            *lines += 1;
            self.run_effects(core);
            if self.start_tls || self.clear_tls {
                // AUTH TLS / CCC emptied the input buffer: nothing else to run.
                start = 0;
                break;
            }
        }
        if start > 0 {
            self.inbuf.copy_within(start.., 0);
            let keep = self.inbuf.len() - start;
            self.inbuf.truncate(keep);
            for at in &mut self.overlong {
                *at = at.saturating_sub(start);
            }
        }
        if self.inbuf.is_empty() && self.inbuf.capacity() > KEEP_CAPACITY {
            self.inbuf = Vec::new();
        }
    }

    /// Hand the line at `inbuf[start..end]` (its LF excluded) to the
    /// session; a panicking command ends the session, not the server.
    fn interpret(&mut self, start: usize, end: usize) {
        let mut line = &self.inbuf[start..end];
        if let Some(stripped) = line.strip_suffix(b"\r") {
            line = stripped;
        }
        if line.len() > MAX_LINE {
            return self.session.line_too_long();
        }
        let session = &mut self.session;
        let run = std::panic::AssertUnwindSafe(|| session.handle_line(line));
        if std::panic::catch_unwind(run).is_err() {
            self.session.command_panicked(line);
            self.closing = true;
        }
    }

    /// Give STAT the live numbers of a running transfer.
    fn refresh_stats(&mut self, core: &Core) {
        let stats = match self.data.and_then(|link| core.peek(link)) {
            Some(Dispatcher::Data(d)) => {
                let (bytes, elapsed, receiving) = d.stats();
                Some(TransferStats {
                    bytes,
                    receiving,
                    elapsed,
                })
            }
            _ => None,
        };
        self.session.set_transfer_stats(stats);
    }

    /// Carry out what the session asked for, in order.
    fn run_effects(&mut self, core: &mut Core) {
        loop {
            let effects = self.session.take_effects();
            if effects.is_empty() {
                return;
            }
            for effect in effects {
                self.apply(effect, core);
            }
        }
    }

    fn apply(&mut self, effect: Effect, core: &mut Core) {
        match effect {
            Effect::OpenPassive(asked_by) => self.open_passive(asked_by, core),
            Effect::ConnectActive(addr) => self.connect_active(addr, core),
            Effect::CloseData => {
                self.drop_data(core);
            }
            Effect::AbortTransfer => match self.drop_data(core) {
                Some(outcome) => self.session.on_transfer_done(outcome, Ended::ByAbor),
                None => self.session.on_abort_without_transfer(),
            },
            Effect::DropTransfer => {
                if let Some(outcome) = self.drop_data(core) {
                    self.session.on_transfer_done(outcome, Ended::Replaced);
                }
            }
            Effect::StartJob(job) => match self.data {
                Some(link) => core.notify(link, Notice::Start(job)),
                None => self.session.on_data_reply(
                    reply::CANT_OPEN_DATA,
                    "Data connection lost.",
                    DataSide::Gone,
                ),
            },
            Effect::AuthDelay => {
                self.wait = Wait::Auth;
                let delay = self.session.cfg().auth_failed_timeout;
                self.auth_timer = Some(core.timer(delay, self.me, Timer::AuthDelay));
            }
            Effect::Verify(check) => self.verify(check, core),
            Effect::Close => self.closing = true,
            Effect::StartTls => self.start_tls_after_reply(core),
            Effect::Hash(job) => {
                self.hash = Some(job);
                self.wait = Wait::Hash;
            }
            Effect::OffLoop(task) => {
                self.wait = Wait::OffLoop;
                core.spawn(self.me, move || {
                    let run = std::panic::AssertUnwindSafe(task);
                    Done::OffLoop(
                        std::panic::catch_unwind(run)
                            .unwrap_or_else(|_| Err(io::Error::other("Internal error"))),
                    )
                });
            }
            Effect::ClearTls => {
                // As after AUTH: what the client pipelined after CCC is dropped.
                self.inbuf.clear();
                self.overlong.clear();
                self.discarding = false;
                self.clear_tls = true;
            }
        }
    }

    /// Hand the slow part of a login check to the worker pool, now or when
    /// its turn comes (`login_gate`); no input is read until it is done.
    fn verify(&mut self, check: SlowCheck, core: &mut Core) {
        self.wait = Wait::Verify;
        let limits = login_limits(self.session.cfg());
        if let Some(check) = core
            .shared
            .logins
            .submit(self.me, self.peer_ip, check, limits)
        {
            run_check(core, self.me, check);
        }
    }

    /// This session's check left the pool (or will reach nobody): start the
    /// waiting checks it made room for.
    fn login_check_over(&mut self, core: &mut Core) {
        let limits = login_limits(self.session.cfg());
        for (link, check) in core.shared.logins.finish(self.peer_ip, limits) {
            run_check(core, link, check);
        }
    }

    /// Replace any data connection by a passive listener.
    fn open_passive(&mut self, asked_by: Passive, core: &mut Core) {
        self.drop_data(core);
        let local = self.session.local_addr().ip();
        let tls = self.data_tls();
        let cfg = Rc::clone(self.session.cfg());
        let peer = DataPeer {
            client: self.peer_ip,
            proxy: self.proxy_ip,
        };
        match dispatchers::open_passive(core, self.me, &cfg, local, peer, tls) {
            Ok((link, addr)) => {
                self.data = Some(link);
                self.session.on_passive_open(addr, asked_by);
            }
            Err(e) => {
                let text = format!("Can't open passive connection: {}", reply::strerror(&e));
                self.session.on_passive_failed(&text);
            }
        }
    }

    /// Replace any data connection by a connect to `addr`; later lines
    /// wait for its outcome.
    fn connect_active(&mut self, addr: SocketAddr, core: &mut Core) {
        self.drop_data(core);
        let tls = self.data_tls();
        let cfg = Rc::clone(self.session.cfg());
        match dispatchers::connect_active(core, self.me, &cfg, addr, tls) {
            Ok(link) => {
                self.data = Some(link);
                self.wait = Wait::Active;
            }
            Err(_) => self.session.on_data_reply(
                reply::CANT_OPEN_DATA,
                "Can't connect to specified address.",
                DataSide::Gone,
            ),
        }
    }

    /// AUTH TLS: whatever the client pipelined after AUTH is dropped, never
    /// run after the handshake (CVE-2011-1575 class, pyftpdlib #315); the
    /// handshake starts once the 234 is sent.
    fn start_tls_after_reply(&mut self, core: &mut Core) {
        self.inbuf.clear();
        self.overlong.clear();
        self.discarding = false;
        self.start_tls = true;
        let timeout = handshake_timeout(self.session.cfg());
        self.handshake_timer = Some(core.timer(timeout, self.me, Timer::Handshake));
    }

    /// The TLS configuration for a new data connection after PROT P:
    /// this session's (`TlsFtpHandler::data_config`).
    fn data_tls(&mut self) -> TlsConfig {
        if !self.session.prot_private() {
            return None;
        }
        #[cfg(feature = "tls")]
        if self.data_tls_config.is_none() {
            let cfg = Rc::clone(self.session.cfg());
            let cert = self.session.client_certificate_der();
            self.data_tls_config = match (&cfg.tls, &self.tls_config) {
                (Some(tls), Some(session)) => {
                    Some(tls.data_config(session, cert, self.conn.tls_version()))
                }
                _ => None,
            };
        }
        self.data_tls_config.clone()
    }

    /// Remove the data-side dispatcher now (the loop's synchronous path,
    /// see `dispatch`); the outcome of a transfer it was running, if any.
    fn drop_data(&mut self, core: &mut Core) -> Option<super::producers::Outcome> {
        let mut d = core.remove(self.data.take()?)?;
        let outcome = match &mut d {
            Dispatcher::Data(dc) => dc.abort(),
            _ => None,
        };
        core.close(d);
        outcome
    }

    /// Move what the session counted into the loop's metrics.
    pub fn tally_into(&mut self, core: &mut Core) {
        core.shared.metrics.absorb(self.session.tally());
    }

    /// Deregister, end any transfer (logging it), tell the acceptor.
    pub fn close(&mut self, core: &mut Core) {
        if self.wait == Wait::Verify && !core.shared.logins.cancel(self.me) {
            // In flight: its result will reach nobody.
            self.login_check_over(core);
        }
        if self.wait == Wait::OffLoop {
            // Its result will reach the loop's orphan list instead.
            if let Some(settle) = self.session.off_loop_orphaned() {
                core.shared.off_loop_orphans.insert(self.me, settle);
            }
        }
        if let Some(outcome) = self.drop_data(core) {
            self.session.on_transfer_done(outcome, Ended::ByDataSide);
        }
        let timers = [
            self.idle.take(),
            self.auth_timer.take(),
            self.handshake_timer.take(),
        ];
        for t in timers.into_iter().flatten() {
            t.cancel();
        }
        self.conn.close_notify();
        let _ = core.registry().deregister(&mut self.conn.sock);
        if !self.refused {
            self.session.closed();
            core.notify(self.acceptor, Notice::ControlClosed(self.peer_ip));
        }
    }
}

/// The in-flight limits of slow login checks.
fn login_limits(cfg: &FtpHandler) -> Limits {
    Limits {
        total: cfg.auth_max_in_flight,
        per_ip: cfg.auth_max_in_flight_per_ip,
    }
}

/// Run a login check on the pool for the session at `link`; a panicking
/// check refuses the login.
fn run_check(core: &mut Core, link: Link, check: SlowCheck) {
    core.spawn(link, move || {
        let run = std::panic::AssertUnwindSafe(check);
        Done::Verified(
            std::panic::catch_unwind(run)
                .unwrap_or_else(|_| Err(AuthenticationFailed("Internal error.".into()))),
        )
    });
}

/// A session's TLS configuration (`TlsFtpHandler::session_config`).
#[cfg(feature = "tls")]
type SessionTlsConfig = Option<crate::handlers::ftps::SessionTls>;
#[cfg(not(feature = "tls"))]
type SessionTlsConfig = TlsConfig;

/// A TLS configuration with a session cache and ticket token of its own
/// (implicit FTPS or AUTH TLS).
#[cfg(feature = "tls")]
fn session_tls_config(cfg: &FtpHandler, site: Option<&str>) -> SessionTlsConfig {
    cfg.tls.as_ref().map(|t| t.session_config(site))
}

#[cfg(not(feature = "tls"))]
fn session_tls_config(_: &FtpHandler, _: Option<&str>) -> SessionTlsConfig {
    None
}

/// The control connection's part of a session's TLS configuration.
#[cfg(feature = "tls")]
fn control_config(session: &SessionTlsConfig) -> TlsConfig {
    session.as_ref().map(|s| std::sync::Arc::clone(&s.control))
}

#[cfg(not(feature = "tls"))]
fn control_config(_: &SessionTlsConfig) -> TlsConfig {
    None
}

fn handshake_timeout(cfg: &FtpHandler) -> std::time::Duration {
    #[cfg(feature = "tls")]
    if let Some(t) = &cfg.tls {
        return t.handshake_timeout;
    }
    let _ = cfg;
    std::time::Duration::from_secs(30)
}

#[cfg(test)]
mod size_tests {
    /// Every connected client costs one boxed `ControlChannel` (its
    /// `Session` inside): memory per idle session is the figure the
    /// embedded build is judged by (benches/compare.sh, docs/embedded.md).
    /// State most sessions never use (a held failed-login reply, the TLS
    /// peer's names, a checksum) is boxed so it costs a pointer. A field
    /// that pushes the channel past this bound should be boxed too, or the
    /// bound raised knowingly. 64-bit targets only (pointer sizes).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn a_control_channel_stays_within_its_memory_budget() {
        let size = std::mem::size_of::<super::ControlChannel>();
        eprintln!("size_of::<ControlChannel>() = {size}");
        assert!(size <= 928, "ControlChannel is {size} bytes");
    }
}
