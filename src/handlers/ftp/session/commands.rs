//! The command table (pyftpdlib `proto_cmds`).
//!
//! One row per command: its permission letter, when it needs a login,
//! its argument rule, how its argument maps to a path, its HELP text and the
//! function that runs it. The session's dispatcher reads the row to do the
//! checks in pyftpdlib's order (501 argument, 530 login, 550 outside home,
//! 550 permission) before calling the function; HELP, SITE HELP and FEAT
//! are derived from the same rows. Library users add or replace rows with
//! [`FtpHandler::add_command`](crate::FtpHandler::add_command); their
//! commands go through exactly the same checks.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::Session;
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

/// When a command needs a logged-in user (pyftpdlib's `auth` of
/// `proto_cmds`, with its STAT special case as a rule of its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// Works before login (USER, PASS, QUIT, FEAT, HELP...).
    Never,
    /// Before login → 530 "Log in with USER and PASS first."
    Always,
    /// Only with an argument: a bare STAT is the server status, STAT with a
    /// path lists files.
    WithArgument,
}

impl Auth {
    /// Whether the command, sent with `arg`, needs a login.
    pub fn needs_login(self, arg: &str) -> bool {
        match self {
            Auth::Never => false,
            Auth::Always => true,
            Auth::WithArgument => !arg.is_empty(),
        }
    }
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
    pub auth: Auth,
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
/// use ftpdlib::{reply, Command, DummyAuthorizer, FtpHandler, Perm};
/// let mut handler = FtpHandler::new(DummyAuthorizer::new());
/// handler.add_command(
///     Command::new("SITE MD5", "Syntax: SITE MD5 <SP> path (checksum of a file).", |ctx| {
///         let size = ctx.path().and_then(|p| std::fs::metadata(p).ok()).map(|m| m.len());
///         match size {
///             Some(n) => ctx.reply(reply::OK, &format!("{n} bytes")),
///             None => ctx.reply(reply::ACTION_NOT_TAKEN, "No such file."),
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
                auth: Auth::Always,
                arg: ArgRule::Required,
                path: PathRule::None,
                help: help.to_string(),
                feat: None,
                run: Run::Custom(Rc::new(handler)),
            },
        }
    }

    /// A row run by a crate-internal function (the TLS commands, HOST).
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
    pub fn auth(self, required: bool) -> Command {
        self.login(if required { Auth::Always } else { Auth::Never })
    }

    /// When a login is required (default [`Auth::Always`]).
    pub(crate) fn login(mut self, rule: Auth) -> Command {
        self.spec.auth = rule;
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

/// What a library user's command sees of the session (pyftpdlib's `self`
/// inside an `ftp_<CMD>` method of an `FTPHandler` subclass).
///
/// A replacement for a built-in can check first and then run the built-in
/// ([`run_builtin`](Self::run_builtin), pyftpdlib `super().ftp_STOR(file)`):
///
/// ```
/// use ftpdlib::{reply, Command, FtpHandler, Perm, PathRule};
/// let mut handler = FtpHandler::default();
/// handler.add_command(
///     Command::new("STOR", "Syntax: STOR <SP> file-name (store a file).", |ctx| {
///         if ctx.arg().ends_with(".exe") {
///             ctx.respond("550 No executables here.");
///         } else {
///             ctx.run_builtin();
///         }
///     })
///     .perm(Perm::Store)
///     .path(PathRule::Arg),
/// );
/// ```
pub struct CommandContext<'a> {
    pub(crate) session: &'a mut Session,
    pub(crate) name: &'a str,
    pub(crate) arg: &'a str,
    pub(crate) path: Option<PathBuf>,
}

