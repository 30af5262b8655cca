//! The tutorial's examples (`examples/*.rs`), each run as its own program
//! over real sockets: the example binary is started on port 0 in a temp
//! directory, its address read from pyftpdlib's start-up log line (which
//! also shows that a program that only calls `serve_forever` logs INFO
//! lines to stderr), then driven with curl and a transcript client.
//!
//! `cargo test` builds the examples (target/<profile>/examples/NAME); a
//! run limited to this file (`cargo test --test examples`) builds a missing
//! one with `cargo build --example NAME` first.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::curl::{curl_ok, run_curl};
use common::{code_of, eventually, stop_child, Client};
use md5::{Digest, Md5};

/// A running example program.
struct Example {
    child: Child,
    addr: SocketAddr,
    /// Its stderr so far, line by line.
    log: Arc<Mutex<Vec<String>>>,
    /// Its working directory (the shared directory).
    dir: tempfile::TempDir,
}

impl Drop for Example {
    fn drop(&mut self) {
        stop_child(&mut self.child);
    }
}

impl Example {
    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    fn url(&self, path: &str) -> String {
        format!("ftp://127.0.0.1:{}/{path}", self.addr.port())
    }

    fn client(&self) -> Client {
        Client::connect(self.addr)
    }
}

/// The example binary `name`, built if this test run did not build it.
fn example_binary(name: &str) -> PathBuf {
    // target/<profile>/deps/examples-HASH -> target/<profile>/examples/NAME
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let bin = profile_dir.join("examples").join(name);
    if !bin.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--example", name])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo build --example");
        assert!(status.success(), "cargo build --example {name}");
    }
    bin
}

/// Start example `name` with `args` in a fresh temp directory prepared by
/// `prepare`; wait for its "starting FTP server" line (on stderr, or in
/// `log_file` of the directory) and take the port from it.
fn start(
    name: &str,
    args: &[&str],
    prepare: impl FnOnce(&Path),
    log_file: Option<&str>,
) -> Example {
    let dir = tempfile::tempdir().expect("temp dir");
    prepare(dir.path());
    let mut child = Command::new(example_binary(name))
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
    let log: Arc<Mutex<Vec<String>>> = Arc::default();
    let stderr = child.stderr.take().expect("piped stderr");
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let mut example = Example {
        child,
        addr: "127.0.0.1:0".parse().unwrap(),
        log,
        dir,
    };
    let mut port = None;
    eventually(&format!("{name} announcing its address"), || {
        let text = match log_file {
            Some(f) => std::fs::read_to_string(example.dir.path().join(f)).unwrap_or_default(),
            None => example.log_text(),
        };
        port = text.lines().find_map(started_port);
        port.is_some() || example.child.try_wait().ok().flatten().is_some()
    });
    let port = port.unwrap_or_else(|| panic!("{name} exited: {}", example.log_text()));
    example.addr.set_port(port);
    example
}

