#![cfg(feature = "tls")]
//! FTPS session resumption with a rustls client (issue 15): rustls keeps up
//! to 8 TLS 1.3 tickets per server and uses each once, as RFC 8446 §C.4
//! recommends, so every data connection needs a fresh ticket from the
//! server. These tests run a real rustls client with its default session
//! cache (`ClientSessionMemoryCache`) against an in-process server that
//! requires data connections to resume the control connection's session
//! (`require_tls_session_reuse`, the default): many transfers in one
//! session, uploads by a client that never reads its data connections
//! (their tickets must not cost the upload's tail), and the port-stealing
//! defence (no ticket for a connection that did not resume).

mod common;
use common::gate::shared;
use common::*;

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;

use ftpdlib::TlsFtpHandler;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, HandshakeKind, SignatureScheme,
    StreamOwned,
};

// ------------------------------------------------------------ certificates

/// An explicit-FTPS server with `tweak` applied to its TLS settings.
fn tls_server(tweak: impl FnOnce(&mut TlsFtpHandler)) -> TestServer {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    fs::write(&cert, &common::self_signed_pem().0).unwrap();
    fs::write(&key, &common::self_signed_pem().1).unwrap();
    let mut tls = TlsFtpHandler::new(&cert, Some(&key)).expect("TlsFtpHandler::new");
    tweak(&mut tls);
    TestServer::start_with(|_, _| {}, move |h| h.enable_tls(tls))
}

// ------------------------------------------------------------ the client

/// Accepts the test's self-signed certificate; handshake signatures are
/// still checked against its key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A rustls client configuration with the default resumption settings: an
/// in-memory cache of up to 8 TLS 1.3 tickets per server, each used once.
fn client_config() -> Arc<ClientConfig> {
    client_config_for(&rustls::version::TLS13)
}

/// `client_config` for one protocol version.
fn client_config_for(version: &'static rustls::SupportedProtocolVersion) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut cfg = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[version])
        .expect("protocol version")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"ftp".to_vec()];
    Arc::new(cfg)
}

type Tls = StreamOwned<ClientConnection, TcpStream>;

/// Client side of a TLS handshake on `tcp`.
fn handshake(cfg: &Arc<ClientConfig>, mut tcp: TcpStream) -> io::Result<Tls> {
    let name = ServerName::try_from("localhost").expect("server name");
    let mut conn = ClientConnection::new(Arc::clone(cfg), name).map_err(io::Error::other)?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp)?;
    }
    Ok(StreamOwned::new(conn, tcp))
}

/// When the data connection's TLS handshake is made relative to the
/// transfer command: the server may learn the job before or after the
/// handshake ends.
#[derive(Clone, Copy, Debug)]
enum Order {
    /// Handshake, then send the command.
    HandshakeFirst,
    /// Send the command and read its 125/150 (the server has started the
    /// transfer), then handshake.
    CommandFirst,
}

/// How an upload ends on the data connection.
#[derive(Clone, Copy, Debug)]
enum UploadEnd {
    /// close_notify, TCP half-close, read to the server's close_notify
    /// (what ftpbench's `finish_upload` does).
    ReadToEof,
    /// close_notify and close, reading nothing (a client that only writes).
    WriteAndClose,
    /// Close the socket without close_notify, reading nothing.
    BareClose,
}

/// A control connection in TLS: AUTH TLS, login, PBSZ 0, PROT P, TYPE I.
struct Ftps {
    ctl: BufReader<Tls>,
    cfg: Arc<ClientConfig>,
    /// Data connections opened so far, and how many of them resumed.
    opened: usize,
    resumed: usize,
    /// The server refuses data connections that do not resume (its
    /// `require_tls_session_reuse`).
    refuses_full: bool,
}

impl Ftps {
    fn connect(srv: &TestServer, cfg: &Arc<ClientConfig>) -> Ftps {
        let mut c = srv.client();
        c.expect("AUTH TLS", 234);
        let tcp = c.reader.into_inner();
        let tls = handshake(cfg, tcp).expect("control handshake");
        assert!(tls.conn.protocol_version().is_some());
        let mut f = Ftps {
            ctl: BufReader::new(tls),
            cfg: Arc::clone(cfg),
            opened: 0,
            resumed: 0,
            refuses_full: true,
        };
        f.expect(&format!("USER {USER}"), 331);
        f.expect(&format!("PASS {PASSWD}"), 230);
        f.expect("PBSZ 0", 200);
        f.expect("PROT P", 200);
        f.expect("TYPE I", 200);
        f
    }

