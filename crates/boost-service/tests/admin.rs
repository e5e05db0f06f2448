//! The admin endpoints over real HTTP: `/health/*`, `/info`, `/config`, `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use boost_metrics::{MetricsHandle, MetricsSettings};
use boost_service::{Error, LifecycleSettings, ReadinessCheck};
use common::{builder, get, identity};
use serde_json::Value;

#[tokio::test]
async fn live_answers_200_without_running_checks() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let svc = builder("live-demo")
        .readiness_check("db", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Err::<(), _>("db down") }
        })
        .start()
        .await
        .unwrap();
    let response = get(svc.admin_addr(), "/health/live").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "alive");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "liveness must not run readiness checks"
    );
}

#[tokio::test]
async fn ready_lists_every_check_and_is_503_when_one_fails() {
    let svc = builder("ready-demo")
        .readiness_check("db", || async { Ok::<_, std::io::Error>(()) })
        .readiness_check("cache", || async { Err::<(), _>("connection refused") })
        .start()
        .await
        .unwrap();
    let response = get(svc.admin_addr(), "/health/ready").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "not_ready");
    let checks = body["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    assert_eq!(checks[0]["name"], "db");
    assert_eq!(checks[0]["status"], "ok");
    assert!(checks[0]["error"].is_null());
    assert!(checks[0]["duration_ms"].is_number());
    assert_eq!(checks[1]["name"], "cache");
    assert_eq!(checks[1]["status"], "failed");
    assert_eq!(checks[1]["error"], "connection refused");
}

#[tokio::test]
async fn ready_is_200_when_every_check_passes() {
    let svc = builder("ready-ok")
        .readiness_check("db", || async { Ok::<_, std::io::Error>(()) })
        .start()
        .await
        .unwrap();
    let response = get(svc.admin_addr(), "/health/ready").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert!(svc.lifecycle().check_readiness().await.is_ready());
}

/// A readiness check that never answers, given up after `timeout`.
fn hanging_check(timeout: Duration) -> ReadinessCheck {
    ReadinessCheck::new("upstream", || async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        Ok::<_, std::io::Error>(())
    })
    .timeout(timeout)
}

#[tokio::test]
async fn an_admin_request_past_the_request_timeout_is_answered_503() {
    let svc = builder("slow-admin-demo")
        .admin(common::any_port().with_request_timeout(Duration::from_millis(200)))
        .readiness(hanging_check(Duration::from_secs(3600)))
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let response = get(svc.admin_addr(), "/health/ready").await;
    let took = started.elapsed();
    assert_eq!(response.status(), 503);
    let body = response.text().await.unwrap();
    assert!(body.contains("admin.request_timeout"), "{body}");
    assert!(
        took < Duration::from_secs(10),
        "took {took:?}: the 200 ms request timeout must answer long before the check's hour"
    );
    // Other requests are unaffected.
    assert_eq!(get(svc.admin_addr(), "/health/live").await.status(), 200);
}

#[tokio::test]
async fn hanging_check_is_reported_as_timeout_within_its_timeout() {
    let svc = builder("hang-demo")
        .readiness(hanging_check(Duration::from_millis(200)))
        .start()
        .await
        .unwrap();
    let started = Instant::now();
    let response = get(svc.admin_addr(), "/health/ready").await;
    let took = started.elapsed();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"][0]["status"], "timeout");
    assert!(
        body["checks"][0]["error"]
            .as_str()
            .unwrap()
            .contains("200ms"),
        "{body}"
    );
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}, well over the 200 ms timeout"
    );
}

#[tokio::test]
async fn check_results_are_reused_within_the_cache_ttl() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let svc = builder("cache-demo")
        .lifecycle(
            LifecycleSettings::default()
                .with_readiness_cache_ttl(Duration::from_secs(60))
                .with_drain_delay(Duration::ZERO),
        )
        .readiness_check("db", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, std::io::Error>(()) }
        })
        .start()
        .await
        .unwrap();
    for _ in 0..3 {
        assert_eq!(get(svc.admin_addr(), "/health/ready").await.status(), 200);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn check_results_expire_after_the_cache_ttl() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let svc = builder("cache-expiry")
        .lifecycle(LifecycleSettings::default().with_readiness_cache_ttl(Duration::ZERO))
        .readiness_check("db", move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, std::io::Error>(()) }
        })
        .start()
        .await
        .unwrap();
    get(svc.admin_addr(), "/health/ready").await;
    get(svc.admin_addr(), "/health/ready").await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn info_shows_identity_build_and_uptime() {
    let svc = builder("info-demo")
        .git_commit(Some("0123abcd"))
        .start()
        .await
        .unwrap();
    let response = get(svc.admin_addr(), "/info").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["service"]["name"], "info-demo");
    assert_eq!(body["service"]["team"], "payments");
    assert_eq!(body["service"]["tier"], "tier-1");
    assert_eq!(
        body["service"]["runbook_url"],
        "https://runbooks.example/demo"
    );
    assert_eq!(body["build"]["version"], "1.2.3");
    assert_eq!(body["build"]["git_commit"], "0123abcd");
    assert!(
        body["build"]["rustc"]
            .as_str()
            .unwrap()
            .starts_with("rustc "),
        "{body}"
    );
    let started_at = body["started_at"].as_str().unwrap();
    assert!(humantime::parse_rfc3339(started_at).is_ok(), "{started_at}");
    assert!(body["uptime_seconds"].as_f64().unwrap() >= 0.0);
}

