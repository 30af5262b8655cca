//! Pre-fork workers (pyftpdlib `prefork.py`, `serve_forever(worker_processes=N)`).
//!
//! After binding, the server forks N children. Each child builds a fresh
//! event loop and serves on its own, single-threaded. How the kernel hands
//! new connections to them is [`WorkerListeners`]:
//!
//! - [`ReusePort`](WorkerListeners::ReusePort) (the default): before the
//!   first fork the parent opens, for every listening address, one socket
//!   per worker in a single `SO_REUSEPORT` group; each worker keeps only its
//!   own. The kernel puts each new connection in the accept queue of exactly
//!   one socket (by a hash of the addresses and ports), so one connection
//!   wakes one worker, and a busy worker keeps receiving its share.
//! - [`Shared`](WorkerListeners::Shared): every worker polls the one
//!   inherited socket. A connection wakes every idle worker; one accepts it,
//!   the others find `EAGAIN` (the "thundering herd"). Queued connections
//!   are served by whichever worker is free. Sockets passed by socket
//!   activation are always served this way: their options (device, free
//!   bind, ownership) are the service manager's and cannot be copied.
//! - [`SharedExclusive`](WorkerListeners::SharedExclusive): the shared
//!   socket registered with `EPOLLEXCLUSIVE`, which wakes one waiting
//!   worker (or a few) per connection.
//!
//! Measured on two workers (docs/benchmarks.md): `ReusePort` splits the
//! sessions evenly; with a shared socket the worker already awake keeps
//! winning (about 2:1), `EPOLLEXCLUSIVE` or not.
//!
//! The parent only supervises: it forwards SIGINT/SIGTERM to the workers,
//! reaps them, restarts one that dies abnormally (at most [`MAX_RESTARTS`]
//! times; it gets the same sockets back, so connections queued on them are
//! not lost) and exits once every worker is gone. A worker that exits
//! cleanly, or one past the restart budget, is not replaced: the parent
//! closes that worker's sockets so that the kernel stops queueing
//! connections on them. A worker dies with its parent (`PR_SET_PDEATHSIG`),
//! so a killed parent leaves no orphan serving.
//!
//! `max_cons` and `max_cons_per_ip` stay server-wide: the workers count
//! connections in a small shared-memory table of atomic counters (slot 0
//! for the total, one slot per IP hash bucket for per-IP counts; two IPs
//! that share a bucket share its limit, which can only make the limit
//! stricter). Passive ports stay honoured because a port bound by one
//! worker cannot be bound by another. Metrics are per worker: worker `i`
//! serves them on the metrics port + `i` (see `FtpServer::bind_metrics`).

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

/// How pre-forked workers receive connections
/// ([`FtpServer::worker_listeners`]; ftpdlib extension: pyftpdlib's
/// prefork shares one socket, as [`Shared`](Self::Shared) does).
///
/// With [`ReusePort`](Self::ReusePort) the kernel splits connections by a
/// hash of their addresses, not by load; with [`Shared`](Self::Shared) a
/// free worker takes the next connection but every idle worker wakes for
/// each one. Sockets passed by socket activation are always shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WorkerListeners {
    /// One `SO_REUSEPORT` socket per worker and address: one connection
    /// wakes one worker.
    #[default]
    ReusePort,
    /// Every worker polls the one shared socket.
    Shared,
    /// Every worker polls the one shared socket, registered with
    /// `EPOLLEXCLUSIVE` so that a connection wakes one worker (or a few)
    /// instead of all.
    SharedExclusive,
}

/// The sockets one worker serves: its FTP listeners (in the server's
/// listener order) and its metrics listener, if metrics are on.
pub(crate) struct WorkerSockets {
    pub ftp: Vec<std::net::TcpListener>,
    pub metrics: Option<std::net::TcpListener>,
    /// Register the FTP listeners with `EPOLLEXCLUSIVE`.
    pub exclusive: bool,
}

