//! Pooled passive ports (`FtpHandler::passive_pool`, ftpdlib extension; the
//! idea is libunftp's pooled mode): each port of `passive_ports` is one
//! listening socket shared by every session, and a connection to it goes to
//! the session that waits there for the connecting client's address.
//!
//! So a narrow range serves many more clients than it has ports: a port is
//! taken only for one *address* at a time, not for one session. A session
//! waits on at most one port (a new PASV replaces its wait, as without the
//! pool); an address may wait on every port of the range at once (several
//! sessions from one address), and when all of them wait for it, PASV
//! answers 425 and the client may retry.
//!
//! The address is the one the data connection will arrive with: the
//! client's, its PROXY header's source with `proxy_data`, or, for a session
//! relayed by a proxy that sends no header on data ports, the proxy's (then
//! the pool can only hold one such session per port).
//!
//! Pooled listeners are opened on first use and stay open while the server
//! runs; an arrival nobody waits for is closed at once.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use mio::net::TcpListener;
use mio::Interest;

use super::conn::TlsConfig;
use super::dispatch::{Core, Dispatcher, Notice};
use super::dispatchers::waiting;
use super::proxied::{self, DataPeer};
use super::FtpHandler;
use crate::ioloop::{Link, Status};
use crate::log::LOG;

/// The shared ports of a loop and who waits on each.
#[derive(Default)]
pub(crate) struct PassivePool {
    ports: HashMap<SocketAddr, Port>,
}

struct Port {
    /// Its [`PoolListener`].
    listener: Link,
    /// Arrival address → the waiting session's passive dispatcher.
    waiting: HashMap<IpAddr, Link>,
}

impl PassivePool {
    /// The passive dispatcher at `me` stops waiting on `port` for `key`.
    pub fn leave(&mut self, port: SocketAddr, key: IpAddr, me: Link) {
        if let Some(p) = self.ports.get_mut(&port) {
            if p.waiting.get(&key) == Some(&me) {
                p.waiting.remove(&key);
            }
        }
    }

    /// Who waits on `port` for a connection from `ip`.
    fn waiter(&self, port: SocketAddr, ip: IpAddr) -> Option<Link> {
        self.ports.get(&port)?.waiting.get(&ip).copied()
    }
}

/// Find a port of the range where nobody waits for `peer`'s arrival address
/// (opening its listener if needed) and wait there.
pub(super) fn open_pooled(
    core: &mut Core,
    owner: Link,
    cfg: &Rc<FtpHandler>,
    local_ip: IpAddr,
    peer: DataPeer,
    tls: TlsConfig,
) -> io::Result<(Link, SocketAddr)> {
    let Some(ports) = cfg.passive_ports.as_ref() else {
        return Err(io::Error::other("passive_pool needs passive_ports"));
    };
    let key = peer.arrives_as(cfg);
    let mut chosen = None;
    for port in ports.try_order(super::dispatchers::random_u64()) {
        let addr = SocketAddr::new(local_ip, port);
        match core.shared.pool.ports.get(&addr) {
            Some(p) if p.waiting.contains_key(&key) => continue,
            Some(_) => {
                chosen = Some(addr);
                break;
            }
            None => {
                if open_port(core, cfg, addr).is_ok() {
                    chosen = Some(addr);
                    break;
                }
            }
        }
    }
    let Some(addr) = chosen else {
        return Err(io::Error::other(format!(
            "every passive port already waits for a connection from {key}; try again"
        )));
    };
    let link = core.insert_with(|me, core| {
        Ok(waiting(
            me,
            owner,
            cfg,
            peer,
            None,
            Some((addr, key)),
            tls,
            core,
        ))
    })?;
    if let Some(p) = core.shared.pool.ports.get_mut(&addr) {
        p.waiting.insert(key, link);
    }
    Ok((link, addr))
}

/// Bind and register the shared listener of `addr`.
fn open_port(core: &mut Core, cfg: &Rc<FtpHandler>, addr: SocketAddr) -> io::Result<()> {
    let std_listener = std::net::TcpListener::bind(addr)?;
    crate::sys::listen(&std_listener, cfg.passive_dtp.backlog.max(64))?;
    std_listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(std_listener);
    let link = core.insert_with(|me, core| {
        core.registry()
            .register(&mut listener, me.token(), Interest::READABLE)?;
        Ok(Dispatcher::Pool(Box::new(PoolListener {
            listener,
            me,
            addr,
            cfg: Rc::clone(cfg),
        })))
    })?;
    core.shared.pool.ports.insert(
        addr,
        Port {
            listener: link,
            waiting: HashMap::new(),
        },
    );
    Ok(())
}

/// A shared passive port's listening socket.
pub(crate) struct PoolListener {
    listener: TcpListener,
    me: Link,
    addr: SocketAddr,
    cfg: Rc<FtpHandler>,
}

impl PoolListener {
    /// Accept every pending connection and hand each to its session.
    pub fn on_ready(&mut self, core: &mut Core) -> Status {
        loop {
            match self.listener.accept() {
                Ok((stream, from)) => {
                    let ip = from.ip().to_canonical();
                    if self.cfg.proxy_data && self.cfg.is_trusted_proxy(ip) {
                        let purpose = proxied::Purpose::Data { to: self.me };
                        proxied::start(core, stream, from, &self.cfg, purpose);
                    } else {
                        self.hand_over(stream, from, ip, core);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Status::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::error!(target: LOG, "accept() on passive port {} failed: {e}", self.addr);
                    return Status::Keep;
                }
            }
        }
    }

    /// A data connection whose PROXY header was read.
    pub fn on_notice(&mut self, notice: Notice, core: &mut Core) -> Status {
        if let Notice::DataArrived {
            stream,
            from,
            client,
        } = notice
        {
            self.hand_over(stream, from, client, core);
        }
        Status::Keep
    }

    fn hand_over(
        &mut self,
        stream: mio::net::TcpStream,
        from: SocketAddr,
        client: IpAddr,
        core: &mut Core,
    ) {
        match core.shared.pool.waiter(self.addr, client) {
            Some(link) => core.notify(
                link,
                Notice::DataArrived {
                    stream,
                    from,
                    client,
                },
            ),
            None => log::warn!(
                target: LOG,
                "Rejected data connection from {client} (via {from}) on {}: no PASV waits for it.",
                self.addr
            ),
        }
    }

    /// Deregister; the port leaves the pool.
    pub fn close(&mut self, core: &mut Core) {
        let _ = core.registry().deregister(&mut self.listener);
        if let Some(p) = core.shared.pool.ports.get(&self.addr) {
            if p.listener == self.me {
                core.shared.pool.ports.remove(&self.addr);
            }
        }
    }
}
