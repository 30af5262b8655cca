//! Interoperability with a real third-party client: the `curl` binary
//! (tested against 7.88), run as a subprocess against an in-process server.
//!
//! Every test asserts what curl returned (exit code, bytes) and what ended up
//! on disk; `-v` transcripts are used to check which FTP commands curl chose
//! (EPSV vs PASV, PORT vs EPRT, REST, APPE...).

mod common;
use common::curl::{curl_ok, run_curl, stderr, transcript};
use common::*;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, UNIX_EPOCH};

const CURL: &str = "curl";
const AUTH: &str = "user:12345";

/// Run curl with `-sS --max-time 60` plus `args`.
fn curl(args: &[&str]) -> Output {
    run_curl(&["-sS", "--max-time", "60"], args)
}

/// Like `curl` but with `-v` so stderr carries the FTP transcript
/// (`> CMD` / `< reply` lines).
fn curl_v(args: &[&str]) -> Output {
    let mut all = vec!["-v"];
    all.extend_from_slice(args);
    curl(&all)
}

/// The `> CMD` lines curl sent (from a `-v` transcript).
fn sent_cmds(o: &Output) -> Vec<String> {
    transcript(o, "> ")
}

/// The `< reply` lines curl received (from a `-v` transcript).
fn replies(o: &Output) -> Vec<String> {
    transcript(o, "< ")
}

/// A local file `name` holding `data` in a fresh temporary directory (the
/// returned guard keeps it).
fn local_file(name: &str, data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join(name);
    fs::write(&local, data).unwrap();
    (tmp, local)
}

fn url(srv: &TestServer, path: &str) -> String {
    format!("ftp://{}{}", srv.addr, path)
}

/// Bytes that exercise every byte value, CR/LF included.
fn binary_blob(n: usize) -> Vec<u8> {
    (0..n).map(|i| ((i * 7 + i / 251) % 256) as u8).collect()
}

/// The umask of this process (read without changing it).
fn process_umask() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("Umask:"))
        .expect("Umask line");
    u32::from_str_radix(line["Umask:".len()..].trim(), 8).unwrap()
}

fn mode_of(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

// ---------------------------------------------------------------- listings

#[test]
fn anonymous_list_of_root() {
    let srv = TestServer::start();
    fs::write(srv.root().join("a.txt"), b"hello\n").unwrap();
    fs::create_dir(srv.root().join("sub")).unwrap();
    let o = curl_v(&[&url(&srv, "/")]);
    curl_ok(&o);
    let cmds = sent_cmds(&o);
    assert!(cmds.contains(&"USER anonymous".to_string()), "{cmds:?}");
    assert!(cmds.contains(&"LIST".to_string()), "{cmds:?}");
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines[0].starts_with("-rw") && lines[0].ends_with(" a.txt"),
        "{out:?}"
    );
    assert!(
        lines[0].split_whitespace().nth(4) == Some("6"),
        "size column: {out:?}"
    );
    assert!(
        lines[1].starts_with('d') && lines[1].ends_with(" sub"),
        "{out:?}"
    );
}

#[test]
fn nlst_with_dash_l() {
    let srv = TestServer::start();
    for n in ["b.txt", "a.txt", "c.bin"] {
        fs::write(srv.root().join(n), b"x").unwrap();
    }
    fs::create_dir(srv.root().join("dir")).unwrap();
    let o = curl_v(&["-u", AUTH, "-l", &url(&srv, "/")]);
    curl_ok(&o);
    assert!(
        sent_cmds(&o).contains(&"NLST".to_string()),
        "{:?}",
        sent_cmds(&o)
    );
    // NLST is sent CRLF-terminated in ASCII; curl converts to LF locally.
    let out = String::from_utf8(o.stdout).unwrap();
    let names: Vec<&str> = out.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert_eq!(names, ["a.txt", "b.txt", "c.bin", "dir"]);
}

