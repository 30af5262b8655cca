//! Authorizers (pyftpdlib's `pyftpdlib.authorizers`): the [`Authorizer`]
//! interface, the in-memory [`DummyAuthorizer`] with per-directory overrides
//! and crypt(3)-hashed passwords ([`hash_password`]), the system-account
//! [`UnixAuthorizer`], and the permission letters `elradfmwMT` ([`Perm`],
//! [`Perms`]).
//!
//! Files: this one (the trait, the permission letters, `DummyAuthorizer`),
//! `authorizers/hashed.rs` (crypt(3) hashes) and `authorizers/unix.rs`
//! (`UnixAuthorizer`). See `docs/authorizers.md` for a guide.

use std::cell::{Ref, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockWriteGuard};

use crate::error::{AuthenticationFailed, AuthorizerError};

mod certificate;
mod hashed;
mod unix;
mod users_file;

pub use certificate::{CertUserField, ClientCertificate};
pub use hashed::{hash_password, is_password_hash};
pub use unix::{UnixAuthorizer, UnixAuthorizerOptions};

/// Default login message (pyftpdlib `msg_login="Login successful."`).
const DEFAULT_MSG_LOGIN: &str = "Login successful.";
/// Default quit message (pyftpdlib `msg_quit="Goodbye."`).
const DEFAULT_MSG_QUIT: &str = "Goodbye.";
/// Default permissions of `add_user` and `add_anonymous` (pyftpdlib
/// `perm="elr"`: read-only).
const DEFAULT_PERM: &str = "elr";
/// The user name that stands for anonymous access.
const ANONYMOUS: &str = "anonymous";

/// One permission letter of pyftpdlib (`elradfmwMT`), as checked by
/// pyftpdlib's `has_perm(username, perm, path)`.
#[doc(alias = "perm")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Perm {
    /// `e`: change directory (CWD, CDUP, XCWD, XCUP).
    ChangeDir,
    /// `l`: list (LIST, NLST, STAT path, MLSD, MLST, SIZE, MDTM).
    List,
    /// `r`: retrieve a file (RETR).
    Retrieve,
    /// `a`: append to a file (APPE).
    Append,
    /// `d`: delete a file or directory (DELE, RMD, XRMD).
    Delete,
    /// `f`: rename (RNFR, RNTO).
    Rename,
    /// `m`: make a directory (MKD, XMKD).
    MakeDir,
    /// `w`: store a file (STOR, STOU).
    Store,
    /// `M`: change mode (SITE CHMOD).
    Chmod,
    /// `T`: set the modification time (MFMT).
    SetMtime,
}

impl Perm {
    /// Every permission, in pyftpdlib's canonical order `e l r a d f m w M T`
    /// (pyftpdlib `read_perms + write_perms`).
    pub const ALL: [Perm; 10] = [
        Perm::ChangeDir,
        Perm::List,
        Perm::Retrieve,
        Perm::Append,
        Perm::Delete,
        Perm::Rename,
        Perm::MakeDir,
        Perm::Store,
        Perm::Chmod,
        Perm::SetMtime,
    ];

    /// The pyftpdlib letter of this permission.
    pub fn letter(self) -> char {
        ['e', 'l', 'r', 'a', 'd', 'f', 'm', 'w', 'M', 'T'][self as usize]
    }

    /// The permission a pyftpdlib letter stands for (case-sensitive:
    /// `m` is MakeDir, `M` is Chmod); `None` for any other character.
    pub fn from_letter(c: char) -> Option<Perm> {
        Perm::ALL.into_iter().find(|p| p.letter() == c)
    }

