//! A capturing `log::Log` implementation for the logging tests. The `log`
//! facade allows one logger per process: a test binary installs it once
//! (`capture`) and tests running in parallel threads keep the records of
//! their own sessions by the client's port in the session prefix.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ftpdlib::log::LOGLINE;
use log::{Level, Log, Metadata, Record};

/// One captured record of an `ftpdlib` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub level: Level,
    pub target: String,
    pub msg: String,
}

/// The logger: every `ftpdlib` target down to DEBUG, except the
/// command-line stream (`LOGLINE`), enabled down to `lines_level` only.
pub struct Capture {
    lines_level: Level,
    records: Mutex<Vec<Rec>>,
}

impl Log for Capture {
    fn enabled(&self, m: &Metadata) -> bool {
        if m.target() == LOGLINE {
            m.level() <= self.lines_level
        } else {
            m.level() <= Level::Debug
        }
    }

    fn log(&self, r: &Record) {
        if !self.enabled(r.metadata()) || !r.target().starts_with("ftpdlib") {
            return;
        }
        self.records.lock().unwrap().push(Rec {
            level: r.level(),
            target: r.target().to_string(),
            msg: r.args().to_string(),
        });
    }

    fn flush(&self) {}
}

static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();

/// Install the capturing logger of this test binary (once; later calls
/// return the installed one, whatever their `lines_level`).
pub fn capture(lines_level: Level) -> &'static Capture {
    CAPTURE.get_or_init(|| {
        let c: &'static Capture = Box::leak(Box::new(Capture {
            lines_level,
            records: Mutex::new(Vec::new()),
        }));
        log::set_logger(c).expect("the only logger of this test binary");
        log::set_max_level(log::LevelFilter::Debug);
        c
    })
}

/// Every record captured so far (from every session).
pub fn all_records() -> Vec<Rec> {
    let c = CAPTURE.get().expect("capture() is called first");
    c.records.lock().unwrap().clone()
}

/// The session prefix the server uses for the client at local port `port`.
pub fn prefix(port: u16, user: &str) -> String {
    format!("127.0.0.1:{port}-[{user}]")
}

/// Records of the session whose client port is `port`.
pub fn session_records(port: u16) -> Vec<Rec> {
    let head = format!("127.0.0.1:{port}-[");
    all_records()
        .into_iter()
        .filter(|r| r.msg.starts_with(&head))
        .collect()
}

/// Wait until a record of session `port` satisfies `pred`: the server logs
/// within milliseconds, so it waits up to `PATIENCE` (10 s) before calling
/// the record missing.
pub fn wait_for(port: u16, what: &str, pred: impl Fn(&Rec) -> bool) -> Rec {
    let deadline = Instant::now() + super::PATIENCE;
    loop {
        if let Some(r) = session_records(port).into_iter().find(|r| pred(r)) {
            return r;
        }
        if Instant::now() > deadline {
            panic!(
                "no log record {what} for port {port}; have:\n{:#?}",
                session_records(port)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Wait until session `port` logged its close.
pub fn wait_closed(port: u16) {
    wait_for(port, "session closed", |r| {
        r.msg.ends_with(" FTP session closed (disconnect).")
    });
}
