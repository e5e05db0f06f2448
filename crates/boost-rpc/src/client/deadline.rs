//! Deadlines: one total time budget per call, sent to every attempt as
//! `grpc-timeout` with the time *remaining*.
//!
//! The deadline of a call is the earliest of
//! - now + [`CallOptions::timeout`](super::CallOptions) if the call set one,
//!   else now + the client's timeout ([`DeadlineLayer::new`]),
//! - now + the `grpc-timeout` the caller set (`tonic::Request::set_timeout`),
//! - the deadline of the inbound call being served ([`crate::deadline::current`]),
//!   so a deadline shrinks across hops and never grows.
//!
//! An already expired deadline fails with DEADLINE_EXCEEDED without sending.
//! The deadline is stored in the request as a [`CallDeadline`] extension, so the
//! retry layer can re-stamp `grpc-timeout` before each attempt.
//!
//! ```
//! use std::time::Duration;
//! use boost_rpc::client::deadline::{format_grpc_timeout, parse_grpc_timeout};
//!
//! assert_eq!(format_grpc_timeout(Duration::from_millis(123)), "123000u");
//! assert_eq!(parse_grpc_timeout("200m"), Some(Duration::from_millis(200)));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Request, Response};
use tower::{Layer, Service};

use super::{CallOptions, grpc_status};
use crate::RpcError;

/// The `grpc-timeout` metadata key.
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// The deadline of the current call, as a request extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallDeadline(pub Instant);

impl CallDeadline {
    /// Writes the time left as `grpc-timeout`; `false` when none is left.
    pub fn stamp(self, headers: &mut HeaderMap) -> bool {
        let left = self.0.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        if let Ok(value) = HeaderValue::from_str(&format_grpc_timeout(left)) {
            headers.insert(GRPC_TIMEOUT, value);
        }
        true
    }
}

/// Formats `d` the gRPC way: at most 8 digits and a unit (`n u m S M H`),
/// picking the finest unit that fits, rounded down.
pub fn format_grpc_timeout(d: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let candidates = [
        (d.as_nanos(), 'n'),
        (d.as_micros(), 'u'),
        (d.as_millis(), 'm'),
        (u128::from(d.as_secs()), 'S'),
        (u128::from(d.as_secs() / 60), 'M'),
    ];
    for (value, unit) in candidates {
        if value <= MAX {
            return format!("{value}{unit}");
        }
    }
    format!("{}H", (d.as_secs() / 3600).min(99_999_999))
}

/// Parses a `grpc-timeout` value; `None` if malformed.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    if value.len() < 2 || value.len() > 9 || !value.is_ascii() {
        return None;
    }
    let (digits, unit) = value.split_at(value.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The earliest deadline for a call starting `now` (see the module docs).
pub fn effective_deadline<B>(request: &Request<B>, timeout: Duration, now: Instant) -> Instant {
    let timeout = request
        .extensions()
        .get::<CallOptions>()
        .and_then(|o| o.timeout)
        .unwrap_or(timeout);
    let mut deadline = now + timeout;
    if let Some(t) = request
        .headers()
        .get(GRPC_TIMEOUT)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_grpc_timeout)
    {
        deadline = deadline.min(now + t);
    }
    if let Some(inbound) = crate::deadline::current() {
        deadline = deadline.min(inbound);
    }
    deadline
}

/// Applies a total deadline to each call. See the [module docs](self).
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer {
    timeout: Duration,
}

impl DeadlineLayer {
    /// Calls get `timeout` in total unless something gives them less.
    pub const fn new(timeout: Duration) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline::new(inner, self.timeout)
    }
}

/// The service [`DeadlineLayer`] builds.
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Deadline<S> {
    /// Wraps `inner` with a total `timeout` per call.
    pub const fn new(inner: S, timeout: Duration) -> Self {
        Self { inner, timeout }
    }
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// tonic servers answer CANCELLED when the `grpc-timeout` they were sent
/// passes, a moment before our own timer fires: that is our deadline.
fn cancelled_at_deadline<R>(response: &Response<R>, deadline: Instant, budget: Duration) -> bool {
    grpc_status(response.headers()) == Some(tonic::Code::Cancelled)
        && deadline.saturating_duration_since(Instant::now())
            <= (budget / 10).max(Duration::from_millis(5))
}

impl<S, B, R> Service<Request<B>> for Deadline<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    S::Future: Send + 'static,
    R: Send + 'static,
{
    type Response = S::Response;
    type Error = RpcError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, RpcError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
        self.inner
            .poll_ready(cx)
            .map_err(|e| RpcError::from_boxed(e.into()))
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let now = Instant::now();
        let deadline = effective_deadline(&request, self.timeout, now);
        let call = CallDeadline(deadline);
        if !call.stamp(request.headers_mut()) {
            let why = match crate::deadline::current() {
                Some(d) if d <= now => "the inbound call's deadline had already passed",
                _ => "the deadline had already passed",
            };
            return Box::pin(std::future::ready(Err(RpcError::deadline_exceeded(
                format!("not sent: {why}"),
            ))));
        }
        request.extensions_mut().insert(call);
        let fut = self.inner.call(request);
        let budget = deadline - now;
        if std::env::var_os("BOOST_EXP_NO_TIMER").is_some() {
            return Box::pin(async move { fut.await.map_err(|e| RpcError::from_boxed(e.into())) });
        }
        Box::pin(async move {
            match tokio::time::timeout_at(deadline.into(), fut).await {
                Ok(Ok(response)) if cancelled_at_deadline(&response, deadline, budget) => {
                    Err(RpcError::deadline_exceeded(format!(
                        "no answer within the call's {budget:?} (upstream cancelled at its grpc-timeout)"
                    )))
                }
                Ok(result) => result.map_err(|e| RpcError::from_boxed(e.into())),
                Err(_) => Err(RpcError::deadline_exceeded(format!(
                    "no answer within the call's {budget:?}"
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_with_at_most_eight_digits() {
        assert_eq!(format_grpc_timeout(Duration::from_nanos(5)), "5n");
        assert_eq!(format_grpc_timeout(Duration::from_millis(200)), "200000u");
        assert_eq!(format_grpc_timeout(Duration::from_secs(300)), "300000m");
        assert_eq!(format_grpc_timeout(Duration::from_secs(200_000)), "200000S");
        for v in ["1H", "2M", "3S", "4m", "5u", "6n"] {
            let d = parse_grpc_timeout(v).unwrap();
            assert_eq!(parse_grpc_timeout(&format_grpc_timeout(d)), Some(d));
        }
        assert_eq!(parse_grpc_timeout("123456789m"), None);
        assert_eq!(parse_grpc_timeout("12x"), None);
    }
}
