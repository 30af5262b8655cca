//! The metrics and health endpoint: a tiny HTTP/1.x responder served by
//! the FTP server's own event loop (ftpdlib extension).
//!
//! `GET /metrics` answers the loop's [`Metrics`](super::metrics::Metrics)
//! in the Prometheus text format; `GET /health` answers `200 ok` while the
//! loop serves (HAProxy `option httpchk GET /health`). One request per
//! connection, then the server closes it. Bounded on every side so that a
//! client can never stall or bloat the loop: the request head is at most
//! [`MAX_REQUEST`] bytes, the whole exchange at most [`DEADLINE`], at most
//! [`MAX_CLIENTS`] exchanges at once (more are closed at accept); reads and
//! writes are non-blocking and drained to `WouldBlock`.

use std::io::{self, Read, Write};
use std::time::Duration;

use mio::net::{TcpListener, TcpStream};
use mio::Interest;

use super::dispatch::{Core, Dispatcher, Timer};
use crate::ioloop::{CallLater, Link, Ready, Status};
use crate::log::LOGERROR;

/// Largest request head read (request line and headers).
pub(crate) const MAX_REQUEST: usize = 8192;
/// Longest a metrics connection may stay open.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);
/// Most metrics connections open at once.
pub(crate) const MAX_CLIENTS: usize = 16;

/// A metrics socket in the loop: the listener or one exchange.
pub(crate) enum MetricsEndpoint {
    /// The listening socket.
    Listener(MetricsListener),
    /// One request/response exchange.
    Client(MetricsClient),
}

/// The listening socket of the endpoint.
pub(crate) struct MetricsListener {
    listener: TcpListener,
}

/// One connection: read the request head, write the answer, close.
pub(crate) struct MetricsClient {
    sock: TcpStream,
    me: Link,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    sent: usize,
    readable: bool,
    writable: bool,
    deadline: Option<CallLater>,
}

/// What a request head asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// The head is not complete yet.
    Incomplete,
    /// A complete request: whether only the head is wanted (HEAD), the path.
    Request { head_only: bool, path: String },
    /// A method other than GET and HEAD.
    BadMethod,
    /// Not HTTP.
    Bad,
}

impl MetricsEndpoint {
    /// A listening socket for the endpoint, registered under `me`.
    pub fn listen(
        listener: std::net::TcpListener,
        me: Link,
        core: &mut Core,
    ) -> io::Result<MetricsEndpoint> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        core.registry()
            .register(&mut listener, me.token(), Interest::READABLE)?;
        Ok(MetricsEndpoint::Listener(MetricsListener { listener }))
    }

    /// A duplicate of the listening socket (for a forked worker).
    pub fn listener_copy(&self) -> io::Result<std::net::TcpListener> {
        use std::os::fd::AsFd;
        match self {
            MetricsEndpoint::Listener(l) => Ok(std::net::TcpListener::from(
                l.listener.as_fd().try_clone_to_owned()?,
            )),
            MetricsEndpoint::Client(_) => Err(io::Error::other("not a listener")),
        }
    }

    /// Its address, for the log.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        match self {
            MetricsEndpoint::Listener(l) => l.listener.local_addr(),
            MetricsEndpoint::Client(c) => c.sock.local_addr(),
        }
    }

    /// Readiness changed.
    pub fn on_ready(&mut self, ready: Ready, core: &mut Core) -> Status {
        match self {
            MetricsEndpoint::Listener(l) => l.accept_all(core),
            MetricsEndpoint::Client(c) => {
                c.readable |= ready.readable;
                c.writable |= ready.writable;
                if ready.closed {
                    return Status::Remove;
                }
                c.pump(core)
            }
        }
    }

    /// The exchange took longer than [`DEADLINE`].
    pub fn on_timer(&mut self, timer: Timer) -> Status {
        match (self, timer) {
            (MetricsEndpoint::Client(c), Timer::MetricsDeadline) => {
                c.deadline = None;
                Status::Remove
            }
            _ => Status::Keep,
        }
    }

    /// Deregister, cancel the deadline.
    pub fn close(&mut self, core: &mut Core) {
        match self {
            MetricsEndpoint::Listener(l) => {
                let _ = core.registry().deregister(&mut l.listener);
            }
            MetricsEndpoint::Client(c) => {
                if let Some(t) = c.deadline.take() {
                    t.cancel();
                }
                let _ = core.registry().deregister(&mut c.sock);
                core.shared.metrics_clients = core.shared.metrics_clients.saturating_sub(1);
            }
        }
    }
}

