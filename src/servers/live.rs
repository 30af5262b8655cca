//! Live configuration of a running server (ftpdlib extension; pyftpdlib
//! changes `server.handler.<attribute>` or `server.max_cons` in place):
//! [`ServerHandle`] sends changes from any thread, [`FtpServer::configure`]
//! applies one inside the loop, [`FtpServer::handler_mut`] reaches the
//! handler of a server that already serves, and
//! [`FtpServer::on_hangup`] reloads on SIGHUP. Changes are applied between
//! two rounds of the loop, never while a session is in the middle of a
//! command. See `docs/live-configuration.md`.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::Duration;

use super::FtpServer;
use crate::error::Error;
use crate::handlers::ftp::{live, FtpHandler};
use crate::ioloop::{CallLater, StopHandle};

/// A change sent through a [`ServerHandle`].
type Change = Box<dyn FnOnce(&mut FtpServer) + Send>;

/// The server's side of live configuration.
pub(crate) struct ServerLive {
    /// The channel of [`ServerHandle`]s.
    tx: mpsc::Sender<Change>,
    rx: mpsc::Receiver<Change>,
    /// What a SIGHUP runs.
    on_hangup: Option<Reload>,
    /// `handler_mut` forked a generation not yet published.
    forked: bool,
    /// Calls scheduled by [`FtpServer::call_later`] that are due.
    due: Rc<RefCell<Vec<LocalChange>>>,
}

impl Default for ServerLive {
    fn default() -> Self {
        let (tx, rx) = mpsc::channel();
        ServerLive {
            tx,
            rx,
            on_hangup: None,
            forked: false,
            due: Rc::default(),
        }
    }
}

/// What a SIGHUP runs.
type Reload = Box<dyn FnMut(&mut FtpServer)>;

/// A change made by a scheduled call in the loop's thread.
type LocalChange = Box<dyn FnOnce(&mut FtpServer)>;

/// Changes a running server from any thread: `Send + Clone` (ftpdlib
/// extension; pyftpdlib users assign `server.handler.banner` or call
/// `authorizer.add_user` from wherever they like, the GIL keeping it
/// whole). A change runs in the loop's thread between two rounds, wakes
/// the loop, and applies to the next connection, login or command.
///
/// ```no_run
/// use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};
/// let handler = FtpHandler::new(DummyAuthorizer::new());
/// let mut server = FtpServer::bind(("127.0.0.1", 2121), handler).unwrap();
/// let handle = server.handle();
/// std::thread::spawn(move || {
///     handle.configure(|s| {
///         s.max_cons = 10;
///         s.handler_mut().banner = "back soon".into();
///     }).ok();
/// });
/// server.serve_forever().unwrap();
/// ```
#[derive(Clone)]
pub struct ServerHandle {
    tx: mpsc::Sender<Change>,
    wake: StopHandle,
}

impl ServerHandle {
    /// Run `change` on the server in its loop, at the end of the current
    /// round. An error when the server is gone.
    pub fn configure(
        &self,
        change: impl FnOnce(&mut FtpServer) + Send + 'static,
    ) -> Result<(), Error> {
        self.tx
            .send(Box::new(change))
            .map_err(|_| Error::Config("the server is gone".into()))?;
        self.wake.wake();
        Ok(())
    }

    /// Stop `serve_forever`, as [`StopHandle::stop`].
    pub fn stop(&self) {
        self.wake.stop();
    }
}

