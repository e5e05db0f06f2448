//! One call at start-up gives a service production logs and traces that every team's
//! dashboards and log pipelines read the same way.
//!
//! ```no_run
//! use boost_config::ServiceIdentity;
//! use boost_tracing::TracingSettings;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), boost_tracing::Error> {
//!     let identity = ServiceIdentity::new("hello-service", env!("CARGO_PKG_VERSION"));
//!     let guard = boost_tracing::init(&TracingSettings::default(), &identity)?;
//!
//!     let span = tracing::info_span!("checkout", order_id = 42);
//!     let _entered = span.enter();
//!     tracing::info!(user = "ada", password = "hunter2", "order placed");
//!     // {"timestamp":"2026-11-22T00:06:38.123456Z","level":"INFO","message":"order placed",
//!     //  "target":"hello_service","service":"hello-service","user":"ada",
//!     //  "password":"[REDACTED]","span":{"name":"checkout","order_id":42},
//!     //  "spans":[{"name":"checkout","order_id":42}],
//!     //  "trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}
//!
//!     guard.shutdown().await; // flush logs and spans (dropping the guard does it too)
//!     Ok(())
//! }
//! ```
//!
//! # What `init` sets up
//!
//! - **Log lines** on stdout in the [`LogFormat`] chosen by [`TracingSettings::format`]: `json`
//!   (one object per line; the default when stdout is not a terminal) or `pretty` / `compact`
//!   for people. The JSON keys are a stable contract, documented in `docs/logging.md`:
//!   `timestamp` (RFC 3339 UTC, microseconds), `level`, `message`, `target`, `service`, the
//!   event's fields as top-level keys, `span` (innermost span: name and fields), `spans` (all
//!   enclosing spans, outermost first), and inside a span `trace_id` / `span_id` — the
//!   OpenTelemetry ids of that span, also when OTLP export is off.
//! - **A filter** in `RUST_LOG` syntax ([`TracingSettings::filter`], overridden by the
//!   `RUST_LOG` environment variable), changeable at run time through
//!   [`TracingGuard::log_filter`] → [`LogFilter::set`]. The OpenTelemetry crates' own logs
//!   (targets `opentelemetry`, `opentelemetry_sdk`, …; "Global tracer provider is set" at every
//!   start) stay at `warn` unless the filter names them (`info,opentelemetry_sdk=debug`) or
//!   its default level is quieter, so a start is quiet and their warnings and errors show.
//! - **Redaction**: fields named in [`TracingSettings::redact`] (default [`DEFAULT_REDACT`]:
//!   `password`, `token`, `authorization`, …) are written as `"[REDACTED]"` in events and span
//!   fields, in every format, and in exported span attributes.
//! - **A writer that never blocks the caller**: lines go into a bounded queue
//!   ([`TracingSettings::queue_lines`]) drained by a background thread; when it is full, lines
//!   are dropped and counted in the `log_dropped_lines_total` counter ([`LOG_DROPPED_LINES_TOTAL`],
//!   through the `metrics` facade).
//! - **Per-callsite rate limiting** ([`RateLimitSettings`], off by default): at most N events
//!   per second from one call site, then one `suppressed K events` line, counted in
//!   `log_suppressed_events_total`.
//! - **A panic hook**: a panic becomes one `error` event (target `panic`; fields `location`,
//!   `thread`, and `backtrace` when `RUST_BACKTRACE` enables it), then the previous hook runs.
//! - **Traces**: an OpenTelemetry SDK tracer behind `tracing-opentelemetry`, with resource
//!   attributes from [`ServiceIdentity`](boost_config::ServiceIdentity) (`service.name`,
//!   `service.version`, `deployment.environment.name`, `service.namespace` = team), a
//!   parent-based trace-id-ratio sampler, and OTLP/gRPC export when [`OtlpSettings::enabled`].
//!   The global OpenTelemetry tracer provider and the W3C propagator are set too.
//!
//! # Across services
//!
//! [`propagation`] injects and extracts W3C `traceparent` / `tracestate` / `baggage` for
//! `http::HeaderMap` and tonic `MetadataMap`, whether or not `init` ran. On the receiving side
//! make the handler's span a child of the caller with [`OpenTelemetrySpanExt::set_parent`]
//! (re-exported here) *before* the span is first entered.
//!
//! # Tests
//!
//! [`testing::Capture`] records events and finished spans (with real OpenTelemetry ids) for
//! one test, without touching global state; [`builder`] builds the production subscriber
//! without installing it, e.g. writing to a [`testing::LogLines`].
//!
//! # Settings
//!
//! [`TracingSettings`] is the `[tracing]` config section. It implements
//! [`boost_config::Validate`] and [`boost_config::Document`]: the config loader reports every
//! value that cannot work under its key (`tracing.flush_timeout`, `tracing.otlp.sample_ratio`,
//! …), `init` and [`Builder::build`] run the same rules and return them as [`Error::Config`],
//! and the field docs become the comments of the generated reference config.
//!
//! # Edge cases
//!
//! - `init` installs process-wide state and works once; a second call returns
//!   [`Error::AlreadyInitialised`]. Use [`builder`]`(…).build()` for scoped subscribers.
//! - Dropping the [`TracingGuard`] (or awaiting [`TracingGuard::shutdown`]) waits at most
//!   [`TracingSettings::flush_timeout`] for the log queue and again for span export; a stuck
//!   stdout or an unreachable collector cannot hang shutdown. OTLP export runs on its own
//!   small runtime thread, so shutting down from a current-thread tokio runtime is safe.
//! - Span ids are looked up when a span is first entered or first logs an event; a parent
//!   set with `set_parent` after that is ignored by OpenTelemetry (`set_parent` returns an
//!   error).
//! - A field named like a line key (`level`, `message`, `service`, …) is written as
//!   `field.<name>` so it cannot shadow the line's own key; so is a span field called `name`
//!   inside its span object.
#![deny(missing_docs)]

mod error;
mod filter;
mod guard;
mod ids;
mod init;
mod log_layer;
mod otlp;
mod otlp_tls;
mod panic_hook;
pub mod propagation;
mod rate_limit;
mod redact;
mod render;
mod rules;
mod sampled;
mod settings;
pub mod testing;
mod timestamp;
mod writer;

pub use error::Error;
pub use filter::{AUDIT_TARGET, LogFilter};
pub use guard::TracingGuard;
pub use init::{Builder, builder, init};
pub use rate_limit::LOG_SUPPRESSED_EVENTS_TOTAL;
pub use sampled::sampled_trace_id;
pub use settings::{DEFAULT_REDACT, LogFormat, OtlpSettings, RateLimitSettings, TracingSettings};
pub use tracing_opentelemetry::OpenTelemetrySpanExt;
pub use writer::LOG_DROPPED_LINES_TOTAL;
