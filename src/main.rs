//! The `ftpdlib` command: pyftpdlib's `python -m pyftpdlib`, same options.
//!
//! With no option it serves the current directory read-only to anonymous
//! users on port 2121. Run `ftpdlib --help` for the list.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ftpdlib::{DummyAuthorizer, FtpHandler, FtpServer};

const USAGE: &str = "\
Usage: ftpdlib [options]

Start a stand alone anonymous FTP server (pyftpdlib's command line).

Options:
  -h, --help                  show this help and exit
  -v, --version               print the version and exit
  -i, --interface ADDRESS     bind address (default: all interfaces)
  -p, --port PORT             port (default: 2121)
  -w, --write                 grant write access to logged-in users (default: read-only)
  -d, --directory PATH        directory to serve (default: current directory)
  -n, --nat-address ADDRESS   NAT address announced in PASV replies
  -r, --range FROM-TO         port range for passive connections (e.g. 8000-9000)
  -D, --debug                 enable DEBUG logging (commands and replies)
  -u, --username USERNAME     a named user, instead of anonymous (needs -P)
  -P, --password PASSWORD     password of -u
      --user NAME:PASSWORD:HOME:PERMS
                              add a virtual user (repeatable); PERMS are letters of
                              elradfmwMT; anonymous stays on unless --no-anonymous
      --anonymous DIR         home directory of anonymous (default: -d)
      --no-anonymous          no anonymous access
      --timeout SECONDS       idle timeout of control and data connections (default: 300, 0 = off)
      --banner TEXT           the 220 greeting
      --permit-foreign-addresses
                              allow data connections to/from foreign addresses (FXP)
      --permit-privileged-ports
                              allow PORT/EPRT to ports below 1024
      --encoding NAME         wire encoding (only utf8)
      --use-localtime         list times in local time instead of UTC
      --disable-sendfile      do not use sendfile(2) for downloads
      --max-cons N            maximum simultaneous connections (default: 512, 0 = unlimited)
      --max-cons-per-ip N     maximum connections per IP address (default: 0 = unlimited)
      --max-login-attempts N  failed logins before disconnect (default: 3)
";

/// Parsed command line.
#[derive(Debug, Default)]
struct Options {
    interface: String,
    port: u16,
    write: bool,
    directory: Option<PathBuf>,
    nat_address: Option<std::net::IpAddr>,
    range: Option<(u16, u16)>,
    debug: bool,
    username: Option<String>,
    password: Option<String>,
    users: Vec<(String, String, PathBuf, String)>,
    anonymous_dir: Option<PathBuf>,
    no_anonymous: bool,
    timeout: Option<u64>,
    banner: Option<String>,
    permit_foreign_addresses: bool,
    permit_privileged_ports: bool,
    encoding: Option<String>,
    use_localtime: bool,
    disable_sendfile: bool,
    max_cons: usize,
    max_cons_per_ip: usize,
    max_login_attempts: u32,
}

enum Parsed {
    Run(Box<Options>),
    Exit(&'static str),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let opts = match parse(&args) {
        Ok(Parsed::Run(o)) => o,
        Ok(Parsed::Exit(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("ftpdlib: error: {msg}\n(see ftpdlib --help)");
            return ExitCode::from(2);
        }
    };
    let level = if opts.debug {
        log::LevelFilter::Debug
    } else {
        log::LevelFilter::Info
    };
    ftpdlib::log::config_logging(level, ftpdlib::log::PREFIX);
    match serve(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ftpdlib: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(o: &Options) -> Result<(), ftpdlib::Error> {
    let cwd = std::env::current_dir()?;
    let directory = o.directory.clone().unwrap_or(cwd);
    let perm = if o.write { "elradfmwMT" } else { "elr" };
    let mut auth = DummyAuthorizer::new();
    if let Some(user) = &o.username {
        auth.add_user(user, o.password.as_deref().unwrap_or(""), &directory, perm)?;
    } else if !o.no_anonymous {
        let home = o.anonymous_dir.as_ref().unwrap_or(&directory);
        auth.add_anonymous_with(home, perm, "Login successful.", "Goodbye.")?;
    }
    for (name, password, home, perms) in &o.users {
        auth.add_user(name, password, home, perms)?;
    }
    let mut handler = FtpHandler::new(auth);
    if let Some(b) = &o.banner {
        handler.banner = b.clone();
    }
    handler.masquerade_address = o.nat_address;
    handler.passive_ports = o.range.map(|(a, b)| a..=b);
    if let Some(t) = o.timeout {
        handler.timeout = Duration::from_secs(t);
        handler.dtp_handler.timeout = Duration::from_secs(t);
    }
    handler.permit_foreign_addresses = o.permit_foreign_addresses;
    handler.permit_privileged_ports = o.permit_privileged_ports;
    if let Some(e) = &o.encoding {
        handler.encoding = e.clone();
    }
    handler.use_gmt_times = !o.use_localtime;
    handler.use_sendfile = !o.disable_sendfile;
    handler.max_login_attempts = o.max_login_attempts;
    let mut server = FtpServer::bind((o.interface.as_str(), o.port), handler)?;
    server.max_cons = o.max_cons;
    server.max_cons_per_ip = o.max_cons_per_ip;
    server.serve_forever()
}

fn parse(args: &[String]) -> Result<Parsed, String> {
    let mut o = Options {
        port: 2121,
        max_cons: 512,
        max_login_attempts: 3,
        ..Options::default()
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it.next().cloned().ok_or(format!("{what} needs a value")),
            }
        };
        match name {
            "-h" | "--help" => return Ok(Parsed::Exit(USAGE)),
            "-v" | "--version" => {
                return Ok(Parsed::Exit(concat!(
                    "ftpdlib ",
                    env!("CARGO_PKG_VERSION"),
                    "\n"
                )))
            }
            "-i" | "--interface" => o.interface = value(name)?,
            "-p" | "--port" => o.port = number(name, &value(name)?)?,
            "-w" | "--write" => o.write = true,
            "-d" | "--directory" => o.directory = Some(existing_dir(&value(name)?)?),
            "-n" | "--nat-address" => {
                o.nat_address = Some(
                    value(name)?
                        .parse()
                        .map_err(|_| format!("{name}: not an IP address"))?,
                )
            }
            "-r" | "--range" => o.range = Some(port_range(&value(name)?)?),
            "-D" | "--debug" => o.debug = true,
            "-u" | "--username" => o.username = Some(value(name)?),
            "-P" | "--password" => o.password = Some(value(name)?),
            "--user" => o.users.push(user_spec(&value(name)?)?),
            "--anonymous" => o.anonymous_dir = Some(existing_dir(&value(name)?)?),
            "--no-anonymous" => o.no_anonymous = true,
            "--timeout" => o.timeout = Some(number(name, &value(name)?)?),
            "--banner" => o.banner = Some(value(name)?),
            "--permit-foreign-addresses" => o.permit_foreign_addresses = true,
            "--permit-privileged-ports" => o.permit_privileged_ports = true,
            "--encoding" => o.encoding = Some(value(name)?),
            "--use-localtime" => o.use_localtime = true,
            "--disable-sendfile" => o.disable_sendfile = true,
            "--max-cons" => o.max_cons = number(name, &value(name)?)?,
            "--max-cons-per-ip" => o.max_cons_per_ip = number(name, &value(name)?)?,
            "--max-login-attempts" => o.max_login_attempts = number(name, &value(name)?)?,
            other => return Err(format!("unrecognized argument {other:?}")),
        }
    }
    if o.username.is_some() != o.password.is_some() {
        return Err("-u/--username and -P/--password go together".into());
    }
    Ok(Parsed::Run(Box::new(o)))
}

fn number<T: std::str::FromStr>(name: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{name}: invalid number {text:?}"))
}

fn existing_dir(text: &str) -> Result<PathBuf, String> {
    let p = PathBuf::from(text);
    if p.is_dir() {
        Ok(p)
    } else {
        Err(format!("{text:?} is not a directory"))
    }
}

fn port_range(text: &str) -> Result<(u16, u16), String> {
    let (a, b) = text.split_once('-').ok_or("--range: expected FROM-TO")?;
    let (a, b): (u16, u16) = (number("--range", a)?, number("--range", b)?);
    if a == 0 || a >= b {
        return Err("--range: expected 1 <= FROM < TO <= 65535".into());
    }
    Ok((a, b))
}

/// `NAME:PASSWORD:HOME:PERMS`; the password may contain ':' (the home and
/// perms are taken from the right).
fn user_spec(text: &str) -> Result<(String, String, PathBuf, String), String> {
    let (name, rest) = text
        .split_once(':')
        .ok_or("--user: expected NAME:PASSWORD:HOME:PERMS")?;
    let (rest, perms) = rest
        .rsplit_once(':')
        .ok_or("--user: expected NAME:PASSWORD:HOME:PERMS")?;
    let (password, home) = rest
        .rsplit_once(':')
        .ok_or("--user: expected NAME:PASSWORD:HOME:PERMS")?;
    if name.is_empty() || home.is_empty() {
        return Err("--user: name and home must not be empty".into());
    }
    Ok((
        name.into(),
        password.into(),
        existing_dir(home)?,
        perms.into(),
    ))
}
