//! Transcripts of HOST (RFC 7151) and of the site a TLS server name (SNI)
//! chooses: the session asks the chosen site's authorizer.

use super::*;
use crate::handlers::ftp::sites::VirtualHost;

/// Site `a.example`: user `alice`/`apw` in the same home, banner "Site A.".
fn with_site() -> T {
    T::with(|cfg| {
        let mut auth = DummyAuthorizer::new();
        let home = std::env::temp_dir();
        auth.add_user_with_perm("alice", "apw", &home, "elr")
            .expect("a valid user");
        let mut site = VirtualHost::new(auth);
        site.banner = Some("Site A.".into());
        cfg.add_site("a.example", site);
        cfg.add_site("b.example", VirtualHost::new(DummyAuthorizer::new()));
    })
}

#[test]
fn host_selects_the_site_whose_authorizer_logs_in_per_rfc7151() {
    let mut t = with_site();
    t.says("HOST A.Example", "220 Site A.");
    t.expect("USER user", 331);
    // The default site's user is unknown here: refused after the delay.
    t.send("PASS 12345");
    assert_eq!(t.effects(), ["AuthDelay"]);
    t.s.on_auth_delay_over();
    t.expect_output(530);
    t.login_as("alice", "apw");
    t.expect("MKD x", 550);
}

#[test]
fn host_is_refused_after_user_and_for_unknown_or_bad_names_per_rfc7151() {
    let mut t = with_site();
    t.says("HOST c.example", "504 Unknown host c.example.");
    t.says("HOST a..example", "501 Invalid host name.");
    t.expect("USER alice", 331);
    t.says("HOST a.example", "503 HOST must be sent before USER.");
}

#[test]
fn an_sni_naming_a_site_chooses_it_and_binds_host() {
    let mut t = with_site();
    t.s.tls_started();
    t.s.tls_established(Some("a.example".into()), None);
    assert_eq!(t.s.site_name(), Some("a.example"));
    t.says(
        "HOST b.example",
        "504 HOST names another site than the TLS handshake did.",
    );
    t.says("HOST a.example", "220 Site A.");
    t.login_as("alice", "apw");
    // REIN: back to the site of a fresh connection, the SNI's.
    t.expect("REIN", 220);
    assert_eq!(t.s.site_name(), Some("a.example"));
}

#[test]
fn an_sni_naming_no_site_leaves_the_default_site() {
    let mut t = with_site();
    t.s.tls_started();
    t.s.tls_established(Some("shared.example".into()), None);
    assert_eq!(t.s.site_name(), None);
    t.login();
}
