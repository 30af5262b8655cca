//! The listening server (pyftpdlib `servers.py`).
//!
//! [`FtpServer`] binds (or adopts) one or more listening sockets, owns the
//! [`IoLoop`] and enforces `max_cons` / `max_cons_per_ip`. The private
//! `Acceptor` is a listener's dispatcher inside the loop.
//!
//! Besides binding, a server can be handed what a super-server or service
//! manager opened for it: the listening sockets of systemd socket
//! activation ([`FtpServer::from_activation`]) or, in inetd mode, the one
//! connected client on standard input ([`FtpServer::from_connection`]).

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Duration;

use mio::net::TcpListener;
use mio::Interest;

use crate::error::Error;
use crate::handlers::ftp::control::{Admission, ControlChannel};
use crate::handlers::ftp::dispatch::{Core, Dispatcher, Notice};
use crate::handlers::ftp::metrics::ErrorKind;
use crate::handlers::ftp::FtpHandler;
use crate::ioloop::{Link, Status, StopHandle};
use crate::log::{LOG, LOGERROR};
use crate::prefork::WorkerListeners;
use crate::IoLoop;

mod live;
pub use live::ServerHandle;
mod cluster;

/// Reply to a client over `max_cons` (pyftpdlib `handle_max_cons`).
pub(crate) const TOO_MANY_CONNECTIONS: &str =
    "Too many connections. Service temporarily unavailable.";
/// Reply to a client over `max_cons_per_ip` (pyftpdlib `handle_max_cons_per_ip`).
pub(crate) const TOO_MANY_FROM_IP: &str = "Too many connections from the same IP address.";

/// An FTP server: a listening socket served by an [`IoLoop`] (pyftpdlib
/// `FTPServer`).
///
/// ```no_run
/// use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};
/// let mut auth = DummyAuthorizer::new();
/// auth.add_user_with_perm("user", "12345", ".", "elradfmwMT").unwrap();
/// let mut server = FtpServer::bind(("127.0.0.1", 2121), FtpHandler::new(auth)).unwrap();
/// server.max_cons = 256;
/// server.max_cons_per_ip = 5;
/// server.serve_forever().unwrap();
/// ```
#[doc(alias = "FTPServer")]
pub struct FtpServer {
    /// Maximum simultaneous control connections, 0 = unlimited (pyftpdlib
    /// `max_cons`, 512). ftpdlib counts control connections only; each
    /// session has at most one data socket besides.
    pub max_cons: usize,
    /// Maximum simultaneous control connections from one IP address,
    /// 0 = unlimited (pyftpdlib `max_cons_per_ip`).
    pub max_cons_per_ip: usize,
    /// Server-wide upload limit in bytes per second shared by every data
    /// channel, 0 = unlimited (per worker process with `worker_processes`).
    /// pyftpdlib only limits each data channel (`read_limit`).
    pub read_limit: u64,
    /// Server-wide download limit in bytes per second, 0 = unlimited.
    pub write_limit: u64,
    /// Serve with this many pre-forked worker processes, each a
    /// single-threaded event loop on the listening address (pyftpdlib
    /// `serve_forever(worker_processes=N)`); 1 = no fork. Connection
    /// limits stay server-wide; bandwidth limits and metrics are per
    /// worker. The parent supervises: it forwards SIGINT/SIGTERM, restarts
    /// a worker that crashed, and exits when every worker is gone.
    pub worker_processes: usize,
    /// How the workers of `worker_processes` receive connections: one
    /// `SO_REUSEPORT` socket each (the default) or one shared socket
    /// (ftpdlib extension; see [`WorkerListeners`]).
    pub worker_listeners: WorkerListeners,
    /// Handle SIGINT and SIGTERM in [`serve_forever`](Self::serve_forever):
    /// log "received interrupt signal" and shut down cleanly (pyftpdlib's
    /// `handle_exit`, true).
    pub handle_exit: bool,
    /// Privilege drop, `no_new_privs` and Landlock, applied once by
    /// [`serve_forever`](Self::serve_forever) (or
    /// [`harden`](Self::harden)) before the first client (ftpdlib
    /// extension; all off by default); with `worker_processes`, by each
    /// worker right after its fork. See the `hardening` module.
    pub hardening: crate::hardening::Hardening,
    /// Whether `hardening` was applied.
    hardened: bool,
    /// A pre-forked worker: its supervisor gave the root warning.
    in_worker: bool,
    ioloop: IoLoop,
    /// The acceptors in the loop, one per listening socket, in the order
    /// of `addresses`.
    links: Vec<Link>,
    addresses: Vec<SocketAddr>,
    handler: Rc<FtpHandler>,
    /// Connection counts shared by several acceptors (and workers).
    counters: Option<Rc<crate::sys::SharedCounters>>,
    /// Inetd mode: serve the one connection, then return.
    one_session: bool,
    /// Handles' changes and the SIGHUP reload (`servers/live.rs`).
    live: live::ServerLive,
    /// The listen() backlog, for the workers' own sockets.
    backlog: i32,
    /// The listeners came from socket activation (workers share them).
    adopted: bool,
    /// The metrics endpoint, if on: its dispatcher and the address asked
    /// for (workers bind its port + their number).
    metrics: Option<(Link, SocketAddr)>,
}

