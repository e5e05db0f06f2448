//! Record and replay (`[<client>.tape]`): a session recorded against a real
//! upstream replays with the upstream stopped — same answers, same metric
//! labels, no connection attempted — byte-identically on re-recording, with
//! secrets masked, faults replayed, and a clear miss.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boost_rpc::client::{Client, ClientSettings, TapeMode, TapeSettings};
use boost_test_proto::profiles_client::ProfilesClient;
use boost_test_proto::profiles_server::{Profiles, ProfilesServer};
use boost_test_proto::{FILE_DESCRIPTOR_SET, GetProfileRequest, Profile};
use metrics_util::debugging::{DebuggingRecorder, Snapshotter};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::{Request, Response, Status};

/// A deterministic profile-service: bob → fr, ada → en, `down` →
/// UNAVAILABLE, anyone else NOT_FOUND.
#[derive(Clone, Default)]
struct Partner {
    calls: Arc<AtomicUsize>,
}

#[tonic::async_trait]
impl Profiles for Partner {
    async fn get_profile(
        &self,
        request: Request<GetProfileRequest>,
    ) -> Result<Response<Profile>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let name = request.into_inner().name;
        let language = match name.as_str() {
            "bob" => "fr",
            "ada" => "en",
            "down" => return Err(Status::unavailable("sandbox down for maintenance")),
            _ => return Err(Status::not_found(format!("no profile {name}"))),
        };
        let mut response = Response::new(Profile {
            name,
            language: language.into(),
        });
        response
            .metadata_mut()
            .insert("x-partner-region", "eu".parse().unwrap());
        Ok(response)
    }
}

/// The partner on a free port; stops when the sender is dropped.
async fn partner() -> (String, Partner, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let partner = Partner::default();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ProfilesServer::new(partner.clone()))
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );
    (format!("http://{addr}"), partner, stop)
}

/// A port that counts the connections made to it (and closes them).
async fn counting_port() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    (format!("http://{addr}"), accepted)
}

fn metrics() -> &'static Snapshotter {
    static SNAPSHOTTER: std::sync::OnceLock<Snapshotter> = std::sync::OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().unwrap();
        snapshotter
    })
}

/// The label sets (without `client`) of `rpc_client_call_duration_seconds`
/// recorded for `client`.
fn call_labels(client: &str) -> BTreeSet<Vec<(String, String)>> {
    metrics()
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| key.key().name() == "rpc_client_call_duration_seconds")
        .filter(|(key, _, _, _)| {
            key.key()
                .labels()
                .any(|l| l.key() == "client" && l.value() == client)
        })
        .map(|(key, _, _, _)| {
            key.key()
                .labels()
                .filter(|l| l.key() != "client")
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect()
        })
        .collect()
}

fn client(name: &str, endpoint: &str, mode: TapeMode, tape: &Path) -> Client {
    let mut settings = ClientSettings::with_endpoints([endpoint]);
    // Not a deadline test: the first call also connects, on a loaded machine.
    settings.timeout = Duration::from_secs(10);
    settings.tape = TapeSettings::new(mode, tape);
    settings.tape.secret_headers = vec!["x-partner-key".into()];
    Client::builder(name, &settings)
        .descriptors(FILE_DESCRIPTOR_SET)
        .build()
        .unwrap()
}

/// What the scenario's calls answered: language or status code and message.
async fn scenario(client: Client, names: &[&str]) -> Vec<String> {
    let mut profiles = ProfilesClient::new(client);
    let mut out = Vec::new();
    for name in names {
        let mut request = Request::new(GetProfileRequest {
            name: (*name).to_owned(),
        });
        let md = request.metadata_mut();
        md.insert("authorization", "Bearer s3cr3t-token".parse().unwrap());
        md.insert("x-partner-key", "k-12345".parse().unwrap());
        md.insert("x-tenant", "acme".parse().unwrap());
        out.push(match profiles.get_profile(request).await {
            Ok(reply) => format!(
                "{} region={:?}",
                reply.get_ref().language,
                reply.metadata().get("x-partner-region")
            ),
            Err(status) => format!("{:?}: {}", status.code(), status.message()),
        });
    }
    out
}

