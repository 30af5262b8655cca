//! # ftpdlib
//!
//! pyftpdlib's FTP server design, rebuilt in Rust: the same building blocks
//! under the same names, served by one single-threaded event loop.
//!
//! | pyftpdlib | ftpdlib |
//! |---|---|
//! | `FTPServer` | [`FtpServer`] |
//! | `FTPHandler` (class attributes) | [`FtpHandler`] |
//! | `DTPHandler`, `ThrottledDTPHandler` | [`DtpHandler`] |
//! | `PassiveDTP`, `ActiveDTP` | [`PassiveDtp`], [`ActiveDtp`] |
//! | `DummyAuthorizer` | [`DummyAuthorizer`] (trait [`Authorizer`]) |
//! | `AbstractedFS` | [`AbstractedFs`] (trait [`Filesystem`]) |
//! | `IOLoop`, `CallLater`, `CallEvery` | [`IoLoop`], [`CallLater`], [`CallEvery`] |
//! | `log`, `logline`, `logerror` | the [`log`](mod@log) targets |
//! | `server.handler.x = ...`, `authorizer.add_user(...)` while serving | [`FtpServer::handler_mut`], [`ServerHandle`], a clone of the [`DummyAuthorizer`] (`docs/live-configuration.md`) |
//!
//! ## Design
//!
//! ```text
//!  ioloop::IoLoop<D: Dispatch>  (one thread; knows no FTP)
//!    mio::Poll --events--> Slab<D> <--timers-- Scheduler (CallLater, CallEvery)
//!        |                   notices between dispatchers, addressed by Link
//!        v
//!  handlers::ftp::dispatch::Dispatcher  (the closed set an FtpServer serves)
//!    Acceptor ........ FtpServer's listener: max_cons, max_cons_per_ip
//!    ControlChannel .. FtpHandler's socket half --lines--> Session (sans-IO)
//!    PassiveListener . PassiveDtp settings    <--replies, effects--'  |
//!    ActiveConnector . ActiveDtp settings                              | uses
//!    DataChannel ..... DtpHandler settings: sendfile, splice, ASCII    v
//!                                          Authorizer (DummyAuthorizer,
//!                                          UnixAuthorizer), Filesystem
//!                                          (AbstractedFs, UnixFilesystem)
//!    HeaderReader .... a PROXY header, read before the greeting or a
//!                      data connection (proxy_protocol, proxy_data)
//!    PoolListener .... a passive port shared by client addresses (passive_pool)
//!    MetricsEndpoint . bind_metrics: GET /metrics, GET /health (HTTP)
//! ```
//!
//! The loop ([`ioloop`]) is generic: it polls, keeps dispatchers in a slab,
//! runs the scheduler and delivers notices, and knows nothing of FTP; the
//! FTP server's closed set of dispatchers is one enum in the FTP handlers.
//! Every socket is a dispatcher in that slab, keyed by its mio token. mio is
//! edge-triggered, so each dispatcher remembers its readiness and works
//! until an operation would block. The protocol interpreter (`Session`)
//! never touches a socket: it turns a command line into replies and effects
//! that the control channel carries out. Control and data channels talk
//! through notices delivered by the loop, so no state is shared and nothing
//! needs a lock. The public settings keep pyftpdlib's names ([`FtpHandler`],
//! [`DtpHandler`], [`PassiveDtp`], [`ActiveDtp`]); the per-connection
//! objects they configure are private.
//!
//! Below the path checks, [`FtpServer::hardening`] (module [`hardening`];
//! no pyftpdlib counterpart) drops privileges, sets `no_new_privs` and
//! confines the process with Landlock once the sockets are bound.
//!
//! To use more cores, [`FtpServer::worker_processes`] forks that many
//! copies of the loop after binding, each with its own `SO_REUSEPORT`
//! listener ([`WorkerListeners`]); the parent only supervises. The loop's
//! counters (sessions, logins, commands, replies, transfers, bytes) are
//! served in the Prometheus text format by [`FtpServer::bind_metrics`],
//! from the same loop.
#![deny(missing_docs)]

