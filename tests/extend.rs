//! Override one method, keep the rest (pyftpdlib's subclassing), over real
//! sockets: a command that runs the built-in, sends its own data and
//! closes; `pre_process_command` refusing commands; hooks that reply and
//! close; a file-system factory that sees the user; a listing format of
//! one's own.

mod common;

use std::ffi::OsStr;
use std::io::{self, Read};
use std::path::Path;

use common::{code_of, Client, TestServer};
use ftpdlib::{
    AbstractedFs, Command, CommandContext, Filesystem, FilesystemOverrides, Hooks, PathRule, Perm,
    SessionInfo, Subclass,
};

#[test]
fn a_replacement_runs_the_builtin_after_its_check() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.add_command(
                Command::new(
                    "DELE",
                    "Syntax: DELE <SP> file-name (delete file).",
                    |ctx| {
                        if ctx.arg().starts_with("keep") {
                            ctx.respond("550 This one stays.");
                        } else {
                            assert!(ctx.run_builtin());
                        }
                    },
                )
                .perm(Perm::Delete)
                .path(PathRule::Arg),
            );
        },
    );
    std::fs::write(srv.root().join("keep.txt"), b"x").unwrap();
    std::fs::write(srv.root().join("gone.txt"), b"x").unwrap();
    let mut c = srv.login();
    let reply = c.expect("DELE keep.txt", 550);
    assert!(reply.contains("This one stays."), "{reply}");
    c.expect("DELE gone.txt", 250);
    assert!(srv.root().join("keep.txt").exists());
    assert!(!srv.root().join("gone.txt").exists());
    // The built-in's own errors come through.
    c.expect("DELE gone.txt", 550);
    // The row's checks ran before the closure: outside home.
    c.expect("DELE ../../etc/passwd", 550);
}

#[test]
fn a_command_sends_its_own_data_then_another_closes_the_session() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.add_command(
                Command::new("SITE DUMP", "Syntax: SITE DUMP (send some data).", |ctx| {
                    ctx.push_dtp_data(b"generated\r\ndata\r\n".to_vec());
                })
                .arg(ftpdlib::ArgRule::Forbidden),
            );
            h.add_command(
                Command::new("SITE BYE", "Syntax: SITE BYE (close).", |ctx| {
                    ctx.push("221-Closing\r\n");
                    ctx.respond("221 now.");
                    ctx.logline("closing on request");
                    ctx.close();
                })
                .arg(ftpdlib::ArgRule::Forbidden),
            );
        },
    );
    let mut c = srv.login();
    // No data connection yet: 425, nothing else.
    c.expect("SITE DUMP", 425);
    let (data, end) = c.retrieve("SITE DUMP");
    assert_eq!(data, b"generated\r\ndata\r\n");
    assert_eq!(code_of(&end), 226, "{end}");
    let reply = c.cmd("SITE BYE");
    assert!(
        reply.starts_with("221-Closing") && reply.ends_with("221 now.\r\n"),
        "{reply:?}"
    );
    // The server closed the connection.
    let mut rest = Vec::new();
    let n = c.reader.get_mut().read_to_end(&mut rest).unwrap_or(0);
    assert_eq!(n, 0, "{rest:?}");
}

/// Refuses DELE everywhere and answers a command of its own before lookup.
struct Gate;

impl Hooks for Gate {
    fn pre_process_command(&self, ctx: &mut CommandContext<'_>) -> bool {
        match ctx.command() {
            "DELE" => {
                ctx.respond("550 DELE is disabled on this server.");
                false
            }
            "XYZZY" => {
                ctx.respond("200 Nothing happens.");
                false
            }
            "SITE QUIT" => {
                ctx.close();
                false
            }
            _ => true,
        }
    }

    fn on_login(&self, session: &SessionInfo<'_>, username: &str) {
        if username == "anonymous" {
            session.reply(230, "(hooks can talk too)");
        }
    }

    fn on_file_received(&self, session: &SessionInfo<'_>, file: &Path) {
        if file.ends_with("last.txt") {
            session.close();
        }
    }
}

