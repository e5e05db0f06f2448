//! A real Prometheus scrapes both services: the metric names, labels and
//! exposition format are what dashboards and alerts are built on. With
//! exemplar storage on, it scrapes OpenMetrics and keeps the trace ids the
//! RPC duration buckets carry.
//!
//! Needs `prometheus` and `promtool` on `PATH` (Debian package `prometheus`,
//! installed by `.ci/install-test-programs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{http_get, say_hello, start_pair};

/// A Prometheus server, killed when dropped.
struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_prometheus(targets: &[(&str, std::net::SocketAddr)]) -> Prometheus {
    start_prometheus_with(targets, &[]).await
}

async fn start_prometheus_with(
    targets: &[(&str, std::net::SocketAddr)],
    flags: &[&str],
) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    let mut config =
        String::from("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n");
    for (job, admin) in targets {
        config.push_str(&format!(
            "  - job_name: {job}\n    static_configs:\n      - targets: ['{admin}']\n"
        ));
    }
    let config_file = dir.path().join("prometheus.yml");
    std::fs::write(&config_file, config).unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config_file.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!(
            "--web.listen-address={}",
            url.trim_start_matches("http://")
        ))
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus not found: apt-get install prometheus (see .ci/install-test-programs)");
    let prometheus = Prometheus {
        child,
        url,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(response) = reqwest::get(format!("{}/-/ready", prometheus.url)).await
            && response.status().is_success()
        {
            return prometheus;
        }
        assert!(Instant::now() < deadline, "prometheus not ready after 60s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The series Prometheus returns for `query`, polling until there is at least one.
async fn query_until_found(prometheus: &Prometheus, query: &str) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let url = format!("{}/api/v1/query", prometheus.url);
        let response = reqwest::Client::new()
            .get(&url)
            .query(&[("query", query)])
            .send()
            .await
            .unwrap();
        let body: serde_json::Value = response.json().await.unwrap();
        let series = body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !series.is_empty() {
            return series;
        }
        assert!(
            Instant::now() < deadline,
            "no series for {query} after 60s: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn promtool_check(exposition: &str) -> (bool, String) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool not found: apt-get install prometheus");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(exposition.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus"]
async fn prometheus_scrapes_rpc_metrics_and_service_info_from_both_services() {
    let (profiles, hello) = start_pair(|l| l.set("SERVICE__TEAM", "e2e-greeters"));
    let prometheus =
        start_prometheus(&[("hello", hello.admin), ("profiles", profiles.admin)]).await;

    let mut client = hello.greeter().await;
    for name in ["alice", "bob", "zoe", "bob"] {
        say_hello(&mut client, name).await.unwrap();
    }
    for name in ["alice", "bob"] {
        let (status, _) = http_get(&hello.http_url(&format!("/v1/hello/{name}"))).await;
        assert_eq!(status, 200);
    }
    let (status, _) = http_get(&hello.http_url("/no/such/route/42")).await;
    assert_eq!(status, 404);

    let servers = query_until_found(&prometheus, "rpc_server_call_duration_seconds_count").await;
    let jobs: Vec<&str> = servers
        .iter()
        .filter_map(|s| s["metric"]["job"].as_str())
        .collect();
    for job in ["hello", "profiles"] {
        if !jobs.contains(&job) {
            // The other job may be one scrape behind.
            query_until_found(
                &prometheus,
                &format!("rpc_server_call_duration_seconds_count{{job=\"{job}\"}}"),
            )
            .await;
        }
    }
    let hello_server = query_until_found(
        &prometheus,
        r#"rpc_server_call_duration_seconds_count{job="hello",rpc_method="hello.v1.Greeter/SayHello",rpc_status_code="OK"}"#,
    )
    .await;
    assert_eq!(hello_server[0]["metric"]["rpc_system_name"], "grpc");
    query_until_found(
        &prometheus,
        r#"rpc_server_call_duration_seconds_count{job="profiles",rpc_method="hello.v1.Profiles/GetProfile"}"#,
    )
    .await;
    let client_calls = query_until_found(
        &prometheus,
        r#"rpc_client_call_duration_seconds_count{client="profiles",rpc_method="hello.v1.Profiles/GetProfile"}"#,
    )
    .await;
    let codes: Vec<&str> = client_calls
        .iter()
        .filter_map(|s| s["metric"]["rpc_status_code"].as_str())
        .collect();
    assert!(codes.contains(&"OK"), "{codes:?}");
    let http_requests = query_until_found(
        &prometheus,
        r#"http_server_request_duration_seconds_count{job="hello",http_request_method="GET",http_route="/v1/hello/{name}",http_response_status_code="200"}"#,
    )
    .await;
    assert_eq!(http_requests[0]["value"][1], "2", "{http_requests:?}");
    let unmatched = query_until_found(
        &prometheus,
        r#"http_server_request_duration_seconds_count{job="hello",http_route="unmatched"}"#,
    )
    .await;
    assert_eq!(unmatched[0]["metric"]["http_response_status_code"], "404");
    let info = query_until_found(
        &prometheus,
        r#"service_info{service_name="hello-service",team="e2e-greeters"}"#,
    )
    .await;
    assert_eq!(info[0]["value"][1], "1");
    query_until_found(
        &prometheus,
        r#"service_info{service_name="profile-service"}"#,
    )
    .await;

    for service in [&hello, &profiles] {
        let (status, exposition) = http_get(&service.admin_url("/metrics")).await;
        assert_eq!(status, 200);
        if service.example.name() == "hello-service" {
            assert!(
                exposition.contains("# HELP http_server_request_duration_seconds ")
                    && exposition.contains("http_server_request_duration_seconds_bucket{"),
                "{exposition}"
            );
            assert!(
                !exposition.contains("/no/such/route"),
                "raw paths never label"
            );
        }
        let (ok, report) = promtool_check(&exposition);
        assert!(
            ok && report.trim().is_empty(),
            "promtool check metrics on {}:\n{report}",
            service.example.name()
        );
    }
}

/// A free loopback address nothing listens on: OTLP export goes nowhere, but
/// traces are sampled (and logged with their ids) as with a real collector.
fn nowhere() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

fn is_trace_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id != "0".repeat(32)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs prometheus"]
async fn prometheus_with_exemplar_storage_keeps_the_trace_ids_of_rpc_durations() {
    let profiles = common::Launch::new(common::Example::Profile)
        .set("TRACING__OTLP__ENABLED", "true")
        .set("TRACING__OTLP__ENDPOINT", nowhere())
        .start();
    let hello = common::Launch::new(common::Example::Hello)
        .upstream(profiles.grpc)
        .set("TRACING__OTLP__ENABLED", "true")
        .set("TRACING__OTLP__ENDPOINT", nowhere())
        .start();

    // The body Prometheus gets: OpenMetrics with exemplars, which promtool
    // and Prometheus's own parser accept; plain text without them otherwise.
    let mut client = hello.greeter().await;
    for name in ["alice", "bob", "zoe"] {
        say_hello(&mut client, name).await.unwrap();
    }
    let response = reqwest::Client::new()
        .get(hello.admin_url("/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let open = response.text().await.unwrap();
    assert!(open.ends_with("# EOF\n"), "{open}");
    assert!(
        open.lines().any(|l| l.starts_with("rpc_server_call_duration_seconds_bucket{")
            && l.contains(" # {trace_id=\"")),
        "{open}"
    );
    let (status, text) = http_get(&hello.admin_url("/metrics")).await;
    assert_eq!(status, 200);
    assert!(!text.contains("trace_id") && !text.contains("# EOF"), "{text}");
    let (ok, report) = promtool_check(&text);
    assert!(ok && report.trim().is_empty(), "promtool on the text scrape:\n{report}");

    let prometheus = start_prometheus_with(
        &[("hello", hello.admin), ("profiles", profiles.admin)],
        &["--enable-feature=exemplar-storage"],
    )
    .await;
    // Calls after Prometheus is up, so a scrape after each finds a fresh exemplar.
    let start = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        - 60.0;
    let deadline = Instant::now() + Duration::from_secs(90);
    let exemplars = loop {
        say_hello(&mut client, "exemplar").await.unwrap();
        let end = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
            + 60.0;
        let body: serde_json::Value = reqwest::Client::new()
            .get(format!("{}/api/v1/query_exemplars", prometheus.url))
            .query(&[
                (
                    "query",
                    r#"rpc_server_call_duration_seconds_bucket{job="hello",rpc_method="hello.v1.Greeter/SayHello"}"#.to_owned(),
                ),
                ("start", start.to_string()),
                ("end", end.to_string()),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let found: Vec<serde_json::Value> = body["data"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
            .collect();
        if !found.is_empty() {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "no exemplars after 90s: {body}\n{}",
            hello.dump()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    // Each is the trace id of a call hello-service logged.
    let logged: Vec<String> = hello
        .json_logs()
        .iter()
        .filter_map(|line| line["trace_id"].as_str().map(str::to_owned))
        .collect();
    for exemplar in &exemplars {
        let trace_id = exemplar["labels"]["trace_id"].as_str().unwrap_or_default();
        assert!(is_trace_id(trace_id), "{exemplar}");
        assert!(
            logged.iter().any(|id| id == trace_id),
            "exemplar {trace_id} is not a trace hello-service logged: {logged:?}"
        );
        let value: f64 = exemplar["value"].as_str().unwrap().parse().unwrap();
        assert!(value > 0.0 && value < 10.0, "{exemplar}");
    }
    // Both targets are healthy: Prometheus parsed the OpenMetrics scrapes.
    let targets: serde_json::Value = reqwest::get(format!("{}/api/v1/targets", prometheus.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for target in targets["data"]["activeTargets"].as_array().unwrap() {
        assert_eq!(target["health"], "up", "{target}");
        assert_eq!(target["lastError"], "", "{target}");
    }
}
