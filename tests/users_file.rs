//! The `ftpdlib` command's secrets and bans over real sockets:
//! `--users-file` with `$y$` and `$6$` hashes, re-read on SIGHUP while
//! sessions go on; `--password-file` and the argv warning; bans across
//! sessions seen by Python's ftplib from two source addresses.

mod common;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{code_of, connect_from, eventually, Client};

/// "12345" hashed with SHA-512 crypt (`openssl passwd -6 -salt saltsalt 12345`).
const SHA512_12345: &str =
    "$6$saltsalt$bS8uFVRzMrb1ylbOyDWAlPhX./AH4Wgwbcp6PSOQdctbNq4.17j.43u4YKqn/mHb3zik88vMAwyrY4nYHaOFC/";

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// `ftpdlib --hash-password` of `password` (yescrypt, `$y$`, on Debian 12).
fn hash_of(password: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .arg("--hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run ftpdlib");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .expect("write");
    drop(stdin);
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_string()
}

/// The binary serving on a free port, its stderr in a file.
struct Ftpd {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Ftpd {
    fn start(args: &[&str]) -> Ftpd {
        let dir = tempfile::tempdir().expect("dir");
        let log = dir.path().join("stderr.log");
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("run ftpdlib");
        let f = Ftpd {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            log,
            _dir: dir,
        };
        // After this line the signal descriptor (SIGHUP included) is set.
        f.wait_log(">>> starting FTP server");
        f
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, what: &str) {
        eventually(&format!("log line {what:?}"), || {
            self.log_text().contains(what)
        });
    }

    fn log_count(&self, what: &str) -> usize {
        self.log_text().matches(what).count()
    }

    fn hangup(&self) {
        let pid = i32::try_from(self.child.id()).expect("pid");
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        unsafe { libc::kill(pid, libc::SIGHUP) };
    }

    fn cmdline(&self) -> String {
        let raw = std::fs::read(format!("/proc/{}/cmdline", self.child.id())).expect("cmdline");
        String::from_utf8_lossy(&raw).replace('\0', " ")
    }
}

impl Drop for Ftpd {
    fn drop(&mut self) {
        common::stop_child(&mut self.child);
    }
}

fn write_users(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("users file");
}

#[test]
fn users_file_logs_in_y_and_6_hashes_and_sighup_reload_keeps_sessions_in_flight() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path().display().to_string();
    let users = home.path().join("users");
    let yescrypt = hash_of("alice pw");
    // libcrypt's preferred method on Debian 12 is yescrypt.
    assert!(yescrypt.starts_with("$y$"), "{yescrypt}");
    let alice = format!("alice:{yescrypt}:{h}:elr");
    let bob = format!("bob:{SHA512_12345}:{h}:elr:Hello Bob.");
    write_users(
        &users,
        &[
            "# the users".into(),
            String::new(),
            alice.clone(),
            bob.clone(),
        ],
    );
    let ftpd = Ftpd::start(&[
        "--no-anonymous",
        "--users-file",
        users.to_str().expect("path"),
    ]);
    assert!(!ftpd.cmdline().contains("alice pw") && !ftpd.cmdline().contains("12345"));

    let mut a = Client::connect(ftpd.addr);
    a.login("alice", "alice pw");
    let mut b = Client::connect(ftpd.addr);
    b.expect("USER bob", 331);
    assert!(b.expect("PASS 12345", 230).contains("Hello Bob."));
    // Bob's session is in flight: a passive data connection open.
    let _data = b.pasv();

    // carol added, alice removed; SIGHUP.
    let carol = format!("carol:{}:{h}:elr", hash_of("carol pw"));
    write_users(&users, &[bob.clone(), carol.clone()]);
    ftpd.hangup();
    ftpd.wait_log("reloaded");
    let mut c = Client::connect(ftpd.addr);
    c.login("carol", "carol pw");
    // Bob goes on; alice's session ends at its next command.
    b.expect("PWD", 257);
    assert_eq!(code_of(&a.cmd("PWD")), 421);

    // A bad file: logged, the users stay.
    write_users(&users, &[bob, "dave:clear-text:/:elr".into()]);
    ftpd.hangup();
    ftpd.wait_log("users:2: the password of \"dave\" must be a crypt(3) hash");
    assert!(ftpd.log_text().contains("reload of"), "{}", ftpd.log_text());
    let mut c2 = Client::connect(ftpd.addr);
    c2.login("carol", "carol pw");
    c.expect("PWD", 257);
}

