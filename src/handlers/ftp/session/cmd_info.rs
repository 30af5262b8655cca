//! Informational commands: FEAT OPTS HELP NOOP SYST SITE, SITE HELP.

use std::path::PathBuf;

use super::{printable, Session};
use crate::filesystems::Facts;
use crate::reply::{self, MultiLine};

/// FEAT (RFC 2389): the extensions, sorted, one per line with a leading
/// space; derived from the command table.
pub(super) fn feat(s: &mut Session, _: &str, _: Option<PathBuf>) {
    let table = &s.cfg.commands;
    let mut feats: Vec<String> = vec!["TVFS".into(), "UTF8".into()];
    for name in ["EPRT", "EPSV", "MDTM", "MFMT", "SIZE"] {
        if table.has(name) {
            feats.push(name.into());
        }
    }
    if table.has("MLST") || table.has("MLSD") {
        feats.push(format!("MLST {}", Facts::feat_line(s.facts)));
    }
    if table.has("REST") {
        feats.push("REST STREAM".into());
    }
    for line in table.iter().filter_map(|c| c.feat.as_deref()) {
        feats.extend(line.lines().map(str::to_string));
    }
    feats.sort();
    let mut lines = MultiLine::new(reply::SYSTEM_STATUS, "Features supported:");
    for f in &feats {
        lines.line(f);
    }
    let (code, text) = lines.end("End FEAT.");
    s.reply_raw(code, &text);
}

/// What an OPTS command sets (RFC 2389 §4).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Opts {
    /// `OPTS UTF8 [ON|OFF]` (or `UTF-8`): we are always in UTF-8 mode.
    Utf8,
    /// `OPTS MLST fact;fact;...` (RFC 3659 §7.9): the facts MLST and MLSD
    /// show; unknown names are dropped, none at all selects none.
    Mlst(Facts),
}

/// Why an OPTS argument was refused (each is a 501).
#[derive(Debug, PartialEq, Eq)]
pub(super) enum OptsError {
    /// More than `command option`.
    ArgumentCount,
    /// `OPTS MLST` with something that is not a `;`-terminated fact list.
    MlstFacts,
    /// A command without options; its name, upper-cased.
    UnknownCommand(String),
}

/// Parse `cmd [option]`; the command name in any case.
pub(super) fn parse_opts(arg: &str) -> Result<Opts, OptsError> {
    if arg.matches(' ').count() > 1 {
        return Err(OptsError::ArgumentCount);
    }
    let (cmd, value) = arg.split_once(' ').unwrap_or((arg, ""));
    let cmd = cmd.to_ascii_uppercase();
    match cmd.as_str() {
        "UTF8" | "UTF-8" => Ok(Opts::Utf8),
        "MLST" if !value.is_empty() && !value.contains(';') => Err(OptsError::MlstFacts),
        "MLST" => Ok(Opts::Mlst(Facts::parse_opts(value))),
        _ => Err(OptsError::UnknownCommand(cmd)),
    }
}

/// OPTS UTF8 / OPTS MLST. Needs a login, as in pyftpdlib: an
/// `OPTS UTF8 ON` sent right after the greeting gets a 530.
pub(super) fn opts(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    match parse_opts(arg) {
        Ok(Opts::Utf8) => s.reply(reply::OK, "Always in UTF8 mode."),
        Ok(Opts::Mlst(facts)) => {
            s.facts = facts;
            let mut text = String::from("MLST OPTS ");
            for name in facts.names() {
                text.push_str(name);
                text.push(';');
            }
            s.reply(reply::OK, &text);
        }
        Err(OptsError::ArgumentCount) => {
            s.reply(reply::BAD_ARGUMENT, "Invalid number of arguments.")
        }
        Err(OptsError::MlstFacts) => s.reply(reply::BAD_ARGUMENT, "Invalid argument."),
        Err(OptsError::UnknownCommand(cmd)) => {
            let text = format!("Unsupported command \"{}\".", printable(&cmd));
            s.reply(reply::BAD_ARGUMENT, &text)
        }
    }
}

