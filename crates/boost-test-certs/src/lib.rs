//! Certificates made in tests: a CA and the leaves it signs, with the names
//! and validity a test needs. Nothing is checked in, so nothing expires.
//!
//! ```
//! use boost_test_certs::{Ca, Leaf};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let ca = Ca::new("test CA");
//! let server = ca.issue(&Leaf::new("server").dns("localhost"));
//! let (cert_file, key_file) = server.write(dir.path(), "server");
//! let ca_file = ca.write(dir.path(), "ca");
//! # let _ = (cert_file, key_file, ca_file);
//! ```
// A test helper: a failure to make a certificate is a broken test setup.
#![allow(clippy::expect_used)]

mod tonic_conn;
pub use tonic_conn::TlsConn;

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use time::{Duration, OffsetDateTime};

/// A certificate authority that signs test certificates.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    /// A new self-signed CA with `CN=<name>`, valid from a day ago for a year.
    pub fn new(name: &str) -> Ca {
        Ca::expiring_in_days(name, 365)
    }

    /// A new self-signed CA with `CN=<name>`, valid from a day ago until
    /// `days` from now (to tell CAs apart by expiry).
    pub fn expiring_in_days(name: &str, days: i64) -> Ca {
        let key = KeyPair::generate().expect("generate a CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::days(1);
        params.not_after = now + Duration::days(days);
        let cert = params.self_signed(&key).expect("self-sign the CA");
        Ca {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// Writes the CA certificate to `<dir>/<stem>.crt`.
    pub fn write(&self, dir: &Path, stem: &str) -> PathBuf {
        let path = dir.join(format!("{stem}.crt"));
        std::fs::write(&path, &self.pem).expect("write the CA file");
        path
    }

    /// A certificate for `leaf`, signed by this CA.
    pub fn issue(&self, leaf: &Leaf) -> Pair {
        let key = KeyPair::generate().expect("generate a key");
        let cert = leaf
            .params()
            .signed_by(&key, &self.issuer)
            .expect("sign a certificate");
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// What a leaf certificate says: subject, names, validity.
#[derive(Clone, Debug)]
pub struct Leaf {
    common_name: String,
    dns: Vec<String>,
    uris: Vec<String>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Leaf {
    /// `CN=<common_name>`, valid from an hour ago for 30 days, no names.
    pub fn new(common_name: &str) -> Leaf {
        let now = OffsetDateTime::now_utc();
        Leaf {
            common_name: common_name.to_owned(),
            dns: Vec::new(),
            uris: Vec::new(),
            not_before: now - Duration::hours(1),
            not_after: now + Duration::days(30),
        }
    }

    /// Adds a DNS name (`localhost` for a test server).
    #[must_use]
    pub fn dns(mut self, name: &str) -> Leaf {
        self.dns.push(name.to_owned());
        self
    }

    /// Adds a URI name (a SPIFFE ID).
    #[must_use]
    pub fn uri(mut self, uri: &str) -> Leaf {
        self.uris.push(uri.to_owned());
        self
    }

    /// Expired: valid from 10 days ago until yesterday.
    #[must_use]
    pub fn expired(mut self) -> Leaf {
        let now = OffsetDateTime::now_utc();
        self.not_before = now - Duration::days(10);
        self.not_after = now - Duration::days(1);
        self
    }

    /// Not valid yet: from tomorrow.
    #[must_use]
    pub fn not_yet_valid(mut self) -> Leaf {
        let now = OffsetDateTime::now_utc();
        self.not_before = now + Duration::days(1);
        self.not_after = now + Duration::days(30);
        self
    }

    /// Expires at this many seconds from now (a distinct expiry per test
    /// certificate, to tell which one is in use).
    #[must_use]
    pub fn expires_in_days(mut self, days: i64) -> Leaf {
        self.not_after = OffsetDateTime::now_utc() + Duration::days(days);
        self
    }

    fn params(&self) -> CertificateParams {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, self.common_name.as_str());
        for dns in &self.dns {
            params.subject_alt_names.push(SanType::DnsName(
                dns.as_str().try_into().expect("a DNS name"),
            ));
        }
        for uri in &self.uris {
            params
                .subject_alt_names
                .push(SanType::URI(uri.as_str().try_into().expect("a URI")));
        }
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = self.not_before;
        params.not_after = self.not_after;
        params
    }
}

/// A certificate and its private key, PEM.
#[derive(Clone)]
pub struct Pair {
    /// The certificate.
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
}

impl Pair {
    /// Writes `<dir>/<stem>.crt` and `<dir>/<stem>.key`; returns their paths.
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        self.write_to(&cert, &key);
        (cert, key)
    }

    /// Replaces the files at `cert` and `key` the way cert-manager and
    /// Vault agent do: write a temporary file beside each, then rename it
    /// over the old one (a reader sees the old or the new file, never half).
    pub fn write_to(&self, cert: &Path, key: &Path) {
        replace(cert, self.cert_pem.as_bytes());
        replace(key, self.key_pem.as_bytes());
    }
}

/// Writes `bytes` to a temporary file next to `path` and renames it over `path`.
pub fn replace(path: &Path, bytes: &[u8]) {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, bytes).expect("write a temporary file");
    std::fs::rename(&tmp, path).expect("rename over the old file");
}
