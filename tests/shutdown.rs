//! SIGTERM under steady load: readiness turns 503 while gRPC still serves,
//! then the listener closes, no accepted call fails, and the process exits 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{http_get, say_hello, start_pair};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_without_failing_accepted_calls() {
    let (_profiles, mut hello) = start_pair(|l| {
        l.set("LIFECYCLE__DRAIN_DELAY", "2s")
            .set("TRACING__FILTER", "info,hello_service=debug")
    });
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));

    // Steady load: 4 callers, each on its own connection.
    let mut callers = Vec::new();
    for i in 0..4 {
        let mut client = hello.greeter().await;
        let stop = Arc::clone(&stop);
        callers.push(tokio::spawn(async move {
            let mut outcomes = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let result = say_hello(&mut client, if i % 2 == 0 { "alice" } else { "bob" }).await;
                outcomes.push((started.elapsed(), result));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            outcomes
        }));
    }

    // Watch readiness and the gRPC listener.
    let ready_url = hello.admin_url("/health/ready");
    let grpc = hello.grpc;
    let watcher = {
        tokio::spawn(async move {
            let (mut first_503, mut listener_closed) = (None, None);
            // Runs until both were seen (the process exiting closes the
            // listener too), so a fast exit cannot hide the closing.
            let give_up = Instant::now() + Duration::from_secs(60);
            while (first_503.is_none() || listener_closed.is_none()) && Instant::now() < give_up {
                if first_503.is_none()
                    && let Ok(response) = reqwest::get(&ready_url).await
                    && response.status().as_u16() == 503
                {
                    first_503 = Some(started.elapsed());
                }
                if listener_closed.is_none() && tokio::net::TcpStream::connect(grpc).await.is_err()
                {
                    listener_closed = Some(started.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            (first_503, listener_closed)
        })
    };

    assert_eq!(http_get(&hello.admin_url("/health/ready")).await.0, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sigterm_at = started.elapsed();
    hello.terminate();
    let status = tokio::task::spawn_blocking(move || {
        let status = hello.wait_exit(Duration::from_secs(30));
        (status, hello)
    })
    .await
    .unwrap();
    let (status, hello) = status;
    stop.store(true, Ordering::Relaxed);
    let (first_503, listener_closed) = watcher.await.unwrap();
    let mut outcomes = Vec::new();
    for caller in callers {
        outcomes.extend(caller.await.unwrap());
    }

    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "clean exit:\n{}",
        hello.dump()
    );
    let first_503 = first_503.expect("/health/ready never answered 503 during shutdown");
    let listener_closed = listener_closed.expect("the gRPC listener never closed");
    assert!(first_503 >= sigterm_at, "503 came before SIGTERM?");
    assert!(
        first_503 < listener_closed,
        "readiness must turn 503 ({first_503:?}) before the gRPC listener closes ({listener_closed:?})"
    );

    // Every call the handler served (it logs "greeted" at debug) was answered.
    let greeted = hello
        .json_logs()
        .iter()
        .filter(|l| l["message"] == "greeted")
        .count();
    let succeeded = outcomes.iter().filter(|(_, r)| r.is_ok()).count();
    assert_eq!(
        greeted,
        succeeded,
        "a call the server handled did not reach its caller:\n{}",
        hello.dump()
    );
    let served_while_draining = outcomes
        .iter()
        .filter(|(at, r)| *at > first_503 && *at < listener_closed && r.is_ok())
        .count();
    assert!(
        served_while_draining > 0,
        "calls are still served during the drain delay"
    );
    assert!(
        outcomes.iter().filter(|(_, r)| r.is_ok()).count() > 20,
        "steady load ran"
    );
    // Calls can only fail once the gRPC server closes: refused by the closed
    // listener (UNAVAILABLE), or sent on a connection the server was closing
    // with GOAWAY and never read (tonic reports those as CANCELLED "operation
    // was canceled" or INTERNAL "http2 error"; grpc-go and grpc-java retry them
    // transparently). None failed while the service was draining.
    for (at, result) in &outcomes {
        if let Err(status) = result {
            let refused = match status.code() {
                Code::Unavailable => true,
                Code::Cancelled | Code::Internal => {
                    status.message().contains("canceled")
                        || status.message().contains("http2 error")
                }
                _ => false,
            };
            assert!(
                refused,
                "call ending at {at:?} failed: {status:?}\n{}",
                hello.dump()
            );
            assert!(
                *at + Duration::from_millis(700) >= listener_closed,
                "call ending at {at:?} failed before the listener closed at {listener_closed:?}: {status:?}"
            );
        }
    }
}
