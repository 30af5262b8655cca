//! Data-connection and transfer-parameter commands: PORT EPRT PASV EPSV
//! TYPE MODE STRU REST ALLO ABOR, with typed parsers for their arguments.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use super::{DataState, Effect, Passive, Session};
use crate::reply;

/// Parse PORT's `h1,h2,h3,h4,p1,p2` (RFC 959 §4.1.2).
pub fn parse_port(arg: &str) -> Option<SocketAddr> {
    let mut n = [0u8; 6];
    let mut parts = arg.trim().split(',');
    for slot in n.iter_mut() {
        *slot = parts.next()?.trim().parse().ok()?;
    }
    if parts.next().is_some() {
        return None;
    }
    let ip = Ipv4Addr::new(n[0], n[1], n[2], n[3]);
    let port = u16::from(n[4]) << 8 | u16::from(n[5]);
    Some(SocketAddr::new(IpAddr::V4(ip), port))
}

/// Why an EPRT argument was refused, in the order pyftpdlib checks.
#[derive(Debug, PartialEq, Eq)]
pub enum EprtError {
    /// Not `<d>proto<d>addr<d>port<d>`, or the port is not a number that
    /// fits 16 bits.
    Format,
    /// A protocol number other than 1 or 2.
    UnknownProtocol,
    /// The address is not one of the protocol's family ("|2|1.2.3.4|").
    Address(Family),
}

/// Parse EPRT's `<d>proto<d>address<d>port<d>` (RFC 2428 §2). The checks
/// run in pyftpdlib's order: shape and port first, then the protocol
/// number, then the address, so that the caller can answer a protocol of
/// the wrong family (522) before looking at its address.
pub fn parse_eprt(arg: &str) -> Result<SocketAddr, EprtError> {
    let delim = arg.chars().next().ok_or(EprtError::Format)?;
    if !(33..=126).contains(&(delim as u32)) {
        return Err(EprtError::Format);
    }
    let parts: Vec<&str> = arg.split(delim).collect();
    if parts.len() != 5 || !parts[0].is_empty() || !parts[4].is_empty() {
        return Err(EprtError::Format);
    }
    let port: u16 = parts[3].parse().map_err(|_| EprtError::Format)?;
    let (family, ip) = match parts[1] {
        "1" => (Family::Ipv4, parts[2].parse().map(IpAddr::V4)),
        "2" => (Family::Ipv6, parts[2].parse().map(IpAddr::V6)),
        _ => return Err(EprtError::UnknownProtocol),
    };
    let ip = ip.map_err(|_| EprtError::Address(family))?;
    Ok(SocketAddr::new(ip, port))
}

/// Parse REST's offset.
pub fn parse_rest(arg: &str) -> Option<u64> {
    let arg = arg.trim();
    if arg.is_empty() || !arg.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    arg.parse().ok()
}

/// An address family by its RFC 2428 network protocol number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Protocol 1.
    Ipv4,
    /// Protocol 2.
    Ipv6,
}

impl Family {
    /// The family of `ip` as written (an IPv4-mapped IPv6 address is IPv6).
    pub fn of(ip: IpAddr) -> Family {
        match ip {
            IpAddr::V4(_) => Family::Ipv4,
            IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// The RFC 2428 protocol number, as replies name it ("use 1").
    pub fn number(self) -> u8 {
        match self {
            Family::Ipv4 => 1,
            Family::Ipv6 => 2,
        }
    }
}

/// EPSV's argument (RFC 2428 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EpsvArg {
    /// No argument: a listener in the control connection's family.
    Any,
    /// `ALL`: from now on only EPSV opens data connections.
    All,
    /// A protocol number: a listener in that family.
    Family(Family),
}

/// EPSV named a protocol number other than 1 or 2.
#[derive(Debug, PartialEq, Eq)]
pub struct UnknownProtocol;

/// Parse EPSV's optional `1`, `2` or `ALL` (any case, spaces around ignored).
pub fn parse_epsv(arg: &str) -> Result<EpsvArg, UnknownProtocol> {
    let arg = arg.trim();
    match arg {
        "" => Ok(EpsvArg::Any),
        "1" => Ok(EpsvArg::Family(Family::Ipv4)),
        "2" => Ok(EpsvArg::Family(Family::Ipv6)),
        _ if arg.eq_ignore_ascii_case("ALL") => Ok(EpsvArg::All),
        _ => Err(UnknownProtocol),
    }
}

/// The representation type set by TYPE (RFC 959 §3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferType {
    /// `A`, `A N`, `L 7`: text, with CRLF line ends on the wire.
    Ascii,
    /// `I`, `L 8`: bytes as they are.
    Binary,
}