    /// Whether this is one of pyftpdlib's `write_perms` (`adfmwMT`).
    #[doc(alias = "write_perms")]
    pub fn is_write(self) -> bool {
        !matches!(self, Perm::ChangeDir | Perm::List | Perm::Retrieve)
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// A set of permission letters (pyftpdlib's `perm` string, e.g. `"elr"`).
#[doc(alias = "perm")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perms(u16);

impl Perms {
    /// `"elr"` (pyftpdlib `read_perms`).
    #[doc(alias = "read_perms")]
    pub const READ: Perms = Perms(0b000_0000_0111);
    /// `"adfmwMT"` (pyftpdlib `write_perms`).
    #[doc(alias = "write_perms")]
    pub const WRITE: Perms = Perms(0b011_1111_1000);
    /// `"elradfmwMT"`, every permission (the CLI's `--write`).
    pub const ALL: Perms = Perms(0b011_1111_1111);

    /// Parses a pyftpdlib perm string; letters may repeat, the empty string
    /// is the empty set. Any other letter is an error (pyftpdlib's
    /// `_check_permissions`, which raises `ValueError("no such permission")`).
    #[doc(alias = "_check_permissions")]
    pub fn parse(s: &str) -> Result<Perms, AuthorizerError> {
        let mut perms = Perms::default();
        for c in s.chars() {
            match Perm::from_letter(c) {
                Some(p) => perms = perms.with(p),
                None => {
                    return Err(AuthorizerError(format!("no such permission {c:?}")));
                }
            }
        }
        Ok(perms)
    }

    /// Whether `p` is in the set (pyftpdlib `perm in perms`).
    pub fn contains(self, p: Perm) -> bool {
        self.0 & p.bit() != 0
    }

    /// Whether any of the write letters `adfmwMT` is in the set.
    pub fn has_write(self) -> bool {
        self.0 & Perms::WRITE.0 != 0
    }

    /// Whether the set is empty (pyftpdlib `perm == ""`).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// This set plus `p`.
    #[must_use]
    pub fn with(self, p: Perm) -> Perms {
        Perms(self.0 | p.bit())
    }

    /// The letters in canonical order `elradfmwMT` (pyftpdlib `get_perms`).
    pub fn to_letters(self) -> String {
        Perm::ALL
            .into_iter()
            .filter(|p| self.contains(*p))
            .map(Perm::letter)
            .collect()
    }
}

impl fmt::Display for Perms {
    /// Writes the letters in canonical order, as [`Perms::to_letters`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_letters())
    }
}

/// pyftpdlib's authorizer interface (the duck-typed API of
/// `DummyAuthorizer`/`UnixAuthorizer`/`WindowsAuthorizer`). All methods take
/// `&self`: one authorizer is shared by every session of the
/// single-threaded server; state that changes (a cache of logon tokens, say)
/// lives behind a `RefCell` inside the implementation.
///
/// What a platform authorizer needs is here: a logon check
/// ([`validate_authentication`](Self::validate_authentication)), a switch
/// of identity around every command with the session's own credentials
/// ([`impersonate_user`](Self::impersonate_user) /
/// [`terminate_impersonation`](Self::terminate_impersonation)) and a home
/// lookup ([`get_home_dir`](Self::get_home_dir)). `docs/authorizers.md`
/// shows how a Windows authorizer would map onto it.
///
/// (A method added here must also be forwarded by the stand-in of
/// `handlers/ftp/live.rs`, which a reconfigured server's new handler
/// generation uses in place of the authorizer it inherits.)
pub trait Authorizer {
    /// Accepts or refuses a login; the error text becomes the `530` reply
    /// (pyftpdlib `validate_authentication(username, password, handler)`).
    fn validate_authentication(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(), AuthenticationFailed>;

    /// Starts checking a login, for an authorizer whose check is slow: a
    /// crypt(3) hash, LDAP, PAM, an HTTP call. It returns
    /// [`Validation::Slow`] with a `Send` closure that does the slow part
    /// without `self`; the server runs it on its worker pool
    /// ([`FtpHandler::auth_workers`](crate::FtpHandler::auth_workers))
    /// while every other client is served, and the session reads no input
    /// until it is decided. pyftpdlib has no counterpart: its check holds
    /// the loop. Default: [`validate_authentication`](Self::validate_authentication)
    /// on the spot.
    fn begin_validation(&self, username: &str, password: &str) -> Validation {
        Validation::Done(self.validate_authentication(username, password))
    }

    /// Whether `username` is known (pyftpdlib `has_user`).
    fn has_user(&self, username: &str) -> bool;

    /// Whether `username` holds `perm` on `path` (pyftpdlib `has_perm`).
    /// `path` is a real (file-system) path, absolute, already normalised;
    /// `None` = the global perms.
    fn has_perm(&self, username: &str, perm: Perm, path: Option<&Path>) -> bool;

    /// The user's global permissions, also used for the MLSx `perm` fact
    /// (pyftpdlib `get_perms`).
    fn get_perms(&self, username: &str) -> Perms;

    /// Whether [`has_perm`](Self::has_perm) may answer differently for
    /// different paths of this user (per-directory overrides). When false,
    /// a listing takes [`get_perms`](Self::get_perms) once instead of asking
    /// ten letters per entry. Default: true, always ask per path.
    fn perms_vary_by_path(&self, username: &str) -> bool {
        let _ = username;
        true
    }

    /// The user's home directory, a real path (pyftpdlib `get_home_dir`).
    fn get_home_dir(&self, username: &str) -> Result<PathBuf, AuthorizerError>;

    /// The message sent with `230` after login (pyftpdlib `get_msg_login`).
    fn get_msg_login(&self, username: &str) -> String;

    /// The message sent with `221` on QUIT (pyftpdlib `get_msg_quit`).
    fn get_msg_quit(&self, username: &str) -> String;

    /// A number that changes whenever users are added, removed or edited
    /// while the server serves (ftpdlib extension, no pyftpdlib
    /// counterpart). A session compares it before each command and, when it
    /// moved, asks [`has_user`](Self::has_user) once: a logged-in user who is
    /// gone is told `421` and disconnected. An authorizer whose users never
    /// change keeps the default, 0.
    fn generation(&self) -> u64 {
        0
    }

    /// Called before every command of a logged-in session, with the
    /// session's user name and the password it logged in with (pyftpdlib
    /// `impersonate_user`, which wraps every file-system call). The
    /// session keeps the password for this call only: an authorizer that
    /// needs a logon token (Windows' `LogonUser`) makes it from these, or
    /// finds it in a cache keyed by user name.
    ///
    /// An error means the command must not run: the session answers
    /// `550` and goes on. It must never leave the thread acting with more
    /// rights than the user's. Default: no-op (virtual users).
    fn impersonate_user(&self, username: &str, password: &str) -> io::Result<()> {
        let _ = (username, password);
        Ok(())
    }

    /// The user's quota and per-user bandwidth limits ([`UserLimits`];
    /// ftpdlib extension, pyftpdlib has none). Asked at the start of every
    /// transfer, so a change applies to the next one. Default: no limit.
    ///
    /// [`UserLimits`]: crate::UserLimits
    fn user_limits(&self, username: &str) -> crate::UserLimits {
        let _ = username;
        crate::UserLimits::default()
    }

    /// Called after every command of a logged-in session to take back the
    /// server's own identity (pyftpdlib `terminate_impersonation`). An
    /// error closes the session. Default: no-op.
    fn terminate_impersonation(&self, username: &str) -> io::Result<()> {
        let _ = username;
        Ok(())
    }

    /// The directories this authorizer's users reach, the files it reads
    /// while serving and whether it switches ids: what
    /// [`FtpServer::hardening`](crate::FtpServer::hardening) needs for
    /// Landlock and the privilege drop (ftpdlib extension). Default:
    /// `None`, unknown, so Landlock is not applied (`Required` fails) and
    /// a privilege drop keeps no capability.
    fn confinement(&self) -> Option<crate::hardening::Confinement> {
        None
    }

    /// Whether the verified TLS client certificate `cert` logs `username`
    /// in without a password (ftpdlib extension, after RFC 4217 and
    /// RFC 2228's 232 reply; pyftpdlib has no client certificates). Asked
    /// at USER on a session whose client sent a certificate that chains to
    /// the client CA (`TlsFtpHandler::set_client_ca`). Default: the user
    /// exists and is the certificate's
    /// [`user_name`](ClientCertificate::user_name) (its CN unless
    /// configured otherwise).
    fn authenticate_certificate(&self, username: &str, cert: &ClientCertificate) -> bool {
        self.has_user(username) && cert.user_name() == Some(username)
    }
}

/// The slow part of a login check, run off the loop: see
/// [`Authorizer::begin_validation`].
pub type SlowCheck = Box<dyn FnOnce() -> Result<(), AuthenticationFailed> + Send>;

/// How a login is checked ([`Authorizer::begin_validation`]).
pub enum Validation {
    /// Decided on the spot.
    Done(Result<(), AuthenticationFailed>),
    /// Decided by this closure, run on the worker pool.
    Slow(SlowCheck),
}

impl fmt::Debug for Validation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validation::Done(r) => f.debug_tuple("Done").field(r).finish(),
            Validation::Slow(_) => f.write_str("Slow(..)"),
        }
    }
}