impl CommandContext<'_> {
    /// The command name, upper case (`"SITE X"` for a SITE command).
    pub fn command(&self) -> &str {
        self.name
    }

    /// Run the built-in command of the same name on the same argument and
    /// checked path (pyftpdlib: calling the parent's `ftp_<CMD>`); false,
    /// with nothing sent, when no built-in has this name.
    pub fn run_builtin(&mut self) -> bool {
        let name = self.name;
        self.run_builtin_named(name)
    }

    /// Run built-in command `name` (upper case) on this command's argument
    /// and checked path; false when there is no such built-in. The
    /// built-in's own checks (login, permission) are not repeated: this
    /// command's row did them.
    pub fn run_builtin_named(&mut self, name: &str) -> bool {
        match builtin(name) {
            Some(run) => {
                run(self.session, self.arg, self.path.clone());
                true
            }
            None => false,
        }
    }

    /// Send one reply line, code included (pyftpdlib `respond("250 Ok.")`);
    /// a line that does not start with a 3-digit code is sent as it is.
    /// Logged on the command-line stream like every reply.
    pub fn respond(&mut self, line: &str) {
        match parse_reply_line(line) {
            Some((code, text)) => self.session.reply(code, text),
            None => self.push(&format!("{line}\r\n")),
        }
    }

    /// Send raw text on the control connection, CRLFs included (pyftpdlib
    /// `push`), e.g. the lines of a multi-line reply.
    pub fn push(&mut self, data: &str) {
        self.session.out.extend_from_slice(data.as_bytes());
    }

    /// Send `data` over the data connection as a transfer of its own
    /// (pyftpdlib `push_dtp_data`): 125 or 150 now, 226 when it is sent;
    /// 425 when there is no data connection (PASV/PORT first).
    pub fn push_dtp_data(&mut self, data: Vec<u8>) {
        let job = crate::handlers::ftp::producers::Job::new(
            crate::handlers::ftp::producers::TransferKind::Pushed,
            PathBuf::new(),
            crate::handlers::ftp::producers::JobKind::Send(
                crate::handlers::ftp::producers::Source::File {
                    file: Box::new(crate::filesystems::MemoryFile::new(data)),
                    ascii: false,
                    sendfile_offset: None,
                },
            ),
        );
        self.session.start_or_queue(job, None);
    }

    /// Close the control connection once the replies are sent (pyftpdlib
    /// `close_when_done`).
    #[doc(alias = "close_when_done")]
    pub fn close(&mut self) {
        self.session.effects.push(super::Effect::Close);
    }

    /// Log on the command-line stream at DEBUG (pyftpdlib `logline`).
    pub fn logline(&self, msg: &str) {
        log::debug!(target: crate::log::LOGLINE, "{} {}", self.session.prefix, msg);
    }

    /// Log on the error stream (pyftpdlib `logerror`).
    pub fn logerror(&self, msg: &str) {
        log::error!(target: crate::log::LOGERROR, "{} {}", self.session.prefix, msg);
    }

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

/// `"226 Transfer complete."` as `(226, "Transfer complete.")`.
fn parse_reply_line(line: &str) -> Option<(u16, &str)> {
    let code = line.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit())
        || !matches!(line.as_bytes().get(3), None | Some(b' '))
    {
        return None;
    }
    Some((code.parse().ok()?, line.get(4..).unwrap_or("")))
}

/// The function of built-in command `name`.
fn builtin(name: &str) -> Option<Builtin> {
    BUILTINS
        .binary_search_by(|b| b.name.cmp(name))
        .ok()
        .map(|i| BUILTINS[i].run)
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
    auth: Auth,
    arg: ArgRule,
    path: PathRule,
    run: Builtin,
    help: &'static str,
}

/// One row, its values in the order of the table's columns.
const fn row(
    name: &'static str,
    perm: Option<Perm>,
    auth: Auth,
    arg: ArgRule,
    path: PathRule,
    run: Builtin,
    help: &'static str,
) -> BuiltinRow {
    BuiltinRow {
        name,
        perm,
        auth,
        arg,
        path,
        run,
        help,
    }
}