/// TYPE's argument is not a type we implement (EBCDIC, Telnet or ASA
/// formats, other byte sizes, garbage: all answered 504).
#[derive(Debug, PartialEq, Eq)]
pub struct UnsupportedType;

/// Parse TYPE's argument; spaces are ignored (`L 8` = `L8`), case too.
pub fn parse_type(arg: &str) -> Result<TransferType, UnsupportedType> {
    let t: String = arg.chars().filter(|c| !c.is_whitespace()).collect();
    match t.to_ascii_uppercase().as_str() {
        "A" | "AN" | "L7" => Ok(TransferType::Ascii),
        "I" | "L8" => Ok(TransferType::Binary),
        _ => Err(UnsupportedType),
    }
}

/// Why a MODE or STRU argument was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum ParamError {
    /// A value RFC 959 defines that we do not implement (504).
    Unimplemented,
    /// Not a value RFC 959 defines (501).
    Unrecognized,
}

/// The transfer mode set by MODE (RFC 959 §3.4): stream is the only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferMode {
    /// `S`.
    Stream,
}

/// Parse MODE's `S`; `B` (block) and `C` (compressed) are unimplemented.
pub fn parse_mode(arg: &str) -> Result<TransferMode, ParamError> {
    match arg.trim().to_ascii_uppercase().as_str() {
        "S" => Ok(TransferMode::Stream),
        "B" | "C" => Err(ParamError::Unimplemented),
        _ => Err(ParamError::Unrecognized),
    }
}

/// The file structure set by STRU (RFC 959 §3.1.2): file is the only one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStructure {
    /// `F`.
    File,
}

/// Parse STRU's `F`; `P` (page) and `R` (record) are unimplemented.
pub fn parse_stru(arg: &str) -> Result<FileStructure, ParamError> {
    match arg.trim().to_ascii_uppercase().as_str() {
        "F" => Ok(FileStructure::File),
        "P" | "R" => Err(ParamError::Unimplemented),
        _ => Err(ParamError::Unrecognized),
    }
}

/// The address family of the control connection: the one data connections use.
fn family_of(s: &Session) -> Family {
    // Behind a proxy, the address the client reached is the PROXY header's
    // destination: an IPv6 client of an IPv4 backend is an IPv6 client.
    Family::of(s.announced.unwrap_or_else(|| s.local.ip()).to_canonical())
}

/// PORT h1,h2,h3,h4,p1,p2.
pub(super) fn port(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if s.refuse_without_tls_data() {
        return;
    }
    if s.epsv_all {
        return s.reply(reply::BAD_ARGUMENT, "PORT not allowed after EPSV ALL.");
    }
    match parse_port(arg) {
        Some(addr) => connect_active(s, "PORT", addr),
        None => s.reply(reply::BAD_ARGUMENT, "Invalid PORT format."),
    }
}

/// EPRT |proto|addr|port|.
pub(super) fn eprt(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if s.refuse_without_tls_data() {
        return;
    }
    if s.epsv_all {
        return s.reply(reply::BAD_ARGUMENT, "EPRT not allowed after EPSV ALL.");
    }
    let family = family_of(s);
    match parse_eprt(arg) {
        Ok(addr) if Family::of(addr.ip()) == family => connect_active(s, "EPRT", addr),
        Ok(_) => {
            let text = format!("Network protocol not supported (use {}).", family.number());
            s.reply(reply::BAD_NETWORK_PROTOCOL, &text)
        }
        Err(EprtError::Address(asked)) if asked != family => {
            let text = format!("Network protocol not supported (use {}).", family.number());
            s.reply(reply::BAD_NETWORK_PROTOCOL, &text)
        }
        Err(EprtError::UnknownProtocol) => {
            let text = format!("Unknown network protocol (use {}).", family.number());
            s.reply(reply::BAD_ARGUMENT, &text)
        }
        // A malformed address of the right family is malformed (pyftpdlib
        // calls an IPv6 one a foreign address).
        Err(EprtError::Format | EprtError::Address(_)) => {
            s.reply(reply::BAD_ARGUMENT, "Invalid EPRT format.")
        }
    }
}

