//! Transcripts of login, REIN/QUIT, the dispatcher's check order and the
//! control connection's own events.

use super::*;

// ---- Login (RFC 959 §4.1.1, RFC 2577 §5) ----

#[test]
fn greeting_is_220_with_the_banner_per_rfc959() {
    let mut t = T::unopened(CLIENT, SERVER, |cfg| cfg.banner = "Hello there.".into());
    t.s.open();
    t.replied("220 Hello there.");
}

#[test]
fn a_refused_connection_gets_one_421_per_rfc959() {
    let mut t = T::unopened(CLIENT, SERVER, |_| {});
    t.s.refuse("Too many connections.");
    t.replied("421 Too many connections.");
}

#[test]
fn user_then_pass_logs_in_with_331_then_230_per_rfc959() {
    let mut t = T::new();
    t.says("USER user", "331 Username ok, send password.");
    t.says("PASS 12345", "230 Login successful.");
    t.says("PWD", "257 \"/\" is the current directory.");
}

#[test]
fn pass_before_user_is_503_bad_sequence_per_rfc959() {
    let mut t = T::new();
    t.says("PASS 12345", "503 Login with USER first.");
    t.login();
    t.says("PASS 12345", "503 User already authenticated.");
}

#[test]
fn a_wrong_password_is_answered_530_only_after_the_delay_per_rfc2577() {
    let mut t = T::new();
    t.expect("USER user", 331);
    assert_eq!(t.send("PASS wrong"), "", "no reply during the delay");
    assert_eq!(t.effects(), ["AuthDelay"]);
    t.s.on_auth_delay_over();
    t.replied("530 Authentication failed.");
    assert!(t.effects().is_empty(), "one failure does not disconnect");
    // The name was forgotten: the next PASS needs a USER again.
    t.says("PASS 12345", "503 Login with USER first.");
    t.login();
}

#[test]
fn without_a_delay_a_wrong_password_is_answered_530_at_once_as_pyftpdlib() {
    let mut t = T::with(|cfg| cfg.auth_failed_timeout = std::time::Duration::ZERO);
    t.expect("USER user", 331);
    t.says("PASS wrong", "530 Authentication failed.");
    assert!(t.effects().is_empty());
}

#[test]
fn the_third_failed_login_is_530_and_closes_the_connection_per_rfc2577() {
    let mut t = T::new();
    for attempt in 1..=3 {
        t.expect("USER user", 331);
        t.send("PASS wrong");
        assert_eq!(t.effects(), ["AuthDelay"]);
        t.s.on_auth_delay_over();
        let (reply, effects) = (t.output(), t.effects());
        if attempt < 3 {
            assert_eq!(reply, "530 Authentication failed.\r\n");
            assert!(effects.is_empty(), "attempt {attempt} keeps the connection");
        } else {
            assert_eq!(reply, "530 Authentication failed. Disconnecting.\r\n");
            assert_eq!(effects, ["Close"]);
        }
    }
}

#[test]
fn an_unknown_user_gets_331_like_a_known_one_per_rfc2577() {
    let mut t = T::new();
    t.says("USER nobody", "331 Username ok, send password.");
    t.send("PASS 12345");
    assert_eq!(t.effects(), ["AuthDelay"]);
    t.s.on_auth_delay_over();
    t.replied("530 Authentication failed.");
}

#[test]
fn anonymous_logs_in_with_any_password_and_may_not_write_per_rfc1635() {
    let mut t = T::new();
    t.login_as("anonymous", "guest@example.com");
    t.connected();
    t.says("STOR up", "550 Not enough privileges.");
    t.says("MKD d", "550 Not enough privileges.");
}

#[test]
fn user_while_logged_in_flushes_the_account_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.pasv();
    t.says(
        "USER viewer",
        "331 Previous account information was flushed, send password.",
    );
    assert_eq!(t.effects(), ["CloseData"], "the data set-up goes too");
    t.says("PWD", NOT_LOGGED_IN);
    t.expect("PASS pw", 230);
    t.says("DELE x", "550 Not enough privileges.");
}

#[test]
fn file_and_data_commands_before_login_are_530_per_rfc959() {
    let mut t = T::new();
    for line in [
        "RETR f",
        "LIST",
        "CWD /",
        "CWD",
        "PWD",
        "PASV",
        "STAT /",
        "SITE CHMOD 755 f",
    ] {
        t.says(line, NOT_LOGGED_IN);
    }
}

#[test]
fn feat_help_syst_noop_and_bare_stat_work_before_login_per_rfc959() {
    let mut t = T::new();
    t.expect("FEAT", 211);
    t.expect("HELP", 214);
    t.expect("SITE HELP", 214);
    t.says("SYST", "215 UNIX Type: L8");
    t.says("NOOP", "200 I successfully did nothing.");
    assert_eq!(
        t.send("STAT"),
        "211-FTP server status:\r\n Connected to: 127.0.0.1:2121\r\n Waiting for username.\r\n \
         TYPE: ASCII; STRUcture: File; MODE: Stream\r\n Data connection closed.\r\n\
         211 End of status.\r\n"
    );
}

#[test]
fn quit_before_login_says_goodbye_and_closes_per_rfc959() {
    let mut t = T::new();
    t.says("QUIT", "221 Goodbye.");
    assert_eq!(t.effects(), ["Close"]);
}

// ---- REIN and QUIT (RFC 959 §4.1.1) ----

