//! AUTH, PBSZ and PROT (RFC 2228, RFC 4217) with pyftpdlib's replies, and
//! CCC (RFC 4217 §6; not in pyftpdlib).

use super::super::ftp::session::commands::{ArgRule, Auth, Command, PathRule};
use super::super::ftp::session::Session;
use crate::reply;

/// The rows `enable_tls` adds to the command table.
pub(crate) fn rows() -> Vec<Command> {
    vec![
        Command::builtin(
            "AUTH",
            "Syntax: AUTH <SP> TLS|SSL (set up secure control channel).",
            auth,
        )
        .login(Auth::Never)
        .arg(ArgRule::Required)
        .path(PathRule::None)
        .feat("AUTH TLS\nAUTH SSL"),
        Command::builtin("PBSZ", "Syntax: PBSZ <SP> 0 (negotiate TLS buffer).", pbsz)
            .login(Auth::Never)
            .arg(ArgRule::Required)
            .feat("PBSZ"),
        Command::builtin(
            "PROT",
            "Syntax: PROT <SP> [C|P] (set up un/secure data channel).",
            prot,
        )
        .login(Auth::Never)
        .arg(ArgRule::Required)
        .feat("PROT"),
        Command::builtin(
            "CCC",
            "Syntax: CCC (clear the control channel: back to clear text).",
            ccc,
        )
        .login(Auth::Never)
        .arg(ArgRule::Forbidden)
        .feat("CCC"),
    ]
}

/// The security mechanisms AUTH accepts (RFC 4217 §4; `SSL` and `TLS-P`
/// are the older names clients still send).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mechanism {
    /// `TLS`.
    Tls,
    /// `TLS-C`.
    TlsC,
    /// `SSL`.
    Ssl,
    /// `TLS-P`.
    TlsP,
}

impl Mechanism {
    /// The name as the client wrote it, upper-cased (for the 234 text).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Tls => "TLS",
            Mechanism::TlsC => "TLS-C",
            Mechanism::Ssl => "SSL",
            Mechanism::TlsP => "TLS-P",
        }
    }
}

/// AUTH named a mechanism other than TLS or SSL.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UnknownMechanism;

/// Parse AUTH's mechanism, in any case.
pub(crate) fn parse_auth(arg: &str) -> Result<Mechanism, UnknownMechanism> {
    match arg.trim().to_ascii_uppercase().as_str() {
        "TLS" => Ok(Mechanism::Tls),
        "TLS-C" => Ok(Mechanism::TlsC),
        "SSL" => Ok(Mechanism::Ssl),
        "TLS-P" => Ok(Mechanism::TlsP),
        _ => Err(UnknownMechanism),
    }
}

/// A data-channel protection level (RFC 2228 §3, PROT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProtLevel {
    /// `C`: plain data connections.
    Clear,
    /// `S`: integrity only; TLS has no such level.
    Safe,
    /// `E`: confidentiality only; TLS has no such level.
    Confidential,
    /// `P`: TLS data connections.
    Private,
}

impl ProtLevel {
    /// The level's letter.
    pub fn letter(self) -> char {
        match self {
            ProtLevel::Clear => 'C',
            ProtLevel::Safe => 'S',
            ProtLevel::Confidential => 'E',
            ProtLevel::Private => 'P',
        }
    }
}

/// PROT named no RFC 2228 level.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct UnknownLevel;

/// Parse PROT's level letter, in any case.
pub(crate) fn parse_prot(arg: &str) -> Result<ProtLevel, UnknownLevel> {
    match arg.trim().to_ascii_uppercase().as_str() {
        "C" => Ok(ProtLevel::Clear),
        "S" => Ok(ProtLevel::Safe),
        "E" => Ok(ProtLevel::Confidential),
        "P" => Ok(ProtLevel::Private),
        _ => Err(UnknownLevel),
    }
}

fn auth(s: &mut Session, arg: &str, _: Option<std::path::PathBuf>) {
    if s.tls_control() {
        return s.reply(reply::BAD_SEQUENCE, "Already using TLS.");
    }
    match parse_auth(arg) {
        Ok(mechanism) => {
            let text = format!("AUTH {} successful.", mechanism.name());
            s.reply(reply::SECURITY_EXCHANGE_OK, &text);
            s.start_tls();
        }
        Err(UnknownMechanism) => s.reply(
            reply::NOT_IMPLEMENTED,
            "Unrecognized encryption type (use TLS or SSL).",
        ),
    }
}

