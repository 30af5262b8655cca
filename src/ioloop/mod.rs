//! The event loop (pyftpdlib `ioloop.py`), knowing nothing of FTP.
//!
//! One `mio::Poll`, one `Slab` of dispatchers keyed by token, one scheduler.
//! What the loop serves is a type parameter: anything that implements
//! [`Dispatch`] (the FTP server's closed set of dispatchers lives in
//! `handlers/ftp/dispatch.rs`; this module's tests serve a fake one).
//!
//! mio is edge-triggered: every dispatcher remembers the readiness it was
//! told about and clears a bit only when an operation returns `WouldBlock`
//! (STYLE.md rule 2); after each event the dispatcher re-evaluates what it
//! can do, so no edge is ever waited for twice.
//!
//! A dispatcher being served is taken out of its slot (the slot is *busy*
//! meanwhile), so the code handling it gets `&mut Core` and can insert new
//! dispatchers. Dispatchers talk to each other by posting a notice to a
//! [`Link`]; the loop delivers it once the current handler has returned.
//! Links, timers and deferred resumes carry the target's generation, so a
//! reused slab key never receives a message meant for its previous
//! occupant.
//!
//! One dispatcher may act on another synchronously in a single documented
//! way: [`Core::peek`] to read it, [`Core::remove`] to take it out of the
//! loop for good (then [`Core::close`] it). Both check the link's generation
//! and see nothing of a dispatcher that is being served.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::{Events, Interest, Poll, Registry, Token, Waker};
use slab::Slab;

mod pool;
mod scheduler;

use pool::Pool;
use scheduler::{Action, Fired, Scheduler};
pub use scheduler::{CallEvery, CallLater};

#[cfg(test)]
mod tests;

/// The token of the loop's waker (never a slab key).
const WAKER: Token = Token(usize::MAX);
/// The token of the signal descriptor (never a slab key).
const SIGNALS: Token = Token(usize::MAX - 1);

/// Readiness reported by one poll event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ready {
    /// Readable, or the peer closed its writing side.
    pub readable: bool,
    /// Writable, or the writing side is closed.
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

/// A generation-checked reference to a dispatcher in the loop: its slab
/// token plus the generation it was inserted with. A link to a closed
/// dispatcher (whose token may have been reused) reaches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Link {
    token: Token,
    gen: u64,
}

impl Link {
    /// The mio token (slab key) the dispatcher's socket is registered with.
    pub fn token(self) -> Token {
        self.token
    }
}

/// What a dispatcher asks of the loop after being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Keep it registered.
    Keep,
    /// Remove it from the loop and [`close`](Dispatch::close) it.
    Remove,
}

/// What the loop serves (pyftpdlib's `asyncore.dispatcher` interface).
///
/// Implemented by a closed enum of dispatcher kinds (STYLE.md rule 4). The
/// loop calls these methods with the dispatcher taken out of its slot, so
/// `core` may insert, notify, defer and arm timers freely.
pub trait Dispatch: Sized {
    /// Messages one dispatcher sends another through [`Core::notify`].
    type Notice;
    /// The protocol timers a dispatcher arms with [`Core::timer`].
    type Timer: Copy;
    /// Loop-wide state every dispatcher may use ([`Core::shared`]).
    type Shared: Default;
    /// What a task run on the worker pool ([`Core::spawn`]) hands back.
    type Done: Send + 'static;

