//! FTPS: FTP over TLS (RFC 4217) with rustls (pyftpdlib `handlers/ftps`,
//! `TLS_FTPHandler`). Behind the `tls` cargo feature.
//!
//! What ftpdlib adds to pyftpdlib, after vsftpd, pure-ftpd and ProFTPD:
//! - bytes a client pipelined after `AUTH TLS` are discarded, never run
//!   after the handshake (pyftpdlib #315, CVE-2011-1575 class);
//! - a data connection must resume the TLS session of its control
//!   connection (`require_tls_session_reuse`, on by default as in vsftpd):
//!   each control connection gets its own session cache and stamps its
//!   tickets with a token of its own, so a data connection can only resume
//!   that session (port-stealing defence), while a new control connection
//!   may resume any earlier one (a returning client skips the full
//!   handshake); a
//!   data connection that did not resume gets no ticket or session of it,
//!   and data connections take the control connection's TLS version only;
//! - ALPN other than `ftp` is refused (ALPACA, CVE-2021-3618);
//! - the handshake has a timeout and a failed one is logged once;
//! - implicit FTPS (TLS from the first byte, as on port 990);
//! - client certificates (`client_cert`): optional or required, checked
//!   against a CA of the administrator's, a login by certificate, data
//!   connections bound to the control connection's certificate;
//! - CCC (RFC 4217 §6), back to clear text on the control channel;
//! - a certificate per virtual host, chosen by SNI (`sites`).
//!
//! The crypto provider is `ring`: small, no cmake, fit for the embedded
//! build.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{NoClientAuth, ProducesTickets, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

pub use crate::authorizers::CertUserField;
use crate::error::Error;

mod client_cert;
pub(crate) mod commands;
mod data_tls;
mod sites;

pub use client_cert::ClientAuth;

/// TLS 1.3 tickets a control connection issues (rustls' default is 2):
/// as many as a rustls client keeps per server (8). A client that uses
/// each ticket once and never reads its upload data connections (so never
/// gets their tickets) can make this many uploads in a row before it has
/// none left to resume with; see `require_tls_session_reuse`.
const CONTROL_TLS13_TICKETS: usize = 8;

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
    /// (vsftpd's `require_ssl_reuse`; pyftpdlib has no such check); one
    /// that does not is refused with `522`. Default true.
    ///
    /// Clients that resume one session on every data connection (OpenSSL's
    /// curl and lftp, Python's `ssl`, GnuTLS) are never short of it. Clients
    /// that use each TLS 1.3 ticket once (rustls' default session cache,
    /// which keeps 8) get 8 from the control connection and one more from
    /// every data connection they read: a download or listing, or an upload
    /// after which they read the data connection to its end (close_notify,
    /// then the server's close_notify). The server sends an upload's ticket
    /// only once the upload's end has arrived, so that a client that never
    /// reads cannot lose the upload's tail to a reset. The limit: a client
    /// that only writes to its upload data connections and closes them gets
    /// no ticket back from them, so after 8 such uploads in a row (with no
    /// download or listing between) it has none left, its next data
    /// connection is a full handshake and is refused. Turning this check
    /// off (`--no-tls-session-reuse`) lets such clients go on, without the
    /// port-stealing defence.
    pub require_tls_session_reuse: bool,
    /// Time allowed for a TLS handshake on a control connection.
    pub handshake_timeout: Duration,
    /// Which field of a client certificate names the user it logs in
    /// (ftpdlib extension; default: the subject's CN).
    pub client_cert_user_field: CertUserField,
    /// Accept CCC (RFC 4217 §6) after login and PROT P (ftpdlib
    /// extension; default true).
    pub allow_ccc: bool,
    client_auth: ClientAuth,
    /// The client CA's verifier (`NoClientAuth` when client certificates
    /// are off).
    verifier: Arc<dyn ClientCertVerifier>,
    default_key: Arc<CertifiedKey>,
    site_keys: Arc<HashMap<String, Arc<CertifiedKey>>>,
    config: Arc<ServerConfig>,
    /// The key of every session's tickets (rustls' rotating ticketer);
    /// `None` if it could not be made: stateful resumption only.
    ticket_key: Option<Arc<dyn ProducesTickets>>,
}

/// One control connection's TLS configuration, and what its data
/// connections need to resume its session and no other.
#[derive(Clone)]
pub(crate) struct SessionTls {
    /// The control connection's configuration.
    pub control: Arc<ServerConfig>,
    /// The data connections' tickets: only this session's resume.
    data_tickets: Option<Arc<dyn ProducesTickets>>,
}