/// Refuse bounce targets (RFC 2577), then ask for an active connection.
fn connect_active(s: &mut Session, cmd: &str, addr: SocketAddr) {
    let ip = addr.ip().to_canonical();
    if !s.cfg.permit_foreign_addresses && ip != s.remote.ip() {
        let text = format!(
            "Rejected data connection to foreign address {}:{}.",
            ip,
            addr.port()
        );
        log::warn!(target: crate::log::LOG, "{} {}", s.prefix, text);
        s.reply(reply::BAD_ARGUMENT, &text);
        return s.log_cmd(cmd, &addr.to_string(), reply::BAD_ARGUMENT, &text);
    }
    if !s.cfg.permit_privileged_ports && addr.port() < 1024 {
        let text = format!(
            "{cmd} against the privileged port \"{}\" refused.",
            addr.port()
        );
        log::warn!(target: crate::log::LOG, "{} {}", s.prefix, text);
        s.reply(reply::BAD_ARGUMENT, &text);
        return s.log_cmd(cmd, &addr.to_string(), reply::BAD_ARGUMENT, &text);
    }
    drop_transfer_state(s);
    s.data.connecting();
    s.effects
        .push(Effect::ConnectActive(SocketAddr::new(ip, addr.port())));
}

/// PASV: IPv4 passive mode.
pub(super) fn pasv(s: &mut Session, _: &str, _: Option<PathBuf>) {
    if s.refuse_without_tls_data() {
        return;
    }
    if s.epsv_all {
        return s.reply(reply::BAD_ARGUMENT, "PASV not allowed after EPSV ALL.");
    }
    if family_of(s) != Family::Ipv4 {
        return s.reply(
            reply::CANT_OPEN_DATA,
            "PASV is IPv4 only on this connection; use EPSV.",
        );
    }
    open_passive(s, Passive::Pasv);
}

/// EPSV [1|2|ALL].
pub(super) fn epsv(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if s.refuse_without_tls_data() {
        return;
    }
    let family = family_of(s);
    match parse_epsv(arg) {
        Ok(EpsvArg::Any) => open_passive(s, Passive::Epsv),
        Ok(EpsvArg::Family(asked)) if asked == family => open_passive(s, Passive::Epsv),
        Ok(EpsvArg::Family(_)) => {
            let text = format!("Network protocol not supported (use {}).", family.number());
            s.reply(reply::BAD_NETWORK_PROTOCOL, &text)
        }
        Ok(EpsvArg::All) => {
            s.epsv_all = true;
            s.reply(reply::OK, "EPSV ALL command successful.");
        }
        Err(UnknownProtocol) => {
            let text = format!("Unknown network protocol (use {}).", family.number());
            s.reply(reply::BAD_ARGUMENT, &text)
        }
    }
}

/// Replace the data connection by a listener, answered with `reply`.
fn open_passive(s: &mut Session, reply: Passive) {
    drop_transfer_state(s);
    s.effects.push(Effect::OpenPassive(reply));
}

/// A new PASV/PORT replaces the previous data connection. A transfer
/// queued on the old one (150 sent, client not yet connected) stays queued
/// and runs on the new connection, as in pyftpdlib.
fn drop_transfer_state(s: &mut Session) {
    if let Some(effect) = s.data.replace() {
        s.effects.push(effect);
    }
}

/// TYPE A | I | L 8.
pub(super) fn type_(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    match parse_type(arg) {
        Ok(TransferType::Ascii) => {
            s.binary = false;
            s.reply(reply::OK, "Type set to: ASCII.");
        }
        Ok(TransferType::Binary) => {
            s.binary = true;
            s.reply(reply::OK, "Type set to: Binary.");
        }
        Err(UnsupportedType) => {
            let text = format!("Unsupported type \"{}\".", super::printable(arg));
            s.reply(reply::NOT_IMPLEMENTED_FOR_ARG, &text);
        }
    }
}

