//! The session's view of its data connection, and the one owner of that
//! state: every change goes through a method here, named after the event
//! that causes it (a command, or a report from the data side).

use super::Effect;
use crate::handlers::ftp::producers::Job;

/// Where the session's data connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataState {
    /// No PASV/PORT issued, or the last data connection is gone.
    Idle,
    /// A passive listener waits for the client.
    Listening,
    /// An active connect is in progress.
    Connecting,
    /// Connected, no transfer running.
    Connected,
    /// A transfer is running.
    Transferring,
}

/// What became of a transfer handed to [`DataLink::start_or_queue`].
pub(crate) enum Start {
    /// The connection is up: run it now.
    Now(Job),
    /// The connection is being set up: it runs once it is up.
    Queued,
    /// No PASV/PORT was issued.
    NoConnection,
    /// Another transfer is running.
    Busy,
}

/// What [`DataLink::forget_setup`] dropped.
pub(crate) struct Forgotten {
    /// A connection (or its set-up) to close.
    pub connection: bool,
    /// A queued transfer, whose command still owes its final reply.
    pub queued: bool,
}

/// The data connection as the session knows it: its state, and the
/// transfer waiting for it to come up.
pub(crate) struct DataLink {
    state: DataState,
    queued: Option<Job>,
}

impl DataLink {
    /// No data connection.
    pub fn new() -> DataLink {
        DataLink {
            state: DataState::Idle,
            queued: None,
        }
    }

    /// Where it stands.
    pub fn state(&self) -> DataState {
        self.state
    }

    /// A transfer is running.
    pub fn is_transferring(&self) -> bool {
        self.state == DataState::Transferring
    }

    /// A transfer is running or waits for the connection (its 150 sent):
    /// a command still owes its final reply.
    pub fn has_transfer(&self) -> bool {
        self.is_transferring() || self.queued.is_some()
    }

    /// PASV/EPSV/PORT/EPRT replaces the data connection: the effect that
    /// removes the old one, if any. A transfer queued on the old one (150
    /// sent, client not yet connected) stays queued and runs on the new
    /// connection, as in pyftpdlib.
    pub fn replace(&mut self) -> Option<Effect> {
        let effect = match self.state {
            DataState::Transferring => Some(Effect::DropTransfer),
            DataState::Idle => None,
            _ => Some(Effect::CloseData),
        };
        self.state = DataState::Idle;
        effect
    }

    /// PORT/EPRT was accepted: the connect runs.
    pub fn connecting(&mut self) {
        self.state = DataState::Connecting;
    }

    /// The passive listener is up.
    pub fn listening(&mut self) {
        self.state = DataState::Listening;
    }

    /// The data connection is up: the queued transfer to start now, if any.
    pub fn connected(&mut self) -> Option<Job> {
        let job = self.queued.take();
        self.state = match job {
            Some(_) => DataState::Transferring,
            None => DataState::Connected,
        };
        job
    }

    /// The data side is gone before any transfer: nothing queued survives.
    pub fn lost(&mut self) {
        self.state = DataState::Idle;
        self.queued = None;
    }

    /// The running transfer ended (or was aborted).
    pub fn transfer_ended(&mut self) {
        self.state = DataState::Idle;
    }

    /// Forget a connection that is set up but runs nothing (ABOR, REIN,
    /// a new USER) and the transfer queued on it. A running transfer is
    /// left alone.
    pub fn forget_setup(&mut self) -> Forgotten {
        let queued = self.queued.take();
        let connection = match self.state {
            DataState::Listening | DataState::Connecting | DataState::Connected => {
                self.state = DataState::Idle;
                true
            }
            DataState::Idle | DataState::Transferring => false,
        };
        Forgotten {
            connection,
            queued: queued.is_some(),
        }
    }

    /// Run `job` now if the connection is up, or queue it until it is.
    /// With `before_setup` (STOU, as pyftpdlib), a job is also queued when
    /// no PASV/PORT was issued yet: the next one's connection runs it.
    pub fn start_or_queue(&mut self, job: Job, before_setup: bool) -> Start {
        match self.state {
            DataState::Idle if before_setup && self.queued.is_none() => {
                self.queued = Some(job);
                Start::Queued
            }
            DataState::Connected => {
                self.state = DataState::Transferring;
                Start::Now(job)
            }
            DataState::Listening | DataState::Connecting if self.queued.is_none() => {
                self.queued = Some(job);
                Start::Queued
            }
            DataState::Listening | DataState::Connecting => Start::Busy,
            DataState::Idle => Start::NoConnection,
            DataState::Transferring => Start::Busy,
        }
    }
}
