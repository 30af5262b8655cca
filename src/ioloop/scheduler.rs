//! Delayed calls on a binary heap (pyftpdlib's `_Scheduler`, `_CallLater`,
//! `_CallEvery`).
//!
//! The heap holds `(deadline, sequence)` keys. A timer's live state (its
//! deadline, whether it was cancelled) sits in a small shared cell that the
//! public handle also points to, so [`CallLater::cancel`] and
//! [`CallLater::reset`] work without a reference to the loop and without a
//! lock: both are single-threaded by construction (the handle is `!Send`).
//! Cancelled and reset timers are dealt with lazily when they reach the top of
//! the heap, as pyftpdlib does.

use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::Link;

/// What a timer does when it fires.
pub(crate) enum Action<T> {
    /// A library user's callback ([`CallLater`] / [`CallEvery`]).
    Call(Box<dyn FnMut()>),
    /// A protocol timer of a dispatcher: routed back to the dispatcher at
    /// `link` if it is still there.
    Notify { link: Link, what: T },
}

struct TimerState {
    deadline: Cell<Instant>,
    delay: Cell<Duration>,
    cancelled: Cell<bool>,
    repeat: bool,
}

pub(crate) struct Entry<T> {
    state: Rc<TimerState>,
    action: Action<T>,
}

/// A delayed call scheduled on the loop (pyftpdlib `CallLater`).
///
/// Returned by [`IoLoop::call_later`](crate::IoLoop::call_later). Dropping the
/// handle does not cancel the call.
#[doc(alias = "_CallLater")]
#[derive(Clone)]
pub struct CallLater {
    state: Rc<TimerState>,
}

/// A call repeated every `delay` on the loop (pyftpdlib `CallEvery`).
///
/// Returned by [`IoLoop::call_every`](crate::IoLoop::call_every); it has the
/// same methods as [`CallLater`].
#[doc(alias = "_CallEvery")]
pub type CallEvery = CallLater;

impl CallLater {
    /// Cancel the call; it will never run (pyftpdlib `cancel()`).
    pub fn cancel(&self) {
        self.state.cancelled.set(true);
    }

    /// Re-arm the call `delay` from now (pyftpdlib `reset()`).
    pub fn reset(&self) {
        self.state
            .deadline
            .set(deadline_after(Instant::now(), self.state.delay.get()));
    }

    /// The delay between arming and firing (pyftpdlib's `_delay`).
    pub fn delay(&self) -> Duration {
        self.state.delay.get()
    }

    /// Change the delay; takes effect at the next [`reset`](Self::reset) or,
    /// for a [`CallEvery`], at the next repetition.
    pub fn set_delay(&self, delay: Duration) {
        self.state.delay.set(delay);
    }

    /// Whether [`cancel`](Self::cancel) was called (pyftpdlib `cancelled`).
    pub fn cancelled(&self) -> bool {
        self.state.cancelled.get()
    }

    /// When the call is due.
    pub fn deadline(&self) -> Instant {
        self.state.deadline.get()
    }
}

impl fmt::Debug for CallLater {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallLater")
            .field("delay", &self.delay())
            .field("cancelled", &self.cancelled())
            .finish()
    }
}

/// The heap of delayed calls (pyftpdlib `_Scheduler`).
pub(crate) struct Scheduler<T> {
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    entries: slab::Slab<Entry<T>>,
    seq: u64,
}

impl<T> Default for Scheduler<T> {
    fn default() -> Scheduler<T> {
        Scheduler {
            heap: BinaryHeap::new(),
            entries: slab::Slab::new(),
            seq: 0,
        }
    }
}

impl<T> Scheduler<T> {
    /// Schedule `action` after `delay`, once or every `delay`.
    pub(crate) fn schedule(
        &mut self,
        delay: Duration,
        repeat: bool,
        action: Action<T>,
    ) -> CallLater {
        self.schedule_from(Instant::now(), delay, repeat, action)
    }

    /// [`schedule`](Self::schedule) counting `delay` from `now`.
    fn schedule_from(
        &mut self,
        now: Instant,
        delay: Duration,
        repeat: bool,
        action: Action<T>,
    ) -> CallLater {
        let state = Rc::new(TimerState {
            deadline: Cell::new(deadline_after(now, delay)),
            delay: Cell::new(delay),
            cancelled: Cell::new(false),
            repeat,
        });
        let key = self.entries.insert(Entry {
            state: Rc::clone(&state),
            action,
        });
        self.push(state.deadline.get(), key);
        CallLater { state }
    }

