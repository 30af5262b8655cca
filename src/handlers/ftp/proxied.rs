//! Connections that start with a PROXY header (ftpdlib extension; the
//! parser is [`crate::proxy_protocol`]).
//!
//! A [`HeaderReader`] holds a connection from a trusted proxy until its
//! header is in: it *peeks* at the socket, so that it consumes exactly the
//! header and leaves whatever follows (the client's first command, a TLS
//! ClientHello, upload data) in the socket for the dispatcher that takes the
//! connection over. Its size is bounded by the parser, its time by a loop
//! timer (`FtpHandler::proxy_header_timeout`): a stalled header is closed,
//! it never blocks the loop. Then it hands the socket and the real client
//! address on, through a notice:
//! - a control connection to its acceptor ([`Notice::HeaderRead`]), which
//!   counts it against the limits under the client's address and opens the
//!   session (so the 220 greeting goes out only after the header);
//! - a data connection to the passive listener that accepted it
//!   ([`Notice::DataArrived`]), which checks the client address as it does
//!   for direct connections.

use std::io::{self, Read};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use mio::net::TcpStream;
use mio::Interest;

use super::dispatch::{Core, Dispatcher, Notice, Timer};
use super::FtpHandler;
use crate::ioloop::{CallLater, Link, Ready, Status};
use crate::log::LOG;
use crate::proxy_protocol::{self, Parsed, MAX_HEADER};

/// In optional mode, how long a trusted peer that sent nothing is given
/// before the connection is taken as plain FTP (an FTP client waits for the
/// greeting, a proxy sends its header at once).
pub(crate) const OPTIONAL_GRACE: Duration = Duration::from_millis(500);

/// How a connection reached the server when a proxy relayed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Via {
    /// The proxy's end of the socket.
    pub proxy: SocketAddr,
    /// The address the client connected to on the proxy (the PROXY
    /// header's destination): what PASV announces when no masquerade
    /// address is set. `None` for LOCAL / UNKNOWN headers.
    pub destination: Option<SocketAddr>,
}

/// Who is expected on a session's data connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DataPeer {
    /// The client's real address.
    pub client: IpAddr,
    /// The proxy of a proxied session.
    pub proxy: Option<IpAddr>,
}

impl DataPeer {
    /// The address a data connection of this session arrives with, after
    /// any PROXY header on it: the client's, unless the session came through
    /// a proxy that relays data ports without headers (then the proxy's).
    pub fn arrives_as(&self, cfg: &FtpHandler) -> IpAddr {
        match self.proxy {
            Some(proxy) if !cfg.proxy_data => proxy,
            _ => self.client,
        }
    }

    /// Whether a data connection from `ip` (after any PROXY header) may
    /// serve this session: the client itself or, for a proxied session
    /// whose proxy sends no header on data ports, a trusted proxy (the
    /// anti-stealing check is then TLS session reuse, see docs/cluster.md).
    pub fn accepts(&self, ip: IpAddr, cfg: &FtpHandler) -> bool {
        ip == self.client || (self.proxy.is_some() && !cfg.proxy_data && cfg.is_trusted_proxy(ip))
    }
}

/// Where a connection goes once its header is read.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// A control connection of the acceptor at this link.
    Control {
        acceptor: Link,
        implicit_tls: bool,
        /// A missing header means plain FTP (optional mode).
        optional: bool,
    },
    /// A data connection accepted by the passive listener at this link.
    Data { to: Link },
}

/// A connection whose PROXY header is still being read.
pub(crate) struct HeaderReader {
    sock: Option<TcpStream>,
    peer: SocketAddr,
    purpose: Purpose,
    timer: Option<CallLater>,
    /// This reader in the loop.
    me: Link,
    /// Optional mode, nothing received yet: the grace timer runs.
    grace: bool,
    /// The header timeout left after the grace.
    rest: Option<Duration>,
}

/// Start reading the header of `sock` (from the trusted proxy `peer`).
pub(crate) fn start(
    core: &mut Core,
    mut sock: TcpStream,
    peer: SocketAddr,
    cfg: &Rc<FtpHandler>,
    purpose: Purpose,
) {
    let timeout = cfg.proxy_header_timeout;
    let grace = matches!(purpose, Purpose::Control { optional: true, .. });
    // The proxy often sends its header with the connection: take it now,
    // without a round through the loop.
    match look(&mut sock, grace) {
        Step::Done(addresses) => return hand_over(core, sock, peer, purpose, addresses),
        Step::Plain => return hand_over(core, sock, peer, purpose, None),
        Step::Refuse(why) => {
            log::warn!(target: LOG, "{peer}: {why}; connection closed.");
            return;
        }
        Step::Empty | Step::Wait => {}
    }
    let made = core.insert_with(|me, core| {
        core.registry()
            .register(&mut sock, me.token(), Interest::READABLE)?;
        let first = match (grace, timeout.is_zero()) {
            (true, true) => OPTIONAL_GRACE,
            (true, false) => OPTIONAL_GRACE.min(timeout),
            (false, _) => timeout,
        };
        let timer = (!first.is_zero()).then(|| core.timer(first, me, Timer::ProxyHeader));
        let rest = timeout.saturating_sub(first);
        Ok(Dispatcher::Header(Box::new(HeaderReader {
            sock: Some(sock),
            peer,
            purpose,
            timer,
            me,
            grace,
            rest: (!rest.is_zero()).then_some(rest),
        })))
    });
    match made {
        Ok(_) => core.shared.proxy_headers += 1,
        Err(e) => log::error!(target: LOG, "cannot read the PROXY header of {peer}: {e}"),
    }
}

