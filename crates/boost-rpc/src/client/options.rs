//! [`CallOptions`]: per-call overrides, carried as a request extension.

use std::time::Duration;

/// Per-call overrides of the client's settings.
///
/// Insert into the request's extensions; tonic carries them to the stack:
///
/// ```
/// use std::time::Duration;
/// use boost_rpc::client::CallOptions;
///
/// let mut request = tonic::Request::new(());
/// request
///     .extensions_mut()
///     .insert(CallOptions::new().timeout(Duration::from_millis(50)).idempotent(true));
/// ```
///
/// tonic's own `Request::set_timeout` (the `grpc-timeout` header) is honoured
/// too; the earliest of all deadlines wins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallOptions {
    /// Total time for this call, retries included, instead of the client's
    /// `timeout`. A `grpc-timeout` set on the request or the inbound call's
    /// deadline still wins when earlier.
    pub timeout: Option<Duration>,
    /// Whether this call may be sent twice. Overrides the client's
    /// `retry.idempotent_methods` for this call.
    pub idempotent: Option<bool>,
}

impl CallOptions {
    /// No overrides.
    pub const fn new() -> Self {
        Self {
            timeout: None,
            idempotent: None,
        }
    }

    /// Sets the total timeout of this call.
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Marks this call as safe (or unsafe) to retry.
    pub const fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }
}
