//! The whole record/replay loop in one run, with nothing written by hand: a
//! session recorded against the real profile-service (in-process), which
//! then goes down mid-session, and the tape replayed with profile-service
//! stopped — the same greetings, the same degradation, the same client
//! metric labels, and not one connection attempted.
//!
//! Its own test binary: it installs a global metrics recorder to read the
//! client's `rpc_client_call_duration_seconds` back, which the other tests'
//! calls must not add to.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use boost::config::Loader;
use boost::prelude::*;
use boost::rpc::client::TapeMode;
use boost::service::Config;
use boost::tokio;
use hello_service::greeter::{Degraded, Greeter, profiles_client};
use hello_service::settings::Settings;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

/// The names greeted, in order; profile-service stops before the last two.
const UP: [&str; 4] = ["bob", "carmen", "zoe", "bob"];
const DOWN: [&str; 2] = ["alice", "bob"];

/// hello-service's shipped config (no environment: a refresh command in the
/// shell must not change this test), `[profiles.tape]` at `mode` on `tape`.
fn settings(mode: TapeMode, tape: &Path, endpoint: String) -> Settings {
    let loaded = Loader::new("hello-service")
        .dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("config"))
        .environment("test")
        .env_vars(Vec::<(String, String)>::new())
        .load::<Config<Settings>>()
        .unwrap();
    let mut settings = loaded.own.clone();
    settings.profiles.tape.mode = mode;
    settings.profiles.tape.path = Some(tape.to_owned());
    settings.profiles.endpoints = vec![endpoint];
    // Not a deadline test: the first call connects, on a loaded machine.
    settings.profiles.timeout = Duration::from_secs(10);
    settings
}

fn greeter(settings: &Settings) -> Greeter {
    Greeter::from_parts(
        profiles_client(&settings.profiles).unwrap(),
        Cache::new(settings.profile_cache.clone()).unwrap(),
        Duration::from_millis(20),
    )
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

/// Since the last look (a snapshot drains what it reads): per label set of
/// the profiles client's `rpc_client_call_duration_seconds`, how many calls
/// were observed, and how many greetings `hello_degraded_total{reason="upstream"}`
/// counted.
fn observed() -> (BTreeMap<Vec<(String, String)>, usize>, u64) {
    let mut calls = BTreeMap::new();
    let mut degraded = 0;
    for (key, _, _, value) in metrics().snapshot().into_vec() {
        let key = key.key();
        match (key.name(), value) {
            ("rpc_client_call_duration_seconds", DebugValue::Histogram(values))
                if key
                    .labels()
                    .any(|l| l.key() == "client" && l.value() == "profiles")
                    && !values.is_empty() =>
            {
                let labels = key
                    .labels()
                    .map(|l| (l.key().to_owned(), l.value().to_owned()))
                    .collect();
                calls.insert(labels, values.len());
            }
            ("hello_degraded_total", DebugValue::Counter(n))
                if key.labels().any(|l| l.value() == "upstream") =>
            {
                degraded += n;
            }
            _ => {}
        }
    }
    (calls, degraded)
}

/// The real profile-service (its default table) on a free port, until the
/// sender is used.
async fn profile_service() -> (
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let settings = profile_service::settings::Settings::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = profile_service::profiles::Profiles::new(&settings.profiles).into_service();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        boost::tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming_shutdown(
                boost::tonic::transport::server::TcpIncoming::from(listener),
                async {
                    let _ = stopped.await;
                },
            )
            .await
            .unwrap();
    });
    (format!("http://{addr}"), stop, server)
}

/// A port that counts the connections made to it.
async fn counting_port() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
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

async fn greet(greeter: &Greeter, names: &[&str]) -> Vec<(String, Option<Degraded>)> {
    let mut greetings = Vec::new();
    for name in names {
        let greeting = greeter.greeting_for(name).await;
        greetings.push((greeting.message, greeting.degraded));
    }
    greetings
}

#[tokio::test(crate = "boost::tokio")]
async fn a_session_recorded_against_profile_service_replays_with_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let tape = dir.path().join("session.json");
    let _ = observed();

    // Record: profile-service answers, then goes down mid-session.
    let (url, stop, server) = profile_service().await;
    let recording = greeter(&settings(TapeMode::Record, &tape, url));
    let mut live = greet(&recording, &UP).await;
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("profile-service stops")
        .unwrap();
    live.extend(greet(&recording, &DOWN).await);
    drop(recording);
    let (recorded_calls, recorded_degraded) = observed();

    assert_eq!(live[0], ("Bonjour, bob!".to_owned(), None));
    assert_eq!(live[1], ("Hola, carmen!".to_owned(), None));
    assert_eq!(
        live[2],
        ("Hello, zoe!".to_owned(), None),
        "zoe has no profile"
    );
    assert_eq!(
        live[4],
        ("Hello, alice!".to_owned(), Some(Degraded::Upstream)),
        "profile-service down: English, degraded"
    );
    assert!(recorded_degraded >= 1, "{recorded_degraded}");
    let text = std::fs::read_to_string(&tape).unwrap();
    assert!(
        text.contains("\"UNAVAILABLE\""),
        "the outage is on tape:\n{text}"
    );

    // Replay: profile-service is gone; the endpoint only counts connections.
    let (nowhere, connections) = counting_port().await;
    let replaying = greeter(&settings(TapeMode::Replay, &tape, nowhere));
    let mut replayed = greet(&replaying, &UP).await;
    replayed.extend(greet(&replaying, &DOWN).await);
    let (replayed_calls, replayed_degraded) = observed();

    assert_eq!(replayed, live, "the same greetings, degradation included");
    assert_eq!(
        replayed_degraded, recorded_degraded,
        "the outage degrades as often as it did live"
    );
    assert_eq!(
        replayed_calls, recorded_calls,
        "the same calls under the same client metric labels"
    );
    assert!(
        recorded_calls.keys().any(|labels| labels
            .iter()
            .any(|(k, v)| k == "rpc_status_code" && (v == "UNAVAILABLE" || v == "14"))),
        "the outage has its own status label: {recorded_calls:?}"
    );
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "no connection attempted"
    );
}
