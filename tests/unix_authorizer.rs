//! System users end to end (pyftpdlib's `UnixAuthorizer` and
//! `UnixFilesystem`): real accounts made with `useradd` + `chpasswd` in a
//! temp home, an in-process server, and a client over a real socket.
//!
//! These tests create and delete system users, so they need root (CI runs
//! as root). Not root, they fail with a message saying so, unless
//! `FTPDLIB_SKIP_ROOT_TESTS=1` asks to skip them. Users are named
//! `ftpdt_<pid>_<tag>` and removed (`userdel -r`) by a drop guard even when
//! a test fails. The tests of this file run one at a time: the server
//! thread switches its effective ids around every command.

mod common;
use common::{code_of, Client};

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use ftpdlib::{
    Authorizer, FtpHandler, FtpServer, StopHandle, UnixAuthorizer, UnixAuthorizerOptions,
    UnixFilesystem,
};

/// Serializes the tests of this file.
static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the file's lock and checks for root; `None` = skip (only when
/// `FTPDLIB_SKIP_ROOT_TESTS=1`).
fn root_test() -> Option<MutexGuard<'static, ()>> {
    let guard = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let euid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if euid == 0 {
        return Some(guard);
    }
    if std::env::var("FTPDLIB_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("skipped: not root and FTPDLIB_SKIP_ROOT_TESTS=1");
        return None;
    }
    panic!(
        "tests/unix_authorizer.rs creates system users and must run as root (euid {euid}); \
         run as root, or set FTPDLIB_SKIP_ROOT_TESTS=1 to skip these tests"
    );
}

