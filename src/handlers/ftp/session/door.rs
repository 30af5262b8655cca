//! The door of the interpreter: what the control channel (and the FTPS
//! commands) may call, and the data-side events they report back. Nothing
//! else of `Session` is reachable from outside this module.

use std::net::SocketAddr;
use std::rc::Rc;

use super::data::{DataState, Start};
use super::{
    cmd_login, cmd_transfer, DataSide, Effect, Ended, Opened, Passive, Session, TransferStats,
};
use crate::handlers::ftp::producers::{Job, Outcome};
use crate::handlers::ftp::FtpHandler;
use crate::log::LOG;
use crate::reply::{self, Code};

/// The data side and the worker pool report to the session.
impl Session {
    /// Start `job` now if the data connection is up, or queue it until it
    /// is (pyftpdlib `push_dtp_data`). `unique` = STOU's 150/125 text.
    pub fn start_or_queue(&mut self, job: Job, stou_name: Option<&str>) {
        let (open_text, pending_text) = match stou_name {
            Some(n) => (format!("FILE: {n}"), format!("FILE: {n}")),
            None => (
                "Data connection already open. Transfer starting.".to_string(),
                "File status okay. About to open data connection.".to_string(),
            ),
        };
        match self.data.start_or_queue(job, stou_name.is_some()) {
            Start::Now(job) => {
                self.reply(reply::DATA_ALREADY_OPEN, &open_text);
                self.effects.push(Effect::StartJob(job));
            }
            Start::Queued => self.reply(reply::ABOUT_TO_OPEN, &pending_text),
            Start::NoConnection => self.reply(
                reply::CANT_OPEN_DATA,
                "No data connection: use PASV, EPSV, PORT or EPRT first.",
            ),
            Start::Busy => self.reply(reply::CANT_OPEN_DATA, "A transfer is already in progress."),
        }
    }

    /// A transfer runs or waits for its connection: 425, before the
    /// command touches any file.
    pub fn transfer_busy(&mut self) -> bool {
        if !self.data.has_transfer() {
            return false;
        }
        self.reply(reply::CANT_OPEN_DATA, "A transfer is already in progress.");
        true
    }

    /// No PASV/EPSV/PORT/EPRT was issued: 425. Transfer commands ask
    /// after checking their file (pyftpdlib's order).
    pub fn no_data_connection(&mut self) -> bool {
        if self.data.state() != DataState::Idle {
            return false;
        }
        self.reply(
            reply::CANT_OPEN_DATA,
            "No data connection: use PASV, EPSV, PORT or EPRT first.",
        );
        true
    }

    /// The passive listener is up at `addr`.
    pub fn on_passive_open(&mut self, addr: SocketAddr, asked_by: Passive) {
        self.data.listening();
        if asked_by == Passive::Epsv {
            let text = format!("Entering extended passive mode (|||{}|).", addr.port());
            self.reply(reply::EXTENDED_PASSIVE, &text);
        } else {
            let ip = self.announced_ip(addr);
            let o = ip.octets();
            let (p1, p2) = (addr.port() >> 8, addr.port() & 0xff);
            let text = format!(
                "Entering passive mode ({},{},{},{},{p1},{p2}).",
                o[0], o[1], o[2], o[3]
            );
            self.reply(reply::PASSIVE, &text);
        }
    }

    fn announced_ip(&self, addr: SocketAddr) -> std::net::Ipv4Addr {
        let local = addr.ip().to_canonical();
        let chosen = self
            .cfg
            .masquerade_address_map
            .get(&local)
            .copied()
            .or(self.cfg.masquerade_address)
            .or(self.announced)
            .unwrap_or(local);
        match chosen.to_canonical() {
            std::net::IpAddr::V4(v4) => v4,
            std::net::IpAddr::V6(_) => std::net::Ipv4Addr::UNSPECIFIED,
        }
    }