#[test]
fn rein_logs_out_and_closes_the_data_set_up_but_keeps_the_connection_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.expect("TYPE I", 200);
    t.pasv();
    t.says("REIN", "220 Ready for new user.");
    assert_eq!(t.effects(), ["CloseData"], "the connection itself stays");
    t.says("PWD", NOT_LOGGED_IN);
    t.says("REIN", NOT_LOGGED_IN);
    t.login();
    let status = t.expect("STAT", 211);
    assert!(status.contains(" TYPE: ASCII;"), "TYPE was reset: {status}");
    assert!(status.contains(" Data connection closed.\r\n"), "{status}");
}

#[test]
fn rein_lets_a_running_transfer_finish_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    t.expect("REIN", 220);
    assert!(t.effects().is_empty(), "the transfer is not aborted");
    t.complete(job);
}

#[test]
fn quit_when_logged_in_is_221_then_close_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("QUIT", "221 Goodbye.");
    assert_eq!(t.effects(), ["Close"]);
}

#[test]
fn quit_during_a_transfer_closes_once_the_transfer_ends_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    t.says("QUIT", "221 Goodbye.");
    assert!(t.effects().is_empty(), "no Close while the transfer runs");
    assert!(t.s.is_quitting(), "no further line is read");
    t.complete(job);
    assert_eq!(t.effects(), ["Close"]);
}

// ---- The dispatch order: 501, 530, 550 outside home, 550 permission ----

/// A session whose home holds `f` and `escape`, a symlink to a directory
/// outside the home holding `secret`; the second directory is returned to
/// keep it alive.
fn with_escape() -> (T, TempDir) {
    let t = T::new();
    let outside = tempfile::tempdir().expect("a directory outside the home");
    std::fs::write(outside.path().join("secret"), "x").expect("a file outside");
    std::os::unix::fs::symlink(outside.path(), t.path("escape")).expect("a symlink");
    t.put("f", "hello");
    (t, outside)
}

#[test]
fn a_missing_argument_is_501_before_the_login_check_as_pyftpdlib() {
    let mut t = T::new();
    t.says("RETR", "501 Syntax error: command needs an argument.");
    t.says(
        "PWD now",
        "501 Syntax error: command does not accept arguments.",
    );
}

#[test]
fn the_login_is_checked_before_the_path_as_pyftpdlib() {
    let (mut t, _outside) = with_escape();
    t.says("RETR f", NOT_LOGGED_IN);
    t.says("RETR escape/secret", NOT_LOGGED_IN);
}

#[test]
fn a_path_leaving_the_home_is_550_before_the_permission_check_as_pyftpdlib() {
    let (mut t, _outside) = with_escape();
    t.login_as(VIEWER, "pw");
    t.says(
        "RETR escape/secret",
        "550 '/escape/secret' points to a path which is outside the user's root directory.",
    );
}

#[test]
fn a_user_without_the_r_permission_gets_550_not_enough_privileges_per_rfc959() {
    let (mut t, _outside) = with_escape();
    t.login_as(VIEWER, "pw");
    // Checked before the data connection: no PASV was needed to learn it.
    t.says("RETR f", "550 Not enough privileges.");
    t.says("DELE f", "550 Not enough privileges.");
    t.says("SITE CHMOD 600 f", "550 Not enough privileges.");
}

#[test]
fn a_path_with_a_nul_or_a_line_break_is_501_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("MKD a\0b", "501 Path contains a NUL byte.");
    t.says("MKD a\rb", "501 Path contains a line break.");
    assert!(!t.path("a").exists());
}

#[test]
fn an_undecodable_line_is_501_per_rfc2640() {
    let mut t = T::new();
    t.login();
    t.s.handle_line(b"MKD \xc3\x28");
    t.replied("501 Can't decode command.");
}

#[test]
fn an_unknown_command_is_500_even_before_login_per_rfc959() {
    let mut t = T::new();
    t.says("XYZZY", "500 Command \"XYZZY\" not understood.");
    t.says("SITE FOO bar", "500 Command \"SITE FOO\" not understood.");
}

// ---- Events of the control connection ----

#[test]
fn an_idle_timeout_is_421_per_rfc959() {
    let mut t = T::new();
    t.s.idle_timeout();
    t.replied("421 Control connection timed out.");
}

#[test]
fn a_line_too_long_is_500_and_the_session_goes_on_per_rfc959() {
    let mut t = T::new();
    t.s.line_too_long();
    t.replied("500 Command too long.");
    t.login();
}

#[test]
fn a_panicking_command_loses_its_effects_and_answers_421_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.send("PASV");
    t.s.command_panicked(b"PASV");
    t.replied("421 Internal error; closing control connection.");
    assert!(
        t.effects().is_empty(),
        "no half-done command is carried out"
    );
}

#[test]
fn a_data_connection_failing_before_any_transfer_is_not_answered_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    // A protected data connection dropped before its TLS handshake: no
    // command awaits a reply, so none is sent (it would put every later
    // reply one behind its command).
    t.s.on_data_gone("SSL handshake failed on the data channel: EOF.");
    assert_eq!(t.output(), "");
    t.says("NOOP", "200 I successfully did nothing.");
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn a_transfer_whose_data_connection_fails_its_handshake_gets_522_per_rfc4217() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let _job_on_its_way = t.job();
    t.s.on_data_gone(
        "Data connection refused: it must resume the control connection's TLS session.",
    );
    t.replied("522 Data connection refused: it must resume the control connection's TLS session.");
    t.says("RETR f", NO_CONNECTION);
}
