//! Prometheus standard process metrics, written straight into the scrape.
//!
//! Values come from `metrics_process::collector::collect` (procfs on Linux,
//! the platform APIs elsewhere). They are rendered here as text rather than
//! through the `metrics` facade because the facade's counters are integers:
//! `process_cpu_seconds_total` would lose everything after the decimal point.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::ScrapeFormat;
use crate::conventions::{
    PROCESS_CPU_SECONDS_TOTAL, PROCESS_MAX_FDS, PROCESS_OPEN_FDS, PROCESS_RESIDENT_MEMORY_BYTES,
    PROCESS_START_TIME_SECONDS, PROCESS_THREADS, PROCESS_VIRTUAL_MEMORY_BYTES,
};

/// How long one collection is reused: reading `/proc` on every render would
/// make a fast scraper pay for it; Prometheus scrapes every 15 s or so.
const MAX_AGE: Duration = Duration::from_secs(1);

/// One process metric: name, type, HELP, value (`None` where the platform
/// does not tell).
type Family = (&'static str, &'static str, &'static str, Option<f64>);

/// The process metrics, re-collected when older than [`MAX_AGE`].
#[derive(Debug, Default)]
pub(crate) struct ProcessMetrics {
    cached: Mutex<Option<(Instant, [Family; 7])>>,
}

impl ProcessMetrics {
    /// Appends the process metrics (HELP, TYPE and value of each) to `out`.
    pub(crate) fn render_into(&self, out: &mut String, format: ScrapeFormat) {
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        let families = match &*cached {
            Some((at, families)) if at.elapsed() < MAX_AGE => *families,
            _ => {
                let families = collect();
                *cached = Some((Instant::now(), families));
                families
            }
        };
        drop(cached);
        for (name, kind, help, value) in families {
            if let Some(value) = value {
                write_family(out, format, name, kind, help, value);
            }
        }
    }
}

fn collect() -> [Family; 7] {
    let m = metrics_process::collector::collect();
    [
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
    ]
}

/// Writes one single-series family in `format`.
///
/// Plain `push_str`s and a stack-formatted value: this runs on every scrape
/// for the runtime metrics.
pub(crate) fn write_family(
    out: &mut String,
    format: ScrapeFormat,
    name: &str,
    kind: &str,
    help: &str,
    value: f64,
) {
    // OpenMetrics names a counter family without its `_total`.
    let family = match (format, kind) {
        (ScrapeFormat::OpenMetrics, "counter") => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    out.reserve(2 * name.len() + help.len() + kind.len() + 48);
    for part in [
        "# HELP ",
        family,
        " ",
        help,
        "\n# TYPE ",
        family,
        " ",
        kind,
        "\n",
        name,
        " ",
    ] {
        out.push_str(part);
    }
    crate::store::push_f64(out, value);
    out.push('\n');
}
