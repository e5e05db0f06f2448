//! [`TracingGuard`]: keeps logging and tracing alive, and flushes them on the way out.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::filter::LogFilter;
use crate::otlp::ExportRuntime;
use crate::writer::LineSink;

/// Keeps logging and tracing alive; flushes log lines and pending spans when dropped or when
/// [`shutdown`](TracingGuard::shutdown) is awaited, each within `flush_timeout` — it never
/// hangs on a stuck writer or an unreachable collector.
#[must_use = "dropping the guard flushes and stops logging; keep it until the end of main"]
pub struct TracingGuard {
    filter: LogFilter,
    sink: Arc<dyn LineSink>,
    provider: SdkTracerProvider,
    export_runtime: Option<ExportRuntime>,
    flush_timeout: Duration,
    done: bool,
}

impl std::fmt::Debug for TracingGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracingGuard")
            .field("filter", &self.filter)
            .field("dropped_lines", &self.dropped_lines())
            .finish_non_exhaustive()
    }
}

impl TracingGuard {
    pub(crate) fn new(
        filter: LogFilter,
        sink: Arc<dyn LineSink>,
        provider: SdkTracerProvider,
        export_runtime: Option<ExportRuntime>,
        flush_timeout: Duration,
    ) -> Self {
        Self {
            filter,
            sink,
            provider,
            export_runtime,
            flush_timeout,
            done: false,
        }
    }

    pub(crate) fn sink(&self) -> Arc<dyn LineSink> {
        self.sink.clone()
    }

    /// The handle to read and change the log filter at run time.
    pub fn log_filter(&self) -> LogFilter {
        self.filter.clone()
    }

    /// Log lines dropped so far because the writer queue was full (also counted in the
    /// `log_dropped_lines_total` metric).
    pub fn dropped_lines(&self) -> u64 {
        self.sink.dropped()
    }

    /// The tracer provider spans are exported through (e.g. to `force_flush` in a test).
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Flushes queued log lines and exports pending spans, then stops. Runs the blocking part
    /// on tokio's blocking pool when called inside a runtime, so it is safe on a
    /// current-thread runtime. Bounded by `flush_timeout` per stage.
    pub async fn shutdown(mut self) {
        self.done = true;
        let provider = self.provider.clone();
        let sink = self.sink.clone();
        let runtime = self.export_runtime.take();
        let timeout = self.flush_timeout;
        let (p, s) = (provider.clone(), sink.clone());
        let work = move || finish(&p, &*s, runtime, timeout);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            if handle.spawn_blocking(work).await.is_ok() {
                return;
            }
            // The blocking pool refused (runtime shutting down): finish here instead.
            finish(&provider, &*sink, None, timeout);
        } else {
            work();
        }
    }
}

fn finish(
    provider: &SdkTracerProvider,
    sink: &dyn LineSink,
    runtime: Option<ExportRuntime>,
    timeout: Duration,
) {
    let _ = provider.shutdown_with_timeout(timeout);
    drop(runtime);
    sink.close(timeout);
}

impl Drop for TracingGuard {
    fn drop(&mut self) {
        if !self.done {
            self.done = true;
            finish(
                &self.provider,
                &*self.sink,
                self.export_runtime.take(),
                self.flush_timeout,
            );
        }
    }
}
