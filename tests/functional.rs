//! Functional tests: every command over a real socket, transcript style,
//! with the reply codes and texts of pyftpdlib 2.2 (reference §1, §4, §8)
//! and the outcomes checked on disk.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::*;

// ---------------------------------------------------------------- helpers

/// 2020-01-15 10:20:30 UTC.
const JAN_15_2020: i64 = 1_579_083_630;
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// (year, month, day, hour, minute, second) of epoch seconds in UTC.
fn utc_parts(secs: i64) -> (i64, usize, u32, u32, u32, u32) {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m as usize,
        d as u32,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// `YYYYMMDDHHMMSS` in UTC.
fn utc_stamp(secs: i64) -> String {
    let (y, mo, d, h, mi, s) = utc_parts(secs);
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}")
}

fn set_mtime(path: &Path, secs: i64) {
    let f = fs::File::options().read(true).open(path).unwrap();
    f.set_modified(UNIX_EPOCH + Duration::from_secs(secs as u64))
        .unwrap();
}

fn mtime_of(path: &Path) -> i64 {
    fs::symlink_metadata(path).unwrap().mtime()
}

fn write(root: &Path, name: &str, data: &[u8]) {
    fs::write(root.join(name), data).unwrap();
}

/// The port announced by a 229 reply.
fn epsv_port(reply: &str) -> u16 {
    let start = reply
        .find("(|||")
        .unwrap_or_else(|| panic!("229 format: {reply:?}"));
    let rest = &reply[start + 4..];
    let end = rest
        .find("|)")
        .unwrap_or_else(|| panic!("229 format: {reply:?}"));
    rest[..end].parse().unwrap()
}

/// Whether the server closed the control connection (EOF or reset).
fn closed(c: &mut Client) -> bool {
    let mut buf = [0u8; 256];
    match c.reader.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("unexpected data: {:?}", String::from_utf8_lossy(&buf[..n])),
        Err(e) if e.kind() == ErrorKind::ConnectionReset => true,
        Err(e) => panic!("no close: {e}"),
    }
}

fn text(data: Vec<u8>) -> String {
    String::from_utf8(data).expect("utf8 listing")
}

fn assert_prelim(reply: &str, what: &str) {
    assert!(matches!(code_of(reply), 125 | 150), "{what}: {reply:?}");
}

/// A sparse file of `len` bytes (fast to create, fast to send).
fn big_file(root: &Path, name: &str, len: u64) {
    let f = fs::File::create(root.join(name)).unwrap();
    f.set_len(len).unwrap();
}

// ------------------------------------------------------- authentication

#[test]
fn user_pass_success_and_sequence_errors() {
    let srv = TestServer::start();
    let mut c = srv.client();
    assert!(c.greeting.starts_with("220 "), "{:?}", c.greeting);
    assert_eq!(c.cmd("PASS 12345"), "503 Login with USER first.\r\n");
    assert_eq!(c.cmd("USER user"), "331 Username ok, send password.\r\n");
    assert_eq!(c.cmd("PASS 12345"), "230 Login successful.\r\n");
    assert_eq!(c.cmd("PASS 12345"), "503 User already authenticated.\r\n");
    // USER while logged in flushes the account.
    assert_eq!(
        c.cmd("USER user"),
        "331 Previous account information was flushed, send password.\r\n"
    );
    c.expect("PASS 12345", 230);
    c.expect("PWD", 257);
}

#[test]
fn anonymous_accepts_any_password_and_is_read_only() {
    let srv = TestServer::start();
    write(srv.root(), "a.txt", b"hi");
    let mut c = srv.client();
    c.expect("USER anonymous", 331);
    c.expect("PASS whatever@example.com", 230);
    c.expect("TYPE I", 200);
    assert_eq!(c.cmd("DELE a.txt"), "550 Not enough privileges.\r\n");
    assert_eq!(c.cmd("MKD d"), "550 Not enough privileges.\r\n");
    assert!(srv.root().join("a.txt").exists());
    assert!(!srv.root().join("d").exists());
    let (data, r) = c.retrieve("RETR a.txt");
    assert_eq!(data, b"hi");
    assert_eq!(code_of(&r), 226);
}

#[test]
fn wrong_password_is_answered_after_the_delay() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.auth_failed_timeout = Duration::from_millis(400);
        },
    );
    let mut c = srv.client();
    c.expect("USER user", 331);
    let t = Instant::now();
    // The NOOP pipelined behind the failed PASS must wait for the delay.
    c.send_raw(b"PASS wrong\r\nNOOP\r\n");
    assert_eq!(c.read_reply(), "530 Authentication failed.\r\n");
    assert!(
        t.elapsed() >= Duration::from_millis(350),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(code_of(&c.read_reply()), 200);
    // Unknown user: the same answer (no user enumeration).
    c.expect("USER nobody", 331);
    assert_eq!(c.cmd("PASS x"), "530 Authentication failed.\r\n");
    // Still able to log in.
    c.login(USER, PASSWD);
}

#[test]
fn max_login_attempts_disconnects() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.max_login_attempts = 2);
    let mut c = srv.client();
    c.expect("USER user", 331);
    assert_eq!(c.cmd("PASS bad1"), "530 Authentication failed.\r\n");
    c.expect("USER user", 331);
    assert_eq!(
        c.cmd("PASS bad2"),
        "530 Authentication failed. Disconnecting.\r\n"
    );
    assert!(closed(&mut c));
}

#[test]
fn default_max_login_attempts_is_three() {
    let srv = TestServer::start();
    let mut c = srv.client();
    for _ in 0..2 {
        c.expect("USER user", 331);
        assert_eq!(c.cmd("PASS bad"), "530 Authentication failed.\r\n");
    }
    c.expect("USER user", 331);
    assert_eq!(
        c.cmd("PASS bad"),
        "530 Authentication failed. Disconnecting.\r\n"
    );
    assert!(closed(&mut c));
}

#[test]
fn quit_says_goodbye_and_closes() {
    let srv = TestServer::start();
    let mut c = srv.login();
    assert_eq!(c.cmd("QUIT"), "221 Goodbye.\r\n");
    assert!(closed(&mut c));
    // Before login too.
    let mut c = srv.client();
    assert_eq!(c.cmd("QUIT"), "221 Goodbye.\r\n");
    assert!(closed(&mut c));
}

#[test]
fn rein_logs_out() {
    let srv = TestServer::start();
    write(srv.root(), "x", b"x");
    let mut c = srv.client();
    assert_eq!(c.cmd("REIN"), "530 Log in with USER and PASS first.\r\n");
    c.login(USER, PASSWD);
    assert_eq!(c.cmd("REIN"), "220 Ready for new user.\r\n");
    assert_eq!(c.cmd("RETR x"), "530 Log in with USER and PASS first.\r\n");
    assert_eq!(c.cmd("PWD"), "530 Log in with USER and PASS first.\r\n");
    c.login(USER, PASSWD);
    c.expect("PWD", 257);
    // The session's state was reset: TYPE is ASCII again.
    assert_eq!(c.cmd("SIZE x"), "550 SIZE not allowed in ASCII mode.\r\n");
}

#[test]
fn relogin_resets_cwd_and_type() {
    let srv = TestServer::start();
    fs::create_dir(srv.root().join("d")).unwrap();
    write(srv.root(), "x", b"x");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    c.expect("CWD d", 250);
    c.expect("USER user", 331);
    c.expect("PASS 12345", 230);
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(c.cmd("SIZE x"), "550 SIZE not allowed in ASCII mode.\r\n");
}

// --------------------------------------------------- dispatch and syntax

#[test]
fn unknown_command_is_500_in_any_state() {
    let srv = TestServer::start();
    let mut c = srv.client();
    assert_eq!(c.cmd("XYZ"), "500 Command \"XYZ\" not understood.\r\n");
    assert_eq!(c.cmd("xyz arg"), "500 Command \"XYZ\" not understood.\r\n");
    c.login(USER, PASSWD);
    assert_eq!(c.cmd("XYZ"), "500 Command \"XYZ\" not understood.\r\n");
    assert_eq!(
        c.cmd("ACCT foo"),
        "500 Command \"ACCT\" not understood.\r\n"
    );
    assert_eq!(c.cmd(""), "500 Command \"\" not understood.\r\n");
}

#[test]
fn argument_check_comes_before_login_check() {
    let srv = TestServer::start();
    let mut c = srv.client();
    assert_eq!(
        c.cmd("RETR"),
        "501 Syntax error: command needs an argument.\r\n"
    );
    assert_eq!(c.cmd("RETR x"), "530 Log in with USER and PASS first.\r\n");
    assert_eq!(
        c.cmd("PWD x"),
        "501 Syntax error: command does not accept arguments.\r\n"
    );
    assert_eq!(
        c.cmd("USER"),
        "501 Syntax error: command needs an argument.\r\n"
    );
    c.login(USER, PASSWD);
    assert_eq!(
        c.cmd("NOOP x"),
        "501 Syntax error: command does not accept arguments.\r\n"
    );
    assert_eq!(
        c.cmd("SYST x"),
        "501 Syntax error: command does not accept arguments.\r\n"
    );
    assert_eq!(
        c.cmd("DELE"),
        "501 Syntax error: command needs an argument.\r\n"
    );
    assert_eq!(
        c.cmd("MKD"),
        "501 Syntax error: command needs an argument.\r\n"
    );
}

#[test]
fn commands_that_work_before_login() {
    let srv = TestServer::start();
    let mut c = srv.client();
    c.expect("NOOP", 200);
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8\r\n");
    c.expect("FEAT", 211);
    c.expect("HELP", 214);
    c.expect("STAT", 211);
    // OPTS needs a login, as in pyftpdlib (and as HELP's table says).
    for cmd in [
        "OPTS UTF8 ON",
        "PWD",
        "CWD /",
        "LIST",
        "PASV",
        "TYPE I",
        "MKD x",
        "STAT /",
        "ABOR",
    ] {
        assert_eq!(
            c.cmd(cmd),
            "530 Log in with USER and PASS first.\r\n",
            "{cmd}"
        );
    }
}

