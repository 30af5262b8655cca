//! Listing formats (pyftpdlib's `AbstractedFS.format_list` /
//! `format_mlsx` and the `MDTM`/`MFMT` time strings): `LIST` lines,
//! `MLSD`/`MLST` lines with their [`Facts`], and `YYYYMMDDHHMMSS` times.
//! Re-exported from [`crate::filesystems`].

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{Filesystem, Stat, S_IFDIR, S_IFLNK, S_IFMT, S_IFREG};
use crate::authorizers::{Perm, Perms};
use crate::sys;

/// MLST/MLSD facts, a bit set (pyftpdlib's `_available_facts` /
/// `_current_facts` lists).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts(u16);

/// Fact names in canonical order; name `i` is bit `1 << i`.
const FACT_NAMES: &str = "type size modify perm unique unix.mode unix.uid unix.gid";

impl Facts {
    /// No fact (pyftpdlib `[]`, after `OPTS MLST` with an empty list).
    pub const NONE: Facts = Facts(0);
    /// `type`: file, dir, cdir, pdir.
    pub const TYPE: Facts = Facts(1);
    /// `size`: `st_size`.
    pub const SIZE: Facts = Facts(1 << 1);
    /// `modify`: mtime as `YYYYMMDDHHMMSS`.
    pub const MODIFY: Facts = Facts(1 << 2);
    /// `perm`: RFC 3659 permission letters.
    pub const PERM: Facts = Facts(1 << 3);
    /// `unique`: `<dev hex>g<ino hex>`.
    pub const UNIQUE: Facts = Facts(1 << 4);
    /// `unix.mode`: permission bits in octal.
    pub const UNIX_MODE: Facts = Facts(1 << 5);
    /// `unix.uid`: numeric owner.
    pub const UNIX_UID: Facts = Facts(1 << 6);
    /// `unix.gid`: numeric group.
    pub const UNIX_GID: Facts = Facts(1 << 7);
    /// Every fact (pyftpdlib `_available_facts` on POSIX).
    pub const AVAILABLE: Facts = Facts(0xff);
    /// Enabled by default: type, perm, size, modify, unique (pyftpdlib
    /// `_current_facts`).
    pub const DEFAULT: Facts = Facts(0x1f);

    /// Whether every fact of `other` is in `self` (pyftpdlib `fact in facts`).
    pub fn contains(self, other: Facts) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union of two sets (pyftpdlib list concatenation).
    pub fn union(self, other: Facts) -> Facts {
        Facts(self.0 | other.0)
    }

    /// Parses the argument of `OPTS MLST` (`"type;size;UNIX.mode;"`):
    /// names lower-cased, unknown ones dropped, as pyftpdlib `ftp_OPTS`.
    pub fn parse_opts(arg: &str) -> Facts {
        arg.split(';').fold(Facts::NONE, |acc, f| {
            let f = f.to_ascii_lowercase();
            let bit = FACT_NAMES.split(' ').position(|n| n == f);
            bit.map_or(acc, |i| acc.union(Facts(1 << i)))
        })
    }

