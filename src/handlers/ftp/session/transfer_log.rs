//! What happens after a file transfer ends besides its reply: pyftpdlib's
//! transfer log line, the xferlog record, and the file hooks.
//!
//! The xferlog line follows the wu-ftpd format that vsftpd and ProFTPD also
//! write and that log analysers parse, 14 space-separated fields:
//! `current-time transfer-time remote-host file-size filename transfer-type
//! special-action-flag direction access-mode username service-name
//! authentication-method authenticated-user-id completion-status`, where
//! current-time is the ctime(3) form `Wed Nov 25 16:50:56 2026` (itself
//! five fields). Whitespace in file and user names becomes `_` so the line
//! keeps its shape.

use std::io::Write;

use super::Session;
use crate::filesystems::days_from_civil;
use crate::handlers::ftp::producers::{Direction, Outcome, TransferKind};
use crate::log::{LOG, LOGERROR};

/// Log the transfer (pyftpdlib `log_transfer`), append the xferlog line,
/// fire `on_file_sent` / `on_file_received` or their incomplete variants.
pub(super) fn record(s: &mut Session, transfer: TransferKind, outcome: &Outcome) {
    let completed = outcome.completed();
    log::info!(
        target: LOG,
        "{} {} {} completed={} bytes={} seconds={}",
        s.prefix,
        transfer.name(),
        outcome.path.display(),
        u8::from(completed),
        outcome.bytes,
        seconds(outcome.elapsed)
    );
    if let Some(file) = &s.cfg.xferlog {
        let line = xferlog_line(s, transfer, outcome, now());
        if let Err(e) = (&*file).write_all(line.as_bytes()) {
            log::error!(target: LOGERROR, "{} cannot write the xferlog: {e}", s.prefix);
        }
    }
    let path = outcome.path.as_path();
    match (transfer.direction(), completed) {
        (Direction::Download, true) => s.hook("on_file_sent", |h, i| h.on_file_sent(i, path)),
        (Direction::Download, false) => s.hook("on_incomplete_file_sent", |h, i| {
            h.on_incomplete_file_sent(i, path)
        }),
        (Direction::Upload, true) => s.hook("on_file_received", |h, i| h.on_file_received(i, path)),
        (Direction::Upload, false) => s.hook("on_incomplete_file_received", |h, i| {
            h.on_incomplete_file_received(i, path)
        }),
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// One xferlog record, newline included.
fn xferlog_line(s: &Session, transfer: TransferKind, o: &Outcome, at: i64) -> String {
    // The date is local time, as wu-ftpd writes it.
    let utc = false;
    let tm = crate::sys::broken_down(at, utc);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // Weekday from the local date: days since the epoch of that civil date.
    let days = days_from_civil(i64::from(tm.year), i64::from(tm.month), i64::from(tm.day));
    let weekday = DAYS[days.rem_euclid(7) as usize];
    let month = MONTHS[(tm.month.clamp(1, 12) - 1) as usize];
    let anonymous = s.username == "anonymous";
    format!(
        "{weekday} {month} {:2} {:02}:{:02}:{:02} {} {} {} {} {} {} _ {} {} {} ftp 0 * {}\n",
        tm.day,
        tm.hour,
        tm.min,
        tm.sec,
        tm.year,
        o.elapsed.round().max(1.0) as u64,
        s.remote.ip(),
        o.bytes,
        no_spaces(&o.path.to_string_lossy()),
        if o.ascii { 'a' } else { 'b' },
        match transfer.direction() {
            Direction::Download => 'o',
            Direction::Upload => 'i',
        },
        if anonymous { 'a' } else { 'r' },
        no_spaces(&s.username),
        if o.completed() { 'c' } else { 'i' },
    )
}

fn no_spaces(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Seconds rounded to 3 decimals, printed as Python prints a float.
fn seconds(elapsed: f64) -> String {
    let r = (elapsed * 1000.0).round() / 1000.0;
    if r.fract() == 0.0 {
        format!("{r:.1}")
    } else {
        format!("{r}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_print_like_python_round() {
        assert_eq!(seconds(0.0), "0.0");
        assert_eq!(seconds(0.01234), "0.012");
        assert_eq!(seconds(2.0), "2.0");
    }

    #[test]
    fn civil_days_match_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2026, 11, 25), 20_782);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        // 1970-01-01 was a Thursday, 2026-11-25 a Wednesday.
        assert_eq!(
            ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][(20_782 % 7) as usize],
            "Wed"
        );
    }

    #[test]
    fn names_keep_the_line_shape() {
        assert_eq!(no_spaces("/a b\tc\nd"), "/a_b_c_d");
    }
}
