//! A real Prometheus scrapes both services: the metric names, labels and
//! exposition format are what dashboards and alerts are built on.
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
