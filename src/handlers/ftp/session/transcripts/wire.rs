//! Transcripts of the wire behaviours brought in line with pyftpdlib
//! (issue 11): urgent ABOR/STAT after the Telnet IP/Synch sequence, file
//! errors before 425, STOU before PASV/PORT, OPTS after login, EPRT's
//! checks in pyftpdlib's order, REIN 220; and data-side replies sent only
//! to a command that awaits one.

use super::*;

/// Telnet IAC IP (Interrupt Process) and IAC DM (Data Mark, the Synch).
const IP: &[u8] = b"\xff\xf4";
const SYNCH: &[u8] = b"\xff\xf2";

/// `prefix` then `cmd`: a line as an ftp(1)-style client sends it.
fn urgent(prefix: &[&[u8]], cmd: &str) -> Vec<u8> {
    let mut line: Vec<u8> = prefix.concat();
    line.extend_from_slice(cmd.as_bytes());
    line
}

/// A RETR running on a connected data channel: its job.
fn running_retr(t: &mut T) -> Job {
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    t.job()
}

// ---- ABOR and STAT after Telnet IP and Synch (RFC 959 §4.1.3, RFC 854) ----

#[test]
fn abor_after_telnet_ip_and_synch_aborts_the_transfer_per_rfc959() {
    // Every way the sequence can arrive: whole (SO_OOBINLINE), the urgent
    // DM taken out of band (IAC IP IAC), only IP, a DM whose IAC was
    // lost, and a lone DM.
    let prefixes: [&[&[u8]]; 5] = [
        &[IP, SYNCH],
        &[IP, b"\xff"],
        &[IP],
        &[IP, b"\xf2"],
        &[b"\xf2"],
    ];
    for prefix in prefixes {
        let mut t = T::new();
        let job = running_retr(&mut t);
        t.s.handle_line(&urgent(prefix, "ABOR"));
        assert_eq!(t.output(), "", "{prefix:?}: ABOR answers with the outcome");
        assert_eq!(t.effects(), ["AbortTransfer"], "{prefix:?}");
        let replies = t.finish(job, OutcomeKind::Aborted, Ended::ByAbor);
        assert_eq!(
            replies, "426 Transfer aborted via ABOR.\r\n226 ABOR command successful.\r\n",
            "{prefix:?}"
        );
    }
}

#[test]
fn abor_after_the_sequence_with_nothing_running_is_225_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.s.handle_line(&urgent(&[IP, SYNCH], "abor"));
    t.replied("225 No transfer to abort.");
}

#[test]
fn stat_after_telnet_ip_and_synch_reports_the_running_transfer_per_rfc959() {
    let mut t = T::new();
    let _job = running_retr(&mut t);
    for prefix in [&[IP, SYNCH][..], &[IP, b"\xff"], &[b"\xf2"]] {
        t.s.handle_line(&urgent(prefix, "STAT"));
        let out = t.expect_output(211);
        assert!(out.contains("Logged in as: user"), "{out:?}");
        assert!(t.effects().is_empty(), "STAT leaves the transfer alone");
    }
}

#[test]
fn quit_after_the_sequence_is_quit_as_pyftpdlib() {
    let mut t = T::new();
    t.login();
    t.s.handle_line(&urgent(&[IP, SYNCH], "QUIT"));
    t.expect_output(221);
    assert_eq!(t.effects(), ["Close"]);
}

#[test]
fn other_commands_after_a_stray_dm_are_not_guessed_as_pyftpdlib() {
    let mut t = T::new();
    t.login();
    // A bare DM byte is not UTF-8, and NOOP is not one of the urgent three.
    t.s.handle_line(b"\xf2NOOP");
    t.replied("501 Can't decode command.");
    // Well-formed Telnet commands vanish before any command.
    t.s.handle_line(&urgent(&[IP, SYNCH], "NOOP"));
    t.replied("200 I successfully did nothing.");
    t.s.handle_line(b"\xff\xfb\x01PWD");
    t.replied("257 \"/\" is the current directory.");
}

#[test]
fn iac_iac_is_a_literal_ff_byte_per_rfc854() {
    let mut t = T::new();
    t.login();
    // 0xFF is not UTF-8 (RFC 2640): the name is refused, not mangled, and
    // the IAC IAC did not vanish.
    t.s.handle_line(b"MKD a\xff\xffb");
    t.replied("501 Can't decode command.");
    assert!(!t.path("ab").exists());
}

// ---- File errors before 425 (pyftpdlib checks the file first) ----

