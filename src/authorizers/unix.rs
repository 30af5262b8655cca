//! The machine's own accounts (pyftpdlib's `UnixAuthorizer`): passwords
//! from the shadow database, homes from the passwd database, and every
//! command of a session run with the user's uid, gid and groups.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::{check_password_hash, check_permissions, hashed, password_matches};
use super::{Authorizer, Perm, Perms, Validation, ANONYMOUS, DEFAULT_MSG_LOGIN, DEFAULT_MSG_QUIT};
use crate::error::{AuthenticationFailed, AuthorizerError};
use crate::sys;

/// The list of valid login shells (`require_valid_shell`).
const SHELLS_FILE: &str = "/etc/shells";

/// The options of a [`UnixAuthorizer`], pyftpdlib's keyword arguments of
/// `UnixAuthorizer(global_perm="elradfmwMT", allowed_users=None,
/// rejected_users=None, require_valid_shell=True, anonymous_user=None,
/// msg_login="Login successful.", msg_quit="Goodbye.")`, with the same
/// defaults:
///
/// ```no_run
/// use ftpdlib::{UnixAuthorizer, UnixAuthorizerOptions};
/// let auth = UnixAuthorizer::with_options(UnixAuthorizerOptions {
///     rejected_users: vec!["root".into()],
///     ..UnixAuthorizerOptions::default()
/// })?;
/// # Ok::<(), ftpdlib::AuthorizerError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnixAuthorizerOptions {
    /// Permission letters of every user but anonymous (`"elradfmwMT"`).
    pub global_perm: String,
    /// If not empty, only these users may log in.
    pub allowed_users: Vec<String>,
    /// These users may not log in; exclusive with `allowed_users`.
    pub rejected_users: Vec<String>,
    /// Refuse users whose shell is not listed in `/etc/shells` (a missing
    /// file lets everybody in); anonymous is exempt (`true`).
    pub require_valid_shell: bool,
    /// The system account that serves "anonymous", with perms `"elr"` and
    /// that account's home; `None` = no anonymous access.
    pub anonymous_user: Option<String>,
    /// Sent with `230` after login (`"Login successful."`).
    pub msg_login: String,
    /// Sent with `221` on QUIT (`"Goodbye."`).
    pub msg_quit: String,
}

impl Default for UnixAuthorizerOptions {
    fn default() -> Self {
        UnixAuthorizerOptions {
            global_perm: Perms::ALL.to_letters(),
            allowed_users: Vec::new(),
            rejected_users: Vec::new(),
            require_valid_shell: true,
            anonymous_user: None,
            msg_login: DEFAULT_MSG_LOGIN.to_owned(),
            msg_quit: DEFAULT_MSG_QUIT.to_owned(),
        }
    }
}

/// Per-user settings of [`UnixAuthorizer::override_user`].
#[derive(Debug, Clone, Default)]
struct UserOverride {
    password: Option<String>,
    home: Option<PathBuf>,
    perms: Option<Perms>,
    msg_login: Option<String>,
    msg_quit: Option<String>,
}

/// The machine's accounts as FTP users (pyftpdlib `UnixAuthorizer`).
///
/// - Passwords are checked against the shadow database with crypt(3);
///   homes come from the passwd database. A user that does not exist gets
///   the same answer, after the same delay, as a wrong password.
/// - [`impersonate_user`](Authorizer::impersonate_user) gives the
///   server's thread the user's effective gid, supplementary groups and
///   uid before every command of the session, and
///   [`terminate_impersonation`](Authorizer::terminate_impersonation) takes
///   root back after it: files a user creates belong to the user, and the
///   kernel enforces the user's rights. The switch is per thread (only the
///   event-loop thread changes identity) and between commands the thread
///   is root again, as it must be to switch to the next user.
/// - The server must run as root (pyftpdlib: "super user privileges are
///   required"), or have dropped to another account with
///   [`Hardening::run_as`](crate::Hardening::run_as), which then keeps
///   `CAP_SETUID` and `CAP_SETGID` for the switches and returns to that
///   account after each command.
///
/// Pair it with [`UnixFilesystem`](crate::UnixFilesystem) for users who see
/// the whole machine, or keep [`AbstractedFs`](crate::AbstractedFs) to
/// confine each to their home.
#[derive(Debug, Clone)]
pub struct UnixAuthorizer {
    global_perm: Perms,
    allowed_users: Vec<String>,
    rejected_users: Vec<String>,
    require_valid_shell: bool,
    anonymous_user: Option<String>,
    msg_login: String,
    msg_quit: String,
    overrides: HashMap<String, UserOverride>,
    /// The ids the server thread runs with, restored after each command.
    server: sys::Ids,
}

