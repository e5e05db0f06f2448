//! gRPC over TLS and mTLS: who gets in, what the handler sees, the
//! allow-list, handshakes that must not hurt others, bad files at start,
//! and certificates that rotate under load.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use boost_service::RunningService;
use boost_service::grpc::{
    AuthorizationSettings, ClientAuth, GrpcError, GrpcServer, GrpcSettings, PeerIdentity,
    ServerTlsSettings,
};
use boost_test_certs::{Ca, Leaf};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use boost_tls::rustls::pki_types::{CertificateDer, ServerName};
use boost_tls::rustls::{ClientConfig, RootCertStore};
use boost_tls::tokio_rustls::TlsConnector;
use boost_tls::{ClientTls, ClientTlsSettings};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tonic::service::Routes;

/// Answers with the caller's identity as the handler sees it.
struct WhoAmI;

#[tonic::async_trait]
impl Greeter for WhoAmI {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        let who = request
            .extensions()
            .get::<PeerIdentity>()
            .map_or("anonymous".to_owned(), |peer| peer.principal().to_owned());
        Ok(tonic::Response::new(HelloReply { message: who }))
    }
}

/// The certificates of one test: a CA, the server's pair, and files.
struct Pki {
    dir: tempfile::TempDir,
    ca: Ca,
    ca_file: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Pki {
    fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::new("mesh CA");
        let ca_file = ca.write(dir.path(), "ca");
        let (cert, key) = ca
            .issue(&Leaf::new("server-1").dns("localhost"))
            .write(dir.path(), "server");
        Pki {
            dir,
            ca,
            ca_file,
            cert,
            key,
        }
    }

    fn tls(&self, client_auth: ClientAuth) -> ServerTlsSettings {
        // The default handshake timeout (10 s): a loaded 2-core machine can
        // take seconds for a handshake among 16 busy callers.
        let settings = ServerTlsSettings::new(&self.cert, &self.key)
            .with_reload_interval(Duration::from_secs(1));
        match client_auth {
            ClientAuth::Off => settings,
            auth => settings.with_client_auth(auth, &self.ca_file),
        }
    }

    /// A client config trusting the CA, showing a certificate for `leaf`
    /// signed by `by` when given.
    fn client(&self, identity: Option<(&Ca, Leaf)>) -> Arc<ClientConfig> {
        let mut settings = ClientTlsSettings::default().with_ca_file(&self.ca_file);
        if let Some((by, leaf)) = identity {
            let stem = format!("client-{}", rand_stem());
            let (cert, key) = by.issue(&leaf).write(self.dir.path(), &stem);
            settings = settings.with_identity(cert, key);
        }
        ClientTls::from_settings("test.tls", &settings)
            .unwrap()
            .client_config([b"h2".to_vec()])
    }
}

fn rand_stem() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

async fn start(settings: GrpcSettings) -> (RunningService, SocketAddr) {
    let grpc = GrpcServer::new(settings, Routes::new(GreeterServer::new(WhoAmI)))
        .bind()
        .unwrap();
    let addr = grpc.local_addr().unwrap();
    let running = common::builder("tls-test")
        .grpc(grpc)
        .start()
        .await
        .unwrap();
    (running, addr)
}

fn grpc_settings(tls: ServerTlsSettings) -> GrpcSettings {
    GrpcSettings::new("127.0.0.1:0".parse().unwrap()).with_tls(tls)
}

