//! Operations counters of one event loop, and their Prometheus text
//! exposition (ftpdlib extension; pyftpdlib has none).
//!
//! The loop owns one [`Metrics`] in its shared state: plain `u64`s, no
//! locks, no atomics. A session counts what it does in its own small
//! [`Tally`] (it has no access to the loop); the control channel's
//! dispatcher empties that tally into [`Metrics`] after each call the loop
//! makes on it. Label sets are bounded: command verbs come from a fixed
//! list ([`KNOWN_VERBS`], the rest is `other`), replies are counted by
//! class, transfers by direction and result.
//!
//! With pre-forked workers each worker has its own counters and serves
//! them on its own port; every series carries a `worker` label then.

use std::fmt::Write as _;

use super::producers::{Outcome, OutcomeKind, TransferKind};
use crate::reply::Code;

/// The command verbs counted under their own label, sorted (the standard
/// and extension commands of RFC 959, 2228, 2389, 2428, 3659, 4217, 7151
/// and the common hash commands); any other verb is counted as `other`.
pub(crate) const KNOWN_VERBS: &[&str] = &[
    "ABOR",
    "ACCT",
    "ALLO",
    "APPE",
    "AUTH",
    "CCC",
    "CDUP",
    "CWD",
    "DELE",
    "EPRT",
    "EPSV",
    "FEAT",
    "HASH",
    "HELP",
    "HOST",
    "LIST",
    "MDTM",
    "MFMT",
    "MKD",
    "MLSD",
    "MLST",
    "MODE",
    "NLST",
    "NOOP",
    "OPTS",
    "PASS",
    "PASV",
    "PBSZ",
    "PORT",
    "PROT",
    "PWD",
    "QUIT",
    "REIN",
    "REST",
    "RETR",
    "RMD",
    "RNFR",
    "RNTO",
    "SITE",
    "SITE CHMOD",
    "SITE HELP",
    "SIZE",
    "SMNT",
    "STAT",
    "STOR",
    "STOU",
    "STRU",
    "SYST",
    "TYPE",
    "USER",
    "XCRC",
    "XCUP",
    "XCWD",
    "XMD5",
    "XMKD",
    "XPWD",
    "XRMD",
    "XSHA1",
    "XSHA256",
    "XSHA512",
];

/// Label index of "other" in the command counters.
const OTHER_VERB: usize = KNOWN_VERBS.len();

/// Transfer directions, as labels.
const DIRECTIONS: [&str; 3] = ["download", "upload", "listing"];
/// Transfer results, as labels.
const RESULTS: [&str; 3] = ["ok", "aborted", "failed"];
/// Error kinds, as labels.
const ERRORS: [&str; 3] = ["accept", "command_panic", "transfer_local"];

/// An error kind counted in `ftpdlib_errors_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// accept() failed (out of descriptors...).
    Accept = 0,
    /// A command handler panicked (the session was closed).
    CommandPanic = 1,
    /// Reading or writing a file failed during a transfer.
    TransferLocal = 2,
}

/// What one session did since its dispatcher last emptied it.
#[derive(Default)]
pub(crate) struct Tally {
    opened: u32,
    closed: u32,
    refused: u32,
    logins_ok: u32,
    logins_failed: u32,
    /// Verb indexes into [`KNOWN_VERBS`] (or [`OTHER_VERB`]).
    commands: Vec<u8>,
    replies: [u32; 5],
    transfers: [[u32; 3]; 3],
    bytes_sent: u64,
    bytes_received: u64,
    errors: [u32; 3],
}

impl Tally {
    /// The session was greeted.
    pub fn opened(&mut self) {
        self.opened += 1;
    }

    /// The greeted session ended.
    pub fn closed(&mut self) {
        self.closed += 1;
    }

    /// A connection limit refused the connection.
    pub fn refused(&mut self) {
        self.refused += 1;
    }

    /// A login succeeded (`ok`) or failed.
    pub fn login(&mut self, ok: bool) {
        if ok {
            self.logins_ok += 1;
        } else {
            self.logins_failed += 1;
        }
    }

    /// A command line with verb `verb` (upper case) arrived.
    pub fn command(&mut self, verb: &str) {
        let i = KNOWN_VERBS.binary_search(&verb).unwrap_or(OTHER_VERB);
        self.commands.push(u8::try_from(i).unwrap_or(u8::MAX));
    }

    /// A reply with `code` was sent.
    pub fn reply(&mut self, code: Code) {
        if let Some(n) = (code / 100)
            .checked_sub(1)
            .and_then(|c| self.replies.get_mut(usize::from(c)))
        {
            *n += 1;
        }
    }

