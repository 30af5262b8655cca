//! Checksums computed inside the loop (ftpdlib extension; pyftpdlib has
//! none): the job behind `HASH` (draft-bryan-ftpext-hash) and the older
//! `XCRC`, `XMD5`, `XSHA1`, `XSHA256` and `XSHA512`.
//!
//! A [`HashJob`] reads its file a chunk at a time; the control channel
//! runs [`HashJob::step`] with the same per-round byte budget as a data
//! channel (1 MiB) and defers itself between rounds, so a checksum of a
//! large file holds no other client. The algorithms come from RustCrypto's
//! `sha2`, `sha1`, `md-5` and `crc32fast`, behind the `hash` cargo feature;
//! this module itself needs none of them.

use std::io::{self, Read};

use crate::filesystems::FileHandle;
use crate::reply::Code;

/// The algorithm names of `HASH` / `OPTS HASH`, as the draft's registry
/// spells them, in the order FEAT lists them. `SHA-256` is the default.
pub(crate) const ALGORITHMS: &[&str] = &["SHA-256", "SHA-512", "SHA-1", "MD5", "CRC32"];

/// The FEAT line of `HASH`: every algorithm, the selected one starred
/// (draft-bryan-ftpext-hash §4: `HASH SHA-256*;SHA-1;MD5`).
pub(crate) fn feat_line(selected: &str) -> String {
    let mut line = String::from("HASH ");
    for (i, name) in ALGORITHMS.iter().enumerate() {
        if i > 0 {
            line.push(';');
        }
        line.push_str(name);
        if *name == selected {
            line.push('*');
        }
    }
    line
}

/// The canonical name of `name` (any case) if it is supported.
pub(crate) fn algorithm(name: &str) -> Option<&'static str> {
    ALGORITHMS
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(name))
}

/// A running digest.
pub(crate) trait Checksum {
    /// Feed bytes.
    fn update(&mut self, data: &[u8]);
    /// The digest in lower-case hex (CRC32: 8 digits, as `crc32(1)` and
    /// Python's `zlib.crc32` formatted with `%08x`).
    fn finish(self: Box<Self>) -> String;
}

/// Bytes read from the file per call.
const READ_CHUNK: usize = 256 * 1024;

/// One checksum being computed: a file read from its start offset for
/// `remaining` bytes, and the reply to send with the digest.
pub(crate) struct HashJob {
    file: Box<dyn FileHandle>,
    remaining: u64,
    digest: Option<Box<dyn Checksum>>,
    buf: Vec<u8>,
    /// The reply: `code prefix<hex>suffix`.
    pub code: Code,
    prefix: String,
    suffix: String,
}

/// What a finished job answers.
pub(crate) struct HashReply {
    pub code: Code,
    pub text: String,
}

impl HashJob {
    /// Hash `len` bytes of `file` from its current position with `digest`;
    /// the reply is `code prefix<hex>suffix`.
    #[cfg_attr(not(feature = "hash"), allow(dead_code))]
    pub fn new(
        file: Box<dyn FileHandle>,
        len: u64,
        digest: Box<dyn Checksum>,
        code: Code,
        prefix: String,
        suffix: String,
    ) -> HashJob {
        HashJob {
            file,
            remaining: len,
            digest: Some(digest),
            buf: Vec::new(),
            code,
            prefix,
            suffix,
        }
    }

    /// Hash at most `budget` more bytes; the reply once the range is done
    /// (or the file ended early: a file cut meanwhile is hashed as it is).
    pub fn step(&mut self, budget: u64) -> io::Result<Option<HashReply>> {
        let mut done = 0u64;
        if self.buf.is_empty() {
            self.buf = vec![0; READ_CHUNK];
        }
        while self.remaining > 0 && done < budget {
            let want = self.remaining.min(READ_CHUNK as u64).min(budget - done) as usize;
            let n = match self.file.read(&mut self.buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if let Some(d) = self.digest.as_mut() {
                d.update(&self.buf[..n]);
            }
            self.remaining -= n as u64;
            done += n as u64;
            if n < want {
                // Short read of a regular file: at its end.
                self.remaining = 0;
            }
        }
        if self.remaining > 0 && done >= budget {
            return Ok(None);
        }
        let hex = self.digest.take().map(|d| d.finish()).unwrap_or_default();
        Ok(Some(HashReply {
            code: self.code,
            text: format!("{}{hex}{}", self.prefix, self.suffix),
        }))
    }
}

/// The algorithms themselves (the `hash` feature).
#[cfg(feature = "hash")]
pub(crate) mod algos {
    use super::Checksum;
    use sha2::Digest;

