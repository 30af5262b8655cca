//! The `ftpdlib` command: pyftpdlib's `python -m pyftpdlib`, same options.
//!
//! With no option it serves the current directory read-only to anonymous
//! users on port 2121. Run `ftpdlib --help` for the list.

mod cli_tls_hosts;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

mod cli_users;

use ftpdlib::servers::ListenerRole;
use ftpdlib::{
    DummyAuthorizer, FtpHandler, FtpServer, UnixAuthorizer, UnixAuthorizerOptions, UnixFilesystem,
};

const USAGE: &str = "\
Usage: ftpdlib [options]

Start a stand alone anonymous FTP server (pyftpdlib's command line).

Options:
  -h, --help                  show this help and exit
  -v, --version               print the version and exit
      --config PATH           read settings from PATH first: `key = value` lines,
                              keys are the long options below without `--`
                              (see examples/ftpdlib.conf); the command line wins
  -i, --interface ADDRESS     bind address (default: all interfaces)
  -p, --port PORT             port (default: 2121)
  -w, --write                 grant write access to logged-in users (default: read-only)
  -d, --directory PATH        directory to serve (default: current directory)
  -n, --nat-address ADDRESS   NAT address announced in PASV replies
  -r, --range PORTS           ports for passive connections: FROM-TO, or a list
                              of ports and ranges (e.g. 8000-9000,9500)
  -D, --debug                 enable DEBUG logging (commands and replies)
  -q, --quiet                 no logging at all (errors included)
  -u, --username USERNAME     a named user, instead of anonymous (needs -P)
  -P, --password PASSWORD     password of -u (seen by every local user in ps: prefer
                              --password-file)
      --password-file PATH    the password of -u, the first line of PATH
      --users-file PATH       virtual users, one `name:hash:home:perms[:login
                              message[:quit message]]` a line (crypt(3) hashes, see
                              docs/live-configuration.md); re-read on SIGHUP
      --user NAME:PASSWORD:HOME:PERMS
                              add a virtual user (repeatable); PERMS are letters of
                              elradfmwMT; anonymous stays on unless --no-anonymous;
                              PASSWORD may be a crypt(3) hash ('$y$...', '$6$...')
      --hash-password         read a password from standard input, print its
                              crypt(3) hash (for --user) and exit
      --anonymous DIR         home directory of anonymous (default: -d)
      --no-anonymous          no anonymous access
      --timeout SECONDS       idle timeout of control and data connections (default: 300, 0 = off)
      --banner TEXT           the 220 greeting
      --permit-foreign-addresses
                              allow data connections to/from foreign addresses (FXP)
      --permit-privileged-ports
                              allow PORT/EPRT to ports below 1024
      --encoding NAME         wire encoding (only utf8)
      --use-localtime         list times in local time instead of UTC
      --disable-sendfile      do not use sendfile(2) for downloads
      --max-cons N            maximum simultaneous connections (default: 512, 0 = unlimited)
      --max-cons-per-ip N     maximum connections per IP address (default: 0 = unlimited)
      --max-login-attempts N  failed logins before disconnect (default: 3)
      --ban-attempts N        failed logins from one address within --ban-window that
                              ban it: its connections get 421 (default: 10, 0 = off)
      --ban-user-attempts N   the same for one user name, from any address: its logins
                              get 530 (default: 0 = off)
      --ban-window SECONDS    window of --ban-attempts (default: 300)
      --ban-time SECONDS      length of a ban (default: 900)
      --auth-workers N        threads that check crypt(3) passwords off the event loop
                              (default: the number of cores, at most 4; 0 = in the loop)
      --tls                   FTPS: enable AUTH TLS / PBSZ / PROT (needs --certfile; build
                              with `--features tls`)
      --certfile PATH         PEM certificate chain for --tls
      --keyfile PATH          PEM private key (default: in --certfile)
      --tls-control-required  refuse USER/PASS before AUTH TLS
      --tls-data-required     refuse data connections before PROT P
      --implicit-tls          implicit FTPS: TLS from the first byte (port 990 style)
      --no-tls-session-reuse  do not require data connections to resume the
                              control connection's TLS session
      --tls-client-ca PATH    ask clients for a TLS certificate of these CAs (PEM); one
                              that names the user (see --tls-cert-user) logs it in
                              without a password (232)
      --tls-client-auth MODE  optional (default: password logins go on) or required
                              (no login without a certificate that names the user)
      --tls-cert-user FIELD   the certificate field that names the user: cn (default),
                              email or dns (the first such subject alternative name)
      --host-site NAME:DIR[:BANNER]
                              a virtual host chosen by HOST NAME (RFC 7151) or TLS SNI,
                              serving DIR to anonymous (repeatable)
      --host-user SITE:NAME:PASSWORD:HOME:PERMS
                              a user of the virtual host SITE (repeatable)
      --host-cert SITE:CERTFILE[:KEYFILE]
                              the TLS certificate of SITE, chosen by SNI
      --workers N             pre-forked worker processes, each a single-threaded
                              event loop on the shared port (default: 1)
      --worker-listeners MODE how workers listen: reuseport (one SO_REUSEPORT
                              socket each, default), shared (one socket) or
                              exclusive (one socket, EPOLLEXCLUSIVE)
      --metrics ADDRESS:PORT  serve Prometheus metrics (/metrics) and a health
                              check (/health) over HTTP; worker i on PORT+i
      --xferlog PATH          append a wu-ftpd/vsftpd-style xferlog line per transfer

Behind a load balancer (see docs/cluster.md):
      --proxy-protocol off|optional|required
                              read a PROXY protocol v1/v2 header (HAProxy send-proxy)
                              before the greeting on connections from --trusted-proxies;
                              its source is the client's address (default: off)
      --trusted-proxies CIDR[,CIDR...]
                              the proxies whose headers are believed (needed by
                              --proxy-protocol); required mode closes other peers
      --proxy-data            data connections from trusted proxies carry a PROXY
                              header too, whose source must be the session's client
      --proxy-header-timeout SECONDS
                              time allowed for a PROXY header (default: 10)
      --passive-pool          share each port of --range between sessions of different
                              client addresses (a narrow range serves many clients)
      --syslog [FACILITY]     log to the local syslog daemon instead of stderr, with
                              FACILITY (default: daemon; also ftp, local0-local7...)
      --syslog-socket PATH    the syslog daemon's socket (default: /dev/log)

Uploads, quotas, checksums (see docs/uploads.md):
      --upload-mode MODE      normal (in place, default), atomic (temporary name renamed
                              when complete, removed when not) or atomic_resume (kept
                              as .ftpdlib-part.NAME for a later REST/APPE)
      --quota-bytes BYTES     per virtual user: bytes its files may take (0 = none)
      --quota-files N         per virtual user: files it may have (0 = none)
      --user-read-limit BYTES per virtual user: upload bytes/s shared by its sessions
      --user-write-limit BYTES
                              per virtual user: download bytes/s shared by its sessions
  HASH, XCRC, XMD5, XSHA1, XSHA256 and XSHA512 are there when built with
  `--features hash`.

Embedded boxes (see docs/embedded.md):
      --inetd                 serve the one client connected on standard input
                              (inetd, tcpsvd, systemd Accept=yes) and exit when
                              its session ends; -i, -p and the --max-cons
                              limits are the super-server's
  Started by systemd socket activation (LISTEN_FDS, Accept=no), ftpdlib
  serves the passed sockets instead of binding -i/-p; a socket named `ftps`
  (FileDescriptorName=) is implicit FTPS, one named `ftp` plain FTP.
      --read-limit BYTES      upload limit per data channel in bytes/s (default: 0 = none)
      --write-limit BYTES     download limit per data channel in bytes/s (default: 0 = none)
      --total-read-limit BYTES
                              upload limit of the whole server in bytes/s (per worker)
      --total-write-limit BYTES
                              download limit of the whole server in bytes/s (per worker)

Hardening (see SECURITY.md):
      --run-as USER[:GROUP]   once the port is bound and the logs are open, switch
                              to this account for good (with --unix-users the
                              process keeps CAP_SETUID/CAP_SETGID to act as each user)
      --landlock MODE         auto (default): confine file access to the served
                              directories with Landlock when the kernel has it;
                              required: refuse to start without it; off
      --landlock-allow PATH[:ro|:rw]
                              one more directory or file Landlock allows (repeatable;
                              default :rw), e.g. the root of users added later
  PR_SET_NO_NEW_PRIVS is always set.

System users (run as root):
      --unix-users            serve the machine's accounts (shadow passwords), each
                              in its own home, as that user; perms of -w or read-only
      --allowed-users A,B     with --unix-users: only these accounts may log in
      --rejected-users C,D    with --unix-users: these accounts may not log in
      --anonymous-user NAME   with --unix-users: the account that serves anonymous
      --unix-filesystem       with --unix-users: show the whole file system (real
                              paths, start in the home) instead of confining to it
";

/// Parsed command line.
#[derive(Debug, Default, PartialEq)]
struct Options {
    interface: String,
    port: u16,
    write: bool,
    directory: Option<PathBuf>,
    nat_address: Option<std::net::IpAddr>,
    range: Option<ftpdlib::PortSet>,
    debug: bool,
    quiet: bool,
    username: Option<String>,
    password: Option<String>,
    users: Vec<(String, String, PathBuf, String)>,
    anonymous_dir: Option<PathBuf>,
    no_anonymous: bool,
    timeout: Option<u64>,
    banner: Option<String>,
    permit_foreign_addresses: bool,
    permit_privileged_ports: bool,
    encoding: Option<String>,
    use_localtime: bool,
    disable_sendfile: bool,
    max_cons: usize,
    max_cons_per_ip: usize,
    max_login_attempts: u32,
    auth_workers: Option<usize>,
    workers: usize,
    worker_listeners: ftpdlib::WorkerListeners,
    metrics: Option<std::net::SocketAddr>,
    tls: bool,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
    tls_control_required: bool,
    tls_data_required: bool,
    implicit_tls: bool,
    no_tls_session_reuse: bool,
    /// Client certificates and virtual hosts (`cli_tls_hosts`).
    tls_hosts: cli_tls_hosts::TlsHostOptions,
    xferlog: Option<PathBuf>,
    read_limit: u64,
    write_limit: u64,
    total_read_limit: u64,
    total_write_limit: u64,
    unix_users: bool,
    allowed_users: Vec<String>,
    rejected_users: Vec<String>,
    anonymous_user: Option<String>,
    unix_filesystem: bool,
    config: Option<PathBuf>,
    inetd: bool,
    syslog: Option<String>,
    syslog_socket: Option<PathBuf>,
    upload_mode: ftpdlib::UploadMode,
    user_limits: ftpdlib::UserLimits,
    run_as: Option<ftpdlib::RunAs>,
    landlock: ftpdlib::LandlockMode,
    landlock_allow: Vec<(PathBuf, bool)>,
    proxy_protocol: ftpdlib::proxy_protocol::ProxyProtocol,
    trusted_proxies: Vec<ftpdlib::proxy_protocol::Cidr>,
    proxy_data: bool,
    proxy_header_timeout: Option<u64>,
    passive_pool: bool,
    /// `--users-file`, `--password-file`, `--ban-*` (`cli_users.rs`).
    secrets: cli_users::SecretOptions,
}

enum Parsed {
    Run(Box<Options>),
    Exit(&'static str),
    HashPassword,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Exit(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Ok(Parsed::HashPassword) => return hash_password_command(),
        Err(msg) => {
            eprintln!("ftpdlib: error: {msg}\n(see ftpdlib --help)");
            return ExitCode::from(2);
        }
    };
    let level = match (opts.quiet, opts.debug) {
        (true, _) => log::LevelFilter::Off,
        (false, true) => log::LevelFilter::Debug,
        (false, false) => log::LevelFilter::Info,
    };
    // Before anything logs: classic inetd's stderr is the client's socket.
    let inetd = match opts.inetd.then(ftpdlib::servers::stdin_connection) {
        None => None,
        Some(Ok(stream)) => Some(stream),
        Some(Err(e)) => {
            eprintln!("ftpdlib: error: --inetd: {e}");
            return ExitCode::FAILURE;
        }
    };
    start_logging(&opts, level);
    cli_users::warn_clear_text(&cli_users::clear_text_in_argv(&args));
    match serve(&opts, inetd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftpdlib: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The stderr logger, or with `--syslog` the syslog one.
fn start_logging(o: &Options, level: log::LevelFilter) {
    use ftpdlib::log::syslog;
    let Some(name) = &o.syslog else {
        return ftpdlib::log::config_logging(level, ftpdlib::log::PREFIX);
    };
    let facility = syslog::facility(name).unwrap_or(3);
    let default = PathBuf::from(syslog::DEFAULT_SOCKET);
    let socket = o.syslog_socket.as_ref().unwrap_or(&default);
    syslog::config_syslog(level, facility, socket);
}

/// `--hash-password`: one line from stdin (not echoed on a terminal) to a
/// crypt(3) string on stdout.
fn hash_password_command() -> ExitCode {
    use std::io::IsTerminal;
    let tty = std::io::stdin().is_terminal();
    if tty {
        eprint!("Password: ");
        set_tty_echo(false);
    }
    let mut line = String::new();
    let read = std::io::stdin().read_line(&mut line);
    if tty {
        set_tty_echo(true);
        eprintln!();
    }
    if let Err(e) = read {
        eprintln!("ftpdlib: error: cannot read the password: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        eprintln!("ftpdlib: error: empty password");
        return ExitCode::FAILURE;
    }
    match ftpdlib::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ftpdlib: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Turns the terminal's echo on or off with stty(1), best effort.
fn set_tty_echo(on: bool) {
    let _ = std::process::Command::new("stty")
        .arg(if on { "echo" } else { "-echo" })
        .stdin(std::process::Stdio::inherit())
        .status();
}

fn serve(o: &Options, inetd: Option<std::net::TcpStream>) -> Result<(), ftpdlib::Error> {
    let perm = if o.write { "elradfmwMT" } else { "elr" };
    let mut live = None;
    let mut handler = if o.unix_users {
        unix_handler(o, perm)?
    } else {
        let base = dummy_authorizer(o, perm)?;
        let mut auth = base.snapshot();
        cli_users::add_users_file(&mut auth, o)?;
        apply_user_limits(&mut auth, o.user_limits)?;
        live = Some((auth.clone(), base));
        FtpHandler::new(auth)
    };
    configure(&mut handler, o)?;
    let mut server = open_server(o, handler, inetd)?;
    if let Some((live, base)) = live {
        cli_users::reload_on_hangup(&mut server, o, live, base);
    }
    server.max_cons = o.max_cons;
    server.max_cons_per_ip = o.max_cons_per_ip;
    server.worker_processes = o.workers.max(1);
    cluster_settings(&mut server, o)?;
    server.read_limit = o.total_read_limit;
    server.write_limit = o.total_write_limit;
    server.hardening = hardening(o)?;
    server.serve_forever()
}

/// The server's sockets: the client on standard input (`--inetd`), the
/// listeners of socket activation, or a freshly bound `-i`/`-p`.
fn open_server(
    o: &Options,
    handler: FtpHandler,
    inetd: Option<std::net::TcpStream>,
) -> Result<FtpServer, ftpdlib::Error> {
    let role = if o.implicit_tls {
        ListenerRole::ImplicitFtps
    } else {
        ListenerRole::Ftp
    };
    if let Some(stream) = inetd {
        return FtpServer::from_connection(stream, role, handler);
    }
    if FtpServer::socket_activated() {
        return FtpServer::from_activation(handler, role);
    }
    #[allow(unused_mut)]
    let mut server = FtpServer::bind((o.interface.as_str(), o.port), handler)?;
    #[cfg(feature = "tls")]
    server.set_implicit_tls(o.implicit_tls)?;
    Ok(server)
}

/// `--unix-users`: the machine's accounts (pyftpdlib `UnixAuthorizer`).
fn unix_handler(o: &Options, perm: &str) -> Result<FtpHandler, ftpdlib::Error> {
    let auth = UnixAuthorizer::with_options(UnixAuthorizerOptions {
        global_perm: perm.to_string(),
        allowed_users: o.allowed_users.clone(),
        rejected_users: o.rejected_users.clone(),
        anonymous_user: o.anonymous_user.clone(),
        ..UnixAuthorizerOptions::default()
    })?;
    let mut handler = FtpHandler::new(auth);
    if o.unix_filesystem {
        handler.abstracted_fs = Box::new(|home, _| Box::new(UnixFilesystem::new(home)));
    }
    Ok(handler)
}

/// Virtual users: `-u`/`-P`, `--user`, anonymous (`--users-file` is
/// added by `serve`).
fn dummy_authorizer(o: &Options, perm: &str) -> Result<DummyAuthorizer, ftpdlib::Error> {
    let cwd = std::env::current_dir()?;
    let directory = o.directory.clone().unwrap_or(cwd);
    let mut auth = DummyAuthorizer::new();
    if let Some(user) = &o.username {
        auth.add_user_with_perm(user, o.password.as_deref().unwrap_or(""), &directory, perm)?;
    } else if !o.no_anonymous {
        let home = o.anonymous_dir.as_ref().unwrap_or(&directory);
        auth.add_anonymous_with(home, perm, "Login successful.", "Goodbye.")?;
    }
    for (name, password, home, perms) in &o.users {
        auth.add_user_with_perm(name, password, home, perms)?;
    }
    apply_user_limits(&mut auth, o.user_limits)?;
    Ok(auth)
}

/// pyftpdlib's `--tls` options (ftpdlib: plus implicit FTPS and the session
/// reuse switch).
#[cfg(feature = "tls")]
fn configure_tls(handler: &mut FtpHandler, o: &Options) -> Result<(), ftpdlib::Error> {
    let wants = o.tls || o.implicit_tls;
    if !wants {
        if o.certfile.is_some()
            || o.keyfile.is_some()
            || o.tls_control_required
            || o.tls_data_required
        {
            return Err(ftpdlib::Error::Config(
                "--certfile, --keyfile and --tls-*-required need --tls".into(),
            ));
        }
        return Ok(());
    }
    let Some(cert) = &o.certfile else {
        return Err(ftpdlib::Error::Config("--tls needs --certfile".into()));
    };
    let mut tls = ftpdlib::TlsFtpHandler::new(cert, o.keyfile.as_deref())?;
    tls.tls_control_required = o.tls_control_required;
    tls.tls_data_required = o.tls_data_required;
    tls.require_tls_session_reuse = !o.no_tls_session_reuse;
    handler.enable_tls(tls);
    Ok(())
}

#[cfg(not(feature = "tls"))]
fn configure_tls(_: &mut FtpHandler, o: &Options) -> Result<(), ftpdlib::Error> {
    if o.tls || o.implicit_tls || o.certfile.is_some() {
        return Err(ftpdlib::Error::Config(
            "this ftpdlib was built without TLS: rebuild with `cargo build --features tls`".into(),
        ));
    }
    Ok(())
}

/// The handler settings common to every kind of user.
fn configure(handler: &mut FtpHandler, o: &Options) -> Result<(), ftpdlib::Error> {
    configure_tls(handler, o)?;
    configure_proxy(handler, o)?;
    let perm = if o.write { "elradfmwMT" } else { "elr" };
    cli_tls_hosts::configure(handler, &o.tls_hosts, perm, o.no_anonymous)?;
    cli_users::configure_bans(handler, o);
    if let Some(b) = &o.banner {
        handler.banner = b.clone();
    }
    handler.masquerade_address = o.nat_address;
    handler.passive_ports = o.range.clone();
    if let Some(t) = o.timeout {
        handler.timeout = Duration::from_secs(t);
        handler.dtp_handler.timeout = Duration::from_secs(t);
    }
    handler.permit_foreign_addresses = o.permit_foreign_addresses;
    handler.permit_privileged_ports = o.permit_privileged_ports;
    if let Some(e) = &o.encoding {
        handler.encoding = e.clone();
    }
    handler.use_gmt_times = !o.use_localtime;
    handler.use_sendfile = !o.disable_sendfile;
    handler.max_login_attempts = o.max_login_attempts;
    if let Some(n) = o.auth_workers {
        handler.auth_workers = n;
    }
    handler.upload_mode = o.upload_mode;
    handler.dtp_handler.read_limit = o.read_limit;
    handler.dtp_handler.write_limit = o.write_limit;
    if let Some(path) = &o.xferlog {
        handler.set_xferlog(path)?;
    }
    Ok(())
}

/// The PROXY protocol and pooled passive port options.
fn configure_proxy(handler: &mut FtpHandler, o: &Options) -> Result<(), ftpdlib::Error> {
    use ftpdlib::proxy_protocol::ProxyProtocol;
    let err = |m: &str| Err(ftpdlib::Error::Config(m.into()));
    if o.proxy_protocol != ProxyProtocol::Off && o.trusted_proxies.is_empty() {
        return err("--proxy-protocol needs --trusted-proxies");
    }
    if o.proxy_data && o.proxy_protocol == ProxyProtocol::Off {
        return err("--proxy-data needs --proxy-protocol");
    }
    if o.inetd && o.proxy_protocol != ProxyProtocol::Off {
        return err("--proxy-protocol is not read in --inetd mode (the super-server accepts)");
    }
    if o.passive_pool && o.range.is_none() {
        return err("--passive-pool needs --range");
    }
    handler.proxy_protocol = o.proxy_protocol;
    handler.trusted_proxies = o.trusted_proxies.clone();
    handler.proxy_data = o.proxy_data;
    if let Some(t) = o.proxy_header_timeout {
        handler.proxy_header_timeout = Duration::from_secs(t);
    }
    handler.passive_pool = o.passive_pool;
    Ok(())
}

/// `ftpdlib --version`.
const VERSION: &str = concat!("ftpdlib ", env!("CARGO_PKG_VERSION"), "\n");

/// One option being parsed: its name and, in the `--name=value` form, the
/// inline value; otherwise the value is the next argument.
struct Arg<'a, 'i> {
    name: &'a str,
    inline: Option<&'a str>,
    rest: &'i mut std::slice::Iter<'a, String>,
}

impl Arg<'_, '_> {
    fn value(&mut self) -> Result<String, String> {
        let value = self
            .inline
            .map(str::to_string)
            .or_else(|| self.rest.next().cloned());
        value.ok_or(format!("{} needs a value", self.name))
    }

    fn number<T: std::str::FromStr>(&mut self) -> Result<T, String> {
        number(self.name, &self.value()?)
    }

    /// An optional value: the inline one, or the next argument when
    /// `fits` it (so `--syslog -p 21` leaves `-p` alone).
    fn optional(&mut self, fits: impl Fn(&str) -> bool) -> Option<String> {
        if let Some(v) = self.inline {
            return Some(v.to_string());
        }
        let next = self.rest.clone().next().filter(|n| fits(n))?;
        self.rest.next();
        Some(next.clone())
    }

    fn path(&mut self) -> Result<Option<PathBuf>, String> {
        Ok(Some(PathBuf::from(self.value()?)))
    }

    fn dir(&mut self) -> Result<Option<PathBuf>, String> {
        existing_dir(&self.value()?).map(Some)
    }

    /// A flag: on when it stands alone, else its `=true`/`=false`.
    fn flag(&mut self) -> Result<bool, String> {
        match self.inline {
            None => Ok(true),
            Some(text) => boolean(self.name, text),
        }
    }
}

fn parse(args: &[String]) -> Result<Parsed, String> {
    // The command line names the file; the file's settings come first and
    // the command line is applied again over them.
    let mut o = Options::initial();
    if let Some(exit) = parse_args(&mut o, args)? {
        return Ok(exit);
    }
    if let Some(path) = o.config.clone() {
        o = Options::initial();
        read_config(&mut o, &path)?;
        parse_args(&mut o, args)?;
        // Read: not a setting of its own (two runs compare equal).
        o.config = None;
    }
    cli_users::finish(&mut o)?;
    if o.username.is_some() != o.password.is_some() {
        return Err("-u/--username and -P/--password go together".into());
    }
    check_unix_options(&o)?;
    if o.syslog_socket.is_some() && o.syslog.is_none() {
        return Err("--syslog-socket needs --syslog".into());
    }
    if o.inetd && o.workers > 1 {
        return Err("--inetd serves one connection in one process: no --workers".into());
    }
    if o.inetd && o.metrics.is_some() {
        return Err("--inetd serves one connection per process: no --metrics".into());
    }
    Ok(Parsed::Run(Box::new(o)))
}

impl Options {
    /// The settings before any option: pyftpdlib's defaults.
    fn initial() -> Options {
        Options {
            port: 2121,
            max_cons: 512,
            max_login_attempts: 3,
            landlock: ftpdlib::LandlockMode::Auto,
            ..Options::default()
        }
    }
}

/// Apply the command line to `o`; `Some` when an option ends the parse.
fn parse_args(o: &mut Options, args: &[String]) -> Result<Option<Parsed>, String> {
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg.as_str(), None),
        };
        if let Some(exit) = early_exit(name) {
            return Ok(Some(exit));
        }
        let a = &mut Arg {
            name,
            inline,
            rest: &mut rest,
        };
        if a.name == "--config" {
            o.config = a.path()?;
        } else if !any_option(o, a)? {
            return Err(format!("unrecognized argument {name:?}"));
        }
    }
    Ok(None)
}

/// Every option that may also stand in a configuration file.
fn any_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    Ok(server_option(o, a)?
        || log_option(o, a)?
        || user_option(o, a)?
        || limit_option(o, a)?
        || tls_option(o, a)?
        || cli_tls_hosts::option(&mut o.tls_hosts, a)?
        || unix_option(o, a)?
        || transfer_option(o, a)?
        || hardening_option(o, a)?
        || proxy_option(o, a)?
        || cluster_option(o, a)?
        || cli_users::secret_option(o, a)?)
}

/// Keys a configuration file may not hold: they are not settings.
const NOT_IN_CONFIG: [&str; 4] = ["config", "help", "version", "hash-password"];

/// `--config PATH`: one `key = value` setting a line, the key a long
/// option's name without `--`; a flag is a bare key or `key = true|false`;
/// repeatable options (`user`) repeat; blank lines and lines starting with
/// `#` are ignored; a value in double quotes keeps its outer spaces.
/// Errors name the file and the line.
fn read_config(o: &mut Options, path: &std::path::Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the configuration file {}: {e}", path.display()))?;
    for (i, raw) in text.lines().enumerate() {
        config_line(o, raw).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
    }
    Ok(())
}

/// One line of a configuration file.
fn config_line(o: &mut Options, raw: &str) -> Result<(), String> {
    let line = raw.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(());
    }
    let (key, value) = match line.split_once('=') {
        Some((k, v)) => (k.trim(), Some(unquote(v.trim()))),
        None => (line, None),
    };
    let well_formed = key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !well_formed {
        return Err(format!(
            "expected `key = value` with a long option's name as the key, got {line:?}"
        ));
    }
    if NOT_IN_CONFIG.contains(&key) {
        return Err(format!("{key:?} cannot be set in a configuration file"));
    }
    let name = format!("--{key}");
    let none: [String; 0] = [];
    let mut rest = none.iter();
    let a = &mut Arg {
        name: &name,
        inline: value,
        rest: &mut rest,
    };
    if any_option(o, a)? {
        Ok(())
    } else {
        Err(format!("unknown key {key:?} (no option --{key})"))
    }
}

/// A value in double quotes without them.
fn unquote(value: &str) -> &str {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => inner,
        None => value,
    }
}