    /// A transfer ended.
    pub fn transfer(&mut self, outcome: &Outcome) {
        let direction = match outcome.transfer {
            TransferKind::Retr => 0,
            TransferKind::Stor | TransferKind::Appe | TransferKind::Stou => 1,
            TransferKind::List | TransferKind::Nlst | TransferKind::Mlsd => 2,
        };
        let result = match outcome.kind {
            OutcomeKind::Complete => 0,
            OutcomeKind::Aborted => 1,
            _ => 2,
        };
        if matches!(outcome.kind, OutcomeKind::LocalError(_)) {
            self.error(ErrorKind::TransferLocal);
        }
        self.transfers[direction][result] += 1;
        if direction == 1 {
            self.bytes_received += outcome.bytes;
        } else {
            self.bytes_sent += outcome.bytes;
        }
    }

    /// Count an error.
    pub fn error(&mut self, kind: ErrorKind) {
        self.errors[kind as usize] += 1;
    }
}

/// The counters of one event loop.
pub(crate) struct Metrics {
    /// The pre-forked worker number, if any (the `worker` label).
    worker: Option<usize>,
    sessions_opened: u64,
    sessions_closed: u64,
    sessions_refused: u64,
    logins_ok: u64,
    logins_failed: u64,
    commands: Vec<u64>,
    replies: [u64; 5],
    transfers: [[u64; 3]; 3],
    bytes_sent: u64,
    bytes_received: u64,
    errors: [u64; 3],
    scrapes: u64,
    wakeups: u64,
    empty_wakeups: u64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            worker: None,
            sessions_opened: 0,
            sessions_closed: 0,
            sessions_refused: 0,
            logins_ok: 0,
            logins_failed: 0,
            commands: vec![0; KNOWN_VERBS.len() + 1],
            replies: [0; 5],
            transfers: [[0; 3]; 3],
            bytes_sent: 0,
            bytes_received: 0,
            errors: [0; 3],
            scrapes: 0,
            wakeups: 0,
            empty_wakeups: 0,
        }
    }
}

impl Metrics {
    /// Label every series with this worker number.
    pub fn set_worker(&mut self, worker: usize) {
        self.worker = Some(worker);
    }

    /// Move what `tally` counted into the loop's counters and empty it.
    pub fn absorb(&mut self, tally: &mut Tally) {
        self.sessions_opened += u64::from(std::mem::take(&mut tally.opened));
        self.sessions_closed += u64::from(std::mem::take(&mut tally.closed));
        self.sessions_refused += u64::from(std::mem::take(&mut tally.refused));
        self.logins_ok += u64::from(std::mem::take(&mut tally.logins_ok));
        self.logins_failed += u64::from(std::mem::take(&mut tally.logins_failed));
        for i in tally.commands.drain(..) {
            if let Some(n) = self.commands.get_mut(usize::from(i)) {
                *n += 1;
            }
        }
        if tally.commands.capacity() > 64 {
            tally.commands = Vec::new();
        }
        for (n, t) in self.replies.iter_mut().zip(&mut tally.replies) {
            *n += u64::from(std::mem::take(t));
        }
        for (row, trow) in self.transfers.iter_mut().zip(&mut tally.transfers) {
            for (n, t) in row.iter_mut().zip(trow) {
                *n += u64::from(std::mem::take(t));
            }
        }
        self.bytes_sent += std::mem::take(&mut tally.bytes_sent);
        self.bytes_received += std::mem::take(&mut tally.bytes_received);
        for (n, t) in self.errors.iter_mut().zip(&mut tally.errors) {
            *n += u64::from(std::mem::take(t));
        }
    }

    /// A listener's readiness was served and `accepted` connections were
    /// accepted (0: another worker took it, or nothing was there).
    pub fn listener_woken(&mut self, accepted: usize) {
        self.wakeups += 1;
        if accepted == 0 {
            self.empty_wakeups += 1;
        }
    }

    /// Count an error seen outside any session (accept() failures).
    pub fn error(&mut self, kind: ErrorKind) {
        self.errors[kind as usize] += 1;
    }

    /// Sessions greeted and not yet closed.
    pub fn sessions_open(&self) -> u64 {
        self.sessions_opened.saturating_sub(self.sessions_closed)
    }