/// One per-directory permission override (a value of pyftpdlib's `operms`).
#[derive(Debug, Clone)]
struct Override {
    dir: PathBuf,
    perms: Perms,
    recursive: bool,
}

/// One row of pyftpdlib's `user_table`.
#[derive(Debug, Clone)]
struct User {
    pwd: String,
    home: PathBuf,
    perms: Perms,
    operms: Vec<Override>,
    msg_login: String,
    msg_quit: String,
    /// Quotas and per-user bandwidth ([`DummyAuthorizer::set_user_limits`]).
    limits: crate::UserLimits,
}

/// Virtual users in memory (pyftpdlib `DummyAuthorizer`).
///
/// A password given to [`add_user`](Self::add_user) is stored as it is:
/// clear text, or, when it starts with `$`, a crypt(3) hash made by
/// [`hash_password`] (or `ftpdlib --hash-password`, `mkpasswd`, `openssl
/// passwd -6`), which is then checked through libcrypt. This is the
/// tutorial's `DummyMD5Authorizer` (§3.3) built in.
///
/// **Clones share one user table** (ftpdlib extension): keep a clone of
/// the authorizer given to [`FtpHandler::new`](crate::FtpHandler::new) and
/// call [`add_user`](Self::add_user), [`remove_user`](Self::remove_user),
/// [`override_perm`](Self::override_perm) or
/// [`replace_users`](Self::replace_users) on it while the server serves,
/// from any thread — pyftpdlib's
/// `server.handler.authorizer.add_user(...)`. A change applies to the next
/// login or command; a logged-in session of a removed user ends at its next
/// command (see `docs/live-configuration.md`). [`snapshot`](Self::snapshot)
/// makes an independent copy.
///
/// It is `Send` but not `Sync`: give each thread its own clone. Each clone
/// keeps the table it last read and looks at the shared one again only
/// when an edit was made since (one atomic load per lookup; no lock on the
/// loop's path while nobody edits). Edits copy the table on write.
#[derive(Debug, Default, Clone)]
pub struct DummyAuthorizer {
    shared: Arc<Table>,
    /// The table as this clone last read it.
    cache: RefCell<Cache>,
}

/// The users by name.
type Users = HashMap<String, User>;

/// The user table shared by a [`DummyAuthorizer`] and its clones.
#[derive(Debug, Default)]
struct Table {
    users: RwLock<Arc<Users>>,
    /// Bumped after every edit ([`Authorizer::generation`]).
    generation: AtomicU64,
}

/// One clone's copy of the table's `Arc`, valid while the generation is
/// the table's. A generation is bumped after its edit is in place, so a
/// copy is never newer than its number says.
#[derive(Debug, Default, Clone)]
struct Cache {
    generation: u64,
    /// `None` until the first lookup.
    users: Option<Arc<Users>>,
}

/// Parses `perm` for `username`, warning when anonymous gets write letters
/// (pyftpdlib `_check_permissions` and its `RuntimeWarning`).
fn check_permissions(username: &str, perm: &str) -> Result<Perms, AuthorizerError> {
    let perms = Perms::parse(perm)?;
    if username == ANONYMOUS && perms.has_write() {
        log::warn!(target: crate::log::LOG, "write permissions assigned to anonymous user.");
    }
    Ok(perms)
}

/// Byte comparison whose time depends only on the lengths, never on where
/// the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// The one place where a stored password is checked against a given one:
/// a crypt(3) hash (`$` first) through libcrypt, clear text byte for byte;
/// both comparisons in constant time.
pub(crate) fn password_matches(stored: &str, given: &str) -> bool {
    if hashed::is_password_hash(stored) {
        hashed::verify_hash(stored, given)
    } else {
        constant_time_eq(stored.as_bytes(), given.as_bytes())
    }
}

