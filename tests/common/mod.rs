//! Test harness: an ftpdlib server on 127.0.0.1 port 0 in a thread with a
//! temp-dir home, and a tiny transcript-style FTP client over a real socket.
#![allow(dead_code)]

pub mod capture;
pub mod certs;
pub mod curl;
pub mod gate;

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer, StopHandle};

/// How long a test waits for something the server does within milliseconds
/// (a reply, a log record, a file growing, a listener going away) before it
/// calls it missing. Far beyond any expected latency, even on a loaded
/// 2-core CI machine, so it only fires on a real hang; the socket read
/// timeouts of the harness use it too.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Poll `cond` until it holds; panics with `what` after [`PATIENCE`]. The
/// deterministic replacement of a `sleep` used as synchronization: it waits
/// for the state the test needs, however slow the machine is.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: still not the case after {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The length of the file at `path`, 0 while it does not exist.
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

/// The test user with every permission (as pyftpdlib's tests).
pub const USER: &str = "user";
/// Its password.
pub const PASSWD: &str = "12345";

/// A running server; stopped and joined on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    pub home: tempfile::TempDir,
    stop: StopHandle,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// user/12345 with `elradfmwMT` and read-only anonymous on a temp home.
    pub fn start() -> TestServer {
        TestServer::start_with(|_, _| {}, |_| {})
    }

    /// Like `start`, letting the test adjust the authorizer's home-based
    /// setup (`auth`, called with the home) and the handler / server
    /// settings (`configure`) before serving.
    pub fn start_with(
        auth: impl FnOnce(&mut DummyAuthorizer, &Path) + Send + 'static,
        configure: impl FnOnce(&mut FtpHandler) + Send + 'static,
    ) -> TestServer {
        TestServer::start_full(auth, configure, |_| {})
    }

    /// Full control, including `FtpServer` settings (limits).
    pub fn start_full(
        auth: impl FnOnce(&mut DummyAuthorizer, &Path) + Send + 'static,
        configure: impl FnOnce(&mut FtpHandler) + Send + 'static,
        server_cfg: impl FnOnce(&mut FtpServer) + Send + 'static,
    ) -> TestServer {
        let home = tempfile::tempdir().expect("temp home");
        let root: PathBuf = home.path().to_path_buf();
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            let mut a = DummyAuthorizer::new();
            a.add_user_with_perm(USER, PASSWD, &root, "elradfmwMT")
                .expect("add_user");
            a.add_anonymous(&root).expect("add_anonymous");
            auth(&mut a, &root);
            let mut h = FtpHandler::new(a);
            h.auth_failed_timeout = Duration::from_millis(1);
            configure(&mut h);
            let mut server = FtpServer::bind(("127.0.0.1", 0), h).expect("bind");
            server.handle_exit = false;
            server_cfg(&mut server);
            quiet_default_logging();
            tx.send((server.address(), server.stop_handle()))
                .expect("send addr");
            server.serve_forever().expect("serve_forever");
        });
        let (addr, stop) = rx.recv().expect("server started");
        TestServer {
            addr,
            home,
            stop,
            thread: Some(thread),
        }
    }

    /// The home directory on disk.
    pub fn root(&self) -> &Path {
        self.home.path()
    }

    /// A connected client that has read the greeting.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// A client logged in as user/12345.
    pub fn login(&self) -> Client {
        let mut c = self.client();
        c.login(USER, PASSWD);
        c
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A transcript-style client: send a line, read one (possibly multi-line)
/// reply.
pub struct Client {
    pub reader: BufReader<TcpStream>,
    pub greeting: String,
}

impl Client {
    /// Connect and read the 220 greeting.
    pub fn connect(addr: SocketAddr) -> Client {
        Client::from_stream(TcpStream::connect(addr).expect("connect"))
    }

    /// A client on a connected socket (e.g. from [`connect_from`]); reads
    /// the greeting.
    pub fn from_stream(sock: TcpStream) -> Client {
        // A reply that takes longer than this is missing (see PATIENCE).
        sock.set_read_timeout(Some(PATIENCE)).expect("timeout");
        let mut c = Client {
            reader: BufReader::new(sock),
            greeting: String::new(),
        };
        c.greeting = c.read_reply();
        c
    }

    /// Send raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("send");
    }

    /// Send one command line (CRLF added) and read the reply.
    pub fn cmd(&mut self, line: &str) -> String {
        self.send_raw(format!("{line}\r\n").as_bytes());
        self.read_reply()
    }

    /// Send a command and assert the reply code; returns the whole reply.
    pub fn expect(&mut self, line: &str, code: u16) -> String {
        let reply = self.cmd(line);
        assert_eq!(code_of(&reply), code, "{line:?} got {reply:?}");
        reply
    }

    /// Read one reply, following RFC 959 multi-line form.
    pub fn read_reply(&mut self) -> String {
        let mut all = String::new();
        let mut first = String::new();
        self.reader.read_line(&mut first).expect("read reply");
        all.push_str(&first);
        if first.len() >= 4 && first.as_bytes()[3] == b'-' {
            let end = format!("{} ", &first[..3]);
            loop {
                let mut line = String::new();
                if self.reader.read_line(&mut line).expect("read reply") == 0 {
                    break;
                }
                all.push_str(&line);
                if line.starts_with(&end) {
                    break;
                }
            }
        }
        all
    }

    /// USER + PASS, asserting 331 and 230.
    pub fn login(&mut self, user: &str, password: &str) {
        self.expect(&format!("USER {user}"), 331);
        self.expect(&format!("PASS {password}"), 230);
    }

    /// PASV, then connect to the announced port.
    pub fn pasv(&mut self) -> TcpStream {
        let reply = self.expect("PASV", 227);
        let s = TcpStream::connect(pasv_addr(&reply)).expect("data connect");
        s.set_read_timeout(Some(PATIENCE)).expect("timeout");
        s
    }

    /// Wait until the server has accepted the data connection of the last
    /// PASV/EPSV: STAT reports it open with no transfer. For tests whose
    /// next command must find the connection already open (a 125, or ABOR
    /// on an idle connected channel); the client's connect returning does
    /// not mean the server's event loop has accepted it yet.
    pub fn wait_data_connected(&mut self) {
        eventually("the server accepting the data connection", || {
            self.expect("STAT", 211)
                .contains(" Data connection open, no transfer.")
        });
    }

    /// Run a transfer command over PASV and return the data received and
    /// the final reply.
    pub fn retrieve(&mut self, line: &str) -> (Vec<u8>, String) {
        let mut data = self.pasv();
        let prelim = self.cmd(line);
        assert!(
            matches!(code_of(&prelim), 125 | 150),
            "{line:?} got {prelim:?}"
        );
        let mut buf = Vec::new();
        data.read_to_end(&mut buf).expect("read data");
        (buf, self.read_reply())
    }

    /// Upload `bytes` with a transfer command over PASV; returns the final
    /// reply.
    pub fn store(&mut self, line: &str, bytes: &[u8]) -> String {
        let mut data = self.pasv();
        let prelim = self.cmd(line);
        assert!(
            matches!(code_of(&prelim), 125 | 150),
            "{line:?} got {prelim:?}"
        );
        data.write_all(bytes).expect("send data");
        drop(data);
        self.read_reply()
    }
}

