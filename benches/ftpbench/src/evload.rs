//! Event-driven load for the two rate scenarios (logins/s and small-file
//! transfers/s): every client is a state machine on non-blocking sockets in
//! one epoll loop (mio), so the generator spends its CPU on the sockets and
//! not on switching between dozens of blocked threads. Every step of every
//! client has a deadline; the loop is bounded by the shared count and time
//! budget plus one socket timeout.

use crate::ftp::parse_pasv;
use crate::{Budget, Tally};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// connect, USER, PASS, QUIT, wait for the server's close; again.
    Logins,
    /// log in once, then PASV, connect, RETR, read to EOF and 226; again.
    Small,
}

pub struct Params<'a> {
    pub addr: SocketAddr,
    pub user: &'a str,
    pub pass: &'a str,
    pub file: &'a str,
    pub clients: usize,
    pub timeout: Duration,
    pub mode: Mode,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum St {
    /// Not connected; may start at `wake`.
    Off,
    Greet,
    User,
    Pass,
    Type,
    /// Logged in, between transfers.
    Ready,
    Pasv,
    DataConnecting,
    Retr,
    Quit,
    WaitEof,
}

struct Conn {
    ctrl: Option<TcpStream>,
    data: Option<TcpStream>,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    st: St,
    /// Start of the measured operation.
    op_start: Instant,
    /// Deadline of the current step.
    deadline: Instant,
    /// Earliest restart after an error.
    wake: Instant,
    got_prelim: bool,
    got_final: bool,
    data_eof: bool,
    /// Leaving: no new operation, QUIT and close.
    leaving: bool,
    done: bool,
}

pub struct Result {
    pub tally: Tally,
    pub bytes: u64,
    /// From the start to the end of the last completed operation.
    pub secs: f64,
}

fn ctrl_token(i: usize) -> Token {
    Token(i * 2)
}
fn data_token(i: usize) -> Token {
    Token(i * 2 + 1)
}

/// Take one complete reply off the front of `buf`: (code, last line).
fn take_reply(buf: &mut Vec<u8>) -> Option<io::Result<(u16, String)>> {
    let mut pos = 0;
    let mut code: Option<u16> = None;
    loop {
        let nl = buf[pos..].iter().position(|&b| b == b'\n')? + pos;
        let line = &buf[pos..nl];
        let is_code = line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit);
        let c = if is_code {
            Some(
                (line[0] - b'0') as u16 * 100
                    + (line[1] - b'0') as u16 * 10
                    + (line[2] - b'0') as u16,
            )
        } else {
            None
        };
        match code {
            None => {
                let Some(c) = c else {
                    let l = String::from_utf8_lossy(line).into_owned();
                    buf.drain(..=nl);
                    return Some(Err(crate::ftp::err(format!("bad reply line {l:?}"))));
                };
                if line[3] == b'-' {
                    code = Some(c);
                } else {
                    let text = String::from_utf8_lossy(&line[4..]).trim_end().to_string();
                    buf.drain(..=nl);
                    return Some(Ok((c, text)));
                }
            }
            Some(want) => {
                if c == Some(want) && line[3] == b' ' {
                    let text = String::from_utf8_lossy(&line[4..]).trim_end().to_string();
                    buf.drain(..=nl);
                    return Some(Ok((want, text)));
                }
            }
        }
        pos = nl + 1;
    }
}

struct Engine<'a> {
    p: &'a Params<'a>,
    poll: Poll,
    conns: Vec<Conn>,
    budget: &'a Budget,
    tally: Tally,
    bytes: u64,
    buf: Vec<u8>,
    last_done: Instant,
}

impl<'a> Engine<'a> {
    fn fail(&mut self, i: usize, e: impl ToString) {
        self.tally.error(format!(
            "{}: {}",
            state_name(self.conns[i].st),
            e.to_string()
        ));
        self.reset(i);
        let c = &mut self.conns[i];
        c.wake = Instant::now() + Duration::from_millis(10);
    }

    /// Drop both sockets; the client starts over (or is done when leaving).
    fn reset(&mut self, i: usize) {
        let c = &mut self.conns[i];
        if let Some(mut s) = c.ctrl.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        if let Some(mut s) = c.data.take() {
            let _ = self.poll.registry().deregister(&mut s);
        }
        c.inbuf.clear();
        c.out.clear();
        c.st = St::Off;
        if c.leaving {
            c.done = true;
        }
    }

    fn step(&mut self, i: usize, st: St) {
        let c = &mut self.conns[i];
        c.st = st;
        c.deadline = Instant::now() + self.p.timeout;
    }

    fn send(&mut self, i: usize, line: &str) -> io::Result<()> {
        let c = &mut self.conns[i];
        c.out.extend_from_slice(line.as_bytes());
        c.out.extend_from_slice(b"\r\n");
        self.flush(i)
    }