pub mod authorizers;
pub mod error;
pub mod filesystems;
pub mod handlers;
pub mod hardening;
pub mod ioloop;
pub mod log;
mod prefork;
pub mod proxy_protocol;
pub mod reply;
pub mod servers;
#[cfg(test)]
mod source_scan;
pub mod subclass;
mod sys;

pub use authorizers::{
    Authorizer, CertUserField, ClientCertificate, DummyAuthorizer, Perm, Perms, SlowCheck,
    UserRecord, Validation,
};
pub use error::{AuthenticationFailed, AuthorizerError, Error, FilesystemError};
pub use filesystems::{
    AbstractedFs, DirNames, FileHandle, Filesystem, MemoryFile, OffLoopTask, OpenMode, Stat,
};
pub use handlers::ftp::{
    ActiveDtp, ArgRule, Command, CommandContext, DtpHandler, FtpHandler, Hooks, NoHooks,
    PassiveDtp, PathRule, PortSet, PortSetError, SessionInfo, VirtualHost,
};
pub use handlers::ftp::{UploadMode, UserLimits};
#[cfg(feature = "tls")]
pub use handlers::ftps::{ClientAuth, TlsFtpHandler};
pub use ioloop::{CallEvery, CallLater, StopHandle};

/// The FTP server's event loop (pyftpdlib `IOLoop`): the generic
/// [`ioloop::IoLoop`] serving the FTP dispatchers. Reached through
/// [`FtpServer::ioloop`] to schedule delayed calls.
#[doc(alias = "IOLoop")]
// The set of FTP dispatchers is sealed: users schedule calls on the loop,
// they never dispatch FTP sockets themselves.
#[allow(private_interfaces)]
pub type IoLoop = ioloop::IoLoop<handlers::ftp::dispatch::Dispatcher>;
pub use hardening::{Access, Confinement, Hardening, LandlockMode, LandlockRule, RunAs};
pub use prefork::WorkerListeners;
pub use servers::{BindAddress, FtpServer, ListenerRole, ServerHandle};
pub use subclass::{AuthorizerOverrides, FilesystemOverrides, Subclass};
pub use {
    authorizers::{hash_password, UnixAuthorizer, UnixAuthorizerOptions},
    filesystems::UnixFilesystem,
};

/// The crate version, as pyftpdlib's `__ver__`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Entry points for the fuzz targets in `fuzz/`: the parsers and the
/// session interpreter, reachable without sockets. Not part of the API.
#[doc(hidden)]
pub mod fuzzing {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::rc::Rc;

    pub use crate::handlers::ftp::session::cmd_data::{parse_eprt, parse_port, parse_rest};

    /// Feed `input` to a logged-in-capable session (user `user` / `12345`,
    /// all permissions, home `home`) as command lines; returns the reply
    /// bytes. Effects on sockets are dropped.
    pub fn interpret(input: &[u8], home: &Path) -> Vec<u8> {
        let mut auth = crate::DummyAuthorizer::new();
        if auth
            .add_user_with_perm("user", "12345", home, "elradfmwMT")
            .is_err()
        {
            return Vec::new();
        }
        let mut handler = crate::FtpHandler::new(auth);
        handler.auth_failed_timeout = std::time::Duration::ZERO;
        let peer: SocketAddr = ([127, 0, 0, 1], 40000).into();
        let local: SocketAddr = ([127, 0, 0, 1], 21).into();
        let mut s = crate::handlers::ftp::session::Session::new(Rc::new(handler), peer, local);
        for line in input.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            s.handle_line(line);
            s.take_effects();
        }
        s.output().to_vec()
    }

    /// Normalise and confine a virtual path the way every command does;
    /// returns the real path if it stays inside `home`.
    pub fn confine(home: &Path, cwd: &str, virt: &str) -> Option<std::path::PathBuf> {
        use crate::Filesystem;
        let mut fs = crate::AbstractedFs::new(home.to_path_buf());
        let dir = fs.ftp2fs(cwd);
        let _ = fs.chdir(&dir);
        let real = fs.ftp2fs(virt);
        fs.validpath(&real).then_some(real)
    }
}