    /// Its socket reported readiness.
    fn on_ready(&mut self, ready: Ready, core: &mut Core<Self>) -> Status;
    /// A notice posted to it arrived.
    fn on_notice(&mut self, notice: Self::Notice, core: &mut Core<Self>) -> Status;
    /// One of its timers fired.
    fn on_timer(&mut self, timer: Self::Timer, core: &mut Core<Self>) -> Status;
    /// It [deferred](Core::defer) itself last round: serve it again.
    fn on_resume(&mut self, core: &mut Core<Self>) -> Status;
    /// A task it [spawned](Core::spawn) finished.
    fn on_done(&mut self, done: Self::Done, core: &mut Core<Self>) -> Status;
    /// A task spawned for the dispatcher at `link` finished after that
    /// dispatcher left the loop: what it leaves to do with the result
    /// (say, account for a file its session removed). Default: nothing.
    fn on_orphan_done(link: Link, done: Self::Done, core: &mut Core<Self>) {
        let _ = (link, done, core);
    }
    /// It left the loop (removed by itself, by [`Core::remove`] or by
    /// [`IoLoop::close_all`]): deregister its socket, cancel its timers,
    /// tell its peers.
    fn close(self, core: &mut Core<Self>);
}

/// One slab slot: the generation it was filled with, and the dispatcher
/// unless it is being served.
struct Slot<D> {
    gen: u64,
    dispatcher: Option<D>,
    /// It is in [`Core::deferred`] already: a second defer in the same
    /// round adds nothing (each would otherwise be resumed, and a
    /// dispatcher that defers on every event and every resume would be
    /// served one more time each round, a transfer holding the loop longer
    /// and longer).
    deferred: bool,
}

/// Everything a dispatcher may touch while it is served.
pub struct Core<D: Dispatch> {
    registry: Registry,
    slab: Slab<Slot<D>>,
    sched: Scheduler<D::Timer>,
    notices: VecDeque<(Link, D::Notice)>,
    /// Dispatchers that stopped early to be fair to others and must be
    /// served again next round (their readiness edge will not come again).
    deferred: Vec<Link>,
    pool: Pool<D::Done>,
    next_gen: u64,
    /// Loop-wide state shared by the dispatchers.
    pub shared: D::Shared,
}