/// Whether `pwd` has the shape of an MD5/SHA-1/SHA-2 hex digest.
fn looks_like_hex_digest(pwd: &str) -> bool {
    matches!(pwd.len(), 32 | 40 | 56 | 64 | 96 | 128) && pwd.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Refuses a stored password that looks like a crypt(3) hash (`$` first)
/// but that libcrypt cannot use: it would match nothing, silently.
fn check_password_hash(password: &str) -> Result<(), AuthorizerError> {
    if hashed::is_password_hash(password) && !hashed::is_valid_hash(password) {
        return Err(AuthorizerError(
            "a password starting with '$' must be a crypt(3) hash this system supports".into(),
        ));
    }
    Ok(())
}

impl DummyAuthorizer {
    /// An authorizer with no users (pyftpdlib `DummyAuthorizer()`).
    #[doc(alias = "__init__")]
    pub fn new() -> Self {
        Self::default()
    }

    /// An independent copy of the current table: later edits of either
    /// side do not show in the other (a `Clone` shares the table).
    pub fn snapshot(&self) -> DummyAuthorizer {
        // The same map, copied by the first edit of either side.
        let users = self.current();
        DummyAuthorizer {
            shared: Arc::new(Table {
                users: RwLock::new(users),
                generation: AtomicU64::new(0),
            }),
            cache: RefCell::default(),
        }
    }

    /// Replace every user of this table (and its clones') with those of
    /// `other`, at once: a reload of a users file. Sessions of users that
    /// are gone end at their next command; the others go on. ftpdlib
    /// extension.
    pub fn replace_users(&mut self, other: &DummyAuthorizer) {
        if Arc::ptr_eq(&self.shared, &other.shared) {
            return;
        }
        let users = other.current();
        *self.write() = users;
        self.edited();
    }

    /// The names of the users, sorted (pyftpdlib `user_table.keys()`).
    pub fn user_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().keys().cloned().collect();
        names.sort();
        names
    }

    /// The table, as this clone last read it if nothing was edited since.
    fn read(&self) -> Ref<'_, Users> {
        let generation = self.shared.generation.load(Ordering::Acquire);
        let cache = self.cache.borrow();
        if cache.generation == generation {
            if let Ok(users) = Ref::filter_map(cache, |c| c.users.as_deref()) {
                return users;
            }
        } else {
            drop(cache);
        }
        // (A lookup is never nested in another: the borrow is free.)
        if let Ok(mut cache) = self.cache.try_borrow_mut() {
            *cache = Cache {
                generation,
                users: Some(self.current()),
            };
        }
        Ref::map(self.cache.borrow(), |c| match &c.users {
            Some(users) => &**users,
            None => empty_users(),
        })
    }

    /// The shared table's map now (the read lock held for a clone of the
    /// `Arc`).
    fn current(&self) -> Arc<Users> {
        Arc::clone(&self.shared.users.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The shared table for an edit: the map inside is copied first if a
    /// clone still reads it (`Arc::make_mut`).
    fn write(&self) -> RwLockWriteGuard<'_, Arc<Users>> {
        // A panic while the table was written left it whole (every edit
        // is one insert, remove or replace): go on with it.
        self.shared.users.write().unwrap_or_else(|e| e.into_inner())
    }

    fn edited(&self) {
        self.shared.generation.fetch_add(1, Ordering::Release);
    }

    /// Adds a read-only virtual user, perm `"elr"`, with messages "Login
    /// successful." / "Goodbye." (pyftpdlib `add_user(username, password,
    /// homedir)`, whose `perm` defaults to `"elr"`). Other permissions:
    /// [`Self::add_user_with_perm`].
    ///
    /// `password` is clear text or a crypt(3) hash (see the type's docs).
    /// Fails if the user exists, `homedir` is not an existing directory or
    /// `password` starts with `$` without being a usable hash. The home is
    /// stored as its real path.
    pub fn add_user(
        &mut self,
        username: &str,
        password: &str,
        homedir: impl AsRef<Path>,
    ) -> Result<(), AuthorizerError> {
        self.add_user_with_perm(username, password, homedir, DEFAULT_PERM)
    }

    /// Adds a virtual user with the permission letters `perm` (pyftpdlib
    /// `add_user(username, password, homedir, perm=...)`), e.g.
    /// `"elradfmwMT"` for every right; errors as [`Self::add_user`], and an
    /// unknown letter in `perm`.
    #[doc(alias = "add_user")]
    pub fn add_user_with_perm(
        &mut self,
        username: &str,
        password: &str,
        homedir: impl AsRef<Path>,
        perm: &str,
    ) -> Result<(), AuthorizerError> {
        self.add_user_with_messages(
            username,
            password,
            homedir,
            perm,
            DEFAULT_MSG_LOGIN,
            DEFAULT_MSG_QUIT,
        )
    }

    /// Adds a virtual user with custom login/quit messages (pyftpdlib
    /// `add_user(..., msg_login=, msg_quit=)`); errors as [`Self::add_user`].
    #[doc(alias = "add_user")]
    pub fn add_user_with_messages(
        &mut self,
        username: &str,
        password: &str,
        homedir: impl AsRef<Path>,
        perm: &str,
        msg_login: &str,
        msg_quit: &str,
    ) -> Result<(), AuthorizerError> {
        let homedir = homedir.as_ref();
        let home = match std::fs::canonicalize(homedir) {
            Ok(h) if h.is_dir() => h,
            _ => return Err(AuthorizerError(format!("no such directory: {homedir:?}"))),
        };
        let perms = check_permissions(username, perm)?;
        check_password_hash(password)?;
        let mut table = self.write();
        let users = Arc::make_mut(&mut table);
        if users.contains_key(username) {
            return Err(AuthorizerError(format!("user {username:?} already exists")));
        }
        users.insert(
            username.to_owned(),
            User {
                pwd: password.to_owned(),
                home,
                perms,
                operms: Vec::new(),
                msg_login: msg_login.to_owned(),
                msg_quit: msg_quit.to_owned(),
                limits: crate::UserLimits::default(),
            },
        );
        drop(table);
        self.edited();
        Ok(())
    }

    /// Sets the quota and per-user bandwidth limits of an existing user
    /// (ftpdlib extension; see [`UserLimits`](crate::UserLimits)), in the
    /// table the clones share, like every other edit. Fails if the user
    /// does not exist.
    pub fn set_user_limits(
        &mut self,
        username: &str,
        limits: crate::UserLimits,
    ) -> Result<(), AuthorizerError> {
        let mut table = self.write();
        let user = Arc::make_mut(&mut table)
            .get_mut(username)
            .ok_or_else(|| no_such_user(username))?;
        user.limits = limits;
        drop(table);
        self.edited();
        Ok(())
    }

    /// Adds the "anonymous" user with perm `"elr"`; any password is accepted
    /// (pyftpdlib `add_anonymous(homedir)`).
    pub fn add_anonymous(&mut self, homedir: impl AsRef<Path>) -> Result<(), AuthorizerError> {
        self.add_anonymous_with(homedir, DEFAULT_PERM, DEFAULT_MSG_LOGIN, DEFAULT_MSG_QUIT)
    }

    /// Adds the "anonymous" user with custom perms and messages (pyftpdlib
    /// `add_anonymous(homedir, perm=, msg_login=, msg_quit=)`); write letters
    /// log a warning like pyftpdlib's `RuntimeWarning`.
    #[doc(alias = "add_anonymous")]
    pub fn add_anonymous_with(
        &mut self,
        homedir: impl AsRef<Path>,
        perm: &str,
        msg_login: &str,
        msg_quit: &str,
    ) -> Result<(), AuthorizerError> {
        self.add_user_with_messages(ANONYMOUS, "", homedir, perm, msg_login, msg_quit)
    }

    /// Removes a user (pyftpdlib `remove_user`, which raises `KeyError`
    /// for an unknown user; here an [`AuthorizerError`]).
    pub fn remove_user(&mut self, username: &str) -> Result<(), AuthorizerError> {
        let removed = Arc::make_mut(&mut self.write()).remove(username);
        self.edited();
        removed.map(drop).ok_or_else(|| no_such_user(username))
    }

    /// Replaces the global permissions of `username` (pyftpdlib code
    /// assigns `user_table[username]['perm']`); its per-directory
    /// overrides stay. ftpdlib extension.
    pub fn set_perm(&mut self, username: &str, perm: &str) -> Result<(), AuthorizerError> {
        let perms = check_permissions(username, perm)?;
        let mut table = self.write();
        let user = Arc::make_mut(&mut table)
            .get_mut(username)
            .ok_or_else(|| no_such_user(username))?;
        user.perms = perms;
        drop(table);
        self.edited();
        Ok(())
    }

    /// Sets per-directory permissions for `directory` (and, if `recursive`,
    /// everything below it) (pyftpdlib `override_perm`).
    ///
    /// The directory must exist and lie strictly inside the user's home.
    /// Overriding the same directory again replaces its entry in place.
    pub fn override_perm(
        &mut self,
        username: &str,
        directory: impl AsRef<Path>,
        perm: &str,
        recursive: bool,
    ) -> Result<(), AuthorizerError> {
        let perms = check_permissions(username, perm)?;
        let mut table = self.write();
        let user = Arc::make_mut(&mut table)
            .get_mut(username)
            .ok_or_else(|| no_such_user(username))?;
        let directory = directory.as_ref();
        let dir = match std::fs::canonicalize(directory) {
            Ok(d) if d.is_dir() => d,
            _ => return Err(AuthorizerError(format!("no such directory: {directory:?}"))),
        };
        if dir == user.home {
            return Err(AuthorizerError(
                "can't override home directory permissions".into(),
            ));
        }
        if !dir.starts_with(&user.home) {
            return Err(AuthorizerError("path escapes user home directory".into()));
        }
        let entry = Override {
            dir,
            perms,
            recursive,
        };
        match user.operms.iter_mut().find(|o| o.dir == entry.dir) {
            Some(existing) => *existing = entry,
            None => user.operms.push(entry),
        }
        drop(table);
        self.edited();
        Ok(())
    }
}

