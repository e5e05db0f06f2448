//! Runtime switches end to end: the on-call operator turns hello-service's
//! `profiles_upstream` off over the admin server and greetings turn English
//! without calling profile-service; the override survives a restart,
//! reverts by itself, and every change is in a verifiable audit file. With
//! the `redis` backend three replicas follow one change within a second and
//! ride out Redis going away.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use boost_test_redis::RedisServer;
use common::{Example, Launch, ServiceProcess, http_get, sample_sum, say_hello};

const TOKEN: &str = "e2e-admin-token-4b8d2f";

async fn put_flag(hello: &ServiceProcess, body: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .put(hello.admin_url("/flags/profiles_upstream"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

async fn greeting(hello: &ServiceProcess) -> String {
    let mut client = hello.greeter().await;
    say_hello(&mut client, "bob").await.unwrap()
}

/// Polls until every replica greets `expected`; how long that took.
async fn until_all_greet(
    replicas: &[&ServiceProcess],
    expected: &str,
    within: Duration,
) -> Duration {
    let started = Instant::now();
    let mut clients = Vec::new();
    for hello in replicas {
        clients.push(hello.greeter().await);
    }
    loop {
        let mut all = true;
        for client in &mut clients {
            all &= say_hello(client, "bob").await.unwrap() == expected;
        }
        if all {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "replicas did not all greet {expected:?} within {within:?}\n{}",
            replicas
                .iter()
                .map(|r| r.dump())
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn verify(audit: &Path) -> (bool, String) {
    let out = std::process::Command::new(common::binary("hello-service"))
        .arg("--verify-audit")
        .arg(audit)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_switches_the_upstream_off_it_survives_a_restart_and_reverts() {
    let state = tempfile::tempdir().unwrap();
    let state_file = state.path().join("switches.json");
    let audit_file = state.path().join("audit.jsonl");
    let profiles = Launch::new(Example::Profile).start();
    let launch = Launch::new(Example::Hello)
        .upstream(profiles.grpc)
        .set("ADMIN__TOKEN", TOKEN)
        .set("SWITCHES__STATE_FILE", state_file.display().to_string())
        .set("AUDIT__FILE", audit_file.display().to_string());
    let mut hello = launch.start();
    assert_eq!(greeting(&hello).await, "Bonjour, bob!", "{}", hello.dump());

    let (status, body) = put_flag(
        &hello,
        r#"{"enabled": false, "reason": "profile-service down, INC-42", "actor": "jo"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        greeting(&hello).await,
        "Hello, bob!",
        "English, without the upstream"
    );
    let (_, metrics) = http_get(&hello.admin_url("/metrics")).await;
    assert_eq!(
        sample_sum(
            &metrics,
            "hello_degraded_total",
            &[("reason", "switched_off")]
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample_sum(
            &metrics,
            "feature_flag_state",
            &[("flag", "profiles_upstream")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample_sum(
            &metrics,
            "feature_flag_changes_total",
            &[("flag", "profiles_upstream"), ("outcome", "changed")]
        ),
        Some(1.0)
    );

    // A restart keeps the operator's override.
    hello.kill();
    let hello = launch.start();
    assert_eq!(greeting(&hello).await, "Hello, bob!", "{}", hello.dump());
    let (_, flags) = http_get(&hello.admin_url("/flags")).await;
    assert!(flags.contains("profile-service down, INC-42"), "{flags}");

    // revert_after brings it back by itself.
    let (status, body) = put_flag(
        &hello,
        r#"{"enabled": false, "reason": "still down", "actor": "jo", "revert_after": "2s"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let took = until_all_greet(&[&hello], "Bonjour, bob!", Duration::from_secs(20)).await;
    assert!(
        took >= Duration::from_millis(1500),
        "reverted after {took:?}, before its 2 s"
    );

    // Every change is in the audit file; the chain verifies; an edit is caught.
    let (intact, message) = verify(&audit_file);
    assert!(intact, "{message}");
    let text = std::fs::read_to_string(&audit_file).unwrap();
    assert!(!text.contains(TOKEN), "the token reached the audit file");
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.len() >= 3, "{text}");
    assert!(
        lines.iter().any(|l| l.contains("\"switch.revert\"")),
        "{text}"
    );
    let edited = text.replacen("still down", "all fine", 1);
    std::fs::write(&audit_file, edited).unwrap();
    let (intact, message) = verify(&audit_file);
    assert!(!intact, "{message}");
    assert!(
        message.contains("line 2"),
        "names the edited line: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs redis-server"]
async fn three_replicas_on_one_redis_follow_a_change_and_ride_out_redis_going_away() {
    let mut redis = RedisServer::start_persistent();
    let profiles = Launch::new(Example::Profile).start();
    let launch = Launch::new(Example::Hello)
        .upstream(profiles.grpc)
        .set("ADMIN__TOKEN", TOKEN)
        .set("SWITCHES__BACKEND", "redis")
        .set("SWITCHES__REDIS__URL", redis.url())
        .set("SWITCHES__REDIS__TIMEOUT", "300ms");
    let replicas: Vec<ServiceProcess> = (0..3).map(|_| launch.start()).collect();
    let all: Vec<&ServiceProcess> = replicas.iter().collect();
    until_all_greet(&all, "Bonjour, bob!", Duration::from_secs(20)).await;

    // One replica's change reaches every replica within a second.
    let (status, body) = put_flag(
        &replicas[0],
        r#"{"enabled": false, "reason": "partner down", "actor": "jo"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let took = until_all_greet(&all, "Hello, bob!", Duration::from_secs(10)).await;
    assert!(took < Duration::from_secs(1), "converged after {took:?}");

    // revert_after: all three come back by themselves.
    let (status, body) = put_flag(
        &replicas[1],
        r#"{"enabled": false, "reason": "short outage", "actor": "jo", "revert_after": "2s"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    until_all_greet(&all, "Bonjour, bob!", Duration::from_secs(20)).await;
    // The stream is written by a task of each replica: wait for the revert's
    // record, then check no second replica reverted too.
    let stream_len = || redis.integer(&[b"XLEN", b"hello-service:switches:audit"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while stream_len() != Some(3) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        stream_len(),
        Some(3),
        "two changes and exactly one revert, from all replicas"
    );

    // Switch off, then Redis goes away: the last state keeps serving, a
    // change is refused and changes nothing.
    put_flag(
        &replicas[2],
        r#"{"enabled": false, "reason": "down again", "actor": "jo"}"#,
    )
    .await;
    until_all_greet(&all, "Hello, bob!", Duration::from_secs(10)).await;
    redis.stop();
    let (status, body) = put_flag(
        &replicas[0],
        r#"{"enabled": true, "reason": "back", "actor": "jo"}"#,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("nothing changed"), "{body}");
    for replica in &replicas {
        let (ready, _) = http_get(&replica.admin_url("/health/ready")).await;
        assert_eq!(ready, 200, "readiness does not depend on the switch store");
        let (_, flags) = http_get(&replica.admin_url("/flags")).await;
        assert!(
            flags.contains("\"enabled\": false"),
            "nothing changed: {flags}"
        );
    }
    until_all_greet(&all, "Hello, bob!", Duration::from_secs(5)).await;

    // Redis back: a change converges everywhere again.
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, _) = put_flag(
            &replicas[0],
            r#"{"enabled": true, "reason": "back", "actor": "jo"}"#,
        )
        .await;
        if status == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Redis back, but changes still fail"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    until_all_greet(&all, "Bonjour, bob!", Duration::from_secs(10)).await;
}
