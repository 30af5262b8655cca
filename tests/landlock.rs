//! Landlock as a layer below the path checks (issue 12): a deliberately
//! naive `Filesystem` (it joins client paths to the home blindly and
//! follows symlinks, `validpath` always true) is plugged into the server.
//! With Landlock on, `RETR ../outside/secret.txt`, a symlink out of the
//! home, and writes outside all fail with 550 and nothing outside the
//! served tree is read or written; with Landlock off the same requests
//! escape, which shows the kernel layer is what stops them.
//!
//! Landlock is per process and irreversible, so each server runs in a
//! child process: this test binary started again on its ignored
//! `landlock_child_server` entry, which serves until it is killed.

mod common;

use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::{code_of, Client, PASSWD, USER};
use ftpdlib::{
    AbstractedFs, DirNames, DummyAuthorizer, FileHandle, Filesystem, FtpHandler, FtpServer,
    LandlockMode, OpenMode, Stat,
};

/// The environment variable that tells the child its base directory.
const CHILD_BASE: &str = "FTPDLIB_LANDLOCK_CHILD_BASE";
/// `on` or `off`: Landlock in the child.
const CHILD_MODE: &str = "FTPDLIB_LANDLOCK_CHILD_MODE";

/// AbstractedFs without its confinement: client paths are joined to the
/// home as they come (`..` kept), every path is "valid".
#[derive(Clone)]
struct NaiveFs(AbstractedFs);

impl Filesystem for NaiveFs {
    fn box_clone(&self) -> Box<dyn Filesystem> {
        Box::new(self.clone())
    }
    fn root(&self) -> &Path {
        self.0.root()
    }
    fn cwd(&self) -> &str {
        self.0.cwd()
    }
    fn ftpnorm(&self, ftppath: &str) -> String {
        ftppath.to_string()
    }
    fn ftp2fs(&self, ftppath: &str) -> PathBuf {
        self.0.root().join(ftppath.trim_start_matches('/'))
    }
    fn fs2ftp(&self, fspath: &Path) -> String {
        self.0.fs2ftp(fspath)
    }
    fn validpath(&self, _: &Path) -> bool {
        true
    }
    fn chdir(&mut self, path: &Path) -> io::Result<()> {
        self.0.chdir(path)
    }
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn FileHandle>> {
        self.0.open(path, mode)
    }
    fn mkstemp(&self, dir: &Path, prefix: &str) -> io::Result<(Box<dyn FileHandle>, PathBuf)> {
        self.0.mkstemp(dir, prefix)
    }
    fn mkdir(&self, path: &Path) -> io::Result<()> {
        self.0.mkdir(path)
    }
    fn rmdir(&self, path: &Path) -> io::Result<()> {
        self.0.rmdir(path)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.0.remove(path)
    }
    fn rename(&self, src: &Path, dst: &Path) -> io::Result<()> {
        self.0.rename(src, dst)
    }
    fn chmod(&self, path: &Path, mode: u32) -> io::Result<()> {
        self.0.chmod(path, mode)
    }
    fn stat(&self, path: &Path) -> io::Result<Stat> {
        self.0.stat(path)
    }
    fn lstat(&self, path: &Path) -> io::Result<Stat> {
        self.0.lstat(path)
    }
    fn lstat_in(&self, dir: &Path, name: &OsStr) -> io::Result<Stat> {
        self.0.lstat_in(dir, name)
    }
    fn stat_in(&self, dir: &Path, name: &OsStr) -> io::Result<Stat> {
        self.0.stat_in(dir, name)
    }
    fn readlink(&self, path: &Path) -> io::Result<PathBuf> {
        self.0.readlink(path)
    }
    fn utime(&self, path: &Path, mtime: i64) -> io::Result<()> {
        self.0.utime(path, mtime)
    }
    fn listdir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.0.listdir(path)
    }
    fn open_listing(&self, path: &Path) -> io::Result<Box<dyn DirNames>> {
        self.0.open_listing(path)
    }
    fn isfile(&self, path: &Path) -> bool {
        self.0.isfile(path)
    }
    fn isdir(&self, path: &Path) -> bool {
        self.0.isdir(path)
    }
    fn islink(&self, path: &Path) -> bool {
        self.0.islink(path)
    }
    fn lexists(&self, path: &Path) -> bool {
        self.0.lexists(path)
    }
    fn getsize(&self, path: &Path) -> io::Result<u64> {
        self.0.getsize(path)
    }
    fn getmtime(&self, path: &Path) -> io::Result<i64> {
        self.0.getmtime(path)
    }
    fn realpath(&self, path: &Path) -> io::Result<PathBuf> {
        self.0.realpath(path)
    }
    fn get_user_by_uid(&self, uid: u32) -> String {
        self.0.get_user_by_uid(uid)
    }
    fn get_group_by_gid(&self, gid: u32) -> String {
        self.0.get_group_by_gid(gid)
    }
}

