//! Telemetry is flushed at shutdown: every log line written before `run`
//! returns reaches stdout, the shutdown's own lines included.
//!
//! Logging installs a process-wide subscriber and writes to stdout, so the
//! test re-runs this binary as a child process (marked by an environment
//! variable) and reads the child's stdout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use boost_tracing::{LogFormat, TracingSettings};
use serde_json::Value;

/// Set in the child process: run the service instead of spawning a child.
const CHILD: &str = "BOOST_SERVICE_FLUSH_TEST_CHILD";
/// Log lines the child's task writes just before the service shuts down.
const LINES: usize = 3000;
const TEST_NAME: &str = "log_lines_written_before_shutdown_all_reach_stdout";

#[test]
fn log_lines_written_before_shutdown_all_reach_stdout() {
    if std::env::var_os(CHILD).is_some() {
        run_service_that_logs_then_stops();
        return;
    }
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            TEST_NAME,
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(CHILD, "1")
        .env_remove("RUST_LOG") // it would override the child's `info` filter
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // JSON log lines (the test harness adds a few lines of its own).
    let events: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str(&line[line.find('{')?..]).ok())
        .collect();
    let jobs: Vec<usize> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| e["message"] == "job done")
        .map(|(i, _)| i)
        .collect();
    assert_eq!(
        jobs.len(),
        LINES,
        "log lines were lost at shutdown (or never written)"
    );
    let complete = events
        .iter()
        .position(|e| e["message"] == "shutdown complete; flushing telemetry")
        .unwrap_or_else(|| panic!("no 'shutdown complete' line in:\n{stdout}"));
    assert!(
        jobs.iter().all(|&i| i < complete),
        "the task's lines come before the shutdown's last line"
    );
    // The service's own lines keep to the log schema: no event field collides
    // with a fixed key (boost-tracing would rename it `field.<key>`).
    for event in events
        .iter()
        .filter(|e| e["target"] == "boost_service::running")
    {
        let mut keys = event.as_object().unwrap().keys();
        assert!(keys.all(|k| !k.starts_with("field.")), "{event}");
    }
}

/// The child: a service with real tracing (JSON to stdout) whose one task
/// logs a burst and returns, which shuts the service down.
fn run_service_that_logs_then_stops() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut settings = TracingSettings::default();
        settings.format = LogFormat::Json;
        settings.filter = "info".to_owned();
        settings.panic_hook = false;
        common::builder("flush-demo")
            .tracing(settings)
            .task("burst", |_lc| async {
                for job in 0..LINES {
                    tracing::info!(job, "job done");
                }
                Ok::<_, std::io::Error>(())
            })
            .run()
            .await
            .unwrap();
    });
}
