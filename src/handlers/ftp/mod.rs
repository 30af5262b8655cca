//! The FTP protocol handlers (pyftpdlib `handlers/ftp/`).
//!
//! pyftpdlib configures a server through class attributes of `FTPHandler`,
//! `DTPHandler`, `PassiveDTP` and `ActiveDTP`. ftpdlib keeps the names: the
//! structs of this module are those settings, built once and shared by every
//! session of a server. The per-connection objects (the control channel and
//! its `Session` interpreter, the data channels) are private and
//! built by the server for each client.
//!
//! Rooms of this module:
//! - `session`: the sans-IO protocol interpreter (lines in, replies and
//!   effects out), its command table and the commands, grouped by concern;
//! - `control`: the control-channel dispatcher (socket, buffers, timers);
//! - `dispatchers`: the passive listener and the active connector
//!   (pyftpdlib `PassiveDTP`, `ActiveDTP`);
//! - `dtp`: the data channel (pyftpdlib `DTPHandler`) and the server-wide
//!   bandwidth buckets;
//! - `dispatch`: the closed set of dispatchers, notices and timers that the
//!   generic loop serves (the composition root);
//! - `producers`: what a data channel sends or receives.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::authorizers::{Authorizer, DummyAuthorizer};
use crate::filesystems::{AbstractedFs, Filesystem};
pub use accounts::UserLimits;
pub use hooks::{Hooks, NoHooks, SessionInfo};
pub use ports::{PortSet, PortSetError};
use session::commands::CommandTable;
pub use session::commands::{ArgRule, Command, CommandContext, Handler, PathRule};
pub use sites::VirtualHost;
pub use uploads::UploadMode;

pub(crate) mod accounts;
pub(crate) mod bans;
pub(crate) mod checksum;
pub(crate) mod conn;
pub(crate) mod control;
pub(crate) mod dispatch;
pub(crate) mod dispatchers;
pub(crate) mod dtp;
pub mod hooks;
pub(crate) mod live;
mod login_gate;
pub(crate) mod metrics;
pub(crate) mod metrics_http;
pub(crate) mod pool;
mod ports;
pub(crate) mod producers;
pub(crate) mod proxied;
pub(crate) mod session;
pub(crate) mod sites;
pub(crate) mod uploads;