/// The table of a clone that never read one.
fn empty_users() -> &'static Users {
    static EMPTY: std::sync::OnceLock<Users> = std::sync::OnceLock::new();
    EMPTY.get_or_init(HashMap::new)
}

/// One row of [`DummyAuthorizer::user_table`] (pyftpdlib's
/// `user_table[username]` dict: `pwd`, `home`, `perm`, `operms`,
/// `msg_login`, `msg_quit`), a copy of what the authorizer holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    /// The user name (the dict's key).
    pub username: String,
    /// The password exactly as given to `add_user`: clear text, a crypt(3)
    /// hash, or whatever a subclass's `validate_authentication` compares
    /// (pyftpdlib `pwd`).
    pub pwd: String,
    /// The home directory, a real path (pyftpdlib `home`).
    pub home: PathBuf,
    /// The global permissions (pyftpdlib `perm`).
    pub perm: Perms,
    /// Per-directory overrides as `(directory, perms, recursive)`, in the
    /// order they are checked (pyftpdlib `operms`).
    pub operms: Vec<(PathBuf, Perms, bool)>,
    /// The login message (pyftpdlib `msg_login`).
    pub msg_login: String,
    /// The quit message (pyftpdlib `msg_quit`).
    pub msg_quit: String,
}

impl UserRecord {
    fn of(username: &str, u: &User) -> UserRecord {
        UserRecord {
            username: username.to_owned(),
            pwd: u.pwd.clone(),
            home: u.home.clone(),
            perm: u.perms,
            operms: u
                .operms
                .iter()
                .map(|o| (o.dir.clone(), o.perms, o.recursive))
                .collect(),
            msg_login: u.msg_login.clone(),
            msg_quit: u.msg_quit.clone(),
        }
    }
}

impl DummyAuthorizer {
    /// The record of `username`, if any (pyftpdlib
    /// `self.user_table[username]`), as a subclass's override reads it:
    /// `base.user(name).map(|u| u.pwd)`.
    #[doc(alias = "user_table")]
    pub fn user(&self, username: &str) -> Option<UserRecord> {
        self.read()
            .get(username)
            .map(|u| UserRecord::of(username, u))
    }

    /// Every user's record, sorted by user name (pyftpdlib `user_table`).
    pub fn user_table(&self) -> Vec<UserRecord> {
        let mut all: Vec<UserRecord> = self
            .read()
            .iter()
            .map(|(name, u)| UserRecord::of(name, u))
            .collect();
        all.sort_by(|a, b| a.username.cmp(&b.username));
        all
    }
}

fn no_such_user(username: &str) -> AuthorizerError {
    AuthorizerError(format!("no such user {username:?}"))
}

