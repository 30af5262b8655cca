//! The event loop (pyftpdlib `ioloop.py`).
//!
//! One `mio::Poll`, one `Slab` of dispatchers keyed by token, one scheduler.
//! mio is edge-triggered: every dispatcher remembers the readiness it was
//! told about and clears a bit only when an operation returns `WouldBlock`
//! (STYLE.md rule 2); after each event the dispatcher re-evaluates what it
//! can do, so no edge is ever waited for twice.
//!
//! A dispatcher being served is taken out of its slot (the slot holds
//! `Dispatcher::Busy` meanwhile), so the code handling it gets `&mut Core`
//! and can insert new dispatchers. Dispatchers never call each other: they
//! post a `Notice` to a token and the loop delivers it once the current
//! handler has returned; notices and timers carry the target's generation so
//! that a reused slab key never receives a message meant for its previous
//! occupant.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use slab::Slab;

mod scheduler;

pub(crate) use scheduler::{Action, TimerKind};
pub use scheduler::{CallEvery, CallLater};
use scheduler::{Fired, Scheduler};

use crate::handlers::ftp::control::ControlChannel;
use crate::handlers::ftp::dispatchers::{ActiveConnector, PassiveListener};
use crate::handlers::ftp::dtp::DataChannel;
use crate::servers::Acceptor;

/// The token of the loop's waker (never a slab key).
const WAKER: Token = Token(usize::MAX);
/// The token of the signal descriptor (never a slab key).
const SIGNALS: Token = Token(usize::MAX - 1);

/// Readiness reported by one poll event.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ready {
    pub readable: bool,
    pub writable: bool,
    /// Error or hang-up on both directions.
    pub closed: bool,
}

impl Ready {
    fn of(ev: &Event) -> Ready {
        Ready {
            readable: ev.is_readable() || ev.is_read_closed(),
            writable: ev.is_writable() || ev.is_write_closed(),
            closed: ev.is_error(),
        }
    }
}

/// Every kind of socket the loop serves: a closed set (STYLE.md rule 4).
pub(crate) enum Dispatcher {
    /// Placeholder while the dispatcher of this slot is being served.
    Busy,
    /// A listening FTP server (pyftpdlib `FTPServer` / `Acceptor`).
    Acceptor(Box<Acceptor>),
    /// A control connection (pyftpdlib `FTPHandler`).
    Control(Box<ControlChannel>),
    /// A PASV/EPSV listener (pyftpdlib `PassiveDTP`).
    Passive(Box<PassiveListener>),
    /// A PORT/EPRT connect in progress (pyftpdlib `ActiveDTP`).
    Active(Box<ActiveConnector>),
    /// An open data connection (pyftpdlib `DTPHandler`).
    Data(Box<DataChannel>),
}

/// A message from one dispatcher to another, delivered by the loop.
pub(crate) enum Notice {
    /// A protocol timer fired.
    Timer(TimerKind),
    /// To a control channel: its data connection is up at this token.
    DataConnected(Token, u64),
    /// To a control channel: a reply about its data connection (a refused
    /// foreign peer, a failed connect, a timeout); `fatal` = the data side
    /// is gone.
    DataReply {
        code: u16,
        text: String,
        fatal: bool,
    },
    /// To a control channel: its transfer ended.
    TransferDone(crate::handlers::ftp::producers::Outcome),
    /// To a data channel: the transfer to run.
    Start(crate::handlers::ftp::producers::Job),
    /// To an acceptor: one of its control connections closed.
    ControlClosed(std::net::IpAddr),
    /// Serve again: the dispatcher yielded to others with work left.
    Resume,
}

/// What a dispatcher asks of the loop after being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// Keep it registered.
    Keep,
    /// Deregister, drop and free its slot (its `close` already ran).
    Remove,
}

