//! DELE and RNTO over a big file run on the worker pool (issue 15): the
//! replies, the quota and the confinement are those of the inline calls,
//! and the loop serves other clients while the call is on the pool.

mod common;

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{code_of, eventually, Client, TestServer, PASSWD, USER};
use ftpdlib::{
    AbstractedFs, DirNames, FileHandle, Filesystem, FilesystemError, FilesystemOverrides,
    OffLoopTask, OpenMode, Stat, Subclass, UploadMode, UserLimits,
};

/// This binary's logger captures, so tests can read the command lines
/// (every test installs it first: one logger per process).
fn logs() {
    common::capture::capture(log::Level::Info);
}

/// Above the size from which the call goes to the pool (1 MiB).
const BIG: usize = 2 << 20;

fn big_file(path: &Path) {
    std::fs::write(path, vec![7u8; BIG]).unwrap();
}

/// A server on a temp home, pool of `workers` threads (0 = inline).
fn server(workers: usize) -> TestServer {
    TestServer::start_with(|_, _| {}, move |h| h.auth_workers = workers)
}

/// The same commands, with the pool and without it, answer the same, and
/// touch nothing outside the home.
#[test]
fn dele_and_rnto_reply_as_inline_with_and_without_the_pool() {
    logs();
    let mut transcripts = Vec::new();
    for workers in [4, 0] {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        big_file(&victim);
        let srv = server(workers);
        let home = srv.root().to_path_buf();
        big_file(&home.join("big"));
        big_file(&home.join("big2"));
        big_file(&home.join("old"));
        std::fs::create_dir(home.join("dir")).unwrap();
        big_file(&home.join("dir/inner"));
        symlink(outside.path(), home.join("out")).unwrap();
        symlink(&victim, home.join("victim-link")).unwrap();
        let mut c = srv.login();
        let mut seen = Vec::new();
        for line in [
            "DELE big",
            "DELE big",
            "DELE dir",
            "DELE /../../victim",
            "DELE out/victim",
            "DELE victim-link",
            "RNFR big2",
            "RNTO old",
            "RNFR dir/inner",
            "RNTO out/x",
            "DELE dir/inner",
        ] {
            seen.push(format!("{line} -> {}", c.cmd(line).trim_end()));
        }
        assert!(!home.join("big").exists() && !home.join("big2").exists());
        assert_eq!(common::file_len(&home.join("old")), BIG as u64);
        assert!(home.join("dir").is_dir() && !home.join("dir/inner").exists());
        assert_eq!(common::file_len(&victim), BIG as u64, "outside untouched");
        assert!(!outside.path().join("x").exists());
        c.expect("QUIT", 221);
        transcripts.push(seen);
    }
    assert_eq!(transcripts[0], transcripts[1]);
    let t = &transcripts[0];
    assert_eq!(t[0], "DELE big -> 250 File removed.");
    assert!(t[1].starts_with("DELE big -> 550"), "{}", t[1]);
    assert!(t[2].starts_with("DELE dir -> 550"), "{}", t[2]);
    for i in [4, 5, 9] {
        assert!(
            t[i].contains(" 550 ") && t[i].contains("outside"),
            "{}",
            t[i]
        );
    }
    assert_eq!(t[7], "RNTO old -> 250 Renaming ok.");
    assert_eq!(t[10], "DELE dir/inner -> 250 File removed.");
}

