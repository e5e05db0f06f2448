//! Reading PEM files with a size bound, and telling what is in them.
//!
//! Errors never quote the file: a key file's bytes are the secret, and the
//! PEM parser's own messages quote lines.

use std::io::Read;
use std::path::Path;

use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// The largest file read as a certificate chain, key or CA bundle: 1 MiB.
/// A chain is a few KiB; the largest public root bundles are ~250 KiB.
pub(crate) const MAX_PEM_BYTES: u64 = 1024 * 1024;

/// A file as the settings name it: the config key and the path.
#[derive(Clone, Copy)]
pub(crate) struct Named<'a> {
    pub(crate) key: &'a str,
    pub(crate) path: &'a Path,
}

impl Named<'_> {
    fn pem_error(&self, problem: impl Into<String>) -> TlsError {
        TlsError::Pem {
            key: self.key.to_owned(),
            path: self.path.to_owned(),
            problem: problem.into(),
        }
    }
}

/// The file's bytes, at most [`MAX_PEM_BYTES`] (a path naming `/dev/zero`
/// fails fast).
pub(crate) fn read(file: Named<'_>) -> Result<Vec<u8>, TlsError> {
    let read_error = |source| TlsError::Read {
        key: file.key.to_owned(),
        path: file.path.to_owned(),
        source,
    };
    let opened = std::fs::File::open(file.path).map_err(read_error)?;
    let mut bytes = Vec::new();
    opened
        .take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(TlsError::TooLarge {
            key: file.key.to_owned(),
            path: file.path.to_owned(),
            limit: MAX_PEM_BYTES,
        });
    }
    Ok(bytes)
}

/// Every PEM section of the file, with its kind.
fn sections(file: Named<'_>, bytes: &[u8]) -> Result<Vec<(SectionKind, Vec<u8>)>, TlsError> {
    let mut out = Vec::new();
    for section in <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes) {
        match section {
            Ok(section) => out.push(section),
            Err(error) => return Err(file.pem_error(describe(&error))),
        }
    }
    Ok(out)
}

/// A PEM parser error in words that quote nothing from the file.
fn describe(error: &pem::Error) -> &'static str {
    match error {
        pem::Error::MissingSectionEnd { .. } => {
            "is not valid PEM: a `-----BEGIN` line has no matching `-----END` line"
        }
        pem::Error::IllegalSectionStart { .. } => {
            "is not valid PEM: a `-----BEGIN` line is malformed"
        }
        pem::Error::Base64Decode(_) => "is not valid PEM: a block's body is not base64",
        pem::Error::SectionTooLarge => "is not valid PEM: a block is too large",
        _ => "is not valid PEM",
    }
}

fn kind_name(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Certificate => "CERTIFICATE",
        SectionKind::PublicKey => "PUBLIC KEY",
        SectionKind::RsaPrivateKey => "RSA PRIVATE KEY",
        SectionKind::PrivateKey => "PRIVATE KEY",
        SectionKind::EcPrivateKey => "EC PRIVATE KEY",
        SectionKind::Crl => "X509 CRL",
        SectionKind::Csr => "CERTIFICATE REQUEST",
        _ => "another kind",
    }
}

/// What was found instead, for "holds no … block" errors.
fn found(sections: &[(SectionKind, Vec<u8>)]) -> String {
    if sections.is_empty() {
        return "it holds no PEM block at all (is it DER, or empty?)".to_owned();
    }
    let mut kinds: Vec<&str> = sections.iter().map(|(kind, _)| kind_name(*kind)).collect();
    kinds.dedup();
    format!("found only `{}`", kinds.join("`, `"))
}

/// The certificates of a chain or bundle file, in file order (at least one).
pub(crate) fn certificates(
    file: Named<'_>,
    bytes: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let sections = sections(file, bytes)?;
    let certs: Vec<CertificateDer<'static>> = sections
        .iter()
        .filter(|(kind, _)| *kind == SectionKind::Certificate)
        .map(|(_, der)| CertificateDer::from(der.clone()))
        .collect();
    if certs.is_empty() {
        return Err(file.pem_error(format!(
            "holds no PEM `CERTIFICATE` block; {}",
            found(&sections)
        )));
    }
    Ok(certs)
}

/// The one private key of a key file.
pub(crate) fn private_key(
    file: Named<'_>,
    bytes: &[u8],
) -> Result<PrivateKeyDer<'static>, TlsError> {
    let sections = sections(file, bytes)?;
    let mut keys = sections.into_iter().filter_map(|(kind, der)| {
        let is_key = matches!(
            kind,
            SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey
        );
        (is_key)
            .then(|| PrivateKeyDer::from_pem(kind, der))
            .flatten()
    });
    let Some(key) = keys.next() else {
        let kinds = <(SectionKind, Vec<u8>)>::pem_slice_iter(bytes)
            .filter_map(Result::ok)
            .collect::<Vec<_>>();
        return Err(file.pem_error(format!(
            "holds no PEM private key block (`PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`); {}",
            found(&kinds)
        )));
    };
    if keys.next().is_some() {
        return Err(
            file.pem_error("holds more than one private key; keep only the certificate's own key")
        );
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(path: &Path) -> Named<'_> {
        Named {
            key: "grpc.tls.cert_file",
            path,
        }
    }

    #[test]
    fn a_file_with_no_pem_says_so_and_quotes_nothing() {
        let path = Path::new("/etc/tls/tls.crt");
        let error = certificates(named(path), b"hello secret world").unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("`grpc.tls.cert_file` (/etc/tls/tls.crt)"),
            "{text}"
        );
        assert!(text.contains("no PEM block at all"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    #[test]
    fn a_broken_block_quotes_nothing() {
        let path = Path::new("k.pem");
        let pem = b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n";
        let error = private_key(named(path), pem).unwrap_err().to_string();
        assert!(error.contains("no matching `-----END`"), "{error}");
        assert!(!error.contains("c2VjcmV0"), "{error}");
    }

    #[test]
    fn a_key_where_a_certificate_belongs_names_what_was_found() {
        let pem = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let error = certificates(named(Path::new("x")), pem)
            .unwrap_err()
            .to_string();
        assert!(error.contains("found only `PRIVATE KEY`"), "{error}");
    }

    #[test]
    fn reads_are_bounded() {
        let error = read(named(Path::new("/dev/zero"))).unwrap_err();
        assert!(matches!(error, TlsError::TooLarge { .. }), "{error}");
        let error = read(named(Path::new("/no/such/file.pem"))).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("cannot read `grpc.tls.cert_file` (/no/such/file.pem)")
        );
    }
}
