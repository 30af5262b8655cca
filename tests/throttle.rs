//! Server-wide bandwidth limits (ftpdlib's addition to pyftpdlib's
//! per-channel ThrottledDTPHandler): several transfers together stay within
//! the limit.
mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::*;

const LIMIT: u64 = 1 << 20;

fn within_ten_percent(bytes: u64, elapsed: Duration) -> (bool, f64) {
    let rate = bytes as f64 / elapsed.as_secs_f64();
    ((rate - LIMIT as f64).abs() <= LIMIT as f64 * 0.10, rate)
}

#[test]
fn two_downloads_share_the_server_write_limit() {
    let srv = TestServer::start_full(|_, _| {}, |_| {}, |s| s.write_limit = LIMIT);
    std::fs::write(srv.root().join("f.bin"), vec![7u8; 3 << 20]).unwrap();
    let addr = srv.addr;
    let start = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.login(USER, PASSWD);
                c.expect("TYPE I", 200);
                let (data, reply) = c.retrieve("RETR f.bin");
                assert_eq!(code_of(&reply), 226, "{reply}");
                data.len() as u64
            })
        })
        .collect();
    let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let elapsed = start.elapsed();
    assert_eq!(total, 6 << 20);
    let (ok, rate) = within_ten_percent(total, elapsed);
    assert!(ok, "aggregate {rate:.0} B/s for a limit of {LIMIT} B/s");
}

#[test]
fn uploads_share_the_server_read_limit() {
    let srv = TestServer::start_full(|_, _| {}, |_| {}, |s| s.read_limit = LIMIT);
    let addr = srv.addr;
    let start = Instant::now();
    let workers: Vec<_> = (0..2)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.login(USER, PASSWD);
                c.expect("TYPE I", 200);
                let mut data = c.pasv();
                let pre = c.cmd(&format!("STOR up{i}.bin"));
                assert!(matches!(code_of(&pre), 125 | 150), "{pre}");
                data.write_all(&vec![1u8; 3 << 20]).unwrap();
                drop(data);
                let reply = c.read_reply();
                assert_eq!(code_of(&reply), 226, "{reply}");
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let elapsed = start.elapsed();
    let total: u64 = (0..2)
        .map(|i| {
            std::fs::metadata(srv.root().join(format!("up{i}.bin")))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(total, 6 << 20);
    // The last bytes sit in socket buffers when the clients finish writing,
    // so measure until the server's 226, which follows the last byte read.
    let (ok, rate) = within_ten_percent(total, elapsed);
    assert!(ok, "aggregate {rate:.0} B/s for a limit of {LIMIT} B/s");
}
