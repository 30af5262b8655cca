//! Upload modes, quotas and per-user bandwidth (ftpdlib extensions):
//! `FtpHandler::upload_mode`, `Authorizer::user_limits` /
//! `DummyAuthorizer::set_user_limits`, over real sockets.
mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::*;
use ftpdlib::{Hooks, SessionInfo, UploadMode, UserLimits};

/// Names in the home, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// The hooks' calls, as `received PATH` / `incomplete PATH`.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Hooks for Recorder {
    fn on_file_received(&self, _: &SessionInfo<'_>, file: &Path) {
        self.0
            .lock()
            .unwrap()
            .push(format!("received {}", file.display()));
    }
    fn on_incomplete_file_received(&self, _: &SessionInfo<'_>, file: &Path) {
        let exists = file.exists();
        self.0
            .lock()
            .unwrap()
            .push(format!("incomplete {} exists={exists}", file.display()));
    }
}

fn server(mode: UploadMode, hooks: Recorder) -> TestServer {
    TestServer::start_with(
        |_, _| {},
        move |h| {
            h.upload_mode = mode;
            h.hooks = Box::new(hooks);
        },
    )
}

/// Start `STOR name` (or another upload command) and send `first`; returns
/// the data connection, once the server has written all of `first` to
/// the file at `written` (so the upload is cut in its middle).
fn start_upload(c: &mut Client, line: &str, first: &[u8], written: impl Fn() -> u64) -> TcpStream {
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    let pre = c.cmd(line);
    assert!(matches!(code_of(&pre), 125 | 150), "{line}: {pre}");
    data.write_all(first).unwrap();
    eventually("the first part reaching the file", || {
        written() == first.len() as u64
    });
    data
}

/// ABOR a running upload: 426 then 226.
fn abort(c: &mut Client, data: TcpStream) {
    assert_eq!(code_of(&c.cmd("ABOR")), 426);
    assert_eq!(code_of(&c.read_reply()), 226);
    drop(data);
}

/// The one file of `dir` whose name starts with `prefix`.
fn temp_in(dir: &Path, prefix: &str) -> Option<PathBuf> {
    names(dir)
        .into_iter()
        .find(|n| n.starts_with(prefix))
        .map(|n| dir.join(n))
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn atomic_upload_cut_in_the_middle_never_shows_under_its_name_and_is_removed() {
    let hooks = Recorder::default();
    let srv = server(UploadMode::Atomic, hooks.clone());
    let root = real_root(&srv);
    std::fs::write(root.join("f.bin"), b"old content").unwrap();
    let mut c = srv.login();
    let body = payload(300_000);
    let temp_len = || temp_in(&root, ".ftpdlib-upload.").map_or(0, |p| file_len(&p));
    let data = start_upload(&mut c, "STOR f.bin", &body[..100_000], temp_len);
    // Mid-upload: the name still shows the old file.
    assert_eq!(std::fs::read(root.join("f.bin")).unwrap(), b"old content");
    abort(&mut c, data);
    assert_eq!(std::fs::read(root.join("f.bin")).unwrap(), b"old content");
    assert_eq!(names(&root), ["f.bin"], "the temporary file is removed");
    let calls = hooks.0.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with(&format!("incomplete {}/.ftpdlib-upload.", root.display())),
        "{calls:?}"
    );
    // A complete upload replaces the file at once.
    assert_eq!(code_of(&c.store("STOR f.bin", &body)), 226);
    assert_eq!(std::fs::read(root.join("f.bin")).unwrap(), body);
    assert_eq!(names(&root), ["f.bin"]);
    let last = hooks.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last, format!("received {}", root.join("f.bin").display()));
    // Resuming or appending in place cannot be atomic.
    c.expect("REST 10", 350);
    c.expect("PASV", 227);
    c.expect("STOR f.bin", 550);
    c.expect("APPE f.bin", 550);
    // STOU: a unique name that gets its bytes at the end.
    let reply = c.store("STOU", b"unique bytes");
    assert_eq!(code_of(&reply), 226, "{reply}");
    let stou: Vec<String> = names(&root)
        .into_iter()
        .filter(|n| n.starts_with("ftpd."))
        .collect();
    assert_eq!(stou.len(), 1, "{:?}", names(&root));
    assert_eq!(std::fs::read(root.join(&stou[0])).unwrap(), b"unique bytes");
}

