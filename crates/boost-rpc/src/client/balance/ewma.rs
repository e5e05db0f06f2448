//! [`PeakEwma`]: an endpoint's load as its latency average × (requests in flight + 1).
//!
//! Finagle's Peak-EWMA (as in tower's `PeakEwma`, shared here across clones):
//! a latency sample above the average replaces it at once (the *peak*, so one
//! slow answer steers traffic away immediately); a lower one is blended in
//! with weight `1 − e^(−Δt/decay)`. The average also decays towards zero while
//! no samples arrive, so an endpoint avoided for being slow is tried again.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The latency estimate and in-flight count of one endpoint.
#[derive(Debug)]
pub struct PeakEwma {
    decay_ns: f64,
    estimate: Mutex<Estimate>,
    pending: AtomicU32,
}

#[derive(Debug)]
struct Estimate {
    rtt_ns: f64,
    at: Instant,
}

impl PeakEwma {
    /// Starts at `default_rtt`, forgetting with time constant `decay`.
    pub fn new(default_rtt: Duration, decay: Duration) -> Self {
        Self {
            decay_ns: decay.as_nanos().max(1) as f64,
            estimate: Mutex::new(Estimate {
                rtt_ns: default_rtt.as_nanos() as f64,
                at: Instant::now(),
            }),
            pending: AtomicU32::new(0),
        }
    }

    /// The load now: decayed latency (ns) × (in flight + 1).
    pub fn load(&self, now: Instant) -> f64 {
        let pending = f64::from(self.pending.load(Ordering::Relaxed));
        let mut e = self.lock();
        let elapsed = now.saturating_duration_since(e.at).as_nanos() as f64;
        e.rtt_ns *= (-elapsed / self.decay_ns).exp();
        e.at = now.max(e.at);
        e.rtt_ns * (pending + 1.0)
    }

    /// Counts a request as in flight until the returned guard is completed or dropped.
    pub fn start(self: &Arc<Self>) -> InFlight {
        self.pending.fetch_add(1, Ordering::Relaxed);
        InFlight {
            ewma: self.clone(),
            started: Instant::now(),
            done: false,
        }
    }

    /// Adds one latency sample.
    pub fn observe(&self, rtt: Duration, now: Instant) {
        let sample = rtt.as_nanos() as f64;
        let mut e = self.lock();
        if sample > e.rtt_ns {
            e.rtt_ns = sample;
        } else {
            let elapsed = now.saturating_duration_since(e.at).as_nanos() as f64;
            let w = (-elapsed / self.decay_ns).exp();
            e.rtt_ns = e.rtt_ns * w + sample * (1.0 - w);
        }
        e.at = now.max(e.at);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Estimate> {
        match self.estimate.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A request in flight; [`complete`](Self::complete) it when the response headers arrive.
#[derive(Debug)]
pub struct InFlight {
    ewma: Arc<PeakEwma>,
    started: Instant,
    done: bool,
}

impl InFlight {
    /// Records the latency since [`PeakEwma::start`].
    pub fn complete(mut self) {
        let now = Instant::now();
        self.ewma.observe(now - self.started, now);
        self.done = true;
    }
}

impl InFlight {
    /// Ends a failed request, counting it as at least `penalty` of latency:
    /// an endpoint that fails fast must not look fast and attract traffic.
    pub fn fail(mut self, penalty: Duration) {
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
