//! The FTP server's dispatchers as one closed set: the composition root
//! that plugs the FTP handlers into the generic [`IoLoop`](crate::ioloop).
//!
//! The loop knows nothing of FTP; this module names what an FTP server's
//! loop serves (its listeners, control channels, passive listeners, active
//! connects and data channels), the notices they send each other and the
//! timers they arm, and routes each call of [`Dispatch`] to the right kind.
//!
//! Who talks to whom:
//! - the acceptor opens control channels; a closing control channel sends
//!   it [`Notice::ControlClosed`];
//! - a control channel opens a passive listener or an active connect; when
//!   the data connection is up that one becomes a data channel and sends
//!   the control channel [`Notice::DataConnected`] (or a
//!   [`Notice::DataReply`] on failure);
//! - the control channel sends the data channel its [`Notice::Start`]; the
//!   data channel answers [`Notice::TransferDone`];
//! - ABOR, a new PASV/PORT and the end of a session remove the data side at
//!   once through [`Core::remove`](crate::ioloop::Core::remove), the loop's
//!   one synchronous path, and read its outcome.

use std::net::{IpAddr, SocketAddr};

use mio::net::TcpStream;

use super::control::ControlChannel;
use super::dispatchers::{ActiveConnector, PassiveListener, PoolListener};
use super::dtp::{Bandwidth, DataChannel};
use super::login_gate::LoginGate;
use super::metrics::Metrics;
use super::metrics_http::MetricsEndpoint;
use super::producers::{Job, Outcome};
use super::proxied::{HeaderReader, Via};
use super::session::DataSide;
use crate::error::AuthenticationFailed;
use crate::ioloop::{self, Dispatch, Link, Ready, Status};
use crate::reply::Code;
use crate::servers::Acceptor;

/// The loop core as the FTP dispatchers see it.
pub(crate) type Core = ioloop::Core<Dispatcher>;

/// Every kind of socket an FTP server's loop serves (STYLE.md rule 4).
pub(crate) enum Dispatcher {
    /// A listening FTP server (pyftpdlib `FTPServer` / `Acceptor`).
    Acceptor(Box<Acceptor>),
    /// A control connection (pyftpdlib `FTPHandler`).
    Control(Box<ControlChannel>),
    /// A PASV/EPSV listener (pyftpdlib `PassiveDTP`).
    Passive(Box<PassiveListener>),
    /// A PORT/EPRT connect in progress (pyftpdlib `ActiveDTP`).
    Active(Box<ActiveConnector>),
    /// An open data connection (pyftpdlib `DTPHandler`).
    Data(Box<DataChannel>),
    /// The metrics and health endpoint's listener or one of its
    /// exchanges (ftpdlib extension).
    Metrics(Box<MetricsEndpoint>),
    /// A connection whose PROXY header is being read (ftpdlib extension).
    Header(Box<HeaderReader>),
    /// A passive port shared by sessions of different client addresses
    /// (`FtpHandler::passive_pool`, ftpdlib extension).
    Pool(Box<PoolListener>),
}

/// A message from one FTP dispatcher to another, delivered by the loop.
pub(crate) enum Notice {
    /// To a control channel: its data connection is up at this link.
    DataConnected(Link),
    /// To a control channel: a reply about its data connection (a refused
    /// foreign peer, a failed connect, a timeout).
    DataReply {
        code: Code,
        text: String,
        /// Whether the data side is gone.
        left: DataSide,
    },
    /// To a control channel: its data connection failed before any
    /// transfer ran on it (a data TLS handshake that failed or did not
    /// resume); answered only if a transfer command awaits it.
    DataGone { reason: String },
    /// To a control channel: its transfer ended.
    TransferDone(Outcome),
    /// To a data channel: the transfer to run.
    Start(Job),
    /// To an acceptor: one of its control connections closed.
    ControlClosed(IpAddr),
    /// To an acceptor: the PROXY header of a connection is read; the
    /// stream is at the first byte after it.
    HeaderRead {
        stream: TcpStream,
        /// The client (the header's source, or the socket's peer).
        client: SocketAddr,
        /// The proxy, when the header named a client.
        via: Option<Via>,
        implicit_tls: bool,
    },
    /// To a passive listener (or a pooled port's waiting session): a data
    /// connection from `from` whose client address is `client` (its PROXY
    /// header's source, or `from`).
    DataArrived {
        stream: TcpStream,
        from: SocketAddr,
        client: IpAddr,
    },
}

/// What a task of the worker pool hands back to the dispatcher that asked.
pub(crate) enum Done {
    /// To a control channel: the slow part of its login check.
    Verified(Result<(), AuthenticationFailed>),
    /// To a control channel: its file-system call (DELE, RNTO) on the pool.
    OffLoop(std::io::Result<()>),
}