/// The numeric code of a reply.
pub fn code_of(reply: &str) -> u16 {
    reply.get(..3).and_then(|c| c.parse().ok()).unwrap_or(0)
}

/// The local (client-side) port of a client's control connection: the port
/// in the server's session prefix.
pub fn local_port(c: &Client) -> u16 {
    c.reader.get_ref().local_addr().unwrap().port()
}

/// The home directory with every symlink resolved, as the server reports
/// real paths.
pub fn real_root(srv: &TestServer) -> PathBuf {
    std::fs::canonicalize(srv.root()).unwrap()
}

/// A file of `n` bytes in the server's home.
pub fn make_file(srv: &TestServer, name: &str, n: usize) {
    let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
    std::fs::write(srv.root().join(name), data).unwrap();
}

/// Start RETR over PASV, read `n` bytes, and return the data socket.
pub fn start_retr(c: &mut Client, name: &str, n: usize) -> TcpStream {
    let mut data = c.pasv();
    let prelim = c.cmd(&format!("RETR {name}"));
    assert!(matches!(code_of(&prelim), 125 | 150), "{prelim:?}");
    let mut buf = vec![0u8; n];
    data.read_exact(&mut buf).expect("first bytes of RETR");
    data
}

/// ASCII-mode RETR on POSIX: CR before every LF not preceded by one.
pub fn to_crlf(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() * 2);
    let mut prev = 0u8;
    for &b in data {
        if b == b'\n' && prev != b'\r' {
            out.push(b'\r');
        }
        out.push(b);
        prev = b;
    }
    out
}

