//! Log streams and formats (pyftpdlib `log.py`).
//!
//! ftpdlib logs through the [`log`](https://docs.rs/log) facade on three targets, so any `log`
//! implementation can route them apart, as pyftpdlib's tutorial routes its
//! `log`, `logline` and `logerror` streams to different files:
//!
//! | target | pyftpdlib | content |
//! |---|---|---|
//! | [`LOG`] `"ftpdlib"` | `log()` | session opened/closed, logins, transfers, server start/stop |
//! | [`LOGLINE`] `"ftpdlib::lines"` | `logline()` | every command (`<-`) and reply (`->`), PASS masked, at DEBUG; `log_cmd` lines at INFO |
//! | [`LOGERROR`] `"ftpdlib::errors"` | `logerror()` | failures inside handlers, with the session they hit |
//!
//! [`config_logging`] installs a small stderr logger with pyftpdlib's line
//! format, `[I 2026-11-23 19:27:30] 127.0.0.1:47066-[user] message`;
//! [`FtpServer::serve_forever`](crate::FtpServer::serve_forever) installs
//! it at INFO when the program installed no logger, as pyftpdlib does.
//! Each stream can go its own way in one line: [`set_log`],
//! [`set_logline`] and [`set_logerror`] hand the messages to a function
//! (the tutorial's `ftpserver.log = standard_logger`), [`log_to_file`]
//! appends them to a file.
//! [`syslog::config_syslog`] sends the same records to the local syslog
//! daemon instead (`ftpdlib --syslog`).

mod route;
pub mod syslog;

pub use route::{
    install_default, log_to_file, set_log, set_logerror, set_logline, set_stream_level, LoggerInUse,
};

/// What a porter needs from the [`log`](https://docs.rs/log) facade, so
/// that `ftpdlib::log::info!(...)` and `ftpdlib::log::LevelFilter` work
/// without adding the `log` crate.
pub use log::{debug, error, info, log, log_enabled, trace, warn};
pub use log::{set_max_level, Level, LevelFilter, Log, Metadata, Record};

/// Target of user-facing session messages (pyftpdlib `log`).
pub const LOG: &str = "ftpdlib";
/// Target of command and reply lines (pyftpdlib `logline`).
pub const LOGLINE: &str = "ftpdlib::lines";
/// Target of errors (pyftpdlib `logerror`).
pub const LOGERROR: &str = "ftpdlib::errors";

/// pyftpdlib's default line prefix: level initial and local time.
pub const PREFIX: &str = "[%(levelname)1.1s %(asctime)s]";

/// Expand a session `log_prefix` template (pyftpdlib `log_prefix`):
/// `%(remote_ip)s`, `%(remote_port)s` and `%(username)s` are replaced;
/// control characters in the user name are escaped so a log line stays one
/// line.
pub fn session_prefix(template: &str, ip: &str, port: u16, username: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(i) = rest.find("%(") {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(t) = tail.strip_prefix("%(remote_ip)s") {
            out.push_str(ip);
            rest = t;
        } else if let Some(t) = tail.strip_prefix("%(remote_port)s") {
            out.push_str(&port.to_string());
            rest = t;
        } else if let Some(t) = tail.strip_prefix("%(username)s") {
            push_escaped(&mut out, username);
            rest = t;
        } else {
            out.push_str("%(");
            rest = &tail[2..];
        }
    }
    out.push_str(rest);
    out
}

/// Append `text` with control characters shown as `\xNN`.
pub fn push_escaped(out: &mut String, text: &str) {
    for c in text.chars() {
        if c.is_control() {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push(c);
        }
    }
}

/// Log every stream to stderr with pyftpdlib's format at `level`
/// (pyftpdlib `config_logging(level, prefix)`). `prefix` may use
/// `%(levelname)1.1s`, `%(asctime)s` and `%(process)s`. Calling it again
/// reconfigures ftpdlib's logger (and undoes [`set_log`] and friends);
/// does nothing if the program installed another `log` implementation.
pub fn config_logging(level: LevelFilter, prefix: &str) {
    let _ = route::configure(level, prefix);
}

/// Format one line as pyftpdlib's formatter does; continuation lines of a
/// multi-line message are indented by four spaces.
pub fn format_line(prefix: &str, level: Level, message: &str) -> String {
    let letter = match level {
        Level::Error => "E",
        Level::Warn => "W",
        Level::Info => "I",
        Level::Debug => "D",
        Level::Trace => "T",
    };
    let head = prefix
        .replace("%(levelname)1.1s", letter)
        .replace("%(asctime)s", &now_local())
        .replace("%(process)s", &std::process::id().to_string());
    let mut line = String::with_capacity(head.len() + message.len() + 2);
    line.push_str(&head);
    line.push(' ');
    line.push_str(&message.replace('\n', "\n    "));
    line.push('\n');
    line
}

/// The local time as `YYYY-MM-DD HH:MM:SS`.
pub fn now_local() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let tm = crate::sys::broken_down(secs, false);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        tm.year, tm.month, tm.day, tm.hour, tm.min, tm.sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_expanded_like_pyftpdlib() {
        let p = session_prefix(
            "%(remote_ip)s:%(remote_port)s-[%(username)s]",
            "127.0.0.1",
            47066,
            "user",
        );
        assert_eq!(p, "127.0.0.1:47066-[user]");
    }

    #[test]
    fn control_characters_in_user_names_are_escaped() {
        let p = session_prefix("[%(username)s]", "", 0, "a\r\nb\x1b[31m");
        assert_eq!(p, "[a\\x0d\\x0ab\\x1b[31m]");
    }

    #[test]
    fn line_has_level_letter_and_timestamp() {
        let line = format_line(PREFIX, Level::Info, "hello\nworld");
        assert!(line.starts_with("[I "), "{line}");
        assert_eq!(line.as_bytes()[22], b']', "{line}");
        assert!(line.ends_with("] hello\n    world\n"), "{line}");
    }
}
