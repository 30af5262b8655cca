//! Transcripts of data connections: passive, active, transfers, ABOR, REST,
//! and the data-connection bugs they found.

use super::*;

// ---- Passive data connections (RFC 959 §4.1.2, RFC 2428 §3) ----

#[test]
fn pasv_replies_227_with_address_and_port_bytes_once_listening_per_rfc959() {
    let mut t = T::new();
    t.login();
    assert_eq!(t.send("PASV"), "");
    assert_eq!(t.effects(), ["OpenPassive(Pasv)"]);
    t.s.on_passive_open(addr(LISTENER), Passive::Pasv);
    t.replied("227 Entering passive mode (127,0,0,1,195,81).");
}

#[test]
fn pasv_announces_the_masquerade_address_behind_nat_as_pyftpdlib() {
    let mut t = T::with(|cfg| cfg.masquerade_address = "203.0.113.7".parse().ok());
    t.login();
    t.send("PASV");
    t.s.on_passive_open(addr(LISTENER), Passive::Pasv);
    t.replied("227 Entering passive mode (203,0,113,7,195,81).");
}

#[test]
fn epsv_replies_229_with_the_port_only_per_rfc2428() {
    let mut t = T::new();
    t.login();
    assert_eq!(t.send("EPSV"), "");
    assert_eq!(t.effects(), ["OpenPassive(Epsv)"]);
    t.s.on_passive_open(addr(LISTENER), Passive::Epsv);
    t.replied("229 Entering extended passive mode (|||50001|).");
    t.says("EPSV 3", "501 Unknown network protocol (use 1).");
}

#[test]
fn epsv_all_leaves_only_epsv_to_open_data_connections_per_rfc2428() {
    let mut t = T::new();
    t.login();
    t.says("EPSV ALL", "200 EPSV ALL command successful.");
    t.says("PASV", "501 PASV not allowed after EPSV ALL.");
    t.says(
        "PORT 127,0,0,1,7,208",
        "501 PORT not allowed after EPSV ALL.",
    );
    t.says(
        "EPRT |1|127.0.0.1|2000|",
        "501 EPRT not allowed after EPSV ALL.",
    );
    assert!(t.effects().is_empty());
    t.send("EPSV");
    assert_eq!(t.effects(), ["OpenPassive(Epsv)"]);
}

#[test]
fn on_ipv6_pasv_is_refused_and_epsv_and_eprt_use_protocol_2_per_rfc2428() {
    let mut t = T::unopened("[::1]:40000", "[::1]:2121", |_| {});
    t.login();
    t.says(
        "PASV",
        "425 PASV is IPv4 only on this connection; use EPSV.",
    );
    t.says(
        "EPRT |1|127.0.0.1|2000|",
        "522 Network protocol not supported (use 2).",
    );
    t.send("EPSV 2");
    assert_eq!(t.effects(), ["OpenPassive(Epsv)"]);
    t.s.on_passive_open(addr("[::1]:50001"), Passive::Epsv);
    t.replied("229 Entering extended passive mode (|||50001|).");
}

// ---- Transfers on the data connection (RFC 959 §5.4) ----

#[test]
fn retr_after_pasv_is_150_and_starts_when_the_client_connects_then_226_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.says(
        "RETR f",
        "150 File status okay. About to open data connection.",
    );
    assert!(
        t.effects().is_empty(),
        "no transfer before the client connects"
    );
    t.s.on_data_connected(Opened::Passive);
    assert_eq!(t.output(), "", "the 150 already announced it");
    let mut job = t.job();
    assert_eq!(sent(&mut job), "hello");
    t.complete(job);
}

#[test]
fn retr_on_an_open_data_connection_is_125_and_starts_at_once_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.says(
        "RETR f",
        "125 Data connection already open. Transfer starting.",
    );
    let job = t.job();
    t.complete(job);
}

#[test]
fn retr_without_pasv_or_port_is_425_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.says("RETR f", NO_CONNECTION);
    assert!(t.effects().is_empty());
}

