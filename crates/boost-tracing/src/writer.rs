//! Where finished log lines go: a bounded queue drained by a background thread (the default,
//! never blocks the caller), or straight into a writer (benchmarks, tests).

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The metric counting log lines dropped because the writer queue was full. Same spelling as
/// `boost_metrics::conventions` (boost-tracing does not depend on boost-metrics).
pub const LOG_DROPPED_LINES_TOTAL: &str = "log_dropped_lines_total";

/// Something that takes whole log lines (each ending in `\n`).
pub(crate) trait LineSink: Send + Sync + 'static {
    /// Takes one line; must not block for long.
    fn write_line(&self, line: &[u8]);
    /// Waits until everything taken so far is written, at most `timeout`; `true` if it was.
    fn flush(&self, timeout: Duration) -> bool;
    /// Flushes (at most `timeout`) and stops taking lines.
    fn close(&self, timeout: Duration) -> bool;
    /// Lines dropped so far.
    fn dropped(&self) -> u64;
    /// Reports a writer that failed to start.
    fn check(&self) -> Result<(), crate::Error> {
        Ok(())
    }
}

/// How long the writer thread lets lines gather after waking up.
const BATCH_DELAY: Duration = Duration::from_millis(1);

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Writes each line directly, under a mutex. For benchmarks and tests; blocks on slow writers.
pub(crate) struct DirectSink<W>(Mutex<W>);

impl<W: Write + Send + 'static> DirectSink<W> {
    pub(crate) fn new(w: W) -> Self {
        Self(Mutex::new(w))
    }
}

impl<W: Write + Send + 'static> LineSink for DirectSink<W> {
    fn write_line(&self, line: &[u8]) {
        let _ = lock(&self.0).write_all(line);
    }
    fn flush(&self, _timeout: Duration) -> bool {
        lock(&self.0).flush().is_ok()
    }
    fn close(&self, timeout: Duration) -> bool {
        self.flush(timeout)
    }
    fn dropped(&self) -> u64 {
        0
    }
}

/// A bounded line queue drained by one background thread.
///
/// Callers append to a shared buffer under a short lock (a `memcpy`); when `capacity` lines
/// are waiting, new lines are dropped and counted instead. The thread swaps the buffer out and
/// writes it in one `write_all`, so a slow or stuck writer never holds the lock.
pub(crate) struct QueueSink {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when lines arrive (only if the writer thread is waiting) or on close.
    has_lines: Condvar,
    /// Signalled when the writer thread finished a batch.
    wrote: Condvar,
    dropped: AtomicU64,
}

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    lines: usize,
    capacity: usize,
    writer_waiting: bool,
    writing: bool,
    closed: bool,
}

impl QueueSink {
    pub(crate) fn new<W: Write + Send + 'static>(
        writer: W,
        capacity: usize,
    ) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                capacity: capacity.max(1),
                buf: Vec::with_capacity(64 * 1024),
                ..State::default()
            }),
            has_lines: Condvar::new(),
            wrote: Condvar::new(),
            dropped: AtomicU64::new(0),
        });
        let worker = shared.clone();
        // Detached: it exits by itself once closed and drained, and is never joined, so a
        // writer stuck in `write` cannot hang shutdown.
        std::thread::Builder::new()
            .name("boost-log-writer".into())
            .spawn(move || drain(&worker, writer))?;
        Ok(Self { shared })
    }
}

fn drain<W: Write>(shared: &Shared, mut writer: W) {
    let mut batch = Vec::with_capacity(64 * 1024);
    loop {
        {
            let mut st = lock(&shared.state);
            while st.buf.is_empty() && !st.closed {
                st.writer_waiting = true;
                st = shared
                    .has_lines
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner);
                st.writer_waiting = false;
            }
            if st.buf.is_empty() && st.closed {
                return;
            }
            if !st.closed && st.lines < st.capacity / 2 {
                // Let a batch gather: one wake-up per millisecond under load, instead of one
                // per line (producers only signal a waiting thread).
                drop(st);
                std::thread::sleep(BATCH_DELAY);
                st = lock(&shared.state);
            }
            std::mem::swap(&mut st.buf, &mut batch);
            st.lines = 0;
            st.writing = true;
        }
        let _ = writer.write_all(&batch);
        let _ = writer.flush();
        batch.clear();
        if batch.capacity() > 1 << 20 {
            batch.shrink_to(64 * 1024);
        }
        lock(&shared.state).writing = false;
        shared.wrote.notify_all();
    }
}

impl LineSink for QueueSink {
    fn write_line(&self, line: &[u8]) {
        let mut st = lock(&self.shared.state);
        if st.closed || st.lines >= st.capacity {
            drop(st);
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            metrics::counter!(LOG_DROPPED_LINES_TOTAL).increment(1);
            return;
        }
        st.buf.extend_from_slice(line);
        st.lines += 1;
        let wake = st.writer_waiting;
        drop(st);
        if wake {
            self.shared.has_lines.notify_one();
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        // A huge configured flush timeout means "wait long", not a panic.
        let now = Instant::now();
        let deadline = now
            .checked_add(timeout)
            .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365));
        let mut st = lock(&self.shared.state);
        if st.writer_waiting && !st.buf.is_empty() {
            self.shared.has_lines.notify_one();
        }
        while !st.buf.is_empty() || st.writing {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            st = self
                .shared
                .wrote
                .wait_timeout(st, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    fn close(&self, timeout: Duration) -> bool {
        let drained = self.flush(timeout);
        lock(&self.shared.state).closed = true;
        self.shared.has_lines.notify_all();
        drained
    }

    fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for QueueSink {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.has_lines.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn queued_lines_are_written_in_order_and_flushed_on_close() {
        let out = Shared::default();
        let sink = QueueSink::new(out.clone(), 1000).unwrap();
        for i in 0..100 {
            sink.write_line(format!("{i}\n").as_bytes());
        }
        assert!(sink.close(Duration::from_secs(5)));
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 100);
        assert_eq!(lines[99], "99");
        sink.write_line(b"late\n");
        assert_eq!(sink.dropped(), 1);
    }
}