#[tokio::test]
async fn config_shows_the_explanation_and_no_secret() {
    let canary = "canary-7f3a9c1e-do-not-leak";
    let explanation = "[admin]\nlisten = \"127.0.0.1:0\" # default\ntoken = \"[REDACTED]\" # env HELLO_SERVICE__ADMIN__TOKEN\n";
    let svc = builder("config-demo")
        .admin(common::any_port().with_token(canary))
        .config_explain(explanation)
        .start()
        .await
        .unwrap();
    let response = get(svc.admin_addr(), "/config").await;
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert_eq!(body, explanation);
    assert!(!body.contains(canary));
    for path in [
        "/info",
        "/health/ready",
        "/health/live",
        "/loglevel",
        "/metrics",
    ] {
        let body = get(svc.admin_addr(), path).await.text().await.unwrap();
        assert!(!body.contains(canary), "{path} leaked the token");
    }
}

#[tokio::test]
async fn config_masks_the_admin_token_even_if_the_explanation_holds_it() {
    let canary = "canary-5b2e81d0-do-not-leak";
    let svc = builder("config-mask")
        .admin(common::any_port().with_token(canary))
        .config_explain(format!("token = \"{canary}\"\n"))
        .start()
        .await
        .unwrap();
    let body = get(svc.admin_addr(), "/config").await.text().await.unwrap();
    assert_eq!(body, "token = \"[REDACTED]\"\n");
}

#[tokio::test]
async fn metrics_serves_prometheus_text_with_service_info_and_process_metrics() {
    let id = identity("metrics-demo");
    let (_recorder, handle) = MetricsHandle::build(&MetricsSettings::default(), &id).unwrap();
    let svc = builder("metrics-demo")
        .metrics_render(move || handle.render())
        .start()
        .await
        .unwrap();
    let response = get(svc.admin_addr(), "/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = response.text().await.unwrap();
    let info = body
        .lines()
        .find(|l| l.starts_with("service_info{"))
        .unwrap_or_else(|| panic!("no service_info in:\n{body}"));
    for label in [
        r#"service_name="metrics-demo""#,
        r#"service_version="1.2.3""#,
        r#"deployment_environment="test""#,
        r#"team="payments""#,
        r#"runbook_url="https://runbooks.example/demo""#,
        r#"tier="tier-1""#,
    ] {
        assert!(info.contains(label), "{label} missing from {info}");
    }
    assert!(info.ends_with(" 1"), "{info}");
    for name in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_start_time_seconds",
    ] {
        assert!(
            body.lines().any(|l| l.starts_with(name)),
            "{name} missing from:\n{body}"
        );
    }
}

#[tokio::test]
async fn metrics_and_loglevel_say_501_when_telemetry_is_off() {
    let svc = builder("no-telemetry").start().await.unwrap();
    let metrics = get(svc.admin_addr(), "/metrics").await;
    assert_eq!(metrics.status(), 501);
    assert!(metrics.text().await.unwrap().contains("without_telemetry"));
    assert_eq!(get(svc.admin_addr(), "/loglevel").await.status(), 501);
}

#[tokio::test]
async fn config_without_explanation_says_how_to_give_one() {
    let svc = builder("no-config").start().await.unwrap();
    let body = get(svc.admin_addr(), "/config").await.text().await.unwrap();
    assert!(body.contains("config_explain"), "{body}");
}

#[tokio::test]
async fn busy_admin_address_names_the_setting_and_env_variable() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = builder("hello-service")
        .admin(boost_service::AdminSettings::new(addr))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AdminBind { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains(&format!("admin.listen {addr}")),
        "{message}"
    );
    assert!(
        message.contains("HELLO_SERVICE__ADMIN__LISTEN"),
        "{message}"
    );
}

#[tokio::test]
async fn unknown_paths_list_the_endpoints() {
    let svc = builder("not-found").start().await.unwrap();
    let response = get(svc.admin_addr(), "/healthz").await;
    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap();
    assert!(body.contains("/health/ready"), "{body}");
}

