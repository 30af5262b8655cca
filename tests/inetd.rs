//! `ftpdlib --inetd` (issue 14): one process per connection, the client on
//! standard input, started here by socat (`TCP-LISTEN:...,fork
//! EXEC:...,nofork`, so the process gets the TCP socket itself, as from
//! inetd), and when installed by tcpsvd and by systemd's
//! `systemd-socket-activate --inetd -a` (an `Accept=yes` unit). curl and Python's ftplib
//! drive it: login, LIST, RETR, STOR over PASV, EPSV and PORT, two clients
//! at once in two processes, each process gone after QUIT, and no log line
//! in the control connection even when standard error is that socket.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Waits in this file are bounded by this (the machine may be loaded; each
/// step takes milliseconds).
const PATIENCE: Duration = Duration::from_secs(20);

/// A super-server we started (socat or systemd-socket-activate) listening
/// on 127.0.0.1:`port`; SIGTERM by pid and reaped on drop.
struct SuperServer {
    child: Child,
    port: u16,
    home: tempfile::TempDir,
    stderr: PathBuf,
}

impl Drop for SuperServer {
    fn drop(&mut self) {
        common::stop_child(&mut self.child);
    }
}

impl SuperServer {
    /// `socat` running `ftpdlib --inetd -w -d HOME ARGS` per connection;
    /// `socat_opts` are added to its EXEC address (e.g. `stderr`).
    fn socat(args: &str, socat_opts: &str) -> SuperServer {
        let home = home();
        let port = free_port();
        let program = format!(
            "{} --inetd -w -d {} {args}",
            env!("CARGO_BIN_EXE_ftpdlib"),
            home.path().display()
        );
        let exec = format!("EXEC:{},nofork{socat_opts}", program.trim_end());
        let listen = format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork");
        let mut cmd = Command::new("socat");
        cmd.args([&listen, &exec]);
        SuperServer::spawn(cmd, port, home)
    }

    fn spawn(mut cmd: Command, port: u16, home: tempfile::TempDir) -> SuperServer {
        let stderr = home.path().join("..").join(format!("stderr-{port}.log"));
        let log = std::fs::File::create(&stderr).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the super-server");
        let s = SuperServer {
            child,
            port,
            home,
            stderr,
        };
        s.wait_listening();
        s
    }

    /// Until the super-server listens (probing /proc, not connecting: a
    /// connection would start a session).
    fn wait_listening(&self) {
        assert!(
            common::wait_listening(self.port),
            "the super-server did not listen on {}",
            self.port
        );
    }

    fn url(&self, path: &str) -> String {
        format!("ftp://127.0.0.1:{}/{path}", self.port)
    }

    /// The ftpdlib processes it started that are still running.
    fn sessions(&self) -> usize {
        children_of(self.child.id())
            .iter()
            .filter(|pid| comm(**pid).as_deref() == Some("ftpdlib"))
            .count()
    }