    /// Time until the nearest live deadline, `None` if nothing is scheduled.
    pub(crate) fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        self.discard_cancelled_top();
        self.heap
            .peek()
            .map(|Reverse((at, _))| at.saturating_duration_since(now))
    }

    /// Remove and return every action due at `now`. Reset timers are pushed
    /// back at their new deadline; repeating timers are re-armed and their
    /// actions handed out as `Fired::Repeat` to be put back with
    /// [`restore`](Self::restore) after they run.
    pub(crate) fn pop_due(&mut self, now: Instant, due: &mut Vec<Fired<T>>) {
        while let Some(&Reverse((at, key))) = self.heap.peek() {
            if at > now {
                break;
            }
            self.heap.pop();
            let Some(entry) = self.entries.get(slab_key(key)) else {
                continue;
            };
            let state = Rc::clone(&entry.state);
            if state.cancelled.get() {
                self.entries.remove(slab_key(key));
                continue;
            }
            let deadline = state.deadline.get();
            if deadline > now {
                // reset() moved it later: push it back lazily.
                self.push(deadline, slab_key(key));
                continue;
            }
            let entry = self.entries.remove(slab_key(key));
            if state.repeat {
                state.deadline.set(deadline_after(now, state.delay.get()));
                due.push(Fired::Repeat(entry));
            } else {
                due.push(Fired::Once(entry.action));
            }
        }
    }

    /// Put a repeating timer back after it ran (unless it was cancelled).
    pub(crate) fn restore(&mut self, fired: Fired<T>) {
        if let Fired::Repeat(entry) = fired {
            if entry.state.cancelled.get() {
                return;
            }
            let at = entry.state.deadline.get();
            let key = self.entries.insert(entry);
            self.push(at, key);
        }
    }

    /// Cancel everything (pyftpdlib `close_all` clears the heap).
    pub(crate) fn clear(&mut self) {
        for (_, e) in self.entries.iter() {
            e.state.cancelled.set(true);
        }
        self.entries.clear();
        self.heap.clear();
    }

    /// Number of scheduled (possibly cancelled, not yet collected) calls.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn push(&mut self, at: Instant, key: usize) {
        self.seq = self.seq.wrapping_add(1);
        // The key is packed in the low 32 bits so equal deadlines stay FIFO
        // by sequence in the high bits.
        self.heap
            .push(Reverse((at, (self.seq << 32) | key as u64 & 0xffff_ffff)));
    }

    fn discard_cancelled_top(&mut self) {
        while let Some(&Reverse((_, key))) = self.heap.peek() {
            match self.entries.get(slab_key(key)) {
                Some(e) if !e.state.cancelled.get() => break,
                Some(_) => {
                    self.heap.pop();
                    self.entries.remove(slab_key(key));
                }
                None => {
                    self.heap.pop();
                }
            }
        }
    }
}

/// The longest delay a timer keeps: a century. Longer ones (a timeout of
/// `u64::MAX` seconds from a configuration) wait that long instead of
/// overflowing `Instant`, which would panic.
const FOREVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `now + delay`, never overflowing.
fn deadline_after(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay.min(FOREVER))
        .or_else(|| now.checked_add(Duration::from_secs(3600)))
        .unwrap_or(now)
}

fn slab_key(packed: u64) -> usize {
    (packed & 0xffff_ffff) as usize
}

/// A timer taken off the heap because it is due.
pub(crate) enum Fired<T> {
    Once(Action<T>),
    Repeat(Entry<T>),
}

