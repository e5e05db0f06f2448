//! Shared fixtures for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use boost_config::ServiceIdentity;
use boost_metrics::conventions::*;
use boost_metrics::{MetricsHandle, MetricsRecorder, MetricsSettings, RpcMetrics, ScrapeFormat};

/// An identity with every ownership field filled in.
pub fn identity() -> ServiceIdentity {
    let mut id = ServiceIdentity::new("hello-service", "1.2.3");
    id.environment = "prod".into();
    id.team = "boost".into();
    id.runbook_url = "https://runbooks.example/hello-service".into();
    id.tier = "tier-1".into();
    id
}

/// A recorder + handle that are not installed globally.
pub fn build(settings: &MetricsSettings) -> (MetricsRecorder, MetricsHandle) {
    MetricsHandle::build(settings, &identity()).unwrap()
}

/// Records what a real service records, through `recorder`.
pub fn record_realistic(recorder: &MetricsRecorder) {
    metrics::with_local_recorder(recorder, || {
        let server = RpcMetrics::server();
        let say_hello = server.method("hello.v1.Greeter/SayHello");
        let _in_flight = say_hello.in_flight();
        say_hello.record(0, Duration::from_millis(3));
        say_hello.record(0, Duration::from_millis(40));
        say_hello.record(14, Duration::from_millis(900));
        let client = RpcMetrics::client("profiles").method("hello.v1.Profiles/GetProfile");
        client.record(0, Duration::from_millis(12));
        client.record(4, Duration::from_millis(300));

        for result in ["hit", "miss", "stale"] {
            metrics::counter!(CACHE_REQUESTS_TOTAL, CACHE => "profiles", RESULT => result)
                .increment(3);
        }
        metrics::counter!(CACHE_LOADS_TOTAL, CACHE => "profiles", OUTCOME => "ok").increment(2);
        metrics::histogram!(CACHE_LOAD_DURATION, CACHE => "profiles").record(0.02);
        metrics::counter!(CACHE_EVICTIONS_TOTAL, CACHE => "profiles", CAUSE => "size").increment(1);
        metrics::gauge!(CACHE_ENTRIES, CACHE => "profiles").set(42.0);
        // What boost-rpc's client records besides durations.
        for outcome in ["OK", "UNAVAILABLE"] {
            metrics::counter!(RPC_CLIENT_ATTEMPTS_TOTAL, CLIENT => "profiles",
                RPC_METHOD => "hello.v1.Profiles/GetProfile", OUTCOME => outcome,
                ENDPOINT => "127.0.0.1:50051")
            .increment(2);
        }
        metrics::counter!(RPC_CLIENT_RETRIES_TOTAL, CLIENT => "profiles",
            RPC_METHOD => "hello.v1.Profiles/GetProfile")
        .increment(1);
        metrics::counter!(RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL, CLIENT => "profiles",
            RPC_METHOD => "hello.v1.Profiles/GetProfile")
        .increment(1);
        metrics::counter!(RPC_CLIENT_EJECTIONS_TOTAL, CLIENT => "profiles",
            ENDPOINT => "127.0.0.1:50051", REASON => "consecutive_failures")
        .increment(1);
        for (state, n) in [("ready", 2.0), ("ejected", 1.0), ("reconnecting", 0.0)] {
            metrics::gauge!(RPC_CLIENT_ENDPOINTS, CLIENT => "profiles", STATE => state).set(n);
        }
        // What boost-http records.
        for (method, route, status) in [
            ("GET", "/v1/hello/{name}", "200"),
            ("GET", "/v1/hello/{name}", "400"),
            ("_OTHER", HTTP_ROUTE_UNMATCHED, "404"),
        ] {
            metrics::histogram!(HTTP_SERVER_REQUEST_DURATION, HTTP_REQUEST_METHOD => method,
                HTTP_ROUTE => route, HTTP_RESPONSE_STATUS_CODE => status)
            .record(0.004);
        }
        metrics::histogram!(HTTP_CLIENT_REQUEST_DURATION, CLIENT => "cars",
            HTTP_REQUEST_METHOD => "GET", HTTP_RESPONSE_STATUS_CODE => "200")
        .record(0.08);
        metrics::histogram!(HTTP_CLIENT_REQUEST_DURATION, CLIENT => "cars",
            HTTP_REQUEST_METHOD => "POST", ERROR_TYPE => "timeout")
        .record(2.0);
        for outcome in ["sent", "budget_exhausted"] {
            metrics::counter!(HTTP_CLIENT_RETRIES_TOTAL, CLIENT => "cars", OUTCOME => outcome)
                .increment(1);
        }
        metrics::counter!(HTTP_CLIENT_EJECTIONS_TOTAL, CLIENT => "cars",
            ENDPOINT => "https://cars.example/v2")
        .increment(1);
        // What boost-tracing records.
        metrics::counter!(LOG_DROPPED_LINES_TOTAL).increment(0);
        metrics::counter!(LOG_SUPPRESSED_EVENTS_TOTAL).increment(5);
        // Recorded by someone who never described them, one without `_total`.
        metrics::counter!("jobs_retried").increment(1);
        metrics::gauge!("jobs_queue_depth", "queue" => "default").set(7.0);
    });
}

/// A scrape with service_info, RPC histograms, cache metrics, process and
/// runtime metrics, and a cardinality overflow.
pub fn realistic_scrape() -> String {
    realistic_scrape_as(ScrapeFormat::Prometheus)
}

/// [`realistic_scrape`] in `format`.
pub fn realistic_scrape_as(format: ScrapeFormat) -> String {
    let mut settings = MetricsSettings::default();
    settings.cardinality_limit = 5;
    let (recorder, handle) = build(&settings);
    record_realistic(&recorder);
    metrics::with_local_recorder(&recorder, || {
        for user in 0..10 {
            metrics::counter!(CACHE_REQUESTS_TOTAL, CACHE => format!("user-{user}"), RESULT => "hit")
                .increment(1);
        }
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async { handle.render_as(format) })
}
