//! A small pool of worker threads for the few calls that would hold the
//! loop: CPU-bound (a crypt(3) password check) or blocking (an LDAP or HTTP
//! call of a custom authorizer). libuv's thread pool behind Node's
//! `crypto.pbkdf2` and nginx's thread pools for blocking file operations
//! follow the same design: one event loop for all I/O, a pool for the rest,
//! results reported back through the loop.
//!
//! A task is a `Send` closure without access to the loop; its result is
//! queued with the link of the dispatcher that asked for it, the loop's
//! waker is woken, and the loop hands the result to that dispatcher
//! ([`Dispatch::on_done`](super::Dispatch::on_done)) if it is still there.
//!
//! Threads start on the first task, so a server that never needs them has
//! none (nor a pre-forked worker before its fork). They run at a lower
//! scheduling priority than the loop, so on a box with few cores the loop
//! keeps serving while they compute. A pool of size 0 runs each task inline,
//! in the loop thread.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use mio::Waker;

use super::Link;

/// A task for the pool.
pub(crate) type Task<T> = Box<dyn FnOnce() -> T + Send>;

/// The niceness of the worker threads (the loop runs at the process's).
const WORKER_NICENESS: i32 = 10;

struct Queue<T> {
    tasks: VecDeque<(Link, Task<T>)>,
    stop: bool,
}

struct Shared<T> {
    queue: Mutex<Queue<T>>,
    ready: Condvar,
    done: Mutex<Vec<(Link, T)>>,
    waker: Arc<Waker>,
}

/// The worker pool of one loop.
pub(crate) struct Pool<T: Send + 'static> {
    size: usize,
    shared: Arc<Shared<T>>,
    threads: Vec<JoinHandle<()>>,
    /// Tasks spawned whose results were not taken yet (a panicked task's
    /// never is): while 0, [`take_done`](Pool::take_done) takes no lock,
    /// so a loop that never spawns pays nothing per round.
    pending: usize,
}

/// A poisoned lock only means a task panicked while it was held; the data
/// (a queue) is still consistent.
fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T: Send + 'static> Pool<T> {
    /// A pool of `size` threads (none started yet) that wakes `waker` when
    /// a result is ready.
    pub(crate) fn new(size: usize, waker: Arc<Waker>) -> Pool<T> {
        Pool {
            size,
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue {
                    tasks: VecDeque::new(),
                    stop: false,
                }),
                ready: Condvar::new(),
                done: Mutex::new(Vec::new()),
                waker,
            }),
            threads: Vec::new(),
            pending: 0,
        }
    }

    /// Threads in the pool once started; 0 = tasks run inline.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Change the size (before the first task only: started threads stay).
    pub(crate) fn set_size(&mut self, size: usize) {
        if self.threads.is_empty() {
            self.size = size;
        }
    }

    /// Run `task` for `link`; its result comes back through
    /// [`take_done`](Self::take_done).
    pub(crate) fn spawn(&mut self, link: Link, task: Task<T>) {
        self.pending += 1;
        if self.size == 0 {
            let result = task();
            lock(&self.shared.done).push((link, result));
            return;
        }
        if self.threads.len() < self.size {
            self.start_thread();
        }
        lock(&self.shared.queue).tasks.push_back((link, task));
        self.shared.ready.notify_one();
    }

    /// The results ready so far.
    pub(crate) fn take_done(&mut self) -> Vec<(Link, T)> {
        if self.pending == 0 {
            return Vec::new();
        }
        let done = std::mem::take(&mut *lock(&self.shared.done));
        self.pending = self.pending.saturating_sub(done.len());
        done
    }

    fn start_thread(&mut self) {
        let shared = Arc::clone(&self.shared);
        let spawned = std::thread::Builder::new()
            .name("ftpdlib-worker".into())
            .spawn(move || work(&shared));
        match spawned {
            Ok(handle) => self.threads.push(handle),
            Err(e) => {
                // No thread: run inline from now on rather than never.
                log::error!(target: crate::log::LOGERROR, "cannot start a worker thread: {e}; running tasks in the loop");
                if self.threads.is_empty() {
                    self.size = 0;
                }
            }
        }
    }
}

/// A worker: take a task, run it (a panic is contained and logged), hand
/// the result back, wake the loop.
fn work<T>(shared: &Shared<T>) {
    crate::sys::lower_thread_priority(WORKER_NICENESS);
    loop {
        let (link, task) = {
            let mut q = lock(&shared.queue);
            loop {
                if q.stop {
                    return;
                }
                if let Some(job) = q.tasks.pop_front() {
                    break job;
                }
                q = shared.ready.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
        };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(task)) {
            Ok(result) => {
                lock(&shared.done).push((link, result));
                // A failed wake only delays delivery to the next event.
                let _ = shared.waker.wake();
            }
            Err(_) => {
                log::error!(target: crate::log::LOGERROR, "a worker task panicked; its dispatcher gets no result");
            }
        }
    }
}

impl<T: Send + 'static> Drop for Pool<T> {
    /// Stop the threads once their current task is done; queued tasks are
    /// dropped.
    fn drop(&mut self) {
        {
            let mut q = lock(&self.shared.queue);
            q.stop = true;
            q.tasks.clear();
        }
        self.shared.ready.notify_all();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
