//! unix_ftpd: the pyftpdlib tutorial's `unix_ftpd.py` (§3.4, "Unix FTP
//! Server") in Rust, in its pyftpdlib 2.x form: `UnixAuthorizer` plus
//! `UnixFilesystem`.
//!
//! The machine's own accounts log in with their system passwords (the
//! shadow database); each starts in the home directory of the passwd
//! database and every command runs with that user's uid, gid and groups,
//! so the files a user uploads are the user's and the kernel decides what
//! each may read or write. `UnixFilesystem` shows real paths with no
//! confinement; drop that line to keep each user inside their home.
//!
//! It must run as root (to read the shadow database and to switch users):
//!
//! ```text
//! cargo build --release --example unix_ftpd
//! sudo ./target/release/examples/unix_ftpd
//! curl -u alice ftp://127.0.0.1:2121/
//! ```
//!
//! The command line does the same with `ftpdlib --unix-users
//! --rejected-users root --unix-filesystem -w`.

use ftpdlib::{FtpHandler, FtpServer, UnixAuthorizer, UnixAuthorizerOptions, UnixFilesystem};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    ftpdlib::log::config_logging(log::LevelFilter::Info, ftpdlib::log::PREFIX);

    // pyftpdlib: UnixAuthorizer(rejected_users=["root"],
    //                           require_valid_shell=True)
    let authorizer = UnixAuthorizer::with_options(UnixAuthorizerOptions {
        rejected_users: vec!["root".to_string()],
        require_valid_shell: true,
        // anonymous_user: Some("ftp".to_string()),  // serve "anonymous" as `ftp`
        ..UnixAuthorizerOptions::default()
    })?;

    let mut handler = FtpHandler::new(authorizer);
    // pyftpdlib: handler.abstracted_fs = UnixFilesystem
    handler.abstracted_fs = Box::new(|home, _| Box::new(UnixFilesystem::new(home)));

    // Port 2121 rather than the tutorial's 21.
    let mut server = FtpServer::bind(("", 2121), handler)?;
    server.serve_forever()?;
    Ok(())
}