    fn send(&mut self, line: &str) {
        let s = self.ctl.get_mut();
        s.write_all(format!("{line}\r\n").as_bytes()).expect("send");
        s.flush().expect("flush");
    }

    fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            if self.ctl.read_line(&mut line).expect("read reply") == 0 {
                panic!("control connection closed; read so far {all:?}");
            }
            all.push_str(&line);
            let b = line.as_bytes();
            if b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit) && b[3] == b' ' {
                return all;
            }
        }
    }

    fn expect(&mut self, line: &str, code: u16) -> String {
        self.send(line);
        let r = self.reply();
        assert_eq!(code_of(&r), code, "{line:?} got {r:?}");
        r
    }

    /// PASV, connect, and the TLS handshake with `command` sent in `order`;
    /// the 125/150 has been read. `Err` is the reply when the server refused
    /// the connection (the handshake may still have completed on our side):
    /// one that did not resume, when `refuses_full`.
    fn open(&mut self, command: &str, order: Order) -> Result<Tls, String> {
        let addr = pasv_addr(&self.expect("PASV", 227));
        let tcp = TcpStream::connect(addr).expect("data connect");
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        tcp.set_write_timeout(Some(PATIENCE)).unwrap();
        let cfg = Arc::clone(&self.cfg);
        let tls = match order {
            Order::HandshakeFirst => {
                let tls = handshake(&cfg, tcp).expect("data handshake");
                if self.refuses_full && tls.conn.handshake_kind() != Some(HandshakeKind::Resumed) {
                    // The server drops it before the command: no reply.
                    self.opened += 1;
                    return Err("(none: full TLS handshake, not resumed)".into());
                }
                self.send(command);
                let prelim = self.reply();
                assert!(
                    matches!(code_of(&prelim), 125 | 150),
                    "{command:?} got {prelim:?}"
                );
                tls
            }
            Order::CommandFirst => {
                self.send(command);
                let prelim = self.reply();
                assert!(
                    matches!(code_of(&prelim), 125 | 150),
                    "{command:?} got {prelim:?}"
                );
                handshake(&cfg, tcp).expect("data handshake")
            }
        };
        self.opened += 1;
        if tls.conn.handshake_kind() == Some(HandshakeKind::Resumed) {
            self.resumed += 1;
            Ok(tls)
        } else if !self.refuses_full {
            Ok(tls)
        } else {
            // The server refuses it: drop it and return the final reply.
            drop(tls);
            Err(self.reply())
        }
    }

    /// A download or listing, read to its end; asserts 226 and that the
    /// data connection resumed the session.
    fn download(&mut self, command: &str, order: Order) -> Vec<u8> {
        let n = self.opened;
        let mut tls = self
            .open(command, order)
            .unwrap_or_else(|r| panic!("data connection {n} ({command}, {order:?}) refused: {r}"));
        let mut data = Vec::new();
        tls.read_to_end(&mut data).expect("read data");
        let r = self.reply();
        assert_eq!(code_of(&r), 226, "{command:?} ended with {r:?}");
        data
    }

    /// STOR `name`; `Ok` with the final reply when the data connection
    /// resumed, `Err` with it when the server refused the connection.
    fn try_upload(
        &mut self,
        name: &str,
        bytes: &[u8],
        order: Order,
        end: UploadEnd,
    ) -> Result<String, String> {
        let mut tls = self.open(&format!("STOR {name}"), order)?;
        tls.write_all(bytes).expect("send upload");
        tls.flush().expect("flush upload");
        match end {
            UploadEnd::ReadToEof => {
                tls.conn.send_close_notify();
                tls.flush().expect("close_notify");
                tls.sock.shutdown(Shutdown::Write).expect("half-close");
                let mut sink = Vec::new();
                // Ends with the server's close_notify; the session ticket
                // the server sent is taken on the way.
                tls.read_to_end(&mut sink).expect("read to the end");
                assert!(sink.is_empty(), "upload connection sent data: {sink:?}");
            }
            UploadEnd::WriteAndClose => {
                tls.conn.send_close_notify();
                tls.flush().expect("close_notify");
            }
            UploadEnd::BareClose => {}
        }
        drop(tls);
        Ok(self.reply())
    }

    /// An upload that must succeed: 226, and the file on disk is `bytes`.
    fn upload(&mut self, srv: &TestServer, name: &str, bytes: &[u8], order: Order, end: UploadEnd) {
        let n = self.opened;
        let r = self
            .try_upload(name, bytes, order, end)
            .unwrap_or_else(|r| {
                panic!("data connection {n} (STOR {name}, {order:?}, {end:?}) refused: {r}")
            });
        assert_eq!(code_of(&r), 226, "STOR {name} ({end:?}) ended with {r:?}");
        let got = fs::read(srv.root().join(name)).expect("uploaded file");
        assert_eq!(got.len(), bytes.len(), "size of {name} ({end:?})");
        assert!(got == bytes, "content of {name} ({end:?}) differs");
    }
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("/dev/urandom");
    buf
}

