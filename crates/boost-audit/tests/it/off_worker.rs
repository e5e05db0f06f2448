//! `record_async` keeps the runtime's workers free while a record is written.

use std::sync::Arc;
use std::time::{Duration, Instant};

use boost_audit::{AuditLog, AuditRecord, AuditSink, ChainedRecord};

/// A sink as slow as a sick disk: every record takes this long to publish.
struct Slow(Duration);

impl AuditSink for Slow {
    fn publish(&self, _: &ChainedRecord) {
        std::thread::sleep(self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn a_slow_record_leaves_the_only_worker_serving_other_tasks() {
    const SLOW: Duration = Duration::from_millis(1500);
    let audit = AuditLog::in_memory("demo");
    audit.add_sink(Arc::new(Slow(SLOW)));
    let start = Instant::now();
    let writing = {
        let audit = audit.clone();
        tokio::spawn(async move {
            audit
                .record_async(AuditRecord::new(
                    "admin.refused",
                    "PUT /flags/x",
                    "forbidden",
                ))
                .await
        })
    };
    // Let the writer start, then see whether the one worker still serves
    // timers and other tasks: it must, long before the record is done.
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::spawn(async {}).await.unwrap();
    let waited = start.elapsed();
    assert!(
        waited < SLOW / 3,
        "the worker was held {waited:?} by a record being written"
    );
    let sealed = writing.await.unwrap().unwrap();
    assert_eq!(sealed.seq, 1);
    assert_eq!(audit.recent(10).len(), 1);
}

#[test]
fn outside_a_runtime_it_records_in_place() {
    let audit = AuditLog::in_memory("demo");
    let sealed = block_on_without_runtime(audit.record_async(AuditRecord::new(
        "loglevel.set",
        "log filter",
        "changed",
    )))
    .unwrap();
    assert_eq!(sealed.seq, 1);
}

/// Polls `future` to completion on this thread, with no tokio runtime.
fn block_on_without_runtime<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Waker};
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::yield_now();
    }
}