/// `true`/`false` (also `yes`/`no`, `on`/`off`, `1`/`0`) of a flag.
fn boolean(name: &str, text: &str) -> Result<bool, String> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("{name}: expected true or false, got {text:?}")),
    }
}

/// `--help`, `--version` and `--hash-password` end the parse where they stand.
fn early_exit(name: &str) -> Option<Parsed> {
    match name {
        "-h" | "--help" => Some(Parsed::Exit(USAGE)),
        "-v" | "--version" => Some(Parsed::Exit(VERSION)),
        "--hash-password" => Some(Parsed::HashPassword),
        _ => None,
    }
}

// Each `*_option` below sets one group of options and returns whether it
// knew `a.name`.

/// Where and what to serve, and the protocol switches.
fn server_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "-i" | "--interface" => o.interface = a.value()?,
        "-p" | "--port" => o.port = a.number()?,
        "-w" | "--write" => o.write = a.flag()?,
        "-d" | "--directory" => o.directory = a.dir()?,
        "-n" | "--nat-address" => o.nat_address = Some(ip_address(a.name, &a.value()?)?),
        "-r" | "--range" => o.range = Some(port_range(&a.value()?)?),
        "--timeout" => o.timeout = Some(a.number()?),
        "--banner" => o.banner = Some(a.value()?),
        "--permit-foreign-addresses" => o.permit_foreign_addresses = a.flag()?,
        "--permit-privileged-ports" => o.permit_privileged_ports = a.flag()?,
        "--encoding" => o.encoding = Some(a.value()?),
        "--use-localtime" => o.use_localtime = a.flag()?,
        "--disable-sendfile" => o.disable_sendfile = a.flag()?,
        "--workers" => o.workers = a.number()?,
        "--inetd" => o.inetd = a.flag()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Upload mode, quotas and per-user bandwidth (docs/uploads.md).
