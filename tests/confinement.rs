//! Confinement: no path outside the user's home is read, listed, written,
//! renamed, re-moded, re-timed or deleted, whatever the spelling
//! (`..`, absolute paths, `//`, backslashes, symlinks, NUL bytes)
//! (reference §1 step 7, §4 "Confinement and symlinks").
//!
//! Layout (one temp dir per test, `base`):
//! ```text
//! base/SENTINELNAME_parent.txt   "SENTINEL_CONTENT_parent"
//! base/LEAKNAME_parent.txt       "SENTINEL_CONTENT_leak_parent"
//! base/outside/SENTINELNAME_a.txt, LEAKNAME_b.txt, target.txt, subdir/
//! base/home/                     the jailed user's home
//!     inside.txt, sub/file.txt
//!     escdir  -> base/outside            (absolute symlink to a dir)
//!     escfile -> base/outside/target.txt (symlink to a file)
//!     relesc  -> ../outside              (relative symlink)
//!     reldot  -> ..                      (symlink to the home's parent)
//!     dangle  -> base/outside/created_by_dangle.txt (dangling, outside)
//!     dangledir -> base/outside/newdir   (dangling, outside)
//!     rootlink -> /
//!     loop    -> loop                    (ELOOP)
//! ```
//! Names containing `LEAKNAME` and contents containing `SENTINEL_CONTENT`
//! are never sent by the client, so seeing them in any reply or data is a
//! leak. Mutations are caught by snapshotting everything outside `home`.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

use common::*;

const JAIL_USER: &str = "jail";
const JAIL_PASS: &str = "pw";
const ESCAPES: [&str; 7] = [
    "escdir",
    "escfile",
    "relesc",
    "reldot",
    "dangle",
    "dangledir",
    "rootlink",
];
const UPLOAD: &[u8] = b"PWNED-UPLOAD";

struct Jail {
    _dir: tempfile::TempDir,
    base: PathBuf,
    home: PathBuf,
}

fn jail() -> (TestServer, Jail) {
    let dir = tempfile::tempdir().unwrap();
    let base = fs::canonicalize(dir.path()).unwrap();
    let home = base.join("home");
    fs::create_dir(&home).unwrap();
    fs::write(home.join("inside.txt"), b"inside content").unwrap();
    fs::create_dir(home.join("sub")).unwrap();
    fs::write(home.join("sub/file.txt"), b"sub file").unwrap();
    fs::write(
        base.join("SENTINELNAME_parent.txt"),
        b"SENTINEL_CONTENT_parent",
    )
    .unwrap();
    fs::write(
        base.join("LEAKNAME_parent.txt"),
        b"SENTINEL_CONTENT_leak_parent",
    )
    .unwrap();
    let out = base.join("outside");
    fs::create_dir(&out).unwrap();
    fs::write(out.join("SENTINELNAME_a.txt"), b"SENTINEL_CONTENT_a").unwrap();
    fs::write(out.join("LEAKNAME_b.txt"), b"SENTINEL_CONTENT_b").unwrap();
    fs::write(out.join("target.txt"), b"SENTINEL_CONTENT_target").unwrap();
    fs::create_dir(out.join("subdir")).unwrap();
    symlink(&out, home.join("escdir")).unwrap();
    symlink(out.join("target.txt"), home.join("escfile")).unwrap();
    symlink("../outside", home.join("relesc")).unwrap();
    symlink("..", home.join("reldot")).unwrap();
    symlink(out.join("created_by_dangle.txt"), home.join("dangle")).unwrap();
    symlink(out.join("newdir"), home.join("dangledir")).unwrap();
    symlink("/", home.join("rootlink")).unwrap();
    symlink("loop", home.join("loop")).unwrap();
    let h = home.clone();
    let srv = TestServer::start_with(
        move |a, _| {
            a.add_user_with_perm(JAIL_USER, JAIL_PASS, &h, "elradfmwMT")
                .unwrap();
        },
        |_| {},
    );
    (
        srv,
        Jail {
            _dir: dir,
            base,
            home,
        },
    )
}

