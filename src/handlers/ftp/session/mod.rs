//! The protocol interpreter of one control connection, without sockets.
//!
//! A `Session` takes complete command lines and answers with reply bytes
//! ([`Session::output`]) and [`Effect`]s that the control channel carries
//! out on sockets (open a passive listener, connect, start or abort a
//! transfer, close). The control channel reports back what happened on the
//! data side through the `on_*` methods. Everything pyftpdlib's `FTPHandler`
//! knows about a client lives here; nothing here blocks on the network.
//!
//! The room has one door: the control channel (and the FTPS commands) see
//! only `Session`'s methods; its fields are private. The commands are this
//! module's children, grouped by concern (`cmd_login`, `cmd_data`,
//! `cmd_fs`, `cmd_info`, `cmd_transfer`), reached through one table
//! (`commands`, pyftpdlib `proto_cmds`); `data` owns the state of the data
//! connection; `transcripts` tests the whole interpreter without a socket.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use commands::{ArgRule, CommandContext, CommandSpec, PathRule, Run};
use data::DataLink;
pub(crate) use data::DataState;
use impersonation::Impersonation;
pub(crate) use off_loop::Orphaned as OffLoopOrphaned;

pub(crate) mod cmd_data;
mod cmd_fs;
#[cfg(feature = "hash")]
pub(crate) mod cmd_hash;
pub(crate) mod cmd_host;
mod cmd_info;
mod cmd_login;
mod cmd_transfer;
pub(crate) mod commands;
mod data;
mod door;
pub(crate) mod impersonation;
mod live;
mod off_loop;
mod quota;
mod telnet;
mod transfer_log;

#[cfg(test)]
mod transcripts;
use crate::filesystems::{Facts, Filesystem};
use crate::handlers::ftp::hooks::{HookAction, Hooks, SessionInfo};
use crate::handlers::ftp::producers::Job;
use crate::handlers::ftp::FtpHandler;
use crate::log::{LOG, LOGLINE};
use crate::reply::{self, Code};

/// Which passive command asked for a listener: the format of its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Passive {
    /// PASV's 227 with `h1,h2,h3,h4,p1,p2`.
    Pasv,
    /// EPSV's 229 with `|||port|`.
    Epsv,
}

/// How a data connection came up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Opened {
    /// The client connected to the passive listener.
    Passive,
    /// The PORT/EPRT connect succeeded (a 200 is due).
    Active,
}

/// What a data-side failure leaves of the data connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataSide {
    /// It is gone: the session must set up a new one.
    Gone,
    /// It is still there (a refused foreign peer; the listener waits on).
    Alive,
}

/// What ended a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ended {
    /// ABOR: 426 then 226.
    ByAbor,
    /// A new PASV/PORT replaced its data connection: 426 only.
    Replaced,
    /// The data side: done, failed, stalled, or the session closing.
    ByDataSide,
}

/// What the control channel must do for the session.
pub(crate) enum Effect {
    /// Replace any data connection by a passive listener.
    OpenPassive(Passive),
    /// Replace any data connection by a connect to this address.
    ConnectActive(SocketAddr),
    /// Drop the data connection or listener, no transfer running.
    CloseData,
    /// Abort the running transfer (ABOR); the outcome comes back through
    /// [`Session::on_transfer_done`].
    AbortTransfer,
    /// End the running transfer because a new PASV/PORT replaces its data
    /// connection; the outcome comes back through
    /// [`Session::on_transfer_done`] with [`Ended::Replaced`].
    DropTransfer,
    /// Hand this transfer to the connected data channel.
    StartJob(Job),
    /// Stop reading input for `auth_failed_timeout`, then call
    /// [`Session::on_auth_delay_over`].
    AuthDelay,
    /// Run the slow part of the login check off the loop and stop reading
    /// input until its result comes back to [`Session::on_verified`].
    Verify(crate::authorizers::SlowCheck),
    /// Close the control connection once the replies are sent.
    Close,
    /// Send the pending replies, drop any input read after this command,
    /// then start a TLS handshake on the control connection (AUTH TLS).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    StartTls,
    /// Run this file-system call on the worker pool, reading no further
    /// command until its result comes back to
    /// [`Session::on_off_loop_done`] (DELE, RNTO over a big file).
    OffLoop(crate::filesystems::OffLoopTask),
    /// Compute this checksum a round budget at a time, reading no further
    /// command meanwhile, then call [`Session::on_hash_done`].
    #[cfg_attr(not(feature = "hash"), allow(dead_code))]
    Hash(Box<crate::handlers::ftp::checksum::HashJob>),
    /// Send the pending replies, then end TLS on the control connection
    /// and go on in clear text (CCC).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    ClearTls,
}