/// What a listening socket serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerRole {
    /// FTP, with AUTH TLS when the handler has TLS (the port-21 style).
    Ftp,
    /// Implicit FTPS: TLS from the first byte, before the greeting (the
    /// port-990 style); needs `FtpHandler::enable_tls` and the `tls`
    /// feature.
    ImplicitFtps,
}

impl ListenerRole {
    /// The role a socket-activation name (`FileDescriptorName=` of a
    /// systemd `.socket` unit) asks for: `ftp` is [`Ftp`](Self::Ftp),
    /// `ftps`, `implicit` and `implicit-ftps` are
    /// [`ImplicitFtps`](Self::ImplicitFtps); any other name (systemd's
    /// default is `unknown`) gets `default`.
    pub fn from_name(name: &str, default: ListenerRole) -> ListenerRole {
        match name {
            "ftp" => ListenerRole::Ftp,
            "ftps" | "implicit" | "implicit-ftps" => ListenerRole::ImplicitFtps,
            _ => default,
        }
    }
}

/// Inetd mode's client: the connected TCP socket that inetd, xinetd,
/// tcpsvd or systemd (`Accept=yes`) passed as standard input, for
/// [`FtpServer::from_connection`]. Standard input and output become
/// `/dev/null`, and so does standard error when it is the same socket
/// (classic inetd passes the client as fds 0, 1 and 2), so that nothing
/// but replies reaches the client: call this before anything logs, and log
/// to syslog in that case. An error when standard input is not a
/// connected TCP socket.
pub fn stdin_connection() -> Result<std::net::TcpStream, Error> {
    Ok(crate::sys::take_stdin_socket()?)
}

/// Addresses an [`FtpServer`] can bind: `("host", port)` where an empty host
/// means all interfaces (IPv6 and IPv4), a `SocketAddr`, or `"host:port"`.
pub trait BindAddress {
    /// The candidate socket addresses, tried in order.
    fn bind_addrs(&self) -> io::Result<Vec<SocketAddr>>;
}

impl BindAddress for (&str, u16) {
    fn bind_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        if self.0.is_empty() {
            return Ok(vec![
                SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), self.1),
                SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), self.1),
            ]);
        }
        Ok(self.to_socket_addrs()?.collect())
    }
}

impl BindAddress for (String, u16) {
    fn bind_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        (self.0.as_str(), self.1).bind_addrs()
    }
}

impl BindAddress for (IpAddr, u16) {
    fn bind_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![SocketAddr::new(self.0, self.1)])
    }
}

impl BindAddress for SocketAddr {
    fn bind_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(vec![*self])
    }
}

impl BindAddress for &str {
    fn bind_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        Ok(self.to_socket_addrs()?.collect())
    }
}

