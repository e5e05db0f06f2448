//! [`CounterHandle`], [`GaugeHandle`], [`HistogramHandle`]: the handles the
//! kit hands out ([`MetricDef::register_counter`](crate::MetricDef::register_counter)
//! and the others, [`RpcMetrics`](crate::RpcMetrics)) hold the store's cell
//! directly when the current `metrics` recorder is the kit's own
//! [`MetricsRecorder`](crate::MetricsRecorder), so an update skips the
//! facade's virtual call (and is inlined where it is made).
//!
//! Registration still goes through the facade (`metrics::with_recorder`,
//! the recorder's `register_*`, the cardinality guard), so the cell is
//! exactly the one a `metrics::counter!` (or `gauge!`, `histogram!`) with the
//! same key lands in. While the kit registers, a thread-local asks the store
//! to hand the cell out as well, and the kit's recorder stamps it with its
//! own address; the kit keeps the cell only when that address is the
//! recorder it called and the object called is the kit recorder's size.
//! Behind any other recorder — a fan-out, prefix or filter layer wrapping the
//! kit's, or another recorder entirely — the stamp is missing, names another
//! address or the sizes differ, and the handle is the facade's as before.
//! (The one layer this cannot tell apart is a stateless newtype around
//! `MetricsRecorder` that wraps the handles it returns; wrap the kit's
//! recorder in anything with a field of its own and its handles are used.)

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use metrics::{Counter, CounterFn, Gauge, GaugeFn, Histogram, IntoF64, Key, Recorder};

use super::Cell as StoreCell;
use super::cells::{CounterCell, GaugeCell, HistogramCell};

thread_local! {
    /// Set while the kit registers a direct handle on this thread.
    static ARMED: Cell<bool> = const { Cell::new(false) };
    /// The cell the store handed out during that registration.
    static OFFERED: RefCell<Option<StoreCell>> = const { RefCell::new(None) };
    /// The kit recorder's address and the cell, once stamped.
    static STAMPED: RefCell<Option<(usize, StoreCell)>> = const { RefCell::new(None) };
}

/// A kept handle: the kit store's cell, or the facade's handle.
#[derive(Debug)]
enum Direct<K, F> {
    /// The current recorder was the kit's: update its cell.
    Kit(Arc<K>),
    /// Any other recorder: through the facade.
    Facade(F),
}

impl<K, F> Direct<K, F> {
    #[cfg(test)]
    fn is_kit(&self) -> bool {
        matches!(self, Self::Kit(_))
    }
}

impl<K, F: Clone> Clone for Direct<K, F> {
    fn clone(&self) -> Self {
        match self {
            Self::Kit(cell) => Self::Kit(Arc::clone(cell)),
            Self::Facade(handle) => Self::Facade(handle.clone()),
        }
    }
}

/// Registers through `register` (a `register_*` call on `recorder`) and
/// returns the cell `pick` finds in the stamp when `recorder` is the kit's.
fn register<K, F>(
    recorder: &dyn Recorder,
    register: impl FnOnce(&dyn Recorder) -> F,
    pick: fn(StoreCell) -> Option<Arc<K>>,
) -> Direct<K, F> {
    let _ = STAMPED.try_with(|stamped| stamped.borrow_mut().take());
    let _ = ARMED.try_with(|armed| armed.set(true));
    let handle = register(recorder);
    let _ = ARMED.try_with(|armed| armed.set(false));
    let _ = OFFERED.try_with(|offered| offered.borrow_mut().take());
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
        Some((address, cell)) if address == called && kit_sized => match pick(cell) {
            Some(cell) => Direct::Kit(cell),
            None => Direct::Facade(handle),
        },
        _ => Direct::Facade(handle),
    }
}

/// Called by the store for every cell it hands out: keeps it while the kit
/// is registering a direct handle on this thread.
#[inline]
pub(super) fn offer(cell: impl FnOnce() -> StoreCell) {
    if ARMED.try_with(Cell::get).unwrap_or(false) {
        let _ = OFFERED.try_with(|offered| *offered.borrow_mut() = Some(cell()));
    }
}

/// Called by the kit's recorder after its store registered a series:
/// stamps the offered cell with the recorder's `address`.
#[inline]
pub(crate) fn stamp(address: usize) {
    if ARMED.try_with(Cell::get).unwrap_or(false)
        && let Ok(Some(cell)) = OFFERED.try_with(|offered| offered.borrow_mut().take())
    {
        let _ = STAMPED.try_with(|stamped| *stamped.borrow_mut() = Some((address, cell)));
    }
}

