//! Prometheus metrics for team-boost services.
//!
//! Install once at start-up, record anywhere through the [`metrics`] facade
//! with the names in [`conventions`], and serve [`MetricsHandle::render`] on
//! `/metrics` (boost-service's admin server does that for you):
//!
//! ```
//! use boost_config::ServiceIdentity;
//! use boost_metrics::{MetricsSettings, conventions};
//!
//! let identity = ServiceIdentity::new("hello-service", "1.2.0");
//! let metrics = boost_metrics::install(&MetricsSettings::default(), &identity)?;
//!
//! metrics::counter!(conventions::CACHE_REQUESTS_TOTAL,
//!     conventions::CACHE => "profiles", conventions::RESULT => "hit").increment(1);
//!
//! let scrape = metrics.render();
//! assert!(scrape.contains("# HELP cache_requests_total Cache lookups"));
//! assert!(scrape.contains(r#"service_info{service_name="hello-service",service_version="1.2.0""#));
//! assert!(scrape.contains("process_resident_memory_bytes"));
//! # Ok::<(), boost_metrics::Error>(())
//! ```
//!
//! # What `install` sets up
//!
//! - The kit's recorder, with no HTTP listener of its own: every series is a
//!   few atomics updated where it is recorded (histograms are fixed bucket
//!   counters), and the scrape is written straight from them. Every crate
//!   that records through the `metrics` facade shows up.
//! - HELP text and unit for every metric in [`conventions::METRICS`]. Declare
//!   your own once with a [`MetricDef`] and [`describe_all`], so every exported
//!   metric has a `# HELP` line.
//! - Histograms, never summaries: the OpenTelemetry duration buckets
//!   ([`conventions::DURATION_BUCKETS_SECONDS`], 5 ms … 10 s) unless
//!   [`MetricsSettings::buckets`] names others. Record durations in seconds.
//!   Counters get `_total` appended if their name lacks it.
//! - `service_info{service_name, service_version, deployment_environment, team,
//!   runbook_url, tier} 1` from the [`ServiceIdentity`](boost_config::ServiceIdentity),
//!   so alerts can join on it to route to the owning team and link the runbook.
//! - Process metrics under the Prometheus standard names
//!   (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//!   `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
//!   `process_start_time_seconds`, `process_threads`), collected at scrape time
//!   and reused for up to a second; and the stable tokio runtime metrics
//!   (`tokio_runtime_workers`, `tokio_runtime_alive_tasks`,
//!   `tokio_runtime_global_queue_depth`, `tokio_runtime_busy_seconds_total`)
//!   when rendered inside a runtime.
//! - The [`CardinalityGuard`] in front of it all.
//!
//! # The knobs
//!
//! [`MetricsSettings`] is the `[metrics]` config section: `cardinality_limit`
//! (default 1000 label sets per metric), `process_metrics` and
//! `runtime_metrics` (both on), and per-metric `buckets`. It implements
//! [`boost_config::Validate`] and [`boost_config::Document`]: the config loader
//! reports every unusable value under its key (`metrics.cardinality_limit`,
//! `metrics.buckets.<name>`), [`install`] and [`MetricsHandle::build`] run the
//! same rules ([`Error::Config`]), and the field docs become the comments of
//! the generated reference config.
//!
//! # Hot paths
//!
//! The macros build and look up a key on every call (a few hundred ns with
//! three labels). Where a call site runs per request, get handles once:
//! [`RpcMetrics::method`] for RPC durations, [`MetricDef::register_counter`]
//! and friends for your own metrics ([`CounterHandle`], [`GaugeHandle`],
//! [`HistogramHandle`]). Behind the kit's recorder a kept handle updates its
//! series' cell directly (no facade virtual call): a counter is one atomic
//! add, a histogram observation from one of the first four observing threads
//! is plain loads and stores on a stripe that thread owns.
//!
//! # Edge cases
//!
//! - A second [`install`] returns [`Error::AlreadyInstalled`]; clone the
//!   [`MetricsHandle`] instead. Tests that must not share the global recorder
//!   use [`MetricsHandle::build`] with [`metrics::with_local_recorder`].
//! - A metric that exceeds its cardinality limit keeps its first
//!   `cardinality_limit` label sets; the rest are recorded under one series
//!   whose label values are all `other`, counted in
//!   `metrics_cardinality_overflow_total{metric}`, with one warning log per metric.
//! - The process and runtime metrics are written by the renderer itself; do not
//!   also run `metrics_process::Collector`, or their families appear twice.
//! - A metric recorded but never described gets a placeholder `# HELP` line
//!   that says to declare it with a [`MetricDef`], so the scrape stays valid.
//! - Nothing needs a background task: an observation lands in its bucket at
//!   once, and every scrape sees it.
//!
//! # Exemplars and OpenMetrics
//!
//! [`MetricsHandle::render_as`] with [`ScrapeFormat::OpenMetrics`] writes
//! OpenMetrics 1.0 text, where each histogram bucket carries the `trace_id`
//! of the latest sampled trace an observation in it was made in. Where that
//! trace id comes from is a [`TraceIdSource`] installed once with
//! [`set_trace_id_source`] (boost-service installs boost-tracing's); pick the
//! format per request with [`ScrapeFormat::negotiate`] (boost-service's
//! `/metrics` does, so Prometheus with `--enable-feature=exemplar-storage`
//! gets exemplars and everything else keeps plain Prometheus text).
#![deny(missing_docs)]

pub mod conventions;
mod definition;
mod error;
mod guard;
mod handle;
mod process;
mod recorder;
mod rpc;
mod runtime;
mod settings;
mod store;

pub use definition::{MetricDef, MetricKind, describe_all};
pub use error::Error;
pub use guard::CardinalityGuard;
pub use handle::{MetricsHandle, install};
pub use recorder::MetricsRecorder;
pub use rpc::{InFlight, MethodMetrics, RpcMetrics};
pub use settings::MetricsSettings;
pub use store::exemplar::{TraceIdSource, set_trace_id_source};
pub use store::{CounterHandle, GaugeHandle, HistogramHandle, ScrapeFormat};
