//! md5_ftpd: the pyftpdlib tutorial's §3.3 script ("Storing passwords as
//! hash digests") in Rust.
//!
//! The tutorial subclasses `DummyAuthorizer` and overrides one method,
//! `validate_authentication`, to compare the MD5 hex digest of the given
//! password with the stored one. ftpdlib's [`Subclass`] does the same: the
//! overriding type writes that one method, every other authorizer method
//! (and `add_user`, `add_anonymous`) is `DummyAuthorizer`'s.
//!
//! ```text
//! cargo run --example md5_ftpd            # port 2121, or: -- 2122
//! curl -u user:12345 ftp://127.0.0.1:2121/
//! ```
//!
//! MD5 is what the tutorial uses, not a good password hash: for a real
//! server give `add_user` a crypt(3) hash (`examples/hashed_passwords.rs`).

use ftpdlib::{AuthenticationFailed, AuthorizerOverrides, DummyAuthorizer, Subclass};
use ftpdlib::{FtpHandler, FtpServer};
use md5::{Digest, Md5};

/// `hashlib.md5(password).hexdigest()`.
fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// class DummyMD5Authorizer(DummyAuthorizer)
struct DummyMD5Authorizer;

impl AuthorizerOverrides<DummyAuthorizer> for DummyMD5Authorizer {
    fn validate_authentication(
        &self,
        base: &DummyAuthorizer,
        username: &str,
        password: &str,
    ) -> Result<(), AuthenticationFailed> {
        match base.user(username) {
            // Anonymous has no password: any is accepted, as in DummyAuthorizer.
            Some(_) if username == "anonymous" => Ok(()),
            Some(user) if user.pwd == md5_hex(password) => Ok(()),
            _ => Err(AuthenticationFailed("Authentication failed.".into())),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(2121), |p| p.parse())?;

    // get a hash digest from a clear-text password
    let hash = md5_hex("12345");
    let mut authorizer = Subclass::new(DummyAuthorizer::new(), DummyMD5Authorizer);
    authorizer.add_user_with_perm("user", &hash, ".", "elradfmwMT")?;
    authorizer.add_anonymous(".")?;
    let handler = FtpHandler::new(authorizer);
    let mut server = FtpServer::bind(("", port), handler)?;
    server.serve_forever()?;
    Ok(())
}
