//! ftpbench: a load generator for FTP servers.
//!
//! Run `ftpbench --help` for the options. Every scenario prints one human
//! line and one JSON line (`{"server":…,"scenario":…,"metrics":{…}}`);
//! `ftpbench --table FILE…` turns collected JSON lines into Markdown tables.

mod chart;
mod evload;
mod ftp;
mod probe;
mod procfs;
mod table;
mod tls;

use ftp::Ftp;
use serde_json::{json, Map, Value};
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const HELP: &str = "\
ftpbench: benchmark an FTP server (loopback only by policy of this project)

USAGE: ftpbench -H HOST -P PORT -u USER -p PASS [options]
       ftpbench --table FILE... [--base LABEL]
       ftpbench --charts DIR FILE... [--note TEXT]

Target:
  -H, --host HOST          server address (default 127.0.0.1)
  -P, --port PORT          server port (default 21)
  -u, --user USER          user name (required)
  -p, --pass PASS          password (required)
      --pid PID            server PID: its process tree's CPU time and memory
                           (VmRSS and Pss from /proc) are reported
      --label NAME         server name in the output (default HOST:PORT,
                           HOST:PORT+tls with --tls)
      --tag TEXT           variant of the scenarios in this run, e.g. '$y$' for
                           logins with a yescrypt-hashed password: the JSON
                           gets \"tag\" and tables show 'logins ($y$)'
  -S, --tls                FTPS (retr, stor and logins only): AUTH TLS, PBSZ 0,
                           PROT P; every data connection offers to resume the
                           control connection's TLS session (full handshakes
                           are counted: data_full_handshakes); any certificate is
                           accepted (loopback test servers, self-signed).
                           logins: connect, AUTH TLS + handshake, USER, PASS,
                           QUIT, from N threads (blocking sockets), each
                           handshake a full one; tables show 'logins (TLS)',
                           'RETR (TLS)', 'STOR (TLS)'
      --tls-resume         with --tls, logins: every connection offers the
                           session tickets earlier connections received (one
                           shared client session cache), so a server that
                           resumes across connections does abbreviated
                           handshakes; tables show 'logins (TLS, resumed)'
                           and the share of handshakes the server resumed

Scenarios (-b, --bench LIST, comma-separated, default all):
  idle     K idle logged-in connections; memory per connection (needs --pid)
  logins   N concurrent clients: connect, USER, PASS, QUIT, repeatedly
  small    N concurrent logged-in clients RETR-ing a small file over a fresh
           PASV data connection each time (transfers/s, p50/p99 latency)
  list     LIST of a large directory (median time of several)
  mlsd     MLSD of the same directory
  retr     single-stream RETR of a large file (MB/s, median of --reps)
  stor     single-stream STOR of --stor-size bytes (MB/s, median of --reps)
  all      all of the above, in that order

Stall probe:
      --probe              while each scenario runs, one more client (logged in
                           before it starts, own thread, own socket) sends NOOP
                           every 10 ms; the metrics gain probe_n, probe_p50_ms,
                           probe_p99_ms, probe_max_ms (NOOP round trips)
      --probe-max-secs S   time bound of the probe of one scenario (default 1800)

Sizes and bounds:
  -n, --clients N          concurrent clients for logins/small/idle (default 50)
      --gen-threads T      event loops (threads) of the logins/small load (default 1)
  -k, --idle K             idle connections (default 1000)
      --duration SECS      time bound of logins and small (default 10)
      --max-logins N       count bound of logins (default 100000)
      --max-transfers N    count bound of small (default 200000)
      --reps N             RETR/STOR repetitions (default 3)
      --list-reps N        LIST/MLSD repetitions (default 5)
      --max-secs SECS      time bound of one RETR/STOR (default 60)
      --timeout SECS       timeout of every socket operation (default 10)
      --retr-file PATH     remote file for retr (default ftpbench/big.bin)
      --retr-size SIZE     its size, for --prepare (default 1G)
      --stor-size SIZE     bytes per STOR (default 512M)
      --stor-dir PATH      remote directory for STOR (default ftpbench)
      --small-file PATH    remote file for small (default ftpbench/small.bin)
      --small-size SIZE    its size, for --prepare (default 4K)
      --list-dir PATH      remote directory for list/mlsd (default ftpbench/list10k)
      --list-entries N     its entry count, for --prepare and the check (default 10000)
      --prepare            create missing test files through FTP first
                           (with --tls too: over TLS)
      --json FILE          also append the JSON lines to FILE
SIZE takes K, M, G suffixes (powers of 1024). MB/s is 10^6 bytes per second.

Tables:
      --table FILE...      print Markdown tables from JSON lines, then exit
      --base LABEL         the server the ratios are relative to (default:
                           the first one in the files)
      --charts DIR FILE... write SVG bar charts from JSON lines into DIR, then
                           exit: throughput.svg, cpu.svg (server CPU per
                           operation), memory.svg (idle sessions), stall.svg
                           (probe p99 and max)
      --note TEXT          subtitle of the charts (where the numbers come from)
";