/// DELE of a big file gives its bytes back to the quota, whether the
/// session waits for the reply or closes at once (then the loop settles
/// the quota when the call is back). Python's ftplib drives the first.
#[test]
fn dele_frees_the_quota_also_when_the_session_quits_at_once() {
    logs();
    let limits = UserLimits {
        quota_bytes: 2 * BIG as u64,
        ..UserLimits::default()
    };
    let srv = TestServer::start_with(
        move |a, _| a.set_user_limits(USER, limits).unwrap(),
        |h| h.upload_mode = UploadMode::Normal,
    );
    let home = srv.root().to_path_buf();
    big_file(&home.join("a"));
    big_file(&home.join("b"));
    let mut c = srv.login();
    c.expect("PASV", 227);
    assert_eq!(code_of(&c.cmd("STOR new")), 552, "at the quota");
    // ftplib: DELE, then an upload fits again.
    let script = format!(
        "import ftplib, io\n\
         f = ftplib.FTP(timeout=10)\n\
         f.connect('127.0.0.1', {port})\n\
         f.login('{USER}', '{PASSWD}')\n\
         print(f.delete('a'))\n\
         print(f.storbinary('STOR new', io.BytesIO(b'x' * 1000)))\n\
         f.quit()\n",
        port = srv.addr.port()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(&script)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text, "250 File removed.\n226 Transfer complete.\n");
    // Fill the quota again, then DELE and close without reading the reply.
    assert_eq!(code_of(&c.store("STOR fill", &vec![1u8; BIG - 1000])), 226);
    c.expect("PASV", 227);
    assert_eq!(code_of(&c.cmd("STOR new2")), 552);
    let mut quitter = srv.login();
    quitter.send_raw(b"DELE b\r\nQUIT\r\n");
    drop(quitter);
    eventually("b removed", || !home.join("b").exists());
    eventually("the quota given back", || {
        let mut c = srv.login();
        let mut data = c.pasv();
        let pre = c.cmd("STOR new2");
        if code_of(&pre) == 552 {
            return false;
        }
        io::Write::write_all(&mut data, b"y").unwrap();
        drop(data);
        assert_eq!(code_of(&c.read_reply()), 226);
        true
    });
}

#[derive(Clone)]
struct ReadOnly;

impl FilesystemOverrides<AbstractedFs> for ReadOnly {
    fn remove(&self, _: &AbstractedFs, _: &Path) -> io::Result<()> {
        Err(io::Error::other(FilesystemError(
            "Read-only file system.".into(),
        )))
    }
    fn rename(&self, _: &AbstractedFs, _: &Path, _: &Path) -> io::Result<()> {
        Err(io::Error::other(FilesystemError(
            "Read-only file system.".into(),
        )))
    }
}

/// A subclass's own `remove` decides, pool or not.
#[test]
fn a_read_only_subclass_still_refuses_dele_and_rnto() {
    logs();
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.auth_workers = 4;
            h.abstracted_fs =
                Box::new(|root, _| Box::new(Subclass::new(AbstractedFs::new(root), ReadOnly)));
        },
    );
    let home = srv.root().to_path_buf();
    big_file(&home.join("big"));
    big_file(&home.join("other"));
    let mut c = srv.login();
    assert_eq!(c.cmd("DELE big"), "550 Read-only file system.\r\n");
    c.expect("RNFR other", 350);
    assert_eq!(c.cmd("RNTO big"), "550 Read-only file system.\r\n");
    assert!(home.join("big").exists() && home.join("other").exists());
}

/// A gate the test opens; off-loop calls wait for it (at most 30 s, so a
/// broken test ends instead of hanging) and count how many started.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<(bool, usize)>, Condvar)>);

impl Gate {
    fn wait_entered(&self, n: usize) {
        eventually("the call started on the pool", || {
            self.0 .0.lock().unwrap().1 >= n
        });
    }
    fn open(&self) {
        self.0 .0.lock().unwrap().0 = true;
        self.0 .1.notify_all();
    }
    fn pass(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut g = self.0 .0.lock().unwrap();
        g.1 += 1;
        while !g.0 && Instant::now() < deadline {
            g = self
                .0
                 .1
                .wait_timeout(g, Duration::from_millis(100))
                .unwrap()
                .0;
        }
    }
}

/// The built-in file system whose off-loop removals wait for a gate.
#[derive(Clone)]
struct Gated(AbstractedFs, Gate);

