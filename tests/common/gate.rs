//! A process-wide gate for the tests of one binary: tests that measure the
//! whole process (CPU time, RSS, descriptors, sockets) run alone by taking it
//! exclusively; every other test holds it shared while its server runs.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

static GATE: RwLock<()> = RwLock::new(());

/// For tests that only need their own server.
pub fn shared() -> RwLockReadGuard<'static, ()> {
    GATE.read().unwrap_or_else(|e| e.into_inner())
}

/// For tests that measure the whole process.
pub fn exclusive() -> RwLockWriteGuard<'static, ()> {
    GATE.write().unwrap_or_else(|e| e.into_inner())
}
