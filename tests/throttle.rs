//! Server-wide bandwidth limits (ftpdlib's addition to pyftpdlib's
//! per-channel ThrottledDTPHandler): several transfers together stay within
//! the limit.
mod common;

use std::io::Read;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;

const LIMIT: u64 = 1 << 20;

/// Whether `bytes` over `elapsed` is within 10 % of the limit; the rate.
///
/// `elapsed` covers the transfers only (never thread spawn, connect or
/// login), from the earliest transfer's start to the latest one's end by
/// the client's clock. Of the +-10 %, the server's own metering takes little:
/// its bucket holds at most a tenth of a second of traffic (+2 % over the
/// ~6 s of these tests) and a bucket wake-up is ~4 KiB away. The rest, about
/// half a second, absorbs scheduling delays of the client threads at the two
/// ends of the window and of the server thread (the shared bucket does not
/// make up for time the server was not running).
fn within_ten_percent(bytes: u64, elapsed: Duration) -> (bool, f64) {
    let rate = bytes as f64 / elapsed.as_secs_f64();
    ((rate - LIMIT as f64).abs() <= LIMIT as f64 * 0.10, rate)
}

/// From the earliest start to the latest end of `spans`.
fn window(spans: impl IntoIterator<Item = (Instant, Instant)>) -> Duration {
    let (starts, ends): (Vec<Instant>, Vec<Instant>) = spans.into_iter().unzip();
    let start = starts.into_iter().min().expect("a transfer");
    let end = ends.into_iter().max().expect("a transfer");
    end - start
}

#[test]
fn two_downloads_share_the_server_write_limit() {
    let srv = TestServer::start_full(|_, _| {}, |_| {}, |s| s.write_limit = LIMIT);
    std::fs::write(srv.root().join("f.bin"), vec![7u8; 3 << 20]).unwrap();
    let addr = srv.addr;
    // Both clients are logged in with a data connection open before either
    // transfer starts, so the two transfers overlap and share the limit.
    let go = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let go = Arc::clone(&go);
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.login(USER, PASSWD);
                c.expect("TYPE I", 200);
                let mut data = c.pasv();
                go.wait();
                let prelim = c.cmd("RETR f.bin");
                assert!(matches!(code_of(&prelim), 125 | 150), "{prelim:?}");
                // From the first data bytes to EOF; the first read's bytes
                // may have been sent before the clock started.
                let mut buf = vec![0u8; 65536];
                let first = data.read(&mut buf).expect("read data") as u64;
                let start = Instant::now();
                let mut total = first;
                loop {
                    let n = data.read(&mut buf).expect("read data");
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
                let end = Instant::now();
                let reply = c.read_reply();
                assert_eq!(code_of(&reply), 226, "{reply}");
                (total, first, start, end)
            })
        })
        .collect();
    let done: Vec<(u64, u64, Instant, Instant)> =
        workers.into_iter().map(|w| w.join().unwrap()).collect();
    let total: u64 = done.iter().map(|d| d.0).sum();
    assert_eq!(total, 6 << 20);
    // Leave out the first read of the transfer that opens the window.
    let opening = done.iter().min_by_key(|d| d.2).unwrap();
    let elapsed = window(done.iter().map(|d| (d.2, d.3)));
    let (ok, rate) = within_ten_percent(total - opening.1, elapsed);
    eprintln!("two RETR: {rate:.0} B/s over {elapsed:?} for a limit of {LIMIT} B/s");
    assert!(ok, "aggregate {rate:.0} B/s for a limit of {LIMIT} B/s");
}

#[test]
fn uploads_share_the_server_read_limit() {
    let srv = TestServer::start_full(|_, _| {}, |_| {}, |s| s.read_limit = LIMIT);
    let elapsed = two_concurrent_uploads(srv.addr);
    let total: u64 = (0..2)
        .map(|i| {
            std::fs::metadata(srv.root().join(format!("up{i}.bin")))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(total, 6 << 20);
    let (ok, rate) = within_ten_percent(total, elapsed);
    eprintln!("two STOR: {rate:.0} B/s over {elapsed:?} for a limit of {LIMIT} B/s");
    assert!(ok, "aggregate {rate:.0} B/s for a limit of {LIMIT} B/s");
}