/// A failed-login reply held back for `auth_failed_timeout`.
pub(crate) struct DelayedReply {
    pub text: String,
    pub disconnect: bool,
    pub username: String,
    pub password: String,
}

/// Transfer progress shown by STAT while a transfer runs.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TransferStats {
    pub bytes: u64,
    pub receiving: bool,
    pub elapsed: f64,
}

/// One client's protocol state (the per-connection part of pyftpdlib's
/// `FTPHandler`).
pub(crate) struct Session {
    cfg: Rc<FtpHandler>,
    remote: SocketAddr,
    local: SocketAddr,
    /// The address PASV announces when no masquerade address is set: the
    /// PROXY header's destination (the balancer's address).
    announced: Option<std::net::IpAddr>,
    username: String,
    password: String,
    authenticated: bool,
    attempted_logins: u32,
    fs: Option<Box<dyn Filesystem>>,
    binary: bool,
    restart_position: u64,
    rnfr: Option<PathBuf>,
    epsv_all: bool,
    facts: Facts,
    data: DataLink,
    out: Vec<u8>,
    /// Bytes of `out` already handed to the socket.
    out_sent: usize,
    effects: Vec<Effect>,
    quitting: bool,
    /// Boxed: most sessions never hold one.
    delayed: Option<Box<DelayedReply>>,
    /// The password of a PASS whose check runs off the loop.
    verifying: Option<String>,
    /// The name buffer lent to each command's impersonation guard.
    impersonated: String,
    prefix: String,
    stats: Option<TransferStats>,
    /// The control connection is TLS (after AUTH, or implicit FTPS).
    tls_control: bool,
    /// PBSZ was accepted.
    pbsz: bool,
    /// PROT P: data connections use TLS.
    prot_private: bool,
    /// The algorithm of HASH (`OPTS HASH`), a name of `checksum::ALGORITHMS`.
    hash_algo: &'static str,
    /// RANG's inclusive byte range for the next HASH.
    #[cfg_attr(not(feature = "hash"), allow(dead_code))]
    hash_range: Option<(u64, u64)>,
    /// Counts for the metrics endpoint, emptied by the control channel.
    tally: crate::handlers::ftp::metrics::Tally,
    /// The virtual host chosen by HOST (or SNI); `None` = the default site.
    site: Option<usize>,
    /// What the control connection's TLS handshake told about the client
    /// (boxed, and only when it told something: SNI or a certificate).
    tls_peer: Option<Box<TlsPeer>>,
    /// The configuration generations last seen (`live.rs`).
    seen: live::Seen,
    /// The loop has worker-pool threads for this session's file-system
    /// calls (`off_loop.rs`).
    off_loop_pool: bool,
    /// Whether a logged-in user's commands run with the server's own
    /// identity (its ids do not change around a command), learnt at the
    /// first command after login: only then may the pool (which has the
    /// server's identity) run its file-system calls.
    own_identity: Option<bool>,
    /// The file-system call on the pool and what follows it.
    off_loop: Option<Box<off_loop::Pending>>,
}

