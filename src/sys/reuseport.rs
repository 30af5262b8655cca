//! Per-worker listening sockets: a twin of a listener bound to the same
//! address in one `SO_REUSEPORT` group (socket(7)), so the kernel hands
//! each new connection to exactly one worker's socket; and the thread
//! count a process checks before it forks, and the parent-death signal
//! that ties a worker to its supervisor.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A new listening socket on `like`'s address, in one `SO_REUSEPORT`
/// group with it (the option is set on `like` too: Linux lets a listening
/// socket join a group after its bind). An IPv6 socket copies `like`'s
/// `IPV6_V6ONLY`. Both sockets must belong to the same effective user,
/// which they do when one process creates them.
pub(crate) fn reuseport_twin(
    like: &std::net::TcpListener,
    backlog: i32,
) -> io::Result<std::net::TcpListener> {
    let addr = like.local_addr()?;
    set_int_option(like.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    let domain = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    set_int_option(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
    if domain == libc::AF_INET6 {
        let v6only = int_option(like.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY)?;
        set_int_option(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, v6only)?;
    }
    bind(fd, addr)?;
    // SAFETY: listen(2) on the descriptor owned by `owned`.
    if unsafe { libc::listen(fd, backlog.max(1)) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(std::net::TcpListener::from(owned))
}

/// Register listening socket `fd` with the epoll instance `epoll` for
/// readable edges with `EPOLLEXCLUSIVE` (epoll_ctl(2), Linux 4.5+): when
/// several epoll instances wait on one shared socket, a new connection
/// wakes one (or a few) of them instead of all. `token` is the event's
/// data, as mio reads it. Such a registration cannot be modified later;
/// closing the socket removes it.
pub(crate) fn register_exclusive(epoll: RawFd, fd: RawFd, token: usize) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLEXCLUSIVE | libc::EPOLLET) as u32,
        u64: token as u64,
    };
    // SAFETY: `ev` is a live epoll_event; both descriptors are owned by
    // the caller for the duration of the call.
    if unsafe { libc::epoll_ctl(epoll, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Threads of this process (the entries of `/proc/self/task`); 0 when
/// that cannot be read. fork(2) copies only the calling thread.
pub(crate) fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| dir.count())
        .unwrap_or(0)
}

/// Ask the kernel to send this process SIGTERM when its parent dies
/// (`PR_SET_PDEATHSIG`), so a worker never outlives its supervisor; an
/// error when the parent `parent` is already gone.
pub(crate) fn die_with_parent(parent: u32) -> io::Result<()> {
    let signal = libc::c_ulong::try_from(libc::SIGTERM)
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: prctl(PR_SET_PDEATHSIG) only sets a flag of this process.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: getppid has no preconditions.
    let now = unsafe { libc::getppid() };
    if u32::try_from(now).ok() != Some(parent) {
        return Err(io::Error::other("the supervising process is gone"));
    }
    Ok(())
}

fn bind(fd: RawFd, addr: SocketAddr) -> io::Result<()> {
    let rc = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: sockaddr_in is plain data; every field used is set below.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_port = a.port().to_be();
            sa.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            // SAFETY: `sa` is a live sockaddr_in and the length is its size.
            unsafe {
                libc::bind(
                    fd,
                    std::ptr::addr_of!(sa).cast::<libc::sockaddr>(),
                    socklen::<libc::sockaddr_in>()?,
                )
            }
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_in6 is plain data; every field used is set below.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_port = a.port().to_be();
            sa.sin6_addr.s6_addr = a.ip().octets();
            sa.sin6_flowinfo = a.flowinfo();
            sa.sin6_scope_id = a.scope_id();
            // SAFETY: `sa` is a live sockaddr_in6 and the length is its size.
            unsafe {
                libc::bind(
                    fd,
                    std::ptr::addr_of!(sa).cast::<libc::sockaddr>(),
                    socklen::<libc::sockaddr_in6>()?,
                )
            }
        }
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn socklen<T>() -> io::Result<libc::socklen_t> {
    libc::socklen_t::try_from(std::mem::size_of::<T>())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn set_int_option(
    fd: RawFd,
    level: libc::c_int,
    option: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    // SAFETY: `value` is a live c_int and the length is its size; the
    // kernel only reads from the pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            option,
            std::ptr::addr_of!(value).cast::<libc::c_void>(),
            socklen::<libc::c_int>()?,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn int_option(fd: RawFd, level: libc::c_int, option: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = socklen::<libc::c_int>()?;
    // SAFETY: `value` and `len` are live locals of the sizes getsockopt is told.
    let rc = unsafe {
        libc::getsockopt(
            fd,
            level,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::ErrorKind;

    #[test]
    fn twins_share_the_port_and_split_the_connections() {
        let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let b = reuseport_twin(&a, 64).unwrap();
        assert_eq!(a.local_addr().unwrap(), b.local_addr().unwrap());
        a.set_nonblocking(true).unwrap();
        b.set_nonblocking(true).unwrap();
        let port = a.local_addr().unwrap();
        // Distinct source ports hash to one socket or the other; every
        // connection lands on exactly one of them.
        let clients: Vec<_> = (0..32)
            .map(|_| std::net::TcpStream::connect(port).unwrap())
            .collect();
        let drain = |l: &std::net::TcpListener| {
            let mut n = 0;
            loop {
                match l.accept() {
                    Ok(_) => n += 1,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => return n,
                    Err(e) => panic!("{e}"),
                }
            }
        };
        let (na, nb) = (drain(&a), drain(&b));
        assert_eq!(na + nb, clients.len());
        assert!(
            na > 0 && nb > 0,
            "one socket got every connection: {na}/{nb}"
        );
    }

    #[test]
    fn an_ipv6_twin_keeps_v6only() {
        let Ok(a) = std::net::TcpListener::bind("[::1]:0") else {
            return; // no IPv6 on this host
        };
        let b = reuseport_twin(&a, 8).unwrap();
        let get = |l: &std::net::TcpListener| {
            int_option(l.as_raw_fd(), libc::IPPROTO_IPV6, libc::IPV6_V6ONLY).unwrap()
        };
        assert_eq!(get(&a), get(&b));
    }

    #[test]
    fn this_process_has_threads() {
        assert!(thread_count() >= 1);
    }
}
