//! The `ftpdlib` command's options for secrets and bans: `--users-file`
//! (re-read on SIGHUP), `--password-file`, the warning about clear-text
//! passwords in argv, and `--ban-*`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};

use crate::{Arg, Options};

/// Defaults of the command's bans (the library's are off).
pub const BAN_ATTEMPTS: u32 = 10;
/// Window failed logins are counted in, seconds.
pub const BAN_WINDOW: u64 = 300;
/// Length of a ban, seconds.
pub const BAN_TIME: u64 = 900;

/// The options of this module, as Options fields.
#[derive(Debug, PartialEq)]
pub struct SecretOptions {
    pub users_file: Option<PathBuf>,
    pub password_file: Option<PathBuf>,
    pub ban_attempts: u32,
    pub ban_user_attempts: u32,
    pub ban_window: u64,
    pub ban_time: u64,
}

impl Default for SecretOptions {
    fn default() -> Self {
        SecretOptions {
            users_file: None,
            password_file: None,
            ban_attempts: BAN_ATTEMPTS,
            ban_user_attempts: 0,
            ban_window: BAN_WINDOW,
            ban_time: BAN_TIME,
        }
    }
}

/// `--users-file`, `--password-file`, `--ban-*`.
pub fn secret_option(o: &mut Options, a: &mut Arg) -> Result<bool, String> {
    let s = &mut o.secrets;
    match a.name {
        "--users-file" => s.users_file = a.path()?,
        "--password-file" => s.password_file = a.path()?,
        "--ban-attempts" => s.ban_attempts = a.number()?,
        "--ban-user-attempts" => s.ban_user_attempts = a.number()?,
        "--ban-window" => s.ban_window = a.number()?,
        "--ban-time" => s.ban_time = a.number()?,
        _ => return Ok(false),
    }
    Ok(true)
}

/// After parsing: `--password-file` becomes the password of `-u`.
pub fn finish(o: &mut Options) -> Result<(), String> {
    if let Some(path) = o.secrets.password_file.clone() {
        if o.password.is_some() {
            return Err("-P/--password and --password-file exclude each other".into());
        }
        o.password = Some(first_line(&path)?);
    }
    if o.unix_users && o.secrets.users_file.is_some() {
        return Err("--users-file does not apply to --unix-users".into());
    }
    Ok(())
}

/// The first line of `path`, without its line end; not empty.
fn first_line(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--password-file {}: {e}", path.display()))?;
    let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
    if line.is_empty() {
        return Err(format!(
            "--password-file {}: the first line is empty",
            path.display()
        ));
    }
    Ok(line.to_string())
}

/// The options of `args` (the real argv) that hold a clear-text password.
pub fn clear_text_in_argv(args: &[String]) -> Vec<&'static str> {
    let mut found = Vec::new();
    for (i, arg) in args.iter().enumerate() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg.as_str(), None),
        };
        let value = inline.or_else(|| args.get(i + 1).map(String::as_str));
        let what = match name {
            "-P" | "--password" => "-P/--password",
            "--user" => match value.and_then(|v| v.split(':').nth(1)) {
                Some(p) if !ftpdlib::authorizers::is_password_hash(p) => "--user",
                _ => continue,
            },
            _ => continue,
        };
        if !found.contains(&what) {
            found.push(what);
        }
    }
    found
}

/// Say so at start-up when argv holds a clear-text password.
pub fn warn_clear_text(found: &[&str]) {
    if found.is_empty() {
        return;
    }
    log::warn!(
        target: ftpdlib::log::LOG,
        "a clear-text password is on the command line ({}), where every local user reads it \
         (ps, /proc/PID/cmdline): use --users-file, --password-file or a hash from --hash-password",
        found.join(", ")
    );
}

/// The ban settings onto the handler.
pub fn configure_bans(handler: &mut FtpHandler, o: &Options) {
    handler.ban_attempts = o.secrets.ban_attempts;
    handler.ban_user_attempts = o.secrets.ban_user_attempts;
    handler.ban_window = Duration::from_secs(o.secrets.ban_window);
    handler.ban_time = Duration::from_secs(o.secrets.ban_time);
}

/// The users of `--users-file` added to `auth`.
pub fn add_users_file(auth: &mut DummyAuthorizer, o: &Options) -> Result<(), ftpdlib::Error> {
    if let Some(path) = &o.secrets.users_file {
        auth.add_users_file(path)?;
    }
    Ok(())
}

/// With `--users-file`: re-read it on SIGHUP into `live` (a clone of the
/// server's authorizer): the users of the other options (`base`) plus the
/// file's, all at once; a bad file keeps the users as they were.
pub fn reload_on_hangup(
    server: &mut FtpServer,
    o: &Options,
    live: DummyAuthorizer,
    base: DummyAuthorizer,
) {
    let Some(path) = o.secrets.users_file.clone() else {
        return;
    };
    let mut live = live;
    let limits = o.user_limits;
    server.on_hangup(move |_| {
        let mut fresh = base.snapshot();
        let added = fresh
            .add_users_file(&path)
            .and_then(|()| crate::apply_user_limits(&mut fresh, limits));
        match added {
            Ok(()) => {
                live.replace_users(&fresh);
                log::info!(target: ftpdlib::log::LOG, "reloaded {}: {} user(s)",
                    path.display(), live.user_names().len());
            }
            Err(e) => log::error!(target: ftpdlib::log::LOGERROR,
                "reload of {} failed, the users stay as they were: {e}", path.display()),
        }
    });
}