impl FtpServer {
    /// Bind `address` with pyftpdlib's backlog of 100 and serve it with
    /// `handler` (pyftpdlib `FTPServer(address, handler)`).
    pub fn bind(address: impl BindAddress, handler: FtpHandler) -> Result<FtpServer, Error> {
        FtpServer::bind_with_backlog(address, handler, 100)
    }

    /// Bind with an explicit listen() `backlog` (pyftpdlib's `backlog`
    /// constructor argument).
    pub fn bind_with_backlog(
        address: impl BindAddress,
        handler: FtpHandler,
        backlog: i32,
    ) -> Result<FtpServer, Error> {
        let mut last = None;
        for addr in address.bind_addrs()? {
            match std::net::TcpListener::bind(addr) {
                Ok(l) => {
                    crate::sys::listen(&l, backlog)?;
                    let mut server = FtpServer::from_listener(l, handler)?;
                    server.backlog = backlog;
                    return Ok(server);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))
            .into())
    }

    /// Serve an already listening socket (pyftpdlib accepts a socket in
    /// place of an address).
    pub fn from_listener(
        listener: std::net::TcpListener,
        handler: FtpHandler,
    ) -> Result<FtpServer, Error> {
        let mut server = FtpServer::without_listener(handler)?;
        server.add_listener(listener, ListenerRole::Ftp)?;
        Ok(server)
    }

    /// systemd socket activation (`Accept=no` units): serve the listening
    /// sockets the service manager passed (`LISTEN_FDS` descriptors from
    /// fd 3, for this process's `LISTEN_PID`) instead of binding; each
    /// socket's role comes from its name in `LISTEN_FDNAMES`
    /// ([`ListenerRole::from_name`]), `default` for unnamed ones.
    /// An error when the process was not socket-activated
    /// ([`socket_activated`](Self::socket_activated) tells). The variables
    /// are removed from the environment once read.
    pub fn from_activation(handler: FtpHandler, default: ListenerRole) -> Result<FtpServer, Error> {
        let passed = crate::sys::listen_fds()?;
        if passed.is_empty() {
            return Err(Error::Config(
                "no socket passed by socket activation (LISTEN_FDS, LISTEN_PID)".into(),
            ));
        }
        let mut server = FtpServer::without_listener(handler)?;
        server.adopted = true;
        for p in passed {
            let role = ListenerRole::from_name(&p.name, default);
            server.add_listener(p.listener, role)?;
        }
        Ok(server)
    }

    /// Inetd mode: serve one client already connected on `stream` (inetd,
    /// xinetd, tcpsvd and systemd `Accept=yes` units hand it over as
    /// standard input); [`serve_forever`](Self::serve_forever) returns when
    /// that session ends, its data connections (passive and active)
    /// included. The super-server owns the listening socket, and with it
    /// the connection limits: `max_cons` and `max_cons_per_ip` do not
    /// apply. `role` says whether TLS starts at once (implicit FTPS).
    pub fn from_connection(
        stream: std::net::TcpStream,
        role: ListenerRole,
        handler: FtpHandler,
    ) -> Result<FtpServer, Error> {
        let mut server = FtpServer::without_listener(handler)?;
        let implicit_tls = server.implicit(role)?;
        stream.set_nonblocking(true)?;
        let peer = stream.peer_addr()?;
        let local = stream.local_addr()?;
        let stream = mio::net::TcpStream::from_std(stream);
        let handler = Rc::clone(&server.handler);
        // The session is opened by its acceptor, as an accepted one is.
        let link = server.ioloop.core_mut().insert_with(|me, core| {
            let mut acceptor = Acceptor::new(None, me, handler, implicit_tls);
            acceptor.accepted(stream, peer, core);
            if acceptor.count == 0 {
                return Err(io::Error::other(format!("cannot serve {peer}")));
            }
            Ok(Dispatcher::Acceptor(Box::new(acceptor)))
        })?;
        server.links.push(link);
        server.addresses.push(local);
        server.one_session = true;
        Ok(server)
    }

