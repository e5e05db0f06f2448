//! [`PeerIdentity`]: who is on the other end of a verified connection.

use std::fmt;
use std::sync::Arc;

use rustls_pki_types::CertificateDer;

use crate::inspect::CertInfo;

/// The identity a peer proved with its certificate during the handshake:
/// its subject, its URI names (SPIFFE IDs: `spiffe://prod/ns/web/sa/hello`)
/// and its DNS names.
///
/// Only a certificate that verified against the configured CA becomes a
/// `PeerIdentity`; with `client_auth = "optional"`, a caller that showed none
/// has no identity at all. boost-service puts it in each gRPC request's
/// extensions:
///
/// ```
/// use boost_tls::PeerIdentity;
///
/// fn caller(request: &http::Extensions) -> &str {
///     request
///         .get::<PeerIdentity>()
///         .and_then(|id| id.uris().first())
///         .map_or("anonymous", String::as_str)
/// }
/// # let _ = caller;
/// ```
///
/// Names longer than 512 bytes are cut and at most 32 of each kind are
/// kept: the certificate is the peer's input.
///
/// Cloning is cheap (a reference count): the server puts one in every
/// request of a connection.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerIdentity(Arc<Names>);

#[derive(PartialEq, Eq)]
struct Names {
    subject: String,
    uris: Vec<String>,
    dns_names: Vec<String>,
}

impl PeerIdentity {
    /// The identity in a (verified) DER certificate; `None` if it does not
    /// parse as X.509.
    pub fn from_certificate(certificate: &CertificateDer<'_>) -> Option<PeerIdentity> {
        let info = CertInfo::parse(certificate).ok()?;
        Some(PeerIdentity(Arc::new(Names {
            subject: info.subject,
            uris: info.uris,
            dns_names: info.dns_names,
        })))
    }

    /// The identity of a peer whose first certificate is the first of
    /// `chain` (what `rustls::CommonState::peer_certificates` returns).
    pub fn from_chain(chain: Option<&[CertificateDer<'_>]>) -> Option<PeerIdentity> {
        chain?.first().and_then(Self::from_certificate)
    }

    /// An identity made by hand, for tests of handlers and authorization.
    pub fn new(
        subject: impl Into<String>,
        uris: impl IntoIterator<Item = String>,
        dns_names: impl IntoIterator<Item = String>,
    ) -> PeerIdentity {
        PeerIdentity(Arc::new(Names {
            subject: subject.into(),
            uris: uris.into_iter().collect(),
            dns_names: dns_names.into_iter().collect(),
        }))
    }

    /// The subject as RFC 4514 text (`CN=hello-service,O=team`); empty when
    /// the certificate has none (common for SPIFFE certificates).
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The URI subject alternative names, SPIFFE IDs among them.
    pub fn uris(&self) -> &[String] {
        &self.0.uris
    }

    /// The DNS subject alternative names.
    pub fn dns_names(&self) -> &[String] {
        &self.0.dns_names
    }

    /// Whether `name` is one of this identity's names: a URI, a DNS name, or
    /// the subject (`CN=…` text), compared exactly. An allow-list entry
    /// matches this way.
    pub fn matches(&self, name: &str) -> bool {
        let names = &self.0;
        names.uris.iter().any(|uri| uri == name)
            || names.dns_names.iter().any(|dns| dns == name)
            || (!names.subject.is_empty() && names.subject == name)
    }

    /// The name to show for this identity in a log line: the first URI,
    /// else the first DNS name, else the subject.
    pub fn principal(&self) -> &str {
        let names = &self.0;
        names
            .uris
            .first()
            .or(names.dns_names.first())
            .map_or(names.subject.as_str(), String::as_str)
    }
}

impl fmt::Debug for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerIdentity")
            .field("subject", &self.0.subject)
            .field("uris", &self.0.uris)
            .field("dns_names", &self.0.dns_names)
            .finish()
    }
}

impl fmt::Display for PeerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.principal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_matches_its_uris_dns_names_and_subject_exactly() {
        let id = PeerIdentity::new(
            "CN=hello",
            ["spiffe://prod/hello".to_owned()],
            ["hello.prod".to_owned()],
        );
        assert!(id.matches("spiffe://prod/hello"));
        assert!(id.matches("hello.prod"));
        assert!(id.matches("CN=hello"));
        assert!(!id.matches("spiffe://prod/hello/"));
        assert!(!id.matches(""));
        assert_eq!(id.principal(), "spiffe://prod/hello");
    }
}