#[test]
fn list_of_subdirectory_and_missing_dir() {
    let srv = TestServer::start();
    fs::create_dir_all(srv.root().join("d1/d2")).unwrap();
    fs::write(srv.root().join("d1/inner.txt"), b"12345678").unwrap();
    let o = curl(&["-u", AUTH, &url(&srv, "/d1/")]);
    curl_ok(&o);
    let out = String::from_utf8(o.stdout).unwrap();
    assert_eq!(out.lines().count(), 2, "{out:?}");
    assert!(
        out.lines()
            .any(|l| l.ends_with(" inner.txt") && l.split_whitespace().nth(4) == Some("8")),
        "{out:?}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with('d') && l.ends_with(" d2")),
        "{out:?}"
    );
    // CWD into a missing directory is refused: curl exit 9 (remote access denied).
    let o = curl(&["-u", AUTH, &url(&srv, "/nope/")]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
}

// ---------------------------------------------------------- data channels

fn download_with(extra: &[&str], expect_cmd: &str, expect_reply: &str) {
    let srv = TestServer::start();
    let blob = binary_blob(300_000);
    fs::write(srv.root().join("blob.bin"), &blob).unwrap();
    let mut args = vec!["-u", AUTH];
    args.extend_from_slice(extra);
    let u = url(&srv, "/blob.bin");
    args.push(&u);
    let o = curl_v(&args);
    curl_ok(&o);
    let cmds = sent_cmds(&o);
    assert!(
        cmds.iter().any(|c| c.starts_with(expect_cmd)),
        "expected {expect_cmd}: {cmds:?}"
    );
    assert!(
        replies(&o).iter().any(|r| r.starts_with(expect_reply)),
        "expected {expect_reply}: {:?}",
        replies(&o)
    );
    assert!(cmds.contains(&"TYPE I".to_string()), "{cmds:?}");
    assert!(
        o.stdout == blob,
        "downloaded {} bytes, differ from the 300000 on disk",
        o.stdout.len()
    );
    assert!(
        replies(&o).iter().any(|r| r.starts_with("226")),
        "{:?}",
        replies(&o)
    );
}

#[test]
fn download_passive_epsv_default() {
    download_with(&[], "EPSV", "229 Entering extended passive mode (|||");
}

#[test]
fn download_passive_pasv() {
    download_with(
        &["--disable-epsv"],
        "PASV",
        "227 Entering passive mode (127,0,0,1,",
    );
}

#[test]
fn download_active_port() {
    download_with(
        &["-P", "127.0.0.1", "--disable-eprt"],
        "PORT 127,0,0,1,",
        "200 Active data connection established.",
    );
}

#[test]
fn download_active_eprt() {
    download_with(
        &["-P", "127.0.0.1"],
        "EPRT |1|127.0.0.1|",
        "200 Active data connection established.",
    );
}

fn upload_with(extra: &[&str], expect_cmd: &str) {
    let srv = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local.bin");
    let blob = binary_blob(500_000);
    fs::write(&local, &blob).unwrap();
    let mut args = vec!["-u", AUTH];
    args.extend_from_slice(extra);
    let l = local.to_str().unwrap().to_string();
    let u = url(&srv, "/up.bin");
    args.extend_from_slice(&["-T", &l, &u]);
    let o = curl_v(&args);
    curl_ok(&o);
    let cmds = sent_cmds(&o);
    assert!(
        cmds.iter().any(|c| c.starts_with(expect_cmd)),
        "expected {expect_cmd}: {cmds:?}"
    );
    assert!(cmds.contains(&"STOR up.bin".to_string()), "{cmds:?}");
    assert!(
        fs::read(srv.root().join("up.bin")).unwrap() == blob,
        "uploaded file differs"
    );
}

#[test]
fn upload_passive_epsv() {
    upload_with(&[], "EPSV");
}

#[test]
fn upload_passive_pasv() {
    upload_with(&["--disable-epsv"], "PASV");
}

#[test]
fn upload_active_port() {
    upload_with(&["-P", "127.0.0.1", "--disable-eprt"], "PORT 127,0,0,1,");
}

#[test]
fn upload_active_eprt() {
    upload_with(&["-P", "127.0.0.1"], "EPRT |1|127.0.0.1|");
}

#[test]
fn upload_overwrites_existing_file() {
    let srv = TestServer::start();
    fs::write(
        srv.root().join("f.txt"),
        b"a much longer original content\n",
    )
    .unwrap();
    let (_tmp, local) = local_file("f.txt", b"short\n");
    let o = curl(&[
        "-u",
        AUTH,
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/f.txt"),
    ]);
    curl_ok(&o);
    assert_eq!(fs::read(srv.root().join("f.txt")).unwrap(), b"short\n");
}

#[test]
fn upload_to_directory_url_uses_local_name() {
    let srv = TestServer::start();
    fs::create_dir(srv.root().join("sub")).unwrap();
    let (_tmp, local) = local_file("named.txt", b"named\n");
    let o = curl(&[
        "-u",
        AUTH,
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/sub/"),
    ]);
    curl_ok(&o);
    assert_eq!(
        fs::read(srv.root().join("sub/named.txt")).unwrap(),
        b"named\n"
    );
}

// ------------------------------------------------------------- resuming

#[test]
fn resume_upload_with_continue_at_dash() {
    let srv = TestServer::start();
    let blob = binary_blob(100_000);
    fs::write(srv.root().join("part.bin"), &blob[..30_000]).unwrap();
    let (_tmp, local) = local_file("part.bin", &blob);
    let o = curl_v(&[
        "-u",
        AUTH,
        "-C",
        "-",
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/part.bin"),
    ]);
    curl_ok(&o);
    let cmds = sent_cmds(&o);
    assert!(cmds.contains(&"SIZE part.bin".to_string()), "{cmds:?}");
    assert!(
        replies(&o).contains(&"213 30000".to_string()),
        "{:?}",
        replies(&o)
    );
    assert!(cmds.contains(&"APPE part.bin".to_string()), "{cmds:?}");
    let got = fs::read(srv.root().join("part.bin")).unwrap();
    assert_eq!(got.len(), blob.len());
    assert!(got == blob, "resumed upload differs");
}

#[test]
fn resume_download_with_offset() {
    let srv = TestServer::start();
    fs::write(srv.root().join("r.txt"), b"0123456789abcdef").unwrap();
    let o = curl_v(&["-u", AUTH, "-C", "5", &url(&srv, "/r.txt")]);
    curl_ok(&o);
    assert!(
        sent_cmds(&o).contains(&"REST 5".to_string()),
        "{:?}",
        sent_cmds(&o)
    );
    assert!(
        replies(&o).iter().any(|r| r.starts_with("350 ")),
        "{:?}",
        replies(&o)
    );
    assert_eq!(o.stdout, b"56789abcdef");
}

#[test]
fn resume_download_continue_at_dash_appends_local_file() {
    let srv = TestServer::start();
    let blob = binary_blob(200_000);
    fs::write(srv.root().join("big.bin"), &blob).unwrap();
    let (_tmp, local) = local_file("big.bin", &blob[..77_777]);
    let o = curl_v(&[
        "-u",
        AUTH,
        "-C",
        "-",
        "-o",
        local.to_str().unwrap(),
        &url(&srv, "/big.bin"),
    ]);
    curl_ok(&o);
    assert!(
        sent_cmds(&o).contains(&"REST 77777".to_string()),
        "{:?}",
        sent_cmds(&o)
    );
    assert!(
        fs::read(&local).unwrap() == blob,
        "resumed download differs"
    );
}

#[test]
fn append_upload() {
    let srv = TestServer::start();
    fs::write(srv.root().join("log.txt"), b"first\n").unwrap();
    let (_tmp, local) = local_file("more.txt", b"second\n");
    let o = curl_v(&[
        "-u",
        AUTH,
        "--append",
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/log.txt"),
    ]);
    curl_ok(&o);
    assert!(
        sent_cmds(&o).contains(&"APPE log.txt".to_string()),
        "{:?}",
        sent_cmds(&o)
    );
    assert_eq!(
        fs::read(srv.root().join("log.txt")).unwrap(),
        b"first\nsecond\n"
    );
    // Appending to a file that does not exist creates it.
    let o = curl(&[
        "-u",
        AUTH,
        "--append",
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/new.txt"),
    ]);
    curl_ok(&o);
    assert_eq!(fs::read(srv.root().join("new.txt")).unwrap(), b"second\n");
}

// ------------------------------------------------------- quote commands

#[test]
fn quote_site_chmod() {
    let srv = TestServer::start();
    let f = srv.root().join("f");
    fs::write(&f, b"x").unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).unwrap();
    let o = curl_v(&["-u", AUTH, "-Q", "SITE CHMOD 600 f", &url(&srv, "/")]);
    curl_ok(&o);
    assert!(
        replies(&o)
            .iter()
            .any(|r| r == "200 SITE CHMOD successful."),
        "{:?}",
        replies(&o)
    );
    assert_eq!(mode_of(&f), 0o600);
    let o = curl(&["-u", AUTH, "-Q", "SITE CHMOD 0755 f", &url(&srv, "/")]);
    curl_ok(&o);
    assert_eq!(mode_of(&f), 0o755);
    // Invalid mode: the quote command fails → curl exit 21 (quote error).
    let o = curl_v(&["-u", AUTH, "-Q", "SITE CHMOD 999 f", &url(&srv, "/")]);
    assert_eq!(o.status.code(), Some(21), "{}", stderr(&o));
    assert!(
        replies(&o).iter().any(|r| r.starts_with("501")),
        "{:?}",
        replies(&o)
    );
    assert_eq!(mode_of(&f), 0o755);
    // Anonymous lacks M.
    let o = curl(&["-Q", "SITE CHMOD 600 f", &url(&srv, "/")]);
    assert_eq!(o.status.code(), Some(21), "{}", stderr(&o));
    assert_eq!(mode_of(&f), 0o755);
}

