//! The loop on its own, serving a fake dispatcher: no FTP anywhere.

use std::cell::Cell;
use std::io::Write;
use std::rc::Rc;
use std::time::Duration;

use super::*;

/// A dispatcher that writes what happens to it into the loop's shared log.
struct Fake {
    name: &'static str,
    me: Option<Link>,
    stream: Option<mio::net::UnixStream>,
    /// Resumes still wanted after this one.
    resumes_left: u32,
}

enum Msg {
    /// Log it.
    Ping(u32),
    /// Defer yourself `n` times.
    Defer(u32),
    /// Try to reach yourself synchronously while being served.
    PeekSelf,
    /// Post a ping to yourself from inside a handler.
    PingSelf(u32),
}

impl Dispatch for Fake {
    type Notice = Msg;
    type Timer = u32;
    type Shared = Vec<String>;
    type Done = u32;

    fn on_ready(&mut self, ready: Ready, core: &mut Core<Self>) -> Status {
        core.shared
            .push(format!("{} ready r={}", self.name, ready.readable));
        if ready.readable {
            Status::Remove
        } else {
            Status::Keep
        }
    }

    fn on_notice(&mut self, notice: Msg, core: &mut Core<Self>) -> Status {
        let me = self.me.expect("link set at insert");
        match notice {
            Msg::Ping(n) => core.shared.push(format!("{} ping {n}", self.name)),
            Msg::Defer(n) => {
                self.resumes_left = n;
                core.defer(me);
            }
            Msg::PeekSelf => {
                let seen = core.peek(me).is_some() || core.remove(me).is_some();
                core.shared
                    .push(format!("{} sees itself: {seen}", self.name));
            }
            Msg::PingSelf(n) => {
                core.notify(me, Msg::Ping(n));
                core.shared.push(format!("{} posted {n}", self.name));
            }
        }
        Status::Keep
    }

    fn on_timer(&mut self, timer: u32, core: &mut Core<Self>) -> Status {
        core.shared.push(format!("{} timer {timer}", self.name));
        Status::Keep
    }

    fn on_resume(&mut self, core: &mut Core<Self>) -> Status {
        core.shared.push(format!("{} resumed", self.name));
        if self.resumes_left > 1 {
            self.resumes_left -= 1;
            core.defer(self.me.expect("link set at insert"));
        }
        Status::Keep
    }

    fn on_done(&mut self, done: u32, core: &mut Core<Self>) -> Status {
        core.shared.push(format!("{} done {done}", self.name));
        Status::Keep
    }

    fn close(mut self, core: &mut Core<Self>) {
        if let Some(s) = self.stream.as_mut() {
            let _ = core.registry().deregister(s);
        }
        core.shared.push(format!("{} closed", self.name));
    }
}

fn new_loop() -> IoLoop<Fake> {
    IoLoop::new().expect("poll")
}

fn insert(l: &mut IoLoop<Fake>, name: &'static str) -> Link {
    l.core_mut()
        .insert_with(|me, _| {
            Ok(Fake {
                name,
                me: Some(me),
                stream: None,
                resumes_left: 0,
            })
        })
        .expect("insert")
}

/// One round that does not wait.
fn round(l: &mut IoLoop<Fake>) {
    l.poll_once(Some(Duration::ZERO)).expect("poll");
}

fn log(l: &mut IoLoop<Fake>) -> Vec<String> {
    std::mem::take(&mut l.core_mut().shared)
}

#[test]
fn notices_are_delivered_in_order_after_the_round() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    l.core_mut().notify(a, Msg::Ping(1));
    l.core_mut().notify(a, Msg::Ping(2));
    assert!(log(&mut l).is_empty(), "delivered before the loop ran");
    let b = insert(&mut l, "b");
    l.core_mut().timer(Duration::ZERO, b, 9);
    round(&mut l);
    assert_eq!(log(&mut l), ["a ping 1", "a ping 2", "b timer 9"]);
}

#[test]
fn a_notice_for_a_stale_generation_is_dropped() {
    let mut l = new_loop();
    let old = insert(&mut l, "old");
    let gone = l.core_mut().remove(old).expect("present");
    l.core_mut().close(gone);
    let new = insert(&mut l, "new");
    assert_eq!(new.token(), old.token(), "the slab key is reused");
    assert_ne!(new, old);
    l.core_mut().notify(old, Msg::Ping(1));
    l.core_mut().notify(new, Msg::Ping(2));
    round(&mut l);
    assert_eq!(log(&mut l), ["old closed", "new ping 2"]);
    assert!(l.core_mut().peek(old).is_none());
    assert!(l.core_mut().remove(old).is_none());
    assert!(l.core_mut().peek(new).is_some());
}

