//! logging_management: the pyftpdlib tutorial's §3.2 script in Rust.
//!
//! ftpdlib logs through the `log` facade on three targets, pyftpdlib's three
//! streams:
//!
//! | target | pyftpdlib | goes to |
//! |---|---|---|
//! | `ftpdlib` ([`LOG`]) | `log()` | `ftpd.log` |
//! | `ftpdlib::errors` ([`LOGERROR`]) | `logerror()` | `ftpd.log` |
//! | `ftpdlib::lines` ([`LOGLINE`]) | `logline()` | `ftpd.lines.log` |
//!
//! Instead of replacing module functions as the tutorial does, a small
//! `log::Log` implementation routes each record by `record.target()`. The
//! command/reply lines are DEBUG records: `ftpd.lines.log` gets every
//! command (`<- LINE`, PASS masked) and reply (`-> CODE text`).
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
use std::sync::Mutex;

use ftpdlib::log::{format_line, LOG, LOGERROR, LOGLINE, PREFIX};
use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};
use log::{Level, LevelFilter, Log, Metadata, Record};

/// Routes ftpdlib's streams to two files, with pyftpdlib's line format
/// (`[I 2026-11-25 16:50:56] 127.0.0.1:47066-[] message`).
struct FileLogger {
    /// `ftpd.log`: user-facing messages and errors, INFO and above.
    standard: Mutex<File>,
    /// `ftpd.lines.log`: commands and replies, DEBUG and above.
    lines: Mutex<File>,
}

impl FileLogger {
    fn file_for(&self, target: &str) -> Option<&Mutex<File>> {
        match target {
            LOGLINE => Some(&self.lines),
            LOG | LOGERROR => Some(&self.standard),
            _ => None,
        }
    }
}

impl Log for FileLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        match metadata.target() {
            LOGLINE => metadata.level() <= Level::Debug,
            LOG | LOGERROR => metadata.level() <= Level::Info,
            // Other crates' records are not wanted here.
            _ => false,
        }
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let Some(file) = self.file_for(record.target()) else {
            return;
        };
        let line = format_line(PREFIX, record.level(), &record.args().to_string());
        if let Ok(mut f) = file.lock() {
            // A full disk must not take the server down: drop the line.
            let _ = f.write_all(line.as_bytes());
        }
    }

    fn flush(&self) {
        for file in [&self.standard, &self.lines] {
            if let Ok(mut f) = file.lock() {
                let _ = f.flush();
            }
        }
    }
}

fn append(path: &str) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse()?,
        None => 2121,
    };

    // f1 = open('ftpd.log', 'a'); f2 = open('ftpd.lines.log', 'a')
    let logger = FileLogger {
        standard: Mutex::new(append("ftpd.log")?),
        lines: Mutex::new(append("ftpd.lines.log")?),
    };
    log::set_boxed_logger(Box::new(logger))?;
    log::set_max_level(LevelFilter::Debug);

    // authorizer.add_anonymous(os.getcwd())
    let mut authorizer = DummyAuthorizer::new();
    authorizer.add_anonymous(".")?;
    let handler = FtpHandler::new(authorizer);

    // The tutorial binds port 21, which needs root; 2121 does not.
    let mut server = FtpServer::bind(("", port), handler)?;
    println!("serving the current directory on port {port}; logs in ftpd.log and ftpd.lines.log");
    server.serve_forever()?;
    log::logger().flush();
    Ok(())
}
