//! hashed_passwords: the pyftpdlib tutorial's `md5_ftpd.py` (§3.3, "Storing
//! passwords as hash digests") brought up to date.
//!
//! The tutorial subclasses `DummyAuthorizer` to compare MD5 hex digests.
//! Unsalted MD5 falls to a lookup table; ftpdlib's `DummyAuthorizer` takes
//! crypt(3) strings instead (yescrypt `$y$`, sha512-crypt `$6$`...), salted
//! and slow, checked through the system's libcrypt in constant time. The
//! program holds only the hash, never the clear text: make one with
//!
//! ```text
//! cargo run --release -- --hash-password        # or: mkpasswd -m yescrypt
//! ```
//!
//! and put it in `FTPD_USER_HASH` (single quotes: the hash holds `$`), or use
//! the built-in one, the hash of "12345":
//!
//! ```text
//! FTPD_USER_HASH='$y$j9T$...' cargo run --release --example hashed_passwords
//! curl -u user:12345 ftp://127.0.0.1:2121/
//! ```
//!
//! The command line does the same with `ftpdlib --user 'user:$y$...:.:elr'`.

use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};

/// crypt(3) hash of "12345", made once with `ftpdlib --hash-password`.
const USER_HASH: &str = "$y$j9T$TP1hdKnyA0ymCTlcjV3Zb.$Kw.lM0envXJWkUQnmPYzqjXocVnFK/MBvDNUfvGqvH.";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    ftpdlib::log::config_logging(log::LevelFilter::Info, ftpdlib::log::PREFIX);

    // The stored hash (a configuration file or the environment in real
    // life). A password that starts with `$` is taken as a crypt(3) hash;
    // add_user refuses one that libcrypt cannot use.
    let hash = std::env::var("FTPD_USER_HASH").unwrap_or_else(|_| USER_HASH.to_string());

    let mut authorizer = DummyAuthorizer::new();
    authorizer.add_user_with_perm("user", &hash, ".", "elradfmwMT")?;
    authorizer.add_anonymous(".")?;

    let handler = FtpHandler::new(authorizer);
    // Port 2121 rather than the tutorial's 21, which needs root (or the
    // first argument: `-- 2122`).
    let port: u16 = std::env::args().nth(1).map_or(Ok(2121), |p| p.parse())?;
    let mut server = FtpServer::bind(("", port), handler)?;
    server.serve_forever()?;
    Ok(())
}
