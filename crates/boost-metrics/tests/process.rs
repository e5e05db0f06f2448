//! Process and tokio runtime metrics appear in the scrape under their standard names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use boost_metrics::MetricsSettings;

const PROCESS_METRICS: [(&str, &str); 7] = [
    ("process_cpu_seconds_total", "counter"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_virtual_memory_bytes", "gauge"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
    ("process_start_time_seconds", "gauge"),
    ("process_threads", "gauge"),
];

fn value_of(scrape: &str, name: &str) -> f64 {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} sample in:\n{scrape}"))
        .parse()
        .unwrap()
}

#[test]
#[cfg(target_os = "linux")]
fn process_metrics_are_present_after_render() {
    let (_recorder, handle) = common::build(&MetricsSettings::default());
    let scrape = handle.render();
    for (name, kind) in PROCESS_METRICS {
        assert!(
            scrape.contains(&format!("# HELP {name} ")),
            "no HELP for {name}"
        );
        assert!(
            scrape.contains(&format!("# TYPE {name} {kind}\n")),
            "no TYPE for {name}"
        );
        value_of(&scrape, name);
    }
    assert!(value_of(&scrape, "process_resident_memory_bytes") > 1024.0 * 1024.0);
    assert!(value_of(&scrape, "process_open_fds") >= 3.0);
    assert!(value_of(&scrape, "process_threads") >= 1.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let started = value_of(&scrape, "process_start_time_seconds");
    assert!(
        started <= now + 1.0 && started > now - 86_400.0,
        "start time {started}, now {now}"
    );
}

#[test]
fn process_metrics_can_be_turned_off() {
    let mut settings = MetricsSettings::default();
    settings.process_metrics = false;
    let (_recorder, handle) = common::build(&settings);
    assert!(!handle.render().contains("process_"));
}

#[test]
fn runtime_metrics_describe_the_runtime_that_renders() {
    let (_recorder, handle) = common::build(&MetricsSettings::default());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap();
    let scrape = runtime.block_on(async {
        let parked = tokio::spawn(std::future::pending::<()>());
        let scrape = handle.render();
        parked.abort();
        scrape
    });
    assert_eq!(value_of(&scrape, "tokio_runtime_workers"), 3.0);
    assert!(
        value_of(&scrape, "tokio_runtime_alive_tasks") >= 1.0,
        "{scrape}"
    );
    value_of(&scrape, "tokio_runtime_global_queue_depth");
    assert!(value_of(&scrape, "tokio_runtime_busy_seconds_total") >= 0.0);
    assert!(scrape.contains("# TYPE tokio_runtime_busy_seconds_total counter\n"));
}

#[test]
fn runtime_metrics_are_absent_outside_a_runtime_or_when_off() {
    let (_recorder, handle) = common::build(&MetricsSettings::default());
    assert!(!handle.render().contains("tokio_runtime_"));

    let mut settings = MetricsSettings::default();
    settings.runtime_metrics = false;
    let (_recorder, handle) = common::build(&settings);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(
        !runtime
            .block_on(async { handle.render() })
            .contains("tokio_runtime_")
    );
}