/// The log line of a command in `log_cmds_list` (pyftpdlib `log_cmd`), as
/// [`Session::log_cmd`] writes it with the session's `prefix`.
fn log_cmd_line(cfg: &FtpHandler, prefix: &str, cmd: &str, arg: &str, code: Code, text: &str) {
    if log::log_enabled!(target: LOGLINE, log::Level::Debug)
        || !cfg.log_cmds_list.iter().any(|c| c == cmd)
    {
        return;
    }
    // pyftpdlib joins "cmd arg" and strips it: no double space without an arg.
    let what = if arg.is_empty() {
        cmd.to_string()
    } else {
        format!("{cmd} {}", printable(arg))
    };
    if code >= 400 {
        log::info!(target: LOGLINE, "{} {} {} '{}'", prefix, what, code, text);
    } else {
        log::info!(target: LOGLINE, "{} {} {}", prefix, what, code);
    }
}

/// What a control connection's TLS handshake told about the client.
#[derive(Debug, Default)]
pub(crate) struct TlsPeer {
    /// The server name it asked for (SNI), lower case.
    pub server_name: Option<String>,
    /// Its verified certificate, if it sent one.
    pub certificate: Option<crate::authorizers::ClientCertificate>,
}

impl Session {
    /// A session for a client at `remote` that reached us at `local`.
    pub fn new(cfg: Rc<FtpHandler>, remote: SocketAddr, local: SocketAddr) -> Session {
        let remote = SocketAddr::new(remote.ip().to_canonical(), remote.port());
        let local = SocketAddr::new(local.ip().to_canonical(), local.port());
        let mut s = Session {
            cfg,
            remote,
            local,
            announced: None,
            username: String::new(),
            password: String::new(),
            authenticated: false,
            attempted_logins: 0,
            fs: None,
            binary: false,
            restart_position: 0,
            rnfr: None,
            epsv_all: false,
            facts: Facts::DEFAULT,
            data: DataLink::new(),
            out: Vec::new(),
            out_sent: 0,
            effects: Vec::new(),
            quitting: false,
            delayed: None,
            verifying: None,
            impersonated: String::new(),
            prefix: String::new(),
            stats: None,
            tls_control: false,
            pbsz: false,
            prot_private: false,
            hash_algo: crate::handlers::ftp::checksum::ALGORITHMS[0],
            hash_range: None,
            tally: Default::default(),
            site: None,
            tls_peer: None,
            seen: live::Seen::default(),
            off_loop_pool: false,
            own_identity: None,
            off_loop: None,
        };
        s.seen = Session::seen_now(&s.cfg);
        s.update_prefix();
        s
    }

    /// The address PASV announces after the masquerade settings (a PROXY
    /// header's destination).
    pub fn set_announced(&mut self, ip: Option<std::net::IpAddr>) {
        self.announced = ip.map(|ip| ip.to_canonical());
    }

    /// Recompute the log prefix (after USER changes the name).
    pub fn update_prefix(&mut self) {
        self.prefix = crate::log::session_prefix(
            &self.cfg.log_prefix,
            &self.remote.ip().to_string(),
            self.remote.port(),
            &self.username,
        );
    }

    /// With `tls_control_required`: refuse (550) a login command sent
    /// before AUTH TLS; true when refused.
    pub fn refuse_without_tls_control(&mut self) -> bool {
        #[cfg(feature = "tls")]
        if !self.tls_control
            && self
                .cfg
                .tls
                .as_ref()
                .is_some_and(|t| t.tls_control_required)
        {
            self.reply(
                reply::ACTION_NOT_TAKEN,
                "SSL/TLS required on the control channel.",
            );
            return true;
        }
        false
    }

    /// With `tls_data_required`: refuse (550) a data-connection command
    /// before PROT P; true when refused.
    pub fn refuse_without_tls_data(&mut self) -> bool {
        #[cfg(feature = "tls")]
        if !self.prot_private && self.cfg.tls.as_ref().is_some_and(|t| t.tls_data_required) {
            self.reply(
                reply::ACTION_NOT_TAKEN,
                "SSL/TLS required on the data channel.",
            );
            return true;
        }
        false
    }

    /// The authorizer of this session's site (the one place that picks
    /// it: the default site's until HOST chose another).
    pub fn authorizer(&self) -> &dyn crate::authorizers::Authorizer {
        self.cfg.authorizer_of(self.site)
    }

