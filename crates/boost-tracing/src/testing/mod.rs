//! Capture log events and finished spans inside a test, and assert on them.
//!
//! A [`Capture`] is a complete subscriber of its own (registry, OpenTelemetry layer with real
//! trace and span ids, and a recording layer) that is installed *per thread* or *per future*,
//! never globally, so tests running in parallel never see each other's events.
//!
//! ```
//! use boost_tracing::testing::Capture;
//!
//! let capture = Capture::new();
//! {
//!     let _guard = capture.set_default(); // this thread only, until the guard drops
//!     let span = tracing::info_span!("checkout", order_id = 42);
//!     let _entered = span.enter();
//!     tracing::info!(user = "ada", "order placed");
//! }
//!
//! let event = capture.event_with_message("order placed").unwrap();
//! assert_eq!(event.level, tracing::Level::INFO);
//! assert_eq!(event.fields["user"], "ada");
//! assert_eq!(event.span_field("order_id").unwrap(), 42);
//!
//! let span = capture.span_named("checkout").unwrap();
//! assert_eq!(Some(span.trace_id), event.trace_id); // logs and spans correlate
//! assert_eq!(span.attributes["order_id"], 42);
//! ```
//!
//! # Async code and servers
//!
//! The recommended pattern for async tests — including tests that run a real tonic server — is
//! a current-thread runtime (`#[tokio::test]`, the default flavour) plus
//! [`Capture::set_default`]: every task spawned on that runtime (server connections, handlers,
//! clients) then runs on the test's thread and is captured.
//!
//! ```
//! # async fn handler() { tracing::info!("handled"); }
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use boost_tracing::testing::Capture;
//!
//! // #[tokio::test]
//! // async fn handler_logs() {
//! let capture = Capture::new();
//! let _guard = capture.set_default();
//! tokio::spawn(handler()).await.unwrap();
//! assert!(capture.event_with_message("handled").is_some());
//! // }
//! # }
//! ```
//!
//! With a multi-thread runtime, either build it with [`Capture::tokio_runtime`] (every worker
//! thread has the capture as its default), or attach the capture to a future explicitly with
//! `tracing::instrument::WithSubscriber::with_subscriber(fut, capture.dispatch())`.
//!
//! Spans are recorded when they *close*. A server's span can close a moment after the client
//! has its response; use [`Capture::wait_for_span`] for those.
//!
//! # The log lines themselves
//!
//! [`Capture`] records events as structured values, before formatting and redaction. To assert
//! on the lines a service really writes (schema, redaction), build the production subscriber
//! with [`crate::builder`] and a [`LogLines`] writer:
//!
//! ```
//! use boost_config::ServiceIdentity;
//! use boost_tracing::testing::LogLines;
//! use boost_tracing::{LogFormat, TracingSettings};
//!
//! let mut settings = TracingSettings::default();
//! settings.format = LogFormat::Json;
//! let lines = LogLines::new();
//! let (dispatch, _guard) = boost_tracing::builder(&settings, &ServiceIdentity::new("svc", "1"))
//!     .ignore_rust_log()
//!     .blocking_writer(lines.clone())
//!     .build()
//!     .unwrap();
//! tracing::dispatcher::with_default(&dispatch, || {
//!     tracing::info!(password = "hunter2", "login");
//! });
//! let line = &lines.json()[0];
//! assert_eq!(line["message"], "login");
//! assert_eq!(line["password"], "[REDACTED]");
//! ```

mod captured;
mod log_lines;
mod recorder;

pub use captured::{CapturedEvent, CapturedScope, CapturedSpan, CapturedSpanEvent};
pub use log_lines::LogLines;

use std::cell::RefCell;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Dispatch;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;

use crate::ids::DispatchCell;
use recorder::{CaptureProcessor, EventLayer};

/// The filter a [`Capture::new`] uses: everything, except the transport crates' internals.
pub const DEFAULT_CAPTURE_FILTER: &str =
    "trace,h2=off,hyper=off,hyper_util=off,tower=off,tonic::transport=off";

/// Records events and finished spans for assertions in a test. Cheap to clone (shared state).
#[derive(Clone)]
pub struct Capture {
    store: Arc<Store>,
    dispatch: Dispatch,
    provider: SdkTracerProvider,
}