/// PBSZ: the argument is not looked at, as in pyftpdlib. TLS protects a
/// stream, so the buffer size is always 0 (RFC 4217), and a 200 with
/// `PBSZ=<size>` naming the size the server uses is RFC 2228's answer to
/// any requested size.
fn pbsz(s: &mut Session, _: &str, _: Option<std::path::PathBuf>) {
    if !s.tls_control() {
        return s.reply(
            reply::BAD_SEQUENCE,
            "PBSZ not allowed on insecure control connection.",
        );
    }
    s.set_pbsz();
    s.reply(reply::OK, "PBSZ=0 successful.");
}

fn prot(s: &mut Session, arg: &str, _: Option<std::path::PathBuf>) {
    if !s.tls_control() {
        return s.reply(
            reply::BAD_SEQUENCE,
            "PROT not allowed on insecure control connection.",
        );
    }
    if !s.pbsz_done() {
        return s.reply(
            reply::BAD_SEQUENCE,
            "You must issue the PBSZ command prior to PROT.",
        );
    }
    let data_required = s.cfg().tls.as_ref().is_some_and(|t| t.tls_data_required);
    match parse_prot(arg) {
        Ok(ProtLevel::Clear) if data_required => s.reply(
            reply::DENIED_BY_POLICY,
            "PROT C not allowed: SSL/TLS required on the data channel.",
        ),
        Ok(ProtLevel::Clear) => {
            s.set_prot_private(false);
            s.reply(reply::OK, "Protection set to Clear");
        }
        Ok(ProtLevel::Private) => {
            s.set_prot_private(true);
            s.reply(reply::OK, "Protection set to Private");
        }
        Ok(level @ (ProtLevel::Safe | ProtLevel::Confidential)) => {
            let text = format!("PROT {} unsupported (use C or P).", level.letter());
            s.reply(reply::PROT_NOT_USABLE, &text)
        }
        Err(UnknownLevel) => s.reply(
            reply::NOT_IMPLEMENTED,
            "Unrecognized PROT type (use C or P).",
        ),
    }
}

/// CCC (RFC 4217 §6, RFC 2228): after login and PROT P, 200 and the TLS
/// layer of the control connection is closed (close_notify both ways), so
/// that a NAT firewall can read PORT/PASV; data connections stay
/// protected. Refused with 533 on a control connection that is not TLS
/// (RFC 2228: CCC must itself be protected), 530 before login, 534 before
/// PROT P or when `allow_ccc` is off.
fn ccc(s: &mut Session, _: &str, _: Option<std::path::PathBuf>) {
    if !s.tls_control() {
        return s.reply(
            reply::PROTECTION_DENIED,
            "CCC not allowed on insecure control connection.",
        );
    }
    if !s.logged_in() {
        return s.reply(reply::NOT_LOGGED_IN, "Log in with USER and PASS first.");
    }
    if !s.cfg().tls.as_ref().is_some_and(|t| t.allow_ccc) {
        return s.reply(
            reply::DENIED_BY_POLICY,
            "CCC not allowed by the server's policy.",
        );
    }
    if !s.prot_private() {
        return s.reply(
            reply::DENIED_BY_POLICY,
            "CCC needs PROT P first: data connections must stay protected.",
        );
    }
    s.reply(
        reply::OK,
        "CCC successful: control connection back to clear text.",
    );
    s.clear_tls();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_mechanism_per_rfc4217() {
        assert_eq!(parse_auth("TLS"), Ok(Mechanism::Tls));
        assert_eq!(parse_auth("tls"), Ok(Mechanism::Tls));
        assert_eq!(parse_auth("Tls-C"), Ok(Mechanism::TlsC));
        assert_eq!(parse_auth("ssl"), Ok(Mechanism::Ssl));
        assert_eq!(parse_auth(" TLS-P "), Ok(Mechanism::TlsP));
        for bad in ["", "KERBEROS_V4", "GSSAPI", "TLS C", "TLSX"] {
            assert_eq!(parse_auth(bad), Err(UnknownMechanism), "{bad:?}");
        }
        let names = [
            Mechanism::Tls,
            Mechanism::TlsC,
            Mechanism::Ssl,
            Mechanism::TlsP,
        ];
        for m in names {
            assert_eq!(parse_auth(m.name()), Ok(m));
        }
    }

    #[test]
    fn prot_level_per_rfc2228() {
        assert_eq!(parse_prot("C"), Ok(ProtLevel::Clear));
        assert_eq!(parse_prot("p"), Ok(ProtLevel::Private));
        assert_eq!(parse_prot(" S "), Ok(ProtLevel::Safe));
        assert_eq!(parse_prot("e"), Ok(ProtLevel::Confidential));
        for bad in ["", "X", "CP", "C P", "private"] {
            assert_eq!(parse_prot(bad), Err(UnknownLevel), "{bad:?}");
        }
        assert_eq!(ProtLevel::Safe.letter(), 'S');
        assert_eq!(ProtLevel::Confidential.letter(), 'E');
    }
}