impl Authorizer for DummyAuthorizer {
    fn validate_authentication(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(), AuthenticationFailed> {
        let users = self.read();
        let Some(user) = users.get(username) else {
            let msg = if username == ANONYMOUS {
                "Anonymous access not allowed."
            } else {
                "Authentication failed."
            };
            return Err(AuthenticationFailed(msg.to_owned()));
        };
        if username != ANONYMOUS && !password_matches(&user.pwd, password) {
            if looks_like_hex_digest(&user.pwd) {
                // The tutorial's md5 route stores hex digests; without the
                // override that hashes the given password they never match.
                log::warn!(
                    target: crate::log::LOG,
                    "the stored password of user \"{}\" looks like a hex digest and is compared \
                     as clear text: override validate_authentication (see examples/md5_ftpd.rs) \
                     or store a crypt(3) hash",
                    username.escape_debug()
                );
            }
            return Err(AuthenticationFailed("Authentication failed.".to_owned()));
        }
        Ok(())
    }

    /// A hashed password is checked off the loop; the rest on the spot.
    fn begin_validation(&self, username: &str, password: &str) -> Validation {
        match self.read().get(username) {
            Some(user) if username != ANONYMOUS && hashed::is_password_hash(&user.pwd) => {
                let (stored, given) = (user.pwd.clone(), password.to_owned());
                Validation::Slow(Box::new(move || {
                    if hashed::verify_hash(&stored, &given) {
                        Ok(())
                    } else {
                        Err(AuthenticationFailed("Authentication failed.".to_owned()))
                    }
                }))
            }
            _ => Validation::Done(self.validate_authentication(username, password)),
        }
    }

    fn has_user(&self, username: &str) -> bool {
        self.read().contains_key(username)
    }

    fn generation(&self) -> u64 {
        self.shared.generation.load(Ordering::Acquire)
    }

    fn has_perm(&self, username: &str, perm: Perm, path: Option<&Path>) -> bool {
        let users = self.read();
        let Some(user) = users.get(username) else {
            return false;
        };
        if let Some(path) = path {
            for o in &user.operms {
                // Path::starts_with is component-wise: /home/ab is not in /home/a.
                if !path.starts_with(&o.dir) {
                    continue;
                }
                if o.recursive
                    || path == o.dir
                    || (path.parent() == Some(o.dir.as_path()) && !path.is_dir())
                {
                    return o.perms.contains(perm);
                }
            }
        }
        user.perms.contains(perm)
    }

    fn get_perms(&self, username: &str) -> Perms {
        self.read()
            .get(username)
            .map(|u| u.perms)
            .unwrap_or_default()
    }

    fn perms_vary_by_path(&self, username: &str) -> bool {
        self.read()
            .get(username)
            .is_some_and(|u| !u.operms.is_empty())
    }

    fn get_home_dir(&self, username: &str) -> Result<PathBuf, AuthorizerError> {
        self.read()
            .get(username)
            .map(|u| u.home.clone())
            .ok_or_else(|| no_such_user(username))
    }

    fn get_msg_login(&self, username: &str) -> String {
        self.read()
            .get(username)
            .map_or(DEFAULT_MSG_LOGIN, |u| u.msg_login.as_str())
            .to_owned()
    }

    fn user_limits(&self, username: &str) -> crate::UserLimits {
        self.read()
            .get(username)
            .map(|u| u.limits)
            .unwrap_or_default()
    }

    fn get_msg_quit(&self, username: &str) -> String {
        self.read()
            .get(username)
            .map_or(DEFAULT_MSG_QUIT, |u| u.msg_quit.as_str())
            .to_owned()
    }

    /// Every user's home with its perms, and each override directory with
    /// its own (Landlock rules cover whole trees, so a non-recursive
    /// override counts for the tree beneath it too).
    fn confinement(&self) -> Option<crate::hardening::Confinement> {
        let mut roots = Vec::new();
        for user in self.read().values() {
            roots.push((user.home.clone(), user.perms));
            for o in &user.operms {
                roots.push((o.dir.clone(), o.perms));
            }
        }
        Some(crate::hardening::Confinement {
            roots,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A unique temporary directory, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::SeqCst);
            let p = std::env::temp_dir()
                .join(format!("ftpdlib-authorizers-{}-{n}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(&p).unwrap();
            TempDir(fs::canonicalize(&p).unwrap())
        }
        fn mkdir(&self, rel: &str) -> PathBuf {
            let p = self.0.join(rel);
            fs::create_dir_all(&p).unwrap();
            p
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn perm_letters_and_constants() {
        let letters: String = Perm::ALL.iter().map(|p| p.letter()).collect();
        assert_eq!(letters, "elradfmwMT");
        for p in Perm::ALL {
            assert_eq!(Perm::from_letter(p.letter()), Some(p));
            assert_eq!(p.is_write(), Perms::WRITE.contains(p));
            assert_eq!(!p.is_write(), Perms::READ.contains(p));
        }
        assert_eq!(Perm::from_letter('x'), None);
        assert_eq!(Perm::from_letter('E'), None);
        assert_eq!(Perms::READ.to_letters(), "elr");
        assert_eq!(Perms::WRITE.to_letters(), "adfmwMT");
        assert_eq!(Perms::ALL.to_string(), "elradfmwMT");
        assert!(!Perms::READ.has_write() && Perms::WRITE.has_write());
        assert!(Perms::default().is_empty());
        assert_eq!(Perms::default().to_letters(), "");
    }

    #[test]
    fn perms_parse() {
        let p = Perms::parse("TwlMe").unwrap();
        assert_eq!(p.to_letters(), "elwMT");
        assert!(p.contains(Perm::Chmod) && !p.contains(Perm::MakeDir));
        assert_eq!(Perms::parse("elrelr").unwrap(), Perms::READ);
        assert_eq!(Perms::parse("").unwrap(), Perms::default());
        assert_eq!(Perms::parse("elradfmwMT").unwrap(), Perms::ALL);
        let e = Perms::parse("elrx").unwrap_err();
        assert_eq!(e.0, "no such permission 'x'");
        assert!(Perms::parse("E").is_err());
        assert!(Perms::parse("elr ").is_err());
    }

    #[test]
    fn constant_time_compare() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret\0"));
        assert!(!constant_time_eq(b"secret\0", b"secret"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(!constant_time_eq(b"abc", b""));
        assert!(password_matches("pässwörd", "pässwörd"));
        assert!(!password_matches("pässwörd", "passwörd"));
    }

    #[test]
    fn add_user_and_queries() {
        let t = TempDir::new();
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "pw", t.0.join("."), "elrw")
            .unwrap();
        assert!(a.has_user("bob"));
        assert!(!a.has_user("Bob"));
        assert_eq!(a.get_home_dir("bob").unwrap(), t.0);
        assert_eq!(a.get_perms("bob").to_letters(), "elrw");
        assert_eq!(a.get_msg_login("bob"), "Login successful.");
        assert_eq!(a.get_msg_quit("bob"), "Goodbye.");
        assert!(a.has_perm("bob", Perm::Store, None));
        assert!(!a.has_perm("bob", Perm::Delete, None));
        let dynauth: &dyn Authorizer = &a;
        assert!(dynauth.impersonate_user("bob", "pw").is_ok());
        assert!(dynauth.terminate_impersonation("bob").is_ok());

        a.add_user_with_messages("eve", "x", &t.0, "", "hi", "bye")
            .unwrap();
        assert_eq!(a.get_msg_login("eve"), "hi");
        assert_eq!(a.get_msg_quit("eve"), "bye");
        assert!(a.get_perms("eve").is_empty());
        assert!(!a.has_perm("eve", Perm::List, Some(&t.0)));

        // home stored as realpath (symlink and ".." resolved)
        let real = t.mkdir("real");
        std::os::unix::fs::symlink(&real, t.0.join("link")).unwrap();
        a.add_user_with_perm("sym", "pw", t.0.join("real/../link"), "elr")
            .unwrap();
        assert_eq!(a.get_home_dir("sym").unwrap(), real);
    }

    #[test]
    fn add_user_errors() {
        let t = TempDir::new();
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "pw", &t.0, "elr").unwrap();
        fs::write(t.0.join("file.txt"), b"x").unwrap();
        for (user, dir, perm, msg) in [
            ("bob", "", "elr", "already exists"),
            ("x", "missing", "elr", "no such directory"),
            ("x", "file.txt", "elr", "no such directory"),
            ("x", "", "elrz", "no such permission"),
        ] {
            let e = a
                .add_user_with_perm(user, "pw2", t.0.join(dir), perm)
                .unwrap_err();
            assert!(e.0.contains(msg), "{e}");
        }
        assert!(!a.has_user("x"));
        // the failed re-add did not touch the existing user
        assert!(a.validate_authentication("bob", "pw").is_ok());
    }

    #[test]
    fn validate_authentication_cases() {
        let t = TempDir::new();
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "secret", &t.0, "elr").unwrap();
        assert_eq!(a.validate_authentication("bob", "secret"), Ok(()));
        let failed = Err(AuthenticationFailed("Authentication failed.".into()));
        assert_eq!(a.validate_authentication("bob", "wrong"), failed);
        assert_eq!(a.validate_authentication("bob", ""), failed);
        assert_eq!(a.validate_authentication("bob", "secret "), failed);
        assert_eq!(a.validate_authentication("BOB", "secret"), failed);
        assert_eq!(a.validate_authentication("alice", "secret"), failed);
        assert_eq!(
            a.validate_authentication("anonymous", "x@y"),
            Err(AuthenticationFailed("Anonymous access not allowed.".into()))
        );
        // unknown users
        assert!(!a.has_perm("nobody", Perm::List, None));
        assert!(!a.has_perm("nobody", Perm::List, Some(&t.0)));
        assert!(a.get_perms("nobody").is_empty());
        let e = a.get_home_dir("nobody").unwrap_err();
        assert!(e.0.contains("no such user"), "{e}");
        assert_eq!(a.get_msg_login("nobody"), "Login successful.");
        assert_eq!(a.get_msg_quit("nobody"), "Goodbye.");
    }

    #[test]
    fn hashed_passwords() {
        let t = TempDir::new();
        let mut a = DummyAuthorizer::new();
        let hash = hash_password("s3cret").unwrap();
        a.add_user_with_perm("bob", &hash, &t.0, "elr").unwrap();
        let sha256 = "$5$saltsalt$4HgQlEGCG4QnAFeYPNl.BdEarRevRfJzyLDAbZMoCbC";
        a.add_user_with_perm("eve", sha256, &t.0, "elr").unwrap();
        assert_eq!(a.validate_authentication("bob", "s3cret"), Ok(()));
        assert_eq!(a.validate_authentication("eve", "12345"), Ok(()));
        let failed = Err(AuthenticationFailed("Authentication failed.".into()));
        for (user, pw) in [("bob", "s3cret "), ("bob", ""), ("bob", hash.as_str())] {
            assert_eq!(a.validate_authentication(user, pw), failed, "{pw:?}");
        }
        assert_eq!(a.validate_authentication("eve", sha256), failed);
        // A `$` password that libcrypt cannot use is refused up front.
        for bad in ["$ecret", "$zz$salt$hash", "$"] {
            let e = a.add_user_with_perm("x", bad, &t.0, "elr").unwrap_err();
            assert!(e.0.contains("crypt(3)"), "{e}");
        }
        assert!(password_matches(sha256, "12345") && !password_matches(sha256, "1234"));
    }

    #[test]
    fn anonymous_any_password() {
        let t = TempDir::new();
        let mut a = DummyAuthorizer::new();
        a.add_anonymous(&t.0).unwrap();
        assert!(a.has_user("anonymous"));
        assert_eq!(a.get_perms("anonymous"), Perms::READ);
        for pw in ["", "guest@example.com", "anything at all"] {
            assert_eq!(a.validate_authentication("anonymous", pw), Ok(()));
        }
        // a second add_anonymous fails like pyftpdlib's duplicate add_user
        assert!(a.add_anonymous(&t.0).is_err());
        a.remove_user("anonymous").unwrap();
        // write letters are accepted (only a warning)
        a.add_anonymous_with(&t.0, "elrw", "welcome", "bye")
            .unwrap();
        assert!(a.has_perm("anonymous", Perm::Store, None));
        assert_eq!(a.get_msg_login("anonymous"), "welcome");
        assert_eq!(a.get_msg_quit("anonymous"), "bye");
        assert!(a.add_anonymous_with(&t.0, "q", "", "").is_err());
    }

    #[test]
    fn clones_share_the_table_and_see_edits_from_other_threads() {
        let t = TempDir::new();
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "pw", &t.0, "elr").unwrap();
        let mut b = a.clone();
        let before = a.generation();
        assert!(a.has_user("bob") && b.has_user("bob"));
        // An edit through one clone, in another thread, shows in the other.
        let home = t.0.clone();
        let mut c = b.clone();
        std::thread::spawn(move || c.add_user_with_perm("eve", "pw", &home, "elrw").unwrap())
            .join()
            .unwrap();
        assert!(a.has_user("eve") && a.has_perm("eve", Perm::Store, None));
        assert!(a.generation() > before);
        b.set_perm("eve", "elr").unwrap();
        assert!(!a.has_perm("eve", Perm::Store, None));
        // A snapshot is independent both ways.
        let mut snap = a.snapshot();
        b.remove_user("bob").unwrap();
        assert!(!a.has_user("bob") && snap.has_user("bob"));
        snap.remove_user("eve").unwrap();
        assert!(a.has_user("eve"));
        // replace_users swaps the whole table for every clone.
        b.replace_users(&snap);
        assert_eq!(a.user_names(), ["bob"]);
    }

    #[test]
    fn user_limits_live_in_the_shared_table() {
        let t = TempDir::new();
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "pw", &t.0, "elrw").unwrap();
        let b = a.clone();
        let snap = a.snapshot();
        let limits = crate::UserLimits {
            quota_files: 3,
            ..Default::default()
        };
        a.set_user_limits("bob", limits).unwrap();
        // Seen by every clone (a session's authorizer is a clone), not by
        // an earlier snapshot.
        assert_eq!(b.user_limits("bob").quota_files, 3);
        assert_eq!(snap.user_limits("bob").quota_files, 0);
        assert!(a.set_user_limits("nobody", limits).is_err());
        // A user removed and added again starts without limits.
        a.remove_user("bob").unwrap();
        a.add_user_with_perm("bob", "pw", &t.0, "elrw").unwrap();
        assert_eq!(b.user_limits("bob").quota_files, 0);
    }

    #[test]
    fn remove_user_cases() {
        let t = TempDir::new();
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "pw", &t.0, "elr").unwrap();
        a.remove_user("bob").unwrap();
        assert!(!a.has_user("bob"));
        assert!(a.validate_authentication("bob", "pw").is_err());
        assert!(a.remove_user("bob").is_err());
        // can be added again
        a.add_user_with_perm("bob", "pw2", &t.0, "elr").unwrap();
        assert!(a.validate_authentication("bob", "pw2").is_ok());
    }

