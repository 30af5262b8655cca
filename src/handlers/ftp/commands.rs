//! The command table (pyftpdlib `proto_cmds`).
//!
//! One row per command: its permission letter, whether it needs a login,
//! its argument rule, how its argument maps to a path, its HELP text and the
//! function that runs it. The session's dispatcher reads the row to do the
//! checks in pyftpdlib's order (501 argument, 530 login, 550 outside home,
//! 550 permission) before calling the function; HELP, SITE HELP and FEAT
//! are derived from the same rows.

use std::path::PathBuf;

use super::session::Session;
use super::{
    cmd_data as data, cmd_fs as fs, cmd_info as info, cmd_login as login, cmd_transfer as xfer,
};
use crate::authorizers::Perm;

/// Whether a command takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgRule {
    /// Missing argument → 501 "Syntax error: command needs an argument."
    Required,
    /// Present argument → 501 "Syntax error: command does not accept arguments."
    Forbidden,
    /// Either.
    Optional,
}

/// How the argument becomes the path that confinement and permission
/// checks look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PathRule {
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

/// The function running a command: `(session, argument, checked real path)`.
pub(crate) type Run = fn(&mut Session, &str, Option<PathBuf>);

/// One row of the command table.
pub(crate) struct CommandSpec {
    pub name: &'static str,
    pub perm: Option<Perm>,
    pub auth: bool,
    pub arg: ArgRule,
    pub path: PathRule,
    pub help: &'static str,
    pub run: Run,
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
    run: Run,
) -> CommandSpec {
    CommandSpec {
        name,
        perm,
        auth,
        arg,
        path,
        help,
        run,
    }
}

/// The built-in commands, sorted by name (binary-searched).
pub(crate) static COMMANDS: &[CommandSpec] = &[
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

/// The row for `name` (upper-case, `SITE X` for SITE commands).
pub(crate) fn lookup(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS
        .binary_search_by(|spec| spec.name.cmp(name))
        .ok()
        .map(|i| &COMMANDS[i])
}

/// Whether the table has `name` (FEAT lists only what exists).
pub(crate) fn has(name: &str) -> bool {
    lookup(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_so_lookup_finds_every_row() {
        for w in COMMANDS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for spec in COMMANDS {
            assert_eq!(lookup(spec.name).map(|s| s.name), Some(spec.name));
        }
        assert!(lookup("XYZZY").is_none());
    }

    #[test]
    fn every_help_text_starts_with_its_syntax() {
        for spec in COMMANDS {
            assert!(
                spec.help.starts_with(&format!("Syntax: {}", spec.name)),
                "{}",
                spec.name
            );
        }
    }
}