const NAMES: [&str; 5] = ["bob", "zoe", "bob", "ada", "down"];

#[tokio::test]
async fn a_recorded_session_replays_with_the_upstream_stopped_and_no_connection_attempted() {
    metrics();
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("profiles.json");
    let (url, partner, stop) = partner().await;
    let live = scenario(client("tape_rec", &url, TapeMode::Record, &tape), &NAMES).await;
    assert_eq!(partner.calls.load(Ordering::SeqCst), 5);
    drop(stop);

    let (nowhere, connections) = counting_port().await;
    let replaying = client("tape_rep", &nowhere, TapeMode::Replay, &tape);
    assert!(
        replaying.endpoints().is_empty(),
        "replay builds no balancer"
    );
    let replayed = scenario(replaying, &NAMES).await;
    assert_eq!(replayed, live);
    assert_eq!(live[0], "fr region=Some(\"eu\")");
    assert_eq!(live[1], "NotFound: no profile zoe");
    assert_eq!(live[4], "Unavailable: sandbox down for maintenance");
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "replay dialled nothing"
    );
    assert_eq!(partner.calls.load(Ordering::SeqCst), 5);

    let recorded = call_labels("tape_rec");
    assert!(recorded.len() >= 3, "{recorded:?}");
    assert_eq!(call_labels("tape_rep"), recorded);
}

#[tokio::test]
async fn re_recording_the_same_scenario_writes_a_byte_identical_tape_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("one.json"), dir.path().join("two.json"));
    let (url, _, _stop) = partner().await;
    scenario(client("tape_again", &url, TapeMode::Record, &first), &NAMES).await;
    scenario(
        client("tape_again", &url, TapeMode::Record, &second),
        &NAMES,
    )
    .await;
    let (a, b) = (
        std::fs::read_to_string(&first).unwrap(),
        std::fs::read_to_string(&second).unwrap(),
    );
    assert_eq!(a, b);
    // Recording into the same file again also changes nothing.
    scenario(client("tape_again", &url, TapeMode::Record, &first), &NAMES).await;
    assert_eq!(std::fs::read_to_string(&first).unwrap(), a);

    for secret in ["s3cr3t", "k-12345"] {
        assert!(!a.contains(secret), "{secret} reached the tape:\n{a}");
    }
    assert!(a.contains("\"authorization\": \"<redacted>\""), "{a}");
    assert!(a.contains("\"x-partner-key\": \"<redacted>\""), "{a}");
    assert!(a.contains("\"x-tenant\": \"acme\""), "{a}");
    for per_call in ["traceparent", "x-request-id", "grpc-timeout", "date"] {
        assert!(
            !a.contains(per_call),
            "{per_call} would change every run:\n{a}"
        );
    }
    assert!(a.contains("\"language\": \"fr\""), "readable JSON: {a}");
    // Latency is kept beside the tape, not in it.
    let timing = std::fs::read_to_string(format!("{}.timing.json", first.display())).unwrap();
    assert!(timing.contains("elapsed"), "{timing}");
}

