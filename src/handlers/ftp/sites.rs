//! Name-based virtual hosts (RFC 7151 `HOST`; ftpdlib extension, pyftpdlib
//! has none): several sites on one address, each with its own users
//! (authorizer), banner and, with the `tls` feature, TLS certificate,
//! chosen by SNI during the handshake.
//!
//! A session starts on the default site, the handler's own `authorizer`
//! and `banner`. `HOST name` before `USER` moves it to the site of that
//! name; from then on every question a session asks an authorizer (login,
//! home, permissions, impersonation, listing facts) goes to that site's,
//! through [`SiteAuthorizer`], the one place that picks it.

use std::ops::Deref;
use std::rc::Rc;

use super::FtpHandler;
use crate::authorizers::Authorizer;

/// One virtual host of an [`FtpHandler`] (ftpdlib extension; ProFTPD's
/// `<VirtualHost>` reached by `HOST`). Add it with
/// [`FtpHandler::add_site`].
///
/// ```no_run
/// use ftpdlib::{DummyAuthorizer, FtpHandler, VirtualHost};
/// let mut a = DummyAuthorizer::new();
/// a.add_anonymous("/srv/a").unwrap();
/// let mut site = VirtualHost::new(a);
/// site.banner = Some("Welcome to a.example".into());
/// let mut handler = FtpHandler::new(DummyAuthorizer::new());
/// handler.add_site("a.example", site);
/// ```
pub struct VirtualHost {
    /// The site's users, homes and permissions.
    pub authorizer: Box<dyn Authorizer>,
    /// Text of the 220 reply to `HOST`; `None` = the handler's `banner`.
    pub banner: Option<String>,
    /// The site's certificate, presented when the client's TLS SNI (or,
    /// without SNI, its earlier `HOST`) names the site.
    #[cfg(feature = "tls")]
    pub(crate) certificate: Option<std::sync::Arc<rustls::sign::CertifiedKey>>,
}

impl VirtualHost {
    /// A site around `authorizer`, with the handler's banner.
    pub fn new(authorizer: impl Authorizer + 'static) -> VirtualHost {
        VirtualHost {
            authorizer: Box::new(authorizer),
            banner: None,
            #[cfg(feature = "tls")]
            certificate: None,
        }
    }

    /// Load the site's TLS certificate chain and key (PEM; `keyfile` None =
    /// the key is in `certfile`), presented to clients whose SNI names the
    /// site.
    #[cfg(feature = "tls")]
    pub fn set_certificate(
        &mut self,
        certfile: impl AsRef<std::path::Path>,
        keyfile: Option<&std::path::Path>,
    ) -> Result<(), crate::Error> {
        let key = crate::handlers::ftps::load_certified_key(certfile.as_ref(), keyfile)?;
        self.certificate = Some(key);
        Ok(())
    }
}

/// The canonical form of a host name: lower case, without a trailing dot
/// (DNS names compare case-insensitively, RFC 4343).
pub(crate) fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

impl FtpHandler {
    /// Add (or replace) the virtual host `name` (ftpdlib extension, RFC
    /// 7151). The first site added puts `HOST` in the command table and
    /// FEAT. Names compare case-insensitively; an IP literal is written as
    /// the client sends it (`[::1]` for IPv6).
    pub fn add_site(&mut self, name: &str, site: VirtualHost) {
        let name = normalize(name);
        match self.sites.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = site,
            None => self.sites.push((name, site)),
        }
        self.commands
            .insert(crate::handlers::ftp::session::cmd_host::row());
        #[cfg(feature = "tls")]
        self.refresh_site_certificates();
    }

    /// The names of the virtual hosts, in the order they were added.
    pub fn site_names(&self) -> Vec<&str> {
        self.sites.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The index of the site called `name` (normalized), if any.
    pub(crate) fn site_index(&self, name: &str) -> Option<usize> {
        let name = normalize(name);
        self.sites.iter().position(|(n, _)| *n == name)
    }

    /// The site at `index`: its name and settings.
    pub(crate) fn site(&self, index: usize) -> Option<&(String, VirtualHost)> {
        self.sites.get(index)
    }

    /// The authorizer of `site` (`None` = the default site's).
    pub(crate) fn authorizer_of(&self, site: Option<usize>) -> &(dyn Authorizer + 'static) {
        match site.and_then(|i| self.sites.get(i)) {
            Some((_, s)) => &*s.authorizer,
            None => &*self.authorizer,
        }
    }

    /// Tell the TLS settings which certificate each site has (SNI).
    #[cfg(feature = "tls")]
    pub(crate) fn refresh_site_certificates(&mut self) {
        let certs: Vec<_> = self
            .sites
            .iter()
            .filter_map(|(n, s)| s.certificate.clone().map(|c| (n.clone(), c)))
            .collect();
        if let Some(tls) = self.tls.as_mut() {
            tls.set_site_certificates(certs);
        }
    }
}

/// The authorizer of one session's site, kept by what outlives a command
/// (a listing's perm facts, an impersonation guard).
#[derive(Clone)]
pub(crate) struct SiteAuthorizer {
    cfg: Rc<FtpHandler>,
    site: Option<usize>,
}

impl SiteAuthorizer {
    /// The authorizer of `site` of `cfg`.
    pub fn new(cfg: &Rc<FtpHandler>, site: Option<usize>) -> SiteAuthorizer {
        SiteAuthorizer {
            cfg: Rc::clone(cfg),
            site,
        }
    }
}

impl Deref for SiteAuthorizer {
    type Target = dyn Authorizer;

    fn deref(&self) -> &Self::Target {
        self.cfg.authorizer_of(self.site)
    }
}