impl<T> Fired<T> {
    /// The action to run.
    pub(crate) fn action(&mut self) -> &mut Action<T> {
        match self {
            Fired::Once(a) => a,
            Fired::Repeat(e) => &mut e.action,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn run_due(s: &mut Scheduler<()>, now: Instant) {
        let mut due = Vec::new();
        s.pop_due(now, &mut due);
        for mut f in due {
            if let Action::Call(cb) = f.action() {
                cb();
            }
            s.restore(f);
        }
    }

    fn recorder() -> (Rc<RefCell<Vec<u32>>>, impl Fn(u32) -> Action<()>) {
        let log = Rc::new(RefCell::new(Vec::new()));
        let l = Rc::clone(&log);
        (log, move |n| {
            let l = Rc::clone(&l);
            Action::Call(Box::new(move || l.borrow_mut().push(n)))
        })
    }

    #[test]
    fn calls_fire_in_deadline_order_and_only_when_due() {
        let mut s = Scheduler::<()>::default();
        let (log, make) = recorder();
        // Both counted from one instant: no stall of the test thread can
        // reorder them.
        let t0 = Instant::now();
        s.schedule_from(t0, Duration::from_millis(20), false, make(2));
        s.schedule_from(t0, Duration::from_millis(10), false, make(1));
        run_due(&mut s, t0);
        assert!(log.borrow().is_empty());
        run_due(&mut s, t0 + Duration::from_millis(15));
        assert_eq!(*log.borrow(), vec![1]);
        run_due(&mut s, t0 + Duration::from_millis(25));
        assert_eq!(*log.borrow(), vec![1, 2]);
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn cancelled_call_never_runs_and_is_collected() {
        let mut s = Scheduler::<()>::default();
        let (log, make) = recorder();
        let c = s.schedule(Duration::ZERO, false, make(1));
        c.cancel();
        assert!(c.cancelled());
        assert_eq!(s.next_timeout(Instant::now()), None);
        run_due(&mut s, Instant::now() + Duration::from_secs(1));
        assert!(log.borrow().is_empty());
        assert_eq!(s.len(), 0);
    }

    #[test]
    fn reset_pushes_the_deadline_later() {
        let mut s = Scheduler::<()>::default();
        let (log, make) = recorder();
        let c = s.schedule(Duration::from_millis(50), false, make(1));
        std::thread::sleep(Duration::from_millis(20));
        // Deadlines are checked against instants taken around reset(), not
        // against a later Instant::now(): a descheduled test thread cannot
        // make this fail.
        let before = Instant::now();
        c.reset();
        assert!(c.deadline() >= before + Duration::from_millis(50));
        run_due(&mut s, before + Duration::from_millis(40));
        assert!(log.borrow().is_empty(), "fired at the old deadline");
        run_due(&mut s, c.deadline());
        assert_eq!(*log.borrow(), vec![1]);
    }

    #[test]
    fn call_every_repeats_until_cancelled() {
        let mut s = Scheduler::<()>::default();
        let (log, make) = recorder();
        let c = s.schedule(Duration::from_millis(10), true, make(7));
        let mut now = Instant::now();
        for _ in 0..3 {
            now += Duration::from_millis(11);
            run_due(&mut s, now.max(c.deadline()));
            now = now.max(c.deadline());
        }
        assert_eq!(*log.borrow(), vec![7, 7, 7]);
        c.cancel();
        run_due(&mut s, now + Duration::from_secs(1));
        assert_eq!(log.borrow().len(), 3);
        assert_eq!(s.next_timeout(now), None);
    }

    #[test]
    fn a_delay_too_long_for_instant_waits_a_century_instead_of_panicking() {
        let mut s = Scheduler::<()>::default();
        let now = Instant::now();
        let c = s.schedule(Duration::MAX, false, Action::Call(Box::new(|| {})));
        assert!(c.deadline() >= now + Duration::from_secs(99 * 365 * 24 * 3600));
        c.reset();
        let t = s.next_timeout(Instant::now()).unwrap_or_default();
        assert!(t > Duration::from_secs(99 * 365 * 24 * 3600), "{t:?}");
        let e = s.schedule(
            Duration::from_secs(u64::MAX),
            true,
            Action::Call(Box::new(|| {})),
        );
        assert!(e.deadline() > now);
    }

    #[test]
    fn next_timeout_is_the_nearest_deadline() {
        let mut s = Scheduler::<()>::default();
        let now = Instant::now();
        s.schedule(
            Duration::from_secs(10),
            false,
            Action::Call(Box::new(|| {})),
        );
        s.schedule(Duration::from_secs(2), false, Action::Call(Box::new(|| {})));
        let t = s.next_timeout(now).unwrap_or_default();
        // `now` was taken before both were scheduled: the nearest is at
        // least 2 s away from it and far less than the other's 10 s.
        assert!(
            t >= Duration::from_secs(2) && t < Duration::from_secs(10),
            "{t:?}"
        );
    }
}
