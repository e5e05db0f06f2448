//! Who gets in: mTLS `require` and `optional`, certificates from another
//! CA, expired ones, and the identity a server sees.

use boost_test_certs::{Ca, Leaf};
use boost_tls::{ClientAuth, ClientTls, ClientTlsSettings, ServerTls, ServerTlsSettings};

use crate::{Files, connect};

struct World {
    files: Files,
    ca: Ca,
    ca_file: std::path::PathBuf,
}

impl World {
    fn new() -> World {
        let files = Files::new();
        let ca = Ca::new("mesh CA");
        let ca_file = ca.write(files.root(), "ca");
        World { files, ca, ca_file }
    }

    fn server(&self, client_auth: ClientAuth) -> ServerTls {
        let (cert, key) = self
            .ca
            .issue(&Leaf::new("profile-service").dns("localhost"))
            .write(self.files.root(), "server");
        let mut settings = ServerTlsSettings::new(cert, key);
        if client_auth != ClientAuth::Off {
            settings = settings.with_client_auth(client_auth, &self.ca_file);
        }
        ServerTls::from_settings("grpc.tls", &settings)
            .unwrap()
            .unwrap()
    }

    /// A client trusting the mesh CA, showing `identity` (signed by `by`).
    fn client(&self, identity: Option<(&Ca, Leaf)>, stem: &str) -> ClientTls {
        let mut settings = ClientTlsSettings::default().with_ca_file(&self.ca_file);
        if let Some((by, leaf)) = identity {
            let (cert, key) = by.issue(&leaf).write(self.files.root(), stem);
            settings = settings.with_identity(cert, key);
        }
        ClientTls::from_settings("profiles.tls", &settings).unwrap()
    }
}

#[tokio::test]
async fn plain_tls_serves_a_client_that_trusts_the_ca() {
    let world = World::new();
    let server = world.server(ClientAuth::Off);
    let seen = connect(&server, &world.client(None, "c")).await.unwrap();
    assert_eq!(crate::subject_of(&seen.server_cert), "CN=profile-service");
    assert!(seen.peer.is_none());
}

#[tokio::test]
async fn require_refuses_a_client_without_a_certificate() {
    let world = World::new();
    let server = world.server(ClientAuth::Require);
    let error = connect(&server, &world.client(None, "c"))
        .await
        .err()
        .unwrap();
    assert!(error.contains("server:"), "{error}");
    assert!(error.to_lowercase().contains("certificate"), "{error}");
}

#[tokio::test]
async fn require_refuses_a_client_certificate_from_another_ca() {
    let world = World::new();
    let server = world.server(ClientAuth::Require);
    let rogue = Ca::new("rogue CA");
    let client = world.client(Some((&rogue, Leaf::new("intruder"))), "rogue");
    let error = connect(&server, &client).await.err().unwrap();
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[tokio::test]
async fn require_refuses_an_expired_client_certificate() {
    let world = World::new();
    let server = world.server(ClientAuth::Require);
    // Written by hand: ClientTls itself refuses to load an expired certificate.
    let (cert, key) = world
        .ca
        .issue(&Leaf::new("stale").expired())
        .write(world.files.root(), "stale");
    assert!(
        ClientTls::from_settings(
            "profiles.tls",
            &ClientTlsSettings::default().with_identity(&cert, &key)
        )
        .is_err()
    );
    let client = crate::raw_client_with(&world.ca_file, &cert, &key);
    let error = connect(&server, client).await.err().unwrap();
    assert!(error.contains("Expired"), "{error}");
}

#[tokio::test]
async fn require_serves_a_verified_client_and_shows_its_identity() {
    let world = World::new();
    let server = world.server(ClientAuth::Require);
    let leaf = Leaf::new("hello-service")
        .uri("spiffe://prod.example/ns/default/sa/hello")
        .dns("hello.default.svc");
    let seen = connect(&server, &world.client(Some((&world.ca, leaf)), "hello"))
        .await
        .unwrap();
    let peer = seen.peer.unwrap();
    assert_eq!(peer.subject(), "CN=hello-service");
    assert_eq!(peer.uris(), ["spiffe://prod.example/ns/default/sa/hello"]);
    assert_eq!(peer.dns_names(), ["hello.default.svc"]);
    assert!(peer.matches("spiffe://prod.example/ns/default/sa/hello"));
}

#[tokio::test]
async fn optional_serves_callers_with_and_without_a_certificate_but_not_a_bad_one() {
    let world = World::new();
    let server = world.server(ClientAuth::Optional);
    let anonymous = connect(&server, &world.client(None, "none")).await.unwrap();
    assert!(anonymous.peer.is_none());
    let known = connect(
        &server,
        &world.client(Some((&world.ca, Leaf::new("hello"))), "hello"),
    )
    .await
    .unwrap();
    assert_eq!(known.peer.unwrap().subject(), "CN=hello");
    let rogue = Ca::new("rogue");
    let error = connect(&server, &world.client(Some((&rogue, Leaf::new("x"))), "x"))
        .await
        .err()
        .unwrap();
    assert!(error.contains("UnknownIssuer"), "{error}");
}

#[tokio::test]
async fn a_client_refuses_a_server_from_another_ca() {
    let world = World::new();
    let server = world.server(ClientAuth::Off);
    let other = Files::new();
    let other_ca = Ca::new("other").write(other.root(), "other");
    let client = ClientTls::from_settings(
        "profiles.tls",
        &ClientTlsSettings::default().with_ca_file(other_ca),
    )
    .unwrap();
    let error = connect(&server, &client).await.err().unwrap();
    assert!(error.contains("client:"), "{error}");
}