/// The IPv4 address of `addr` (panics on IPv6).
pub fn ipv4(addr: SocketAddr) -> Ipv4Addr {
    match addr {
        SocketAddr::V4(a) => *a.ip(),
        SocketAddr::V6(_) => panic!("ipv4 only"),
    }
}

/// The `h1,h2,h3,h4,p1,p2` form of an IPv4 address (PORT argument).
pub fn port_arg(addr: SocketAddr) -> String {
    let o = ipv4(addr).octets();
    format!(
        "{},{},{},{},{},{}",
        o[0],
        o[1],
        o[2],
        o[3],
        addr.port() >> 8,
        addr.port() & 0xff
    )
}

/// The address announced by a 227 reply.
pub fn pasv_addr(reply: &str) -> SocketAddr {
    let inside = reply
        .split('(')
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap_or_else(|| panic!("227 format: {reply:?}"));
    let n: Vec<u16> = inside
        .split(',')
        .map(|x| x.trim().parse().expect("number"))
        .collect();
    assert_eq!(n.len(), 6, "{reply:?}");
    format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5])
        .parse()
        .unwrap()
}

/// A `sockaddr_in` for `ip:port`.
pub fn sockaddr_in(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes(ip.octets()),
        },
        sin_zero: [0; 8],
    }
}

