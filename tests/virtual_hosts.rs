//! Virtual hosts (RFC 7151 HOST, issue 16): `HOST a.example` and `HOST
//! b.example` reach different users, homes, permissions and banners; no
//! HOST is the default site; HOST after USER is 503, an unknown host 504;
//! with TLS, SNI picks each site's certificate (and, without HOST, the
//! site). The command line's `--host-site`/`--host-user` too.

mod common;
use common::gate::shared;
use common::*;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ftpdlib::{DummyAuthorizer, FtpHandler, VirtualHost};

/// The homes of the two sites, made next to the default home.
struct Homes {
    _dir: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
}

fn homes() -> Homes {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    fs::create_dir(&a).unwrap();
    fs::create_dir(&b).unwrap();
    fs::write(a.join("a-only.txt"), b"site a\n").unwrap();
    fs::write(b.join("b-only.txt"), b"site b\n").unwrap();
    Homes { _dir: dir, a, b }
}

/// Site a.example: alice/apw read-only, anonymous; b.example: bob/bpw
/// with write access; the default site is the test server's user/12345.
fn add_sites(h: &mut FtpHandler, a: &Path, b: &Path) {
    let mut auth_a = DummyAuthorizer::new();
    auth_a.add_user_with_perm("alice", "apw", a, "elr").unwrap();
    auth_a.add_anonymous(a).unwrap();
    let mut site_a = VirtualHost::new(auth_a);
    site_a.banner = Some("Welcome to site A.".into());
    h.add_site("a.example", site_a);
    let mut auth_b = DummyAuthorizer::new();
    auth_b
        .add_user_with_perm("bob", "bpw", b, "elradfmw")
        .unwrap();
    let mut site_b = VirtualHost::new(auth_b);
    site_b.banner = Some("Welcome to site B.".into());
    h.add_site("B.Example.", site_b);
}

fn server(homes: &Homes) -> TestServer {
    let (a, b) = (homes.a.clone(), homes.b.clone());
    TestServer::start_with(|_, _| {}, move |h| add_sites(h, &a, &b))
}

fn nlst(c: &mut Client) -> String {
    let (data, reply) = c.retrieve("NLST");
    assert_eq!(code_of(&reply), 226, "{reply}");
    String::from_utf8(data).unwrap()
}

#[test]
fn host_a_and_host_b_reach_different_homes_and_banners() {
    let _g = shared();
    let h = homes();
    let srv = server(&h);

    let mut c = srv.client();
    let reply = c.expect("HOST a.example", 220);
    assert!(reply.contains("Welcome to site A."), "{reply}");
    c.login("alice", "apw");
    assert!(nlst(&mut c).contains("a-only.txt"));
    // Site A's permissions: alice is read-only there.
    c.expect("MKD new", 550);
    c.expect("QUIT", 221);

    let mut c = srv.client();
    let reply = c.expect("HOST b.example", 220);
    assert!(reply.contains("Welcome to site B."), "{reply}");
    c.login("bob", "bpw");
    assert!(nlst(&mut c).contains("b-only.txt"));
    c.expect("MKD new", 257);
    assert!(h.b.join("new").is_dir());
    assert!(!h.a.join("new").exists());

    // Each site knows only its own users.
    let mut c = srv.client();
    c.expect("HOST b.example", 220);
    c.expect("USER alice", 331);
    c.expect("PASS apw", 530);
    let mut c = srv.client();
    c.expect("HOST A.EXAMPLE.", 220);
    c.expect("USER user", 331);
    c.expect("PASS 12345", 530);
    c.expect("USER anonymous", 331);
    c.expect("PASS x@", 230);
    assert!(nlst(&mut c).contains("a-only.txt"));
}

#[test]
fn without_host_the_default_site() {
    let _g = shared();
    let h = homes();
    let srv = server(&h);
    let mut c = srv.client();
    assert!(!c.greeting.contains("Welcome to site"), "{}", c.greeting);
    c.expect("USER alice", 331);
    c.expect("PASS apw", 530);
    c.login(USER, PASSWD);
    let names = nlst(&mut c);
    assert!(!names.contains("a-only.txt") && !names.contains("b-only.txt"));
}

#[test]
fn host_replies_per_rfc7151() {
    let _g = shared();
    let h = homes();
    let srv = server(&h);
    let mut c = srv.client();
    let feat = c.expect("FEAT", 211);
    assert!(feat.contains("\r\n HOST\r\n"), "{feat}");
    c.expect("HELP HOST", 214);
    c.expect("HOST", 501);
    c.expect("HOST bad_name!", 501);
    c.expect("HOST c.example", 504);
    // A second HOST before USER changes the site again.
    c.expect("HOST a.example", 220);
    c.expect("HOST b.example", 220);
    // After USER (and after login) HOST is out of sequence.
    c.expect("USER bob", 331);
    c.expect("HOST a.example", 503);
    c.expect("PASS bpw", 230);
    c.expect("HOST a.example", 503);
    // REIN goes back to a fresh connection's site: the default.
    c.expect("REIN", 220);
    c.expect("USER bob", 331);
    c.expect("PASS bpw", 530);
    c.expect("HOST b.example", 220);
    c.login("bob", "bpw");
}