#[test]
fn commands_are_case_insensitive() {
    let srv = TestServer::start();
    let mut c = srv.client();
    c.expect("user user", 331);
    c.expect("pass 12345", 230);
    assert_eq!(c.cmd("pwd"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(c.cmd("SySt"), "215 UNIX Type: L8\r\n");
    c.expect("mkd Mixed", 257);
    assert!(srv.root().join("Mixed").is_dir());
}

#[test]
fn names_with_spaces_and_utf8() {
    let srv = TestServer::start();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    assert_eq!(c.cmd("MKD a b"), "257 \"/a b\" directory created.\r\n");
    assert!(srv.root().join("a b").is_dir());
    let r = c.store("STOR a b/my file.txt", b"spaced");
    assert_eq!(code_of(&r), 226);
    assert_eq!(
        fs::read(srv.root().join("a b/my file.txt")).unwrap(),
        b"spaced"
    );
    let r = c.store("STOR h\u{e9}llo \u{2603}.txt", b"utf8");
    assert_eq!(code_of(&r), 226);
    assert_eq!(
        fs::read(srv.root().join("h\u{e9}llo \u{2603}.txt")).unwrap(),
        b"utf8"
    );
    let (d, _) = c.retrieve("NLST");
    assert_eq!(text(d), "a b\r\nh\u{e9}llo \u{2603}.txt\r\n");
    assert_eq!(
        c.cmd("CWD a b"),
        "250 \"/a b\" is the current directory.\r\n"
    );
    let (d, _) = c.retrieve("RETR my file.txt");
    assert_eq!(d, b"spaced");
    assert_eq!(
        c.cmd("CWD /a b/"),
        "250 \"/a b\" is the current directory.\r\n"
    );
}

#[test]
fn type_mode_stru() {
    let srv = TestServer::start();
    let mut c = srv.login();
    assert_eq!(c.cmd("TYPE A"), "200 Type set to: ASCII.\r\n");
    assert_eq!(c.cmd("TYPE I"), "200 Type set to: Binary.\r\n");
    assert_eq!(c.cmd("TYPE a"), "200 Type set to: ASCII.\r\n");
    assert_eq!(c.cmd("TYPE L8"), "200 Type set to: Binary.\r\n");
    assert_eq!(c.cmd("TYPE L 8"), "200 Type set to: Binary.\r\n");
    assert_eq!(c.cmd("TYPE L7"), "200 Type set to: ASCII.\r\n");
    assert_eq!(c.cmd("TYPE Z"), "504 Unsupported type \"Z\".\r\n");
    assert_eq!(c.cmd("MODE S"), "200 Transfer mode set to: S\r\n");
    assert_eq!(c.cmd("MODE B"), "504 Unimplemented MODE type.\r\n");
    assert_eq!(c.cmd("MODE C"), "504 Unimplemented MODE type.\r\n");
    assert_eq!(c.cmd("MODE X"), "501 Unrecognized MODE type.\r\n");
    assert_eq!(
        c.cmd("STRU F"),
        "200 File transfer structure set to: F.\r\n"
    );
    assert_eq!(c.cmd("STRU P"), "504 Unimplemented STRU type.\r\n");
    assert_eq!(c.cmd("STRU R"), "504 Unimplemented STRU type.\r\n");
    assert_eq!(c.cmd("STRU X"), "501 Unrecognized STRU type.\r\n");
}

#[test]
fn rest_allo_noop_syst() {
    let srv = TestServer::start();
    let mut c = srv.login();
    // Default type is ASCII: REST refused.
    assert_eq!(
        c.cmd("REST 10"),
        "501 Resuming transfers not allowed in ASCII mode.\r\n"
    );
    c.expect("TYPE I", 200);
    assert_eq!(c.cmd("REST 10"), "350 Restarting at position 10.\r\n");
    assert_eq!(c.cmd("REST 0"), "350 Restarting at position 0.\r\n");
    assert_eq!(c.cmd("REST -1"), "501 Invalid parameter.\r\n");
    assert_eq!(c.cmd("REST abc"), "501 Invalid parameter.\r\n");
    assert_eq!(
        c.cmd("ALLO 100"),
        "202 No storage allocation necessary.\r\n"
    );
    assert_eq!(code_of(&c.cmd("NOOP")), 200);
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8\r\n");
}

#[test]
fn feat_lists_sorted_features() {
    let srv = TestServer::start();
    let mut c = srv.client();
    let expected = "211-Features supported:\r\n \
                    EPRT\r\n \
                    EPSV\r\n \
                    MDTM\r\n \
                    MFMT\r\n \
                    MLST type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;\r\n \
                    REST STREAM\r\n \
                    SIZE\r\n \
                    TVFS\r\n \
                    UTF8\r\n\
                    211 End FEAT.\r\n";
    assert_eq!(c.cmd("FEAT"), expected);
    assert_eq!(
        c.cmd("FEAT x"),
        "501 Syntax error: command does not accept arguments.\r\n"
    );
    // OPTS MLST changes the starred facts.
    c.login(USER, PASSWD);
    assert_eq!(
        c.cmd("OPTS MLST type;size;"),
        "200 MLST OPTS type;size;\r\n"
    );
    let feat = c.cmd("FEAT");
    assert!(
        feat.contains("\r\n MLST type*;perm;size*;modify;unique;unix.mode;unix.uid;unix.gid;\r\n"),
        "{feat:?}"
    );
}

#[test]
fn opts() {
    let srv = TestServer::start();
    write(srv.root(), "f.txt", b"12345");
    let mut c = srv.login();
    assert_eq!(c.cmd("OPTS UTF8 ON"), "200 Always in UTF8 mode.\r\n");
    assert_eq!(c.cmd("OPTS utf-8 on"), "200 Always in UTF8 mode.\r\n");
    assert_eq!(
        c.cmd("OPTS MLST type;size;"),
        "200 MLST OPTS type;size;\r\n"
    );
    let mlst = c.cmd("MLST f.txt");
    assert_eq!(
        mlst,
        "250-Listing \"/f.txt\":\r\n size=5;type=file; /f.txt\r\n250 End MLST.\r\n"
    );
    // Unknown facts are dropped, case is folded.
    assert_eq!(c.cmd("OPTS MLST SIZE;bogus;"), "200 MLST OPTS size;\r\n");
    assert_eq!(c.cmd("OPTS MLST size"), "501 Invalid argument.\r\n");
    assert_eq!(c.cmd("OPTS FOO"), "501 Unsupported command \"FOO\".\r\n");
    assert_eq!(c.cmd("OPTS a b c"), "501 Invalid number of arguments.\r\n");
    assert_eq!(
        c.cmd("OPTS"),
        "501 Syntax error: command needs an argument.\r\n"
    );
}

const ALL_COMMANDS: &[&str] = &[
    "ABOR", "ALLO", "APPE", "CDUP", "CWD", "DELE", "EPRT", "EPSV", "FEAT", "HELP", "LIST", "MDTM",
    "MFMT", "MKD", "MLSD", "MLST", "MODE", "NLST", "NOOP", "OPTS", "PASS", "PASV", "PORT", "PWD",
    "QUIT", "REIN", "REST", "RETR", "RMD", "RNFR", "RNTO", "SITE", "SIZE", "STAT", "STOR", "STOU",
    "STRU", "SYST", "TYPE", "USER", "XCUP", "XCWD", "XMKD", "XPWD", "XRMD",
];

#[test]
fn help() {
    let srv = TestServer::start();
    let mut c = srv.client();
    let mut expected = String::from("214-The following commands are recognized:\r\n");
    for row in ALL_COMMANDS.chunks(8) {
        for name in row {
            expected.push_str(&format!(" {name:<6}"));
        }
        expected.push_str("\r\n");
    }
    expected.push_str("214 Help command successful.\r\n");
    assert_eq!(c.cmd("HELP"), expected);
    assert_eq!(
        c.cmd("HELP RETR"),
        "214 Syntax: RETR <SP> file-name (retrieve a file).\r\n"
    );
    assert_eq!(
        c.cmd("help retr"),
        "214 Syntax: RETR <SP> file-name (retrieve a file).\r\n"
    );
    assert_eq!(c.cmd("HELP BOGUS"), "501 Unrecognized command.\r\n");
    let r = c.cmd("HELP SITE CHMOD");
    assert!(r.starts_with("214 Syntax: SITE CHMOD"), "{r:?}");
}

#[test]
fn site_help_and_unknown_site() {
    let srv = TestServer::start();
    let mut c = srv.client();
    assert_eq!(
        c.cmd("SITE HELP"),
        "214-The following SITE commands are recognized:\r\n CHMOD\r\n HELP\r\n\
         214 Help SITE command successful.\r\n"
    );
    // ftpdlib fixes pyftpdlib's lookup bug (which answered 501).
    let r = c.cmd("SITE HELP CHMOD");
    assert_eq!(code_of(&r), 214, "{r:?}");
    assert!(r.starts_with("214 Syntax: SITE CHMOD"), "{r:?}");
    assert_eq!(c.cmd("SITE HELP FOO"), "501 Unrecognized SITE command.\r\n");
    assert_eq!(
        c.cmd("SITE FOO"),
        "500 Command \"SITE FOO\" not understood.\r\n"
    );
    assert_eq!(
        c.cmd("SITE"),
        "501 Syntax error: command needs an argument.\r\n"
    );
}

#[test]
fn site_chmod() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"x");
    let path = srv.root().join("f");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let mut c = srv.client();
    assert_eq!(
        c.cmd("SITE CHMOD 755 f"),
        "530 Log in with USER and PASS first.\r\n"
    );
    c.login(USER, PASSWD);
    assert_eq!(c.cmd("SITE CHMOD 755 f"), "200 SITE CHMOD successful.\r\n");
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(c.cmd("site chmod 600 f"), "200 SITE CHMOD successful.\r\n");
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(c.cmd("SITE CHMOD 0640 f"), "200 SITE CHMOD successful.\r\n");
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o640);
    assert_eq!(c.cmd("SITE CHMOD 600 f"), "200 SITE CHMOD successful.\r\n");
    assert_eq!(
        c.cmd("SITE CHMOD 9 f"),
        "501 Invalid SITE CHMOD format.\r\n"
    );
    assert_eq!(
        c.cmd("SITE CHMOD 789 f"),
        "501 Invalid SITE CHMOD format.\r\n"
    );
    assert_eq!(fs::metadata(&path).unwrap().mode() & 0o7777, 0o600);
    assert_eq!(
        c.cmd("SITE CHMOD 755"),
        "501 Syntax error: command needs two arguments.\r\n"
    );
    assert_eq!(
        c.cmd("SITE CHMOD 755 missing"),
        "550 No such file or directory.\r\n"
    );
}