#[derive(Clone)]
struct Cfg {
    host: String,
    port: u16,
    addr: SocketAddr,
    user: String,
    pass: String,
    pid: Option<u32>,
    label: String,
    tag: Option<String>,
    probe: bool,
    probe_max_secs: Duration,
    benches: Vec<String>,
    clients: usize,
    gen_threads: usize,
    idle: usize,
    duration: Duration,
    max_logins: u64,
    max_transfers: u64,
    reps: usize,
    list_reps: usize,
    max_secs: Duration,
    timeout: Duration,
    retr_file: String,
    retr_size: u64,
    stor_size: u64,
    stor_dir: String,
    small_file: String,
    small_size: u64,
    list_dir: String,
    list_entries: u64,
    prepare: bool,
    json: Option<PathBuf>,
    /// `--tls`: the client configuration shared by every connection.
    tls: Option<Arc<rustls::ClientConfig>>,
    /// `--tls-resume`: TLS logins resume sessions across connections.
    tls_resume: bool,
}

fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.chars().last() {
        Some('k' | 'K') => (&s[..s.len() - 1], 1u64 << 10),
        Some('m' | 'M') => (&s[..s.len() - 1], 1 << 20),
        Some('g' | 'G') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>()
        .map(|n| n * mul)
        .map_err(|_| format!("bad size {s:?}"))
}

fn die(msg: &str) -> ! {
    eprintln!("ftpbench: {msg}");
    std::process::exit(2);
}

fn parse_args() -> Result<Option<Cfg>, String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    // --name=value → --name value
    let mut i = 0;
    while i < args.len() {
        if args[i].starts_with("--") {
            if let Some(eq) = args[i].find('=') {
                let v = args[i][eq + 1..].to_string();
                args[i].truncate(eq);
                args.insert(i + 1, v);
            }
        }
        i += 1;
    }
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return Ok(None);
    }
    if let Some(pos) = args.iter().position(|a| a == "--charts") {
        let mut rest = args[pos + 1..].iter();
        let dir = PathBuf::from(rest.next().ok_or("--charts needs DIR FILE...")?);
        let (mut files, mut note) = (Vec::new(), String::new());
        while let Some(a) = rest.next() {
            if a == "--note" {
                note = rest.next().cloned().unwrap_or_default();
            } else {
                files.push(PathBuf::from(a));
            }
        }
        if files.is_empty() {
            return Err("--charts needs DIR and at least one file".into());
        }
        let written = chart::write_all(&dir, &files, &note).map_err(|e| e.to_string())?;
        for w in written {
            println!("{}", w.display());
        }
        return Ok(None);
    }
    if let Some(pos) = args.iter().position(|a| a == "--table") {
        let mut files = Vec::new();
        let mut base = None;
        let mut it = args[pos + 1..].iter();
        while let Some(a) = it.next() {
            if a == "--base" {
                base = it.next().cloned();
            } else {
                files.push(PathBuf::from(a));
            }
        }
        if files.is_empty() {
            return Err("--table needs at least one file".into());
        }
        table::print(&files, base.as_deref()).map_err(|e| e.to_string())?;
        return Ok(None);
    }
    let mut c = Cfg {
        host: "127.0.0.1".into(),
        port: 21,
        addr: "127.0.0.1:21".parse().unwrap(),
        user: String::new(),
        pass: String::new(),
        pid: None,
        label: String::new(),
        tag: None,
        probe: false,
        probe_max_secs: Duration::from_secs(1800),
        benches: vec!["all".into()],
        clients: 50,
        gen_threads: 1,
        idle: 1000,
        duration: Duration::from_secs(10),
        max_logins: 100_000,
        max_transfers: 200_000,
        reps: 3,
        list_reps: 5,
        max_secs: Duration::from_secs(60),
        timeout: Duration::from_secs(10),
        retr_file: "ftpbench/big.bin".into(),
        retr_size: 1 << 30,
        stor_size: 512 << 20,
        stor_dir: "ftpbench".into(),
        small_file: "ftpbench/small.bin".into(),
        small_size: 4096,
        list_dir: "ftpbench/list10k".into(),
        list_entries: 10_000,
        prepare: false,
        json: None,
        tls: None,
        tls_resume: false,
    };
    let mut want_tls = false;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut val = || it.next().ok_or_else(|| format!("{a} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|_| format!("bad number {v:?}"));
        let secs = |v: String| {
            v.parse::<f64>()
                .ok()
                .filter(|s| *s > 0.0 && s.is_finite())
                .map(Duration::from_secs_f64)
                .ok_or_else(|| format!("bad seconds {v:?}"))
        };
        match a.as_str() {
            "-H" | "--host" => c.host = val()?,
            "-P" | "--port" => c.port = num(val()?)? as u16,
            "-u" | "--user" => c.user = val()?,
            "-p" | "--pass" | "--password" => c.pass = val()?,
            "--pid" | "-k-pid" => c.pid = Some(num(val()?)? as u32),
            "--label" => c.label = val()?,
            "--tag" => c.tag = Some(val()?).filter(|t| !t.is_empty()),
            "--probe" => c.probe = true,
            "--probe-max-secs" => c.probe_max_secs = secs(val()?)?,
            "-b" | "--bench" => {
                c.benches = val()?.split(',').map(|s| s.trim().to_string()).collect()
            }
            "-n" | "--clients" => c.clients = num(val()?)?.max(1) as usize,
            "--gen-threads" => c.gen_threads = num(val()?)?.max(1) as usize,
            "-k" | "--idle" => c.idle = num(val()?)? as usize,
            "--duration" => c.duration = secs(val()?)?,
            "--max-logins" => c.max_logins = num(val()?)?,
            "--max-transfers" => c.max_transfers = num(val()?)?,
            "--reps" => c.reps = num(val()?)?.max(1) as usize,
            "--list-reps" => c.list_reps = num(val()?)?.max(1) as usize,
            "--max-secs" => c.max_secs = secs(val()?)?,
            "--timeout" => c.timeout = secs(val()?)?,
            "--retr-file" => c.retr_file = val()?,
            "--retr-size" => c.retr_size = parse_size(&val()?)?,
            "--stor-size" => c.stor_size = parse_size(&val()?)?,
            "--stor-dir" => c.stor_dir = val()?,
            "--small-file" => c.small_file = val()?,
            "--small-size" => c.small_size = parse_size(&val()?)?,
            "--list-dir" => c.list_dir = val()?,
            "--list-entries" => c.list_entries = num(val()?)?,
            "--prepare" => c.prepare = true,
            "-S" | "--tls" => want_tls = true,
            "--tls-resume" => c.tls_resume = true,
            "--json" => c.json = Some(PathBuf::from(val()?)),
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    if c.user.is_empty() {
        return Err("-u USER is required".into());
    }
    c.addr = ftp::resolve(&c.host, c.port).map_err(|e| e.to_string())?;
    if !c.addr.ip().is_loopback() {
        return Err(format!(
            "{} is not a loopback address; this tool only loads servers on 127.0.0.0/8 or ::1",
            c.addr.ip()
        ));
    }
    if c.label.is_empty() {
        c.label = format!("{}:{}", c.host, c.port);
        if want_tls {
            c.label += "+tls";
        }
    }
    const ALL: [&str; 7] = ["idle", "logins", "small", "list", "mlsd", "retr", "stor"];
    if c.benches.iter().any(|b| b == "all") {
        c.benches = ALL.iter().map(|s| s.to_string()).collect();
    }
    for b in &c.benches {
        if !ALL.contains(&b.as_str()) {
            return Err(format!("unknown scenario {b:?}"));
        }
    }
    if c.tls_resume && !want_tls {
        return Err("--tls-resume needs --tls".into());
    }
    if want_tls {
        let other: Vec<&str> = c
            .benches
            .iter()
            .map(String::as_str)
            .filter(|b| !matches!(*b, "retr" | "stor" | "logins"))
            .collect();
        if !other.is_empty() {
            return Err(format!(
                "--tls is implemented for the retr, stor and logins scenarios only, not for {}; use -b retr,stor,logins",
                other.join(", ")
            ));
        }
        c.tls = Some(tls::client_config(true).map_err(|e| format!("TLS configuration: {e}"))?);
    }
    Ok(Some(c))
}

/// What a scenario returns: metrics (JSON numbers), parameters, a human line.
struct Outcome {
    metrics: Map<String, Value>,
    params: Map<String, Value>,
    human: String,
}

fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx] as f64
}

