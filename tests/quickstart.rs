//! The README's quickstart is true: `hello-service` alone (no upstream) still
//! greets, in English, and its admin endpoints answer; with profile-service
//! running, `hello-client alice bob zoe` prints the greetings the README shows.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Example, Launch, binary, http_get, sample_sum, start_pair};

/// Runs `hello-client --addr <hello> <names…>`; returns exit success and stdout.
async fn hello_client(hello: &common::ServiceProcess, names: &[&str]) -> (bool, String, String) {
    let out = tokio::process::Command::new(binary("hello-client"))
        .arg("--addr")
        .arg(hello.grpc_url())
        .args(names)
        .output()
        .await
        .expect("run hello-client");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An address nothing listens on: a port the OS just handed out and took back.
fn dead_upstream() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_service_alone_degrades_to_english_and_its_admin_endpoints_answer() {
    let hello = Launch::new(Example::Hello)
        .set("PROFILES__ENDPOINTS", dead_upstream())
        .start();

    let (ok, stdout, stderr) = hello_client(&hello, &["alice", "bob", "zoe"]).await;
    assert!(ok, "hello-client failed: {stderr}\n{}", hello.dump());
    assert_eq!(stdout, "Hello, alice!\nHello, bob!\nHello, zoe!\n");

    let (status, metrics) = http_get(&hello.admin_url("/metrics")).await;
    assert_eq!(status, 200);
    let degraded = sample_sum(&metrics, "hello_degraded_total", &[("reason", "upstream")]);
    assert!(
        degraded >= Some(3.0),
        "every greeting degraded and was counted: {degraded:?}\n{metrics}"
    );
    // The upstream being down does not take hello-service out of rotation.
    assert_eq!(http_get(&hello.admin_url("/health/ready")).await.0, 200);
    let (status, config) = http_get(&hello.admin_url("/config")).await;
    assert_eq!(status, 200);
    assert!(config.contains("[profiles]"), "{config}");
    assert!(
        config.contains("env HELLO_SERVICE__PROFILES__ENDPOINTS"),
        "the layer behind each value: {config}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hello_client_prints_the_greetings_the_readme_shows() {
    let (_profiles, hello) = start_pair(|l| l);
    let (ok, stdout, stderr) = hello_client(&hello, &["alice", "bob", "zoe"]).await;
    assert!(ok, "hello-client failed: {stderr}\n{}", hello.dump());
    assert_eq!(stdout, "Hello, alice!\nBonjour, bob!\nHello, zoe!\n");

    let (ok, _, stderr) = hello_client(&hello, &[""]).await;
    assert!(!ok, "an empty name is refused");
    assert!(stderr.contains("InvalidArgument"), "{stderr}");
}

/// The README shows hello-service's `main.rs` and says "that is all of it":
/// the block must be the file (its module doc line aside), so it cannot drift.
#[test]
fn the_readme_shows_the_whole_main_rs_of_hello_service() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let section = readme
        .split("## A service in")
        .nth(1)
        .expect("the README's \"A service in …\" section");
    let block = section
        .split("```rust\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a rust code block in that section");
    let main = std::fs::read_to_string(root.join("examples/hello-service/src/main.rs")).unwrap();
    let code: String = main
        .lines()
        .skip_while(|line| line.starts_with("//!") || line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(
        block, code,
        "README.md's block differs from examples/hello-service/src/main.rs"
    );
    let lines = code.lines().count();
    let words = [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "thirteen",
        "fourteen",
        "fifteen",
        "sixteen",
        "seventeen",
        "eighteen",
        "nineteen",
        "twenty",
    ];
    let title = format!(
        "## A service in {} lines",
        words.get(lines).unwrap_or(&"many")
    );
    assert!(
        readme.contains(&title),
        "the README's title should read {title:?}"
    );
}