#[test]
fn a_timer_firing_after_its_dispatcher_closed_reaches_nobody() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    l.core_mut().timer(Duration::ZERO, a, 1);
    let d = l.core_mut().remove(a).expect("present");
    l.core_mut().close(d);
    let b = insert(&mut l, "b");
    assert_eq!(b.token(), a.token());
    round(&mut l);
    assert_eq!(log(&mut l), ["a closed"]);
    assert_eq!(l.scheduled_count(), 0, "the fired timer is collected");
}

#[test]
fn a_dispatcher_being_served_is_out_of_reach() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    l.core_mut().notify(a, Msg::PeekSelf);
    round(&mut l);
    assert_eq!(log(&mut l), ["a sees itself: false"]);
    assert!(
        l.core_mut().peek(a).is_some(),
        "put back after being served"
    );
    assert_eq!(l.socket_count(), 1);
}

#[test]
fn a_notice_posted_while_served_arrives_after_the_handler_returns() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    l.core_mut().notify(a, Msg::PingSelf(5));
    round(&mut l);
    assert_eq!(log(&mut l), ["a posted 5", "a ping 5"]);
}

#[test]
fn a_deferred_dispatcher_is_resumed_once_per_round_without_waiting() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    // A far timer: a poll that waited for it would block for a minute.
    let far = l.call_later(Duration::from_secs(60), || {});
    l.core_mut().notify(a, Msg::Defer(3));
    round(&mut l);
    // Resumed after the other events of the round that deferred it.
    assert_eq!(log(&mut l), ["a resumed"]);
    for _ in 0..2 {
        // `None` = wait for the nearest timer; deferred work overrides it.
        l.poll_once(None).expect("poll");
        assert_eq!(log(&mut l), ["a resumed"]);
    }
    far.cancel();
    round(&mut l);
    assert!(
        log(&mut l).is_empty(),
        "no resume once it stopped deferring"
    );
}

#[test]
fn deferring_twice_in_a_round_resumes_once() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    // Two defers in one round (as a data channel that yields on a
    // readiness event and again on its resume): one resume next round.
    l.core_mut().notify(a, Msg::Defer(1));
    l.core_mut().notify(a, Msg::Defer(1));
    round(&mut l);
    assert_eq!(log(&mut l), ["a resumed"]);
    round(&mut l);
    assert!(log(&mut l).is_empty(), "resumed again without a defer");
    // While it is being resumed it may defer itself for the next round.
    l.core_mut().notify(a, Msg::Defer(2));
    round(&mut l);
    assert_eq!(log(&mut l), ["a resumed"]);
    round(&mut l);
    assert_eq!(log(&mut l), ["a resumed"]);
    round(&mut l);
    assert!(log(&mut l).is_empty());
}

#[test]
fn a_deferred_resume_for_a_closed_dispatcher_is_dropped() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    l.core_mut().defer(a);
    let d = l.core_mut().remove(a).expect("present");
    l.core_mut().close(d);
    insert(&mut l, "b");
    round(&mut l);
    assert_eq!(log(&mut l), ["a closed"]);
}

#[test]
fn readiness_reaches_the_dispatcher_and_remove_closes_it() {
    let mut l = new_loop();
    let (mine, mut theirs) = mio::net::UnixStream::pair().expect("pair");
    let a = l
        .core_mut()
        .insert_with(|me, core| {
            let mut stream = mine;
            core.register(&mut stream, me.token())?;
            Ok(Fake {
                name: "a",
                me: Some(me),
                stream: Some(stream),
                resumes_left: 0,
            })
        })
        .expect("insert");
    theirs.write_all(b"x").expect("write");
    // Bounded: the byte is already there; a few rounds see it.
    for _ in 0..100 {
        l.poll_once(Some(Duration::from_millis(100))).expect("poll");
        if l.core_mut().peek(a).is_none() {
            break;
        }
    }
    let seen = log(&mut l);
    assert!(seen.contains(&"a ready r=true".to_string()), "{seen:?}");
    assert_eq!(seen.last().map(String::as_str), Some("a closed"));
    assert_eq!(l.socket_count(), 0);
}