fn r2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Connect and log in; with `--tls`: AUTH TLS first, PBSZ 0 and PROT P after.
fn login(c: &Cfg) -> io::Result<Ftp> {
    let Some(cfg) = &c.tls else {
        return Ftp::login(c.addr, c.timeout, &c.user, &c.pass);
    };
    let mut f = Ftp::connect(c.addr, c.timeout)?;
    f.secure(cfg)?;
    f.do_login(&c.user, &c.pass)?;
    f.protect(cfg)?;
    Ok(f)
}

/// Count-and-time budget shared by worker threads.
struct Budget {
    left: AtomicU64,
    deadline: Instant,
}

impl Budget {
    fn take(&self) -> bool {
        Instant::now() < self.deadline
            && self
                .left
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
                .is_ok()
    }
}

#[derive(Default)]
struct Tally {
    lat_us: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, e: impl ToString) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(e.to_string());
        }
    }
    fn merge(&mut self, o: Tally) {
        self.lat_us.extend(o.lat_us);
        self.errors += o.errors;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
    }
}

/// Run `n` threads of `f` and merge their tallies; returns (tally, seconds).
fn run_threads<F>(n: usize, f: F) -> (Tally, f64)
where
    F: Fn(usize) -> Tally + Send + Sync + 'static,
{
    let f = Arc::new(f);
    let t0 = Instant::now();
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let f = Arc::clone(&f);
            thread::Builder::new()
                .stack_size(256 << 10)
                .spawn(move || f(i))
                .expect("spawn")
        })
        .collect();
    let mut all = Tally::default();
    for h in handles {
        match h.join() {
            Ok(t) => all.merge(t),
            Err(_) => all.error("worker thread panicked"),
        }
    }
    (all, t0.elapsed().as_secs_f64())
}

// ---------------------------------------------------------------- scenarios