    /// Whether this process was started by systemd socket activation with
    /// sockets for it (`LISTEN_PID` is its pid): then
    /// [`from_activation`](Self::from_activation) has listeners to adopt.
    pub fn socket_activated() -> bool {
        crate::sys::activated()
    }

    /// Listen on one more socket in the same loop: several ports, an IPv4
    /// and an IPv6 socket, FTP and implicit FTPS side by side. Connection
    /// limits stay server-wide across them.
    pub fn add_listener(
        &mut self,
        listener: std::net::TcpListener,
        role: ListenerRole,
    ) -> Result<(), Error> {
        let implicit_tls = self.implicit(role)?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let mut listener = TcpListener::from_std(listener);
        let handler = Rc::clone(&self.handler);
        let link = self.ioloop.core_mut().insert_with(|me, core| {
            core.registry()
                .register(&mut listener, me.token(), Interest::READABLE)?;
            let acceptor = Acceptor::new(Some(listener), me, handler, implicit_tls);
            Ok(Dispatcher::Acceptor(Box::new(acceptor)))
        })?;
        self.links.push(link);
        self.addresses.push(address);
        Ok(())
    }

    /// A server with its loop and no socket yet.
    fn without_listener(handler: FtpHandler) -> Result<FtpServer, Error> {
        check_handler(&handler)?;
        Ok(FtpServer {
            max_cons: 512,
            max_cons_per_ip: 0,
            worker_processes: 1,
            worker_listeners: WorkerListeners::default(),
            read_limit: 0,
            write_limit: 0,
            handle_exit: true,
            hardening: crate::hardening::Hardening::default(),
            hardened: false,
            in_worker: false,
            ioloop: IoLoop::new()?,
            links: Vec::new(),
            addresses: Vec::new(),
            handler: Rc::new(handler),
            counters: None,
            one_session: false,
            live: live::ServerLive::default(),
            backlog: 128,
            adopted: false,
            metrics: None,
        })
    }

    /// Whether `role` starts TLS at connect, if this server can do it.
    fn implicit(&self, role: ListenerRole) -> Result<bool, Error> {
        if role == ListenerRole::Ftp {
            return Ok(false);
        }
        #[cfg(feature = "tls")]
        if self.handler.tls.is_some() {
            return Ok(true);
        }
        Err(Error::Config(
            "an implicit FTPS socket needs TLS (a build with `--features tls`, --tls and --certfile)"
                .into(),
        ))
    }

    /// The bound address (pyftpdlib `address`): the first listener's, or
    /// in inetd mode the connection's local address.
    pub fn address(&self) -> SocketAddr {
        self.addresses[0]
    }

    /// The addresses of every listener, in the order they were added.
    pub fn addresses(&self) -> &[SocketAddr] {
        &self.addresses
    }

    /// The loop, to schedule delayed calls (pyftpdlib `ioloop`).
    #[allow(private_interfaces)] // see `crate::IoLoop`: the dispatcher set is sealed
    pub fn ioloop(&mut self) -> &mut IoLoop {
        &mut self.ioloop
    }