    /// The names of the facts in the set, canonical order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        let names = FACT_NAMES.split(' ').enumerate();
        names
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| n)
    }

    /// The FEAT `MLST` argument (pyftpdlib `ftp_FEAT`): every available fact
    /// in pyftpdlib's order, `*` after the enabled ones, each ending in `;`.
    pub fn feat_line(enabled: Facts) -> String {
        let mut out = String::new();
        for name in "type perm size modify unique unix.mode unix.uid unix.gid".split(' ') {
            out.push_str(name);
            if enabled.contains(Facts::parse_opts(name)) {
                out.push('*');
            }
            out.push(';');
        }
        out
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Ten-character `ls -l` mode string (Python `stat.filemode`).
fn filemode(mode: u32) -> [u8; 10] {
    let kind = match mode & S_IFMT {
        S_IFLNK => b'l',
        0o140_000 => b's',
        S_IFREG => b'-',
        0o060_000 => b'b',
        S_IFDIR => b'd',
        0o020_000 => b'c',
        0o010_000 => b'p',
        _ => b'-',
    };
    let mut s = [kind, b'-', b'-', b'-', b'-', b'-', b'-', b'-', b'-', b'-'];
    for (i, who) in [(0o700u32, 6u32), (0o070, 3), (0o007, 0)]
        .iter()
        .enumerate()
    {
        let bits = (mode & who.0) >> who.1;
        let at = 1 + i * 3;
        if bits & 4 != 0 {
            s[at] = b'r';
        }
        if bits & 2 != 0 {
            s[at + 1] = b'w';
        }
        let special = mode & [0o4000, 0o2000, 0o1000][i] != 0;
        let (on, off) = if i == 2 { (b't', b'T') } else { (b's', b'S') };
        s[at + 2] = match (bits & 1 != 0, special) {
            (true, true) => on,
            (false, true) => off,
            (true, false) => b'x',
            (false, false) => b'-',
        };
    }
    s
}

/// Appends one `LIST` line for `path` (lstat, links not followed) to `out`:
/// `perms nlink owner group size date name\r\n`, where `name` is what to
/// display and symlinks render as `name -> target` (pyftpdlib
/// `AbstractedFS.format_list`, one entry). The date shows the year instead
/// of `HH:MM` when `now - mtime` exceeds 180 days; `utc` selects UTC
/// (`use_gmt_times`).
pub fn format_list_entry(
    fs: &dyn Filesystem,
    path: &Path,
    name: &[u8],
    now: i64,
    utc: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let st = fs.lstat(path)?;
    list_line(fs, &st, || fs.readlink(path).ok(), name, now, utc, out);
    Ok(())
}

/// [`format_list_entry`] for entry `entry` of directory `dir`, stat'ed
/// with [`Filesystem::lstat_in`] (a listing's hot path).
pub fn format_list_entry_in<F: Filesystem + ?Sized>(
    fs: &F,
    dir: &Path,
    entry: &std::ffi::OsStr,
    now: i64,
    utc: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let st = fs.lstat_in(dir, entry)?;
    let target = || fs.readlink(&dir.join(entry)).ok();
    list_line(fs, &st, target, entry.as_bytes(), now, utc, out);
    Ok(())
}

fn list_line<F: Filesystem + ?Sized>(
    fs: &F,
    st: &Stat,
    link_target: impl FnOnce() -> Option<std::path::PathBuf>,
    name: &[u8],
    now: i64,
    utc: bool,
    out: &mut Vec<u8>,
) {
    let mut tm = sys::broken_down(st.mtime, utc);
    if tm.year < 1900 {
        tm = sys::broken_down(now, utc);
    }
    let month = MONTHS[usize::try_from(tm.month.clamp(1, 12) - 1).unwrap_or(0)];
    out.extend_from_slice(&filemode(st.mode));
    // Written straight into the listing buffer: no String per entry.
    // (Writes into a Vec<u8> cannot fail.)
    let _ = write!(
        out,
        " {:>3} {:<8} {:<8} {:>8} {month} {:02} ",
        st.nlink.max(1),
        fs.get_user_by_uid(st.uid),
        fs.get_group_by_gid(st.gid),
        st.size,
        tm.day
    );
    let _ = if now.saturating_sub(st.mtime) > 180 * 86_400 {
        write!(out, " {} ", tm.year)
    } else {
        write!(out, "{:02}:{:02} ", tm.hour, tm.min)
    };
    out.extend_from_slice(name);
    if st.is_symlink() {
        if let Some(target) = link_target() {
            out.extend_from_slice(b" -> ");
            out.extend_from_slice(target.as_os_str().as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// The RFC 3659 `perm` fact (pyftpdlib `format_mlsx`): directories drop
/// a, r, w and get `c` if any of w/a/f, `p` if d; files drop c, e, l, m, p.
fn perm_fact(perms: Perms, is_dir: bool) -> String {
    let dropped = if is_dir { "arw" } else { "celmp" };
    let mut s = perms.to_letters();
    s.retain(|c| !dropped.contains(c));
    if is_dir {
        let creates = [Perm::Store, Perm::Append, Perm::Rename];
        if creates.into_iter().any(|p| perms.contains(p)) {
            s.push('c');
        }
        if perms.contains(Perm::Delete) {
            s.push('p');
        }
    }
    s
}

/// Appends one `MLSD`/`MLST` line for `path` (stat, symlinks followed) to
/// `out`: the enabled `facts` sorted by name as `name=value;`, one space,
/// `name`, CRLF (pyftpdlib `AbstractedFS.format_mlsx`, one entry). `perms`
/// are the user's permissions there; `utc` selects UTC for `modify`.
/// `unix.mode` is RFC-style octal (`0644`), not Python's `0o644`.
pub fn format_mlsx_entry(
    fs: &dyn Filesystem,
    path: &Path,
    name: &[u8],
    perms: Perms,
    facts: Facts,
    utc: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let st = fs.stat(path)?;
    mlsx_line(&st, name, perms, facts, utc, out);
    Ok(())
}

/// [`format_mlsx_entry`] for entry `entry` of directory `dir`, stat'ed
/// with [`Filesystem::stat_in`] (a listing's hot path).
pub fn format_mlsx_entry_in<F: Filesystem + ?Sized>(
    fs: &F,
    dir: &Path,
    entry: &std::ffi::OsStr,
    perms: Perms,
    facts: Facts,
    utc: bool,
    out: &mut Vec<u8>,
) -> io::Result<()> {
    let st = fs.stat_in(dir, entry)?;
    mlsx_line(&st, entry.as_bytes(), perms, facts, utc, out);
    Ok(())
}

fn mlsx_line(st: &Stat, name: &[u8], perms: Perms, facts: Facts, utc: bool, out: &mut Vec<u8>) {
    // Sorted by fact name: modify, perm, size, type, unique, unix.gid,
    // unix.mode, unix.uid. Written straight into the listing buffer
    // (writes into a Vec<u8> cannot fail).
    if facts.contains(Facts::MODIFY) {
        out.extend_from_slice(b"modify=");
        write_mdtm(out, st.mtime, utc);
        out.push(b';');
    }
    if facts.contains(Facts::PERM) {
        let _ = write!(out, "perm={};", perm_fact(perms, st.is_dir()));
    }
    if facts.contains(Facts::SIZE) {
        let _ = write!(out, "size={};", st.size);
    }
    if facts.contains(Facts::TYPE) {
        let kind = match name {
            b"." => "cdir",
            b".." => "pdir",
            _ if st.is_dir() => "dir",
            _ => "file",
        };
        let _ = write!(out, "type={kind};");
    }
    if facts.contains(Facts::UNIQUE) {
        let _ = write!(out, "unique={:x}g{:x};", st.dev, st.ino);
    }
    if facts.contains(Facts::UNIX_GID) {
        let _ = write!(out, "unix.gid={};", st.gid);
    }
    if facts.contains(Facts::UNIX_MODE) {
        let _ = write!(out, "unix.mode=0{:03o};", st.mode & 0o7777);
    }
    if facts.contains(Facts::UNIX_UID) {
        let _ = write!(out, "unix.uid={};", st.uid);
    }
    out.push(b' ');
    out.extend_from_slice(name);
    out.extend_from_slice(b"\r\n");
}

/// `YYYYMMDDHHMMSS` for MDTM and the `modify` fact (pyftpdlib
/// `time.strftime("%Y%m%d%H%M%S", timefunc(mtime))`).
pub fn format_mdtm(mtime: i64, utc: bool) -> String {
    let mut out = Vec::with_capacity(14);
    write_mdtm(&mut out, mtime, utc);
    String::from_utf8(out).unwrap_or_default()
}

/// Append `YYYYMMDDHHMMSS` to `out`.
fn write_mdtm(out: &mut Vec<u8>, mtime: i64, utc: bool) {
    let t = sys::broken_down(mtime, utc);
    let _ = write!(
        out,
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.min, t.sec
    );
}

/// Days since 1970-01-01 of a proleptic Gregorian date (also the weekday
/// of the xferlog's date).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parses MFMT's `YYYYMMDDHHMMSS` as UTC into epoch seconds (pyftpdlib
/// `ftp_MFMT`: `strptime` + `calendar.timegm`); `None` unless exactly 14
/// digits forming a valid date and time.
pub fn parse_mdtm(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 14 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let num =
        |r: std::ops::Range<usize>| b[r].iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0'));
    let (y, mo, d) = (num(0..4), num(4..6), num(6..8));
    let (h, mi, sec) = (num(8..10), num(10..12), num(12..14));
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let mdays = match mo {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1..=12).contains(&mo) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    if d < 1 || d > mdays {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filesystems::tests::{b_txt, TmpDir};
    use std::os::unix::fs::symlink;

    #[test]
    fn mode_strings() {
        let table = "100644=-rw-r--r-- 40755=drwxr-xr-x 120777=lrwxrwxrwx 104755=-rwsr-xr-x \
                     102644=-rw-r-Sr-- 41777=drwxrwxrwt 41754=drwxr-xr-T 20620=crw--w---- \
                     60660=brw-rw---- 10600=prw------- 140755=srwxr-xr-x";
        for (mode, want) in table.split(' ').filter_map(|c| c.split_once('=')) {
            let mode = u32::from_str_radix(mode, 8).unwrap();
            assert_eq!(filemode(mode), want.as_bytes(), "{mode:o}");
        }
    }

    #[test]
    fn list_lines() {
        let (_t, home, afs) = TmpDir::new("list");
        let p = b_txt(&afs, &home);
        let st = afs.lstat(&p).unwrap();
        let (user, group) = (afs.get_user_by_uid(st.uid), afs.get_group_by_gid(st.gid));
        let line = |path: &Path, name: &str, now: i64| {
            let mut out = Vec::new();
            format_list_entry(&afs, path, name.as_bytes(), now, true, &mut out).map(|()| out)
        };
        let head = format!("-rw-r--r--   1 {user:<8} {group:<8}       12 Jan 15");
        let (recent, old) = (
            format!("{head} 10:20 b.txt\r\n"),
            format!("{head}  2020 b.txt\r\n"),
        );
        let t0 = 1_579_083_630;
        assert_eq!(line(&p, "b.txt", t0 + 86_400).unwrap(), recent.as_bytes());
        assert_eq!(
            line(&p, "b.txt", t0 + 180 * 86_400).unwrap(),
            recent.as_bytes()
        );
        assert_eq!(
            line(&p, "b.txt", t0 + 180 * 86_400 + 1).unwrap(),
            old.as_bytes()
        );
        assert_eq!(line(&p, "b.txt", 0).unwrap(), recent.as_bytes());
        symlink("/etc", home.join("escape")).unwrap();
        let s = String::from_utf8(line(&home.join("escape"), "escape", 0).unwrap()).unwrap();
        assert!(
            s.starts_with("lrwxrwxrwx   1 ") && s.contains("        4 "),
            "{s}"
        );
        assert!(s.ends_with(" escape -> /etc\r\n"), "{s}");
        let out = line(&home.join("sub"), "sub", 0).unwrap();
        assert!(out.starts_with(b"drwx") && out.ends_with(b" sub\r\n"));
        assert!(line(&home.join("nope"), "nope", 0).is_err());
    }

    #[test]
    fn mlsx_lines() {
        let (_t, home, afs) = TmpDir::new("mlsx");
        let p = b_txt(&afs, &home);
        let line = |path: &Path, name: &str, perms: Perms, facts: Facts| {
            let mut out = Vec::new();
            let r = format_mlsx_entry(&afs, path, name.as_bytes(), perms, facts, true, &mut out);
            r.map(|()| String::from_utf8(out).unwrap())
        };
        let (st, all, ro) = (
            afs.stat(&p).unwrap(),
            Perms::ALL,
            Perms::parse("elr").unwrap(),
        );
        let uniq = format!("{:x}g{:x}", st.dev, st.ino);
        assert_eq!(
            line(&p, "b.txt", all, Facts::DEFAULT).unwrap(),
            format!(
                "modify=20200115102030;perm=radfwMT;size=12;type=file;unique={uniq}; b.txt\r\n"
            )
        );
        let full = line(&p, "b.txt", all, Facts::AVAILABLE).unwrap();
        let unix = format!(
            "unix.gid={};unix.mode=0644;unix.uid={}; b.txt\r\n",
            st.gid, st.uid
        );
        assert!(full.ends_with(&format!("unique={uniq};{unix}")), "{full}");
        assert_eq!(
            line(&p, "b.txt", ro, Facts::PERM).unwrap(),
            "perm=r; b.txt\r\n"
        );
        let sub = home.join("sub");
        let d = afs.stat(&sub).unwrap();
        let dl = line(&sub, "sub", all, Facts::DEFAULT).unwrap();
        let unique = format!("unique={:x}g{:x}", d.dev, d.ino);
        let want = format!(";perm=eldfmMTcp;size={};type=dir;{unique}; sub\r\n", d.size);
        assert!(dl.starts_with("modify=") && dl.ends_with(&want), "{dl}");
        assert_eq!(
            line(&sub, "sub", ro, Facts::PERM).unwrap(),
            "perm=el; sub\r\n"
        );
        assert_eq!(
            line(&sub, ".", ro, Facts::TYPE).unwrap(),
            "type=cdir; .\r\n"
        );
        assert_eq!(
            line(&sub, "..", ro, Facts::TYPE).unwrap(),
            "type=pdir; ..\r\n"
        );
        assert_eq!(line(&sub, "s", ro, Facts::NONE).unwrap(), " s\r\n");
        afs.chmod(&p, 0o4755).unwrap();
        assert_eq!(
            line(&p, "b", ro, Facts::UNIX_MODE).unwrap(),
            "unix.mode=04755; b\r\n"
        );
        symlink("sub", home.join("ln")).unwrap();
        assert_eq!(
            line(&home.join("ln"), "ln", ro, Facts::TYPE).unwrap(),
            "type=dir; ln\r\n"
        );
        assert!(line(&home.join("x"), "x", ro, Facts::TYPE).is_err());
    }

    #[test]
    fn facts() {
        let f = Facts::parse_opts("type;size;UNIX.mode;bogus;");
        assert_eq!(f, Facts::TYPE.union(Facts::SIZE).union(Facts::UNIX_MODE));
        assert_eq!(f.names().collect::<Vec<_>>(), ["type", "size", "unix.mode"]);
        assert_eq!(Facts::parse_opts(""), Facts::NONE);
        assert_eq!(Facts::parse_opts(" type;"), Facts::NONE);
        assert_eq!(Facts::AVAILABLE.names().count(), 8);
        let feat = "type*;perm*;size*;modify*;unique*;unix.mode;unix.uid;unix.gid;";
        assert_eq!(Facts::feat_line(Facts::DEFAULT), feat);
        let feat = "type*;perm;size*;modify;unique;unix.mode*;unix.uid;unix.gid;";
        assert_eq!(Facts::feat_line(f), feat);
    }

    #[test]
    fn mdtm() {
        assert_eq!(format_mdtm(1_579_083_630, true), "20200115102030");
        assert_eq!(format_mdtm(0, true), "19700101000000");
        assert_eq!(parse_mdtm("20200115102030"), Some(1_579_083_630));
        assert_eq!(parse_mdtm("20000229235959"), Some(951_868_799));
        assert_eq!(parse_mdtm("19690101000000"), Some(-31_536_000));
        for t in [0, 951_868_799, 4_102_444_800, 1_700_000_000] {
            assert_eq!(parse_mdtm(&format_mdtm(t, true)), Some(t));
        }
        let bad = "2020011510203 abcdefghijklmn 20201315102030 20200015102030 20190229000000 \
                   20200132000000 20200115242030 20200115106030 20200115102060 \
                   202001151020300 +2020011510203 2020-1-15102030";
        for s in bad.split_whitespace().chain([""]) {
            assert_eq!(parse_mdtm(s), None, "{s}");
        }
    }
}
