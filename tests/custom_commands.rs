//! Custom commands through the command table the built-ins use
//! (`FtpHandler::add_command` / `remove_command`): a new `SITE MD5 path`
//! with its permission letter, login requirement, argument rule, HELP text
//! and FEAT line, a replaced built-in (`NOOP`), and a removed one
//! (`SITE CHMOD`), driven by real clients: curl `-Q` and Python's ftplib.
//!
//! The digests are checked against coreutils' `md5sum`.

mod common;
use common::*;

use std::path::Path;
use std::process::{Command as Process, Output, Stdio};

use ftpdlib::{ArgRule, Command, FtpHandler, PathRule, Perm};

// ---------------------------------------------------------------------------
// A tiny MD5 (RFC 1321), so the test needs no extra crate.

fn md5(data: &[u8]) -> [u8; 16] {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32)
        .collect();
    let (mut a0, mut b0, mut c0, mut d0) =
        (0x67452301u32, 0xefcdab89u32, 0x98badcfeu32, 0x10325476u32);
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, v) in [a0, b0, c0, d0].iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_le_bytes());
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn md5_known_vectors() {
    assert_eq!(hex(&md5(b"")), "d41d8cd98f00b204e9800998ecf8427e");
    assert_eq!(hex(&md5(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(
        hex(&md5(b"The quick brown fox jumps over the lazy dog")),
        "9e107d9d372bb6826bd81d3542a419d6"
    );
}

/// `md5sum FILE` (coreutils), the independent reference.
fn md5sum(path: &Path) -> String {
    let out = Process::new("md5sum").arg(path).output().expect("md5sum");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------
// The server's custom table

const MD5_HELP: &str = "Syntax: SITE MD5 <SP> path (MD5 digest of a file).";
const NOOP_HELP: &str = "Syntax: NOOP (custom noop).";

/// Add SITE MD5, replace NOOP, remove SITE CHMOD, add SITE WHO.
fn customize(h: &mut FtpHandler) {
    h.add_command(
        Command::new("site md5", MD5_HELP, |ctx| {
            let Some(path) = ctx.path().map(Path::to_path_buf) else {
                return ctx.reply(550, "No path.");
            };
            match std::fs::read(&path) {
                Ok(data) => ctx.reply(200, &hex(&md5(&data))),
                Err(e) => ctx.reply(550, &format!("{e}.")),
            }
        })
        .perm(Perm::Retrieve)
        .path(PathRule::Arg)
        .feat("SITE MD5"),
    );
    h.add_command(
        Command::new("NOOP", NOOP_HELP, |ctx| ctx.reply(200, "custom noop"))
            .auth(false)
            .arg(ArgRule::Forbidden),
    );
    assert!(h.remove_command("site chmod"));
    assert!(!h.remove_command("SITE NOSUCH"));
    h.add_command(
        Command::new("SITE WHO", "Syntax: SITE WHO (who am I).", |ctx| {
            let text = format!(
                "user={} authenticated={} remote={} arg={:?}\nend of who",
                ctx.username(),
                ctx.authenticated(),
                ctx.remote_addr().ip(),
                ctx.arg()
            );
            ctx.log("SITE WHO asked");
            ctx.reply(200, &text);
        })
        .arg(ArgRule::Optional),
    );
}

/// user/12345 (all perms), anonymous (elr), reader/rpw (el only).
fn server() -> TestServer {
    let srv = TestServer::start_with(
        |a, root| a.add_user_with_perm("reader", "rpw", root, "el").unwrap(),
        customize,
    );
    std::fs::write(srv.root().join("f"), b"hello world\n").unwrap();
    let blob: Vec<u8> = (0..100_003u32).map(|i| (i * 31 % 256) as u8).collect();
    std::fs::write(srv.root().join("blob.bin"), blob).unwrap();
    std::fs::create_dir(srv.root().join("dir")).unwrap();
    srv
}

// ---------------------------------------------------------------------------
// curl

/// `curl -v` against the root listing with `-Q` commands; returns the
/// output (stderr has the transcript).
fn curl_quote(srv: &TestServer, auth: &str, quotes: &[&str]) -> Output {
    let mut cmd = Process::new("curl");
    cmd.args(["-v", "-sS", "--max-time", "30", "-o", "/dev/null"]);
    if !auth.is_empty() {
        cmd.args(["-u", auth]);
    }
    for q in quotes {
        cmd.args(["-Q", q]);
    }
    cmd.arg(format!("ftp://{}/", srv.addr));
    cmd.stdin(Stdio::null()).output().expect("run curl")
}

/// The `< ` reply lines of a curl `-v` transcript.
fn curl_replies(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("< "))
        .map(|l| l.trim_end().to_string())
        .collect()
}

/// The reply curl got right after sending `> {sent}`.
fn curl_reply_to(o: &Output, sent: &str) -> String {
    let text = String::from_utf8_lossy(&o.stderr);
    let mut lines = text
        .lines()
        .skip_while(|l| l.trim_end() != format!("> {sent}"));
    assert!(
        lines.next().is_some(),
        "curl did not send {sent:?}:\n{text}"
    );
    lines
        .find_map(|l| l.strip_prefix("< "))
        .unwrap_or_else(|| panic!("no reply to {sent:?}:\n{text}"))
        .trim_end()
        .to_string()
}

#[test]
fn site_md5_through_curl_quote() {
    let srv = server();
    let o = curl_quote(&srv, "user:12345", &["SITE MD5 f", "SITE MD5 /blob.bin"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(
        curl_reply_to(&o, "SITE MD5 f"),
        format!("200 {}", md5sum(&srv.root().join("f")))
    );
    assert_eq!(
        curl_reply_to(&o, "SITE MD5 /blob.bin"),
        format!("200 {}", md5sum(&srv.root().join("blob.bin")))
    );
}

#[test]
fn replaced_noop_through_curl_quote() {
    let srv = server();
    let o = curl_quote(&srv, "anonymous:a@b", &["NOOP"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(curl_reply_to(&o, "NOOP"), "200 custom noop");
}

#[test]
fn refusals_through_curl_quote() {
    let srv = server();
    // "*" lets curl go on after a failed quote command.
    let o = curl_quote(
        &srv,
        "reader:rpw",
        &["*SITE MD5 f", "*SITE MD5", "*SITE CHMOD 755 f"],
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        curl_reply_to(&o, "SITE MD5 f"),
        "550 Not enough privileges."
    );
    assert_eq!(
        curl_reply_to(&o, "SITE MD5"),
        "501 Syntax error: command needs an argument."
    );
    assert_eq!(
        curl_reply_to(&o, "SITE CHMOD 755 f"),
        "500 Command \"SITE CHMOD\" not understood."
    );
    // Without "*" curl stops on the failure (QUOT error 21).
    let o = curl_quote(&srv, "reader:rpw", &["SITE MD5 f"]);
    assert_eq!(o.status.code(), Some(21));
    assert!(curl_replies(&o).contains(&"550 Not enough privileges.".to_string()));
}

// ---------------------------------------------------------------------------
// ftplib

const FTPLIB: &str = r#"
import ftplib, sys
host, port, user, pw = sys.argv[1:5]
f = ftplib.FTP()
f.connect(host, int(port), timeout=20)
if user != "-":
    f.login(user, pw)
for c in sys.argv[5:]:
    try:
        r = f.sendcmd(c)
    except ftplib.all_errors as e:
        r = str(e)
    print(r.replace("\r", "").replace("\n", "|"))
f.close()
"#;

/// Run `commands` through ftplib's `sendcmd` (after `login` when `user` is
/// not "-"); one reply per command, lines joined with `|`.
fn ftplib(srv: &TestServer, user: &str, pw: &str, commands: &[&str]) -> Vec<String> {
    let out = Process::new("python3")
        .arg("-c")
        .arg(FTPLIB)
        .arg(srv.addr.ip().to_string())
        .arg(srv.addr.port().to_string())
        .args([user, pw])
        .args(commands)
        .stdin(Stdio::null())
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let replies: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(replies.len(), commands.len(), "{replies:?}");
    replies
}

#[test]
fn site_md5_through_ftplib() {
    let srv = server();
    let r = ftplib(
        &srv,
        "anonymous",
        "guest@",
        &[
            "SITE MD5 blob.bin",
            "site md5 f",
            "SITE MD5 dir",
            "SITE MD5 nosuch",
        ],
    );
    assert_eq!(
        r[0],
        format!("200 {}", md5sum(&srv.root().join("blob.bin")))
    );
    assert_eq!(r[1], format!("200 {}", md5sum(&srv.root().join("f"))));
    assert!(r[2].starts_with("550 "), "{r:?}");
    assert!(r[3].starts_with("550 "), "{r:?}");
}

#[test]
fn help_site_help_and_feat_show_the_custom_table() {
    let srv = server();
    // Before login: HELP, SITE HELP and FEAT need none.
    let r = ftplib(
        &srv,
        "-",
        "",
        &[
            "HELP",
            "HELP NOOP",
            "HELP SITE MD5",
            "SITE HELP",
            "SITE HELP MD5",
            "FEAT",
            "HELP SITE CHMOD",
        ],
    );
    let help: Vec<&str> = r[0].split('|').collect();
    assert_eq!(help[0], "214-The following commands are recognized:");
    assert_eq!(*help.last().unwrap(), "214 Help command successful.");
    let names: Vec<&str> = help[1..help.len() - 1]
        .iter()
        .flat_map(|l| l.split_whitespace())
        .collect();
    assert!(names.contains(&"NOOP"), "{names:?}");
    assert!(names.contains(&"RETR"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("MD5")), "{names:?}");
    assert_eq!(r[1], format!("214 {NOOP_HELP}"));
    assert_eq!(r[2], format!("214 {MD5_HELP}"));
    let site_help: Vec<&str> = r[3].split('|').collect();
    assert_eq!(
        site_help,
        [
            "214-The following SITE commands are recognized:",
            " HELP",
            " MD5",
            " WHO",
            "214 Help SITE command successful.",
        ]
    );
    assert_eq!(r[4], format!("214 {MD5_HELP}"));
    let feat: Vec<&str> = r[5].split('|').collect();
    assert_eq!(feat[0], "211-Features supported:");
    assert!(feat.contains(&" SITE MD5"), "{feat:?}");
    assert_eq!(*feat.last().unwrap(), "211 End FEAT.");
    let mut sorted = feat[1..feat.len() - 1].to_vec();
    sorted.sort();
    assert_eq!(sorted, feat[1..feat.len() - 1], "FEAT lines sorted");
    assert_eq!(r[6], "501 Unrecognized command.");
}

#[test]
fn replaced_noop_keeps_its_rules() {
    let srv = server();
    let mut c = srv.client();
    // auth(false): works before login; ArgRule::Forbidden: 501 with an arg.
    assert_eq!(c.expect("NOOP", 200), "200 custom noop\r\n");
    c.expect("NOOP x", 501);
    c.login(USER, PASSWD);
    assert_eq!(c.expect("noop", 200), "200 custom noop\r\n");
}

#[test]
fn permission_login_argument_and_confinement_rules() {
    let srv = server();
    // Login requirement: 530 before login; the argument check comes first
    // (pyftpdlib's order: 501 before 530).
    let mut c = srv.client();
    assert_eq!(
        c.expect("SITE MD5 f", 530),
        "530 Log in with USER and PASS first.\r\n"
    );
    assert_eq!(
        c.expect("SITE MD5", 501),
        "501 Syntax error: command needs an argument.\r\n"
    );
    // Permission letter "r": a user with "el" only is refused.
    c.login("reader", "rpw");
    assert_eq!(
        c.expect("SITE MD5 f", 550),
        "550 Not enough privileges.\r\n"
    );
    c.expect("QUIT", 221);

    let mut c = srv.login();
    c.expect("SITE MD5", 501);
    // "../../etc/passwd" is clamped at the virtual root: the real
    // /etc/passwd is never read.
    let reply = c.expect("SITE MD5 ../../etc/passwd", 550);
    assert!(
        !reply.contains(&md5sum(Path::new("/etc/passwd"))),
        "{reply:?}"
    );
    // A symlink out of the home is refused by the confinement check.
    std::os::unix::fs::symlink("/etc", srv.root().join("etc-link")).unwrap();
    let reply = c.expect("SITE MD5 etc-link/passwd", 550);
    assert_eq!(
        reply,
        "550 '/etc-link/passwd' points to a path which is outside the user's root directory.\r\n"
    );
    // The path given to the handler is the confined real path.
    std::fs::create_dir(srv.root().join("dir/sub")).unwrap();
    std::fs::write(srv.root().join("dir/sub/g"), b"g").unwrap();
    c.expect("CWD dir", 250);
    assert_eq!(
        c.expect("SITE MD5 sub/g", 200),
        format!("200 {}\r\n", md5sum(&srv.root().join("dir/sub/g")))
    );
    c.expect("QUIT", 221);
}

#[test]
fn removed_commands_answer_500() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            assert!(h.remove_command("SITE CHMOD"));
            assert!(h.remove_command("mkd"));
            assert!(!h.proto_cmds().contains(&"SITE CHMOD"));
        },
    );
    std::fs::write(srv.root().join("f"), b"x").unwrap();
    let mut c = srv.login();
    assert_eq!(
        c.expect("SITE CHMOD 755 f", 500),
        "500 Command \"SITE CHMOD\" not understood.\r\n"
    );
    assert_eq!(
        c.expect("MKD d", 500),
        "500 Command \"MKD\" not understood.\r\n"
    );
    let site_help = c.expect("SITE HELP", 214);
    assert!(!site_help.contains("CHMOD"), "{site_help:?}");
    c.expect("HELP SITE CHMOD", 501);
    let help = c.expect("HELP", 214);
    assert!(!help.split_whitespace().any(|w| w == "MKD"), "{help:?}");
    assert!(help.split_whitespace().any(|w| w == "XMKD"), "{help:?}");
    c.expect("QUIT", 221);
    assert!(!srv.root().join("d").exists());
}

#[test]
fn command_context_and_multi_line_replies() {
    let srv = server();
    let mut c = srv.client();
    // SITE WHO needs a login (the default).
    c.expect("SITE WHO", 530);
    c.login(USER, PASSWD);
    assert_eq!(
        c.expect("SITE WHO", 200),
        "200-user=user authenticated=true remote=127.0.0.1 arg=\"\"\r\n200 end of who\r\n"
    );
    assert_eq!(
        c.expect("site who  two words", 200),
        "200-user=user authenticated=true remote=127.0.0.1 arg=\" two words\"\r\n200 end of who\r\n"
    );
    c.expect("QUIT", 221);
}

#[test]
fn custom_tables_are_per_handler() {
    // Another server in the same process keeps the built-in table.
    let custom = server();
    let plain = TestServer::start();
    let mut c = plain.login();
    c.expect("SITE MD5 f", 500);
    assert_eq!(c.expect("NOOP", 200), "200 I successfully did nothing.\r\n");
    std::fs::write(plain.root().join("f"), b"x").unwrap();
    c.expect("SITE CHMOD 600 f", 200);
    let mut c2 = custom.login();
    assert_eq!(c2.expect("NOOP", 200), "200 custom noop\r\n");
}
