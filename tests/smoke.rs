mod common;
use common::*;

#[test]
fn greeting_login_and_retr_over_pasv() {
    let srv = TestServer::start();
    std::fs::write(srv.root().join("a.txt"), b"hello\n").unwrap();
    let mut c = srv.login();
    assert!(c.greeting.starts_with("220 "));
    c.expect("TYPE I", 200);
    let (data, reply) = c.retrieve("RETR a.txt");
    assert_eq!(data, b"hello\n");
    assert_eq!(code_of(&reply), 226);
    c.expect("QUIT", 221);
}

#[test]
fn a_client_that_half_closes_still_gets_its_replies() {
    use std::io::{Read, Write};
    let srv = TestServer::start();
    let mut c = srv.client();
    let mut sock = c.reader.get_ref().try_clone().unwrap();
    sock.write_all(b"NOOP\r\nSYST\r\n").unwrap();
    sock.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = String::new();
    c.reader.read_to_string(&mut rest).unwrap();
    assert_eq!(
        rest,
        "200 I successfully did nothing.\r\n215 UNIX Type: L8\r\n"
    );
}