#[test]
fn atomic_resume_keeps_a_cut_upload_for_rest_stor_and_appe() {
    let hooks = Recorder::default();
    let srv = server(UploadMode::AtomicResume, hooks.clone());
    let root = real_root(&srv);
    let part = root.join(".ftpdlib-part.f.bin");
    let mut c = srv.login();
    let body = payload(400_000);
    let data = start_upload(&mut c, "STOR f.bin", &body[..150_000], || file_len(&part));
    assert!(!root.join("f.bin").exists(), "invisible under its name");
    abort(&mut c, data);
    assert!(!root.join("f.bin").exists());
    assert_eq!(file_len(&part), 150_000, "kept for resume");
    let calls = hooks.0.lock().unwrap().clone();
    assert_eq!(
        calls,
        [format!("incomplete {} exists=true", part.display())]
    );
    // The client learns the offset from the partial file and resumes.
    assert_eq!(c.cmd("SIZE .ftpdlib-part.f.bin"), "213 150000\r\n");
    c.expect("REST 150000", 350);
    assert_eq!(code_of(&c.store("STOR f.bin", &body[150_000..])), 226);
    assert_eq!(std::fs::read(root.join("f.bin")).unwrap(), body);
    assert!(!part.exists());
    // APPE continues a partial file too.
    let part2 = root.join(".ftpdlib-part.g.bin");
    let data = start_upload(&mut c, "STOR g.bin", &body[..100_000], || file_len(&part2));
    abort(&mut c, data);
    assert_eq!(code_of(&c.store("APPE g.bin", &body[100_000..])), 226);
    assert_eq!(std::fs::read(root.join("g.bin")).unwrap(), body);
    assert!(!part2.exists());
    // No partial: REST onto a complete file is refused, and so is APPE.
    c.expect("REST 5", 350);
    c.expect("PASV", 227);
    c.expect("STOR g.bin", 550);
    c.expect("APPE g.bin", 550);
    let received = hooks.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(
        received,
        format!("received {}", root.join("g.bin").display())
    );
}

fn quota_server(mode: UploadMode, limits: UserLimits) -> TestServer {
    TestServer::start_with(
        move |a, _| a.set_user_limits(USER, limits).unwrap(),
        move |h| h.upload_mode = mode,
    )
}

/// Upload `bytes`, ignoring the data connection being cut; the final reply.
fn store_maybe_cut(c: &mut Client, line: &str, bytes: &[u8]) -> String {
    let mut data = c.pasv();
    let pre = c.cmd(line);
    assert!(matches!(code_of(&pre), 125 | 150), "{line}: {pre}");
    let _ = data.write_all(bytes);
    drop(data);
    c.read_reply()
}

#[test]
fn an_upload_over_the_byte_quota_is_cut_with_552_and_its_part_kept_in_normal_mode() {
    let limits = UserLimits {
        quota_bytes: 100_000,
        ..UserLimits::default()
    };
    let srv = quota_server(UploadMode::Normal, limits);
    let root = real_root(&srv);
    std::fs::write(root.join("old.bin"), vec![1u8; 10_000]).unwrap();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    assert_eq!(code_of(&c.store("STOR a.bin", &payload(50_000))), 226);
    let reply = store_maybe_cut(&mut c, "STOR b.bin", &payload(200_000));
    assert_eq!(reply, "552 Quota exceeded; transfer aborted.\r\n");
    assert_eq!(file_len(&root.join("b.bin")), 40_000, "up to the quota");
    c.expect("PASV", 227);
    let reply = c.cmd("STOR c.bin");
    assert!(
        reply.starts_with("552 Quota exceeded: 100000 of 100000 bytes used."),
        "{reply}"
    );
    // DELE frees room.
    c.expect("DELE a.bin", 250);
    assert_eq!(code_of(&c.store("STOR c.bin", &payload(30_000))), 226);
    // Overwriting a file frees its old bytes first.
    assert_eq!(code_of(&c.store("STOR c.bin", &payload(30_000))), 226);
}