impl TlsFtpHandler {
    /// Load `certfile` and `keyfile` (None = the key is in `certfile`) and
    /// build the TLS configuration: TLS 1.2 and 1.3, ALPN `ftp`.
    pub fn new(certfile: impl AsRef<Path>, keyfile: Option<&Path>) -> Result<TlsFtpHandler, Error> {
        let certfile = certfile.as_ref().to_path_buf();
        let keyfile = keyfile
            .map(Path::to_path_buf)
            .unwrap_or_else(|| certfile.clone());
        let default_key = load_certified_key(&certfile, Some(&keyfile))?;
        let verifier: Arc<dyn ClientCertVerifier> = Arc::new(NoClientAuth);
        let site_keys = Arc::new(HashMap::new());
        let config = build_config(
            Arc::clone(&verifier),
            sites::resolver(&default_key, &site_keys, None),
        )?;
        let ticket_key = match rustls::crypto::ring::Ticketer::new() {
            Ok(key) => Some(key),
            Err(e) => {
                log::warn!(target: crate::log::LOG, "TLS ticketer unavailable ({e}); stateful resumption only");
                None
            }
        };
        Ok(TlsFtpHandler {
            ticket_key,
            certfile,
            keyfile,
            tls_control_required: false,
            tls_data_required: false,
            require_tls_session_reuse: true,
            handshake_timeout: Duration::from_secs(30),
            client_cert_user_field: CertUserField::CommonName,
            allow_ccc: true,
            client_auth: ClientAuth::Off,
            verifier,
            default_key,
            site_keys,
            config: Arc::new(config),
        })
    }

    /// Ask clients for a certificate that chains to one of the CA
    /// certificates in the PEM file `ca` (ftpdlib extension; rustls'
    /// `WebPkiClientVerifier`). [`ClientAuth::Optional`]: a client may send
    /// one, and when its authorizer maps it to the user, USER logs in
    /// without a password (232); [`ClientAuth::Required`]: the handshake
    /// fails without a valid certificate and a login needs one that maps
    /// to the user. [`ClientAuth::Off`] (with any `ca`) turns it off again.
    pub fn set_client_ca(&mut self, ca: impl AsRef<Path>, auth: ClientAuth) -> Result<(), Error> {
        self.verifier = client_cert::verifier(ca.as_ref(), auth)?;
        self.client_auth = auth;
        self.rebuild()
    }

    /// Whether (and how) clients are asked for certificates.
    pub fn client_auth(&self) -> ClientAuth {
        self.client_auth
    }

    /// The certificates of the virtual hosts, by name (SNI).
    pub(crate) fn set_site_certificates(&mut self, certs: Vec<(String, Arc<CertifiedKey>)>) {
        self.site_keys = Arc::new(certs.into_iter().collect());
        let mut config = (*self.config).clone();
        config.cert_resolver = sites::resolver(&self.default_key, &self.site_keys, None);
        self.config = Arc::new(config);
    }

    fn rebuild(&mut self) -> Result<(), Error> {
        let resolver = sites::resolver(&self.default_key, &self.site_keys, None);
        self.config = Arc::new(build_config(Arc::clone(&self.verifier), resolver)?);
        Ok(())
    }

    /// The configuration of a session's data connections: the session's
    /// (same session cache, and its tickets, bound to its token: they
    /// resume its TLS session and no other),
    /// issuing one TLS 1.3 ticket per handshake instead of the control
    /// connection's [`CONTROL_TLS13_TICKETS`]. rustls clients use each
    /// ticket once, so a ticket per data connection keeps their supply
    /// steady. The data channel holds it back until it is safe to send
    /// (`DataChannel::release_ticket`): ahead of a download, after an
    /// upload's end, never on a connection that did not resume.
    ///
    /// With client certificates on, a data connection must show the
    /// control connection's certificate (`client_cert`, DER), or none when
    /// the control connection had none: the data connections belong to the
    /// same client.
    ///
    /// `control_version`: the TLS version the control connection
    /// negotiated. While resumption is required, its data connections
    /// accept that version only (another one cannot resume the session
    /// anyway), and those of a TLS 1.2 session add no ticket or session to
    /// the session's (`data_tls`): a TLS 1.2 handshake issues them before
    /// the resumption check, and a client refused once on a passive port
    /// it took would resume this session on the next.
    pub(crate) fn data_config(
        &self,
        session: &SessionTls,
        client_cert: Option<&[u8]>,
        control_version: Option<rustls::ProtocolVersion>,
    ) -> Arc<ServerConfig> {
        use rustls::ProtocolVersion::{TLSv1_2, TLSv1_3};
        let verifier = if self.client_auth == ClientAuth::Off {
            Arc::clone(&self.verifier)
        } else {
            client_cert::same_client(client_cert, &self.verifier)
        };
        let pinned = control_version.filter(|_| self.require_tls_session_reuse);
        let versions: &[&'static rustls::SupportedProtocolVersion] = match pinned {
            Some(TLSv1_3) => &[&rustls::version::TLS13],
            Some(TLSv1_2) => &[&rustls::version::TLS12],
            _ => rustls::DEFAULT_VERSIONS,
        };
        let control = &session.control;
        let tickets = session
            .data_tickets
            .clone()
            .unwrap_or_else(|| Arc::clone(&control.ticketer));
        let resolver = Arc::clone(&control.cert_resolver);
        let mut config = match build_config_for(verifier, resolver, versions) {
            Ok(mut c) if pinned == Some(TLSv1_2) => {
                let storage = Arc::clone(&control.session_storage);
                c.session_storage = Arc::new(data_tls::LookUpOnly(storage));
                c.ticketer = Arc::new(data_tls::DecryptOnly(tickets));
                c
            }
            Ok(mut c) => {
                c.session_storage = Arc::clone(&control.session_storage);
                c.ticketer = tickets;
                c
            }
            Err(e) => {
                log::error!(target: crate::log::LOGERROR, "data TLS configuration: {e}");
                (**control).clone()
            }
        };
        config.send_tls13_tickets = 1;
        Arc::new(config)
    }

