//! callbacks: pyftpdlib's event callbacks (`on_file_received`, `on_login`...)
//! through ftpdlib's `Hooks` trait.
//!
//! pyftpdlib users subclass `FTPHandler` and override its `on_*` methods;
//! here a struct implements [`Hooks`] and is set as the handler's `hooks`.
//! This one moves every finished upload into a `processed/` folder under the
//! home (as a job that processes uploads would pick them up from there),
//! deletes half-uploaded files, and logs logins and logouts. Hooks run
//! inside the event loop: they must be quick and must not block. A hook that
//! panics is logged on the error stream and the server goes on.
//!
//! Run it from the directory to share (user/12345 can upload):
//!
//! ```text
//! cargo run --example callbacks            # port 2121
//! cargo run --example callbacks -- 2122    # another port
//! curl -u user:12345 -T somefile ftp://127.0.0.1:2121/
//! ls processed/
//! ```

use std::path::{Path, PathBuf};

use ftpdlib::log::LOG;
use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer, Hooks, SessionInfo};

/// Moves finished uploads into `<home>/processed/`.
struct MoveUploads {
    processed: PathBuf,
}

impl MoveUploads {
    /// A free name in `processed/` for `file` (`name`, `name.1`, ...).
    fn destination(&self, file: &Path) -> Option<PathBuf> {
        let name = file.file_name()?;
        let mut dest = self.processed.join(name);
        let mut n = 1;
        while dest.exists() {
            let mut numbered = name.to_os_string();
            numbered.push(format!(".{n}"));
            dest = self.processed.join(numbered);
            n += 1;
        }
        Some(dest)
    }
}

fn who(s: &SessionInfo<'_>) -> String {
    format!("{}:{}-[{}]", s.remote.ip(), s.remote.port(), s.username)
}

impl Hooks for MoveUploads {
    fn on_login(&self, s: &SessionInfo<'_>, username: &str) {
        log::info!(target: LOG, "{} hook: {username} logged in", who(s));
    }

    fn on_logout(&self, s: &SessionInfo<'_>, username: &str) {
        log::info!(target: LOG, "{} hook: {username} logged out", who(s));
    }

    fn on_file_received(&self, s: &SessionInfo<'_>, file: &Path) {
        // An upload into processed/ itself stays where it is.
        if file.parent() == Some(self.processed.as_path()) {
            return;
        }
        let Some(dest) = self.destination(file) else {
            return;
        };
        match std::fs::rename(file, &dest) {
            Ok(()) => log::info!(
                target: LOG,
                "{} hook: moved {} to {}",
                who(s),
                file.display(),
                dest.display()
            ),
            Err(e) => log::error!(
                target: ftpdlib::log::LOGERROR,
                "{} hook: cannot move {}: {e}",
                who(s),
                file.display()
            ),
        }
    }

    fn on_incomplete_file_received(&self, s: &SessionInfo<'_>, file: &Path) {
        // Remove partially uploaded files (the tutorial's example).
        if std::fs::remove_file(file).is_ok() {
            log::info!(
                target: LOG,
                "{} hook: removed incomplete upload {}",
                who(s),
                file.display()
            );
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::args().nth(1) {
        Some(p) => p.parse()?,
        None => 2121,
    };
    ftpdlib::log::config_logging(log::LevelFilter::Info, ftpdlib::log::PREFIX);

    let home = std::fs::canonicalize(".")?;
    let processed = home.join("processed");
    std::fs::create_dir_all(&processed)?;

    let mut authorizer = DummyAuthorizer::new();
    authorizer.add_user_with_perm("user", "12345", &home, "elradfmwMT")?;
    authorizer.add_anonymous(&home)?;
    let mut handler = FtpHandler::new(authorizer);
    handler.hooks = Box::new(MoveUploads { processed });

    let mut server = FtpServer::bind(("", port), handler)?;
    server.serve_forever()?;
    Ok(())
}