#[derive(Debug, Default)]
struct Store {
    events: Mutex<Vec<CapturedEvent>>,
    spans: Mutex<Vec<CapturedSpan>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl fmt::Debug for Capture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Capture")
            .field("events", &lock(&self.store.events).len())
            .field("spans", &lock(&self.store.spans).len())
            .finish()
    }
}

impl Default for Capture {
    fn default() -> Self {
        Self::new()
    }
}

/// Keeps one do-nothing dispatcher alive for the whole test process.
///
/// While exactly one dispatcher is alive, tracing-core computes a call site's
/// interest, the first time any thread reaches it, from *that thread's*
/// default alone. A thread without a capture would then cache "never" for a
/// call site a capture's thread needs, and the capture would miss its events
/// for good (a flaky test). With two dispatchers alive it asks all of them.
/// The keeper enables nothing, so it costs nothing and raises no level.
fn keep_every_dispatcher_consulted() {
    static KEEPER: std::sync::OnceLock<Dispatch> = std::sync::OnceLock::new();
    KEEPER.get_or_init(|| Dispatch::new(tracing::subscriber::NoSubscriber::default()));
}

impl Capture {
    /// A capture with [`DEFAULT_CAPTURE_FILTER`].
    pub fn new() -> Self {
        Self::with_filter(DEFAULT_CAPTURE_FILTER)
    }

    /// A capture recording only what `directives` (`RUST_LOG` syntax) enables; invalid
    /// directives are skipped.
    pub fn with_filter(directives: &str) -> Self {
        keep_every_dispatcher_consulted();
        let store = Arc::new(Store::default());
        let provider = SdkTracerProvider::builder()
            .with_span_processor(CaptureProcessor(store.clone()))
            .build();
        let otel =
            tracing_opentelemetry::layer().with_tracer(provider.tracer("boost-tracing-test"));
        let subscriber = tracing_subscriber::registry()
            .with(EnvFilter::builder().parse_lossy(directives))
            .with(otel)
            .with(EventLayer {
                store: store.clone(),
                dispatch: DispatchCell::default(),
            });
        Self {
            store,
            dispatch: Dispatch::new(subscriber),
            provider,
        }
    }

    /// Makes this capture the current thread's subscriber until the guard drops.
    #[must_use = "the capture is only installed while the guard lives"]
    pub fn set_default(&self) -> DefaultGuard {
        let guard = tracing::dispatcher::set_default(&self.dispatch);
        // A call site first registered by a thread without this capture, racing
        // with its creation, can keep a cached "never" interest; recompute it
        // while the capture is in scope so tests in one binary don't interfere.
        tracing::callsite::rebuild_interest_cache();
        guard
    }

    /// The capture as a [`Dispatch`], for `with_subscriber` on futures or
    /// `tracing::dispatcher::with_default`.
    pub fn dispatch(&self) -> Dispatch {
        self.dispatch.clone()
    }

    /// A multi-thread tokio runtime whose worker (and blocking) threads all have this capture
    /// as their default subscriber.
    pub fn tokio_runtime(&self, worker_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
        thread_local! {
            static GUARD: RefCell<Option<DefaultGuard>> = const { RefCell::new(None) };
        }
        let dispatch = self.dispatch.clone();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(worker_threads.max(1))
            .enable_all()
            .on_thread_start(move || {
                let guard = tracing::dispatcher::set_default(&dispatch);
                GUARD.with(|g| *g.borrow_mut() = Some(guard));
            })
            .on_thread_stop(|| GUARD.with(|g| drop(g.borrow_mut().take())))
            .build()
    }

    /// Every event recorded so far, in order.
    pub fn events(&self) -> Vec<CapturedEvent> {
        lock(&self.store.events).clone()
    }

    /// Every span finished so far, in the order they closed.
    pub fn spans(&self) -> Vec<CapturedSpan> {
        lock(&self.store.spans).clone()
    }

    /// The first event whose message is exactly `message`.
    pub fn event_with_message(&self, message: &str) -> Option<CapturedEvent> {
        lock(&self.store.events)
            .iter()
            .find(|e| e.message == message)
            .cloned()
    }

