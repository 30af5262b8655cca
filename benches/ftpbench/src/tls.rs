//! FTPS for the blocking client (`--tls`): explicit TLS (`AUTH TLS`) with
//! rustls and the `ring` provider.
//!
//! One `Arc<ClientConfig>` is shared by every connection of a run. Its
//! default in-memory session cache keeps the tickets (TLS 1.3) or session
//! (TLS 1.2) of the control connection, so every data connection resumes
//! that session without more code: servers that require resumption on data
//! connections (vsftpd's `require_ssl_reuse`, ftpdlib's default) accept
//! them.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme, StreamOwned};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::Arc;

/// Accepts any server certificate. ftpbench only loads servers on loopback
/// (checked in `parse_args`), and a benchmark runs against a self-signed
/// test certificate: there is nothing to authenticate. The handshake
/// signatures are still verified against the presented key, so the key
/// exchange and the cost of the handshake are those of a real client.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The client configuration of a run: TLS 1.2 and 1.3, ALPN `ftp`, any
/// certificate (see [`AnyCertificate`]). With `resume`, the default
/// in-memory session cache: every connection made with this configuration
/// offers the tickets (TLS 1.3) or session ID (TLS 1.2) that earlier ones
/// received. Without it, no session is stored or offered: every handshake
/// is a full one (the data connections of retr/stor need `resume`).
pub fn client_config(resume: bool) -> io::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"ftp".to_vec()];
    if !resume {
        cfg.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(cfg))
}

pub type TlsStream = StreamOwned<ClientConnection, TcpStream>;

/// TLS handshake as the client on a connected socket (its timeouts apply).
pub fn handshake(
    cfg: &Arc<ClientConfig>,
    peer: IpAddr,
    mut tcp: TcpStream,
) -> io::Result<TlsStream> {
    let mut conn =
        ClientConnection::new(Arc::clone(cfg), ServerName::from(peer)).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)
            .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake: {e}")))?;
    }
    Ok(StreamOwned::new(conn, tcp))
}

/// "TLSv1_3 TLS13_AES_256_GCM_SHA384" of an established connection.
pub fn describe(conn: &ClientConnection) -> String {
    let v = conn
        .protocol_version()
        .map(|v| format!("{v:?}"))
        .unwrap_or_else(|| "?".into());
    let s = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_else(|| "?".into());
    format!("{v} {s}")
}

/// A control or data socket, plain or in TLS.
pub enum Sock {
    Plain(TcpStream),
    Tls(Box<TlsStream>),
}

impl Sock {
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Sock::Plain(s) => s,
            Sock::Tls(s) => &s.sock,
        }
    }

    /// End of an upload: with TLS, close_notify, then the TCP half-close,
    /// then read to the server's close_notify (or its close): this also
    /// takes the session tickets the server sent on this connection, and a
    /// socket closed with unread bytes would send a reset instead of a FIN.
    pub fn finish_upload(&mut self) -> io::Result<()> {
        match self {
            Sock::Plain(s) => s.shutdown(Shutdown::Write),
            Sock::Tls(s) => {
                s.conn.send_close_notify();
                s.flush()?;
                s.sock.shutdown(Shutdown::Write)?;
                let mut buf = [0u8; 4096];
                // Bounded by the read timeout of the socket; an error here
                // is the server's business (the final reply tells).
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                }
                Ok(())
            }
        }
    }
}

impl Read for Sock {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Sock::Plain(s) => s.read(buf),
            Sock::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Sock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sock::Plain(s) => s.write(buf),
            Sock::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sock::Plain(s) => s.flush(),
            Sock::Tls(s) => s.flush(),
        }
    }
}