    /// A handle that stops `serve_forever` from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        self.ioloop.stop_handle()
    }

    /// Number of connected control channels.
    pub fn connection_count(&self) -> usize {
        if let Some(shared) = &self.counters {
            return shared.add(0, 0) as usize;
        }
        self.acceptors().map(|a| a.count).sum()
    }

    /// Serve until stopped by a [`StopHandle`] or, with `handle_exit`, by
    /// SIGINT/SIGTERM; then close every connection (pyftpdlib
    /// `serve_forever`). If the program installed no logger, pyftpdlib's
    /// default is installed first: INFO lines on stderr
    /// ([`log::install_default`](crate::log::install_default)).
    pub fn serve_forever(&mut self) -> Result<(), Error> {
        self.apply_limits()?;
        // pyftpdlib's default logging when the program set up none; not in
        // inetd mode, where stderr may be the client's socket.
        if !self.one_session {
            crate::log::install_default();
        }
        if self.worker_processes > 1 {
            // Each worker hardens itself after the fork (it may have its
            // own sockets to set up first); the supervisor only forks,
            // reaps and forwards signals.
            crate::hardening::warn_if_root(&self.hardening);
        } else {
            self.harden()?;
        }
        if self.worker_processes > 1 {
            if self.one_session {
                return Err(Error::Config(
                    "one connection (inetd mode) is served by one process".into(),
                ));
            }
            let workers = self.worker_processes;
            return crate::prefork::serve(self, workers);
        }
        if self.handle_exit {
            self.ioloop.watch_signals(self.watches_hangup())?;
        }
        // Inetd mode starts a process per session: its start-up lines would
        // drown the sessions' own in the log.
        let level = if self.one_session {
            log::Level::Debug
        } else {
            self.log_settings();
            log::Level::Info
        };
        log::log!(
            target: LOG,
            level,
            ">>> starting FTP server on {}, pid={} <<<",
            self.address_list(),
            std::process::id()
        );
        if let Some(addr) = self.metrics_address() {
            log::info!(target: LOG, "metrics on http://{addr}/metrics, health on http://{addr}/health");
        }
        let result = self.run_until_stopped();
        if self.ioloop.unwatch_signals() {
            log::info!(target: LOG, "received interrupt signal");
        }
        log::log!(
            target: LOG,
            level,
            ">>> shutting down FTP server, pid={}, {} open socket(s) <<<",
            std::process::id(),
            self.ioloop.socket_count()
        );
        self.close_all();
        result
    }

    /// The listeners' addresses for the log, implicit FTPS ones marked.
    fn address_list(&self) -> String {
        let mut out = String::new();
        for (i, (addr, link)) in self.addresses.iter().zip(&self.links).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&addr.to_string());
            if let Some(Dispatcher::Acceptor(a)) = self.ioloop.core().peek(*link) {
                if a.implicit_tls {
                    out.push_str(" (implicit FTPS)");
                }
            }
        }
        out
    }

    /// Serve one round of events and timers, waiting at most `timeout`;
    /// returns the delay until the next timer (pyftpdlib
    /// `serve_forever(blocking=False)`), to embed the server in another loop.
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<Option<Duration>, Error> {
        self.apply_limits()?;
        let next = self.ioloop.poll_once(timeout)?;
        self.run_changes();
        Ok(next)
    }

    /// [`harden`](Self::harden) in a freshly forked worker, whose
    /// supervisor gave the root warning.
    pub(crate) fn harden_worker(&mut self) -> Result<(), Error> {
        self.in_worker = true;
        self.harden()
    }

    /// Apply [`hardening`](Self::hardening) now: drop privileges, set
    /// `no_new_privs`, confine with Landlock, as configured (ftpdlib
    /// extension). [`serve_forever`](Self::serve_forever) calls it; a
    /// program driving [`poll`](Self::poll) calls it once after binding
    /// and before it starts threads of its own. Later calls do nothing.
    /// An error (an unknown `run_as` account, a drop that did not take,
    /// Landlock `Required` but unavailable) means the server must not
    /// serve.
    pub fn harden(&mut self) -> Result<(), Error> {
        if self.hardened {
            return Ok(());
        }
        let level = if self.one_session {
            log::Level::Debug
        } else {
            log::Level::Info
        };
        let confinement = crate::hardening::confinement_of(&self.handler);
        let warn_root = !self.in_worker;
        crate::hardening::apply(&self.hardening, confinement, level, warn_root)?;
        self.hardened = true;
        Ok(())
    }

    /// Close the listener and every connection, cancel every scheduled call
    /// (pyftpdlib `close_all`).
    pub fn close_all(&mut self) {
        self.ioloop.close_all();
    }

    /// pyftpdlib's startup lines: the model and NAT settings at INFO, the
    /// rest at DEBUG.
    fn log_settings(&self) {
        let h = &self.handler;
        log::info!(target: LOG, "concurrency model: async");
        match h.masquerade_address {
            Some(ip) => log::info!(target: LOG, "masquerade (NAT) address: {ip}"),
            None => log::info!(target: LOG, "masquerade (NAT) address: None"),
        }
        match &h.passive_ports {
            Some(p) => log::info!(target: LOG, "passive ports: {}", passive_ports_text(p)),
            None => log::info!(target: LOG, "passive ports: None"),
        }
        if h.proxy_protocol != crate::proxy_protocol::ProxyProtocol::Off {
            let trusted: Vec<String> = h.trusted_proxies.iter().map(|c| c.to_string()).collect();
            log::info!(
                target: LOG,
                "PROXY protocol: {:?}, trusted proxies: {}, on data connections: {}, pooled passive ports: {}",
                h.proxy_protocol,
                trusted.join(","),
                h.proxy_data,
                h.passive_pool
            );
        }
        log::debug!(target: LOG, "poller: mio (epoll)");
        log::debug!(target: LOG, "use sendfile(): {}", h.use_sendfile);
        let limit = |n: usize| {
            if n == 0 {
                "unlimited".to_string()
            } else {
                n.to_string()
            }
        };
        log::debug!(target: LOG, "max connections: {}", limit(self.max_cons));
        log::debug!(target: LOG, "max connections per ip: {}", limit(self.max_cons_per_ip));
        log::debug!(target: LOG, "timeout: {}", h.timeout.as_secs_f64());
        log::debug!(target: LOG, "banner: {:?}", h.banner);
        log::debug!(target: LOG, "max login attempts: {}", h.max_login_attempts);
    }

    fn run_until_stopped(&mut self) -> Result<(), Error> {
        while !self.ioloop.stop_requested() {
            if self.one_session && self.connection_count() == 0 {
                break;
            }
            self.ioloop.poll_once(None)?;
            self.run_changes();
        }
        self.ioloop.clear_stop();
        Ok(())
    }

    /// Make every listener implicit FTPS: TLS starts at connect, before
    /// the 220 greeting (the port-990 style pyftpdlib never had, its #160).
    /// Needs [`FtpHandler::enable_tls`]. [`add_listener`](Self::add_listener)
    /// sets it for one socket.
    #[cfg(feature = "tls")]
    pub fn set_implicit_tls(&mut self, on: bool) -> Result<(), Error> {
        if on && self.handler.tls.is_none() {
            return Err(Error::Config(
                "implicit TLS needs FtpHandler::enable_tls".into(),
            ));
        }
        self.each_acceptor(|a| a.implicit_tls = on);
        Ok(())
    }

    /// Count connections in `counters`, shared with the other acceptors
    /// and workers.
    pub(crate) fn share_counters(&mut self, counters: Rc<crate::sys::SharedCounters>) {
        self.each_acceptor(|a| a.shared = Some(Rc::clone(&counters)));
        self.counters = Some(counters);
    }

    fn apply_limits(&mut self) -> Result<(), Error> {
        self.ioloop.set_workers(self.handler.auth_workers);
        self.ioloop
            .core_mut()
            .shared
            .bandwidth
            .set_limits(self.read_limit, self.write_limit);
        if self.links.len() > 1 && self.counters.is_none() {
            // Several listeners count against the same limits.
            let buckets = 1 + crate::prefork::IP_BUCKETS;
            self.share_counters(Rc::new(crate::sys::SharedCounters::new(buckets)?));
        }
        let (max_cons, max_cons_per_ip) = if self.one_session {
            (0, 0)
        } else {
            (self.max_cons, self.max_cons_per_ip)
        };
        self.each_acceptor(|a| {
            a.max_cons = max_cons;
            a.max_cons_per_ip = max_cons_per_ip;
        });
        Ok(())
    }
}

