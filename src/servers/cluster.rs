//! The server's cluster settings: the metrics endpoint it serves and the
//! sockets each pre-forked worker gets (ftpdlib extensions; the worker
//! processes themselves are the `prefork` module's).

use std::io;
use std::net::SocketAddr;

use mio::net::TcpListener;
use mio::Interest;

use super::{BindAddress, FtpServer};
use crate::error::Error;
use crate::handlers::ftp::dispatch::Dispatcher;
use crate::handlers::ftp::metrics_http::MetricsEndpoint;
use crate::log::LOG;
use crate::prefork::{WorkerListeners, WorkerSockets};
use crate::IoLoop;

impl FtpServer {
    /// Serve the metrics and health endpoint on `address` from this
    /// server's loop (ftpdlib extension; off unless called): `GET
    /// /metrics` in the Prometheus text format, `GET /health` answering
    /// `200 ok`. Binds at once and returns the bound address (port 0
    /// picks one). With `worker_processes` > 1, worker `i` serves its own
    /// counters on the port + `i` (each on an ephemeral port when port 0
    /// was asked; the log names them). Keep it on a loopback or private
    /// address: it has no authentication.
    pub fn bind_metrics(&mut self, address: impl BindAddress) -> Result<SocketAddr, Error> {
        let mut last = None;
        for addr in address.bind_addrs()? {
            match std::net::TcpListener::bind(addr) {
                Ok(l) => {
                    let bound = l.local_addr()?;
                    self.add_metrics_listener(l)?;
                    if let Some((_, asked)) = &mut self.metrics {
                        *asked = addr;
                    }
                    return Ok(bound);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last
            .unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address to bind"))
            .into())
    }

    /// The metrics endpoint's address, if [`bind_metrics`](Self::bind_metrics)
    /// turned it on.
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        let (link, _) = self.metrics?;
        match self.ioloop.core().peek(link) {
            Some(Dispatcher::Metrics(m)) => m.local_addr().ok(),
            _ => None,
        }
    }

    /// Serve metrics on an already listening socket (replacing any).
    fn add_metrics_listener(&mut self, listener: std::net::TcpListener) -> Result<(), Error> {
        let asked = listener.local_addr()?;
        if let Some((old, _)) = self.metrics.take() {
            let core = self.ioloop.core_mut();
            if let Some(d) = core.remove(old) {
                core.close(d);
            }
        }
        let link = self.ioloop.core_mut().insert_with(|me, core| {
            MetricsEndpoint::listen(listener, me, core).map(|m| Dispatcher::Metrics(Box::new(m)))
        })?;
        self.metrics = Some((link, asked));
        Ok(())
    }

    /// The listening mode the workers get: socket-activated listeners are
    /// always shared.
    pub(crate) fn effective_worker_listeners(&self) -> WorkerListeners {
        if self.adopted && self.worker_listeners == WorkerListeners::ReusePort {
            // SharedExclusive works on them as on any shared socket.
            log::info!(target: LOG, "socket-activated listeners are shared by the workers (no SO_REUSEPORT twins)");
            return WorkerListeners::Shared;
        }
        self.worker_listeners
    }

    /// Open (or duplicate) the sockets worker number `worker` will serve,
    /// in the parent before any fork: worker 0 and shared mode get this
    /// server's own sockets, the others `SO_REUSEPORT` twins; worker `i`'s
    /// metrics listener is on the asked port + `i` (an ephemeral one when
    /// port 0 was asked).
    pub(crate) fn worker_sockets(
        &self,
        worker: usize,
        mode: WorkerListeners,
    ) -> Result<WorkerSockets, Error> {
        use std::os::fd::AsFd;
        let mut ftp = Vec::with_capacity(self.links.len());
        for a in self.acceptors() {
            let Some(listener) = &a.listener else {
                return Err(Error::Config("no listener to serve".into()));
            };
            let own = std::net::TcpListener::from(listener.as_fd().try_clone_to_owned()?);
            if worker == 0 || mode != WorkerListeners::ReusePort {
                ftp.push(own);
            } else {
                ftp.push(crate::sys::reuseport_twin(&own, self.backlog)?);
            }
        }
        let metrics = match &self.metrics {
            None => None,
            Some((link, asked)) => Some(match self.ioloop.core().peek(*link) {
                Some(Dispatcher::Metrics(m)) if worker == 0 => m.listener_copy()?,
                _ => bind_metrics_port(*asked, worker)?,
            }),
        };
        Ok(WorkerSockets {
            ftp,
            metrics,
            exclusive: mode == WorkerListeners::SharedExclusive,
        })
    }

    /// In the parent of pre-forked workers: close this process's own
    /// copies of the listening sockets (the workers' copies stay), so a
    /// socket lives exactly as long as the workers serving it.
    pub(crate) fn detach_listeners(&mut self) {
        let core = self.ioloop.core_mut();
        for link in &self.links {
            if let Some(Dispatcher::Acceptor(a)) = core.peek_mut(*link) {
                if let Some(mut l) = a.listener.take() {
                    let _ = core.registry().deregister(&mut l);
                }
            }
        }
        if let Some((link, _)) = self.metrics {
            if let Some(d) = core.remove(link) {
                core.close(d);
            }
        }
    }

    /// In forked worker number `worker`: serve `sockets` from a fresh event
    /// loop (the inherited epoll instance is the parent's) until stopped.
    pub(crate) fn serve_as_worker(
        &mut self,
        worker: usize,
        sockets: WorkerSockets,
    ) -> Result<(), Error> {
        let mut ioloop = IoLoop::new()?;
        let mut ftp = sockets.ftp.into_iter();
        for link in &mut self.links {
            let Some(Dispatcher::Acceptor(mut acceptor)) = self.ioloop.core_mut().remove(*link)
            else {
                return Err(Error::Config("no listener to serve".into()));
            };
            let Some(listener) = ftp.next() else {
                return Err(Error::Config("no listener to serve".into()));
            };
            listener.set_nonblocking(true)?;
            // A fresh mio source registered with the new loop.
            let mut listener = TcpListener::from_std(listener);
            *link = ioloop.core_mut().insert_with(|me, core| {
                if sockets.exclusive {
                    use std::os::fd::AsRawFd;
                    let epoll = core.registry().as_raw_fd();
                    crate::sys::register_exclusive(epoll, listener.as_raw_fd(), me.token().0)?;
                } else {
                    core.registry()
                        .register(&mut listener, me.token(), Interest::READABLE)?;
                }
                acceptor.listener = Some(listener);
                acceptor.me = me;
                Ok(Dispatcher::Acceptor(acceptor))
            })?;
        }
        // Dropping the old loop closes this process's copy of the parent's
        // epoll descriptor and nothing else.
        self.ioloop = ioloop;
        self.ioloop.core_mut().shared.metrics.set_worker(worker);
        // The parent's metrics link means nothing in the new loop.
        let asked = self.metrics.take().map(|(_, asked)| asked);
        if let (Some(asked), Some(listener)) = (asked, sockets.metrics) {
            self.add_metrics_listener(listener)?;
            if let Some(m) = &mut self.metrics {
                m.1 = asked;
            }
        }
        self.worker_processes = 1;
        self.serve_forever()
    }
}

/// Worker `worker`'s metrics listener: the asked port + `worker`, or an
/// ephemeral port when port 0 was asked.
fn bind_metrics_port(asked: SocketAddr, worker: usize) -> Result<std::net::TcpListener, Error> {
    let port = if asked.port() == 0 {
        0
    } else {
        u16::try_from(usize::from(asked.port()) + worker).map_err(|_| {
            Error::Config(format!(
                "metrics port {} + worker {worker} is over 65535",
                asked.port()
            ))
        })?
    };
    Ok(std::net::TcpListener::bind(SocketAddr::new(
        asked.ip(),
        port,
    ))?)
}