#[test]
fn an_upload_over_quota_in_atomic_mode_leaves_nothing() {
    let limits = UserLimits {
        quota_bytes: 50_000,
        ..UserLimits::default()
    };
    let srv = quota_server(UploadMode::Atomic, limits);
    let root = real_root(&srv);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let reply = store_maybe_cut(&mut c, "STOR big.bin", &payload(200_000));
    assert_eq!(code_of(&reply), 552, "{reply}");
    assert!(names(&root).is_empty(), "{:?}", names(&root));
    // The refunded bytes are usable again.
    assert_eq!(code_of(&c.store("STOR ok.bin", &payload(40_000))), 226);
}

#[test]
fn the_file_quota_refuses_a_new_file_but_not_an_overwrite() {
    let limits = UserLimits {
        quota_files: 2,
        ..UserLimits::default()
    };
    let srv = quota_server(UploadMode::Normal, limits);
    std::fs::write(real_root(&srv).join("one"), b"1").unwrap();
    let mut c = srv.login();
    assert_eq!(code_of(&c.store("STOR two", b"2")), 226);
    c.expect("PASV", 227);
    assert_eq!(c.cmd("STOR three"), "552 Quota exceeded: 2 of 2 files.\r\n");
    assert_eq!(code_of(&c.cmd("STOU")), 552);
    assert_eq!(code_of(&c.store("STOR two", b"22")), 226);
    c.expect("DELE one", 250);
    assert_eq!(code_of(&c.store("STOR three", b"3")), 226);
    // Another user has no quota.
    let mut anon = srv.client();
    anon.login("anonymous", "x");
    anon.expect("NOOP", 200);
}

const USER_LIMIT: u64 = 1 << 20;

#[test]
fn two_sessions_of_one_user_share_its_write_limit_within_ten_percent() {
    let limits = UserLimits {
        write_limit: USER_LIMIT,
        ..UserLimits::default()
    };
    let srv = quota_server(UploadMode::Normal, limits);
    std::fs::write(srv.root().join("f.bin"), vec![7u8; 3 << 20]).unwrap();
    let addr = srv.addr;
    let go = Arc::new(Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let go = Arc::clone(&go);
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.login(USER, PASSWD);
                c.expect("TYPE I", 200);
                let mut data = c.pasv();
                go.wait();
                let pre = c.cmd("RETR f.bin");
                assert!(matches!(code_of(&pre), 125 | 150), "{pre}");
                let mut buf = vec![0u8; 65536];
                let first = data.read(&mut buf).unwrap() as u64;
                let start = Instant::now();
                let mut total = first;
                loop {
                    let n = data.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    total += n as u64;
                }
                let end = Instant::now();
                assert_eq!(code_of(&c.read_reply()), 226);
                (total, first, start, end)
            })
        })
        .collect();
    let done: Vec<(u64, u64, Instant, Instant)> =
        workers.into_iter().map(|w| w.join().unwrap()).collect();
    let total: u64 = done.iter().map(|d| d.0).sum();
    assert_eq!(total, 6 << 20);
    let opening = done.iter().min_by_key(|d| d.2).unwrap();
    let start = done.iter().map(|d| d.2).min().unwrap();
    let end = done.iter().map(|d| d.3).max().unwrap();
    let elapsed: Duration = end - start;
    let rate = (total - opening.1) as f64 / elapsed.as_secs_f64();
    eprintln!("one user, two RETR: {rate:.0} B/s over {elapsed:?} for a limit of {USER_LIMIT} B/s");
    // Within 10 % (the same metering as the server-wide limit of
    // tests/throttle.rs, whose comment says where the margin goes).
    assert!(
        (rate - USER_LIMIT as f64).abs() <= USER_LIMIT as f64 * 0.10,
        "{rate:.0} B/s for a per-user limit of {USER_LIMIT} B/s"
    );
    // Another user is not limited by it: anonymous gets the file at once
    // (far beyond 1 MiB/s; generous: 6 s would be the limited time).
    let mut anon = srv.client();
    anon.login("anonymous", "x");
    anon.expect("TYPE I", 200);
    let t = Instant::now();
    let (bytes, reply) = anon.retrieve("RETR f.bin");
    assert_eq!((bytes.len(), code_of(&reply)), (3 << 20, 226));
    eprintln!("anonymous RETR of 3 MiB: {:?}", t.elapsed());
}

