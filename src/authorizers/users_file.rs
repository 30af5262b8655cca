//! Users files: virtual users kept in a file instead of on the command
//! line (ftpdlib extension; pyftpdlib's users are added in code).
//!
//! One user a line, fields separated by `:` as in `/etc/passwd`:
//!
//! ```text
//! # name:crypt(3) hash:home:perms[:login message[:quit message]] (passwords: 12345)
//! alice:$y$j9T$NJR9KqnY/WUs6TpSVDitv/$IzYX9M89IapOrvH6orH9ea9OZrAM884RjWkrSmREyVC:/srv/ftp/alice:elradfmwMT
//! bob:$6$saltsalt$bS8uFVRzMrb1ylbOyDWAlPhX./AH4Wgwbcp6PSOQdctbNq4.17j.43u4YKqn/mHb3zik88vMAwyrY4nYHaOFC/:/srv/ftp/pub:elr:Welcome, Bob.:See you.
//! anonymous::/srv/ftp/pub:elr
//! ```
//!
//! The password field must be a crypt(3) hash (`ftpdlib --hash-password`,
//! `mkpasswd`, `openssl passwd -6`): a clear-text password is refused, the
//! file being there to keep secrets out of sight. `anonymous` has an empty
//! one. A home may not contain `:`; the quit message, last, may. Blank
//! lines and lines starting with `#` are skipped. Every error names the
//! file and the line.

use std::path::Path;

use super::{hashed, DummyAuthorizer, ANONYMOUS};
use crate::error::AuthorizerError;

impl DummyAuthorizer {
    /// The users of a users file (format in `docs/live-configuration.md`
    /// and the `users_file` module docs): an error naming `path` and the
    /// line for the first bad line, and nothing loaded then. ftpdlib
    /// extension.
    pub fn from_users_file(path: impl AsRef<Path>) -> Result<DummyAuthorizer, AuthorizerError> {
        let mut auth = DummyAuthorizer::new();
        auth.add_users_file(path)?;
        Ok(auth)
    }

    /// Add the users of a users file to this table, all or none.
    pub fn add_users_file(&mut self, path: impl AsRef<Path>) -> Result<(), AuthorizerError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|e| AuthorizerError(format!("{}: {e}", path.display())))?;
        // Checked into a scratch table first: a bad line changes nothing.
        let mut scratch = self.snapshot();
        for (i, raw) in text.lines().enumerate() {
            users_file_line(&mut scratch, raw)
                .map_err(|e| AuthorizerError(format!("{}:{}: {}", path.display(), i + 1, e.0)))?;
        }
        self.replace_users(&scratch);
        Ok(())
    }
}

/// One line of a users file.
fn users_file_line(auth: &mut DummyAuthorizer, raw: &str) -> Result<(), AuthorizerError> {
    let line = raw.trim_end_matches('\r');
    if line.trim().is_empty() || line.trim_start().starts_with('#') {
        return Ok(());
    }
    let fields: Vec<&str> = line.splitn(6, ':').collect();
    let [name, hash, home, perms, rest @ ..] = fields.as_slice() else {
        return Err(AuthorizerError(
            "expected name:hash:home:perms[:login message[:quit message]]".into(),
        ));
    };
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(AuthorizerError(format!("bad user name {name:?}")));
    }
    if *name == ANONYMOUS {
        if !hash.is_empty() {
            return Err(AuthorizerError(
                "anonymous takes an empty password field".into(),
            ));
        }
    } else if !hashed::is_password_hash(hash) {
        return Err(AuthorizerError(format!(
            "the password of {name:?} must be a crypt(3) hash (make one with `ftpdlib --hash-password`)"
        )));
    }
    let msg_login = rest.first().copied().unwrap_or(super::DEFAULT_MSG_LOGIN);
    let msg_quit = rest.get(1).copied().unwrap_or(super::DEFAULT_MSG_QUIT);
    auth.add_user_with_messages(name, hash, home, perms, msg_login, msg_quit)
}

#[cfg(test)]
mod tests {
    use crate::authorizers::{hash_password, Authorizer, DummyAuthorizer};

    #[test]
    fn a_users_file_loads_hashes_messages_and_anonymous() {
        let dir = tempfile_dir();
        let hash = hash_password("s3cret").unwrap();
        let home = dir.display();
        let text = format!(
            "# comment\n\n  \nalice:{hash}:{home}:elrw\nbob:{hash}:{home}:elr:Hi Bob.:Bye: Bob.\r\nanonymous::{home}:elr\n"
        );
        let file = dir.join("users");
        std::fs::write(&file, text).unwrap();
        let a = DummyAuthorizer::from_users_file(&file).unwrap();
        assert_eq!(a.user_names(), ["alice", "anonymous", "bob"]);
        assert!(a.validate_authentication("alice", "s3cret").is_ok());
        assert!(a.validate_authentication("alice", "nope").is_err());
        assert_eq!(a.get_perms("alice").to_letters(), "elrw");
        assert_eq!(a.get_msg_login("bob"), "Hi Bob.");
        assert_eq!(a.get_msg_quit("bob"), "Bye: Bob.");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn errors_name_the_file_and_line_and_load_nothing() {
        let dir = tempfile_dir();
        let hash = hash_password("x").unwrap();
        let home = dir.display();
        let file = dir.join("users");
        for (bad, what) in [
            ("carol:clear:/:elr".to_string(), "crypt(3) hash"),
            (format!("carol:{hash}:{home}"), "expected name:hash"),
            (format!("carol:{hash}:{home}:elrz"), "no such permission"),
            (
                format!("carol:{hash}:{home}/missing:elr"),
                "no such directory",
            ),
            (format!("alice:{hash}:{home}:elr"), "already exists"),
            (format!("anonymous:{hash}:{home}:elr"), "empty password"),
        ] {
            std::fs::write(&file, format!("alice:{hash}:{home}:elr\n#\n{bad}\n")).unwrap();
            let e = DummyAuthorizer::from_users_file(&file).unwrap_err();
            let at = format!("{}:3: ", file.display());
            assert!(e.0.starts_with(&at) && e.0.contains(what), "{bad}: {e}");
            // all or none
            let mut kept = DummyAuthorizer::new();
            kept.add_user_with_perm("zed", "pw", &dir, "elr").unwrap();
            assert!(kept.add_users_file(&file).is_err());
            assert_eq!(kept.user_names(), ["zed"]);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::SeqCst);
        let p = std::env::temp_dir().join(format!("ftpdlib-usersfile-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::canonicalize(&p).unwrap()
    }
}