#[tokio::test]
async fn a_panicking_check_counts_as_failed() {
    let svc = builder("panicky-check")
        .readiness_check("flaky", || async {
            if true {
                panic!("check blew up");
            }
            Ok::<_, std::io::Error>(())
        })
        .start()
        .await
        .unwrap();
    let response = get(svc.admin_addr(), "/health/ready").await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["checks"][0]["status"], "failed");
    assert!(
        body["checks"][0]["error"]
            .as_str()
            .unwrap()
            .contains("panicked"),
        "{body}"
    );
}

/// A service config as a real binary loads it (the lib.rs example's shape).
#[derive(Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
struct LoadedConfig {
    service: boost_config::ServiceIdentity,
    admin: boost_service::AdminSettings,
    lifecycle: LifecycleSettings,
}

impl boost_config::Validate for LoadedConfig {
    fn validate(&self, problems: &mut boost_config::Problems) {
        problems.check("admin", &self.admin);
        problems.check("lifecycle", &self.lifecycle);
    }
}

#[tokio::test]
async fn config_from_boost_config_shows_provenance_and_masks_the_token_from_the_environment() {
    let canary = "canary-3e9d0c4f-token-from-env";
    let config = boost_config::Loader::new("hello-service")
        .dir("no/such/dir")
        .env_vars([
            ("HELLO_SERVICE__ADMIN__TOKEN", canary),
            ("HELLO_SERVICE__ADMIN__LISTEN", "127.0.0.1:0"),
            ("HELLO_SERVICE__SERVICE__TEAM", "payments"),
        ])
        .load::<LoadedConfig>()
        .unwrap();
    // boost-config masks it (the admin server would mask this token again, so
    // check the explanation itself too).
    assert!(!config.explain().contains(canary));
    let svc = builder("hello-service")
        .admin(config.admin.clone())
        .config_explain(config.explain())
        .start()
        .await
        .unwrap();
    let body = get(svc.admin_addr(), "/config").await.text().await.unwrap();
    assert!(!body.contains(canary), "/config leaked the token:\n{body}");
    assert!(body.contains("[REDACTED]"), "{body}");
    // Provenance: each value names the layer that set it.
    assert!(body.contains("HELLO_SERVICE__ADMIN__TOKEN"), "{body}");
    assert!(body.contains("HELLO_SERVICE__SERVICE__TEAM"), "{body}");
    assert!(body.contains("# default"), "{body}");
}

/// A service config with a `[tracing]` section, as the example services have.
#[derive(Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
struct ConfigWithTracing {
    service: boost_config::ServiceIdentity,
    tracing: boost_tracing::TracingSettings,
}

impl boost_config::Validate for ConfigWithTracing {}

#[tokio::test]
async fn config_masks_credentials_in_the_otlp_endpoint_url() {
    let config = boost_config::Loader::new("hello-service")
        .dir("no/such/dir")
        .env_vars([(
            "HELLO_SERVICE__TRACING__OTLP__ENDPOINT",
            "http://u:CANARY_PW@127.0.0.1:1",
        )])
        .load::<ConfigWithTracing>()
        .unwrap();
    // The code that dials still gets the URL as written.
    assert_eq!(
        config.tracing.otlp.endpoint.expose(),
        "http://u:CANARY_PW@127.0.0.1:1"
    );
    let svc = builder("hello-service")
        .config_explain(config.explain())
        .start()
        .await
        .unwrap();
    let body = get(svc.admin_addr(), "/config").await.text().await.unwrap();
    assert!(
        !body.contains("CANARY_PW"),
        "/config leaked the password:\n{body}"
    );
    let line = body
        .lines()
        .find(|line| line.starts_with("endpoint = "))
        .unwrap_or_else(|| panic!("no endpoint line in /config:\n{body}"));
    assert!(line.contains("\"http://***@127.0.0.1:1\""), "{line}");
    assert!(
        line.ends_with("# env HELLO_SERVICE__TRACING__OTLP__ENDPOINT"),
        "{line}"
    );
}

#[tokio::test]
async fn debug_output_of_builder_and_running_service_never_shows_the_token() {
    let canary = "canary-81f2a6d4-debug-print";
    let builder = builder("debug-demo").admin(common::any_port().with_token(canary));
    let debug = format!("{builder:?}");
    assert!(!debug.contains(canary), "{debug}");
    assert!(debug.contains("REDACTED"), "{debug}");
    let svc = builder.start().await.unwrap();
    let debug = format!("{svc:?}");
    assert!(!debug.contains(canary), "{debug}");
}