/// `ftpdlib --upload-mode atomic --quota-bytes N --user ...` with curl and
/// Python's ftplib as the clients: a complete upload lands under its name, one
/// over the quota gets 552 from curl's point of view and leaves nothing.
#[test]
fn the_command_line_sets_the_upload_mode_and_quota_for_curl_and_ftplib() {
    let home = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(home.path()).unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let spec = format!("cli:pw:{}:elradfmw", root.display());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "--no-anonymous"])
        .args([
            "--user",
            &spec,
            "--upload-mode",
            "atomic",
            "--quota-bytes",
            "100000",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run ftpdlib");
    assert!(wait_listening(port), "ftpdlib did not listen");
    let src = tempfile::tempdir().unwrap();
    let small = src.path().join("small.bin");
    let big = src.path().join("big.bin");
    std::fs::write(&small, payload(60_000)).unwrap();
    std::fs::write(&big, payload(500_000)).unwrap();
    let url = |name: &str| format!("ftp://127.0.0.1:{port}/{name}");
    let base = ["-sS", "--user", "cli:pw"];
    let ok = curl::run_curl(&base, &["-T", small.to_str().unwrap(), &url("small.bin")]);
    curl::curl_ok(&ok);
    assert_eq!(
        std::fs::read(root.join("small.bin")).unwrap(),
        payload(60_000)
    );
    let over = curl::run_curl(&base, &["-v", "-T", big.to_str().unwrap(), &url("big.bin")]);
    // curl fails: with the 552 when it reads it, or with a send error when
    // the server's cut of the data connection reaches it first (curl then
    // stops without reading the reply; the wire tests check the 552).
    let replies = curl::transcript(&over, "< ");
    assert!(!over.status.success(), "curl succeeded: {replies:?}");
    assert!(replies.iter().all(|r| !r.starts_with("226")), "{replies:?}");
    assert_eq!(names(&root), ["small.bin"], "nothing of the cut upload");
    // ftplib: the quota is still 40000 bytes away; a 30000-byte upload fits.
    let script = "import ftplib,io,sys\n\
        f=ftplib.FTP(); f.connect('127.0.0.1', int(sys.argv[1])); f.login('cli','pw')\n\
        print(f.storbinary('STOR py.bin', io.BytesIO(b'x'*30000)))\n\
        try:\n    f.storbinary('STOR py2.bin', io.BytesIO(b'y'*30000))\n\
        except ftplib.error_perm as e:\n    print(e)\n\
        except OSError:\n    try:\n        f.getresp()\n    except ftplib.error_perm as e:\n        print(e)\n\
        f.quit()\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script, &port.to_string()])
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first().copied(),
        Some("226 Transfer complete."),
        "{text}"
    );
    assert!(
        lines.get(1).is_some_and(|l| l.starts_with("552 ")),
        "{text}"
    );
    assert_eq!(names(&root), ["py.bin", "small.bin"]);
    stop_child(&mut child);
}

#[test]
fn two_uploads_of_one_user_share_its_read_limit_within_ten_percent() {
    let limits = UserLimits {
        read_limit: USER_LIMIT,
        ..UserLimits::default()
    };
    let srv = quota_server(UploadMode::Normal, limits);
    let elapsed = two_concurrent_uploads(srv.addr);
    let total = file_len(&srv.root().join("up0.bin")) + file_len(&srv.root().join("up1.bin"));
    assert_eq!(total, 6 << 20);
    let rate = total as f64 / elapsed.as_secs_f64();
    eprintln!("one user, two STOR: {rate:.0} B/s for a limit of {USER_LIMIT} B/s");
    assert!(
        (rate - USER_LIMIT as f64).abs() <= USER_LIMIT as f64 * 0.10,
        "{rate:.0} B/s for a per-user limit of {USER_LIMIT} B/s"
    );
}
