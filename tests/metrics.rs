//! The metrics and health endpoint (issue 13, `FtpServer::bind_metrics`,
//! `--metrics`): its counters, parsed by a real Prometheus text parser
//! (`prometheus_client` from PyPI, in a Python subprocess), match exactly
//! the FTP work a test did with ftplib; the health path answers HAProxy
//! style checks; a slow or hostile HTTP client never stalls the loop.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;

use common::{code_of, Client, PATIENCE};
use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer, StopHandle};

fn metrics_py() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/metrics.py")
}

/// A server in a thread with user/12345 on a temp home and metrics on
/// an ephemeral loopback port.
struct Served {
    ftp: SocketAddr,
    metrics: SocketAddr,
    stop: StopHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _home: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve() -> Served {
    let home = tempfile::tempdir().unwrap();
    let root = home.path().to_path_buf();
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm(common::USER, common::PASSWD, &root, "elradfmwMT")
            .unwrap();
        let mut h = FtpHandler::new(a);
        h.auth_failed_timeout = std::time::Duration::from_millis(1);
        let mut server = FtpServer::bind(("127.0.0.1", 0), h).unwrap();
        server.handle_exit = false;
        let metrics = server.bind_metrics(("127.0.0.1", 0)).unwrap();
        assert_eq!(server.metrics_address(), Some(metrics));
        tx.send((server.address(), metrics, server.stop_handle()))
            .unwrap();
        server.serve_forever().unwrap();
    });
    let (ftp, metrics, stop) = rx.recv().unwrap();
    Served {
        ftp,
        metrics,
        stop,
        thread: Some(thread),
        _home: home,
    }
}

/// Whether the Prometheus parser is there; the tests that need it say
/// SKIPPED otherwise (.ci/run installs it).
fn have_parser() -> bool {
    let ok = Command::new("python3")
        .arg(metrics_py())
        .arg("check")
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: python3 prometheus_client not importable");
    }
    ok
}

/// Scrape `url` through prometheus_client: sample key -> value.
pub fn scrape(url: &str, until_idle: bool) -> HashMap<String, f64> {
    let mut cmd = Command::new("python3");
    cmd.arg(metrics_py()).arg("scrape").arg(url);
    if until_idle {
        cmd.arg("--until-idle");
    }
    let out = cmd.output().expect("python3");
    assert!(
        out.status.success(),
        "scrape failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').unwrap();
            (k.to_string(), v.parse().unwrap())
        })
        .collect()
}

