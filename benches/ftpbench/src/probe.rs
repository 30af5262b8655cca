//! The stall probe (`--probe`): while a scenario runs, one extra client,
//! logged in before the scenario starts, sends `NOOP` every 10 ms on its own
//! control connection from its own thread, and records each round trip.
//! The load generator's threads never touch this socket, so a slow reply is
//! the server's (or the scheduler's: on a small machine the probe thread
//! competes for the cores like everything else).
//!
//! A NOOP costs a server nothing, so its latency is how long one idle client
//! waits for the server's attention while the others keep it busy: an event
//! loop that blocks (a password hash, a huge listing read at once) shows up
//! here as a long maximum.
//!
//! Bounded: the loop ends when the scenario ends (a flag, checked at least
//! every 10 ms), at `max_secs`, after `MAX_SAMPLES` round trips, or at the
//! first failed round trip (whose time, at least the socket timeout, is
//! still recorded).

use crate::ftp::Ftp;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Time between two NOOPs (from one send to the next; when a reply takes
/// longer, the next NOOP goes out as soon as it has arrived).
pub const INTERVAL: Duration = Duration::from_millis(10);
/// Count bound: one hour of NOOPs at `INTERVAL`.
const MAX_SAMPLES: usize = 360_000;

pub struct Probe {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Report>,
}

#[derive(Default)]
pub struct Report {
    /// Round-trip times, µs, in the order measured.
    pub lat_us: Vec<u64>,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Probe {
    /// Start probing on `f`, a logged-in connection (the caller logs in
    /// before the scenario starts, so the login is not measured here).
    pub fn start(mut f: Ftp, max_secs: Duration) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::Builder::new()
            .name("probe".into())
            .stack_size(256 << 10)
            .spawn(move || {
                let mut r = Report {
                    lat_us: Vec::with_capacity(4096),
                    ..Report::default()
                };
                let deadline = Instant::now() + max_secs;
                let mut next = Instant::now();
                while !flag.load(Ordering::Relaxed)
                    && r.lat_us.len() < MAX_SAMPLES
                    && Instant::now() < deadline
                {
                    let now = Instant::now();
                    if now < next {
                        thread::sleep((next - now).min(INTERVAL));
                        continue;
                    }
                    let t0 = Instant::now();
                    let res = f.cmd("NOOP");
                    r.lat_us.push(t0.elapsed().as_micros() as u64);
                    next = t0 + INTERVAL;
                    match res {
                        Ok(reply) if reply.class() == 2 => {}
                        Ok(reply) => {
                            r.errors += 1;
                            r.first_error.get_or_insert_with(|| {
                                format!("NOOP: unexpected reply {} {}", reply.code, reply.text)
                            });
                        }
                        Err(e) => {
                            // The connection is in an unknown state: stop.
                            r.errors += 1;
                            r.first_error.get_or_insert_with(|| format!("NOOP: {e}"));
                            return r;
                        }
                    }
                }
                f.quit();
                r
            })
            .expect("spawn the probe thread");
        Probe { stop, handle }
    }

    /// Stop (the thread ends within one interval, or one socket timeout if
    /// a NOOP is outstanding) and return what was measured.
    pub fn finish(self) -> Report {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_else(|_| Report {
            errors: 1,
            first_error: Some("probe thread panicked".into()),
            ..Report::default()
        })
    }
}
