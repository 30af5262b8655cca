//! Data-connection and transfer-parameter commands: PORT EPRT PASV EPSV
//! TYPE MODE STRU REST ALLO ABOR, with typed parsers for their arguments.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use super::session::{DataState, Effect, Session};
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

/// Why an EPRT argument was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum EprtError {
    /// Not `<d>proto<d>addr<d>port<d>`.
    Format,
    /// A protocol number other than 1 or 2.
    UnknownProtocol,
}

/// Parse EPRT's `<d>proto<d>address<d>port<d>` (RFC 2428 §2).
pub fn parse_eprt(arg: &str) -> Result<SocketAddr, EprtError> {
    let delim = arg.chars().next().ok_or(EprtError::Format)?;
    if !(33..=126).contains(&(delim as u32)) {
        return Err(EprtError::Format);
    }
    let parts: Vec<&str> = arg.split(delim).collect();
    if parts.len() != 5 || !parts[0].is_empty() || !parts[4].is_empty() {
        return Err(EprtError::Format);
    }
    let ip: IpAddr = match parts[1] {
        "1" => IpAddr::V4(parts[2].parse().map_err(|_| EprtError::Format)?),
        "2" => IpAddr::V6(parts[2].parse().map_err(|_| EprtError::Format)?),
        _ => return Err(EprtError::UnknownProtocol),
    };
    let port: u16 = parts[3].parse().map_err(|_| EprtError::Format)?;
    if port == 0 {
        return Err(EprtError::Format);
    }
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

/// The RFC 2428 protocol number of the control connection (1 = IPv4).
fn proto_of(s: &Session) -> u8 {
    if s.local.ip().to_canonical().is_ipv4() {
        1
    } else {
        2
    }
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
    let proto = proto_of(s);
    match parse_eprt(arg) {
        Ok(addr) => {
            let wanted = if addr.is_ipv4() { 1 } else { 2 };
            if wanted != proto {
                let text = format!("Network protocol not supported (use {proto}).");
                return s.reply(reply::BAD_NETWORK_PROTOCOL, &text);
            }
            connect_active(s, "EPRT", addr)
        }
        Err(EprtError::UnknownProtocol) => {
            let text = format!("Unknown network protocol (use {proto}).");
            s.reply(reply::BAD_ARGUMENT, &text)
        }
        Err(EprtError::Format) => s.reply(reply::BAD_ARGUMENT, "Invalid EPRT format."),
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
    s.data = DataState::Connecting;
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
    if proto_of(s) != 1 {
        return s.reply(
            reply::CANT_OPEN_DATA,
            "PASV is IPv4 only on this connection; use EPSV.",
        );
    }
    open_passive(s, false);
}

/// EPSV [1|2|ALL].
pub(super) fn epsv(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if s.refuse_without_tls_data() {
        return;
    }
    let proto = proto_of(s);
    match arg.trim().to_ascii_uppercase().as_str() {
        "" => open_passive(s, true),
        "ALL" => {
            s.epsv_all = true;
            s.reply(reply::OK, "EPSV ALL command successful.");
        }
        "1" | "2" if arg.trim() == proto.to_string() => open_passive(s, true),
        "1" | "2" => {
            let text = format!("Network protocol not supported (use {proto}).");
            s.reply(reply::BAD_NETWORK_PROTOCOL, &text)
        }
        _ => {
            let text = format!("Unknown network protocol (use {proto}).");
            s.reply(reply::BAD_ARGUMENT, &text)
        }
    }
}

fn open_passive(s: &mut Session, extended: bool) {
    drop_transfer_state(s);
    s.effects.push(Effect::OpenPassive { extended });
}

/// A new PASV/PORT replaces the previous data connection. A transfer
/// queued on the old one (150 sent, client not yet connected) stays queued
/// and runs on the new connection, as in pyftpdlib.
fn drop_transfer_state(s: &mut Session) {
    match s.data {
        DataState::Transferring => s.effects.push(Effect::AbortTransfer),
        DataState::None => {}
        _ => s.effects.push(Effect::CloseData),
    }
    s.data = DataState::None;
}

/// TYPE A | I | L 8.
pub(super) fn type_(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    let t: String = arg
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    match t.as_str() {
        "A" | "AN" | "L7" => {
            s.binary = false;
            s.reply(reply::OK, "Type set to: ASCII.");
        }
        "I" | "L8" => {
            s.binary = true;
            s.reply(reply::OK, "Type set to: Binary.");
        }
        _ => {
            let text = format!("Unsupported type \"{}\".", super::session::printable(arg));
            s.reply(reply::NOT_IMPLEMENTED_FOR_ARG, &text);
        }
    }
}

/// MODE S (stream) only.
pub(super) fn mode(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    match arg.trim().to_ascii_uppercase().as_str() {
        "S" => s.reply(reply::OK, "Transfer mode set to: S"),
        "B" | "C" => s.reply(reply::NOT_IMPLEMENTED_FOR_ARG, "Unimplemented MODE type."),
        _ => s.reply(reply::BAD_ARGUMENT, "Unrecognized MODE type."),
    }
}

/// STRU F (file) only.
pub(super) fn stru(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    match arg.trim().to_ascii_uppercase().as_str() {
        "F" => s.reply(reply::OK, "File transfer structure set to: F."),
        "P" | "R" => s.reply(reply::NOT_IMPLEMENTED_FOR_ARG, "Unimplemented STRU type."),
        _ => s.reply(reply::BAD_ARGUMENT, "Unrecognized STRU type."),
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
    match s.data {
        DataState::None => s.reply(reply::DATA_OPEN_NO_TRANSFER, "No transfer to abort."),
        DataState::Transferring => s.effects.push(Effect::AbortTransfer),
        DataState::Listening | DataState::Connecting | DataState::Connected => {
            s.effects.push(Effect::CloseData);
            s.data = DataState::None;
            s.queued = None;
            s.reply(
                reply::DATA_OPEN_NO_TRANSFER,
                "ABOR command successful; data channel closed.",
            );
        }
    }
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
        assert_eq!(parse_eprt("|1|::1|6275|"), Err(EprtError::Format));
        assert_eq!(parse_eprt("|1|127.0.0.1|70000|"), Err(EprtError::Format));
        assert_eq!(parse_eprt("|1|127.0.0.1|6275"), Err(EprtError::Format));
        assert_eq!(parse_eprt(""), Err(EprtError::Format));
    }

    #[test]
    fn rest_offset_is_a_plain_number() {
        assert_eq!(parse_rest("100"), Some(100));
        assert_eq!(parse_rest("-1"), None);
        assert_eq!(parse_rest("1e3"), None);
        assert_eq!(parse_rest("99999999999999999999999"), None);
    }
}
