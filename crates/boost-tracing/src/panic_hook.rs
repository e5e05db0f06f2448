//! The panic hook: a panic becomes one structured `error` event, then the previous hook runs.

use std::backtrace::{Backtrace, BacktraceStatus};
use std::panic::PanicHookInfo;
use std::sync::Arc;
use std::time::Duration;

use crate::writer::LineSink;

/// How long the hook waits for the log line to reach the writer before the previous hook runs
/// (the process may be about to exit).
const FLUSH_ON_PANIC: Duration = Duration::from_millis(250);

/// Installs the hook, chaining to the one installed before.
pub(crate) fn install(sink: Arc<dyn LineSink>) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        log_panic(info);
        sink.flush(FLUSH_ON_PANIC);
        previous(info);
    }));
}

/// Emits the `error` event for one panic: target `panic`, message = the panic message, fields
/// `location` (`file:line:column`), `thread`, and `backtrace` when backtraces are enabled
/// (`RUST_BACKTRACE=1`).
pub(crate) fn log_panic(info: &PanicHookInfo<'_>) {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
        .unwrap_or_default();
    let thread = std::thread::current();
    let thread = thread.name().unwrap_or("<unnamed>");
    let backtrace = Backtrace::capture();
    if backtrace.status() == BacktraceStatus::Captured {
        tracing::error!(target: "panic", location, thread, backtrace = %backtrace, "{message}");
    } else {
        tracing::error!(target: "panic", location, thread, "{message}");
    }
}
