//! A minimal blocking FTP client over raw sockets: just what the scenarios
//! need (login, TYPE, PASV, RETR/STOR/LIST/MLSD, a few file commands).
//! Every socket gets a connect, read and write timeout. With TLS (see
//! [`Ftp::secure`] and [`Ftp::protect`]) the control connection and every
//! data connection are in TLS (RFC 4217).

use crate::tls::{self, Sock};
use rustls::{ClientConfig, HandshakeKind};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// A reply: its three-digit code and the text of its last line.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    pub fn class(&self) -> u16 {
        self.code / 100
    }
}

pub fn err(msg: impl Into<String>) -> io::Error {
    io::Error::other(msg.into())
}

fn unexpected(cmd: &str, r: &Reply) -> io::Error {
    err(format!(
        "{cmd}: unexpected reply {} {}",
        r.code,
        r.text.trim_end()
    ))
}

pub struct Ftp {
    rd: BufReader<Sock>,
    peer: IpAddr,
    timeout: Duration,
    line: String,
    /// After `PROT P`: the configuration the data connections use.
    data_tls: Option<Arc<ClientConfig>>,
    /// Protocol version and cipher suite of the secured control connection.
    pub tls_desc: Option<String>,
    /// Whether the control connection's handshake resumed an earlier
    /// session (abbreviated handshake) rather than doing a full one.
    pub tls_resumed: bool,
    /// Data connections whose TLS handshake was a full one.
    pub data_full: u64,
}

pub fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| err(format!("cannot resolve {host}")))
}

fn connect_stream(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&addr, timeout)?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.set_nodelay(true)?;
    Ok(s)
}

impl Ftp {
    /// Connect and read the 220 greeting.
    pub fn connect(addr: SocketAddr, timeout: Duration) -> io::Result<Ftp> {
        let s = connect_stream(addr, timeout)?;
        let mut f = Ftp {
            rd: BufReader::with_capacity(4096, Sock::Plain(s)),
            peer: addr.ip(),
            timeout,
            line: String::with_capacity(256),
            data_tls: None,
            tls_desc: None,
            tls_resumed: false,
            data_full: 0,
        };
        let r = f.reply()?;
        if r.code != 220 {
            return Err(unexpected("greeting", &r));
        }
        Ok(f)
    }

    /// Connect, USER, PASS.
    pub fn login(addr: SocketAddr, timeout: Duration, user: &str, pass: &str) -> io::Result<Ftp> {
        let mut f = Ftp::connect(addr, timeout)?;
        f.do_login(user, pass)?;
        Ok(f)
    }

    /// `AUTH TLS` and the TLS handshake on the control connection.
    pub fn secure(&mut self, cfg: &Arc<ClientConfig>) -> io::Result<()> {
        let r = self.cmd("AUTH TLS")?;
        if r.code != 234 {
            return Err(unexpected("AUTH TLS", &r));
        }
        if !self.rd.buffer().is_empty() {
            return Err(err("AUTH TLS: bytes after the 234 reply"));
        }
        let Sock::Plain(s) = self.rd.get_ref() else {
            return Err(err("AUTH TLS: already in TLS"));
        };
        // A second descriptor of the same socket: the old one closes with
        // the old reader without touching the connection.
        let s = tls::handshake(cfg, self.peer, s.try_clone()?)?;
        self.tls_desc = Some(tls::describe(&s.conn));
        self.tls_resumed = s.conn.handshake_kind() == Some(HandshakeKind::Resumed);
        self.rd = BufReader::with_capacity(4096, Sock::Tls(Box::new(s)));
        Ok(())
    }

    /// `PBSZ 0` and `PROT P`: data connections in TLS from now on.
    pub fn protect(&mut self, cfg: &Arc<ClientConfig>) -> io::Result<()> {
        self.cmd_ok("PBSZ 0")?;
        self.cmd_ok("PROT P")?;
        self.data_tls = Some(Arc::clone(cfg));
        Ok(())
    }

    pub fn do_login(&mut self, user: &str, pass: &str) -> io::Result<()> {
        let r = self.cmd(&format!("USER {user}"))?;
        if r.code == 230 {
            return Ok(());
        }
        if r.code != 331 {
            return Err(unexpected("USER", &r));
        }
        let r = self.cmd(&format!("PASS {pass}"))?;
        if r.code != 230 {
            return Err(unexpected("PASS", &r));
        }
        Ok(())
    }