/// HELP [cmd]: the recognised commands, 8 per line, or one command's syntax.
pub(super) fn help(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if !arg.is_empty() {
        let name = arg.trim().to_ascii_uppercase();
        let help = s.cfg.commands.lookup(&name).map(|spec| spec.help.clone());
        return match help {
            Some(help) => s.reply(reply::HELP, &help),
            None => s.reply(reply::BAD_ARGUMENT, "Unrecognized command."),
        };
    }
    let cfg = std::rc::Rc::clone(&s.cfg);
    let names: Vec<&str> = cfg
        .commands
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| !n.starts_with("SITE "))
        .collect();
    let mut lines = MultiLine::new(reply::HELP, "The following commands are recognized:");
    for row in names.chunks(8) {
        let row: Vec<String> = row.iter().map(|name| format!("{name:<6}")).collect();
        lines.line(&row.join(" "));
    }
    let (code, text) = lines.end("Help command successful.");
    s.reply_raw(code, &text);
}

/// SITE HELP [cmd]: the SITE commands, or one SITE command's syntax.
pub(super) fn site_help(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    if !arg.is_empty() {
        let name = format!("SITE {}", arg.trim().to_ascii_uppercase());
        let help = s.cfg.commands.lookup(&name).map(|spec| spec.help.clone());
        return match help {
            Some(help) => s.reply(reply::HELP, &help),
            None => s.reply(reply::BAD_ARGUMENT, "Unrecognized SITE command."),
        };
    }
    let mut lines = MultiLine::new(reply::HELP, "The following SITE commands are recognized:");
    let table = &s.cfg.commands;
    for sub in table.iter().filter_map(|c| c.name.strip_prefix("SITE ")) {
        lines.line(sub);
    }
    let (code, text) = lines.end("Help SITE command successful.");
    s.reply_raw(code, &text);
}

/// SITE with an unknown sub-command (known ones are dispatched directly).
pub(super) fn site(s: &mut Session, arg: &str, _: Option<PathBuf>) {
    let text = format!(
        "Command \"SITE {}\" not understood.",
        printable(&arg.to_ascii_uppercase())
    );
    s.reply(reply::UNKNOWN_COMMAND, &text);
}

/// NOOP.
pub(super) fn noop(s: &mut Session, _: &str, _: Option<PathBuf>) {
    s.reply(reply::OK, "I successfully did nothing.");
}

/// SYST.
pub(super) fn syst(s: &mut Session, _: &str, _: Option<PathBuf>) {
    s.reply(reply::SYSTEM_TYPE, "UNIX Type: L8");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opts_utf8_is_always_on_per_rfc2640() {
        for arg in ["UTF8", "utf8 ON", "UTF-8 on", "Utf8 OFF"] {
            assert_eq!(parse_opts(arg), Ok(Opts::Utf8), "{arg:?}");
        }
    }

    #[test]
    fn opts_mlst_selects_facts_per_rfc3659() {
        let type_size = Facts::TYPE.union(Facts::SIZE);
        assert_eq!(parse_opts("MLST type;size;"), Ok(Opts::Mlst(type_size)));
        assert_eq!(parse_opts("mlst SIZE;bogus;"), Ok(Opts::Mlst(Facts::SIZE)));
        assert_eq!(parse_opts("MLST"), Ok(Opts::Mlst(Facts::NONE)));
        assert_eq!(parse_opts("MLST ;"), Ok(Opts::Mlst(Facts::NONE)));
        assert_eq!(parse_opts("MLST size"), Err(OptsError::MlstFacts));
    }

    #[test]
    fn opts_refusals_are_told_apart() {
        assert_eq!(parse_opts("a b c"), Err(OptsError::ArgumentCount));
        assert_eq!(
            parse_opts("MLST type; size;"),
            Err(OptsError::ArgumentCount)
        );
        assert_eq!(
            parse_opts("foo on"),
            Err(OptsError::UnknownCommand("FOO".into()))
        );
        assert_eq!(
            parse_opts("MODE Z"),
            Err(OptsError::UnknownCommand("MODE".into()))
        );
    }
}