    /// The 220 greeting (pyftpdlib `handle()`).
    pub fn greet(&mut self) {
        let banner = self.cfg.banner.clone();
        self.reply_long(reply::READY, &banner);
    }

    /// Interpret one command line (without its line terminator).
    pub fn handle_line(&mut self, raw: &[u8]) {
        // Telnet commands first (IAC IP, IAC DM before an urgent ABOR).
        let stripped = telnet::strip(raw);
        // The wire encoding is UTF-8 (RFC 2640). An undecodable line is
        // refused rather than "replaced": a path with U+FFFD would name a
        // file the client never asked for (pyftpdlib with
        // unicode_errors="strict" answers the same). The exception is
        // what is left of a Telnet Synch before ABOR, STAT or QUIT.
        let decoded = std::str::from_utf8(&stripped).or_else(|e| {
            telnet::urgent_command(&stripped)
                .map(std::str::from_utf8)
                .unwrap_or(Err(e))
        });
        let Ok(line) = decoded else {
            self.tally.command("");
            log::debug!(target: LOGLINE, "{} <- (undecodable line)", self.prefix);
            return self.reply(reply::BAD_ARGUMENT, "Can't decode command.");
        };
        let (word, mut arg) = match line.find(' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => (line, ""),
        };
        // The upper-cased name lives on the stack: no allocation per command
        // (names longer than the buffer are unknown anyway).
        let mut name_buf = [0u8; 48];
        let mut cmd = upper(word, &mut name_buf);
        if cmd == "SITE" && !arg.is_empty() {
            let (sub, rest) = match arg.find(' ') {
                Some(i) => (&arg[..i], &arg[i + 1..]),
                None => (arg, ""),
            };
            let joined = format!("SITE {sub}");
            cmd = upper(&joined, &mut name_buf);
            arg = rest;
        }
        self.log_received(cmd, line);
        self.tally.command(cmd);
        if !self.refresh() {
            return;
        }
        if !self.pre_process(cmd, arg) {
            return;
        }
        let cfg = Rc::clone(&self.cfg);
        let spec = match cfg.commands.lookup(cmd) {
            Some(spec) => spec,
            None => match telnet_fallback(&cfg, cmd) {
                Some(spec) => spec,
                None => {
                    let text = format!("Command \"{}\" not understood.", printable(cmd));
                    return self.reply(reply::UNKNOWN_COMMAND, &text);
                }
            },
        };
        self.dispatch(spec, arg);
    }

    /// Steps 5 to 9 of pyftpdlib's dispatch: argument, login, path,
    /// confinement and permission checks, then the command.
    fn dispatch(&mut self, spec: &CommandSpec, arg: &str) {
        match self.check(spec, arg) {
            Ok(path) => self.run_as_user(spec, arg, path),
            Err((code, text)) => self.reply(code, &text),
        }
    }

    /// The checks in pyftpdlib's order (501 argument, 530 login, 550
    /// outside home, 550 permission); the checked real path, if any.
    fn check(&self, spec: &CommandSpec, arg: &str) -> Result<Option<PathBuf>, (Code, String)> {
        match spec.arg {
            ArgRule::Required if arg.is_empty() => {
                return Err((
                    reply::BAD_ARGUMENT,
                    "Syntax error: command needs an argument.".into(),
                ))
            }
            ArgRule::Forbidden if !arg.is_empty() => {
                return Err((
                    reply::BAD_ARGUMENT,
                    "Syntax error: command does not accept arguments.".into(),
                ))
            }
            _ => {}
        }
        if spec.auth.needs_login(arg) && !self.authenticated {
            return Err((
                reply::NOT_LOGGED_IN,
                "Log in with USER and PASS first.".into(),
            ));
        }
        let path = self.resolve_path(spec, arg)?;
        if let Some(perm) = spec.perm.filter(|_| self.authenticated) {
            // A command with a letter but no path rule (a custom command) is
            // checked against the cwd, as pyftpdlib gives every such command a path.
            let cwd_path = || self.fs.as_deref().map(|fs| fs.ftp2fs(fs.cwd()));
            let at = path.clone().or_else(cwd_path);
            if !self
                .authorizer()
                .has_perm(&self.username, perm, at.as_deref())
            {
                return Err((reply::ACTION_NOT_TAKEN, "Not enough privileges.".into()));
            }
        }
        Ok(path)
    }