    #[test]
    fn override_perm_errors() {
        let t = TempDir::new();
        let home = t.mkdir("home");
        let outside = t.mkdir("other");
        t.mkdir("home/sub");
        fs::write(home.join("f.txt"), b"x").unwrap();
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "pw", &home, "elr").unwrap();
        let cases: [(&str, PathBuf, &str, &str); 8] = [
            ("nobody", home.join("sub"), "elr", "no such user"),
            ("bob", home.join("nope"), "elr", "no such directory"),
            ("bob", home.join("f.txt"), "elr", "no such directory"),
            ("bob", home.clone(), "elrw", "home directory"),
            ("bob", home.join("sub/.."), "elrw", "home directory"),
            ("bob", outside, "elrw", "escapes"),
            ("bob", home.join("../other"), "elrw", "escapes"),
            ("bob", home.join("sub"), "elrQ", "no such permission"),
        ];
        for (user, dir, perm, msg) in cases {
            let e = a.override_perm(user, &dir, perm, true).unwrap_err();
            assert!(e.0.contains(msg), "{dir:?}: {e}");
        }
        a.override_perm("bob", home.join("sub"), "elrw", false)
            .unwrap();
    }

    #[test]
    fn override_not_recursive() {
        let t = TempDir::new();
        let home = t.mkdir("home");
        let sub = t.mkdir("home/sub");
        let subdir = t.mkdir("home/sub/dir");
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "pw", &home, "elr").unwrap();
        a.override_perm("bob", &sub, "elrw", false).unwrap();
        let has = |p, path: &Path| a.has_perm("bob", p, Some(path));
        assert!(has(Perm::Store, &sub.join("new.txt")));
        assert!(!has(Perm::Store, &home.join("new.txt")));
        assert!(!has(Perm::Delete, &sub.join("new.txt")));
        // the directory itself
        assert!(has(Perm::Store, &sub));
        // a sub-directory and anything deeper fall back to the global perms
        assert!(!has(Perm::Store, &subdir));
        assert!(!has(Perm::Store, &subdir.join("x.txt")));
        assert!(has(Perm::Retrieve, &subdir.join("x.txt")));
        // global perms unchanged
        assert!(!a.has_perm("bob", Perm::Store, None));
    }

    #[test]
    fn override_recursive() {
        let t = TempDir::new();
        let home = t.mkdir("home");
        let sub = t.mkdir("home/sub");
        let deeper = t.mkdir("home/sub/deep/deeper");
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "pw", &home, "elradfmwMT")
            .unwrap();
        a.override_perm("bob", &sub, "el", true).unwrap();
        let has = |p, path: &Path| a.has_perm("bob", p, Some(path));
        assert!(!has(Perm::Retrieve, &deeper.join("file")));
        assert!(has(Perm::List, &deeper.join("file")));
        assert!(!has(Perm::Delete, &deeper));
        assert!(!has(Perm::Store, &sub));
        assert!(has(Perm::Store, &home.join("file")));
        assert!(has(Perm::Store, &home));
    }

    #[test]
    fn override_component_prefix_not_string_prefix() {
        let t = TempDir::new();
        let home = t.mkdir("home");
        let a_dir = t.mkdir("home/a");
        let ab_dir = t.mkdir("home/ab");
        let mut auth = DummyAuthorizer::new();
        auth.add_user_with_perm("bob", "pw", &home, "elr").unwrap();
        auth.override_perm("bob", &a_dir, "elrw", true).unwrap();
        assert!(auth.has_perm("bob", Perm::Store, Some(&a_dir.join("f"))));
        assert!(!auth.has_perm("bob", Perm::Store, Some(&ab_dir)));
        assert!(!auth.has_perm("bob", Perm::Store, Some(&ab_dir.join("f"))));
        let sibling = home.join("a.txt");
        assert!(!auth.has_perm("bob", Perm::Store, Some(&sibling)));
    }

    #[test]
    fn override_order_and_replacement() {
        let t = TempDir::new();
        let home = t.mkdir("home");
        let sub = t.mkdir("home/sub");
        let inner = t.mkdir("home/sub/inner");
        let mut a = DummyAuthorizer::new();
        a.add_user_with_perm("bob", "pw", &home, "elr").unwrap();
        // first matching override wins, in insertion order
        a.override_perm("bob", &sub, "elrd", true).unwrap();
        a.override_perm("bob", &inner, "elrw", true).unwrap();
        let f = inner.join("f");
        assert!(a.has_perm("bob", Perm::Delete, Some(&f)));
        assert!(!a.has_perm("bob", Perm::Store, Some(&f)));
        // re-overriding sub as non-recursive keeps its position; inner now
        // falls through to the second override
        a.override_perm("bob", &sub, "elrd", false).unwrap();
        assert!(!a.has_perm("bob", Perm::Delete, Some(&f)));
        assert!(a.has_perm("bob", Perm::Store, Some(&f)));
        assert!(a.has_perm("bob", Perm::Delete, Some(&sub.join("g"))));
    }
}