impl FtpServer {
    /// A handle that changes this server while it serves, from any thread
    /// (see [`ServerHandle`]). ftpdlib extension.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            tx: self.live.tx.clone(),
            wake: self.ioloop.stop_handle(),
        }
    }

    /// Apply `change` now, from the loop's own thread (a scheduled call,
    /// the code around [`poll`](Self::poll)); the same as a
    /// [`ServerHandle::configure`] without the trip through the channel.
    pub fn configure(&mut self, change: impl FnOnce(&mut FtpServer)) {
        change(self);
        self.publish_changes();
    }

    /// The handler's settings, to change them (pyftpdlib
    /// `server.handler.<attribute> = ...`). The sessions in progress hold
    /// the handler, so the first call after a change is published forks a
    /// new generation: a copy of every setting, which new connections get
    /// at once and sessions at their next command; a data transfer finishes
    /// with the settings it started with. The authorizer, file-system
    /// factory and hooks carry over until replaced. Published at the end of
    /// the loop round (or of [`configure`](Self::configure)).
    pub fn handler_mut(&mut self) -> &mut FtpHandler {
        if Rc::get_mut(&mut self.handler).is_none() {
            self.handler = Rc::new(live::fork(&self.handler));
            self.live.forked = true;
        }
        // Unique: nothing else holds the generation just made.
        Rc::get_mut(&mut self.handler).unwrap_or_else(|| unreachable!("a fresh Rc is unique"))
    }

    /// Run `call` with the server, in the loop, once `delay` has passed
    /// (pyftpdlib `ioloop.call_later(delay, callback)`, whose callback
    /// reaches the server through a global): e.g. to add users, change the
    /// banner or limits at a given time. Cancel it through the returned
    /// [`CallLater`]. ftpdlib extension.
    pub fn call_later(
        &mut self,
        delay: Duration,
        call: impl FnOnce(&mut FtpServer) + 'static,
    ) -> CallLater {
        let due = Rc::clone(&self.live.due);
        let mut call: Option<LocalChange> = Some(Box::new(call));
        let wake = self.ioloop.stop_handle();
        self.ioloop.call_later(delay, move || {
            if let Some(call) = call.take() {
                due.borrow_mut().push(call);
                // Served at the end of this round; the wake makes sure a
                // `poll` caller gets there without waiting for traffic.
                wake.wake();
            }
        })
    }

    /// The handler's settings (pyftpdlib `server.handler`).
    pub fn handler(&self) -> &FtpHandler {
        &self.handler
    }

    /// Run `reload` on SIGHUP (in the loop, between rounds), e.g. to re-read
    /// a users file; with [`handle_exit`](Self::handle_exit) only, which
    /// installs the signal descriptor. Without it SIGHUP keeps its default
    /// action. With worker processes, the parent passes SIGHUP on to each
    /// worker. ftpdlib extension.
    pub fn on_hangup(&mut self, reload: impl FnMut(&mut FtpServer) + 'static) {
        self.live.on_hangup = Some(Box::new(reload));
    }

    /// Whether SIGHUP is to be watched.
    pub(crate) fn watches_hangup(&self) -> bool {
        self.live.on_hangup.is_some()
    }

    /// After a round: the SIGHUP reload and the changes sent by handles,
    /// then publish.
    pub(crate) fn run_changes(&mut self) {
        if self.ioloop.take_hangup() {
            log::info!(target: crate::log::LOG, "received SIGHUP: reloading");
            if let Some(mut reload) = self.live.on_hangup.take() {
                reload(self);
                self.live.on_hangup.get_or_insert(reload);
            }
        }
        let due = std::mem::take(&mut *self.live.due.borrow_mut());
        for call in due {
            call(self);
        }
        while let Ok(change) = self.live.rx.try_recv() {
            change(self);
        }
        self.publish_changes();
    }

    /// Give acceptors the newest generation and limits.
    fn publish_changes(&mut self) {
        if std::mem::take(&mut self.live.forked) {
            live::publish(&self.handler);
            let handler = Rc::clone(&self.handler);
            self.each_acceptor(|a| a.handler = Rc::clone(&handler));
        }
        let (max_cons, max_cons_per_ip) = if self.one_session {
            (0, 0)
        } else {
            (self.max_cons, self.max_cons_per_ip)
        };
        self.each_acceptor(|a| {
            a.max_cons = max_cons;
            a.max_cons_per_ip = max_cons_per_ip;
        });
    }
}