/// A tonic channel that dials `addr` over TLS with `config` (verifying the
/// name `localhost`). One channel is one connection.
async fn channel(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> Result<tonic::transport::Channel, String> {
    let connector = TlsConnector::from(config);
    let dial = tower::service_fn(move |_: http::Uri| {
        let connector = connector.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from("localhost").unwrap();
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    tonic::transport::Endpoint::from_static("http://localhost")
        .connect_timeout(Duration::from_secs(10))
        .connect_with_connector(dial)
        .await
        .map_err(|e| format!("{e:?}"))
}

/// One call; `Ok(message)` or the status (a refused handshake shows as
/// `UNAVAILABLE`, or as the connect error).
async fn say_hello(addr: SocketAddr, config: Arc<ClientConfig>) -> Result<String, String> {
    let channel = channel(addr, config).await?;
    let mut client = GreeterClient::new(channel);
    let reply = tokio::time::timeout(
        Duration::from_secs(20),
        client.say_hello(HelloRequest { name: "x".into() }),
    )
    .await
    .map_err(|_| "timed out".to_owned())?;
    reply
        .map(|r| r.into_inner().message)
        .map_err(|status| format!("{:?}: {}", status.code(), status.message()))
}

#[tokio::test]
async fn plain_tls_serves_a_caller_that_trusts_the_ca() {
    let pki = Pki::new();
    let (running, addr) = start(grpc_settings(pki.tls(ClientAuth::Off))).await;
    assert_eq!(
        say_hello(addr, pki.client(None)).await.unwrap(),
        "anonymous"
    );
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test]
async fn require_refuses_no_certificate_another_ca_and_an_expired_one() {
    let pki = Pki::new();
    let (running, addr) = start(grpc_settings(pki.tls(ClientAuth::Require))).await;

    let none = say_hello(addr, pki.client(None)).await.unwrap_err();
    assert!(!none.is_empty());

    let rogue = Ca::new("rogue CA");
    let other = say_hello(addr, pki.client(Some((&rogue, Leaf::new("intruder")))))
        .await
        .unwrap_err();
    assert!(!other.is_empty());

    let expired = pki.ca.issue(&Leaf::new("stale").expired());
    let config = raw_client(&pki.ca_file, &expired.cert_pem, &expired.key_pem);
    let stale = say_hello(addr, config).await.unwrap_err();
    assert!(!stale.is_empty());

    // The same server serves a caller with a good certificate.
    let ok = say_hello(
        addr,
        pki.client(Some((&pki.ca, Leaf::new("hello-service")))),
    )
    .await
    .unwrap();
    assert_eq!(ok, "CN=hello-service");
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test]
async fn the_handler_sees_the_callers_spiffe_id() {
    let pki = Pki::new();
    let (running, addr) = start(grpc_settings(pki.tls(ClientAuth::Require))).await;
    let leaf = Leaf::new("hello").uri("spiffe://prod.example/ns/default/sa/hello");
    let who = say_hello(addr, pki.client(Some((&pki.ca, leaf))))
        .await
        .unwrap();
    assert_eq!(who, "spiffe://prod.example/ns/default/sa/hello");
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test]
async fn optional_serves_anonymous_callers_and_shows_known_ones() {
    let pki = Pki::new();
    let (running, addr) = start(grpc_settings(pki.tls(ClientAuth::Optional))).await;
    assert_eq!(
        say_hello(addr, pki.client(None)).await.unwrap(),
        "anonymous"
    );
    let known = say_hello(addr, pki.client(Some((&pki.ca, Leaf::new("known")))))
        .await
        .unwrap();
    assert_eq!(known, "CN=known");
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test]
async fn an_identity_not_in_the_allow_list_gets_permission_denied() {
    let pki = Pki::new();
    let allowed = "spiffe://prod.example/ns/default/sa/hello";
    let settings = grpc_settings(pki.tls(ClientAuth::Optional)).with_authorization(
        AuthorizationSettings::default().allow("hello.v1.Greeter/SayHello", [allowed]),
    );
    let (running, addr) = start(settings).await;

    let ok = say_hello(
        addr,
        pki.client(Some((&pki.ca, Leaf::new("a").uri(allowed)))),
    )
    .await
    .unwrap();
    assert_eq!(ok, allowed);

    let other = Leaf::new("b").uri("spiffe://prod.example/ns/default/sa/other");
    let denied = say_hello(addr, pki.client(Some((&pki.ca, other))))
        .await
        .unwrap_err();
    assert!(denied.starts_with("PermissionDenied"), "{denied}");
    assert!(denied.contains("sa/other"), "{denied}");

    let anonymous = say_hello(addr, pki.client(None)).await.unwrap_err();
    assert!(anonymous.starts_with("Unauthenticated"), "{anonymous}");
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test]
async fn silent_and_garbage_handshakes_do_not_hold_up_other_callers() {
    let pki = Pki::new();
    let tls = pki
        .tls(ClientAuth::Off)
        .with_handshake_timeout(Duration::from_secs(2));
    let (running, addr) = start(grpc_settings(tls)).await;
    // Connections that never finish a handshake: silent, and garbage bytes.
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(TcpStream::connect(addr).await.unwrap());
    }
    let mut garbage = TcpStream::connect(addr).await.unwrap();
    garbage
        .write_all(b"\x16\x03\x01\xff\xffGET / HTTP/1.1\r\n\r\n\x00\x01\x02")
        .await
        .unwrap();
    let mut plaintext = TcpStream::connect(addr).await.unwrap();
    plaintext
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        .await
        .unwrap();
    // A well-behaved caller is served while they hang.
    assert_eq!(
        say_hello(addr, pki.client(None)).await.unwrap(),
        "anonymous"
    );
    // The silent ones are closed after `handshake_timeout` (2 s here).
    let started = Instant::now();
    for mut stream in silent {
        let mut buf = [0u8; 16];
        let read = tokio::time::timeout(
            Duration::from_secs(30),
            tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
        )
        .await
        .expect("a silent connection was never closed");
        assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test]
async fn bad_tls_files_fail_bind_naming_the_key_and_the_file() {
    let pki = Pki::new();
    let expired = pki.ca.issue(&Leaf::new("old").expired());
    let (cert, key) = expired.write(pki.dir.path(), "old");
    let settings = grpc_settings(ServerTlsSettings::new(&cert, &key));
    let error = GrpcServer::new(settings, Routes::new(GreeterServer::new(WhoAmI)))
        .bind()
        .unwrap_err();
    assert!(matches!(error, GrpcError::Tls(_)), "{error}");
    let text = error.to_string();
    assert!(text.contains("`grpc.tls.cert_file`"), "{text}");
    assert!(text.contains("old.crt"), "{text}");
    assert!(text.contains("expired"), "{text}");

    // The same through the shell: the gRPC task fails, and so does the service.
    let settings = grpc_settings(ServerTlsSettings::new(
        &pki.cert,
        pki.dir.path().join("none.key"),
    ));
    let grpc = GrpcServer::new(settings, Routes::new(GreeterServer::new(WhoAmI)));
    let outcome = match common::builder("tls-test").grpc(grpc).start().await {
        Ok(running) => tokio::time::timeout(Duration::from_secs(30), running.wait())
            .await
            .unwrap(),
        Err(error) => Err(error),
    };
    let error = outcome.unwrap_err().to_string();
    assert!(error.contains("`grpc.tls.key_file`"), "{error}");
    assert!(error.contains("none.key"), "{error}");
}

#[test]
fn authorization_without_client_certificates_is_a_config_error() {
    let settings = GrpcSettings::new("127.0.0.1:0".parse().unwrap())
        .with_authorization(AuthorizationSettings::default().allow("hello.v1.Greeter", ["x"]));
    let problems = boost_config::Problems::of("grpc", &settings);
    assert_eq!(problems.keys().collect::<Vec<_>>(), ["grpc.authorization"]);
}

/// 16 callers call without pause while the server's certificate files are
/// replaced (rename over, as cert-manager and Vault agent do): no call
/// fails, connections made after the swap see the new certificate, and
/// the ones made before keep serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_under_load_fails_no_call_and_new_connections_see_the_new_certificate() {
    let pki = Pki::new();
    let (running, addr) = start(grpc_settings(pki.tls(ClientAuth::Require))).await;
    let stop = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let mut callers = Vec::new();
    for i in 0..16 {
        let config = pki.client(Some((&pki.ca, Leaf::new(&format!("caller-{i}")))));
        let (stop, calls, failures) = (stop.clone(), calls.clone(), failures.clone());
        callers.push(tokio::spawn(async move {
            let mut client = GreeterClient::new(channel(addr, config.clone()).await.unwrap());
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Half the callers reconnect now and then: handshakes during the swap.
                if i % 2 == 1 && n % 25 == 24 {
                    match channel(addr, config.clone()).await {
                        Ok(channel) => client = GreeterClient::new(channel),
                        Err(e) => failures.lock().unwrap().push(format!("connect: {e}")),
                    }
                }
                match client.say_hello(HelloRequest { name: "x".into() }).await {
                    Ok(_) => {
                        calls.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(status) => failures.lock().unwrap().push(format!("{status:?}")),
                }
                n += 1;
            }
        }));
    }
    // Let the callers get going on the first certificate.
    wait_for_calls(&calls, 200).await;
    assert_eq!(presented_subject(addr, &pki).await, "CN=server-1");

    pki.ca
        .issue(&Leaf::new("server-2").dns("localhost"))
        .write_to(&pki.cert, &pki.key);
    let deadline = Instant::now() + Duration::from_secs(30);
    while presented_subject(addr, &pki).await != "CN=server-2" {
        assert!(
            Instant::now() < deadline,
            "the new certificate was never served"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let at_swap = calls.load(Ordering::Relaxed);
    wait_for_calls(&calls, at_swap + 200).await;
    stop.store(true, Ordering::Relaxed);
    for caller in callers {
        caller.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} failed calls: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

async fn wait_for_calls(calls: &AtomicU64, at_least: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while calls.load(Ordering::Relaxed) < at_least {
        assert!(Instant::now() < deadline, "the callers made too few calls");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The subject of the certificate a new connection is shown.
async fn presented_subject(addr: SocketAddr, pki: &Pki) -> String {
    let config = pki.client(Some((&pki.ca, Leaf::new("prober"))));
    let tcp = TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = TlsConnector::from(config).connect(name, tcp).await.unwrap();
    let cert = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    PeerIdentity::from_certificate(&cert)
        .unwrap()
        .subject()
        .to_owned()
}

/// A rustls client config made directly from PEM text (boost-tls refuses to
/// load an expired certificate; a server must refuse it too).
fn raw_client(ca_file: &Path, cert_pem: &str, key_pem: &str) -> Arc<ClientConfig> {
    use boost_tls::rustls::pki_types::PrivateKeyDer;
    use boost_tls::rustls::pki_types::pem::PemObject;
    let mut roots = RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(ca_file).unwrap() {
        roots.add(der.unwrap()).unwrap();
    }
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .map(Result::unwrap)
        .collect();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let mut config = ClientConfig::builder_with_provider(Arc::new(
        boost_tls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_client_auth_cert(chain, key)
    .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// `GET path` over HTTPS with `config`; the status line and body.
async fn https_get(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    path: &str,
) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = String::new();
    tokio::time::timeout(Duration::from_secs(20), tls.read_to_string(&mut response))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| e.to_string())?;
    Ok(response)
}

#[tokio::test]
async fn the_admin_server_serves_https_when_admin_tls_is_on_and_refuses_plaintext() {
    let pki = Pki::new();
    let admin = common::any_port().with_tls(pki.tls(ClientAuth::Off));
    let running = common::builder("tls-test")
        .admin(admin)
        .start()
        .await
        .unwrap();
    let addr = running.admin_addr();
    let response = https_get(addr, http11(pki.client(None)), "/health/live")
        .await
        .unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    // Plaintext HTTP to the HTTPS port gets no HTTP answer.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    plain
        .write_all(b"GET /health/live HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::io::AsyncReadExt::read_to_end(&mut plain, &mut buf),
    )
    .await
    .unwrap();
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test]
async fn bad_admin_tls_files_fail_start_naming_the_key() {
    let pki = Pki::new();
    let admin = common::any_port().with_tls(ServerTlsSettings::new(&pki.key, &pki.key));
    let Err(error) = common::builder("tls-test").admin(admin).start().await else {
        panic!("started with a key as the certificate")
    };
    let text = error.to_string();
    assert!(text.contains("`admin.tls.cert_file`"), "{text}");
    assert!(text.contains("found only `PRIVATE KEY`"), "{text}");
}

/// The config with HTTP/1.1 as its ALPN protocol (the admin server's).
fn http11(config: Arc<ClientConfig>) -> Arc<ClientConfig> {
    let mut config = ClientConfig::clone(&config);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

#[tokio::test]
async fn the_server_span_records_the_callers_identity() {
    let capture = boost_tracing::testing::Capture::new();
    let _guard = capture.set_default();
    let pki = Pki::new();
    let (running, addr) = start(grpc_settings(pki.tls(ClientAuth::Require))).await;
    let leaf = Leaf::new("hello-service").uri("spiffe://prod.example/sa/hello");
    say_hello(addr, pki.client(Some((&pki.ca, leaf))))
        .await
        .unwrap();
    let span = capture
        .wait_for_span("hello.v1.Greeter/SayHello", Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("{:#?}", capture.spans()));
    assert_eq!(
        span.attributes["peer.identity"],
        "spiffe://prod.example/sa/hello"
    );
    assert_eq!(span.attributes["tls.client.subject"], "CN=hello-service");
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

/// A client in another language: Python's grpcio calls the TLS server with
/// the CA bundle and a client certificate (mTLS `require`), and is refused
/// without one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python3 grpcio"]
async fn python_grpcio_calls_the_mtls_server_with_its_ca() {
    let check = std::process::Command::new(python())
        .args(["-c", "import grpc, grpc_tools"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; install python3", python()));
    assert!(
        check.status.success(),
        "python grpcio missing: pip install grpcio grpcio-tools\n{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let pki = Pki::new();
    let (running, addr) = start(grpc_settings(pki.tls(ClientAuth::Require))).await;
    let (cert, key) = pki
        .ca
        .issue(&Leaf::new("python").uri("spiffe://prod.example/sa/python"))
        .write(pki.dir.path(), "python");
    let work = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut command = tokio::process::Command::new(python());
    command
        .arg(root.join("tests/data/python_tls_client.py"))
        .arg(root.join("../../examples/proto"))
        .arg(work.path())
        .arg(addr.to_string())
        .arg(&pki.ca_file)
        .arg(&cert)
        .arg(&key);
    let out = tokio::time::timeout(Duration::from_secs(120), command.output())
        .await
        .expect("the python client hung")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["with_cert"], "spiffe://prod.example/sa/python");
    assert_eq!(seen["without_cert"], "UNAVAILABLE");
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

/// `…__GRPC__TLS__KEY_FILE` is the path of the key (an ordinary key), not a
/// secret file whose content would be the value of a `grpc.tls.key`.
#[test]
fn tls_file_keys_are_paths_in_the_environment_too() {
    use boost_config::Loader;
    use boost_service::{Config, NoSettings};
    let loaded = Loader::new("tls-env")
        .dir("no/such/dir")
        .env_vars([
            ("APP_ENV", ""),
            ("TLS_ENV__GRPC__TLS__ENABLED", "true"),
            ("TLS_ENV__GRPC__TLS__CERT_FILE", "/etc/tls/tls.crt"),
            ("TLS_ENV__GRPC__TLS__KEY_FILE", "/etc/tls/tls.key"),
            ("TLS_ENV__GRPC__TLS__CA_FILE", "/etc/tls/ca.crt"),
            ("TLS_ENV__GRPC__TLS__CLIENT_AUTH", "require"),
            ("TLS_ENV__ADMIN__TLS__CA_FILE", ""),
        ])
        .load::<Config<NoSettings>>()
        .unwrap();
    let tls = &loaded.kit.grpc.tls;
    assert_eq!(
        tls.cert_file.as_deref(),
        Some(Path::new("/etc/tls/tls.crt"))
    );
    assert_eq!(tls.key_file.as_deref(), Some(Path::new("/etc/tls/tls.key")));
    assert_eq!(tls.ca_file.as_deref(), Some(Path::new("/etc/tls/ca.crt")));
    assert_eq!(tls.client_auth, ClientAuth::Require);
    assert_eq!(loaded.kit.admin.tls.ca_file, None);
    let explained = loaded.explain();
    assert!(
        explained.contains("key_file = \"/etc/tls/tls.key\""),
        "{explained}"
    );

    // A rule broken in the environment names the key.
    let error = Loader::new("tls-env")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", ""), ("TLS_ENV__GRPC__TLS__ENABLED", "true")])
        .load::<Config<NoSettings>>()
        .unwrap_err()
        .to_string();
    assert!(error.contains("`grpc.tls.cert_file`"), "{error}");
}