    /// The first finished span named `name`.
    pub fn span_named(&self, name: &str) -> Option<CapturedSpan> {
        lock(&self.store.spans)
            .iter()
            .find(|s| s.name == name)
            .cloned()
    }

    /// Waits (asynchronously, so the tasks of a current-thread runtime keep running) until a
    /// span named `name` has finished, or `timeout` passes.
    pub async fn wait_for_span(&self, name: &str, timeout: Duration) -> Option<CapturedSpan> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(span) = self.span_named(name) {
                return Some(span);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Forgets everything recorded so far.
    pub fn clear(&self) {
        lock(&self.store.events).clear();
        lock(&self.store.spans).clear();
    }

    /// The tracer provider behind this capture (its spans end up in [`Capture::spans`]).
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpenTelemetrySpanExt;
    use crate::propagation::{extract_metadata, inject_metadata};

    #[test]
    fn captures_event_fields_span_fields_and_ids() {
        let capture = Capture::new();
        tracing::dispatcher::with_default(&capture.dispatch(), || {
            let span = tracing::info_span!("outer", tenant = "acme", attempt = 2_u64);
            let _e = span.enter();
            tracing::warn!(user = "ada", ok = true, "hello {}", "world");
        });
        let e = capture.event_with_message("hello world").unwrap();
        assert_eq!(e.level, tracing::Level::WARN);
        assert_eq!(e.fields["user"], "ada");
        assert_eq!(e.fields["ok"], true);
        assert_eq!(e.span_field("tenant").unwrap(), "acme");
        assert_eq!(e.spans[0].name, "outer");
        let s = capture.span_named("outer").unwrap();
        assert_eq!(e.trace_id, Some(s.trace_id));
        assert_eq!(e.span_id, Some(s.span_id));
        assert_eq!(s.parent_span_id, None);
    }

    #[test]
    fn captures_are_isolated_between_threads() {
        let a = Capture::new();
        let b = Capture::new();
        let _ga = a.set_default();
        std::thread::spawn(move || {
            let _gb = b.set_default();
            tracing::info!("from b");
            assert!(b.event_with_message("from b").is_some());
        })
        .join()
        .unwrap();
        assert!(a.events().is_empty());
    }

    #[test]
    fn parent_and_child_survive_metadata_round_trip() {
        let capture = Capture::new();
        let _g = capture.set_default();
        let mut md = tonic::metadata::MetadataMap::new();
        let client = tracing::info_span!("client_call");
        {
            let _e = client.enter();
            inject_metadata(&tracing::Span::current().context(), &mut md);
        }
        let server = tracing::info_span!("server_handle");
        server.set_parent(extract_metadata(&md)).unwrap();
        server.in_scope(|| tracing::info!("handled"));
        drop(server);
        drop(client);

        let client = capture.span_named("client_call").unwrap();
        let server = capture.span_named("server_handle").unwrap();
        assert_eq!(server.trace_id, client.trace_id);
        assert_eq!(server.parent_span_id, Some(client.span_id));
        assert!(server.parent_is_remote);
        let e = capture.event_with_message("handled").unwrap();
        assert_eq!(e.span_id, Some(server.span_id));
    }

    #[test]
    fn a_future_carries_its_capture_to_whichever_thread_polls_it() {
        use tracing::instrument::WithSubscriber as _;
        let capture = Capture::new();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::spawn(async { tracing::info!("inside") }.with_subscriber(capture.dispatch()))
                .await
                .unwrap();
            tracing::info!("outside");
        });
        assert!(capture.event_with_message("inside").is_some());
        assert!(capture.event_with_message("outside").is_none());
    }

    #[test]
    fn multi_thread_runtime_workers_are_captured() {
        let capture = Capture::new();
        let rt = capture.tokio_runtime(2).unwrap();
        rt.block_on(async {
            tokio::spawn(async { tracing::info!(worker = true, "on a worker") })
                .await
                .unwrap();
        });
        assert_eq!(
            capture.event_with_message("on a worker").unwrap().fields["worker"],
            true
        );
    }
}
