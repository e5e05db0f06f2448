//! [`PeakEwma`]: an endpoint's load as its latency average × (requests in flight + 1).
//!
//! Finagle's Peak-EWMA (as in tower's `PeakEwma`, shared here across clones):
//! a latency sample above the average replaces it at once (the *peak*, so one
//! slow answer steers traffic away immediately); a lower one is blended in
//! with weight `1 − e^(−Δt/decay)`. The average also decays towards zero while
//! no samples arrive, so an endpoint avoided for being slow is tried again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The latency estimate and in-flight count of one endpoint.
///
/// No lock: the estimate and its time are atomics, and a sample is blended
/// in with a compare-and-swap, so concurrent samples blend one after the
/// other. (A reader may pair a new estimate with the previous time, which
/// only nudges the decay of one reading.)
#[derive(Debug)]
pub(crate) struct PeakEwma {
    decay_ns: f64,
    epoch: Instant,
    /// `f64` bits: the estimate in nanoseconds as of `at_ns`.
    rtt_ns: AtomicU64,
    /// When `rtt_ns` was last updated, in nanoseconds since `epoch`.
    at_ns: AtomicU64,
    pending: AtomicU32,
}

impl PeakEwma {
    /// Starts at `default_rtt`, forgetting with time constant `decay`.
    pub(crate) fn new(default_rtt: Duration, decay: Duration) -> Self {
        Self {
            decay_ns: decay.as_nanos().max(1) as f64,
            epoch: Instant::now(),
            rtt_ns: AtomicU64::new((default_rtt.as_nanos() as f64).to_bits()),
            at_ns: AtomicU64::new(0),
            pending: AtomicU32::new(0),
        }
    }

    /// The load now: decayed latency (ns) × (in flight + 1).
    pub(crate) fn load(&self, now: Instant) -> f64 {
        let pending = f64::from(self.pending.load(Ordering::Relaxed));
        self.decayed(self.nanos(now)) * (pending + 1.0)
    }

    /// The estimate decayed from its last update to `now_ns`.
    fn decayed(&self, now_ns: u64) -> f64 {
        let rtt = f64::from_bits(self.rtt_ns.load(Ordering::Relaxed));
        let at = self.at_ns.load(Ordering::Relaxed);
        let elapsed = now_ns.saturating_sub(at) as f64;
        rtt * (-elapsed / self.decay_ns).exp()
    }

    /// Counts a request as in flight until the returned guard is completed or dropped.
    pub(crate) fn start(self: &Arc<Self>) -> InFlight {
        self.start_at(Instant::now())
    }

    /// [`start`](Self::start) with the time already read.
    pub(crate) fn start_at(self: &Arc<Self>, now: Instant) -> InFlight {
        self.pending.fetch_add(1, Ordering::Relaxed);
        InFlight {
            ewma: self.clone(),
            started: now,
            done: false,
        }
    }

    /// Adds one latency sample.
    pub(crate) fn observe(&self, rtt: Duration, now: Instant) {
        let sample = rtt.as_nanos() as f64;
        let now_ns = self.nanos(now);
        let mut bits = self.rtt_ns.load(Ordering::Relaxed);
        loop {
            let rtt = f64::from_bits(bits);
            let at = self.at_ns.load(Ordering::Relaxed);
            let elapsed = now_ns.saturating_sub(at) as f64;
            let w = (-elapsed / self.decay_ns).exp();
            // The peak: a sample above the (decayed) estimate replaces it.
            let next = if sample > rtt * w {
                sample
            } else {
                rtt * w + sample * (1.0 - w)
            };
            match self.rtt_ns.compare_exchange_weak(
                bits,
                next.to_bits(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if now_ns > at {
                        self.at_ns.store(now_ns, Ordering::Relaxed);
                    }
                    return;
                }
                Err(current) => bits = current,
            }
        }
    }

    fn nanos(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.epoch).as_nanos() as u64
    }
}

/// A request in flight; [`complete`](Self::complete) it when the response headers arrive.
#[derive(Debug)]
pub(crate) struct InFlight {
    ewma: Arc<PeakEwma>,
    started: Instant,
    done: bool,
}

impl InFlight {
    /// Records the latency since [`PeakEwma::start`].
    pub(crate) fn complete(mut self) {
        let now = Instant::now();
        self.ewma.observe(now - self.started, now);
        self.done = true;
    }
}

impl InFlight {
    /// Ends a failed request, counting it as at least `penalty` of latency:
    /// an endpoint that fails fast must not look fast and attract traffic.
    pub(crate) fn fail(mut self, penalty: Duration) {
        let now = Instant::now();
        self.ewma.observe((now - self.started).max(penalty), now);
        self.done = true;
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.ewma.pending.fetch_sub(1, Ordering::Relaxed);
        if !self.done {
            // Cancelled (deadline): count the time waited as a sample, so a
            // hanging endpoint does not look fast.
            let now = Instant::now();
            self.ewma.observe(now - self.started, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_sample_raises_load_at_once_and_in_flight_multiplies_it() {
        let e = Arc::new(PeakEwma::new(
            Duration::from_millis(1),
            Duration::from_secs(10),
        ));
        let now = Instant::now();
        e.observe(Duration::from_millis(100), now);
        assert!(e.load(now) >= 99e6);
        let guard = e.start();
        assert!(e.load(now) >= 198e6);
        drop(guard);
    }
}