/// What peeking found.
enum Step {
    /// Nothing yet.
    Empty,
    /// Part of a header.
    Wait,
    Done(Option<(SocketAddr, SocketAddr)>),
    Plain,
    Refuse(String),
}

impl HeaderReader {
    /// Bytes arrived (or the peer went away): look at them.
    pub fn on_ready(&mut self, ready: Ready, core: &mut Core) -> Status {
        if ready.closed {
            return Status::Remove;
        }
        match self.look() {
            Step::Empty | Step::Wait => Status::Keep,
            Step::Done(addresses) => self.hand_over(addresses, core),
            Step::Plain => self.hand_over(None, core),
            Step::Refuse(why) => {
                log::warn!(target: LOG, "{}: {why}; connection closed.", self.peer);
                Status::Remove
            }
        }
    }

    /// Peek at what the socket holds and parse it; consume the header.
    fn look(&mut self) -> Step {
        let optional = self.optional();
        let Some(sock) = self.sock.as_mut() else {
            return Step::Refuse("no socket".into());
        };
        let step = look(sock, optional);
        if !matches!(step, Step::Empty) {
            // Something arrived: from now on the whole timeout applies.
            self.grace = false;
        }
        step
    }

    fn optional(&self) -> bool {
        matches!(self.purpose, Purpose::Control { optional: true, .. })
    }

    /// Give the socket, now at the first byte after the header, to whoever
    /// serves it.
    fn hand_over(
        &mut self,
        addresses: Option<(SocketAddr, SocketAddr)>,
        core: &mut Core,
    ) -> Status {
        if let Some(mut stream) = self.sock.take() {
            let _ = core.registry().deregister(&mut stream);
            hand_over(core, stream, self.peer, self.purpose, addresses);
        }
        Status::Remove
    }

    /// The grace or the header timeout ran out.
    pub fn on_timer(&mut self, timer: Timer, core: &mut Core) -> Status {
        if timer != Timer::ProxyHeader {
            return Status::Keep;
        }
        self.timer = None;
        if self.grace {
            // A last look, in case bytes came in with this round.
            match self.look() {
                Step::Empty => {
                    // Optional mode and not a byte: a plain FTP client.
                    return self.hand_over(None, core);
                }
                Step::Wait => {}
                Step::Done(addresses) => return self.hand_over(addresses, core),
                Step::Plain => return self.hand_over(None, core),
                Step::Refuse(why) => {
                    log::warn!(target: LOG, "{}: {why}; connection closed.", self.peer);
                    return Status::Remove;
                }
            }
        }
        if let Some(rest) = self.rest.take() {
            // The grace ended with part of a header in: wait out the rest.
            self.timer = Some(core.timer(rest, self.me, Timer::ProxyHeader));
            return Status::Keep;
        }
        log::warn!(
            target: LOG,
            "{}: PROXY header timed out; connection closed.",
            self.peer
        );
        Status::Remove
    }

    /// Deregister and cancel the timer.
    pub fn close(&mut self, core: &mut Core) {
        core.shared.proxy_headers = core.shared.proxy_headers.saturating_sub(1);
        if let Some(t) = self.timer.take() {
            t.cancel();
        }
        if let Some(mut s) = self.sock.take() {
            let _ = core.registry().deregister(&mut s);
        }
    }
}

/// Give `stream` (from `peer`, now at the first byte after its header) to
/// whoever serves it.
fn hand_over(
    core: &mut Core,
    stream: TcpStream,
    peer: SocketAddr,
    purpose: Purpose,
    addresses: Option<(SocketAddr, SocketAddr)>,
) {
    let client = match addresses {
        Some((src, _)) => SocketAddr::new(src.ip().to_canonical(), src.port()),
        None => peer,
    };
    match purpose {
        Purpose::Control {
            acceptor,
            implicit_tls,
            ..
        } => {
            // A plain connection (optional mode) or a LOCAL header is the
            // trusted peer's own: no client behind it.
            let via = addresses.map(|(_, dst)| Via {
                proxy: peer,
                destination: Some(dst),
            });
            core.notify(
                acceptor,
                Notice::HeaderRead {
                    stream,
                    client,
                    via,
                    implicit_tls,
                },
            );
        }
        Purpose::Data { to } => core.notify(
            to,
            Notice::DataArrived {
                stream,
                from: peer,
                client: client.ip(),
            },
        ),
    }
}

/// Peek at what `sock` holds and parse it; consume the header if complete.
/// `Empty` when nothing has arrived yet.
fn look(sock: &mut TcpStream, optional: bool) -> Step {
    let mut buf = [0u8; MAX_HEADER];
    let n = loop {
        match sock.peek(&mut buf) {
            Ok(0) => return Step::Refuse("closed before its PROXY header".into()),
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Step::Empty,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Step::Refuse(format!("read error: {e}")),
        }
    };
    match proxy_protocol::parse(&buf[..n]) {
        Ok(Parsed::Incomplete) => Step::Wait,
        Ok(Parsed::NotProxy) if optional => Step::Plain,
        Ok(Parsed::NotProxy) => Step::Refuse("no PROXY header".into()),
        Ok(Parsed::Header { header, len }) => match consume(sock, len) {
            Ok(()) => Step::Done(header.addresses),
            Err(e) => Step::Refuse(format!("read error: {e}")),
        },
        Err(e) => Step::Refuse(e.to_string()),
    }
}

/// Read exactly `len` bytes (already peeked, so in the socket).
fn consume(sock: &mut TcpStream, len: usize) -> io::Result<()> {
    let mut left = len;
    let mut buf = [0u8; MAX_HEADER];
    while left > 0 {
        match sock.read(&mut buf[..left]) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => left -= n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