#[test]
fn cli_quotas_apply_to_the_users_files_users_and_to_those_of_a_reload() {
    let dir = tempfile::tempdir().expect("dir");
    let (bob_home, carol_home) = (dir.path().join("bob"), dir.path().join("carol"));
    std::fs::create_dir(&bob_home).expect("mkdir");
    std::fs::create_dir(&carol_home).expect("mkdir");
    let users = dir.path().join("users");
    let line = |name: &str, home: &Path| format!("{name}:{SHA512_12345}:{}:elrw", home.display());
    write_users(&users, &[line("bob", &bob_home)]);
    // Landlock off: carol's home, added by the reload, is outside the
    // rules made at start-up (docs/live-configuration.md).
    let ftpd = Ftpd::start(&[
        "--landlock",
        "off",
        "--no-anonymous",
        "--quota-files",
        "1",
        "--users-file",
        users.to_str().expect("path"),
    ]);
    let mut b = Client::connect(ftpd.addr);
    b.login("bob", "12345");
    assert_eq!(code_of(&b.store("STOR one", b"1")), 226);
    let _data = b.pasv();
    let refused = b.cmd("STOR two");
    assert_eq!(code_of(&refused), 552, "{refused}");
    assert!(!bob_home.join("two").exists());

    // carol arrives with a reload: the same quota applies to her.
    write_users(
        &users,
        &[line("bob", &bob_home), line("carol", &carol_home)],
    );
    ftpd.hangup();
    ftpd.wait_log("reloaded");
    let mut c = Client::connect(ftpd.addr);
    c.login("carol", "12345");
    assert_eq!(code_of(&c.store("STOR one", b"1")), 226);
    let _data = c.pasv();
    let refused = c.cmd("STOR two");
    assert_eq!(code_of(&refused), 552, "{refused}");
    assert!(!carol_home.join("two").exists());
}

#[test]
fn a_bad_users_file_stops_start_up_naming_the_line() {
    let home = tempfile::tempdir().expect("home");
    let users = home.path().join("users");
    write_users(&users, &["# one".into(), "eve:secret:/tmp:elr".into()]);
    let out = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["-p", "0", "--users-file", users.to_str().expect("path")])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("{}:2:", users.display())), "{err}");
}

#[test]
fn password_file_keeps_the_password_off_argv_and_argv_passwords_are_warned_about() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path().to_str().expect("path");
    let pwfile = home.path().join("pw");
    std::fs::write(&pwfile, "from a file\nignored\n").expect("pw");
    let ftpd = Ftpd::start(&[
        "-d",
        h,
        "-u",
        "joe",
        "--password-file",
        pwfile.to_str().expect("p"),
    ]);
    let mut c = Client::connect(ftpd.addr);
    c.login("joe", "from a file");
    assert!(!ftpd.cmdline().contains("from a file"));
    assert!(
        !ftpd.log_text().contains("clear-text password"),
        "{}",
        ftpd.log_text()
    );
    drop(ftpd);

    let ftpd = Ftpd::start(&["-d", h, "-u", "joe", "-P", "in argv"]);
    let text = ftpd.log_text();
    assert!(
        text.contains("clear-text password is on the command line (-P/--password)"),
        "{text}"
    );
    assert!(
        text.contains("--users-file") && text.contains("--hash-password"),
        "{text}"
    );
}