impl<D: Dispatch> Core<D> {
    /// The poll registry, to register and deregister sockets.
    pub fn registry(&self) -> &Registry {
        &self.registry
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

    /// Insert a dispatcher built from its own link (its token is the one to
    /// register its socket with). Nothing is inserted when `build` fails.
    pub fn insert_with(
        &mut self,
        build: impl FnOnce(Link, &mut Core<D>) -> io::Result<D>,
    ) -> io::Result<Link> {
        self.next_gen += 1;
        let gen = self.next_gen;
        let key = self.slab.insert(Slot {
            gen,
            dispatcher: None,
            deferred: false,
        });
        let link = Link {
            token: Token(key),
            gen,
        };
        match build(link, self) {
            Ok(d) => {
                self.slab[key].dispatcher = Some(d);
                Ok(link)
            }
            Err(e) => {
                self.slab.remove(key);
                Err(e)
            }
        }
    }

    /// Queue `notice` for the dispatcher at `to`; it is dropped if that
    /// dispatcher is gone by the time it would be delivered.
    pub fn notify(&mut self, to: Link, notice: D::Notice) {
        self.notices.push_back((to, notice));
    }

    /// Serve `link` again at the next round ([`Dispatch::on_resume`]),
    /// once however many times it is asked in this round.
    pub fn defer(&mut self, link: Link) {
        if let Some(slot) = self.slab.get_mut(link.token.0) {
            if slot.gen == link.gen {
                if slot.deferred {
                    return;
                }
                slot.deferred = true;
            }
        }
        self.deferred.push(link);
    }

    /// Arm a protocol timer for the dispatcher at `link`
    /// ([`Dispatch::on_timer`]); it is dropped if that dispatcher is gone.
    pub fn timer(&mut self, delay: Duration, link: Link, what: D::Timer) -> CallLater {
        self.sched
            .schedule(delay, false, Action::Notify { link, what })
    }

    /// Run `task` on the worker pool (inline when the pool has no thread);
    /// its result reaches the dispatcher at `link` through
    /// [`Dispatch::on_done`], or nobody if that dispatcher is gone by then.
    pub fn spawn(&mut self, link: Link, task: impl FnOnce() -> D::Done + Send + 'static) {
        self.pool.spawn(link, Box::new(task));
    }

    /// Threads of the worker pool; 0 = tasks run inline in the loop.
    pub fn workers(&self) -> usize {
        self.pool.size()
    }

    /// The dispatcher at `link`, if it is still there and not being served.
    pub fn peek(&self, link: Link) -> Option<&D> {
        let slot = self.slab.get(link.token.0)?;
        if slot.gen != link.gen {
            return None;
        }
        slot.dispatcher.as_ref()
    }

    /// The dispatcher at `link`, mutably (same rules as [`peek`](Self::peek)).
    pub fn peek_mut(&mut self, link: Link) -> Option<&mut D> {
        let slot = self.slab.get_mut(link.token.0)?;
        if slot.gen != link.gen {
            return None;
        }
        slot.dispatcher.as_mut()
    }

    /// Take the dispatcher at `link` out of the loop for good; the caller
    /// hands it to [`close`](Self::close) when done with it. `None` if it is
    /// gone, replaced, or being served.
    pub fn remove(&mut self, link: Link) -> Option<D> {
        self.peek(link)?;
        self.slab.remove(link.token.0).dispatcher
    }

    /// Close a dispatcher already out of the loop ([`Dispatch::close`]).
    pub fn close(&mut self, d: D) {
        d.close(self);
    }

    /// Number of dispatchers in the loop.
    pub fn len(&self) -> usize {
        self.slab.len()
    }

    /// Whether no dispatcher is in the loop.
    pub fn is_empty(&self) -> bool {
        self.slab.is_empty()
    }
}

/// The event loop (pyftpdlib `IOLoop`), generic over what it serves.
///
/// An [`FtpServer`](crate::FtpServer) owns one, [`crate::IoLoop`]; library
/// users reach it with [`FtpServer::ioloop`](crate::FtpServer::ioloop) to
/// schedule their own delayed calls, which run inside the loop thread.
#[doc(alias = "IOLoop")]
pub struct IoLoop<D: Dispatch> {
    poll: Poll,
    events: Events,
    core: Core<D>,
    waker: Arc<Waker>,
    stop: Arc<AtomicBool>,
    due: Vec<Fired<D::Timer>>,
    signals: Option<crate::sys::SignalFd>,
    signalled: bool,
    /// A SIGHUP arrived and was not yet taken.
    hangup: bool,
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

    /// Whether a stop was asked for and not yet handled.
    pub fn requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Wake the loop without asking it to stop (it then looks at what was
    /// sent to it, e.g. a [`ServerHandle`](crate::ServerHandle)'s changes).
    pub(crate) fn wake(&self) {
        // A failed wake only delays the work until the next event.
        let _ = self.waker.wake();
    }
}

impl<D: Dispatch> IoLoop<D> {
    /// A new loop with nothing registered (pyftpdlib `IOLoop.factory()`).
    pub fn new() -> io::Result<IoLoop<D>> {
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
                pool: Pool::new(0, Arc::clone(&waker)),
                next_gen: 0,
                shared: D::Shared::default(),
            },
            waker,
            stop: Arc::new(AtomicBool::new(false)),
            due: Vec::new(),
            signals: None,
            signalled: false,
            hangup: false,
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

    /// Size the worker pool of [`Core::spawn`]: `n` threads, started on
    /// the first task; 0 (the default) runs tasks inline. Only before the
    /// first task.
    pub fn set_workers(&mut self, n: usize) {
        self.core.pool.set_size(n);
    }

    /// The loop's core, to look dispatchers up by link.
    pub fn core(&self) -> &Core<D> {
        &self.core
    }

    /// The loop's core, to insert dispatchers and post to them.
    pub fn core_mut(&mut self) -> &mut Core<D> {
        &mut self.core
    }

