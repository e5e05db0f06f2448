//! A real Prometheus scrapes both services: the metric names, labels and
//! exposition format are what dashboards and alerts are built on. With
//! exemplar storage on, it scrapes OpenMetrics and keeps the trace ids the
//! RPC duration buckets carry.
//!
//! Needs `prometheus` and `promtool` on `PATH` (Debian package `prometheus`,
//! installed by `.ci/install-test-programs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

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

/// Runs an OpenMetrics scrape through Prometheus's own OpenMetrics parser.
///
/// `promtool check metrics` reads only the Prometheus text format (OpenMetrics
/// support is prometheus/prometheus#8932, still open), so this uses the other
/// promtool command that parses OpenMetrics strictly — exemplars, `# EOF`,
/// counter `_total` suffixes, TYPE/HELP placement: backfilling a TSDB block.
/// Backfill needs a timestamp on every sample, so one is added to each line,
/// before its exemplar; nothing else changes.
fn promtool_parse_openmetrics(scrape: &str) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stamped: String = scrape
        .lines()
        .map(|line| {
            if line.starts_with('#') {
                return format!("{line}\n");
            }
            match line.split_once(" # ") {
                Some((sample, exemplar)) => format!("{sample} {now} # {exemplar}\n"),
                None => format!("{line} {now}\n"),
            }
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("scrape.om");
    std::fs::write(&input, stamped).unwrap();
    let blocks = dir.path().join("blocks");
    let (input, blocks) = (input.to_str().unwrap(), blocks.to_str().unwrap());
    if let Err(report) = boost_test_promtool::run(
        &["tsdb", "create-blocks-from", "openmetrics", input, blocks],
        dir.path(),
    ) {
        panic!("promtool rejected the OpenMetrics scrape:\n{report}\n{scrape}");
    }
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
        if let Err(report) = boost_test_promtool::check_metrics(&exposition) {
            panic!(
                "promtool check metrics on {}:\n{report}",
                service.example.name()
            );
        }
    }
}

/// A free loopback address nothing listens on: OTLP export goes nowhere, but
/// traces are sampled (and logged with their ids) as with a real collector.
fn nowhere() -> String {
    format!("http://127.0.0.1:{}", free_port())
}

/// One SayHello in a new sampled trace (W3C `traceparent`, flags `01`);
/// returns its trace id.
async fn say_hello_in_sampled_trace(
    client: &mut boost_test_proto::greeter_client::GreeterClient<tonic::transport::Channel>,
) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let trace_id = format!("4bf92f3577b34da6{n:016x}");
    let mut request = tonic::Request::new(boost_test_proto::HelloRequest {
        name: format!("caller-{n}"),
    });
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-00f067aa0ba902b7-01")
            .parse()
            .unwrap(),
    );
    client.say_hello(request).await.unwrap();
    trace_id
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
    // Every call carries a sampled traceparent the test chose, so each
    // exemplar can be checked against the calls actually made.
    let mut client = hello.greeter().await;
    let mut sent = Vec::new();
    for _ in 0..3 {
        sent.push(say_hello_in_sampled_trace(&mut client).await);
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
    promtool_parse_openmetrics(&open);
    assert!(
        open.lines().any(
            |l| l.starts_with("rpc_server_call_duration_seconds_bucket{")
                && l.contains(" # {trace_id=\"")
        ),
        "{open}"
    );
    let (status, text) = http_get(&hello.admin_url("/metrics")).await;
    assert_eq!(status, 200);
    assert!(
        !text.contains("trace_id") && !text.contains("# EOF"),
        "{text}"
    );
    if let Err(report) = boost_test_promtool::check_metrics(&text) {
        panic!("promtool on the text scrape:\n{report}");
    }

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
        sent.push(say_hello_in_sampled_trace(&mut client).await);
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
    // Each is the trace id of one of the calls made.
    for exemplar in &exemplars {
        let trace_id = exemplar["labels"]["trace_id"].as_str().unwrap_or_default();
        assert!(is_trace_id(trace_id), "{exemplar}");
        assert!(
            sent.iter().any(|id| id == trace_id),
            "exemplar {trace_id} is not the trace of a call made: {sent:?}"
        );
        let value: f64 = exemplar["value"].as_str().unwrap().parse().unwrap();
        assert!(value > 0.0 && value < 10.0, "{exemplar}");
    }
    // Both targets are healthy: Prometheus parsed the OpenMetrics scrapes.
    // A target not scraped yet is "unknown": wait for its first scrape.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let targets: serde_json::Value = reqwest::get(format!("{}/api/v1/targets", prometheus.url))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let active = targets["data"]["activeTargets"].as_array().unwrap().clone();
        let scraped = active.len() == 2 && active.iter().all(|t| t["health"] != "unknown");
        if scraped {
            for target in &active {
                assert_eq!(target["health"], "up", "{target}");
                assert_eq!(target["lastError"], "", "{target}");
            }
            break;
        }
        assert!(
            Instant::now() < deadline,
            "targets not scraped after 60s: {targets}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