    /// Read one (possibly multi-line) reply.
    pub fn reply(&mut self) -> io::Result<Reply> {
        let mut code: Option<u16> = None;
        // Bounded: a reply of more than 10,000 lines is an error.
        for _ in 0..10_000 {
            self.line.clear();
            let n = self.rd.read_line(&mut self.line)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "control connection closed",
                ));
            }
            let b = self.line.as_bytes();
            let is_code = b.len() >= 4 && b[..3].iter().all(u8::is_ascii_digit);
            match code {
                None => {
                    if !is_code {
                        return Err(err(format!("bad reply line {:?}", self.line)));
                    }
                    let c: u16 = self.line[..3].parse().unwrap();
                    if b[3] == b'-' {
                        code = Some(c);
                        continue;
                    }
                    return Ok(Reply {
                        code: c,
                        text: self.line[4..].trim_end().to_string(),
                    });
                }
                Some(c) => {
                    if is_code && b[3] == b' ' && self.line[..3].parse::<u16>().ok() == Some(c) {
                        return Ok(Reply {
                            code: c,
                            text: self.line[4..].trim_end().to_string(),
                        });
                    }
                }
            }
        }
        Err(err("reply too long"))
    }

    pub fn send(&mut self, line: &str) -> io::Result<()> {
        let mut buf = Vec::with_capacity(line.len() + 2);
        buf.extend_from_slice(line.as_bytes());
        buf.extend_from_slice(b"\r\n");
        let s = self.rd.get_mut();
        s.write_all(&buf)?;
        s.flush()
    }

    pub fn cmd(&mut self, line: &str) -> io::Result<Reply> {
        self.send(line)?;
        self.reply()
    }

    /// Send a command and require a reply of class 2.
    pub fn cmd_ok(&mut self, line: &str) -> io::Result<Reply> {
        let r = self.cmd(line)?;
        if r.class() != 2 {
            return Err(unexpected(line, &r));
        }
        Ok(r)
    }

    pub fn quit(mut self) {
        let _ = self.cmd("QUIT");
    }

    /// QUIT, the 221, then wait (bounded by the read timeout) for the
    /// server to close: a login is complete once its session is gone, as
    /// in the event-driven logins load. With TLS the end is the server's
    /// close_notify or the TCP close.
    pub fn quit_wait_close(mut self) -> io::Result<()> {
        let r = self.cmd("QUIT")?;
        if r.code != 221 {
            return Err(unexpected("QUIT", &r));
        }
        let mut buf = [0u8; 512];
        loop {
            match self.rd.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(()),
                Err(e) => return Err(err(format!("close after QUIT: {e}"))),
            }
        }
    }

    /// PASV, then connect the data channel (to the control peer's address:
    /// the address in the reply is ignored, as most clients do).
    pub fn pasv_connect(&mut self) -> io::Result<TcpStream> {
        let r = self.cmd("PASV")?;
        if r.code != 227 {
            return Err(unexpected("PASV", &r));
        }
        let port = parse_pasv(&r.text).ok_or_else(|| err(format!("bad PASV reply {}", r.text)))?;
        connect_stream(SocketAddr::new(self.peer, port), self.timeout)
    }

    /// Start a transfer command on an open data connection: require a
    /// preliminary (1xx) reply, or fail with the reply. After `PROT P`,
    /// then the TLS handshake on the data connection (as Python's ftplib
    /// and curl do it). A data handshake that did not resume the control
    /// connection's session is counted (`data_full`), not refused: servers
    /// differ (pure-ftpd neither requires nor, here, grants resumption on
    /// data connections) and a full handshake per transfer is part of what
    /// such a server costs.
    fn start(&mut self, line: &str, data: TcpStream) -> io::Result<Sock> {
        let r = self.cmd(line)?;
        if r.class() != 1 {
            return Err(unexpected(line, &r));
        }
        let Some(cfg) = self.data_tls.clone() else {
            return Ok(Sock::Plain(data));
        };
        let s = tls::handshake(&cfg, self.peer, data)
            .map_err(|e| err(format!("{line}: data connection: {e}")))?;
        if s.conn.handshake_kind() != Some(HandshakeKind::Resumed) {
            self.data_full += 1;
        }
        Ok(Sock::Tls(Box::new(s)))
    }

    fn finish(&mut self, line: &str) -> io::Result<()> {
        let r = self.reply()?;
        if r.class() != 2 {
            return Err(unexpected(line, &r));
        }
        Ok(())
    }

    /// Download command (`RETR x`, `LIST x`, `MLSD x`…) read to the end into
    /// `buf` chunks; `sink` sees every chunk and may stop the transfer by
    /// returning false (then the data socket is closed and the final reply
    /// is still read). Returns the byte count.
    pub fn download(
        &mut self,
        line: &str,
        buf: &mut [u8],
        mut sink: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<u64> {
        let data = self.pasv_connect()?;
        let mut data = self.start(line, data)?;
        let mut total = 0u64;
        let mut aborted = false;
        loop {
            let n = match data.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            total += n as u64;
            if !sink(&buf[..n]) {
                aborted = true;
                break;
            }
        }
        if aborted {
            let _ = data.tcp().shutdown(Shutdown::Both);
            drop(data);
            // The server answers 426 (transfer aborted) or 226; either is fine.
            let r = self.reply()?;
            if r.class() != 2 && r.class() != 4 {
                return Err(unexpected(line, &r));
            }
            return Ok(total);
        }
        drop(data);
        self.finish(line)?;
        Ok(total)
    }

    /// Upload: STOR `path` with `total` bytes taken from `chunk` repeatedly;
    /// `keep_going` may end the upload early. Returns the bytes sent.
    pub fn upload(
        &mut self,
        line: &str,
        chunk: &[u8],
        total: u64,
        mut keep_going: impl FnMut(u64) -> bool,
    ) -> io::Result<u64> {
        let data = self.pasv_connect()?;
        let mut data = self.start(line, data)?;
        let mut sent = 0u64;
        while sent < total && keep_going(sent) {
            let n = chunk.len().min((total - sent) as usize);
            data.write_all(&chunk[..n])?;
            sent += n as u64;
        }
        data.finish_upload()?;
        drop(data);
        self.finish(line)?;
        Ok(sent)
    }
}

/// Port of a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` reply.
pub fn parse_pasv(text: &str) -> Option<u16> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let nums: Vec<u32> = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(6)
        .map(|s| s.parse().ok())
        .collect::<Option<Vec<u32>>>()?;
    if nums.len() != 6 || nums[4] > 255 || nums[5] > 255 {
        return None;
    }
    Some((nums[4] * 256 + nums[5]) as u16)
}

#[cfg(test)]
mod tests {
    use super::parse_pasv;

    #[test]
    fn pasv() {
        assert_eq!(
            parse_pasv("Entering Passive Mode (127,0,0,1,117,49)."),
            Some(30001)
        );
        assert_eq!(
            parse_pasv("Entering passive mode (127,0,0,1,4,1)"),
            Some(1025)
        );
        assert_eq!(parse_pasv("nope"), None);
    }
}