impl MetricsListener {
    fn accept_all(&mut self, core: &mut Core) -> Status {
        loop {
            match self.listener.accept() {
                Ok((sock, _)) => {
                    if core.shared.metrics_clients >= MAX_CLIENTS {
                        continue; // dropped: closed at once
                    }
                    let opened = core.insert_with(|me, core| {
                        MetricsClient::open(sock, me, core)
                            .map(|c| Dispatcher::Metrics(Box::new(MetricsEndpoint::Client(c))))
                    });
                    match opened {
                        Ok(_) => core.shared.metrics_clients += 1,
                        Err(e) => log::error!(target: LOGERROR, "metrics connection: {e}"),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Status::Keep,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    log::error!(target: LOGERROR, "metrics accept() failed: {e}");
                    return Status::Keep;
                }
            }
        }
    }
}

impl MetricsClient {
    fn open(mut sock: TcpStream, me: Link, core: &mut Core) -> io::Result<MetricsClient> {
        core.register(&mut sock, me.token())?;
        let deadline = Some(core.timer(DEADLINE, me, Timer::MetricsDeadline));
        Ok(MetricsClient {
            sock,
            me,
            inbuf: Vec::new(),
            out: Vec::new(),
            sent: 0,
            readable: false,
            writable: false,
            deadline,
        })
    }

    /// Read the head, answer, write; `Remove` once all is sent or the
    /// peer is gone.
    fn pump(&mut self, core: &mut Core) -> Status {
        if self.out.is_empty() {
            match self.read_head() {
                Ok(Some(parsed)) => self.out = respond(parsed, core),
                Ok(None) => return Status::Keep,
                Err(_) => return Status::Remove,
            }
        }
        while self.writable && self.sent < self.out.len() {
            match self.sock.write(&self.out[self.sent..]) {
                Ok(0) => return Status::Remove,
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.writable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Status::Remove,
            }
        }
        if self.sent < self.out.len() {
            return Status::Keep;
        }
        let _ = self.sock.shutdown(std::net::Shutdown::Write);
        log::trace!(target: crate::log::LOG, "metrics exchange {:?} done", self.me);
        Status::Remove
    }