    /// The configuration for one control connection and its data
    /// connections: the shared settings with a session cache of its own
    /// (TLS 1.2 session IDs), and tickets stamped with a random token of
    /// this session's ([`data_tls::SessionTickets`]) under the handler's
    /// one ticket key.
    ///
    /// The control connection resumes a ticket of any earlier control
    /// connection (a returning client skips the full handshake); its data
    /// connections only a ticket this session issued, on the control
    /// connection or a data connection (clients such as Python's reuse the
    /// control connection's one ticket; rustls clients use each once).
    ///
    /// It issues [`CONTROL_TLS13_TICKETS`] TLS 1.3 tickets.
    ///
    /// `site`: the virtual host chosen by HOST before AUTH, whose
    /// certificate is shown to a client that sends no SNI.
    pub(crate) fn session_config(&self, site: Option<&str>) -> SessionTls {
        let mut config = (*self.config).clone();
        config.send_tls13_tickets = CONTROL_TLS13_TICKETS;
        if let Some(key) = site.and_then(|s| self.site_keys.get(s)) {
            config.cert_resolver = sites::resolver(&self.default_key, &self.site_keys, Some(key));
        }
        config.session_storage = ServerSessionMemoryCache::new(8);
        let mut token = [0u8; data_tls::TOKEN_LEN];
        let random = config.crypto_provider().secure_random.fill(&mut token);
        let mut data_tickets = None;
        match (&self.ticket_key, random) {
            (Some(key), Ok(())) => {
                let tickets = data_tls::SessionTickets {
                    key: Arc::clone(key),
                    token,
                    bound: false,
                };
                data_tickets = Some(Arc::new(tickets.bound()) as Arc<dyn ProducesTickets>);
                config.ticketer = Arc::new(tickets);
            }
            // No token: no tickets (the session cache still resumes).
            (Some(_), Err(e)) => {
                log::warn!(target: crate::log::LOG, "no random bytes for a TLS session ({e:?}); stateful resumption only")
            }
            (None, _) => {}
        }
        SessionTls {
            control: Arc::new(config),
            data_tickets,
        }
    }
}

/// TLS 1.2 and 1.3 with the ring provider, ALPN `ftp`.
fn build_config(
    verifier: Arc<dyn ClientCertVerifier>,
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
) -> Result<ServerConfig, Error> {
    build_config_for(verifier, resolver, rustls::DEFAULT_VERSIONS)
}

/// `build_config` for the given protocol versions.
fn build_config_for(
    verifier: Arc<dyn ClientCertVerifier>,
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<ServerConfig, Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(versions)
        .map_err(|e| Error::Config(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"ftp".to_vec()];
    Ok(config)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A PEM certificate chain and its key (`keyfile` None = in `certfile`),
/// checked to belong together.
pub(crate) fn load_certified_key(
    certfile: &Path,
    keyfile: Option<&Path>,
) -> Result<Arc<CertifiedKey>, Error> {
    let keyfile = keyfile.unwrap_or(certfile);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(certfile)
        .map_err(|e| Error::Config(format!("{}: {e}", certfile.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Config(format!("{}: {e}", certfile.display())))?;
    if certs.is_empty() {
        return Err(Error::Config(format!(
            "{}: no certificate found",
            certfile.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(keyfile)
        .map_err(|e| Error::Config(format!("{}: {e}", keyfile.display())))?;
    let key = CertifiedKey::from_der(certs, key, &provider())
        .map_err(|e| Error::Config(format!("certificate/key: {e}")))?;
    Ok(Arc::new(key))
}
