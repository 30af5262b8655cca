//! Running the `curl` binary as a subprocess and reading its output.

use std::process::{Command, Output, Stdio};

/// Run curl with `base` options then `args`, stdin closed.
pub fn run_curl(base: &[&str], args: &[&str]) -> Output {
    Command::new("curl")
        .args(base)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run curl")
}

/// curl's stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Assert curl exited 0, showing its stderr otherwise.
pub fn curl_ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "curl failed: {}", stderr(o));
}

/// The lines of a `-v` transcript that start with `prefix` (`"> "`: the
/// commands curl sent, `"< "`: the replies it got), prefix and trailing
/// white space removed.
pub fn transcript(o: &Output, prefix: &str) -> Vec<String> {
    stderr(o)
        .lines()
        .filter_map(|l| l.strip_prefix(prefix))
        .map(|l| l.trim_end().to_string())
        .collect()
}
