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
//!
//! ## Design
//!
//! ```text
//!            +---------------- IoLoop (one thread) ----------------+
//!            |  mio::Poll --events--> Slab<Dispatcher> <--timers--  |
//!            |                          |            Scheduler(heap)|
//!            +--------------------------|---------------------------+
//!       Acceptor (FtpServer)   ControlChannel ---- Session (sans-IO)
//!                                   |   notices        | uses
//!                     PassiveListener / ActiveConnector  Authorizer, Filesystem
//!                                   |
//!                              DataChannel (sendfile, buffered, ASCII)
//! ```
//!
//! Every socket is a dispatcher in one slab, keyed by its mio token. mio is
//! edge-triggered, so each dispatcher remembers its readiness and works
//! until an operation would block. The protocol interpreter (`Session`)
//! never touches a socket: it turns a command line into replies and effects
//! that the control channel carries out. Control and data channels talk
//! through notices delivered by the loop, so no state is shared and nothing
//! needs a lock.
#![deny(missing_docs)]

pub mod authorizers;
pub mod error;
pub mod filesystems;
pub mod handlers;
pub mod ioloop;
pub mod log;
pub mod reply;
pub mod servers;
mod sys;

pub use authorizers::{Authorizer, DummyAuthorizer, Perm, Perms};
pub use error::{AuthenticationFailed, AuthorizerError, Error, FilesystemError};
pub use filesystems::{AbstractedFs, FileHandle, Filesystem, OpenMode, Stat};
pub use handlers::ftp::{ActiveDtp, DtpHandler, FtpHandler, PassiveDtp};
pub use ioloop::{CallEvery, CallLater, IoLoop, StopHandle};
pub use servers::{BindAddress, FtpServer};

/// The crate version, as pyftpdlib's `__ver__`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
