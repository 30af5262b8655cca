//! `ftpdlib --run-as` (issue 12): started as root, the process binds its
//! port, then switches to the unprivileged account for good (real,
//! effective, saved and file-system ids, as `/proc/PID/status` shows),
//! with `NoNewPrivs: 1`, and still serves downloads and uploads. With
//! system users it keeps exactly the capabilities impersonation needs.
//!
//! Each server is the `ftpdlib` binary in a child process: a privilege
//! drop is for the whole process and cannot be undone. Root only (CI runs
//! as root); `FTPDLIB_SKIP_ROOT_TESTS=1` skips them elsewhere. Port 21 on
//! 127.0.0.1 is used when it is free (the issue's setting), else a free
//! high port.

mod common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};

use common::curl::{curl_ok, run_curl, stderr};

/// One server at a time (they may all want port 21).
static SERIAL: Mutex<()> = Mutex::new(());

fn root_test() -> Option<MutexGuard<'static, ()>> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let euid = fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(1);
    if euid == 0 {
        return Some(guard);
    }
    if std::env::var("FTPDLIB_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: not root and FTPDLIB_SKIP_ROOT_TESTS=1");
        return None;
    }
    panic!("tests/privdrop.rs starts servers as root and must run as root; set FTPDLIB_SKIP_ROOT_TESTS=1 to skip");
}

/// Port 21 when nothing holds it, else 0 (the port is then read from the
/// log).
fn pick_port() -> u16 {
    if std::net::TcpListener::bind("127.0.0.1:21").is_ok() {
        return 21;
    }
    0
}

/// `(uid, gid)` of account `name`, from `id`.
fn ids_of(name: &str) -> (u32, u32) {
    let id = |flag: &str| {
        let out = Command::new("id").args([flag, name]).output().expect("id");
        assert!(out.status.success(), "id {flag} {name}");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse::<u32>()
            .expect("number")
    };
    (id("-u"), id("-g"))
}

/// The `ftpdlib` binary serving on 127.0.0.1:`port`, its log in `log`;
/// stopped on drop.
struct Ftpd {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Ftpd {
    fn start(args: &[&str], log: &Path) -> Ftpd {
        let port = pick_port();
        let err = fs::File::create(log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("run ftpdlib");
        let mut ftpd = Ftpd {
            child,
            port,
            log: log.to_path_buf(),
        };
        match common::logged_port(log) {
            Some(p) if p == port || port == 0 => ftpd.port = p,
            _ => {
                common::stop_child(&mut ftpd.child);
                panic!("ftpdlib did not start on port {port}: {}", ftpd.log_text());
            }
        }
        assert!(common::wait_listening(ftpd.port), "{}", ftpd.log_text());
        ftpd
    }

    fn url(&self, path: &str) -> String {
        format!("ftp://127.0.0.1:{}/{path}", self.port)
    }

    /// `/proc/PID/status` line `key` (`"Uid"`, `"NoNewPrivs"`…), its fields.
    fn status(&self, key: &str) -> Vec<String> {
        let text = fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}:")))
            .unwrap_or_else(|| panic!("no {key} in status"));
        line.split_whitespace().map(str::to_string).collect()
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Ftpd {
    fn drop(&mut self) {
        common::stop_child(&mut self.child);
    }
}

/// A temp base (mode 0755, so other accounts reach below it) with `home`
/// owned by `uid:gid` holding `a.txt` (root's, world-readable).
fn served_home(uid: u32, gid: u32) -> (tempfile::TempDir, PathBuf) {
    let base = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let home = base.path().join("home");
    fs::create_dir(&home).expect("home");
    fs::write(home.join("a.txt"), b"served to all\n").expect("a.txt");
    std::os::unix::fs::chown(&home, Some(uid), Some(gid)).expect("chown");
    (base, home)
}

#[test]
fn run_as_nobody_drops_every_id_sets_no_new_privs_and_still_serves() {
    let Some(_serial) = root_test() else { return };
    let (uid, gid) = ids_of("nobody");
    let (base, home) = served_home(uid, gid);
    let log = base.path().join("ftpd.log");
    let home_arg = home.to_str().expect("utf-8 path");
    let ftpd = Ftpd::start(&["-w", "-d", home_arg, "--run-as", "nobody"], &log);

    let want = |n: u32| vec![n.to_string(); 4];
    assert_eq!(
        ftpd.status("Uid"),
        want(uid),
        "real, effective, saved, fs uid"
    );
    assert_eq!(
        ftpd.status("Gid"),
        want(gid),
        "real, effective, saved, fs gid"
    );
    assert_eq!(ftpd.status("NoNewPrivs"), ["1"]);
    assert_eq!(ftpd.status("CapEff"), ["0000000000000000"]);
    assert_eq!(ftpd.status("CapPrm"), ["0000000000000000"]);
    assert_eq!(ftpd.status("CapBnd"), ["0000000000000000"]);

    let out = run_curl(&["-sS"], &[&ftpd.url("a.txt")]);
    curl_ok(&out);
    assert_eq!(out.stdout, b"served to all\n");
    let upload = base.path().join("up.txt");
    fs::write(&upload, b"uploaded as nobody\n").expect("upload file");
    let out = run_curl(
        &["-sS", "-T"],
        &[upload.to_str().expect("path"), &ftpd.url("up.txt")],
    );
    curl_ok(&out);
    let stored = home.join("up.txt");
    assert_eq!(fs::read(&stored).expect("stored"), b"uploaded as nobody\n");
    let meta = fs::metadata(&stored).expect("stored meta");
    assert_eq!((meta.uid(), meta.gid()), (uid, gid), "the file is nobody's");
    let text = ftpd.log_text();
    assert!(
        text.contains("privileges dropped: running as nobody"),
        "{text}"
    );
    assert!(!text.contains("serving as root"), "{text}");
}

#[test]
fn started_as_root_without_run_as_it_serves_and_says_how_to_drop() {
    let Some(_serial) = root_test() else { return };
    let (base, home) = served_home(0, 0);
    let log = base.path().join("ftpd.log");
    let ftpd = Ftpd::start(&["-d", home.to_str().expect("path")], &log);
    let out = run_curl(&["-sS"], &[&ftpd.url("a.txt")]);
    curl_ok(&out);
    assert_eq!(ftpd.status("Uid"), vec!["0".to_string(); 4]);
    let text = ftpd.log_text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("serving as root"))
        .collect();
    assert_eq!(warnings.len(), 1, "{text}");
    assert!(
        warnings[0].starts_with("[W ") && warnings[0].contains("--run-as"),
        "{text}"
    );
}

#[test]
fn an_unknown_run_as_account_stops_the_start_with_a_clear_error() {
    let Some(_serial) = root_test() else { return };
    let home = tempfile::tempdir().expect("home");
    let out = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["-i", "127.0.0.1", "-p", "0", "-d"])
        .arg(home.path())
        .args(["--run-as", "ftpdlib-no-such-account"])
        .stdin(Stdio::null())
        .output()
        .expect("run ftpdlib");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--run-as ftpdlib-no-such-account: no such user"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["--run-as", "nobody:ftpdlib-no-such-group", "-p", "0", "-d"])
        .arg(home.path())
        .stdin(Stdio::null())
        .output()
        .expect("run ftpdlib");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no such group"), "{err}");
    // Not started as root: a clear refusal, not a half-done switch.
    let out = Command::new("setpriv")
        .args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_ftpdlib"))
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            "0",
            "-d",
            "/",
            "--run-as",
            "daemon",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run setpriv");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs a server started as root"), "{err}");
}

