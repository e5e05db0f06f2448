//! [`init`] and [`Builder`]: assemble the subscriber and install it.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use boost_config::{Problems, ServiceIdentity};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SpanProcessor;
use tracing::Dispatch;
use tracing_subscriber::layer::{Layer as _, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{filter, reload};

use crate::filter::{LogFilter, parse};
use crate::guard::TracingGuard;
use crate::log_layer::LogLayer;
use crate::otlp;
use crate::redact::Redactor;
use crate::settings::TracingSettings;
use crate::writer::{DirectSink, LineSink, QueueSink};
use crate::{Error, panic_hook};

/// The config section the settings are checked under: problem keys read `tracing.otlp.timeout`,
/// as the loader reports them.
const SECTION: &str = "tracing";

/// Set once `init` has installed the global subscriber.
static INITIALISED: AtomicBool = AtomicBool::new(false);

/// Installs logging and tracing for the whole process, writing log lines to stdout.
///
/// Call once, at start-up, and keep the guard until the end of `main`: dropping it (or
/// awaiting [`TracingGuard::shutdown`]) flushes queued log lines and exports pending spans.
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), boost_tracing::Error> {
/// use boost_config::ServiceIdentity;
/// use boost_tracing::TracingSettings;
///
/// let identity = ServiceIdentity::new("hello-service", env!("CARGO_PKG_VERSION"));
/// let guard = boost_tracing::init(&TracingSettings::default(), &identity)?;
/// tracing::info!(port = 50051, "listening");
/// guard.shutdown().await;
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`Error::Config`] when the settings break their rules, listing every problem under its key
/// (`tracing.flush_timeout`, `tracing.otlp.sample_ratio`, …; the same list the config loader
/// reports); [`Error::AlreadyInitialised`] on a second call; [`Error::InvalidFilter`] when
/// `RUST_LOG` is not valid; [`Error::Otlp`] when the OTLP exporter cannot be set up;
/// [`Error::Writer`] when the writer thread cannot start.
pub fn init(settings: &TracingSettings, identity: &ServiceIdentity) -> Result<TracingGuard, Error> {
    builder(settings, identity).init()
}

/// A [`Builder`] for the given settings, to change the writer or build a subscriber without
/// installing it (tests, benchmarks).
pub fn builder(settings: &TracingSettings, identity: &ServiceIdentity) -> Builder {
    Builder {
        settings: settings.clone(),
        identity: identity.clone(),
        sink: None,
        read_rust_log: true,
        processors: Vec::new(),
    }
}