/// Everything under `base` except `home`: path → type, mode, mtime,
/// content or link target.
fn snapshot(base: &Path, home: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(dir: &Path, home: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p == home {
                continue;
            }
            let m = fs::symlink_metadata(&p).unwrap();
            let head = format!("{:o} {}.{}", m.mode(), m.mtime(), m.mtime_nsec());
            let desc = if m.file_type().is_symlink() {
                format!("{head} -> {:?}", fs::read_link(&p).unwrap())
            } else if m.is_dir() {
                walk(&p, home, out);
                format!("{head} dir")
            } else {
                format!("{head} {:?}", fs::read(&p).unwrap())
            };
            out.insert(p, desc);
        }
    }
    let mut out = BTreeMap::new();
    walk(base, home, &mut out);
    let m = fs::metadata(base).unwrap();
    out.insert(base.to_path_buf(), format!("{:o} base", m.mode()));
    out
}

/// A logged-in jailed client that records every byte it receives.
struct Probe {
    c: Client,
    seen: Vec<u8>,
    data_seen: Vec<u8>,
}

impl Probe {
    fn new(srv: &TestServer) -> Probe {
        let mut c = srv.client();
        c.login(JAIL_USER, JAIL_PASS);
        c.expect("TYPE I", 200);
        Probe {
            c,
            seen: Vec::new(),
            data_seen: Vec::new(),
        }
    }

    /// Send one raw command line (bytes, CRLF added) and read the reply.
    fn cmd(&mut self, line: &[u8]) -> String {
        let mut l = line.to_vec();
        l.extend_from_slice(b"\r\n");
        self.c.send_raw(&l);
        let r = self.c.read_reply();
        self.seen.extend_from_slice(r.as_bytes());
        r
    }

    /// PASV, connect, then the command; on a 1xx reply, download (or upload
    /// `upload`) and read the final reply. Returns all replies.
    fn data_cmd(&mut self, line: &[u8], upload: Option<&[u8]>) -> String {
        let pasv = self.cmd(b"PASV");
        assert_eq!(code_of(&pasv), 227, "{pasv:?}");
        let inside = pasv
            .split('(')
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap();
        let n: Vec<u16> = inside
            .split(',')
            .map(|x| x.trim().parse().unwrap())
            .collect();
        let addr = format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5]);
        let mut data = TcpStream::connect(addr).unwrap();
        // Data that takes longer than this is missing.
        data.set_read_timeout(Some(PATIENCE)).unwrap();
        let first = self.cmd(line);
        if !matches!(code_of(&first), 125 | 150) {
            return first;
        }
        match upload {
            Some(bytes) => {
                let _ = data.write_all(bytes);
                drop(data);
            }
            None => {
                let mut buf = Vec::new();
                match data.read_to_end(&mut buf) {
                    Ok(_) => {}
                    Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
                    Err(e) => panic!("data read: {e}"),
                }
                self.seen.extend_from_slice(&buf);
                self.data_seen.extend_from_slice(&buf);
            }
        }
        let last = self.c.read_reply();
        self.seen.extend_from_slice(last.as_bytes());
        format!("{first}{last}")
    }

    fn assert_no_leak(&self) {
        let seen = String::from_utf8_lossy(&self.seen);
        for bad in ["LEAKNAME", "SENTINEL_CONTENT", "root:x:0:"] {
            assert!(!seen.contains(bad), "leaked {bad:?} in:\n{seen}");
        }
        let data = String::from_utf8_lossy(&self.data_seen);
        for bad in ["SENTINELNAME", "passwd", "hostname", "subdir"] {
            assert!(!data.contains(bad), "listed {bad:?} in data:\n{data}");
        }
    }
}