/// MODE S (stream) only.
pub(super) fn mode(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    match parse_mode(arg) {
        Ok(TransferMode::Stream) => s.reply(reply::OK, "Transfer mode set to: S"),
        Err(ParamError::Unimplemented) => {
            s.reply(reply::NOT_IMPLEMENTED_FOR_ARG, "Unimplemented MODE type.")
        }
        Err(ParamError::Unrecognized) => s.reply(reply::BAD_ARGUMENT, "Unrecognized MODE type."),
    }
}

/// STRU F (file) only.
pub(super) fn stru(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    match parse_stru(arg) {
        Ok(FileStructure::File) => s.reply(reply::OK, "File transfer structure set to: F."),
        Err(ParamError::Unimplemented) => {
            s.reply(reply::NOT_IMPLEMENTED_FOR_ARG, "Unimplemented STRU type.")
        }
        Err(ParamError::Unrecognized) => s.reply(reply::BAD_ARGUMENT, "Unrecognized STRU type."),
    }
}

/// REST offset: binary type only (pyftpdlib refuses resuming in ASCII).
pub(super) fn rest(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    let Some(offset) = parse_rest(arg) else {
        return s.reply(reply::BAD_ARGUMENT, "Invalid parameter.");
    };
    if !s.binary {
        return s.reply(
            reply::BAD_ARGUMENT,
            "Resuming transfers not allowed in ASCII mode.",
        );
    }
    s.restart_position = offset;
    let text = format!("Restarting at position {offset}.");
    s.reply(reply::PENDING, &text);
}

/// ALLO: nothing to allocate.
pub(super) fn allo(s: &mut Session, _: &str, _: Option<PathBuf>) {
    s.reply(reply::SUPERFLUOUS, "No storage allocation necessary.");
}