    /// The data connection is established (passive accept or active
    /// connect); a queued transfer starts.
    pub fn on_data_connected(&mut self, how: Opened) {
        if how == Opened::Active {
            self.reply(reply::OK, "Active data connection established.");
        }
        if let Some(job) = self.data.connected() {
            self.effects.push(Effect::StartJob(job));
        }
    }

    /// A reply about the data connection that the data side produced. It
    /// is sent once for each command that awaits it: a PORT/EPRT whose
    /// connect was in progress (its 200 was due), and a transfer command
    /// (150 or 125 sent) whose data connection is gone. With neither it is
    /// only logged: a reply no command asked for (pyftpdlib's `421 Passive
    /// data channel timed out.` on an idle session) would be read as the
    /// reply to the client's next command, and every later reply would be
    /// one behind.
    pub fn on_data_reply(&mut self, code: Code, text: &str, left: DataSide) {
        let setup_owed = self.data.state() == DataState::Connecting;
        let transfer_owed = left == DataSide::Gone && self.data.has_transfer();
        if left == DataSide::Gone {
            self.data.lost();
            self.stats = None;
        }
        if setup_owed {
            self.reply(code, text);
        }
        if transfer_owed {
            self.reply(code, text);
        }
        if !setup_owed && !transfer_owed && left == DataSide::Gone {
            // (A refused foreign peer, `Alive`, was logged at WARN already.)
            self.log(&format!("{text} (no command awaits a reply)"));
        }
    }

    /// PASV/EPSV could not open its listener (no port, or every pooled port
    /// already waits for this address): the command itself awaits this 425.
    pub fn on_passive_failed(&mut self, text: &str) {
        self.data.lost();
        self.reply(reply::CANT_OPEN_DATA, text);
    }

    /// The data connection failed before a transfer ran on it. A transfer
    /// command whose job was on its way gets `522 reason` as its final
    /// reply; with none, nothing is sent (a reply no command asked for would
    /// put every later reply one behind its command): it is logged, and the
    /// next transfer command gets 425.
    pub fn on_data_gone(&mut self, reason: &str) {
        let awaited = self.data.has_transfer();
        self.data.lost();
        if awaited {
            self.stats = None;
            self.reply(reply::BAD_NETWORK_PROTOCOL, reason);
        } else {
            self.log(reason);
        }
    }

    /// The transfer ended: reply 226 or 426/451/452, log it.
    pub fn on_transfer_done(&mut self, outcome: Outcome, by: Ended) {
        self.data.transfer_ended();
        self.stats = None;
        self.tally.transfer(&outcome);
        cmd_transfer::finish(self, outcome, by);
    }

    /// The slow part of the login check came back: log in or refuse, as
    /// PASS would have on the spot.
    pub fn on_verified(&mut self, result: Result<(), crate::AuthenticationFailed>) {
        if let Some(password) = self.verifying.take() {
            let user = self.username.clone();
            cmd_login::checked(self, &user, &password, result);
        }
    }

    /// The checksum of HASH / XCRC... is computed (or its file failed):
    /// its reply.
    pub fn on_hash_done(
        &mut self,
        result: std::io::Result<crate::handlers::ftp::checksum::HashReply>,
    ) {
        match result {
            Ok(done) => self.reply(done.code, &done.text),
            Err(e) => {
                let text = format!(
                    "{}; checksum not computed.",
                    reply::strerror(&e).trim_end_matches('.')
                );
                self.reply(reply::LOCAL_ERROR, &text);
            }
        }
    }

    /// Whether a command line read while a checksum runs is an ABOR or
    /// QUIT, which cancel it (Telnet sequences before the name tolerated).
    pub fn cancels_checksum(line: &[u8]) -> bool {
        let line = super::telnet::strip(line);
        let word = line
            .split(|&b| b == b' ' || b == b'\r')
            .next()
            .unwrap_or(&[]);
        let upper = word.to_ascii_uppercase();
        upper.ends_with(b"ABOR") || upper.ends_with(b"QUIT")
    }

