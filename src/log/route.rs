//! ftpdlib's own logger: pyftpdlib's stderr format by default, each of the
//! three streams routable to a function or a file in one line (the
//! tutorial's `ftpserver.log = standard_logger`).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::RwLock;

use log::{LevelFilter, Log, Metadata, Record};

use super::{format_line, LOG, LOGERROR, LOGLINE, PREFIX};

/// Another `log` implementation was installed first: ftpdlib's routing
/// cannot be used (send the streams where you want from that logger,
/// by target). ftpdlib extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggerInUse;

impl std::fmt::Display for LoggerInUse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("another logger is installed; ftpdlib cannot route its log streams")
    }
}

impl std::error::Error for LoggerInUse {}

impl From<LoggerInUse> for io::Error {
    fn from(e: LoggerInUse) -> io::Error {
        io::Error::other(e)
    }
}

/// Where one stream goes.
enum Sink {
    /// pyftpdlib's format on stderr.
    Stderr,
    /// The message (session prefix included, no level or time) to a
    /// function, as pyftpdlib's replaceable `log(msg)`.
    Function(Box<dyn Fn(&str) + Send + Sync>),
    /// pyftpdlib's format appended to a file.
    File(File),
}

struct Stream {
    sink: Sink,
    level: LevelFilter,
}

struct Routes {
    prefix: String,
    /// `LOG`, `LOGLINE`, `LOGERROR`, then every other target.
    streams: [Stream; 4],
}

impl Routes {
    fn new(level: LevelFilter, prefix: &str) -> Routes {
        let stream = || Stream {
            sink: Sink::Stderr,
            level,
        };
        Routes {
            prefix: prefix.to_owned(),
            streams: [stream(), stream(), stream(), stream()],
        }
    }

    fn max_level(&self) -> LevelFilter {
        self.streams
            .iter()
            .map(|s| s.level)
            .max()
            .unwrap_or(LevelFilter::Off)
    }
}

fn index(target: &str) -> usize {
    match target {
        LOG => 0,
        LOGLINE => 1,
        LOGERROR => 2,
        _ => 3,
    }
}

static ROUTES: RwLock<Option<Routes>> = RwLock::new(None);

struct Router;

static ROUTER: Router = Router;

impl Log for Router {
    fn enabled(&self, metadata: &Metadata) -> bool {
        let routes = ROUTES.read().unwrap_or_else(|e| e.into_inner());
        routes
            .as_ref()
            .is_some_and(|r| metadata.level() <= r.streams[index(metadata.target())].level)
    }