const ORDERS: [Order; 2] = [Order::HandshakeFirst, Order::CommandFirst];

// ------------------------------------------------------------------ tests

/// One session, many transfers: downloads, uploads that read to the end,
/// listings and uploads that never read, in both orders of handshake and
/// command. Every data connection resumes the control connection's session
/// and every byte is checked. Before data connections issued tickets,
/// the third data connection was refused (522).
#[test]
fn rustls_client_resumes_every_data_connection_of_one_session() {
    let _g = shared();
    let srv = tls_server(|_| {});
    let files: Vec<Vec<u8>> = (0..5).map(|i| random_bytes(100_000 + i * 77_777)).collect();
    for (i, f) in files.iter().enumerate() {
        fs::write(srv.root().join(format!("r{i}.bin")), f).unwrap();
    }
    let cfg = client_config();
    let mut f = Ftps::connect(&srv, &cfg);

    for (i, want) in files.iter().enumerate() {
        let got = f.download(&format!("RETR r{i}.bin"), ORDERS[i % 2]);
        assert!(
            got == *want,
            "RETR r{i}.bin: {} bytes, want {}",
            got.len(),
            want.len()
        );
    }
    for i in 0..5 {
        let data = random_bytes(200_000 + i * 55_555);
        f.upload(
            &srv,
            &format!("u{i}.bin"),
            &data,
            ORDERS[i % 2],
            UploadEnd::ReadToEof,
        );
    }
    // Mixed: uploads that never read (each uses a ticket and gets none
    // back: 4 of the control connection's 8) among downloads, listings and
    // uploads that read to the end (each gives one back).
    for round in 0..4 {
        let order = ORDERS[round % 2];
        let name = format!("m{round}.bin");
        let data = random_bytes(300_000 + round * 1_000);
        let end = [UploadEnd::WriteAndClose, UploadEnd::BareClose][round / 2];
        f.upload(&srv, &name, &data, order, end);
        let back = f.download(&format!("RETR {name}"), order);
        assert!(back == data, "RETR {name} after its upload");
        let listing = String::from_utf8(f.download("NLST", order)).expect("utf-8 listing");
        assert!(
            listing.lines().any(|l| l == name),
            "NLST lacks {name}: {listing:?}"
        );
        f.upload(
            &srv,
            &format!("n{round}.bin"),
            &data[..1000],
            order,
            UploadEnd::ReadToEof,
        );
        let list = String::from_utf8(f.download("LIST", order)).expect("utf-8 listing");
        assert!(list.contains(&format!("n{round}.bin")), "LIST: {list:?}");
    }
    assert_eq!(f.resumed, f.opened, "every data connection resumed");
    assert_eq!(f.opened, 10 + 4 * 5);
    f.expect("QUIT", 221);
}