/// A system account made for a test.
#[derive(Debug, Clone)]
struct SysUser {
    name: String,
    password: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

/// Accounts with homes in a temp dir; `userdel -r` on drop.
struct Accounts {
    base: tempfile::TempDir,
    names: Vec<String>,
}

impl Accounts {
    fn new() -> Accounts {
        let base = tempfile::tempdir().expect("temp dir");
        // Users must be able to reach their homes below it.
        fs::set_permissions(base.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Accounts {
            base,
            names: Vec::new(),
        }
    }

    /// `useradd` + `chpasswd`: user `ftpdt_<pid>_<tag>` with `shell`, a
    /// home of mode 0755 and a random password.
    fn add(&mut self, tag: &str, shell: &str) -> SysUser {
        let name = format!("ftpdt_{}_{tag}", std::process::id());
        let home = self.base.path().join(&name);
        userdel(&name); // leftovers of a killed run with the same pid
        self.names.push(name.clone());
        run(Command::new(sbin("useradd"))
            .args(["-m", "-U", "-s", shell, "-d"])
            .arg(&home)
            .arg(&name));
        let password = format!("pw-{tag}-{}", std::process::id());
        let mut child = Command::new(sbin("chpasswd"))
            .stdin(Stdio::piped())
            .spawn()
            .expect("run chpasswd");
        use std::io::Write;
        let line = format!("{name}:{password}\n");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(line.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "chpasswd {name}");
        fs::set_permissions(&home, fs::Permissions::from_mode(0o755)).unwrap();
        let meta = fs::metadata(&home).unwrap();
        SysUser {
            name,
            password,
            uid: meta.uid(),
            gid: meta.gid(),
            home,
        }
    }
}

impl Drop for Accounts {
    fn drop(&mut self) {
        for name in &self.names {
            userdel(name);
        }
    }
}

/// `/usr/sbin/<tool>` when it is there (root's PATH may lack sbin), else
/// the bare name.
fn sbin(tool: &str) -> PathBuf {
    let p = Path::new("/usr/sbin").join(tool);
    if p.exists() {
        p
    } else {
        PathBuf::from(tool)
    }
}

fn userdel(name: &str) {
    let _ = Command::new(sbin("userdel"))
        .args(["-r", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Runs a command, asserting success.
fn run(cmd: &mut Command) {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An in-process server around a `UnixAuthorizer`; stopped on drop.
struct Server {
    addr: SocketAddr,
    stop: StopHandle,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// `options`, then `setup` on the authorizer; `UnixFilesystem` when
    /// `whole_machine`, else the confining `AbstractedFs`.
    fn start(
        options: UnixAuthorizerOptions,
        whole_machine: bool,
        setup: impl FnOnce(&mut UnixAuthorizer) + Send + 'static,
    ) -> Server {
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut auth = UnixAuthorizer::with_options(options).expect("UnixAuthorizer");
            setup(&mut auth);
            let mut handler = FtpHandler::new(auth);
            handler.auth_failed_timeout = Duration::from_millis(1);
            if whole_machine {
                handler.abstracted_fs = Box::new(|home, _| Box::new(UnixFilesystem::new(home)));
            }
            let mut server = FtpServer::bind(("127.0.0.1", 0), handler).expect("bind");
            server.handle_exit = false;
            tx.send((server.address(), server.stop_handle())).unwrap();
            server.serve_forever().expect("serve_forever");
        });
        let (addr, stop) = rx.recv().expect("server started");
        Server {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// A client logged in as `user` with its system password.
    fn login(&self, user: &SysUser) -> Client {
        let mut c = self.client();
        c.login(&user.name, &user.password);
        c
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// USER + PASS expecting a 530; returns the reply text.
fn refused(server: &Server, user: &str, password: &str) -> String {
    let mut c = server.client();
    c.expect(&format!("USER {user}"), 331);
    c.expect(&format!("PASS {password}"), 530)
}

fn opts() -> UnixAuthorizerOptions {
    UnixAuthorizerOptions::default()
}

/// A transfer command the server should refuse: PASV first (a refusal of
/// the file comes after the data-connection check), then the command.
fn refused_transfer(c: &mut Client, line: &str) -> String {
    let _data = c.pasv();
    c.cmd(line)
}

/// The real path `p` as an FTP argument (UnixFilesystem paths are real).
fn arg(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn shadow_password_logs_in_wrong_password_and_unknown_user_get_the_same_530() {
    let Some(_g) = root_test() else { return };
    let mut accounts = Accounts::new();
    let a = accounts.add("login", "/bin/bash");
    let srv = Server::start(opts(), false, |_| {});

    let wrong = refused(&srv, &a.name, "not-the-password");
    assert_eq!(wrong, "530 Authentication failed.\r\n");
    let unknown = format!("ftpdt_{}_nosuchuser", std::process::id());
    assert_eq!(refused(&srv, &unknown, "x"), wrong, "no user enumeration");
    assert_eq!(refused(&srv, &a.name, ""), wrong);

    let mut c = srv.login(&a);
    // AbstractedFs confines the user to the passwd home.
    c.expect("PWD", 257);
    fs::write(a.home.join("hello.txt"), b"hi").unwrap();
    let (data, done) = c.retrieve("RETR hello.txt");
    assert_eq!((data.as_slice(), code_of(&done)), (&b"hi"[..], 226));
    c.expect("QUIT", 221);
}

#[test]
fn uploads_and_directories_belong_to_the_user() {
    let Some(_g) = root_test() else { return };
    let mut accounts = Accounts::new();
    let a = accounts.add("owner", "/bin/bash");
    let srv = Server::start(opts(), true, |_| {});
    let mut c = srv.login(&a);
    // UnixFilesystem: real paths, starting at the home.
    let pwd = c.expect("PWD", 257);
    assert!(pwd.contains(&format!("\"{}\"", a.home.display())), "{pwd}");

    assert_eq!(code_of(&c.store("STOR up.txt", b"payload")), 226);
    c.expect("MKD newdir", 257);
    assert_eq!(code_of(&c.store("STOR newdir/deep.txt", b"x")), 226);
    for p in ["up.txt", "newdir", "newdir/deep.txt"] {
        let m = fs::metadata(a.home.join(p)).unwrap();
        assert_eq!((m.uid(), m.gid()), (a.uid, a.gid), "{p}");
    }
    assert_eq!(fs::read(a.home.join("up.txt")).unwrap(), b"payload");
    // The kernel, not a confinement check, keeps the user out of /root.
    let reply = refused_transfer(&mut c, "STOR /root/ftpdlib-should-not-exist.txt");
    assert_eq!(code_of(&reply), 550, "{reply}");
    assert!(!Path::new("/root/ftpdlib-should-not-exist.txt").exists());
    // The test's own thread never changed identity.
    assert_eq!(fs::metadata("/proc/self").unwrap().uid(), 0);
}

#[test]
fn a_file_readable_only_by_another_user_cannot_be_read() {
    let Some(_g) = root_test() else { return };
    let mut accounts = Accounts::new();
    let a = accounts.add("reader", "/bin/bash");
    let b = accounts.add("keeper", "/bin/bash");
    let secret = b.home.join("secret.txt");
    fs::write(&secret, b"b's secret").unwrap();
    std::os::unix::fs::chown(&secret, Some(b.uid), Some(b.gid)).unwrap();
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
    let srv = Server::start(opts(), true, |_| {});

    let mut ca = srv.login(&a);
    let reply = refused_transfer(&mut ca, &format!("RETR {}", arg(&secret)));
    assert_eq!(reply, "550 Permission denied.\r\n");
    // Nor write into b's home (0755, owned by b).
    let reply = refused_transfer(
        &mut ca,
        &format!("STOR {}", arg(&b.home.join("intruder.txt"))),
    );
    assert_eq!(code_of(&reply), 550, "{reply}");
    let reply = ca.cmd(&format!("DELE {}", arg(&secret)));
    assert_eq!(code_of(&reply), 550, "{reply}");
    assert!(secret.exists());

    // The owner can read it: the 550 above was the kernel saying no to a.
    let mut cb = srv.login(&b);
    let (data, done) = cb.retrieve(&format!("RETR {}", arg(&secret)));
    assert_eq!((data.as_slice(), code_of(&done)), (&b"b's secret"[..], 226));
}

#[test]
fn rejected_and_not_allowed_users_are_refused() {
    let Some(_g) = root_test() else { return };
    let mut accounts = Accounts::new();
    let a = accounts.add("ok", "/bin/bash");
    let r = accounts.add("rej", "/bin/bash");
    let srv = Server::start(
        UnixAuthorizerOptions {
            rejected_users: vec![r.name.clone()],
            ..opts()
        },
        false,
        |_| {},
    );
    let text = refused(&srv, &r.name, &r.password);
    assert_eq!(
        text,
        format!("530 User {} is not allowed to login.\r\n", r.name)
    );
    // Without the right password nothing more than a wrong password is told.
    assert_eq!(
        refused(&srv, &r.name, "x"),
        "530 Authentication failed.\r\n"
    );
    srv.login(&a).expect("QUIT", 221);
    drop(srv);

    let srv = Server::start(
        UnixAuthorizerOptions {
            allowed_users: vec![a.name.clone()],
            ..opts()
        },
        false,
        |_| {},
    );
    let text = refused(&srv, &r.name, &r.password);
    assert_eq!(
        text,
        format!("530 User {} is not allowed to login.\r\n", r.name)
    );
    srv.login(&a).expect("QUIT", 221);
}

#[test]
fn a_user_without_a_valid_shell_is_refused() {
    let Some(_g) = root_test() else { return };
    let shells = fs::read_to_string("/etc/shells").unwrap_or_default();
    assert!(
        !shells.lines().any(|l| l.trim() == "/bin/false"),
        "precondition: /bin/false must not be listed in /etc/shells"
    );
    let mut accounts = Accounts::new();
    let f = accounts.add("noshell", "/bin/false");
    let srv = Server::start(opts(), false, |_| {});
    let text = refused(&srv, &f.name, &f.password);
    assert_eq!(
        text,
        format!("530 User {} doesn't have a valid shell.\r\n", f.name)
    );
    drop(srv);

    let lenient = UnixAuthorizerOptions {
        require_valid_shell: false,
        ..opts()
    };
    let srv = Server::start(lenient, false, |_| {});
    srv.login(&f).expect("QUIT", 221);
}

#[test]
fn anonymous_maps_to_its_system_account() {
    let Some(_g) = root_test() else { return };
    let mut accounts = Accounts::new();
    let n = accounts.add("anon", "/usr/sbin/nologin");
    let own = n.home.join("own.txt");
    fs::write(&own, b"for anonymous").unwrap();
    std::os::unix::fs::chown(&own, Some(n.uid), Some(n.gid)).unwrap();
    fs::set_permissions(&own, fs::Permissions::from_mode(0o600)).unwrap();
    let roots = n.home.join("root.txt");
    fs::write(&roots, b"root only").unwrap();
    fs::set_permissions(&roots, fs::Permissions::from_mode(0o600)).unwrap();

    // Without anonymous_user, anonymous is refused.
    let srv = Server::start(opts(), false, |_| {});
    assert_eq!(
        refused(&srv, "anonymous", "guest@"),
        "530 Anonymous access not allowed.\r\n"
    );
    drop(srv);

    let with_anon = UnixAuthorizerOptions {
        anonymous_user: Some(n.name.clone()),
        ..opts()
    };
    let srv = Server::start(with_anon, false, |_| {});
    let mut c = srv.client();
    c.login("anonymous", "guest@example.com");
    // Home = the account's home; a file only that account may read is read.
    let (data, done) = c.retrieve("RETR own.txt");
    assert_eq!(
        (data.as_slice(), code_of(&done)),
        (&b"for anonymous"[..], 226)
    );
    assert_eq!(
        refused_transfer(&mut c, "RETR root.txt"),
        "550 Permission denied.\r\n"
    );
    // perms "elr": no writing, whatever the kernel would allow.
    assert_eq!(
        refused_transfer(&mut c, "STOR x.txt"),
        "550 Not enough privileges.\r\n"
    );
    let (list, _) = c.retrieve("NLST");
    assert!(String::from_utf8_lossy(&list).contains("own.txt"));
}

#[test]
fn override_user_sets_password_home_perms_and_messages() {
    let Some(_g) = root_test() else { return };
    let mut accounts = Accounts::new();
    let a = accounts.add("over", "/bin/bash");
    let other_home = accounts.base.path().join("elsewhere");
    fs::create_dir(&other_home).unwrap();
    fs::write(other_home.join("marker.txt"), b"m").unwrap();
    let (name, dir) = (a.name.clone(), other_home.clone());
    let srv = Server::start(opts(), false, move |auth| {
        auth.override_user(
            &name,
            Some("override-pw"),
            Some(&dir),
            Some("elr"),
            Some("hello over"),
            Some("bye over"),
        )
        .expect("override_user");
    });
    assert_eq!(
        refused(&srv, &a.name, &a.password),
        "530 Authentication failed.\r\n"
    );
    let mut c = srv.client();
    c.expect(&format!("USER {}", a.name), 331);
    assert_eq!(c.cmd("PASS override-pw"), "230 hello over\r\n");
    let (list, _) = c.retrieve("NLST");
    assert_eq!(String::from_utf8_lossy(&list), "marker.txt\r\n");
    assert_eq!(c.cmd("MKD d"), "550 Not enough privileges.\r\n");
    assert_eq!(c.cmd("QUIT"), "221 bye over\r\n");
}

#[test]
fn a_failed_impersonation_refuses_the_command_with_550() {
    let Some(_g) = root_test() else { return };
    let mut accounts = Accounts::new();
    let a = accounts.add("gone", "/bin/bash");
    let srv = Server::start(opts(), false, |_| {});
    let mut c = srv.login(&a);
    c.expect("PWD", 257);
    userdel(&a.name);
    // The account is gone: the server cannot become it, so nothing runs
    // (never as root instead).
    assert_eq!(c.cmd("PWD"), "550 Can't switch to the user's identity.\r\n");
    assert_eq!(
        c.cmd("MKD evil"),
        "550 Can't switch to the user's identity.\r\n"
    );
    assert!(!a.home.join("evil").exists());
}

#[test]
fn options_are_checked_like_pyftpdlib() {
    let Some(_g) = root_test() else { return };
    let mut accounts = Accounts::new();
    let a = accounts.add("opts", "/bin/bash");
    let f = accounts.add("optsf", "/bin/false");
    let err = |o: UnixAuthorizerOptions| UnixAuthorizer::with_options(o).unwrap_err().0;
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let unknown = format!("ftpdt_{}_unknown", std::process::id());
    let cases = [
        (
            UnixAuthorizerOptions {
                allowed_users: names(&[&a.name]),
                rejected_users: names(&["root"]),
                ..opts()
            },
            "mutually exclusive",
        ),
        (
            UnixAuthorizerOptions {
                rejected_users: names(&["anonymous"]),
                ..opts()
            },
            "invalid username \"anonymous\"",
        ),
        (
            UnixAuthorizerOptions {
                allowed_users: names(&[&unknown]),
                ..opts()
            },
            "unknown user",
        ),
        (
            UnixAuthorizerOptions {
                anonymous_user: Some(unknown.clone()),
                ..opts()
            },
            "no such user",
        ),
        (
            UnixAuthorizerOptions {
                global_perm: "elrX".into(),
                ..opts()
            },
            "no such permission",
        ),
        (
            UnixAuthorizerOptions {
                allowed_users: names(&[&f.name]),
                ..opts()
            },
            "has not a valid shell",
        ),
    ];
    for (o, want) in cases {
        let e = err(o);
        assert!(e.contains(want), "{e:?} should contain {want:?}");
    }

    let mut auth = UnixAuthorizer::new().unwrap();
    let none = auth.override_user(&a.name, None, None, None, None, None);
    assert!(none.unwrap_err().0.contains("at least one"));
    let e = auth.override_user(&f.name, None, None, Some("elr"), None, None);
    assert!(e.unwrap_err().0.contains("doesn't have a valid shell"));
    let mut lenient = UnixAuthorizer::with_options(UnixAuthorizerOptions {
        require_valid_shell: false,
        ..opts()
    })
    .unwrap();
    let e = lenient.override_user(&unknown, None, None, Some("elr"), None, None);
    assert!(e.unwrap_err().0.contains("no such user"));
    lenient
        .override_user(&f.name, None, None, Some("el"), None, None)
        .unwrap();
    assert_eq!(lenient.get_perms(&f.name).to_letters(), "el");
    let e = auth.override_user("anonymous", Some("pw"), None, None, None, None);
    assert!(e.unwrap_err().0.contains("can't assign password"));
    let e = auth.override_user(
        &a.name,
        None,
        Some(Path::new("/nonexistent")),
        None,
        None,
        None,
    );
    assert!(e.unwrap_err().0.contains("no such directory"));

    // Queries without a server.
    assert!(auth.has_user(&a.name) && auth.has_user(&f.name) && !auth.has_user(&unknown));
    assert!(!auth.has_user("anonymous"));
    assert_eq!(auth.get_home_dir(&a.name).unwrap(), a.home);
    assert_eq!(auth.get_perms(&a.name).to_letters(), "elradfmwMT");
    assert_eq!(auth.get_perms("anonymous").to_letters(), "elr");
    assert_eq!(auth.get_msg_login(&a.name), "Login successful.");
    assert_eq!(auth.get_msg_quit(&a.name), "Goodbye.");
    let rejecting = UnixAuthorizer::with_options(UnixAuthorizerOptions {
        rejected_users: names(&[&a.name]),
        ..opts()
    })
    .unwrap();
    assert!(!rejecting.has_user(&a.name));
}

/// Issue 12: the entries of a listing are stat'ed by the data channel
/// after the LIST command returned, and must be stat'ed as the user, not as
/// the server (root). A directory the user may read but not search (mode
/// 0744, root's) shows its names to NLST, as `ls` would, but LIST and MLSD
/// cannot stat its entries, so they list nothing: root could have, and
/// would have shown the secret file's size and owner.
#[test]
fn listing_entries_are_stated_with_the_users_rights_not_roots() {
    let Some(_g) = root_test() else { return };
    let mut accounts = Accounts::new();
    let a = accounts.add("lister", "/bin/bash");
    let locked = a.home.join("locked");
    fs::create_dir(&locked).unwrap();
    fs::write(locked.join("secret.txt"), vec![b'x'; 12345]).unwrap();
    fs::set_permissions(&locked, fs::Permissions::from_mode(0o744)).unwrap();
    fs::write(a.home.join("open.txt"), b"open").unwrap();
    let srv = Server::start(opts(), false, |_| {});
    let mut c = srv.login(&a);
    c.expect("TYPE I", 200);

    let (names, done) = c.retrieve("NLST locked");
    assert_eq!(code_of(&done), 226, "{done}");
    assert!(String::from_utf8_lossy(&names).contains("secret.txt"));
    for cmd in ["LIST locked", "MLSD locked"] {
        let (listing, done) = c.retrieve(cmd);
        assert_eq!(code_of(&done), 226, "{cmd}: {done}");
        let text = String::from_utf8_lossy(&listing);
        assert!(
            !text.contains("secret.txt") && !text.contains("12345"),
            "{cmd} as root: {text}"
        );
    }
    // Where the user may search, entries are listed as usual.
    let (listing, _) = c.retrieve("LIST");
    let text = String::from_utf8_lossy(&listing);
    assert!(
        text.contains("open.txt") && text.contains("locked"),
        "{text}"
    );
    let (listing, _) = c.retrieve("MLSD");
    assert!(
        String::from_utf8_lossy(&listing).contains("size=4;"),
        "MLSD of the home"
    );
    c.expect("QUIT", 221);
}
