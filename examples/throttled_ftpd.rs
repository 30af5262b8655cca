//! throttled_ftpd: pyftpdlib's bandwidth throttling (`ThrottledDTPHandler`,
//! from its tutorial's "Throttle bandwidth" script) in Rust.
//!
//! ```python
//! dtp_handler = ThrottledDTPHandler
//! dtp_handler.read_limit = 30720  # 30 Kb/sec (30 * 1024)
//! dtp_handler.write_limit = 30720  # 30 Kb/sec (30 * 1024)
//! handler.dtp_handler = dtp_handler
//! ```
//!
//! ftpdlib has one `DtpHandler` whose `read_limit` / `write_limit` (0 =
//! unlimited) are the same fields; each data channel is held to them.
//!
//! ```text
//! cargo run --example throttled_ftpd      # port 2121, or: -- 2122
//! curl -u user:12345 ftp://127.0.0.1:2121/bigfile -o /dev/null
//! ```

use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(2121), |p| p.parse())?;

    let mut authorizer = DummyAuthorizer::new();
    authorizer.add_user_with_perm("user", "12345", ".", "elradfmwMT")?;
    authorizer.add_anonymous(".")?;
    let mut handler = FtpHandler::new(authorizer);
    // dtp_handler.read_limit = 30720; dtp_handler.write_limit = 30720
    handler.dtp_handler.read_limit = 30 * 1024;
    handler.dtp_handler.write_limit = 30 * 1024;
    let mut server = FtpServer::bind(("", port), handler)?;
    server.serve_forever()?;
    Ok(())
}
