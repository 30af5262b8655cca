//! Arbitrary bytes as a whole control-connection input stream (CR, LF,
//! NUL, 0xFF, invalid UTF-8 and all): the session interpreter must not
//! panic, its replies stay well framed and nothing outside the home is
//! touched.
#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

static RUNS: AtomicU64 = AtomicU64::new(0);

fuzz_target!(|data: &[u8]| {
    let home = common::home("session_bytes");
    home.prepare(RUNS.fetch_add(1, Ordering::Relaxed));
    let out = ftpdlib::fuzzing::interpret(data, common::path(home));
    common::check_replies(&out);
    home.check_outside();
});