#[test]
fn retr_of_a_missing_file_without_pasv_is_550_not_425_as_pyftpdlib() {
    let mut t = T::new();
    t.login();
    t.says("RETR nope", "550 No such file or directory.");
    t.mkdir("d");
    t.says("RETR d", "550 Is a directory.");
    t.put("f", "hello");
    t.says("RETR f", NO_CONNECTION);
    assert!(t.effects().is_empty());
}

#[test]
fn retr_with_a_rest_past_the_end_without_pasv_is_554_per_rfc1123() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.expect("TYPE I", 200);
    t.expect("REST 99", 350);
    t.says("RETR f", "554 REST position (99) > file size (5)");
    // The REST was consumed, as pyftpdlib's RETR does.
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn stor_into_a_missing_directory_without_pasv_is_550_and_creates_nothing() {
    let mut t = T::new();
    t.login();
    t.says("STOR nodir/f", "550 No such file or directory.");
    t.put("plain", "x");
    t.says("STOR plain/f", "550 Not a directory.");
    t.mkdir("d");
    t.says("STOR d", "550 Is a directory.");
    t.says("APPE nodir/f", "550 No such file or directory.");
    t.says("STOR new", NO_CONNECTION);
    assert!(!t.path("new").exists(), "a 425 creates no file");
}

#[test]
fn stor_without_pasv_leaves_an_existing_file_untouched() {
    let mut t = T::new();
    t.put("keep", "precious");
    t.login();
    t.says("STOR keep", NO_CONNECTION);
    t.says("APPE keep", NO_CONNECTION);
    assert_eq!(t.read("keep"), "precious", "a 425 truncated nothing");
}

#[test]
fn rest_stor_of_a_missing_or_short_file_without_pasv_is_550_or_554() {
    let mut t = T::new();
    t.put("short", "abc");
    t.login();
    t.expect("TYPE I", 200);
    t.expect("REST 2", 350);
    t.says("STOR missing", "550 No such file or directory.");
    t.expect("REST 10", 350);
    t.says("STOR short", "554 REST position (10) > file size (3)");
    t.expect("REST 1", 350);
    t.says("STOR short", NO_CONNECTION);
    assert_eq!(t.read("short"), "abc");
}

#[test]
fn listing_a_missing_path_without_pasv_is_550_as_pyftpdlib() {
    let mut t = T::new();
    t.login();
    t.says("LIST nope", "550 No such file or directory.");
    t.says("NLST nope", "550 No such file or directory.");
    t.says("MLSD nope", "501 No such directory.");
    t.says("LIST", NO_CONNECTION);
}

// ---- STOU before PASV/PORT (pyftpdlib accepts it) ----

/// STOU with no data connection: `150 FILE: name`; the name.
fn stou_before_pasv(t: &mut T) -> String {
    t.login();
    let reply = t.expect("STOU", 150);
    let name = reply
        .trim_end()
        .strip_prefix("150 FILE: ")
        .expect("150 FILE: name")
        .to_string();
    assert!(t.path(&name).is_file(), "STOU created {name}");
    assert!(t.effects().is_empty(), "nothing to connect yet");
    name
}

#[test]
fn stou_before_pasv_is_150_and_runs_on_the_next_data_connection_as_pyftpdlib() {
    let mut t = T::new();
    let name = stou_before_pasv(&mut t);
    // The PASV that follows gets its own 227 and keeps the upload queued.
    t.pasv();
    t.s.on_data_connected(Opened::Passive);
    assert_eq!(t.output(), "");
    let mut job = t.job();
    upload_file(&mut job).write_all(b"unique").unwrap();
    t.complete(job);
    assert_eq!(t.read(&name), "unique");
}

#[test]
fn stou_before_port_runs_once_the_connect_succeeds() {
    let mut t = T::new();
    stou_before_pasv(&mut t);
    t.send("PORT 127,0,0,1,7,208");
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:2000)"]);
    t.s.on_data_connected(Opened::Active);
    t.replied("200 Active data connection established.");
    t.job();
}

#[test]
fn stou_before_a_failing_port_gets_a_final_reply_after_ports_own() {
    let mut t = T::new();
    stou_before_pasv(&mut t);
    t.send("PORT 127,0,0,1,7,208");
    t.effects();
    let text = "Can't connect to specified address.";
    t.s.on_data_reply(425, text, DataSide::Gone);
    // One reply for PORT, one final reply for STOU's 150.
    t.replied(&format!("425 {text}\r\n425 {text}"));
    t.says("NOOP", "200 I successfully did nothing.");
}

#[test]
fn abor_of_a_stou_queued_before_pasv_is_426_then_226() {
    let mut t = T::new();
    stou_before_pasv(&mut t);
    assert_eq!(
        t.send("ABOR"),
        "426 Transfer aborted via ABOR.\r\n226 ABOR command successful.\r\n"
    );
    assert!(t.effects().is_empty(), "no data connection to close");
    t.says("ABOR", "225 No transfer to abort.");
}