#[test]
fn a_second_transfer_while_one_runs_is_425_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    t.says("RETR f", "425 A transfer is already in progress.");
    t.says("STOR g", "425 A transfer is already in progress.");
    assert!(t.effects().is_empty());
    t.complete(job);
    // One data connection serves one transfer.
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn a_new_pasv_keeps_the_queued_transfer_for_the_new_connection_as_pyftpdlib() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    t.send("PASV");
    assert_eq!(t.effects(), ["CloseData", "OpenPassive(Pasv)"]);
    t.s.on_passive_open(addr(LISTENER), Passive::Pasv);
    t.expect_output(227);
    t.s.on_data_connected(Opened::Passive);
    let job = t.job();
    assert_eq!(job.path, t.path("f"));
}

#[test]
fn a_foreign_client_on_the_listener_is_refused_and_the_listener_waits_per_rfc2577() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    let text = "Rejected data connection from foreign address 10.0.0.9:5000.";
    t.s.on_data_reply(425, text, DataSide::Alive);
    // RETR still waits for its data connection: the refusal is logged, not
    // answered (a 425 now would be read as RETR's final reply, and its 226
    // as the reply to the next command).
    assert_eq!(t.output(), "");
    t.s.on_data_connected(Opened::Passive);
    t.job();
}

#[test]
fn stor_writes_through_the_jobs_file_then_226_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.connected();
    t.expect("STOR up", 125);
    let mut job = t.job();
    upload_file(&mut job)
        .write_all(b"uploaded")
        .expect("a writable file");
    t.complete(job);
    assert_eq!(t.read("up"), "uploaded");
}

#[test]
fn appe_appends_to_the_existing_file_per_rfc959() {
    let mut t = T::new();
    t.put("log", "one,");
    t.login();
    t.connected();
    t.expect("APPE log", 125);
    let mut job = t.job();
    upload_file(&mut job)
        .write_all(b"two")
        .expect("a writable file");
    t.complete(job);
    assert_eq!(t.read("log"), "one,two");
}

#[test]
fn stou_stores_under_a_new_name_given_in_the_125_per_rfc1123() {
    let mut t = T::new();
    t.login();
    t.connected();
    let reply = t.expect("STOU", 125);
    let name = reply
        .strip_prefix("125 FILE: ")
        .and_then(|r| r.strip_suffix("\r\n"))
        .expect("a FILE: reply");
    assert!(name.starts_with("ftpd."), "{name}");
    let job = t.job();
    assert_eq!(job.path, t.path(name));
    assert!(t.path(name).is_file(), "STOU created the file");
}

#[test]
fn list_nlst_and_mlsd_are_queued_as_jobs_of_their_kind_per_rfc959_and_rfc3659() {
    let mut t = T::new();
    t.put("f", "x");
    t.mkdir("sub");
    t.login();
    for (line, kind) in [("LIST", "LIST"), ("NLST -la", "NLST"), ("MLSD /", "MLSD")] {
        t.pasv();
        t.expect(line, 150);
        assert!(t.effects().is_empty(), "{line} waits for the connection");
        t.s.on_data_connected(Opened::Passive);
        let mut job = t.job();
        assert_eq!(job.transfer.name(), kind);
        let listing = sent(&mut job);
        if kind == "NLST" {
            assert_eq!(listing, "f\r\nsub\r\n");
        } else {
            assert_eq!(listing.lines().count(), 2, "{listing}");
        }
        t.complete(job);
    }
}

#[test]
fn mlsd_of_a_file_is_501_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.connected();
    t.says("MLSD f", "501 No such directory.");
    assert!(t.effects().is_empty());
}

#[test]
fn retr_of_a_directory_or_a_missing_file_is_550_per_rfc959() {
    let mut t = T::new();
    t.mkdir("sub");
    t.put("f", "hello");
    t.login();
    t.connected();
    t.says("RETR sub", "550 Is a directory.");
    t.says("RETR nope", "550 No such file or directory.");
    // ".." cannot climb above the virtual root: this names <home>/etc/passwd.
    t.says("RETR ../../etc/passwd", "550 No such file or directory.");
    assert!(t.effects().is_empty());
    t.expect("RETR f", 125); // the data connection is still usable
}

