//! Login and session commands: USER, PASS, QUIT, REIN.

use std::path::PathBuf;

use super::{DelayedReply, Effect, Session};
use crate::authorizers::Validation;
use crate::error::AuthenticationFailed;
use crate::filesystems::Facts;
use crate::reply;

/// USER: remember the name; a logged-in session is flushed first
/// (RFC 959 allows changing user). Always 331, known user or not (RFC 2577).
pub(super) fn user(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if s.refuse_without_tls_control() {
        return;
    }
    let flushed = s.authenticated;
    if flushed {
        logout(s);
        flush_account(s);
    }
    s.username = arg.to_string();
    s.update_prefix();
    if certificate_login(s, arg) {
        return;
    }
    if flushed {
        s.reply(
            reply::NEED_PASSWORD,
            "Previous account information was flushed, send password.",
        );
    } else {
        s.reply(reply::NEED_PASSWORD, "Username ok, send password.");
    }
}

/// With client certificates on: a certificate of the TLS control
/// connection that the authorizer maps to `user` logs it in at once (232,
/// RFC 2228's "authorized by security data exchange"). Without
/// one: a password login follows in optional mode, the login is refused
/// in required mode. True when USER was answered here.
fn certificate_login(s: &mut Session, user: &str) -> bool {
    #[cfg(feature = "tls")]
    {
        use crate::handlers::ftps::ClientAuth;
        let mode = s
            .cfg
            .tls
            .as_ref()
            .map_or(ClientAuth::Off, |t| t.client_auth());
        if mode == ClientAuth::Off {
            return false;
        }
        let cert = s
            .tls_peer
            .as_ref()
            .and_then(|p| p.certificate.as_ref())
            .filter(|_| s.tls_control);
        let mapped = cert.is_some_and(|c| s.authorizer().authenticate_certificate(user, c));
        if mapped {
            logged_in(s, user, "", Ok(()), reply::LOGGED_IN_BY_SECURITY);
            return true;
        }
        if mode == ClientAuth::Required {
            let why = match cert {
                Some(_) => "certificate does not authenticate this user.",
                None => "a TLS client certificate is required.",
            };
            auth_failed(s, user, "", why);
            return true;
        }
    }
    let _ = (s, user);
    false
}

/// PASS: check the credentials with the authorizer; a failure is answered
/// after `auth_failed_timeout`, and after `max_login_attempts` failures the
/// client is disconnected.
pub(super) fn pass(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if s.refuse_without_tls_control() {
        return;
    }
    if s.authenticated {
        return s.reply(reply::BAD_SEQUENCE, "User already authenticated.");
    }
    if s.username.is_empty() {
        return s.reply(reply::BAD_SEQUENCE, "Login with USER first.");
    }
    let user = s.username.clone();
    match s.login_ban(&user) {
        Err(text) => {
            s.reply(reply::NOT_AVAILABLE, text);
            s.effects.push(Effect::Close);
            return;
        }
        Ok(Some(text)) => return refuse_login(s, &user, arg, text),
        Ok(None) => {}
    }
    match s.authorizer().begin_validation(&user, arg) {
        Validation::Done(result) => checked(s, &user, arg, result),
        Validation::Slow(check) => {
            s.verifying = Some(arg.to_string());
            s.effects.push(Effect::Verify(check));
        }
    }
}

/// The rest of PASS once the authorizer decided: log in (the home
/// directory, 230, `on_login`) or refuse.
pub(super) fn checked(
    s: &mut Session,
    user: &str,
    password: &str,
    result: Result<(), AuthenticationFailed>,
) {
    logged_in(s, user, password, result, reply::LOGGED_IN);
}

