//! Virtual users whose passwords are stored as crypt(3) hashes (the
//! tutorial's md5_ftpd, §3.3, brought up to date): real clients (curl,
//! Python's ftplib) log in with the clear text, a wrong password is refused
//! after the failed-login delay, and the command line takes a hash in
//! `--user` and makes one with `--hash-password`.

mod common;
use common::curl::run_curl;
use common::*;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ftpdlib::{hash_password, DummyAuthorizer};

const NAME: &str = "hashed";
const CLEAR: &str = "s3cret pass";

/// sha512-crypt and sha256-crypt of "12345" (Python's crypt.crypt).
const SHA512: &str = "$6$saltsalt$bS8uFVRzMrb1ylbOyDWAlPhX./AH4Wgwbcp6PSOQdctbNq4.17j.43u4YKqn/mHb3zik88vMAwyrY4nYHaOFC/";
const SHA256: &str = "$5$saltsalt$4HgQlEGCG4QnAFeYPNl.BdEarRevRfJzyLDAbZMoCbC";

/// A server with user `hashed` stored as a fresh hash of `CLEAR`, and
/// `auth_failed_timeout` = `delay`.
fn server(delay: Duration) -> TestServer {
    TestServer::start_with(
        |auth: &mut DummyAuthorizer, root: &Path| {
            let hash = hash_password(CLEAR).expect("hash_password");
            assert!(hash.starts_with('$') && !hash.contains(CLEAR));
            auth.add_user_with_perm(NAME, &hash, root, "elradfmwMT")
                .expect("add_user");
            auth.add_user_with_perm("sha512", SHA512, root, "elr")
                .unwrap();
            auth.add_user_with_perm("sha256", SHA256, root, "elr")
                .unwrap();
        },
        move |h| h.auth_failed_timeout = delay,
    )
}

fn curl(args: &[&str]) -> Output {
    run_curl(&["-sS", "--max-time", "30"], args)
}

#[test]
fn curl_logs_in_with_the_clear_text_of_a_hashed_password() {
    let srv = server(Duration::from_millis(1));
    std::fs::write(srv.root().join("file.txt"), b"contents").unwrap();
    let url = format!("ftp://{}/file.txt", srv.addr);
    let out = curl(&["-u", &format!("{NAME}:{CLEAR}"), &url]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_eq!(out.stdout, b"contents");
    // Upload too: the session works past login.
    let up = format!("ftp://{}/up.txt", srv.addr);
    let mut child = Command::new("curl")
        .args(["-sS", "--max-time", "30", "-T", "-", "-u"])
        .arg(format!("{NAME}:{CLEAR}"))
        .arg(&up)
        .stdin(Stdio::piped())
        .spawn()
        .expect("run curl");
    child.stdin.take().unwrap().write_all(b"uploaded").unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(
        std::fs::read(srv.root().join("up.txt")).unwrap(),
        b"uploaded"
    );
    // The hash itself is not a password.
    let stored = format!("{NAME}:{SHA512}");
    assert_eq!(curl(&["-u", &stored, &url]).status.code(), Some(67));
    let wrong = format!("{NAME}:{CLEAR}x");
    assert_eq!(curl(&["-u", &wrong, &url]).status.code(), Some(67));
}

#[test]
fn ftplib_logs_in_with_the_clear_text_of_a_hashed_password() {
    let srv = server(Duration::from_millis(1));
    std::fs::write(srv.root().join("a.txt"), b"x").unwrap();
    let script = r#"
import ftplib, sys
host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
ftp = ftplib.FTP()
ftp.connect(host, port, timeout=30)
resp = ftp.login(user, pw)
assert resp.startswith("230"), resp
assert "a.txt" in ftp.nlst(), ftp.nlst()
ftp.quit()
bad = ftplib.FTP()
bad.connect(host, port, timeout=30)
try:
    bad.login(user, pw + "x")
    sys.exit("wrong password accepted")
except ftplib.error_perm as e:
    assert str(e).startswith("530 Authentication failed."), str(e)
print("PASS")
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(srv.addr.ip().to_string())
        .arg(srv.addr.port().to_string())
        .args([NAME, CLEAR])
        .stdin(Stdio::null())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ftplib failed\n{stdout}\n{stderr}");
    assert_eq!(stdout.trim(), "PASS");
}

#[test]
fn a_wrong_password_is_refused_after_the_failed_login_delay() {
    let delay = Duration::from_millis(300);
    let srv = server(delay);
    let mut c = srv.client();
    c.expect(&format!("USER {NAME}"), 331);
    let started = Instant::now();
    let reply = c.cmd(&format!("PASS {CLEAR}!"));
    let elapsed = started.elapsed();
    assert_eq!(reply, "530 Authentication failed.\r\n");
    assert!(
        elapsed >= delay,
        "refused after {elapsed:?}, before {delay:?}"
    );
    // The right password still works on the same connection.
    c.login(NAME, CLEAR);
    c.expect("PWD", 257);
}

#[test]
fn sha512_and_sha256_crypt_hashes_are_accepted() {
    let srv = server(Duration::from_millis(1));
    for user in ["sha512", "sha256"] {
        let mut c = srv.client();
        c.expect(&format!("USER {user}"), 331);
        assert_eq!(c.cmd("PASS 1234"), "530 Authentication failed.\r\n");
        c.login(user, "12345");
    }
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The `ftpdlib` binary we started; killed on drop.
struct Ftpd(Child);

impl Drop for Ftpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_command_line_hashes_a_password_and_serves_it_with_user() {
    let bin = env!("CARGO_BIN_EXE_ftpdlib");
    let mut child = Command::new(bin)
        .arg("--hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run ftpdlib");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"cli pass\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let hash = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(hash.starts_with('$') && !hash.contains(':'), "{hash:?}");

    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("f.txt"), b"served").unwrap();
    let port = free_port().to_string();
    let spec = format!("cli:{hash}:{}:elr", home.path().display());
    let _ftpd = Ftpd(
        Command::new(bin)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                &port,
                "--no-anonymous",
                "--user",
                &spec,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run ftpdlib"),
    );
    // The binary listens within a fraction of a second; PATIENCE is the
    // generous bound of every wait for the server.
    let deadline = Instant::now() + PATIENCE;
    while TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_err() {
        assert!(Instant::now() < deadline, "ftpdlib did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("ftp://127.0.0.1:{port}/f.txt");
    let ok = curl(&["-u", "cli:cli pass", &url]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(ok.stdout, b"served");
    assert_eq!(curl(&["-u", "cli:cli pas", &url]).status.code(), Some(67));
}
