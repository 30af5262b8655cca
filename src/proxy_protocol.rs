//! The PROXY protocol (versions 1 and 2, as HAProxy's `proxy-protocol.txt`
//! specifies them): the header a TCP load balancer sends in front of a
//! connection to tell the server who the client really is. ftpdlib
//! extension (pyftpdlib has none).
//!
//! This module is sans-IO: [`parse`] looks at the bytes received so far and
//! says whether they hold a complete header, need more bytes, are not a
//! PROXY header at all, or are a broken one. The server peeks at the socket,
//! calls [`parse`], and consumes exactly [`Parsed::Header`]'s `len` bytes, so
//! whatever follows (an FTP command, a TLS ClientHello, upload data) stays
//! in the socket untouched.
//!
//! The settings that turn it on live on
//! [`FtpHandler`](crate::FtpHandler): `proxy_protocol`, `trusted_proxies`,
//! `proxy_data`, `proxy_header_timeout`; `docs/cluster.md` tells the story.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// Longest version 1 header, CRLF included (the specification's 107 bytes).
pub const V1_MAX: usize = 107;
/// The fixed part of a version 2 header.
pub const V2_FIXED: usize = 16;
/// Longest address block plus TLVs accepted after a version 2 header's
/// fixed part. The specification allows 65535; ftpdlib refuses more than
/// this (HAProxy's own TLVs take a few hundred bytes at most).
pub const V2_MAX_BODY: usize = 1024;
/// Longest header of either version: what a reader must be able to hold.
pub const MAX_HEADER: usize = V2_FIXED + V2_MAX_BODY;

/// The 12 bytes every version 2 header starts with.
const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// What every version 1 header starts with.
const V1_PREFIX: &[u8; 6] = b"PROXY ";

/// Whether and how a listener expects PROXY headers (ftpdlib extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyProtocol {
    /// No header is read; the socket's addresses are the session's.
    #[default]
    Off,
    /// A trusted peer may send a header; without one the connection is
    /// plain FTP. An untrusted peer's bytes are always FTP input (so a
    /// header from it is an unknown command).
    Optional,
    /// Every connection must come from a trusted proxy and start with a
    /// header; others are closed without a greeting.
    Required,
}

impl FromStr for ProxyProtocol {
    type Err = String;

    /// `off`, `optional` or `required`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "off" | "no" | "false" => Ok(ProxyProtocol::Off),
            "optional" => Ok(ProxyProtocol::Optional),
            "required" | "on" => Ok(ProxyProtocol::Required),
            _ => Err(format!(
                "{s:?}: expected off, optional or required for the PROXY protocol"
            )),
        }
    }
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare
/// address for one host), for `trusted_proxies`. ftpdlib extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// The network of `addr` with a `prefix`-bit mask; `None` when the
    /// prefix is longer than the address.
    pub fn new(addr: IpAddr, prefix: u8) -> Option<Cidr> {
        let bits = if addr.is_ipv4() { 32 } else { 128 };
        (prefix <= bits).then_some(Cidr { addr, prefix })
    }

    /// Whether `ip` is inside this network (IPv4-mapped IPv6 addresses
    /// count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => masked(
                u128::from(u32::from(net)),
                u128::from(u32::from(ip)),
                32,
                self.prefix,
            ),
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

fn masked(net: u128, ip: u128, bits: u32, prefix: u8) -> bool {
    let shift = bits - u32::from(prefix);
    if shift >= bits {
        return true;
    }
    (net >> shift) == (ip >> shift)
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Cidr, String> {
        let bad = || format!("{s:?}: expected an address or ADDRESS/PREFIX");
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let addr = addr.to_canonical();
        let full = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => full,
        };
        Cidr::new(addr, prefix).ok_or_else(bad)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parse a comma-separated list of networks (`--trusted-proxies`).
pub fn parse_cidr_list(text: &str) -> Result<Vec<Cidr>, String> {
    text.split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse)
        .collect()
}

/// Whether `ip` is in one of `nets`.
pub fn is_trusted(nets: &[Cidr], ip: IpAddr) -> bool {
    nets.iter().any(|n| n.contains(ip))
}

/// A complete PROXY header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// 1 or 2.
    pub version: u8,
    /// The client's address (source) and the address it connected to on
    /// the proxy (destination). `None` for a version 2 LOCAL header, a
    /// version 1 `UNKNOWN` one, or an address family that is not TCP over
    /// IP: the connection's own addresses then stay in force (health
    /// checks send these).
    pub addresses: Option<(SocketAddr, SocketAddr)>,
}

/// What [`parse`] found at the start of the bytes received so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parsed {
    /// The bytes are a prefix of a header: read more.
    Incomplete,
    /// The bytes do not start with a PROXY signature.
    NotProxy,
    /// A header of `len` bytes; what follows belongs to the connection.
    Header {
        /// The header.
        header: Header,
        /// Its length in bytes.
        len: usize,
    },
}

/// Why a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseError {
    /// Longer than [`V1_MAX`] or [`MAX_HEADER`].
    TooLong,
    /// Not a valid header of its version.
    Invalid(&'static str),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::TooLong => f.write_str("PROXY header too long"),
            ParseError::Invalid(why) => write!(f, "invalid PROXY header: {why}"),
        }
    }
}

impl std::error::Error for ParseError {}

/// Look at `buf`, the first bytes of a connection, for a PROXY header.
pub fn parse(buf: &[u8]) -> Result<Parsed, ParseError> {
    if starts_like(buf, V2_SIGNATURE) {
        if buf.len() < V2_SIGNATURE.len() {
            return Ok(Parsed::Incomplete);
        }
        return parse_v2(buf);
    }
    if starts_like(buf, V1_PREFIX) {
        if buf.len() < V1_PREFIX.len() {
            return Ok(Parsed::Incomplete);
        }
        return parse_v1(buf);
    }
    Ok(Parsed::NotProxy)
}

