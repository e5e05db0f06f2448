//! hello-service against recorded profile-service sessions: no
//! profile-service runs; its answers come from `tests/tapes/` (see
//! docs/replay.md).
//!
//! Refresh the session tape against the real profile-service (started here,
//! in-process, on a free port) with:
//!
//! ```sh
//! HELLO_SERVICE__PROFILES__TAPE__MODE=record cargo test -p hello-service --test tapes
//! ```
//!
//! and review the diff of `tests/tapes/greeter_session.json` like code: a
//! re-recording of an unchanged scenario changes no byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use boost::config::Loader;
use boost::prelude::*;
use boost::rpc::client::TapeMode;
use boost::service::Config;
use boost::{metrics, tokio};
use hello_service::greeter::{Degraded, Greeter, profiles_client};
use hello_service::settings::Settings;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

fn tape(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/tapes")
        .join(name)
}

/// hello-service's settings as the service loads them (config files and
/// `HELLO_SERVICE__…` variables), with `[profiles.tape]` at `mode` on the
/// tape `name` unless the environment says otherwise.
fn settings(mode: &str, name: &str) -> Settings {
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("HELLO_SERVICE__PROFILES__TAPE__"))
        .collect();
    for (key, value) in [
        ("HELLO_SERVICE__PROFILES__TAPE__MODE", mode.to_owned()),
        (
            "HELLO_SERVICE__PROFILES__TAPE__PATH",
            tape(name).display().to_string(),
        ),
    ] {
        if !vars.iter().any(|(k, _)| k == key) {
            vars.push((key.to_owned(), value));
        }
    }
    let loaded = Loader::new("hello-service")
        .dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("config"))
        .environment("test")
        .env_vars(vars)
        .load::<Config<Settings>>()
        .unwrap();
    loaded.own.clone()
}

/// The real profile-service (its default table) on a free port.
async fn profile_service() -> String {
    let settings = profile_service::settings::Settings::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = profile_service::profiles::Profiles::new(&settings.profiles).into_service();
    tokio::spawn(
        boost::tonic::transport::Server::builder()
            .add_service(service)
            .serve_with_incoming(boost::tonic::transport::server::TcpIncoming::from(listener)),
    );
    format!("http://{addr}")
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

/// A greeter over `settings.profiles`, its metrics in a local recorder:
/// recording from a real profile-service when the tape's mode says so,
/// else with `profiles.endpoints` on a port that counts connections.
async fn greeter(mut settings: Settings) -> (Greeter, Snapshotter, Arc<AtomicUsize>) {
    let (endpoint, connections) = counting_port().await;
    settings.profiles.endpoints = vec![endpoint];
    if settings.profiles.tape.mode.uses_network() {
        settings.profiles.endpoints = vec![profile_service().await];
        // Not a deadline test: the first call connects, on a loaded machine.
        settings.profiles.timeout = Duration::from_secs(10);
    }
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let greeter = metrics::with_local_recorder(&recorder, || {
        Greeter::from_parts(
            profiles_client(&settings.profiles).unwrap(),
            Cache::new(settings.profile_cache.clone()).unwrap(),
            Duration::from_millis(20),
        )
    });
    (greeter, snapshotter, connections)
}

fn degraded(snapshotter: &Snapshotter, reason: &str) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, _, _, _)| {
            key.key().name() == "hello_degraded_total"
                && key.key().labels().any(|l| l.value() == reason)
        })
        .map(|(_, _, _, value)| match value {
            DebugValue::Counter(n) => n,
            _ => 0,
        })
        .sum()
}

#[tokio::test(crate = "boost::tokio")]
async fn greets_from_a_recorded_profile_service_session() {
    let settings = settings("replay", "greeter_session.json");
    let replaying = settings.profiles.tape.mode == TapeMode::Replay;
    let (greeter, snapshotter, connections) = greeter(settings).await;
    let greetings = [
        ("bob", "Bonjour, bob!"),
        ("carmen", "Hola, carmen!"),
        ("zoe", "Hello, zoe!"),
        ("bob", "Bonjour, bob!"),
    ];
    for (name, expected) in greetings {
        let greeting = greeter.greeting_for(name).await;
        assert_eq!(greeting.message, expected, "{name}");
        assert_eq!(greeting.degraded, None, "{name}");
    }
    assert_eq!(degraded(&snapshotter, "upstream"), 0);
    if replaying {
        assert_eq!(
            connections.load(Ordering::SeqCst),
            0,
            "every answer was the tape's"
        );
    }
}

#[tokio::test(crate = "boost::tokio")]
async fn an_outage_on_tape_degrades_to_english_and_is_counted() {
    // Hand-written (see the file): bob's lookup answered UNAVAILABLE, and a
    // fault injected over alice's recorded answer. Always replayed.
    let mut settings = settings("replay", "profile_service_down.json");
    settings.profiles.tape.mode = TapeMode::Replay;
    let (greeter, snapshotter, connections) = greeter(settings).await;
    for name in ["bob", "alice"] {
        let greeting = greeter.greeting_for(name).await;
        assert_eq!(greeting.message, format!("Hello, {name}!"));
        assert_eq!(greeting.degraded, Some(Degraded::Upstream), "{name}");
    }
    assert_eq!(degraded(&snapshotter, "upstream"), 2);
    assert_eq!(connections.load(Ordering::SeqCst), 0);
}

#[tokio::test(crate = "boost::tokio")]
async fn a_call_the_tape_has_not_seen_degrades_and_says_which_entry_is_closest() {
    // The hand-written tape, never re-recorded (bob and alice).
    let mut settings = settings("replay", "profile_service_down.json");
    settings.profiles.tape.mode = TapeMode::Replay;
    let client = profiles_client(&settings.profiles).unwrap();
    let mut profiles = hello_service::proto::profiles_client::ProfilesClient::new(client);
    let status = profiles
        .get_profile(hello_service::proto::GetProfileRequest {
            name: "bobby".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), boost::tonic::Code::FailedPrecondition);
    assert!(
        status
            .message()
            .contains(r#"name: recorded "bob", got "bobby""#),
        "{}",
        status.message()
    );
}