#[tokio::test]
async fn an_unmatched_request_fails_naming_the_closest_entry_and_the_differing_field() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("t.json");
    let (url, _, stop) = partner().await;
    scenario(
        client("tape_miss", &url, TapeMode::Record, &tape),
        &["ada", "bob"],
    )
    .await;
    drop(stop);
    let replay = client("tape_miss", &url, TapeMode::Replay, &tape);
    let answer = scenario(replay, &["bobby"]).await;
    let message = &answer[0];
    assert!(message.starts_with("FailedPrecondition"), "{message}");
    assert!(
        message.contains("hello.v1.Profiles/GetProfile"),
        "{message}"
    );
    assert!(
        message.contains(r#"closest is entries[1] {"name":"bob"}"#),
        "{message}"
    );
    assert!(
        message.contains(r#"name: recorded "bob", got "bobby""#),
        "{message}"
    );
}

#[tokio::test]
async fn faults_written_into_a_tape_are_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("faults.json");
    let (url, _, stop) = partner().await;
    scenario(
        client("tape_fault", &url, TapeMode::Record, &tape),
        &["bob", "ada"],
    )
    .await;
    drop(stop);
    // A hand-edited fault: ada's answer is UNAVAILABLE after 100 ms; bob's
    // takes longer than the call's deadline.
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tape).unwrap()).unwrap();
    let entries = json["entries"].as_array_mut().unwrap();
    entries[0]["fault"] =
        serde_json::json!({"code": "UNAVAILABLE", "message": "injected", "delay": "100ms"});
    entries[1]["fault"] = serde_json::json!({"delay": "1h"});
    std::fs::write(&tape, serde_json::to_string_pretty(&json).unwrap()).unwrap();

    let mut settings = ClientSettings::default();
    settings.timeout = Duration::from_millis(300);
    settings.tape = TapeSettings::new(TapeMode::Replay, &tape);
    let replay = Client::builder("tape_fault", &settings)
        .descriptors(FILE_DESCRIPTOR_SET)
        .build()
        .unwrap();
    let started = Instant::now();
    let answers = scenario(replay, &["ada", "bob"]).await;
    assert_eq!(answers[0], "Unavailable: injected");
    assert!(answers[1].starts_with("DeadlineExceeded"), "{}", answers[1]);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400),
        "the delays were waited: {took:?}"
    );
    assert!(
        took < Duration::from_secs(30),
        "bounded by the deadline: {took:?}"
    );
}

#[tokio::test]
async fn replay_or_record_calls_the_upstream_only_for_what_the_tape_lacks() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("mixed.json");
    let (url, partner, _stop) = partner().await;
    scenario(
        client("tape_mixed", &url, TapeMode::Record, &tape),
        &["bob"],
    )
    .await;
    let answers = scenario(
        client("tape_mixed", &url, TapeMode::ReplayOrRecord, &tape),
        &["bob", "ada"],
    )
    .await;
    assert_eq!(answers[1], "en region=Some(\"eu\")");
    assert_eq!(
        partner.calls.load(Ordering::SeqCst),
        2,
        "bob came from the tape"
    );
    let text = std::fs::read_to_string(&tape).unwrap();
    assert!(
        text.contains("\"ada\"") && text.contains("\"bob\""),
        "{text}"
    );
}

#[tokio::test]
async fn a_missing_tape_or_descriptors_fail_the_build_saying_what_to_do() {
    let mut settings = ClientSettings::default();
    settings.tape = TapeSettings::new(TapeMode::Replay, "/nonexistent/tape.json");
    let error = Client::builder("profiles", &settings)
        .descriptors(FILE_DESCRIPTOR_SET)
        .build()
        .unwrap_err()
        .to_string();
    assert!(error.contains("/nonexistent/tape.json"), "{error}");
    assert!(error.contains("record it first"), "{error}");
    let error = Client::builder("profiles", &settings)
        .build()
        .unwrap_err()
        .to_string();
    assert!(error.contains("FULL_FILE_DESCRIPTOR_SET"), "{error}");
    settings.tape.path = None;
    let error = boost_rpc::client("profiles", &settings)
        .unwrap_err()
        .to_string();
    assert!(error.contains("profiles.tape.path"), "{error}");
}

/// A tape of the partner (bob → fr, zoe NOT_FOUND), recorded then served by
/// a virtual upstream on a free port; the partner is stopped first.
async fn virtual_upstream(dir: &Path) -> std::net::SocketAddr {
    let tape = dir.join("virtual.json");
    let (url, _, stop) = partner().await;
    scenario(
        client("tape_virtual", &url, TapeMode::Record, &tape),
        &["bob", "zoe"],
    )
    .await;
    drop(stop);
    let upstream = boost_rpc::virtual_upstream::VirtualUpstream::open(
        &TapeSettings::new(TapeMode::Replay, &tape),
        &[FILE_DESCRIPTOR_SET],
    )
    .unwrap();
    assert_eq!(upstream.services(), ["hello.v1.Profiles"]);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(upstream.serve(listener, std::future::pending()));
    addr
}