#[test]
fn a_broken_transfer_is_426_and_a_full_disk_452_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    let broken = [
        (
            "RETR f",
            OutcomeKind::ClientGone(std::io::Error::from_raw_os_error(libc::ECONNRESET)),
            "426 Connection reset by peer. Transfer aborted; 0 bytes transmitted.\r\n",
        ),
        (
            "STOR g",
            OutcomeKind::LocalError(std::io::Error::from_raw_os_error(libc::ENOSPC)),
            "452 No space left on device; transfer aborted.\r\n",
        ),
        (
            "RETR f",
            OutcomeKind::Stalled,
            "426 Data connection timed out; transfer aborted.\r\n",
        ),
    ];
    for (line, kind, reply) in broken {
        t.connected();
        t.expect(line, 125);
        let job = t.job();
        assert_eq!(t.finish(job, kind, Ended::ByDataSide), reply, "{line}");
    }
}

#[test]
fn stat_during_a_transfer_shows_its_progress_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("TYPE I", 200);
    t.expect("RETR f", 125);
    let _job = t.job();
    let stats = crate::handlers::ftp::session::TransferStats {
        bytes: 1024,
        receiving: false,
        elapsed: 2.0,
    };
    t.s.set_transfer_stats(Some(stats));
    let status = t.expect("STAT", 211);
    assert!(status.contains(" Logged in as: user\r\n"), "{status}");
    assert!(status.contains(" TYPE: Binary;"), "{status}");
    assert!(
        status.contains(" Data connection open: sent 1024 bytes in 2.0 seconds.\r\n"),
        "{status}"
    );
}

// ---- Active data connections (RFC 959 §4.1.2, RFC 2428 §2, RFC 2577) ----

#[test]
fn port_asks_for_a_connect_and_200_comes_once_connected_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    assert_eq!(
        t.send("PORT 127,0,0,1,7,208"),
        "",
        "answered once connected"
    );
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:2000)"]);
    t.s.on_data_connected(Opened::Active);
    t.replied("200 Active data connection established.");
    assert!(t.effects().is_empty());
    t.expect("RETR f", 125);
    let job = t.job();
    t.complete(job);
}

#[test]
fn eprt_asks_for_a_connect_in_the_control_family_per_rfc2428() {
    let mut t = T::new();
    t.login();
    assert_eq!(t.send("EPRT |1|127.0.0.1|2000|"), "");
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:2000)"]);
    t.says(
        "EPRT |2|::1|2000|",
        "522 Network protocol not supported (use 1).",
    );
    t.says(
        "EPRT |3|127.0.0.1|2000|",
        "501 Unknown network protocol (use 1).",
    );
    t.says("EPRT 127.0.0.1:2000", "501 Invalid EPRT format.");
    t.says("PORT 127,0,0,1,7", "501 Invalid PORT format.");
    assert!(t.effects().is_empty());
}

#[test]
fn port_to_a_foreign_address_is_refused_501_per_rfc2577() {
    let mut t = T::new();
    t.login();
    t.says(
        "PORT 10,0,0,1,7,208",
        "501 Rejected data connection to foreign address 10.0.0.1:2000.",
    );
    t.says(
        "EPRT |1|10.0.0.1|2000|",
        "501 Rejected data connection to foreign address 10.0.0.1:2000.",
    );
    assert!(t.effects().is_empty(), "no bounce connect");
}

#[test]
fn port_to_a_privileged_port_is_refused_501_unless_permitted_per_rfc2577() {
    let mut t = T::new();
    t.login();
    t.says(
        "PORT 127,0,0,1,0,21",
        "501 PORT against the privileged port \"21\" refused.",
    );
    assert!(t.effects().is_empty());
    let mut t = T::with(|cfg| cfg.permit_privileged_ports = true);
    t.login();
    t.send("PORT 127,0,0,1,0,21");
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:21)"]);
}

