//! unix_ftpd: the pyftpdlib tutorial's `unix_ftpd.py` (§3.4, "Unix FTP
//! Server") in Rust.
//!
//! The tutorial's `UnixAuthorizer` subclasses `DummyAuthorizer`: its
//! `add_user` adds an existing system account (home from the passwd
//! database unless given), its `add_anonymous(homedir, realuser="nobody")`
//! serves "anonymous" as a system account, its `validate_authentication`
//! checks the shadow password and its `impersonate_user` /
//! `terminate_impersonation` switch the effective ids around every file
//! operation. ftpdlib's [`UnixAuthorizer`] does all of that itself, with
//! the same `add_user` and `add_anonymous`; every command of a session runs
//! with the user's uid, gid and groups. Only the added users (and
//! anonymous) may log in, as in the tutorial.
//!
//! It must run as root (to read the shadow database and to switch users).
//! The accounts to add are the arguments after the port (default: `user`,
//! as in the tutorial, which must exist):
//!
//! ```text
//! cargo build --release --example unix_ftpd
//! sudo ./target/release/examples/unix_ftpd 2121 alice bob
//! curl -u alice ftp://127.0.0.1:2121/
//! ```
//!
//! The tutorial's users see the whole machine through their real paths;
//! pyftpdlib 2.x spells that `UnixFilesystem`, used here. Drop that line
//! to keep each user inside their home. The command line does much the
//! same with `ftpdlib --unix-users --unix-filesystem -w`.

use ftpdlib::{FtpHandler, FtpServer, UnixAuthorizer, UnixFilesystem};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let port: u16 = args.next().map_or(Ok(2121), |p| p.parse())?;
    let mut users: Vec<String> = args.collect();
    if users.is_empty() {
        users.push("user".to_string());
    }

    let mut authorizer = UnixAuthorizer::new()?;
    // add a user (note: user must already exist)
    for user in &users {
        authorizer.add_user(user, None, "elradfmw")?;
    }
    // anonymous sessions run as "nobody", in the current directory
    authorizer.add_anonymous(Some(std::path::Path::new(".")), "nobody")?;

    let mut handler = FtpHandler::new(authorizer);
    // pyftpdlib 2.x: handler.abstracted_fs = UnixFilesystem
    handler.abstracted_fs = Box::new(|home, _| Box::new(UnixFilesystem::new(home)));

    // Port 2121 rather than the tutorial's 21.
    let mut server = FtpServer::bind(("", port), handler)?;
    server.serve_forever()?;
    Ok(())
}
