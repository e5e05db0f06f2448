//! Property tests: whatever a client sends to the admin server — any method,
//! path, query, headers and body, or raw bytes — it gets a well-formed answer
//! that is not a `500` (or, for bytes that are not HTTP, a closed connection),
//! quickly, and the server keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TOKEN: &str = "admin-token-9c3f1a7e5b";
/// One exchange, on a loaded 2-core machine.
const BOUND: Duration = Duration::from_secs(10);

/// One runtime and one service for every case.
fn server() -> &'static (tokio::runtime::Runtime, SocketAddr) {
    static SERVER: OnceLock<(tokio::runtime::Runtime, SocketAddr)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let addr = runtime.block_on(async {
            let svc = common::builder("prop-test")
                // A short header deadline: bytes that never make a whole request
                // head are cut off well within BOUND.
                .admin(
                    common::any_port()
                        .with_token(TOKEN)
                        .with_connection_timeouts(
                            Duration::from_secs(5),
                            Duration::from_secs(2),
                            Duration::from_secs(2),
                        ),
                )
                .start()
                .await
                .unwrap();
            let addr = svc.admin_addr();
            // Lives as long as the test process.
            std::mem::forget(svc);
            addr
        });
        (runtime, addr)
    })
}

/// Sends `bytes` and reads the whole answer (the request asks to close).
fn exchange(bytes: Vec<u8>) -> Vec<u8> {
    let (runtime, addr) = server();
    runtime.block_on(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut answer = Vec::new();
        let exchanged = tokio::time::timeout(BOUND, async {
            // The server may answer and close before reading everything. No
            // half-close: hyper drops a connection whose read side ends.
            let _ = stream.write_all(&bytes).await;
            let _ = stream.read_to_end(&mut answer).await;
        })
        .await;
        assert!(
            exchanged.is_ok(),
            "no answer within {BOUND:?} to {:?}",
            String::from_utf8_lossy(&bytes)
        );
        answer
    })
}

/// The status of an HTTP/1.1 answer, if it is one.
fn status(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let code = line.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    code.parse().ok()
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("GET".to_owned()),
        Just("PUT".to_owned()),
        Just("POST".to_owned()),
        Just("DELETE".to_owned()),
        Just("HEAD".to_owned()),
        Just("OPTIONS".to_owned()),
        "[A-Z]{1,12}",
    ]
}

fn path() -> impl Strategy<Value = String> {
    let known = prop_oneof![
        Just("/health/live"),
        Just("/health/ready"),
        Just("/metrics"),
        Just("/info"),
        Just("/config"),
        Just("/loglevel"),
        Just(""),
    ];
    (
        known,
        "(/[A-Za-z0-9%._~-]{0,20}){0,3}",
        proptest::option::of("[A-Za-z0-9=&%+._-]{0,60}"),
    )
        .prop_map(|(known, suffix, query)| {
            let mut path = format!("{known}{suffix}");
            if path.is_empty() {
                path.push('/');
            }
            if let Some(query) = query {
                path.push('?');
                path.push_str(&query);
            }
            path
        })
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    let auth = prop_oneof![
        Just(format!("Bearer {TOKEN}")),
        Just("Bearer wrong".to_owned()),
        "[ -~]{0,40}",
    ];
    (
        proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,20}", "[ -~]{0,80}"), 0..8),
        proptest::option::of(auth),
    )
        .prop_map(|(mut headers, auth)| {
            headers.retain(|(name, _)| {
                !["content-length", "transfer-encoding", "connection", "host"]
                    .contains(&name.to_ascii_lowercase().as_str())
            });
            if let Some(auth) = auth {
                headers.push(("Authorization".to_owned(), auth));
            }
            headers
        })
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        "[ -~]{0,200}".prop_map(String::into_bytes),
        (0usize..40_000).prop_map(|n| vec![b'x'; n]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_request_gets_a_valid_answer_that_is_not_a_500(
        method in method(), path in path(), headers in headers(), body in body(),
    ) {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n");
        for (name, value) in &headers {
            request.push_str(&format!("{name}: {}\r\n", value.trim()));
        }
        request.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
        let mut bytes = request.into_bytes();
        bytes.extend_from_slice(&body);
        let answer = exchange(bytes);
        let status = status(&answer);
        prop_assert!(status.is_some(), "no HTTP answer: {:?}", String::from_utf8_lossy(&answer));
        let status = status.unwrap_or_default();
        prop_assert!((200..=599).contains(&status), "{status}");
        prop_assert_ne!(status, 500, "{}", String::from_utf8_lossy(&answer));
    }

    #[test]
    fn raw_bytes_get_an_answer_or_a_closed_connection(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let answer = exchange(bytes);
        if !answer.is_empty() {
            let status = status(&answer);
            prop_assert!(status.is_some_and(|s| (200..=599).contains(&s) && s != 500),
                "{:?}", String::from_utf8_lossy(&answer));
        }
    }

    #[test]
    fn request_heads_of_random_lines_get_an_answer_or_a_closed_connection(
        lines in proptest::collection::vec("[ -~]{0,120}", 0..12),
    ) {
        let mut bytes = lines.join("\r\n").into_bytes();
        bytes.extend_from_slice(b"\r\n\r\n");
        let answer = exchange(bytes);
        if !answer.is_empty() {
            prop_assert!(status(&answer).is_some_and(|s| s != 500), "{:?}", String::from_utf8_lossy(&answer));
        }
    }
}

#[test]
fn the_server_still_serves_after_the_properties() {
    let answer =
        exchange(b"GET /health/live HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n".to_vec());
    assert_eq!(
        status(&answer),
        Some(200),
        "{:?}",
        String::from_utf8_lossy(&answer)
    );
}