// ------------------------------------------------------ file-system cmds

#[test]
fn pwd_cwd_cdup_and_x_variants() {
    let srv = TestServer::start();
    fs::create_dir_all(srv.root().join("d/e")).unwrap();
    write(srv.root(), "file", b"x");
    let mut c = srv.login();
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(c.cmd("CWD d"), "250 \"/d\" is the current directory.\r\n");
    assert_eq!(c.cmd("PWD"), "257 \"/d\" is the current directory.\r\n");
    assert_eq!(
        c.cmd("XCWD e"),
        "250 \"/d/e\" is the current directory.\r\n"
    );
    assert_eq!(c.cmd("XPWD"), "257 \"/d/e\" is the current directory.\r\n");
    assert_eq!(c.cmd("CDUP"), "250 \"/d\" is the current directory.\r\n");
    assert_eq!(c.cmd("XCUP"), "250 \"/\" is the current directory.\r\n");
    assert_eq!(c.cmd("CDUP"), "250 \"/\" is the current directory.\r\n");
    assert_eq!(
        c.cmd("CWD /d/e"),
        "250 \"/d/e\" is the current directory.\r\n"
    );
    assert_eq!(c.cmd("CWD"), "250 \"/\" is the current directory.\r\n");
    assert_eq!(c.cmd("CWD missing"), "550 No such file or directory.\r\n");
    assert_eq!(c.cmd("CWD file"), "550 Not a directory.\r\n");
    assert_eq!(c.cmd("PWD"), "257 \"/\" is the current directory.\r\n");
    assert_eq!(
        c.cmd("CDUP x"),
        "501 Syntax error: command does not accept arguments.\r\n"
    );
}

#[test]
fn mkd_rmd_and_quoting() {
    let srv = TestServer::start();
    let mut c = srv.login();
    assert_eq!(c.cmd("MKD d"), "257 \"/d\" directory created.\r\n");
    assert!(srv.root().join("d").is_dir());
    assert_eq!(c.cmd("XMKD d/x"), "257 \"/d/x\" directory created.\r\n");
    assert!(srv.root().join("d/x").is_dir());
    assert_eq!(c.cmd("MKD d"), "550 File exists.\r\n");
    // Embedded quotes are doubled (RFC 959 appendix II).
    assert_eq!(c.cmd("MKD a\"b"), "257 \"/a\"\"b\" directory created.\r\n");
    assert!(srv.root().join("a\"b").is_dir());
    assert_eq!(
        c.cmd("CWD a\"b"),
        "250 \"/a\"\"b\" is the current directory.\r\n"
    );
    c.expect("CWD /", 250);
    assert_eq!(c.cmd("RMD d"), "550 Directory not empty.\r\n");
    assert_eq!(c.cmd("RMD d/x"), "250 Directory removed.\r\n");
    assert!(!srv.root().join("d/x").exists());
    assert_eq!(c.cmd("XRMD d"), "250 Directory removed.\r\n");
    assert!(!srv.root().join("d").exists());
    assert_eq!(c.cmd("RMD d"), "550 No such file or directory.\r\n");
    assert_eq!(c.cmd("RMD /"), "550 Can't remove root directory.\r\n");
    assert_eq!(c.cmd("RMD ."), "550 Can't remove root directory.\r\n");
    assert!(srv.root().is_dir());
}

#[test]
fn dele() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"x");
    fs::create_dir(srv.root().join("d")).unwrap();
    let mut c = srv.login();
    assert_eq!(c.cmd("DELE f"), "250 File removed.\r\n");
    assert!(!srv.root().join("f").exists());
    assert_eq!(c.cmd("DELE f"), "550 No such file or directory.\r\n");
    assert_eq!(code_of(&c.cmd("DELE d")), 550);
    assert!(srv.root().join("d").is_dir());
}

#[test]
fn rnfr_rnto() {
    let srv = TestServer::start();
    write(srv.root(), "a", b"content");
    let mut c = srv.login();
    assert_eq!(
        c.cmd("RNTO b"),
        "503 Bad sequence of commands: use RNFR first.\r\n"
    );
    assert_eq!(c.cmd("RNFR missing"), "550 No such file or directory.\r\n");
    assert_eq!(c.cmd("RNFR a"), "350 Ready for destination name.\r\n");
    assert_eq!(c.cmd("RNTO b"), "250 Renaming ok.\r\n");
    assert!(!srv.root().join("a").exists());
    assert_eq!(fs::read(srv.root().join("b")).unwrap(), b"content");
    // RNFR is consumed by RNTO.
    assert_eq!(
        c.cmd("RNTO c"),
        "503 Bad sequence of commands: use RNFR first.\r\n"
    );
    assert_eq!(c.cmd("RNFR /"), "550 Can't rename home directory.\r\n");
    // Directories can be renamed too.
    c.expect("MKD d1", 257);
    c.expect("RNFR d1", 350);
    c.expect("RNTO d2", 250);
    assert!(srv.root().join("d2").is_dir());
}

#[test]
fn size() {
    let srv = TestServer::start();
    write(srv.root(), "f", &[7u8; 1234]);
    fs::create_dir(srv.root().join("d")).unwrap();
    let mut c = srv.login();
    assert_eq!(c.cmd("SIZE f"), "550 SIZE not allowed in ASCII mode.\r\n");
    c.expect("TYPE I", 200);
    assert_eq!(c.cmd("SIZE f"), "213 1234\r\n");
    assert_eq!(c.cmd("SIZE /f"), "213 1234\r\n");
    let r = c.cmd("SIZE d");
    assert_eq!(code_of(&r), 550, "{r:?}");
    assert!(r.starts_with("550 /d is not retrievable"), "{r:?}");
    assert_eq!(code_of(&c.cmd("SIZE missing")), 550);
}

#[test]
fn mdtm_is_utc() {
    let srv = TestServer::start();
    write(srv.root(), "old", b"x");
    write(srv.root(), "new", b"y");
    set_mtime(&srv.root().join("old"), JAN_15_2020);
    fs::create_dir(srv.root().join("d")).unwrap();
    let mut c = srv.login();
    assert_eq!(c.cmd("MDTM old"), "213 20200115102030\r\n");
    let now_m = mtime_of(&srv.root().join("new"));
    assert_eq!(c.cmd("MDTM new"), format!("213 {}\r\n", utc_stamp(now_m)));
    assert_eq!(code_of(&c.cmd("MDTM missing")), 550);
    assert_eq!(code_of(&c.cmd("MDTM d")), 550);
}

#[test]
fn mfmt_sets_mtime() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"x");
    let path = srv.root().join("f");
    let mut c = srv.login();
    assert_eq!(
        c.cmd("MFMT 20200115102030 f"),
        "213 Modify=20200115102030; /f.\r\n"
    );
    assert_eq!(mtime_of(&path), JAN_15_2020);
    assert_eq!(c.cmd("MDTM f"), "213 20200115102030\r\n");
    for bad in [
        "MFMT 2020 f",
        "MFMT 2020011510203x f",
        "MFMT 202001151020301 f",
    ] {
        assert_eq!(
            c.cmd(bad),
            "550 Invalid time format; expected: YYYYMMDDHHMMSS.\r\n",
            "{bad}"
        );
    }
    assert_eq!(mtime_of(&path), JAN_15_2020);
    assert_eq!(
        c.cmd("MFMT 20200115102030"),
        "501 Syntax error: command needs two arguments.\r\n"
    );
    assert_eq!(code_of(&c.cmd("MFMT 20200115102030 missing")), 550);
}

#[test]
fn mlst_facts() {
    let srv = TestServer::start();
    write(srv.root(), "a.txt", b"hello world!");
    let path = srv.root().join("a.txt");
    set_mtime(&path, JAN_15_2020);
    fs::create_dir(srv.root().join("sub")).unwrap();
    let mut c = srv.login();
    let m = fs::metadata(&path).unwrap();
    let expected = format!(
        "250-Listing \"/a.txt\":\r\n \
         modify=20200115102030;perm=radfwMT;size=12;type=file;unique={:x}g{:x}; /a.txt\r\n\
         250 End MLST.\r\n",
        m.dev(),
        m.ino()
    );
    assert_eq!(c.cmd("MLST a.txt"), expected);
    // No argument: the cwd.
    let d = fs::metadata(srv.root()).unwrap();
    let r = c.cmd("MLST");
    assert!(r.starts_with("250-Listing \"/\":\r\n "), "{r:?}");
    assert!(
        r.contains(&format!("perm=eldfmMTcp;size={};type=dir;", d.size())),
        "{r:?}"
    );
    assert!(r.ends_with("; /\r\n250 End MLST.\r\n"), "{r:?}");
    // Inside a directory the name is the full virtual path (TVFS).
    c.expect("CWD sub", 250);
    let r = c.cmd("MLST ../a.txt");
    assert!(r.contains("; /a.txt\r\n"), "{r:?}");
    assert_eq!(c.cmd("MLST missing"), "550 No such file or directory.\r\n");
}

// ---------------------------------------------------------------- listings

/// One LIST line: `perms nlink owner group size date name`.
fn expected_list_line(line: &str, perms: &str, nlink: u64, size: u64, date: &str, name: &str) {
    let toks: Vec<&str> = line.split_whitespace().collect();
    assert!(toks.len() >= 9, "{line:?}");
    let (owner, group) = (toks[2], toks[3]);
    let expected = format!("{perms} {nlink:>3} {owner:<8} {group:<8} {size:>8} {date} {name}");
    assert_eq!(line, expected);
}

fn recent_date(mtime: i64) -> String {
    let (_, mo, d, h, mi, _) = utc_parts(mtime);
    format!("{} {d:02} {h:02}:{mi:02}", MONTHS[mo - 1])
}

