//! [`DirectHistogram`]: the histogram handles the kit keeps for itself
//! ([`RpcMetrics`](crate::RpcMetrics)) hold the store's cell directly when
//! the current `metrics` recorder is the kit's own [`MetricsRecorder`](crate::MetricsRecorder),
//! so an observation skips the facade's virtual call.
//!
//! Registration still goes through the facade (`metrics::with_recorder`,
//! the recorder's `register_histogram`, the cardinality guard), so the cell
//! is exactly the one a `metrics::histogram!` with the same key lands in.
//! While the kit registers, a thread-local asks the store to hand the cell
//! out as well, and the kit's recorder stamps it with its own address; the
//! kit keeps the cell only when that address is the recorder it called and
//! the object called is the kit recorder's size. Behind any other recorder —
//! a fan-out, prefix or filter layer wrapping the kit's, or another recorder
//! entirely — the stamp is missing, names another address or the sizes
//! differ, and the handle is the facade's as before. (The one layer this
//! cannot tell apart is a stateless newtype around `MetricsRecorder` that
//! wraps the handles it returns; wrap the kit's recorder in anything with a
//! field of its own and its handles are used.)

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use metrics::{Histogram, Key, Recorder};

use super::cells::HistogramCell;

thread_local! {
    /// Set while the kit registers a direct handle on this thread.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// The cell the store handed out during that registration.
    static CELL: RefCell<Option<Arc<HistogramCell>>> = const { RefCell::new(None) };
    /// The kit recorder's address and the cell, once stamped.
    static STAMPED: RefCell<Option<(usize, Arc<HistogramCell>)>> = const { RefCell::new(None) };
}

/// A kept histogram handle: the kit store's cell, or the facade's handle.
#[derive(Clone, Debug)]
pub(crate) enum DirectHistogram {
    /// The current recorder was the kit's: record into its cell.
    Kit(Arc<HistogramCell>),
    /// Any other recorder: through the facade.
    Facade(Histogram),
}

impl DirectHistogram {
    /// Registers `key` with `recorder` (the current one) and keeps its cell
    /// when `recorder` is the kit's.
    pub(crate) fn register(recorder: &dyn Recorder, key: &Key) -> Self {
        let _ = STAMPED.try_with(|stamped| stamped.borrow_mut().take());
        let _ = ARMED.try_with(|armed| armed.set(true));
        let handle = recorder.register_histogram(key, &crate::handle::metadata());
        let _ = ARMED.try_with(|armed| armed.set(false));
        let _ = CELL.try_with(|cell| cell.borrow_mut().take());
        let stamped = STAMPED
            .try_with(|stamped| stamped.borrow_mut().take())
            .ok()
            .flatten();
        // The kit's recorder at the address called, and the object called is
        // no bigger than it: a layer holding the kit's recorder as its first
        // field shares its address but has state of its own.
        let called = std::ptr::from_ref(recorder).cast::<()>().addr();
        let kit_sized = std::mem::size_of_val(recorder)
            == std::mem::size_of::<crate::MetricsRecorder>()
            && std::mem::align_of_val(recorder) == std::mem::align_of::<crate::MetricsRecorder>();
        match stamped {
            Some((address, cell)) if address == called && kit_sized => Self::Kit(cell),
            _ => Self::Facade(handle),
        }
    }

    /// Records one observation.
    #[inline]
    pub(crate) fn record(&self, value: f64) {
        match self {
            Self::Kit(cell) => cell.observe(value, 1),
            Self::Facade(handle) => handle.record(value),
        }
    }
}

/// Called by the store for every histogram it hands out: keeps the cell
/// while the kit is registering a direct handle on this thread.
#[inline]
pub(crate) fn offer(cell: &Arc<HistogramCell>) {
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = CELL.try_with(|slot| *slot.borrow_mut() = Some(Arc::clone(cell)));
    }
}

