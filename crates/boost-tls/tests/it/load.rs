//! Bad files are refused at start, naming the key, the file and the problem.

use boost_test_certs::{Ca, Leaf};
use boost_tls::{ClientAuth, ClientTls, ClientTlsSettings, ServerTls, ServerTlsSettings, TlsError};

use crate::Files;

fn server_error(settings: &ServerTlsSettings) -> String {
    match ServerTls::from_settings("grpc.tls", settings) {
        Ok(_) => panic!("the settings were accepted"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_missing_file_names_the_key_and_the_file() {
    let settings = ServerTlsSettings::new("/no/such/tls.crt", "/no/such/tls.key");
    let error = server_error(&settings);
    assert!(
        error.starts_with("cannot read `grpc.tls.cert_file` (/no/such/tls.crt):"),
        "{error}"
    );
}

#[test]
fn a_file_that_is_not_pem_is_refused() {
    let files = Files::new();
    let ca = Ca::new("ca");
    let (_, key) = ca.issue(&Leaf::new("server")).write(files.root(), "server");
    std::fs::write(files.path("garbage.crt"), b"\x30\x82\x01\x00 not pem").unwrap();
    let error = server_error(&ServerTlsSettings::new(files.path("garbage.crt"), &key));
    assert!(error.contains("`grpc.tls.cert_file`"), "{error}");
    assert!(error.contains("garbage.crt"), "{error}");
    assert!(error.contains("holds no PEM block at all"), "{error}");
}

#[test]
fn a_key_in_the_certificate_file_and_a_certificate_in_the_key_file_are_refused() {
    let files = Files::new();
    let pair = Ca::new("ca").issue(&Leaf::new("server"));
    let (cert, key) = pair.write(files.root(), "server");
    let error = server_error(&ServerTlsSettings::new(&key, &key));
    assert!(error.contains("`grpc.tls.cert_file`"), "{error}");
    assert!(error.contains("found only `PRIVATE KEY`"), "{error}");
    let error = server_error(&ServerTlsSettings::new(&cert, &cert));
    assert!(error.contains("`grpc.tls.key_file`"), "{error}");
    assert!(error.contains("holds no PEM private key block"), "{error}");
    assert!(error.contains("found only `CERTIFICATE`"), "{error}");
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_without_showing_it() {
    let files = Files::new();
    let ca = Ca::new("ca");
    let one = ca.issue(&Leaf::new("one"));
    let other = ca.issue(&Leaf::new("other"));
    let (cert, _) = one.write(files.root(), "one");
    let (_, key) = other.write(files.root(), "other");
    let result = ServerTls::from_settings("grpc.tls", &ServerTlsSettings::new(&cert, &key));
    let Err(error) = result else {
        panic!("accepted")
    };
    assert!(matches!(error, TlsError::KeyMismatch { .. }), "{error}");
    let text = format!("{error} {error:?}");
    assert!(text.contains("`grpc.tls.key_file`"), "{text}");
    assert!(text.contains("other.key"), "{text}");
    assert!(text.contains("`grpc.tls.cert_file`"), "{text}");
    let body = other.key_pem.lines().nth(1).unwrap();
    assert!(!text.contains(body), "the key leaked: {text}");
}

#[test]
fn an_expired_or_not_yet_valid_certificate_is_refused() {
    let files = Files::new();
    let ca = Ca::new("ca");
    let (cert, key) = ca
        .issue(&Leaf::new("old").expired())
        .write(files.root(), "old");
    let error = server_error(&ServerTlsSettings::new(&cert, &key));
    assert!(error.contains("`grpc.tls.cert_file`"), "{error}");
    assert!(error.contains("old.crt"), "{error}");
    assert!(
        error.contains("certificate 1 (`CN=old`) expired at"),
        "{error}"
    );
    let (cert, key) = ca
        .issue(&Leaf::new("new").not_yet_valid())
        .write(files.root(), "new");
    let error = server_error(&ServerTlsSettings::new(&cert, &key));
    assert!(error.contains("(`CN=new`) is not valid before"), "{error}");
}

#[test]
fn a_ca_bundle_holding_a_certificate_that_is_not_a_ca_is_refused() {
    let files = Files::new();
    let ca = Ca::new("ca");
    let (cert, key) = ca.issue(&Leaf::new("server")).write(files.root(), "server");
    let peer = ca.issue(&Leaf::new("a-peer"));
    let bundle = format!("{}{}", ca.pem(), peer.cert_pem);
    std::fs::write(files.path("bundle.crt"), bundle).unwrap();
    let settings = ServerTlsSettings::new(&cert, &key)
        .with_client_auth(ClientAuth::Require, files.path("bundle.crt"));
    let error = server_error(&settings);
    assert!(error.contains("`grpc.tls.ca_file`"), "{error}");
    assert!(error.contains("bundle.crt"), "{error}");
    assert!(
        error.contains("certificate 2 (`CN=a-peer`) is not a CA certificate"),
        "{error}"
    );

    let client = ClientTlsSettings::default().with_ca_file(&cert);
    let Err(error) = ClientTls::from_settings("profiles.tls", &client) else {
        panic!("accepted")
    };
    assert!(
        error.to_string().contains("`profiles.tls.ca_file`"),
        "{error}"
    );
}

#[test]
fn a_chain_that_starts_with_a_ca_is_refused() {
    let files = Files::new();
    let ca = Ca::new("the-ca");
    let ca_file = ca.write(files.root(), "ca");
    let (_, key) = ca.issue(&Leaf::new("server")).write(files.root(), "server");
    let error = server_error(&ServerTlsSettings::new(&ca_file, &key));
    assert!(error.contains("is a CA certificate"), "{error}");
}

#[test]
fn settings_rules_run_before_any_file_is_read() {
    let settings: ServerTlsSettings = toml::from_str("enabled = true").unwrap();
    let error = server_error(&settings);
    assert!(error.contains("`grpc.tls.cert_file`"), "{error}");
    assert!(error.contains("`grpc.tls.key_file`"), "{error}");
}

#[test]
fn tls_off_builds_nothing() {
    assert!(
        ServerTls::from_settings("grpc.tls", &ServerTlsSettings::default())
            .unwrap()
            .is_none()
    );
}