#[test]
fn quote_dele() {
    let srv = TestServer::start();
    fs::write(srv.root().join("f"), b"x").unwrap();
    // Anonymous cannot delete.
    let o = curl(&["-Q", "DELE f", &url(&srv, "/")]);
    assert_eq!(o.status.code(), Some(21), "{}", stderr(&o));
    assert!(srv.root().join("f").exists());
    let o = curl_v(&["-u", AUTH, "-Q", "DELE f", &url(&srv, "/")]);
    curl_ok(&o);
    assert!(
        replies(&o).iter().any(|r| r == "250 File removed."),
        "{:?}",
        replies(&o)
    );
    assert!(!srv.root().join("f").exists());
    // Again: missing → 550 → exit 21, and the listing after it is not done.
    let o = curl_v(&["-u", AUTH, "-Q", "DELE f", &url(&srv, "/")]);
    assert_eq!(o.status.code(), Some(21), "{}", stderr(&o));
    assert!(
        replies(&o).iter().any(|r| r.starts_with("550")),
        "{:?}",
        replies(&o)
    );
}

#[test]
fn quote_rename() {
    let srv = TestServer::start();
    fs::write(srv.root().join("a"), b"content of a").unwrap();
    let o = curl_v(&["-u", AUTH, "-Q", "RNFR a", "-Q", "RNTO b", &url(&srv, "/")]);
    curl_ok(&o);
    let r = replies(&o);
    assert!(r.iter().any(|x| x.starts_with("350 ")), "{r:?}");
    assert!(r.iter().any(|x| x == "250 Renaming ok."), "{r:?}");
    assert!(!srv.root().join("a").exists());
    assert_eq!(fs::read(srv.root().join("b")).unwrap(), b"content of a");
    // The listing that followed shows the new name.
    let out = String::from_utf8(o.stdout).unwrap();
    assert!(out.lines().any(|l| l.ends_with(" b")), "{out:?}");
    // Renaming a missing file fails at RNFR.
    let o = curl(&[
        "-u",
        AUTH,
        "-Q",
        "RNFR zz",
        "-Q",
        "RNTO yy",
        &url(&srv, "/"),
    ]);
    assert_eq!(o.status.code(), Some(21), "{}", stderr(&o));
}

