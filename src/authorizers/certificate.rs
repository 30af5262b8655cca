//! What an authorizer sees of a TLS client certificate: the names it
//! carries, read from its DER encoding without any dependency (the
//! certificate itself was checked by rustls against the client CA before a
//! session ever sees it).
//!
//! Only the few fields a login can be mapped from are read: the subject's
//! common name (CN, OID 2.5.4.3) and the subject alternative names of type
//! `rfc822Name` (e-mail) and `dNSName` (RFC 5280 §4.2.1.6). A field that
//! does not parse is simply absent: the parser never panics on any input.

/// Which field of a client certificate names the FTP user (ftpdlib
/// extension; pyftpdlib has no client certificates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertUserField {
    /// The subject's common name (`CN=alice`), the default.
    #[default]
    CommonName,
    /// The first `rfc822Name` subject alternative name (`email:alice@x`).
    Email,
    /// The first `dNSName` subject alternative name.
    DnsName,
}

/// A verified TLS client certificate, as the session hands it to
/// [`Authorizer::authenticate_certificate`](super::Authorizer::authenticate_certificate)
/// (ftpdlib extension).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    der: Vec<u8>,
    common_name: Option<String>,
    emails: Vec<String>,
    dns_names: Vec<String>,
    user_field: CertUserField,
}

impl ClientCertificate {
    /// Read the names of the DER certificate `der`; `user_field` says which
    /// of them is [`user_name`](Self::user_name).
    pub fn from_der(der: &[u8], user_field: CertUserField) -> ClientCertificate {
        let mut cert = ClientCertificate {
            der: der.to_vec(),
            common_name: None,
            emails: Vec::new(),
            dns_names: Vec::new(),
            user_field,
        };
        // A certificate that does not parse keeps no names: it maps to nobody.
        let _ = cert.parse();
        cert
    }

    /// The certificate as the client sent it (DER).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject's common name, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.common_name.as_deref()
    }

    /// The `rfc822Name` (e-mail) subject alternative names.
    pub fn emails(&self) -> &[String] {
        &self.emails
    }

    /// The `dNSName` subject alternative names.
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    /// The name the configured [`CertUserField`] gives: the user this
    /// certificate stands for by default.
    pub fn user_name(&self) -> Option<&str> {
        match self.user_field {
            CertUserField::CommonName => self.common_name(),
            CertUserField::Email => self.emails.first().map(String::as_str),
            CertUserField::DnsName => self.dns_names.first().map(String::as_str),
        }
    }

    /// Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version,
    /// serial, signature, issuer, validity, subject, spki, [1], [2],
    /// [3] extensions } ... } (RFC 5280 §4.1).
    fn parse(&mut self) -> Option<()> {
        let der = std::mem::take(&mut self.der);
        let result = self.parse_from(&der);
        self.der = der;
        result
    }

    fn parse_from(&mut self, der: &[u8]) -> Option<()> {
        let (cert, _) = Der::new(der).expect(SEQUENCE)?;
        let (tbs, _) = Der::new(cert).expect(SEQUENCE)?;
        let mut tbs = Der::new(tbs);
        if tbs.peek() == Some(0xa0) {
            tbs.any()?; // version
        }
        tbs.any()?; // serialNumber
        tbs.any()?; // signature
        tbs.any()?; // issuer
        tbs.any()?; // validity
        let subject = tbs.expect_in(SEQUENCE)?;
        self.common_name = common_name(subject);
        tbs.any()?; // subjectPublicKeyInfo
        while let Some((tag, body)) = tbs.any() {
            if tag == 0xa3 {
                let (exts, _) = Der::new(body).expect(SEQUENCE)?;
                self.read_extensions(exts);
            }
        }
        Some(())
    }

    fn read_extensions(&mut self, exts: &[u8]) {
        let mut exts = Der::new(exts);
        while let Some((_, ext)) = exts.any() {
            let mut ext = Der::new(ext);
            let Some(oid) = ext.expect_in(OID) else {
                return;
            };
            if oid != OID_SUBJECT_ALT_NAME {
                continue;
            }
            if ext.peek() == Some(BOOLEAN) {
                let _ = ext.any(); // critical
            }
            let Some(value) = ext.expect_in(OCTET_STRING) else {
                return;
            };
            let Some((names, _)) = Der::new(value).expect(SEQUENCE) else {
                return;
            };
            let mut names = Der::new(names);
            while let Some((tag, name)) = names.any() {
                let text = std::str::from_utf8(name).ok().map(str::to_string);
                match (tag, text) {
                    (0x81, Some(t)) => self.emails.push(t),
                    (0x82, Some(t)) => self.dns_names.push(t),
                    _ => {}
                }
            }
        }
    }
}