/// The virtual path components of `p` seen from `cwd` (lexical, like
/// pyftpdlib's ftpnorm).
fn norm(cwd: &str, p: &str) -> Vec<String> {
    let mut parts: Vec<String> = if p.starts_with('/') {
        Vec::new()
    } else {
        cwd.split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    for seg in p.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s.to_string()),
        }
    }
    parts
}

/// Whether `p` (from `cwd`) goes through one of the escaping symlinks.
fn is_escape(cwd: &str, p: &str) -> bool {
    norm(cwd, p)
        .first()
        .is_some_and(|f| ESCAPES.contains(&f.as_str()))
}

/// Whether STOU's directory (the path minus its last component) escapes.
fn stou_escape(p: &str) -> bool {
    let parts = norm("/", p);
    parts.len() >= 2 && ESCAPES.contains(&parts[0].as_str())
}

fn assert_outside_refused(reply: &str, what: &str) {
    assert_eq!(code_of(reply), 550, "{what}: {reply:?}");
    assert!(
        reply.starts_with("550 '")
            && reply
                .ends_with("' points to a path which is outside the user's root directory.\r\n"),
        "{what}: {reply:?}"
    );
}

/// Paths for commands that only read or list (they may name /etc).
fn read_paths(base: &Path) -> Vec<String> {
    let b = base.display().to_string();
    let mut v: Vec<String> = [
        "..",
        "../..",
        "/..",
        "/../..",
        "/../etc/passwd",
        "../../../../etc/passwd",
        "//etc",
        "//etc/passwd",
        "/etc/passwd",
        "/etc",
        "..\\..\\etc",
        "..\\..\\etc\\passwd",
        "escdir",
        "escdir/",
        "escdir/.",
        "escdir/SENTINELNAME_a.txt",
        "escdir/subdir",
        "escdir/../SENTINELNAME_parent.txt",
        "escfile",
        "relesc",
        "relesc/target.txt",
        "reldot",
        "reldot/SENTINELNAME_parent.txt",
        "reldot/outside",
        "reldot/home/reldot",
        "/reldot/../reldot/outside/target.txt",
        "sub/../reldot",
        "sub/../../escfile",
        "./escdir",
        "../SENTINELNAME_parent.txt",
        "/../SENTINELNAME_parent.txt",
        "sub/../../SENTINELNAME_parent.txt",
        "dangle",
        "dangledir",
        "rootlink",
        "rootlink/etc/passwd",
        "rootlink/etc",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("rootlink{b}/outside"));
    v.push(format!("rootlink{b}/SENTINELNAME_parent.txt"));
    v.push(format!("{b}/SENTINELNAME_parent.txt"));
    v.push(format!("{b}/outside"));
    v.push(format!("//{b}/outside"));
    v.push(format!("/../../../../..{b}/outside/SENTINELNAME_a.txt"));
    v
}