#[tokio::test]
async fn a_virtual_upstream_answers_a_plain_grpc_client_from_the_tape() {
    let dir = tempfile::tempdir().unwrap();
    let addr = virtual_upstream(dir.path()).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut profiles = ProfilesClient::new(channel);
    let bob = profiles
        .get_profile(GetProfileRequest { name: "bob".into() })
        .await
        .unwrap();
    assert_eq!(bob.get_ref().language, "fr");
    assert_eq!(
        bob.metadata()
            .get("x-partner-region")
            .unwrap()
            .to_str()
            .unwrap(),
        "eu"
    );
    let zoe = profiles
        .get_profile(GetProfileRequest { name: "zoe".into() })
        .await
        .unwrap_err();
    assert_eq!(zoe.code(), tonic::Code::NotFound);
    assert_eq!(zoe.message(), "no profile zoe");
    let miss = profiles
        .get_profile(GetProfileRequest {
            name: "bobby".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(miss.code(), tonic::Code::FailedPrecondition);
    assert!(
        miss.message().contains("closest is entries[0]"),
        "{}",
        miss.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs python grpcio"]
async fn python_grpcio_gets_the_recorded_answers_from_a_virtual_upstream() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let dir = tempfile::tempdir().unwrap();
    let addr = virtual_upstream(dir.path()).await;
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = manifest.join("tests/data/python_virtual_upstream.py");
    let protos = manifest.join("../../examples/proto");
    let work = dir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&python)
            .arg(script)
            .arg(protos)
            .arg(work)
            .arg(addr.to_string())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}; see .ci/install-test-programs"))
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed (pip install grpcio grpcio-tools grpcio-health-checking \
         grpcio-reflection):\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["bob"], "fr");
    assert_eq!(seen["zoe"], "NOT_FOUND: no profile zoe");
    let miss = seen["bobby"].as_str().unwrap();
    assert!(miss.starts_with("FAILED_PRECONDITION"), "{miss}");
    assert!(
        miss.contains(r#"name: recorded "bob", got "bobby""#),
        "{miss}"
    );
    assert_eq!(seen["health"][""], "SERVING");
    assert_eq!(seen["health"]["hello.v1.Profiles"], "SERVING");
    let services: Vec<&str> = seen["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(services.contains(&"hello.v1.Profiles"), "{services:?}");
    assert!(services.contains(&"grpc.health.v1.Health"), "{services:?}");
}

#[tokio::test]
async fn ignored_and_redacted_fields_are_not_compared_and_redacted_ones_never_reach_the_tape() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("fields.json");
    let (url, _, stop) = partner().await;
    let mut settings = ClientSettings::with_endpoints([url.as_str()]);
    settings.timeout = Duration::from_secs(10);
    settings.tape = TapeSettings::new(TapeMode::Record, &tape);
    settings.tape.redacted_fields = vec!["language".into()];
    let recorder = Client::builder("tape_fields", &settings)
        .descriptors(FILE_DESCRIPTOR_SET)
        .build()
        .unwrap();
    assert_eq!(
        scenario(recorder, &["bob"]).await[0],
        "fr region=Some(\"eu\")"
    );
    drop(stop);
    let text = std::fs::read_to_string(&tape).unwrap();
    assert!(text.contains("\"language\": \"<redacted>\""), "{text}");
    assert!(!text.contains("\"fr\""), "{text}");

    settings.tape.mode = TapeMode::Replay;
    settings.tape.ignored_fields = [(
        "hello.v1.Profiles/GetProfile".to_owned(),
        vec!["name".to_owned()],
    )]
    .into();
    let replay = Client::builder("tape_fields", &settings)
        .descriptors(FILE_DESCRIPTOR_SET)
        .build()
        .unwrap();
    let answers = scenario(replay, &["anyone"]).await;
    assert_eq!(
        answers[0], "<redacted> region=Some(\"eu\")",
        "name is ignored"
    );
}

#[tokio::test]
async fn recorded_latency_is_replayed_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("slow.json");
    let (url, _, stop) = partner().await;
    scenario(
        client("tape_latency", &url, TapeMode::Record, &tape),
        &["bob"],
    )
    .await;
    drop(stop);
    // As if the partner had taken 300 ms.
    let timing = format!("{}.timing.json", tape.display());
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&timing).unwrap()).unwrap();
    json["entries"][0]["elapsed"] = "300ms".into();
    std::fs::write(&timing, json.to_string()).unwrap();

    let fast = Instant::now();
    scenario(
        client("tape_latency", &url, TapeMode::Replay, &tape),
        &["bob"],
    )
    .await;
    let fast = fast.elapsed();
    let mut settings = ClientSettings::default();
    settings.timeout = Duration::from_secs(10);
    settings.tape = TapeSettings::new(TapeMode::Replay, &tape);
    settings.tape.replay_latency = true;
    let slow_client = Client::builder("tape_latency", &settings)
        .descriptors(FILE_DESCRIPTOR_SET)
        .build()
        .unwrap();
    let slow = Instant::now();
    let answer = scenario(slow_client, &["bob"]).await;
    let slow = slow.elapsed();
    assert_eq!(answer[0], "fr region=Some(\"eu\")");
    assert!(slow >= Duration::from_millis(300), "{slow:?}");
    assert!(fast < slow, "off by default: {fast:?} vs {slow:?}");
}