fn transfer_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    let l = &mut o.user_limits;
    match a.name {
        "--upload-mode" => o.upload_mode = a.value()?.parse()?,
        "--quota-bytes" => l.quota_bytes = a.number()?,
        "--quota-files" => l.quota_files = a.number()?,
        "--user-read-limit" => l.read_limit = a.number()?,
        "--user-write-limit" => l.write_limit = a.number()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `--worker-listeners`, `--metrics`: running several workers and
/// watching them.
fn cluster_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "--worker-listeners" => {
            o.worker_listeners = match a.value()?.as_str() {
                "reuseport" => ftpdlib::WorkerListeners::ReusePort,
                "shared" => ftpdlib::WorkerListeners::Shared,
                "exclusive" => ftpdlib::WorkerListeners::SharedExclusive,
                other => {
                    return Err(format!(
                        "--worker-listeners: {other:?} is not reuseport, shared or exclusive"
                    ))
                }
            }
        }
        "--metrics" => {
            let v = a.value()?;
            let addr = v
                .parse()
                .map_err(|_| format!("--metrics: {v:?} is not ADDRESS:PORT"))?;
            o.metrics = Some(addr);
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// `--quota-*` and `--user-*-limit`: the same limits for every virtual
/// user of `auth` (anonymous and the `--users-file` users included), each
/// user counted on its own. Called again for the users of a reloaded file.
fn apply_user_limits(
    auth: &mut DummyAuthorizer,
    limits: ftpdlib::UserLimits,
) -> Result<(), ftpdlib::AuthorizerError> {
    if !limits.any() {
        return Ok(());
    }
    for name in auth.user_names() {
        auth.set_user_limits(&name, limits)?;
    }
    Ok(())
}

/// Apply `--worker-listeners` and `--metrics` to the server.
fn cluster_settings(server: &mut FtpServer, o: &Options) -> Result<(), ftpdlib::Error> {
    server.worker_listeners = o.worker_listeners;
    if let Some(addr) = o.metrics {
        server.bind_metrics(addr)?;
    }
    Ok(())
}

/// `-D`, `-q`, `--xferlog`.
fn log_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "-D" | "--debug" => o.debug = a.flag()?,
        "-q" | "--quiet" => o.quiet = a.flag()?,
        "--xferlog" => o.xferlog = a.path()?,
        "--syslog" => o.syslog = Some(syslog_facility(a)?),
        "--syslog-socket" => o.syslog_socket = a.path()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Virtual users and anonymous.
fn user_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "-u" | "--username" => o.username = Some(a.value()?),
        "-P" | "--password" => o.password = Some(a.value()?),
        "--user" => o.users.push(user_spec(&a.value()?)?),
        "--anonymous" => o.anonymous_dir = a.dir()?,
        "--no-anonymous" => o.no_anonymous = a.flag()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// Connection, login and bandwidth limits.
fn limit_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "--max-cons" => o.max_cons = a.number()?,
        "--max-cons-per-ip" => o.max_cons_per_ip = a.number()?,
        "--max-login-attempts" => o.max_login_attempts = a.number()?,
        "--auth-workers" => o.auth_workers = Some(a.number()?),
        "--read-limit" => o.read_limit = a.number()?,
        "--write-limit" => o.write_limit = a.number()?,
        "--total-read-limit" => o.total_read_limit = a.number()?,
        "--total-write-limit" => o.total_write_limit = a.number()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// FTPS.
fn tls_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "--tls" => o.tls = a.flag()?,
        "--certfile" => o.certfile = a.path()?,
        "--keyfile" => o.keyfile = a.path()?,
        "--tls-control-required" => o.tls_control_required = a.flag()?,
        "--tls-data-required" => o.tls_data_required = a.flag()?,
        "--implicit-tls" => o.implicit_tls = a.flag()?,
        "--no-tls-session-reuse" => o.no_tls_session_reuse = a.flag()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// `--run-as`, `--landlock`, `--landlock-allow` (SECURITY.md).
fn hardening_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "--run-as" => o.run_as = Some(ftpdlib::RunAs::parse(&a.value()?)?),
        "--landlock" => {
            o.landlock = a.value()?.parse().map_err(|e| format!("--landlock: {e}"))?;
        }
        "--landlock-allow" => {
            let v = a.value()?;
            let (path, write) = match (v.strip_suffix(":ro"), v.strip_suffix(":rw")) {
                (Some(p), _) => (p, false),
                (_, Some(p)) => (p, true),
                _ => (v.as_str(), true),
            };
            o.landlock_allow.push((PathBuf::from(path), write));
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The server's hardening from the command line: `no_new_privs` always,
/// Landlock `auto` unless told otherwise (not with `--unix-filesystem`,
/// whose users see the whole file system).
fn hardening(o: &Options) -> Result<ftpdlib::Hardening, ftpdlib::Error> {
    use ftpdlib::{Access, LandlockMode, LandlockRule};
    let mut landlock = o.landlock;
    if o.unix_filesystem && landlock != LandlockMode::Off {
        if landlock == LandlockMode::Required {
            return Err(ftpdlib::Error::Config(
                "--landlock required does not combine with --unix-filesystem (its users see the whole file system)".into(),
            ));
        }
        log::info!(target: ftpdlib::log::LOG, "Landlock not applied: --unix-filesystem shows users the whole file system");
        landlock = LandlockMode::Off;
    }
    let mut rules: Vec<LandlockRule> = o
        .landlock_allow
        .iter()
        .map(|(path, write)| {
            let access = if *write {
                Access::READ_WRITE
            } else {
                Access::READ
            };
            LandlockRule::new(path, access)
        })
        .collect();
    // SIGHUP re-reads --users-file: its directory stays readable (not the
    // file alone, since editors replace a file by renaming a new one over it,
    // and a rule holds the inode it was made on).
    if let Some(dir) = o.secrets.users_file.as_deref().and_then(users_file_dir) {
        rules.push(LandlockRule::new(dir, Access::READ));
    }
    Ok(ftpdlib::Hardening {
        run_as: o.run_as.clone(),
        no_new_privs: true,
        landlock,
        landlock_rules: rules,
    })
}

/// The directory holding the users file (`.` for a bare file name).
fn users_file_dir(file: &std::path::Path) -> Option<PathBuf> {
    let dir = file.parent()?;
    Some(if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir.to_path_buf()
    })
}

/// PROXY protocol and pooled passive ports (`--proxy-*`, `--passive-pool`).
fn proxy_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "--proxy-protocol" => o.proxy_protocol = a.value()?.parse()?,
        "--trusted-proxies" => {
            let list = ftpdlib::proxy_protocol::parse_cidr_list(&a.value()?)
                .map_err(|e| format!("--trusted-proxies: {e}"))?;
            o.trusted_proxies.extend(list);
        }
        "--proxy-data" => o.proxy_data = a.flag()?,
        "--proxy-header-timeout" => o.proxy_header_timeout = Some(a.number()?),
        "--passive-pool" => o.passive_pool = a.flag()?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn unix_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    match a.name {
        "--unix-users" => o.unix_users = a.flag()?,
        "--allowed-users" => o.allowed_users = name_list(&a.value()?),
        "--rejected-users" => o.rejected_users = name_list(&a.value()?),
        "--anonymous-user" => o.anonymous_user = Some(a.value()?),
        "--unix-filesystem" => o.unix_filesystem = a.flag()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// The system-user options go with `--unix-users`, the virtual-user ones
/// without it.
fn check_unix_options(o: &Options) -> Result<(), String> {
    if o.unix_users && o.user_limits.any() {
        return Err("--quota-* and --user-*-limit apply to virtual users, not --unix-users".into());
    }
    if o.unix_users {
        let virtual_users = [
            (o.username.is_some(), "-u/--username"),
            (!o.users.is_empty(), "--user"),
            (o.anonymous_dir.is_some(), "--anonymous"),
            (o.directory.is_some(), "-d/--directory"),
        ];
        if let Some((_, opt)) = virtual_users.iter().find(|(set, _)| *set) {
            return Err(format!(
                "{opt} does not apply to --unix-users (system users log in to their homes)"
            ));
        }
        if !o.allowed_users.is_empty() && !o.rejected_users.is_empty() {
            return Err("--allowed-users and --rejected-users are mutually exclusive".into());
        }
        return Ok(());
    }
    let unix_only = [
        (!o.allowed_users.is_empty(), "--allowed-users"),
        (!o.rejected_users.is_empty(), "--rejected-users"),
        (o.anonymous_user.is_some(), "--anonymous-user"),
        (o.unix_filesystem, "--unix-filesystem"),
    ];
    match unix_only.iter().find(|(set, _)| *set) {
        Some((_, opt)) => Err(format!("{opt} needs --unix-users")),
        None => Ok(()),
    }
}

/// The facility of `--syslog [FACILITY]`, checked.
fn syslog_facility(a: &mut Arg) -> Result<String, String> {
    use ftpdlib::log::syslog;
    let name = a
        .optional(|n| syslog::facility(n).is_some())
        .unwrap_or_else(|| syslog::DEFAULT_FACILITY.to_string());
    match syslog::facility(&name) {
        Some(_) => Ok(name.to_ascii_lowercase()),
        None => Err(format!("{}: unknown syslog facility {name:?}", a.name)),
    }
}

/// `A,B` (spaces and empty items ignored).
fn name_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{name}: invalid number {text:?}"))
}

fn ip_address(name: &str, text: &str) -> Result<std::net::IpAddr, String> {
    text.parse()
        .map_err(|_| format!("{name}: not an IP address"))
}

fn existing_dir(text: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(text);
    if p.is_dir() {
        Ok(p)
    } else {
        Err(format!("{text:?} is not a directory"))
    }
}

/// pyftpdlib's `FROM-TO` (1 <= FROM < TO <= 65535), or a comma-separated
/// list of such ranges and single ports.
fn port_range(text: &str) -> Result<ftpdlib::PortSet, String> {
    text.parse()
        .map_err(|e| format!("--range: {e} (expected FROM-TO or a list like 8000-9000,9500)"))
}

/// `NAME:PASSWORD:HOME:PERMS`; the password may contain ':' (the home and
/// perms are taken from the right), so a crypt(3) hash (`$y$j9T$...`, whose
/// alphabet is `./0-9A-Za-z$`) passes through as it is.
fn user_spec(text: &str) -> Result<(String, String, PathBuf, String), String> {
    let (name, rest) = text
        .split_once(':')
        .ok_or("--user: expected NAME:PASSWORD:HOME:PERMS")?;
    let (rest, perms) = rest
        .rsplit_once(':')
        .ok_or("--user: expected NAME:PASSWORD:HOME:PERMS")?;
    let (password, home) = rest
        .rsplit_once(':')
        .ok_or("--user: expected NAME:PASSWORD:HOME:PERMS")?;
    if name.is_empty() || home.is_empty() {
        return Err("--user: name and home must not be empty".into());
    }
    Ok((
        name.into(),
        password.into(),
        existing_dir(home)?,
        perms.into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn run(list: &[&str]) -> Result<Box<Options>, String> {
        match parse(&args(list))? {
            Parsed::Run(o) => Ok(o),
            _ => Err("not a run".into()),
        }
    }

    /// A configuration file in a fresh temp dir.
    fn config_file(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ftpdlib.conf");
        std::fs::write(&path, text).unwrap();
        (dir, path)
    }

    /// Every kind of option: value, number, address, range, directory,
    /// path, flag (bare and `= true`), a repeated key, a list, a quoted
    /// value and comments give the same settings as the flags.
    #[test]
    fn a_config_file_sets_what_the_equivalent_flags_set() {
        let (_dir, path) = config_file(
            "# an annotated file\n\
             interface = 127.0.0.1\n\
             port=2100\n\
             \n\
             write\n\
             directory = /\n\
             nat-address = 10.0.0.1\n\
             range = 60000-60010\n\
             debug = true\n\
             quiet = no\n\
             user = alice:secret:/:elr\n\
             user = bob:$y$j9T$salt$hash:/tmp:elradfmw\n\
             anonymous = /tmp\n\
             timeout = 60\n\
             banner = \"  Welcome = home  \"\n\
             permit-foreign-addresses = on\n\
             use-localtime\n\
             max-cons = 16\n\
             max-cons-per-ip = 2\n\
             auth-workers = 0\n\
             workers = 2\n\
             xferlog = /tmp/xferlog\n\
             write-limit = 1000\n\
             tls-data-required = false\n",
        );
        let from_file = run(&["--config", path.to_str().unwrap()]).unwrap();
        let from_flags = run(&[
            "-i",
            "127.0.0.1",
            "--port=2100",
            "-w",
            "-d",
            "/",
            "-n",
            "10.0.0.1",
            "-r",
            "60000-60010",
            "-D",
            "--user",
            "alice:secret:/:elr",
            "--user",
            "bob:$y$j9T$salt$hash:/tmp:elradfmw",
            "--anonymous",
            "/tmp",
            "--timeout",
            "60",
            "--banner",
            "  Welcome = home  ",
            "--permit-foreign-addresses",
            "--use-localtime",
            "--max-cons",
            "16",
            "--max-cons-per-ip",
            "2",
            "--auth-workers",
            "0",
            "--workers",
            "2",
            "--xferlog",
            "/tmp/xferlog",
            "--write-limit",
            "1000",
        ])
        .unwrap();
        assert_eq!(from_file, from_flags);
        let unix = "unix-users\nrejected-users = root, daemon\nunix-filesystem = yes\n";
        let (_dir, path) = config_file(unix);
        let from_file = run(&["--config", path.to_str().unwrap()]).unwrap();
        let from_flags = run(&[
            "--unix-users",
            "--rejected-users",
            "root,daemon",
            "--unix-filesystem",
        ])
        .unwrap();
        assert_eq!(from_file, from_flags);
    }

    #[test]
    fn the_command_line_overrides_the_file_and_adds_to_its_users() {
        let (_dir, path) = config_file("port = 21\nwrite\nuser = a:b:/:elr\nbanner = file\n");
        let p = path.to_str().unwrap();
        // Before or after --config, the command line wins.
        let o = run(&[
            "-p",
            "2200",
            "--config",
            p,
            "--write=false",
            "--user",
            "c:d:/:e",
        ])
        .unwrap();
        assert_eq!(o.port, 2200);
        assert!(!o.write);
        assert_eq!(o.banner.as_deref(), Some("file"));
        let names: Vec<&str> = o.users.iter().map(|u| u.0.as_str()).collect();
        assert_eq!(names, ["a", "c"]);
        assert_eq!(o.config, None);
    }

    #[test]
    fn a_bad_config_line_names_the_file_and_its_line() {
        for (text, line, what) in [
            ("port = 21\n# fine\nport = twenty\n", 3, "invalid number"),
            ("\nno-such-option = 1\n", 2, "unknown key"),
            ("write = maybe\n", 1, "expected true or false"),
            ("port\n", 1, "needs a value"),
            ("-p = 21\n", 1, "expected `key = value`"),
            ("config = /etc/other.conf\n", 1, "cannot be set"),
            ("user = nobody\n", 1, "NAME:PASSWORD:HOME:PERMS"),
        ] {
            let (_dir, path) = config_file(text);
            let err = run(&["--config", path.to_str().unwrap()]).unwrap_err();
            let at = format!("{}:{line}: ", path.display());
            assert!(
                err.starts_with(&at) && err.contains(what),
                "{text:?}: {err}"
            );
        }
        let err = run(&["--config", "/nonexistent/ftpdlib.conf"]).unwrap_err();
        assert!(err.contains("/nonexistent/ftpdlib.conf"), "{err}");
    }

    /// Every setting of examples/ftpdlib.conf, active or behind `#`, is an
    /// option of this command line (the documentation stays single).
    #[test]
    fn the_example_config_names_only_real_options() {
        let text = include_str!("../examples/ftpdlib.conf");
        let mut settings = 0;
        for line in text.lines() {
            let Some(setting) = line.strip_prefix('#').or(Some(line)) else {
                continue;
            };
            if setting.is_empty() || setting.starts_with([' ', '#']) {
                continue;
            }
            settings += 1;
            let mut o = Options::initial();
            if let Err(e) = config_line(&mut o, setting) {
                // Example paths need not exist here; keys must.
                let wrong_key = e.contains("unknown key") || e.contains("`key = value`");
                assert!(!wrong_key, "{line:?}: {e}");
            }
        }
        assert!(settings > 40, "{settings} settings");
    }

    #[test]
    fn upload_mode_and_user_limits_parse() {
        let o = run(&["--upload-mode", "atomic_resume", "--quota-bytes", "100"]).unwrap();
        assert_eq!(o.upload_mode, ftpdlib::UploadMode::AtomicResume);
        assert_eq!(o.user_limits.quota_bytes, 100);
        let o = run(&[
            "--quota-files=3",
            "--user-read-limit",
            "5",
            "--user-write-limit",
            "6",
        ])
        .unwrap();
        let l = o.user_limits;
        assert_eq!((l.quota_files, l.read_limit, l.write_limit), (3, 5, 6));
        assert!(run(&["--upload-mode", "fast"])
            .unwrap_err()
            .contains("unknown upload mode"));
        let err = run(&["--unix-users", "--quota-bytes", "1"]).unwrap_err();
        assert!(err.contains("virtual users"), "{err}");
    }

    #[test]
    fn range_takes_pyftpdlibs_from_to_and_lists() {
        let o = run(&["-r", "60000-60100"]).unwrap();
        assert_eq!(o.range.map(|p| p.len()), Some(101));
        let o = run(&["--range", "2000-2002,2010"]).unwrap();
        let ports: Vec<u16> = o.range.iter().flat_map(|p| p.iter()).collect();
        assert_eq!(ports, [2000, 2001, 2002, 2010]);
        for bad in ["60100-60000", "5-5", "0-10", "1-70000", "x", "1,,2"] {
            assert!(run(&["-r", bad]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn syslog_takes_an_optional_facility() {
        assert_eq!(
            run(&["--syslog"]).unwrap().syslog.as_deref(),
            Some("daemon")
        );
        let o = run(&["--syslog", "LOCAL3", "-p", "21"]).unwrap();
        assert_eq!((o.syslog.as_deref(), o.port), (Some("local3"), 21));
        let o = run(&["--syslog", "-p", "21"]).unwrap();
        assert_eq!((o.syslog.as_deref(), o.port), (Some("daemon"), 21));
        assert_eq!(
            run(&["--syslog=ftp"]).unwrap().syslog.as_deref(),
            Some("ftp")
        );
        assert!(run(&["--syslog=nope"]).is_err());
        assert!(run(&["--syslog-socket", "/x"]).is_err());
        let (_dir, path) = config_file("syslog\nsyslog-socket = /run/log\n");
        let o = run(&["--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(o.syslog.as_deref(), Some("daemon"));
        assert_eq!(o.syslog_socket, Some(PathBuf::from("/run/log")));
        let (_dir, path) = config_file("syslog = local7\n");
        let o = run(&["--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(o.syslog.as_deref(), Some("local7"));
    }

    #[test]
    fn user_spec_takes_crypt_hashes() {
        let hash = "$y$j9T$TP1hdKnyA0ymCTlcjV3Zb.$Kw.lM0envXJWkUQnmPYzqjXocVnFK/MBvDNUfvGqvH.";
        let (name, pw, home, perms) = user_spec(&format!("bob:{hash}:/:elr")).unwrap();
        assert_eq!((name.as_str(), pw.as_str()), ("bob", hash));
        assert_eq!((home, perms.as_str()), (PathBuf::from("/"), "elr"));
        let (_, pw, ..) = user_spec("bob:a:b:c:/:elr").unwrap();
        assert_eq!(pw, "a:b:c");
        assert!(user_spec(&format!("bob:{hash}")).is_err());
        let o = run(&["--user", &format!("bob:{hash}:/:elrw")]).unwrap();
        assert_eq!(o.users[0].1, hash);
    }

    #[test]
    fn unix_options() {
        let o = run(&[
            "--unix-users",
            "--rejected-users",
            "root, daemon,",
            "--anonymous-user=ftp",
            "--unix-filesystem",
            "-w",
        ])
        .unwrap();
        assert!(o.unix_users && o.unix_filesystem && o.write);
        assert_eq!(o.rejected_users, ["root", "daemon"]);
        assert_eq!(o.anonymous_user.as_deref(), Some("ftp"));
        let o = run(&["--unix-users", "--allowed-users", "a,b"]).unwrap();
        assert_eq!(o.allowed_users, ["a", "b"]);
        for bad in [
            &["--allowed-users", "a"][..],
            &["--rejected-users", "a"],
            &["--anonymous-user", "nobody"],
            &["--unix-filesystem"],
            &[
                "--unix-users",
                "--allowed-users",
                "a",
                "--rejected-users",
                "b",
            ],
            &["--unix-users", "--user", "a:b:/:elr"],
            &["--unix-users", "-u", "a", "-P", "b"],
            &["--unix-users", "-d", "/"],
            &["--unix-users", "--anonymous", "/"],
        ] {
            assert!(run(bad).is_err(), "{bad:?}");
        }
        assert!(matches!(
            parse(&args(&["--hash-password"])),
            Ok(Parsed::HashPassword)
        ));
    }

    #[test]
    fn hardening_options_parse_and_default_to_landlock_auto() {
        use ftpdlib::LandlockMode;
        let o = run(&[]).unwrap();
        assert_eq!((o.landlock, o.run_as.is_none()), (LandlockMode::Auto, true));
        let o = run(&[
            "--run-as",
            "ftp:nogroup",
            "--landlock=required",
            "--landlock-allow",
            "/srv/pub:ro",
            "--landlock-allow",
            "/srv/up",
        ])
        .unwrap();
        let run_as = o.run_as.clone().unwrap();
        assert_eq!(
            (run_as.user.as_str(), run_as.group.as_deref()),
            ("ftp", Some("nogroup"))
        );
        assert_eq!(o.landlock, LandlockMode::Required);
        assert_eq!(
            o.landlock_allow,
            [
                (PathBuf::from("/srv/pub"), false),
                (PathBuf::from("/srv/up"), true)
            ]
        );
        let h = hardening(&o).unwrap();
        assert!(h.no_new_privs && h.landlock_rules.len() == 2);
        assert!(run(&["--landlock", "maybe"])
            .unwrap_err()
            .contains("--landlock"));
        assert!(run(&["--run-as", ""]).is_err());
        let unix_fs = run(&[
            "--unix-users",
            "--unix-filesystem",
            "--landlock",
            "required",
        ])
        .unwrap();
        assert!(
            hardening(&unix_fs).is_err(),
            "Landlock cannot confine the whole file system"
        );
        let unix_fs = run(&["--unix-users", "--unix-filesystem"]).unwrap();
        assert_eq!(hardening(&unix_fs).unwrap().landlock, LandlockMode::Off);
    }

    #[test]
    fn metrics_and_worker_listeners_from_flags_and_file() {
        let o = run(&[
            "--metrics",
            "127.0.0.1:9121",
            "--worker-listeners",
            "shared",
        ])
        .unwrap();
        assert_eq!(o.metrics, Some("127.0.0.1:9121".parse().unwrap()));
        assert_eq!(o.worker_listeners, ftpdlib::WorkerListeners::Shared);
        let (_dir, path) = config_file("metrics = [::1]:9121\nworker-listeners = exclusive\n");
        let o = run(&["--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(o.metrics, Some("[::1]:9121".parse().unwrap()));
        assert_eq!(
            o.worker_listeners,
            ftpdlib::WorkerListeners::SharedExclusive
        );
        assert_eq!(
            run(&[]).unwrap().worker_listeners,
            ftpdlib::WorkerListeners::ReusePort
        );
        for bad in [
            &["--metrics", "9121"][..],
            &["--metrics", "localhost"],
            &["--worker-listeners", "fork"],
            &["--inetd", "--metrics", "127.0.0.1:1"],
        ] {
            assert!(run(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn proxy_options_set_the_handler_and_need_each_other() {
        use ftpdlib::proxy_protocol::ProxyProtocol;
        let o = run(&[
            "--proxy-protocol",
            "required",
            "--trusted-proxies",
            "10.0.0.0/8,127.0.0.1",
            "--proxy-data",
            "--proxy-header-timeout=3",
            "--passive-pool",
            "-r",
            "60000-60001",
        ])
        .unwrap();
        let mut h = FtpHandler::default();
        configure(&mut h, &o).unwrap();
        assert_eq!(h.proxy_protocol, ProxyProtocol::Required);
        assert!(h.is_trusted_proxy("10.1.2.3".parse().unwrap()));
        assert!(h.is_trusted_proxy("127.0.0.1".parse().unwrap()));
        assert!(!h.is_trusted_proxy("127.0.0.2".parse().unwrap()));
        assert!(h.proxy_data && h.passive_pool);
        assert_eq!(h.proxy_header_timeout, Duration::from_secs(3));
        assert!(run(&["--proxy-protocol", "sometimes"]).is_err());
        assert!(run(&["--trusted-proxies", "10.0.0.0/40"]).is_err());
        for needs_more in [
            &["--proxy-protocol", "optional"][..],
            &["--proxy-data"],
            &["--passive-pool"],
        ] {
            let o = run(needs_more).unwrap();
            let mut h = FtpHandler::default();
            assert!(configure(&mut h, &o).is_err(), "{needs_more:?}");
        }
    }
}
