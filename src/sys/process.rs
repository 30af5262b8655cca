//! Processes and signals: SIGINT/SIGTERM through signalfd(2), fork(2) and
//! reaping of pre-forked workers, and counters in memory shared with them.

use std::io;
use std::os::fd::RawFd;

/// SIGINT and SIGTERM delivered as readable data on a descriptor
/// (signalfd(2)), so the event loop sees them as one more event source and
/// no signal handler runs. The signals are blocked in the calling thread
/// while it lives; dropping it restores the previous mask.
pub(crate) struct SignalFd {
    fd: std::os::fd::OwnedFd,
    old_mask: libc::sigset_t,
}

impl SignalFd {
    /// Block SIGINT and SIGTERM (and SIGHUP with `hangup`) in this thread
    /// and open a signalfd for them.
    pub(crate) fn new(hangup: bool) -> io::Result<SignalFd> {
        use std::os::fd::FromRawFd;
        // SAFETY: sigset_t is plain data; sigemptyset initialises it.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: as above, for the old mask filled in by pthread_sigmask.
        let mut old_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` and `old_mask` are valid, exclusively borrowed sigsets.
        let fd = unsafe {
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGINT);
            libc::sigaddset(&mut set, libc::SIGTERM);
            if hangup {
                libc::sigaddset(&mut set, libc::SIGHUP);
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, &mut old_mask);
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
        };
        if fd < 0 {
            let err = io::Error::last_os_error();
            // SAFETY: restoring the mask saved just above.
            unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &old_mask, std::ptr::null_mut()) };
            return Err(err);
        }
        // SAFETY: `fd` was just returned by signalfd and is owned by nobody else.
        let fd = unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) };
        Ok(SignalFd { fd, old_mask })
    }

    /// The raw descriptor, to register with the poller.
    pub(crate) fn raw(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.fd.as_raw_fd()
    }

    /// Read one pending signal number, if any.
    pub(crate) fn read(&self) -> Option<i32> {
        // SAFETY: signalfd_siginfo is plain data.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: `info` is a writable buffer of exactly `size` bytes.
        let n = unsafe {
            libc::read(
                self.raw(),
                (&mut info as *mut libc::signalfd_siginfo).cast(),
                size,
            )
        };
        if n == size as isize {
            i32::try_from(info.ssi_signo).ok()
        } else {
            None
        }
    }
}

impl Drop for SignalFd {
    fn drop(&mut self) {
        // SAFETY: restoring the mask saved in `new` for this thread.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.old_mask, std::ptr::null_mut()) };
    }
}

/// A table of atomic counters in memory shared with forked children
/// (mmap MAP_SHARED | MAP_ANONYMOUS), for server-wide connection limits
/// across pre-forked workers.
pub(crate) struct SharedCounters {
    ptr: std::ptr::NonNull<std::sync::atomic::AtomicU32>,
    len: usize,
}

impl SharedCounters {
    /// `len` zeroed counters.
    pub(crate) fn new(len: usize) -> io::Result<SharedCounters> {
        let bytes = len.max(1) * std::mem::size_of::<u32>();
        // SAFETY: an anonymous shared mapping with no address hint; the
        // result is checked against MAP_FAILED before use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = std::ptr::NonNull::new(p.cast())
            .ok_or_else(|| io::Error::other("mmap returned NULL"))?;
        Ok(SharedCounters {
            ptr,
            len: len.max(1),
        })
    }

    /// Add `delta` to counter `i` (out-of-range indexes use the last one);
    /// returns the new value.
    pub(crate) fn add(&self, i: usize, delta: i32) -> u32 {
        use std::sync::atomic::Ordering;
        let i = i.min(self.len - 1);
        // SAFETY: `i < len`, the mapping holds `len` zero-initialised u32s
        // (valid AtomicU32s) and lives as long as `self`.
        let cell = unsafe { &*self.ptr.as_ptr().add(i) };
        if delta >= 0 {
            cell.fetch_add(delta.unsigned_abs(), Ordering::SeqCst)
                .wrapping_add(delta.unsigned_abs())
        } else {
            let d = delta.unsigned_abs();
            let prev = cell
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| {
                    Some(v.saturating_sub(d))
                })
                .unwrap_or(0);
            prev.saturating_sub(d)
        }
    }
}

impl Drop for SharedCounters {
    fn drop(&mut self) {
        // SAFETY: unmapping exactly the region mapped in `new`.
        unsafe {
            libc::munmap(
                self.ptr.as_ptr().cast(),
                self.len * std::mem::size_of::<u32>(),
            )
        };
    }
}

/// A forked worker process.
pub(crate) struct Child {
    pid: libc::pid_t,
}

impl Child {
    /// Its process id.
    pub(crate) fn pid(&self) -> i32 {
        self.pid
    }

    /// Ask it to stop (SIGTERM).
    pub(crate) fn terminate(&self) {
        // SAFETY: plain kill(2) on a pid we forked.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
    }

    /// Pass it a SIGHUP (reload).
    pub(crate) fn hangup(&self) {
        // SAFETY: plain kill(2) on a pid we forked.
        unsafe { libc::kill(self.pid, libc::SIGHUP) };
    }

    /// Wait until it exits.
    pub(crate) fn wait(self) {
        let mut status = 0;
        // SAFETY: waitpid on our own child with a valid status pointer.
        while unsafe { libc::waitpid(self.pid, &mut status, 0) } < 0
            && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
        {}
    }
}

/// fork(2): `Some(child)` in the parent, `None` in the child. Only called
/// from a single-threaded process (the CLI, before any thread starts).
pub(crate) fn fork() -> io::Result<Option<Child>> {
    // SAFETY: the caller forks before spawning threads, so the child's
    // copy of the process is consistent.
    let pid = unsafe { libc::fork() };
    match pid {
        p if p < 0 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        p => Ok(Some(Child { pid: p })),
    }
}

/// Reap one exited child, waiting at most `timeout`: `(pid, exited
/// cleanly)`.
pub(crate) fn wait_any(timeout: std::time::Duration) -> io::Result<Option<(i32, bool)>> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        let mut status = 0;
        // SAFETY: non-blocking waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            let clean = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
            return Ok(Some((pid, clean)));
        }
        if pid < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        if std::time::Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Lower the calling thread's scheduling priority to `niceness` (on Linux
/// a nice value belongs to one thread), so that worker threads yield the
/// CPU to the event loop. Best effort: a failure leaves the priority as is.
pub(crate) fn lower_thread_priority(niceness: i32) {
    // SAFETY: gettid has no preconditions and returns this thread's id.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) };
    let Ok(tid) = libc::id_t::try_from(tid) else {
        return;
    };
    // SAFETY: setpriority on our own thread id changes only its niceness.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, niceness) };
}
