//! logging_management: the pyftpdlib tutorial's §3.2 script in Rust.
//!
//! The tutorial replaces two of pyftpdlib's three log functions so that
//! user-facing messages go to `ftpd.log` and the commands and replies of
//! the control connection to `ftpd.lines.log`:
//!
//! ```python
//! ftpserver.log = standard_logger
//! ftpserver.logline = line_logger
//! ```
//!
//! ftpdlib's three streams are the `log` targets `ftpdlib` (`LOG`),
//! `ftpdlib::lines` (`LOGLINE`) and `ftpdlib::errors` (`LOGERROR`);
//! [`set_log`] and [`set_logline`] hand them to a function, one line each.
//! `ftpd.lines.log` gets every command (`<- LINE`, PASS masked) and reply
//! (`-> CODE text`); errors stay on stderr. (For pyftpdlib's own format
//! in a file, `ftpdlib::log::log_to_file(LOG, "ftpd.log", LevelFilter::Info)`
//! is the one-line form.)
//!
//! Run it from the directory to share (anonymous, read-only), then look at
//! the two files:
//!
//! ```text
//! cargo run --example logging_management            # port 2121
//! cargo run --example logging_management -- 2122    # another port
//! curl ftp://127.0.0.1:2121/
//! cat ftpd.log ftpd.lines.log
//! ```

use std::fs::{File, OpenOptions};
use std::io::Write;

use ftpdlib::log::{now_local, set_log, set_logline};
use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};

/// now = lambda: time.strftime("[%Y-%b-%d %H:%M:%S]")
fn now() -> String {
    format!("[{}]", now_local())
}

fn append(path: &str) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(2121), |p| p.parse())?;

    // f1 = open('ftpd.log', 'a'); f2 = open('ftpd.lines.log', 'a')
    let f1 = append("ftpd.log")?;
    let f2 = append("ftpd.lines.log")?;
    // ftpserver.log = standard_logger; ftpserver.logline = line_logger
    // (A full disk must not take the server down: a failed write is dropped.)
    set_log(move |msg| drop(writeln!(&f1, "{} {msg}", now())))?;
    set_logline(move |msg| drop(writeln!(&f2, "{} {msg}", now())))?;

    // authorizer.add_anonymous(os.getcwd())
    let mut authorizer = DummyAuthorizer::new();
    authorizer.add_anonymous(".")?;
    let handler = FtpHandler::new(authorizer);

    // The tutorial binds port 21, which needs root; 2121 does not.
    let mut server = FtpServer::bind(("", port), handler)?;
    server.serve_forever()?;
    Ok(())
}