/// A system account `ftpdp_<pid>` with a home under `base` and a known
/// password; deleted on drop.
struct SysUser {
    name: String,
    password: String,
}

impl SysUser {
    fn new(base: &Path) -> SysUser {
        let name = format!("ftpdp_{}", std::process::id());
        let _ = Command::new("/usr/sbin/userdel")
            .args(["-r", &name])
            .stderr(Stdio::null())
            .status();
        let home = base.join(&name);
        let ok = Command::new("/usr/sbin/useradd")
            .args(["-m", "-U", "-s", "/bin/sh", "-d"])
            .arg(&home)
            .arg(&name)
            .status()
            .expect("useradd");
        assert!(ok.success(), "useradd");
        let password = format!("pw-{}", std::process::id());
        let mut child = Command::new("/usr/sbin/chpasswd")
            .stdin(Stdio::piped())
            .spawn()
            .expect("chpasswd");
        use std::io::Write;
        let stdin = child.stdin.as_mut().expect("stdin");
        stdin
            .write_all(format!("{name}:{password}\n").as_bytes())
            .expect("write");
        assert!(child.wait().expect("chpasswd").success());
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).expect("chmod home");
        SysUser { name, password }
    }
}

impl Drop for SysUser {
    fn drop(&mut self) {
        let _ = Command::new("/usr/sbin/userdel")
            .args(["-r", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn with_system_users_only_setuid_setgid_and_dac_read_search_are_kept() {
    let Some(_serial) = root_test() else { return };
    if !Path::new("/usr/sbin/useradd").exists() {
        panic!("useradd missing (package passwd)");
    }
    let base = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let user = SysUser::new(base.path());
    let (uid, gid) = ids_of(&user.name);
    let (nobody_uid, nobody_gid) = ids_of("nobody");
    let log = base.path().join("ftpd.log");
    let ftpd = Ftpd::start(
        &[
            "--unix-users",
            "-w",
            "--allowed-users",
            &user.name,
            "--run-as",
            "nobody",
        ],
        &log,
    );
    let want = |n: u32| vec![n.to_string(); 4];
    assert_eq!(ftpd.status("Uid"), want(nobody_uid), "{}", ftpd.log_text());
    assert_eq!(ftpd.status("Gid"), want(nobody_gid));
    assert_eq!(ftpd.status("NoNewPrivs"), ["1"]);
    // CAP_DAC_READ_SEARCH (2) permitted only; CAP_SETGID (6) and
    // CAP_SETUID (7) effective; nothing else anywhere.
    assert_eq!(ftpd.status("CapPrm"), ["00000000000000c4"]);
    assert_eq!(ftpd.status("CapEff"), ["00000000000000c0"]);
    assert_eq!(ftpd.status("CapBnd"), ["00000000000000c4"]);
    assert_eq!(ftpd.status("CapInh"), ["0000000000000000"]);

    // The shadow password is read (CAP_DAC_READ_SEARCH raised for it),
    // the upload is the user's, and the download works.
    let creds = format!("{}:{}", user.name, user.password);
    let upload = base.path().join("up.txt");
    fs::write(&upload, b"mine\n").expect("upload file");
    let out = run_curl(
        &["-sS", "-u", &creds, "-T"],
        &[upload.to_str().expect("path"), &ftpd.url("up.txt")],
    );
    curl_ok(&out);
    let stored = base.path().join(&user.name).join("up.txt");
    let meta = fs::metadata(&stored).expect("stored");
    assert_eq!((meta.uid(), meta.gid()), (uid, gid), "{}", stderr(&out));
    let out = run_curl(&["-sS", "-u", &creds], &[&ftpd.url("up.txt")]);
    curl_ok(&out);
    assert_eq!(out.stdout, b"mine\n");
    // Between commands the process is nobody again.
    assert_eq!(ftpd.status("Uid"), want(nobody_uid));
    let text = ftpd.log_text();
    assert!(text.contains("kept CAP_SETUID, CAP_SETGID"), "{text}");
}

/// The pids of the children of `pid` (`/proc/PID/task/*/children`).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let tasks = fs::read_dir(format!("/proc/{pid}/task")).expect("tasks");
    for task in tasks.flatten() {
        let text = fs::read_to_string(task.path().join("children")).unwrap_or_default();
        out.extend(
            text.split_whitespace()
                .filter_map(|p| p.parse::<u32>().ok()),
        );
    }
    out
}

#[test]
fn with_workers_every_worker_drops_after_its_fork() {
    let Some(_serial) = root_test() else { return };
    let (uid, gid) = ids_of("nobody");
    let (base, home) = served_home(uid, gid);
    let log = base.path().join("ftpd.log");
    let home_arg = home.to_str().expect("utf-8 path");
    let ftpd = Ftpd::start(
        &["-d", home_arg, "--workers", "2", "--run-as", "nobody"],
        &log,
    );
    let master = ftpd.child.id();
    let mut workers = Vec::new();
    common::eventually("two workers forked", || {
        workers = children_of(master);
        workers.len() == 2
    });
    // The supervisor only forks, reaps and forwards signals; it keeps the
    // identity it was started with, to fork replacements the same way.
    for pid in workers {
        let text = fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(key))
                .map(|v| v.split_whitespace().map(str::to_string).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        assert_eq!(field("Uid:"), vec![uid.to_string(); 4], "pid {pid}");
        assert_eq!(field("Gid:"), vec![gid.to_string(); 4], "pid {pid}");
        assert_eq!(field("NoNewPrivs:"), ["1"], "pid {pid}");
    }
    for _ in 0..4 {
        let out = run_curl(&["-sS"], &[&ftpd.url("a.txt")]);
        curl_ok(&out);
        assert_eq!(out.stdout, b"served to all\n");
    }
    let text = ftpd.log_text();
    let drops = text
        .matches("privileges dropped: running as nobody")
        .count();
    assert_eq!(drops, 2, "one per worker: {text}");

    // A worker killed is replaced, and the replacement drops too.
    let first = children_of(master);
    let victim = i32::try_from(first[0]).expect("pid");
    // SAFETY: kill(2) on a worker of the server this test started.
    unsafe { libc::kill(victim, libc::SIGKILL) };
    let mut replacement = 0;
    common::eventually("a replacement worker", || {
        let now = children_of(master);
        replacement = now.into_iter().find(|p| !first.contains(p)).unwrap_or(0);
        replacement != 0
    });
    let want = format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}");
    common::eventually("the replacement drops its privileges", || {
        let text = fs::read_to_string(format!("/proc/{replacement}/status")).unwrap_or_default();
        text.lines().any(|l| l == want)
    });

    // The drop happens before the parent-death signal is set (a change of
    // credentials would clear it): killing the supervisor ends the workers.
    let workers = children_of(master);
    let master = i32::try_from(master).expect("pid");
    // SAFETY: kill(2) on the server process this test started.
    unsafe { libc::kill(master, libc::SIGKILL) };
    common::eventually("the workers exit with their supervisor", || {
        workers.iter().all(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for init.
            stat.is_empty()
                || stat
                    .rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
    });
}