    /// Read until the head is complete: `Some` with what it asks (an
    /// oversized head is a bad request), `None` for more to come, an error
    /// at EOF or on a socket error.
    fn read_head(&mut self) -> io::Result<Option<Parsed>> {
        let mut buf = [0u8; 1024];
        while self.readable {
            match self.sock.read(&mut buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.inbuf.extend_from_slice(&buf[..n]);
                    match parse(&self.inbuf) {
                        Parsed::Incomplete if self.inbuf.len() > MAX_REQUEST => {
                            return Ok(Some(Parsed::Bad))
                        }
                        Parsed::Incomplete => {}
                        done => return Ok(Some(done)),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}

/// The PROXY protocol v2 signature.
const PROXY_V2: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// Longest PROXY protocol v1 line.
const PROXY_V1_MAX: usize = 107;

/// Parse an HTTP/1.x request head (request line, headers ignored). A
/// PROXY protocol header (v1 or v2) in front is skipped, unread: HAProxy
/// sends one on its health checks with `check-send-proxy`, and the
/// endpoint's answers do not depend on who asks.
pub(crate) fn parse(buf: &[u8]) -> Parsed {
    match proxy_header_len(buf) {
        ProxyHeader::None => parse_http(buf),
        ProxyHeader::Incomplete => Parsed::Incomplete,
        ProxyHeader::Bad => Parsed::Bad,
        ProxyHeader::Len(n) => parse_http(&buf[n..]),
    }
}

/// What a PROXY protocol header at the start of a request looks like.
enum ProxyHeader {
    None,
    Incomplete,
    Bad,
    Len(usize),
}

fn proxy_header_len(buf: &[u8]) -> ProxyHeader {
    let v1 = b"PROXY ";
    if buf.len() < v1.len() && v1.starts_with(buf) {
        return ProxyHeader::Incomplete;
    }
    if buf.starts_with(v1) {
        return match buf.iter().take(PROXY_V1_MAX + 1).position(|&b| b == b'\n') {
            Some(i) => ProxyHeader::Len(i + 1),
            None if buf.len() > PROXY_V1_MAX => ProxyHeader::Bad,
            None => ProxyHeader::Incomplete,
        };
    }
    let sig = buf.len().min(PROXY_V2.len());
    if sig < 4 || buf[..sig] != PROXY_V2[..sig] {
        // Not a v2 header (a prefix under 4 bytes of one is "\r\n\r\n"'s,
        // which no request starts with either).
        return if sig > 0 && buf[..sig] == PROXY_V2[..sig] {
            ProxyHeader::Incomplete
        } else {
            ProxyHeader::None
        };
    }
    if buf.len() < 16 {
        return ProxyHeader::Incomplete;
    }
    let len = 16 + usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if buf.len() < len {
        ProxyHeader::Incomplete
    } else {
        ProxyHeader::Len(len)
    }
}

fn parse_http(buf: &[u8]) -> Parsed {
    let end = find(buf, b"\r\n\r\n").or_else(|| find(buf, b"\n\n"));
    let line_end = buf.iter().position(|&b| b == b'\n');
    let (Some(_), Some(line_end)) = (end, line_end) else {
        // A first line that is plainly not HTTP need not wait for more.
        return match line_end {
            Some(i) if !request_line_ok(&buf[..i]) => Parsed::Bad,
            _ => Parsed::Incomplete,
        };
    };
    let line = &buf[..line_end];
    if !request_line_ok(line) {
        return Parsed::Bad;
    }
    let line = String::from_utf8_lossy(line);
    let mut words = line.trim_end().split(' ');
    let (Some(method), Some(target)) = (words.next(), words.next()) else {
        return Parsed::Bad;
    };
    let path = target.split('?').next().unwrap_or("").to_string();
    match method {
        "GET" => Parsed::Request {
            head_only: false,
            path,
        },
        "HEAD" => Parsed::Request {
            head_only: true,
            path,
        },
        _ => Parsed::BadMethod,
    }
}

/// `METHOD TARGET HTTP/1.x`.
fn request_line_ok(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Ok(line) = std::str::from_utf8(line) else {
        return false;
    };
    let words: Vec<&str> = line.split(' ').collect();
    words.len() == 3
        && !words[0].is_empty()
        && words[0].bytes().all(|b| b.is_ascii_uppercase())
        && words[1].starts_with('/')
        && words[2].starts_with("HTTP/1.")
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The whole response to `parsed`.
fn respond(parsed: Parsed, core: &mut Core) -> Vec<u8> {
    const TEXT: &str = "text/plain; charset=utf-8";
    let (status, content_type, body, head_only) = match parsed {
        Parsed::Request { head_only, path } => match path.as_str() {
            "/metrics" => {
                let body = core.shared.metrics.render();
                let kind = "text/plain; version=0.0.4; charset=utf-8";
                ("200 OK", kind, body, head_only)
            }
            "/health" | "/healthz" => ("200 OK", TEXT, "ok\n".to_string(), head_only),
            _ => ("404 Not Found", TEXT, "not found\n".to_string(), head_only),
        },
        Parsed::BadMethod => (
            "405 Method Not Allowed",
            TEXT,
            "GET or HEAD\n".into(),
            false,
        ),
        Parsed::Bad | Parsed::Incomplete => {
            ("400 Bad Request", TEXT, "bad request\n".into(), false)
        }
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n",
        body.len()
    );
    if status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(&body);
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_get_is_complete_at_the_blank_line_at_every_split() {
        let req = b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        for cut in 0..req.len() {
            assert_eq!(parse(&req[..cut]), Parsed::Incomplete, "cut at {cut}");
        }
        assert_eq!(
            parse(req),
            Parsed::Request {
                head_only: false,
                path: "/metrics".into()
            }
        );
        assert_eq!(
            parse(b"HEAD /health HTTP/1.0\n\n"),
            Parsed::Request {
                head_only: true,
                path: "/health".into()
            }
        );
    }

    #[test]
    fn a_proxy_header_in_front_is_skipped_at_every_split() {
        let get = b"GET /health HTTP/1.0\r\n\r\n";
        let mut v1 = b"PROXY TCP4 10.0.0.1 10.0.0.2 5555 9121\r\n".to_vec();
        v1.extend_from_slice(get);
        let mut v2 = PROXY_V2.to_vec();
        v2.extend_from_slice(&[0x21, 0x11, 0, 12]);
        v2.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2, 0x15, 0xb3, 0x23, 0xa1]);
        v2.extend_from_slice(get);
        let health = Parsed::Request {
            head_only: false,
            path: "/health".into(),
        };
        for req in [&v1, &v2] {
            for cut in 0..req.len() {
                assert_eq!(parse(&req[..cut]), Parsed::Incomplete, "cut at {cut}");
            }
            assert_eq!(parse(req), health);
        }
        let long = format!("PROXY {}\r\n", "1".repeat(200));
        assert_eq!(parse(long.as_bytes()), Parsed::Bad);
    }

    #[test]
    fn other_methods_and_garbage_are_refused() {
        assert_eq!(parse(b"POST /metrics HTTP/1.1\r\n\r\n"), Parsed::BadMethod);
        assert_eq!(parse(b"USER anonymous\r\n"), Parsed::Bad);
        assert_eq!(parse(b"\x16\x03\x01\x00\n\n"), Parsed::Bad);
        assert_eq!(parse(b"GET metrics HTTP/1.1\r\n\r\n"), Parsed::Bad);
    }
}