    /// Run the command; a logged-in user's command runs as that user
    /// (pyftpdlib wraps the file-system calls; a no-op for virtual users).
    fn run_as_user(&mut self, spec: &CommandSpec, arg: &str, path: Option<PathBuf>) {
        let guard = if self.authenticated {
            let buffer = std::mem::take(&mut self.impersonated);
            let auth = crate::handlers::ftp::sites::SiteAuthorizer::new(&self.cfg, self.site);
            // Once per login: whether commands change the thread's ids
            // (then the worker pool, without them, must not run its calls).
            let before = self.own_identity.is_none().then(crate::sys::effective_ids);
            match Impersonation::begin(auth, &self.username, &self.password, buffer) {
                Ok(guard) => {
                    if let Some(before) = before {
                        let after = crate::sys::effective_ids();
                        let same = matches!((before, after), (Ok(b), Ok(a)) if a == b);
                        self.own_identity = Some(same);
                    }
                    Some(guard)
                }
                Err((e, buffer)) => {
                    self.impersonated = buffer;
                    log::error!(target: crate::log::LOGERROR, "{} impersonation failed: {e}", self.prefix);
                    return self.reply(
                        reply::ACTION_NOT_TAKEN,
                        "Can't switch to the user's identity.",
                    );
                }
            }
        } else {
            None
        };
        match &spec.run {
            Run::Builtin(run) => run(self, arg, path),
            Run::Custom(run) => run(&mut CommandContext {
                session: self,
                name: &spec.name,
                arg,
                path,
            }),
        }
        let Some((outcome, buffer)) = guard.map(Impersonation::end) else {
            return;
        };
        self.impersonated = buffer;
        if let Err(e) = outcome {
            log::error!(target: crate::log::LOGERROR, "{} terminate_impersonation failed: {e}", self.prefix);
            self.reply(
                reply::NOT_AVAILABLE,
                "Internal error: cannot restore server identity.",
            );
            self.effects.push(Effect::Close);
        }
    }

    /// Translate the argument of a path-taking command into a real path and
    /// check that it stays inside the user's home (step 7).
    fn resolve_path(
        &self,
        spec: &CommandSpec,
        arg: &str,
    ) -> Result<Option<PathBuf>, (Code, String)> {
        let Some(fs) = self.fs.as_deref() else {
            return Ok(None);
        };
        let virt: &str = match spec.path {
            PathRule::None => return Ok(None),
            PathRule::Arg => arg,
            PathRule::ArgOrRoot => {
                if arg.is_empty() {
                    "/"
                } else {
                    arg
                }
            }
            PathRule::Parent => "..",
            PathRule::ArgOrCwd => listing_target(arg),
            PathRule::SecondWord => match arg.split_once(' ') {
                Some((_, rest)) if !rest.is_empty() => rest,
                _ => {
                    return Err((
                        reply::BAD_ARGUMENT,
                        "Syntax error: command needs two arguments.".into(),
                    ))
                }
            },
        };
        self.check_path(fs, virt).map(Some)
    }

    /// Map a virtual path to a real one inside the user's home.
    fn check_path(&self, fs: &dyn Filesystem, virt: &str) -> Result<PathBuf, (Code, String)> {
        if virt.contains('\0') {
            return Err((reply::BAD_ARGUMENT, "Path contains a NUL byte.".into()));
        }
        if virt.contains(['\r', '\n']) {
            return Err((reply::BAD_ARGUMENT, "Path contains a line break.".into()));
        }
        if virt.len() > 4096 {
            return Err((reply::BAD_ARGUMENT, "Path too long.".into()));
        }
        let real = fs.ftp2fs(virt);
        if !fs.validpath(&real) {
            let shown = fs.ftpnorm(virt);
            return Err((
                reply::ACTION_NOT_TAKEN,
                format!(
                    "'{}' points to a path which is outside the user's root directory.",
                    printable(&shown)
                ),
            ));
        }
        Ok(real)
    }

