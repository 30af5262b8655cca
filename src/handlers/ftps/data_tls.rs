//! Whose tickets a connection may resume with ([`SessionTickets`]), and
//! what a data connection of a TLS 1.2 session may do with the session's
//! ticket key and session cache (ftpdlib extension, part of the
//! port-stealing defence of `require_tls_session_reuse`).
//!
//! TLS 1.2 issues its ticket, or stores its session under a session ID,
//! inside the handshake, before the server can see whether the handshake
//! resumed the control connection's session. A client that took a passive
//! port and made a full handshake would be refused, yet leave with a
//! ticket (or session ID) of this session, and resume it on the next port
//! it took. So a TLS 1.2 session's data connections may resume with the
//! session's ticket key and cache, but add nothing to them: they send an
//! empty ticket (RFC 5077 §3.3: the server changed its mind; OpenSSL
//! ignores it, rustls keeps the ticket it resumed with) and store no
//! session. They need none: TLS 1.2 clients resume one session on every
//! data connection. (TLS 1.3 data connections issue a ticket, sent only
//! once the connection has resumed: see `DataChannel::release_ticket`.)

use std::sync::Arc;

use rustls::server::{ProducesTickets, StoresServerSessions};

/// Bytes of a session's token (random, one per control connection).
pub(super) const TOKEN_LEN: usize = 16;

/// The tickets of one control connection and its data connections:
/// encrypted with the handler's ticket key (shared by all control
/// connections), the session's random token first in the plain text.
///
/// On the control connection (`bound` false) any token is accepted: a
/// client resumes a TLS session of an earlier control connection, and
/// skips the full handshake, as with any TLS server. On its data
/// connections (`bound` true) only this session's token is: a ticket of
/// another control connection decrypts, yet does not resume here, so a
/// stranger that took a passive port cannot pass for the session's client.
#[derive(Debug)]
pub(super) struct SessionTickets {
    pub key: Arc<dyn ProducesTickets>,
    pub token: [u8; TOKEN_LEN],
    pub bound: bool,
}

impl SessionTickets {
    /// The same session's tickets, for its data connections.
    pub fn bound(&self) -> SessionTickets {
        SessionTickets {
            key: Arc::clone(&self.key),
            token: self.token,
            bound: true,
        }
    }
}

impl ProducesTickets for SessionTickets {
    fn enabled(&self) -> bool {
        self.key.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.key.lifetime()
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let mut stamped = Vec::with_capacity(TOKEN_LEN + plain.len());
        stamped.extend_from_slice(&self.token);
        stamped.extend_from_slice(plain);
        self.key.encrypt(&stamped)
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        let plain = self.key.decrypt(cipher)?;
        let (token, rest) = plain.split_at_checked(TOKEN_LEN)?;
        if self.bound && token != self.token {
            return None;
        }
        Some(rest.to_vec())
    }
}

/// The session's ticket key, for decrypting only.
#[derive(Debug)]
pub(super) struct DecryptOnly(pub Arc<dyn ProducesTickets>);

impl ProducesTickets for DecryptOnly {
    fn enabled(&self) -> bool {
        self.0.enabled()
    }

    fn lifetime(&self) -> u32 {
        self.0.lifetime()
    }

    fn encrypt(&self, _plain: &[u8]) -> Option<Vec<u8>> {
        None
    }

    fn decrypt(&self, cipher: &[u8]) -> Option<Vec<u8>> {
        self.0.decrypt(cipher)
    }
}

/// The session's cache, for looking up only: nothing is stored, nothing
/// removed.
#[derive(Debug)]
pub(super) struct LookUpOnly(pub Arc<dyn StoresServerSessions>);

impl StoresServerSessions for LookUpOnly {
    fn put(&self, _key: Vec<u8>, _value: Vec<u8>) -> bool {
        false
    }

    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key)
    }

    fn take(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.0.get(key)
    }

    fn can_cache(&self) -> bool {
        self.0.can_cache()
    }
}