#[test]
fn without_sites_host_is_an_unknown_command() {
    let _g = shared();
    let srv = TestServer::start();
    let mut c = srv.client();
    c.expect("HOST a.example", 500);
    assert!(!c.expect("FEAT", 211).contains(" HOST"));
}

#[test]
fn cli_host_site_and_host_user() {
    let _g = shared();
    let h = homes();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["-i", "127.0.0.1", "-p", &port.to_string(), "--no-anonymous"])
        .arg(format!(
            "--host-site=a.example:{}:Site A: welcome",
            h.a.display()
        ))
        .arg(format!("--host-site=b.example:{}", h.b.display()))
        .arg(format!(
            "--host-user=b.example:bob:bpw:{}:elr",
            h.b.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn ftpdlib");
    assert!(wait_listening(port), "ftpdlib did not start");
    let mut c = Client::connect(format!("127.0.0.1:{port}").parse().unwrap());
    assert!(c.expect("HOST a.example", 220).contains("Site A: welcome"));
    c.expect("USER bob", 331);
    c.expect("PASS bpw", 530);
    let mut c = Client::connect(format!("127.0.0.1:{port}").parse().unwrap());
    c.expect("HOST b.example", 220);
    c.login("bob", "bpw");
    assert!(nlst(&mut c).contains("b-only.txt"));
    stop_child(&mut child);
    // A user of a site that was not declared is a startup error.
    let out = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .args(["-p", "0", "--host-user=c.example:x:y:/:elr"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no --host-site c.example"));
}

/// SNI: each site's certificate, the default one without SNI (or for an
/// unknown name), HOST's before AUTH without SNI; SNI alone chooses the
/// site, and a HOST naming another one is refused.
#[cfg(feature = "tls")]
#[test]
fn ftps_with_sni_presents_each_sites_certificate() {
    use common::certs::CertDir;
    let _g = shared();
    let certs = CertDir::new();
    certs.self_signed("default", "localhost");
    certs.self_signed("a", "a.example");
    certs.self_signed("b", "b.example");
    let h = homes();
    let (a, b) = (h.a.clone(), h.b.clone());
    let dir = certs.dir.path().to_path_buf();
    let srv = TestServer::start_with(
        |_, _| {},
        move |handler| {
            let tls = ftpdlib::TlsFtpHandler::new(
                dir.join("default.pem"),
                Some(&dir.join("default.key")),
            )
            .unwrap();
            // Sites added before and after enable_tls both get their certificate.
            let mut auth_a = DummyAuthorizer::new();
            auth_a
                .add_user_with_perm("alice", "apw", &a, "elr")
                .unwrap();
            let mut site_a = VirtualHost::new(auth_a);
            site_a
                .set_certificate(dir.join("a.pem"), Some(&dir.join("a.key")))
                .unwrap();
            handler.add_site("a.example", site_a);
            handler.enable_tls(tls);
            let mut site_b = VirtualHost::new(DummyAuthorizer::new());
            site_b
                .set_certificate(dir.join("b.pem"), Some(&dir.join("b.key")))
                .unwrap();
            handler.add_site("b.example", site_b);
            let _ = b;
        },
    );
    for case in ["sni", "sni_selects_site"] {
        let out = Command::new("python3")
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/py/ftps_tlsx.py"))
            .arg(srv.addr.ip().to_string())
            .arg(srv.addr.port().to_string())
            .arg(srv.root())
            .arg(certs.dir.path())
            .arg(case)
            .stdin(Stdio::null())
            .output()
            .expect("run python3");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success() && stdout.lines().last() == Some(&format!("PASS {case}")[..]),
            "case {case} failed\n--- stdout\n{stdout}--- stderr\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprint!("{stdout}");
    }
    // OpenSSL's own client, `s_client -starttls ftp -servername`.
    for (name, cn) in [("a.example", "a.example"), ("b.example", "b.example")] {
        let out = Command::new("openssl")
            .args([
                "s_client",
                "-starttls",
                "ftp",
                "-servername",
                name,
                "-connect",
            ])
            .arg(srv.addr.to_string())
            .stdin(Stdio::null())
            .output()
            .expect("run openssl s_client");
        let text = String::from_utf8_lossy(&out.stdout);
        let subject = text
            .lines()
            .find(|l| l.starts_with("subject="))
            .unwrap_or_else(|| panic!("no subject in s_client output:\n{text}"));
        assert!(
            subject.ends_with(&format!("CN = {cn}")),
            "{name}: {subject}"
        );
    }
}