/// Builds a user's file system at login from the home directory and the
/// session logging in (its user name, addresses) (pyftpdlib's
/// `abstracted_fs` class attribute, called as `(root, cmd_channel)`).
///
/// ```
/// use ftpdlib::{AbstractedFs, FtpHandler};
/// let mut handler = FtpHandler::default();
/// handler.abstracted_fs = Box::new(|home, session| {
///     log::info!("{} gets {}", session.username, home.display());
///     Box::new(AbstractedFs::new(home))
/// });
/// ```
pub type FsFactory = Box<dyn Fn(PathBuf, &SessionInfo<'_>) -> Box<dyn Filesystem>>;

/// The control-channel settings shared by every session (pyftpdlib
/// `FTPHandler` class attributes).
///
/// ```no_run
/// use ftpdlib::{DummyAuthorizer, FtpHandler};
/// let mut auth = DummyAuthorizer::new();
/// auth.add_anonymous(".").unwrap();
/// let mut handler = FtpHandler::new(auth);
/// handler.banner = "welcome".into();
/// handler.passive_ports = Some((60000..=60100).into());
/// ```
#[doc(alias = "FTPHandler")]
pub struct FtpHandler {
    /// Authentication and permissions backend (pyftpdlib `authorizer`).
    pub authorizer: Box<dyn Authorizer>,
    /// Builds a session's file system at login (pyftpdlib `abstracted_fs`).
    pub abstracted_fs: FsFactory,
    /// Data-channel settings (pyftpdlib `dtp_handler`).
    pub dtp_handler: DtpHandler,
    /// Passive listener settings (pyftpdlib `passive_dtp`).
    pub passive_dtp: PassiveDtp,
    /// Active connector settings (pyftpdlib `active_dtp`).
    pub active_dtp: ActiveDtp,
    /// Idle time allowed between two commands; zero disables it. Suspended
    /// while a transfer runs (pyftpdlib `timeout`, 300 s).
    pub timeout: Duration,
    /// Text of the 220 greeting (pyftpdlib `banner`).
    pub banner: String,
    /// Failed PASS attempts before the client is disconnected
    /// (pyftpdlib `max_login_attempts`, 3).
    pub max_login_attempts: u32,
    /// Allow data connections to/from an address other than the control
    /// peer's, i.e. FXP (pyftpdlib `permit_foreign_addresses`, false).
    pub permit_foreign_addresses: bool,
    /// Allow PORT/EPRT to ports below 1024 (pyftpdlib
    /// `permit_privileged_ports`, false).
    pub permit_privileged_ports: bool,
    /// Address announced in 227 replies, for servers behind NAT
    /// (pyftpdlib `masquerade_address`).
    pub masquerade_address: Option<IpAddr>,
    /// Local address → announced address; wins over `masquerade_address`
    /// (pyftpdlib `masquerade_address_map`).
    pub masquerade_address_map: HashMap<IpAddr, IpAddr>,
    /// Ports for PASV/EPSV listeners, any set of them (a range, a list,
    /// see [`PortSet`]); `None` lets the kernel choose (pyftpdlib
    /// `passive_ports`). A listener tries every port of the set from a
    /// random one on, then falls back to a kernel-chosen port with a
    /// warning, as pyftpdlib.
    pub passive_ports: Option<PortSet>,
    /// Show times in UTC (true) or local time in LIST, MLSx and MDTM
    /// (pyftpdlib `use_gmt_times`).
    pub use_gmt_times: bool,
    /// Send binary RETR data with `sendfile(2)` (pyftpdlib `use_sendfile`).
    pub use_sendfile: bool,
    /// Disable Nagle's algorithm on the control socket (pyftpdlib
    /// `tcp_no_delay`).
    pub tcp_no_delay: bool,
    /// Wire encoding of commands, replies and listings (pyftpdlib
    /// `encoding`). Only UTF-8 is supported: `"utf8"` / `"utf-8"`.
    pub encoding: String,
    /// Delay before a failed login is answered; the client's input is not
    /// read meanwhile (pyftpdlib `auth_failed_timeout`, 3 s).
    pub auth_failed_timeout: Duration,
    /// Threads that check slow logins off the loop (crypt(3) hashes of
    /// [`DummyAuthorizer`] and [`UnixAuthorizer`](crate::UnixAuthorizer),
    /// whatever a custom authorizer's
    /// [`begin_validation`](Authorizer::begin_validation) hands over), so
    /// that one login never stalls the other clients. Started on the first
    /// such login; 0 = check in the loop, as pyftpdlib does. Default: the
    /// number of cores, at most 4. The same threads free big files (DELE,
    /// RNTO and STOR over a file of 1 MiB or more, see
    /// [`Filesystem::remove_off_loop`]).
    /// Not in pyftpdlib.
    pub auth_workers: usize,
    /// Slow login checks handed to the worker pool at once; checks beyond
    /// it wait their turn (the session reads no input meanwhile, so each
    /// session waits with at most one). 0 = no limit. Default 64.
    pub auth_max_in_flight: usize,
    /// The same per client address, so that one address (a brute-force
    /// client with many connections) cannot take the whole pool while
    /// others wait. 0 = no limit. Default 4.
    pub auth_max_in_flight_per_ip: usize,
    /// Prefix of session log lines; `%(remote_ip)s`, `%(remote_port)s` and
    /// `%(username)s` are replaced (pyftpdlib `log_prefix`).
    pub log_prefix: String,
    /// Commands whose outcome is logged at INFO on the command-line stream
    /// as `CMD arg code` (pyftpdlib `log_cmds_list`).
    pub log_cmds_list: Vec<String>,
    /// Event callbacks (pyftpdlib's `on_*` methods), [`NoHooks`] by default.
    pub hooks: Box<dyn Hooks>,
    /// Failed logins from one client address within
    /// [`ban_window`](Self::ban_window) that ban the address for
    /// [`ban_time`](Self::ban_time): its new connections are answered
    /// `421` at once, and so is a PASS on a connection already open.
    /// 0 = no bans (the default, as pyftpdlib; the `ftpdlib` command turns
    /// them on). Counted across sessions, unlike
    /// [`max_login_attempts`](Self::max_login_attempts). See `docs/bans.md`.
    /// ftpdlib extension.
    pub ban_attempts: u32,
    /// Failed logins as one user name, from any address, within
    /// `ban_window` that ban the name for `ban_time`: its PASS is answered
    /// `530` without asking the authorizer. 0 = off (the default: anyone
    /// could lock a real user out this way). ftpdlib extension.
    pub ban_user_attempts: u32,
    /// The window failed logins are counted in (default 300 s).
    pub ban_window: Duration,
    /// How long a ban lasts (default 900 s).
    pub ban_time: Duration,
    /// Addresses (and, separately, user names) the ban table follows at
    /// most; past it the entry seen longest ago is forgotten (default
    /// 10000).
    pub ban_table_size: usize,
    /// Append one line per finished or aborted transfer to this file, in the
    /// xferlog format of wu-ftpd / vsftpd / ProFTPD that log analysers read.
    /// Open it with [`set_xferlog`](Self::set_xferlog).
    pub xferlog: Option<std::fs::File>,
    /// FTPS settings (pyftpdlib `TLS_FTPHandler`); set with
    /// [`enable_tls`](Self::enable_tls).
    #[cfg(feature = "tls")]
    pub tls: Option<crate::handlers::ftps::TlsFtpHandler>,
    /// Read a PROXY protocol header (v1 or v2) before the greeting on
    /// control connections from [`trusted_proxies`](Self::trusted_proxies):
    /// its source address is then the session's address everywhere (limits,
    /// log prefix, hooks, xferlog, data-connection checks). Off by default.
    /// ftpdlib extension; see `docs/cluster.md`.
    pub proxy_protocol: crate::proxy_protocol::ProxyProtocol,
    /// The proxies whose PROXY headers are believed. Headers from other
    /// peers are never read: in required mode their connections are closed,
    /// in optional mode their bytes are FTP input. ftpdlib extension.
    pub trusted_proxies: Vec<crate::proxy_protocol::Cidr>,
    /// Data connections from trusted proxies carry a PROXY header too, and
    /// its source must be the session's client (HAProxy `send-proxy` on the
    /// passive port servers). Without it, a proxied session's data
    /// connections are accepted from any trusted proxy. ftpdlib extension.
    pub proxy_data: bool,
    /// Time a trusted peer has to send its whole PROXY header (10 s);
    /// zero disables the limit. ftpdlib extension.
    pub proxy_header_timeout: Duration,
    /// Share each port of [`passive_ports`](Self::passive_ports) between
    /// sessions: a passive connection goes to the session that asked for it
    /// by the client's address, so a narrow range serves more clients than
    /// it has ports (each address may wait on each port once; 425 when all
    /// of the range waits for that address). Needs `passive_ports`; a data
    /// connection from an address other than the session's (FXP with
    /// `permit_foreign_addresses`) finds no session to join.
    /// ftpdlib extension (libunftp's pooled mode).
    pub passive_pool: bool,
    /// Virtual hosts reached by `HOST` (ftpdlib extension); add them with
    /// [`add_site`](Self::add_site).
    pub(crate) sites: Vec<(String, VirtualHost)>,
    /// The command table (pyftpdlib `proto_cmds`); change it with
    /// [`add_command`](Self::add_command) / [`remove_command`](Self::remove_command).
    pub(crate) commands: CommandTable,
    /// How uploads are written: in place, or under a temporary name renamed
    /// when complete ([`UploadMode`]; ftpdlib extension, `--upload-mode`).
    pub upload_mode: UploadMode,
    /// Per-user bandwidth buckets and quota usage, shared by a user's
    /// sessions (see [`Authorizer::user_limits`]).
    pub(crate) accounts: std::rc::Rc<accounts::Accounts>,
    /// Generations and the ban table (`live.rs`).
    pub(crate) live: live::Live,
}

impl FtpHandler {
    /// Settings with pyftpdlib's defaults around `authorizer`.
    pub fn new(authorizer: impl Authorizer + 'static) -> FtpHandler {
        FtpHandler {
            authorizer: Box::new(authorizer),
            abstracted_fs: Box::new(|root, _| Box::new(AbstractedFs::new(root))),
            dtp_handler: DtpHandler::default(),
            passive_dtp: PassiveDtp::default(),
            active_dtp: ActiveDtp::default(),
            timeout: Duration::from_secs(300),
            banner: format!("ftpdlib {} ready.", crate::VERSION),
            max_login_attempts: 3,
            permit_foreign_addresses: false,
            permit_privileged_ports: false,
            masquerade_address: None,
            masquerade_address_map: HashMap::new(),
            passive_ports: None,
            use_gmt_times: true,
            use_sendfile: true,
            tcp_no_delay: true,
            encoding: "utf8".to_string(),
            auth_failed_timeout: Duration::from_secs(3),
            auth_workers: std::thread::available_parallelism().map_or(1, |n| n.get().min(4)),
            auth_max_in_flight: 64,
            auth_max_in_flight_per_ip: 4,
            log_prefix: "%(remote_ip)s:%(remote_port)s-[%(username)s]".to_string(),
            log_cmds_list: [
                "DELE",
                "RNFR",
                "RNTO",
                "MKD",
                "RMD",
                "CWD",
                "XMKD",
                "XRMD",
                "XCWD",
                "REIN",
                "SITE CHMOD",
                "MFMT",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            hooks: Box::new(NoHooks),
            ban_attempts: 0,
            ban_user_attempts: 0,
            ban_window: Duration::from_secs(300),
            ban_time: Duration::from_secs(900),
            ban_table_size: 10_000,
            #[cfg(feature = "tls")]
            tls: None,
            xferlog: None,
            proxy_protocol: crate::proxy_protocol::ProxyProtocol::Off,
            trusted_proxies: Vec::new(),
            proxy_data: false,
            proxy_header_timeout: Duration::from_secs(10),
            passive_pool: false,
            sites: Vec::new(),
            commands: CommandTable::builtin(),
            upload_mode: UploadMode::Normal,
            accounts: std::rc::Rc::default(),
            live: live::Live::default(),
        }
    }

    /// Whether `ip` is one of [`trusted_proxies`](Self::trusted_proxies).
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        crate::proxy_protocol::is_trusted(&self.trusted_proxies, ip)
    }

    /// Open (append, create) the xferlog file.
    pub fn set_xferlog(&mut self, path: impl AsRef<std::path::Path>) -> std::io::Result<()> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        self.xferlog = Some(file);
        Ok(())
    }

    /// Turn this handler into pyftpdlib's `TLS_FTPHandler`: AUTH, PBSZ and
    /// PROT join the command table (and FEAT), data connections use TLS
    /// after PROT P.
    #[cfg(feature = "tls")]
    pub fn enable_tls(&mut self, tls: crate::handlers::ftps::TlsFtpHandler) {
        for row in crate::handlers::ftps::commands::rows() {
            self.commands.insert(row);
        }
        self.tls = Some(tls);
        self.refresh_site_certificates();
    }

    /// Add a command, or replace the built-in of the same name, in this
    /// handler's table (pyftpdlib: extend `proto_cmds` and define
    /// `ftp_<CMD>` in a subclass). It appears in HELP (or SITE HELP) and,
    /// with [`Command::feat`], in FEAT.
    pub fn add_command(&mut self, command: Command) {
        self.commands.insert(command);
    }

    /// Remove a command from the table; true if it was there. A removed
    /// command answers 500 like any unknown one.
    pub fn remove_command(&mut self, name: &str) -> bool {
        self.commands.remove(&name.to_ascii_uppercase())
    }

    /// The names of the commands in the table, sorted (pyftpdlib
    /// `proto_cmds.keys()`).
    pub fn proto_cmds(&self) -> Vec<&str> {
        self.commands.iter().map(|c| c.name.as_str()).collect()
    }
}