/// Log `user` in (the home directory, `code` with the login message,
/// `on_login`) once its credentials passed, or refuse.
fn logged_in(
    s: &mut Session,
    user: &str,
    password: &str,
    result: Result<(), AuthenticationFailed>,
    code: reply::Code,
) {
    let cfg = std::rc::Rc::clone(&s.cfg);
    let auth = cfg.authorizer_of(s.site);
    let home = result
        .map_err(|e| e.0)
        .and_then(|()| auth.get_home_dir(user).map_err(|e| e.0));
    match home {
        Ok(home) => {
            let fs = (cfg.abstracted_fs)(home, &s.info());
            s.fs = Some(fs);
            s.authenticated = true;
            s.own_identity = None;
            s.password = password.to_string();
            s.attempted_logins = 0;
            s.tally.login(true);
            let msg = auth.get_msg_login(user);
            s.reply_long(code, &msg);
            let how = if code == reply::LOGGED_IN {
                ""
            } else {
                " by certificate"
            };
            s.log(&format!(
                "USER '{}' logged in{how}.",
                super::printable(user)
            ));
            s.hook("on_login", |h, info| h.on_login(info, user));
        }
        Err(why) => auth_failed(s, user, password, &why),
    }
}

fn auth_failed(s: &mut Session, user: &str, password: &str, why: &str) {
    s.count_failed_login(user);
    refuse_login(s, user, password, why);
}

/// 530 after `auth_failed_timeout`; disconnect after `max_login_attempts`.
fn refuse_login(s: &mut Session, user: &str, password: &str, why: &str) {
    s.attempted_logins += 1;
    s.tally.login(false);
    let mut text = capitalized(why);
    let disconnect =
        s.cfg.max_login_attempts != 0 && s.attempted_logins >= s.cfg.max_login_attempts;
    if disconnect {
        text.push_str(" Disconnecting.");
    }
    s.username.clear();
    s.update_prefix();
    s.log(&format!("USER '{}' failed login.", super::printable(user)));
    s.delayed = Some(Box::new(DelayedReply {
        text,
        disconnect,
        username: user.to_string(),
        password: password.to_string(),
    }));
    if s.cfg.auth_failed_timeout.is_zero() {
        s.on_auth_delay_over();
    } else {
        s.effects.push(Effect::AuthDelay);
    }
}

/// QUIT: 221 with the user's quit message; a running transfer is allowed to
/// finish before the connection closes.
pub(super) fn quit(s: &mut Session, _: &str, _: Option<PathBuf>) {
    let msg = if s.authenticated {
        s.authorizer().get_msg_quit(&s.username)
    } else {
        "Goodbye.".to_string()
    };
    s.reply_long(reply::CLOSING, &msg);
    if s.authenticated {
        logout(s);
    }
    if s.data.is_transferring() {
        s.quitting = true;
    } else {
        s.effects.push(Effect::Close);
    }
}

/// REIN: forget the user, keep the connection (RFC 959 §4.1.1).
pub(super) fn rein(s: &mut Session, _: &str, _: Option<PathBuf>) {
    if s.authenticated {
        logout(s);
    }
    flush_account(s);
    s.username.clear();
    s.update_prefix();
    // Back to the site of a fresh connection (the one SNI named, if any).
    s.site = super::cmd_host::site_of_sni(s);
    // RFC 959 §4.2 lists 120/220 for REIN (pyftpdlib answers 230).
    s.reply(reply::READY, "Ready for new user.");
    s.log_cmd("REIN", "", reply::READY, "Ready for new user.");
}

pub(super) fn logout(s: &mut Session) {
    let user = s.username.clone();
    s.hook("on_logout", |h, info| h.on_logout(info, &user));
}

/// Log the user out and reset the session's state (pyftpdlib
/// `flush_account`); a transfer in progress is allowed to finish.
pub(super) fn flush_account(s: &mut Session) {
    let forgotten = s.data.forget_setup();
    if forgotten.connection {
        s.effects.push(Effect::CloseData);
    }
    if forgotten.queued {
        // The queued transfer command's 150 still owes a final reply.
        s.reply(
            reply::TRANSFER_ABORTED,
            "Transfer aborted; 0 bytes transmitted.",
        );
    }
    s.authenticated = false;
    s.own_identity = None;
    s.password.clear();
    s.fs = None;
    s.attempted_logins = 0;
    s.binary = false;
    s.restart_position = 0;
    s.rnfr = None;
    s.pbsz = false;
    s.prot_private = false;
    s.epsv_all = false;
    s.facts = Facts::DEFAULT;
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => "Authentication failed.".to_string(),
    }
}