/// A server-streaming API, compiled at test time (the example proto has none).
const FEED_PROTO: &str = r#"syntax = "proto3";
package feed.v1;
service Feed {
  rpc Watch(WatchRequest) returns (stream Event);
  rpc Publish(stream Event) returns (Ack);
}
message WatchRequest { string topic = 1; }
message Event { int32 seq = 1; string topic = 2; }
message Ack { int32 count = 1; }
"#;

#[derive(Clone, PartialEq, prost::Message)]
struct WatchRequest {
    #[prost(string, tag = "1")]
    topic: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Event {
    #[prost(int32, tag = "1")]
    seq: i32,
    #[prost(string, tag = "2")]
    topic: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Ack {
    #[prost(int32, tag = "1")]
    count: i32,
}

fn feed_descriptors() -> &'static [u8] {
    static SET: std::sync::OnceLock<&'static [u8]> = std::sync::OnceLock::new();
    SET.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("feed.proto"), FEED_PROTO).unwrap();
        let mut compiler = protox::Compiler::new([dir.path()]).unwrap();
        compiler.include_imports(true);
        compiler.open_file("feed.proto").unwrap();
        Box::leak(compiler.encode_file_descriptor_set().into_boxed_slice())
    })
}

/// Every event of `Watch(topic)`, in order, through `client`.
async fn watch(client: Client, topic: &str) -> Result<Vec<(i32, String)>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(client);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<WatchRequest, Event>::default();
    let path = http::uri::PathAndQuery::from_static("/feed.v1.Feed/Watch");
    let request = Request::new(WatchRequest {
        topic: topic.to_owned(),
    });
    let mut stream = grpc
        .server_streaming(request, path, codec)
        .await?
        .into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.message().await? {
        events.push((event.seq, event.topic));
    }
    Ok(events)
}

/// `Publish` of events 1..=n on topic `cars`; the count acknowledged.
async fn publish(client: Client, n: i32) -> Result<i32, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(client);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<Event, Ack>::default();
    let path = http::uri::PathAndQuery::from_static("/feed.v1.Feed/Publish");
    let events: Vec<Event> = (1..=n)
        .map(|seq| Event {
            seq,
            topic: "cars".to_owned(),
        })
        .collect();
    let request = Request::new(tokio_stream::iter(events));
    Ok(grpc
        .client_streaming(request, path, codec)
        .await?
        .into_inner()
        .count)
}

