//! Shared by the session targets: a fixed home under the temp dir with a
//! canary file beside it, and the checks run after every input.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What a confinement break would touch: `<tmp>/ftpdlib-fuzz-<name>/canary`.
const CANARY: &[u8] = b"outside the home: must never change\n";

pub struct Home {
    /// `<tmp>/ftpdlib-fuzz-<name>`: holds exactly `home` and `canary`.
    pub parent: PathBuf,
    /// The user's home, canonical.
    pub home: PathBuf,
}

/// Create (once per process) the parent, the canary and the home.
pub fn home(name: &str) -> &'static Home {
    static HOME: OnceLock<Home> = OnceLock::new();
    HOME.get_or_init(|| {
        let parent = std::env::temp_dir().join(format!("ftpdlib-fuzz-{name}"));
        let _ = fs::remove_dir_all(&parent);
        fs::create_dir_all(parent.join("home/sub/deeper")).unwrap();
        fs::write(parent.join("canary"), CANARY).unwrap();
        fs::write(parent.join("home/file.txt"), b"hello\r\nworld\n").unwrap();
        let home = parent.join("home").canonicalize().unwrap();
        Home { parent, home }
    })
}

impl Home {
    /// Put the home back if an input removed or renamed it, and keep it
    /// small: inputs MKD and STOU freely.
    pub fn prepare(&self, runs: u64) {
        if runs % 20_000 == 0 && runs > 0 {
            let _ = fs::remove_dir_all(&self.home);
        }
        if !self.home.is_dir() {
            fs::create_dir_all(self.home.join("sub/deeper")).unwrap();
            fs::write(self.home.join("file.txt"), b"hello\r\nworld\n").unwrap();
        }
    }

    /// Nothing beside the home was created, removed or changed.
    pub fn check_outside(&self) {
        let mut names: Vec<_> = fs::read_dir(&self.parent)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["canary", "home"],
            "an entry appeared beside the home"
        );
        assert_eq!(
            fs::read(self.parent.join("canary")).unwrap(),
            CANARY,
            "the canary outside the home changed"
        );
    }
}

/// The reply stream is well framed: every LF is preceded by CR, it ends
/// with CRLF, and every line outside a multi-line reply starts with a
/// three-digit code followed by a space or a dash (RFC 959 §4.2). A CR or LF
/// taken from the client can therefore never start a forged reply line.
pub fn check_replies(out: &[u8]) {
    if out.is_empty() {
        return;
    }
    assert!(
        out.ends_with(b"\r\n"),
        "reply stream does not end with CRLF"
    );
    for (i, &b) in out.iter().enumerate() {
        if b == b'\n' {
            assert!(i > 0 && out[i - 1] == b'\r', "bare LF at {i} in replies");
        }
    }
    let body = &out[..out.len() - 2];
    let mut open: Option<[u8; 3]> = None;
    for line in body.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let coded = line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit);
        match open {
            None => {
                assert!(
                    coded && (line[3] == b' ' || line[3] == b'-'),
                    "reply line without a code: {:?}",
                    String::from_utf8_lossy(line)
                );
                if line[3] == b'-' {
                    open = Some([line[0], line[1], line[2]]);
                }
            }
            Some(code) => {
                if coded && line[..3] == code && line[3] == b' ' {
                    open = None;
                }
            }
        }
    }
    assert!(open.is_none(), "multi-line reply never closed");
}

/// The home as a `Path`.
pub fn path(h: &Home) -> &Path {
    &h.home
}
