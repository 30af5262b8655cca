#![cfg(feature = "tls")]
//! TLS client certificates (issue 16): curl, lftp and Python's ftplib log in by
//! certificate without a password (232, RFC 2228), are refused without one
//! (or with someone else's) when certificates are required, fall back to
//! the password when they are optional; data connections must carry the
//! control connection's certificate.
//!
//! Certificates are made per test process with the `openssl` CLI
//! (`common::certs`): a client CA, `user` (CN=user,
//! email:user@example.org) and `other` (CN=other) signed by it, and a
//! `rogue` certificate for CN=user signed by another CA.

mod common;
use common::certs::CertDir;
use common::curl::{curl_ok, run_curl, stderr, transcript};
use common::gate::shared;
use common::*;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use ftpdlib::{CertUserField, ClientAuth, TlsFtpHandler};

fn certs() -> &'static CertDir {
    static CERTS: OnceLock<CertDir> = OnceLock::new();
    CERTS.get_or_init(|| {
        let c = CertDir::new();
        c.self_signed("default", "localhost");
        c.self_signed("ca", "ftpdlib test client CA");
        c.self_signed("rogue-ca", "another CA");
        c.client("user", "user", "user@example.org", "ca");
        c.client("other", "other", "other@example.org", "ca");
        c.client("rogue", "user", "user@example.org", "rogue-ca");
        c
    })
}

fn cert(name: &str) -> String {
    certs().path(name).to_string_lossy().into_owned()
}

/// A server asking for client certificates in `mode`; `tweak` adjusts the
/// TLS settings after that. Users: `user`/12345 and `other`/otherpw, and
/// `hello.txt` in the home.
fn server(mode: ClientAuth, tweak: impl FnOnce(&mut TlsFtpHandler) + Send + 'static) -> TestServer {
    let c = certs();
    let mut tls = TlsFtpHandler::new(c.path("default.pem"), Some(&c.path("default.key")))
        .expect("TlsFtpHandler::new");
    tls.set_client_ca(c.path("ca.pem"), mode)
        .expect("set_client_ca");
    assert_eq!(tls.client_auth(), mode);
    tweak(&mut tls);
    let srv = TestServer::start_full(
        |a, root| {
            a.add_user_with_perm("other", "otherpw", root, "elr")
                .unwrap();
            a.add_user_with_perm("user@example.org", "mailpw", root, "elr")
                .unwrap();
        },
        move |h| h.enable_tls(tls),
        |_| {},
    );
    fs::write(srv.root().join("hello.txt"), b"hello by certificate\n").unwrap();
    srv
}

/// curl with `-sS -k -v --ssl-reqd --max-time 60` plus `args`.
fn curl(args: &[&str]) -> Output {
    run_curl(&["-sS", "-k", "-v", "--ssl-reqd", "--max-time", "60"], args)
}

fn with_cert(name: &str, args: &[&str]) -> Vec<String> {
    let mut v = vec![
        "--cert".to_string(),
        cert(&format!("{name}.pem")),
        "--key".to_string(),
        cert(&format!("{name}.key")),
    ];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

fn curl_with(name: &str, args: &[&str]) -> Output {
    let v = with_cert(name, args);
    let refs: Vec<&str> = v.iter().map(String::as_str).collect();
    curl(&refs)
}

fn url(srv: &TestServer, path: &str) -> String {
    format!("ftp://{}/{path}", srv.addr)
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/ftps_tlsx.py")
}

/// One case of `tests/py/ftps_tlsx.py`; it asserts and prints `PASS case`.
fn py_case(srv: &TestServer, case: &str) {
    let out = Command::new("python3")
        .arg(script())
        .arg(srv.addr.ip().to_string())
        .arg(srv.addr.port().to_string())
        .arg(srv.root())
        .arg(certs().dir.path())
        .arg(case)
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().last() == Some(&format!("PASS {case}")[..]),
        "case {case} failed ({:?})\n--- stdout\n{stdout}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{stdout}");
}

// ===================================================================== curl

#[test]
fn curl_logs_in_by_certificate_without_password_when_required() {
    let _g = shared();
    let srv = server(ClientAuth::Required, |_| {});
    let o = curl_with("user", &["-u", "user:", &url(&srv, "hello.txt")]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"hello by certificate\n");
    let replies = transcript(&o, "< ");
    assert!(
        replies.iter().any(|l| l.starts_with("232 ")),
        "no 232 in {replies:?}"
    );
    let sent = transcript(&o, "> ");
    assert!(!sent.iter().any(|l| l.starts_with("PASS")), "{sent:?}");
    // A listing too: its PROT P data connection carries the certificate.
    let o = curl_with("user", &["-u", "user:", &url(&srv, "")]);
    curl_ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("hello.txt"));
}

#[test]
fn curl_without_certificate_or_with_a_foreign_one_is_refused_when_required() {
    let _g = shared();
    let srv = server(ClientAuth::Required, |_| {});
    let o = curl(&["-u", "user:12345", &url(&srv, "hello.txt")]);
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    assert!(!transcript(&o, "< ").iter().any(|l| l.starts_with("230")));
    // CN=user, but from a CA the server does not trust.
    let o = curl_with("rogue", &["-u", "user:", &url(&srv, "hello.txt")]);
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty());
    // A plain (no TLS) session cannot log in at all.
    let mut c = srv.client();
    c.expect("USER user", 530);
}

