//! Loading what TLS needs from files, checked: a certificate chain with its
//! key ([`Pair`]) and a CA bundle ([`Roots`]). The same checks run at start
//! and on every rotation, so a broken new file is refused the same way a
//! broken first file is.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use sha2::{Digest as _, Sha256};

use crate::TlsError;
use crate::inspect::{self, CertInfo};
use crate::pem::{self, Named};

/// A content fingerprint of the files behind a loaded value, to tell a
/// changed file from an event that changed nothing.
pub(crate) type Digest = [u8; 32];

/// A certificate chain and its private key, ready for rustls.
pub(crate) struct Pair {
    pub(crate) certified: Arc<CertifiedKey>,
    /// The first (leaf) certificate.
    pub(crate) leaf: CertInfo,
}

/// A CA bundle, ready for rustls.
pub(crate) struct Roots {
    pub(crate) store: Arc<RootCertStore>,
    /// Every CA taken, as (series label, `not_after`), soonest to expire
    /// first: what the bundle's expiry series reports.
    pub(crate) expiries: Vec<(String, i64)>,
}

/// Where a pair's files are, with their config keys.
#[derive(Clone, Debug)]
pub(crate) struct PairFiles {
    pub(crate) cert_key: String,
    pub(crate) cert_path: std::path::PathBuf,
    pub(crate) key_key: String,
    pub(crate) key_path: std::path::PathBuf,
}

impl PairFiles {
    fn cert(&self) -> Named<'_> {
        Named {
            key: &self.cert_key,
            path: &self.cert_path,
        }
    }

    fn key(&self) -> Named<'_> {
        Named {
            key: &self.key_key,
            path: &self.key_path,
        }
    }

    /// Reads both files (bounded) and fingerprints them together.
    pub(crate) fn read(&self) -> Result<(Vec<u8>, Vec<u8>, Digest), TlsError> {
        let cert = pem::read(self.cert())?;
        let key = pem::read(self.key())?;
        let mut hash = Sha256::new();
        hash.update((cert.len() as u64).to_le_bytes());
        hash.update(&cert);
        hash.update(&key);
        Ok((cert, key, hash.finalize().into()))
    }

    /// Parses and checks what [`read`](Self::read) returned.
    pub(crate) fn parse(
        &self,
        cert: &[u8],
        key: &[u8],
        provider: &CryptoProvider,
    ) -> Result<Pair, TlsError> {
        let chain = pem::certificates(self.cert(), cert)?;
        let now = inspect::now();
        let mut leaf = None;
        for (index, der) in chain.iter().enumerate() {
            let info = CertInfo::parse(der).map_err(|problem| self.cert_error(index, problem))?;
            info.check_valid_at(now)
                .map_err(|problem| self.cert_error(index, problem))?;
            if leaf.is_none() {
                leaf = Some(info);
            }
        }
        let Some(leaf) = leaf else {
            return Err(self.cert_error(0, "is missing".to_owned()));
        };
        if leaf.is_ca {
            return Err(self.cert_error(
                0,
                format!(
                    "(`{}`) is a CA certificate; the chain must start with the service's own \
                     certificate (a CA bundle belongs in `ca_file`)",
                    leaf.subject
                ),
            ));
        }
        let private = pem::private_key(self.key(), key)?;
        let signing = provider
            .key_provider
            .load_private_key(private)
            .map_err(|error| TlsError::Key {
                key: self.key_key.clone(),
                path: self.key_path.clone(),
                problem: key_problem(&error),
            })?;
        let certified = CertifiedKey::new(chain, signing);
        match certified.keys_match() {
            Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
            Err(_) => {
                return Err(TlsError::KeyMismatch {
                    cert_key: self.cert_key.clone(),
                    cert_path: self.cert_path.clone(),
                    key_key: self.key_key.clone(),
                    key_path: self.key_path.clone(),
                });
            }
        }
        Ok(Pair {
            certified: Arc::new(certified),
            leaf,
        })
    }

    fn cert_error(&self, index: usize, problem: String) -> TlsError {
        TlsError::Certificate {
            key: self.cert_key.clone(),
            path: self.cert_path.clone(),
            index: index + 1,
            problem,
        }
    }
}

/// A key-loading error in words; rustls' messages carry no key bytes, but
/// only the kind is kept to be sure.
fn key_problem(error: &rustls::Error) -> String {
    match error {
        rustls::Error::General(_) => {
            "its type is not supported or it is damaged (RSA of 2048+ bits, ECDSA P-256/P-384 \
             and Ed25519 are supported)"
                .to_owned()
        }
        _ => "it cannot be loaded".to_owned(),
    }
}

/// Reads a CA bundle (bounded), fingerprinted.
pub(crate) fn read_bundle(key: &str, path: &Path) -> Result<(Vec<u8>, Digest), TlsError> {
    let bytes = pem::read(Named { key, path })?;
    let digest = Sha256::digest(&bytes).into();
    Ok((bytes, digest))
}

/// Parses and checks a CA bundle: every certificate must be a CA
/// (`basicConstraints CA:TRUE`); expired ones are skipped with a warning as
/// long as one is valid (a bundle mid-rotation holds the old CA too).
pub(crate) fn parse_bundle(key: &str, path: &Path, bytes: &[u8]) -> Result<Roots, TlsError> {
    let file = Named { key, path };
    let certs = pem::certificates(file, bytes)?;
    let now = inspect::now();
    let mut store = RootCertStore::empty();
    let mut expiries = Vec::new();
    let mut expired = Vec::new();
    let error = |index: usize, problem: String| TlsError::Certificate {
        key: key.to_owned(),
        path: path.to_owned(),
        index: index + 1,
        problem,
    };
    for (index, der) in certs.into_iter().enumerate() {
        let info = CertInfo::parse(&der).map_err(|problem| error(index, problem))?;
        if !info.is_ca {
            return Err(error(
                index,
                format!(
                    "(`{}`) is not a CA certificate (no `basicConstraints CA:TRUE`); a CA bundle \
                     holds only the CAs that issue peer certificates, not a peer's own certificate",
                    info.subject
                ),
            ));
        }
        if let Err(problem) = info.check_valid_at(now) {
            expired.push(error(index, problem));
            continue;
        }
        store.add(der).map_err(|source| {
            error(
                index,
                format!("cannot be used as a trust anchor ({source})"),
            )
        })?;
        expiries.push((info.label(), info.not_after));
    }
    expiries.sort_by_key(|(_, not_after)| *not_after);
    if store.is_empty() {
        // Every CA is out of date: nothing could ever verify.
        if let Some(first) = expired.into_iter().next() {
            return Err(first);
        }
        return Err(error(0, "is missing".to_owned()));
    }
    for skipped in expired {
        tracing::warn!(config_key = key, error = %skipped, "a CA in the bundle is out of date and is not trusted");
    }
    Ok(Roots {
        store: Arc::new(store),
        expiries,
    })
}
