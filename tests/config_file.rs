//! `ftpdlib --config PATH` (issue 14): the binary started from a
//! configuration file serves what the file says, the command line wins
//! over it, and a bad line stops start-up naming the file and the line.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The `ftpdlib` binary we started; killed (by its pid) on drop.
struct Ftpd(Child);

impl Drop for Ftpd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Connect to the server on `port`, waiting for it to start (10 s: the
/// machine may be loaded; start-up takes milliseconds).
fn connect(port: u16) -> BufReader<TcpStream> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                return BufReader::new(s);
            }
            Err(e) => assert!(Instant::now() < deadline, "ftpdlib did not start: {e}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cmd(c: &mut BufReader<TcpStream>, line: &str) -> String {
    c.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .unwrap();
    reply(c)
}

fn reply(c: &mut BufReader<TcpStream>) -> String {
    let mut line = String::new();
    c.read_line(&mut line).unwrap();
    line
}

#[test]
fn a_server_started_from_a_config_file_serves_its_settings() {
    let home = tempfile::tempdir().unwrap();
    let conf = home.path().join("ftpdlib.conf");
    std::fs::write(
        &conf,
        format!(
            "# test server\n\
             interface = 127.0.0.1\n\
             port = 1\n\
             banner = \"  from the file  \"\n\
             no-anonymous\n\
             user = alice:secret:{home}:elr\n\
             max-login-attempts = 1\n",
            home = home.path().display()
        ),
    )
    .unwrap();
    // The command line's port wins over the file's `port = 1`: port 0,
    // read back from the start-up line (no port to race for).
    let mut ftpd = Ftpd(
        Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
            .arg("--config")
            .arg(&conf)
            .args(["-p", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run ftpdlib"),
    );
    let port = started_port(&mut ftpd.0);
    assert_ne!(port, 1);
    let mut c = connect(port);
    assert_eq!(reply(&mut c), "220   from the file  \r\n");
    assert!(cmd(&mut c, "USER anonymous").starts_with("331"));
    assert!(cmd(&mut c, "PASS x").starts_with("530"));
    let mut c = connect(port);
    reply(&mut c);
    assert!(cmd(&mut c, "USER alice").starts_with("331"));
    assert!(cmd(&mut c, "PASS secret").starts_with("230"));
}

/// The port of the `>>> starting FTP server on 127.0.0.1:PORT` line; the
/// rest of standard error is drained in a thread.
fn started_port(child: &mut Child) -> u16 {
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut line = String::new();
    loop {
        line.clear();
        let n = err.read_line(&mut line).unwrap();
        assert!(n > 0, "ftpdlib exited before listening");
        if let Some(rest) = line.split("starting FTP server on 127.0.0.1:").nth(1) {
            let port = rest.split(',').next().unwrap().parse().unwrap();
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return port;
        }
    }
}

#[test]
fn a_bad_line_fails_start_up_naming_its_line_number() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "# fine\nport = 2121\n\nmax-cons = many\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ftpdlib"))
        .arg("--config")
        .arg(&conf)
        .stdin(Stdio::null())
        .output()
        .expect("run ftpdlib");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let at = format!("{}:4: --max-cons: invalid number \"many\"", conf.display());
    assert!(stderr.contains(&at), "{stderr}");
}