    fn flush(&mut self, i: usize) -> io::Result<()> {
        let c = &mut self.conns[i];
        let Some(s) = c.ctrl.as_mut() else {
            return Ok(());
        };
        while !c.out.is_empty() {
            match s.write(&c.out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    c.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Rare with replies this small: wait for writability.
                    self.poll.registry().reregister(
                        s,
                        ctrl_token(i),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Start a client: connect (or, logged in, the next transfer).
    fn start(&mut self, i: usize) -> io::Result<()> {
        let now = Instant::now();
        let c = &mut self.conns[i];
        if c.leaving || c.done {
            return Ok(());
        }
        match c.st {
            St::Off => {
                if now < c.wake {
                    return Ok(());
                }
                if self.p.mode == Mode::Logins && !self.budget.take() {
                    c.leaving = true;
                    c.done = true;
                    return Ok(());
                }
                let mut s = TcpStream::connect(self.p.addr)?;
                s.set_nodelay(true)?;
                self.poll
                    .registry()
                    .register(&mut s, ctrl_token(i), Interest::READABLE)?;
                let c = &mut self.conns[i];
                c.ctrl = Some(s);
                c.op_start = now;
                self.step(i, St::Greet);
            }
            St::Ready => {
                if !self.budget.take() {
                    self.conns[i].leaving = true;
                    self.send(i, "QUIT")?;
                    self.step(i, St::Quit);
                    return Ok(());
                }
                let c = &mut self.conns[i];
                c.op_start = now;
                c.got_prelim = false;
                c.got_final = false;
                c.data_eof = false;
                self.send(i, "PASV")?;
                self.step(i, St::Pasv);
            }
            _ => {}
        }
        Ok(())
    }

    fn on_reply(&mut self, i: usize, code: u16, text: &str) -> io::Result<()> {
        let st = self.conns[i].st;
        let bad = || Err(crate::ftp::err(format!("unexpected reply {code} {text}")));
        match (st, code) {
            (St::Greet, 220) => {
                let u = format!("USER {}", self.p.user);
                self.send(i, &u)?;
                self.step(i, St::User);
            }
            (St::User, 331) => {
                let p = format!("PASS {}", self.p.pass);
                self.send(i, &p)?;
                self.step(i, St::Pass);
            }
            (St::User, 230) | (St::Pass, 230) => match self.p.mode {
                Mode::Logins => {
                    self.send(i, "QUIT")?;
                    self.step(i, St::Quit);
                }
                Mode::Small => {
                    self.send(i, "TYPE I")?;
                    self.step(i, St::Type);
                }
            },
            (St::Type, 200) => {
                self.step(i, St::Ready);
                self.start(i)?;
            }
            (St::Pasv, 227) => {
                let port =
                    parse_pasv(text).ok_or_else(|| crate::ftp::err(format!("bad PASV {text}")))?;
                let mut d = TcpStream::connect(SocketAddr::new(self.p.addr.ip(), port))?;
                self.poll.registry().register(
                    &mut d,
                    data_token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                self.conns[i].data = Some(d);
                self.step(i, St::DataConnecting);
            }
            (St::Retr, 125 | 150) if !self.conns[i].got_prelim => {
                self.conns[i].got_prelim = true;
            }
            (St::Retr, 226 | 250) if self.conns[i].got_prelim => {
                self.conns[i].got_final = true;
                self.maybe_done_transfer(i)?;
            }
            (St::Quit, 221) => self.step(i, St::WaitEof),
            _ => return bad(),
        }
        Ok(())
    }

    fn maybe_done_transfer(&mut self, i: usize) -> io::Result<()> {
        let c = &self.conns[i];
        if c.got_final && c.data_eof {
            let now = Instant::now();
            self.tally
                .lat_us
                .push(now.duration_since(c.op_start).as_micros() as u64);
            self.last_done = now;
            self.step(i, St::Ready);
            self.start(i)?;
        }
        Ok(())
    }

    fn on_ctrl(&mut self, i: usize) -> io::Result<()> {
        if !self.conns[i].out.is_empty() {
            self.flush(i)?;
            if self.conns[i].out.is_empty() {
                if let Some(s) = self.conns[i].ctrl.as_mut() {
                    self.poll
                        .registry()
                        .reregister(s, ctrl_token(i), Interest::READABLE)?;
                }
            }
        }
        let mut eof = false;
        loop {
            let Some(s) = self.conns[i].ctrl.as_mut() else {
                return Ok(());
            };
            match s.read(&mut self.buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    let c = &mut self.conns[i];
                    c.inbuf.extend_from_slice(&self.buf[..n]);
                    if c.inbuf.len() > 64 << 10 {
                        return Err(crate::ftp::err("reply too long"));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        while let Some(r) = take_reply(&mut self.conns[i].inbuf) {
            let (code, text) = r?;
            self.on_reply(i, code, &text)?;
        }
        if eof {
            if self.conns[i].st == St::WaitEof {
                if self.p.mode == Mode::Logins {
                    let now = Instant::now();
                    let d = now.duration_since(self.conns[i].op_start);
                    self.tally.lat_us.push(d.as_micros() as u64);
                    self.last_done = now;
                }
                self.reset(i);
                if self.p.mode == Mode::Small {
                    self.conns[i].done = true;
                } else {
                    self.start(i)?;
                }
            } else {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "server closed the control connection",
                ));
            }
        }
        Ok(())
    }

    fn on_data(&mut self, i: usize, writable: bool) -> io::Result<()> {
        if self.conns[i].st == St::DataConnecting {
            if !writable {
                // Readable before writable only on error or early data;
                // fall through to the connect check below anyway.
            }
            let d = self.conns[i].data.as_mut().unwrap();
            if let Some(e) = d.take_error()? {
                return Err(e);
            }
            match d.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(e),
            }
            self.poll
                .registry()
                .reregister(d, data_token(i), Interest::READABLE)?;
            let cmd = format!("RETR {}", self.p.file);
            self.send(i, &cmd)?;
            self.step(i, St::Retr);
        }
        loop {
            let Some(d) = self.conns[i].data.as_mut() else {
                return Ok(());
            };
            match d.read(&mut self.buf) {
                Ok(0) => {
                    let mut d = self.conns[i].data.take().unwrap();
                    let _ = self.poll.registry().deregister(&mut d);
                    self.conns[i].data_eof = true;
                    return self.maybe_done_transfer(i);
                }
                Ok(n) => self.bytes += n as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

fn state_name(st: St) -> &'static str {
    match st {
        St::Off => "connect",
        St::Greet => "greeting",
        St::User => "USER",
        St::Pass => "PASS",
        St::Type => "TYPE",
        St::Ready => "ready",
        St::Pasv => "PASV",
        St::DataConnecting => "data connect",
        St::Retr => "RETR",
        St::Quit => "QUIT",
        St::WaitEof => "close after QUIT",
    }
}

/// Run the load until the budget is spent; bounded by the budget's deadline
/// plus one socket timeout, whatever the server does.
pub fn run(p: &Params, budget: &Budget) -> io::Result<Result> {
    let now = Instant::now();
    let mut e = Engine {
        p,
        poll: Poll::new()?,
        conns: (0..p.clients)
            .map(|_| Conn {
                ctrl: None,
                data: None,
                inbuf: Vec::with_capacity(512),
                out: Vec::with_capacity(128),
                st: St::Off,
                op_start: now,
                deadline: now + p.timeout,
                wake: now,
                got_prelim: false,
                got_final: false,
                data_eof: false,
                leaving: false,
                done: false,
            })
            .collect(),
        budget,
        tally: Tally::default(),
        bytes: 0,
        buf: vec![0u8; 64 << 10],
        last_done: now,
    };
    let t0 = Instant::now();
    let hard_stop = budget.deadline + p.timeout + Duration::from_secs(1);
    let mut events = Events::with_capacity(1024);
    for i in 0..p.clients {
        if let Err(err) = e.start(i) {
            e.fail(i, err);
        }
    }
    let mut last_sweep = Instant::now();
    loop {
        if e.conns.iter().all(|c| c.done) {
            break;
        }
        let now = Instant::now();
        if now >= hard_stop {
            e.tally
                .error("hard time bound reached with clients still busy");
            break;
        }
        e.poll.poll(&mut events, Some(Duration::from_millis(20)))?;
        for ev in events.iter() {
            let i = ev.token().0 / 2;
            let res = if ev.token().0 % 2 == 0 {
                e.on_ctrl(i)
            } else {
                e.on_data(i, ev.is_writable())
            };
            if let Err(err) = res {
                e.fail(i, err);
            }
        }
        let now = Instant::now();
        if now.duration_since(last_sweep) >= Duration::from_millis(20) {
            last_sweep = now;
            for i in 0..e.conns.len() {
                let c = &e.conns[i];
                if c.done {
                    continue;
                }
                if c.st == St::Off {
                    // Restart after an error (or a stop once leaving).
                    if c.leaving || now >= budget.deadline {
                        e.conns[i].leaving = true;
                        e.conns[i].done = true;
                    } else if let Err(err) = e.start(i) {
                        e.fail(i, err);
                    }
                } else if now >= c.deadline {
                    e.fail(i, "timed out");
                    if now >= budget.deadline {
                        e.conns[i].done = true;
                    }
                }
            }
        }
    }
    for i in 0..e.conns.len() {
        e.reset(i);
    }
    let secs = e.last_done.duration_since(t0).as_secs_f64().max(1e-6);
    Ok(Result {
        tally: e.tally,
        bytes: e.bytes,
        secs,
    })
}