#[test]
fn list_format() {
    let srv = TestServer::start();
    let root = srv.root();
    write(root, "a.txt", b"hello\n");
    write(root, "b.txt", b"hello world!");
    fs::set_permissions(root.join("a.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(root.join("b.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    set_mtime(&root.join("b.txt"), JAN_15_2020);
    fs::create_dir(root.join("sub")).unwrap();
    fs::set_permissions(root.join("sub"), fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::symlink("a.txt", root.join("link")).unwrap();
    let mut c = srv.login();
    let (data, r) = c.retrieve("LIST");
    assert_eq!(r, "226 Transfer complete.\r\n");
    let listing = text(data);
    assert!(listing.ends_with("\r\n"), "{listing:?}");
    let lines: Vec<&str> = listing.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 4, "{listing:?}");
    // Sorted by name.
    assert!(lines[0].ends_with(" a.txt"), "{listing:?}");
    assert!(lines[1].ends_with(" b.txt"), "{listing:?}");
    assert!(lines[2].ends_with(" link -> a.txt"), "{listing:?}");
    assert!(lines[3].ends_with(" sub"), "{listing:?}");
    let a_m = mtime_of(&root.join("a.txt"));
    expected_list_line(lines[0], "-rw-r--r--", 1, 6, &recent_date(a_m), "a.txt");
    expected_list_line(lines[1], "-rw-------", 1, 12, "Jan 15  2020", "b.txt");
    let l_meta = fs::symlink_metadata(root.join("link")).unwrap();
    expected_list_line(
        lines[2],
        "lrwxrwxrwx",
        1,
        l_meta.len(),
        &recent_date(l_meta.mtime()),
        "link -> a.txt",
    );
    let s_meta = fs::metadata(root.join("sub")).unwrap();
    expected_list_line(
        lines[3],
        "drwxr-xr-x",
        s_meta.nlink(),
        s_meta.len(),
        &recent_date(s_meta.mtime()),
        "sub",
    );

    // ls flags mean the cwd.
    for flags in ["LIST -la", "LIST -l", "LIST -a", "LIST -al"] {
        let (d2, r2) = c.retrieve(flags);
        assert_eq!(code_of(&r2), 226, "{flags}");
        assert_eq!(text(d2), listing, "{flags}");
    }
    // LIST of a file: that single line.
    let (d3, _) = c.retrieve("LIST b.txt");
    assert_eq!(text(d3), format!("{}\r\n", lines[1]));
    // LIST of a subdirectory by path, and of an empty one.
    let (d4, r4) = c.retrieve("LIST sub");
    assert_eq!(code_of(&r4), 226);
    assert!(d4.is_empty());
    // The 180-day rule: older shows the year, newer and future show HH:MM.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (name, mtime) in [
        ("old181", now - 181 * 86_400),
        ("new179", now - 179 * 86_400),
        ("future", 4_102_444_800), // 2100-01-01 00:00:00 UTC
    ] {
        write(root, &format!("sub/{name}"), b"");
        set_mtime(&root.join("sub").join(name), mtime);
        let (d, _) = c.retrieve(&format!("LIST sub/{name}"));
        let line = text(d);
        let (y, mo, day, h, mi, _) = utc_parts(mtime);
        let date = if name == "old181" {
            format!("{} {day:02}  {y}", MONTHS[mo - 1])
        } else {
            format!("{} {day:02} {h:02}:{mi:02}", MONTHS[mo - 1])
        };
        assert!(
            line.ends_with(&format!(" {date} {name}\r\n")),
            "{name}: {line:?}"
        );
    }
    c.expect("PASV", 227);
    assert_eq!(c.cmd("LIST missing"), "550 No such file or directory.\r\n");
}

#[test]
fn nlst_names() {
    let srv = TestServer::start();
    let root = srv.root();
    for n in ["a.txt", "B.txt", "c"] {
        write(root, n, b"x");
    }
    fs::create_dir(root.join("sub")).unwrap();
    write(root, "sub/inner", b"x");
    fs::create_dir(root.join("empty")).unwrap();
    let mut c = srv.login();
    let (data, r) = c.retrieve("NLST");
    assert_eq!(r, "226 Transfer complete.\r\n");
    // Plain code-point sort: upper case first.
    assert_eq!(text(data), "B.txt\r\na.txt\r\nc\r\nempty\r\nsub\r\n");
    let (data, _) = c.retrieve("NLST sub");
    assert_eq!(text(data), "inner\r\n");
    let (data, _) = c.retrieve("NLST empty");
    assert!(data.is_empty());
    let (data, _) = c.retrieve("NLST a.txt");
    assert_eq!(text(data), "a.txt\r\n");
    // No globbing: "*.txt" is a (missing) path.
    c.expect("PASV", 227);
    assert_eq!(c.cmd("NLST *.txt"), "550 No such file or directory.\r\n");
}

#[test]
fn mlsd_facts() {
    let srv = TestServer::start();
    let root = srv.root();
    write(root, "b.txt", b"hello world!");
    set_mtime(&root.join("b.txt"), JAN_15_2020);
    fs::create_dir(root.join("sub")).unwrap();
    let mut c = srv.login();
    let (data, r) = c.retrieve("MLSD");
    assert_eq!(r, "226 Transfer complete.\r\n");
    let b = fs::metadata(root.join("b.txt")).unwrap();
    let s = fs::metadata(root.join("sub")).unwrap();
    let expected = format!(
        "modify=20200115102030;perm=radfwMT;size=12;type=file;unique={:x}g{:x}; b.txt\r\n\
         modify={};perm=eldfmMTcp;size={};type=dir;unique={:x}g{:x}; sub\r\n",
        b.dev(),
        b.ino(),
        utc_stamp(s.mtime()),
        s.len(),
        s.dev(),
        s.ino()
    );
    assert_eq!(text(data), expected);
    let (data, _) = c.retrieve("MLSD sub");
    assert!(data.is_empty());
    c.expect("PASV", 227);
    assert_eq!(c.cmd("MLSD b.txt"), "501 No such directory.\r\n");
    assert_eq!(c.cmd("MLSD missing"), "501 No such directory.\r\n");
}

#[test]
fn stat_status_and_path() {
    let srv = TestServer::start();
    write(srv.root(), "a.txt", b"hello\n");
    let mut c = srv.client();
    let status = |who: &str, kind: &str| {
        format!(
            "211-FTP server status:\r\n Connected to: {}\r\n {who}\r\n \
             TYPE: {kind}; STRUcture: File; MODE: Stream\r\n Data connection closed.\r\n\
             211 End of status.\r\n",
            srv.addr
        )
    };
    assert_eq!(c.cmd("STAT"), status("Waiting for username.", "ASCII"));
    c.expect("USER user", 331);
    assert_eq!(c.cmd("STAT"), status("Waiting for password.", "ASCII"));
    c.expect("PASS 12345", 230);
    c.expect("TYPE I", 200);
    assert_eq!(c.cmd("STAT"), status("Logged in as: user", "Binary"));
    let r = c.cmd("STAT /");
    assert!(r.starts_with("213-Status of \"/\":\r\n"), "{r:?}");
    assert!(r.ends_with("\r\n213 End of status.\r\n"), "{r:?}");
    let body: Vec<&str> = r.lines().collect();
    assert_eq!(body.len(), 3, "{r:?}");
    assert!(body[1].trim_start().starts_with("-rw"), "{r:?}");
    assert!(body[1].ends_with(" a.txt"), "{r:?}");
    let r = c.cmd("STAT a.txt");
    assert!(r.starts_with("213-Status of \"/a.txt\":\r\n"), "{r:?}");
    assert_eq!(c.cmd("STAT *.txt"), "550 Globbing not supported.\r\n");
    assert_eq!(c.cmd("STAT missing"), "550 No such file or directory.\r\n");
    c.expect("PASV", 227);
    let r = c.cmd("STAT");
    assert!(!r.contains("Data connection closed."), "{r:?}");
}

#[test]
fn stat_with_path_needs_login() {
    let srv = TestServer::start();
    let mut c = srv.client();
    assert_eq!(c.cmd("STAT /"), "530 Log in with USER and PASS first.\r\n");
}

// --------------------------------------------------------------- transfers

#[test]
fn retr_stor_appe_over_pasv() {
    let srv = TestServer::start();
    let root = srv.root();
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    write(root, "f.bin", &payload);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let (data, r) = c.retrieve("RETR f.bin");
    assert_eq!(r, "226 Transfer complete.\r\n");
    assert_eq!(data, payload);

    let r = c.store("STOR up.bin", &payload);
    assert_eq!(r, "226 Transfer complete.\r\n");
    assert_eq!(fs::read(root.join("up.bin")).unwrap(), payload);
    // STOR truncates an existing file.
    let r = c.store("STOR up.bin", b"short");
    assert_eq!(code_of(&r), 226);
    assert_eq!(fs::read(root.join("up.bin")).unwrap(), b"short");

    let r = c.store("APPE up.bin", b" and more");
    assert_eq!(r, "226 Transfer complete.\r\n");
    assert_eq!(fs::read(root.join("up.bin")).unwrap(), b"short and more");
    // APPE creates a missing file.
    let r = c.store("APPE new.bin", b"new");
    assert_eq!(code_of(&r), 226);
    assert_eq!(fs::read(root.join("new.bin")).unwrap(), b"new");
}

#[test]
fn second_transfer_command_on_open_data_connection_says_125() {
    let srv = TestServer::start();
    write(srv.root(), "a", b"abc");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    // The server must have accepted before the command (not a sleep, which
    // a slow server outlasts).
    c.wait_data_connected();
    let pre = c.cmd("RETR a");
    assert_eq!(
        pre,
        "125 Data connection already open. Transfer starting.\r\n"
    );
    let mut buf = Vec::new();
    data.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"abc");
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
}

#[test]
fn ascii_transfers_convert_line_endings() {
    let srv = TestServer::start();
    write(srv.root(), "unix.txt", b"a\nb\r\nc\n");
    let mut c = srv.login();
    c.expect("TYPE A", 200);
    let (data, r) = c.retrieve("RETR unix.txt");
    assert_eq!(code_of(&r), 226);
    assert_eq!(data, b"a\r\nb\r\nc\r\n");
    let r = c.store("STOR up.txt", b"x\r\ny\r\n");
    assert_eq!(code_of(&r), 226);
    assert_eq!(fs::read(srv.root().join("up.txt")).unwrap(), b"x\ny\n");
}

fn from_crlf(d: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(d.len());
    let mut i = 0;
    while i < d.len() {
        if d[i] == b'\r' && d.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        out.push(d[i]);
        i += 1;
    }
    out
}