    /// Stop the loop on SIGINT or SIGTERM (pyftpdlib's `handle_exit`): the
    /// signals are blocked in this thread and read from a signalfd. With
    /// `hangup`, SIGHUP too, which only sets a flag ([`take_hangup`](Self::take_hangup)).
    pub(crate) fn watch_signals(&mut self, hangup: bool) -> io::Result<()> {
        let fd = crate::sys::SignalFd::new(hangup)?;
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

    /// Whether a SIGHUP arrived since the last call.
    pub(crate) fn take_hangup(&mut self) -> bool {
        std::mem::take(&mut self.hangup)
    }

    /// Whether a stop was requested and not yet handled.
    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Clear a handled stop request.
    pub fn clear_stop(&self) {
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
    /// timer when `None`), serve them, resume the deferred, run due timers.
    /// Returns the delay until the next timer (pyftpdlib
    /// `loop(blocking=False)`).
    pub fn poll_once(&mut self, timeout: Option<Duration>) -> io::Result<Option<Duration>> {
        let next = self.core.sched.next_timeout(Instant::now());
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
        // Notices posted from outside any handler (by the loop's owner).
        deliver_notices(&mut self.core);
        for ev in self.events.iter() {
            match ev.token() {
                WAKER => {}
                SIGNALS => {
                    while let Some(signo) = self.signals.as_ref().and_then(|s| s.read()) {
                        log::debug!(target: crate::log::LOG, "signal {signo} received");
                        if signo == libc::SIGHUP {
                            self.hangup = true;
                            continue;
                        }
                        self.signalled = true;
                        self.stop.store(true, Ordering::SeqCst);
                    }
                }
                token => {
                    let ready = Ready::of(ev);
                    serve(&mut self.core, token, None, |d, core| {
                        d.on_ready(ready, core)
                    });
                    deliver_notices(&mut self.core);
                }
            }
        }
        for (link, done) in self.core.pool.take_done() {
            if self.core.peek(link).is_none() {
                D::on_orphan_done(link, done, &mut self.core);
                deliver_notices(&mut self.core);
                continue;
            }
            serve(&mut self.core, link.token, Some(link.gen), |d, core| {
                d.on_done(done, core)
            });
            deliver_notices(&mut self.core);
        }
        for link in std::mem::take(&mut self.core.deferred) {
            if let Some(slot) = self.core.slab.get_mut(link.token.0) {
                if slot.gen == link.gen {
                    slot.deferred = false;
                }
            }
            serve(&mut self.core, link.token, Some(link.gen), D::on_resume);
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
            if let Some(d) = self.core.slab.try_remove(key).and_then(|s| s.dispatcher) {
                d.close(&mut self.core);
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
                Action::Notify { link, what } => {
                    let (link, what) = (*link, *what);
                    serve(&mut self.core, link.token, Some(link.gen), |d, core| {
                        d.on_timer(what, core)
                    });
                }
            }
            self.core.sched.restore(fired);
            deliver_notices(&mut self.core);
        }
        self.due = due;
    }
}

/// Take the dispatcher at `token` out of its slot (if it has generation
/// `gen`, when given, and is not already being served), serve it with `f`,
/// then put it back or close it.
fn serve<D: Dispatch>(
    core: &mut Core<D>,
    token: Token,
    gen: Option<u64>,
    f: impl FnOnce(&mut D, &mut Core<D>) -> Status,
) {
    let Some(slot) = core.slab.get_mut(token.0) else {
        return;
    };
    if gen.is_some_and(|g| g != slot.gen) {
        return;
    }
    let Some(mut d) = slot.dispatcher.take() else {
        return;
    };
    match f(&mut d, core) {
        Status::Keep => core.slab[token.0].dispatcher = Some(d),
        Status::Remove => {
            core.slab.remove(token.0);
            d.close(core);
        }
    }
}

fn deliver_notices<D: Dispatch>(core: &mut Core<D>) {
    while let Some((link, notice)) = core.notices.pop_front() {
        serve(core, link.token, Some(link.gen), |d, core| {
            d.on_notice(notice, core)
        });
    }
}
