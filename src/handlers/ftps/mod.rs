//! FTPS: FTP over TLS (RFC 4217) with rustls (pyftpdlib `handlers/ftps`,
//! `TLS_FTPHandler`). Behind the `tls` cargo feature.
//!
//! What ftpdlib adds to pyftpdlib, after vsftpd, pure-ftpd and ProFTPD:
//! - bytes a client pipelined after `AUTH TLS` are discarded, never run
//!   after the handshake (pyftpdlib #315, CVE-2011-1575 class);
//! - a data connection must resume the TLS session of its control
//!   connection (`require_tls_session_reuse`, on by default as in vsftpd):
//!   each control connection gets its own session cache, so a data
//!   connection can only resume that session (port-stealing defence);
//! - ALPN other than `ftp` is refused (ALPACA, CVE-2021-3618);
//! - the handshake has a timeout and a failed one is logged once;
//! - implicit FTPS (TLS from the first byte, as on port 990).
//!
//! The crypto provider is `ring`: small, no cmake, fit for the embedded
//! build.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::ServerSessionMemoryCache;
use rustls::ServerConfig;

use crate::error::Error;

pub(crate) mod commands;

/// TLS settings of an FTP handler (pyftpdlib `TLS_FTPHandler` class
/// attributes). Enable with
/// [`FtpHandler::enable_tls`](crate::FtpHandler::enable_tls).
#[doc(alias = "TLS_FTPHandler")]
#[derive(Clone)]
pub struct TlsFtpHandler {
    /// PEM certificate chain (pyftpdlib `certfile`).
    pub certfile: PathBuf,
    /// PEM private key (pyftpdlib `keyfile`; defaults to `certfile`).
    pub keyfile: PathBuf,
    /// Refuse USER/PASS before AUTH TLS (pyftpdlib `tls_control_required`).
    pub tls_control_required: bool,
    /// Refuse PASV/EPSV/PORT/EPRT (and PROT C) before PROT P (pyftpdlib
    /// `tls_data_required`).
    pub tls_data_required: bool,
    /// Data connections must resume the control connection's TLS session
    /// (vsftpd's `require_ssl_reuse`; pyftpdlib has no such check).
    pub require_tls_session_reuse: bool,
    /// Time allowed for a TLS handshake on a control connection.
    pub handshake_timeout: Duration,
    config: Arc<ServerConfig>,
}

impl TlsFtpHandler {
    /// Load `certfile` and `keyfile` (None = the key is in `certfile`) and
    /// build the TLS configuration: TLS 1.2 and 1.3, ALPN `ftp`.
    pub fn new(certfile: impl AsRef<Path>, keyfile: Option<&Path>) -> Result<TlsFtpHandler, Error> {
        let certfile = certfile.as_ref().to_path_buf();
        let keyfile = keyfile
            .map(Path::to_path_buf)
            .unwrap_or_else(|| certfile.clone());
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&certfile)
            .map_err(|e| Error::Config(format!("{}: {e}", certfile.display())))?
            .collect::<Result<_, _>>()
            .map_err(|e| Error::Config(format!("{}: {e}", certfile.display())))?;
        if certs.is_empty() {
            return Err(Error::Config(format!(
                "{}: no certificate found",
                certfile.display()
            )));
        }
        let key = PrivateKeyDer::from_pem_file(&keyfile)
            .map_err(|e| Error::Config(format!("{}: {e}", keyfile.display())))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Config(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| Error::Config(format!("certificate/key: {e}")))?;
        config.alpn_protocols = vec![b"ftp".to_vec()];
        Ok(TlsFtpHandler {
            certfile,
            keyfile,
            tls_control_required: false,
            tls_data_required: false,
            require_tls_session_reuse: true,
            handshake_timeout: Duration::from_secs(30),
            config: Arc::new(config),
        })
    }

    /// The configuration for one control connection and its data
    /// connections: the shared settings with a session cache of its own, so
    /// that only this session can be resumed on its data connections.
    ///
    /// TLS 1.3 tickets are encrypted with a key of this session's own
    /// ticketer, so they can be presented on every data connection (clients
    /// such as Python's reuse the control connection's one ticket) yet no
    /// other control connection's ticket decrypts here.
    /// The configuration of a session's data connections: the session's
    /// (same session cache and ticketer, so they resume its TLS session),
    /// but issuing no TLS 1.3 tickets. A data connection has no use for
    /// them, no client reads them, and unread tickets in a client's socket
    /// buffer make its kernel reset the connection when it closes after an
    /// upload, which discards the upload's tail on the server.
    pub(crate) fn data_config(session: &Arc<ServerConfig>) -> Arc<ServerConfig> {
        let mut config = (**session).clone();
        config.send_tls13_tickets = 0;
        Arc::new(config)
    }

    pub(crate) fn session_config(&self) -> Arc<ServerConfig> {
        let mut config = (*self.config).clone();
        config.session_storage = ServerSessionMemoryCache::new(8);
        match rustls::crypto::ring::Ticketer::new() {
            Ok(ticketer) => config.ticketer = ticketer,
            Err(e) => {
                log::warn!(target: crate::log::LOG, "TLS ticketer unavailable ({e}); stateful resumption only")
            }
        }
        Arc::new(config)
    }
}
