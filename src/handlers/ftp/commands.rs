//! The command table (pyftpdlib `proto_cmds`).
//!
//! One row per command: its permission letter, whether it needs a login,
//! its argument rule, how its argument maps to a path, its HELP text and the
//! function that runs it. The session's dispatcher reads the row to do the
//! checks in pyftpdlib's order (501 argument, 530 login, 550 outside home,
//! 550 permission) before calling the function; HELP, SITE HELP and FEAT
//! are derived from the same rows. Library users add or replace rows with
//! [`FtpHandler::add_command`](super::FtpHandler::add_command); their
//! commands go through exactly the same checks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::session::Session;
use super::{
    cmd_data as data, cmd_fs as fs, cmd_info as info, cmd_login as login, cmd_transfer as xfer,
};
use crate::authorizers::Perm;
use crate::filesystems::Filesystem;

/// Whether a command takes an argument (pyftpdlib's `arg` of `proto_cmds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgRule {
    /// Missing argument → 501 "Syntax error: command needs an argument."
    Required,
    /// Present argument → 501 "Syntax error: command does not accept arguments."
    Forbidden,
    /// Either.
    Optional,
}

/// How the argument becomes the path that confinement and permission
/// checks look at (pyftpdlib's step "translate the argument to a real path").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathRule {
    /// No path involved.
    None,
    /// The argument is the path.
    Arg,
    /// The argument, or "/" when absent (CWD).
    ArgOrRoot,
    /// The parent of the cwd (CDUP).
    Parent,
    /// The argument, or the cwd when absent or only `ls` flags (listings).
    ArgOrCwd,
    /// The rest after the first word (SITE CHMOD mode path, MFMT time path).
    SecondWord,
}

/// A built-in command's function: `(session, argument, checked real path)`.
pub(crate) type Builtin = fn(&mut Session, &str, Option<PathBuf>);

/// A library user's command function.
pub type Handler = Rc<dyn Fn(&mut CommandContext<'_>)>;

/// What runs a row.
#[derive(Clone)]
pub(crate) enum Run {
    Builtin(Builtin),
    Custom(Handler),
}

/// One row of the command table.
#[derive(Clone)]
pub(crate) struct CommandSpec {
    pub name: String,
    pub perm: Option<Perm>,
    pub auth: bool,
    pub arg: ArgRule,
    pub path: PathRule,
    pub help: String,
    /// A FEAT line this command adds (RFC 2389), if any.
    pub feat: Option<String>,
    pub run: Run,
}

/// A command added by a library user (pyftpdlib: a `proto_cmds` entry plus
/// an `ftp_<CMD>` method on a handler subclass).
///
/// ```
/// use ftpdlib::{Command, DummyAuthorizer, FtpHandler, Perm};
/// let mut handler = FtpHandler::new(DummyAuthorizer::new());
/// handler.add_command(
///     Command::new("SITE MD5", "Syntax: SITE MD5 <SP> path (checksum of a file).", |ctx| {
///         let size = ctx.path().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());
///         match size {
///             Some(n) => ctx.reply(200, &format!("{n} bytes")),
///             None => ctx.reply(550, "No such file."),
///         }
///     })
///     .perm(Perm::Retrieve)
///     .path(ftpdlib::PathRule::Arg),
/// );
/// ```
#[derive(Clone)]
pub struct Command {
    spec: CommandSpec,
}

impl Command {
    /// A command `name` (upper case; `"SITE X"` for a SITE command) with its
    /// HELP text and handler. Defaults: login required, argument required,
    /// no path, no permission letter, no FEAT line.
    pub fn new(
        name: &str,
        help: &str,
        handler: impl Fn(&mut CommandContext<'_>) + 'static,
    ) -> Command {
        Command {
            spec: CommandSpec {
                name: name.to_ascii_uppercase(),
                perm: None,
                auth: true,
                arg: ArgRule::Required,
                path: PathRule::None,
                help: help.to_string(),
                feat: None,
                run: Run::Custom(Rc::new(handler)),
            },
        }
    }

    /// A row run by a crate-internal function (the TLS commands).
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) fn builtin(name: &str, help: &str, run: Builtin) -> Command {
        let mut cmd = Command::new(name, help, |_| {});
        cmd.spec.run = Run::Builtin(run);
        cmd
    }

    /// The permission letter checked on the command's path.
    pub fn perm(mut self, perm: Perm) -> Command {
        self.spec.perm = Some(perm);
        self
    }

    /// Whether a login is required (default true).
    pub fn auth(mut self, required: bool) -> Command {
        self.spec.auth = required;
        self
    }

    /// The argument rule (default [`ArgRule::Required`]).
    pub fn arg(mut self, rule: ArgRule) -> Command {
        self.spec.arg = rule;
        self
    }

    /// How the argument maps to a checked path (default [`PathRule::None`]).
    pub fn path(mut self, rule: PathRule) -> Command {
        self.spec.path = rule;
        self
    }

    /// A line to list in FEAT.
    pub fn feat(mut self, line: &str) -> Command {
        self.spec.feat = Some(line.to_string());
        self
    }
}

/// What a library user's command sees of the session.
pub struct CommandContext<'a> {
    pub(crate) session: &'a mut Session,
    pub(crate) arg: &'a str,
    pub(crate) path: Option<PathBuf>,
}