/// A counter handle from the kit: updates the kit store's cell directly
/// when the recorder it was registered with is the kit's, else goes through
/// the `metrics` facade. Same methods as [`metrics::Counter`], and converts
/// into one; cheap to clone.
#[derive(Clone, Debug)]
#[must_use = "counters do nothing unless you use them"]
pub struct CounterHandle(Direct<CounterCell, Counter>);

impl CounterHandle {
    /// Registers `key` with `recorder`.
    pub(crate) fn register(recorder: &dyn Recorder, key: &Key) -> Self {
        Self(register(
            recorder,
            |r| r.register_counter(key, &crate::handle::metadata()),
            |cell| match cell {
                StoreCell::Counter(cell) => Some(cell),
                _ => None,
            },
        ))
    }

    /// A handle that counts nothing.
    pub const fn noop() -> Self {
        Self(Direct::Facade(Counter::noop()))
    }

    /// Adds `value`.
    #[inline]
    pub fn increment(&self, value: u64) {
        match &self.0 {
            Direct::Kit(cell) => cell.increment(value),
            Direct::Facade(handle) => handle.increment(value),
        }
    }

    /// Raises the counter to `value` if it is below.
    pub fn absolute(&self, value: u64) {
        match &self.0 {
            Direct::Kit(cell) => cell.absolute(value),
            Direct::Facade(handle) => handle.absolute(value),
        }
    }
}

impl From<CounterHandle> for Counter {
    fn from(handle: CounterHandle) -> Self {
        match handle.0 {
            Direct::Kit(cell) => Counter::from_arc(cell),
            Direct::Facade(handle) => handle,
        }
    }
}

/// A gauge handle from the kit (see [`CounterHandle`]): same methods as
/// [`metrics::Gauge`], and converts into one.
#[derive(Clone, Debug)]
#[must_use = "gauges do nothing unless you use them"]
pub struct GaugeHandle(Direct<GaugeCell, Gauge>);

impl GaugeHandle {
    /// Registers `key` with `recorder`.
    pub(crate) fn register(recorder: &dyn Recorder, key: &Key) -> Self {
        Self(register(
            recorder,
            |r| r.register_gauge(key, &crate::handle::metadata()),
            |cell| match cell {
                StoreCell::Gauge(cell) => Some(cell),
                _ => None,
            },
        ))
    }

    /// A handle that records nothing.
    pub const fn noop() -> Self {
        Self(Direct::Facade(Gauge::noop()))
    }

    /// Adds `value`.
    #[inline]
    pub fn increment<T: IntoF64>(&self, value: T) {
        match &self.0 {
            Direct::Kit(cell) => cell.increment(value.into_f64()),
            Direct::Facade(handle) => handle.increment(value),
        }
    }

    /// Subtracts `value`.
    #[inline]
    pub fn decrement<T: IntoF64>(&self, value: T) {
        match &self.0 {
            Direct::Kit(cell) => cell.decrement(value.into_f64()),
            Direct::Facade(handle) => handle.decrement(value),
        }
    }

    /// Sets the gauge to `value`.
    #[inline]
    pub fn set<T: IntoF64>(&self, value: T) {
        match &self.0 {
            Direct::Kit(cell) => cell.set(value.into_f64()),
            Direct::Facade(handle) => handle.set(value),
        }
    }
}

impl From<GaugeHandle> for Gauge {
    fn from(handle: GaugeHandle) -> Self {
        match handle.0 {
            Direct::Kit(cell) => Gauge::from_arc(cell),
            Direct::Facade(handle) => handle,
        }
    }
}

/// A histogram handle from the kit (see [`CounterHandle`]): same methods as
/// [`metrics::Histogram`], and converts into one.
#[derive(Clone, Debug)]
#[must_use = "histograms do nothing unless you use them"]
pub struct HistogramHandle(Direct<HistogramCell, Histogram>);

impl HistogramHandle {
    /// Registers `key` with `recorder`.
    pub(crate) fn register(recorder: &dyn Recorder, key: &Key) -> Self {
        Self(register(
            recorder,
            |r| r.register_histogram(key, &crate::handle::metadata()),
            |cell| match cell {
                StoreCell::Histogram(cell) => Some(cell),
                _ => None,
            },
        ))
    }

    /// A handle that records nothing.
    pub const fn noop() -> Self {
        Self(Direct::Facade(Histogram::noop()))
    }

    /// Records one observation of `value`.
    #[inline]
    pub fn record<T: IntoF64>(&self, value: T) {
        match &self.0 {
            Direct::Kit(cell) => cell.observe(value.into_f64(), 1),
            Direct::Facade(handle) => handle.record(value),
        }
    }