/// Run the event-driven load in `--gen-threads` loops sharing one budget.
fn ev_load(c: &Cfg, mode: evload::Mode, budget_count: u64) -> (Tally, f64, u64) {
    let budget = Arc::new(Budget {
        left: AtomicU64::new(budget_count),
        deadline: Instant::now() + c.duration,
    });
    let threads = c.gen_threads.clamp(1, c.clients);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let c = c.clone();
            let budget = Arc::clone(&budget);
            let clients = c.clients / threads + usize::from(t < c.clients % threads);
            thread::spawn(move || {
                let p = evload::Params {
                    addr: c.addr,
                    user: &c.user,
                    pass: &c.pass,
                    file: &c.small_file,
                    clients,
                    timeout: c.timeout,
                    mode,
                };
                evload::run(&p, &budget)
            })
        })
        .collect();
    let mut all = Tally::default();
    let mut secs: f64 = 0.0;
    let mut bytes = 0;
    for h in handles {
        match h.join() {
            Ok(Ok(r)) => {
                all.merge(r.tally);
                secs = secs.max(r.secs);
                bytes += r.bytes;
            }
            Ok(Err(e)) => all.error(e),
            Err(_) => all.error("load thread panicked"),
        }
    }
    (all, secs, bytes)
}

fn bench_logins(c: &Cfg) -> io::Result<Outcome> {
    if c.tls.is_some() {
        return bench_tls_logins(c);
    }
    let (t, secs, _) = ev_load(c, evload::Mode::Logins, c.max_logins);
    finish_rate(c, t, secs, "logins", "logins/s")
}

/// One FTPS login: connect, 220, AUTH TLS, handshake, USER, PASS, QUIT,
/// 221, the server's close. Returns whether the handshake was resumed and
/// the negotiated protocol and suite.
fn tls_login_once(c: &Cfg, cfg: &Arc<rustls::ClientConfig>) -> io::Result<(bool, Option<String>)> {
    let mut f = Ftp::connect(c.addr, c.timeout)?;
    f.secure(cfg)?;
    f.do_login(&c.user, &c.pass)?;
    let out = (f.tls_resumed, f.tls_desc.take());
    f.quit_wait_close()?;
    Ok(out)
}