/// A TCP connection to `dst` from the local address `src` (bind before
/// connect, which std does not offer).
pub fn connect_from(src: Ipv4Addr, dst: SocketAddr) -> io::Result<TcpStream> {
    // SAFETY: a fresh socket is wrapped at once so it is closed on every
    // path; the sockaddr structs outlive the calls.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let sock = TcpStream::from_raw_fd(fd);
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        let from = sockaddr_in(src, 0);
        if libc::bind(fd, (&from as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        let to = sockaddr_in(ipv4(dst), dst.port());
        if libc::connect(fd, (&to as *const libc::sockaddr_in).cast(), len) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(sock)
    }
}

/// The seven required `Authorizer` methods of a test authorizer that wraps
/// a `DummyAuthorizer` in its `inner` field, all handed to it; the test's
/// `impl Authorizer` then writes only what it changes.
#[macro_export]
macro_rules! delegate_authorizer_to_inner {
    () => {
        fn validate_authentication(
            &self,
            user: &str,
            pass: &str,
        ) -> Result<(), ftpdlib::AuthenticationFailed> {
            self.inner.validate_authentication(user, pass)
        }
        fn has_user(&self, user: &str) -> bool {
            self.inner.has_user(user)
        }
        fn has_perm(
            &self,
            user: &str,
            perm: ftpdlib::Perm,
            path: Option<&std::path::Path>,
        ) -> bool {
            self.inner.has_perm(user, perm, path)
        }
        fn get_perms(&self, user: &str) -> ftpdlib::Perms {
            self.inner.get_perms(user)
        }
        fn get_home_dir(&self, user: &str) -> Result<std::path::PathBuf, ftpdlib::AuthorizerError> {
            self.inner.get_home_dir(user)
        }
        fn get_msg_login(&self, user: &str) -> String {
            self.inner.get_msg_login(user)
        }
        fn get_msg_quit(&self, user: &str) -> String {
            self.inner.get_msg_quit(user)
        }
    };
}

/// `serve_forever` installs pyftpdlib's default logging (INFO on stderr)
/// when no logger is set: in a test binary without its own logger, install
/// it first with every stream off, so in-process servers stay quiet as
/// before. A binary that installs a logger (`capture`) does so before it
/// starts a server, and keeps it.
pub fn quiet_default_logging() {
    if ftpdlib::log::install_default() {
        for target in [
            ftpdlib::log::LOG,
            ftpdlib::log::LOGLINE,
            ftpdlib::log::LOGERROR,
            "",
        ] {
            let _ = ftpdlib::log::set_stream_level(target, ftpdlib::log::LevelFilter::Off);
        }
    }
}

/// Whether something listens on 127.0.0.1:`port`, polled from
/// /proc/net/tcp for at most `PATIENCE` (a connect loop could connect a
/// socket to itself, and a connection to a super-server starts a session).
pub fn wait_listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::time::Instant::now() < deadline {
        let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
        // Field 1 is the local address, field 3 the state (0A = LISTEN).
        let listening = tcp.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.get(1) == Some(&local.as_str()) && f.get(3) == Some(&"0A")
        });
        if listening {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// SIGTERM a child process this test started, wait for it (at most
/// `PATIENCE`), then kill it.
pub fn stop_child(child: &mut std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on the pid of a child we spawned and have not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let deadline = std::time::Instant::now() + PATIENCE;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Serve the handler `build` makes (in the server thread: a handler is not
/// `Send`) on 127.0.0.1 port 0; returns its address, a stop handle and the
/// thread to join.
pub fn serve_thread(
    build: impl FnOnce() -> FtpHandler + Send + 'static,
) -> (SocketAddr, StopHandle, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut server = FtpServer::bind(("127.0.0.1", 0), build()).expect("bind");
        server.handle_exit = false;
        quiet_default_logging();
        tx.send((server.address(), server.stop_handle()))
            .expect("send addr");
        server.serve_forever().expect("serve_forever");
    });
    let (addr, stop) = rx.recv().expect("server started");
    (addr, stop, thread)
}

/// The port of an `ftpdlib -p 0` child, read from its log file's start-up
/// line (`>>> starting FTP server on 127.0.0.1:PORT`), waiting for it at
/// most `PATIENCE`; `None` if the line never came. Choosing a free port
/// beforehand races with other tests' passive listeners.
pub fn logged_port(log: &Path) -> Option<u16> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let port = text
            .lines()
            .find_map(|l| l.split(">>> starting FTP server on ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.trim_end_matches(',').rsplit(':').next())
            .and_then(|p| p.parse().ok());
        if port.is_some() {
            return port;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Two clients logged in as [`USER`] each STOR `up0.bin` / `up1.bin` (3 MiB)
/// at once, started together; the time from the earlier reply that starts
/// a transfer to the later `226`. The last bytes sit in socket buffers when
/// a client finishes writing, so an upload ends with the server's 226,
/// which follows the last byte it read.
pub fn two_concurrent_uploads(addr: SocketAddr) -> Duration {
    let go = std::sync::Arc::new(std::sync::Barrier::new(2));
    let workers: Vec<_> = (0..2)
        .map(|i| {
            let go = std::sync::Arc::clone(&go);
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                c.login(USER, PASSWD);
                c.expect("TYPE I", 200);
                let mut data = c.pasv();
                go.wait();
                let pre = c.cmd(&format!("STOR up{i}.bin"));
                let start = Instant::now();
                assert!(matches!(code_of(&pre), 125 | 150), "{pre}");
                data.write_all(&vec![1u8; 3 << 20]).unwrap();
                drop(data);
                let reply = c.read_reply();
                let end = Instant::now();
                assert_eq!(code_of(&reply), 226, "{reply}");
                (start, end)
            })
        })
        .collect();
    let spans: Vec<(Instant, Instant)> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let start = spans.iter().map(|s| s.0).min().expect("an upload");
    let end = spans.iter().map(|s| s.1).max().expect("an upload");
    end - start
}

/// Write a self-signed RSA-2048 certificate for CN=localhost and its key
/// (PEM) into `cert` and `key`, with the openssl CLI (nothing committed).
pub fn write_self_signed(cert: &Path, key: &Path) {
    let out = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(key)
        .arg("-out")
        .arg(cert)
        .args(["-days", "2", "-subj", "/CN=localhost"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run openssl (install the openssl CLI)");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A self-signed certificate and key (PEM) made once per test process
/// ([`write_self_signed`]); the files are gone, the text stays in memory.
pub fn self_signed_pem() -> &'static (Vec<u8>, Vec<u8>) {
    static PEM: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    PEM.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        write_self_signed(&cert, &key);
        (
            std::fs::read(&cert).expect("cert"),
            std::fs::read(&key).expect("key"),
        )
    })
}

/// Make closing `s` send a TCP reset instead of a FIN (`SO_LINGER` 0): an
/// abrupt disconnect, which the server sees at once even while it reads
/// nothing from the connection.
pub fn set_linger0(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: `s` is an open socket; `linger` is a live struct of the
    // size given, only read.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::addr_of!(linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
}

/// Close `c`'s control connection with a reset ([`set_linger0`]).
pub fn reset_client(c: Client) {
    let sock = c.reader.into_inner();
    set_linger0(&sock);
    drop(sock);
}
