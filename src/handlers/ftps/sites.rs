//! A certificate per virtual host, chosen by the name the client asks for
//! in its TLS handshake (SNI, RFC 6066 §3).

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The resolver: the site the SNI names, else `preferred` (the site HOST
/// chose before AUTH), else the handler's own certificate.
pub(super) fn resolver(
    default: &Arc<CertifiedKey>,
    sites: &Arc<HashMap<String, Arc<CertifiedKey>>>,
    preferred: Option<&Arc<CertifiedKey>>,
) -> Arc<dyn ResolvesServerCert> {
    Arc::new(SiteCertificates {
        fallback: Arc::clone(preferred.unwrap_or(default)),
        sites: Arc::clone(sites),
    })
}

#[derive(Debug)]
struct SiteCertificates {
    fallback: Arc<CertifiedKey>,
    sites: Arc<HashMap<String, Arc<CertifiedKey>>>,
}

impl ResolvesServerCert for SiteCertificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let by_name = hello.server_name().and_then(|name| {
            self.sites
                .get(&crate::handlers::ftp::sites::normalize(name))
        });
        Some(Arc::clone(by_name.unwrap_or(&self.fallback)))
    }
}