#[tokio::test]
async fn runbook_is_served_as_markdown_with_a_section_per_alert() {
    let svc = builder("runbook-demo").start().await.unwrap();
    let response = get(svc.admin_addr(), "/runbook").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/markdown; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    assert!(body.starts_with("# Runbook: runbook-demo"), "{body}");
    for alert in boost_slo::alert_names(
        &boost_slo::SloSettings::default(),
        &identity("runbook-demo"),
    ) {
        let anchor = boost_slo::anchor(&alert);
        assert!(
            body.contains(&format!("<a id=\"{anchor}\"></a>\n## {alert}")),
            "{alert}: {body}"
        );
    }
}

#[tokio::test]
async fn runbook_of_a_service_lists_its_switches_and_merges_the_teams_file() {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("runbook.md");
    std::fs::write(
        &notes,
        "## ServiceDown\nPage the DBA first: it is always the database.\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("default.toml"),
        format!(
            "[service]\nteam = \"greeters\"\n[admin]\nlisten = \"127.0.0.1:0\"\n\
             [lifecycle]\ndrain_delay = \"0s\"\n\
             [slo]\nrunbook_extra = \"runbook.md\"\n\
             [switches]\nstate_file = {state:?}\n\
             [switches.declared.partner_hertz]\ndescription = \"Call Hertz.\"\nowner = \"cars\"\n",
            state = dir.path().join("switches.json").display().to_string(),
        ),
    )
    .unwrap();
    let token = dir.path().join("admin-token");
    std::fs::write(&token, "0123456789abcdef0123456789abcdef\n").unwrap();
    // `runbook_extra` is relative: found beside default.toml, not in the
    // test's working directory.
    let config = boost_config::Loader::new("hello-service")
        .dir(dir.path())
        .env_vars([
            ("APP_ENV", ""),
            ("HELLO_SERVICE__ADMIN__TOKEN_FILE", token.to_str().unwrap()),
        ])
        .load::<boost_service::Config<boost_service::NoSettings>>()
        .unwrap();
    let running = boost_service::Service::without_telemetry(config)
        .handle_signals(false)
        .start()
        .await
        .unwrap();
    let body = get(running.admin_addr(), "/runbook")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(&format!(
            "/flags/partner_hertz \\\n  -H \"Authorization: Bearer $(cat {})\"",
            token.display()
        )),
        "{body}"
    );
    let section = body
        .split("<a id=\"servicedown\"></a>")
        .nth(1)
        .unwrap_or_default();
    assert!(section.contains("Page the DBA first"), "{body}");
    assert!(body.contains("To **greeters**"), "{body}");
}

#[tokio::test]
async fn a_latency_threshold_off_the_histogram_buckets_is_refused_at_load_naming_the_key() {
    let error = boost_config::Loader::new("hello-service")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", "")])
        .args(["--set".to_owned(), "slo.latency.threshold=0.3".to_owned()])
        .load::<boost_service::Config<boost_service::NoSettings>>()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.contains("`slo.latency.threshold`"), "{error}");
    assert!(
        error.contains("not a bucket bound of `rpc_server_call_duration_seconds`"),
        "{error}"
    );
}

#[tokio::test]
async fn hints_name_the_variables_the_loader_reads_when_service_name_is_changed_in_a_file() {
    // `service.name` set in a file renames the service in logs and metrics,
    // but the loader read the variables with the binary's prefix: the hints
    // must name those (HELLO_SERVICE__…), not GREETER__…, which nothing reads.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("default.toml"),
        "[service]\nname = \"greeter\"\nteam = \"greeters\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n[lifecycle]\ndrain_delay = \"0s\"\n",
    )
    .unwrap();
    let config = boost_config::Loader::new("hello-service")
        .dir(dir.path())
        .env_vars([("APP_ENV", "")])
        .load::<boost_service::Config<boost_service::NoSettings>>()
        .unwrap();
    assert_eq!(config.get().kit.service.name, "greeter");
    let service = boost_service::Service::without_telemetry(config).handle_signals(false);
    let missing = service.database().unwrap_err().to_string();
    assert!(
        missing.contains("HELLO_SERVICE__DATABASE__URL"),
        "{missing}"
    );
    let running = service.start().await.unwrap();

    let refused = reqwest::Client::new()
        .put(format!("http://{}/flags/anything", running.admin_addr()))
        .body("on")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let body = refused.text().await.unwrap();
    assert!(body.contains("HELLO_SERVICE__ADMIN__TOKEN"), "{body}");
    assert!(!body.contains("GREETER__"), "{body}");

    let runbook = get(running.admin_addr(), "/runbook")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        runbook.contains("HELLO_SERVICE__ADMIN__TOKEN_FILE"),
        "{runbook}"
    );
    assert!(!runbook.contains("GREETER__"), "{runbook}");
    running.shutdown_handle().trigger();
}