/// Everything a dispatcher may touch while it is served.
pub(crate) struct Core {
    pub registry: Registry,
    pub slab: Slab<Dispatcher>,
    pub(crate) sched: Scheduler,
    notices: VecDeque<(Token, u64, Notice)>,
    /// Server-wide rate limits shared by the data channels.
    pub(crate) bandwidth: crate::handlers::ftp::dtp::Bandwidth,
    /// Dispatchers that stopped early to be fair to others and must be
    /// served again next round (their readiness edge will not come again).
    deferred: Vec<(Token, u64)>,
    next_gen: u64,
}

impl Core {
    /// A generation number for a new dispatcher.
    pub fn next_gen(&mut self) -> u64 {
        self.next_gen += 1;
        self.next_gen
    }

    /// Queue `notice` for the dispatcher at `token` if it still has `gen`.
    pub fn notify(&mut self, token: Token, gen: u64, notice: Notice) {
        self.notices.push_back((token, gen, notice));
    }

    /// Serve `(token, gen)` again at the next round with `Notice::Resume`.
    pub fn defer(&mut self, token: Token, gen: u64) {
        self.deferred.push((token, gen));
    }

    /// Take the dispatcher `(token, gen)` out of the slab for good (the
    /// caller closes it). `None` if the slot holds something else.
    pub fn take(&mut self, token: Token, gen: u64) -> Option<Dispatcher> {
        let d = self.slab.get(token.0)?;
        if generation(d) != Some(gen) {
            return None;
        }
        Some(self.slab.remove(token.0))
    }

    /// Arm a protocol timer for the dispatcher `(token, gen)`.
    pub fn timer(&mut self, delay: Duration, token: Token, gen: u64, what: TimerKind) -> CallLater {
        self.sched.schedule(
            delay,
            false,
            Action::Notify {
                token: token.0,
                gen,
                what,
            },
        )
    }

    /// Insert a dispatcher built from its token, registering its socket.
    pub fn insert_with(
        &mut self,
        build: impl FnOnce(Token, &mut Core) -> io::Result<Dispatcher>,
    ) -> io::Result<Token> {
        let key = self.slab.insert(Dispatcher::Busy);
        let token = Token(key);
        match build(token, self) {
            Ok(d) => {
                self.slab[key] = d;
                Ok(token)
            }
            Err(e) => {
                self.slab.remove(key);
                Err(e)
            }
        }
    }

    /// Register `source` for both read and write edges under `token`.
    pub fn register<S: mio::event::Source + ?Sized>(
        &self,
        source: &mut S,
        token: Token,
    ) -> io::Result<()> {
        self.registry
            .register(source, token, Interest::READABLE | Interest::WRITABLE)
    }
}

/// The event loop (pyftpdlib `IOLoop`).
///
/// An [`FtpServer`](crate::FtpServer) owns one; library users reach it with
/// [`FtpServer::ioloop`](crate::FtpServer::ioloop) to schedule their own
/// delayed calls, which run inside the loop thread.
#[doc(alias = "IOLoop")]
pub struct IoLoop {
    poll: Poll,
    events: Events,
    pub(crate) core: Core,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    due: Vec<Fired>,
    signals: Option<crate::sys::SignalFd>,
    signalled: bool,
}

/// Stops a running [`FtpServer::serve_forever`](crate::FtpServer::serve_forever)
/// from any thread.
#[derive(Clone)]
pub struct StopHandle {
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
}

impl StopHandle {
    /// Ask the loop to stop; it returns from `serve_forever` after closing
    /// every connection.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        // A failed wake only delays the stop until the next event.
        let _ = self.waker.wake();
    }
}

impl IoLoop {
    /// A new loop with nothing registered (pyftpdlib `IOLoop.factory()`).
    pub fn new() -> io::Result<IoLoop> {
        let poll = Poll::new()?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let registry = poll.registry().try_clone()?;
        Ok(IoLoop {
            poll,
            events: Events::with_capacity(1024),
            core: Core {
                registry,
                slab: Slab::new(),
                sched: Scheduler::default(),
                notices: VecDeque::new(),
                deferred: Vec::new(),
                bandwidth: crate::handlers::ftp::dtp::Bandwidth::new(0, 0),
                next_gen: 0,
            },
            waker,
            stop: Arc::new(AtomicBool::new(false)),
            due: Vec::new(),
            signals: None,
            signalled: false,
        })
    }