/// Assembles the subscriber: reloadable filter, OpenTelemetry layer, log line layer.
///
/// ```
/// # fn main() -> Result<(), boost_tracing::Error> {
/// use boost_config::ServiceIdentity;
/// use boost_tracing::{TracingSettings, builder};
///
/// let (dispatch, _guard) = builder(&TracingSettings::default(), &ServiceIdentity::new("svc", "1"))
///     .writer(std::io::sink())
///     .build()?;
/// tracing::dispatcher::with_default(&dispatch, || tracing::info!("not global"));
/// # Ok(()) }
/// ```
#[must_use = "a builder does nothing until `build` or `init`"]
pub struct Builder {
    settings: TracingSettings,
    identity: ServiceIdentity,
    sink: Option<Arc<dyn LineSink>>,
    read_rust_log: bool,
    processors: Vec<Box<dyn SpanProcessor>>,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("settings", &self.settings)
            .field("identity", &self.identity)
            .field("read_rust_log", &self.read_rust_log)
            .field("processors", &self.processors.len())
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// Writes log lines to `writer` from a background thread through the bounded queue
    /// (`queue_lines`), instead of stdout. If the thread cannot start, `build`/`init` return
    /// [`Error::Writer`].
    pub fn writer<W: Write + Send + 'static>(mut self, writer: W) -> Self {
        match QueueSink::new(writer, self.settings.queue_lines) {
            Ok(sink) => self.sink = Some(Arc::new(sink)),
            Err(e) => self.sink = Some(Arc::new(FailedSink(Some(e).into()))),
        }
        self
    }

    /// Writes log lines to `writer` synchronously on the logging thread, without a queue.
    /// Blocks callers while the writer blocks: for benchmarks and tests only.
    pub fn blocking_writer<W: Write + Send + 'static>(mut self, writer: W) -> Self {
        self.sink = Some(Arc::new(DirectSink::new(writer)));
        self
    }

    /// Ignores the `RUST_LOG` environment variable (uses `filter` from the settings only).
    pub fn ignore_rust_log(mut self) -> Self {
        self.read_rust_log = false;
        self
    }

    /// Sends finished spans to `processor` too (and records spans even when OTLP export is
    /// off, sampling new traces with `otlp.sample_ratio`).
    pub fn span_processor<P: SpanProcessor + 'static>(mut self, processor: P) -> Self {
        self.processors.push(Box::new(processor));
        self
    }

    /// Builds the subscriber without installing it.
    ///
    /// # Errors
    /// See [`init`].
    pub fn build(self) -> Result<(Dispatch, TracingGuard), Error> {
        let parts = self.assemble()?;
        Ok((parts.0, parts.1))
    }

    /// Builds the subscriber and installs it for the whole process, with the panic hook (if
    /// enabled), the global tracer provider and the W3C propagator.
    ///
    /// # Errors
    /// See [`init`].
    pub fn init(self) -> Result<TracingGuard, Error> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(Error::AlreadyInitialised);
        }
        let panic_hook = self.settings.panic_hook;
        let (dispatch, guard) = match self.assemble() {
            Ok(parts) => parts,
            Err(e) => {
                INITIALISED.store(false, Ordering::SeqCst);
                return Err(e);
            }
        };
        if tracing::dispatcher::has_been_set() {
            return Err(Error::AlreadyInitialised);
        }
        // Installs the subscriber, then forwards `log` records to it (fails harmlessly when
        // another `log` logger exists).
        let _ = dispatch.try_init();
        opentelemetry::global::set_tracer_provider(guard.tracer_provider().clone());
        opentelemetry::global::set_text_map_propagator(
            opentelemetry::propagation::TextMapCompositePropagator::new(vec![
                Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
                Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
            ]),
        );
        if panic_hook {
            panic_hook::install(guard.sink());
        }
        Ok(guard)
    }

    fn assemble(self) -> Result<(Dispatch, TracingGuard), Error> {
        let settings = self.settings;
        Problems::of(SECTION, &settings)
            .into_result(format!("the tracing of {}", self.identity.name))
            .map_err(Error::Config)?;
        let (directives, from_env) = match std::env::var("RUST_LOG") {
            Ok(env) if self.read_rust_log && !env.trim().is_empty() => (env, true),
            _ => (settings.filter.clone(), false),
        };
        // Say where a bad filter came from: RUST_LOG silently overrides tracing.filter.
        let env_filter = parse(&directives).map_err(|error| match error {
            Error::InvalidFilter { filter, reason } if from_env => Error::InvalidFilter {
                filter,
                reason: format!("{reason}; it is the RUST_LOG environment variable, which overrides tracing.filter"),
            },
            other => other,
        })?;
        let sink: Arc<dyn LineSink> = match self.sink {
            Some(sink) => sink,
            None => Arc::new(
                QueueSink::new(std::io::stdout(), settings.queue_lines).map_err(Error::Writer)?,
            ),
        };
        sink.check()?;

        let span_events = settings.otlp.enabled || !self.processors.is_empty();
        let redactor = Redactor::new(&settings.redact);
        let (provider, export_runtime) =
            otlp::provider(&settings.otlp, &self.identity, self.processors, &redactor)?;
        let tracer = provider.tracer("boost-tracing");

        let (filter_layer, handle) = reload::Layer::new(env_filter);
        // Span events are only worth building when spans are recorded.
        let otel = tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_filter(filter::filter_fn(move |meta| span_events || meta.is_span()));
        let log = LogLayer::new(
            settings.format,
            &self.identity.name,
            redactor,
            sink.clone(),
            settings.rate_limit.per_second,
            settings.max_field_value_bytes(),
        );
        // The filter is the outermost layer: a callsite it disables gets `Interest::never`
        // and costs ~1 ns; the per-layer filter on the OpenTelemetry layer cannot turn that
        // into `sometimes` from outside.
        let subscriber = tracing_subscriber::registry()
            .with(otel)
            .with(log)
            .with(filter_layer);
        let reload = move |filter| handle.reload(filter).map_err(|e| e.to_string());
        let guard = TracingGuard::new(
            LogFilter::new(Arc::new(reload), directives),
            sink,
            provider,
            export_runtime,
            settings.flush_timeout,
        );
        Ok((Dispatch::new(subscriber), guard))
    }
}

/// Stands in for a writer whose thread could not start; `build` reports the error.
struct FailedSink(std::sync::Mutex<Option<std::io::Error>>);

impl LineSink for FailedSink {
    fn write_line(&self, _line: &[u8]) {}
    fn flush(&self, _timeout: Duration) -> bool {
        true
    }
    fn close(&self, _timeout: Duration) -> bool {
        true
    }
    fn dropped(&self) -> u64 {
        0
    }
    fn check(&self) -> Result<(), Error> {
        match self.0.lock().ok().and_then(|mut e| e.take()) {
            Some(e) => Err(Error::Writer(e)),
            None => Ok(()),
        }
    }
}
