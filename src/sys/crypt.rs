//! Password hashing with crypt(3) from libcrypt (pyftpdlib's
//! `crypt.crypt`) and its salts, from the kernel's random source.

use std::ffi::{CStr, CString};
use std::io;

#[link(name = "crypt")]
extern "C" {
    fn crypt_rn(
        phrase: *const libc::c_char,
        setting: *const libc::c_char,
        data: *mut libc::c_void,
        size: libc::c_int,
    ) -> *mut libc::c_char;
    fn crypt_gensalt_rn(
        prefix: *const libc::c_char,
        count: libc::c_ulong,
        rbytes: *const libc::c_char,
        nrbytes: libc::c_int,
        output: *mut libc::c_char,
        output_size: libc::c_int,
    ) -> *mut libc::c_char;
}

/// `sizeof(struct crypt_data)` in libxcrypt's `<crypt.h>`.
const CRYPT_DATA_SIZE: usize = 32_768;
/// `CRYPT_GENSALT_OUTPUT_SIZE` in `<crypt.h>`.
const CRYPT_GENSALT_OUTPUT_SIZE: usize = 192;
/// Random bytes handed to `crypt_gensalt_rn` (128 bits of salt).
const SALT_BYTES: usize = 16;

/// crypt(3) (pyftpdlib's `crypt.crypt(password, setting)`): hashes `phrase`
/// with the method, cost and salt of `setting` (a full hash to check against,
/// or a setting from [`crypt_gensalt`]), via the reentrant `crypt_rn`.
/// `None` when libcrypt refuses: unknown method, malformed setting, a NUL
/// byte, a phrase longer than 512 bytes.
pub(crate) fn crypt(phrase: &str, setting: &str) -> Option<String> {
    let phrase = CString::new(phrase).ok()?;
    let setting = CString::new(setting).ok()?;
    let size = libc::c_int::try_from(CRYPT_DATA_SIZE).ok()?;
    // u128 words: zeroed, and aligned for any field libcrypt keeps in there.
    let mut data = vec![0u128; CRYPT_DATA_SIZE / std::mem::size_of::<u128>()];
    // SAFETY: both strings are NUL-terminated and alive; `data` is a zeroed,
    // writable, 16-byte-aligned area of exactly `size` bytes, as crypt_rn
    // requires of its `struct crypt_data`.
    let out = unsafe {
        crypt_rn(
            phrase.as_ptr(),
            setting.as_ptr(),
            data.as_mut_ptr().cast(),
            size,
        )
    };
    let hash = if out.is_null() {
        None
    } else {
        // SAFETY: on success crypt_rn returns a NUL-terminated string inside
        // `data`, which is alive here.
        Some(
            unsafe { CStr::from_ptr(out) }
                .to_string_lossy()
                .into_owned(),
        )
    };
    data.fill(0);
    std::hint::black_box(&data);
    // crypt_rn never returns the "*0"/"*1" failure tokens, but be sure.
    hash.filter(|h| !h.starts_with('*'))
}

/// A new setting for `prefix` (`"$y$"`, `"$6$"`...) with the library's
/// default cost and a random salt (`crypt_gensalt_rn`). `Unsupported` when
/// this libcrypt does not offer the method.
pub(crate) fn crypt_gensalt(prefix: &str) -> io::Result<String> {
    let cprefix = CString::new(prefix).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut rbytes = [0u8; SALT_BYTES];
    random_bytes(&mut rbytes)?;
    let mut out = vec![0 as libc::c_char; CRYPT_GENSALT_OUTPUT_SIZE];
    let (nrbytes, out_len) = (
        SALT_BYTES as libc::c_int,
        CRYPT_GENSALT_OUTPUT_SIZE as libc::c_int,
    );
    // SAFETY: `cprefix` is NUL-terminated, `rbytes` holds `nrbytes` bytes and
    // `out` is writable for `out_len` bytes; all three outlive the call.
    let p = unsafe {
        crypt_gensalt_rn(
            cprefix.as_ptr(),
            0,
            rbytes.as_ptr().cast(),
            nrbytes,
            out.as_mut_ptr(),
            out_len,
        )
    };
    if p.is_null() {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("libcrypt does not support {prefix}"),
        ));
    }
    // SAFETY: on success `p` is a NUL-terminated string inside `out`.
    Ok(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
}

/// Fills `buf` from the kernel's random source (`getrandom(2)`, falling back
/// to `/dev/urandom` on kernels without it).
pub(crate) fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a writable buffer of `rest.len()` bytes.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match usize::try_from(n) {
            Ok(n) => filled += n,
            Err(_) => {
                let err = io::Error::last_os_error();
                match err.raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::ENOSYS) => {
                        use std::io::Read;
                        return std::fs::File::open("/dev/urandom")?.read_exact(rest);
                    }
                    _ => return Err(err),
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crypt_and_salts() {
        let sha512 = "$6$saltsalt$bS8uFVRzMrb1ylbOyDWAlPhX./AH4Wgwbcp6PSOQdctbNq4.17j.43u4YKqn/mHb3zik88vMAwyrY4nYHaOFC/";
        assert_eq!(crypt("12345", "$6$saltsalt$").as_deref(), Some(sha512));
        assert_eq!(crypt("12345", sha512).as_deref(), Some(sha512));
        assert_eq!(crypt("12345", "$zz$bogus"), None);
        assert_eq!(crypt("a\0b", sha512), None);
        assert_eq!(crypt(&"x".repeat(513), sha512), None);
        let y = crypt_gensalt("$y$").unwrap();
        assert!(y.starts_with("$y$"), "{y}");
        assert_ne!(y, crypt_gensalt("$y$").unwrap());
        assert!(crypt("pw", &y).unwrap().starts_with(&y));
        assert!(crypt_gensalt("$6$").unwrap().starts_with("$6$"));
        assert_eq!(
            crypt_gensalt("$zz$").unwrap_err().kind(),
            io::ErrorKind::Unsupported
        );
        let mut buf = [0u8; 64];
        random_bytes(&mut buf).unwrap();
        assert!(buf.iter().any(|&b| b != 0));
        random_bytes(&mut []).unwrap();
    }
}
