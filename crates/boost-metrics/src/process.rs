//! Prometheus standard process metrics, written straight into the scrape.
//!
//! Values come from `metrics_process::collector::collect` (procfs on Linux,
//! the platform APIs elsewhere). They are rendered here as text rather than
//! through the `metrics` facade because the facade's counters are integers:
//! `process_cpu_seconds_total` would lose everything after the decimal point.

use std::fmt::Write;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::conventions::{
    PROCESS_CPU_SECONDS_TOTAL, PROCESS_MAX_FDS, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY_BYTES,
    PROCESS_START_TIME_SECONDS, PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY_BYTES,
};

/// How long one collection is reused: reading `/proc` on every render would
/// make a fast scraper pay for it; Prometheus scrapes every 15 s or so.
const MAX_AGE: Duration = Duration::from_secs(1);

/// The process metrics text, re-collected when older than [`MAX_AGE`].
#[derive(Debug, Default)]
pub(crate) struct ProcessMetrics {
    cached: Mutex<Option<(Instant, String)>>,
}

impl ProcessMetrics {
    /// Appends the process metrics (HELP, TYPE and value of each) to `out`.
    pub(crate) fn render_into(&self, out: &mut String) {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        let fresh = matches!(&*cached, Some((at, _)) if at.elapsed() < MAX_AGE);
        if !fresh {
            *cached = Some((Instant::now(), collect_text()));
        }
        if let Some((_, text)) = &*cached {
            out.push_str(text);
        }
    }
}

fn collect_text() -> String {
    let m = metrics_process::collector::collect();
    let mut out = String::with_capacity(1024);
    let families: [(&str, &str, &str, Option<f64>); 7] = [
        (
            PROCESS_CPU_SECONDS_TOTAL,
            "counter",
            "Total user and system CPU time spent in seconds.",
            m.cpu_seconds_total,
        ),
        (
            PROCESS_RESIDENT_MEMORY_BYTES,
            "gauge",
            "Resident memory size in bytes.",
            m.resident_memory_bytes.map(|v| v as f64),
        ),
        (
            PROCESS_VIRTUAL_MEMORY_BYTES,
            "gauge",
            "Virtual memory size in bytes.",
            m.virtual_memory_bytes.map(|v| v as f64),
        ),
        (
            PROCESS_OPEN_FDS,
            "gauge",
            "Number of open file descriptors.",
            m.open_fds.map(|v| v as f64),
        ),
        (
            PROCESS_MAX_FDS,
            "gauge",
            "Maximum number of open file descriptors (0 means unlimited).",
            m.max_fds.map(|v| v as f64),
        ),
        (
            PROCESS_START_TIME_SECONDS,
            "gauge",
            "Start time of the process since unix epoch in seconds.",
            m.start_time_seconds.map(|v| v as f64),
        ),
        (
            PROCESS_THREADS,
            "gauge",
            "Number of OS threads in the process.",
            m.threads.map(|v| v as f64),
        ),
    ];
    for (name, kind, help, value) in families {
        if let Some(value) = value {
            write_family(&mut out, name, kind, help, value);
        }
    }
    out
}

/// Writes one single-series family in the text exposition format.
///
/// Plain `push_str`s and one `Display` of the value: this runs on every
/// scrape for the runtime metrics, and a single `write!` with the whole
/// template costs several times more.
pub(crate) fn write_family(
    out: &mut String,
    name: &str,
    kind: &str,
    help: &str,
    value: impl std::fmt::Display,
) {
    out.reserve(2 * name.len() + help.len() + kind.len() + 48);
    for part in [
        "# HELP ",
        name,
        " ",
        help,
        "\n# TYPE ",
        name,
        " ",
        kind,
        "\n",
        name,
        " ",
    ] {
        out.push_str(part);
    }
    // Writing to a String cannot fail.
    let _ = write!(out, "{value}");
    out.push_str("\n\n");
}