/// The port of `>>> starting FTP server on [::]:PORT, pid=N <<<`.
fn started_port(line: &str) -> Option<u16> {
    let rest = line.split(">>> starting FTP server on ").nth(1)?;
    let addr = rest.split(", pid=").next()?;
    addr.rsplit(':').next()?.parse().ok()
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn basic_ftpd_logs_pyftpdlib_info_lines_to_stderr_without_any_setup() {
    let ex = start(
        "basic_ftpd",
        &["0"],
        |d| std::fs::write(d.join("a.txt"), b"hello").unwrap(),
        None,
    );
    let out = run_curl(&["-s", "-u", "user:12345"], &[&ex.url("a.txt")]);
    curl_ok(&out);
    assert_eq!(out.stdout, b"hello");
    eventually("the transfer line on stderr", || {
        ex.log_text().contains("RETR ")
    });
    let text = ex.log_text();
    // pyftpdlib's format: [I YYYY-MM-DD HH:MM:SS] message
    let start_line = text
        .lines()
        .find(|l| l.contains(">>> starting FTP server"))
        .unwrap();
    assert!(start_line.starts_with("[I "), "{start_line}");
    assert_eq!(start_line.as_bytes().get(22), Some(&b']'), "{start_line}");
    assert!(text.contains("-[user] USER 'user' logged in."), "{text}");
    assert!(text.contains("completed=1 bytes=5"), "{text}");
    // INFO, not DEBUG: no command lines.
    assert!(!text.contains("<- "), "{text}");
}

#[test]
fn md5_ftpd_logs_in_with_the_password_whose_digest_is_stored() {
    let ex = start(
        "md5_ftpd",
        &["0"],
        |d| std::fs::write(d.join("f.txt"), b"md5").unwrap(),
        None,
    );
    let out = run_curl(&["-s", "-u", "user:12345"], &[&ex.url("f.txt")]);
    curl_ok(&out);
    assert_eq!(out.stdout, b"md5");

    let mut c = ex.client();
    c.expect("USER user", 331);
    // The stored digest itself is not the password.
    let reply = c.cmd(&format!("PASS {}", md5_hex("12345")));
    assert_eq!(code_of(&reply), 530, "{reply}");
    c.expect("USER user", 331);
    assert_eq!(code_of(&c.cmd("PASS 1234")), 530);
    c.login("user", "12345");
    // The rest is DummyAuthorizer's: home, perms, messages.
    c.expect("STOR", 501);
    let mut anon = ex.client();
    anon.login("anonymous", "guest@example.com");
    anon.expect("DELE f.txt", 550);
}

#[test]
fn readonly_fs_refuses_every_write_and_serves_reads() {
    let ex = start(
        "readonly_fs",
        &["0"],
        |d| {
            std::fs::write(d.join("r.txt"), b"read me").unwrap();
            std::fs::create_dir(d.join("sub")).unwrap();
        },
        None,
    );
    let out = run_curl(&["-s", "-u", "user:12345"], &[&ex.url("r.txt")]);
    curl_ok(&out);
    assert_eq!(out.stdout, b"read me");
    let listing = run_curl(&["-s", "-u", "user:12345"], &[&ex.url("")]);
    curl_ok(&listing);
    let names = String::from_utf8_lossy(&listing.stdout).into_owned();
    assert!(
        names.contains(" r.txt") && names.contains(" sub"),
        "{names}"
    );

    let upload = ex.dir.path().join("up.txt");
    std::fs::write(&upload, b"new").unwrap();
    let out = run_curl(
        &["-s", "-u", "user:12345", "-T"],
        &[upload.to_str().unwrap(), &ex.url("up.txt")],
    );
    assert_ne!(out.status.code(), Some(0), "upload accepted");

    let mut c = ex.client();
    c.login("user", "12345");
    for (cmd, code) in [
        ("MKD new", 550),
        ("RMD sub", 550),
        ("DELE r.txt", 550),
        ("SITE CHMOD 600 r.txt", 550),
        ("MFMT 20200101000000 r.txt", 550),
    ] {
        let reply = c.cmd(cmd);
        assert_eq!(code_of(&reply), code, "{cmd}: {reply}");
        assert!(reply.contains("Read-only file system."), "{cmd}: {reply}");
    }
    c.expect("RNFR r.txt", 350);
    let reply = c.expect("RNTO s.txt", 550);
    assert!(reply.contains("Read-only"), "{reply}");
    let mut data = c.pasv();
    let reply = c.cmd("STOR up.txt");
    let mut rest = Vec::new();
    let _ = data.read_to_end(&mut rest);
    let reply = if code_of(&reply) == 150 || code_of(&reply) == 125 {
        c.read_reply()
    } else {
        reply
    };
    assert!(
        code_of(&reply) == 550 && reply.contains("Read-only"),
        "{reply}"
    );
    // Nothing changed on disk.
    assert!(!ex.dir.path().join("new").exists() && ex.dir.path().join("sub").is_dir());
    assert_eq!(
        std::fs::read(ex.dir.path().join("r.txt")).unwrap(),
        b"read me"
    );
    assert!(!ex.dir.path().join("s.txt").exists());
}

#[test]
fn stor_policy_checks_the_name_then_stores_with_the_builtin_stor() {
    let ex = start("stor_policy", &["0"], |_| {}, None);
    let mut c = ex.client();
    c.login("user", "12345");
    let reply = c.store("STOR notes.txt", b"line 1\nline 2\n");
    assert_eq!(code_of(&reply), 226, "{reply}");
    // The built-in STOR ran: ASCII type (the default) stored LF as sent.
    assert_eq!(
        std::fs::read(ex.dir.path().join("notes.txt")).unwrap(),
        b"line 1\nline 2\n"
    );

    let _data = c.pasv();
    let reply = c.expect("STOR tool.exe", 553);
    assert!(reply.contains("Only .txt and .csv"), "{reply}");
    assert!(!ex.dir.path().join("tool.exe").exists());
    // The policy runs after the built-in checks: no login, no STOR.
    let mut anon = ex.client();
    anon.expect("STOR x.txt", 530);
    // curl sees the same.
    let up = ex.dir.path().join("data.csv");
    std::fs::write(&up, b"a,b\n").unwrap();
    let out = run_curl(
        &["-s", "-u", "user:12345", "-T"],
        &[up.to_str().unwrap(), &ex.url("copy.csv")],
    );
    curl_ok(&out);
    assert_eq!(
        std::fs::read(ex.dir.path().join("copy.csv")).unwrap(),
        b"a,b\n"
    );
    // The pre_process_command hook logged each attempt.
    eventually("the hook's log lines", || {
        let t = ex.log_text();
        t.contains("upload attempt: tool.exe") && t.contains("upload attempt: copy.csv")
    });
}

#[test]
fn throttled_ftpd_holds_a_download_to_its_write_limit() {
    // 90 KiB at 30 KiB/s: at least ~2 s (the first second's budget goes at
    // once). Only a lower bound is checked.
    const SIZE: usize = 90 * 1024;
    let ex = start(
        "throttled_ftpd",
        &["0"],
        |d| std::fs::write(d.join("big"), vec![b'x'; SIZE]).unwrap(),
        None,
    );
    let t0 = Instant::now();
    let out = run_curl(&["-s", "-u", "user:12345"], &[&ex.url("big")]);
    let elapsed = t0.elapsed();
    curl_ok(&out);
    assert_eq!(out.stdout.len(), SIZE);
    assert!(
        elapsed.as_secs_f64() >= 1.5,
        "90 KiB in {elapsed:?} at 30 KiB/s"
    );
}

#[test]
fn logging_management_sends_the_two_streams_to_two_files() {
    let ex = start("logging_management", &["0"], |_| {}, Some("ftpd.log"));
    let out = run_curl(&["-s"], &[&ex.url("")]);
    curl_ok(&out);
    let log = ex.dir.path().join("ftpd.log");
    let lines = ex.dir.path().join("ftpd.lines.log");
    eventually("the session in both files", || {
        let l = std::fs::read_to_string(&lines).unwrap_or_default();
        let g = std::fs::read_to_string(&log).unwrap_or_default();
        l.contains("<- PASS ******") && l.contains("-> 226") && g.contains("FTP session closed")
    });
    let main_log = std::fs::read_to_string(&log).unwrap();
    // standard_logger's "[YYYY-MM-DD HH:MM:SS] msg": no level letter.
    let first = main_log.lines().next().unwrap();
    assert!(
        first.starts_with('[') && !first.starts_with("[I "),
        "{first}"
    );
    assert!(
        main_log.contains("-[anonymous] USER 'anonymous' logged in."),
        "{main_log}"
    );
    assert!(!main_log.contains("<- "), "{main_log}");
    let line_log = std::fs::read_to_string(&lines).unwrap();
    assert!(line_log.contains("<- USER anonymous"), "{line_log}");
    assert!(!line_log.contains("logged in."), "{line_log}");
    // Nothing of the two streams on stderr.
    assert!(!ex.log_text().contains("logged in"), "{}", ex.log_text());
}

/// `/usr/sbin/<tool>` when it is there (root's PATH may lack sbin).
fn sbin(tool: &str) -> PathBuf {
    let p = Path::new("/usr/sbin").join(tool);
    if p.exists() {
        p
    } else {
        PathBuf::from(tool)
    }
}

/// A system account for the unix_ftpd test, removed on drop.
struct Account {
    name: String,
    _base: tempfile::TempDir,
}

impl Drop for Account {
    fn drop(&mut self) {
        let _ = Command::new(sbin("userdel"))
            .args(["-r", &self.name])
            .output();
    }
}

#[test]
fn unix_ftpd_serves_an_added_system_account_as_that_account() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let euid = std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid != 0 {
        if std::env::var("FTPDLIB_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
            eprintln!("SKIPPED: not root and FTPDLIB_SKIP_ROOT_TESTS=1");
            return;
        }
        panic!("unix_ftpd needs root: run as root or set FTPDLIB_SKIP_ROOT_TESTS=1");
    }
    let base = tempfile::tempdir().unwrap();
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let name = format!("ftpdx_{}", std::process::id());
    let _ = Command::new(sbin("userdel")).args(["-r", &name]).output();
    let home = base.path().join(&name);
    let made = Command::new(sbin("useradd"))
        .args(["-m", "-U", "-s", "/bin/sh", "-d"])
        .arg(&home)
        .arg(&name)
        .status()
        .expect("useradd");
    assert!(made.success(), "useradd {name}");
    let account = Account {
        name: name.clone(),
        _base: base,
    };
    let password = format!("Pw-{}", std::process::id());
    let mut chpasswd = Command::new(sbin("chpasswd"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    chpasswd
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{name}:{password}\n").as_bytes())
        .unwrap();
    assert!(chpasswd.wait().unwrap().success());

    let ex = start("unix_ftpd", &["0", &name], |_| {}, None);
    let up = ex.dir.path().join("up.txt");
    std::fs::write(&up, b"mine").unwrap();
    // UnixFilesystem: the session starts in the user's real home.
    let target = ex.url("up.txt");
    let out = run_curl(
        &["-s", "-u", &format!("{name}:{password}"), "-T"],
        &[up.to_str().unwrap(), &target],
    );
    curl_ok(&out);
    let stored = home.join("up.txt");
    assert_eq!(std::fs::read(&stored).unwrap(), b"mine");
    let owner = std::fs::metadata(&stored).unwrap().uid();
    assert_eq!(
        owner,
        std::fs::metadata(&home).unwrap().uid(),
        "stored as the user"
    );
    assert_ne!(owner, 0);

    let mut c = ex.client();
    c.expect(&format!("USER {name}"), 331);
    assert_eq!(code_of(&c.cmd("PASS wrong")), 530);
    // Only added accounts log in, as in the tutorial: root is not one.
    let mut r = ex.client();
    r.expect("USER root", 331);
    assert_eq!(code_of(&r.cmd("PASS whatever")), 530);
    // add_anonymous(homedir, "nobody"): anonymous logs in, read-only.
    let mut anon = ex.client();
    anon.login("anonymous", "guest@");
    anon.expect("MKD /tmp/should-not-exist-ftpdx", 550);
    drop(account);
}

#[test]
fn hashed_passwords_logs_in_against_the_crypt_hash() {
    let ex = start(
        "hashed_passwords",
        &["0"],
        |d| std::fs::write(d.join("h.txt"), b"h").unwrap(),
        None,
    );
    let out = run_curl(&["-s", "-u", "user:12345"], &[&ex.url("h.txt")]);
    curl_ok(&out);
    assert_eq!(out.stdout, b"h");
    let mut c = ex.client();
    c.expect("USER user", 331);
    assert_eq!(code_of(&c.cmd("PASS 123456")), 530);
}

#[test]
fn callbacks_moves_a_finished_upload_into_processed() {
    let ex = start("callbacks", &["0"], |_| {}, None);
    let mut c = ex.client();
    c.login("user", "12345");
    let end = c.store("STOR up.bin", b"payload");
    assert_eq!(code_of(&end), 226, "{end}");
    let moved = ex.dir.path().join("processed").join("up.bin");
    eventually("on_file_received moving the upload", || moved.exists());
    assert_eq!(std::fs::read(&moved).unwrap(), b"payload");
    assert!(!ex.dir.path().join("up.bin").exists());
}
