//! The two seams between the admin server and telemetry: changing the log
//! filter, and rendering metrics.

use std::sync::Arc;

use boost_config::ServiceIdentity;

use crate::error::{BoxError, Error};

/// How tracing is provided to the service.
pub(crate) enum TracingMode {
    /// `boost_tracing::init` with these settings when the service starts.
    Start(Box<boost_tracing::TracingSettings>),
    /// Someone else owns the subscriber; `/loglevel` uses this control.
    Given(Arc<dyn LogLevelControl>),
    /// No tracing set up here; `/loglevel` answers 501.
    Off,
}

impl Default for TracingMode {
    fn default() -> Self {
        Self::Start(Box::default())
    }
}

/// How metrics are provided to the service.
pub(crate) enum MetricsMode {
    /// `boost_metrics::install` with these settings when the service starts.
    Start(Box<boost_metrics::MetricsSettings>),
    /// Someone else installed a recorder; `/metrics` calls this.
    Given(RenderMetrics),
    /// No metrics; `/metrics` answers 501.
    Off,
}

impl Default for MetricsMode {
    fn default() -> Self {
        Self::Start(Box::default())
    }
}

/// Reads and changes the log filter at run time; `GET`/`PUT /loglevel` use it.
///
/// The service implements it for `boost_tracing::LogFilter` and uses that when
/// it starts tracing itself. Implement it to plug in another subscriber, or a
/// fake in tests.
pub trait LogLevelControl: Send + Sync + 'static {
    /// The filter in force, in `EnvFilter` syntax (`info,hello_service=debug`).
    fn current(&self) -> String;

    /// Replaces the filter; an invalid filter is an error and changes nothing.
    fn set(&self, filter: &str) -> Result<(), BoxError>;
}

impl LogLevelControl for boost_tracing::LogFilter {
    fn current(&self) -> String {
        boost_tracing::LogFilter::current(self)
    }

    fn set(&self, filter: &str) -> Result<(), BoxError> {
        boost_tracing::LogFilter::set(self, filter).map_err(Into::into)
    }
}

/// Renders metrics for `/metrics`, in the format asked for when it can (a
/// renderer given as a plain `Fn() -> String` always answers Prometheus
/// text); returns the format it wrote.
pub(crate) type RenderMetrics =
    Arc<dyn Fn(boost_metrics::ScrapeFormat) -> (boost_metrics::ScrapeFormat, String) + Send + Sync>;

/// Renders the effective configuration for `/config`.
pub(crate) type RenderConfig = Arc<dyn Fn() -> String + Send + Sync>;

/// Telemetry the service started or was given; flushed last at shutdown.
#[derive(Default)]
pub(crate) struct Telemetry {
    guard: Option<boost_tracing::TracingGuard>,
    log_level: Option<Arc<dyn LogLevelControl>>,
    metrics: Option<RenderMetrics>,
}

impl std::fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Telemetry")
            .field("tracing_started", &self.guard.is_some())
            .field("log_level", &self.log_level.is_some())
            .field("metrics", &self.metrics.is_some())
            .finish()
    }
}

/// Starts (or takes) tracing first, so everything after is logged, then
/// metrics. Must run inside a Tokio runtime (the OTLP
/// exporter is a task).
pub(crate) fn start(
    tracing: TracingMode,
    metrics: MetricsMode,
    identity: &ServiceIdentity,
) -> Result<Telemetry, Error> {
    let mut telemetry = Telemetry::default();
    match tracing {
        TracingMode::Start(settings) => {
            let guard = boost_tracing::init(&settings, identity).map_err(|e| Error::Telemetry {
                what: "tracing",
                source: e.into(),
            })?;
            telemetry.log_level = Some(Arc::new(guard.log_filter()));
            telemetry.guard = Some(guard);
        }
        TracingMode::Given(control) => telemetry.log_level = Some(control),
        TracingMode::Off => {}
    }
    match metrics {
        MetricsMode::Start(settings) => {
            let handle =
                boost_metrics::install(&settings, identity).map_err(|e| Error::Telemetry {
                    what: "metrics",
                    source: e.into(),
                })?;
            // Histogram observations inside a sampled trace carry its id as
            // an exemplar (OpenMetrics scrapes show them). Once per process.
            boost_metrics::set_trace_id_source(boost_tracing::sampled_trace_id);
            telemetry.metrics = Some(Arc::new(move |format| (format, handle.render_as(format))));
        }
        MetricsMode::Given(render) => telemetry.metrics = Some(render),
        MetricsMode::Off => {}
    }
    Ok(telemetry)
}

impl Telemetry {
    pub(crate) fn log_level(&self) -> Option<Arc<dyn LogLevelControl>> {
        self.log_level.clone()
    }

    pub(crate) fn render_metrics(&self) -> Option<RenderMetrics> {
        self.metrics.clone()
    }

    /// Flushes logs and spans.
    pub(crate) async fn shutdown(mut self) {
        // Bounded by `tracing.flush_timeout` per stage inside boost-tracing.
        if let Some(guard) = self.guard.take() {
            guard.shutdown().await;
        }
    }
}