impl Default for FtpHandler {
    /// An [`FtpHandler`] around an empty [`DummyAuthorizer`].
    fn default() -> Self {
        FtpHandler::new(DummyAuthorizer::new())
    }
}

/// Data-channel settings (pyftpdlib `DTPHandler` and
/// `ThrottledDTPHandler` class attributes).
#[doc(alias = "DTPHandler")]
#[doc(alias = "ThrottledDTPHandler")]
#[derive(Debug, Clone)]
pub struct DtpHandler {
    /// A transfer that moves no byte for this long is aborted; zero disables
    /// it (pyftpdlib `timeout`, 300 s).
    pub timeout: Duration,
    /// Bytes read from the socket per call on uploads
    /// (pyftpdlib `ac_in_buffer_size`, 65536).
    pub ac_in_buffer_size: usize,
    /// Bytes sent per call on downloads, and the sendfile chunk
    /// (pyftpdlib `ac_out_buffer_size`, 65536).
    pub ac_out_buffer_size: usize,
    /// Upload limit in bytes per second per data channel, 0 = unlimited
    /// (pyftpdlib `ThrottledDTPHandler.read_limit`).
    pub read_limit: u64,
    /// Download limit in bytes per second per data channel, 0 = unlimited
    /// (pyftpdlib `ThrottledDTPHandler.write_limit`).
    pub write_limit: u64,
}