impl UnixAuthorizer {
    /// The answer to an unknown user (pyftpdlib `msg_no_such_user`): the
    /// same as a wrong password, so names cannot be probed.
    pub const MSG_NO_SUCH_USER: &'static str = "Authentication failed.";
    /// The answer to a wrong password (pyftpdlib `msg_wrong_password`).
    pub const MSG_WRONG_PASSWORD: &'static str = "Authentication failed.";
    /// The answer to "anonymous" without an `anonymous_user` (pyftpdlib
    /// `msg_anon_not_allowed`).
    pub const MSG_ANON_NOT_ALLOWED: &'static str = "Anonymous access not allowed.";

    /// An authorizer with pyftpdlib's defaults: every account with a
    /// valid shell may log in with perms `elradfmwMT`, no anonymous
    /// (pyftpdlib `UnixAuthorizer()`). Fails unless the process is root.
    pub fn new() -> Result<UnixAuthorizer, AuthorizerError> {
        UnixAuthorizer::with_options(UnixAuthorizerOptions::default())
    }

    /// An authorizer with `options` (pyftpdlib `UnixAuthorizer(**kwargs)`).
    ///
    /// Errors, as pyftpdlib's: not running as root; a bad permission
    /// letter; both `allowed_users` and `rejected_users` given; "anonymous"
    /// or an unknown account in either list; an unknown `anonymous_user` or
    /// one without a home directory; with `require_valid_shell`, an allowed
    /// user without a valid shell.
    #[doc(alias = "__init__")]
    pub fn with_options(options: UnixAuthorizerOptions) -> Result<UnixAuthorizer, AuthorizerError> {
        let server = sys::effective_ids()
            .map_err(|e| AuthorizerError(format!("cannot read the process ids: {e}")))?;
        if server.uid != 0 {
            return Err(AuthorizerError("super user privileges are required".into()));
        }
        let global_perm = Perms::parse(&options.global_perm)?;
        if !options.allowed_users.is_empty() && !options.rejected_users.is_empty() {
            return Err(AuthorizerError(
                "rejected_users and allowed_users options are mutually exclusive".into(),
            ));
        }
        for user in options.allowed_users.iter().chain(&options.rejected_users) {
            if user == ANONYMOUS {
                return Err(AuthorizerError("invalid username \"anonymous\"".into()));
            }
            if lookup(user)?.is_none() {
                return Err(AuthorizerError(format!("unknown user {user}")));
            }
        }
        if let Some(anon) = &options.anonymous_user {
            let account = lookup(anon)?.ok_or_else(|| no_such_user(anon))?;
            if !account.home.is_dir() {
                return Err(AuthorizerError(format!(
                    "no valid home set for user {anon}"
                )));
            }
        }
        let auth = UnixAuthorizer {
            global_perm,
            allowed_users: options.allowed_users,
            rejected_users: options.rejected_users,
            require_valid_shell: options.require_valid_shell,
            anonymous_user: options.anonymous_user,
            msg_login: options.msg_login,
            msg_quit: options.msg_quit,
            overrides: HashMap::new(),
            server,
        };
        if auth.require_valid_shell {
            if let Some(user) = auth.allowed_users.iter().find(|u| !has_valid_shell(u)) {
                return Err(AuthorizerError(format!(
                    "user {user} has not a valid shell"
                )));
            }
        }
        Ok(auth)
    }

