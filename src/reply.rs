//! Reply codes, named once, and the one place where errors become replies.
//!
//! Texts that porters' scripts may parse are pyftpdlib's (reference §8); the
//! constants below are the codes, the helpers format whole reply lines.

use std::io;

use crate::error::FilesystemError;

/// An FTP reply code (RFC 959 §4.2).
pub type Code = u16;

/// 125 Data connection already open; transfer starting.
pub const DATA_ALREADY_OPEN: Code = 125;
/// 150 File status okay; about to open data connection.
pub const ABOUT_TO_OPEN: Code = 150;
/// 200 Command okay.
pub const OK: Code = 200;
/// 202 Command not implemented, superfluous at this site.
pub const SUPERFLUOUS: Code = 202;
/// 211 System status, or system help reply (FEAT, STAT).
pub const SYSTEM_STATUS: Code = 211;
/// 213 File status (SIZE, MDTM, STAT path).
pub const FILE_STATUS: Code = 213;
/// 214 Help message.
pub const HELP: Code = 214;
/// 215 NAME system type.
pub const SYSTEM_TYPE: Code = 215;
/// 220 Service ready for new user.
pub const READY: Code = 220;
/// 221 Service closing control connection.
pub const CLOSING: Code = 221;
/// 225 Data connection open; no transfer in progress.
pub const DATA_OPEN_NO_TRANSFER: Code = 225;
/// 226 Closing data connection; requested file action successful.
pub const TRANSFER_COMPLETE: Code = 226;
/// 227 Entering Passive Mode.
pub const PASSIVE: Code = 227;
/// 229 Entering Extended Passive Mode (RFC 2428).
pub const EXTENDED_PASSIVE: Code = 229;
/// 230 User logged in, proceed.
pub const LOGGED_IN: Code = 230;
/// 232 User logged in, authorized by security data exchange (RFC 2228):
/// a login by TLS client certificate.
pub const LOGGED_IN_BY_SECURITY: Code = 232;
/// 234 Security data exchange complete: AUTH accepted, the TLS handshake
/// follows (RFC 2228).
pub const SECURITY_EXCHANGE_OK: Code = 234;
/// 250 Requested file action okay, completed.
pub const FILE_ACTION_OK: Code = 250;
/// 257 "PATHNAME" created / is the current directory.
pub const PATH_CREATED: Code = 257;
/// 331 User name okay, need password.
pub const NEED_PASSWORD: Code = 331;
/// 350 Requested file action pending further information (REST, RNFR).
pub const PENDING: Code = 350;
/// 421 Service not available, closing control connection.
pub const NOT_AVAILABLE: Code = 421;
/// 425 Can't open data connection.
pub const CANT_OPEN_DATA: Code = 425;
/// 426 Connection closed; transfer aborted.
pub const TRANSFER_ABORTED: Code = 426;
/// 450 Requested file action not taken (file unavailable).
pub const FILE_UNAVAILABLE: Code = 450;
/// 451 Requested action aborted: local error in processing.
pub const LOCAL_ERROR: Code = 451;
/// 452 Requested action not taken: insufficient storage space.
pub const NO_SPACE: Code = 452;
/// 500 Syntax error, command unrecognized (or line too long).
pub const UNKNOWN_COMMAND: Code = 500;
/// 501 Syntax error in parameters or arguments.
pub const BAD_ARGUMENT: Code = 501;
/// 502 Command not implemented.
pub const NOT_IMPLEMENTED: Code = 502;
/// 503 Bad sequence of commands.
pub const BAD_SEQUENCE: Code = 503;
/// 504 Command not implemented for that parameter.
pub const NOT_IMPLEMENTED_FOR_ARG: Code = 504;
/// 521 Data connection cannot be opened with this PROT setting (RFC 4217);
/// pyftpdlib's answer to PROT S and PROT E.
pub const PROT_NOT_USABLE: Code = 521;
/// 522 Network protocol not supported (RFC 2428).
pub const BAD_NETWORK_PROTOCOL: Code = 522;
/// 530 Not logged in.
pub const NOT_LOGGED_IN: Code = 530;
/// 533 Command protection level denied for policy reasons (RFC 2228):
/// CCC sent on a control connection that is not protected.
pub const PROTECTION_DENIED: Code = 533;
/// 534 Request denied for policy reasons (RFC 2228): PROT C when TLS is
/// required on the data channel.
pub const DENIED_BY_POLICY: Code = 534;
/// 550 Requested action not taken (file unavailable, no access, outside home).
pub const ACTION_NOT_TAKEN: Code = 550;
/// 552 Requested file action aborted: exceeded storage allocation.
pub const STORAGE_EXCEEDED: Code = 552;
/// 554 Requested action not taken: invalid REST parameter (RFC 1123).
pub const INVALID_REST: Code = 554;

/// pyftpdlib's text for a file-system error: the OS message with its first
/// letter capitalised and a final dot, e.g. `No such file or directory.`
/// A [`FilesystemError`] inside the error supplies its own text.
pub fn strerror(err: &io::Error) -> String {
    if let Some(fe) = err
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<FilesystemError>())
    {
        return with_dot(&fe.0);
    }
    let text = match err.raw_os_error() {
        Some(code) => os_message(code),
        None => err.to_string(),
    };
    with_dot(&text)
}

/// The code for an error of an upload's file writes: 452 when the disk is
/// full or the quota exceeded, 451 for other local errors.
pub fn write_error_code(err: &io::Error) -> Code {
    match err.raw_os_error() {
        Some(libc::ENOSPC) => NO_SPACE,
        Some(libc::EDQUOT) => STORAGE_EXCEEDED,
        _ => LOCAL_ERROR,
    }
}

