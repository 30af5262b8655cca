//! The passive and active dispatchers (pyftpdlib `dispatchers.py`,
//! `PassiveDTP` and `ActiveDTP`): they set up a data connection for a
//! control channel, then hand it over as a [`DataChannel`](super::dtp) and
//! leave the loop.

use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use mio::net::{TcpListener, TcpStream};
use mio::Interest;

use super::conn::{Conn, TlsConfig};
use super::dispatch::{Core, Dispatcher, Notice, Timer};
use super::dtp::DataChannel;
use super::pool::open_pooled;
pub(crate) use super::pool::{PassivePool, PoolListener};
use super::proxied::{self, DataPeer};
use super::session::DataSide;
use super::FtpHandler;
use crate::ioloop::{CallLater, Link, Ready, Status};
use crate::log::LOG;
use crate::reply;

/// A PASV/EPSV listener waiting for the client (pyftpdlib `PassiveDTP`).
/// With `passive_pool` it owns no socket: it waits on a shared
/// [`PoolListener`] port for a connection from its client's address.
pub(crate) struct PassiveListener {
    /// `None` when waiting on a pooled port.
    listener: Option<TcpListener>,
    /// This listener in the loop.
    me: Link,
    /// The control channel it works for.
    owner: Link,
    peer: DataPeer,
    /// The pooled port and the address it waits under.
    pooled: Option<(SocketAddr, IpAddr)>,
    cfg: Rc<FtpHandler>,
    timer: Option<CallLater>,
    tls: TlsConfig,
}

/// Open a passive listener on `local_ip` for `owner`; returns its link and
/// bound address.
pub(crate) fn open_passive(
    core: &mut Core,
    owner: Link,
    cfg: &Rc<FtpHandler>,
    local_ip: IpAddr,
    peer: DataPeer,
    tls: TlsConfig,
) -> io::Result<(Link, SocketAddr)> {
    if cfg.passive_pool && cfg.passive_ports.is_some() {
        return open_pooled(core, owner, cfg, local_ip, peer, tls);
    }
    let std_listener = bind_passive(cfg, local_ip)?;
    crate::sys::listen(&std_listener, cfg.passive_dtp.backlog)?;
    std_listener.set_nonblocking(true)?;
    let addr = std_listener.local_addr()?;
    let mut listener = TcpListener::from_std(std_listener);
    let link = core.insert_with(|me, core| {
        core.registry()
            .register(&mut listener, me.token(), Interest::READABLE)?;
        Ok(waiting(
            me,
            owner,
            cfg,
            peer,
            Some(listener),
            None,
            tls,
            core,
        ))
    })?;
    Ok((link, addr))
}

/// The passive dispatcher of a session, its setup timer armed.
#[allow(clippy::too_many_arguments)]
pub(super) fn waiting(
    me: Link,
    owner: Link,
    cfg: &Rc<FtpHandler>,
    peer: DataPeer,
    listener: Option<TcpListener>,
    pooled: Option<(SocketAddr, IpAddr)>,
    tls: TlsConfig,
    core: &mut Core,
) -> Dispatcher {
    let timeout = cfg.passive_dtp.timeout;
    let timer = (!timeout.is_zero()).then(|| core.timer(timeout, me, Timer::DataSetup));
    Dispatcher::Passive(Box::new(PassiveListener {
        listener,
        me,
        owner,
        peer,
        pooled,
        cfg: Rc::clone(cfg),
        timer,
        tls,
    }))
}