    /// Run `callback` once after `delay` (pyftpdlib `call_later`).
    pub fn call_later(&mut self, delay: Duration, callback: impl FnMut() + 'static) -> CallLater {
        self.core
            .sched
            .schedule(delay, false, Action::Call(Box::new(callback)))
    }

    /// Run `callback` every `delay` until cancelled (pyftpdlib `call_every`).
    pub fn call_every(&mut self, delay: Duration, callback: impl FnMut() + 'static) -> CallEvery {
        self.core
            .sched
            .schedule(delay, true, Action::Call(Box::new(callback)))
    }

    /// A handle that stops the loop from another thread.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            waker: Arc::clone(&self.waker),
            stop: Arc::clone(&self.stop),
        }
    }

    /// Stop the loop on SIGINT or SIGTERM (pyftpdlib's `handle_exit`): the
    /// signals are blocked in this thread and read from a signalfd.
    pub(crate) fn watch_signals(&mut self) -> io::Result<()> {
        let fd = crate::sys::SignalFd::new()?;
        self.poll.registry().register(
            &mut mio::unix::SourceFd(&fd.raw()),
            SIGNALS,
            Interest::READABLE,
        )?;
        self.signals = Some(fd);
        self.signalled = false;
        Ok(())
    }

    /// Stop watching signals; returns whether one arrived.
    pub(crate) fn unwatch_signals(&mut self) -> bool {
        if let Some(fd) = self.signals.take() {
            let _ = self
                .poll
                .registry()
                .deregister(&mut mio::unix::SourceFd(&fd.raw()));
        }
        std::mem::take(&mut self.signalled)
    }

    /// Whether a stop was requested and not yet handled.
    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Clear a handled stop request.
    pub(crate) fn clear_stop(&self) {
        self.stop.store(false, Ordering::SeqCst);
    }

    /// Number of dispatchers (sockets) in the loop (pyftpdlib `socket_map`).
    pub fn socket_count(&self) -> usize {
        self.core.slab.len()
    }

    /// Number of scheduled calls, cancelled ones not yet collected included.
    pub fn scheduled_count(&self) -> usize {
        self.core.sched.len()
    }

    /// One round: wait for events at most `timeout` (or until the nearest
    /// timer when `None`), serve them, run due timers. Returns the delay
    /// until the next timer (pyftpdlib `loop(blocking=False)`).
    pub fn poll_once(&mut self, timeout: Option<Duration>) -> io::Result<Option<Duration>> {
        let now = Instant::now();
        let next = self.core.sched.next_timeout(now);
        let wait = match (timeout, next) {
            _ if !self.core.deferred.is_empty() => Some(Duration::ZERO),
            (Some(t), Some(n)) => Some(t.min(n)),
            (Some(t), None) => Some(t),
            (None, n) => n,
        };
        match self.poll.poll(&mut self.events, wait) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
        for ev in self.events.iter() {
            match ev.token() {
                WAKER => {}
                SIGNALS => {
                    while let Some(signo) = self.signals.as_ref().and_then(|s| s.read()) {
                        log::debug!(target: crate::log::LOG, "signal {signo} received");
                        self.signalled = true;
                        self.stop.store(true, Ordering::SeqCst);
                    }
                }
                token => {
                    serve(&mut self.core, token, Ready::of(ev));
                    deliver_notices(&mut self.core);
                }
            }
        }
        for (token, gen) in std::mem::take(&mut self.core.deferred) {
            deliver(&mut self.core, token, gen, Notice::Resume);
            deliver_notices(&mut self.core);
        }
        self.run_timers();
        Ok(self.core.sched.next_timeout(Instant::now()))
    }

    /// Close every dispatcher and cancel every scheduled call (pyftpdlib
    /// `close_all` / `IOLoop.close`).
    pub fn close_all(&mut self) {
        let keys: Vec<usize> = self.core.slab.iter().map(|(k, _)| k).collect();
        for key in keys {
            if let Some(d) = self.core.slab.try_remove(key) {
                close_dispatcher(d, &mut self.core);
            }
        }
        self.core.notices.clear();
        self.core.deferred.clear();
        self.core.sched.clear();
    }

    fn run_timers(&mut self) {
        let now = Instant::now();
        let mut due = std::mem::take(&mut self.due);
        self.core.sched.pop_due(now, &mut due);
        for mut fired in due.drain(..) {
            match fired.action() {
                Action::Call(cb) => {
                    let call = std::panic::AssertUnwindSafe(cb);
                    if std::panic::catch_unwind(call).is_err() {
                        log::error!(target: crate::log::LOGERROR, "a scheduled call panicked; the loop goes on");
                    }
                }
                Action::Notify { token, gen, what } => {
                    let (token, gen, what) = (Token(*token), *gen, *what);
                    deliver(&mut self.core, token, gen, Notice::Timer(what));
                }
            }
            self.core.sched.restore(fired);
            deliver_notices(&mut self.core);
        }
        self.due = due;
    }
}

