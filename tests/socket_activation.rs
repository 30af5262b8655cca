//! systemd socket activation (issue 14): started with listening sockets
//! on fd 3 onwards (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`, an
//! `Accept=no` unit), ftpdlib serves them instead of binding: the clients
//! here reach it on ports that `tests/py/activate.py` (or systemd's own
//! `systemd-socket-activate`) bound, never the server.

mod common;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::{code_of, Client};

fn activate_py() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/activate.py")
}

/// A started server process; SIGTERM (by pid) and reaped on drop, so that
/// a pre-forking parent stops its workers too.
struct Server {
    child: Child,
    _home: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        stop(&mut self.child);
    }
}

/// SIGTERM to `child` by its pid, then wait for it (at most 20 s, the
/// machine may be loaded; it takes milliseconds), then SIGKILL.
fn stop(child: &mut Child) {
    common::stop_child(child);
}

/// ftpdlib under activate.py with `count` sockets named `names`; returns
/// the server and the ports it was handed.
fn activated(count: usize, names: &str, args: &[&str]) -> (Server, Vec<u16>) {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("hello.txt"), b"activated\n").unwrap();
    let mut child = Command::new("python3")
        .arg(activate_py())
        .arg(count.to_string())
        .arg(names)
        .arg(env!("CARGO_BIN_EXE_ftpdlib"))
        .arg("-d")
        .arg(home.path())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run python3");
    let ports = read_ports(child.stdout.take().expect("stdout"));
    assert_eq!(ports.len(), count, "{ports:?}");
    (Server { child, _home: home }, ports)
}

fn read_ports(stdout: ChildStdout) -> Vec<u16> {
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    line.split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Log in anonymously on `port` and list the home over PASV.
fn list_on(port: u16) -> String {
    let mut c = Client::connect(addr(port));
    assert_eq!(code_of(&c.greeting), 220, "{}", c.greeting);
    c.login("anonymous", "x@");
    let (data, done) = c.retrieve("NLST");
    assert_eq!(code_of(&done), 226, "{done}");
    c.expect("QUIT", 221);
    String::from_utf8(data).unwrap()
}

/// No server port, nothing bound by the server: the socket was already
/// listening (and queueing connections) before ftpdlib started.
#[test]
fn a_socket_passed_as_fd_3_is_served_on_a_port_the_server_never_bound() {
    let (_srv, ports) = activated(1, "ftp", &["-p", "1", "-q"]);
    // Connect at once: the kernel queues it on the passed socket even if
    // the server is still starting.
    assert_eq!(list_on(ports[0]), "hello.txt\r\n");
    assert_eq!(list_on(ports[0]), "hello.txt\r\n");
}

#[test]
fn several_passed_sockets_are_all_served_by_pre_forked_workers() {
    let (srv, ports) = activated(2, "ftp:unknown", &["--workers", "2", "-q"]);
    for round in 0..3 {
        for &port in &ports {
            assert_eq!(list_on(port), "hello.txt\r\n", "round {round} port {port}");
        }
    }
    // Read-only by default through either socket.
    let mut c = Client::connect(addr(ports[1]));
    c.login("anonymous", "x@");
    c.expect("MKD x", 550);
    drop(srv);
}

/// `max_cons` counts the connections of every socket together.
#[test]
fn connection_limits_span_every_passed_socket() {
    let (_srv, ports) = activated(2, "ftp:ftp", &["--max-cons", "1", "-q"]);
    let first = Client::connect(addr(ports[0]));
    assert_eq!(code_of(&first.greeting), 220, "{}", first.greeting);
    let second = Client::connect(addr(ports[1]));
    assert_eq!(code_of(&second.greeting), 421, "{}", second.greeting);
    drop(first);
    // The slot comes back once the server has seen the close (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let again = Client::connect(addr(ports[1]));
        if code_of(&again.greeting) == 220 {
            break;
        }
        assert!(Instant::now() < deadline, "{}", again.greeting);
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// With TLS: a socket named `ftps` is implicit FTPS, one named `ftp`
/// plain FTP with AUTH TLS, both served by the same process.
#[cfg(feature = "tls")]
#[test]
fn sockets_named_ftp_and_ftps_get_their_roles() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run openssl");
    assert!(made.success());
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let args = ["--tls", "--certfile", cert, "--keyfile", key, "-q"];
    let (_srv, ports) = activated(2, "ftp:ftps", &args);
    let curl = |url: String, extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "-k", "--max-time", "20"])
            .args(extra)
            .arg(url)
            .stdin(Stdio::null())
            .output()
            .expect("run curl");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        String::from_utf8(out.stdout).unwrap()
    };
    let implicit = curl(format!("ftps://127.0.0.1:{}/hello.txt", ports[1]), &[]);
    assert_eq!(implicit, "activated\n");
    let explicit = curl(
        format!("ftp://127.0.0.1:{}/hello.txt", ports[0]),
        &["--ssl-reqd"],
    );
    assert_eq!(explicit, "activated\n");
    // The plain socket still speaks plain FTP first.
    assert_eq!(list_on(ports[0]), "hello.txt\r\n");
}

#[cfg(not(feature = "tls"))]
#[test]
fn a_socket_named_ftps_needs_a_tls_build() {
    let mut child = Command::new("python3")
        .arg(activate_py())
        .args(["1", "ftps"])
        .arg(env!("CARGO_BIN_EXE_ftpdlib"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python3");
    let _ = read_ports(child.stdout.take().unwrap());
    use std::io::Read;
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success());
    assert!(err.contains("implicit FTPS socket needs TLS"), "{err}");
}

/// Environment variables meant for another process (LISTEN_PID not ours)
/// are ignored: the server binds its own port as usual.
#[test]
fn activation_variables_for_another_pid_are_ignored() {
    let port = free_port();
    let home = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "-q", "-d"])
        .arg(home.path())
        .env("LISTEN_FDS", "1")
        .env("LISTEN_PID", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let c = wait_connect(port);
    stop(&mut child);
    assert!(c.is_some(), "the server did not bind its port");
}

/// systemd's own activator (Debian's `systemd` package), when present.
#[test]
fn systemd_socket_activate_starts_a_served_server() {
    if Command::new("systemd-socket-activate")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIPPED: systemd-socket-activate not installed");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("hello.txt"), b"activated\n").unwrap();
    let port = free_port();
    let mut child = Command::new("systemd-socket-activate")
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg("--fdname=ftp")
        .arg(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["-q", "-d"])
        .arg(home.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The activator listens first and starts ftpdlib at the first client.
    let listed = wait_connect(port).map(|_| list_on(port));
    stop(&mut child);
    assert_eq!(listed.as_deref(), Some("hello.txt\r\n"));
}

/// A free port on 127.0.0.1 (bound, then released).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A connection to `port` once something listens there (`PATIENCE` at most).
/// Listening is read from /proc/net/tcp first: connecting in a loop to a
/// port nobody listens on can connect the socket to itself.
fn wait_connect(port: u16) -> Option<TcpStream> {
    if !common::wait_listening(port) {
        return None;
    }
    TcpStream::connect(addr(port)).ok()
}
