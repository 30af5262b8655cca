//! Changing a running server (pyftpdlib: `server.handler.authorizer.add_user`
//! and `server.handler.banner = ...` while `serve_forever` runs).
//!
//! Serves the current directory on port 2121 to `user`/`12345`. Type lines
//! on standard input while it serves:
//!
//! ```text
//! add NAME PASSWORD     add a read-only user (PASSWORD may be a crypt(3) hash)
//! del NAME              remove a user: a session of theirs ends at its next command
//! banner TEXT           the greeting of the next connections
//! ```
//!
//! `cargo run --example live_users`; see docs/live-configuration.md.

use std::io::BufRead;

use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    ftpdlib::log::config_logging(log::LevelFilter::Info, ftpdlib::log::PREFIX);

    let mut authorizer = DummyAuthorizer::new();
    authorizer.add_user_with_perm("user", "12345", ".", "elradfmwMT")?;
    // Clones share the table: this one stays with the console thread.
    let mut users = authorizer.clone();

    let mut server = FtpServer::bind(("", 2121), FtpHandler::new(authorizer))?;
    // Changes of the handler and the limits go through the loop.
    let handle = server.handle();

    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            let mut words = line.splitn(3, ' ');
            let outcome = match (words.next(), words.next(), words.next()) {
                (Some("add"), Some(name), Some(password)) => users
                    .add_user_with_perm(name, password, ".", "elr")
                    .map_err(|e| e.to_string()),
                (Some("del"), Some(name), None) => {
                    users.remove_user(name).map_err(|e| e.to_string())
                }
                (Some("banner"), Some(first), rest) => {
                    let text = match rest {
                        Some(rest) => format!("{first} {rest}"),
                        None => first.to_string(),
                    };
                    handle
                        .configure(move |s| s.handler_mut().banner = text)
                        .map_err(|e| e.to_string())
                }
                _ => Err("add NAME PASSWORD | del NAME | banner TEXT".to_string()),
            };
            match outcome {
                Ok(()) => println!("ok"),
                Err(e) => println!("error: {e}"),
            }
        }
    });
    server.serve_forever()?;
    Ok(())
}