impl Filesystem for Gated {
    fn box_clone(&self) -> Box<dyn Filesystem> {
        Box::new(self.clone())
    }
    fn root(&self) -> &Path {
        self.0.root()
    }
    fn cwd(&self) -> &str {
        self.0.cwd()
    }
    fn ftpnorm(&self, p: &str) -> String {
        self.0.ftpnorm(p)
    }
    fn ftp2fs(&self, p: &str) -> PathBuf {
        self.0.ftp2fs(p)
    }
    fn fs2ftp(&self, p: &Path) -> String {
        self.0.fs2ftp(p)
    }
    fn validpath(&self, p: &Path) -> bool {
        self.0.validpath(p)
    }
    fn chdir(&mut self, p: &Path) -> io::Result<()> {
        self.0.chdir(p)
    }
    fn open(&self, p: &Path, m: OpenMode) -> io::Result<Box<dyn FileHandle>> {
        self.0.open(p, m)
    }
    fn mkstemp(&self, d: &Path, pre: &str) -> io::Result<(Box<dyn FileHandle>, PathBuf)> {
        self.0.mkstemp(d, pre)
    }
    fn mkdir(&self, p: &Path) -> io::Result<()> {
        self.0.mkdir(p)
    }
    fn rmdir(&self, p: &Path) -> io::Result<()> {
        self.0.rmdir(p)
    }
    fn remove(&self, p: &Path) -> io::Result<()> {
        self.0.remove(p)
    }
    fn rename(&self, a: &Path, b: &Path) -> io::Result<()> {
        self.0.rename(a, b)
    }
    fn remove_off_loop(&self, p: &Path) -> Option<OffLoopTask> {
        let task = self.0.remove_off_loop(p)?;
        let gate = self.1.clone();
        Some(Box::new(move || {
            gate.pass();
            task()
        }))
    }
    fn truncate_off_loop(&self, p: &Path) -> Option<OffLoopTask> {
        let task = self.0.truncate_off_loop(p)?;
        let gate = self.1.clone();
        Some(Box::new(move || {
            gate.pass();
            task()
        }))
    }
    fn chmod(&self, p: &Path, m: u32) -> io::Result<()> {
        self.0.chmod(p, m)
    }
    fn stat(&self, p: &Path) -> io::Result<Stat> {
        self.0.stat(p)
    }
    fn lstat(&self, p: &Path) -> io::Result<Stat> {
        self.0.lstat(p)
    }
    fn readlink(&self, p: &Path) -> io::Result<PathBuf> {
        self.0.readlink(p)
    }
    fn utime(&self, p: &Path, t: i64) -> io::Result<()> {
        self.0.utime(p, t)
    }
    fn listdir(&self, p: &Path) -> io::Result<Vec<OsString>> {
        self.0.listdir(p)
    }
    fn open_listing(&self, p: &Path) -> io::Result<Box<dyn DirNames>> {
        self.0.open_listing(p)
    }
    fn lstat_in(&self, d: &Path, n: &OsStr) -> io::Result<Stat> {
        self.0.lstat_in(d, n)
    }
    fn isfile(&self, p: &Path) -> bool {
        self.0.isfile(p)
    }
    fn isdir(&self, p: &Path) -> bool {
        self.0.isdir(p)
    }
    fn islink(&self, p: &Path) -> bool {
        self.0.islink(p)
    }
    fn lexists(&self, p: &Path) -> bool {
        self.0.lexists(p)
    }
    fn getsize(&self, p: &Path) -> io::Result<u64> {
        self.0.getsize(p)
    }
    fn getmtime(&self, p: &Path) -> io::Result<i64> {
        self.0.getmtime(p)
    }
    fn realpath(&self, p: &Path) -> io::Result<PathBuf> {
        self.0.realpath(p)
    }
    fn get_user_by_uid(&self, u: u32) -> String {
        self.0.get_user_by_uid(u)
    }
    fn get_group_by_gid(&self, g: u32) -> String {
        self.0.get_group_by_gid(g)
    }
}