    fn log(&self, record: &Record) {
        let routes = ROUTES.read().unwrap_or_else(|e| e.into_inner());
        let Some(r) = routes.as_ref() else { return };
        let stream = &r.streams[index(record.target())];
        if record.level() > stream.level {
            return;
        }
        // Logging must never take the server down: failed writes are dropped.
        match &stream.sink {
            Sink::Function(f) => f(&record.args().to_string()),
            Sink::Stderr => {
                let line = format_line(&r.prefix, record.level(), &record.args().to_string());
                let _ = io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::File(file) => {
                let line = format_line(&r.prefix, record.level(), &record.args().to_string());
                let _ = (&*file).write_all(line.as_bytes());
            }
        }
    }

    fn flush(&self) {
        let _ = io::stderr().flush();
    }
}

/// Make ftpdlib's router the process's logger if no logger is set yet;
/// `Ok(true)` if this call installed it, `Ok(false)` if it already was.
fn ensure_router(level: LevelFilter, prefix: &str) -> Result<bool, LoggerInUse> {
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    if routes.is_some() {
        return Ok(false);
    }
    log::set_logger(&ROUTER).map_err(|_| LoggerInUse)?;
    let fresh = Routes::new(level, prefix);
    log::set_max_level(fresh.max_level());
    *routes = Some(fresh);
    Ok(true)
}

/// Change the routes (installing the router at INFO first if needed).
fn with_routes(f: impl FnOnce(&mut Routes)) -> Result<(), LoggerInUse> {
    ensure_router(LevelFilter::Info, PREFIX)?;
    let mut routes = ROUTES.write().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = routes.as_mut() {
        f(r);
        log::set_max_level(r.max_level());
    }
    Ok(())
}

/// `config_logging`: every stream to stderr at `level` with `prefix`.
pub(super) fn configure(level: LevelFilter, prefix: &str) -> Result<(), LoggerInUse> {
    with_routes(|r| *r = Routes::new(level, prefix))
}

/// What `serve_forever` does before serving (pyftpdlib's `IOLoop.loop`
/// configuring logging when the program configured none): install
/// pyftpdlib's default, INFO to stderr, unless a logger is set. True if
/// it installed it. ftpdlib extension of `config_logging`.
pub fn install_default() -> bool {
    ensure_router(LevelFilter::Info, PREFIX).unwrap_or(false)
}

fn route(target: &str, sink: Sink, level: LevelFilter) -> Result<(), LoggerInUse> {
    with_routes(|r| {
        r.streams[index(target)] = Stream { sink, level };
    })
}

/// Send the user-facing stream (target [`LOG`]) to `f`, at INFO and above
/// (pyftpdlib's tutorial: `ftpserver.log = standard_logger`). `f` gets the
/// message with its session prefix and adds what it likes. Installs
/// ftpdlib's logger if no logger is set; fails if another one is.
#[doc(alias = "log")]
pub fn set_log(f: impl Fn(&str) + Send + Sync + 'static) -> Result<(), LoggerInUse> {
    route(LOG, Sink::Function(Box::new(f)), LevelFilter::Info)
}

/// Send the command-line stream (target [`LOGLINE`]: every command and
/// reply, at DEBUG) to `f` (pyftpdlib's tutorial: `ftpserver.logline =
/// line_logger`). Errors as [`set_log`].
#[doc(alias = "logline")]
pub fn set_logline(f: impl Fn(&str) + Send + Sync + 'static) -> Result<(), LoggerInUse> {
    route(LOGLINE, Sink::Function(Box::new(f)), LevelFilter::Debug)
}

/// Send the error stream (target [`LOGERROR`]) to `f` (pyftpdlib
/// `ftpserver.logerror = ...`). Errors as [`set_log`].
#[doc(alias = "logerror")]
pub fn set_logerror(f: impl Fn(&str) + Send + Sync + 'static) -> Result<(), LoggerInUse> {
    route(LOGERROR, Sink::Function(Box::new(f)), LevelFilter::Info)
}

/// Append stream `target` ([`LOG`], [`LOGLINE`] or [`LOGERROR`]; any other
/// target means everything else) to the file at `path`, created if
/// missing, in pyftpdlib's line format. [`LOGLINE`] is written down to
/// DEBUG (every command and reply), the others from `level` up.
pub fn log_to_file(target: &str, path: impl AsRef<Path>, level: LevelFilter) -> io::Result<()> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let level = if target == LOGLINE {
        LevelFilter::Debug
    } else {
        level
    };
    route(target, Sink::File(file), level)?;
    Ok(())
}

/// Keep stream `target` at `level` or above, on its current sink (say
/// `LevelFilter::Off` to silence it). Errors as [`set_log`].
pub fn set_stream_level(target: &str, level: LevelFilter) -> Result<(), LoggerInUse> {
    with_routes(|r| r.streams[index(target)].level = level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use log::Level;
    use std::sync::{Arc, Mutex};

    // The one test of the process-wide logger in the unit tests: the
    // routes are global, so everything is checked in one place.
    #[test]
    fn streams_route_to_functions_and_files() {
        let got: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = Arc::clone(&got);
        set_log(move |m| sink.lock().unwrap().push(m.to_owned())).unwrap();
        assert!(!install_default(), "already installed");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lines.log");
        log_to_file(LOGLINE, &path, LevelFilter::Info).unwrap();
        log::info!(target: LOG, "to the function");
        log::debug!(target: LOG, "below the function's level");
        log::debug!(target: LOGLINE, "<- NOOP");
        assert_eq!(*got.lock().unwrap(), vec!["to the function".to_string()]);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.starts_with("[D ") && text.ends_with("] <- NOOP\n"),
            "{text:?}"
        );
        set_stream_level(LOG, LevelFilter::Off).unwrap();
        log::info!(target: LOG, "silenced");
        assert_eq!(got.lock().unwrap().len(), 1);
        configure(LevelFilter::Warn, PREFIX).unwrap();
        assert_eq!(log::max_level(), LevelFilter::Warn);
        assert_eq!(Level::Warn.to_level_filter(), log::max_level());
    }
}
