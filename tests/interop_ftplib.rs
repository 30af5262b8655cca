//! Interoperability with a real third-party client: Python 3's stdlib
//! `ftplib`, driven by `tests/py/ftplib_interop.py` (one case per test).
//! The script asserts protocol outcomes and the files on disk itself, and
//! prints `PASS <case>` last; here we check its exit status and output.

mod common;
use common::*;

use std::path::PathBuf;
use std::process::{Command, Stdio};

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/ftplib_interop.py")
}

/// Run one case of the script against a fresh server; returns its stdout.
fn run_case(case: &str) -> String {
    let srv = TestServer::start();
    run_case_on(&srv, case)
}

fn run_case_on(srv: &TestServer, case: &str) -> String {
    let out = Command::new("python3")
        .arg(script())
        .arg(srv.addr.ip().to_string())
        .arg(srv.addr.port().to_string())
        .arg(srv.root())
        .arg(case)
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "ftplib case {case} failed ({:?})\n--- stdout\n{stdout}--- stderr\n{stderr}",
        out.status
    );
    let last = stdout.lines().last().unwrap_or("");
    assert!(
        last.starts_with(&format!("PASS {case} ")),
        "unexpected output: {stdout:?}"
    );
    stdout
}

#[test]
fn ftplib_mlsd_and_mlst() {
    run_case("mlsd");
}

#[test]
fn ftplib_nlst_and_dir() {
    run_case("nlst_dir");
}

#[test]
fn ftplib_size_mdtm_mfmt() {
    run_case("size_mdtm");
}

#[test]
fn ftplib_mkd_rmd_cwd_pwd_rename_delete() {
    run_case("fs_ops");
}

#[test]
fn ftplib_storbinary_retrbinary_byte_identical() {
    run_case("binary_round_trip");
}

#[test]
fn ftplib_ascii_storlines_retrlines_round_trip() {
    let srv = TestServer::start();
    run_case_on(&srv, "ascii");
    // Double-check from Rust: the ASCII upload is stored LF-only.
    let on_disk = std::fs::read(srv.root().join("t.txt")).unwrap();
    assert_eq!(on_disk, b"line one\nline two\n\nlast\n");
    assert!(!std::fs::read(srv.root().join("big.txt"))
        .unwrap()
        .contains(&b'\r'));
}

#[test]
fn ftplib_retrbinary_with_rest() {
    run_case("rest");
}

#[test]
fn ftplib_stou() {
    run_case("stou");
}

#[test]
fn ftplib_appe() {
    run_case("appe");
}

#[test]
fn ftplib_abort_during_large_retr() {
    let out = run_case("abort");
    assert!(out.contains("abort replies: 426"), "{out}");
}

#[test]
fn ftplib_active_mode() {
    run_case("active");
}

#[test]
fn ftplib_feat() {
    run_case("feat");
}

#[test]
fn ftplib_login_failures_and_anonymous() {
    let out = run_case("login");
    assert!(out.contains("wrong password: 530"), "{out}");
}

#[test]
fn ftplib_abort_upload_active_and_idle() {
    run_case("abort_variants");
}

#[test]
fn ftplib_quit_during_transfer() {
    run_case("quit_during_transfer");
}

#[test]
fn ftplib_concurrent_sessions() {
    run_case("concurrent_sessions");
}

#[test]
fn ftplib_utf8_names() {
    run_case("utf8_names");
}

#[test]
fn ftplib_big_directory_listings() {
    run_case("big_listing");
}

#[test]
fn ftplib_control_idle_timeout() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.timeout = std::time::Duration::from_secs(1));
    run_case_on(&srv, "idle_timeout");
}

#[test]
fn ftplib_ascii_with_tiny_buffers() {
    // CRLF pairs split across every read/write on the data channel.
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.dtp_handler.ac_in_buffer_size = 2;
            h.dtp_handler.ac_out_buffer_size = 3;
            h.use_sendfile = false;
        },
    );
    run_case_on(&srv, "ascii");
}

#[test]
fn ftplib_symlinks_confined_to_home() {
    run_case("symlinks");
}

#[test]
fn ftplib_max_login_attempts() {
    run_case("login_attempts");
}