impl FtpServer {
    fn acceptors(&self) -> impl Iterator<Item = &Acceptor> + '_ {
        let core = self.ioloop.core();
        self.links.iter().filter_map(|link| match core.peek(*link) {
            Some(Dispatcher::Acceptor(a)) => Some(&**a),
            _ => None,
        })
    }

    /// Run `f` on every acceptor.
    fn each_acceptor(&mut self, mut f: impl FnMut(&mut Acceptor)) {
        for link in &self.links {
            if let Some(Dispatcher::Acceptor(a)) = self.ioloop.core_mut().peek_mut(*link) {
                f(a);
            }
        }
    }
}

impl Drop for FtpServer {
    fn drop(&mut self) {
        self.ioloop.close_all();
    }
}

fn check_handler(handler: &FtpHandler) -> Result<(), Error> {
    let enc = handler.encoding.to_ascii_lowercase();
    if enc != "utf8" && enc != "utf-8" {
        return Err(Error::Config(format!(
            "unsupported encoding {:?}: ftpdlib speaks UTF-8 only",
            handler.encoding
        )));
    }
    if let Some(p) = &handler.passive_ports {
        if p.is_empty() || p.first() == Some(0) {
            return Err(Error::Config(
                "passive_ports must be a non-empty set of ports 1-65535".into(),
            ));
        }
    }
    Ok(())
}