/// Called by the kit's recorder after its store registered a histogram:
/// stamps the offered cell with the recorder's `address`.
#[inline]
pub(crate) fn stamp(address: usize) {
    if ARMED.try_with(Cell::get).unwrap_or(false)
        && let Ok(Some(cell)) = CELL.try_with(|slot| slot.borrow_mut().take())
    {
        let _ = STAMPED.try_with(|stamped| *stamped.borrow_mut() = Some((address, cell)));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use boost_config::ServiceIdentity;
    use metrics::{Counter, Gauge, HistogramFn, KeyName, Metadata, SharedString, Unit};

    use super::*;
    use crate::{MetricsHandle, MetricsSettings, RpcMetrics};

    fn kit() -> (crate::MetricsRecorder, MetricsHandle) {
        MetricsHandle::build(&MetricsSettings::default(), &ServiceIdentity::default())
            .unwrap_or_else(|e| panic!("build: {e}"))
    }

    fn key() -> Key {
        Key::from_parts(
            "jobs_run_duration_seconds",
            vec![metrics::Label::new("queue", "a")],
        )
    }

    /// A layer over the kit's recorder that counts every observation made
    /// through the handles it gives out (as a fan-out or tee layer would).
    struct Tee {
        inner: crate::MetricsRecorder,
        seen: Arc<AtomicU64>,
    }

    struct TeeHistogram {
        inner: Histogram,
        seen: Arc<AtomicU64>,
    }

    impl HistogramFn for TeeHistogram {
        fn record(&self, value: f64) {
            self.seen.fetch_add(1, Ordering::Relaxed);
            self.inner.record(value);
        }
    }

    impl Recorder for Tee {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
            self.inner.register_counter(key, metadata)
        }
        fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
            self.inner.register_gauge(key, metadata)
        }
        fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
            Histogram::from_arc(Arc::new(TeeHistogram {
                inner: self.inner.register_histogram(key, metadata),
                seen: Arc::clone(&self.seen),
            }))
        }
    }

    #[test]
    fn behind_the_kit_recorder_the_handle_holds_the_cell_and_shares_the_macros_series() {
        let (recorder, handle) = kit();
        let direct = DirectHistogram::register(&recorder, &key());
        assert!(matches!(direct, DirectHistogram::Kit(_)), "{direct:?}");
        direct.record(0.003);
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!("jobs_run_duration_seconds", "queue" => "a").record(0.003);
        });
        let scrape = handle.render();
        assert!(
            scrape.contains(r#"jobs_run_duration_seconds_count{queue="a"} 2"#),
            "{scrape}"
        );
    }

    #[test]
    fn behind_another_recorder_or_a_layer_over_the_kits_the_handle_is_the_facades() {
        let direct = DirectHistogram::register(&metrics::NoopRecorder, &key());
        assert!(matches!(direct, DirectHistogram::Facade(_)), "{direct:?}");

        let (inner, handle) = kit();
        let tee = Tee {
            inner,
            seen: Arc::default(),
        };
        let direct = DirectHistogram::register(&tee, &key());
        assert!(matches!(direct, DirectHistogram::Facade(_)), "{direct:?}");
        direct.record(0.003);
        assert_eq!(tee.seen.load(Ordering::Relaxed), 1);
        let scrape = handle.render();
        assert!(
            scrape.contains(r#"jobs_run_duration_seconds_count{queue="a"} 1"#),
            "{scrape}"
        );
        // A later registration straight on the kit's recorder is direct again:
        // nothing of the layer's registration was left behind.
        assert!(matches!(
            DirectHistogram::register(&tee.inner, &key()),
            DirectHistogram::Kit(_)
        ));
    }

    #[test]
    fn rpc_handles_through_a_layer_still_reach_the_layer() {
        let (inner, handle) = kit();
        let tee = Tee {
            inner,
            seen: Arc::default(),
        };
        metrics::with_local_recorder(&tee, || {
            let method = RpcMetrics::server().method("a.v1.A/B");
            method.record_seconds(0, 0.003);
            method.record_seconds(0, 0.003);
        });
        assert_eq!(tee.seen.load(Ordering::Relaxed), 2);
        assert!(
            handle
                .render()
                .contains(r#"rpc_status_code="OK",le="0.005"} 2"#)
        );
    }
}
