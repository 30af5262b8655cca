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
