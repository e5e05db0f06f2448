//! [`Health`]: what one endpoint's recent attempts say about it.
//!
//! Two independent reasons keep an endpoint out of rotation:
//! - **reconnect backoff**: its last connect failed; the next try waits
//!   `initial · multiplier^(n−1)` capped at `max`, ±jitter (by default
//!   Linkerd's connect backoff, 100 ms doubling to 500 ms: a returning
//!   endpoint is tried again within 0.55 s, a dead one ~2 times a second);
//! - **outlier ejection**: `consecutive_failures` failed attempts in a row, or a
//!   success rate below `success_rate` over `window` with at least
//!   `min_requests` attempts. Ejection lasts `base_ejection × n` capped at
//!   `max_ejection`, ±20%, where n counts ejections and drops by one for each
//!   window without failures.
//!
//! When either period ends, exactly one request is let through as a probe;
//! its success readmits the endpoint, its failure starts a longer period.
//! Ready endpoints are checked with one atomic load; a success of a ready
//! endpoint is recorded with atomics alone, and the lock is taken only to
//! record a failure, a probe's outcome or the start of a new window.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::client::metrics::{EndpointMetrics, EndpointState};
use crate::client::settings::{EjectionSettings, ReconnectSettings};

/// What an attempt did, as far as the endpoint's health is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The endpoint answered (any status that is not a server failure).
    Success,
    /// The endpoint failed (UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS, or a
    /// transport error after connecting).
    Failure,
    /// The connection could not be established.
    ConnectFailure,
}

/// Permission to send one attempt to an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Send normally.
    Ready,
    /// Send as the one probe of an ejected or reconnecting endpoint.
    Probe,
}

const READY: u64 = 0;
const BLOCKED: u64 = u64::MAX;

/// The health of one endpoint. Cheap to read, shared by all clones.
#[derive(Debug)]
pub(crate) struct Health {
    ejection: EjectionSettings,
    reconnect: ReconnectSettings,
    epoch: Instant,
    /// `READY`, `BLOCKED` (probe in flight), or nanos since `epoch` until
    /// which the endpoint is out.
    until: AtomicU64,
    state: AtomicU8,
    // Touched by successes without the lock (see `record`).
    consecutive: AtomicU32,
    window_ok: AtomicU32,
    connect_failures: AtomicU32,
    /// Nanos since `epoch` (as `nanos`) when the success-rate window began.
    window_start: AtomicU64,
    inner: Mutex<Inner>,
    metrics: Option<EndpointMetrics>,
}

#[derive(Debug)]
struct Inner {
    window_failed: u32,
    ejections: u32,
    reason: String,
}