/// ABOR: 225 when nothing runs; 426 + 226 for a running transfer (the
/// replies come with the transfer's outcome).
pub(super) fn abor(s: &mut Session, _: &str, _: Option<PathBuf>) {
    let state = s.data.state();
    if state == DataState::Transferring {
        return s.effects.push(Effect::AbortTransfer);
    }
    let forgotten = s.data.forget_setup();
    if forgotten.connection {
        s.effects.push(Effect::CloseData);
    }
    if forgotten.queued {
        // The queued transfer's 150 is answered (RFC 959 ABOR); a STOU
        // queued before any PASV/PORT too.
        s.reply(reply::TRANSFER_ABORTED, "Transfer aborted via ABOR.");
        return s.reply(reply::TRANSFER_COMPLETE, "ABOR command successful.");
    }
    if state == DataState::Idle {
        return s.reply(reply::DATA_OPEN_NO_TRANSFER, "No transfer to abort.");
    }
    s.reply(
        reply::DATA_OPEN_NO_TRANSFER,
        "ABOR command successful; data channel closed.",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_argument_per_rfc959() {
        assert_eq!(
            parse_port("127,0,0,1,4,1"),
            Some("127.0.0.1:1025".parse().unwrap())
        );
        assert_eq!(parse_port("127,0,0,1,4"), None);
        assert_eq!(parse_port("127,0,0,1,4,1,1"), None);
        assert_eq!(parse_port("256,0,0,1,4,1"), None);
        assert_eq!(parse_port("a,b,c,d,e,f"), None);
    }

    #[test]
    fn eprt_argument_per_rfc2428() {
        assert_eq!(
            parse_eprt("|1|127.0.0.1|6275|"),
            Ok("127.0.0.1:6275".parse().unwrap())
        );
        assert_eq!(
            parse_eprt("|2|::1|6275|"),
            Ok("[::1]:6275".parse().unwrap())
        );
        assert_eq!(
            parse_eprt("!1!127.0.0.1!6275!"),
            Ok("127.0.0.1:6275".parse().unwrap())
        );
        assert_eq!(
            parse_eprt("|3|127.0.0.1|6275|"),
            Err(EprtError::UnknownProtocol)
        );
        // pyftpdlib's order: the port before the protocol, the protocol
        // before the address.
        assert_eq!(parse_eprt("|3|127.0.0.1|x|"), Err(EprtError::Format));
        assert_eq!(
            parse_eprt("|1|::1|6275|"),
            Err(EprtError::Address(Family::Ipv4))
        );
        assert_eq!(
            parse_eprt("|2|bogus|6275|"),
            Err(EprtError::Address(Family::Ipv6))
        );
        // Port 0 parses; the privileged-port check refuses it, as for PORT.
        assert_eq!(
            parse_eprt("|1|127.0.0.1|0|"),
            Ok("127.0.0.1:0".parse().unwrap())
        );
        assert_eq!(parse_eprt("|1|127.0.0.1|70000|"), Err(EprtError::Format));
        assert_eq!(parse_eprt("|1|127.0.0.1|6275"), Err(EprtError::Format));
        assert_eq!(parse_eprt(""), Err(EprtError::Format));
    }

    #[test]
    fn type_argument_per_rfc959() {
        use TransferType::{Ascii, Binary};
        for ascii in ["A", "a", "AN", "a n", "A N", "L7", "l 7", " A "] {
            assert_eq!(parse_type(ascii), Ok(Ascii), "{ascii:?}");
        }
        for binary in ["I", "i", "L8", "L 8", "l8", " I"] {
            assert_eq!(parse_type(binary), Ok(Binary), "{binary:?}");
        }
        for refused in ["", "E", "A T", "A C", "L", "L 16", "I N", "AI", "Z", "é"] {
            assert_eq!(parse_type(refused), Err(UnsupportedType), "{refused:?}");
        }
    }

    #[test]
    fn mode_is_stream_only_per_rfc959() {
        assert_eq!(parse_mode("S"), Ok(TransferMode::Stream));
        assert_eq!(parse_mode(" s "), Ok(TransferMode::Stream));
        assert_eq!(parse_mode("B"), Err(ParamError::Unimplemented));
        assert_eq!(parse_mode("c"), Err(ParamError::Unimplemented));
        for bad in ["", "X", "SS", "S B"] {
            assert_eq!(parse_mode(bad), Err(ParamError::Unrecognized), "{bad:?}");
        }
    }

    #[test]
    fn structure_is_file_only_per_rfc959() {
        assert_eq!(parse_stru("F"), Ok(FileStructure::File));
        assert_eq!(parse_stru("f "), Ok(FileStructure::File));
        assert_eq!(parse_stru("P"), Err(ParamError::Unimplemented));
        assert_eq!(parse_stru("r"), Err(ParamError::Unimplemented));
        for bad in ["", "X", "FF", "F P"] {
            assert_eq!(parse_stru(bad), Err(ParamError::Unrecognized), "{bad:?}");
        }
    }

    #[test]
    fn epsv_argument_per_rfc2428() {
        assert_eq!(parse_epsv(""), Ok(EpsvArg::Any));
        assert_eq!(parse_epsv("  "), Ok(EpsvArg::Any));
        assert_eq!(parse_epsv("1"), Ok(EpsvArg::Family(Family::Ipv4)));
        assert_eq!(parse_epsv(" 2 "), Ok(EpsvArg::Family(Family::Ipv6)));
        assert_eq!(parse_epsv("ALL"), Ok(EpsvArg::All));
        assert_eq!(parse_epsv("all"), Ok(EpsvArg::All));
        for bad in ["3", "0", "01", "ALLX", "1 2", "ipv4"] {
            assert_eq!(parse_epsv(bad), Err(UnknownProtocol), "{bad:?}");
        }
    }

    #[test]
    fn families_are_numbered_per_rfc2428() {
        assert_eq!(Family::of("127.0.0.1".parse().unwrap()).number(), 1);
        assert_eq!(Family::of("::1".parse().unwrap()).number(), 2);
        // A mapped address is written as IPv6: EPRT |2|::ffff:127.0.0.1| on an
        // IPv4 control connection is a 522.
        assert_eq!(
            Family::of("::ffff:127.0.0.1".parse().unwrap()),
            Family::Ipv6
        );
    }

    #[test]
    fn rest_offset_is_a_plain_number() {
        assert_eq!(parse_rest("100"), Some(100));
        assert_eq!(parse_rest("-1"), None);
        assert_eq!(parse_rest("1e3"), None);
        assert_eq!(parse_rest("99999999999999999999999"), None);
    }
}