    /// A new digest for a canonical [`ALGORITHMS`](super::ALGORITHMS) name.
    pub fn new(name: &str) -> Option<Box<dyn Checksum>> {
        Some(match name {
            "SHA-256" => Box::new(Rust(sha2::Sha256::new())),
            "SHA-512" => Box::new(Rust(sha2::Sha512::new())),
            "SHA-1" => Box::new(Rust(sha1::Sha1::new())),
            "MD5" => Box::new(Rust(md5::Md5::new())),
            "CRC32" => Box::new(Crc(crc32fast::Hasher::new())),
            _ => return None,
        })
    }

    struct Rust<D>(D);

    impl<D: Digest> Checksum for Rust<D> {
        fn update(&mut self, data: &[u8]) {
            Digest::update(&mut self.0, data);
        }
        fn finish(self: Box<Self>) -> String {
            hex(&self.0.finalize())
        }
    }

    struct Crc(crc32fast::Hasher);

    impl Checksum for Crc {
        fn update(&mut self, data: &[u8]) {
            self.0.update(data);
        }
        fn finish(self: Box<Self>) -> String {
            format!("{:08x}", self.0.finalize())
        }
    }

    fn hex(bytes: &[u8]) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(bytes.len() * 2);
        for b in bytes {
            let _ = write!(s, "{b:02x}");
        }
        s
    }

    #[cfg(test)]
    mod tests {
        use super::super::HashJob;
        use super::*;

        fn digest(name: &str, data: &[u8]) -> String {
            let mut d = new(name).unwrap();
            d.update(data);
            d.finish()
        }

        #[test]
        fn known_answers_of_each_algorithm() {
            let abc = b"abc";
            assert_eq!(
                digest("SHA-256", abc),
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
            );
            assert_eq!(
                digest("SHA-1", abc),
                "a9993e364706816aba3e25717850c26c9cd0d89d"
            );
            assert_eq!(digest("MD5", abc), "900150983cd24fb0d6963f7d28e17f72");
            assert_eq!(digest("CRC32", abc), "352441c2");
            assert!(digest("SHA-512", abc).starts_with("ddaf35a193617aba"));
            assert!(new("SHA-3").is_none());
        }

        impl crate::filesystems::FileHandle for std::io::Cursor<Vec<u8>> {}

        #[test]
        fn a_job_hashes_its_range_over_several_budgets() {
            let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
            let file = std::io::Cursor::new(data.clone());
            let mut job = HashJob::new(
                Box::new(file),
                600_000,
                new("SHA-256").unwrap(),
                250,
                String::new(),
                String::new(),
            );
            let mut rounds = 0;
            let reply = loop {
                rounds += 1;
                if let Some(r) = job.step(100_000).unwrap() {
                    break r;
                }
            };
            assert!(rounds >= 6, "{rounds} rounds");
            assert_eq!(reply.text, digest("SHA-256", &data[..600_000]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feat_line_stars_the_selected_algorithm() {
        assert_eq!(
            feat_line("SHA-256"),
            "HASH SHA-256*;SHA-512;SHA-1;MD5;CRC32"
        );
        assert_eq!(feat_line("MD5"), "HASH SHA-256;SHA-512;SHA-1;MD5*;CRC32");
        assert_eq!(algorithm("sha-1"), Some("SHA-1"));
        assert_eq!(algorithm("SHA1"), None);
    }
}
