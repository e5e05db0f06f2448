//! `cargo boost virtualize`: the built binary serves hello-service's recorded
//! profile-service session to a plain tonic client, with health, and refuses
//! a bad tape, proto or address naming the file or flag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use boost_test_proto::GetProfileRequest;
use boost_test_proto::profiles_client::ProfilesClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn kit(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

const TAPE: &str = "examples/hello-service/tests/tapes/greeter_session.json";
const PROTO: &str = "examples/hello-service/proto/hello.proto";

/// The running command, killed when the test ends however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `virtualize` on a free port; the address it printed, what it
/// printed up to there, and every later line of its stderr as it comes.
fn start(args: &[&str]) -> (Running, String, String, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cargo-boost"))
        .args(["boost", "virtualize"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let running = Running(child);
    let (lines, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("no `Listening on` line ({e}); got {seen:#?}"));
        if let Some(rest) = line.strip_prefix("Listening on ") {
            let addr = rest.split_whitespace().next().unwrap().to_owned();
            seen.push(line);
            return (running, addr, seen.join("\n"), rx);
        }
        seen.push(line);
    }
}

fn refused(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-boost"))
        .args(["boost", "virtualize"])
        .args(args)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn a_tape_is_served_as_a_grpc_server_with_health_until_the_process_stops() {
    let tape = kit(TAPE);
    let proto = kit(PROTO);
    let (running, addr, banner, lines) = start(&[
        tape.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--proto",
        proto.to_str().unwrap(),
    ]);
    assert!(banner.contains("Serving tape"), "{banner}");
    assert!(
        banner.contains("hello.v1.Profiles/GetProfile  3 calls"),
        "{banner}"
    );
    assert!(
        banner.contains("Health: hello.v1.Profiles SERVING"),
        "{banner}"
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_timeout(Duration::from_secs(30))
        .connect()
        .await
        .unwrap();

    let mut profiles = ProfilesClient::new(channel.clone());
    let bob = profiles
        .get_profile(GetProfileRequest { name: "bob".into() })
        .await
        .unwrap();
    assert_eq!(bob.get_ref().language, "fr");
    let zoe = profiles
        .get_profile(GetProfileRequest { name: "zoe".into() })
        .await
        .unwrap_err();
    assert_eq!(zoe.code(), tonic::Code::NotFound);
    assert_eq!(zoe.message(), "no profile named \"zoe\"");
    let miss = profiles
        .get_profile(GetProfileRequest {
            name: "bobby".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(miss.code(), tonic::Code::FailedPrecondition);
    assert!(miss.message().contains("closest is entries[0]"), "{miss:?}");

    let mut health = HealthClient::new(channel);
    for service in ["hello.v1.Profiles", ""] {
        let status = health
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .unwrap();
        assert_eq!(
            status.get_ref().status,
            ServingStatus::Serving as i32,
            "{service:?}"
        );
    }

    // Each call is a line a person can follow.
    let mut calls = Vec::new();
    while calls.len() < 3 {
        let line = lines.recv_timeout(Duration::from_secs(30)).unwrap();
        if line.starts_with("hello.v1.Profiles/GetProfile -> ") {
            calls.push(line);
        }
    }
    assert_eq!(calls[0], "hello.v1.Profiles/GetProfile -> entries[0]: OK");
    assert_eq!(
        calls[1],
        "hello.v1.Profiles/GetProfile -> entries[2]: NOT_FOUND"
    );
    assert!(calls[2].contains("no match"), "{}", calls[2]);
    drop(running);
}

#[test]
fn a_missing_or_broken_tape_is_refused_naming_the_file() {
    let proto = kit(PROTO);
    let proto = proto.to_str().unwrap();
    let err = refused(&[
        "no/such/tape.json",
        "--listen",
        "127.0.0.1:0",
        "--proto",
        proto,
    ]);
    assert!(
        err.contains("tape no/such/tape.json: no such file"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"entries\": [").unwrap();
    let err = refused(&[
        broken.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--proto",
        proto,
    ]);
    assert!(err.contains("broken.json: not a valid tape"), "{err}");
    assert!(!err.contains("virtual-upstream"), "{err}");

    // An HTTP tape.
    let http = dir.path().join("http.json");
    std::fs::write(&http, r#"{"format": "boost-tape-http/1", "entries": []}"#).unwrap();
    let err = refused(&[
        http.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--proto",
        proto,
    ]);
    assert!(
        err.contains("http.json is an HTTP tape (boost-tape-http/1)")
            && err.contains("--proto, --include and --descriptors are for gRPC tapes"),
        "{err}"
    );

    // A tape of a method the protos do not define.
    let text = std::fs::read_to_string(kit(TAPE))
        .unwrap()
        .replace("hello.v1.Profiles/GetProfile", "shop.v1.Orders/Get");
    let other = dir.path().join("orders.json");
    std::fs::write(&other, text).unwrap();
    let err = refused(&[
        other.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--proto",
        proto,
    ]);
    assert!(
        err.contains("the descriptors do not define shop.v1.Orders/Get"),
        "{err}"
    );
}

#[test]
fn bad_protos_or_addresses_are_refused_naming_the_flag() {
    let tape = kit(TAPE);
    let tape = tape.to_str().unwrap();
    let proto = kit(PROTO);
    let proto = proto.to_str().unwrap();

    let err = refused(&[tape, "--listen", "127.0.0.1:0"]);
    assert!(err.contains("--proto FILE"), "{err}");
    assert!(err.contains("--descriptors FILE"), "{err}");

    let err = refused(&[tape, "--listen", "127.0.0.1:0", "--proto", "missing.proto"]);
    assert!(err.contains("--proto missing.proto: no such file"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, b"\xff\xff\xff not a descriptor set").unwrap();
    let err = refused(&[
        tape,
        "--listen",
        "127.0.0.1:0",
        "--descriptors",
        junk.to_str().unwrap(),
    ]);
    assert!(
        err.contains("junk.bin: not an encoded FileDescriptorSet"),
        "{err}"
    );

    let err = refused(&[tape, "--listen", "nowhere", "--proto", proto]);
    assert!(err.contains("--listen \"nowhere\""), "{err}");

    // A port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let err = refused(&[tape, "--listen", &addr, "--proto", proto]);
    assert!(
        err.contains(&format!("--listen {addr}: cannot listen")),
        "{err}"
    );
}

#[test]
#[ignore = "needs python grpcio"]
fn python_grpcio_gets_the_recorded_answers_and_reflection_from_the_command() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let tape = kit(TAPE);
    let proto = kit(PROTO);
    let (running, addr, _, _lines) = start(&[
        tape.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--proto",
        proto.to_str().unwrap(),
    ]);
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(&python)
        .arg(kit(
            "crates/boost-rpc/tests/data/python_virtual_upstream.py",
        ))
        .arg(kit("examples/proto"))
        .arg(work.path())
        .arg(&addr)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}; see .ci/install-test-programs"));
    drop(running);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["bob"], "fr");
    assert_eq!(seen["zoe"], "NOT_FOUND: no profile named \"zoe\"");
    assert!(
        seen["bobby"]
            .as_str()
            .unwrap()
            .contains(r#"name: recorded "bob", got "bobby""#),
        "{seen}"
    );
    assert_eq!(seen["health"]["hello.v1.Profiles"], "SERVING");
    let services = seen["services"].to_string();
    assert!(services.contains("hello.v1.Profiles"), "{services}");
    assert!(services.contains("grpc.health.v1.Health"), "{services}");
}

const HTTP_TAPE: &str = r#"{"format": "boost-tape-http/1", "entries": [
    {"method": "GET", "url": "/v1/quotes?city=LIS", "request": {},
     "response": {"status": 200, "headers": {"content-type": "application/json"},
                  "body": {"json": {"city": "LIS", "price_cents": 4200}}}},
    {"method": "POST", "url": "/v1/orders", "request": {"body": {"json": {"item": "car-7"}}},
     "response": {"status": 201, "body": {"text": "created"}}},
    {"method": "GET", "url": "/v1/quotes?city=OPO", "request": {},
     "response": {"status": 200}, "fault": {"status": 503}}
]}"#;

#[tokio::test]
async fn an_http_tape_is_served_as_an_http_server() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("quotes.json");
    std::fs::write(&tape, HTTP_TAPE).unwrap();
    let (running, addr, banner, lines) =
        start(&[tape.to_str().unwrap(), "--listen", "127.0.0.1:0"]);
    assert!(banner.contains("Serving HTTP tape"), "{banner}");
    assert!(banner.contains("(3 recorded requests)"), "{banner}");
    assert!(banner.contains("GET /v1/quotes   2 requests"), "{banner}");
    assert!(banner.contains("POST /v1/orders  1 request"), "{banner}");

    let settings =
        boost_http::client::HttpClientSettings::with_base_urls([format!("http://{addr}")]);
    let client = boost_http::client::HttpClient::new("virtual", &settings).unwrap();
    let quote = client.get("/v1/quotes?city=LIS").send().await.unwrap();
    assert_eq!(quote.status(), 200);
    assert_eq!(
        quote.json::<serde_json::Value>().unwrap(),
        serde_json::json!({"city": "LIS", "price_cents": 4200})
    );
    let order = client
        .post("/v1/orders")
        .json(&serde_json::json!({"item": "car-7"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (order.status().as_u16(), order.text()),
        (201, "created".to_owned())
    );
    let mut no_retry = settings.clone();
    no_retry.retry.max_attempts = 1;
    let once = boost_http::client::HttpClient::new("virtual-once", &no_retry).unwrap();
    let down = once.get("/v1/quotes?city=OPO").send().await.unwrap();
    assert_eq!(down.status(), 503);
    let miss = once.get("/v1/quotes?city=FAO").send().await.unwrap();
    assert_eq!(miss.status(), 501);
    let problem = miss.json::<serde_json::Value>().unwrap();
    let detail = problem["detail"].as_str().unwrap();
    // LIS and OPO are equally close to FAO: either may be named, the field must be.
    assert!(
        detail.contains("differs in query.city: recorded") && detail.contains("got \"FAO\""),
        "{detail}"
    );

    let mut calls = Vec::new();
    while calls.len() < 4 {
        let line = lines.recv_timeout(Duration::from_secs(30)).unwrap();
        if line.contains(" -> ") {
            calls.push(line);
        }
    }
    assert_eq!(calls[0], "GET /v1/quotes?city=LIS -> 200");
    assert_eq!(calls[1], "POST /v1/orders -> 201");
    assert_eq!(calls[2], "GET /v1/quotes?city=OPO -> fault 503");
    assert!(
        calls[3].starts_with("GET /v1/quotes?city=FAO -> no match"),
        "{}",
        calls[3]
    );
    drop(running);
}
