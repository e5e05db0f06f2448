//! Panics, overload, handler errors and oversized requests: the server stays
//! up and answers with the right code, and never leaks internals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server_support;

use std::time::{Duration, Instant};

use boost_rpc::server::ServerSettings;
use server_support::{TestGreeter, client, hello, serve};
use tonic_types::StatusExt;

#[tokio::test]
async fn panicking_handler_answers_internal_without_the_panic_message() {
    let addr = serve(ServerSettings::default(), TestGreeter::default()).await;
    let mut client = client(addr).await;

    let status = client.say_hello(hello("panic")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal);
    assert_eq!(status.message(), "internal error");
    assert!(!format!("{status:?}").contains("hunter2"));

    // The connection and the server survive.
    let reply = client.say_hello(hello("ada")).await.unwrap();
    assert_eq!(reply.into_inner().message, "hello ada");
}

#[tokio::test]
async fn over_the_concurrency_limit_calls_are_refused_at_once() {
    let mut settings = ServerSettings::default();
    settings.concurrency_limit = 4;
    let addr = serve(settings, TestGreeter::default()).await;
    let client = client(addr).await;

    let calls = (0..64).map(|_| {
        let mut client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let result = client.say_hello(hello("slow:1500")).await;
            (result.map(|r| r.into_inner().message), started.elapsed())
        })
    });
    let results = futures::future::join_all(calls).await;

    let mut ok = 0;
    let mut refused = 0;
    for result in results {
        match result.unwrap() {
            (Ok(message), took) => {
                assert_eq!(message, "slept");
                assert!(took >= Duration::from_millis(1400));
                ok += 1;
            }
            (Err(status), took) => {
                assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
                assert!(took < Duration::from_millis(750), "refusal took {took:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(ok, 4, "exactly the limit is admitted");
    assert_eq!(refused, 60);
}

#[tokio::test]
async fn handler_error_carries_code_reason_and_error_info() {
    boost_rpc::set_error_domain("greeter.test");
    let addr = serve(ServerSettings::default(), TestGreeter::default()).await;
    let mut client = client(addr).await;

    let status = client.say_hello(hello("fail")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::NotFound);
    assert_eq!(status.message(), "nobody by that name");
    let info = status
        .get_details_error_info()
        .expect("google.rpc.ErrorInfo");
    assert_eq!(info.reason, "NOBODY");
    assert_eq!(info.domain, "greeter.test");
}

#[tokio::test]
async fn request_larger_than_the_limit_is_refused() {
    let mut settings = ServerSettings::default();
    settings.max_request_size = boost_config::ByteSize::b(1024);
    let addr = serve(settings, TestGreeter::default()).await;
    let mut client = client(addr).await;

    let status = client
        .say_hello(hello(&"x".repeat(4096)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    // Small requests still pass.
    assert!(client.say_hello(hello("ada")).await.is_ok());
}