#[test]
fn a_second_transfer_while_stou_waits_is_425() {
    let mut t = T::new();
    stou_before_pasv(&mut t);
    t.says("STOU", "425 A transfer is already in progress.");
    t.says("RETR x", "425 A transfer is already in progress.");
}

#[test]
fn rein_answers_a_stou_queued_before_pasv_then_220() {
    let mut t = T::new();
    stou_before_pasv(&mut t);
    assert_eq!(
        t.send("REIN"),
        "426 Transfer aborted; 0 bytes transmitted.\r\n220 Ready for new user.\r\n"
    );
}

// ---- OPTS needs a login (pyftpdlib, and the HELP table) ----

#[test]
fn opts_before_login_is_530_as_pyftpdlib() {
    let mut t = T::new();
    t.says("OPTS UTF8 ON", NOT_LOGGED_IN);
    t.says("OPTS MLST type;", NOT_LOGGED_IN);
    t.login();
    t.says("OPTS UTF8 ON", "200 Always in UTF8 mode.");
}

// ---- EPRT: pyftpdlib's checks and texts (RFC 2428 §2) ----

#[test]
fn eprt_errors_come_in_pyftpdlibs_order_and_words_per_rfc2428() {
    let mut t = T::new();
    t.login();
    // Shape and port first.
    t.says("EPRT |3|x|abc|", "501 Invalid EPRT format.");
    t.says("EPRT |1|127.0.0.1|", "501 Invalid EPRT format.");
    // Then the protocol number.
    t.says("EPRT |3|x|2000|", "501 Unknown network protocol (use 1).");
    // Then the family, whatever the address.
    t.says(
        "EPRT |2|bogus|2000|",
        "522 Network protocol not supported (use 1).",
    );
    // Then the address.
    t.says("EPRT |1|1.2.3|2000|", "501 Invalid EPRT format.");
    t.says("EPRT |1|256.0.0.1|2000|", "501 Invalid EPRT format.");
    // Port 0 is a privileged port, as for PORT.
    t.says(
        "EPRT |1|127.0.0.1|0|",
        "501 EPRT against the privileged port \"0\" refused.",
    );
}

#[test]
fn eprt_with_a_malformed_ipv6_address_is_malformed_not_foreign() {
    let mut t = T::unopened("[::1]:40000", "[::1]:2121", |_| {});
    t.s.open();
    t.expect_output(220);
    t.login();
    // pyftpdlib answers "501 Rejected data connection to foreign address".
    t.says("EPRT |2|1.2.3.4|2000|", "501 Invalid EPRT format.");
    t.says("EPRT |2|::1::2|2000|", "501 Invalid EPRT format.");
    t.says("EPRT |3|x|2000|", "501 Unknown network protocol (use 2).");
    t.says(
        "EPRT |1|bogus|2000|",
        "522 Network protocol not supported (use 2).",
    );
}

// ---- REIN (RFC 959 §4.1.1: 120 or 220) ----

#[test]
fn rein_is_220_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("REIN", "220 Ready for new user.");
    t.says("PWD", NOT_LOGGED_IN);
    t.login();
}

// ---- Data-side replies go only to a command that awaits one ----

#[test]
fn a_listener_timeout_with_nothing_queued_sends_nothing() {
    let mut t = T::new();
    t.login();
    t.pasv();
    t.s.on_data_reply(421, "Passive data channel timed out.", DataSide::Gone);
    assert_eq!(t.output(), "", "no command awaits this reply");
    t.says("NOOP", "200 I successfully did nothing.");
    t.put("f", "x");
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn a_foreign_peer_with_nothing_queued_sends_nothing_and_the_listener_waits() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.pasv();
    let text = "Rejected data connection from foreign address 10.0.0.9:5000.";
    t.s.on_data_reply(425, text, DataSide::Alive);
    assert_eq!(t.output(), "");
    t.says("NOOP", "200 I successfully did nothing.");
    t.expect("RETR f", 150);
}

#[test]
fn a_listener_timeout_with_a_queued_transfer_is_its_final_reply() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    t.s.on_data_reply(421, "Passive data channel timed out.", DataSide::Gone);
    t.replied("421 Passive data channel timed out.");
    t.says("NOOP", "200 I successfully did nothing.");
}

#[test]
fn a_failed_connect_is_ports_own_reply() {
    let mut t = T::new();
    t.login();
    t.send("PORT 127,0,0,1,7,208");
    t.effects();
    t.s.on_data_reply(421, "Active data channel timed out.", DataSide::Gone);
    t.replied("421 Active data channel timed out.");
    t.says("NOOP", "200 I successfully did nothing.");
}
