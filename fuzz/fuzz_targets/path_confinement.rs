//! Path normalisation and confinement: for any working directory and any
//! virtual path, a path that `confine` lets through lies inside the
//! canonical home, both as written and once its symlinks are resolved.
#![no_main]

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

/// A home with a subdirectory, a symlink that escapes, one that stays
/// inside, a dangling one and a loop.
fn home() -> &'static PathBuf {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let parent = std::env::temp_dir().join("ftpdlib-fuzz-path_confinement");
        let _ = fs::remove_dir_all(&parent);
        let home = parent.join("home");
        fs::create_dir_all(home.join("sub/deeper")).unwrap();
        fs::create_dir_all(parent.join("outside")).unwrap();
        fs::write(home.join("sub/file"), b"x").unwrap();
        symlink("../outside", home.join("escape")).unwrap();
        symlink("/", home.join("root")).unwrap();
        symlink("sub/deeper", home.join("inside")).unwrap();
        symlink("nowhere", home.join("dangling")).unwrap();
        symlink("loop", home.join("loop")).unwrap();
        symlink("../../outside", home.join("sub/up")).unwrap();
        home.canonicalize().unwrap()
    })
}

/// The longest existing prefix of `p`, resolved, plus the rest.
fn resolve_existing(p: &Path) -> PathBuf {
    let mut existing = p.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (existing.file_name(), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name.to_os_string());
                existing = parent.to_path_buf();
            }
            _ => return p.to_path_buf(),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let home = home();
    // cwd and path are separated by the first NUL byte (neither can hold
    // one on the wire once the session refuses NUL; the path may still).
    let (cwd, virt) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&b"/"[..], data),
    };
    let cwd = String::from_utf8_lossy(cwd);
    let virt = String::from_utf8_lossy(virt);
    let Some(real) = ftpdlib::fuzzing::confine(home, &cwd, &virt) else {
        return;
    };
    assert!(
        real.starts_with(home),
        "{cwd:?} + {virt:?} -> {real:?} is outside {home:?}"
    );
    assert!(
        !real
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir)),
        "{cwd:?} + {virt:?} -> {real:?} is not normalised"
    );
    if !real.as_os_str().as_encoded_bytes().contains(&0) {
        let resolved = resolve_existing(&real);
        assert!(
            resolved.starts_with(home),
            "{cwd:?} + {virt:?} -> {real:?} resolves to {resolved:?}, outside {home:?}"
        );
    }
});
