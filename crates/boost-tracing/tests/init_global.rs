//! `init` installs the process-wide subscriber, so it gets a test binary (process) of its own.
//! One test, in order: init, second init fails clearly, the panic hook writes one structured
//! event before the previous hook runs, the filter reloads globally, OpenTelemetry's own info
//! lines stay out of a start, async shutdown on a current-thread runtime flushes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use boost_config::ServiceIdentity;
use boost_tracing::testing::LogLines as Lines;
use boost_tracing::{Error, LogFormat, TracingSettings, builder, init};

#[test]
fn init_once_then_panic_hook_filter_reload_and_shutdown() {
    let mut settings = TracingSettings::default();
    settings.format = LogFormat::Json;
    settings.filter = "info".into();
    let identity = ServiceIdentity::new("hello-service", "1.0.0");
    let lines = Lines::default();
    // The hook installed before `init`: it records how many panic lines were already written
    // when it ran (boost-tracing's hook must log, and flush, first).
    let seen_by_previous_hook = std::sync::Arc::new(std::sync::Mutex::new(None::<usize>));
    {
        let (lines, seen) = (lines.clone(), seen_by_previous_hook.clone());
        std::panic::set_hook(Box::new(move |_| {
            let written = lines
                .json()
                .iter()
                .filter(|l| l["target"] == "panic")
                .count();
            *seen.lock().unwrap() = Some(written);
        }));
    }
    let guard = builder(&settings, &identity)
        .ignore_rust_log()
        .writer(lines.clone())
        .init()
        .unwrap();

    // A second call is an error that says what to do, not a panic.
    let err = init(&settings, &identity).unwrap_err();
    assert!(matches!(err, Error::AlreadyInitialised), "{err:?}");
    assert!(err.to_string().contains("once"), "{err}");

    // A panic becomes one structured error event before the previous hook runs.
    let joined = std::thread::Builder::new()
        .name("worker-7".into())
        .spawn(|| panic!("boom {}", 42))
        .unwrap()
        .join();
    assert!(joined.is_err());
    assert_eq!(
        *seen_by_previous_hook.lock().unwrap(),
        Some(1),
        "the previous hook runs, after the panic line is written"
    );

    // The filter handle changes the global filter.
    tracing::debug!("hidden");
    guard.log_filter().set("debug").unwrap();
    tracing::debug!("visible");

    // Spans get ids in the global subscriber too, and the global propagator is W3C.
    let mut headers = http::HeaderMap::new();
    tracing::info_span!("outgoing").in_scope(|| {
        use boost_tracing::OpenTelemetrySpanExt as _;
        boost_tracing::propagation::inject_headers(
            &tracing::Span::current().context(),
            &mut headers,
        );
    });
    assert!(headers.contains_key("traceparent"));

    // `init` set the global tracer provider, and OpenTelemetry logged "Global tracer provider
    // is set…" at info: kept out. Naming the crate in the filter lets the line through (so the
    // check below is not vacuous).
    guard.log_filter().set("info,opentelemetry=info").unwrap();
    opentelemetry::global::set_tracer_provider(
        opentelemetry_sdk::trace::SdkTracerProvider::builder().build(),
    );

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    rt.block_on(guard.shutdown());
    assert!(started.elapsed() < Duration::from_secs(5));

    let lines = lines.json();
    let panics: Vec<_> = lines.iter().filter(|l| l["target"] == "panic").collect();
    assert_eq!(panics.len(), 1, "{lines:#?}");
    let p = panics[0];
    assert_eq!(p["level"], "ERROR");
    assert_eq!(p["message"], "boom 42");
    assert_eq!(p["thread"], "worker-7");
    assert!(
        p["location"].as_str().unwrap().contains("init_global.rs:"),
        "{p}"
    );
    assert_eq!(p["service"], "hello-service");
    // `backtrace` is present exactly when backtraces are enabled (RUST_BACKTRACE).
    let backtraces_on =
        std::backtrace::Backtrace::capture().status() == std::backtrace::BacktraceStatus::Captured;
    assert_eq!(p.get("backtrace").is_some(), backtraces_on, "{p}");

    let messages: Vec<_> = lines
        .iter()
        .map(|l| l["message"].as_str().unwrap())
        .collect();
    assert!(!messages.contains(&"hidden"));
    assert!(messages.contains(&"visible"));
    let provider_set: Vec<_> = lines
        .iter()
        .filter(|l| l["target"] == "opentelemetry")
        .filter(|l| {
            l["message"]
                .as_str()
                .unwrap()
                .contains("Global tracer provider is set")
        })
        .collect();
    assert_eq!(
        provider_set.len(),
        1,
        "only the second, with opentelemetry named in the filter: {lines:#?}"
    );
}