/// The OS error message without std's " (os error N)" suffix.
fn os_message(code: i32) -> String {
    let full = io::Error::from_raw_os_error(code).to_string();
    match full.rfind(" (os error") {
        Some(i) => full[..i].to_string(),
        None => full,
    }
}

fn with_dot(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 1);
    let mut chars = text.chars();
    if let Some(first) = chars.next() {
        s.extend(first.to_uppercase());
        s.push_str(chars.as_str());
    }
    if !s.ends_with('.') {
        s.push('.');
    }
    s
}

/// Append one reply to `out`. A text with several lines becomes a multi-line
/// reply (`code-first`, ` middle`, `code last`) as RFC 959 §4.2 describes.
pub fn push(out: &mut Vec<u8>, code: Code, text: &str) {
    let mut lines = text.split('\n').peekable();
    let mut first = true;
    while let Some(line) = lines.next() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let last = lines.peek().is_none();
        if first || last {
            push_code(out, code);
            out.push(if last { b' ' } else { b'-' });
        } else {
            out.push(b' ');
        }
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        first = false;
    }
}

/// Append a 220/230/221-style message: a text over 75 characters becomes
/// `code-text` followed by `code ` (pyftpdlib's rule for banner and login
/// messages).
pub fn push_long(out: &mut Vec<u8>, code: Code, text: &str) {
    if text.len() > 75 && !text.contains('\n') {
        push_code(out, code);
        out.push(b'-');
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(b"\r\n");
        push_code(out, code);
        out.extend_from_slice(b" \r\n");
    } else {
        push(out, code, text);
    }
}

/// A multi-line reply built a line at a time, for replies whose lines are
/// data rather than one message (FEAT, HELP, STAT, MLST): `code-first`,
/// body lines each behind one space (so none can pass for a final line,
/// RFC 959 §4.2), `code last`. The code is written once, here.
///
/// ```
/// let mut lines = ftpdlib::reply::MultiLine::new(ftpdlib::reply::HELP, "Commands:");
/// lines.line("NOOP");
/// let (code, text) = lines.end("Done.");
/// assert_eq!((code, text.as_str()), (214, "214-Commands:\r\n NOOP\r\n214 Done.\r\n"));
/// ```
pub struct MultiLine {
    code: Code,
    text: String,
}

impl MultiLine {
    /// A reply with `code` whose first line is `first`.
    pub fn new(code: Code, first: &str) -> MultiLine {
        let mut text = String::with_capacity(first.len() + 64);
        push_code_str(&mut text, code);
        text.push('-');
        text.push_str(first);
        text.push_str("\r\n");
        MultiLine { code, text }
    }

    /// Append a body line.
    pub fn line(&mut self, body: &str) {
        self.text.push(' ');
        self.text.push_str(body);
        self.text.push_str("\r\n");
    }

    /// End with the last line: the code and the whole reply.
    pub fn end(mut self, last: &str) -> (Code, String) {
        push_code_str(&mut self.text, self.code);
        self.text.push(' ');
        self.text.push_str(last);
        self.text.push_str("\r\n");
        (self.code, self.text)
    }
}

fn push_code_str(out: &mut String, code: Code) {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let _ = write!(out, "{:03}", code.min(999));
}

fn push_code(out: &mut Vec<u8>, code: Code) {
    let code = code.min(999);
    out.extend_from_slice(&[
        b'0' + (code / 100) as u8,
        b'0' + (code / 10 % 10) as u8,
        b'0' + (code % 10) as u8,
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_line_reply() {
        let mut out = Vec::new();
        push(&mut out, OK, "Type set to: Binary.");
        assert_eq!(out, b"200 Type set to: Binary.\r\n");
    }

    #[test]
    fn multi_line_reply_per_rfc959() {
        let mut out = Vec::new();
        push(
            &mut out,
            SYSTEM_STATUS,
            "Features supported:\nEPRT\nEnd FEAT.",
        );
        assert_eq!(
            out,
            b"211-Features supported:\r\n EPRT\r\n211 End FEAT.\r\n"
        );
    }

    #[test]
    fn multi_line_reply_built_line_by_line_per_rfc959() {
        let mut lines = MultiLine::new(SYSTEM_STATUS, "Features supported:");
        lines.line("EPRT");
        lines.line("MLST type*;size*;");
        assert_eq!(
            lines.end("End FEAT."),
            (
                SYSTEM_STATUS,
                "211-Features supported:\r\n EPRT\r\n MLST type*;size*;\r\n211 End FEAT.\r\n"
                    .to_string()
            )
        );
        let empty = MultiLine::new(HELP, "none:");
        assert_eq!(empty.end("ok").1, "214-none:\r\n214 ok\r\n");
    }

    #[test]
    fn long_banner_is_split() {
        let mut out = Vec::new();
        let text = "x".repeat(80);
        push_long(&mut out, READY, &text);
        assert_eq!(out, format!("220-{text}\r\n220 \r\n").into_bytes());
    }

    #[test]
    fn strerror_matches_pyftpdlib_text() {
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(strerror(&e), "No such file or directory.");
        let e = io::Error::other(FilesystemError("custom failure".into()));
        assert_eq!(strerror(&e), "Custom failure.");
    }

    #[test]
    fn write_errors_map_to_452_and_451() {
        assert_eq!(
            write_error_code(&io::Error::from_raw_os_error(libc::ENOSPC)),
            NO_SPACE
        );
        assert_eq!(
            write_error_code(&io::Error::from_raw_os_error(libc::EIO)),
            LOCAL_ERROR
        );
    }
}