    /// Map `virt` to a confined real path and check `perm` there, replying
    /// the error when either check fails (for commands that resolve their
    /// path themselves: STAT, STOU).
    pub fn checked_path(&mut self, virt: &str, perm: crate::authorizers::Perm) -> Option<PathBuf> {
        let fs = self.fs.as_deref()?;
        match self.check_path(fs, virt) {
            Ok(real) => {
                if self
                    .authorizer()
                    .has_perm(&self.username, perm, Some(&real))
                {
                    Some(real)
                } else {
                    self.reply(reply::ACTION_NOT_TAKEN, "Not enough privileges.");
                    None
                }
            }
            Err((code, text)) => {
                self.reply(code, &text);
                None
            }
        }
    }

    /// Append a reply and log it on the command-line stream.
    pub fn reply(&mut self, code: Code, text: &str) {
        reply::push(&mut self.out, code, text);
        self.tally.reply(code);
        self.log_sent(code, text);
    }

    /// Append a banner-style reply (split when over 75 characters).
    pub fn reply_long(&mut self, code: Code, text: &str) {
        reply::push_long(&mut self.out, code, text);
        self.tally.reply(code);
        self.log_sent(code, text);
    }

    /// Append pre-formatted reply lines (multi-line replies built by hand).
    pub fn reply_raw(&mut self, code: Code, lines: &str) {
        self.out.extend_from_slice(lines.as_bytes());
        self.tally.reply(code);
        // Log the final line's text, as pyftpdlib logs a multi-line reply.
        let last = lines.trim_end().rsplit("\r\n").next().unwrap_or("");
        self.log_sent(code, last.get(4..).unwrap_or(last));
    }

    /// Log a user-facing session message.
    pub fn log(&self, msg: &str) {
        log::info!(target: LOG, "{} {}", self.prefix, msg);
    }

    fn log_received(&self, cmd: &str, line: &str) {
        if log::log_enabled!(target: LOGLINE, log::Level::Debug) {
            if cmd == "PASS" {
                log::debug!(target: LOGLINE, "{} <- PASS ******", self.prefix);
            } else {
                log::debug!(target: LOGLINE, "{} <- {}", self.prefix, printable(line));
            }
        }
    }

    fn log_sent(&self, code: Code, text: &str) {
        if log::log_enabled!(target: LOGLINE, log::Level::Debug) {
            log::debug!(target: LOGLINE, "{} -> {} {}", self.prefix, code, text);
        }
    }

    /// Log a command of `log_cmds_list` with its outcome (pyftpdlib
    /// `log_cmd`): `CMD arg code` plus the quoted text on errors.
    pub fn log_cmd(&self, cmd: &str, arg: &str, code: Code, text: &str) {
        log_cmd_line(&self.cfg, &self.prefix, cmd, arg, code, text);
    }

    /// The user's file system; `None` (with a 530 sent) before login.
    pub fn fs_or_reply(&mut self) -> Option<&mut Box<dyn Filesystem>> {
        if self.fs.is_none() {
            self.reply(reply::NOT_LOGGED_IN, "Log in with USER and PASS first.");
        }
        self.fs.as_mut()
    }

    /// What the session counted for the metrics since last asked.
    pub fn tally(&mut self) -> &mut crate::handlers::ftp::metrics::Tally {
        &mut self.tally
    }