    /// Sets options for one user in place of the global ones (pyftpdlib
    /// `override_user(username, password=None, homedir=None, perm=None,
    /// msg_login=None, msg_quit=None)`). A `password` (clear text or a
    /// crypt(3) hash) replaces the shadow one; calling again replaces the
    /// previous override.
    ///
    /// Errors: nothing to override; with `require_valid_shell`, a user
    /// without a valid shell; a user not allowed by `allowed_users` /
    /// `rejected_users`; a password for anonymous; an unknown user (or
    /// anonymous without `anonymous_user`); a missing `homedir`; a bad
    /// permission letter or password hash.
    pub fn override_user(
        &mut self,
        username: &str,
        password: Option<&str>,
        homedir: Option<&Path>,
        perm: Option<&str>,
        msg_login: Option<&str>,
        msg_quit: Option<&str>,
    ) -> Result<(), AuthorizerError> {
        let given = [password, perm, msg_login, msg_quit];
        if homedir.is_none() && given.iter().all(|o| o.map_or(true, str::is_empty)) {
            return Err(AuthorizerError(
                "at least one keyword argument must be specified".into(),
            ));
        }
        if self.require_valid_shell && username != ANONYMOUS && !has_valid_shell(username) {
            return Err(AuthorizerError(invalid_shell(username)));
        }
        if self.is_rejected(username) {
            return Err(AuthorizerError(format!(
                "{username} is not an allowed user"
            )));
        }
        if username == ANONYMOUS && password.is_some_and(|p| !p.is_empty()) {
            return Err(AuthorizerError(
                "can't assign password to anonymous user".into(),
            ));
        }
        if !self.has_user(username) {
            return Err(no_such_user(username));
        }
        let home = match homedir {
            Some(dir) => match fs::canonicalize(dir) {
                Ok(h) if h.is_dir() => Some(h),
                _ => return Err(AuthorizerError(format!("no such directory: {dir:?}"))),
            },
            None => None,
        };
        let perms = perm.map(|p| check_permissions(username, p)).transpose()?;
        if let Some(p) = password {
            check_password_hash(p)?;
        }
        let non_empty = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_owned);
        let entry = UserOverride {
            password: non_empty(password),
            home,
            perms,
            msg_login: non_empty(msg_login),
            msg_quit: non_empty(msg_quit),
        };
        self.overrides.insert(username.to_owned(), entry);
        Ok(())
    }

    /// Lets the existing system account `username` log in, with home
    /// `homedir` (default: the account's home) and permissions `perm`
    /// (the tutorial's `UnixAuthorizer.add_user(username, homedir=None,
    /// perm=...)`). As in the tutorial, once a user is added only the added
    /// users (and anonymous) may log in: each joins `allowed_users`.
    ///
    /// Errors: no such account; "anonymous" (see
    /// [`add_anonymous`](Self::add_anonymous)); the user was added before;
    /// `rejected_users` is set; with `require_valid_shell`, an account
    /// without a valid shell; a missing home; a bad permission letter.
    pub fn add_user(
        &mut self,
        username: &str,
        homedir: Option<&Path>,
        perm: &str,
    ) -> Result<(), AuthorizerError> {
        if username == ANONYMOUS {
            return Err(AuthorizerError(
                "use add_anonymous for \"anonymous\"".into(),
            ));
        }
        if !self.rejected_users.is_empty() {
            return Err(AuthorizerError(
                "add_user makes a list of allowed users: it cannot be combined with rejected_users"
                    .into(),
            ));
        }
        if self.allowed_users.iter().any(|u| u == username) {
            return Err(AuthorizerError(format!("user {username:?} already exists")));
        }
        let account = lookup(username)?.ok_or_else(|| no_such_user(username))?;
        if self.require_valid_shell && !has_valid_shell(username) {
            return Err(AuthorizerError(invalid_shell(username)));
        }
        let home = existing_dir(homedir.unwrap_or(&account.home))?;
        let perms = check_permissions(username, perm)?;
        self.allowed_users.push(username.to_owned());
        self.overrides.insert(
            username.to_owned(),
            UserOverride {
                password: None,
                home: Some(home),
                perms: Some(perms),
                msg_login: None,
                msg_quit: None,
            },
        );
        Ok(())
    }

    /// Serves "anonymous" (any password, perms `"elr"`) as the existing
    /// system account `realuser`, with home `homedir` (default:
    /// `realuser`'s home) (the tutorial's `UnixAuthorizer.add_anonymous(
    /// homedir=None, realuser="nobody")`; the same as
    /// [`UnixAuthorizerOptions::anonymous_user`] plus a home). Commands of
    /// anonymous sessions run with `realuser`'s ids.
    pub fn add_anonymous(
        &mut self,
        homedir: Option<&Path>,
        realuser: &str,
    ) -> Result<(), AuthorizerError> {
        let account = lookup(realuser)?.ok_or_else(|| no_such_user(realuser))?;
        let home = existing_dir(homedir.unwrap_or(&account.home))?;
        self.anonymous_user = Some(realuser.to_owned());
        self.overrides.insert(
            ANONYMOUS.to_owned(),
            UserOverride {
                password: None,
                home: Some(home),
                perms: Some(Perms::READ),
                msg_login: None,
                msg_quit: None,
            },
        );
        Ok(())
    }

    /// The system account behind `username`: `anonymous_user` for
    /// "anonymous" (pyftpdlib's `replace_anonymous`), else the name itself.
    fn system_name<'a>(&'a self, username: &'a str) -> &'a str {
        match (&self.anonymous_user, username) {
            (Some(anon), ANONYMOUS) => anon,
            _ => username,
        }
    }

    /// Whether `allowed_users` / `rejected_users` keep `username` out
    /// (pyftpdlib `_is_rejected_user`).
    fn is_rejected(&self, username: &str) -> bool {
        (!self.allowed_users.is_empty() && !self.allowed_users.iter().any(|u| u == username))
            || self.rejected_users.iter().any(|u| u == username)
    }

    /// What `username`'s password is checked against: the override or the
    /// shadow database (a quick lookup; the check itself is the slow part).
    fn stored_password(&self, username: &str) -> Stored {
        if let Some(stored) = self
            .overrides
            .get(username)
            .and_then(|o| o.password.as_ref())
        {
            return Stored::Override(stored.clone());
        }
        match sys::shadow_password(username) {
            // "" (no password), "!..." (locked) and "*" (no login) never match.
            Ok(Some(hash)) if !hash.is_empty() && !hash.starts_with(['!', '*']) => {
                Stored::Shadow(hash)
            }
            Ok(_) => Stored::Nothing,
            Err(e) => {
                log::error!(target: crate::log::LOGERROR, "shadow lookup of {username:?} failed: {e}");
                Stored::Nothing
            }
        }
    }

    /// The checks after the password, in order: the user lists, then the
    /// shell (quick lookups).
    fn refusal_after_password(&self, username: &str) -> Option<AuthenticationFailed> {
        if self.is_rejected(username) {
            return Some(AuthenticationFailed(format!(
                "User {username} is not allowed to login."
            )));
        }
        if self.require_valid_shell && !has_valid_shell(username) {
            return Some(AuthenticationFailed(invalid_shell(username)));
        }
        None
    }

    fn override_of(&self, username: &str) -> Option<&UserOverride> {
        self.overrides.get(username)
    }
}