#[test]
fn quote_mkd_rmd_and_post_quote() {
    let srv = TestServer::start();
    fs::write(srv.root().join("f.txt"), b"payload").unwrap();
    // -Q before the transfer, "-Q -CMD" after it.
    let o = curl_v(&[
        "-u",
        AUTH,
        "-Q",
        "MKD newdir",
        "-Q",
        "-DELE f.txt",
        &url(&srv, "/f.txt"),
    ]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"payload");
    assert!(srv.root().join("newdir").is_dir());
    assert!(!srv.root().join("f.txt").exists());
    assert!(
        replies(&o)
            .iter()
            .any(|r| r == "257 \"/newdir\" directory created."),
        "{:?}",
        replies(&o)
    );
    let o = curl(&["-u", AUTH, "-Q", "RMD newdir", &url(&srv, "/")]);
    curl_ok(&o);
    assert!(!srv.root().join("newdir").exists());
}

#[test]
fn ftp_create_dirs_on_upload() {
    let srv = TestServer::start();
    let (_tmp, local) = local_file("deep.txt", b"deep\n");
    // Without --ftp-create-dirs the CWD fails: curl exit 9.
    let o = curl(&[
        "-u",
        AUTH,
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/x/y/z/deep.txt"),
    ]);
    assert_eq!(o.status.code(), Some(9), "{}", stderr(&o));
    assert!(!srv.root().join("x").exists());
    let o = curl_v(&[
        "-u",
        AUTH,
        "--ftp-create-dirs",
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/x/y/z/deep.txt"),
    ]);
    curl_ok(&o);
    let cmds = sent_cmds(&o);
    assert!(cmds.contains(&"MKD x".to_string()), "{cmds:?}");
    assert!(srv.root().join("x/y/z").is_dir());
    assert_eq!(
        fs::read(srv.root().join("x/y/z/deep.txt")).unwrap(),
        b"deep\n"
    );
    // Created with the process umask applied (as mkdir(2) / open(2) do).
    let umask = process_umask();
    assert_eq!(mode_of(&srv.root().join("x/y")), 0o777 & !umask);
    assert_eq!(mode_of(&srv.root().join("x/y/z/deep.txt")), 0o666 & !umask);
    // Second time the dirs already exist: still fine.
    let o = curl(&[
        "-u",
        AUTH,
        "--ftp-create-dirs",
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/x/y/other.txt"),
    ]);
    curl_ok(&o);
    assert_eq!(
        fs::read(srv.root().join("x/y/other.txt")).unwrap(),
        b"deep\n"
    );
}

// ---------------------------------------------------------------- times

#[test]
fn remote_time_via_mdtm() {
    let srv = TestServer::start();
    let p = srv.root().join("old.txt");
    fs::write(&p, b"old file\n").unwrap();
    // 2020-01-15 10:20:30 UTC
    let t = UNIX_EPOCH + Duration::from_secs(1_579_083_630);
    fs::File::options()
        .write(true)
        .open(&p)
        .unwrap()
        .set_modified(t)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("old.txt");
    let o = curl_v(&[
        "-u",
        AUTH,
        "-R",
        "-o",
        local.to_str().unwrap(),
        &url(&srv, "/old.txt"),
    ]);
    curl_ok(&o);
    assert!(
        sent_cmds(&o).contains(&"MDTM old.txt".to_string()),
        "{:?}",
        sent_cmds(&o)
    );
    assert!(
        replies(&o).contains(&"213 20200115102030".to_string()),
        "{:?}",
        replies(&o)
    );
    assert_eq!(fs::read(&local).unwrap(), b"old file\n");
    let got = fs::metadata(&local).unwrap().modified().unwrap();
    assert_eq!(
        got.duration_since(UNIX_EPOCH).unwrap().as_secs(),
        1_579_083_630
    );
    // --head: curl reports MDTM and SIZE as headers.
    let o = curl(&["-u", AUTH, "-I", &url(&srv, "/old.txt")]);
    curl_ok(&o);
    let head = String::from_utf8(o.stdout).unwrap();
    assert!(
        head.contains("Last-Modified: Wed, 15 Jan 2020 10:20:30 GMT"),
        "{head:?}"
    );
    assert!(head.contains("Content-Length: 9"), "{head:?}");
    // -z: only download if newer than a local date; the remote is older, so nothing comes.
    let o = curl(&[
        "-u",
        AUTH,
        "-z",
        "Mon, 01 Jan 2024 00:00:00 GMT",
        &url(&srv, "/old.txt"),
    ]);
    curl_ok(&o);
    assert!(o.stdout.is_empty(), "{:?}", o.stdout);
}

// ---------------------------------------------------------------- ASCII