/// Paths for commands that modify (never /etc: a confinement bug must not
/// damage the machine; these only reach into `base`).
fn write_paths(base: &Path) -> Vec<String> {
    let b = base.display().to_string();
    let mut v: Vec<String> = [
        "..",
        "../..",
        "/..",
        "/../x_new1",
        "..\\..\\x_new2",
        "escdir",
        "escdir/",
        "escdir/new.txt",
        "escdir/target.txt",
        "escdir/SENTINELNAME_a.txt",
        "escdir/subdir",
        "escfile",
        "relesc/new.txt",
        "relesc/target.txt",
        "relesc/subdir",
        "reldot/new.txt",
        "reldot/SENTINELNAME_parent.txt",
        "reldot/outside/subdir",
        "reldot/outside/target.txt",
        "sub/../reldot/new.txt",
        "../SENTINELNAME_parent.txt",
        "/../SENTINELNAME_parent.txt",
        "dangle",
        "dangledir",
        "dangledir/x",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.push(format!("rootlink{b}/outside/new.txt"));
    v.push(format!("rootlink{b}/outside/target.txt"));
    v.push(format!("rootlink{b}/outside/subdir"));
    v.push(format!("{b}/outside/target.txt"));
    v.push(format!("{b}/SENTINELNAME_parent.txt"));
    v.push(format!("//{b}/outside/target.txt"));
    v.push(format!("/../../../..{b}/outside/new.txt"));
    v
}

/// Run the read-only commands on every read path from `cwd`.
fn probe_reads(p: &mut Probe, base: &Path, cwd: &str) {
    for path in read_paths(base) {
        let esc = is_escape(cwd, &path);
        let pb = path.as_bytes();
        for cmd in ["CWD", "XCWD", "SIZE", "MDTM", "MLST", "STAT", "RNFR"] {
            let mut line = format!("{cmd} ").into_bytes();
            line.extend_from_slice(pb);
            let r = p.cmd(&line);
            let what = format!("[cwd {cwd}] {cmd} {path}");
            if esc {
                assert_outside_refused(&r, &what);
            }
            match cmd {
                "CWD" | "XCWD" => {
                    let pwd = p.cmd(b"PWD");
                    assert!(pwd.starts_with("257 \"/"), "{what}: {pwd:?}");
                    assert!(
                        !pwd.contains(&base.display().to_string()),
                        "{what}: {pwd:?}"
                    );
                    let back = p.cmd(format!("CWD {cwd}").as_bytes());
                    assert_eq!(code_of(&back), 250, "{back:?}");
                }
                _ => {}
            }
            // Things that must not exist inside the home either.
            if !esc && (path.contains("etc") || path.contains("SENTINELNAME")) {
                assert!(code_of(&r) >= 400, "{what}: {r:?}");
            }
        }
        for cmd in ["LIST", "NLST", "MLSD", "RETR"] {
            let mut line = format!("{cmd} ").into_bytes();
            line.extend_from_slice(pb);
            let r = p.data_cmd(&line, None);
            let what = format!("[cwd {cwd}] {cmd} {path}");
            if esc {
                assert_outside_refused(&r, &what);
            }
            if !esc && (path.contains("etc") || path.contains("SENTINELNAME")) {
                assert!(code_of(&r) >= 400, "{what}: {r:?}");
            }
        }
    }
}

#[test]
fn read_commands_never_see_outside() {
    let (srv, j) = jail();
    let before = snapshot(&j.base, &j.home);
    let mut p = Probe::new(&srv);
    probe_reads(&mut p, &j.base, "/");
    assert_eq!(code_of(&p.cmd(b"CWD /sub")), 250);
    probe_reads(&mut p, &j.base, "/sub");
    // ls-style flags in front of an escaping path.
    assert_eq!(code_of(&p.cmd(b"CWD /")), 250);
    for line in [
        "LIST -la escdir",
        "LIST -l reldot",
        "NLST -la escdir",
        "LIST -la ..",
    ] {
        let r = p.data_cmd(line.as_bytes(), None);
        if line.ends_with("..") {
            assert!(matches!(code_of(&r), 125 | 150), "{line}: {r:?}");
        } else {
            assert_outside_refused(&r, line);
        }
    }
    for line in ["STAT -la escdir", "STAT -l reldot"] {
        let r = p.cmd(line.as_bytes());
        assert_outside_refused(&r, line);
    }
    p.assert_no_leak();
    assert_eq!(p.cmd(b"PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(before, snapshot(&j.base, &j.home));
}

#[test]
fn cwd_dotdot_at_root_stays_at_root() {
    let (srv, _j) = jail();
    let mut p = Probe::new(&srv);
    for path in ["..", "../..", "/..", "/../..", "sub/../.."] {
        assert_eq!(
            p.cmd(format!("CWD {path}").as_bytes()),
            "250 \"/\" is the current directory.\r\n",
            "CWD {path}"
        );
    }
    assert_eq!(code_of(&p.cmd(b"CWD sub")), 250);
    assert_eq!(p.cmd(b"CDUP"), "250 \"/\" is the current directory.\r\n");
    assert_eq!(p.cmd(b"CDUP"), "250 \"/\" is the current directory.\r\n");
    assert_eq!(p.cmd(b"XCUP"), "250 \"/\" is the current directory.\r\n");
    // Listing ".." at "/" lists the home itself.
    let r = p.data_cmd(b"NLST ..", None);
    assert!(matches!(code_of(&r), 125 | 150), "{r:?}");
    let names = String::from_utf8_lossy(&p.data_seen).to_string();
    assert_eq!(
        names,
        "dangle\r\ndangledir\r\nescdir\r\nescfile\r\ninside.txt\r\nloop\r\nreldot\r\n\
         relesc\r\nrootlink\r\nsub\r\n"
    );
    p.assert_no_leak();
}

#[test]
fn escaping_symlinks_are_listed_but_not_followed() {
    let (srv, j) = jail();
    let mut p = Probe::new(&srv);
    // The links show in LIST of the home with their targets (pyftpdlib
    // behaviour), nothing behind them does.
    let r = p.data_cmd(b"LIST", None);
    assert!(matches!(code_of(&r), 125 | 150), "{r:?}");
    let list = String::from_utf8_lossy(&p.data_seen).to_string();
    assert!(
        list.contains(&format!(
            " escdir -> {}\r\n",
            j.base.join("outside").display()
        )),
        "{list}"
    );
    assert!(list.contains(" reldot -> ..\r\n"), "{list}");
    // CWD into them is refused and the cwd does not move.
    for link in ESCAPES {
        let r = p.cmd(format!("CWD {link}").as_bytes());
        assert_outside_refused(&r, link);
        assert_eq!(p.cmd(b"PWD"), "257 \"/\" is the current directory.\r\n");
    }
    let r = p.data_cmd(b"RETR escfile", None);
    assert_outside_refused(&r, "RETR escfile");
    let r = p.data_cmd(b"MLSD escdir", None);
    assert_outside_refused(&r, "MLSD escdir");
    p.assert_no_leak();
}

#[test]
fn write_commands_never_touch_outside() {
    let (srv, j) = jail();
    let before = snapshot(&j.base, &j.home);
    let mut p = Probe::new(&srv);
    for path in write_paths(&j.base) {
        let esc = is_escape("/", &path);
        let pb = path.as_bytes();
        for cmd in ["STOR", "APPE", "STOU"] {
            let mut line = format!("{cmd} ").into_bytes();
            line.extend_from_slice(pb);
            let r = p.data_cmd(&line, Some(UPLOAD));
            // STOU only uses the directory part as a place (the last
            // component becomes a name prefix).
            let esc = if cmd == "STOU" {
                stou_escape(&path)
            } else {
                esc
            };
            if esc {
                assert_outside_refused(&r, &format!("{cmd} {path}"));
            }
        }
        for (cmd, prefix) in [
            ("DELE", ""),
            ("RMD", ""),
            ("XRMD", ""),
            ("MKD", ""),
            ("XMKD", ""),
            ("SITE CHMOD", "777 "),
            ("MFMT", "20000101000000 "),
        ] {
            let mut line = format!("{cmd} {prefix}").into_bytes();
            line.extend_from_slice(pb);
            let r = p.cmd(&line);
            if esc {
                assert_outside_refused(&r, &format!("{cmd} {prefix}{path}"));
            }
        }
        // Rename an inside file to the path.
        fs::write(j.home.join("inside.txt"), b"inside content").unwrap();
        assert_eq!(
            p.cmd(b"RNFR inside.txt"),
            "350 Ready for destination name.\r\n"
        );
        let mut line = b"RNTO ".to_vec();
        line.extend_from_slice(pb);
        let r = p.cmd(&line);
        if esc {
            assert_outside_refused(&r, &format!("RNTO {path}"));
            assert!(j.home.join("inside.txt").exists());
        }
        // Rename the path (an outside thing) to an inside name.
        let mut line = b"RNFR ".to_vec();
        line.extend_from_slice(pb);
        let r = p.cmd(&line);
        if esc {
            assert_outside_refused(&r, &format!("RNFR {path}"));
        } else if code_of(&r) == 350 {
            let _ = p.cmd(b"RNTO stolen");
        }
    }
    // The links themselves are still there, still pointing where they did.
    assert_eq!(
        fs::read_link(j.home.join("escdir")).unwrap(),
        j.base.join("outside")
    );
    assert_eq!(
        fs::read_link(j.home.join("escfile")).unwrap(),
        j.base.join("outside/target.txt")
    );
    p.assert_no_leak();
    assert_eq!(code_of(&p.cmd(b"NOOP")), 200);
    assert_eq!(
        before,
        snapshot(&j.base, &j.home),
        "something outside the home changed"
    );
}

#[test]
fn nul_in_path_is_rejected() {
    let (srv, j) = jail();
    let before = snapshot(&j.base, &j.home);
    let mut p = Probe::new(&srv);
    let paths: [&[u8]; 3] = [
        b"inside.txt\0/../../SENTINELNAME_parent.txt",
        b"escfile\0",
        b"\0",
    ];
    for path in paths {
        for cmd in [
            "CWD",
            "XCWD",
            "SIZE",
            "MDTM",
            "MLST",
            "STAT",
            "RNFR",
            "DELE",
            "RMD",
            "MKD",
            "SITE CHMOD 644",
            "MFMT 20000101000000",
        ] {
            let mut line = format!("{cmd} ").into_bytes();
            line.extend_from_slice(path);
            let r = p.cmd(&line);
            assert_eq!(
                code_of(&r),
                501,
                "{cmd} {:?}: {r:?}",
                String::from_utf8_lossy(path)
            );
        }
        for cmd in ["LIST", "NLST", "MLSD", "RETR", "STOR", "APPE"] {
            let mut line = format!("{cmd} ").into_bytes();
            line.extend_from_slice(path);
            let r = p.data_cmd(&line, Some(UPLOAD));
            assert_eq!(
                code_of(&r),
                501,
                "{cmd} {:?}: {r:?}",
                String::from_utf8_lossy(path)
            );
        }
        p.cmd(b"RNFR inside.txt");
        let mut line = b"RNTO ".to_vec();
        line.extend_from_slice(path);
        let r = p.cmd(&line);
        assert_eq!(
            code_of(&r),
            501,
            "RNTO {:?}: {r:?}",
            String::from_utf8_lossy(path)
        );
    }
    assert_eq!(
        fs::read(j.home.join("inside.txt")).unwrap(),
        b"inside content"
    );
    assert_eq!(code_of(&p.cmd(b"NOOP")), 200);
    p.assert_no_leak();
    assert_eq!(before, snapshot(&j.base, &j.home));
}

#[test]
fn anonymous_is_confined_too() {
    let (srv, j) = jail();
    let _ = &j;
    // Anonymous shares the default server home; it must not reach the
    // temp dir's parent either.
    let mut c = srv.client();
    c.login("anonymous", "x@y");
    c.expect("TYPE I", 200);
    c.expect("CWD ..", 250);
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(code_of(&c.cmd("SIZE /../etc/passwd")), 550);
    c.expect("PASV", 227);
    assert_eq!(code_of(&c.cmd("RETR /etc/passwd")), 550);
    assert_eq!(code_of(&c.cmd("RETR ../../../../etc/passwd")), 550);
}

#[test]
fn override_perm_non_recursive() {
    let srv = TestServer::start_with(
        |a, root| {
            fs::create_dir(root.join("sub")).unwrap();
            fs::create_dir(root.join("sub/deeper")).unwrap();
            a.add_user_with_perm("elr", "pw", root, "elr").unwrap();
            a.override_perm("elr", root.join("sub"), "elrw", false)
                .unwrap();
        },
        |_| {},
    );
    let root = srv.root().to_path_buf();
    let mut c = srv.client();
    c.login("elr", "pw");
    c.expect("TYPE I", 200);
    let r = c.store("STOR sub/x", b"allowed");
    assert_eq!(r, "226 Transfer complete.\r\n");
    assert_eq!(fs::read(root.join("sub/x")).unwrap(), b"allowed");
    c.expect("PASV", 227);
    assert_eq!(c.cmd("STOR x"), "550 Not enough privileges.\r\n");
    assert!(!root.join("x").exists());
    // Not recursive: files in a subdirectory of sub fall back to "elr".
    c.expect("PASV", 227);
    assert_eq!(c.cmd("STOR sub/deeper/y"), "550 Not enough privileges.\r\n");
    assert!(!root.join("sub/deeper/y").exists());
    // Only "w" was granted.
    assert_eq!(c.cmd("DELE sub/x"), "550 Not enough privileges.\r\n");
    assert!(root.join("sub/x").exists());
    assert_eq!(c.cmd("MKD sub/newdir"), "550 Not enough privileges.\r\n");
    // Reading still works.
    let (d, r) = c.retrieve("RETR sub/x");
    assert_eq!(d, b"allowed");
    assert_eq!(code_of(&r), 226);
    // STOU follows the same rules, and leaves nothing behind when refused.
    let mut data = c.pasv();
    let pre = c.cmd("STOU sub/u");
    assert!(matches!(code_of(&pre), 125 | 150), "{pre:?}");
    data.write_all(b"unique").unwrap();
    drop(data);
    assert_eq!(code_of(&c.read_reply()), 226);
    c.expect("PASV", 227);
    assert_eq!(c.cmd("STOU"), "550 Not enough privileges.\r\n");
    let mut top: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, ["sub"]);
}

#[test]
fn symlink_loop_is_an_error_not_a_hang() {
    let (srv, _j) = jail();
    let mut p = Probe::new(&srv);
    for cmd in [
        "CWD loop",
        "SIZE loop",
        "MDTM loop",
        "MLST loop",
        "STAT loop",
        "DELE loop/x",
    ] {
        let r = p.cmd(cmd.as_bytes());
        assert_eq!(code_of(&r), 550, "{cmd}: {r:?}");
    }
    for cmd in ["RETR loop", "LIST loop", "STOR loop/x"] {
        let r = p.data_cmd(cmd.as_bytes(), Some(UPLOAD));
        assert_eq!(code_of(&r), 550, "{cmd}: {r:?}");
    }
    assert_eq!(code_of(&p.cmd(b"NOOP")), 200);
}

#[test]
fn symlinks_inside_the_home_keep_working() {
    let (srv, j) = jail();
    symlink("sub", j.home.join("inlink")).unwrap();
    symlink(j.home.join("sub/file.txt"), j.home.join("absin")).unwrap();
    let mut p = Probe::new(&srv);
    assert_eq!(
        p.cmd(b"CWD inlink"),
        "250 \"/inlink\" is the current directory.\r\n"
    );
    assert_eq!(code_of(&p.cmd(b"CWD /")), 250);
    let r = p.data_cmd(b"RETR inlink/file.txt", None);
    assert!(matches!(code_of(&r), 125 | 150), "{r:?}");
    let r = p.data_cmd(b"RETR absin", None);
    assert!(matches!(code_of(&r), 125 | 150), "{r:?}");
    assert_eq!(p.data_seen, b"sub filesub file");
    assert_eq!(p.cmd(b"SIZE absin"), "213 8\r\n");
    let r = p.data_cmd(b"STOR inlink/new.txt", Some(b"via link"));
    assert!(r.ends_with("226 Transfer complete.\r\n"), "{r:?}");
    assert_eq!(fs::read(j.home.join("sub/new.txt")).unwrap(), b"via link");
    // DELE of an inside link removes the link, not its target.
    assert_eq!(p.cmd(b"DELE absin"), "250 File removed.\r\n");
    assert!(fs::symlink_metadata(j.home.join("absin")).is_err());
    assert_eq!(fs::read(j.home.join("sub/file.txt")).unwrap(), b"sub file");
}