/// pyftpdlib's `60000->65535` for one range, the list form otherwise.
fn passive_ports_text(p: &crate::PortSet) -> String {
    match p.ranges() {
        [r] => format!("{}->{}", r.start(), r.end()),
        _ => p.to_string(),
    }
}

/// The shared-counter bucket of an IP address (FNV-1a of its bytes).
fn ip_bucket(ip: IpAddr) -> usize {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    };
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash % crate::prefork::IP_BUCKETS as u64) as usize
}

/// The server's dispatcher in the loop (pyftpdlib `Acceptor` part of
/// `FTPServer`).
pub(crate) struct Acceptor {
    /// None in inetd mode: the one connection came from elsewhere.
    listener: Option<TcpListener>,
    /// This acceptor in the loop.
    me: Link,
    handler: Rc<FtpHandler>,
    max_cons: usize,
    max_cons_per_ip: usize,
    count: usize,
    per_ip: HashMap<IpAddr, u32>,
    /// Counters shared with the other pre-forked workers, if any.
    shared: Option<Rc<crate::sys::SharedCounters>>,
    /// TLS starts at connect (implicit FTPS).
    implicit_tls: bool,
}

impl Acceptor {
    fn new(
        listener: Option<TcpListener>,
        me: Link,
        handler: Rc<FtpHandler>,
        implicit_tls: bool,
    ) -> Acceptor {
        Acceptor {
            listener,
            me,
            handler,
            max_cons: 512,
            max_cons_per_ip: 0,
            count: 0,
            per_ip: HashMap::new(),
            shared: None,
            implicit_tls,
        }
    }

    /// Accept every pending connection.
    pub fn on_ready(&mut self, core: &mut Core) -> Status {
        let mut accepted = 0;
        loop {
            let Some(listener) = &self.listener else {
                return Status::Keep;
            };
            match listener.accept() {
                Ok((stream, peer)) => {
                    accepted += 1;
                    self.accepted(stream, peer, core);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    core.shared.metrics.listener_woken(accepted);
                    return Status::Keep;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: try again at the next connection.
                    log::error!(target: LOGERROR, "accept() failed: {e}");
                    core.shared.metrics.error(ErrorKind::Accept);
                    return Status::Keep;
                }
            }
        }
    }

