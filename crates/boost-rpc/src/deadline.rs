//! The deadline of the inbound call being handled, visible to handler code and
//! to outbound boost-rpc clients so that calls made while serving inherit it.

use std::future::Future;
use std::time::{Duration, Instant};

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The deadline of the request this task is serving, if the caller sent one
/// (`grpc-timeout`) or the server's settings impose one.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// Time left before [`current`] passes; `Some(Duration::ZERO)` once it has.
pub fn remaining() -> Option<Duration> {
    current().map(|d| d.saturating_duration_since(Instant::now()))
}

/// `now + d`, or a deadline decades away when that would overflow `Instant`:
/// a configured `timeout = "9300000000000000000s"` or `Duration::MAX` ("no
/// timeout") must mean "very long", not a panic.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    const DECADES: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);
    now.checked_add(d)
        .or_else(|| now.checked_add(DECADES))
        .unwrap_or(now)
}

/// Runs `fut` with `deadline` as the current deadline. Nested scopes keep the
/// earlier of the outer and the new deadline, so a deadline can only shrink.
pub async fn scope<F: Future>(deadline: Instant, fut: F) -> F::Output {
    scoped(deadline, fut).await
}

/// [`scope`] as a nameable future, for layers (and their futures) that hold
/// it without boxing.
pub fn scoped<F: Future>(
    deadline: Instant,
    fut: F,
) -> tokio::task::futures::TaskLocalFuture<Instant, F> {
    let effective = match current() {
        Some(outer) if outer < deadline => outer,
        _ => deadline,
    };
    DEADLINE.scope(effective, fut)
}
