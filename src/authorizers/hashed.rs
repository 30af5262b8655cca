//! Hashed passwords: crypt(3) strings stored instead of clear text.
//!
//! pyftpdlib's tutorial (§3.3, `md5_ftpd.py`) subclasses `DummyAuthorizer`
//! to store MD5 hex digests. ftpdlib builds that in, with the system's
//! password hashing: a stored password that starts with `$` is a crypt(3)
//! string (`$y$` yescrypt, `$6$` sha512-crypt, `$5$` sha256-crypt, or any
//! other method the system's libcrypt offers) and is checked through
//! libcrypt, the same way `login(1)` checks `/etc/shadow`.

use crate::error::AuthorizerError;
use crate::sys;

/// Methods [`hash_password`] tries, best first: yescrypt (Debian's default
/// for `/etc/shadow` since 11), then sha512-crypt for older libcrypts.
const METHODS: [&str; 2] = ["$y$", "$6$"];

/// A yescrypt hash of a phrase nobody types, checked when a user does not
/// exist so that an unknown name costs the same time as a wrong password.
const TIMING_DUMMY: &str =
    "$y$j9T$Xq2xq7H2sBIWkT7bkJ0xJ/$rlkyJ3ogJ3.yUjMkJrtra6jd/jdMZfSLnGJg/15EUP7";

/// Hashes a clear-text password into a crypt(3) string to store in place
/// of it: yescrypt (`$y$...`) with a random salt from the kernel, or
/// sha512-crypt (`$6$...`) where libcrypt lacks yescrypt. Two calls give
/// two different strings; both verify.
///
/// The tutorial's `md5.new(password).hexdigest()` (pyftpdlib §3.3), with a
/// salted, slow hash. The command line offers it as `ftpdlib
/// --hash-password`.
///
/// ```
/// let hash = ftpdlib::hash_password("12345")?;
/// let mut auth = ftpdlib::DummyAuthorizer::new();
/// auth.add_user_with_perm("user", &hash, ".", "elr")?;
/// # Ok::<(), ftpdlib::AuthorizerError>(())
/// ```
///
/// Fails if the password holds a NUL byte or is longer than libcrypt
/// accepts (512 bytes), or if no method is available.
#[doc(alias = "md5")]
pub fn hash_password(clear: &str) -> Result<String, AuthorizerError> {
    if clear.contains('\0') {
        return Err(AuthorizerError("password contains a NUL byte".into()));
    }
    let mut why = String::from("no hashing method available");
    for method in METHODS {
        let setting = match sys::crypt_gensalt(method) {
            Ok(s) => s,
            Err(e) => {
                why = e.to_string();
                continue;
            }
        };
        match sys::crypt(clear, &setting) {
            Some(hash) => return Ok(hash),
            None => why = format!("libcrypt refused to hash with {method} (password too long?)"),
        }
    }
    Err(AuthorizerError(why))
}

/// Whether a stored password is a crypt(3) hash rather than clear text:
/// it starts with `$`.
pub fn is_password_hash(stored: &str) -> bool {
    stored.starts_with('$')
}

/// Whether libcrypt understands `hash` (its method and salt are valid).
pub(crate) fn is_valid_hash(hash: &str) -> bool {
    sys::crypt("", hash).is_some()
}

/// Whether `given` hashes to `hash`, comparing the two hashes in constant
/// time. A malformed hash matches nothing.
pub(crate) fn verify_hash(hash: &str, given: &str) -> bool {
    match sys::crypt(given, hash) {
        Some(computed) => super::constant_time_eq(computed.as_bytes(), hash.as_bytes()),
        None => false,
    }
}

/// Spends the time of one password check and fails: used for users that
/// do not exist, so a client cannot tell them apart by the delay.
pub(crate) fn verify_nothing(given: &str) -> bool {
    let _ = verify_hash(TIMING_DUMMY, given);
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    // Vectors from Python's crypt.crypt (libxcrypt) with fixed salts.
    const SHA512: &str = "$6$saltsalt$bS8uFVRzMrb1ylbOyDWAlPhX./AH4Wgwbcp6PSOQdctbNq4.17j.43u4YKqn/mHb3zik88vMAwyrY4nYHaOFC/";
    const SHA256: &str = "$5$saltsalt$4HgQlEGCG4QnAFeYPNl.BdEarRevRfJzyLDAbZMoCbC";
    const YESCRYPT: &str =
        "$y$j9T$TP1hdKnyA0ymCTlcjV3Zb.$Kw.lM0envXJWkUQnmPYzqjXocVnFK/MBvDNUfvGqvH.";

    #[test]
    fn known_vectors_verify() {
        for hash in [SHA512, SHA256, YESCRYPT] {
            assert!(is_password_hash(hash) && is_valid_hash(hash), "{hash}");
            assert!(verify_hash(hash, "12345"), "{hash}");
            assert!(!verify_hash(hash, "12346"), "{hash}");
            assert!(!verify_hash(hash, ""), "{hash}");
            assert!(!verify_hash(hash, "12345\0"), "{hash}");
        }
        assert!(!verify_nothing("12345"));
    }

    #[test]
    fn malformed_hashes_match_nothing() {
        for bad in [
            "$",
            "$y$",
            "$6$",
            "$zz$salt$hash",
            "$6$saltsalt$short",
            "!$6$x$y",
            "",
        ] {
            assert!(!verify_hash(bad, "12345"), "{bad:?}");
            // the hash text itself is never a valid password for it
            assert!(!verify_hash(bad, bad), "{bad:?}");
        }
        assert!(!is_valid_hash("$zz$salt$hash") && !is_valid_hash("$"));
        assert!(!is_password_hash("12345") && !is_password_hash(""));
    }

    #[test]
    fn hash_password_salts_and_verifies() {
        let a = hash_password("s3cret pässword").unwrap();
        let b = hash_password("s3cret pässword").unwrap();
        assert_ne!(a, b, "salt must be random");
        assert!(a.starts_with("$y$") || a.starts_with("$6$"), "{a}");
        assert!(!a.contains(':'), "{a}");
        assert!(verify_hash(&a, "s3cret pässword") && verify_hash(&b, "s3cret pässword"));
        assert!(!verify_hash(&a, "s3cret passwörd"));
        assert!(hash_password("").is_ok());
        assert!(hash_password("a\0b").is_err());
        assert!(hash_password(&"x".repeat(600)).is_err());
    }
}
