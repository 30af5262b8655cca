//! stor_policy: an upload policy the pyftpdlib way, a subclass of
//! `FTPHandler` whose `ftp_STOR` checks the file name and then calls the
//! parent's `ftp_STOR`:
//!
//! ```python
//! class PolicyHandler(FTPHandler):
//!     def ftp_STOR(self, file, mode="w"):
//!         if not file.lower().endswith(ALLOWED):
//!             self.respond("553 Only .txt and .csv uploads are accepted.")
//!             return
//!         return super().ftp_STOR(file, mode)
//! ```
//!
//! In ftpdlib the replacement is a [`Command`] of the same name that runs
//! the built-in with [`CommandContext::run_builtin`]; the login and the
//! `w` permission are checked before either runs, as for the built-in.
//! A `pre_process_command` hook logs every upload attempt.
//!
//! ```text
//! cargo run --example stor_policy         # port 2121, or: -- 2122
//! curl -u user:12345 -T notes.txt ftp://127.0.0.1:2121/   # stored
//! curl -u user:12345 -T tool.exe ftp://127.0.0.1:2121/    # 553
//! ```
//!
//! [`CommandContext::run_builtin`]: ftpdlib::CommandContext::run_builtin

use ftpdlib::{
    Command, CommandContext, DummyAuthorizer, FtpHandler, FtpServer, Hooks, PathRule, Perm,
};

/// File name endings accepted for upload.
const ALLOWED: [&str; 2] = [".txt", ".csv"];

/// def ftp_STOR(self, file, mode="w")
fn stor(ctx: &mut CommandContext<'_>) {
    let name = ctx.arg().to_ascii_lowercase();
    if !ALLOWED.iter().any(|ext| name.ends_with(ext)) {
        ctx.respond("553 Only .txt and .csv uploads are accepted.");
        return;
    }
    // super().ftp_STOR(file, mode)
    ctx.run_builtin();
}

/// def pre_process_command(self, line, cmd, arg)
struct AuditUploads;

impl Hooks for AuditUploads {
    fn pre_process_command(&self, ctx: &mut CommandContext<'_>) -> bool {
        if ctx.command() == "STOR" {
            ctx.log(&format!("upload attempt: {}", ctx.arg()));
        }
        true
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(2121), |p| p.parse())?;

    let mut authorizer = DummyAuthorizer::new();
    authorizer.add_user_with_perm("user", "12345", ".", "elradfmwMT")?;
    let mut handler = FtpHandler::new(authorizer);
    handler.add_command(
        Command::new(
            "STOR",
            "Syntax: STOR <SP> file-name (store a .txt or .csv file).",
            stor,
        )
        .perm(Perm::Store)
        .path(PathRule::Arg),
    );
    handler.hooks = Box::new(AuditUploads);
    let mut server = FtpServer::bind(("", port), handler)?;
    server.serve_forever()?;
    Ok(())
}