/// Run `server` in `workers` forked processes until a signal stops them.
pub(crate) fn serve(server: &mut FtpServer, workers: usize) -> Result<(), Error> {
    let counters = Rc::new(SharedCounters::new(1 + IP_BUCKETS)?);
    server.share_counters(Rc::clone(&counters));
    let threads = sys::thread_count();
    if threads > 1 {
        log::warn!(target: LOG, "forking workers from a process with {threads} threads: only the forking thread lives on in them");
    }
    let mode = server.effective_worker_listeners();
    let mut sockets = Vec::with_capacity(workers);
    for worker in 0..workers {
        sockets.push(Some(server.worker_sockets(worker, mode)?));
    }
    // From here on the parent holds each socket only through `sockets`.
    server.detach_listeners();
    let signals = sys::SignalFd::new(server.watches_hangup())?;
    let how = match mode {
        WorkerListeners::ReusePort => "SO_REUSEPORT listener per worker",
        WorkerListeners::Shared => "one shared listener",
        WorkerListeners::SharedExclusive => "one shared listener, EPOLLEXCLUSIVE",
    };
    log::info!(target: LOG, "concurrency model: prefork ({workers} workers, {how})");
    let mut children: Vec<(usize, Child)> = Vec::with_capacity(workers);
    for worker in 0..workers {
        match spawn(server, &mut sockets, worker)? {
            Some(child) => children.push((worker, child)),
            None => return Ok(()),
        }
    }
    let mut restarts = 0;
    loop {
        match signals.read() {
            Some(libc::SIGHUP) => {
                // Each worker reloads for itself.
                for (_, c) in &children {
                    c.hangup();
                }
                continue;
            }
            Some(_) => {
                log::info!(target: LOG, "received interrupt signal");
                break;
            }
            None => {}
        }
        let Some((pid, clean)) = sys::wait_any(std::time::Duration::from_millis(200))? else {
            continue;
        };
        let Some(at) = children.iter().position(|(_, c)| c.pid() == pid) else {
            continue;
        };
        let (worker, _) = children.remove(at);
        if !clean && restarts < MAX_RESTARTS {
            restarts += 1;
            log::warn!(target: LOG, "worker {worker} (pid {pid}) died; restarting it");
            match spawn(server, &mut sockets, worker)? {
                Some(child) => children.push((worker, child)),
                None => return Ok(()),
            }
        } else {
            // Nobody accepts on its sockets any more: close them, or the
            // kernel would go on queueing connections there.
            sockets[worker] = None;
        }
        if children.is_empty() {
            return Ok(());
        }
    }
    for (_, c) in &children {
        c.terminate();
    }
    for (_, c) in children {
        c.wait();
    }
    log::info!(target: LOG, ">>> shutting down FTP server, pid={} <<<", std::process::id());
    Ok(())
}

/// Fork worker number `worker`. In the parent: `Some(child)`. In the
/// child: serve until stopped, then exit (a worker never returns into the
/// parent's code path).
fn spawn(
    server: &mut FtpServer,
    sockets: &mut [Option<WorkerSockets>],
    worker: usize,
) -> Result<Option<Child>, Error> {
    let parent = std::process::id();
    match sys::fork()? {
        Some(child) => Ok(Some(child)),
        None => {
            let mine = sockets.get_mut(worker).and_then(Option::take);
            // The other workers' copies: closed here, or their sockets would
            // outlive them in this process.
            sockets.iter_mut().for_each(|s| *s = None);
            let result = match mine {
                Some(mine) => worker_init(server, worker, parent)
                    .and_then(|()| server.serve_as_worker(worker, mine)),
                None => Err(Error::Config(format!("no sockets for worker {worker}"))),
            };
            if let Err(e) = &result {
                log::error!(target: crate::log::LOGERROR, "worker {} failed: {e}", std::process::id());
            }
            std::process::exit(if result.is_ok() { 0 } else { 1 });
        }
    }
}

/// What a worker does between fork(2) and its event loop: the one place
/// for per-process set-up that must happen in every worker and before any
/// client is served (a privilege drop goes here, before
/// [`sys::die_with_parent`] since a change of credentials clears the
/// parent-death signal). No thread exists yet: the loop's worker pool
/// starts its threads on the first slow login.
fn worker_init(server: &mut FtpServer, worker: usize, parent: u32) -> Result<(), Error> {
    // Privilege drop, no_new_privs, Landlock (`FtpServer::hardening`); the
    // supervisor gave the root warning already.
    server.harden_worker()?;
    sys::die_with_parent(parent)?;
    log::debug!(target: LOG, "worker {worker} started, pid={}", std::process::id());
    Ok(())
}