/// Loop-wide state of an FTP server's dispatchers.
#[derive(Default)]
pub(crate) struct Shared {
    /// The server-wide rate limits all data channels share.
    pub bandwidth: Bandwidth,
    /// Slow login checks in flight.
    pub logins: LoginGate,
    /// Operations counters (`--metrics`).
    pub metrics: Metrics,
    /// Metrics exchanges open.
    pub metrics_clients: usize,
    /// Shared passive ports and the sessions waiting on them.
    pub pool: super::dispatchers::PassivePool,
    /// Connections whose PROXY header is being read.
    pub proxy_headers: usize,
    /// Sessions closed while a file-system call of theirs was on the
    /// pool: what is left to do when it is back (quota, log line).
    pub off_loop_orphans: std::collections::HashMap<Link, super::session::OffLoopOrphaned>,
}

/// The protocol timers an FTP dispatcher can arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// Control channel idle timeout (`FtpHandler::timeout`).
    Idle,
    /// End of the failed-login delay (`auth_failed_timeout`).
    AuthDelay,
    /// Passive listener or active connect did not complete in time.
    DataSetup,
    /// Data channel stall check (`DtpHandler::timeout`).
    DataStall,
    /// A throttled data channel may move bytes again.
    ThrottleWake,
    /// A TLS handshake took too long.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    Handshake,
    /// A metrics exchange took too long.
    MetricsDeadline,
    /// A PROXY header took too long (or, in optional mode, its grace ran out).
    ProxyHeader,
}

impl Dispatch for Dispatcher {
    type Notice = Notice;
    type Timer = Timer;
    type Shared = Shared;
    type Done = Done;

    fn on_ready(&mut self, ready: Ready, core: &mut Core) -> Status {
        match self {
            Dispatcher::Acceptor(a) => a.on_ready(core),
            Dispatcher::Control(c) => c.on_ready(ready, core).tallied(c, core),
            Dispatcher::Passive(p) => p.on_ready(core),
            Dispatcher::Active(a) => a.on_ready(ready, core),
            Dispatcher::Data(d) => d.on_ready(ready, core),
            Dispatcher::Metrics(m) => m.on_ready(ready, core),
            Dispatcher::Header(h) => h.on_ready(ready, core),
            Dispatcher::Pool(p) => p.on_ready(core),
        }
    }

    fn on_notice(&mut self, notice: Notice, core: &mut Core) -> Status {
        match self {
            Dispatcher::Acceptor(a) => a.on_notice(notice, core),
            Dispatcher::Control(c) => c.on_notice(notice, core).tallied(c, core),
            Dispatcher::Data(d) => d.on_notice(notice, core),
            Dispatcher::Passive(p) => p.on_notice(notice, core),
            Dispatcher::Pool(p) => p.on_notice(notice, core),
            Dispatcher::Active(_) | Dispatcher::Header(_) | Dispatcher::Metrics(_) => Status::Keep,
        }
    }

    fn on_timer(&mut self, timer: Timer, core: &mut Core) -> Status {
        match self {
            Dispatcher::Acceptor(_) | Dispatcher::Pool(_) => Status::Keep,
            Dispatcher::Header(h) => h.on_timer(timer, core),
            Dispatcher::Control(c) => c.on_timer(timer, core).tallied(c, core),
            Dispatcher::Passive(p) => p.on_timer(timer, core),
            Dispatcher::Active(a) => a.on_timer(timer, core),
            Dispatcher::Data(d) => d.on_timer(timer, core),
            Dispatcher::Metrics(m) => m.on_timer(timer),
        }
    }

    fn on_resume(&mut self, core: &mut Core) -> Status {
        match self {
            Dispatcher::Control(c) => c.on_resume(core).tallied(c, core),
            Dispatcher::Data(d) => d.on_resume(core),
            _ => Status::Keep,
        }
    }

    fn on_done(&mut self, done: Done, core: &mut Core) -> Status {
        match self {
            Dispatcher::Control(c) => c.on_done(done, core).tallied(c, core),
            _ => Status::Keep,
        }
    }

    fn on_orphan_done(link: Link, done: Done, core: &mut Core) {
        if let Done::OffLoop(result) = done {
            if let Some(settle) = core.shared.off_loop_orphans.remove(&link) {
                settle(result);
            }
        }
    }

    fn close(self, core: &mut Core) {
        match self {
            Dispatcher::Acceptor(mut a) => a.close(core),
            Dispatcher::Control(mut c) => {
                c.close(core);
                c.tally_into(core);
            }
            Dispatcher::Passive(mut p) => p.close(core),
            Dispatcher::Active(mut a) => a.close(core),
            Dispatcher::Data(mut d) => d.close(core),
            Dispatcher::Metrics(mut m) => m.close(core),
            Dispatcher::Header(mut h) => h.close(core),
            Dispatcher::Pool(mut p) => p.close(core),
        }
    }
}

/// A control channel's call ends by moving its session's counts into the
/// loop's [`Metrics`] (the one place they are collected).
trait Tallied {
    fn tallied(self, c: &mut ControlChannel, core: &mut Core) -> Self;
}

impl Tallied for Status {
    fn tallied(self, c: &mut ControlChannel, core: &mut Core) -> Status {
        c.tally_into(core);
        self
    }
}
