#![cfg(feature = "tls")]
//! CCC (RFC 4217 §6, issue 16): after login and PROT P the control
//! connection goes back to clear text, with close_notify sent by the server
//! and the client's read when it sends one (Python's `unwrap()`, curl's
//! `--ftp-ssl-ccc-mode active`) or not (curl's default passive mode); the
//! data connections stay protected. Refused before login (530), before
//! PROT P (534) and on a clear control connection (533).

mod common;
use common::certs::CertDir;
use common::curl::{curl_ok, run_curl, stderr, transcript};
use common::gate::shared;
use common::*;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use ftpdlib::TlsFtpHandler;

fn certs() -> &'static CertDir {
    static CERTS: OnceLock<CertDir> = OnceLock::new();
    CERTS.get_or_init(|| {
        let c = CertDir::new();
        c.self_signed("default", "localhost");
        c
    })
}

/// 3 MiB that exercise every byte value.
fn big() -> Vec<u8> {
    (0..3 << 20)
        .map(|i: usize| ((i * 7 + i / 251) % 256) as u8)
        .collect()
}

fn server(tweak: impl FnOnce(&mut TlsFtpHandler) + Send + 'static) -> TestServer {
    let c = certs();
    let mut tls = TlsFtpHandler::new(c.path("default.pem"), Some(&c.path("default.key")))
        .expect("TlsFtpHandler::new");
    tweak(&mut tls);
    let srv = TestServer::start_full(|_, _| {}, move |h| h.enable_tls(tls), |_| {});
    fs::write(srv.root().join("big.bin"), big()).unwrap();
    srv
}

fn py_case(srv: &TestServer, case: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/ftps_tlsx.py");
    let out = Command::new("python3")
        .arg(script)
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

fn curl(args: &[&str]) -> Output {
    run_curl(&["-sS", "-k", "-v", "--max-time", "60"], args)
}

#[test]
fn transcript_auth_login_prot_p_ccc_then_plain_commands_and_protected_download() {
    let _g = shared();
    let srv = server(|_| {});
    py_case(&srv, "ccc_transcript");
}

#[test]
fn ftplib_ccc_then_listing_and_download() {
    let _g = shared();
    let srv = server(|_| {});
    py_case(&srv, "ccc_ftplib");
}

#[test]
fn ccc_refused_before_login_before_prot_p_and_in_clear_text() {
    let _g = shared();
    let srv = server(|_| {});
    py_case(&srv, "ccc_refused");
}

/// curl's CCC in `mode`: `passive` (its default: curl waits for the
/// server's close_notify and sends none) or `active` (curl sends its
/// close_notify first), then a protected download.
fn curl_ccc(srv: &TestServer, mode: &str) {
    let url = format!("ftp://{}/big.bin", srv.addr);
    let o = curl(&[
        "--ssl-reqd",
        "--ftp-ssl-ccc",
        "--ftp-ssl-ccc-mode",
        mode,
        "-u",
        &format!("{USER}:{PASSWD}"),
        &url,
    ]);
    curl_ok(&o);
    assert!(o.stdout == big(), "{mode}: {} bytes", o.stdout.len());
    let sent = transcript(&o, "> ");
    let ccc = sent.iter().position(|l| l == "CCC");
    let ccc = ccc.unwrap_or_else(|| panic!("{mode}: no CCC in {sent:?}"));
    // Commands after CCC went out (and were answered) in clear text.
    assert!(
        sent[ccc + 1..].iter().any(|l| l.starts_with("RETR")),
        "{mode}: {sent:?}"
    );
    let replies = transcript(&o, "< ");
    assert!(
        replies.iter().any(|l| l.starts_with("200 CCC")),
        "{replies:?}"
    );
    assert!(
        replies.iter().any(|l| l.starts_with("226")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn curl_ftp_ssl_ccc_active_mode_resumes_the_session_on_data_connections() {
    let _g = shared();
    let srv = server(|_| {});
    curl_ccc(&srv, "active");
}

/// In passive mode curl (OpenSSL) frees the control connection's TLS
/// without sending close_notify, and OpenSSL then no longer offers that
/// session for resumption: its data connections make full handshakes,
/// which `require_tls_session_reuse` refuses. So this pairing needs reuse
/// off (docs/ftps-and-virtual-hosts.md).
#[test]
fn curl_ftp_ssl_ccc_passive_mode_with_session_reuse_off() {
    let _g = shared();
    let srv = server(|t| t.require_tls_session_reuse = false);
    curl_ccc(&srv, "passive");
}

#[test]
fn ccc_can_be_turned_off() {
    let _g = shared();
    let srv = server(|t| t.allow_ccc = false);
    let url = format!("ftp://{}/big.bin", srv.addr);
    let o = curl(&[
        "--ssl-reqd",
        "--ftp-ssl-ccc",
        "-u",
        &format!("{USER}:{PASSWD}"),
        &url,
    ]);
    let replies = transcript(&o, "< ");
    assert!(replies.iter().any(|l| l.starts_with("534 ")), "{replies:?}");
}