impl Default for DtpHandler {
    fn default() -> Self {
        DtpHandler {
            timeout: Duration::from_secs(300),
            ac_in_buffer_size: 65536,
            ac_out_buffer_size: 65536,
            read_limit: 0,
            write_limit: 0,
        }
    }
}

/// Passive listener settings (pyftpdlib `PassiveDTP`).
#[doc(alias = "PassiveDTP")]
#[derive(Debug, Clone)]
pub struct PassiveDtp {
    /// Time the client has to connect (pyftpdlib `timeout`, 30 s).
    pub timeout: Duration,
    /// listen() backlog of the passive socket (pyftpdlib `backlog`, which
    /// defaults to the server's backlog, 100).
    pub backlog: i32,
}

impl Default for PassiveDtp {
    fn default() -> Self {
        PassiveDtp {
            timeout: Duration::from_secs(30),
            backlog: 100,
        }
    }
}

/// Active connector settings (pyftpdlib `ActiveDTP`).
#[doc(alias = "ActiveDTP")]
#[derive(Debug, Clone)]
pub struct ActiveDtp {
    /// Time allowed for the outgoing connect (pyftpdlib `timeout`, 30 s).
    pub timeout: Duration,
}

impl Default for ActiveDtp {
    fn default() -> Self {
        ActiveDtp {
            timeout: Duration::from_secs(30),
        }
    }
}