#[test]
fn an_ipv4_mapped_client_may_port_to_its_own_address_per_rfc2577() {
    let mut t = T::unopened(
        "[::ffff:127.0.0.1]:40000",
        "[::ffff:127.0.0.1]:2121",
        |_| {},
    );
    t.login();
    t.send("PORT 127,0,0,1,7,208");
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:2000)"]);
    // The mapped control connection is IPv4 for PASV too.
    t.send("PASV");
    assert_eq!(t.effects(), ["CloseData", "OpenPassive(Pasv)"]);
    t.s.on_passive_open(addr("[::ffff:127.0.0.1]:50001"), Passive::Pasv);
    t.replied("227 Entering passive mode (127,0,0,1,195,81).");
}

#[test]
fn a_failed_connect_is_425_and_leaves_no_data_connection_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.send("PORT 127,0,0,1,7,208");
    assert_eq!(t.effects(), ["ConnectActive(127.0.0.1:2000)"]);
    let text = "Can't connect to specified address.";
    t.s.on_data_reply(425, text, DataSide::Gone);
    t.replied(&format!("425 {text}"));
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn a_lost_listener_drops_the_queued_transfer_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    let text = "Can't open data connection: Too many open files.";
    t.s.on_data_reply(425, text, DataSide::Gone);
    t.replied(&format!("425 {text}"));
    t.says("RETR f", NO_CONNECTION);
    // The dropped RETR does not start on the next connection.
    t.connected();
}

// ---- ABOR in every data state (RFC 959 §4.1.3) ----

#[test]
fn abor_with_nothing_set_up_is_225_no_transfer_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("ABOR", "225 No transfer to abort.");
    assert!(t.effects().is_empty());
}

#[test]
fn abor_closes_a_waiting_listener_with_225_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.says("ABOR", "225 ABOR command successful; data channel closed.");
    assert_eq!(t.effects(), ["CloseData"]);
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn abor_closes_a_pending_active_connect_with_225_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.send("PORT 127,0,0,1,7,208");
    t.effects();
    t.says("ABOR", "225 ABOR command successful; data channel closed.");
    assert_eq!(t.effects(), ["CloseData"]);
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn abor_closes_an_idle_data_connection_with_225_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.connected();
    t.says("ABOR", "225 ABOR command successful; data channel closed.");
    assert_eq!(t.effects(), ["CloseData"]);
    t.says("LIST", NO_CONNECTION);
}

#[test]
fn abor_of_a_running_transfer_is_426_then_226_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    assert_eq!(t.send("ABOR"), "", "the replies come with the outcome");
    assert_eq!(t.effects(), ["AbortTransfer"]);
    assert_eq!(
        t.finish(job, OutcomeKind::Aborted, Ended::ByAbor),
        "426 Transfer aborted via ABOR.\r\n226 ABOR command successful.\r\n"
    );
    t.says("RETR f", NO_CONNECTION);
}

#[test]
fn abor_finding_the_transfer_already_gone_is_225_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    t.job();
    t.send("ABOR");
    assert_eq!(t.effects(), ["AbortTransfer"]);
    t.s.on_abort_without_transfer();
    t.replied("225 ABOR command successful; data channel closed.");
    t.says("RETR f", NO_CONNECTION);
}

// ---- REST (RFC 3659 §5) ----

#[test]
fn rest_then_stor_writes_from_the_offset_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    t.expect("TYPE I", 200);
    t.says("REST 4", "350 Restarting at position 4.");
    t.connected();
    t.expect("STOR f", 125);
    let mut job = t.job();
    let JobKind::Receive { truncate, .. } = job.kind else {
        panic!("an upload was expected")
    };
    assert!(truncate, "a resumed upload cuts the stale tail at its end");
    let file = upload_file(&mut job);
    assert_eq!(file.stream_position().expect("a position"), 4);
    file.write_all(b"XY").expect("a writable file");
    t.complete(job);
    assert_eq!(t.read("f"), "0123XY6789");
    assert_eq!(t.s.restart_position, 0, "STOR consumed the offset");
}