    /// What hooks see of this session.
    pub fn info(&self) -> SessionInfo<'_> {
        SessionInfo {
            remote: self.remote,
            local: self.local,
            username: &self.username,
            authenticated: self.authenticated,
            actions: None,
        }
    }

    /// Call a hook of the handler, containing its panics, then carry out
    /// the replies and the close it asked for.
    pub fn hook(&mut self, name: &str, f: impl FnOnce(&dyn Hooks, &SessionInfo<'_>)) {
        let actions = std::cell::RefCell::new(Vec::new());
        let mut info = self.info();
        info.actions = Some(&actions);
        crate::handlers::ftp::hooks::call(name, &self.prefix, || f(&*self.cfg.hooks, &info));
        for action in actions.into_inner() {
            match action {
                HookAction::Reply(code, text) => self.reply(code, &text),
                HookAction::Close => self.effects.push(Effect::Close),
            }
        }
    }

    /// pyftpdlib's `pre_process_command` hook; true when the command may run.
    fn pre_process(&mut self, cmd: &str, arg: &str) -> bool {
        let cfg = Rc::clone(&self.cfg);
        let mut go_on = true;
        let prefix = self.prefix.clone();
        let mut ctx = CommandContext {
            session: self,
            name: cmd,
            arg,
            path: None,
        };
        crate::handlers::ftp::hooks::call("pre_process_command", &prefix, || {
            go_on = cfg.hooks.pre_process_command(&mut ctx);
        });
        go_on
    }
}

/// `word` upper-cased into `buf`; a word that does not fit (no command
/// name is that long) is cut, which keeps it unknown.
fn upper<'a>(word: &str, buf: &'a mut [u8; 48]) -> &'a str {
    let mut end = word.len().min(buf.len());
    while !word.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = &mut buf[..end];
    bytes.copy_from_slice(&word.as_bytes()[..end]);
    bytes.make_ascii_uppercase();
    std::str::from_utf8(bytes).unwrap_or("")
}

/// LIST/NLST/MLSD/STAT path argument: `ls` flags mean the cwd.
pub(crate) fn listing_target(arg: &str) -> &str {
    let trimmed = arg.trim();
    if trimmed.is_empty() {
        return "";
    }
    if let Some(rest) = trimmed.strip_prefix('-') {
        // "-a", "-l", "-la", "-al" and friends, optionally followed by a path.
        let (flags, path) = match rest.split_once(' ') {
            Some((f, p)) => (f, p.trim_start()),
            None => (rest, ""),
        };
        if !flags.is_empty() && flags.chars().all(|c| "alFRtrhn1".contains(c)) {
            return path;
        }
    }
    arg
}

/// pyftpdlib's Telnet fallback: a line ending in ABOR/STAT/QUIT after
/// garbage (IAC IP, Synch) is that command.
fn telnet_fallback<'a>(cfg: &'a FtpHandler, cmd: &str) -> Option<&'a CommandSpec> {
    let tail = cmd.get(cmd.len().checked_sub(4)?..)?;
    match tail {
        "ABOR" | "STAT" | "QUIT" => cfg.commands.lookup(tail),
        _ => None,
    }
}

/// `text` with control characters escaped, for replies and logs.
pub(crate) fn printable(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    crate::log::push_escaped(&mut s, text);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_are_upper_cased_without_allocating() {
        let mut buf = [0u8; 48];
        assert_eq!(upper("retr", &mut buf), "RETR");
        assert_eq!(upper("Site chmod", &mut buf), "SITE CHMOD");
        let long = "x".repeat(100);
        assert_eq!(upper(&long, &mut buf).len(), 48);
        assert_eq!(upper("é", &mut buf), "é");
    }

    #[test]
    fn ls_flags_mean_the_current_directory() {
        assert_eq!(listing_target("-la"), "");
        assert_eq!(listing_target("-l sub"), "sub");
        assert_eq!(listing_target("sub"), "sub");
        assert_eq!(listing_target("-weird"), "-weird");
    }

    #[test]
    fn telnet_garbage_before_abor_is_tolerated() {
        let cfg = FtpHandler::default();
        let found = telnet_fallback(&cfg, "\u{fffd}\u{fffd}ABOR").map(|s| s.name.as_str());
        assert_eq!(found, Some("ABOR"));
        assert!(telnet_fallback(&cfg, "XYZ").is_none());
        assert!(telnet_fallback(&cfg, "FOOBAR").is_none());
    }
}
