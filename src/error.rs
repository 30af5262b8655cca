//! Error types (pyftpdlib's `exceptions.py`).
//!
//! pyftpdlib signals failures with exceptions; ftpdlib returns them as values.
//! [`AuthenticationFailed`] is what an [`Authorizer`](crate::Authorizer) returns
//! for a refused login (its text becomes the 530 reply), [`AuthorizerError`] is
//! a configuration mistake (a bad permission letter, a missing home directory),
//! and [`FilesystemError`] lets a [`Filesystem`](crate::Filesystem) send its own
//! 550 text. [`Error`] is the crate-level error of the server's public API.

use std::fmt;
use std::io;

/// A refused login; the text is sent to the client after `530 `
/// (pyftpdlib `AuthenticationFailed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticationFailed(pub String);

impl fmt::Display for AuthenticationFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AuthenticationFailed {}

/// A misconfigured authorizer: unknown user, duplicate user, bad permission
/// letter, home directory that does not exist (pyftpdlib `AuthorizerError`;
/// pyftpdlib's `DummyAuthorizer` raises `ValueError` for these, ftpdlib always
/// uses this type).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizerError(pub String);

impl fmt::Display for AuthorizerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AuthorizerError {}

/// A file-system failure with a message meant for the client: the control
/// channel answers `550 <message>.` (pyftpdlib `FilesystemError`).
///
/// A [`Filesystem`](crate::Filesystem) returns it wrapped in an
/// [`io::Error`] (`io::Error::other(FilesystemError(..))`); the reply layer
/// recognises it and uses its text instead of the OS error string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilesystemError(pub String);

impl fmt::Display for FilesystemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FilesystemError {}

/// The error of ftpdlib's public API (binding, serving, configuration).
#[derive(Debug)]
pub enum Error {
    /// An operating-system error (bind, poll, accept...).
    Io(io::Error),
    /// A configuration error of an authorizer.
    Authorizer(AuthorizerError),
    /// Any other configuration error, with a message.
    Config(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::Authorizer(e) => write!(f, "{e}"),
            Error::Config(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Authorizer(e) => Some(e),
            Error::Config(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<AuthorizerError> for Error {
    fn from(e: AuthorizerError) -> Self {
        Error::Authorizer(e)
    }
}
