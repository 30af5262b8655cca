//! Upload modes, quotas and checksums at the interpreter level: which file
//! an upload writes, what its end does to it, the 552 and OPTS HASH
//! replies (ftpdlib extensions; the wire tests are tests/uploads.rs and
//! tests/checksums.rs).

use std::io::Write;

use super::{upload_file, Ended, OutcomeKind, T, USER};
use crate::handlers::ftp::UploadMode;
use crate::UserLimits;

fn names(t: &T) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(t.home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn mode(m: UploadMode) -> T {
    let mut t = T::with(|h| h.upload_mode = m);
    t.login();
    t.expect("TYPE I", 200);
    t.connected();
    t
}

#[test]
fn an_atomic_stor_writes_a_temporary_file_renamed_at_the_end() {
    let mut t = mode(UploadMode::Atomic);
    t.put("f", "old");
    t.expect("STOR f", 125);
    let mut job = t.job();
    upload_file(&mut job).write_all(b"new").unwrap();
    let temp = job.commit.as_ref().map(|c| c.temp.clone()).unwrap();
    assert!(temp
        .file_name()
        .unwrap()
        .to_string_lossy()
        .starts_with(".ftpdlib-upload."));
    assert_eq!(t.read("f"), "old", "the name shows the old file meanwhile");
    t.complete(job);
    assert_eq!(t.read("f"), "new");
    assert_eq!(names(&t), ["f"]);
}

#[test]
fn an_aborted_atomic_upload_is_removed_and_resume_is_refused() {
    let mut t = mode(UploadMode::Atomic);
    t.expect("STOR f", 125);
    let job = t.job();
    t.finish(job, OutcomeKind::Aborted, Ended::ByAbor);
    assert!(names(&t).is_empty(), "{:?}", names(&t));
    t.connected();
    t.expect("REST 3", 350);
    t.says(
        "STOR f",
        "550 Resuming or appending to an existing file is not possible in upload mode atomic.",
    );
}

#[test]
fn atomic_resume_keeps_the_partial_file_and_continues_it() {
    let mut t = mode(UploadMode::AtomicResume);
    t.expect("STOR f", 125);
    let mut job = t.job();
    upload_file(&mut job).write_all(b"abc").unwrap();
    t.finish(job, OutcomeKind::Aborted, Ended::ByAbor);
    assert_eq!(names(&t), [".ftpdlib-part.f"]);
    t.connected();
    t.expect("REST 3", 350);
    t.expect("STOR f", 125);
    let mut job = t.job();
    upload_file(&mut job).write_all(b"def").unwrap();
    t.complete(job);
    assert_eq!(t.read("f"), "abcdef");
    assert_eq!(names(&t), ["f"]);
    t.connected();
    t.says(
        "APPE f",
        "550 No partial upload of this file to resume (upload mode atomic_resume).",
    );
}

#[test]
fn the_byte_quota_refuses_an_upload_at_the_limit_with_552() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("ten"), b"0123456789").unwrap();
    let root = home.path().to_path_buf();
    let mut t = T::with(move |h| {
        let mut a = crate::DummyAuthorizer::new();
        a.add_user_with_perm(USER, super::PASSWORD, &root, "elradfmwMT")
            .unwrap();
        let limits = UserLimits {
            quota_bytes: 5,
            ..UserLimits::default()
        };
        a.set_user_limits(USER, limits).unwrap();
        h.authorizer = Box::new(a);
    });
    t.login();
    t.connected();
    t.says("STOR new", "552 Quota exceeded: 10 of 5 bytes used.");
    assert!(!home.path().join("new").exists());
    assert!(t.effects().is_empty());
}

#[cfg(not(feature = "hash"))]
#[test]
fn opts_hash_without_the_hash_feature_is_unsupported() {
    let mut t = T::new();
    t.login();
    t.says("OPTS HASH", "501 Unsupported command \"HASH\".");
    t.says("HASH f", "500 Command \"HASH\" not understood.");
}

#[cfg(feature = "hash")]
#[test]
fn hash_hands_a_checksum_job_to_the_control_channel() {
    let mut t = T::new();
    t.login();
    t.put("f", "abc");
    t.says("OPTS HASH CRC32", "200 CRC32");
    t.s.handle_line(b"HASH f");
    assert_eq!(t.output(), "", "no reply before the checksum is done");
    let mut effects = t.s.take_effects();
    let Some(super::Effect::Hash(mut job)) = effects.pop() else {
        panic!("expected a Hash effect");
    };
    let done = job.step(1 << 20).unwrap().unwrap();
    t.s.on_hash_done(Ok(done));
    t.replied("213 CRC32 0-3 352441c2 f");
}