/// A client that only writes to its upload data connections and closes
/// them (it never reads them, so never gets their tickets): large uploads
/// arrive whole, and it has the control connection's 8 tickets to resume
/// with. Its 9th upload has none left: the server refuses it (the limit
/// documented at `require_tls_session_reuse`), and with the check off
/// such a client goes on uploading.
#[test]
fn write_and_close_uploads_arrive_whole_and_the_ninth_is_refused() {
    let _g = shared();
    let srv = tls_server(|_| {});
    let cfg = client_config();
    let mut f = Ftps::connect(&srv, &cfg);
    let data = random_bytes(8 << 20);
    for i in 0..8 {
        let end = if i % 2 == 0 {
            UploadEnd::WriteAndClose
        } else {
            UploadEnd::BareClose
        };
        let mut mine = data.clone();
        mine[i] ^= 0xff; // every file its own
        f.upload(&srv, &format!("big{i}.bin"), &mine, ORDERS[i % 2], end);
    }
    assert_eq!((f.opened, f.resumed), (8, 8));
    match f.try_upload(
        "big8.bin",
        &data,
        Order::CommandFirst,
        UploadEnd::WriteAndClose,
    ) {
        Ok(r) => panic!("9th upload without a ticket was accepted: {r:?}"),
        Err(r) => {
            assert_eq!(code_of(&r), 522, "{r:?}");
            assert!(r.contains("resume"), "{r:?}");
        }
    }
    let stored = fs::metadata(srv.root().join("big8.bin")).map_or(0, |m| m.len());
    assert_eq!(stored, 0, "the refused upload wrote nothing");
    f.expect("NOOP", 200);
    drop(f);

    // The workaround: with the check off, the same client keeps uploading
    // (on full handshakes once its tickets are gone).
    let srv = tls_server(|t| t.require_tls_session_reuse = false);
    let cfg = client_config();
    let mut f = Ftps::connect(&srv, &cfg);
    f.refuses_full = false;
    for i in 0..11 {
        let mut mine = data[..1 << 20].to_vec();
        mine[0] = i as u8;
        let name = format!("w{i}.bin");
        f.upload(&srv, &name, &mine, ORDERS[i % 2], UploadEnd::WriteAndClose);
    }
    assert_eq!(f.opened, 11);
    assert_eq!(
        f.resumed, 8,
        "the first 8 resumed, the rest were full handshakes"
    );
    f.expect("QUIT", 221);
}

/// Port stealing: a client that is not the session's connects to its
/// passive port. With tickets of another control connection it does not
/// resume; with none it makes a full handshake; with TLS 1.2 (which issues
/// its ticket inside the handshake) it is refused in the handshake; each
/// way it is refused, and it is given no ticket or session of this session
/// on the way (reading all the server sends), so its next try is refused
/// too. The session itself goes on resuming.
/// A client that comes back resumes its TLS session on the new control
/// connection (no full handshake, no RSA signature), and that session's
/// data connections resume throughout; the binding of data connections to
/// their own session is checked by the next test's stranger.
#[test]
fn a_returning_client_resumes_on_its_new_control_connection() {
    let _g = shared();
    let srv = tls_server(|_| {});
    fs::write(srv.root().join("a.txt"), b"a\n").unwrap();
    let cfg = client_config();
    let mut first = Ftps::connect(&srv, &cfg);
    assert_eq!(
        first.ctl.get_ref().conn.handshake_kind(),
        Some(HandshakeKind::Full)
    );
    first.expect("QUIT", 221);
    drop(first);
    let mut again = Ftps::connect(&srv, &cfg);
    assert_eq!(
        again.ctl.get_ref().conn.handshake_kind(),
        Some(HandshakeKind::Resumed),
        "the second control connection did not resume the first's session"
    );
    for order in ORDERS.into_iter().cycle().take(4) {
        assert_eq!(again.download("RETR a.txt", order), b"a\n");
    }
    assert_eq!(again.resumed, again.opened);
    // Another client's first connection is a full handshake.
    let other = Ftps::connect(&srv, &client_config());
    assert_eq!(
        other.ctl.get_ref().conn.handshake_kind(),
        Some(HandshakeKind::Full)
    );
}

