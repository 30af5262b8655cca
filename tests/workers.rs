//! Pre-forked workers (issue 13, `--workers N`): two worker processes
//! under one supervising parent, each with its own `SO_REUSEPORT` listener
//! on the same port (or one shared listener), both serving logins; SIGTERM
//! to the parent stops them all; a crashed worker is restarted; a killed
//! parent leaves no orphan. Each worker serves its own metrics.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use common::{code_of, eventually, Client, PASSWD, PATIENCE, USER};

/// The server process and the log lines it wrote so far.
struct Workers {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    _home: tempfile::TempDir,
}

impl Drop for Workers {
    fn drop(&mut self) {
        common::stop_child(&mut self.child);
    }
}

impl Workers {
    fn start(extra: &[&str]) -> Workers {
        let home = tempfile::tempdir().unwrap();
        let spec = format!("{USER}:{PASSWD}:{}:elradfmwMT", home.path().display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                "0",
                "--workers",
                "2",
                "--no-anonymous",
            ])
            .args([
                "--metrics",
                "127.0.0.1:0",
                "--auth-workers",
                "0",
                "--user",
                &spec,
            ])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Workers {
            child,
            log,
            _home: home,
        }
    }

    fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// `(port, pid)` of each ">>> starting FTP server" line so far.
    fn started(&self) -> Vec<(u16, u32)> {
        self.lines()
            .iter()
            .filter_map(|l| {
                let rest = l.split(">>> starting FTP server on ").nth(1)?;
                let (addr, pid) = rest.split_once(", pid=")?;
                let addr: SocketAddr = addr.parse().ok()?;
                let pid = pid.trim_end_matches(" <<<").parse().ok()?;
                Some((addr.port(), pid))
            })
            .collect()
    }

    /// The metrics addresses the workers logged.
    fn metrics(&self) -> Vec<SocketAddr> {
        let mut out: Vec<SocketAddr> = self
            .lines()
            .iter()
            .filter_map(|l| {
                let rest = l.split("metrics on http://").nth(1)?;
                rest.split('/').next()?.parse().ok()
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Wait for `n` started workers; their FTP port and pids.
    fn wait_started(&self, n: usize) -> (u16, Vec<u32>) {
        eventually("workers started", || self.started().len() >= n);
        let started = self.started();
        let port = started[0].0;
        assert!(started.iter().all(|(p, _)| *p == port), "{started:?}");
        (port, started.iter().map(|(_, pid)| *pid).collect())
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// State and parent pid of process `pid`, None once it is gone.
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let mut f = after.split(' ');
    let state = f.next()?.chars().next()?;
    let ppid = f.next()?.parse().ok()?;
    Some((state, ppid))
}

/// Gone, or a zombie nobody reaped yet: not serving anything.
fn gone(pid: u32) -> bool {
    matches!(proc_stat(pid), None | Some(('Z' | 'X', _)))
}

fn signal(pid: u32, sig: i32) {
    // SAFETY: kill(2) on a pid this test started (or its worker).
    unsafe { libc::kill(i32::try_from(pid).unwrap(), sig) };
}

/// Listening sockets on 127.0.0.1:`port` (in /proc/net/tcp, state 0A).
fn listeners(port: u16) -> usize {
    let local = format!("0100007F:{port:04X}");
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
    tcp.lines()
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&local.as_str()) && f.get(3) == Some(&"0A")
        })
        .count()
}

/// Log in and out `n` times, a new connection each time.
fn logins(port: u16, n: usize) {
    for i in 0..n {
        let mut c = Client::connect(SocketAddr::from(([127, 0, 0, 1], port)));
        assert_eq!(code_of(&c.greeting), 220, "login {i}: {}", c.greeting);
        c.login(USER, PASSWD);
        c.expect("QUIT", 221);
    }
}

/// `ftpdlib_logins_total{result="ok",...}` of the metrics at `addr`.
fn logins_ok(addr: SocketAddr) -> u64 {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body.lines()
        .find(|l| l.starts_with("ftpdlib_logins_total{result=\"ok\""))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no logins_total in {body}"))
}