#[test]
fn ascii_retr_is_chunk_boundary_safe() {
    let srv = TestServer::start();
    let mut data = Vec::new();
    let mut i = 0u32;
    while data.len() < 400_000 {
        data.extend_from_slice(b"abcdefg\n");
        data.extend_from_slice(b"xyz\r\n");
        if i % 7 == 0 {
            data.extend_from_slice(b"\r");
        }
        if i % 11 == 0 {
            data.extend_from_slice(b"\n\n");
        }
        i += 1;
    }
    // A CRLF exactly across common buffer sizes as well.
    for edge in [4096usize, 8192, 32768, 65536, 131072] {
        data[edge - 1] = b'\r';
        data[edge] = b'\n';
    }
    write(srv.root(), "t.txt", &data);
    let mut c = srv.login();
    c.expect("TYPE A", 200);
    let (got, r) = c.retrieve("RETR t.txt");
    assert_eq!(code_of(&r), 226);
    assert!(got == to_crlf(&data), "ASCII RETR translation differs");
}

#[test]
fn ascii_stor_is_chunk_boundary_safe() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.dtp_handler.ac_in_buffer_size = 2);
    let mut wire = Vec::new();
    let mut i = 0u32;
    while wire.len() < 100_000 {
        wire.extend_from_slice(b"abc\r\n");
        if i % 3 == 0 {
            wire.extend_from_slice(b"q\rr");
        }
        if i % 5 == 0 {
            wire.extend_from_slice(b"\n");
        }
        i += 1;
    }
    wire.extend_from_slice(b"end\r");
    let mut c = srv.login();
    c.expect("TYPE A", 200);
    let mut d = c.pasv();
    assert_prelim(&c.cmd("STOR t.txt"), "STOR");
    // Send in odd-sized pieces so CRLF pairs straddle reads.
    for piece in wire.chunks(777) {
        d.write_all(piece).unwrap();
        d.flush().unwrap();
    }
    drop(d);
    assert_eq!(code_of(&c.read_reply()), 226);
    let stored = fs::read(srv.root().join("t.txt")).unwrap();
    assert!(stored == from_crlf(&wire), "ASCII STOR translation differs");
    assert!(stored.ends_with(b"end\r"));
}

#[test]
fn stou_creates_a_unique_file() {
    let srv = TestServer::start();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    let pre = c.cmd("STOU");
    assert_prelim(&pre, "STOU");
    let name = pre[4..]
        .trim_end()
        .strip_prefix("FILE: ")
        .unwrap_or_else(|| panic!("{pre:?}"))
        .to_string();
    assert!(name.starts_with("ftpd."), "{pre:?}");
    data.write_all(b"unique").unwrap();
    drop(data);
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
    assert_eq!(fs::read(srv.root().join(&name)).unwrap(), b"unique");
    // With a name: that name as prefix.
    let mut data = c.pasv();
    let pre = c.cmd("STOU report");
    assert_prelim(&pre, "STOU report");
    assert!(pre.contains("FILE: report."), "{pre:?}");
    data.write_all(b"r").unwrap();
    drop(data);
    assert_eq!(code_of(&c.read_reply()), 226);
    // STOU with REST pending.
    c.expect("REST 1", 350);
    assert_eq!(
        c.cmd("STOU"),
        "450 Can't STOU while REST request is pending.\r\n"
    );
}

#[test]
fn retr_and_stor_over_port_and_eprt() {
    let srv = TestServer::start();
    write(srv.root(), "f.bin", b"port data");
    let mut c = srv.login();
    c.expect("TYPE I", 200);

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let r = c.cmd(&format!("PORT {}", port_arg(l.local_addr().unwrap())));
    assert_eq!(r, "200 Active data connection established.\r\n");
    assert_prelim(&c.cmd("RETR f.bin"), "RETR");
    let (mut s, peer) = l.accept().unwrap();
    assert_eq!(peer.ip().to_string(), "127.0.0.1");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"port data");
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");

    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let r = c.cmd(&format!("EPRT |1|127.0.0.1|{port}|"));
    assert_eq!(r, "200 Active data connection established.\r\n");
    assert_prelim(&c.cmd("STOR up.bin"), "STOR");
    let (mut s, _) = l.accept().unwrap();
    s.write_all(b"eprt upload").unwrap();
    drop(s);
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
    assert_eq!(fs::read(srv.root().join("up.bin")).unwrap(), b"eprt upload");

    // LIST over PORT as well.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    c.expect(&format!("PORT {}", port_arg(l.local_addr().unwrap())), 200);
    assert_prelim(&c.cmd("NLST"), "NLST");
    let (mut s, _) = l.accept().unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"f.bin\r\nup.bin\r\n");
    assert_eq!(code_of(&c.read_reply()), 226);
}

#[test]
fn rest_retr_sends_from_offset() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"0123456789");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    c.expect("REST 4", 350);
    let (data, r) = c.retrieve("RETR f");
    assert_eq!(code_of(&r), 226);
    assert_eq!(data, b"456789");
    // REST is consumed.
    let (data, _) = c.retrieve("RETR f");
    assert_eq!(data, b"0123456789");
    c.expect("REST 100", 350);
    c.expect("PASV", 227);
    assert_eq!(
        c.cmd("RETR f"),
        "554 REST position (100) > file size (10)\r\n"
    );
}

#[test]
fn rest_stor_resumes_at_offset() {
    let srv = TestServer::start();
    let path = srv.root().join("f");
    fs::write(&path, b"0123456789").unwrap();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    c.expect("REST 5", 350);
    let r = c.store("STOR f", b"abcdefgh");
    assert_eq!(code_of(&r), 226, "{r:?}");
    assert_eq!(fs::read(&path).unwrap(), b"01234abcdefgh");
    // REST is consumed: the next STOR rewrites the file.
    let r = c.store("STOR f", b"new");
    assert_eq!(code_of(&r), 226);
    assert_eq!(fs::read(&path).unwrap(), b"new");
}

#[test]
fn appe_with_rest_pending_is_450() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"abc");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    c.expect("REST 1", 350);
    c.expect("PASV", 227);
    assert_eq!(
        c.cmd("APPE f"),
        "450 Can't APPE while REST request is pending.\r\n"
    );
    assert_eq!(fs::read(srv.root().join("f")).unwrap(), b"abc");
}

#[test]
fn retr_errors() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"abc");
    fs::create_dir(srv.root().join("d")).unwrap();
    let mut c = srv.login();
    c.expect("PASV", 227);
    assert_eq!(c.cmd("RETR missing"), "550 No such file or directory.\r\n");
    assert_eq!(code_of(&c.cmd("RETR d")), 550);
    assert_eq!(code_of(&c.cmd("STOR d")), 550);
}

#[test]
fn transfer_without_data_connection_is_425() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"abc");
    write(srv.root(), "keep", b"precious");
    let mut c = srv.login();
    for cmd in ["RETR f", "LIST", "NLST", "MLSD"] {
        assert_eq!(code_of(&c.cmd(cmd)), 425, "{cmd}");
    }
    c.expect("NOOP", 200);
}

/// A transfer that is refused with 425 must not have touched the disk:
/// STOR must not truncate an existing file nor create a missing one.
#[test]
fn refused_upload_without_data_connection_has_no_side_effects() {
    let srv = TestServer::start();
    write(srv.root(), "keep", b"precious");
    let mut c = srv.login();
    // (STOU without a data connection is accepted as in pyftpdlib:
    // tests/wire.rs.)
    for cmd in ["STOR keep", "STOR g", "APPE h"] {
        assert_eq!(code_of(&c.cmd(cmd)), 425, "{cmd}");
    }
    assert_eq!(fs::read(srv.root().join("keep")).unwrap(), b"precious");
    let mut names: Vec<String> = fs::read_dir(srv.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["keep"], "files created by refused uploads");
}

#[test]
fn rest_stor_errors() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"0123456789");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    c.expect("REST 20", 350);
    c.expect("PASV", 227);
    assert_eq!(
        c.cmd("STOR f"),
        "554 REST position (20) > file size (10)\r\n"
    );
    assert_eq!(fs::read(srv.root().join("f")).unwrap(), b"0123456789");
    c.expect("REST 3", 350);
    c.expect("PASV", 227);
    assert_eq!(c.cmd("STOR missing"), "550 No such file or directory.\r\n");
    assert!(!srv.root().join("missing").exists());
}

#[test]
fn epsv() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"epsv data");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let r = c.expect("EPSV", 229);
    assert!(
        r.starts_with("229 Entering extended passive mode (|||"),
        "{r:?}"
    );
    assert!(r.ends_with("|).\r\n"), "{r:?}");
    let mut s = TcpStream::connect(("127.0.0.1", epsv_port(&r))).unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_prelim(&c.cmd("RETR f"), "RETR");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"epsv data");
    assert_eq!(code_of(&c.read_reply()), 226);
    let r = c.expect("EPSV 1", 229);
    epsv_port(&r);
    assert_eq!(
        c.cmd("EPSV 2"),
        "522 Network protocol not supported (use 1).\r\n"
    );
    assert_eq!(c.cmd("EPSV 3"), "501 Unknown network protocol (use 1).\r\n");
}

#[test]
fn epsv_all_disables_other_data_commands() {
    let srv = TestServer::start();
    let mut c = srv.login();
    let r = c.cmd("EPSV ALL");
    assert_eq!(code_of(&r) / 100, 2, "{r:?}");
    assert_eq!(c.cmd("PASV"), "501 PASV not allowed after EPSV ALL.\r\n");
    assert_eq!(
        c.cmd("PORT 127,0,0,1,200,1"),
        "501 PORT not allowed after EPSV ALL.\r\n"
    );
    assert_eq!(
        c.cmd("EPRT |1|127.0.0.1|51201|"),
        "501 EPRT not allowed after EPSV ALL.\r\n"
    );
    c.expect("EPSV", 229);
}

#[test]
fn port_and_eprt_refusals() {
    let srv = TestServer::start();
    let mut c = srv.login();
    assert_eq!(
        c.cmd("PORT 10,0,0,1,4,1"),
        "501 Rejected data connection to foreign address 10.0.0.1:1025.\r\n"
    );
    assert_eq!(
        c.cmd("EPRT |1|10.0.0.1|1025|"),
        "501 Rejected data connection to foreign address 10.0.0.1:1025.\r\n"
    );
    assert_eq!(
        c.cmd("PORT 127,0,0,1,0,21"),
        "501 PORT against the privileged port \"21\" refused.\r\n"
    );
    assert_eq!(
        c.cmd("EPRT |1|127.0.0.1|21|"),
        "501 EPRT against the privileged port \"21\" refused.\r\n"
    );
    for bad in [
        "PORT 127,0,0,1,4",
        "PORT 127,0,0,1,4,1,1",
        "PORT 256,0,0,1,4,1",
        "PORT a,b,c,d,e,f",
        "PORT 127,0,0,1,256,1",
    ] {
        assert_eq!(c.cmd(bad), "501 Invalid PORT format.\r\n", "{bad}");
    }
    assert_eq!(
        c.cmd("EPRT |3|127.0.0.1|2000|"),
        "501 Unknown network protocol (use 1).\r\n"
    );
    assert_eq!(
        c.cmd("EPRT |2|::1|2000|"),
        "522 Network protocol not supported (use 1).\r\n"
    );
    assert_eq!(c.cmd("EPRT garbage"), "501 Invalid EPRT format.\r\n");
    assert_eq!(c.cmd("EPRT |1|127.0.0.1|"), "501 Invalid EPRT format.\r\n");
    c.expect("NOOP", 200);
}

