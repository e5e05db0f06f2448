//! A real HTTP client, curl, against the real hello-service's HTTP routes:
//! the JSON reply, problem+json errors, the body limit, shedding under
//! overload, and the caller's trace id in the service's JSON logs.
//!
//! Needs `curl` (`.ci/install-test-programs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{Example, Launch, start_pair};

/// Runs curl with `args` plus `-s -S -i` (status line and headers first).
fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["-s", "-S", "-i", "--max-time", "30"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run curl: {e}; install curl"))
}

/// Status, lower-cased headers and body of a `curl -i` answer.
fn parse(output: &Output) -> (u16, Vec<(String, String)>, String) {
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, body.to_owned())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// An address where nothing listens: the upstream is down.
fn dead_address() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

#[test]
#[ignore = "needs curl"]
fn curl_gets_json_and_problem_json_errors() {
    let (_profiles, hello) = start_pair(|l| l.set("HTTP__MAX_REQUEST_BODY", "1KiB"));
    let url = hello.http_url("/v1/hello/bob");

    let (status, headers, body) = parse(&curl(&[&url]));
    assert_eq!(status, 200, "{body}\n{}", hello.dump());
    assert_eq!(header(&headers, "content-type"), Some("application/json"));
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json, serde_json::json!({ "message": "Bonjour, bob!" }));
    assert_eq!(header(&headers, "x-request-id").map(str::len), Some(32));

    // A blank name is the caller's mistake: 400, RFC 9457 body.
    let bad = hello.http_url("/v1/hello/%20");
    let (status, headers, body) = parse(&curl(&["-H", "x-request-id: curl-1", &bad]));
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/problem+json")
    );
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["title"], "Bad Request");
    assert_eq!(problem["type"], "about:blank");
    assert_eq!(problem["request_id"], "curl-1");
    assert!(
        problem["detail"].as_str().unwrap().contains("name"),
        "{problem}"
    );

    // A body over http.max_request_body: 413, problem+json.
    let big = "x".repeat(4096);
    let (status, headers, body) = parse(&curl(&["-X", "GET", "--data-binary", &big, &url]));
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/problem+json")
    );

    // No such route: 404, problem+json; the metric says `unmatched`.
    let (status, _, _) = parse(&curl(&[&hello.http_url("/v1/nothing/here")]));
    assert_eq!(status, 404);
}

#[test]
#[ignore = "needs curl"]
fn curl_is_shed_with_503_and_retry_after_under_overload() {
    // A blackhole upstream: connects, never answers, so each greeting holds
    // its slot until profiles.timeout.
    let blackhole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let hello = Launch::new(Example::Hello)
        .upstream(blackhole.local_addr().unwrap())
        .set("PROFILES__TIMEOUT", "5s")
        .set("PROFILES__CONNECT_TIMEOUT", "5s")
        .set("HTTP__CONCURRENCY_LIMIT", "1")
        .start();
    // Four callers at once: whichever is admitted first holds the only slot
    // for seconds, so the others are shed.
    let callers: Vec<_> = ["ada", "bob", "carl", "dora"]
        .iter()
        .map(|name| {
            Command::new("curl")
                .args(["-s", "-S", "-i", "--max-time", "30"])
                .arg(hello.http_url(&format!("/v1/hello/{name}")))
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let answers: Vec<_> = callers
        .into_iter()
        .map(|caller| parse(&caller.wait_with_output().unwrap()))
        .collect();
    let statuses: Vec<u16> = answers.iter().map(|a| a.0).collect();
    assert!(
        statuses.contains(&200) && statuses.iter().all(|&s| s == 200 || s == 503),
        "one caller served (degraded: the upstream never answers), the rest shed: {statuses:?}\n{}",
        hello.dump()
    );
    let shed = answers
        .into_iter()
        .find(|a| a.0 == 503)
        .unwrap_or_else(|| panic!("nobody was shed: {statuses:?}"));
    let (_, headers, body) = shed;
    assert_eq!(header(&headers, "retry-after"), Some("1"));
    assert_eq!(
        header(&headers, "content-type"),
        Some("application/problem+json")
    );
    let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(problem["status"], 503);
}

#[test]
#[ignore = "needs curl"]
fn the_callers_traceparent_is_the_trace_id_of_the_services_logs() {
    // profile-service is down: the greeting degrades and hello-service logs a
    // warning inside the request's span.
    let hello = Launch::new(Example::Hello).upstream(dead_address()).start();
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("traceparent: 00-{trace_id}-00f067aa0ba902b7-01");
    let (status, _, body) = parse(&curl(&[
        "-H",
        &traceparent,
        &hello.http_url("/v1/hello/zoe"),
    ]));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Hello, zoe!"), "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines: Vec<_> = hello
            .json_logs()
            .into_iter()
            .filter(|line| line["trace_id"].as_str() == Some(trace_id))
            .collect();
        if !lines.is_empty() {
            assert!(
                lines
                    .iter()
                    .all(|l| l["span_id"].as_str().map(str::len) == Some(16)),
                "{lines:?}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with trace_id {trace_id}\n{}",
            hello.dump()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
