//! The command line of TLS client certificates and virtual hosts (issue
//! 16): `--tls-client-ca`, `--tls-client-auth`, `--tls-cert-user`,
//! `--host-site`, `--host-user`, `--host-cert`.

use std::path::PathBuf;

use ftpdlib::{DummyAuthorizer, FtpHandler, VirtualHost};

use super::Arg;

/// The options of this module.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct TlsHostOptions {
    client_ca: Option<PathBuf>,
    client_auth: Option<String>,
    cert_user: Option<String>,
    /// `--host-site NAME:DIR[:BANNER]`.
    sites: Vec<(String, PathBuf, Option<String>)>,
    /// `--host-user SITE:NAME:PASSWORD:HOME:PERMS`.
    site_users: Vec<(String, (String, String, PathBuf, String))>,
    /// `--host-cert SITE:CERTFILE[:KEYFILE]`.
    site_certs: Vec<(String, PathBuf, Option<PathBuf>)>,
}

/// Parse one option of this module; false when `a` is not one.
pub(crate) fn option(o: &mut TlsHostOptions, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "--tls-client-ca" => o.client_ca = a.path()?,
        "--tls-client-auth" => o.client_auth = Some(a.value()?),
        "--tls-cert-user" => o.cert_user = Some(a.value()?),
        "--host-site" => o.sites.push(site_spec(&a.value()?)?),
        "--host-user" => {
            let value = a.value()?;
            let (site, user) = value
                .split_once(':')
                .ok_or("--host-user: expected SITE:NAME:PASSWORD:HOME:PERMS")?;
            o.site_users
                .push((site.to_string(), super::user_spec(user)?));
        }
        "--host-cert" => {
            let value = a.value()?;
            let mut parts = value.splitn(3, ':');
            let (Some(site), Some(cert)) = (parts.next(), parts.next()) else {
                return Err("--host-cert: expected SITE:CERTFILE[:KEYFILE]".into());
            };
            let key = parts.next().map(PathBuf::from);
            o.site_certs.push((site.to_string(), cert.into(), key));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

fn site_spec(text: &str) -> Result<(String, PathBuf, Option<String>), String> {
    let mut parts = text.splitn(3, ':');
    let (Some(name), Some(dir)) = (parts.next(), parts.next()) else {
        return Err("--host-site: expected NAME:DIR[:BANNER]".into());
    };
    if name.is_empty() {
        return Err("--host-site: the name must not be empty".into());
    }
    let banner = parts.next().map(str::to_string);
    Ok((name.to_string(), super::existing_dir(dir)?, banner))
}

/// Apply the options to `handler` (after its TLS settings, if any).
/// Each site serves its DIR to anonymous (unless `no_anonymous`) with
/// `perm`, plus its `--host-user`s.
pub(crate) fn configure(
    handler: &mut FtpHandler,
    o: &TlsHostOptions,
    perm: &str,
    no_anonymous: bool,
) -> Result<(), ftpdlib::Error> {
    client_certificates(handler, o)?;
    let known = |site: &str| o.sites.iter().any(|(n, ..)| n == site);
    if let Some((site, _)) = o.site_users.iter().find(|(s, _)| !known(s)) {
        return Err(config(format!("--host-user: no --host-site {site}")));
    }
    if let Some((site, ..)) = o.site_certs.iter().find(|(s, ..)| !known(s)) {
        return Err(config(format!("--host-cert: no --host-site {site}")));
    }
    for (name, dir, banner) in &o.sites {
        let mut auth = DummyAuthorizer::new();
        if !no_anonymous {
            auth.add_anonymous_with(dir, perm, "Login successful.", "Goodbye.")?;
        }
        for (_, (user, password, home, perms)) in o.site_users.iter().filter(|(s, _)| s == name) {
            auth.add_user_with_perm(user, password, home, perms)?;
        }
        let mut site = VirtualHost::new(auth);
        site.banner = banner.clone();
        site_certificate(&mut site, o, name)?;
        handler.add_site(name, site);
    }
    Ok(())
}

fn config(text: String) -> ftpdlib::Error {
    ftpdlib::Error::Config(text)
}

#[cfg(feature = "tls")]
fn client_certificates(handler: &mut FtpHandler, o: &TlsHostOptions) -> Result<(), ftpdlib::Error> {
    use ftpdlib::{CertUserField, ClientAuth};
    let Some(ca) = &o.client_ca else {
        if o.client_auth.is_some() || o.cert_user.is_some() {
            return Err(config(
                "--tls-client-auth and --tls-cert-user need --tls-client-ca".into(),
            ));
        }
        return Ok(());
    };
    let Some(tls) = handler.tls.as_mut() else {
        return Err(config("--tls-client-ca needs --tls".into()));
    };
    let auth: ClientAuth = o
        .client_auth
        .as_deref()
        .unwrap_or("optional")
        .parse()
        .map_err(|e| config(format!("--tls-client-auth: {e}")))?;
    tls.client_cert_user_field = match o.cert_user.as_deref().unwrap_or("cn") {
        "cn" => CertUserField::CommonName,
        "email" => CertUserField::Email,
        "dns" => CertUserField::DnsName,
        other => {
            return Err(config(format!(
                "--tls-cert-user: {other:?}: expected cn, email or dns"
            )))
        }
    };
    tls.set_client_ca(ca, auth)
}

#[cfg(not(feature = "tls"))]
fn client_certificates(_: &mut FtpHandler, o: &TlsHostOptions) -> Result<(), ftpdlib::Error> {
    if o.client_ca.is_some() || o.client_auth.is_some() || !o.site_certs.is_empty() {
        return Err(config(
            "this ftpdlib was built without TLS: rebuild with `cargo build --features tls`".into(),
        ));
    }
    Ok(())
}

#[cfg(feature = "tls")]
fn site_certificate(
    site: &mut VirtualHost,
    o: &TlsHostOptions,
    name: &str,
) -> Result<(), ftpdlib::Error> {
    if let Some((_, cert, key)) = o.site_certs.iter().find(|(s, ..)| s == name) {
        site.set_certificate(cert, key.as_deref())?;
    }
    Ok(())
}

#[cfg(not(feature = "tls"))]
fn site_certificate(
    _: &mut VirtualHost,
    _: &TlsHostOptions,
    _: &str,
) -> Result<(), ftpdlib::Error> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_site_specs() {
        let (n, d, b) = site_spec("a.example:/:Hello: there").unwrap();
        assert_eq!(
            (n.as_str(), d, b.as_deref()),
            ("a.example", PathBuf::from("/"), Some("Hello: there"))
        );
        assert_eq!(site_spec("b.example:/").unwrap().2, None);
        assert!(site_spec("b.example").is_err());
        assert!(site_spec(":/").is_err());
        assert!(site_spec("c:/no/such/dir").is_err());
    }
}