    /// An ABOR or QUIT arrived while a checksum was computed: it is
    /// dropped and its command answered 426 (the ABOR or QUIT then runs).
    pub fn on_hash_aborted(&mut self) {
        self.reply(reply::TRANSFER_ABORTED, "Checksum aborted.");
    }

    /// The failed-login delay is over: send the held reply.
    pub fn on_auth_delay_over(&mut self) {
        if let Some(d) = self.delayed.take() {
            self.reply(reply::NOT_LOGGED_IN, &d.text);
            if d.disconnect {
                self.effects.push(Effect::Close);
            }
            self.hook("on_login_failed", |h, info| {
                h.on_login_failed(info, &d.username, &d.password)
            });
        }
    }
}

/// Reply buffers larger than this are released once sent.
const KEEP_CAPACITY: usize = 1024;

/// The door the control channel goes through: lines and socket events in;
/// reply bytes, effects and log lines out.
impl Session {
    /// The connection was let in: log it, call `on_connect`, greet.
    pub fn open(&mut self) {
        self.tally.opened();
        self.log("FTP session opened (connect)");
        self.hook("on_connect", |h, info| h.on_connect(info));
        self.greet();
    }

    /// A connection limit refused the connection: 421 and nothing else.
    pub fn refuse(&mut self, text: &str) {
        log::warn!(target: LOG, "{} {}", self.prefix, text);
        self.tally.refused();
        self.reply(reply::NOT_AVAILABLE, text);
    }

    /// The connection is gone: log it, call `on_disconnect`.
    pub fn closed(&mut self) {
        self.tally.closed();
        self.log("FTP session closed (disconnect).");
        self.hook("on_disconnect", |h, info| h.on_disconnect(info));
    }

    /// The idle timer fired: 421 (the control channel then closes).
    pub fn idle_timeout(&mut self) {
        self.log("Control connection timed out.");
        self.reply(reply::NOT_AVAILABLE, "Control connection timed out.");
    }

    /// A line over [`MAX_LINE`](crate::handlers::ftp::control::MAX_LINE) bytes was cut.
    pub fn line_too_long(&mut self) {
        log::warn!(target: LOG, "{} Command too long.", self.prefix);
        self.reply(reply::UNKNOWN_COMMAND, "Command too long.");
    }

    /// The command on `line` panicked: log it, drop its effects, 421 (the
    /// control channel then closes the session).
    pub fn command_panicked(&mut self, line: &[u8]) {
        log::error!(
            target: crate::log::LOGERROR,
            "{} command {:?} panicked; closing the session",
            self.prefix,
            String::from_utf8_lossy(line.get(..line.len().min(64)).unwrap_or(&[]))
        );
        self.effects.clear();
        self.tally
            .error(crate::handlers::ftp::metrics::ErrorKind::CommandPanic);
        self.reply(
            reply::NOT_AVAILABLE,
            "Internal error; closing control connection.",
        );
    }

    /// ABOR found the data side set up but no transfer running: it is
    /// closed, 225.
    pub fn on_abort_without_transfer(&mut self) {
        self.data.transfer_ended();
        self.reply(
            reply::DATA_OPEN_NO_TRANSFER,
            "ABOR command successful; data channel closed.",
        );
    }

    /// The control connection now speaks TLS (AUTH done, or implicit FTPS).
    pub fn tls_started(&mut self) {
        self.tls_control = true;
    }

    /// Reply bytes not yet sent.
    pub fn output(&self) -> &[u8] {
        &self.out[self.out_sent..]
    }