/// A stored password to check a given one against.
enum Stored {
    /// `add_user`'s password (clear text or a crypt(3) hash).
    Override(String),
    /// The shadow database's crypt(3) hash.
    Shadow(String),
    /// None that can match: the same time is spent anyway.
    Nothing,
}

impl Stored {
    /// The slow part: crypt(3), in constant time for clear text.
    fn matches(&self, password: &str) -> bool {
        match self {
            Stored::Override(stored) => password_matches(stored, password),
            Stored::Shadow(hash) => hashed::verify_hash(hash, password),
            Stored::Nothing => hashed::verify_nothing(password),
        }
    }
}

impl Authorizer for UnixAuthorizer {
    /// Anonymous is accepted with any password when `anonymous_user` is set.
    /// Others: the password first (so only someone who knows it learns
    /// more), then `allowed_users` / `rejected_users` ("User X is not
    /// allowed to login."), then the shell ("User X doesn't have a valid
    /// shell."). pyftpdlib checks the lists before the password.
    fn validate_authentication(
        &self,
        username: &str,
        password: &str,
    ) -> Result<(), AuthenticationFailed> {
        if username == ANONYMOUS {
            return match self.anonymous_user {
                Some(_) => Ok(()),
                None => Err(AuthenticationFailed(Self::MSG_ANON_NOT_ALLOWED.into())),
            };
        }
        if !self.stored_password(username).matches(password) {
            return Err(AuthenticationFailed(Self::MSG_WRONG_PASSWORD.into()));
        }
        match self.refusal_after_password(username) {
            Some(refused) => Err(refused),
            None => Ok(()),
        }
    }