#[test]
fn permit_privileged_ports_option() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.permit_privileged_ports = true;
        },
    );
    let mut c = srv.login();
    // Privileged port allowed now: the connect fails (nobody listens on
    // port 1 of 127.0.0.1) and the failure is reported, not refused.
    c.send_raw(b"PORT 127,0,0,1,0,1\r\n");
    let r = c.read_reply();
    assert_eq!(code_of(&r), 425, "{r:?}");
}

#[test]
fn permit_foreign_addresses_option() {
    // 127.0.0.2 is loopback too, but not the control peer's address.
    let l = TcpListener::bind("127.0.0.2:0").unwrap();
    let arg = port_arg(l.local_addr().unwrap());
    let srv = TestServer::start();
    let mut c = srv.login();
    assert_eq!(
        c.cmd(&format!("PORT {arg}")),
        format!(
            "501 Rejected data connection to foreign address {}.\r\n",
            l.local_addr().unwrap()
        )
    );
    drop(srv);
    let srv = TestServer::start_with(|_, _| {}, |h| h.permit_foreign_addresses = true);
    write(srv.root(), "f", b"fxp");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    assert_eq!(
        c.cmd(&format!("PORT {arg}")),
        "200 Active data connection established.\r\n"
    );
    assert_prelim(&c.cmd("RETR f"), "RETR f");
    let (mut s, _) = l.accept().unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"fxp");
    assert_eq!(code_of(&c.read_reply()), 226);
}

#[test]
fn pasv_rejects_connection_from_foreign_address() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"mine");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let r = c.expect("PASV", 227);
    let addr = pasv_addr(&r);
    let mut intruder =
        connect_from("127.0.0.2".parse().unwrap(), addr).expect("connect from 127.0.0.2");
    // Refused (closed) without a reply, which no command awaits
    // (tests/reply_pairing.rs); pyftpdlib sends a 425.
    let mut first = Vec::new();
    let _ = intruder.read_to_end(&mut first);
    assert!(first.is_empty(), "the intruder got data");
    c.expect("NOOP", 200);
    // The listener stays open for the real client.
    let mut data = TcpStream::connect(addr).unwrap();
    data.set_read_timeout(Some(PATIENCE)).unwrap();
    assert_prelim(&c.cmd("RETR f"), "RETR f");
    let mut buf = Vec::new();
    data.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"mine");
    assert_eq!(code_of(&c.read_reply()), 226);
    intruder
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut ib = Vec::new();
    let _ = intruder.read_to_end(&mut ib);
    assert!(ib.is_empty(), "the intruder got data");
}

#[test]
fn stalled_data_connection_times_out() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.dtp_handler.timeout = Duration::from_millis(500);
        },
    );
    big_file(srv.root(), "big", 64 << 20);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let _data = c.pasv();
    assert_prelim(&c.cmd("RETR big"), "RETR big");
    let t = Instant::now();
    // Nobody reads: after 0.5..1 s the transfer is declared stalled. The
    // clock starts at the reply that starts the transfer; 10 s, 10x the
    // expected second, only fails a stall check that does not work.
    let r = c.read_reply();
    assert!(matches!(code_of(&r), 421 | 426), "{r:?}");
    assert!(r.contains("timed out"), "{r:?}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
}

#[test]
fn passive_listener_times_out_without_disconnecting() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.passive_dtp.timeout = Duration::from_millis(500);
        },
    );
    let mut c = srv.login();
    c.expect("PASV", 227);
    // No reply when no command awaits one (pyftpdlib sends an unsolicited
    // 421); STAT sees the listener gone.
    eventually("the listener to time out", || {
        c.expect("STAT", 211).contains(" Data connection closed.")
    });
    c.expect("NOOP", 200);
    let (d, r) = c.retrieve("NLST");
    assert!(d.is_empty());
    assert_eq!(code_of(&r), 226);
}

#[test]
fn abor_during_stor() {
    let srv = TestServer::start();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    assert_prelim(&c.cmd("STOR up"), "STOR up");
    data.write_all(&[1u8; 100_000]).unwrap();
    // ABOR once the transfer is running (the server has written bytes): a
    // transfer still queued behind a 150 would get a 225 instead.
    let up = srv.root().join("up");
    eventually("the server receiving the upload", || file_len(&up) > 0);
    let r1 = c.cmd("ABOR");
    assert_eq!(code_of(&r1), 426, "{r1:?}");
    assert_eq!(code_of(&c.read_reply()), 226);
    c.expect("NOOP", 200);
    let r = c.store("STOR up2", b"ok");
    assert_eq!(code_of(&r), 226);
    assert_eq!(fs::read(srv.root().join("up2")).unwrap(), b"ok");
}

#[test]
fn large_directory_listing() {
    let srv = TestServer::start();
    let mut expected = String::new();
    let mut names: Vec<String> = (0..3000).map(|i| format!("file{i:05}")).collect();
    names.sort();
    for n in &names {
        fs::write(srv.root().join(n), b"").unwrap();
        expected.push_str(n);
        expected.push_str("\r\n");
    }
    let mut c = srv.login();
    let (d, r) = c.retrieve("NLST");
    assert_eq!(r, "226 Transfer complete.\r\n");
    assert_eq!(text(d), expected);
    let (d, r) = c.retrieve("MLSD");
    assert_eq!(code_of(&r), 226);
    assert_eq!(text(d).lines().count(), 3000);
    let (d, r) = c.retrieve("LIST");
    assert_eq!(code_of(&r), 226);
    assert_eq!(text(d).lines().count(), 3000);
}

#[test]
fn abor_without_and_with_idle_data_channel() {
    let srv = TestServer::start();
    let mut c = srv.login();
    assert_eq!(c.cmd("ABOR"), "225 No transfer to abort.\r\n");
    c.expect("PASV", 227);
    assert_eq!(
        c.cmd("ABOR"),
        "225 ABOR command successful; data channel closed.\r\n"
    );
    assert_eq!(c.cmd("ABOR"), "225 No transfer to abort.\r\n");
    // A connected but idle data channel (accepted by the server, not only
    // connected by the client).
    let _d = c.pasv();
    c.wait_data_connected();
    assert_eq!(code_of(&c.cmd("ABOR")), 225);
}

#[test]
fn abor_during_large_retr() {
    let srv = TestServer::start();
    big_file(srv.root(), "big", 64 << 20);
    write(srv.root(), "small", b"small file");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    assert_prelim(&c.cmd("RETR big"), "RETR big");
    let mut buf = vec![0u8; 65536];
    let mut got = 0;
    while got < 100_000 {
        let n = data.read(&mut buf).unwrap();
        assert!(n > 0);
        got += n;
    }
    let r1 = c.cmd("ABOR");
    assert_eq!(code_of(&r1), 426, "{r1:?}");
    let r2 = c.read_reply();
    assert_eq!(code_of(&r2), 226, "{r2:?}");
    // The data connection is gone: the client sees EOF (after whatever was
    // in flight) well before 64 MiB.
    let mut rest = Vec::new();
    let _ = data.read_to_end(&mut rest);
    assert!(got + rest.len() < 64 << 20, "transfer was not aborted");
    c.expect("NOOP", 200);
    let (d, r) = c.retrieve("RETR small");
    assert_eq!(d, b"small file");
    assert_eq!(r, "226 Transfer complete.\r\n");
}

// ---------------------------------------------------------- line handling

#[test]
fn bare_lf_terminator() {
    let srv = TestServer::start();
    let mut c = srv.client();
    c.send_raw(b"NOOP\n");
    assert_eq!(code_of(&c.read_reply()), 200);
    c.send_raw(b"USER user\nPASS 12345\n");
    assert_eq!(code_of(&c.read_reply()), 331);
    assert_eq!(code_of(&c.read_reply()), 230);
    c.send_raw(b"PWD\n");
    assert_eq!(c.read_reply(), "257 \"/\" is the current directory.\r\n");
}

#[test]
fn too_long_line_gets_one_500() {
    let srv = TestServer::start();
    let mut c = srv.client();
    let mut line = vec![b'A'; 3000];
    line.extend_from_slice(b"\r\nNOOP\r\n");
    c.send_raw(&line);
    assert_eq!(c.read_reply(), "500 Command too long.\r\n");
    assert_eq!(code_of(&c.read_reply()), 200);
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8\r\n");
}

#[test]
fn too_long_line_after_a_command_is_answered_after_it() {
    // One write: a command, then more than a line's worth with no end in
    // sight. The 500 used to be answered as soon as the read showed the
    // line too long, before the NOOP that came first.
    let srv = TestServer::start();
    let mut c = srv.client();
    let mut input = b"NOOP\r\n".to_vec();
    input.extend_from_slice(&[b'A'; 3000]);
    c.send_raw(&input);
    assert_eq!(code_of(&c.read_reply()), 200);
    assert_eq!(c.read_reply(), "500 Command too long.\r\n");
    c.send_raw(b"AAAA\r\nSYST\r\n");
    assert_eq!(c.read_reply(), "215 UNIX Type: L8\r\n");
    // A complete over-long line, a command and an unfinished over-long
    // line, in one write: answered in that order.
    let mut input = vec![b'B'; 2500];
    input.extend_from_slice(b"\r\nNOOP\r\n");
    input.extend_from_slice(&[b'C'; 2500]);
    c.send_raw(&input);
    assert_eq!(c.read_reply(), "500 Command too long.\r\n");
    assert_eq!(code_of(&c.read_reply()), 200);
    assert_eq!(c.read_reply(), "500 Command too long.\r\n");
    c.send_raw(b"\r\nSYST\r\n");
    assert_eq!(c.read_reply(), "215 UNIX Type: L8\r\n");
}

