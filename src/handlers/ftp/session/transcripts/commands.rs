//! Transcripts of the file-system, transfer-parameter and information
//! commands.

use super::*;

// ---- File-system commands on the control channel (RFC 959 §4.1.3) ----

#[test]
fn cwd_and_cdup_move_and_pwd_quotes_the_directory_per_rfc959() {
    let mut t = T::new();
    t.mkdir("sub");
    t.login();
    t.says("CWD sub", "250 \"/sub\" is the current directory.");
    t.says("PWD", "257 \"/sub\" is the current directory.");
    t.says("CDUP", "250 \"/\" is the current directory.");
    t.says("CDUP", "250 \"/\" is the current directory.");
}

#[test]
fn cwd_to_a_missing_directory_is_550_and_the_cwd_stays_per_rfc959() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("CWD nope", "550 No such file or directory.");
    t.says("CWD f", "550 Not a directory.");
    t.says("PWD", "257 \"/\" is the current directory.");
}

#[test]
fn mkd_is_257_with_the_new_path_and_an_existing_one_is_550_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("MKD new", "257 \"/new\" directory created.");
    assert!(t.path("new").is_dir());
    t.says("MKD new", "550 File exists.");
    t.says("XMKD new", "550 File exists.");
}

#[test]
fn rmd_of_a_missing_directory_or_of_the_root_is_550_per_rfc959() {
    let mut t = T::new();
    t.mkdir("old");
    t.login();
    t.says("RMD nope", "550 No such file or directory.");
    t.says("RMD /", "550 Can't remove root directory.");
    t.says("RMD old", "250 Directory removed.");
    assert!(!t.path("old").exists());
}

#[test]
fn dele_of_a_missing_file_is_550_per_rfc959() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("DELE nope", "550 No such file or directory.");
    t.says("DELE f", "250 File removed.");
    assert!(!t.path("f").exists());
}

#[test]
fn rnto_without_rnfr_is_503_bad_sequence_per_rfc959() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("RNTO g", "503 Bad sequence of commands: use RNFR first.");
    assert!(t.path("f").exists() && !t.path("g").exists());
}

#[test]
fn rnfr_of_a_missing_file_is_550_and_rnto_still_needs_an_rnfr_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("RNFR nope", "550 No such file or directory.");
    t.expect("RNTO g", 503);
}

#[test]
fn rnfr_then_rnto_renames_with_350_then_250_per_rfc959() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("RNFR f", "350 Ready for destination name.");
    t.says("RNTO g", "250 Renaming ok.");
    assert_eq!(t.read("g"), "x");
    t.expect("RNTO h", 503);
}

#[test]
fn size_is_213_in_binary_and_refused_in_ascii_or_for_a_directory_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.mkdir("sub");
    t.login();
    t.says("SIZE f", "550 SIZE not allowed in ASCII mode.");
    t.expect("TYPE I", 200);
    t.says("SIZE f", "213 10");
    t.says("SIZE sub", "550 /sub is not retrievable.");
}

#[test]
fn mfmt_sets_the_time_that_mdtm_reads_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("MFMT 20200102030405 f", "213 Modify=20200102030405; /f.");
    t.says("MDTM f", "213 20200102030405");
}

#[test]
fn mdtm_of_a_missing_file_is_550_per_rfc3659() {
    let mut t = T::new();
    t.mkdir("sub");
    t.login();
    t.says("MDTM nope", "550 /nope is not retrievable");
    t.says("MDTM sub", "550 /sub is not retrievable");
}

#[test]
fn mfmt_with_a_bad_time_is_550_and_without_a_path_501_as_pyftpdlib() {
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says(
        "MFMT 2020 f",
        "550 Invalid time format; expected: YYYYMMDDHHMMSS.",
    );
    t.says(
        "MFMT 20200102030405",
        "501 Syntax error: command needs two arguments.",
    );
    t.says("MFMT 20200102030405 nope", "550 /nope is not retrievable");
}

#[test]
fn site_chmod_takes_three_or_four_octal_digits_else_501_as_pyftpdlib() {
    use std::os::unix::fs::PermissionsExt;
    let mut t = T::new();
    t.put("f", "x");
    t.login();
    t.says("SITE CHMOD 999 f", "501 Invalid SITE CHMOD format.");
    t.says(
        "SITE CHMOD 600",
        "501 Syntax error: command needs two arguments.",
    );
    t.says("site chmod 600 f", "200 SITE CHMOD successful.");
    let mode = std::fs::metadata(t.path("f"))
        .expect("a file")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

// ---- Transfer parameters (RFC 959 §4.1.2) ----

#[test]
fn type_accepts_ascii_and_image_and_refuses_others_with_504_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("TYPE I", "200 Type set to: Binary.");
    t.says("TYPE A", "200 Type set to: ASCII.");
    t.says("TYPE L 8", "200 Type set to: Binary.");
    t.says("TYPE E", "504 Unsupported type \"E\".");
    assert!(t.s.binary, "a refused TYPE changes nothing");
}