/// Python's ftplib from `source`: "421"/"530" of the refusal, or "230".
fn ftplib_login(addr: SocketAddr, source: &str, user: &str, password: &str) -> String {
    let script = r#"
import ftplib, sys
host, port, source, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
try:
    ftp = ftplib.FTP(timeout=10, source_address=(source, 0))
    ftp.connect(host, port)
    print(ftp.login(user, password)[:3])
except ftplib.error_temp as e:
    print(str(e)[:3])
except ftplib.error_perm as e:
    print(str(e)[:3])
"#;
    let out = Command::new("python3")
        .args([
            "-c",
            script,
            &addr.ip().to_string(),
            &addr.port().to_string(),
            source,
            user,
            password,
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn after_n_bad_logins_from_127_0_0_10_its_good_login_gets_421_while_127_0_0_11_logs_in() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path().display().to_string();
    let users = home.path().join("users");
    write_users(&users, &[format!("alice:{SHA512_12345}:{h}:elr")]);
    let ftpd = Ftpd::start(&[
        "--no-anonymous",
        "--users-file",
        users.to_str().expect("path"),
        "--ban-attempts",
        "3",
        "--ban-time",
        "3600",
    ]);
    for _ in 0..3 {
        assert_eq!(
            ftplib_login(ftpd.addr, "127.0.0.10", "alice", "wrong"),
            "530"
        );
    }
    ftpd.wait_log("ban: client 127.0.0.10 user 'alice' banned for 3600s after 3 failed logins");
    // The good password from .10: refused at connect, 421.
    assert_eq!(
        ftplib_login(ftpd.addr, "127.0.0.10", "alice", "12345"),
        "421"
    );
    let raw =
        Client::from_stream(connect_from(Ipv4Addr::new(127, 0, 0, 10), ftpd.addr).expect("c"));
    assert!(raw.greeting.starts_with("421"), "{}", raw.greeting);
    // .11 is not concerned.
    assert_eq!(
        ftplib_login(ftpd.addr, "127.0.0.11", "alice", "12345"),
        "230"
    );
    // One ban line, as fail2ban's filter in docs/bans.md expects.
    assert_eq!(
        ftpd.log_count("ban: client 127.0.0.10 user"),
        1,
        "{}",
        ftpd.log_text()
    );
}

#[test]
fn users_file_and_ban_settings_can_come_from_the_config_file() {
    let home = tempfile::tempdir().expect("home");
    let h = home.path().display().to_string();
    let users = home.path().join("users");
    write_users(&users, &[format!("bob:{SHA512_12345}:{h}:elr")]);
    let conf = home.path().join("ftpdlib.conf");
    let text = format!(
        "no-anonymous\nusers-file = {}\nban-attempts = 1\nban-time = 3600\nmax-login-attempts = 5\n",
        users.display()
    );
    std::fs::write(&conf, text).expect("conf");
    let ftpd = Ftpd::start(&["--config", conf.to_str().expect("path")]);
    let mut c = Client::connect(ftpd.addr);
    c.login("bob", "12345");
    // One failure from .20 bans it (ban-attempts = 1).
    let mut bad =
        Client::from_stream(connect_from(Ipv4Addr::new(127, 0, 0, 20), ftpd.addr).expect("c"));
    bad.expect("USER bob", 331);
    bad.expect("PASS nope", 530);
    let again =
        Client::from_stream(connect_from(Ipv4Addr::new(127, 0, 0, 20), ftpd.addr).expect("c"));
    assert!(again.greeting.starts_with("421"), "{}", again.greeting);
}

/// The kernel's Landlock ABI version, 0 without Landlock.
fn landlock_abi() -> i64 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    // only reports the ABI version; it creates nothing.
    let abi = unsafe { libc::syscall(444, std::ptr::null::<u8>(), 0usize, 1u32) };
    abi.max(0)
}

#[test]
fn under_landlock_a_users_file_outside_the_homes_is_re_read_after_an_editor_replaced_it() {
    if landlock_abi() == 0 {
        eprintln!("SKIPPED: this kernel has no Landlock");
        return;
    }
    let home = tempfile::tempdir().expect("home");
    let h = home.path().display().to_string();
    let etc = tempfile::tempdir().expect("config dir");
    let users = etc.path().join("users");
    write_users(&users, &[format!("bob:{SHA512_12345}:{h}:elr")]);
    let ftpd = Ftpd::start(&[
        "--no-anonymous",
        "--landlock",
        "required",
        "--users-file",
        users.to_str().expect("path"),
    ]);
    let mut b = Client::connect(ftpd.addr);
    b.login("bob", "12345");
    // An editor's save: a new file renamed over the old one (a new inode).
    let carol = format!("carol:{}:{h}:elr", hash_of("carol pw"));
    let new = etc.path().join("users.new");
    write_users(&new, &[format!("bob:{SHA512_12345}:{h}:elr"), carol]);
    std::fs::rename(&new, &users).expect("rename");
    ftpd.hangup();
    ftpd.wait_log("reloaded");
    let mut c = Client::connect(ftpd.addr);
    c.login("carol", "carol pw");
    b.expect("PWD", 257);
}