/// A server whose off-loop calls wait for `gate`; `user` may use `quota`
/// bytes.
fn gated_server(gate: &Gate, quota: u64) -> TestServer {
    let gate = gate.clone();
    let limits = UserLimits {
        quota_bytes: quota,
        ..UserLimits::default()
    };
    TestServer::start_with(
        move |a, _| a.set_user_limits(USER, limits).unwrap(),
        move |h| {
            h.auth_workers = 2;
            h.abstracted_fs =
                Box::new(move |root, _| Box::new(Gated(AbstractedFs::new(root), gate.clone())));
        },
    )
}

/// While one session's DELE waits on the pool, another session logs in
/// and is served; the waiting session's pipelined NOOP is answered after
/// its DELE, in order.
#[test]
fn the_loop_serves_others_while_a_dele_is_on_the_pool() {
    logs();
    let gate = Gate::default();
    let srv = gated_server(&gate, 0);
    big_file(&srv.root().join("big"));
    let mut a = srv.login();
    a.send_raw(b"DELE big\r\nNOOP\r\n");
    gate.wait_entered(1);
    let mut b = srv.login();
    b.expect("NOOP", 200);
    b.expect("PWD", 257);
    assert!(srv.root().join("big").exists(), "still on the pool");
    gate.open();
    assert_eq!(a.read_reply(), "250 File removed.\r\n");
    assert_eq!(code_of(&a.read_reply()), 200);
    assert!(!srv.root().join("big").exists());
}

/// A session that quits or vanishes while its DELE is on the pool: no
/// reply is owed to anyone, the file is removed anyway, the quota and the
/// log line are settled by the loop, the server goes on.
#[test]
fn quit_or_close_while_a_dele_is_on_the_pool() {
    logs();
    let gate = Gate::default();
    // At the quota until both files are gone.
    let srv = gated_server(&gate, BIG as u64);
    let home = srv.root().to_path_buf();
    big_file(&home.join("one"));
    big_file(&home.join("two"));
    let mut quitter = srv.login();
    quitter.expect("PASV", 227);
    assert_eq!(code_of(&quitter.cmd("STOR new")), 552, "at the quota");
    quitter.send_raw(b"DELE one\r\nQUIT\r\n");
    let mut closer = srv.login();
    let closer_port = common::local_port(&closer);
    closer.send_raw(b"DELE two\r\n");
    gate.wait_entered(2);
    common::reset_client(closer);
    common::capture::wait_closed(closer_port);
    let mut other = srv.login();
    other.expect("NOOP", 200);
    gate.open();
    assert_eq!(quitter.read_reply(), "250 File removed.\r\n");
    assert_eq!(code_of(&quitter.read_reply()), 221);
    eventually("two removed", || !home.join("two").exists());
    assert!(!home.join("one").exists());
    let line = common::capture::wait_for(closer_port, "the DELE line", |r| {
        r.msg.contains(" DELE /") && r.msg.ends_with("/two 250")
    });
    assert!(line.msg.contains(&format!("-[{USER}]")), "{line:?}");
    // The orphan's bytes came back too: an upload fits again.
    eventually("the quota given back", || {
        let mut data = other.pasv();
        let pre = other.cmd("STOR new");
        if code_of(&pre) == 552 {
            return false;
        }
        io::Write::write_all(&mut data, b"y").unwrap();
        drop(data);
        assert_eq!(code_of(&other.read_reply()), 226);
        true
    });
}