#[test]
fn two_reuseport_workers_share_the_logins_and_sigterm_stops_them_all() {
    let mut w = Workers::start(&[]);
    let (port, pids) = w.wait_started(2);
    assert_eq!(pids.len(), 2);
    assert_ne!(pids[0], pids[1]);
    for &pid in &pids {
        assert_ne!(pid, w.pid());
        assert_eq!(
            proc_stat(pid).map(|s| s.1),
            Some(w.pid()),
            "worker {pid}'s parent"
        );
    }
    assert!(w
        .lines()
        .iter()
        .any(|l| l.contains("SO_REUSEPORT listener per worker")));
    // One socket per worker, so one connection wakes one worker.
    assert_eq!(listeners(port), 2);
    logins(port, 40);
    let metrics = w.metrics();
    assert_eq!(metrics.len(), 2, "{metrics:?}");
    let per_worker: Vec<u64> = metrics.iter().map(|&a| logins_ok(a)).collect();
    assert_eq!(per_worker.iter().sum::<u64>(), 40, "{per_worker:?}");
    // 40 connections from distinct source ports: the kernel's hash puts
    // some on each socket (all on one: a chance of 2 in 2^40).
    assert!(per_worker.iter().all(|&n| n > 0), "{per_worker:?}");
    common::stop_child(&mut w.child);
    let status = w.child.try_wait().unwrap().expect("parent exited");
    assert!(status.success(), "{status:?}");
    eventually("workers gone", || pids.iter().all(|&p| gone(p)));
}

#[test]
fn a_crashed_worker_is_restarted_and_a_killed_parent_leaves_no_orphan() {
    let mut w = Workers::start(&[]);
    let (port, pids) = w.wait_started(2);
    signal(pids[1], libc::SIGKILL);
    eventually("worker restarted", || w.started().len() >= 3);
    assert!(w.lines().iter().any(|l| l.contains("died; restarting it")));
    let (_, now) = w.wait_started(3);
    let new = now[2];
    assert!(!pids.contains(&new));
    logins(port, 20);
    // The restarted worker serves its metrics on the same socket.
    assert_eq!(w.metrics().len(), 2, "{:?}", w.metrics());
    signal(w.pid(), libc::SIGKILL);
    let _ = w.child.wait();
    eventually("no orphan workers", || gone(pids[0]) && gone(new));
}

/// A worker stopped on its own (SIGTERM, clean exit) is not replaced; its
/// socket must go with it, or the kernel would go on hashing connections
/// into a queue nobody accepts from.
#[test]
fn a_worker_that_exits_cleanly_takes_its_socket_with_it() {
    let w = Workers::start(&[]);
    let (port, pids) = w.wait_started(2);
    assert_eq!(listeners(port), 2);
    signal(pids[1], libc::SIGTERM);
    eventually("worker 1 gone", || gone(pids[1]));
    eventually("its socket closed", || listeners(port) == 1);
    // Every connection now reaches the remaining worker.
    logins(port, 30);
    assert_eq!(w.started().len(), 2, "not restarted");
}

#[test]
fn workers_sharing_one_listener_serve_too() {
    for (mode, says) in [
        ("shared", "one shared listener)"),
        ("exclusive", "one shared listener, EPOLLEXCLUSIVE)"),
    ] {
        let w = Workers::start(&["--worker-listeners", mode]);
        let (port, pids) = w.wait_started(2);
        assert_eq!(pids.len(), 2);
        assert!(w.lines().iter().any(|l| l.contains(says)), "{mode}");
        assert_eq!(listeners(port), 1, "{mode}");
        logins(port, 20);
        let total: u64 = w.metrics().iter().map(|&a| logins_ok(a)).sum();
        assert_eq!(total, 20, "{mode}");
    }
}

#[test]
fn workers_and_metrics_are_refused_in_inetd_mode() {
    for args in [["--workers", "2"], ["--metrics", "127.0.0.1:0"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
            .arg("--inetd")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(args[0]), "{err}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["--worker-listeners", "both"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