    fn accepted(&mut self, stream: mio::net::TcpStream, peer: SocketAddr, core: &mut Core) {
        use crate::handlers::ftp::proxied::{self, Purpose};
        use crate::proxy_protocol::ProxyProtocol;
        let mode = self.handler.proxy_protocol;
        if mode != ProxyProtocol::Off {
            // The limits count the client behind the header: the count is
            // taken once the header is read (HeaderRead).
            if self.handler.is_trusted_proxy(peer.ip().to_canonical()) {
                // Headers still being read count against max_cons too, so
                // a flood of silent connections is bounded.
                if self.max_cons != 0 && core.shared.proxy_headers >= self.max_cons {
                    log::warn!(
                        target: LOG,
                        "{peer}: {} connections wait for their PROXY header; connection closed.",
                        core.shared.proxy_headers
                    );
                    return;
                }
                let purpose = Purpose::Control {
                    acceptor: self.me,
                    implicit_tls: self.implicit_tls,
                    optional: mode == ProxyProtocol::Optional,
                };
                proxied::start(core, stream, peer, &self.handler, purpose);
                return;
            }
            if mode == ProxyProtocol::Required {
                log::warn!(
                    target: LOG,
                    "{peer}: not a trusted proxy and a PROXY header is required; connection closed."
                );
                return;
            }
        }
        let implicit = self.implicit_tls;
        self.open_session(stream, peer, None, implicit, core);
    }

    /// Count a connection from `client` and open its session (greeted, or
    /// refused with 421 when a limit is reached).
    fn open_session(
        &mut self,
        stream: mio::net::TcpStream,
        client: SocketAddr,
        via: Option<crate::handlers::ftp::proxied::Via>,
        implicit_tls: bool,
        core: &mut Core,
    ) {
        let ip = client.ip().to_canonical();
        let refusal = self.admit(ip);
        let handler = Rc::clone(&self.handler);
        let acceptor = self.me;
        let opened = core.insert_with(|me, core| {
            let admission = Admission {
                refusal,
                implicit_tls,
                via,
            };
            ControlChannel::open(stream, client, me, acceptor, handler, admission, core)
                .map(|c| Dispatcher::Control(Box::new(c)))
        });
        if let Err(e) = opened {
            log::error!(target: LOGERROR, "cannot serve {client}: {e}");
            if refusal.is_none() {
                self.release(ip);
            }
        }
    }

    /// Count a new connection from `ip`, or say why it is refused (then it
    /// is not counted).
    fn admit(&mut self, ip: IpAddr) -> Option<&'static str> {
        if let Some(shared) = &self.shared {
            let bucket = 1 + ip_bucket(ip);
            let total = shared.add(0, 1) as usize;
            if self.max_cons != 0 && total > self.max_cons {
                shared.add(0, -1);
                return Some(TOO_MANY_CONNECTIONS);
            }
            let n = shared.add(bucket, 1) as usize;
            if self.max_cons_per_ip != 0 && n > self.max_cons_per_ip {
                shared.add(bucket, -1);
                shared.add(0, -1);
                return Some(TOO_MANY_FROM_IP);
            }
            return None;
        }
        if self.max_cons != 0 && self.count >= self.max_cons {
            return Some(TOO_MANY_CONNECTIONS);
        }
        let n = self.per_ip.get(&ip).copied().unwrap_or(0) as usize;
        if self.max_cons_per_ip != 0 && n >= self.max_cons_per_ip {
            return Some(TOO_MANY_FROM_IP);
        }
        self.count += 1;
        *self.per_ip.entry(ip).or_insert(0) += 1;
        None
    }

    /// Forget a counted connection from `ip`.
    fn release(&mut self, ip: IpAddr) {
        if let Some(shared) = &self.shared {
            shared.add(0, -1);
            shared.add(1 + ip_bucket(ip), -1);
            return;
        }
        self.count = self.count.saturating_sub(1);
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
    }

    /// A control connection of this server closed.
    pub fn on_notice(&mut self, notice: Notice, core: &mut Core) -> Status {
        match notice {
            Notice::ControlClosed(ip) => self.release(ip),
            Notice::HeaderRead {
                stream,
                client,
                via,
                implicit_tls,
            } => self.open_session(stream, client, via, implicit_tls, core),
            _ => {}
        }
        Status::Keep
    }

    /// Deregister the listening socket.
    pub fn close(&mut self, core: &mut Core) {
        if let Some(listener) = &mut self.listener {
            let _ = core.registry().deregister(listener);
        }
    }
}