/// A raw HTTP exchange: the whole response.
fn http(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn counters_match_the_logins_transfers_and_bytes_the_test_made() {
    if !have_parser() {
        return;
    }
    let srv = serve();
    let status = Command::new("python3")
        .arg(metrics_py())
        .args(["work", "127.0.0.1", &srv.ftp.port().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let m = scrape(&format!("http://{}/metrics", srv.metrics), true);
    let get = |k: &str| *m.get(k).unwrap_or_else(|| panic!("no sample {k} in {m:?}"));
    // 3 + 2 + 1 sessions, all closed by QUIT and seen closed.
    assert_eq!(get("ftpdlib_sessions_total{}"), 6.0);
    assert_eq!(get("ftpdlib_sessions_open{}"), 0.0);
    assert_eq!(get("ftpdlib_sessions_refused_total{}"), 0.0);
    assert_eq!(get("ftpdlib_logins_total{result=ok}"), 4.0);
    assert_eq!(get("ftpdlib_logins_total{result=failed}"), 2.0);
    assert_eq!(get("ftpdlib_commands_total{verb=USER}"), 6.0);
    assert_eq!(get("ftpdlib_commands_total{verb=PASS}"), 6.0);
    assert_eq!(get("ftpdlib_commands_total{verb=QUIT}"), 6.0);
    assert_eq!(get("ftpdlib_commands_total{verb=STOR}"), 2.0);
    assert_eq!(get("ftpdlib_commands_total{verb=RETR}"), 1.0);
    assert_eq!(get("ftpdlib_commands_total{verb=other}"), 0.0);
    let upload_ok = "ftpdlib_transfers_total{direction=upload,result=ok}";
    assert_eq!(get(upload_ok), 2.0);
    let download_ok = "ftpdlib_transfers_total{direction=download,result=ok}";
    assert_eq!(get(download_ok), 1.0);
    let failed: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("ftpdlib_transfers_total") && !k.contains("result=ok"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(failed, 0.0);
    assert_eq!(get("ftpdlib_data_bytes_received_total{}"), 3345.0);
    assert_eq!(get("ftpdlib_data_bytes_sent_total{}"), 1000.0);
    // One 150 per transfer, one 331 per USER, the two 530s; every command
    // gets one final reply, plus the 6 greetings and the 3 transfers' 150.
    assert_eq!(get("ftpdlib_replies_total{class=1xx}"), 3.0);
    assert_eq!(get("ftpdlib_replies_total{class=3xx}"), 6.0);
    assert_eq!(get("ftpdlib_replies_total{class=4xx}"), 0.0);
    assert_eq!(get("ftpdlib_replies_total{class=5xx}"), 2.0);
    let commands: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("ftpdlib_commands_total{"))
        .map(|(_, v)| v)
        .sum();
    let replies: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("ftpdlib_replies_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(replies, commands + 6.0 + 3.0, "{m:?}");
    let errors: f64 = m
        .iter()
        .filter(|(k, _)| k.starts_with("ftpdlib_errors_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(errors, 0.0);
}

#[test]
fn a_refused_connection_and_an_open_session_are_counted() {
    if !have_parser() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let root = home.path().to_path_buf();
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut a = DummyAuthorizer::new();
        a.add_anonymous(&root).unwrap();
        let mut server = FtpServer::bind(("127.0.0.1", 0), FtpHandler::new(a)).unwrap();
        server.handle_exit = false;
        server.max_cons = 1;
        let metrics = server.bind_metrics("127.0.0.1:0").unwrap();
        tx.send((server.address(), metrics, server.stop_handle()))
            .unwrap();
        server.serve_forever().unwrap();
    });
    let (ftp, metrics, stop) = rx.recv().unwrap();
    let first = Client::connect(ftp);
    assert_eq!(code_of(&first.greeting), 220);
    let second = Client::connect(ftp);
    assert_eq!(code_of(&second.greeting), 421, "{}", second.greeting);
    let m = scrape(&format!("http://{metrics}/metrics"), false);
    assert_eq!(m["ftpdlib_sessions_open{}"], 1.0);
    assert_eq!(m["ftpdlib_sessions_total{}"], 1.0);
    assert_eq!(m["ftpdlib_sessions_refused_total{}"], 1.0);
    assert_eq!(m["ftpdlib_replies_total{class=4xx}"], 1.0);
    drop((first, second));
    stop.stop();
    thread.join().unwrap();
}

#[test]
fn health_answers_ok_and_unknown_paths_and_methods_are_refused() {
    let srv = serve();
    let ok = http(srv.metrics, b"GET /health HTTP/1.0\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    assert!(ok.ends_with("\r\n\r\nok\n"), "{ok}");
    // HAProxy's `option httpchk` with `http-check send`: HTTP/1.1 and a Host.
    let ok = http(
        srv.metrics,
        b"GET /health HTTP/1.1\r\nHost: ftp\r\nUser-Agent: haproxy\r\n\r\n",
    );
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    // HAProxy with `check-send-proxy`: a PROXY header before the request.
    let proxied = http(
        srv.metrics,
        b"PROXY TCP4 127.0.0.9 127.0.0.1 40000 9121\r\nGET /health HTTP/1.0\r\n\r\n",
    );
    assert!(proxied.starts_with("HTTP/1.1 200 OK\r\n"), "{proxied}");
    let head = http(srv.metrics, b"HEAD /metrics HTTP/1.1\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "HEAD has no body: {head}");
    let missing = http(srv.metrics, b"GET /nope HTTP/1.1\r\n\r\n");
    assert!(missing.starts_with("HTTP/1.1 404 "), "{missing}");
    let post = http(srv.metrics, b"POST /metrics HTTP/1.1\r\n\r\n");
    assert!(post.starts_with("HTTP/1.1 405 "), "{post}");
    assert!(post.contains("\r\nAllow: GET, HEAD\r\n"), "{post}");
    let ftp_talk = http(srv.metrics, b"USER anonymous\r\n");
    assert!(ftp_talk.starts_with("HTTP/1.1 400 "), "{ftp_talk}");
    // A head that never ends is cut at its bound, not buffered forever:
    // a 400, or a reset when the server closed with the rest unread.
    let mut huge = b"GET /metrics HTTP/1.1\r\n".to_vec();
    huge.extend(vec![b'a'; 20_000]);
    let mut s = TcpStream::connect(srv.metrics).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let _ = s.write_all(&huge);
    let mut out = Vec::new();
    match s.read_to_end(&mut out) {
        Ok(_) => {
            let out = String::from_utf8_lossy(&out);
            assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
        }
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    let ok = http(srv.metrics, b"GET /health HTTP/1.0\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
}

#[test]
fn a_stalled_http_client_does_not_stall_ftp_or_other_scrapes() {
    let srv = serve();
    // Half a request, then silence: the loop must go on serving.
    let mut stalled = TcpStream::connect(srv.metrics).unwrap();
    stalled.write_all(b"GET /metr").unwrap();
    let ok = http(srv.metrics, b"GET /health HTTP/1.0\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
    let mut c = Client::connect(srv.ftp);
    assert_eq!(code_of(&c.greeting), 220);
    c.login(common::USER, common::PASSWD);
    c.expect("NOOP", 200);
    let body = http(srv.metrics, b"GET /metrics HTTP/1.0\r\n\r\n");
    assert!(
        body.contains("\nftpdlib_logins_total{result=\"ok\"} 1\n"),
        "{body}"
    );
    assert!(
        body.contains("\nftpdlib_commands_total{verb=\"NOOP\"} 1\n"),
        "{body}"
    );
    // The stalled one is still open (closed at its deadline, 10 s).
    stalled.set_nonblocking(true).unwrap();
    let mut b = [0u8; 1];
    let still_open =
        matches!(stalled.read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
    assert!(still_open);
}