impl CommandContext<'_> {
    /// The argument after the command name (after `SITE X` for SITE commands).
    pub fn arg(&self) -> &str {
        self.arg
    }

    /// The real path the argument maps to, already confined to the user's
    /// home and checked against the command's permission letter.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The user name (empty before USER).
    pub fn username(&self) -> &str {
        &self.session.username
    }

    /// Whether the user is logged in.
    pub fn authenticated(&self) -> bool {
        self.session.authenticated
    }

    /// The client's address.
    pub fn remote_addr(&self) -> SocketAddr {
        self.session.remote
    }

    /// The user's file system (after login).
    pub fn fs(&mut self) -> Option<&mut (dyn Filesystem + 'static)> {
        self.session.fs.as_deref_mut()
    }

    /// Send a reply; a text with newlines becomes a multi-line reply.
    pub fn reply(&mut self, code: u16, text: &str) {
        self.session.reply(code, text);
    }

    /// Log a user-facing message with the session prefix.
    pub fn log(&self, msg: &str) {
        self.session.log(msg);
    }
}

/// The commands of one handler, sorted by name (pyftpdlib `proto_cmds`).
#[derive(Clone)]
pub(crate) struct CommandTable {
    specs: Vec<CommandSpec>,
}

impl CommandTable {
    /// The built-in commands.
    pub fn builtin() -> CommandTable {
        let specs = BUILTINS
            .iter()
            .map(|b| CommandSpec {
                name: b.name.to_string(),
                perm: b.perm,
                auth: b.auth,
                arg: b.arg,
                path: b.path,
                help: b.help.to_string(),
                feat: None,
                run: Run::Builtin(b.run),
            })
            .collect();
        CommandTable { specs }
    }

    /// The row for `name` (upper-case, `SITE X` for SITE commands).
    pub fn lookup(&self, name: &str) -> Option<&CommandSpec> {
        self.specs
            .binary_search_by(|spec| spec.name.as_str().cmp(name))
            .ok()
            .map(|i| &self.specs[i])
    }

    /// Whether the table has `name` (FEAT lists only what exists).
    pub fn has(&self, name: &str) -> bool {
        self.lookup(name).is_some()
    }

    /// Every row, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = &CommandSpec> {
        self.specs.iter()
    }

    /// Add a row, replacing a row of the same name.
    pub fn insert(&mut self, cmd: Command) {
        match self.specs.binary_search_by(|s| s.name.cmp(&cmd.spec.name)) {
            Ok(i) => self.specs[i] = cmd.spec,
            Err(i) => self.specs.insert(i, cmd.spec),
        }
    }

    /// Remove a row; true if it existed.
    pub fn remove(&mut self, name: &str) -> bool {
        match self.specs.binary_search_by(|s| s.name.as_str().cmp(name)) {
            Ok(i) => {
                self.specs.remove(i);
                true
            }
            Err(_) => false,
        }
    }
}

/// A static row of the built-in table.
struct BuiltinRow {
    name: &'static str,
    perm: Option<Perm>,
    auth: bool,
    arg: ArgRule,
    path: PathRule,
    help: &'static str,
    run: Builtin,
}

use ArgRule::{Forbidden as NO, Optional as OPT, Required as REQ};
use PathRule as P;

const fn c(
    name: &'static str,
    perm: Option<Perm>,
    auth: bool,
    arg: ArgRule,
    path: PathRule,
    help: &'static str,
    run: Builtin,
) -> BuiltinRow {
    BuiltinRow {
        name,
        perm,
        auth,
        arg,
        path,
        help,
        run,
    }
}

