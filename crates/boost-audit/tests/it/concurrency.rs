//! Records from many threads at once keep the chain valid.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use boost_audit::{AuditSink, ChainedRecord, verify};

use crate::{dir, open, record};

/// Counts records and checks they arrive in `seq` order.
#[derive(Default)]
struct InOrder {
    last: AtomicU64,
    out_of_order: AtomicU64,
}

impl AuditSink for InOrder {
    fn publish(&self, record: &ChainedRecord) {
        if self.last.swap(record.seq, Ordering::SeqCst) + 1 != record.seq {
            self.out_of_order.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn eight_threads_recording_at_once_keep_the_chain_valid() {
    const THREADS: usize = 8;
    const EACH: usize = 50;
    let dir = dir();
    let log = open(&dir.file);
    let sink = Arc::new(InOrder::default());
    log.add_sink(sink.clone());
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let log = log.clone();
            scope.spawn(move || {
                for n in 0..EACH {
                    log.record(record(t * 1000 + n)).unwrap();
                }
            });
        }
    });
    let total = (THREADS * EACH) as u64;
    assert_eq!(verify(&dir.file).unwrap().records, total);
    assert_eq!(sink.last.load(Ordering::SeqCst), total);
    assert_eq!(sink.out_of_order.load(Ordering::SeqCst), 0);
    let recent = log.recent(usize::MAX);
    assert_eq!(recent.len(), THREADS * EACH);
    assert!(recent.windows(2).all(|w| w[0].seq + 1 == w[1].seq));
}
