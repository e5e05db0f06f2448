//! The full builder with real telemetry: boost-tracing's subscriber and
//! boost-metrics' recorder installed process-wide (hence a binary of its own,
//! with one test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use boost_metrics::MetricsSettings;
use boost_service::{Error, LifecycleSettings, ServiceBuilder};
use boost_tracing::{LogFormat, TracingSettings};
use common::{any_port, client, get, identity, url};

#[tokio::test]
async fn builder_starts_tracing_and_metrics_and_flushes_them_at_shutdown() {
    let mut tracing_settings = TracingSettings::default();
    tracing_settings.format = LogFormat::Json;
    tracing_settings.filter = "warn".to_owned();
    let svc = ServiceBuilder::new(identity("telemetry-demo"))
        .admin(any_port().with_token("telemetry-token-9d1f"))
        .lifecycle(LifecycleSettings::default().with_drain_delay(Duration::from_millis(50)))
        .tracing(tracing_settings.clone())
        .metrics(MetricsSettings::default())
        .handle_signals(false)
        .task("worker", |lc| async move {
            metrics::counter!("cache_requests_total", "cache" => "users", "result" => "hit")
                .increment(3);
            lc.stop_accepting().await;
            Ok::<_, std::io::Error>(())
        })
        .start()
        .await
        .unwrap();
    let addr = svc.admin_addr();

    // /metrics: service_info, process metrics, and what the task recorded.
    let mut body = String::new();
    for _ in 0..100 {
        body = get(addr, "/metrics").await.text().await.unwrap();
        if body.contains("cache_requests_total") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(body.contains(r#"service_name="telemetry-demo""#), "{body}");
    assert!(body.contains(r#"team="payments""#), "{body}");
    assert!(body.contains("process_resident_memory_bytes"), "{body}");
    assert!(
        body.contains(r#"cache_requests_total{cache="users",result="hit"} 3"#),
        "{body}"
    );

    // /loglevel reads and changes boost-tracing's filter.
    // boost_tracing::init lets a non-empty RUST_LOG override the configured filter.
    let configured = std::env::var("RUST_LOG")
        .ok()
        .filter(|env| !env.trim().is_empty())
        .unwrap_or_else(|| "warn".to_owned());
    let current = get(addr, "/loglevel").await.text().await.unwrap();
    assert_eq!(current.trim(), configured.trim());
    let changed = client()
        .put(url(addr, "/loglevel"))
        .bearer_auth("telemetry-token-9d1f")
        .body("info")
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    assert_eq!(
        get(addr, "/loglevel").await.text().await.unwrap().trim(),
        "info"
    );

    svc.shutdown_handle().trigger();
    tokio::time::timeout(Duration::from_secs(20), svc.wait())
        .await
        .unwrap()
        .unwrap();

    // Telemetry is process-wide: a second service in this process is refused,
    // with an error that says so.
    let err = ServiceBuilder::new(identity("telemetry-demo"))
        .admin(any_port())
        .tracing(tracing_settings)
        .handle_signals(false)
        .start()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Telemetry {
                what: "tracing",
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("already initialised"), "{err}");
}
