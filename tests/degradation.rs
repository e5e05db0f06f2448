//! When profile-service is down, hello-service still answers — in English,
//! within its configured timeout — counts `hello_degraded_total`, and greets
//! in the caller's language again once profile-service is back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Example, Launch, http_get, sample_sum, say_hello, start_pair};

async fn degraded_total(hello: &common::ServiceProcess) -> f64 {
    let (_, metrics) = http_get(&hello.admin_url("/metrics")).await;
    sample_sum(&metrics, "hello_degraded_total", &[]).unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_down_degrades_to_english_then_recovers() {
    let (mut profiles, hello) = start_pair(|l| l.set("PROFILES__TIMEOUT", "300ms"));
    let mut client = hello.greeter().await;

    assert_eq!(
        say_hello(&mut client, "bob").await.unwrap(),
        "Bonjour, bob!",
        "{}",
        hello.dump()
    );
    assert_eq!(degraded_total(&hello).await, 0.0);

    // profile-service goes away.
    let upstream = profiles.grpc;
    profiles.kill();
    for name in ["carmen", "dieter", "giulia"] {
        let started = Instant::now();
        let reply = say_hello(&mut client, name).await;
        let took = started.elapsed();
        assert_eq!(
            reply.unwrap(),
            format!("Hello, {name}!"),
            "{}",
            hello.dump()
        );
        // The client gives up after profiles.timeout (300ms, retries included);
        // allow wide scheduling slack on a loaded machine.
        assert!(
            took < Duration::from_secs(2),
            "answered in {took:?}, well over the 300ms timeout"
        );
    }
    assert!(degraded_total(&hello).await >= 3.0, "{}", hello.dump());
    // A cached profile keeps its language while the upstream is down.
    assert_eq!(
        say_hello(&mut client, "bob").await.unwrap(),
        "Bonjour, bob!"
    );
    let warned = hello
        .json_logs()
        .iter()
        .any(|l| l["level"] == "WARN" && l["message"].as_str().unwrap_or("").contains("English"));
    assert!(
        warned,
        "a degraded answer logs a warning:\n{}",
        hello.dump()
    );

    // profile-service comes back on the same address.
    let _profiles = Launch::new(Example::Profile)
        .set("GRPC__LISTEN", upstream.to_string())
        .start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Failures were not cached: carmen's language is asked for again.
        let reply = say_hello(&mut client, "carmen").await.unwrap();
        if reply == "Hola, carmen!" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still degraded 30s after profile-service came back:\n{}",
            hello.dump()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        say_hello(&mut client, "dieter").await.unwrap(),
        "Hallo, dieter!"
    );
}
