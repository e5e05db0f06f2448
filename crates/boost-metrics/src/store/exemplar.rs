//! Exemplars: the `trace_id` of a sampled trace, attached to the histogram
//! bucket an observation made inside it fell in.
//!
//! boost-metrics knows nothing of tracing. Whoever does (boost-service, from
//! boost-tracing's OpenTelemetry context) installs a [`TraceIdSource`] once
//! with [`set_trace_id_source`]; a histogram observation then asks it for the
//! current sampled trace — but only while its bucket has no exemplar taken
//! since the last scrape, so the source runs a bounded number of times per
//! bucket and scrape interval, and never when nothing is installed (one
//! atomic load).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, TryLockError};
use std::time::{SystemTime, UNIX_EPOCH};

/// Returns the 16-byte trace id of the sampled trace the calling code runs
/// in, or `None` outside a trace or inside one that is not sampled.
///
/// It runs inside histogram observations: keep it cheap and never block.
pub type TraceIdSource = fn() -> Option<[u8; 16]>;

static SOURCE: OnceLock<TraceIdSource> = OnceLock::new();

/// Installs the process-wide [`TraceIdSource`] histogram observations take
/// their exemplars from. The first call wins; returns `false` (and changes
/// nothing) when a source was already installed.
///
/// ```
/// fn no_trace() -> Option<[u8; 16]> { None }
/// boost_metrics::set_trace_id_source(no_trace);
/// ```
pub fn set_trace_id_source(source: TraceIdSource) -> bool {
    SOURCE.set(source).is_ok()
}

/// Scrapes of one store rendered so far: an exemplar taken in the current
/// epoch is not replaced until that store's next scrape. Per store, so one
/// recorder's scrape never resets another's exemplars.
#[derive(Debug)]
pub(crate) struct Epoch(AtomicU64);

impl Default for Epoch {
    fn default() -> Self {
        Self(AtomicU64::new(1))
    }
}

impl Epoch {
    /// Starts a new exemplar epoch: called once per scrape.
    pub(crate) fn advance(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn current(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One exemplar: the trace, the observed value, when (Unix seconds).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) trace_id: [u8; 16],
    pub(crate) value: f64,
    pub(crate) timestamp: f64,
}

/// The latest exemplar of one bucket.
#[derive(Debug, Default)]
pub(crate) struct ExemplarSlot {
    /// The epoch the exemplar was taken in; 0 = never.
    taken_in: AtomicU64,
    exemplar: Mutex<Option<Exemplar>>,
}

/// Whether a [`TraceIdSource`] is installed: one atomic load, checked
/// before anything else about exemplars.
#[inline]
pub(crate) fn installed() -> bool {
    SOURCE.get().is_some()
}

/// Takes an exemplar of `value` for `slot` when it wants a new one (none
/// taken this epoch) and the calling code runs in a sampled trace.
#[inline]
pub(crate) fn offer(slot: &ExemplarSlot, epoch: &Epoch, value: f64) {
    let Some(source) = SOURCE.get() else { return };
    if slot.taken_in.load(Ordering::Relaxed) == epoch.current() {
        return;
    }
    if let Some(trace_id) = source() {
        slot.store(trace_id, value, epoch);
    }
}

impl ExemplarSlot {
    fn store(&self, trace_id: [u8; 16], value: f64, epoch: &Epoch) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        // Never wait: another thread writing this slot right now is as good.
        let mut exemplar = match self.exemplar.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        *exemplar = Some(Exemplar {
            trace_id,
            value,
            timestamp,
        });
        self.taken_in.store(epoch.current(), Ordering::Relaxed);
    }

    pub(crate) fn load(&self) -> Option<Exemplar> {
        *self
            .exemplar
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
