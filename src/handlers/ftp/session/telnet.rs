//! The Telnet layer of the control connection (RFC 959 §4.1.3, RFC 854):
//! what is left of a line once the Telnet commands in it are taken out.
//!
//! A client aborting a transfer the RFC 959 way (ftp(1) and its kin) sends
//! Telnet "Interrupt Process" (`IAC IP`, `FF F4`), then the Telnet "Synch"
//! (`IAC DM`, `FF F2`, the DM byte sent as TCP urgent data), then `ABOR`;
//! STAT may come the same way. The control socket reads urgent data in line
//! (`SO_OOBINLINE`, as pyftpdlib), so every byte of the sequence usually
//! arrives in the line, but a middlebox may drop the urgent byte or the
//! IAC before it. Whatever arrives, the line must still be `ABOR`:
//!
//! - [`strip`] removes well-formed Telnet commands (`IAC` followed by a
//!   command byte, with its option byte for WILL/WONT/DO/DONT, and
//!   subnegotiations up to `IAC SE`); `IAC IAC` is one literal 0xFF byte;
//!   a lone `IAC` before an ordinary byte is dropped, the byte kept;
//! - [`urgent_command`] is pyftpdlib's fallback for what is still left: a
//!   first word that ends in `ABOR`, `STAT` or `QUIT` after bytes that are
//!   not text (a DM whose IAC was lost) is that command.

use std::borrow::Cow;

/// "Interpret as command".
const IAC: u8 = 0xff;
/// Subnegotiation begin / end.
const SB: u8 = 0xfa;
const SE: u8 = 0xf0;
/// WILL, WONT, DO, DONT: followed by one option byte.
const WILL: u8 = 0xfb;
/// The lowest command byte (SE).
const FIRST_COMMAND: u8 = SE;

/// The line with its Telnet commands removed (RFC 854); borrowed when it
/// holds none.
pub(super) fn strip(line: &[u8]) -> Cow<'_, [u8]> {
    if !line.contains(&IAC) {
        return Cow::Borrowed(line);
    }
    let mut out = Vec::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] != IAC {
            out.push(line[i]);
            i += 1;
            continue;
        }
        match line.get(i + 1).copied() {
            // IAC IAC: a data byte 255.
            Some(IAC) => {
                out.push(IAC);
                i += 2;
            }
            // IAC WILL/WONT/DO/DONT option.
            Some(b) if b >= WILL => i += 3,
            // IAC SB ... IAC SE: skip the whole subnegotiation.
            Some(SB) => i = subnegotiation_end(line, i + 2),
            // IAC IP, IAC DM, IAC NOP...: two bytes.
            Some(b) if b >= FIRST_COMMAND => i += 2,
            // A lone IAC (its command byte lost) or IAC at the end.
            _ => i += 1,
        }
    }
    Cow::Owned(out)
}

/// Just after the `IAC SE` that ends a subnegotiation starting at `from`,
/// or the end of the line.
fn subnegotiation_end(line: &[u8], from: usize) -> usize {
    let mut i = from;
    while i + 1 < line.len() {
        if line[i] == IAC && line[i + 1] == SE {
            return i + 2;
        }
        i += 1;
    }
    line.len()
}

/// pyftpdlib's Telnet fallback on raw bytes: when the first word ends in
/// `ABOR`, `STAT` or `QUIT` (any case) after bytes that are not text, the
/// line from that command on.
pub(super) fn urgent_command(line: &[u8]) -> Option<&[u8]> {
    let word_end = line.iter().position(|&b| b == b' ').unwrap_or(line.len());
    let start = word_end.checked_sub(4)?;
    let (garbage, name) = (&line[..start], &line[start..word_end]);
    let urgent = ["ABOR", "STAT", "QUIT"]
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c.as_bytes()));
    let not_text = !garbage.is_empty() && garbage.iter().all(|b| !(0x20..0x80).contains(b));
    (urgent && not_text).then(|| &line[start..])
}

#[cfg(test)]
mod tests {
    use super::{strip, urgent_command};

    #[test]
    fn interrupt_and_synch_are_removed_per_rfc854() {
        assert_eq!(&*strip(b"\xff\xf4\xff\xf2ABOR"), b"ABOR");
        assert_eq!(&*strip(b"\xff\xf4\xff\xf2STAT"), b"STAT");
        assert_eq!(&*strip(b"NOOP"), b"NOOP");
    }

    #[test]
    fn iac_iac_is_one_literal_ff() {
        assert_eq!(&*strip(b"STOR a\xff\xffb"), b"STOR a\xffb");
    }

    #[test]
    fn whatever_part_of_the_sequence_arrives_leaves_abor() {
        // The urgent DM was taken out of band: IAC IP IAC, then ABOR.
        assert_eq!(&*strip(b"\xff\xf4\xffABOR"), b"ABOR");
        // Only IAC IP.
        assert_eq!(&*strip(b"\xff\xf4ABOR"), b"ABOR");
        // IAC at the very end.
        assert_eq!(&*strip(b"ABOR\xff"), b"ABOR");
        // The IAC of the Synch lost: a bare DM byte remains for the fallback.
        assert_eq!(&*strip(b"\xff\xf4\xf2ABOR"), b"\xf2ABOR");
        assert_eq!(urgent_command(b"\xf2ABOR"), Some(&b"ABOR"[..]));
    }

    #[test]
    fn option_negotiation_and_subnegotiation_are_removed() {
        assert_eq!(&*strip(b"\xff\xfb\x01NOOP"), b"NOOP");
        assert_eq!(&*strip(b"\xff\xfe\x22NOOP"), b"NOOP");
        assert_eq!(&*strip(b"\xff\xfa\x18\x00xterm\xff\xf0NOOP"), b"NOOP");
        assert_eq!(&*strip(b"NOOP\xff\xfa\x18"), b"NOOP");
    }

    #[test]
    fn fallback_only_for_abor_stat_quit_after_non_text() {
        assert_eq!(urgent_command(b"\xf2stat /x"), Some(&b"stat /x"[..]));
        assert_eq!(urgent_command(b"\xf2\xf4QUIT"), Some(&b"QUIT"[..]));
        assert_eq!(urgent_command(b"\xf2NOOP"), None);
        assert_eq!(urgent_command(b"ABOR"), None);
        assert_eq!(urgent_command(b"xABOR"), None);
        assert_eq!(urgent_command(b"BOR"), None);
        assert_eq!(urgent_command(b"RETR \xf2ABOR"), None);
    }
}
