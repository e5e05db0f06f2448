//! tokio runtime metrics that are stable (no `tokio_unstable` needed),
//! written straight into the scrape for the runtime that renders it.

use crate::ScrapeFormat;
use crate::conventions::{
    TOKIO_RUNTIME_ALIVE_TASKS, TOKIO_RUNTIME_BUSY_SECONDS_TOTAL, TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH,
    TOKIO_RUNTIME_WORKERS,
};
use crate::process::write_family;

/// Appends the current runtime's metrics to `out`; nothing outside a runtime.
pub(crate) fn render_into(out: &mut String, format: ScrapeFormat) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let metrics = handle.metrics();
    let workers = metrics.num_workers();
    let busy: f64 = (0..workers)
        .map(|worker| metrics.worker_total_busy_duration(worker).as_secs_f64())
        .sum();
    write_family(
        out,
        format,
        TOKIO_RUNTIME_WORKERS,
        "gauge",
        "Worker threads of the tokio runtime.",
        workers as f64,
    );
    write_family(
        out,
        format,
        TOKIO_RUNTIME_ALIVE_TASKS,
        "gauge",
        "Tasks alive in the tokio runtime.",
        metrics.num_alive_tasks() as f64,
    );
    write_family(
        out,
        format,
        TOKIO_RUNTIME_GLOBAL_QUEUE_DEPTH,
        "gauge",
        "Tasks waiting in the tokio runtime's global queue.",
        metrics.global_queue_depth() as f64,
    );
    write_family(
        out,
        format,
        TOKIO_RUNTIME_BUSY_SECONDS_TOTAL,
        "counter",
        "Time the tokio runtime's workers spent busy, summed over workers, in seconds.",
        busy,
    );
}