#[test]
fn curl_certificate_of_another_user_is_refused_when_required() {
    let _g = shared();
    let srv = server(ClientAuth::Required, |_| {});
    let o = curl_with("other", &["-u", "user:12345", &url(&srv, "hello.txt")]);
    assert_eq!(
        o.status.code(),
        Some(67),
        "login denied expected: {}",
        stderr(&o)
    );
    assert!(transcript(&o, "< ").iter().any(|l| l.starts_with("530 ")));
    let o = curl_with("other", &["-u", "other:", &url(&srv, "hello.txt")]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"hello by certificate\n");
}

#[test]
fn optional_certificates_fall_back_to_passwords() {
    let _g = shared();
    let srv = server(ClientAuth::Optional, |_| {});
    // No certificate: the usual password login.
    let o = curl(&["-u", "user:12345", &url(&srv, "hello.txt")]);
    curl_ok(&o);
    assert!(transcript(&o, "< ").iter().any(|l| l.starts_with("230 ")));
    // A certificate naming the user: no password needed.
    let o = curl_with("user", &["-u", "user:", &url(&srv, "hello.txt")]);
    curl_ok(&o);
    assert!(transcript(&o, "< ").iter().any(|l| l.starts_with("232 ")));
    // Someone else's certificate: the password still works ...
    let o = curl_with("other", &["-u", "user:12345", &url(&srv, "hello.txt")]);
    curl_ok(&o);
    assert!(transcript(&o, "< ").iter().any(|l| l.starts_with("331 ")));
    // ... and a wrong one does not.
    let o = curl_with("other", &["-u", "user:wrong", &url(&srv, "hello.txt")]);
    assert_eq!(o.status.code(), Some(67), "{}", stderr(&o));
    // Plain FTP is still open in optional mode.
    let mut c = srv.client();
    c.expect("USER user", 331);
    c.expect("PASS 12345", 230);
}

#[test]
fn the_user_field_can_be_the_email_subject_alt_name() {
    let _g = shared();
    let srv = server(ClientAuth::Required, |t| {
        t.client_cert_user_field = CertUserField::Email
    });
    let o = curl_with(
        "user",
        &["-u", "user@example.org:", &url(&srv, "hello.txt")],
    );
    curl_ok(&o);
    assert!(transcript(&o, "< ").iter().any(|l| l.starts_with("232 ")));
    // The CN no longer names anyone.
    let o = curl_with("user", &["-u", "user:", &url(&srv, "hello.txt")]);
    assert_eq!(o.status.code(), Some(67), "{}", stderr(&o));
}

// =================================================================== ftplib

#[test]
fn ftplib_logs_in_by_certificate_and_downloads() {
    let _g = shared();
    let srv = server(ClientAuth::Required, |_| {});
    py_case(&srv, "cert_login");
    py_case(&srv, "cert_mismatch_required");
}

#[test]
fn ftplib_other_certificate_falls_back_to_password_when_optional() {
    let _g = shared();
    let srv = server(ClientAuth::Optional, |_| {});
    py_case(&srv, "cert_mismatch_optional");
}

#[test]
fn data_connection_with_another_certificate_is_refused() {
    let _g = shared();
    // Without session reuse every data connection makes a full handshake
    // and shows a certificate of its own.
    let srv = server(ClientAuth::Required, |t| {
        t.require_tls_session_reuse = false
    });
    py_case(&srv, "data_other_cert_refused");
}

#[test]
fn data_connection_without_the_certificate_is_refused() {
    let _g = shared();
    let srv = server(ClientAuth::Optional, |t| {
        t.require_tls_session_reuse = false
    });
    py_case(&srv, "data_no_cert_refused");
}

#[test]
fn a_bad_client_ca_is_a_configuration_error() {
    let c = certs();
    let mut tls = TlsFtpHandler::new(c.path("default.pem"), Some(&c.path("default.key"))).unwrap();
    assert!(tls
        .set_client_ca(c.path("missing.pem"), ClientAuth::Required)
        .is_err());
    let empty = c.path("empty.pem");
    fs::write(&empty, b"").unwrap();
    assert!(tls.set_client_ca(&empty, ClientAuth::Optional).is_err());
    assert_eq!(tls.client_auth(), ClientAuth::Off);
    // Off needs no CA file at all.
    tls.set_client_ca(c.path("missing.pem"), ClientAuth::Off)
        .unwrap();
}

// ===================================================================== lftp

/// lftp (GnuTLS) with `ssl:cert-file`: USER alone logs in (232), and the
/// download's data connection carries the same certificate. SKIPPED (and
/// passes) only when lftp is not installed.
#[test]
fn lftp_logs_in_by_certificate() {
    let _g = shared();
    if Command::new("lftp").arg("--version").output().is_err() {
        eprintln!("SKIPPED: lftp not installed");
        return;
    }
    let srv = server(ClientAuth::Required, |_| {});
    let cwd = tempfile::tempdir().unwrap();
    let script = format!(
        "set cmd:fail-exit yes; set net:max-retries 1; set ssl:verify-certificate no; \
         set ftp:ssl-force yes; set ftp:ssl-protect-data yes; \
         set ssl:cert-file {}; set ssl:key-file {}; \
         get hello.txt; quit",
        cert("user.pem"),
        cert("user.key")
    );
    let out = Command::new("lftp")
        .arg("-d")
        .args(["-e", &script])
        .args(["-u", "user,", "-p"])
        .arg(srv.addr.port().to_string())
        .arg(srv.addr.ip().to_string())
        .current_dir(cwd.path())
        .env("HOME", cwd.path())
        .stdin(Stdio::null())
        .output()
        .expect("run lftp");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "lftp failed:\n{log}");
    assert!(log.contains("<--- 232"), "no 232 in:\n{log}");
    assert!(!log.contains("---> PASS"), "{log}");
    assert_eq!(
        fs::read(cwd.path().join("hello.txt")).unwrap(),
        b"hello by certificate\n"
    );
}
