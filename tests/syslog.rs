//! `ftpdlib --syslog` against a real syslog daemon (issue 14): Debian's
//! busybox `syslogd`, run here on a private socket so the test does not
//! depend on (or disturb) the machine's `/dev/log`. busybox's syslogd has
//! no option for its socket path, so it runs in a mount namespace of its
//! own (`unshare -m`, root only) where a temp dir is mounted on `/dev`:
//! its `/dev/log` is that dir's `log`, which the server reaches through
//! `--syslog-socket`. The test kills and restarts the daemon mid-run: the
//! lines sent while it was down may be lost, none other, and the server
//! serves on. Without root, busybox or unshare it says SKIPPED.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Bound of every wait here (the machine may be loaded; each step takes
/// milliseconds).
const PATIENCE: Duration = Duration::from_secs(20);

/// A process we started; SIGTERM by pid, then reaped, on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

fn stop(child: &mut Child) {
    common::stop_child(child);
}

/// busybox syslogd in the foreground, writing to `dir/messages`, its
/// socket at `dir/log`; `None` when it cannot run here.
fn syslogd(dir: &Path) -> Option<Proc> {
    let script = format!(
        "mount --bind {d} /dev && exec busybox syslogd -n -O {d}/messages",
        d = dir.display()
    );
    let _ = std::fs::remove_file(dir.join("log"));
    let child = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let mut daemon = Proc(child);
    let deadline = Instant::now() + PATIENCE;
    while !dir.join("log").exists() {
        if Instant::now() >= deadline || matches!(daemon.0.try_wait(), Ok(Some(_))) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(daemon)
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Until something listens on 127.0.0.1:`port` (from /proc/net/tcp: a
/// connect loop could connect a socket to itself).
fn wait_listening(port: u16) {
    assert!(
        common::wait_listening(port),
        "nothing listens on port {port}"
    );
}

fn curl(url: &str) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20", url])
        .stdin(Stdio::null())
        .output()
        .expect("run curl")
}

/// Download `name` (so the server logs a line naming it); the server must
/// serve it whatever the daemon does.
fn fetch(port: u16, name: &str) {
    let out = curl(&format!("ftp://127.0.0.1:{port}/{name}"));
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, name.as_bytes());
}

/// The daemon's log once it holds `line` (bounded wait).
fn wait_for(messages: &Path, line: &str) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(messages).unwrap_or_default();
        if text.contains(line) || Instant::now() >= deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn lines_reach_busybox_syslogd_with_tag_and_pid_across_a_daemon_restart() {
    let base = tempfile::tempdir().unwrap();
    let dir: PathBuf = base.path().join("dev");
    std::fs::create_dir(&dir).unwrap();
    let Some(daemon) = syslogd(&dir) else {
        println!("SKIPPED: busybox syslogd cannot run in a private mount namespace here");
        return;
    };
    let home = base.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let names = [
        "before-1", "before-2", "down-1", "down-2", "after-1", "after-2",
    ];
    for name in names {
        std::fs::write(home.join(name), name).unwrap();
    }
    let port = free_port();
    let server = Proc(
        Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
            .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-d"])
            .arg(&home)
            .args(["--syslog", "local3", "--syslog-socket"])
            .arg(dir.join("log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run ftpdlib"),
    );
    let tag = format!("local3.info ftpdlib[{}]: ", server.0.id());
    let messages = dir.join("messages");
    let started = wait_for(&messages, ">>> starting FTP server");
    assert!(
        started.contains(&format!("{tag}>>> starting FTP server on 127.0.0.1:{port}")),
        "{started}"
    );
    fetch(port, "before-1");
    fetch(port, "before-2");
    wait_for(&messages, "before-2 completed=1");

    // Kill the daemon; the server serves on while nobody listens.
    drop(daemon);
    let before_restart = std::fs::read_to_string(&messages).unwrap_or_default();
    fetch(port, "down-1");
    fetch(port, "down-2");

    // A new daemon on the same path (busybox replaces the old socket).
    let Some(_daemon) = syslogd(&dir) else {
        panic!("busybox syslogd did not start again");
    };
    fetch(port, "after-1");
    fetch(port, "after-2");
    let log = wait_for(&messages, "after-2 completed=1");
    for name in ["before-1", "before-2", "after-1", "after-2"] {
        let line = format!("{tag}127.0.0.1:");
        let found = log
            .lines()
            .any(|l| l.contains(&line) && l.contains(&format!("/{name} completed=1")));
        assert!(found, "no RETR line for {name} with {tag:?}:\n{log}");
    }
    // Lines sent while the daemon was down are lost (nobody read them),
    // and the first line through says how many.
    let after = &log[before_restart.len().min(log.len())..];
    assert!(!after.contains("/down-1 completed=1"), "{after}");
    let note = format!("local3.warn ftpdlib[{}]: ", server.0.id());
    assert!(
        after
            .lines()
            .any(|l| l.contains(&note)
                && l.ends_with("log line(s) lost while syslog was unreachable")),
        "{after}"
    );
    // Still serving after all that.
    fetch(port, "after-1");
    drop(server);
}

/// Under inetd the log cannot go to standard error (it may be the
/// client's socket): with `--syslog` each session process logs there.
#[test]
fn inetd_sessions_log_to_syslog_with_their_own_pid() {
    let base = tempfile::tempdir().unwrap();
    let dir: PathBuf = base.path().join("dev");
    std::fs::create_dir(&dir).unwrap();
    let Some(_daemon) = syslogd(&dir) else {
        println!("SKIPPED: busybox syslogd cannot run in a private mount namespace here");
        return;
    };
    let home = base.path().join("home");
    std::fs::create_dir(&home).unwrap();
    std::fs::write(home.join("inetd-file"), "inetd-file").unwrap();
    let port = free_port();
    let exec = format!(
        "EXEC:{} --inetd -d {} --syslog ftp --syslog-socket {},nofork,stderr",
        env!("CARGO_BIN_EXE_ftpdlib"),
        home.display(),
        dir.join("log").display()
    );
    let _socat = Proc(
        Command::new("socat")
            .arg(format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"))
            .arg(exec)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run socat"),
    );
    wait_listening(port);
    fetch(port, "inetd-file");
    let log = wait_for(&dir.join("messages"), "/inetd-file completed=1");
    let line = log
        .lines()
        .find(|l| l.contains("/inetd-file completed=1"))
        .unwrap_or_else(|| panic!("{log}"));
    assert!(line.contains(" ftp.info ftpdlib["), "{line}");
    // No server start-up lines per session at INFO.
    assert!(!log.contains(">>> starting"), "{log}");
}
