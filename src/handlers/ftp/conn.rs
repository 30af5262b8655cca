//! A socket that may carry TLS: the one door through which control and data
//! channels read and write, so that TLS (the `tls` feature) wraps both
//! without the protocol code knowing.
//!
//! With TLS, rustls may hold decrypted plaintext, or ciphertext still to
//! send, that epoll will never announce (STYLE.md pitfalls): `read` keeps
//! draining rustls before it reports `WouldBlock`, and `flush_tls` must be
//! called whenever the socket is writable while `tls_pending()` is true.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};

use mio::net::TcpStream;

#[cfg(feature = "tls")]
type Tls = rustls::ServerConnection;
/// Without the `tls` feature a connection can never be TLS.
#[cfg(not(feature = "tls"))]
enum Tls {}

/// The TLS configuration for a new connection, `None` for plain. Without
/// the `tls` feature it can only be `None`.
#[cfg(feature = "tls")]
pub(crate) type TlsConfig = Option<std::sync::Arc<rustls::ServerConfig>>;
/// The TLS configuration for a new connection (always `None` here).
#[cfg(not(feature = "tls"))]
pub(crate) type TlsConfig = Option<NoTls>;

/// Uninhabited: there is no TLS configuration without the `tls` feature.
#[cfg(not(feature = "tls"))]
#[derive(Clone)]
pub(crate) enum NoTls {}

/// A TCP stream, plain or TLS.
pub(crate) struct Conn {
    pub sock: TcpStream,
    tls: Option<Box<Tls>>,
}

impl Conn {
    /// A plain connection.
    pub fn plain(sock: TcpStream) -> Conn {
        Conn { sock, tls: None }
    }

    /// A connection that starts TLS at once when `tls` is set.
    pub fn with_tls(sock: TcpStream, tls: TlsConfig) -> io::Result<Conn> {
        #[cfg_attr(not(feature = "tls"), allow(unused_mut))]
        let mut conn = Conn::plain(sock);
        match tls {
            None => {}
            #[cfg(feature = "tls")]
            Some(config) => conn.start_tls(config)?,
            #[cfg(not(feature = "tls"))]
            Some(never) => match never {},
        }
        Ok(conn)
    }

    /// Start the server side of a TLS handshake on this connection.
    #[cfg(feature = "tls")]
    pub fn start_tls(&mut self, config: std::sync::Arc<rustls::ServerConfig>) -> io::Result<()> {
        let conn = rustls::ServerConnection::new(config).map_err(io::Error::other)?;
        // From now on an urgent byte (a Telnet Synch) must not land inside
        // the TLS records: the kernel keeps it out of band, unread.
        crate::sys::set_oobinline(self.sock.as_raw_fd(), false)?;
        self.tls = Some(Box::new(conn));
        Ok(())
    }

    /// Whether TLS is on.
    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The descriptor for sendfile(2): only for plain connections.
    pub fn plain_fd(&self) -> Option<RawFd> {
        match self.tls {
            None => Some(self.sock.as_raw_fd()),
            Some(_) => None,
        }
    }

    /// Read plaintext. `Ok(0)` is the end of the stream (TLS close_notify,
    /// or EOF on a plain socket).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            None => self.sock.read(buf),
            #[cfg(feature = "tls")]
            Some(tls) => tls_read(tls, &mut self.sock, buf),
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Write plaintext; with TLS it is encrypted and sent as far as the
    /// socket takes it, the rest waits for [`flush_tls`](Self::flush_tls).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.tls.as_deref_mut() {
            None => self.sock.write(buf),
            #[cfg(feature = "tls")]
            Some(tls) => {
                let n = tls.writer().write(buf)?;
                match tls_flush(tls, &mut self.sock) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock && n > 0 => {}
                    Err(e) => return Err(e),
                }
                Ok(n)
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Send the ciphertext rustls holds; `WouldBlock` if the socket is full.
    pub fn flush_tls(&mut self) -> io::Result<()> {
        match self.tls.as_deref_mut() {
            None => Ok(()),
            #[cfg(feature = "tls")]
            Some(tls) => tls_flush(tls, &mut self.sock),
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Whether ciphertext waits to be sent.
    pub fn tls_pending(&self) -> bool {
        match self.tls.as_deref() {
            None => false,
            #[cfg(feature = "tls")]
            Some(tls) => tls.wants_write(),
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Whether a TLS handshake is still running.
    pub fn handshaking(&self) -> bool {
        match self.tls.as_deref() {
            None => false,
            #[cfg(feature = "tls")]
            Some(tls) => tls.is_handshaking(),
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Move a TLS handshake forward: `Ok(true)` once it is complete.
    pub fn drive_handshake(&mut self) -> io::Result<bool> {
        match self.tls.as_deref_mut() {
            None => Ok(true),
            #[cfg(feature = "tls")]
            Some(tls) => {
                while tls.is_handshaking() {
                    tls_flush_ok(tls, &mut self.sock)?;
                    if !tls.is_handshaking() {
                        break;
                    }
                    match tls.read_tls(&mut self.sock) {
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(_) => process(tls, &mut self.sock)?,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                tls_flush_ok(tls, &mut self.sock)?;
                Ok(true)
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Whether the completed TLS handshake resumed an earlier session.
    pub fn resumed(&self) -> bool {
        match self.tls.as_deref() {
            None => false,
            #[cfg(feature = "tls")]
            Some(tls) => tls.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Queue a TLS close_notify and try to send it.
    pub fn close_notify(&mut self) {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = tls_flush(tls, &mut self.sock);
        }
    }
}

#[cfg(feature = "tls")]
fn tls_read(tls: &mut Tls, sock: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match tls.reader().read(buf) {
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        match tls.read_tls(sock) {
            // EOF: the next reader().read() says whether it was clean.
            Ok(0) => {
                if let Err(e) = tls.process_new_packets() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                }
                return match tls.reader().read(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        Err(io::ErrorKind::UnexpectedEof.into())
                    }
                    other => other,
                };
            }
            Ok(_) => process(tls, sock)?,
            Err(e) => return Err(e),
        }
    }
}

/// Process received records; on a TLS error, send the alert and fail.
#[cfg(feature = "tls")]
fn process(tls: &mut Tls, sock: &mut TcpStream) -> io::Result<()> {
    if let Err(e) = tls.process_new_packets() {
        let _ = tls.write_tls(sock);
        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
    }
    // Handshake messages and tickets go out as soon as they exist.
    tls_flush_ok(tls, sock)
}

#[cfg(feature = "tls")]
fn tls_flush(tls: &mut Tls, sock: &mut TcpStream) -> io::Result<()> {
    while tls.wants_write() {
        match tls.write_tls(sock) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Flush, treating a full socket as fine (the rest goes on writability).
#[cfg(feature = "tls")]
fn tls_flush_ok(tls: &mut Tls, sock: &mut TcpStream) -> io::Result<()> {
    match tls_flush(tls, sock) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        other => other,
    }
}
