//! Checksum commands (the `hash` feature; ftpdlib extension): HASH with
//! OPTS HASH and RANG (draft-bryan-ftpext-hash), XCRC / XMD5 / XSHA1 /
//! XSHA256 / XSHA512, computed inside the loop a round budget at a time.
//! Expected digests come from `sha256sum`/`md5sum` and Python's zlib.crc32,
//! not from the crates the server uses.
mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

const BIG: u64 = 256 << 20;

/// Fill `path` with `len` pseudo-random bytes (xorshift; not zeros, so a
/// digest of the wrong range cannot match by accident).
fn write_random(path: &Path, len: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        for word in chunk.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes()[..word.len()]);
        }
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    f.flush().unwrap();
}

/// The first word of `tool path` (sha256sum, md5sum...).
fn sum_tool(tool: &str, path: &Path) -> String {
    let out = Command::new(tool).arg(path).output().expect(tool);
    assert!(out.status.success(), "{tool} failed");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// CRC32 of `path[start..end]` by Python's zlib, as 8 lower-case hex digits.
fn python_crc32(path: &Path, start: u64, end: u64) -> String {
    let script = "import sys,zlib\n\
        p,s,e=sys.argv[1],int(sys.argv[2]),int(sys.argv[3])\n\
        f=open(p,'rb'); f.seek(s); c=0; left=e-s\n\
        while left>0:\n    b=f.read(min(left,1<<20))\n    if not b: break\n    c=zlib.crc32(b,c); left-=len(b)\n\
        print('%08x' % (c & 0xffffffff))\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(path)
        .arg(start.to_string())
        .arg(end.to_string())
        .output()
        .expect("python3");
    assert!(out.status.success(), "python3 zlib failed");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// One 256 MiB file and its expected digests, made once for the tests that
/// need it (in a directory each server links into its home).
struct Big {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    sha256: String,
    crc32: String,
}

fn big() -> &'static Big {
    static BIG_FILE: OnceLock<Big> = OnceLock::new();
    BIG_FILE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.bin");
        write_random(&path, BIG);
        let sha256 = sum_tool("sha256sum", &path);
        let crc32 = python_crc32(&path, 0, BIG);
        Big {
            _dir: dir,
            path,
            sha256,
            crc32,
        }
    })
}

/// A server whose home holds a hard link to the big file.
fn server_with_big() -> TestServer {
    let srv = TestServer::start();
    std::fs::hard_link(&big().path, srv.root().join("big.bin"))
        .or_else(|_| std::fs::copy(&big().path, srv.root().join("big.bin")).map(|_| ()))
        .unwrap();
    srv
}

/// The text after the code of a one-line reply.
fn text(reply: &str) -> &str {
    reply.get(4..).unwrap_or("").trim_end()
}

#[test]
fn hash_xsha256_and_xcrc_of_a_256_mib_file_match_sha256sum_and_zlib() {
    let srv = server_with_big();
    let b = big();
    let mut c = srv.login();
    let reply = c.expect("HASH big.bin", 213);
    assert_eq!(
        text(&reply),
        format!("SHA-256 0-{BIG} {} big.bin", b.sha256),
        "draft-bryan-ftpext-hash 213 form"
    );
    let reply = c.expect("XSHA256 big.bin", 250);
    assert_eq!(text(&reply), b.sha256);
    let reply = c.expect("XCRC big.bin", 250);
    assert_eq!(text(&reply), b.crc32);
    c.expect("OPTS HASH CRC32", 200);
    let reply = c.expect("HASH big.bin", 213);
    assert_eq!(text(&reply), format!("CRC32 0-{BIG} {} big.bin", b.crc32));
}

#[test]
fn a_noop_from_another_client_is_answered_while_a_hash_runs() {
    let srv = server_with_big();
    let mut hasher = srv.login();
    let mut other = srv.login();
    hasher.send_raw(b"XSHA256 big.bin\r\n");
    hasher.reader.get_ref().set_nonblocking(true).unwrap();
    let mut answered_before = 0;
    let mut latencies = Vec::new();
    let mut peek = [0u8; 1];
    // Bounded: at most 100000 NOOPs, or until the hash reply arrives.
    for _ in 0..100_000 {
        let hash_reply_in = match hasher.reader.get_ref().peek(&mut peek) {
            Ok(n) => n > 0,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) => panic!("hash connection: {e}"),
        };
        if hash_reply_in {
            break;
        }
        let t = Instant::now();
        other.expect("NOOP", 200);
        latencies.push(t.elapsed());
        answered_before += 1;
    }
    hasher.reader.get_ref().set_nonblocking(false).unwrap();
    let reply = hasher.read_reply();
    assert_eq!(code_of(&reply), 250, "{reply:?}");
    assert_eq!(text(&reply), big().sha256);
    latencies.sort();
    let median = latencies.get(latencies.len() / 2).copied();
    eprintln!(
        "NOOPs answered during the hash: {answered_before}, median latency {median:?} (debug build; \
         benches/hash_noop.sh measures release)"
    );
    // The first NOOP may have been read before the hash started; the ones
    // after it were answered while it ran: the loop yields between rounds.
    assert!(
        answered_before >= 3,
        "only {answered_before} NOOPs answered before the hash reply"
    );
    // Generous (the release target is 50 ms): a stalled loop would hold a
    // NOOP for the whole hash.
    assert!(
        median.unwrap() < Duration::from_secs(1),
        "median {median:?}"
    );
}

