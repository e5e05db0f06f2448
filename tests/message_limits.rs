//! `grpc.server.max_request_size` / `max_response_size` reach the example
//! services' generated servers: a reply larger than the configured limit is
//! not sent (OUT_OF_RANGE), and the same reply under the default limit is.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Example, Launch, say_hello, start_pair};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_over_max_response_size_is_refused_not_sent() {
    // "Bonjour, bob!" encodes to 15 bytes: over a 10-byte limit.
    let (_profiles, hello) = start_pair(|l| l.set("GRPC__SERVER__MAX_RESPONSE_SIZE", "10"));
    let mut client = hello.greeter().await;
    let status = say_hello(&mut client, "bob").await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::OutOfRange, "{status:?}");

    // profile-service applies its own limit the same way: its `Profile`
    // reply is refused, and hello-service degrades to English.
    let profiles = Launch::new(Example::Profile)
        .set("GRPC__SERVER__MAX_RESPONSE_SIZE", "4")
        .start();
    let hello = Launch::new(Example::Hello).upstream(profiles.grpc).start();
    let mut client = hello.greeter().await;
    assert_eq!(
        say_hello(&mut client, "bob").await.unwrap(),
        "Hello, bob!",
        "{}",
        hello.dump()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_limits_let_ordinary_calls_through() {
    let (_profiles, hello) = start_pair(|l| l);
    let mut client = hello.greeter().await;
    assert_eq!(
        say_hello(&mut client, "bob").await.unwrap(),
        "Bonjour, bob!"
    );
}