    /// Wait until exactly `n` sessions run; returns the last count.
    fn wait_sessions(&self, n: usize) -> usize {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let now = self.sessions();
            if now == n || Instant::now() >= deadline {
                return now;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

/// A temp home with one file.
fn home() -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("hello.txt"), b"hello inetd\n").unwrap();
    home
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Processes whose parent is `pid` (from /proc/*/stat).
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // The fields after the parenthesised command: state, ppid, ...
        let after = stat.rsplit_once(") ").map(|(_, rest)| rest).unwrap_or("");
        if after.split_whitespace().nth(1) == Some(&pid.to_string()) {
            out.push(child);
        }
    }
    out
}

fn comm(pid: u32) -> Option<String> {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    Some(comm.trim().to_string())
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-sS", "--max-time", "20", "-u", "anonymous:curl@"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "curl failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_lists_retrieves_and_stores_through_inetd_over_pasv_epsv_and_port() {
    let srv = SuperServer::socat("", "");
    // curl tries EPSV first.
    let list = ok(&curl(&[&srv.url("")]));
    assert!(list.contains(" hello.txt"), "{list}");
    let got = ok(&curl(&["--disable-epsv", &srv.url("hello.txt")]));
    assert_eq!(got, "hello inetd\n");
    let upload = srv
        .home
        .path()
        .join("..")
        .join(format!("up-{}.txt", srv.port));
    std::fs::write(&upload, b"stored through inetd\n").unwrap();
    let up = upload.to_str().unwrap();
    ok(&curl(&["-T", up, &srv.url("up.txt")]));
    assert_eq!(
        std::fs::read(srv.home.path().join("up.txt")).unwrap(),
        b"stored through inetd\n"
    );
    // Active mode: the process connects back (EPRT, then PORT).
    let got = ok(&curl(&["-P", "127.0.0.1", &srv.url("up.txt")]));
    assert_eq!(got, "stored through inetd\n");
    let got = ok(&curl(&[
        "-P",
        "127.0.0.1",
        "--disable-eprt",
        &srv.url("hello.txt"),
    ]));
    assert_eq!(got, "hello inetd\n");
    assert_eq!(
        srv.wait_sessions(0),
        0,
        "a session process outlived its client"
    );
    let log = srv.log();
    assert!(
        log.contains("STOR ") && log.contains("completed=1"),
        "{log}"
    );
    let _ = std::fs::remove_file(&upload);
}

#[test]
fn two_ftplib_clients_at_once_are_two_processes_gone_after_quit() {
    let srv = SuperServer::socat("-q", "");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/inetd_ftplib.py");
    let mut py = Command::new("python3")
        .arg(script)
        .args(["127.0.0.1", &srv.port.to_string()])
        .arg(srv.home.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let mut out = BufReader::new(py.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "BOTH-OPEN\n");
    let during = srv.wait_sessions(2);
    py.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    out.read_to_string(&mut rest).unwrap();
    let status = py.wait().unwrap();
    let mut err = String::new();
    py.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "{rest}\n{err}");
    assert!(rest.ends_with("PASS two clients\n"), "{rest}");
    assert_eq!(during, 2, "two clients, two processes");
    assert_eq!(srv.wait_sessions(0), 0, "processes left after QUIT");
}

/// Classic inetd passes the client as standard error too: with DEBUG
/// logging on, the client still reads nothing but FTP replies.
#[test]
fn no_log_line_reaches_the_client_when_stderr_is_the_socket() {
    // socat's `stderr` option makes the program's fd 2 a dup of its fd 1.
    let srv = SuperServer::socat("-D", ",stderr");
    let sock = TcpStream::connect(("127.0.0.1", srv.port)).unwrap();
    sock.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut c = BufReader::new(sock);
    let mut transcript = Vec::new();
    for line in ["USER anonymous", "PASS x@", "PWD", "SYST", "QUIT"] {
        let mut reply = String::new();
        c.read_line(&mut reply).unwrap();
        transcript.push(reply);
        c.get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
    }
    let mut rest = String::new();
    c.read_to_string(&mut rest).unwrap();
    transcript.extend(rest.lines().map(|l| format!("{l}\r\n")));
    let codes: Vec<&str> = transcript.iter().map(|r| r.get(..4).unwrap_or(r)).collect();
    assert_eq!(
        codes,
        ["220 ", "331 ", "230 ", "257 ", "215 ", "221 "],
        "{transcript:?}"
    );
    assert_eq!(srv.wait_sessions(0), 0);
}

/// systemd `Accept=yes` (a process per connection, socket on fds 0 and 1),
/// through `systemd-socket-activate --inetd -a`, when installed.
#[test]
fn systemd_accept_yes_serves_one_process_per_connection() {
    if Command::new("systemd-socket-activate")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED: systemd-socket-activate not installed");
        return;
    }
    let home = home();
    let port = free_port();
    let mut cmd = Command::new("systemd-socket-activate");
    cmd.args(["--inetd", "-a"])
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["--inetd", "-d"])
        .arg(home.path());
    let srv = SuperServer::spawn(cmd, port, home);
    for _ in 0..2 {
        let list = ok(&curl(&[&srv.url("")]));
        assert!(list.contains(" hello.txt"), "{list}");
        assert_eq!(ok(&curl(&[&srv.url("hello.txt")])), "hello inetd\n");
    }
    assert_eq!(srv.wait_sessions(0), 0);
}

/// tcpsvd (Debian's `ipsvd`, the tool busybox's `tcpsvd` applet copies),
/// when installed: the socket on fds 0 and 1, a process per connection.
#[test]
fn tcpsvd_serves_one_process_per_connection() {
    if Command::new("tcpsvd").output().is_err() {
        println!("SKIPPED: tcpsvd (package ipsvd) not installed");
        return;
    }
    let home = home();
    let port = free_port();
    let mut cmd = Command::new("tcpsvd");
    cmd.args(["-c", "4", "127.0.0.1", &port.to_string()])
        .arg(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["--inetd", "-w", "-d"])
        .arg(home.path());
    let srv = SuperServer::spawn(cmd, port, home);
    let list = ok(&curl(&[&srv.url("")]));
    assert!(list.contains(" hello.txt"), "{list}");
    assert_eq!(
        ok(&curl(&["--disable-epsv", &srv.url("hello.txt")])),
        "hello inetd\n"
    );
    assert_eq!(srv.wait_sessions(0), 0);
}

/// Not a socket on standard input: a clear error, not a hang.
#[test]
fn inetd_mode_without_a_socket_says_so() {
    let out = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .arg("--inetd")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("standard input"), "{err}");
}
