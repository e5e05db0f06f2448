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
//! kit keeps the cell only when that address is the recorder it called.
//! Behind any other recorder — a fan-out or filter layer wrapping the kit's,
//! or another recorder entirely — the stamp is missing or names another
//! address, and the handle is the facade's as before.

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
        let called = std::ptr::from_ref(recorder).cast::<()>().addr();
        match stamped {
            Some((address, cell)) if address == called => Self::Kit(cell),
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