/// logins with `--tls`: N threads with blocking sockets (the event-driven
/// load has no TLS), each logging in again and again within the shared
/// count and time budget. Without `--tls-resume` the client stores no
/// session, so every handshake is a full one (key exchange and the
/// server's certificate signature); with it, one client session cache is
/// shared by all connections and the server may resume.
fn bench_tls_logins(c: &Cfg) -> io::Result<Outcome> {
    let cfg = if c.tls_resume {
        Arc::clone(c.tls.as_ref().expect("--tls"))
    } else {
        tls::client_config(false)?
    };
    // Warm-up login, not counted: with --tls-resume it also puts the first
    // tickets into the cache; a server that refuses TLS fails here once.
    let (_, desc) = tls_login_once(c, &cfg)?;
    let budget = Arc::new(Budget {
        left: AtomicU64::new(c.max_logins),
        deadline: Instant::now() + c.duration,
    });
    let resumed = Arc::new(AtomicU64::new(0));
    let (cc, rs) = (c.clone(), Arc::clone(&resumed));
    let (t, secs) = run_threads(c.clients, move |_| {
        let mut t = Tally::default();
        while budget.take() {
            let t0 = Instant::now();
            match tls_login_once(&cc, &cfg) {
                Ok((r, _)) => {
                    t.lat_us.push(t0.elapsed().as_micros() as u64);
                    if r {
                        rs.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Err(e) => {
                    t.error(e);
                    // A refusing server must not turn this into a busy loop.
                    thread::sleep(Duration::from_millis(10));
                }
            }
        }
        t
    });
    let n = t.lat_us.len() as f64;
    let mut o = finish_rate(c, t, secs, "logins", "logins/s")?;
    let pct = 100.0 * resumed.load(Ordering::Relaxed) as f64 / n.max(1.0);
    o.metrics.insert("resumed_pct".into(), json!(r2(pct)));
    o.params.insert("tls".into(), json!(desc));
    o.params.insert("tls_resume".into(), json!(c.tls_resume));
    o.human = format!(
        "{}; {pct:.1}% of handshakes resumed{}",
        o.human,
        desc.map(|d| format!(", {d}")).unwrap_or_default()
    );
    Ok(o)
}

fn finish_rate(c: &Cfg, mut t: Tally, secs: f64, what: &str, unit: &str) -> io::Result<Outcome> {
    let n = t.lat_us.len() as u64;
    if n == 0 {
        return Err(ftp::err(
            t.first_error.unwrap_or_else(|| "nothing completed".into()),
        ));
    }
    t.lat_us.sort_unstable();
    let rate = n as f64 / secs;
    let p50 = percentile(&t.lat_us, 0.50) / 1000.0;
    let p99 = percentile(&t.lat_us, 0.99) / 1000.0;
    let mut m = Map::new();
    m.insert(format!("{what}_per_s"), json!(r2(rate)));
    m.insert("count".into(), json!(n));
    m.insert("errors".into(), json!(t.errors));
    m.insert("p50_ms".into(), json!(r2(p50 * 1000.0) / 1000.0));
    m.insert("p99_ms".into(), json!(r2(p99 * 1000.0) / 1000.0));
    let mut p = Map::new();
    p.insert("clients".into(), json!(c.clients));
    let mut human = format!(
        "{rate:10.1} {unit}  ({n} in {secs:.2} s, {} clients, p50 {p50:.3} ms, p99 {p99:.3} ms",
        c.clients
    );
    if t.errors > 0 {
        human += &format!(
            ", {} errors, first: {}",
            t.errors,
            t.first_error.as_deref().unwrap_or("")
        );
        m.insert("first_error".into(), json!(t.first_error));
    }
    human.push(')');
    Ok(Outcome {
        metrics: m,
        params: p,
        human,
    })
}

fn bench_small(c: &Cfg) -> io::Result<Outcome> {
    // Check the file once, so a missing file is one clear error.
    {
        let mut f = login(c)?;
        f.cmd_ok("TYPE I")?;
        let mut buf = vec![0u8; 64 << 10];
        let n = f.download(&format!("RETR {}", c.small_file), &mut buf, |_| true)?;
        if n == 0 {
            return Err(ftp::err(format!("{} is empty", c.small_file)));
        }
        f.quit();
    }
    let (t, secs, bytes) = ev_load(c, evload::Mode::Small, c.max_transfers);
    let mut o = finish_rate(c, t, secs, "transfers", "transfers/s")?;
    o.params.insert(
        "bytes_per_transfer".into(),
        json!(bytes / o.metrics["count"].as_u64().unwrap_or(1).max(1)),
    );
    Ok(o)
}

fn bench_idle(c: &Cfg) -> io::Result<Outcome> {
    let base = c.pid.map(|p| {
        settle_mem(p);
        procfs::tree_mem(p)
    });
    let k = c.idle;
    let per = k.div_ceil(c.clients);
    let sessions: Arc<Mutex<Vec<Ftp>>> = Arc::new(Mutex::new(Vec::with_capacity(k)));
    let cc = c.clone();
    let s2 = Arc::clone(&sessions);
    let deadline = Instant::now() + c.max_secs;
    let (t, secs) = run_threads(c.clients, move |i| {
        let mut t = Tally::default();
        let mine = per.min(k.saturating_sub(i * per));
        let mut got = Vec::with_capacity(mine);
        for _ in 0..mine {
            if Instant::now() >= deadline {
                t.error("time bound reached");
                break;
            }
            let t0 = Instant::now();
            match login(&cc) {
                Ok(f) => {
                    t.lat_us.push(t0.elapsed().as_micros() as u64);
                    got.push(f);
                }
                Err(e) => t.error(e),
            }
        }
        s2.lock().unwrap().extend(got);
        t
    });
    let opened = sessions.lock().unwrap().len();
    if opened == 0 {
        return Err(ftp::err(
            t.first_error.unwrap_or_else(|| "no connection".into()),
        ));
    }
    // Let forked session processes finish starting up before measuring.
    let after = c.pid.map(settle_mem);
    let mut m = Map::new();
    m.insert("opened".into(), json!(opened));
    m.insert("errors".into(), json!(t.errors));
    m.insert("login_all_s".into(), json!(r2(secs)));
    let mut human = format!("{opened} idle logged-in connections opened in {secs:.2} s");
    if let (Some(b), Some(a)) = (base, after) {
        let rss = (a.rss_kib as f64 - b.rss_kib as f64) / opened as f64;
        let pss = (a.pss_kib as f64 - b.pss_kib as f64) / opened as f64;
        let uss = (a.uss_kib as f64 - b.uss_kib as f64) / opened as f64;
        m.insert("uss_per_conn_kib".into(), json!(r2(uss)));
        m.insert("uss_before_kib".into(), json!(b.uss_kib));
        m.insert("uss_after_kib".into(), json!(a.uss_kib));
        m.insert("rss_per_conn_kib".into(), json!(r2(rss)));
        m.insert("pss_per_conn_kib".into(), json!(r2(pss)));
        m.insert("rss_before_kib".into(), json!(b.rss_kib));
        m.insert("rss_after_kib".into(), json!(a.rss_kib));
        m.insert("pss_before_kib".into(), json!(b.pss_kib));
        m.insert("pss_after_kib".into(), json!(a.pss_kib));
        m.insert("procs_after".into(), json!(a.procs));
        human += &format!(
            "; RSS {} → {} KiB ({rss:.2} KiB/conn), PSS {} → {} KiB ({pss:.2} KiB/conn), USS {} → {} KiB ({uss:.2} KiB/conn), {} → {} processes",
            b.rss_kib, a.rss_kib, b.pss_kib, a.pss_kib, b.uss_kib, a.uss_kib, b.procs, a.procs
        );
    } else {
        human += " (no --pid: memory not measured)";
    }
    if t.errors > 0 {
        human += &format!(
            "; {} errors, first: {}",
            t.errors,
            t.first_error.as_deref().unwrap_or("")
        );
        m.insert("first_error".into(), json!(t.first_error));
    }
    // Close them all, then wait (bounded) for the server to shed the
    // per-connection processes so the next scenario starts clean.
    let all = std::mem::take(&mut *sessions.lock().unwrap());
    for mut f in all {
        let _ = f.send("QUIT");
    }
    if let (Some(p), Some(b)) = (c.pid, base) {
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until && procfs::tree_mem(p).procs > b.procs {
            thread::sleep(Duration::from_millis(200));
        }
    }
    let mut p = Map::new();
    p.insert("idle".into(), json!(k));
    Ok(Outcome {
        metrics: m,
        params: p,
        human,
    })
}

/// Wait until the tree's memory stops moving (bounded to ~5 s), return it.
fn settle_mem(pid: u32) -> procfs::Mem {
    let mut last = procfs::tree_mem(pid);
    for _ in 0..10 {
        thread::sleep(Duration::from_millis(500));
        let now = procfs::tree_mem(pid);
        let d = (now.rss_kib as f64 - last.rss_kib as f64).abs();
        let stable = now.procs == last.procs && d <= (last.rss_kib as f64 * 0.002).max(64.0);
        last = now;
        if stable {
            break;
        }
    }
    last
}

fn bench_listing(c: &Cfg, verb: &str) -> io::Result<Outcome> {
    let mut f = login(c)?;
    let mut buf = vec![0u8; 256 << 10];
    let cmd = format!("{verb} {}", c.list_dir);
    let mut times = Vec::new();
    let mut entries = 0u64;
    let mut bytes = 0u64;
    for _ in 0..c.list_reps {
        let mut lines = 0u64;
        let t0 = Instant::now();
        bytes = f.download(&cmd, &mut buf, |chunk| {
            lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
            true
        })?;
        times.push(t0.elapsed().as_secs_f64() * 1000.0);
        entries = lines;
    }
    f.quit();
    if entries + 2 < c.list_entries {
        return Err(ftp::err(format!(
            "{verb} returned {entries} lines, expected {} entries (listing truncated by the server?)",
            c.list_entries
        )));
    }
    let mut sorted = times.clone();
    let med = median(&mut sorted);
    let mut m = Map::new();
    m.insert("median_ms".into(), json!(r2(med)));
    m.insert("entries".into(), json!(entries));
    m.insert("bytes".into(), json!(bytes));
    let mut p = Map::new();
    p.insert("entries".into(), json!(c.list_entries));
    p.insert("reps".into(), json!(c.list_reps));
    let runs: Vec<String> = times.iter().map(|t| format!("{t:.1}")).collect();
    Ok(Outcome {
        metrics: m,
        params: p,
        human: format!(
            "{med:10.2} ms per {verb} of {entries} entries, {bytes} bytes (median of {}: {} ms)",
            c.list_reps,
            runs.join(", ")
        ),
    })
}

fn bench_retr(c: &Cfg) -> io::Result<Outcome> {
    let mut f = login(c)?;
    f.cmd_ok("TYPE I")?;
    let mut buf = vec![0u8; 1 << 20];
    let cmd = format!("RETR {}", c.retr_file);
    let mut rates = Vec::new();
    let mut last = 0;
    for _ in 0..c.reps {
        let t0 = Instant::now();
        let deadline = t0 + c.max_secs;
        let n = f.download(&cmd, &mut buf, |_| Instant::now() < deadline)?;
        let s = t0.elapsed().as_secs_f64();
        if n == 0 {
            return Err(ftp::err(format!("{} is empty", c.retr_file)));
        }
        rates.push(n as f64 / 1e6 / s);
        last = n;
    }
    let tls = f.tls_desc.take();
    let full = f.data_full;
    f.quit();
    Ok(rate_outcome(c, rates, last, "RETR", tls, full))
}

/// `tls`: protocol and cipher suite of an FTPS run; `data_full`: its data
/// connections that did a full handshake instead of resuming.
fn rate_outcome(
    c: &Cfg,
    rates: Vec<f64>,
    bytes: u64,
    what: &str,
    tls: Option<String>,
    data_full: u64,
) -> Outcome {
    let mut sorted = rates.clone();
    let med = median(&mut sorted);
    let mut m = Map::new();
    m.insert("mb_per_s".into(), json!(r2(med)));
    m.insert(
        "runs_mb_per_s".into(),
        json!(rates.iter().map(|r| r2(*r)).collect::<Vec<_>>()),
    );
    let mut p = Map::new();
    p.insert("bytes".into(), json!(bytes));
    p.insert("reps".into(), json!(c.reps));
    let runs: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    let over = match &tls {
        Some(t) if data_full == 0 => format!(", FTPS {t}, resumed data sessions"),
        Some(t) => format!(
            ", FTPS {t}, {data_full} of {} data handshakes full (not resumed)",
            rates.len()
        ),
        None => String::new(),
    };
    if tls.is_some() {
        m.insert("data_full_handshakes".into(), json!(data_full));
    }
    p.insert("tls".into(), json!(tls));
    Outcome {
        metrics: m,
        params: p,
        human: format!(
            "{med:10.1} MB/s  ({what} of {} MiB, median of {}: {} MB/s{over})",
            bytes >> 20,
            rates.len(),
            runs.join(", ")
        ),
    }
}

fn pattern(len: usize) -> Vec<u8> {
    // xorshift: incompressible, cheap.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn bench_stor(c: &Cfg) -> io::Result<Outcome> {
    let mut f = login(c)?;
    f.cmd_ok("TYPE I")?;
    let chunk = pattern(1 << 20);
    let mut rates = Vec::new();
    let mut last = 0;
    for rep in 0..c.reps {
        let path = format!(
            "{}/ftpbench-stor-{}-{rep}.tmp",
            c.stor_dir.trim_end_matches('/'),
            std::process::id()
        );
        let t0 = Instant::now();
        let deadline = t0 + c.max_secs;
        let res = f.upload(&format!("STOR {path}"), &chunk, c.stor_size, |_| {
            Instant::now() < deadline
        });
        let s = t0.elapsed().as_secs_f64();
        let _ = f.cmd(&format!("DELE {path}"));
        let n = res?;
        rates.push(n as f64 / 1e6 / s);
        last = n;
    }
    let tls = f.tls_desc.take();
    let full = f.data_full;
    f.quit();
    Ok(rate_outcome(c, rates, last, "STOR", tls, full))
}

// ------------------------------------------------------------------ prepare

fn prepare(c: &Cfg) -> io::Result<()> {
    let mut f = login(c)?;
    f.cmd_ok("TYPE I")?;
    let mkdirs = |f: &mut Ftp, path: &str| {
        let mut acc = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if !acc.is_empty() || path.starts_with('/') {
                acc.push('/');
            }
            acc.push_str(part);
            let _ = f.cmd(&format!("MKD {acc}"));
        }
    };
    let parent = |p: &str| p.rsplit_once('/').map(|(d, _)| d.to_string());
    for (file, size) in [(&c.retr_file, c.retr_size), (&c.small_file, c.small_size)] {
        let r = f.cmd(&format!("SIZE {file}"))?;
        if r.code == 213 && r.text.trim().parse::<u64>().ok() == Some(size) {
            continue;
        }
        if let Some(d) = parent(file) {
            mkdirs(&mut f, &d);
        }
        eprintln!("prepare: STOR {file} ({size} bytes)");
        let chunk = pattern(1 << 20);
        f.upload(&format!("STOR {file}"), &chunk, size, |_| true)?;
    }
    mkdirs(&mut f, &c.stor_dir);
    mkdirs(&mut f, &c.list_dir);
    let mut buf = vec![0u8; 256 << 10];
    let mut names = Vec::new();
    let mut rest = Vec::new();
    f.download(&format!("NLST {}", c.list_dir), &mut buf, |chunk| {
        rest.extend_from_slice(chunk);
        true
    })?;
    for line in String::from_utf8_lossy(&rest).lines() {
        names.push(line.rsplit('/').next().unwrap_or("").to_string());
    }
    f.quit();
    let have: std::collections::HashSet<String> = names.into_iter().collect();
    let missing: Vec<String> = (0..c.list_entries)
        .map(|i| format!("f{i:05}"))
        .filter(|n| !have.contains(n))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "prepare: creating {} empty files in {}",
        missing.len(),
        c.list_dir
    );
    let missing = Arc::new(missing);
    let cc = c.clone();
    let threads = c.clients.min(8);
    let (t, _) = run_threads(threads, move |i| {
        let mut t = Tally::default();
        let mut f = match login(&cc) {
            Ok(f) => f,
            Err(e) => {
                t.error(e);
                return t;
            }
        };
        for name in missing.iter().skip(i).step_by(threads) {
            let r = f.upload(&format!("STOR {}/{name}", cc.list_dir), &[], 0, |_| true);
            if let Err(e) = r {
                t.error(e);
                break;
            }
        }
        f.quit();
        t
    });
    match t.first_error {
        Some(e) => Err(ftp::err(format!("prepare: {e}"))),
        None => Ok(()),
    }
}