    /// The password check runs off the loop; the lookups before it (the
    /// shadow entry, the user lists, the shell) on the spot.
    fn begin_validation(&self, username: &str, password: &str) -> Validation {
        if username == ANONYMOUS {
            return Validation::Done(self.validate_authentication(username, password));
        }
        let stored = self.stored_password(username);
        let then = self.refusal_after_password(username);
        let given = password.to_owned();
        Validation::Slow(Box::new(move || {
            if !stored.matches(&given) {
                return Err(AuthenticationFailed(Self::MSG_WRONG_PASSWORD.into()));
            }
            then.map_or(Ok(()), Err)
        }))
    }

    fn has_user(&self, username: &str) -> bool {
        if username == ANONYMOUS {
            return self.anonymous_user.is_some();
        }
        !self.is_rejected(username) && matches!(lookup(username), Ok(Some(_)))
    }

    /// The user's perms whatever the path (pyftpdlib: no per-directory
    /// perms for system users).
    fn has_perm(&self, username: &str, perm: Perm, _path: Option<&Path>) -> bool {
        self.get_perms(username).contains(perm)
    }

    fn perms_vary_by_path(&self, _username: &str) -> bool {
        false
    }

    /// The override, else `"elr"` for anonymous, else `global_perm`.
    fn get_perms(&self, username: &str) -> Perms {
        match self.override_of(username).and_then(|o| o.perms) {
            Some(p) => p,
            None if username == ANONYMOUS => Perms::READ,
            None => self.global_perm,
        }
    }

    /// The override, else the passwd database's home (of `anonymous_user`
    /// for anonymous).
    fn get_home_dir(&self, username: &str) -> Result<PathBuf, AuthorizerError> {
        if let Some(home) = self.override_of(username).and_then(|o| o.home.clone()) {
            return Ok(home);
        }
        match lookup(self.system_name(username))? {
            Some(account) => Ok(account.home),
            None => Err(AuthorizerError(Self::MSG_NO_SUCH_USER.into())),
        }
    }

    fn get_msg_login(&self, username: &str) -> String {
        let msg = self
            .override_of(username)
            .and_then(|o| o.msg_login.as_ref());
        msg.unwrap_or(&self.msg_login).clone()
    }

    fn get_msg_quit(&self, username: &str) -> String {
        let msg = self.override_of(username).and_then(|o| o.msg_quit.as_ref());
        msg.unwrap_or(&self.msg_quit).clone()
    }