#[test]
fn rest_then_retr_sends_from_the_offset_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    t.expect("TYPE I", 200);
    t.expect("REST 6", 350);
    t.connected();
    t.expect("RETR f", 125);
    let mut job = t.job();
    let JobKind::Send(Source::File {
        sendfile_offset, ..
    }) = &job.kind
    else {
        panic!("a file download was expected")
    };
    assert!(
        matches!(sendfile_offset, None | Some(6)),
        "{sendfile_offset:?}"
    );
    assert_eq!(sent(&mut job), "6789");
}

#[test]
fn rest_is_refused_501_in_ascii_type_as_pyftpdlib() {
    let mut t = T::new();
    t.login();
    t.says(
        "REST 4",
        "501 Resuming transfers not allowed in ASCII mode.",
    );
    assert_eq!(t.s.restart_position, 0);
}

#[test]
fn rest_with_something_else_than_a_number_is_501_per_rfc3659() {
    let mut t = T::new();
    t.login();
    t.expect("TYPE I", 200);
    for line in [
        "REST abc",
        "REST -1",
        "REST 1e3",
        "REST 99999999999999999999999",
    ] {
        t.says(line, "501 Invalid parameter.");
    }
}

#[test]
fn rest_past_the_end_of_the_file_is_554_per_rfc1123() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    t.expect("TYPE I", 200);
    t.expect("REST 100", 350);
    t.connected();
    t.says("RETR f", "554 REST position (100) > file size (10)");
    assert!(t.effects().is_empty());
}

#[test]
fn appe_and_stou_with_a_pending_rest_are_450_as_pyftpdlib() {
    let mut t = T::new();
    t.login();
    t.expect("TYPE I", 200);
    t.expect("REST 4", 350);
    t.connected();
    t.says("APPE f", "450 Can't APPE while REST request is pending.");
    t.says("STOU", "450 Can't STOU while REST request is pending.");
    assert!(t.effects().is_empty());
}

// ---- Bugs these transcripts found, fixed: each test states the correct behaviour ----

#[test]
fn a_pasv_during_a_transfer_ends_it_without_abors_replies_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.connected();
    t.expect("RETR f", 125);
    let job = t.job();
    assert_eq!(t.send("PASV"), "");
    assert_eq!(t.effects(), ["DropTransfer", "OpenPassive(Pasv)"]);
    // What control.rs does with these effects, in order.
    let mut replies = t.finish(job, OutcomeKind::Aborted, Ended::Replaced);
    t.s.on_passive_open(addr(LISTENER), Passive::Pasv);
    replies += &t.output();
    assert!(replies.starts_with("426 "), "RETR's final reply: {replies}");
    assert!(!replies.contains("226 ABOR"), "no ABOR was sent: {replies}");
    assert!(replies.ends_with("\r\n227 Entering passive mode (127,0,0,1,195,81).\r\n"));
    assert_eq!(
        replies.lines().count(),
        2,
        "one reply per command: {replies}"
    );
}

#[test]
fn rnto_after_a_failed_rnfr_is_503_and_renames_nothing_per_rfc959() {
    let mut t = T::new();
    t.put("a", "x");
    t.login();
    t.expect("RNFR a", 350);
    t.expect("RNFR nope", 550);
    t.says("RNTO b", "503 Bad sequence of commands: use RNFR first.");
    assert!(t.path("a").exists() && !t.path("b").exists());
}

#[test]
fn abor_of_a_queued_transfer_is_426_then_226_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    assert_eq!(
        t.send("ABOR"),
        "426 Transfer aborted via ABOR.\r\n226 ABOR command successful.\r\n"
    );
    assert_eq!(t.effects(), ["CloseData"]);
}

#[test]
fn a_second_transfer_before_the_connection_is_up_is_425_per_rfc959() {
    let mut t = T::new();
    t.put("f", "hello");
    t.login();
    t.pasv();
    t.expect("RETR f", 150);
    t.says("STOR g", "425 A transfer is already in progress.");
    assert!(!t.path("g").exists(), "the refused STOR created nothing");
    t.s.on_data_connected(Opened::Passive);
    assert_eq!(t.job().path, t.path("f"), "the first transfer runs");
}