// --------------------------------------------------------------------- main

/// The probe's metrics (merged into the scenario's) and a human summary.
fn probe_metrics(r: probe::Report) -> (Map<String, Value>, String) {
    let mut lat = r.lat_us;
    lat.sort_unstable();
    let ms = |us: f64| (us / 1000.0 * 1000.0).round() / 1000.0;
    let (p50, p99, max) = (
        ms(percentile(&lat, 0.50)),
        ms(percentile(&lat, 0.99)),
        ms(lat.last().map_or(f64::NAN, |&m| m as f64)),
    );
    let mut m = Map::new();
    m.insert("probe_n".into(), json!(lat.len()));
    m.insert("probe_p50_ms".into(), json!(p50));
    m.insert("probe_p99_ms".into(), json!(p99));
    m.insert("probe_max_ms".into(), json!(max));
    m.insert("probe_errors".into(), json!(r.errors));
    let mut human = format!(
        "probe NOOP p50 {p50:.3} ms, p99 {p99:.3} ms, max {max:.3} ms, n {}",
        lat.len()
    );
    if let Some(e) = r.first_error {
        human += &format!(", {} errors, first: {e}", r.errors);
        m.insert("probe_first_error".into(), json!(e));
    }
    (m, human)
}

fn emit(
    c: &Cfg,
    name: &str,
    res: io::Result<Outcome>,
    probe: Option<(Map<String, Value>, String)>,
    wall: f64,
    gen_cpu: f64,
    srv_cpu: Option<f64>,
) {
    let mut obj = Map::new();
    obj.insert("server".into(), json!(c.label));
    obj.insert("scenario".into(), json!(name));
    // FTPS runs are tagged, so that they are rows of their own in tables:
    // 'logins (TLS)', 'logins (TLS, resumed)', 'retr (TLS)'.
    let tls_tag = match (&c.tls, name) {
        (Some(_), "logins") if c.tls_resume => Some("TLS, resumed"),
        (Some(_), "logins" | "retr" | "stor") => Some("TLS"),
        _ => None,
    };
    let tag = match (tls_tag, &c.tag) {
        (Some(a), Some(b)) => Some(format!("{a}, {b}")),
        (Some(a), None) => Some(a.to_string()),
        (None, t) => t.clone(),
    };
    let shown = match &tag {
        Some(t) => {
            obj.insert("tag".into(), json!(t));
            format!("{name} ({t})")
        }
        None => name.to_string(),
    };
    let name = shown.as_str();
    obj.insert("wall_s".into(), json!(r2(wall)));
    obj.insert("gen_cpu_s".into(), json!(r2(gen_cpu)));
    obj.insert("server_cpu_s".into(), json!(srv_cpu.map(r2)));
    let cpu = match srv_cpu {
        Some(s) => format!("[server CPU {s:.2} s, ftpbench CPU {gen_cpu:.2} s, wall {wall:.2} s]"),
        None => format!("[ftpbench CPU {gen_cpu:.2} s, wall {wall:.2} s]"),
    };
    let (probe_m, probe_h) = match probe {
        Some((m, h)) => (m, format!("  [{h}]")),
        None => (Map::new(), String::new()),
    };
    match res {
        Ok(mut o) => {
            println!("{:<28} {:<7} {}  {cpu}{probe_h}", c.label, name, o.human);
            o.metrics.extend(probe_m);
            obj.insert("ok".into(), json!(true));
            obj.insert("metrics".into(), Value::Object(o.metrics));
            obj.insert("params".into(), Value::Object(o.params));
        }
        Err(e) => {
            println!("{:<28} {:<7} FAILED: {e}  {cpu}{probe_h}", c.label, name);
            obj.insert("ok".into(), json!(false));
            obj.insert("error".into(), json!(e.to_string()));
            if !probe_m.is_empty() {
                obj.insert("metrics".into(), Value::Object(probe_m));
            }
        }
    }
    let line = Value::Object(obj).to_string();
    println!("JSON {line}");
    if let Some(path) = &c.json {
        let res = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = res {
            eprintln!("ftpbench: cannot write {}: {e}", path.display());
        }
    }
    let _ = io::stdout().flush();
}