/// The built-in commands, sorted by name. Columns: the name (`SITE X` for a
/// SITE command); the permission letter checked on the path; when a login
/// is needed; the argument rule; how the argument maps to the checked path;
/// the function; the HELP text.
#[rustfmt::skip]
static BUILTINS: &[BuiltinRow] = &[
    //  name          permission             login               argument            path                  runs             help
    row("ABOR",       None,                  Auth::Always,       ArgRule::Forbidden, PathRule::None,       data::abor,      "Syntax: ABOR (abort transfer)."),
    row("ALLO",       None,                  Auth::Always,       ArgRule::Required,  PathRule::None,       data::allo,      "Syntax: ALLO <SP> bytes (noop; allocate storage)."),
    row("APPE",       Some(Perm::Append),    Auth::Always,       ArgRule::Required,  PathRule::Arg,        xfer::appe,      "Syntax: APPE <SP> file-name (append data to file)."),
    row("CDUP",       Some(Perm::ChangeDir), Auth::Always,       ArgRule::Forbidden, PathRule::Parent,     fs::cwd,         "Syntax: CDUP (go to parent directory)."),
    row("CWD",        Some(Perm::ChangeDir), Auth::Always,       ArgRule::Optional,  PathRule::ArgOrRoot,  fs::cwd,         "Syntax: CWD [<SP> dir-name] (change working directory)."),
    row("DELE",       Some(Perm::Delete),    Auth::Always,       ArgRule::Required,  PathRule::Arg,        fs::dele,        "Syntax: DELE <SP> file-name (delete file)."),
    row("EPRT",       None,                  Auth::Always,       ArgRule::Required,  PathRule::None,       data::eprt,      "Syntax: EPRT <SP> |proto|ip|port| (extended active mode)."),
    row("EPSV",       None,                  Auth::Always,       ArgRule::Optional,  PathRule::None,       data::epsv,      "Syntax: EPSV [<SP> proto/\"ALL\"] (extended passive mode)."),
    row("FEAT",       None,                  Auth::Never,        ArgRule::Forbidden, PathRule::None,       info::feat,      "Syntax: FEAT (list all new features supported)."),
    row("HELP",       None,                  Auth::Never,        ArgRule::Optional,  PathRule::None,       info::help,      "Syntax: HELP [<SP> cmd] (show help)."),
    row("LIST",       Some(Perm::List),      Auth::Always,       ArgRule::Optional,  PathRule::ArgOrCwd,   xfer::list,      "Syntax: LIST [<SP> path] (list files)."),
    row("MDTM",       Some(Perm::List),      Auth::Always,       ArgRule::Required,  PathRule::Arg,        fs::mdtm,        "Syntax: MDTM [<SP> path] (file last modification time)."),
    row("MFMT",       Some(Perm::SetMtime),  Auth::Always,       ArgRule::Required,  PathRule::SecondWord, fs::mfmt,        "Syntax: MFMT <SP> timeval <SP> path (file update last modification time)."),
    row("MKD",        Some(Perm::MakeDir),   Auth::Always,       ArgRule::Required,  PathRule::Arg,        fs::mkd,         "Syntax: MKD <SP> path (create directory)."),
    row("MLSD",       Some(Perm::List),      Auth::Always,       ArgRule::Optional,  PathRule::ArgOrCwd,   xfer::mlsd,      "Syntax: MLSD [<SP> path] (list directory)."),
    row("MLST",       Some(Perm::List),      Auth::Always,       ArgRule::Optional,  PathRule::ArgOrCwd,   xfer::mlst,      "Syntax: MLST [<SP> path] (show information about path)."),
    row("MODE",       None,                  Auth::Always,       ArgRule::Required,  PathRule::None,       data::mode,      "Syntax: MODE <SP> mode (noop; set data transfer mode)."),
    row("NLST",       Some(Perm::List),      Auth::Always,       ArgRule::Optional,  PathRule::ArgOrCwd,   xfer::nlst,      "Syntax: NLST [<SP> path] (list path in a compact form)."),
    row("NOOP",       None,                  Auth::Never,        ArgRule::Forbidden, PathRule::None,       info::noop,      "Syntax: NOOP (just do nothing)."),
    row("OPTS",       None,                  Auth::Always,       ArgRule::Required,  PathRule::None,       info::opts,      "Syntax: OPTS <SP> cmd [<SP> option] (set option for command)."),
    row("PASS",       None,                  Auth::Never,        ArgRule::Optional,  PathRule::None,       login::pass,     "Syntax: PASS [<SP> password] (set user password)."),
    row("PASV",       None,                  Auth::Always,       ArgRule::Forbidden, PathRule::None,       data::pasv,      "Syntax: PASV (open passive data connection)."),
    row("PORT",       None,                  Auth::Always,       ArgRule::Required,  PathRule::None,       data::port,      "Syntax: PORT <sp> h,h,h,h,p,p (open active data connection)."),
    row("PWD",        None,                  Auth::Always,       ArgRule::Forbidden, PathRule::None,       fs::pwd,         "Syntax: PWD (get current working directory)."),
    row("QUIT",       None,                  Auth::Never,        ArgRule::Forbidden, PathRule::None,       login::quit,     "Syntax: QUIT (quit current session)."),
    row("REIN",       None,                  Auth::Always,       ArgRule::Forbidden, PathRule::None,       login::rein,     "Syntax: REIN (flush account)."),
    row("REST",       None,                  Auth::Always,       ArgRule::Required,  PathRule::None,       data::rest,      "Syntax: REST <SP> offset (set file offset)."),
    row("RETR",       Some(Perm::Retrieve),  Auth::Always,       ArgRule::Required,  PathRule::Arg,        xfer::retr,      "Syntax: RETR <SP> file-name (retrieve a file)."),
    row("RMD",        Some(Perm::Delete),    Auth::Always,       ArgRule::Required,  PathRule::Arg,        fs::rmd,         "Syntax: RMD <SP> dir-name (remove directory)."),
    row("RNFR",       Some(Perm::Rename),    Auth::Always,       ArgRule::Required,  PathRule::Arg,        fs::rnfr,        "Syntax: RNFR <SP> file-name (rename (source name))."),
    row("RNTO",       Some(Perm::Rename),    Auth::Always,       ArgRule::Required,  PathRule::Arg,        fs::rnto,        "Syntax: RNTO <SP> file-name (rename (destination name))."),
    row("SITE",       None,                  Auth::Never,        ArgRule::Required,  PathRule::None,       info::site,      "Syntax: SITE <SP> site-command (execute SITE command)."),
    row("SITE CHMOD", Some(Perm::Chmod),     Auth::Always,       ArgRule::Required,  PathRule::SecondWord, fs::site_chmod,  "Syntax: SITE CHMOD <SP> mode path (change file mode)."),
    row("SITE HELP",  None,                  Auth::Never,        ArgRule::Optional,  PathRule::None,       info::site_help, "Syntax: SITE HELP [<SP> cmd] (show SITE command help)."),
    row("SIZE",       Some(Perm::List),      Auth::Always,       ArgRule::Required,  PathRule::Arg,        fs::size,        "Syntax: SIZE <SP> file-name (get file size)."),
    row("STAT",       None,                  Auth::WithArgument, ArgRule::Optional,  PathRule::None,       xfer::stat,      "Syntax: STAT [<SP> path name] (server stats [list files])."),
    row("STOR",       Some(Perm::Store),     Auth::Always,       ArgRule::Required,  PathRule::Arg,        xfer::stor,      "Syntax: STOR <SP> file-name (store a file)."),
    row("STOU",       None,                  Auth::Always,       ArgRule::Optional,  PathRule::None,       xfer::stou,      "Syntax: STOU [<SP> name] (store a file with a unique name)."),
    row("STRU",       None,                  Auth::Always,       ArgRule::Required,  PathRule::None,       data::stru,      "Syntax: STRU <SP> type (noop; set file structure)."),
    row("SYST",       None,                  Auth::Never,        ArgRule::Forbidden, PathRule::None,       info::syst,      "Syntax: SYST (get operating system type)."),
    row("TYPE",       None,                  Auth::Always,       ArgRule::Required,  PathRule::None,       data::type_,     "Syntax: TYPE <SP> [A | I] (set transfer type)."),
    row("USER",       None,                  Auth::Never,        ArgRule::Required,  PathRule::None,       login::user,     "Syntax: USER <SP> user-name (set username)."),
    row("XCUP",       Some(Perm::ChangeDir), Auth::Always,       ArgRule::Forbidden, PathRule::Parent,     fs::cwd,         "Syntax: XCUP (obsolete; go to parent directory)."),
    row("XCWD",       Some(Perm::ChangeDir), Auth::Always,       ArgRule::Optional,  PathRule::ArgOrRoot,  fs::cwd,         "Syntax: XCWD [<SP> dir-name] (obsolete; change directory)."),
    row("XMKD",       Some(Perm::MakeDir),   Auth::Always,       ArgRule::Required,  PathRule::Arg,        fs::mkd,         "Syntax: XMKD <SP> path (obsolete; create directory)."),
    row("XPWD",       None,                  Auth::Always,       ArgRule::Forbidden, PathRule::None,       fs::pwd,         "Syntax: XPWD (obsolete; get current dir)."),
    row("XRMD",       Some(Perm::Delete),    Auth::Always,       ArgRule::Required,  PathRule::Arg,        fs::rmd,         "Syntax: XRMD <SP> dir-name (obsolete; remove directory)."),
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
    fn stat_needs_a_login_only_with_an_argument() {
        let table = CommandTable::builtin();
        let stat = table.lookup("STAT").map(|s| s.auth);
        assert_eq!(stat, Some(Auth::WithArgument));
        assert!(!Auth::WithArgument.needs_login(""));
        assert!(Auth::WithArgument.needs_login("/"));
        assert!(Auth::Always.needs_login(""));
        assert!(!Auth::Never.needs_login("x"));
        let open: Vec<&str> = BUILTINS
            .iter()
            .filter(|b| b.auth == Auth::Never)
            .map(|b| b.name)
            .collect();
        let before_login = "FEAT HELP NOOP PASS QUIT SITE SITE HELP SYST USER";
        assert_eq!(open.join(" "), before_login);
    }

    #[test]
    fn the_auth_builder_maps_to_always_or_never() {
        let open = Command::new("SITE X", "Syntax: SITE X.", |_| {}).auth(false);
        assert_eq!(open.spec.auth, Auth::Never);
        let closed = open.auth(true);
        assert_eq!(closed.spec.auth, Auth::Always);
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
