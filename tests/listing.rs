//! MLSD's perm fact follows per-directory overrides (ftpdlib fixes
//! pyftpdlib, which always shows the global perms), and stays right when a
//! listing takes the authorizer's answer once for every entry.
mod common;

use common::*;

fn mlsd_lines(c: &mut Client, path: &str) -> Vec<String> {
    let (data, reply) = c.retrieve(&format!("MLSD {path}"));
    assert_eq!(code_of(&reply), 226, "{reply}");
    String::from_utf8(data)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn perm_of<'a>(lines: &'a [String], name: &str) -> &'a str {
    let line = lines
        .iter()
        .find(|l| l.ends_with(&format!(" {name}")))
        .unwrap_or_else(|| panic!("{name} not in {lines:?}"));
    line.split(';')
        .find_map(|f| f.strip_prefix("perm="))
        .unwrap_or("")
}

#[test]
fn mlsd_perm_fact_without_overrides_is_the_global_perms() {
    let srv = TestServer::start();
    std::fs::write(srv.root().join("f.txt"), b"x").unwrap();
    std::fs::create_dir(srv.root().join("d")).unwrap();
    let mut c = srv.login();
    let lines = mlsd_lines(&mut c, "/");
    assert_eq!(perm_of(&lines, "f.txt"), "radfwMT");
    assert_eq!(perm_of(&lines, "d"), "eldfmMTcp");
}

#[test]
fn mlsd_perm_fact_follows_a_recursive_override() {
    let srv = TestServer::start_with(
        |a, home| {
            std::fs::create_dir_all(home.join("ro/inner")).unwrap();
            std::fs::write(home.join("ro/inner/f.txt"), b"x").unwrap();
            std::fs::write(home.join("top.txt"), b"x").unwrap();
            a.override_perm(USER, home.join("ro"), "elr", true).unwrap();
        },
        |_| {},
    );
    let mut c = srv.login();
    let top = mlsd_lines(&mut c, "/");
    assert_eq!(perm_of(&top, "top.txt"), "radfwMT");
    // The override dir itself is read-only.
    assert_eq!(perm_of(&top, "ro"), "el");
    let inner = mlsd_lines(&mut c, "/ro/inner");
    assert_eq!(perm_of(&inner, "f.txt"), "r");
}