    /// Effective gid, then supplementary groups (`initgroups`), then
    /// effective uid of the user (of `anonymous_user` for anonymous). If a
    /// step fails the thread goes back to root and the error is returned:
    /// the command does not run. Serving an account with the server's own
    /// ids needs no switch; any other account needs a root server.
    fn impersonate_user(&self, username: &str, _password: &str) -> io::Result<()> {
        let name = self.system_name(username);
        let account = sys::account(name)?.ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, format!("no such user {name:?}"))
        })?;
        let server = self.server_ids();
        if account.uid == server.uid && account.gid == server.gid {
            return Ok(());
        }
        if server.uid != 0 && sys::privilege::dropped_ids().is_none() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("the server does not run as root: cannot act as {name:?}"),
            ));
        }
        let target = sys::Ids {
            uid: account.uid,
            gid: account.gid,
            groups: sys::group_list(&account.name, account.gid)?,
        };
        if let Err(e) = sys::become_ids(&target) {
            // The uid changes last, so a failure leaves the thread root and
            // able to restore the rest.
            if let Err(e2) = sys::restore_ids(server) {
                log::error!(target: crate::log::LOGERROR, "cannot restore the server ids: {e2}");
            }
            return Err(e);
        }
        Ok(())
    }

    /// Root back first, then the server's groups and gid.
    fn terminate_impersonation(&self, _username: &str) -> io::Result<()> {
        sys::restore_ids(self.server_ids())
    }

    /// The home of every account that may log in (not rejected, in
    /// `allowed_users` if given, with a valid shell when that is required;
    /// homes that are not directories are left out), of `anonymous_user`
    /// and of the overrides; the shadow file and `/etc/shells`; ids switch.
    fn confinement(&self) -> Option<crate::hardening::Confinement> {
        let mut names = if self.allowed_users.is_empty() {
            sys::account_names()
        } else {
            self.allowed_users.clone()
        };
        names.retain(|n| !self.is_rejected(n) && (!self.require_valid_shell || has_valid_shell(n)));
        let mut roots: Vec<(PathBuf, Perms)> = Vec::new();
        let mut add = |name: &str| {
            if let Ok(home) = self.get_home_dir(name) {
                if home.is_dir() {
                    roots.push((home, self.get_perms(name)));
                }
            }
        };
        for name in &names {
            add(name);
        }
        if self.anonymous_user.is_some() {
            add(ANONYMOUS);
        }
        for name in self.overrides.keys() {
            add(name);
        }
        Some(crate::hardening::Confinement {
            roots,
            reads: vec![PathBuf::from("/etc/shadow"), PathBuf::from(SHELLS_FILE)],
            switches_ids: true,
        })
    }
}

impl UnixAuthorizer {
    /// The ids the server thread returns to after a command: those the
    /// process dropped to (`FtpServer::hardening.run_as`), else those it
    /// had when the authorizer was made.
    fn server_ids(&self) -> &sys::Ids {
        sys::privilege::dropped_ids().unwrap_or(&self.server)
    }
}

/// The passwd entry of `name`, as an [`AuthorizerError`] on lookup failure.
fn lookup(name: &str) -> Result<Option<sys::Account>, AuthorizerError> {
    sys::account(name).map_err(|e| AuthorizerError(format!("passwd lookup of {name:?}: {e}")))
}

/// `dir` as a real path, if it is an existing directory.
fn existing_dir(dir: &Path) -> Result<PathBuf, AuthorizerError> {
    match fs::canonicalize(dir) {
        Ok(h) if h.is_dir() => Ok(h),
        _ => Err(AuthorizerError(format!("no such directory: {dir:?}"))),
    }
}

fn no_such_user(username: &str) -> AuthorizerError {
    AuthorizerError(format!("no such user {username}"))
}

/// pyftpdlib `msg_invalid_shell`.
fn invalid_shell(username: &str) -> String {
    format!("User {username} doesn't have a valid shell.")
}

/// Whether the user's login shell is listed in `/etc/shells` (pyftpdlib
/// `_has_valid_shell`): lines starting with `#` are comments; a missing file
/// lets everybody in; an unreadable one, or an unknown user, nobody.
fn has_valid_shell(username: &str) -> bool {
    let text = match fs::read_to_string(SHELLS_FILE) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return true,
        Err(_) => return false,
    };
    let Ok(Some(account)) = sys::account(username) else {
        return false;
    };
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .map(str::trim)
        .any(|l| !l.is_empty() && Path::new(l) == account.shell)
}
