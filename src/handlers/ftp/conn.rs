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
    /// CCC: the TLS layer is being taken down (our close_notify is queued);
    /// holds the bytes read meanwhile that rustls has not been given.
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    clearing: Option<Vec<u8>>,
    /// Clear text read past the end of TLS (after CCC), not yet returned.
    plain_in: Vec<u8>,
    /// After CCC: TLS input is over, but our close_notify still waits for
    /// room in the socket; reads are clear text already.
    draining: bool,
    /// Data connections: TLS 1.3 output produced once the handshake is
    /// complete (the session ticket) stays in rustls until
    /// [`release_tls_output`](Self::release_tls_output). See
    /// [`hold_tls_output`](Self::hold_tls_output).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    held: bool,
}

impl Conn {
    /// A plain connection.
    pub fn plain(sock: TcpStream) -> Conn {
        Conn {
            sock,
            tls: None,
            clearing: None,
            plain_in: Vec::new(),
            draining: false,
            held: false,
        }
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
        #[cfg(feature = "tls")]
        if self.clearing.is_some() {
            self.read_while_clearing()?;
        }
        if !self.plain_in.is_empty() {
            let n = buf.len().min(self.plain_in.len());
            buf[..n].copy_from_slice(&self.plain_in[..n]);
            self.plain_in.drain(..n);
            return Ok(n);
        }
        if self.draining {
            return self.sock.read(buf);
        }
        match self.tls.as_deref_mut() {
            None => self.sock.read(buf),
            #[cfg(feature = "tls")]
            Some(tls) => tls_read(tls, &mut self.sock, buf, self.held),
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Write plaintext; with TLS it is encrypted and sent as far as the
    /// socket takes it, the rest waits for [`flush_tls`](Self::flush_tls).
    pub fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        #[cfg(feature = "tls")]
        if self.clearing.is_some() || self.draining {
            // After CCC: our close_notify goes first, then clear text.
            self.flush_tls()?;
            return self.sock.write(buf);
        }
        match self.tls.as_deref_mut() {
            None => self.sock.write(buf),
            #[cfg(feature = "tls")]
            Some(tls) => {
                let n = tls.writer().write(buf)?;
                match tls_flush(tls, &mut self.sock, self.held) {
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
            Some(tls) => {
                tls_flush(tls, &mut self.sock, self.held)?;
                if self.draining {
                    // CCC is complete: the close_notify is out.
                    self.draining = false;
                    self.tls = None;
                }
                Ok(())
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Whether ciphertext waits to be sent.
    pub fn tls_pending(&self) -> bool {
        match self.tls.as_deref() {
            None => false,
            #[cfg(feature = "tls")]
            Some(tls) => tls.wants_write() && !withheld(tls, self.held),
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// Keep the TLS 1.3 output that follows the handshake (the session
    /// ticket a data connection issues) in rustls, unsent, until
    /// [`release_tls_output`](Self::release_tls_output); the handshake
    /// itself goes out as usual. A data connection that carries an upload
    /// is never read by many clients: bytes sent to it before the upload's
    /// end has arrived make the client's kernel reset the connection when
    /// it closes, and the reset discards the upload's tail. TLS 1.2 is not
    /// held: its ticket is part of the handshake.
    pub fn hold_tls_output(&mut self) {
        self.held = true;
    }

    /// Let held TLS output go with the next flush.
    pub fn release_tls_output(&mut self) {
        self.held = false;
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
                    tls_flush_ok(tls, &mut self.sock, self.held)?;
                    if !tls.is_handshaking() {
                        break;
                    }
                    match tls.read_tls(&mut self.sock) {
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(_) => process(tls, &mut self.sock, self.held)?,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                tls_flush_ok(tls, &mut self.sock, self.held)?;
                Ok(true)
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// The TLS version the handshake chose; `None` before, or without TLS.
    #[cfg(feature = "tls")]
    pub fn tls_version(&self) -> Option<rustls::ProtocolVersion> {
        self.tls.as_deref().and_then(|t| t.protocol_version())
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

    /// The server name the client asked for (SNI) and its certificate
    /// (DER), once the TLS handshake is complete; `None` before, and on a
    /// plain connection.
    pub fn tls_peer(&self) -> Option<(Option<String>, Option<Vec<u8>>)> {
        match self.tls.as_deref() {
            None => None,
            #[cfg(feature = "tls")]
            Some(tls) if tls.is_handshaking() => None,
            #[cfg(feature = "tls")]
            Some(tls) => {
                let name = tls.server_name().map(|n| n.to_ascii_lowercase());
                let cert = tls
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.as_ref().to_vec());
                Some((name, cert))
            }
            #[cfg(not(feature = "tls"))]
            Some(never) => match *never {},
        }
    }

    /// CCC (RFC 4217 §6): end TLS on this connection and go on in clear
    /// text. Our close_notify is queued at once (after the replies already
    /// written); the client's close_notify, if it sends one, is read and
    /// whatever follows it is clear text. A client that sends none (curl's
    /// default "passive" CCC) goes straight on in clear text, which cannot
    /// be mistaken for a TLS record: a record starts with a content type
    /// byte of 20 to 24, a command with a letter.
    #[cfg(feature = "tls")]
    pub fn begin_clear(&mut self) {
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = tls_flush(tls, &mut self.sock, false);
            self.clearing = Some(Vec::new());
        }
    }

    /// Move the CCC shutdown forward: feed the client's TLS records to
    /// rustls one at a time (so no clear text is swallowed with them)
    /// until its close_notify, or until clear text shows up.
    #[cfg(feature = "tls")]
    fn read_while_clearing(&mut self) -> io::Result<()> {
        let (Some(tls), Some(pending)) = (self.tls.as_deref_mut(), self.clearing.as_mut()) else {
            return Ok(());
        };
        // Records rustls had already read (sent with or before CCC).
        if let Ok(state) = tls.process_new_packets() {
            let mut sink = [0u8; 512];
            while matches!(tls.reader().read(&mut sink), Ok(n) if n > 0) {}
            if state.peer_has_closed() {
                return self.finish_clearing();
            }
        }
        loop {
            match record_len(pending) {
                Record::Clear => return self.finish_clearing(),
                Record::Complete(len) => {
                    let mut record = &pending[..len];
                    while !record.is_empty() {
                        if tls.read_tls(&mut record)? == 0 {
                            return Err(io::ErrorKind::InvalidData.into());
                        }
                    }
                    pending.drain(..len);
                    let state = tls
                        .process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    let mut sink = [0u8; 512];
                    while matches!(tls.reader().read(&mut sink), Ok(n) if n > 0) {}
                    if state.peer_has_closed() {
                        return self.finish_clearing();
                    }
                }
                Record::Partial => {
                    let mut chunk = [0u8; 4096];
                    match self.sock.read(&mut chunk) {
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(n) => pending.extend_from_slice(&chunk[..n]),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }

    /// TLS input is over: what was read past it is clear text. Our own
    /// close_notify is flushed before the next clear-text write.
    #[cfg(feature = "tls")]
    fn finish_clearing(&mut self) -> io::Result<()> {
        if let Some(rest) = self.clearing.take() {
            self.plain_in.extend_from_slice(&rest);
        }
        self.draining = true;
        match self.flush_tls() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            other => other,
        }
    }

    /// Queue a TLS close_notify and try to send it, after any held output
    /// (which it releases).
    pub fn close_notify(&mut self) {
        self.held = false;
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls.as_deref_mut() {
            tls.send_close_notify();
            let _ = tls_flush(tls, &mut self.sock, false);
        }
    }
}

/// Where the next TLS record in `bytes` ends.
#[cfg(feature = "tls")]
enum Record {
    /// Not a TLS record: clear text.
    Clear,
    /// Its header or body has not fully arrived.
    Partial,
    /// It is this many bytes long, header included.
    Complete(usize),
}

#[cfg(feature = "tls")]
fn record_len(bytes: &[u8]) -> Record {
    match bytes.first() {
        None => return Record::Partial,
        Some(20..=24) => {}
        Some(_) => return Record::Clear,
    }
    let Some(header) = bytes.get(..5) else {
        return Record::Partial;
    };
    let len = 5 + usize::from(u16::from_be_bytes([header[3], header[4]]));
    if bytes.len() < len {
        Record::Partial
    } else {
        Record::Complete(len)
    }
}

#[cfg(feature = "tls")]
fn tls_read(tls: &mut Tls, sock: &mut TcpStream, buf: &mut [u8], held: bool) -> io::Result<usize> {
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
            Ok(_) => process(tls, sock, held)?,
            Err(e) => return Err(e),
        }
    }
}

/// Process received records; on a TLS error, send the alert and fail.
#[cfg(feature = "tls")]
fn process(tls: &mut Tls, sock: &mut TcpStream, held: bool) -> io::Result<()> {
    if let Err(e) = tls.process_new_packets() {
        let _ = tls.write_tls(sock);
        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
    }
    // Handshake messages go out as soon as they exist; so do tickets,
    // unless they are held (`Conn::hold_tls_output`).
    tls_flush_ok(tls, sock, held)
}

/// Whether what rustls has to send now is held back: output after a
/// complete TLS 1.3 handshake on a connection that holds it.
#[cfg(feature = "tls")]
fn withheld(tls: &Tls, held: bool) -> bool {
    held && !tls.is_handshaking()
        && tls.protocol_version() == Some(rustls::ProtocolVersion::TLSv1_3)
}

#[cfg(feature = "tls")]
fn tls_flush(tls: &mut Tls, sock: &mut TcpStream, held: bool) -> io::Result<()> {
    if withheld(tls, held) {
        return Ok(());
    }
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
fn tls_flush_ok(tls: &mut Tls, sock: &mut TcpStream, held: bool) -> io::Result<()> {
    match tls_flush(tls, sock, held) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        other => other,
    }
}