#[test]
fn too_long_line_delivered_in_pieces_gets_one_500() {
    let srv = TestServer::start();
    let mut c = srv.client();
    c.send_raw(&[b'A'; 3000]);
    std::thread::sleep(Duration::from_millis(100));
    c.send_raw(b"AAAA\r\nNOOP\r\n");
    assert_eq!(c.read_reply(), "500 Command too long.\r\n");
    assert_eq!(code_of(&c.read_reply()), 200);
}

#[test]
fn line_of_exactly_2048_bytes_is_accepted() {
    let srv = TestServer::start();
    let mut c = srv.client();
    // "NOOP " + padding: a 2048-byte command line is not "too long";
    // NOOP refuses the argument with 501.
    let mut line = b"NOOP ".to_vec();
    line.resize(2048, b'x');
    line.extend_from_slice(b"\r\n");
    c.send_raw(&line);
    assert_eq!(
        c.read_reply(),
        "501 Syntax error: command does not accept arguments.\r\n"
    );
}

#[test]
fn pipelined_commands_are_answered_in_order() {
    let srv = TestServer::start();
    let mut c = srv.login();
    c.send_raw(b"NOOP\r\nSYST\r\nPWD\r\n");
    assert_eq!(code_of(&c.read_reply()), 200);
    assert_eq!(c.read_reply(), "215 UNIX Type: L8\r\n");
    assert_eq!(c.read_reply(), "257 \"/\" is the current directory.\r\n");
    // Many at once.
    let mut burst = Vec::new();
    for i in 0..200 {
        burst.extend_from_slice(if i % 2 == 0 { b"NOOP\r\n" } else { b"SYST\r\n" });
    }
    c.send_raw(&burst);
    for i in 0..200 {
        let r = c.read_reply();
        assert_eq!(
            code_of(&r),
            if i % 2 == 0 { 200 } else { 215 },
            "{i}: {r:?}"
        );
    }
}

#[test]
fn telnet_ip_and_synch_before_abor() {
    let srv = TestServer::start();
    let mut c = srv.login();
    c.send_raw(b"\xff\xf4\xff\xf2ABOR\r\n");
    assert_eq!(c.read_reply(), "225 No transfer to abort.\r\n");
    c.expect("NOOP", 200);
}

#[test]
fn noop_and_stat_during_retr() {
    let srv = TestServer::start();
    let len: u64 = 64 << 20;
    big_file(srv.root(), "big", len);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    assert_prelim(&c.cmd("RETR big"), "RETR big");
    let mut first = [0u8; 4096];
    let n = data.read(&mut first).unwrap();
    assert!(n > 0);
    assert_eq!(code_of(&c.cmd("NOOP")), 200);
    let st = c.cmd("STAT");
    assert!(st.starts_with("211-FTP server status:\r\n"), "{st:?}");
    assert!(st.ends_with("211 End of status.\r\n"), "{st:?}");
    assert!(!st.contains("Data connection closed."), "{st:?}");
    assert_eq!(c.cmd("SYST"), "215 UNIX Type: L8\r\n");
    // The transfer is intact.
    let mut rest = Vec::new();
    data.read_to_end(&mut rest).unwrap();
    assert_eq!(n as u64 + rest.len() as u64, len);
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
}

#[test]
fn quit_during_transfer_waits_for_it() {
    let srv = TestServer::start();
    let len: u64 = 16 << 20;
    big_file(srv.root(), "big", len);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    assert_prelim(&c.cmd("RETR big"), "RETR big");
    assert_eq!(c.cmd("QUIT"), "221 Goodbye.\r\n");
    let mut all = Vec::new();
    data.read_to_end(&mut all).unwrap();
    assert_eq!(all.len() as u64, len);
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
    assert!(closed(&mut c));
}

// ------------------------------------------------------------------ limits

/// Wait until a new client is greeted with 220 (the server notices the
/// disconnect that frees the slot within milliseconds; PATIENCE is the
/// generous bound of every such wait).
fn eventually_accepted(srv: &TestServer) -> Client {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let c = srv.client();
        if c.greeting.starts_with("220 ") {
            return c;
        }
        assert!(Instant::now() < deadline, "still refused: {:?}", c.greeting);
        drop(c);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn max_cons() {
    let srv = TestServer::start_full(|_, _| {}, |_| {}, |s| s.max_cons = 2);
    let c1 = srv.client();
    assert!(c1.greeting.starts_with("220 "), "{:?}", c1.greeting);
    let mut c2 = srv.client();
    assert!(c2.greeting.starts_with("220 "), "{:?}", c2.greeting);
    let mut c3 = srv.client();
    assert_eq!(
        c3.greeting,
        "421 Too many connections. Service temporarily unavailable.\r\n"
    );
    assert!(closed(&mut c3));
    c2.expect("NOOP", 200);
    drop(c1);
    let mut c4 = eventually_accepted(&srv);
    c4.login(USER, PASSWD);
    c2.expect("NOOP", 200);
}

#[test]
fn max_cons_per_ip() {
    let srv = TestServer::start_full(|_, _| {}, |_| {}, |s| s.max_cons_per_ip = 1);
    let mut c1 = srv.client();
    assert!(c1.greeting.starts_with("220 "), "{:?}", c1.greeting);
    let mut c2 = srv.client();
    assert_eq!(
        c2.greeting,
        "421 Too many connections from the same IP address.\r\n"
    );
    assert!(closed(&mut c2));
    c1.expect("QUIT", 221);
    assert!(closed(&mut c1));
    drop(c1);
    let mut c3 = eventually_accepted(&srv);
    c3.expect("NOOP", 200);
}

fn raise_nofile(min: u64) {
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < min {
            lim.rlim_cur = std::cmp::min(min as libc::rlim_t, lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[test]
fn five_hundred_concurrent_clients() {
    raise_nofile(4096);
    let srv = TestServer::start();
    let mut socks: Vec<BufReader<TcpStream>> = Vec::with_capacity(500);
    for _ in 0..500 {
        let s = TcpStream::connect(srv.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        socks.push(BufReader::new(s));
    }
    // The clock starts at the server's first greeting, not over the
    // client's own connects; serving the rest takes well under a second,
    // and 20 s only fails a server that serializes or stalls the clients.
    let mut t = None;
    for (i, r) in socks.iter_mut().enumerate() {
        let mut line = String::new();
        r.read_line(&mut line).expect("greeting");
        t.get_or_insert_with(Instant::now);
        assert!(line.starts_with("220 "), "client {i}: {line:?}");
    }
    let t = t.unwrap();
    for r in socks.iter_mut() {
        r.get_mut().write_all(b"NOOP\r\n").unwrap();
    }
    for (i, r) in socks.iter_mut().enumerate() {
        let mut line = String::new();
        r.read_line(&mut line).expect("noop reply");
        assert!(line.starts_with("200 "), "client {i}: {line:?}");
    }
    // A newcomer is still served while all 500 are connected.
    let mut c = srv.login();
    c.expect("PWD", 257);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

// -------------------------------------------------------- configuration

#[test]
fn masquerade_address_in_pasv() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.masquerade_address = Some("1.2.3.4".parse().unwrap());
        },
    );
    let mut c = srv.login();
    let r = c.expect("PASV", 227);
    assert!(
        r.starts_with("227 Entering passive mode (1,2,3,4,"),
        "{r:?}"
    );
    assert!(r.ends_with(").\r\n"), "{r:?}");
    // EPSV carries no address.
    let r = c.expect("EPSV", 229);
    epsv_port(&r);
}

#[test]
fn masquerade_address_map_wins() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.masquerade_address = Some("1.2.3.4".parse().unwrap());
            h.masquerade_address_map
                .insert("127.0.0.1".parse().unwrap(), "5.6.7.8".parse().unwrap());
        },
    );
    let mut c = srv.login();
    let r = c.expect("PASV", 227);
    assert!(
        r.starts_with("227 Entering passive mode (5,6,7,8,"),
        "{r:?}"
    );
}

#[test]
fn passive_ports_range_is_honoured() {
    let base = 30_000 + (std::process::id() % 20_000) as u16;
    let range = base..=base + 9;
    let r2 = range.clone();
    let srv = TestServer::start_with(|_, _| {}, move |h| h.passive_ports = Some(r2.into()));
    write(srv.root(), "f", b"ranged");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    for _ in 0..3 {
        let r = c.expect("PASV", 227);
        let addr = pasv_addr(&r);
        assert!(range.contains(&addr.port()), "{r:?} not in {range:?}");
        let r = c.expect("EPSV", 229);
        assert!(range.contains(&epsv_port(&r)), "{r:?} not in {range:?}");
    }
    let (d, r) = c.retrieve("RETR f");
    assert_eq!(d, b"ranged");
    assert_eq!(code_of(&r), 226);
}

#[test]
fn passive_ports_take_any_list_of_ports_as_pyftpdlib() {
    // Three ports far apart, found free now (another process may take
    // one meanwhile: then the listener uses one of the others).
    let free: Vec<u16> = (0..3)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        })
        .collect();
    let set: ftpdlib::PortSet = free.clone().into();
    let srv = TestServer::start_with(|_, _| {}, move |h| h.passive_ports = Some(set));
    let mut c = srv.login();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..12 {
        let port = pasv_addr(&c.expect("PASV", 227)).port();
        assert!(free.contains(&port), "{port} not in {free:?}");
        seen.insert(port);
    }
    // A random start: twelve listeners do not all take the same port
    // (each of the three is tried first with probability 1/3).
    assert!(seen.len() > 1, "always {seen:?}");
}

#[test]
fn passive_ports_all_taken_fall_back_to_a_kernel_port() {
    // The only port of the set is held by this test.
    let holder = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap().port();
    let srv = TestServer::start_with(
        |_, _| {},
        move |h| h.passive_ports = Some(ftpdlib::PortSet::new([taken])),
    );
    write(srv.root(), "f", b"fallback");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let r = c.expect("PASV", 227);
    assert_ne!(pasv_addr(&r).port(), taken, "{r:?}");
    let mut data = TcpStream::connect(pasv_addr(&r)).unwrap();
    assert_prelim(&c.cmd("RETR f"), "RETR f");
    let mut buf = Vec::new();
    data.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"fallback");
    assert_eq!(code_of(&c.read_reply()), 226);
    drop(holder);
}

