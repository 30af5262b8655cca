//! HOST (RFC 7151): choose a virtual host before USER.

use std::path::PathBuf;

use super::commands::{ArgRule, Auth, Command, PathRule};
use super::Session;
use crate::handlers::ftp::sites::normalize;
use crate::reply;

/// The row `FtpHandler::add_site` puts in the command table (and FEAT).
pub(crate) fn row() -> Command {
    Command::builtin(
        "HOST",
        "Syntax: HOST <SP> host-name (select a virtual host).",
        host,
    )
    .login(Auth::Never)
    .arg(ArgRule::Required)
    .path(PathRule::None)
    .feat("HOST")
}

/// HOST name: 220 with the site's banner; 503 once USER was sent (RFC 7151:
/// HOST comes first), 501 for a malformed name, 504 for a name that is
/// not one of the sites or that is another site than the one the client
/// asked for in its TLS handshake (SNI), whose certificate it was shown.
fn host(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if s.authenticated || !s.username.is_empty() {
        return s.reply(reply::BAD_SEQUENCE, "HOST must be sent before USER.");
    }
    let Some(name) = parse_host(arg) else {
        return s.reply(reply::BAD_ARGUMENT, "Invalid host name.");
    };
    let cfg = std::rc::Rc::clone(&s.cfg);
    let Some(index) = cfg.site_index(&name) else {
        let text = format!("Unknown host {}.", super::printable(&name));
        return s.reply(reply::NOT_IMPLEMENTED_FOR_ARG, &text);
    };
    if site_of_sni(s).is_some_and(|sni_site| sni_site != index) {
        return s.reply(
            reply::NOT_IMPLEMENTED_FOR_ARG,
            "HOST names another site than the TLS handshake did.",
        );
    }
    s.site = Some(index);
    let banner = cfg
        .site(index)
        .and_then(|(_, site)| site.banner.clone())
        .unwrap_or_else(|| cfg.banner.clone());
    s.log(&format!("HOST {name}"));
    s.reply_long(reply::READY, &banner);
}

/// A host name (letters, digits, `-`, `.`; RFC 1123), an IPv4 address or
/// a bracketed IPv6 literal (RFC 7151), normalized; `None` otherwise.
pub(crate) fn parse_host(arg: &str) -> Option<String> {
    let arg = arg.trim();
    if let Some(inner) = arg.strip_prefix('[').and_then(|a| a.strip_suffix(']')) {
        return inner
            .parse::<std::net::Ipv6Addr>()
            .ok()
            .map(|_| arg.to_ascii_lowercase());
    }
    let name = normalize(arg);
    let labels_ok = name.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    (labels_ok && name.len() <= 253).then_some(name)
}

/// The site the TLS server name (SNI) names, if any.
pub(super) fn site_of_sni(s: &Session) -> Option<usize> {
    let sni = s.tls_peer.as_ref()?.server_name.as_deref()?;
    s.cfg.site_index(sni)
}

#[cfg(test)]
mod tests {
    use super::parse_host;

    #[test]
    fn host_names_per_rfc7151() {
        assert_eq!(parse_host("A.Example."), Some("a.example".into()));
        assert_eq!(
            parse_host("ftp-1.example.org"),
            Some("ftp-1.example.org".into())
        );
        assert_eq!(parse_host("192.0.2.1"), Some("192.0.2.1".into()));
        assert_eq!(parse_host("[2001:DB8::1]"), Some("[2001:db8::1]".into()));
        for bad in [
            "",
            ".",
            "a..b",
            "-a.example",
            "a_b",
            "a b",
            "[zz]",
            "2001:db8::1",
        ] {
            assert_eq!(parse_host(bad), None, "{bad:?}");
        }
        assert_eq!(parse_host(&"a".repeat(64)), None);
    }
}