#[test]
fn ascii_download_and_upload() {
    let srv = TestServer::start();
    // Mixed endings on disk: the server must send CRLF for every line and not
    // double an existing CR; curl turns CRLF back into LF, so a doubled CR
    // would show as a stray "\r".
    fs::write(srv.root().join("mixed.txt"), b"l1\nl2\r\nl3\n").unwrap();
    let o = curl_v(&["-u", AUTH, "-B", &url(&srv, "/mixed.txt")]);
    curl_ok(&o);
    assert!(
        sent_cmds(&o).contains(&"TYPE A".to_string()),
        "{:?}",
        sent_cmds(&o)
    );
    assert_eq!(o.stdout, b"l1\nl2\nl3\n");
    // ASCII upload with --crlf (curl sends CRLF line ends): stored with LF.
    let (_tmp, local) = local_file("lf.txt", b"one\ntwo\nthree\n");
    let o = curl_v(&[
        "-u",
        AUTH,
        "-B",
        "--crlf",
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/up.txt"),
    ]);
    curl_ok(&o);
    assert!(
        sent_cmds(&o).contains(&"TYPE A".to_string()),
        "{:?}",
        sent_cmds(&o)
    );
    assert_eq!(
        fs::read(srv.root().join("up.txt")).unwrap(),
        b"one\ntwo\nthree\n"
    );
}

// --------------------------------------------------------------- refusals

#[test]
fn refusals_give_nonzero_exit_codes() {
    let srv = TestServer::start();
    fs::write(srv.root().join("exists.txt"), b"x").unwrap();
    let (_tmp, local) = local_file("l.txt", b"local\n");
    let l = local.to_str().unwrap();

    // Missing file → 550 on RETR (after SIZE fails) → CURLE_REMOTE_FILE_NOT_FOUND.
    let o = curl(&["-u", AUTH, &url(&srv, "/missing.txt")]);
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    let o = curl(&[&url(&srv, "/missing.txt")]);
    assert_eq!(o.status.code(), Some(78), "{}", stderr(&o));
    // Wrong password → CURLE_LOGIN_DENIED.
    let o = curl(&["-u", "user:wrong", &url(&srv, "/")]);
    assert_eq!(o.status.code(), Some(67), "{}", stderr(&o));
    let o = curl(&["-u", "nobody:x", &url(&srv, "/exists.txt")]);
    assert_eq!(o.status.code(), Some(67), "{}", stderr(&o));
    // Anonymous upload, append → 550 → CURLE_UPLOAD_FAILED.
    let o = curl(&["-T", l, &url(&srv, "/anon.txt")]);
    assert_eq!(o.status.code(), Some(25), "{}", stderr(&o));
    assert!(!srv.root().join("anon.txt").exists());
    let o = curl(&["--append", "-T", l, &url(&srv, "/exists.txt")]);
    assert_eq!(o.status.code(), Some(25), "{}", stderr(&o));
    assert_eq!(fs::read(srv.root().join("exists.txt")).unwrap(), b"x");
    // Download beyond the end: REST past EOF → error, not success.
    let o = curl(&["-u", AUTH, "-C", "100", &url(&srv, "/exists.txt")]);
    assert_ne!(o.status.code(), Some(0), "{}", stderr(&o));
    // Paths that escape the home are confined: "/../../etc/passwd" resolves
    // inside the home (missing there).
    let o = curl(&[
        "-u",
        AUTH,
        "--path-as-is",
        &url(&srv, "/../../../../etc/passwd"),
    ]);
    assert_ne!(
        o.status.code(),
        Some(0),
        "escaped home: {:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    assert!(o.stdout.is_empty());
    // The success path for comparison.
    let o = curl(&[&url(&srv, "/exists.txt")]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"x");
}

#[test]
fn several_urls_in_one_session() {
    let srv = TestServer::start();
    fs::write(srv.root().join("one.txt"), b"1").unwrap();
    fs::create_dir(srv.root().join("d")).unwrap();
    fs::write(srv.root().join("d/two.txt"), b"22").unwrap();
    // curl reuses the control connection for the second URL.
    let o = curl_v(&[
        "-u",
        AUTH,
        &url(&srv, "/one.txt"),
        &url(&srv, "/d/two.txt"),
        &url(&srv, "/one.txt"),
    ]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"1221");
    assert_eq!(
        sent_cmds(&o)
            .iter()
            .filter(|c| c.starts_with("USER"))
            .count(),
        1,
        "{:?}",
        sent_cmds(&o)
    );
}

// ------------------------------------------------------------ big binary

const MIB: usize = 1 << 20;
const BIG_MIB: usize = 256;

/// Chunk `i` of the big file: a fixed 1 MiB pseudo-random buffer with the
/// chunk index stamped into its first 8 bytes and every 4 KiB, so misplaced
/// or duplicated chunks are detected.
fn big_chunk(base: &[u8], i: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(base);
    let tag = (i as u64).to_le_bytes();
    for off in (0..MIB).step_by(4096) {
        out[off..off + 8].copy_from_slice(&tag);
    }
}

fn big_base() -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..MIB)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// Compare a reader against the expected pattern, streaming.
fn compare_stream(mut r: impl Read, base: &[u8], what: &str) {
    let mut expect = Vec::with_capacity(MIB);
    let mut got = vec![0u8; MIB];
    for i in 0..BIG_MIB {
        big_chunk(base, i, &mut expect);
        let mut filled = 0;
        while filled < MIB {
            let n = r.read(&mut got[filled..]).unwrap();
            assert!(
                n > 0,
                "{what}: short by {} bytes at chunk {i}",
                MIB - filled
            );
            filled += n;
        }
        if got != expect {
            let pos = got.iter().zip(&expect).position(|(a, b)| a != b).unwrap();
            panic!("{what}: first difference at byte {}", i * MIB + pos);
        }
    }
    let mut extra = [0u8; 16];
    assert_eq!(
        r.read(&mut extra).unwrap(),
        0,
        "{what}: longer than {BIG_MIB} MiB"
    );
}

