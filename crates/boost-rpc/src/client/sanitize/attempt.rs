//! [`Attempt`]: counts one attempt in `rpc_client_attempts_total` once, with
//! the status the caller gets.

use std::sync::Arc;

use tonic::Code;

use crate::client::metrics::{AttemptRecorder, EndpointMetrics};

/// One attempt's counter, counted once: with [`record`](Self::record)'s
/// code, or `CANCELLED` if dropped before its status was known.
pub(crate) struct Attempt {
    counter: Option<(AttemptRecorder, Arc<EndpointMetrics>)>,
}

impl Attempt {
    /// An attempt of `method` to the endpoint of `metrics` (`None`: not counted).
    pub(crate) fn new(metrics: Option<&Arc<EndpointMetrics>>, method: &str) -> Self {
        Self {
            counter: metrics.map(|m| (m.attempt_recorder(method), m.clone())),
        }
    }

    /// Counts the attempt with `code`, unless it was counted already.
    pub(crate) fn record(&mut self, code: Code) {
        if let Some((recorder, endpoint)) = self.counter.take() {
            recorder.record(&endpoint, code);
        }
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        self.record(Code::Cancelled);
    }
}