/// The child's server: user `user` with every permission in `base/home`
/// through [`NaiveFs`], Landlock required or off; writes its port to
/// `base/port` once bound, then serves until killed. Run only as a child
/// of the tests below (ignored, and a no-op without its variables).
#[test]
#[ignore = "the server of the Landlock tests, run in a child process"]
fn landlock_child_server() {
    let (Ok(base), Ok(mode)) = (std::env::var(CHILD_BASE), std::env::var(CHILD_MODE)) else {
        return;
    };
    let base = PathBuf::from(base);
    let home = base.join("home");
    let mut auth = DummyAuthorizer::new();
    auth.add_user_with_perm(USER, PASSWD, &home, "elradfmwMT")
        .expect("user");
    let mut handler = FtpHandler::new(auth);
    handler.auth_failed_timeout = std::time::Duration::ZERO;
    handler.abstracted_fs = Box::new(|home, _user| Box::new(NaiveFs(AbstractedFs::new(home))));
    let mut server = FtpServer::bind(("127.0.0.1", 0), handler).expect("bind");
    server.hardening.no_new_privs = true;
    server.hardening.landlock = if mode == "on" {
        LandlockMode::Required
    } else {
        LandlockMode::Off
    };
    let port = server.address().port();
    std::fs::write(base.join("port.tmp"), port.to_string()).expect("port");
    std::fs::rename(base.join("port.tmp"), base.join("port")).expect("port");
    server.serve_forever().expect("serve_forever");
}

/// `base/home` (with `inside.txt`, a symlink `link` to the secret and one
/// `outdir` to the outside directory) and `base/outside/secret.txt`.
fn layout() -> tempfile::TempDir {
    let base = tempfile::tempdir().expect("base");
    let home = base.path().join("home");
    let outside = base.path().join("outside");
    std::fs::create_dir(&home).expect("home");
    std::fs::create_dir(&outside).expect("outside");
    std::fs::write(home.join("inside.txt"), b"inside\n").expect("inside");
    std::fs::write(outside.join("secret.txt"), b"the secret\n").expect("secret");
    std::os::unix::fs::symlink(outside.join("secret.txt"), home.join("link")).expect("link");
    std::os::unix::fs::symlink(&outside, home.join("outdir")).expect("outdir");
    base
}

/// The child server; killed on drop.
struct ChildServer(Child);

impl ChildServer {
    fn start(base: &Path, landlock: bool) -> (ChildServer, Client) {
        let exe = std::env::current_exe().expect("test binary");
        let child = Command::new(exe)
            .args([
                "--ignored",
                "--exact",
                "landlock_child_server",
                "--nocapture",
            ])
            .env(CHILD_BASE, base)
            .env(CHILD_MODE, if landlock { "on" } else { "off" })
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn the child server");
        let server = ChildServer(child);
        let port_file = base.join("port");
        common::eventually("the child server writes its port", || port_file.exists());
        let port: u16 = std::fs::read_to_string(&port_file)
            .expect("port")
            .trim()
            .parse()
            .expect("port number");
        assert!(common::wait_listening(port), "child listens");
        let mut c = Client::connect(([127, 0, 0, 1], port).into());
        c.login(USER, PASSWD);
        c.expect("TYPE I", 200);
        (server, c)
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        common::stop_child(&mut self.0);
    }
}

fn landlock_available() -> bool {
    // SAFETY: the ABI query of landlock_create_ruleset reads no memory.
    let abi = unsafe { libc::syscall(444, std::ptr::null::<u8>(), 0usize, 1u32) };
    abi > 0
}

/// A transfer over PASV that may be refused at once: the bytes received
/// (downloads) and the final reply's code (the refusal's, if refused).
fn transfer(c: &mut Client, line: &str, upload: Option<&[u8]>) -> (Vec<u8>, u16) {
    use std::io::{Read, Write};
    let mut data = c.pasv();
    let first = code_of(&c.cmd(line));
    if !matches!(first, 125 | 150) {
        return (Vec::new(), first);
    }
    let mut got = Vec::new();
    match upload {
        Some(bytes) => {
            data.write_all(bytes).expect("send data");
            drop(data);
        }
        None => {
            data.read_to_end(&mut got).expect("read data");
        }
    }
    (got, code_of(&c.read_reply()))
}

/// What a client gets for each escape attempt: (the reply codes in order,
/// the bytes downloaded through `..` and through the symlink).
fn escape_attempts(c: &mut Client) -> (Vec<u16>, Vec<u8>, Vec<u8>) {
    let mut codes = Vec::new();
    let (dotdot, code) = transfer(c, "RETR ../outside/secret.txt", None);
    codes.push(code);
    let (link, code) = transfer(c, "RETR link", None);
    codes.push(code);
    codes.push(transfer(c, "RETR outdir/secret.txt", None).1);
    codes.push(transfer(c, "STOR ../outside/planted.txt", Some(b"planted\n")).1);
    codes.push(transfer(c, "APPE outdir/secret.txt", Some(b"appended\n")).1);
    codes.push(code_of(&c.cmd("MKD ../outside/newdir")));
    codes.push(code_of(&c.cmd("DELE ../outside/secret.txt")));
    (codes, dotdot, link)
}

