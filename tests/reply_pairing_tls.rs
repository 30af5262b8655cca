#![cfg(feature = "tls")]
//! Replies pair with commands in the TLS failure paths of the data channel
//! (issue 11), with Python's `ssl` and `ftplib.FTP_TLS` as the client
//! (`tests/py/reply_pairing_tls.py`): a client that drops the protected
//! data connection before its handshake, a garbage handshake, plain data
//! on a PROT P connection, ABOR and a reset mid-transfer, and an urgent
//! byte beside the TLS records of the control connection. After each, NOOP
//! and PWD must get their own replies. The plain paths are in
//! `tests/reply_pairing.rs`.

mod common;
use common::*;

use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use ftpdlib::TlsFtpHandler;

/// An explicit-FTPS server (AUTH TLS) on a temporary home.
fn tls_server() -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    fs::write(&cert, &common::self_signed_pem().0).unwrap();
    fs::write(&key, &common::self_signed_pem().1).unwrap();
    let tls = TlsFtpHandler::new(&cert, Some(&key)).expect("TlsFtpHandler::new");
    TestServer::start_with(|_, _| {}, move |h| h.enable_tls(tls))
}

/// Run one case of the script on a fresh server; it prints `PASS <case>`.
fn case(name: &str) {
    let srv = tls_server();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/reply_pairing_tls.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(srv.addr.ip().to_string())
        .arg(srv.addr.port().to_string())
        .arg(srv.root())
        .arg(name)
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.lines().last() == Some(&format!("PASS {name} ok")),
        "case {name} failed ({:?})\n--- stdout\n{stdout}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_data_connection_dropped_before_its_handshake_gets_no_reply_when_none_is_awaited() {
    case("drop_before_handshake_idle");
}

#[test]
fn a_data_connection_dropped_before_its_handshake_ends_the_waiting_retr_once() {
    case("drop_before_handshake_retr");
}

#[test]
fn a_garbage_data_handshake_gets_no_reply_when_none_is_awaited() {
    case("bad_handshake");
}

#[test]
fn a_garbage_data_handshake_ends_the_waiting_retr_once() {
    case("bad_handshake_retr");
}

#[test]
fn plain_data_on_a_prot_p_connection_ends_the_stor_once_and_stores_nothing() {
    case("plain_data_after_prot_p");
}

#[test]
fn abor_mid_tls_retr_is_426_then_226() {
    case("abor_mid_retr");
}

#[test]
fn a_reset_mid_tls_retr_is_one_426() {
    case("client_reset_mid_retr");
}

#[test]
fn an_urgent_byte_beside_the_tls_records_leaves_the_control_connection_intact() {
    case("urgent_byte_on_tls_control");
}
