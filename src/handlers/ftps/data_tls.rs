//! What a data connection of a TLS 1.2 session may do with the session's
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
