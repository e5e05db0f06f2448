//! The response future of the server stack: the handler's future under its
//! deadline and panic guard, then the answer's problem+json form and the
//! duration histogram.
//!
//! A named future rather than an `async` block in a box: axum boxes every
//! route's future already, and a second box of a ~1.6 KB state machine (an
//! `async` block keeps every step's locals) was a measurable share of what
//! the stack cost per request (`benches/benches/http.rs`, docs/benchmarks.md).

use std::convert::Infallible;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::MatchedPath;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;
use futures::future::{BoxFuture, CatchUnwind};
use http::StatusCode;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tokio::time::Sleep;
use tracing::Span;

use super::normalize::{self, Normalized};
use super::shed::Slot;
use super::{deadline, observe, panic_response};
use crate::Problem;

/// The handler's future as the stack runs it: inside the deadline's
/// task-local (outbound calls inherit it), its panics caught.
type Guarded<F> = TaskLocalFuture<Instant, CatchUnwind<AssertUnwindSafe<F>>>;

pin_project! {
    /// The response future of [`Served`](super::Served).
    pub struct ResponseFuture<F> {
        #[pin]
        state: State<F>,
        // Entered while the handler runs, so its log lines carry the trace.
        span: Span,
        report: Option<Report>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        /// The handler runs; the timer exists only once it has had to wait.
        Handling {
            #[pin]
            call: Guarded<F>,
            #[pin]
            timer: Option<Sleep>,
            deadline: Instant,
            start: Instant,
            slot: Option<Slot>,
        },
        /// A short plain-text error body is read to become the problem's
        /// `detail` (rare: most answers are converted, or not, at once).
        Normalizing { reading: BoxFuture<'static, Response> },
        /// Answered without the handler (shed, body too large, a panic in
        /// `call`), or done.
        Answered { response: Option<Response> },
    }
}

/// What the answer is recorded and labelled with once it is known.
struct Report {
    start: Instant,
    method: &'static str,
    route: Option<MatchedPath>,
    handles: Arc<observe::Handles>,
}

/// Who answers a request: the handler (admitted), or the stack itself.
pub(super) enum Answer<F> {
    /// Answered without the handler: shed (`503`), a body over the limit
    /// (`413`), or a handler that panicked when called (`500`).
    Ready(Response),
    /// Admitted: the handler's future, its slot and its deadline.
    Handled {
        slot: Option<Slot>,
        deadline: Instant,
        call: F,
    },
}

impl<F: Future> ResponseFuture<F> {
    // Inlined into `call`, the future is built where it is returned instead
    // of being copied out of here (it is ~600 bytes).
    #[inline]
    pub(super) fn new(
        answer: Answer<F>,
        span: Span,
        start: Instant,
        method: &'static str,
        route: Option<MatchedPath>,
        handles: Arc<observe::Handles>,
    ) -> Self {
        let state = match answer {
            Answer::Ready(response) => State::Answered {
                response: Some(response),
            },
            Answer::Handled {
                slot,
                deadline,
                call,
            } => State::Handling {
                call: boost_rpc::deadline::scoped(deadline, AssertUnwindSafe(call).catch_unwind()),
                timer: None,
                deadline,
                start,
                slot,
            },
        };
        ResponseFuture {
            state,
            span,
            report: Some(Report {
                start,
                method,
                route,
                handles,
            }),
        }
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            let response = match this.state.as_mut().project() {
                StateProj::Handling {
                    call,
                    timer,
                    deadline,
                    start,
                    slot,
                } => {
                    let response = ready!(handle(call, timer, *deadline, *start, cx));
                    // The slot is free as soon as the handler is done.
                    drop(slot.take());
                    response
                }
                StateProj::Normalizing { reading } => {
                    let response = ready!(reading.as_mut().poll(cx));
                    return Poll::Ready(Ok(finish(this.report, this.span, response)));
                }
                StateProj::Answered { response } => match response.take() {
                    Some(response) => response,
                    // Polled after completion (a caller's bug): an error
                    // answer, never a panic.
                    None => {
                        let error = Problem::new(StatusCode::INTERNAL_SERVER_ERROR);
                        return Poll::Ready(Ok(error.into_response()));
                    }
                },
            };
            match normalize::problem_json(response) {
                Normalized::Done(response) => {
                    this.state.set(State::Answered { response: None });
                    return Poll::Ready(Ok(finish(this.report, this.span, response)));
                }
                Normalized::Reading(reading) => this.state.set(State::Normalizing { reading }),
            }
        }
    }
}

/// Polls the handler, then (once it has had to wait) the deadline timer;
/// `504` past the deadline, `500` for a panic.
fn handle<F>(
    mut call: Pin<&mut Guarded<F>>,
    mut timer: Pin<&mut Option<Sleep>>,
    deadline: Instant,
    start: Instant,
    cx: &mut Context<'_>,
) -> Poll<Response>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    if let Poll::Ready(outcome) = call.as_mut().poll(cx) {
        return Poll::Ready(match outcome {
            Ok(Ok(response)) => response,
            Ok(Err(never)) => match never {},
            Err(payload) => panic_response(payload),
        });
    }
    // Most handlers answer on their first poll: no timer for them.
    if timer.is_none() {
        timer.set(Some(tokio::time::sleep_until(deadline.into())));
    }
    if let Some(timer) = timer.as_pin_mut() {
        ready!(timer.poll(cx));
    }
    let budget = deadline.saturating_duration_since(start);
    tracing::warn!(
        budget_ms = budget.as_millis() as u64,
        "request passed its deadline; answered 504"
    );
    Poll::Ready(deadline::timed_out(budget).into_response())
}

/// Records the request's duration (`SetRequestId`, outside, echoes the id).
fn finish(report: &mut Option<Report>, span: &Span, response: Response) -> Response {
    let Some(report) = report.take() else {
        return response;
    };
    observe::record(
        &report.handles,
        span,
        report.start,
        report.method,
        report.route.as_ref().map(MatchedPath::as_str),
        response.status(),
    );
    response
}