#[tokio::test]
async fn streaming_calls_are_recorded_and_replayed_message_by_message() {
    let dir = tempfile::tempdir().unwrap();
    // The partner streams three events: a virtual upstream over a hand-written tape.
    let source = dir.path().join("partner.json");
    std::fs::write(
        &source,
        r#"{"format": "boost-tape/1", "entries": [{
            "method": "feed.v1.Feed/Watch",
            "request": {"messages": [{"topic": "cars"}]},
            "response": {"code": "OK", "messages": [
                {"seq": 1, "topic": "cars"}, {"seq": 2, "topic": "cars"}, {"seq": 3, "topic": "cars"}
            ]}
        }, {
            "method": "feed.v1.Feed/Publish",
            "request": {"messages": [{"seq": 1, "topic": "cars"}, {"seq": 2, "topic": "cars"}]},
            "response": {"code": "OK", "messages": [{"count": 2}]}
        }]}"#,
    )
    .unwrap();
    let partner = boost_rpc::virtual_upstream::VirtualUpstream::open(
        &TapeSettings::new(TapeMode::Replay, &source),
        &[feed_descriptors()],
    )
    .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(partner.serve(listener, async {
        let _ = stopped.await;
    }));

    let tape = dir.path().join("feed.json");
    let taped = |endpoint: &str, mode| {
        let mut settings = ClientSettings::with_endpoints([endpoint]);
        settings.timeout = Duration::from_secs(10);
        settings.tape = TapeSettings::new(mode, &tape);
        Client::builder("tape_feed", &settings)
            .descriptors(feed_descriptors())
            .build()
            .unwrap()
    };
    let expected: Vec<(i32, String)> = (1..=3).map(|seq| (seq, "cars".to_owned())).collect();
    let recorder = taped(&url, TapeMode::Record);
    let live = watch(recorder.clone(), "cars").await.unwrap();
    assert_eq!(live, expected);
    assert_eq!(publish(recorder, 2).await.unwrap(), 2);
    drop(stop);
    served.await.unwrap().unwrap();

    // The tape holds each stream's messages in order.
    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tape).unwrap()).unwrap();
    // Sorted by method: Publish, then Watch.
    let publish_entry = &recorded["entries"][0];
    assert_eq!(publish_entry["method"], "feed.v1.Feed/Publish");
    assert_eq!(
        publish_entry["request"]["messages"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(publish_entry["response"]["messages"][0]["count"], 2);
    let entry = &recorded["entries"][1];
    assert_eq!(entry["method"], "feed.v1.Feed/Watch");
    assert_eq!(entry["request"]["messages"][0]["topic"], "cars");
    let seqs: Vec<i64> = entry["response"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 2, 3]);

    // Replayed with the partner gone: the same three events, no connection.
    let (nowhere, attempts) = counting_port().await;
    let replayed = watch(taped(&nowhere, TapeMode::Replay), "cars")
        .await
        .unwrap();
    assert_eq!(replayed, expected);
    // A client-streaming call: matched on all its request messages.
    assert_eq!(
        publish(taped(&nowhere, TapeMode::Replay), 2).await.unwrap(),
        2
    );
    let more = publish(taped(&nowhere, TapeMode::Replay), 3)
        .await
        .unwrap_err();
    assert_eq!(more.code(), tonic::Code::FailedPrecondition, "{more:?}");
    let miss = watch(taped(&nowhere, TapeMode::Replay), "boats")
        .await
        .unwrap_err();
    assert_eq!(miss.code(), tonic::Code::FailedPrecondition);
    assert!(
        miss.message()
            .contains("topic: recorded \"cars\", got \"boats\""),
        "{}",
        miss.message()
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 0);
}