#[test]
fn with_landlock_a_naive_filesystem_cannot_read_or_write_outside_the_home() {
    if !landlock_available() {
        eprintln!("SKIPPED: this kernel offers no Landlock");
        return;
    }
    let base = layout();
    let (_server, mut c) = ChildServer::start(base.path(), true);
    // Inside the home everything works.
    let (data, reply) = c.retrieve("RETR inside.txt");
    assert_eq!(
        (code_of(&reply), data.as_slice()),
        (226, &b"inside\n"[..]),
        "{reply}"
    );
    assert_eq!(code_of(&c.store("STOR new.txt", b"new\n")), 226);
    assert_eq!(
        std::fs::read(base.path().join("home/new.txt")).expect("new"),
        b"new\n"
    );
    // ...and so does every other write a user with every letter may do:
    // the rules grant what the letters need.
    assert_eq!(transfer(&mut c, "APPE new.txt", Some(b"more\n")).1, 226);
    assert_eq!(transfer(&mut c, "STOU", Some(b"unique\n")).1, 226);
    c.expect("REST 2", 350);
    assert_eq!(transfer(&mut c, "STOR new.txt", Some(b"W")).1, 226);
    c.expect("MKD sub", 257);
    c.expect("RNFR new.txt", 350);
    c.expect("RNTO sub/moved.txt", 250);
    c.expect("SITE CHMOD 600 sub/moved.txt", 200);
    c.expect("MFMT 20200101000000 sub/moved.txt", 213);
    let moved = base.path().join("home/sub/moved.txt");
    assert_eq!(std::fs::read(&moved).expect("moved"), b"neW");
    c.expect("DELE sub/moved.txt", 250);
    c.expect("RMD sub", 250);
    let (listing, _) = transfer(&mut c, "LIST", None);
    assert!(String::from_utf8_lossy(&listing).contains("inside.txt"));

    let (codes, dotdot, link) = escape_attempts(&mut c);
    assert_eq!(codes, [550; 7], "every escape refused with 550");
    assert!(dotdot.is_empty() && link.is_empty());
    let outside = base.path().join("outside");
    assert_eq!(
        std::fs::read(outside.join("secret.txt")).expect("secret"),
        b"the secret\n"
    );
    assert!(!outside.join("planted.txt").exists());
    assert!(!outside.join("newdir").exists());
    // The session goes on.
    c.expect("NOOP", 200);
}

#[test]
fn without_landlock_the_same_naive_filesystem_escapes() {
    let base = layout();
    let (_server, mut c) = ChildServer::start(base.path(), false);
    let (codes, dotdot, link) = escape_attempts(&mut c);
    assert_eq!(
        codes,
        [226, 226, 226, 226, 226, 257, 250],
        "the naive fs lets every request out"
    );
    assert_eq!(dotdot, b"the secret\n");
    assert_eq!(link, b"the secret\n");
    let outside = base.path().join("outside");
    assert_eq!(
        std::fs::read(outside.join("planted.txt")).expect("planted"),
        b"planted\n"
    );
    assert!(outside.join("newdir").is_dir());
    assert!(!outside.join("secret.txt").exists(), "deleted through ..");
}

/// The `ftpdlib` command with `--landlock required` on a kernel that has
/// Landlock: it starts, logs the ABI and the rules (the served directory
/// read-only for a read-only anonymous), and serves.
#[test]
fn the_command_line_logs_the_landlock_abi_and_rules_and_serves() {
    if !landlock_available() {
        eprintln!("SKIPPED: this kernel offers no Landlock");
        return;
    }
    let base = layout();
    let home = base.path().join("home");
    let log = base.path().join("ftpd.log");
    let child = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["-i", "127.0.0.1", "-p", "0", "-d"])
        .arg(&home)
        .args(["--landlock", "required"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("run ftpdlib");
    let _server = ChildServer(child);
    let port = common::logged_port(&log).expect("ftpdlib started");
    let out = common::curl::run_curl(&["-sS"], &[&format!("ftp://127.0.0.1:{port}/inside.txt")]);
    let text = std::fs::read_to_string(&log).expect("log");
    assert_eq!(
        out.stdout,
        b"inside\n",
        "{}\n{text}",
        common::curl::stderr(&out)
    );
    let home = std::fs::canonicalize(&home).expect("home");
    let rule = format!("{} (read_file,read_dir)", home.display());
    let line = text
        .lines()
        .find(|l| l.contains("Landlock ABI "))
        .unwrap_or_else(|| panic!("no Landlock line: {text}"));
    assert!(
        line.contains(": file access confined to ") && line.contains(&rule),
        "{line}"
    );
}
