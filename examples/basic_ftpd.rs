//! basic_ftpd: the pyftpdlib tutorial's first script (§3.1, `basic_ftpd.py`)
//! in Rust.
//!
//! A basic FTP server which uses a `DummyAuthorizer` for managing "virtual"
//! users, setting a limit for incoming connections.
//!
//! Run it from the directory to share (it becomes both users' home):
//!
//! ```text
//! cargo run --release --example basic_ftpd
//! curl -u user:12345 ftp://127.0.0.1:2121/
//! ```

use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Port 2121, or the first argument (`-- 2122`).
    let port: u16 = std::env::args().nth(1).map_or(Ok(2121), |p| p.parse())?;

    // Instantiate a dummy authorizer for managing "virtual" users.
    let mut authorizer = DummyAuthorizer::new();

    // Define a new user having full r/w permissions and a read-only
    // anonymous user. "." is the current directory, stored as its real path.
    authorizer.add_user_with_perm("user", "12345", ".", "elradfmwMT")?;
    authorizer.add_anonymous(".")?;

    // Instantiate the FTP handler (pyftpdlib: `handler = FTPHandler`,
    // `handler.authorizer = authorizer`). Its fields are pyftpdlib's class
    // attributes.
    let mut handler = FtpHandler::new(authorizer);

    // Define a customized banner (string returned when a client connects).
    handler.banner = format!("ftpdlib {} based ftpd ready.", ftpdlib::VERSION);

    // Specify a masquerade address and the range of ports to use for
    // passive connections. Uncomment in case you're behind a NAT.
    // handler.masquerade_address = Some("151.25.42.11".parse()?);
    // handler.passive_ports = Some((60000..65535).into()); // range(60000, 65535)

    // Instantiate the FTP server and listen on every interface, port 2121.
    // The tutorial uses port 21, which needs root (or CAP_NET_BIND_SERVICE)
    // on Linux; 2121 lets the example run as an ordinary user.
    let mut server = FtpServer::bind(("", port), handler)?;

    // Set a limit for connections (always a good idea against DoS).
    server.max_cons = 256;
    server.max_cons_per_ip = 5;

    // Start the FTP server; Ctrl-C stops it cleanly. As in pyftpdlib, a
    // program that set up no logging gets INFO lines on stderr
    // (`[I 2026-11-23 19:27:30] >>> starting FTP server on ...`).
    server.serve_forever()?;
    Ok(())
}