impl Health {
    /// A healthy endpoint.
    pub(crate) fn new(
        ejection: EjectionSettings,
        reconnect: ReconnectSettings,
        metrics: Option<EndpointMetrics>,
    ) -> Self {
        let now = Instant::now();
        if let Some(m) = &metrics {
            m.client().endpoint_moved(None, Some(EndpointState::Ready));
        }
        let health = Self {
            ejection,
            reconnect,
            epoch: now,
            until: AtomicU64::new(READY),
            state: AtomicU8::new(EndpointState::Ready as u8),
            consecutive: AtomicU32::new(0),
            window_ok: AtomicU32::new(0),
            connect_failures: AtomicU32::new(0),
            window_start: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                window_failed: 0,
                ejections: 0,
                reason: String::new(),
            }),
            metrics,
        };
        health
            .window_start
            .store(health.nanos(now), Ordering::Relaxed);
        health
    }

    /// The endpoint's state.
    pub(crate) fn state(&self) -> EndpointState {
        match self.state.load(Ordering::Relaxed) {
            0 => EndpointState::Ready,
            1 => EndpointState::Ejected,
            _ => EndpointState::Reconnecting,
        }
    }

    /// How long until an endpoint that is out may take its probe (`None`
    /// while ready; zero once its probe may go or is in flight).
    pub(crate) fn back_in(&self, now: Instant) -> Option<Duration> {
        match self.until.load(Ordering::Acquire) {
            READY => None,
            BLOCKED => Some(Duration::ZERO),
            until => Some(Duration::from_nanos(until.saturating_sub(self.nanos(now)))),
        }
    }

    /// Failed attempts in a row (reset when the endpoint is ejected).
    pub(crate) fn consecutive_failures(&self) -> u32 {
        self.consecutive.load(Ordering::Relaxed)
    }

    /// Why the endpoint is out, while it is.
    pub(crate) fn reason(&self) -> Option<String> {
        (self.state() != EndpointState::Ready).then(|| self.lock().reason.clone())
    }

    /// Whether a call may go here now without taking the lock: ready, or out
    /// but with its period over (the call will become the probe).
    pub(crate) fn looks_available(&self, now: Instant) -> bool {
        match self.until.load(Ordering::Acquire) {
            READY => true,
            BLOCKED => false,
            until => self.nanos(now) >= until,
        }
    }

    /// Asks to send one attempt. `ignore_ejection` (panic mode) admits an
    /// ejected endpoint, but never one waiting to reconnect. The error says why not.
    pub(crate) fn admit(&self, now: Instant, ignore_ejection: bool) -> Result<Admission, String> {
        let until = self.until.load(Ordering::Acquire);
        if until == READY {
            return Ok(Admission::Ready);
        }
        let state = self.state();
        if ignore_ejection && state == EndpointState::Ejected {
            return Ok(Admission::Ready);
        }
        let inner = self.lock();
        if until != BLOCKED && self.nanos(now) >= until {
            // The period is over: this call is the probe. Only one wins.
            if self
                .until
                .compare_exchange(until, BLOCKED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Ok(Admission::Probe);
            }
        }
        Err(match state {
            EndpointState::Reconnecting => format!("reconnecting ({})", inner.reason),
            _ => format!("ejected ({})", inner.reason),
        })
    }

    /// [`admit`](Self::admit) now, reading the clock only when the endpoint
    /// is not plainly ready.
    pub(crate) fn admit_now(&self, ignore_ejection: bool) -> Result<Admission, String> {
        if self.until.load(Ordering::Acquire) == READY {
            return Ok(Admission::Ready);
        }
        self.admit(Instant::now(), ignore_ejection)
    }

    /// Records an attempt's outcome. `probe` as returned by [`admit`](Self::admit).
    pub(crate) fn record(&self, outcome: Outcome, admission: Admission, now: Instant) {
        let now_ns = self.nanos(now);
        let window_ns = u64::try_from(self.ejection.window.as_nanos()).unwrap_or(u64::MAX);
        let in_window =
            now_ns.saturating_sub(self.window_start.load(Ordering::Relaxed)) <= window_ns;
        if outcome == Outcome::Success && admission == Admission::Ready && in_window {
            // The common case, without the lock: a success in the current
            // window only resets the failure streaks and counts itself.
            if self.consecutive.load(Ordering::Relaxed) != 0 {
                self.consecutive.store(0, Ordering::Relaxed);
            }
            if self.connect_failures.load(Ordering::Relaxed) != 0 {
                self.connect_failures.store(0, Ordering::Relaxed);
            }
            self.window_ok.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut inner = self.lock();
        if now_ns.saturating_sub(self.window_start.load(Ordering::Relaxed)) > window_ns {
            if inner.window_failed == 0 {
                // A clean window: the next ejection is shorter again.
                inner.ejections = inner.ejections.saturating_sub(1);
            }
            self.window_start.store(now_ns, Ordering::Relaxed);
            self.window_ok.store(0, Ordering::Relaxed);
            inner.window_failed = 0;
        }
        match outcome {
            Outcome::Success => {
                self.consecutive.store(0, Ordering::Relaxed);
                self.window_ok.fetch_add(1, Ordering::Relaxed);
                self.connect_failures.store(0, Ordering::Relaxed);
                // Only the probe readmits: late answers to attempts sent
                // before the ejection (or in panic mode) do not.
                if admission == Admission::Probe {
                    self.set(READY, EndpointState::Ready);
                }
            }
            Outcome::ConnectFailure => {
                self.consecutive.fetch_add(1, Ordering::Relaxed);
                let connect_failures = self.connect_failures.fetch_add(1, Ordering::Relaxed) + 1;
                let wait = self.reconnect_delay(connect_failures);
                inner.reason = format!("{connect_failures} failed connects, next try in {wait:?}");
                let until = crate::deadline::after(now, wait);
                self.set(self.nanos(until), EndpointState::Reconnecting);
            }
            Outcome::Failure => {
                let consecutive = self.consecutive.fetch_add(1, Ordering::Relaxed) + 1;
                inner.window_failed += 1;
                let window_ok = self.window_ok.load(Ordering::Relaxed);
                let total = window_ok + inner.window_failed;
                let rate = f64::from(window_ok) / f64::from(total.max(1));
                let reason = if admission == Admission::Probe {
                    Some("probe_failed")
                } else if consecutive >= self.ejection.consecutive_failures.max(1) {
                    Some("consecutive_failures")
                } else if total >= self.ejection.min_requests.max(1)
                    && rate < self.ejection.success_rate
                {
                    Some("success_rate")
                } else {
                    None
                };
                let eject = self.state() != EndpointState::Ejected || admission == Admission::Probe;
                if let (true, Some(reason)) = (eject, reason) {
                    inner.ejections += 1;
                    let wait = self.ejection_time(inner.ejections);
                    inner.reason = format!(
                        "{reason}: {consecutive} in a row, success rate {:.0}% of {total}; back in {wait:?}",
                        rate * 100.0
                    );
                    self.consecutive.store(0, Ordering::Relaxed);
                    self.window_ok.store(0, Ordering::Relaxed);
                    inner.window_failed = 0;
                    self.window_start.store(now_ns, Ordering::Relaxed);
                    if let Some(m) = &self.metrics {
                        m.record_ejection(reason);
                    }
                    let until = crate::deadline::after(now, wait);
                    self.set(self.nanos(until), EndpointState::Ejected);
                }
            }
        }
    }

    /// Gives back a probe whose attempt was dropped before an outcome.
    pub(crate) fn release_probe(&self) {
        let _ = self
            .until
            .compare_exchange(BLOCKED, 1, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Takes the endpoint out of the gauge (it was removed).
    pub(crate) fn retire(&self) {
        if let Some(m) = &self.metrics {
            m.client().endpoint_moved(Some(self.state()), None);
        }
    }

    fn set(&self, until: u64, state: EndpointState) {
        let old = self.state();
        self.until.store(until, Ordering::Release);
        self.state.store(state as u8, Ordering::Relaxed);
        if let Some(m) = &self.metrics {
            m.client().endpoint_moved(Some(old), Some(state));
        }
    }

    fn reconnect_delay(&self, failures: u32) -> Duration {
        let r = &self.reconnect;
        let exp = r
            .multiplier
            .max(1.0)
            .powi(failures.saturating_sub(1).min(64) as i32);
        let base = (r.initial_backoff.as_secs_f64() * exp).min(r.max_backoff.as_secs_f64());
        jitter(base, r.jitter)
    }

    fn ejection_time(&self, ejections: u32) -> Duration {
        let e = &self.ejection;
        let base = (e.base_ejection.as_secs_f64() * f64::from(ejections.max(1)))
            .min(e.max_ejection.as_secs_f64());
        jitter(base, 0.2)
    }

    fn nanos(&self, t: Instant) -> u64 {
        // +2 keeps real times clear of READY (0) and a released probe (1).
        (t.saturating_duration_since(self.epoch).as_nanos() as u64).saturating_add(2)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// `base` seconds ± `spread` (a fraction), as a duration.
fn jitter(base: f64, spread: f64) -> Duration {
    let spread = spread.clamp(0.0, 1.0);
    let factor = if spread > 0.0 {
        rand::rng().random_range(1.0 - spread..=1.0 + spread)
    } else {
        1.0
    };
    // Saturates: a huge configured ejection or backoff time must not panic.
    Duration::try_from_secs_f64((base * factor).max(0.0)).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health() -> Health {
        Health::new(
            EjectionSettings::default(),
            ReconnectSettings::default(),
            None,
        )
    }

    #[test]
    fn five_consecutive_failures_eject_then_one_probe_readmits() {
        let h = health();
        let now = Instant::now();
        for _ in 0..4 {
            h.record(Outcome::Failure, Admission::Ready, now);
        }
        assert_eq!(h.state(), EndpointState::Ready);
        h.record(Outcome::Failure, Admission::Ready, now);
        assert_eq!(h.state(), EndpointState::Ejected);
        assert!(h.admit(now, false).is_err());
        assert_eq!(
            h.admit(now, true),
            Ok(Admission::Ready),
            "panic mode admits"
        );
        let later = now + Duration::from_secs(2);
        assert_eq!(h.admit(later, false), Ok(Admission::Probe));
        assert!(h.admit(later, false).is_err(), "only one probe at a time");
        h.record(Outcome::Success, Admission::Probe, later);
        assert_eq!(h.state(), EndpointState::Ready);
        assert_eq!(h.admit(later, false), Ok(Admission::Ready));
    }

    #[test]
    fn connect_failure_waits_for_backoff_even_in_panic_mode() {
        let h = health();
        let now = Instant::now();
        h.record(Outcome::ConnectFailure, Admission::Ready, now);
        assert_eq!(h.state(), EndpointState::Reconnecting);
        let err = h.admit(now, true).unwrap_err();
        assert!(err.contains("next try in"), "{err}");
        assert_eq!(
            h.admit(now + Duration::from_millis(1300), false),
            Ok(Admission::Probe)
        );
    }

    #[test]
    fn a_returning_endpoint_is_probed_within_550ms_and_a_dead_one_at_most_every_90ms() {
        // Issue 24: with gRPC's 1 s × 1.6 the fourth failed connect kept an
        // endpoint out for 4 s, so a restarted upstream stayed unused for
        // seconds after it was ready.
        let h = health();
        let now = Instant::now();
        for failures in 1..=20 {
            h.record(Outcome::ConnectFailure, Admission::Ready, now);
            let wait = h.reconnect_delay(failures);
            assert!(
                (Duration::from_millis(90)..=Duration::from_millis(550)).contains(&wait),
                "after {failures} failed connects: {wait:?}"
            );
        }
        assert!(h.admit(now + Duration::from_millis(80), false).is_err());
        assert_eq!(
            h.admit(now + Duration::from_millis(551), false),
            Ok(Admission::Probe),
            "{:?}",
            h.admit(now, true)
        );
    }

    #[test]
    fn low_success_rate_ejects() {
        let h = health();
        let now = Instant::now();
        for i in 0..40 {
            let outcome = if i % 3 == 0 {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            h.record(outcome, Admission::Ready, now);
        }
        assert_eq!(h.state(), EndpointState::Ejected);
    }
}