    /// `n` bytes of [`output`](Self::output) were sent; the buffer is
    /// compacted (and released when large) once all of it is.
    pub fn output_sent(&mut self, n: usize) {
        self.out_sent = (self.out_sent + n).min(self.out.len());
        if self.out_sent == self.out.len() {
            self.out.clear();
            self.out_sent = 0;
            if self.out.capacity() > KEEP_CAPACITY {
                self.out = Vec::new();
            }
        }
    }

    /// What the last lines and events asked the control channel to do, in
    /// order.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// Give STAT the live numbers of the running transfer.
    pub fn set_transfer_stats(&mut self, stats: Option<TransferStats>) {
        self.stats = stats;
    }

    /// The handler settings of this session.
    pub fn cfg(&self) -> &Rc<FtpHandler> {
        &self.cfg
    }

    /// The local address of the control connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// QUIT was received: no further line is read.
    pub fn is_quitting(&self) -> bool {
        self.quitting
    }

    /// A transfer is running (the idle timeout is suspended meanwhile).
    pub fn is_transferring(&self) -> bool {
        self.data.is_transferring()
    }

    /// PROT P: new data connections use TLS.
    pub fn prot_private(&self) -> bool {
        self.prot_private
    }
}

/// The door of the FTPS commands (`handlers/ftps`): RFC 4217 state.
#[cfg_attr(not(feature = "tls"), allow(dead_code))]
impl Session {
    /// The control connection speaks TLS.
    pub fn tls_control(&self) -> bool {
        self.tls_control
    }

    /// Answer AUTH: the handshake starts once the pending replies are sent.
    pub fn start_tls(&mut self) {
        self.effects.push(Effect::StartTls);
    }

    /// PBSZ was accepted.
    pub fn pbsz_done(&self) -> bool {
        self.pbsz
    }

    /// Accept PBSZ.
    pub fn set_pbsz(&mut self) {
        self.pbsz = true;
    }

    /// PROT P (true) or PROT C (false).
    pub fn set_prot_private(&mut self, private: bool) {
        self.prot_private = private;
    }

    /// Whether a user is logged in.
    pub fn logged_in(&self) -> bool {
        self.authenticated
    }

    /// Answer CCC: TLS ends once the pending replies are written.
    pub fn clear_tls(&mut self) {
        self.effects.push(Effect::ClearTls);
    }

    /// The control connection is clear text again (after CCC); data
    /// connections keep their protection level.
    pub fn tls_cleared(&mut self) {
        self.tls_control = false;
        self.log("CCC: control connection back to clear text.");
    }

    /// The control connection's TLS handshake is complete: the server name
    /// the client asked for (SNI) and its verified certificate (DER). An
    /// SNI that names a virtual host chooses it, as HOST would, when
    /// neither HOST nor USER came first.
    pub fn tls_established(&mut self, server_name: Option<String>, certificate: Option<Vec<u8>>) {
        #[cfg(feature = "tls")]
        let field = self
            .cfg
            .tls
            .as_ref()
            .map(|t| t.client_cert_user_field)
            .unwrap_or_default();
        #[cfg(not(feature = "tls"))]
        let field = crate::authorizers::CertUserField::default();
        self.tls_peer = (server_name.is_some() || certificate.is_some()).then(|| {
            Box::new(super::TlsPeer {
                server_name,
                certificate: certificate
                    .map(|der| crate::authorizers::ClientCertificate::from_der(&der, field)),
            })
        });
        if self.site.is_none() && self.username.is_empty() && !self.authenticated {
            self.site = super::cmd_host::site_of_sni(self);
        }
    }

    /// The control connection's client certificate (DER), if it sent one.
    pub fn client_certificate_der(&self) -> Option<&[u8]> {
        self.tls_peer
            .as_ref()
            .and_then(|p| p.certificate.as_ref())
            .map(|c| c.der())
    }

    /// The name of the virtual host HOST (or SNI) chose.
    pub fn site_name(&self) -> Option<&str> {
        self.site
            .and_then(|i| self.cfg.site(i))
            .map(|(name, _)| name.as_str())
    }
}