/// The built-in commands, sorted by name.
static BUILTINS: &[BuiltinRow] = &[
    c(
        "ABOR",
        None,
        true,
        NO,
        P::None,
        "Syntax: ABOR (abort transfer).",
        data::abor,
    ),
    c(
        "ALLO",
        None,
        true,
        REQ,
        P::None,
        "Syntax: ALLO <SP> bytes (noop; allocate storage).",
        data::allo,
    ),
    c(
        "APPE",
        Some(Perm::Append),
        true,
        REQ,
        P::Arg,
        "Syntax: APPE <SP> file-name (append data to file).",
        xfer::appe,
    ),
    c(
        "CDUP",
        Some(Perm::ChangeDir),
        true,
        NO,
        P::Parent,
        "Syntax: CDUP (go to parent directory).",
        fs::cwd,
    ),
    c(
        "CWD",
        Some(Perm::ChangeDir),
        true,
        OPT,
        P::ArgOrRoot,
        "Syntax: CWD [<SP> dir-name] (change working directory).",
        fs::cwd,
    ),
    c(
        "DELE",
        Some(Perm::Delete),
        true,
        REQ,
        P::Arg,
        "Syntax: DELE <SP> file-name (delete file).",
        fs::dele,
    ),
    c(
        "EPRT",
        None,
        true,
        REQ,
        P::None,
        "Syntax: EPRT <SP> |proto|ip|port| (extended active mode).",
        data::eprt,
    ),
    c(
        "EPSV",
        None,
        true,
        OPT,
        P::None,
        "Syntax: EPSV [<SP> proto/\"ALL\"] (extended passive mode).",
        data::epsv,
    ),
    c(
        "FEAT",
        None,
        false,
        NO,
        P::None,
        "Syntax: FEAT (list all new features supported).",
        info::feat,
    ),
    c(
        "HELP",
        None,
        false,
        OPT,
        P::None,
        "Syntax: HELP [<SP> cmd] (show help).",
        info::help,
    ),
    c(
        "LIST",
        Some(Perm::List),
        true,
        OPT,
        P::ArgOrCwd,
        "Syntax: LIST [<SP> path] (list files).",
        xfer::list,
    ),
    c(
        "MDTM",
        Some(Perm::List),
        true,
        REQ,
        P::Arg,
        "Syntax: MDTM [<SP> path] (file last modification time).",
        fs::mdtm,
    ),
    c(
        "MFMT",
        Some(Perm::SetMtime),
        true,
        REQ,
        P::SecondWord,
        "Syntax: MFMT <SP> timeval <SP> path (file update last modification time).",
        fs::mfmt,
    ),
    c(
        "MKD",
        Some(Perm::MakeDir),
        true,
        REQ,
        P::Arg,
        "Syntax: MKD <SP> path (create directory).",
        fs::mkd,
    ),
    c(
        "MLSD",
        Some(Perm::List),
        true,
        OPT,
        P::ArgOrCwd,
        "Syntax: MLSD [<SP> path] (list directory).",
        xfer::mlsd,
    ),
    c(
        "MLST",
        Some(Perm::List),
        true,
        OPT,
        P::ArgOrCwd,
        "Syntax: MLST [<SP> path] (show information about path).",
        xfer::mlst,
    ),
    c(
        "MODE",
        None,
        true,
        REQ,
        P::None,
        "Syntax: MODE <SP> mode (noop; set data transfer mode).",
        data::mode,
    ),
    c(
        "NLST",
        Some(Perm::List),
        true,
        OPT,
        P::ArgOrCwd,
        "Syntax: NLST [<SP> path] (list path in a compact form).",
        xfer::nlst,
    ),
    c(
        "NOOP",
        None,
        false,
        NO,
        P::None,
        "Syntax: NOOP (just do nothing).",
        info::noop,
    ),
    c(
        "OPTS",
        None,
        false,
        REQ,
        P::None,
        "Syntax: OPTS <SP> cmd [<SP> option] (set option for command).",
        info::opts,
    ),
    c(
        "PASS",
        None,
        false,
        OPT,
        P::None,
        "Syntax: PASS [<SP> password] (set user password).",
        login::pass,
    ),
    c(
        "PASV",
        None,
        true,
        NO,
        P::None,
        "Syntax: PASV (open passive data connection).",
        data::pasv,
    ),
    c(
        "PORT",
        None,
        true,
        REQ,
        P::None,
        "Syntax: PORT <sp> h,h,h,h,p,p (open active data connection).",
        data::port,
    ),
    c(
        "PWD",
        None,
        true,
        NO,
        P::None,
        "Syntax: PWD (get current working directory).",
        fs::pwd,
    ),
    c(
        "QUIT",
        None,
        false,
        NO,
        P::None,
        "Syntax: QUIT (quit current session).",
        login::quit,
    ),
    c(
        "REIN",
        None,
        true,
        NO,
        P::None,
        "Syntax: REIN (flush account).",
        login::rein,
    ),
    c(
        "REST",
        None,
        true,
        REQ,
        P::None,
        "Syntax: REST <SP> offset (set file offset).",
        data::rest,
    ),
    c(
        "RETR",
        Some(Perm::Retrieve),
        true,
        REQ,
        P::Arg,
        "Syntax: RETR <SP> file-name (retrieve a file).",
        xfer::retr,
    ),
    c(
        "RMD",
        Some(Perm::Delete),
        true,
        REQ,
        P::Arg,
        "Syntax: RMD <SP> dir-name (remove directory).",
        fs::rmd,
    ),
    c(
        "RNFR",
        Some(Perm::Rename),
        true,
        REQ,
        P::Arg,
        "Syntax: RNFR <SP> file-name (rename (source name)).",
        fs::rnfr,
    ),
    c(
        "RNTO",
        Some(Perm::Rename),
        true,
        REQ,
        P::Arg,
        "Syntax: RNTO <SP> file-name (rename (destination name)).",
        fs::rnto,
    ),
    c(
        "SITE",
        None,
        false,
        REQ,
        P::None,
        "Syntax: SITE <SP> site-command (execute SITE command).",
        info::site,
    ),
    c(
        "SITE CHMOD",
        Some(Perm::Chmod),
        true,
        REQ,
        P::SecondWord,
        "Syntax: SITE CHMOD <SP> mode path (change file mode).",
        fs::site_chmod,
    ),
    c(
        "SITE HELP",
        None,
        false,
        OPT,
        P::None,
        "Syntax: SITE HELP [<SP> cmd] (show SITE command help).",
        info::site_help,
    ),
    c(
        "SIZE",
        Some(Perm::List),
        true,
        REQ,
        P::Arg,
        "Syntax: SIZE <SP> file-name (get file size).",
        fs::size,
    ),
    c(
        "STAT",
        None,
        false,
        OPT,
        P::None,
        "Syntax: STAT [<SP> path name] (server stats [list files]).",
        xfer::stat,
    ),
    c(
        "STOR",
        Some(Perm::Store),
        true,
        REQ,
        P::Arg,
        "Syntax: STOR <SP> file-name (store a file).",
        xfer::stor,
    ),
    c(
        "STOU",
        None,
        true,
        OPT,
        P::None,
        "Syntax: STOU [<SP> name] (store a file with a unique name).",
        xfer::stou,
    ),
    c(
        "STRU",
        None,
        true,
        REQ,
        P::None,
        "Syntax: STRU <SP> type (noop; set file structure).",
        data::stru,
    ),
    c(
        "SYST",
        None,
        false,
        NO,
        P::None,
        "Syntax: SYST (get operating system type).",
        info::syst,
    ),
    c(
        "TYPE",
        None,
        true,
        REQ,
        P::None,
        "Syntax: TYPE <SP> [A | I] (set transfer type).",
        data::type_,
    ),
    c(
        "USER",
        None,
        false,
        REQ,
        P::None,
        "Syntax: USER <SP> user-name (set username).",
        login::user,
    ),
    c(
        "XCUP",
        Some(Perm::ChangeDir),
        true,
        NO,
        P::Parent,
        "Syntax: XCUP (obsolete; go to parent directory).",
        fs::cwd,
    ),
    c(
        "XCWD",
        Some(Perm::ChangeDir),
        true,
        OPT,
        P::ArgOrRoot,
        "Syntax: XCWD [<SP> dir-name] (obsolete; change directory).",
        fs::cwd,
    ),
    c(
        "XMKD",
        Some(Perm::MakeDir),
        true,
        REQ,
        P::Arg,
        "Syntax: XMKD <SP> path (obsolete; create directory).",
        fs::mkd,
    ),
    c(
        "XPWD",
        None,
        true,
        NO,
        P::None,
        "Syntax: XPWD (obsolete; get current dir).",
        fs::pwd,
    ),
    c(
        "XRMD",
        Some(Perm::Delete),
        true,
        REQ,
        P::Arg,
        "Syntax: XRMD <SP> dir-name (obsolete; remove directory).",
        fs::rmd,
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_so_lookup_finds_every_row() {
        for w in BUILTINS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        let table = CommandTable::builtin();
        for spec in BUILTINS {
            assert_eq!(
                table.lookup(spec.name).map(|s| s.name.as_str()),
                Some(spec.name)
            );
        }
        assert!(table.lookup("XYZZY").is_none());
    }

    #[test]
    fn a_custom_command_replaces_or_extends_the_table() {
        let mut table = CommandTable::builtin();
        let n = table.iter().count();
        table.insert(Command::new(
            "SITE MD5",
            "Syntax: SITE MD5 <SP> path.",
            |_| {},
        ));
        table.insert(Command::new("noop", "Syntax: NOOP (replaced).", |_| {}).auth(false));
        assert_eq!(table.iter().count(), n + 1);
        assert_eq!(
            table.lookup("NOOP").map(|s| s.help.as_str()),
            Some("Syntax: NOOP (replaced).")
        );
        assert!(table.has("SITE MD5"));
        assert!(table.remove("SITE MD5"));
        assert!(!table.has("SITE MD5"));
    }

    #[test]
    fn every_help_text_starts_with_its_syntax() {
        for spec in BUILTINS {
            assert!(
                spec.help.starts_with(&format!("Syntax: {}", spec.name)),
                "{}",
                spec.name
            );
        }
    }
}
