//! The three log streams to the local syslog daemon (busybox `syslogd`,
//! rsyslog, journald's `/dev/log`), without libc's `syslog(3)`.
//!
//! Each record is one RFC 3164 datagram on the daemon's unix datagram
//! socket: `<PRI>Mmm dd hh:mm:ss ftpdlib[PID]: message`, where PRI is the
//! facility times 8 plus the severity of the record's level (ERROR = err,
//! WARN = warning, INFO = info, DEBUG and TRACE = debug). A multi-line
//! message becomes one datagram per line, so no daemon splits it oddly.
//!
//! Logging never stalls the event loop nor takes the server down: the
//! socket is non-blocking and a record the daemon cannot take right now is
//! dropped. When the daemon goes away (restarted, killed), the next record
//! reconnects by path, once; while it is down records are dropped and
//! counted, and the first record that gets through again is followed by a
//! line saying how many were lost.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use log::{Level, LevelFilter, Log, Metadata, Record};

/// Where the local syslog daemon listens on Linux.
pub const DEFAULT_SOCKET: &str = "/dev/log";

/// The facility of `--syslog` without a name (syslog's `LOG_DAEMON`).
pub const DEFAULT_FACILITY: &str = "daemon";

/// The tag before `[pid]` in every line.
pub const TAG: &str = "ftpdlib";

/// syslog(3)'s facility names and codes (RFC 3164 table 1).
const FACILITIES: [(&str, u8); 20] = [
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

/// The code of a facility name (`daemon`, `ftp`, `local0`...`local7`...).
pub fn facility(name: &str) -> Option<u8> {
    FACILITIES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, code)| *code)
}

/// Install a logger that sends every record at or above `level` to the
/// syslog daemon listening on `socket` (usually [`DEFAULT_SOCKET`]) with
/// facility code `facility` (see [`facility`]). Does nothing if a logger is
/// already set. A daemon that is not running yet is not an error: records
/// are dropped until it is.
pub fn config_syslog(level: LevelFilter, facility: u8, socket: &Path) {
    let logger = Box::new(SyslogLogger::new(level, facility, socket));
    if log::set_boxed_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}

/// A [`Log`] implementation writing to the local syslog socket.
pub struct SyslogLogger {
    level: LevelFilter,
    facility: u8,
    path: PathBuf,
    sock: Mutex<Option<UnixDatagram>>,
    /// Records dropped since the last one that got through.
    dropped: AtomicU64,
}

impl SyslogLogger {
    /// A logger for `socket`; it connects at the first record.
    pub fn new(level: LevelFilter, facility: u8, socket: &Path) -> SyslogLogger {
        SyslogLogger {
            level,
            facility: facility.min(23),
            path: socket.to_path_buf(),
            sock: Mutex::new(None),
            dropped: AtomicU64::new(0),
        }
    }

    /// Send one line at `level`; whether the daemon took it.
    fn send_line(&self, level: Level, text: &str) -> bool {
        let datagram = frame(self.facility, level, &timestamp(), std::process::id(), text);
        let mut sock = match self.sock.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        // The connected socket first; on failure, one fresh connection.
        for _ in 0..2 {
            if sock.is_none() {
                *sock = connect(&self.path).ok();
            }
            let Some(s) = sock.as_ref() else {
                return false;
            };
            match s.send(datagram.as_bytes()) {
                Ok(_) => return true,
                // The daemon is busy: dropping beats stalling the loop.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Gone or restarted (ECONNREFUSED, ENOTCONN...): reconnect.
                Err(_) => *sock = None,
            }
        }
        false
    }
}

impl Log for SyslogLogger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let message = record.args().to_string();
        for line in message.lines() {
            if !self.send_line(record.level(), line) {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        let lost = self.dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let note = format!("{lost} log line(s) lost while syslog was unreachable");
            if !self.send_line(Level::Warn, &note) {
                self.dropped.fetch_add(lost, Ordering::Relaxed);
            }
        }
    }

    fn flush(&self) {}
}

/// A non-blocking datagram socket connected to the daemon at `path`.
fn connect(path: &Path) -> io::Result<UnixDatagram> {
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    sock.connect(path)?;
    Ok(sock)
}

/// One RFC 3164 line: `<PRI>TIMESTAMP TAG[PID]: TEXT`, control characters
/// of the text shown as `\xNN`.
pub fn frame(facility: u8, level: Level, timestamp: &str, pid: u32, text: &str) -> String {
    let severity = match level {
        Level::Error => 3,
        Level::Warn => 4,
        Level::Info => 6,
        Level::Debug | Level::Trace => 7,
    };
    let pri = u32::from(facility) * 8 + severity;
    let mut out = format!("<{pri}>{timestamp} {TAG}[{pid}]: ");
    super::push_escaped(&mut out, text);
    out
}

/// The local time as RFC 3164 writes it: `Mmm dd hh:mm:ss`, the day padded
/// with a space.
fn timestamp() -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0);
    let tm = crate::sys::broken_down(secs, false);
    let month = usize::try_from(tm.month.clamp(1, 12) - 1).unwrap_or(0);
    format!(
        "{} {:>2} {:02}:{:02}:{:02}",
        MONTHS[month], tm.day, tm.hour, tm.min, tm.sec
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_rfc3164_with_priority_tag_and_pid() {
        let line = frame(3, Level::Info, "Dec  1 22:40:21", 42, "a\tb");
        assert_eq!(line, "<30>Dec  1 22:40:21 ftpdlib[42]: a\\x09b");
        assert!(frame(19, Level::Error, "t", 1, "x").starts_with("<155>"));
        assert!(frame(0, Level::Trace, "t", 1, "x").starts_with("<7>"));
        assert_eq!(facility("LOCAL3"), Some(19));
        assert_eq!(facility("ftp"), Some(11));
        assert_eq!(facility("nope"), None);
        let ts = timestamp();
        assert_eq!(ts.len(), 15, "{ts:?}");
    }

    /// A daemon that is not there drops lines and counts them; once it is
    /// back the next line reaches it, then the count of the lost ones.
    #[test]
    fn a_restarted_daemon_gets_the_next_lines_and_the_count_of_lost_ones() {
        let dir = std::env::temp_dir().join(format!("ftpdlib-syslog-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("log");
        let _ = std::fs::remove_file(&path);
        let logger = SyslogLogger::new(LevelFilter::Info, 3, &path);
        let record = |text: &str| {
            logger.log(
                &Record::builder()
                    .args(format_args!("{text}"))
                    .level(Level::Info)
                    .build(),
            )
        };
        record("nobody listens");
        assert_eq!(logger.dropped.load(Ordering::Relaxed), 1);
        let daemon = UnixDatagram::bind(&path).unwrap();
        daemon.set_nonblocking(true).unwrap();
        record("first");
        let mut buf = [0u8; 512];
        let n = daemon.recv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("]: first"));
        let n = daemon.recv(&mut buf).unwrap();
        let note = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            note.starts_with("<28>")
                && note.ends_with("]: 1 log line(s) lost while syslog was unreachable"),
            "{note}"
        );
        // Restarted: the old socket is gone, a new one has the same path.
        drop(daemon);
        std::fs::remove_file(&path).unwrap();
        let daemon = UnixDatagram::bind(&path).unwrap();
        daemon.set_nonblocking(true).unwrap();
        record("after restart");
        let n = daemon.recv(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).ends_with("]: after restart"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
