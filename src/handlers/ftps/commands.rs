//! AUTH, PBSZ and PROT (RFC 2228, RFC 4217) with pyftpdlib's replies.

use super::super::ftp::commands::{ArgRule, Command, PathRule};
use super::super::ftp::session::{Effect, Session};

/// The three rows `enable_tls` adds to the command table.
pub(crate) fn rows() -> Vec<Command> {
    vec![
        Command::builtin(
            "AUTH",
            "Syntax: AUTH <SP> TLS|SSL (set up secure control channel).",
            auth,
        )
        .auth(false)
        .arg(ArgRule::Required)
        .path(PathRule::None)
        .feat("AUTH TLS\nAUTH SSL"),
        Command::builtin("PBSZ", "Syntax: PBSZ <SP> 0 (negotiate TLS buffer).", pbsz)
            .auth(false)
            .arg(ArgRule::Required)
            .feat("PBSZ"),
        Command::builtin(
            "PROT",
            "Syntax: PROT <SP> [C|P] (set up un/secure data channel).",
            prot,
        )
        .auth(false)
        .arg(ArgRule::Required)
        .feat("PROT"),
    ]
}

fn auth(s: &mut Session, arg: &str, _: Option<std::path::PathBuf>) {
    let kind = arg.trim().to_ascii_uppercase();
    if s.tls_control {
        return s.reply(503, "Already using TLS.");
    }
    match kind.as_str() {
        "TLS" | "TLS-C" | "SSL" | "TLS-P" => {
            s.reply(234, &format!("AUTH {kind} successful."));
            s.effects.push(Effect::StartTls);
        }
        _ => s.reply(502, "Unrecognized encryption type (use TLS or SSL)."),
    }
}

fn pbsz(s: &mut Session, _: &str, _: Option<std::path::PathBuf>) {
    if !s.tls_control {
        return s.reply(503, "PBSZ not allowed on insecure control connection.");
    }
    s.pbsz = true;
    s.reply(200, "PBSZ=0 successful.");
}

fn prot(s: &mut Session, arg: &str, _: Option<std::path::PathBuf>) {
    let level = arg.trim().to_ascii_uppercase();
    if !s.tls_control {
        return s.reply(503, "PROT not allowed on insecure control connection.");
    }
    if !s.pbsz {
        return s.reply(503, "You must issue the PBSZ command prior to PROT.");
    }
    let data_required = s.cfg.tls.as_ref().is_some_and(|t| t.tls_data_required);
    match level.as_str() {
        "C" if data_required => s.reply(
            534,
            "PROT C not allowed: SSL/TLS required on the data channel.",
        ),
        "C" => {
            s.prot_private = false;
            s.reply(200, "Protection set to Clear");
        }
        "P" => {
            s.prot_private = true;
            s.reply(200, "Protection set to Private");
        }
        "S" | "E" => s.reply(521, &format!("PROT {level} unsupported (use C or P).")),
        _ => s.reply(502, "Unrecognized PROT type (use C or P)."),
    }
}
