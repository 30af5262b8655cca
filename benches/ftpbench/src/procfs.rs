//! CPU time and memory of this process and of the server's process tree,
//! read from getrusage(2) and /proc.

use std::collections::HashMap;
use std::fs;

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// CPU seconds (user + system, all threads) used by this process so far.
pub fn self_cpu() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Raise RLIMIT_NOFILE to the hard limit; returns the new soft limit.
pub fn raise_nofile() -> u64 {
    // SAFETY: getrlimit/setrlimit on a local struct.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) != 0 {
            return 0;
        }
        if rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl);
        }
        rl.rlim_cur as u64
    }
}

struct Stat {
    ppid: u32,
    /// utime + stime + cutime + cstime, in clock ticks.
    ticks: u64,
    /// utime + stime only.
    own: u64,
}

fn read_stat(pid: u32) -> Option<Stat> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    // rest[0] is field 3 (state); ppid is field 4, utime..cstime 14..17.
    let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(Stat {
        ppid: num(1)? as u32,
        ticks: num(11)? + num(12)? + num(13)? + num(14)?,
        own: num(11)? + num(12)?,
    })
}

/// The PID and every live descendant of it.
pub fn tree(root: u32) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(st) = read_stat(pid) {
                children.entry(st.ppid).or_default().push(pid);
            }
        }
    }
    let mut out = vec![root];
    let mut i = 0;
    while i < out.len() {
        if let Some(c) = children.get(&out[i]) {
            out.extend_from_slice(c);
        }
        i += 1;
    }
    out
}

/// CPU seconds of the tree: for every live process utime + stime plus the
/// children it has reaped (cutime + cstime), so the CPU of per-connection
/// processes that already exited is still counted.
pub fn tree_cpu(root: u32) -> f64 {
    let hz = clk_tck();
    tree(root)
        .into_iter()
        .filter_map(read_stat)
        .map(|s| s.ticks as f64 / hz)
        .sum()
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Mem {
    /// Sum of VmRSS, KiB.
    pub rss_kib: u64,
    /// Sum of Pss (proportional set size: shared pages split between the
    /// processes sharing them), KiB.
    pub pss_kib: u64,
    /// Sum of Private_Clean + Private_Dirty (USS, "rss − shared"), KiB.
    pub uss_kib: u64,
    pub procs: u64,
}

fn kib_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(key))?
        .split_ascii_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

pub fn tree_mem(root: u32) -> Mem {
    let mut m = Mem::default();
    for pid in tree(root) {
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let Some(rss) = kib_field(&status, "VmRSS:") else {
            continue; // zombie or kernel thread
        };
        m.rss_kib += rss;
        m.procs += 1;
        if let Ok(sm) = fs::read_to_string(format!("/proc/{pid}/smaps_rollup")) {
            m.pss_kib += kib_field(&sm, "Pss:").unwrap_or(0);
            m.uss_kib += kib_field(&sm, "Private_Clean:").unwrap_or(0)
                + kib_field(&sm, "Private_Dirty:").unwrap_or(0);
        }
    }
    m
}

pub fn alive(pid: u32) -> bool {
    fs::metadata(format!("/proc/{pid}")).is_ok()
}

/// Samples the own CPU time (utime + stime) of every process of the tree
/// every 200 ms until stopped: catches the CPU of per-session processes that
/// exit without being reaped by the tree (reparented to init), which the
/// cutime/cstime of `tree_cpu` cannot see. Misses processes that live less
/// than one interval, which `tree_cpu` does see: the caller takes the larger
/// of the two, a lower bound of the real value either way.
pub struct Sampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<f64>,
}

impl Sampler {
    pub fn start(root: u32) -> Sampler {
        use std::sync::atomic::Ordering;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let st = std::sync::Arc::clone(&stop);
        let snap = move || -> HashMap<u32, u64> {
            tree(root)
                .into_iter()
                .filter_map(|p| read_stat(p).map(|s| (p, s.own)))
                .collect()
        };
        let first = snap();
        let handle = std::thread::spawn(move || {
            let mut last: HashMap<u32, u64> = first.clone();
            loop {
                let done = st.load(Ordering::Relaxed);
                for (p, own) in snap() {
                    last.insert(p, own);
                }
                if done {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            let ticks: u64 = last
                .iter()
                .map(|(p, own)| own.saturating_sub(*first.get(p).unwrap_or(&0)))
                .sum();
            ticks as f64 / clk_tck()
        });
        Sampler { stop, handle }
    }

    pub fn finish(self) -> f64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().unwrap_or(0.0)
    }
}
