//! docs/porting.md must name every public pyftpdlib name, so that it
//! cannot fall behind.
//!
//! The names are those of the team's pyftpdlib 2.2 reference notes
//! (sections 2 to 7: classes, attributes, methods, callbacks, CLI options,
//! log streams, exceptions), extracted by [`extract`] and kept in
//! `tests/data/pyftpdlib-names.txt` so a fresh clone can check the guide
//! without the notes. Where the notes are present (`FTPDLIB_REFERENCE`, or
//! the shared path below) the list is re-extracted and must be the same;
//! `FTPDLIB_WRITE_NAMES=1 cargo test --test porting_doc` rewrites it.

use std::collections::BTreeSet;
use std::path::PathBuf;

const NAMES: &str = include_str!("data/pyftpdlib-names.txt");
const GUIDE: &str = include_str!("../docs/porting.md");
const SHARED_REFERENCE: &str = "/work/shared/reference/pyftpdlib-2.2.md";

/// Values, not names, that the rules below pick up from the notes (MLSx
/// fact examples, `ls` output, Python builtins and modules used in prose).
const NOT_NAMES: &[&str] = &[
    "eldfmMTcp",
    "radfwMT",
    "YYYYMMDDHHMMSS",
    "fe00g98cd0f",
    "lrwxrwxrwx",
    "ls",
    "sub",
    "hasattr",
    "modify",
    "file",
    "YYYY",
];

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The dotted identifier at the start of `s` and what follows it.
fn ident_prefix(s: &str) -> Option<(&str, &str)> {
    let first = s.chars().next()?;
    if !(first.is_ascii_alphabetic() || first == '_') {
        return None;
    }
    let mut end = 0;
    let bytes = s.as_bytes();
    while end < s.len() {
        let c = bytes[end] as char;
        let dotted = c == '.'
            && bytes
                .get(end + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_');
        if is_ident_char(c) || dotted {
            end += 1;
        } else {
            break;
        }
    }
    Some((&s[..end], &s[end..]))
}

/// `s` split at the commas outside parentheses: `a, b(x, y)` is `a`, ` b(x, y)`.
fn top_level_parts(s: &str) -> Vec<&str> {
    let (mut parts, mut depth, mut from) = (Vec::new(), 0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[from..]);
    parts
}

fn is_option(s: &str) -> bool {
    let body = s.strip_prefix("--").or_else(|| s.strip_prefix('-'));
    body.is_some_and(|b| {
        b.starts_with(|c: char| c.is_ascii_lowercase())
            && b.chars().all(|c| c.is_ascii_lowercase() || c == '-')
    })
}

/// The public names of sections 2 to 7 of the reference notes.
fn extract(reference: &str) -> BTreeSet<String> {
    let start = reference.find("\n## 2.").expect("section 2");
    let end = reference.find("\n## 8.").expect("section 8");
    let section = &reference[start..end];
    let mut names = BTreeSet::new();
    let mut add = |n: &str| {
        let last = n.rsplit('.').next().unwrap_or(n);
        if last.len() > 1 && !NOT_NAMES.contains(&last) {
            names.insert(last.to_string());
        }
    };
    let lines: Vec<&str> = section.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        // Class names in headings: `### ThrottledDTPHandler(DTPHandler)`.
        if line.starts_with('#') {
            for word in line.split(|c: char| !is_ident_char(c)) {
                let uppers = word.chars().filter(char::is_ascii_uppercase).count();
                let lower = word.chars().any(|c| c.is_ascii_lowercase());
                if word.contains('_') || (uppers >= 2 && lower) {
                    add(word);
                }
            }
        }
        // `name`, `name(args)`, `a, b, c(x)` spans.
        for (k, span) in line.split('`').enumerate() {
            if k % 2 == 0 {
                continue;
            }
            for part in top_level_parts(span) {
                if let Some((id, rest)) = ident_prefix(part.trim_start()) {
                    if rest.is_empty() || rest.starts_with('(') {
                        add(id);
                    }
                }
            }
        }
        // First cells of table rows (attribute / option names), headers skipped.
        if line.starts_with('|') && !line.starts_with("|---") {
            let header = lines.get(i + 1).is_some_and(|n| n.starts_with("|---"));
            let cell = line.split('|').nth(1).unwrap_or("").trim();
            if !header && !cell.contains('`') {
                for part in cell.split(['/', ',']).map(str::trim) {
                    let plain = ident_prefix(part)
                        .is_some_and(|(id, rest)| rest.is_empty() && !id.contains('.'));
                    if plain || is_option(part) {
                        add(part);
                    }
                }
            }
        }
        // --long-options anywhere.
        for (at, _) in line.match_indices("--") {
            let before = line[..at].chars().next_back();
            if before.is_some_and(|c| is_ident_char(c) || c == '-') {
                continue;
            }
            let opt: String = line[at..]
                .chars()
                .enumerate()
                .take_while(|(j, c)| *j < 2 || c.is_ascii_lowercase() || *c == '-')
                .map(|(_, c)| c)
                .collect();
            if is_option(&opt) && opt.len() > 3 {
                add(opt.trim_end_matches('-'));
            }
        }
    }
    names
}