    /// Records `count` observations of `value`.
    pub fn record_many<T: IntoF64>(&self, value: T, count: usize) {
        match &self.0 {
            Direct::Kit(cell) => cell.observe(value.into_f64(), count as u64),
            Direct::Facade(handle) => handle.record_many(value, count),
        }
    }

    /// Whether updates go to the kit store's cell directly.
    #[cfg(test)]
    pub(crate) fn is_direct(&self) -> bool {
        self.0.is_kit()
    }
}

impl From<HistogramHandle> for Histogram {
    fn from(handle: HistogramHandle) -> Self {
        match handle.0 {
            Direct::Kit(cell) => Histogram::from_arc(cell),
            Direct::Facade(handle) => handle,
        }
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
        let direct = HistogramHandle::register(&recorder, &key());
        assert!(direct.is_direct(), "{direct:?}");
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
        let direct = HistogramHandle::register(&metrics::NoopRecorder, &key());
        assert!(!direct.is_direct(), "{direct:?}");

        let (inner, handle) = kit();
        let tee = Tee {
            inner,
            seen: Arc::default(),
        };
        let direct = HistogramHandle::register(&tee, &key());
        assert!(!direct.is_direct(), "{direct:?}");
        direct.record(0.003);
        assert_eq!(tee.seen.load(Ordering::Relaxed), 1);
        let scrape = handle.render();
        assert!(
            scrape.contains(r#"jobs_run_duration_seconds_count{queue="a"} 1"#),
            "{scrape}"
        );
        // A later registration straight on the kit's recorder is direct again:
        // nothing of the layer's registration was left behind.
        assert!(HistogramHandle::register(&tee.inner, &key()).is_direct());
    }

    #[test]
    fn counters_and_gauges_from_definitions_are_direct_and_share_the_macros_series() {
        const JOBS: crate::MetricDef = crate::MetricDef::counter("jobs_done_total", "Jobs done.");
        const DEPTH: crate::MetricDef =
            crate::MetricDef::gauge("jobs_queue_depth", "Jobs waiting.");
        let (recorder, handle) = kit();
        metrics::with_local_recorder(&recorder, || {
            let jobs = JOBS.register_counter(&[("queue", "a")]);
            let depth = DEPTH.register_gauge(&[("queue", "a")]);
            assert!(matches!(jobs.0, Direct::Kit(_)), "{jobs:?}");
            assert!(matches!(depth.0, Direct::Kit(_)), "{depth:?}");
            jobs.increment(2);
            metrics::counter!("jobs_done_total", "queue" => "a").increment(1);
            jobs.absolute(1);
            depth.set(5.0);
            depth.decrement(1.5);
            metrics::gauge!("jobs_queue_depth", "queue" => "a").increment(0.5);
            // Converted into a facade handle, it still updates the same cell.
            metrics::Counter::from(jobs.clone()).increment(4);
        });
        let scrape = handle.render();
        assert!(
            scrape.contains(r#"jobs_done_total{queue="a"} 7"#),
            "{scrape}"
        );
        assert!(
            scrape.contains(r#"jobs_queue_depth{queue="a"} 4"#),
            "{scrape}"
        );
        assert!(
            !CounterHandle::register(&metrics::NoopRecorder, &key())
                .0
                .is_kit()
        );
    }

    #[test]
    fn a_kit_handle_past_the_cardinality_limit_counts_in_the_folded_series() {
        // The guard registers the overflow counter, then the folded key: the
        // handle must hold the folded series' cell, not the overflow counter.
        const JOBS: crate::MetricDef = crate::MetricDef::counter("jobs_done_total", "Jobs done.");
        let settings = MetricsSettings {
            cardinality_limit: 3,
            ..MetricsSettings::default()
        };
        let (recorder, handle) = MetricsHandle::build(&settings, &ServiceIdentity::default())
            .unwrap_or_else(|e| panic!("build: {e}"));
        metrics::with_local_recorder(&recorder, || {
            for queue in ["a", "b", "c", "d", "e"] {
                JOBS.register_counter(&[("queue", queue)]).increment(10);
            }
        });
        let scrape = handle.render();
        assert!(
            scrape.contains(r#"jobs_done_total{queue="a"} 10"#),
            "{scrape}"
        );
        assert!(
            scrape.contains(r#"jobs_done_total{queue="other"} 20"#),
            "the two past the limit count in the folded series: {scrape}"
        );
        assert!(
            scrape.contains(r#"metrics_cardinality_overflow_total{metric="jobs_done_total"} 2"#),
            "the overflow counter counts folds, not the handles' increments: {scrape}"
        );
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