#[test]
fn mode_and_stru_take_only_stream_and_file_504_or_501_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("MODE S", "200 Transfer mode set to: S");
    t.says("MODE B", "504 Unimplemented MODE type.");
    t.says("MODE X", "501 Unrecognized MODE type.");
    t.says("STRU F", "200 File transfer structure set to: F.");
    t.says("STRU P", "504 Unimplemented STRU type.");
    t.says("STRU X", "501 Unrecognized STRU type.");
}

#[test]
fn allo_is_202_superfluous_per_rfc959() {
    let mut t = T::new();
    t.login();
    t.says("ALLO 100", "202 No storage allocation necessary.");
}

// ---- Information: FEAT, OPTS, HELP, SITE HELP, MLST, STAT (RFC 2389, 3659) ----

#[test]
fn feat_lists_the_extensions_sorted_one_per_line_per_rfc2389() {
    let mut t = T::new();
    assert_eq!(
        t.send("FEAT"),
        "211-Features supported:\r\n EPRT\r\n EPSV\r\n MDTM\r\n MFMT\r\n \
         MLST type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;\r\n \
         REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End FEAT.\r\n"
    );
}

#[test]
fn opts_of_a_command_without_options_is_501_per_rfc2389() {
    let mut t = T::new();
    t.login();
    t.says("OPTS FOO on", "501 Unsupported command \"FOO\".");
    t.says("OPTS a b c", "501 Invalid number of arguments.");
    t.says("OPTS MLST size", "501 Invalid argument.");
}

#[test]
fn mlst_shows_the_facts_chosen_by_opts_mlst_on_the_control_channel_per_rfc3659() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    let all = t.expect("MLST f", 250);
    assert!(all.starts_with("250-Listing \"/f\":\r\n modify="), "{all}");
    assert!(
        all.contains(";perm=r"),
        "a file's perm fact starts at r: {all}"
    );
    assert!(all.contains(";size=10;type=file;unique="), "{all}");
    assert!(all.ends_with("; /f\r\n250 End MLST.\r\n"), "{all}");
    t.says("OPTS MLST type;size;", "200 MLST OPTS type;size;");
    assert_eq!(
        t.send("MLST f"),
        "250-Listing \"/f\":\r\n size=10;type=file; /f\r\n250 End MLST.\r\n"
    );
    t.says("MLST nope", "550 No such file or directory.");
}

#[test]
fn help_of_a_command_is_its_syntax_214_per_rfc959() {
    let mut t = T::new();
    t.says(
        "HELP retr",
        "214 Syntax: RETR <SP> file-name (retrieve a file).",
    );
    t.says("HELP XYZZY", "501 Unrecognized command.");
    let all = t.expect("HELP", 214);
    assert!(
        all.starts_with("214-The following commands are recognized:\r\n"),
        "{all}"
    );
    assert!(all.contains(" ABOR   ALLO   APPE   CDUP"), "{all}");
    assert!(!all.contains("CHMOD"), "SITE commands have their own HELP");
}

#[test]
fn site_help_lists_the_site_commands_per_rfc959() {
    let mut t = T::new();
    assert_eq!(
        t.send("SITE HELP"),
        "214-The following SITE commands are recognized:\r\n CHMOD\r\n HELP\r\n\
         214 Help SITE command successful.\r\n"
    );
    t.says(
        "SITE HELP chmod",
        "214 Syntax: SITE CHMOD <SP> mode path (change file mode).",
    );
    t.says("SITE HELP FOO", "501 Unrecognized SITE command.");
}

#[test]
fn stat_with_a_path_lists_it_on_the_control_channel_213_per_rfc959() {
    let mut t = T::new();
    t.put("f", "0123456789");
    t.login();
    let status = t.expect("STAT f", 213);
    assert!(
        status.starts_with("213-Status of \"/f\":\r\n -rw"),
        "{status}"
    );
    assert!(status.ends_with(" f\r\n213 End of status.\r\n"), "{status}");
    t.says("STAT *.txt", "550 Globbing not supported.");
    assert!(t.effects().is_empty(), "no data connection is involved");
}
