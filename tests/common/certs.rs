//! Certificates made at test time with the `openssl` CLI (no private key is
//! committed): a client CA and client certificates signed by it, and
//! self-signed server certificates for virtual hosts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A directory of PEM files, removed on drop.
pub struct CertDir {
    pub dir: tempfile::TempDir,
}

impl CertDir {
    pub fn new() -> CertDir {
        CertDir {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `NAME.pem` / `NAME.key`: a self-signed certificate (a CA, or a
    /// server certificate) for `/CN=cn`.
    pub fn self_signed(&self, name: &str, cn: &str) {
        openssl(
            self.dir.path(),
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }

    /// `NAME.pem` / `NAME.key`: a client certificate for `/CN=cn` with an
    /// e-mail SAN `email`, signed by the CA `ca` (made by `self_signed`).
    pub fn client(&self, name: &str, cn: &str, email: &str, ca: &str) {
        let dir = self.dir.path();
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
            ],
        );
        let ext = format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=clientAuth\nsubjectAltName=email:{email}\n"
        );
        std::fs::write(dir.join(format!("{name}.ext")), ext).expect("write ext");
        let serial = format!("{}", std::process::id() as u64 * 1000 + name.len() as u64);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{ca}.pem"),
                "-CAkey",
                &format!("{ca}.key"),
                "-set_serial",
                &serial,
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
                "-out",
                &format!("{name}.pem"),
            ],
        );
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl (install the openssl CLI)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