/// A random number (the std hasher's random keys), to start port searches.
pub(super) fn random_u64() -> u64 {
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

/// Bind a port of `passive_ports`, trying each from a random one on (RFC
/// 2577 port stealing), or a kernel-chosen port when there is no set or
/// every port of it is taken.
fn bind_passive(cfg: &FtpHandler, ip: IpAddr) -> io::Result<std::net::TcpListener> {
    let random = random_u64();
    if let Some(ports) = &cfg.passive_ports {
        for port in ports.try_order(random) {
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
            let Some(listener) = &self.listener else {
                return Status::Keep;
            };
            match listener.accept() {
                Ok((stream, from)) => {
                    let ip = from.ip().to_canonical();
                    if self.cfg.proxy_data && self.cfg.is_trusted_proxy(ip) {
                        let purpose = proxied::Purpose::Data { to: self.me };
                        proxied::start(core, stream, from, &self.cfg, purpose);
                        continue;
                    }
                    if self.arrived(stream, from, ip, core) == Status::Remove {
                        return Status::Remove;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Status::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let text = format!("Can't open data connection: {}", reply::strerror(&e));
                    core.notify(
                        self.owner,
                        Notice::DataReply {
                            code: reply::CANT_OPEN_DATA,
                            text,
                            left: DataSide::Gone,
                        },
                    );
                    return Status::Remove;
                }
            }
        }
    }

    /// A data connection whose PROXY header was read, or one a pooled port
    /// matched to this session.
    pub fn on_notice(&mut self, notice: Notice, core: &mut Core) -> Status {
        match notice {
            Notice::DataArrived {
                stream,
                from,
                client,
            } => self.arrived(stream, from, client, core),
            _ => Status::Keep,
        }
    }

    /// Check the client address of a data connection (after its PROXY
    /// header, if any) and take it, or refuse it and wait on.
    fn arrived(
        &mut self,
        stream: TcpStream,
        from: SocketAddr,
        client: IpAddr,
        core: &mut Core,
    ) -> Status {
        if !self.cfg.permit_foreign_addresses && !self.peer.accepts(client, &self.cfg) {
            let text = if client == from.ip().to_canonical() {
                format!(
                    "Rejected data connection from foreign address {}:{}.",
                    client,
                    from.port()
                )
            } else {
                format!("Rejected data connection from foreign address {client} (via {from}).")
            };
            log::warn!(target: LOG, "{text}");
            core.notify(
                self.owner,
                Notice::DataReply {
                    code: reply::CANT_OPEN_DATA,
                    text,
                    left: DataSide::Alive,
                },
            );
            return Status::Keep;
        }
        connected(stream, self.owner, &self.cfg, self.tls.take(), core)
    }

    /// The client did not connect in time.
    pub fn on_timer(&mut self, timer: Timer, core: &mut Core) -> Status {
        if timer != Timer::DataSetup {
            return Status::Keep;
        }
        core.notify(
            self.owner,
            Notice::DataReply {
                code: reply::NOT_AVAILABLE,
                text: "Passive data channel timed out.".into(),
                left: DataSide::Gone,
            },
        );
        Status::Remove
    }

    /// Deregister (or leave the pooled port) and cancel the timer.
    pub fn close(&mut self, core: &mut Core) {
        if let Some(t) = self.timer.take() {
            t.cancel();
        }
        if let Some(listener) = &mut self.listener {
            let _ = core.registry().deregister(listener);
        }
        if let Some((port, key)) = self.pooled.take() {
            core.shared.pool.leave(port, key, self.me);
        }
    }
}

/// A PORT/EPRT connect in progress (pyftpdlib `ActiveDTP`).
pub(crate) struct ActiveConnector {
    sock: Option<TcpStream>,
    /// The control channel it works for.
    owner: Link,
    cfg: Rc<FtpHandler>,
    timer: Option<CallLater>,
    tls: TlsConfig,
}

/// Start a non-blocking connect to `addr` for `owner`.
pub(crate) fn connect_active(
    core: &mut Core,
    owner: Link,
    cfg: &Rc<FtpHandler>,
    addr: SocketAddr,
    tls: TlsConfig,
) -> io::Result<Link> {
    let mut sock = TcpStream::connect(addr)?;
    core.insert_with(|me, core| {
        core.register(&mut sock, me.token())?;
        let timeout = cfg.active_dtp.timeout;
        let timer = (!timeout.is_zero()).then(|| core.timer(timeout, me, Timer::DataSetup));
        Ok(Dispatcher::Active(Box::new(ActiveConnector {
            sock: Some(sock),
            owner,
            cfg: Rc::clone(cfg),
            timer,
            tls,
        })))
    })
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
        let _ = core.registry().deregister(&mut sock);
        connected(sock, self.owner, &self.cfg, tls, core)
    }

    fn fail(&self, core: &mut Core, code: crate::reply::Code, text: &str) {
        core.notify(
            self.owner,
            Notice::DataReply {
                code,
                text: text.into(),
                left: DataSide::Gone,
            },
        );
    }

    /// The connect did not complete in time.
    pub fn on_timer(&mut self, timer: Timer, core: &mut Core) -> Status {
        if timer != Timer::DataSetup {
            return Status::Keep;
        }
        self.fail(core, reply::NOT_AVAILABLE, "Active data channel timed out.");
        Status::Remove
    }

    /// Deregister and cancel the timer.
    pub fn close(&mut self, core: &mut Core) {
        if let Some(t) = self.timer.take() {
            t.cancel();
        }
        if let Some(mut s) = self.sock.take() {
            let _ = core.registry().deregister(&mut s);
        }
    }
}

/// Turn an established connection into a data channel and tell the owner.
pub(super) fn connected(
    mut sock: TcpStream,
    owner: Link,
    cfg: &Rc<FtpHandler>,
    tls: TlsConfig,
    core: &mut Core,
) -> Status {
    let made = core.insert_with(|me, core| {
        core.register(&mut sock, me.token())?;
        Ok(Dispatcher::Data(Box::new(DataChannel::new(
            Conn::with_tls(sock, tls)?,
            me,
            owner,
            Rc::clone(cfg),
        ))))
    });
    match made {
        Ok(link) => core.notify(owner, Notice::DataConnected(link)),
        Err(e) => core.notify(
            owner,
            Notice::DataReply {
                code: reply::CANT_OPEN_DATA,
                text: format!("Can't open data connection: {}", reply::strerror(&e)),
                left: DataSide::Gone,
            },
        ),
    }
    Status::Remove
}
