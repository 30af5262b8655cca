//! One command line, after a successful login: the command-line parser, the
//! dispatch checks (argument, login, path, confinement, permission) and
//! every command handler, on a real home directory.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const LOGIN: &[u8] = b"USER user\r\nPASS 12345\r\n";

static RUNS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let home = common::home("command_line");
    home.prepare(RUNS.fetch_add(1, Ordering::Relaxed));
    // The line as the control channel would pass it: LF ends a line, so
    // the fuzzer's bytes stay one line (the session target covers splits).
    let line: Vec<u8> = data.iter().copied().filter(|&b| b != b'\n').collect();
    let mut input = LOGIN.to_vec();
    input.extend_from_slice(&line);
    input.extend_from_slice(b"\r\n");
    let out = ftpdlib::fuzzing::interpret(&input, common::path(home));
    assert!(
        out.starts_with(b"331 ") && out.windows(4).any(|w| w == b"230 "),
        "login failed: {:?}",
        String::from_utf8_lossy(&out)
    );
    common::check_replies(&out);
    home.check_outside();
});
