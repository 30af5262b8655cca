//! TLS client certificates: rustls' `WebPkiClientVerifier` against the
//! administrator's CA, and the check that binds a session's data
//! connections to the certificate of its control connection.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{NoClientAuth, WebPkiClientVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::error::Error;

/// Whether clients are asked for a TLS certificate (ftpdlib extension;
/// libunftp's `ftps_client_auth` Off/Request/Require).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No certificate is asked for (the default).
    #[default]
    Off,
    /// A client may send one; a certificate that maps to the user logs it
    /// in without a password, any other login goes on with PASS.
    Optional,
    /// The TLS handshake fails without a certificate of the CA, and only a
    /// certificate that maps to the user logs it in: no password logins.
    Required,
}

impl std::str::FromStr for ClientAuth {
    type Err = String;

    /// `off`, `optional` or `required` (the `--tls-client-auth` values).
    fn from_str(s: &str) -> Result<ClientAuth, String> {
        match s {
            "off" => Ok(ClientAuth::Off),
            "optional" => Ok(ClientAuth::Optional),
            "required" => Ok(ClientAuth::Required),
            _ => Err(format!("{s:?}: expected off, optional or required")),
        }
    }
}

/// The verifier for `auth`, trusting the CA certificates of the PEM file `ca`.
pub(super) fn verifier(ca: &Path, auth: ClientAuth) -> Result<Arc<dyn ClientCertVerifier>, Error> {
    if auth == ClientAuth::Off {
        return Ok(Arc::new(NoClientAuth));
    }
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(ca)
        .map_err(|e| Error::Config(format!("{}: {e}", ca.display())))?;
    for cert in certs {
        let cert = cert.map_err(|e| Error::Config(format!("{}: {e}", ca.display())))?;
        roots
            .add(cert)
            .map_err(|e| Error::Config(format!("{}: {e}", ca.display())))?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), super::provider());
    let builder = match auth {
        ClientAuth::Optional => builder.allow_unauthenticated(),
        _ => builder,
    };
    builder
        .build()
        .map_err(|e| Error::Config(format!("{}: {e}", ca.display())))
}

/// The verifier of a session's data connections: the control connection's
/// certificate `cert` again (still checked by the CA verifier `inner`), or
/// no certificate at all when the control connection had none.
pub(super) fn same_client(
    cert: Option<&[u8]>,
    inner: &Arc<dyn ClientCertVerifier>,
) -> Arc<dyn ClientCertVerifier> {
    match cert {
        Some(der) => Arc::new(SameClient {
            cert: der.to_vec(),
            inner: Arc::clone(inner),
        }),
        None => Arc::new(NoClientAuth),
    }
}

/// Accepts exactly one certificate (ftpdlib's data-connection binding;
/// RFC 4217 §10 notes that nothing else ties a data connection to its
/// control connection).
#[derive(Debug)]
struct SameClient {
    cert: Vec<u8>,
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for SameClient {
    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() != self.cert.as_slice() {
            return Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ));
        }
        self.inner
            .verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}
