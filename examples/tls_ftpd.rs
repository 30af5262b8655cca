//! tls_ftpd: the TLS twin of `basic_ftpd` (pyftpdlib's tutorial script
//! `tls_ftpd.py`, FTPS with `TLS_FTPHandler`) in Rust. Needs the `tls`
//! feature.
//!
//! An FTPS server (explicit, RFC 4217: AUTH TLS, PBSZ, PROT) which uses a
//! `DummyAuthorizer` for managing "virtual" users. The certificate and key
//! come from the command line or the environment:
//!
//! ```text
//! openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=localhost \
//!     -keyout key.pem -out cert.pem
//! cargo run --release --features tls --example tls_ftpd -- cert.pem key.pem
//! FTPD_CERTFILE=cert.pem FTPD_KEYFILE=key.pem \
//!     cargo run --release --features tls --example tls_ftpd
//! curl --ssl-reqd -k -u user:12345 ftp://127.0.0.1:2121/
//! ```
//!
//! Without a key file the key is read from the certificate file (a
//! combined `keycert.pem`, as in pyftpdlib's example).

use std::path::PathBuf;

use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer, TlsFtpHandler};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    ftpdlib::log::config_logging(log::LevelFilter::Info, ftpdlib::log::PREFIX);

    // Certificate chain and key: argv first, then FTPD_CERTFILE /
    // FTPD_KEYFILE, then pyftpdlib's default "keycert.pem".
    let mut args = std::env::args_os().skip(1);
    let certfile: PathBuf = args
        .next()
        .or_else(|| std::env::var_os("FTPD_CERTFILE"))
        .unwrap_or_else(|| "keycert.pem".into())
        .into();
    let keyfile: Option<PathBuf> = args
        .next()
        .or_else(|| std::env::var_os("FTPD_KEYFILE"))
        .map(PathBuf::from);

    // Instantiate a dummy authorizer for managing "virtual" users.
    let mut authorizer = DummyAuthorizer::new();
    authorizer.add_user_with_perm("user", "12345", ".", "elradfmwMT")?;
    authorizer.add_anonymous(".")?;

    // pyftpdlib: `handler = TLS_FTPHandler; handler.certfile = ...`.
    let mut tls = TlsFtpHandler::new(&certfile, keyfile.as_deref())?;
    // Set both to true to require TLS on the control and the data channel
    // (pyftpdlib's commented-out lines).
    tls.tls_control_required = false;
    tls.tls_data_required = false;
    // Data connections must resume the control connection's TLS session
    // (on by default, as vsftpd's require_ssl_reuse); clients that do not,
    // such as plain Python ftplib.FTP_TLS, need it off.
    tls.require_tls_session_reuse = true;
    // Logins by TLS client certificate (ftpdlib extension): a certificate
    // of this CA whose CN names the user logs it in without a password
    // (docs/ftps-and-virtual-hosts.md).
    // tls.set_client_ca("clients-ca.pem", ftpdlib::ClientAuth::Optional)?;

    let mut handler = FtpHandler::new(authorizer);
    handler.banner = format!("ftpdlib {} FTPS server ready.", ftpdlib::VERSION);
    handler.enable_tls(tls);

    // Port 2121 as basic_ftpd (the tutorial's 21 needs root). Implicit
    // FTPS (TLS from the first byte, usually port 990) is one call away:
    // server.set_implicit_tls(true)?;
    let mut server = FtpServer::bind(("", 2121), handler)?;
    server.max_cons = 256;
    server.max_cons_per_ip = 5;
    server.serve_forever()?;
    Ok(())
}