/// STOR over a big file: the pool truncates it while the loop serves
/// others, then the upload runs as always; REST + STOR still keeps the
/// start of the file, and the quota counts the old bytes as freed.
#[test]
fn stor_over_a_big_file_truncates_it_on_the_pool() {
    logs();
    let gate = Gate::default();
    // Room for the two big files plus a little, no more.
    let srv = gated_server(&gate, 2 * BIG as u64 + 10);
    let home = srv.root().to_path_buf();
    big_file(&home.join("big"));
    big_file(&home.join("resumed"));
    let mut a = srv.login();
    a.expect("TYPE I", 200);
    let mut data = a.pasv();
    a.send_raw(b"STOR big\r\n");
    gate.wait_entered(1);
    let mut b = srv.login();
    b.expect("NOOP", 200);
    assert_eq!(common::file_len(&home.join("big")), BIG as u64, "not yet");
    gate.open();
    assert!(matches!(code_of(&a.read_reply()), 125 | 150));
    io::Write::write_all(&mut data, b"new bytes").unwrap();
    drop(data);
    assert_eq!(code_of(&a.read_reply()), 226);
    assert_eq!(std::fs::read(home.join("big")).unwrap(), b"new bytes");
    // REST + STOR: not truncated, the start kept.
    a.expect("REST 4", 350);
    assert_eq!(code_of(&a.store("STOR resumed", b"abc")), 226);
    let resumed = std::fs::read(home.join("resumed")).unwrap();
    assert_eq!(&resumed[..], &[7, 7, 7, 7, b'a', b'b', b'c']);
    // Usage now: 9 + 7 bytes (with the old big bytes still counted it
    // would be over the quota): a file of BIG fits.
    assert_eq!(code_of(&a.store("STOR again", &vec![1u8; BIG])), 226);
}

/// Without the pool (size 0) STOR over a big file truncates in the loop,
/// with the same outcome.
#[test]
fn stor_over_a_big_file_without_the_pool() {
    logs();
    let srv = server(0);
    let home = srv.root().to_path_buf();
    big_file(&home.join("big"));
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    assert_eq!(code_of(&c.store("STOR big", b"small")), 226);
    assert_eq!(std::fs::read(home.join("big")).unwrap(), b"small");
}

/// A `DummyAuthorizer` whose sessions run as `nobody` (this thread's
/// effective uid, switched per command as `UnixAuthorizer` does).
struct AsNobody {
    inner: ftpdlib::DummyAuthorizer,
    uid: u32,
}

/// `setresuid(-1, uid, -1)` of the calling thread only (the raw syscall:
/// glibc's would switch every thread).
fn set_thread_euid(uid: u32) -> io::Result<()> {
    // SAFETY: integers only.
    let rc = unsafe { libc::syscall(libc::SYS_setresuid, -1i64, i64::from(uid), -1i64) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

impl ftpdlib::Authorizer for AsNobody {
    delegate_authorizer_to_inner!();
    fn impersonate_user(&self, _: &str, _: &str) -> io::Result<()> {
        set_thread_euid(self.uid)
    }
    fn terminate_impersonation(&self, _: &str) -> io::Result<()> {
        set_thread_euid(0)
    }
}

/// A session whose commands run as another user removes in the loop, as
/// that user: here `nobody`, who may not unlink in a root-owned home, gets
/// 550 and the file stays (the pool's threads, root, would remove it).
#[test]
fn an_impersonated_session_removes_in_the_loop_as_its_user() {
    logs();
    // SAFETY: no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED: an_impersonated_session_removes_in_the_loop_as_its_user needs root");
        return;
    }
    // SAFETY: a NUL-terminated name; the entry is read at once.
    let pw = unsafe { libc::getpwnam(c"nobody".as_ptr()) };
    assert!(!pw.is_null(), "user nobody");
    // SAFETY: getpwnam returned a valid entry.
    let uid = unsafe { (*pw).pw_uid };
    let home = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(home.path()).unwrap();
    std::fs::set_permissions(&root, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    big_file(&root.join("big"));
    let r = root.clone();
    let (addr, stop, thread) = common::serve_thread(move || {
        let mut inner = ftpdlib::DummyAuthorizer::new();
        inner
            .add_user_with_perm(USER, PASSWD, &r, "elradfmw")
            .unwrap();
        let mut h = ftpdlib::FtpHandler::new(AsNobody { inner, uid });
        h.auth_workers = 2;
        h
    });
    let mut c = Client::connect(addr);
    c.login(USER, PASSWD);
    assert_eq!(c.cmd("DELE big"), "550 Permission denied.\r\n");
    assert!(root.join("big").exists());
    c.expect("QUIT", 221);
    stop.stop();
    thread.join().unwrap();
}
