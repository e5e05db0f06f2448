//! Bytes from a peer or a file never panic: arbitrary and corrupted
//! certificates and PEM are errors.

use boost_test_certs::{Ca, Leaf};
use boost_tls::rustls_pki_types::CertificateDer;
use boost_tls::rustls_pki_types::pem::PemObject;
use boost_tls::{PeerIdentity, ServerTls, ServerTlsSettings};
use proptest::prelude::*;

fn a_certificate() -> Vec<u8> {
    let pair = Ca::new("ca").issue(&Leaf::new("peer").dns("localhost").uri("spiffe://x/y"));
    CertificateDer::from_pem_slice(pair.cert_pem.as_bytes())
        .unwrap()
        .to_vec()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_are_no_identity(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = PeerIdentity::from_certificate(&CertificateDer::from(bytes));
    }

    #[test]
    fn a_corrupted_certificate_never_panics(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut der = a_certificate();
        for (at, byte) in flips {
            let at = at.index(der.len());
            der[at] ^= byte;
        }
        der.truncate(cut.index(der.len() + 1).max(1));
        let _ = PeerIdentity::from_certificate(&CertificateDer::from(der));
    }

    #[test]
    fn arbitrary_pem_files_are_errors(text in "(-----BEGIN [A-Z ]{0,20}-----\n)?[A-Za-z0-9+/=\n]{0,300}(-----END [A-Z ]{0,20}-----\n)?") {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        std::fs::write(&cert, &text).unwrap();
        std::fs::write(&key, &text).unwrap();
        let result = ServerTls::from_settings("grpc.tls", &ServerTlsSettings::new(&cert, &key));
        prop_assert!(result.is_err());
    }
}

#[test]
fn a_real_certificate_gives_its_names() {
    let id = PeerIdentity::from_certificate(&CertificateDer::from(a_certificate())).unwrap();
    assert_eq!(id.subject(), "CN=peer");
    assert_eq!(id.uris(), ["spiffe://x/y"]);
    assert_eq!(id.dns_names(), ["localhost"]);
}
