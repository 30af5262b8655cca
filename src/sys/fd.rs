//! Descriptors handed over by whoever started the process: the listening
//! sockets of systemd socket activation (`sd_listen_fds(3)`'s protocol,
//! without libsystemd) and the connected socket inetd puts on standard
//! input.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const LISTEN_FDS_START: RawFd = 3;
/// More passed sockets than this is taken for a malformed environment.
const MAX_LISTEN_FDS: usize = 64;

/// One listening socket passed by socket activation and its
/// `FileDescriptorName=` (systemd's default name is `"unknown"`).
pub(crate) struct Passed {
    pub listener: std::net::TcpListener,
    pub name: String,
}

/// The sockets of systemd socket activation: `LISTEN_FDS` descriptors from
/// fd 3 on, when `LISTEN_PID` is this process, named by the
/// colon-separated `LISTEN_FDNAMES`. Empty when the process was not
/// activated. The three variables are removed (so a child does not take
/// the sockets for its own) and each socket is marked close-on-exec. Every
/// passed descriptor must be a listening stream socket.
pub(crate) fn listen_fds() -> io::Result<Vec<Passed>> {
    let pid = std::env::var("LISTEN_PID").ok();
    let count = std::env::var("LISTEN_FDS").ok();
    let names = std::env::var("LISTEN_FDNAMES").unwrap_or_default();
    for var in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(var);
    }
    let (Some(pid), Some(count)) = (pid, count) else {
        return Ok(Vec::new());
    };
    if pid.trim().parse::<u32>().ok() != Some(std::process::id()) {
        return Ok(Vec::new());
    }
    let count: usize = count
        .trim()
        .parse()
        .ok()
        .filter(|n| *n <= MAX_LISTEN_FDS)
        .ok_or_else(|| invalid(format!("LISTEN_FDS={count:?} is not a count of sockets")))?;
    let mut names = names.split(':');
    let mut passed = Vec::with_capacity(count);
    for i in 0..count {
        let fd = LISTEN_FDS_START + RawFd::try_from(i).map_err(|_| invalid("LISTEN_FDS"))?;
        let name = names.next().unwrap_or("unknown").to_string();
        let listener = adopt_listener(fd)
            .map_err(|e| io::Error::new(e.kind(), format!("passed fd {fd} ({name}): {e}")))?;
        passed.push(Passed { listener, name });
    }
    Ok(passed)
}

/// Whether systemd socket activation passed sockets to this process
/// (`LISTEN_PID` is its pid and `LISTEN_FDS` is set); reads only.
pub(crate) fn activated() -> bool {
    let pid = std::env::var("LISTEN_PID").ok();
    let ours = pid.and_then(|p| p.trim().parse::<u32>().ok()) == Some(std::process::id());
    ours && std::env::var_os("LISTEN_FDS").is_some()
}

/// The connected stream socket on standard input (inetd, tcpsvd, systemd
/// `Accept=yes`, `socat ... EXEC:...,nofork`), moved to a descriptor of its
/// own; fds 0 and 1 become `/dev/null`, so that closing the connection
/// really closes it. Standard error is left alone unless it is the same
/// socket (classic inetd passes the client as fds 0, 1 and 2): then it
/// becomes `/dev/null` too, since nothing may write into the client's
/// control connection.
pub(crate) fn take_stdin_socket() -> io::Result<std::net::TcpStream> {
    check_socket(0, false).map_err(|e| io::Error::new(e.kind(), format!("standard input: {e}")))?;
    let stderr_is_socket = same_file(0, 2);
    // SAFETY: F_DUPFD_CLOEXEC only creates a new descriptor; checked below.
    let fd = unsafe { libc::fcntl(0, libc::F_DUPFD_CLOEXEC, LISTEN_FDS_START) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created by fcntl and is owned by nobody else.
    let stream = unsafe { std::net::TcpStream::from_raw_fd(fd) };
    to_dev_null(0)?;
    to_dev_null(1)?;
    if stderr_is_socket {
        to_dev_null(2)?;
    }
    Ok(stream)
}

/// Wrap passed descriptor `fd` as a listener after checking it is a
/// listening stream socket, and mark it close-on-exec.
fn adopt_listener(fd: RawFd) -> io::Result<std::net::TcpListener> {
    check_socket(fd, true)?;
    // SAFETY: F_SETFD on a descriptor just checked to be open.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the activation protocol hands fds 3.. to this process; each
    // is wrapped once, here, so it has exactly one owner.
    Ok(unsafe { std::net::TcpListener::from_raw_fd(fd) })
}

/// `fd` is a stream socket of the IPv4 or IPv6 family, listening or not
/// as asked.
fn check_socket(fd: RawFd, listening: bool) -> io::Result<()> {
    if socket_option(fd, libc::SO_TYPE)? != libc::SOCK_STREAM {
        return Err(invalid("not a stream socket"));
    }
    let family = socket_option(fd, libc::SO_DOMAIN)?;
    if family != libc::AF_INET && family != libc::AF_INET6 {
        return Err(invalid("not a TCP socket (IPv4 or IPv6)"));
    }
    let accepting = socket_option(fd, libc::SO_ACCEPTCONN)? != 0;
    match (listening, accepting) {
        (true, false) => Err(invalid("not a listening socket")),
        (false, true) => Err(invalid("a listening socket, not a connection")),
        _ => Ok(()),
    }
}

/// An integer `SOL_SOCKET` option of `fd`; `ENOTSOCK` for a non-socket.
fn socket_option(fd: RawFd, option: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = libc::socklen_t::try_from(std::mem::size_of::<libc::c_int>())
        .map_err(|_| invalid("socklen"))?;
    // SAFETY: `value` and `len` are live locals of the sizes getsockopt
    // is told; an invalid descriptor yields EBADF.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            std::ptr::addr_of_mut!(value).cast::<libc::c_void>(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// Whether descriptors `a` and `b` are the same open file.
fn same_file(a: RawFd, b: RawFd) -> bool {
    match (file_id(a), file_id(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// The device and inode behind `fd`.
fn file_id(fd: RawFd) -> Option<(u64, u64)> {
    // SAFETY: stat is plain data; fstat fills it or fails.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, exclusively borrowed stat buffer.
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return None;
    }
    Some((st.st_dev, st.st_ino))
}

/// Point `target` at `/dev/null` (dup2), keeping the descriptor number.
fn to_dev_null(target: RawFd) -> io::Result<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    let null = OwnedFd::from(null);
    // SAFETY: dup2 onto a standard descriptor number; `null` stays owned
    // and is closed when dropped, `target` then refers to /dev/null.
    if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_are_told_apart_from_listeners_and_files() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        assert!(check_socket(l.as_raw_fd(), true).is_ok());
        assert!(check_socket(l.as_raw_fd(), false).is_err());
        assert!(check_socket(c.as_raw_fd(), false).is_ok());
        assert!(check_socket(c.as_raw_fd(), true).is_err());
        let f = std::fs::File::open("/dev/null").unwrap();
        assert!(check_socket(f.as_raw_fd(), false).is_err());
        let (u, _) = std::os::unix::net::UnixStream::pair().unwrap();
        assert!(check_socket(u.as_raw_fd(), false).is_err());
        assert!(same_file(c.as_raw_fd(), c.as_raw_fd()));
        assert!(!same_file(c.as_raw_fd(), l.as_raw_fd()));
    }
}