    /// The Prometheus text exposition format (version 0.0.4) of every
    /// counter; counts this scrape.
    pub fn render(&mut self) -> String {
        self.scrapes += 1;
        let mut out = String::with_capacity(8192);
        let w = self.worker.map(|w| format!("worker=\"{w}\""));
        let mut series = Series {
            out: &mut out,
            worker: w.as_deref(),
        };
        series.head(
            "ftpdlib_sessions_open",
            "gauge",
            "Control connections open now.",
        );
        series.value("ftpdlib_sessions_open", "", self.sessions_open());
        let counters: [(&str, &str, u64); 7] = [
            (
                "ftpdlib_listener_wakeups_total",
                "Times the loop was woken for an FTP listener.",
                self.wakeups,
            ),
            (
                "ftpdlib_listener_empty_wakeups_total",
                "Listener wake-ups that found no connection to accept (another worker took it).",
                self.empty_wakeups,
            ),
            (
                "ftpdlib_sessions_total",
                "Control connections greeted with 220.",
                self.sessions_opened,
            ),
            (
                "ftpdlib_sessions_refused_total",
                "Connections refused with 421 by max_cons or max_cons_per_ip.",
                self.sessions_refused,
            ),
            (
                "ftpdlib_data_bytes_sent_total",
                "Bytes sent on data connections (downloads and listings).",
                self.bytes_sent,
            ),
            (
                "ftpdlib_data_bytes_received_total",
                "Bytes received on data connections (uploads).",
                self.bytes_received,
            ),
            (
                "ftpdlib_metrics_scrapes_total",
                "Requests for /metrics, this one included.",
                self.scrapes,
            ),
        ];
        for (name, help, v) in counters {
            series.head(name, "counter", help);
            series.value(name, "", v);
        }
        series.head(
            "ftpdlib_logins_total",
            "counter",
            "Login attempts by result.",
        );
        series.value("ftpdlib_logins_total", "result=\"ok\"", self.logins_ok);
        series.value(
            "ftpdlib_logins_total",
            "result=\"failed\"",
            self.logins_failed,
        );
        series.head(
            "ftpdlib_commands_total",
            "counter",
            "Command lines received, by verb.",
        );
        for (i, n) in self.commands.iter().enumerate() {
            let verb = KNOWN_VERBS.get(i).copied().unwrap_or("other");
            series.value("ftpdlib_commands_total", &format!("verb=\"{verb}\""), *n);
        }
        series.head(
            "ftpdlib_replies_total",
            "counter",
            "Replies sent, by class (1xx to 5xx).",
        );
        for (i, n) in self.replies.iter().enumerate() {
            series.value(
                "ftpdlib_replies_total",
                &format!("class=\"{}xx\"", i + 1),
                *n,
            );
        }
        series.head(
            "ftpdlib_transfers_total",
            "counter",
            "Transfers ended, by direction and result.",
        );
        for (d, row) in DIRECTIONS.iter().zip(&self.transfers) {
            for (r, n) in RESULTS.iter().zip(row) {
                let labels = format!("direction=\"{d}\",result=\"{r}\"");
                series.value("ftpdlib_transfers_total", &labels, *n);
            }
        }
        series.head(
            "ftpdlib_errors_total",
            "counter",
            "Errors: failed accept(), panicking commands, file I/O errors in transfers.",
        );
        for (k, n) in ERRORS.iter().zip(&self.errors) {
            series.value("ftpdlib_errors_total", &format!("kind=\"{k}\""), *n);
        }
        out
    }
}

/// Writes series lines with the worker label added.
struct Series<'a> {
    out: &'a mut String,
    worker: Option<&'a str>,
}

impl Series<'_> {
    fn head(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {}", help.replace('\\', "\\\\"));
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    fn value(&mut self, name: &str, labels: &str, v: u64) {
        let labels = match (self.worker, labels.is_empty()) {
            (None, true) => String::new(),
            (None, false) => format!("{{{labels}}}"),
            (Some(w), true) => format!("{{{w}}}"),
            (Some(w), false) => format!("{{{labels},{w}}}"),
        };
        let _ = writeln!(self.out, "{name}{labels} {v}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_verbs_are_sorted_and_fit_a_byte() {
        for w in KNOWN_VERBS.windows(2) {
            assert!(w[0] < w[1], "{} before {}", w[0], w[1]);
        }
        assert!(KNOWN_VERBS.len() < usize::from(u8::MAX));
    }

    #[test]
    fn a_tally_moves_into_the_counters_once() {
        let mut t = Tally::default();
        t.opened();
        t.command("USER");
        t.command("BOGUS");
        t.reply(331);
        t.reply(530);
        t.reply(99);
        t.reply(600);
        t.login(false);
        let mut m = Metrics::default();
        m.absorb(&mut t);
        m.absorb(&mut t);
        let text = m.render();
        assert!(text.contains("ftpdlib_sessions_open 1\n"), "{text}");
        assert!(text.contains("ftpdlib_commands_total{verb=\"USER\"} 1\n"));
        assert!(text.contains("ftpdlib_commands_total{verb=\"other\"} 1\n"));
        assert!(text.contains("ftpdlib_replies_total{class=\"3xx\"} 1\n"));
        assert!(text.contains("ftpdlib_replies_total{class=\"5xx\"} 1\n"));
        assert!(text.contains("ftpdlib_logins_total{result=\"failed\"} 1\n"));
        assert!(text.contains("# TYPE ftpdlib_logins_total counter\n"));
    }

    #[test]
    fn workers_label_every_series() {
        let mut m = Metrics::default();
        m.set_worker(1);
        let text = m.render();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            assert!(line.contains("worker=\"1\""), "{line}");
        }
    }
}
