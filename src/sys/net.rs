//! Sockets and zero-copy transfers: `sendfile(2)` (pyftpdlib's
//! `os.sendfile`), `SO_OOBINLINE`, the listen() backlog, and the splice(2)
//! pipe for uploads.

use std::io;
use std::os::fd::RawFd;

/// Copies up to `count` bytes from `in_fd` at `*offset` to `out_fd` with
/// `sendfile(2)` (pyftpdlib `os.sendfile`), advancing `*offset`; returns the
/// bytes sent. `EAGAIN` surfaces as [`io::ErrorKind::WouldBlock`].
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn sendfile(
    out_fd: RawFd,
    in_fd: RawFd,
    offset: &mut i64,
    count: usize,
) -> io::Result<usize> {
    let mut off =
        libc::off_t::try_from(*offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `off` is a live local; sendfile only reads/writes the given
    // descriptors (invalid ones yield EBADF) and updates `off`.
    let n = unsafe { libc::sendfile(out_fd, in_fd, &mut off, count) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    *offset = off;
    Ok(n.unsigned_abs())
}

/// `sendfile(2)` is Linux-only here: other systems report `Unsupported` and
/// the caller falls back to read/write.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) fn sendfile(
    _out_fd: RawFd,
    _in_fd: RawFd,
    _offset: &mut i64,
    _count: usize,
) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Sets or clears `SO_OOBINLINE` on a socket (pyftpdlib's control channel
/// does `setsockopt(SOL_SOCKET, SO_OOBINLINE, 1)` so urgent data is read
/// inline; a TLS control connection clears it, so that an urgent byte
/// stays out of the TLS record stream).
pub(crate) fn set_oobinline(fd: RawFd, on: bool) -> io::Result<()> {
    let one: libc::c_int = on.into();
    let len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `one` is a live c_int and `len` is its exact size; the kernel
    // only reads from the pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_OOBINLINE,
            std::ptr::addr_of!(one).cast::<libc::c_void>(),
            len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Changes the listen() backlog of a bound, listening socket (pyftpdlib's
/// `backlog`; std always listens with 128). Linux accepts a second listen()
/// on a listening socket and only updates the backlog.
pub(crate) fn listen(listener: &std::net::TcpListener, backlog: i32) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: the descriptor is owned by `listener`, alive for the call.
    let rc = unsafe { libc::listen(listener.as_raw_fd(), backlog.max(1)) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A non-blocking pipe for splice(2): uploads move socket → pipe → file
/// inside the kernel, without a user-space buffer.
pub(crate) struct Pipe {
    read: std::os::fd::OwnedFd,
    write: std::os::fd::OwnedFd,
}

impl Pipe {
    /// A pipe of about `size` bytes (the kernel may round or cap it).
    pub(crate) fn new(size: usize) -> io::Result<Pipe> {
        use std::os::fd::FromRawFd;
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded; each descriptor is owned once, here.
        let (read, write) = unsafe {
            (
                std::os::fd::OwnedFd::from_raw_fd(fds[0]),
                std::os::fd::OwnedFd::from_raw_fd(fds[1]),
            )
        };
        let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
        // SAFETY: F_SETPIPE_SZ on our own pipe; failure only keeps the default size.
        unsafe { libc::fcntl(fds[1], libc::F_SETPIPE_SZ, size) };
        Ok(Pipe { read, write })
    }

    /// Move up to `len` bytes from socket `from` into the pipe.
    pub(crate) fn fill_from(&self, from: RawFd, len: usize) -> io::Result<usize> {
        use std::os::fd::AsRawFd;
        splice(from, self.write.as_raw_fd(), len)
    }

    /// Move exactly `len` bytes from the pipe into file `to` at its
    /// current position.
    pub(crate) fn drain_into(&self, to: RawFd, mut len: usize) -> io::Result<()> {
        use std::os::fd::AsRawFd;
        while len > 0 {
            match splice(self.read.as_raw_fd(), to, len) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => len -= n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<usize> {
    // SAFETY: null offsets make splice use and advance the descriptors' own
    // positions; invalid descriptors yield EBADF.
    let n = unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE | libc::SPLICE_F_NONBLOCK,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n.unsigned_abs())
}

/// Whether `fd` was opened with O_APPEND (splice refuses such files).
pub(crate) fn is_append(fd: RawFd) -> bool {
    // SAFETY: F_GETFL only reads the descriptor's flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_APPEND != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::tmp;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    #[test]
    fn sendfile_copies() {
        let p = tmp("sendfile");
        std::fs::write(&p, b"hello world").unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let mut off = 6;
        let n = sendfile(a.as_raw_fd(), f.as_raw_fd(), &mut off, 100).unwrap();
        assert_eq!((n, off), (5, 11));
        assert_eq!(
            sendfile(a.as_raw_fd(), f.as_raw_fd(), &mut off, 100).unwrap(),
            0
        );
        drop(a);
        let mut got = String::new();
        b.read_to_string(&mut got).unwrap();
        assert_eq!(got, "world");
        assert!(sendfile(-1, f.as_raw_fd(), &mut off, 1).is_err());
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn sendfile_would_block() {
        let p = tmp("sendfile-wb");
        std::fs::write(&p, vec![7u8; 1 << 20]).unwrap();
        let f = std::fs::File::open(&p).unwrap();
        let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
        a.set_nonblocking(true).unwrap();
        let mut off = 0;
        let err = loop {
            match sendfile(a.as_raw_fd(), f.as_raw_fd(), &mut off, 1 << 20) {
                Ok(0) => panic!("unexpected EOF"),
                Ok(_) => {}
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        std::fs::remove_file(&p).unwrap();
    }

    #[test]
    fn oobinline() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let s = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        set_oobinline(s.as_raw_fd(), true).unwrap();
        set_oobinline(s.as_raw_fd(), false).unwrap();
        let p = tmp("oob");
        let f = std::fs::File::create(&p).unwrap();
        assert!(set_oobinline(f.as_raw_fd(), true).is_err());
        std::fs::remove_file(&p).unwrap();
    }
}