/// Whether `buf` and `sig` agree on their common length (an empty buffer
/// agrees with everything).
fn starts_like(buf: &[u8], sig: &[u8]) -> bool {
    let n = buf.len().min(sig.len());
    buf[..n] == sig[..n]
}

fn parse_v1(buf: &[u8]) -> Result<Parsed, ParseError> {
    let window = &buf[..buf.len().min(V1_MAX)];
    let Some(lf) = window.iter().position(|&b| b == b'\n') else {
        return if buf.len() >= V1_MAX {
            Err(ParseError::TooLong)
        } else {
            Ok(Parsed::Incomplete)
        };
    };
    let line = &window[..lf];
    let Some(line) = line.strip_suffix(b"\r") else {
        return Err(ParseError::Invalid("version 1 line must end with CRLF"));
    };
    let text = std::str::from_utf8(line).map_err(|_| ParseError::Invalid("not ASCII"))?;
    let header = v1_fields(text)?;
    Ok(Parsed::Header {
        header,
        len: lf + 1,
    })
}

fn v1_fields(text: &str) -> Result<Header, ParseError> {
    let mut parts = text.split(' ');
    let _proxy = parts.next();
    let proto = parts.next().unwrap_or("");
    if proto == "UNKNOWN" {
        // The rest of the line, whatever it is, is to be ignored.
        return Ok(Header {
            version: 1,
            addresses: None,
        });
    }
    let v6 = match proto {
        "TCP4" => false,
        "TCP6" => true,
        _ => {
            return Err(ParseError::Invalid(
                "version 1 protocol must be TCP4, TCP6 or UNKNOWN",
            ))
        }
    };
    let fields: Vec<&str> = parts.collect();
    let [src, dst, sport, dport] = fields[..] else {
        return Err(ParseError::Invalid("version 1 needs 4 address fields"));
    };
    let ip = |s: &str| -> Result<IpAddr, ParseError> {
        let bad = ParseError::Invalid("bad version 1 address");
        if v6 {
            s.parse::<Ipv6Addr>().map(IpAddr::V6).map_err(|_| bad)
        } else {
            s.parse::<Ipv4Addr>().map(IpAddr::V4).map_err(|_| bad)
        }
    };
    let port = |s: &str| -> Result<u16, ParseError> {
        let ok = !s.is_empty()
            && s.len() <= 5
            && s.bytes().all(|b| b.is_ascii_digit())
            && (s == "0" || !s.starts_with('0'));
        ok.then(|| s.parse::<u16>().ok())
            .flatten()
            .ok_or(ParseError::Invalid("bad version 1 port"))
    };
    let source = SocketAddr::new(ip(src)?, port(sport)?);
    let destination = SocketAddr::new(ip(dst)?, port(dport)?);
    Ok(Header {
        version: 1,
        addresses: Some((source, destination)),
    })
}

fn parse_v2(buf: &[u8]) -> Result<Parsed, ParseError> {
    if buf.len() < V2_FIXED {
        return Ok(Parsed::Incomplete);
    }
    let ver_cmd = buf[12];
    if ver_cmd >> 4 != 2 {
        return Err(ParseError::Invalid(
            "version 2 signature with another version",
        ));
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(ParseError::Invalid("unknown version 2 command")),
    };
    let fam = buf[13];
    let body_len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if body_len > V2_MAX_BODY {
        return Err(ParseError::TooLong);
    }
    let len = V2_FIXED + body_len;
    if buf.len() < len {
        return Ok(Parsed::Incomplete);
    }
    let body = &buf[V2_FIXED..len];
    let addresses = if local {
        // LOCAL: the proxy's own connection (a health check); the address
        // block, if any, is ignored.
        None
    } else {
        v2_addresses(fam, body)?
    };
    Ok(Parsed::Header {
        header: Header {
            version: 2,
            addresses,
        },
        len,
    })
}

/// The addresses of a PROXY command; TLVs after them are skipped.
fn v2_addresses(fam: u8, body: &[u8]) -> Result<Option<(SocketAddr, SocketAddr)>, ParseError> {
    let short = ParseError::Invalid("version 2 address block too short");
    match fam {
        // AF_UNSPEC: addresses unknown.
        0x00 => Ok(None),
        // TCP over IPv4.
        0x11 => {
            let b: &[u8; 12] = body
                .get(..12)
                .and_then(|s| s.try_into().ok())
                .ok_or(short)?;
            let ip = |i: usize| IpAddr::V4(Ipv4Addr::new(b[i], b[i + 1], b[i + 2], b[i + 3]));
            let port = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
            Ok(Some((
                SocketAddr::new(ip(0), port(8)),
                SocketAddr::new(ip(4), port(10)),
            )))
        }
        // TCP over IPv6.
        0x21 => {
            let b: &[u8; 36] = body
                .get(..36)
                .and_then(|s| s.try_into().ok())
                .ok_or(short)?;
            let ip = |i: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&b[i..i + 16]);
                IpAddr::V6(Ipv6Addr::from(o))
            };
            let port = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
            Ok(Some((
                SocketAddr::new(ip(0), port(32)),
                SocketAddr::new(ip(16), port(34)),
            )))
        }
        // A stream over a UNIX socket: no IP address to take.
        0x31 => Ok(None),
        0x12 | 0x22 | 0x32 => Err(ParseError::Invalid(
            "datagram transport on a TCP connection",
        )),
        _ => Err(ParseError::Invalid("unknown version 2 address family")),
    }
}

#[cfg(test)]
mod tests;