/// Take the dispatcher at `token` out of its slot, serve it with `f`, then
/// put it back or close it.
pub(crate) fn with_dispatcher(
    core: &mut Core,
    token: Token,
    f: impl FnOnce(&mut Dispatcher, &mut Core) -> Status,
) {
    let Some(slot) = core.slab.get_mut(token.0) else {
        return;
    };
    let mut d = std::mem::replace(slot, Dispatcher::Busy);
    if matches!(d, Dispatcher::Busy) {
        return;
    }
    match f(&mut d, core) {
        Status::Keep => core.slab[token.0] = d,
        Status::Remove => {
            core.slab.remove(token.0);
            close_dispatcher(d, core);
        }
    }
}

/// Serve one readiness event.
fn serve(core: &mut Core, token: Token, ready: Ready) {
    with_dispatcher(core, token, |d, core| match d {
        Dispatcher::Busy => Status::Keep,
        Dispatcher::Acceptor(a) => a.on_ready(token, core),
        Dispatcher::Control(c) => c.on_ready(ready, core),
        Dispatcher::Passive(p) => p.on_ready(core),
        Dispatcher::Active(a) => a.on_ready(ready, core),
        Dispatcher::Data(d) => d.on_ready(ready, core),
    });
}

fn deliver_notices(core: &mut Core) {
    while let Some((token, gen, notice)) = core.notices.pop_front() {
        deliver(core, token, gen, notice);
    }
}

fn deliver(core: &mut Core, token: Token, gen: u64, notice: Notice) {
    with_dispatcher(core, token, |d, core| {
        if generation(d) != Some(gen) {
            return Status::Keep;
        }
        match d {
            Dispatcher::Busy => Status::Keep,
            Dispatcher::Acceptor(a) => a.on_notice(notice),
            Dispatcher::Control(c) => c.on_notice(notice, core),
            Dispatcher::Passive(p) => p.on_notice(notice, core),
            Dispatcher::Active(a) => a.on_notice(notice, core),
            Dispatcher::Data(d) => d.on_notice(notice, core),
        }
    });
}

fn generation(d: &Dispatcher) -> Option<u64> {
    match d {
        Dispatcher::Busy => None,
        Dispatcher::Acceptor(a) => Some(a.gen),
        Dispatcher::Control(c) => Some(c.gen),
        Dispatcher::Passive(p) => Some(p.gen),
        Dispatcher::Active(a) => Some(a.gen),
        Dispatcher::Data(d) => Some(d.gen),
    }
}

/// Deregister and drop a dispatcher already removed from the slab.
pub(crate) fn close_dispatcher(d: Dispatcher, core: &mut Core) {
    match d {
        Dispatcher::Busy => {}
        Dispatcher::Acceptor(mut a) => a.close(core),
        Dispatcher::Control(mut c) => c.close(core),
        Dispatcher::Passive(mut p) => p.close(core),
        Dispatcher::Active(mut a) => a.close(core),
        Dispatcher::Data(mut d) => d.close(core),
    }
}