#[test]
fn big_binary_round_trip_256mib() {
    let srv = TestServer::start();
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("big.bin");
    let base = big_base();
    {
        let mut f = std::io::BufWriter::with_capacity(MIB, fs::File::create(&local).unwrap());
        let mut chunk = Vec::with_capacity(MIB);
        for i in 0..BIG_MIB {
            big_chunk(&base, i, &mut chunk);
            f.write_all(&chunk).unwrap();
        }
        f.flush().unwrap();
    }
    let o = curl_v(&[
        "-u",
        AUTH,
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/big.bin"),
    ]);
    curl_ok(&o);
    assert!(
        sent_cmds(&o).contains(&"TYPE I".to_string()),
        "{:?}",
        sent_cmds(&o)
    );
    fs::remove_file(&local).unwrap();
    let on_disk = srv.root().join("big.bin");
    assert_eq!(
        fs::metadata(&on_disk).unwrap().len(),
        (BIG_MIB * MIB) as u64
    );
    compare_stream(
        std::io::BufReader::with_capacity(MIB, fs::File::open(&on_disk).unwrap()),
        &base,
        "server copy",
    );

    // Download to curl's stdout, compared while it streams.
    let mut child = Command::new(CURL)
        .args([
            "-sS",
            "--max-time",
            "120",
            "-u",
            AUTH,
            &url(&srv, "/big.bin"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn curl");
    let stdout = child.stdout.take().unwrap();
    compare_stream(stdout, &base, "download");
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SIZE as curl sees it.
    let o = curl(&["-u", AUTH, "-I", &url(&srv, "/big.bin")]);
    curl_ok(&o);
    let head = String::from_utf8(o.stdout).unwrap();
    assert!(
        head.contains(&format!("Content-Length: {}", BIG_MIB * MIB)),
        "{head:?}"
    );
}

// ------------------------------------------------- interrupted / variants

#[test]
fn ranged_download_of_large_file_aborts_cleanly() {
    let srv = TestServer::start();
    let base = big_base();
    {
        let mut f = std::io::BufWriter::new(fs::File::create(srv.root().join("big.bin")).unwrap());
        let mut chunk = Vec::new();
        for i in 0..64 {
            big_chunk(&base, i, &mut chunk);
            f.write_all(&chunk).unwrap();
        }
    }
    fs::write(srv.root().join("small.txt"), b"small").unwrap();
    // curl closes the data connection after the range and sends ABOR; the
    // server answers 426 + 226 (or 226 + 225 if it had already finished).
    let o = curl_v(&["-u", AUTH, "-r", "1000-1099", &url(&srv, "/big.bin")]);
    curl_ok(&o);
    assert_eq!(o.stdout, &base[1000..1100]);
    assert!(
        sent_cmds(&o).contains(&"ABOR".to_string()),
        "{:?}",
        sent_cmds(&o)
    );
    let r = replies(&o);
    let after_retr: Vec<&String> = r
        .iter()
        .skip_while(|x| !x.starts_with("125") && !x.starts_with("150"))
        .skip(1)
        .collect();
    assert!(
        after_retr.len() >= 2
            && ((after_retr[0].starts_with("426") && after_retr[1].starts_with("226"))
                // The server noticed the closed data connection first: the
                // transfer already ended with 426, so ABOR finds nothing.
                || (after_retr[0].starts_with("426") && after_retr[1].starts_with("225"))
                || (after_retr[0].starts_with("226") && after_retr[1].starts_with("225"))),
        "{r:?}"
    );
    // The server keeps serving.
    let o = curl(&["-u", AUTH, &url(&srv, "/small.txt")]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"small");
}

#[test]
fn upload_from_stdin() {
    let srv = TestServer::start();
    let blob = binary_blob(1_500_000);
    let mut child = Command::new(CURL)
        .args([
            "-sS",
            "--max-time",
            "60",
            "-u",
            AUTH,
            "-T",
            "-",
            &url(&srv, "/stdin.bin"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let b2 = blob.clone();
    let w = std::thread::spawn(move || stdin.write_all(&b2).unwrap());
    let out = child.wait_with_output().unwrap();
    w.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(fs::read(srv.root().join("stdin.bin")).unwrap() == blob);
}

#[test]
fn ftp_methods_singlecwd_nocwd() {
    let srv = TestServer::start();
    fs::create_dir_all(srv.root().join("a/b")).unwrap();
    fs::write(srv.root().join("a/b/f.txt"), b"deep file").unwrap();
    for (m, expect) in [
        ("singlecwd", "CWD a/b"),
        ("nocwd", "RETR a/b/f.txt"),
        ("multicwd", "CWD b"),
    ] {
        let o = curl_v(&["-u", AUTH, "--ftp-method", m, &url(&srv, "/a/b/f.txt")]);
        curl_ok(&o);
        assert_eq!(o.stdout, b"deep file", "{m}");
        assert!(
            sent_cmds(&o).iter().any(|c| c == expect),
            "{m}: {:?}",
            sent_cmds(&o)
        );
    }
    // Absolute path (%2F) confined to the home: /a/b/f.txt is inside it.
    let o = curl(&["-u", AUTH, &url(&srv, "/%2Fa/b/f.txt")]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"deep file");
    let o = curl(&["-u", AUTH, &url(&srv, "/%2Fetc/passwd")]);
    assert_ne!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
}

#[test]
fn utf8_and_space_file_names() {
    let srv = TestServer::start();
    fs::write(srv.root().join("café ü.txt"), b"utf8 name").unwrap();
    let o = curl(&["-u", AUTH, &url(&srv, "/caf%C3%A9%20%C3%BC.txt")]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"utf8 name");
    let (_tmp, local) = local_file("x", b"up");
    let o = curl(&[
        "-u",
        AUTH,
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/%E6%97%A5%E6%9C%AC%20x.txt"),
    ]);
    curl_ok(&o);
    assert_eq!(fs::read(srv.root().join("日本 x.txt")).unwrap(), b"up");
    let o = curl(&["-u", AUTH, "-l", &url(&srv, "/")]);
    curl_ok(&o);
    let out = String::from_utf8(o.stdout).unwrap();
    let names: Vec<&str> = out.lines().collect();
    assert_eq!(names, ["café ü.txt", "日本 x.txt"]);
}

#[test]
fn custom_list_command_mlsd() {
    let srv = TestServer::start();
    fs::write(srv.root().join("f.bin"), [0u8; 321]).unwrap();
    fs::create_dir(srv.root().join("d")).unwrap();
    let o = curl_v(&["-u", AUTH, "-X", "MLSD", &url(&srv, "/")]);
    curl_ok(&o);
    assert!(sent_cmds(&o).contains(&"MLSD".to_string()));
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(
        lines[0].contains("type=dir;") && lines[0].ends_with("; d"),
        "{out:?}"
    );
    assert!(
        lines[1].contains("size=321;")
            && lines[1].contains("type=file;")
            && lines[1].ends_with("; f.bin"),
        "{out:?}"
    );
}

#[test]
fn optional_tls_falls_back_and_required_tls_fails() {
    // The server has no AUTH TLS: --ssl (try) continues in clear text,
    // --ssl-reqd must fail (exit 64) without sending the password.
    let srv = TestServer::start();
    fs::write(srv.root().join("f"), b"plain").unwrap();
    let o = curl_v(&["-u", AUTH, "--ssl", &url(&srv, "/f")]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"plain");
    let o = curl_v(&["-u", AUTH, "--ssl-reqd", &url(&srv, "/f")]);
    assert_eq!(o.status.code(), Some(64), "{}", stderr(&o));
    assert!(
        !sent_cmds(&o).iter().any(|c| c.starts_with("PASS")),
        "{:?}",
        sent_cmds(&o)
    );
}

#[test]
fn download_without_sendfile_and_small_buffers() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.use_sendfile = false;
            h.dtp_handler.ac_out_buffer_size = 1000;
            h.dtp_handler.ac_in_buffer_size = 777;
        },
    );
    let blob = binary_blob(3_000_001);
    fs::write(srv.root().join("b.bin"), &blob).unwrap();
    let o = curl(&["-u", AUTH, &url(&srv, "/b.bin")]);
    curl_ok(&o);
    assert!(
        o.stdout == blob,
        "download differs ({} bytes)",
        o.stdout.len()
    );
    let o = curl(&["-u", AUTH, "-C", "1234567", &url(&srv, "/b.bin")]);
    curl_ok(&o);
    assert!(o.stdout == blob[1_234_567..], "resumed download differs");
    let (tmp, local) = local_file("u.bin", &blob);
    let o = curl(&[
        "-u",
        AUTH,
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/u.bin"),
    ]);
    curl_ok(&o);
    assert!(
        fs::read(srv.root().join("u.bin")).unwrap() == blob,
        "upload differs"
    );
    // ASCII both ways with tiny buffers: CRLF pairs split across reads.
    let text: Vec<u8> = (0..20_000)
        .flat_map(|i| format!("line {i}\n").into_bytes())
        .collect();
    fs::write(srv.root().join("t.txt"), &text).unwrap();
    let o = curl(&["-u", AUTH, "-B", &url(&srv, "/t.txt")]);
    curl_ok(&o);
    assert!(
        o.stdout == text,
        "ASCII download with small buffers differs"
    );
    let l2 = tmp.path().join("t.txt");
    fs::write(&l2, &text).unwrap();
    let o = curl(&[
        "-u",
        AUTH,
        "-B",
        "--crlf",
        "-T",
        l2.to_str().unwrap(),
        &url(&srv, "/t2.txt"),
    ]);
    curl_ok(&o);
    assert!(
        fs::read(srv.root().join("t2.txt")).unwrap() == text,
        "ASCII upload with small buffers differs"
    );
}

#[test]
fn masqueraded_pasv_address_is_skipped_by_curl() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| h.masquerade_address = Some("203.0.113.7".parse().unwrap()),
    );
    fs::write(srv.root().join("f"), b"nat").unwrap();
    let o = curl_v(&["-u", AUTH, "--disable-epsv", &url(&srv, "/f")]);
    curl_ok(&o);
    assert_eq!(o.stdout, b"nat");
    assert!(
        replies(&o)
            .iter()
            .any(|r| r.starts_with("227 Entering passive mode (203,0,113,7,")),
        "{:?}",
        replies(&o)
    );
}

/// `-w` that makes curl report, on stderr after everything else, the time
/// from its start to the beginning of the transfer phase (login and
/// negotiation done) and to the end.
const TRANSFER_TIMES: &str = "%{stderr}TIMES %{time_pretransfer} %{time_total}\n";

/// The transfer phase by curl's own clock (`time_total - time_pretransfer`,
/// from `-w TRANSFER_TIMES`): no process start, connect or login in it.
fn transfer_time(o: &Output) -> Duration {
    let err = stderr(o);
    let times: Vec<f64> = err
        .lines()
        .find_map(|l| l.strip_prefix("TIMES "))
        .unwrap_or_else(|| panic!("no transfer times from curl: {err}"))
        .split_whitespace()
        .map(|t| t.parse().expect("seconds"))
        .collect();
    Duration::from_secs_f64((times[1] - times[0]).max(0.0))
}

// The throttled transfers: 1 MiB at 512 KiB/s is about 2 s. "Throttled" is
// a lower bound on the whole curl run (a delay that really happened, load
// only adds to it); "not too slow" is an upper bound on the transfer phase
// only, by curl's clock, of 20 s: 10x the expected 2 s.

#[test]
fn throttled_download() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.dtp_handler.write_limit = 512 * 1024);
    let blob = binary_blob(1024 * 1024);
    fs::write(srv.root().join("t.bin"), &blob).unwrap();
    let t = std::time::Instant::now();
    let o = curl(&["-u", AUTH, "-w", TRANSFER_TIMES, &url(&srv, "/t.bin")]);
    let el = t.elapsed();
    curl_ok(&o);
    assert!(o.stdout == blob);
    let xfer = transfer_time(&o);
    eprintln!("throttled download: transfer {xfer:?} of {el:?}");
    assert!(el >= Duration::from_millis(1000), "not throttled: {el:?}");
    assert!(xfer < Duration::from_secs(20), "too slow: {xfer:?}");
}