#[test]
fn long_banner_and_messages_are_multi_line() {
    let long = "x".repeat(80);
    let l2 = long.clone();
    let l3 = long.clone();
    let srv = TestServer::start_with(
        move |a, root| {
            a.add_user_with_messages("msg", "pw", root, "elr", &l2, "See you.")
                .unwrap();
        },
        move |h| h.banner = l3,
    );
    let mut c = srv.client();
    assert_eq!(c.greeting, format!("220-{long}\r\n220 \r\n"));
    c.expect("USER msg", 331);
    assert_eq!(c.cmd("PASS pw"), format!("230-{long}\r\n230 \r\n"));
    assert_eq!(c.cmd("QUIT"), "221 See you.\r\n");
}

#[test]
fn anonymous_not_configured() {
    let srv = TestServer::start_with(|a, _| a.remove_user("anonymous").unwrap(), |_| {});
    let mut c = srv.client();
    c.expect("USER anonymous", 331);
    assert_eq!(c.cmd("PASS x"), "530 Anonymous access not allowed.\r\n");
}

#[test]
fn upload_data_sent_before_the_stor_command() {
    let srv = TestServer::start();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut d = c.pasv();
    d.write_all(b"early bird").unwrap();
    d.shutdown(std::net::Shutdown::Write).unwrap();
    // The server holds the connection, data and EOF pending, before STOR.
    c.wait_data_connected();
    assert_prelim(&c.cmd("STOR early"), "STOR early");
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
    assert_eq!(fs::read(srv.root().join("early")).unwrap(), b"early bird");
}

#[test]
fn banner_is_the_greeting() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.banner = "hello there".into());
    let c = srv.client();
    assert_eq!(c.greeting, "220 hello there\r\n");
}

#[test]
fn control_connection_idle_timeout() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.timeout = Duration::from_secs(1));
    let mut c = srv.client();
    c.expect("USER user", 331);
    // From just before the last command: the idle timer restarts when the
    // server reads it, never earlier, and never fires early, so the whole
    // second must have passed (measured from the 230 instead, a client
    // descheduled after reading it made the server look early).
    let t = Instant::now();
    c.expect("PASS 12345", 230);
    assert_eq!(c.read_reply(), "421 Control connection timed out.\r\n");
    assert!(t.elapsed() >= Duration::from_secs(1), "{:?}", t.elapsed());
    assert!(closed(&mut c));
}

#[test]
fn server_keeps_serving_after_client_vanishes_mid_transfer() {
    let srv = TestServer::start();
    big_file(srv.root(), "big", 32 << 20);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut data = c.pasv();
    assert_prelim(&c.cmd("RETR big"), "RETR big");
    let mut b = [0u8; 1024];
    data.read_exact(&mut b).unwrap();
    drop(data);
    let r = c.read_reply();
    assert_eq!(code_of(&r), 426, "{r:?}");
    c.expect("NOOP", 200);
    let mut other = srv.login();
    other.expect("PWD", 257);
}

// ------------------------------------------------- sequencing corner cases

#[test]
fn commands_while_a_transfer_is_queued() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"queued");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let r = c.expect("PASV", 227);
    let addr = pasv_addr(&r);
    assert_eq!(
        c.cmd("RETR f"),
        "150 File status okay. About to open data connection.\r\n"
    );
    c.expect("NOOP", 200);
    let mut d = TcpStream::connect(addr).unwrap();
    d.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = Vec::new();
    d.read_to_end(&mut buf).unwrap();
    assert_eq!(buf, b"queued");
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
}

/// Every 1xx reply must be followed by a final reply (RFC 959 §4.2): a
/// queued RETR (150 sent, client not connected yet) that a new PASV
/// replaces either runs on the new data connection (pyftpdlib keeps the
/// queued transfer) or is answered with an error; it must not be left
/// without an answer.
#[test]
fn queued_transfer_replaced_by_new_pasv_gets_a_final_reply() {
    let srv = TestServer::start();
    write(srv.root(), "f", b"queued");
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    c.expect("PASV", 227);
    assert_eq!(code_of(&c.cmd("RETR f")), 150);
    let r = c.cmd("PASV");
    assert_eq!(code_of(&r), 227, "{r:?}");
    let _d = TcpStream::connect(pasv_addr(&r)).unwrap();
    // The final reply comes at once; waiting PATIENCE (not 2 s) before
    // calling it missing keeps a loaded machine from faking a missing one.
    c.reader.get_mut().set_read_timeout(Some(PATIENCE)).unwrap();
    let mut line = String::new();
    let got = c.reader.read_line(&mut line);
    assert!(
        got.is_ok() && matches!(code_of(&line), 226 | 425 | 426 | 451),
        "no final reply for the queued RETR: {got:?} {line:?}"
    );
}

#[test]
fn new_pasv_closes_the_previous_listener() {
    let srv = TestServer::start();
    let mut c = srv.login();
    let first = pasv_addr(&c.expect("PASV", 227));
    let second = pasv_addr(&c.expect("PASV", 227));
    assert!(
        TcpStream::connect(first).is_err(),
        "old passive port still open"
    );
    let _d = TcpStream::connect(second).unwrap();
    // Many in a row do not pile up listeners.
    let mut ports = Vec::new();
    for _ in 0..100 {
        ports.push(pasv_addr(&c.expect("PASV", 227)));
    }
    let last = ports.pop().unwrap();
    for p in ports.iter().step_by(10) {
        assert!(TcpStream::connect(p).is_err(), "{p} still listening");
    }
    TcpStream::connect(last).unwrap();
}

#[test]
fn eprt_ipv4_mapped_address_on_ipv4_control_is_522() {
    let srv = TestServer::start();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut c = srv.login();
    // Protocol 2 names IPv6; this control connection is IPv4 (§8: wrong
    // family → 522).
    assert_eq!(
        c.cmd(&format!("EPRT |2|::ffff:127.0.0.1|{port}|")),
        "522 Network protocol not supported (use 1).\r\n"
    );
}

#[test]
fn idle_timeout_fires_while_pasv_is_pending() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.timeout = Duration::from_secs(1));
    let mut c = srv.login();
    c.expect("PASV", 227);
    assert_eq!(c.read_reply(), "421 Control connection timed out.\r\n");
    assert!(closed(&mut c));
}

/// The idle timer is suspended during a transfer and re-armed when it
/// ends (reference §2 `timeout`), also when the transfer lasted longer
/// than the timeout itself.
#[test]
fn idle_timeout_rearmed_after_transfer_longer_than_timeout() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.timeout = Duration::from_secs(1));
    big_file(srv.root(), "big", 8 << 20);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut d = c.pasv();
    assert_prelim(&c.cmd("RETR big"), "RETR big");
    // A slow reader: the transfer lasts well over the idle timeout, and
    // the control connection must survive it. At most 64 KiB per 100 ms:
    // with reads of up to 1 MiB, a busy client found 1 MiB waiting at each
    // read once the kernel had grown the socket buffers, and read the 8 MiB
    // in eight reads, under the 1.5 s this test needs.
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0u64;
    let t = Instant::now();
    while total < 8 << 20 {
        let n = d.read(&mut buf).unwrap();
        assert!(n > 0);
        total += n as u64;
        if t.elapsed() < Duration::from_millis(1600) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    assert!(t.elapsed() >= Duration::from_millis(1500));
    assert_eq!(c.read_reply(), "226 Transfer complete.\r\n");
    c.expect("NOOP", 200);
    // Now idle: the timeout applies again (1 s; the read gives it 10x that
    // before calling it missing).
    c.reader.get_mut().set_read_timeout(Some(PATIENCE)).unwrap();
    let mut line = String::new();
    let got = c.reader.read_line(&mut line);
    assert!(
        got.is_ok() && line == "421 Control connection timed out.\r\n",
        "no idle timeout after the transfer: {got:?} {line:?}"
    );
}

#[test]
fn closing_control_connection_ends_the_transfer() {
    let srv = TestServer::start();
    big_file(srv.root(), "big", 256 << 20);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let mut d = c.pasv();
    assert_prelim(&c.cmd("RETR big"), "RETR big");
    let mut b = [0u8; 4096];
    d.read_exact(&mut b).unwrap();
    drop(c);
    let mut total = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match d.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("data socket still open: {e}"),
        }
    }
    assert!(
        total < 200 << 20,
        "transfer kept going after the client left"
    );
    let mut other = srv.login();
    other.expect("NOOP", 200);
}

#[test]
fn client_gone_during_auth_delay() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.auth_failed_timeout = Duration::from_millis(300);
        },
    );
    for _ in 0..5 {
        let mut c = srv.client();
        c.expect("USER user", 331);
        c.send_raw(b"PASS wrong\r\n");
        drop(c);
    }
    std::thread::sleep(Duration::from_millis(500));
    let mut c = srv.login();
    c.expect("NOOP", 200);
}

#[test]
fn retr_without_sendfile() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.use_sendfile = false;
            h.dtp_handler.ac_out_buffer_size = 1000;
        },
    );
    let payload: Vec<u8> = (0..1_000_000u32).map(|i| (i % 253) as u8).collect();
    write(srv.root(), "f", &payload);
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    let (d, r) = c.retrieve("RETR f");
    assert_eq!(code_of(&r), 226);
    assert!(d == payload, "content differs");
    c.expect("REST 999990", 350);
    let (d, _) = c.retrieve("RETR f");
    assert_eq!(d, &payload[999_990..]);
}

#[test]
fn relative_paths_follow_the_cwd() {
    let srv = TestServer::start();
    fs::create_dir(srv.root().join("d")).unwrap();
    let mut c = srv.login();
    c.expect("TYPE I", 200);
    c.expect("CWD d", 250);
    assert_eq!(c.cmd("MKD x"), "257 \"/d/x\" directory created.\r\n");
    assert!(srv.root().join("d/x").is_dir());
    let r = c.store("STOR f", b"in d");
    assert_eq!(code_of(&r), 226);
    assert_eq!(fs::read(srv.root().join("d/f")).unwrap(), b"in d");
    assert_eq!(c.cmd("SIZE f"), "213 4\r\n");
    assert_eq!(c.cmd("SIZE /d/f"), "213 4\r\n");
    assert_eq!(c.cmd("SIZE ../d/f"), "213 4\r\n");
    let r = c.cmd("MLST f");
    assert!(r.contains("; /d/f\r\n"), "{r:?}");
    assert_eq!(c.cmd("MKD a/b"), "550 No such file or directory.\r\n");
}