#[test]
fn pre_process_command_sees_every_line_and_may_refuse_it() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.hooks = Box::new(Gate));
    std::fs::write(srv.root().join("f.txt"), b"x").unwrap();
    let mut c = srv.client();
    // Before login and for unknown commands too.
    c.expect("XYZZY", 200);
    c.expect("DELE f.txt", 550);
    c.login("user", "12345");
    let reply = c.expect("DELE f.txt", 550);
    assert!(reply.contains("disabled"), "{reply}");
    assert!(srv.root().join("f.txt").exists());
    c.expect("NOOP", 200);
    c.send_raw(b"SITE QUIT\r\n");
    let mut rest = Vec::new();
    assert_eq!(c.reader.get_mut().read_to_end(&mut rest).unwrap_or(0), 0);
}

#[test]
fn hooks_reply_and_close() {
    let srv = TestServer::start_with(|_, _| {}, |h| h.hooks = Box::new(Gate));
    let mut anon = srv.client();
    anon.expect("USER anonymous", 331);
    let reply = anon.expect("PASS x@y", 230);
    assert!(reply.contains("Login successful."), "{reply}");
    // The hook's reply follows the 230 of the login.
    let extra = anon.read_reply();
    assert_eq!(extra, "230 (hooks can talk too)\r\n");
    anon.expect("NOOP", 200);

    let mut c = srv.login();
    let end = c.store("STOR first.txt", b"1");
    assert_eq!(code_of(&end), 226);
    c.expect("NOOP", 200);
    let end = c.store("STOR last.txt", b"2");
    assert_eq!(code_of(&end), 226, "{end}");
    let mut rest = Vec::new();
    assert_eq!(
        c.reader.get_mut().read_to_end(&mut rest).unwrap_or(0),
        0,
        "{rest:?}"
    );
}

/// Hides dot files and shows sizes in a format of its own.
#[derive(Clone)]
struct Custom;

impl FilesystemOverrides<AbstractedFs> for Custom {
    fn listdir(&self, base: &AbstractedFs, path: &Path) -> io::Result<Vec<std::ffi::OsString>> {
        let mut names = base.listdir(path)?;
        names.retain(|n| !n.to_string_lossy().starts_with('.'));
        Ok(names)
    }

    fn format_list(
        &self,
        this: &dyn Filesystem,
        dir: &Path,
        entry: &OsStr,
        _now: i64,
        _utc: bool,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let st = this.lstat(&dir.join(entry))?;
        out.extend_from_slice(format!("{} {}\r\n", entry.to_string_lossy(), st.size).as_bytes());
        Ok(())
    }
}

#[test]
fn the_fs_factory_sees_the_user_and_a_subclass_changes_the_listing() {
    let srv = TestServer::start_with(
        |_, _| {},
        |h| {
            h.abstracted_fs = Box::new(|root, session| {
                if session.username == "anonymous" {
                    Box::new(AbstractedFs::new(root))
                } else {
                    Box::new(Subclass::new(AbstractedFs::new(root), Custom))
                }
            });
        },
    );
    std::fs::write(srv.root().join(".hidden"), b"secret").unwrap();
    std::fs::write(srv.root().join("shown.txt"), b"12345").unwrap();
    let mut c = srv.login();
    let (list, end) = c.retrieve("LIST");
    assert_eq!(code_of(&end), 226);
    assert_eq!(String::from_utf8_lossy(&list), "shown.txt 5\r\n");
    let (names, _) = c.retrieve("NLST");
    assert_eq!(String::from_utf8_lossy(&names), "shown.txt\r\n");
    // Inherited: RETR, and the hidden file is still reachable by name.
    let (data, _) = c.retrieve("RETR .hidden");
    assert_eq!(data, b"secret");

    let mut anon = Client::connect(srv.addr);
    anon.login("anonymous", "x@y");
    let (list, _) = anon.retrieve("LIST");
    let text = String::from_utf8_lossy(&list);
    assert!(
        text.contains(" .hidden\r\n") && text.contains(" shown.txt\r\n"),
        "{text}"
    );
}
