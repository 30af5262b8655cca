//! Settings at the edge of their types: a configuration value must never be
//! able to panic the server (issue 12: `--timeout 18446744073709551615` used
//! to take the whole server down at the first connection).

mod common;

use std::time::Duration;

use common::{code_of, TestServer};

#[test]
fn timeouts_of_u64_max_seconds_serve_clients_instead_of_panicking() {
    let huge = Duration::from_secs(u64::MAX);
    let srv = TestServer::start_with(
        |_, _| {},
        move |h| {
            h.timeout = huge;
            h.dtp_handler.timeout = huge;
            h.passive_dtp.timeout = huge;
            h.active_dtp.timeout = huge;
        },
    );
    common::make_file(&srv, "f", 1000);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let (data, done) = c.retrieve("RETR f");
    assert_eq!(data.len(), 1000);
    assert_eq!(code_of(&done), 226, "{done}");
    c.expect("NOOP", 200);
}

#[test]
fn a_write_limit_of_one_byte_per_second_still_sends_its_burst() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.dtp_handler.write_limit = 1;
        },
    );
    common::make_file(&srv, "one", 1);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    // A single byte fits in the burst allowance; the transfer completes.
    let (data, done) = c.retrieve("RETR one");
    assert_eq!(data.len(), 1);
    assert_eq!(code_of(&done), 226, "{done}");
}