#[test]
fn throttled_upload() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.dtp_handler.read_limit = 512 * 1024);
    let blob = binary_blob(1024 * 1024);
    let (_tmp, local) = local_file("t.bin", &blob);
    let t = std::time::Instant::now();
    let o = curl(&[
        "-u",
        AUTH,
        "-w",
        TRANSFER_TIMES,
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/t.bin"),
    ]);
    let el = t.elapsed();
    curl_ok(&o);
    assert!(fs::read(srv.root().join("t.bin")).unwrap() == blob);
    let xfer = transfer_time(&o);
    eprintln!("throttled upload: transfer {xfer:?} of {el:?}");
    assert!(el >= Duration::from_millis(1000), "not throttled: {el:?}");
    assert!(xfer < Duration::from_secs(20), "too slow: {xfer:?}");
}

#[test]
fn empty_file_up_and_down() {
    let srv = TestServer::start();
    let (_tmp, local) = local_file("empty", b"");
    for (i, extra) in [vec![], vec!["--disable-epsv"], vec!["-P", "127.0.0.1"]]
        .into_iter()
        .enumerate()
    {
        let name = format!("/e{i}.txt");
        fs::write(srv.root().join(&name[1..]), b"old content").unwrap();
        let mut args = vec!["-u", AUTH];
        args.extend(extra.iter().copied());
        let u = url(&srv, &name);
        let mut up = args.clone();
        up.extend(["-T", local.to_str().unwrap(), u.as_str()]);
        let o = curl(&up);
        curl_ok(&o);
        assert_eq!(
            fs::read(srv.root().join(&name[1..])).unwrap(),
            b"",
            "{extra:?}"
        );
        args.push(&u);
        let o = curl(&args);
        curl_ok(&o);
        assert!(o.stdout.is_empty(), "{extra:?}");
    }
}

#[test]
fn symlink_out_of_home_is_refused() {
    let srv = TestServer::start();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret.txt"), b"secret").unwrap();
    std::os::unix::fs::symlink(outside.path(), srv.root().join("escape")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        srv.root().join("link.txt"),
    )
    .unwrap();
    for (path, code) in [("/escape/secret.txt", 9), ("/link.txt", 78)] {
        for method in ["multicwd", "nocwd"] {
            let o = curl(&["-u", AUTH, "--ftp-method", method, &url(&srv, path)]);
            assert!(
                o.stdout.is_empty(),
                "{path} {method}: leaked {:?}",
                o.stdout
            );
            if method == "multicwd" {
                assert_eq!(o.status.code(), Some(code), "{path}: {}", stderr(&o));
            } else {
                assert_ne!(o.status.code(), Some(0), "{path} nocwd");
            }
        }
    }
    let (_tmp, local) = local_file("x", b"x");
    let o = curl(&[
        "-u",
        AUTH,
        "--ftp-method",
        "nocwd",
        "-T",
        local.to_str().unwrap(),
        &url(&srv, "/escape/planted.txt"),
    ]);
    assert_ne!(o.status.code(), Some(0));
    assert!(!outside.path().join("planted.txt").exists());
}