/// The CN of a Name (SEQUENCE OF SET OF AttributeTypeAndValue).
fn common_name(name: &[u8]) -> Option<String> {
    let mut rdns = Der::new(name);
    let mut found = None;
    while let Some((_, set)) = rdns.any() {
        let mut set = Der::new(set);
        while let Some((_, atv)) = set.any() {
            let mut atv = Der::new(atv);
            if atv.expect_in(OID) != Some(OID_COMMON_NAME) {
                continue;
            }
            let (tag, value) = atv.any()?;
            // UTF8String, PrintableString, IA5String, TeletexString (as Latin-1
            // is rare here, only its ASCII subset is accepted).
            if matches!(tag, 0x0c | 0x13 | 0x16 | 0x14) {
                found = std::str::from_utf8(value).ok().map(str::to_string);
            }
        }
    }
    found
}

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
/// 2.5.4.3
const OID_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
/// 2.5.29.17
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];

/// A cursor over DER TLVs (definite lengths only, as DER requires).
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { rest: bytes }
    }

    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next TLV: its tag and contents.
    fn any(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, after) = self.rest.split_first()?;
        let (&first, mut after) = after.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || after.len() < n {
                return None;
            }
            let (bytes, tail) = after.split_at(n);
            after = tail;
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        if after.len() < len {
            return None;
        }
        let (body, tail) = after.split_at(len);
        self.rest = tail;
        Some((tag, body))
    }

    /// The next TLV if it has `tag`: its contents and the remainder.
    fn expect(mut self, tag: u8) -> Option<(&'a [u8], Der<'a>)> {
        let body = self.expect_in(tag)?;
        Some((body, self))
    }

    fn expect_in(&mut self, tag: u8) -> Option<&'a [u8]> {
        match self.any()? {
            (t, body) if t == tag => Some(body),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        if body.len() < 0x80 {
            v.push(body.len() as u8);
        } else {
            v.push(0x82);
            v.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(body);
        v
    }

    /// A certificate-shaped DER with subject CN `cn` and SANs.
    fn cert(cn: &str, email: &str, dns: &str) -> Vec<u8> {
        let atv = [tlv(OID, OID_COMMON_NAME), tlv(0x0c, cn.as_bytes())].concat();
        let subject = tlv(SEQUENCE, &tlv(0x31, &tlv(SEQUENCE, &atv)));
        let names = [tlv(0x81, email.as_bytes()), tlv(0x82, dns.as_bytes())].concat();
        let san = [
            tlv(OID, OID_SUBJECT_ALT_NAME),
            tlv(OCTET_STRING, &tlv(SEQUENCE, &names)),
        ]
        .concat();
        let exts = tlv(0xa3, &tlv(SEQUENCE, &tlv(SEQUENCE, &san)));
        let tbs = [
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &[1, 2, 3]),
            tlv(SEQUENCE, &[]),
            tlv(SEQUENCE, &[]),
            tlv(SEQUENCE, &[]),
            subject,
            tlv(SEQUENCE, &[0; 200]),
            exts,
        ]
        .concat();
        tlv(
            SEQUENCE,
            &[tlv(SEQUENCE, &tbs), tlv(SEQUENCE, &[]), tlv(0x03, &[0])].concat(),
        )
    }

    #[test]
    fn names_are_read_from_subject_and_subject_alt_names() {
        let der = cert("alice", "alice@example.org", "a.example");
        let c = ClientCertificate::from_der(&der, CertUserField::CommonName);
        assert_eq!(c.common_name(), Some("alice"));
        assert_eq!(c.emails(), ["alice@example.org"]);
        assert_eq!(c.dns_names(), ["a.example"]);
        assert_eq!(c.user_name(), Some("alice"));
        let e = ClientCertificate::from_der(&der, CertUserField::Email);
        assert_eq!(e.user_name(), Some("alice@example.org"));
        let d = ClientCertificate::from_der(&der, CertUserField::DnsName);
        assert_eq!(d.user_name(), Some("a.example"));
        assert_eq!(c.der(), &der[..]);
    }

    #[test]
    fn truncated_or_garbage_certificates_name_nobody_and_never_panic() {
        let der = cert("alice", "a@b", "c");
        for end in 0..der.len() {
            let c = ClientCertificate::from_der(&der[..end], CertUserField::CommonName);
            assert!(c.emails().len() <= 1);
        }
        for junk in [
            &[][..],
            &[0x30],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
            &[0xff; 64],
        ] {
            let c = ClientCertificate::from_der(junk, CertUserField::CommonName);
            assert_eq!(c.user_name(), None);
        }
    }
}