fn main() {
    let c = match parse_args() {
        Ok(Some(c)) => c,
        Ok(None) => return,
        Err(e) => die(&e),
    };
    let nofile = procfs::raise_nofile();
    if (nofile as usize) < c.idle + c.clients * 4 + 64 {
        eprintln!(
            "ftpbench: warning: open files limit {nofile} is low for {} idle connections",
            c.idle
        );
    }
    if let Some(p) = c.pid {
        if !procfs::alive(p) {
            die(&format!("--pid {p}: no such process"));
        }
    }
    if c.prepare {
        if let Err(e) = prepare(&c) {
            die(&e.to_string());
        }
    }
    for name in c.benches.clone() {
        // The probe logs in first, so its login is neither measured nor
        // part of the scenario's CPU time.
        let probe = if c.probe {
            Some(login(&c).map(|f| probe::Probe::start(f, c.probe_max_secs)))
        } else {
            None
        };
        let g0 = procfs::self_cpu();
        let procs0 = c.pid.map(|p| procfs::tree(p).len());
        let s0 = c.pid.map(procfs::tree_cpu);
        let sampler = c.pid.map(procfs::Sampler::start);
        let t0 = Instant::now();
        let res = match name.as_str() {
            "idle" => bench_idle(&c),
            "logins" => bench_logins(&c),
            "small" => bench_small(&c),
            "list" => bench_listing(&c, "LIST"),
            "mlsd" => bench_listing(&c, "MLSD"),
            "retr" => bench_retr(&c),
            "stor" => bench_stor(&c),
            _ => unreachable!(),
        };
        let wall = t0.elapsed().as_secs_f64();
        let probe = probe.map(|p| match p {
            Ok(p) => probe_metrics(p.finish()),
            Err(e) => probe_metrics(probe::Report {
                errors: 1,
                first_error: Some(format!("probe login: {e}")),
                ..probe::Report::default()
            }),
        });
        let gen = procfs::self_cpu() - g0;
        if let (Some(p), Some(n0)) = (c.pid, procs0) {
            // Let per-session processes exit and be reaped, so their CPU
            // time lands in their parent's cutime/cstime before sampling
            // (bounded: 5 s).
            let until = Instant::now() + Duration::from_secs(5);
            while Instant::now() < until && procfs::tree(p).len() > n0 {
                thread::sleep(Duration::from_millis(50));
            }
        }
        let sampled = sampler.map(procfs::Sampler::finish);
        let srv = match (c.pid, s0) {
            (Some(p), Some(s0)) => Some((procfs::tree_cpu(p) - s0).max(sampled.unwrap_or(0.0))),
            _ => None,
        };
        emit(&c, &name, res, probe, wall, gen, srv);
        if let Some(p) = c.pid {
            if !procfs::alive(p) {
                die(&format!("server PID {p} exited during {name}"));
            }
        }
    }
}