#[test]
fn a_failed_insert_leaves_no_slot() {
    let mut l = new_loop();
    let err = l
        .core_mut()
        .insert_with(|_, _| Err(io::Error::other("no")))
        .expect_err("refused");
    assert_eq!(err.to_string(), "no");
    assert_eq!(l.socket_count(), 0);
}

#[test]
fn close_all_closes_every_dispatcher_and_cancels_every_call() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    insert(&mut l, "b");
    let ran = Rc::new(Cell::new(false));
    let r = Rc::clone(&ran);
    let call = l.call_later(Duration::ZERO, move || r.set(true));
    l.core_mut().timer(Duration::ZERO, a, 1);
    l.core_mut().notify(a, Msg::Ping(1));
    l.close_all();
    let mut closed = log(&mut l);
    closed.sort();
    assert_eq!(closed, ["a closed", "b closed"]);
    assert!(call.cancelled());
    round(&mut l);
    assert!(!ran.get());
    assert!(log(&mut l).is_empty(), "no notice or timer after close_all");
    assert_eq!((l.socket_count(), l.scheduled_count()), (0, 0));
}

#[test]
fn a_panicking_call_is_contained_and_the_next_one_runs() {
    let mut l = new_loop();
    let ran = Rc::new(Cell::new(false));
    let r = Rc::clone(&ran);
    l.call_later(Duration::ZERO, || panic!("boom"));
    l.call_later(Duration::ZERO, move || r.set(true));
    round(&mut l);
    assert!(ran.get());
}

#[test]
fn stop_from_another_thread_wakes_a_waiting_poll() {
    let mut l = new_loop();
    let fired = Rc::new(Cell::new(false));
    let f = Rc::clone(&fired);
    // The poll below waits for this call unless the waker interrupts it.
    l.call_later(Duration::from_secs(60), move || f.set(true));
    let handle = l.stop_handle();
    let t = std::thread::spawn(move || handle.stop());
    while !l.stop_requested() {
        l.poll_once(None).expect("poll");
    }
    t.join().expect("thread");
    assert!(!fired.get(), "woken by the timer, not by the stop handle");
    assert!(l.stop_handle().requested());
    l.clear_stop();
    assert!(!l.stop_requested());
}

#[test]
fn a_task_without_workers_runs_inline_and_reports_in_the_same_round() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    assert_eq!(l.core_mut().workers(), 0);
    let here = std::thread::current().id();
    let ran_here = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = std::sync::Arc::clone(&ran_here);
    l.core_mut().spawn(a, move || {
        flag.store(
            std::thread::current().id() == here,
            std::sync::atomic::Ordering::SeqCst,
        );
        7
    });
    assert!(ran_here.load(std::sync::atomic::Ordering::SeqCst));
    round(&mut l);
    assert_eq!(log(&mut l), ["a done 7"]);
}

#[test]
fn a_task_on_a_worker_wakes_the_loop_and_reaches_its_dispatcher() {
    let mut l = new_loop();
    l.set_workers(2);
    let a = insert(&mut l, "a");
    let b = insert(&mut l, "b");
    let loop_thread = std::thread::current().id();
    l.core_mut().spawn(a, move || {
        assert_ne!(std::thread::current().id(), loop_thread);
        1
    });
    l.core_mut().spawn(b, || 2);
    // `None` waits for an event: only the pool's wake can end the wait.
    let mut seen = Vec::new();
    while seen.len() < 2 {
        l.poll_once(None).expect("poll");
        seen.extend(log(&mut l));
    }
    seen.sort();
    assert_eq!(seen, ["a done 1", "b done 2"]);
}

#[test]
fn a_task_result_for_a_closed_dispatcher_reaches_nobody() {
    let mut l = new_loop();
    let a = insert(&mut l, "a");
    l.core_mut().spawn(a, || 3);
    let d = l.core_mut().remove(a).expect("present");
    l.core_mut().close(d);
    insert(&mut l, "b");
    round(&mut l);
    assert_eq!(log(&mut l), ["a closed"]);
}

#[test]
fn a_panicking_task_leaves_the_worker_alive_for_the_next() {
    let mut l = new_loop();
    l.set_workers(1);
    let a = insert(&mut l, "a");
    l.core_mut().spawn(a, || panic!("boom"));
    l.core_mut().spawn(a, || 4);
    let mut seen = Vec::new();
    while seen.is_empty() {
        l.poll_once(None).expect("poll");
        seen.extend(log(&mut l));
    }
    assert_eq!(seen, ["a done 4"]);
}
