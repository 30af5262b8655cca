//! Pre-fork workers (pyftpdlib `prefork.py`, `serve_forever(worker_processes=N)`).
//!
//! After binding, the server forks N children. Each child builds a fresh
//! event loop around the inherited listening socket and serves on its own,
//! single-threaded: the kernel hands each new connection to one of them.
//! The parent only supervises: it restarts a worker that dies abnormally
//! (at most [`MAX_RESTARTS`] times) and forwards SIGINT/SIGTERM to the
//! workers when asked to stop.
//!
//! `max_cons` and `max_cons_per_ip` stay server-wide: the workers count
//! connections in a small shared-memory table of atomic counters (slot 0
//! for the total, one slot per IP hash bucket for per-IP counts; two IPs
//! that share a bucket share its limit, which can only make the limit
//! stricter). Passive ports stay honoured because a port bound by one
//! worker cannot be bound by another.

use std::rc::Rc;

use crate::error::Error;
use crate::log::LOG;
use crate::servers::FtpServer;
use crate::sys::{self, Child, SharedCounters};

/// Times the parent restarts crashed workers before giving up (pyftpdlib's
/// `max_restarts`).
pub const MAX_RESTARTS: usize = 100;

/// Per-IP buckets in the shared table.
pub(crate) const IP_BUCKETS: usize = 4096;

/// Run `server` in `workers` forked processes until a signal stops them.
pub(crate) fn serve(server: &mut FtpServer, workers: usize) -> Result<(), Error> {
    let counters = Rc::new(SharedCounters::new(1 + IP_BUCKETS)?);
    server.share_counters(Rc::clone(&counters));
    let signals = sys::SignalFd::new(server.watches_hangup())?;
    log::info!(target: LOG, "concurrency model: prefork ({workers} workers)");
    let mut children = Vec::with_capacity(workers);
    for _ in 0..workers {
        match spawn(server)? {
            Some(child) => children.push(child),
            None => return Ok(()),
        }
    }
    let mut restarts = 0;
    loop {
        match signals.read() {
            Some(libc::SIGHUP) => {
                // Each worker reloads for itself.
                children.iter().for_each(Child::hangup);
                continue;
            }
            Some(_) => {
                log::info!(target: LOG, "received interrupt signal");
                break;
            }
            None => {}
        }
        match sys::wait_any(std::time::Duration::from_millis(200))? {
            None => {}
            Some((pid, clean)) => {
                children.retain(|c| c.pid() != pid);
                if !clean && restarts < MAX_RESTARTS {
                    restarts += 1;
                    log::warn!(target: LOG, "worker {pid} died; restarting it");
                    match spawn(server)? {
                        Some(child) => children.push(child),
                        None => return Ok(()),
                    }
                }
                if children.is_empty() {
                    return Ok(());
                }
            }
        }
    }
    for c in &children {
        c.terminate();
    }
    for c in children {
        c.wait();
    }
    log::info!(target: LOG, ">>> shutting down FTP server, pid={} <<<", std::process::id());
    Ok(())
}

/// Fork one worker. In the parent: `Some(child)`. In the child: serve
/// until stopped, then `None` after the child's loop ended.
fn spawn(server: &mut FtpServer) -> Result<Option<Child>, Error> {
    match sys::fork()? {
        Some(child) => Ok(Some(child)),
        None => {
            let result = server.serve_as_worker();
            if let Err(e) = &result {
                log::error!(target: crate::log::LOGERROR, "worker {} failed: {e}", std::process::id());
            }
            // A worker never returns into the parent's code path.
            std::process::exit(if result.is_ok() { 0 } else { 1 });
        }
    }
}