#[test]
fn another_client_on_the_data_port_is_refused_and_gets_no_ticket() {
    let _g = shared();
    let srv = tls_server(|_| {});
    fs::write(srv.root().join("s.txt"), b"secret\n").unwrap();
    let other_cfg = client_config();
    let other = Ftps::connect(&srv, &other_cfg); // other_cfg holds its tickets
    let cfg = client_config();
    let mut victim = Ftps::connect(&srv, &cfg);
    for (thief, what, other_version) in [
        (Arc::clone(&other_cfg), "another session's ticket", false),
        (client_config(), "no ticket, TLS 1.3", false),
        (
            client_config_for(&rustls::version::TLS12),
            "no session, TLS 1.2",
            true,
        ),
    ] {
        steal_twice(&mut victim, &thief, what, other_version);
    }
    assert_eq!(
        victim.download("RETR s.txt", Order::CommandFirst),
        b"secret\n"
    );
    assert_eq!(victim.resumed, victim.opened);
    drop(other);
}

/// A stranger with `thief` (described by `what`) takes the victim's next
/// passive port twice while the victim RETRs `s.txt`; both times the
/// victim gets 522 and the stranger no data, and the stranger does not
/// resume the victim's session the second time. `refused_in_handshake`:
/// the stranger's TLS version is not the session's, its handshake fails.
fn steal_twice(
    victim: &mut Ftps,
    thief: &Arc<ClientConfig>,
    what: &str,
    refused_in_handshake: bool,
) {
    for attempt in 0..2 {
        let addr = pasv_addr(&victim.expect("PASV", 227));
        victim.send("RETR s.txt");
        let tcp = TcpStream::connect(addr).expect("thief connects");
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        // The server has the command and the connection.
        let prelim = victim.reply();
        assert!(matches!(code_of(&prelim), 125 | 150), "{prelim:?}");
        match handshake(thief, tcp) {
            Ok(mut tls) => {
                assert_ne!(
                    tls.conn.handshake_kind(),
                    Some(HandshakeKind::Resumed),
                    "{what}, attempt {attempt}: resumed the victim's session"
                );
                let mut got = Vec::new();
                // Everything the server sends (a ticket would be taken
                // here); it closes without close_notify, hence the error.
                let _ = tls.read_to_end(&mut got);
                assert!(got.is_empty(), "{what}: thief got data {got:?}");
            }
            // Another TLS version than the session's: refused in the
            // handshake, before any ticket or session ID is issued.
            Err(e) => assert!(
                refused_in_handshake,
                "{what}, attempt {attempt}: handshake failed: {e}"
            ),
        }
        let r = victim.reply();
        assert_eq!(code_of(&r), 522, "{what}, attempt {attempt}: {r:?}");
    }
}

/// The same on a TLS 1.2 session, whose data connections resume with its
/// ticket key but get no new ticket or session ID (a TLS 1.2 handshake
/// issues them before the server knows whether it resumed): downloads and
/// uploads of the session resume throughout, and a stranger that made a
/// full TLS 1.2 handshake on one passive port does not resume on the next.
#[test]
fn tls12_session_data_connections_resume_and_a_stranger_gets_no_session() {
    let _g = shared();
    let srv = tls_server(|_| {});
    fs::write(srv.root().join("s.txt"), b"secret\n").unwrap();
    let cfg = client_config_for(&rustls::version::TLS12);
    let mut victim = Ftps::connect(&srv, &cfg);
    let data = random_bytes(1 << 20);
    for (i, end) in [
        UploadEnd::ReadToEof,
        UploadEnd::WriteAndClose,
        UploadEnd::BareClose,
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("t{i}.bin");
        victim.upload(&srv, &name, &data, ORDERS[i % 2], end);
        assert!(victim.download(&format!("RETR {name}"), ORDERS[i % 2]) == data);
    }
    steal_twice(
        &mut victim,
        &client_config_for(&rustls::version::TLS12),
        "TLS 1.2, no session",
        false,
    );
    steal_twice(&mut victim, &client_config(), "TLS 1.3", true);
    assert_eq!(
        victim.download("RETR s.txt", Order::HandshakeFirst),
        b"secret\n"
    );
    assert_eq!(victim.resumed, victim.opened);
    assert_eq!(victim.opened, 7);
    victim.expect("QUIT", 221);
}