/// Whether `text` has `name` as a whole word.
fn mentions(text: &str, name: &str) -> bool {
    let word = |c: char| is_ident_char(c) || c == '-';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(word) && !after.is_some_and(word)
    })
}

#[test]
fn the_name_list_matches_the_reference_notes_when_they_are_here() {
    let path = std::env::var_os("FTPDLIB_REFERENCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SHARED_REFERENCE));
    let Ok(reference) = std::fs::read_to_string(&path) else {
        eprintln!(
            "SKIPPED: {} not found; the committed list is checked alone",
            path.display()
        );
        return;
    };
    let extracted = extract(&reference);
    if std::env::var_os("FTPDLIB_WRITE_NAMES").is_some() {
        let list: String = extracted.iter().map(|n| format!("{n}\n")).collect();
        let out = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/pyftpdlib-names.txt"
        );
        std::fs::write(out, list).expect("write the name list");
        return;
    }
    let listed: BTreeSet<String> = NAMES.lines().map(str::to_string).collect();
    let missing: Vec<&String> = extracted.difference(&listed).collect();
    let extra: Vec<&String> = listed.difference(&extracted).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "tests/data/pyftpdlib-names.txt is stale: missing {missing:?}, extra {extra:?}"
    );
}

#[test]
fn porting_guide_names_every_public_pyftpdlib_name() {
    assert!(NAMES.lines().count() > 200, "the list is far too short");
    let missing: Vec<&str> = NAMES.lines().filter(|n| !mentions(GUIDE, n)).collect();
    assert!(
        missing.is_empty(),
        "docs/porting.md does not mention {missing:?}"
    );
}

#[test]
fn the_extractor_finds_names_of_each_kind() {
    let sample = "\n## 2. X\n### ThrottledDTPHandler(DTPHandler)\n\
        | Attribute | Default |\n|---|---|\n| read_limit | 0 |\n\
        Methods: `respond(resp, logfun=x)`, `isfile, islink`, `\"text\"`.\n\
        | -w, --write | off |\n--use-localtime\n## 8. Y\n`after`\n";
    let got: Vec<String> = extract(sample).into_iter().collect();
    let want = [
        "--use-localtime",
        "--write",
        "-w",
        "DTPHandler",
        "ThrottledDTPHandler",
        "isfile",
        "islink",
        "read_limit",
        "respond",
    ];
    assert_eq!(got, want);
    assert!(mentions("see `respond` here", "respond"));
    assert!(!mentions("respond_w_warning", "respond"));
    assert!(!mentions("--max-cons-per-ip", "--max-cons"));
}
