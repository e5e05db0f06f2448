//! Load shedding: a concurrency limit that refuses at once with `503` and
//! `Retry-After`, never queues.
//!
//! tower's `LoadShed` + `ConcurrencyLimit` answer with an *error*, which an
//! axum router cannot carry (its services are infallible), so the refusal
//! would have to be mapped back into a response in another layer; and a
//! queue in front of an overloaded service only turns fast failures into
//! slow ones.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::StatusCode;

use crate::Problem;

/// Admits requests up to the limit; shared by every route of a router.
///
/// An atomic counter, not tokio's `Semaphore`: releasing a semaphore permit
/// takes its waiter-list mutex every time, a lock bounced between cores on
/// every request with many in flight (boost-rpc's server found the same).
/// Nothing ever waits here, so a counter is all it needs.
#[derive(Debug, Clone)]
pub(crate) struct Shedder {
    slots: Option<Arc<Slots>>,
    retry_after: Duration,
}

#[derive(Debug)]
pub(crate) struct Slots {
    limit: usize,
    taken: AtomicUsize,
}

/// Every slot is taken: the request is shed.
#[derive(Debug)]
pub(crate) struct Full;

/// One admitted request's slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.taken.fetch_sub(1, Ordering::Release);
    }
}

impl Shedder {
    /// At most `limit` requests at once (`0`: no limit).
    pub(crate) fn new(limit: usize, retry_after: Duration) -> Self {
        let slots = (limit > 0).then(|| {
            Arc::new(Slots {
                limit,
                taken: AtomicUsize::new(0),
            })
        });
        Shedder { slots, retry_after }
    }

    /// A slot for one request, held until its response head is ready; or
    /// `Err(Full)` when every slot is taken.
    pub(crate) fn admit(&self) -> Result<Option<Slot>, Full> {
        let Some(slots) = &self.slots else {
            return Ok(None);
        };
        if slots.taken.fetch_add(1, Ordering::Acquire) < slots.limit {
            return Ok(Some(Slot(Arc::clone(slots))));
        }
        slots.taken.fetch_sub(1, Ordering::Release);
        Err(Full)
    }

    /// The `503` a shed request gets.
    pub(crate) fn refusal(&self) -> Problem {
        Problem::new(StatusCode::SERVICE_UNAVAILABLE)
            .with_detail(
                "the service is at its concurrency limit; retry after the delay in Retry-After",
            )
            .with_retry_after(self.retry_after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_frees_slots_on_drop() {
        let shed = Shedder::new(1, Duration::from_millis(1500));
        let first = shed.admit().unwrap();
        assert!(shed.admit().is_err());
        assert_eq!(shed.refusal().status(), StatusCode::SERVICE_UNAVAILABLE);
        drop(first);
        assert!(shed.admit().is_ok());
        assert!(
            Shedder::new(0, Duration::from_secs(1))
                .admit()
                .unwrap()
                .is_none()
        );
    }
}