#[test]
fn abor_and_quit_during_a_hash_cancel_it_with_426() {
    let srv = server_with_big();
    let mut c = srv.login();
    c.send_raw(b"HASH big.bin\r\nABOR\r\n");
    assert_eq!(c.read_reply(), "426 Checksum aborted.\r\n");
    assert_eq!(code_of(&c.read_reply()), 225);
    c.expect("NOOP", 200);
    c.send_raw(b"XMD5 big.bin\r\nQUIT\r\n");
    assert_eq!(c.read_reply(), "426 Checksum aborted.\r\n");
    assert_eq!(code_of(&c.read_reply()), 221);
}

#[test]
fn ranges_of_xcrc_and_rang_hash_cover_the_asked_bytes() {
    let srv = TestServer::start();
    let path = srv.root().join("small.bin");
    write_random(&path, 100_000);
    let mut c = srv.login();
    let reply = c.expect("XCRC small.bin 1000 5000", 250);
    assert_eq!(text(&reply), python_crc32(&path, 1000, 5000));
    let reply = c.expect("XCRC \"small.bin\" 7", 250);
    assert_eq!(text(&reply), python_crc32(&path, 0, 7));
    // An end past the file is the end of the file.
    let reply = c.expect("XCRC small.bin 99990 200000", 250);
    assert_eq!(text(&reply), python_crc32(&path, 99990, 100_000));
    c.expect("XCRC small.bin 200000 300000", 501);
    c.expect("OPTS HASH crc32", 200);
    c.expect("RANG 10 19", 350);
    let reply = c.expect("HASH small.bin", 213);
    let want = python_crc32(&path, 10, 20);
    assert_eq!(text(&reply), format!("CRC32 10-20 {want} small.bin"));
    // RANG applies to one HASH only.
    let reply = c.expect("HASH small.bin", 213);
    assert!(text(&reply).starts_with("CRC32 0-100000 "), "{reply:?}");
    c.expect("RANG 5 1", 501);
    c.expect("RANG 1 0", 350);
    let reply = c.expect("XMD5 small.bin", 250);
    assert_eq!(text(&reply), sum_tool("md5sum", &path));
    let reply = c.expect("XSHA1 small.bin", 250);
    assert_eq!(text(&reply), sum_tool("sha1sum", &path));
    let reply = c.expect("XSHA512 small.bin", 250);
    assert_eq!(text(&reply), sum_tool("sha512sum", &path));
    // A file whose name ends in a number is that file, not an offset.
    std::fs::write(srv.root().join("log 2"), b"abc").unwrap();
    let reply = c.expect("XCRC log 2", 250);
    assert_eq!(text(&reply), "352441c2");
}

#[test]
fn opts_hash_selects_the_algorithm_feat_stars_it_and_help_lists_the_commands() {
    let srv = TestServer::start();
    let mut c = srv.login();
    let feat = c.expect("FEAT", 211);
    assert!(
        feat.contains("\r\n HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32\r\n"),
        "{feat}"
    );
    for x in ["XCRC", "XMD5", "XSHA1", "XSHA256", "XSHA512"] {
        assert!(feat.contains(&format!("\r\n {x}\r\n")), "{x} in {feat}");
    }
    assert_eq!(c.cmd("OPTS HASH"), "200 SHA-256\r\n");
    assert_eq!(c.cmd("OPTS HASH md5"), "200 MD5\r\n");
    assert_eq!(c.cmd("OPTS HASH SHA-3"), "501 Unknown algorithm.\r\n");
    assert_eq!(c.cmd("OPTS HASH"), "200 MD5\r\n");
    let feat = c.expect("FEAT", 211);
    assert!(
        feat.contains(" HASH SHA-256;SHA-512;SHA-1;MD5*;CRC32\r\n"),
        "{feat}"
    );
    let help = c.expect("HELP", 214);
    for name in ["HASH", "RANG", "XCRC", "XSHA256"] {
        assert!(help.contains(name), "{name} in {help}");
    }
    c.expect("HELP HASH", 214);
}

#[test]
fn checksums_need_the_r_letter_a_file_and_a_path_inside_the_home() {
    let srv = TestServer::start_with(
        |a, home| a.add_user_with_perm("lister", "pw", home, "el").unwrap(),
        |_| {},
    );
    std::fs::write(srv.root().join("f.txt"), b"abc").unwrap();
    std::fs::create_dir(srv.root().join("sub")).unwrap();
    let mut c = srv.login();
    c.expect("HASH sub", 550);
    c.expect("XCRC sub", 550);
    c.expect("HASH nope.txt", 550);
    c.expect("XSHA1 ../../../../etc/passwd", 550);
    c.expect("HASH", 501);
    let mut anon = srv.client();
    anon.expect("HASH f.txt", 530);
    let mut lister = srv.client();
    lister.login("lister", "pw");
    assert_eq!(lister.cmd("HASH f.txt"), "550 Not enough privileges.\r\n");
    lister.expect("XCRC f.txt", 550);
}
