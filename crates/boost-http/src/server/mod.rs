//! Server layers for axum routers: what every HTTP request of a kit service
//! gets, in one [`stack`].
//!
//! ```
//! use axum::{Json, Router, extract::Path, routing::get};
//! use boost_http::{HttpSettings, Problem, server};
//! use boost_rpc::ServiceError;
//!
//! async fn hello(Path(name): Path<String>) -> Result<Json<serde_json::Value>, Problem> {
//!     if name.len() > 64 {
//!         Err(ServiceError::invalid_argument("name is longer than 64 bytes"))?;
//!     }
//!     Ok(Json(serde_json::json!({ "message": format!("Hello, {name}!") })))
//! }
//!
//! let settings = HttpSettings::default();
//! let app: Router = Router::new()
//!     .route("/v1/hello/{name}", get(hello))
//!     .layer(server::stack(&settings));
//! # let _ = app;
//! ```
//!
//! boost-service serves such a router on `http.listen` for you
//! (`service.http(router)`), under the kit's connection caps and idle
//! timeouts and inside the service's lifecycle; `stack` is the same layers for
//! a router you serve yourself. Apply it with `Router::layer` (not around the
//! router): the layers run after routing, so they see the matched route.
//!
//! Each request then gets, outermost first:
//!
//! 1. **a request id**: the caller's `x-request-id` (printable ASCII, at most
//!    128 bytes) or a fresh one, always echoed on the response, and sent on by
//!    boost-rpc and boost-http clients called while serving (boost-rpc's
//!    [`SetRequestIdLayer`],
//!    which sets the task-local those clients read);
//! 2. **a server span** `GET /v1/hello/{name}` joined to the caller's W3C trace,
//!    around the handler (its JSON log lines carry `trace_id`), and
//!    **`http_server_request_duration_seconds`** with `http_request_method`
//!    (unknown methods: `_OTHER`), `http_route` (the route template, never the
//!    raw path; `unmatched` for the fallback) and `http_response_status_code`;
//! 3. **problem+json errors**: a bare or plain-text error response (axum's
//!    rejections, a `StatusCode`) becomes RFC 9457 `application/problem+json`
//!    (see [`Problem`]);
//! 4. **rate limits per key** (`[http.rate_limit]`, off by default): a
//!    request whose key (a header's value, or the caller's certificate
//!    identity) is over its rate gets `429` with `Retry-After` at once
//!    (boost-rpc's [`rate_limit`](boost_rpc::rate_limit): GCRA, a shared
//!    `default` bucket for requests without a key, a bounded key set);
//!    then **load shedding**: past `http.concurrency_limit` requests in flight,
//!    `503` with `Retry-After` at once;
//! 5. **a deadline**: `http.request_timeout`, shortened by
//!    `http.deadline_header` when configured; past it, `504`. Outbound calls
//!    made while serving inherit it ([`boost_rpc::deadline`]);
//! 6. **panic safety**: a handler that panics (when called or polled)
//!    answers `500`, no details;
//! 7. **a body limit**: a body over `http.max_request_body` answers `413`,
//!    at once from its `content-length`, else when the handler reads past it
//!    (`http_body_util::Limited`, plus axum's `DefaultBodyLimit` set to the
//!    same bound so extractors agree).
//!
//! All of it runs in one service and one named future
//! ([`future::ResponseFuture`]), with no allocation of its own on the common
//! path (see `Guarded` in the source for why not a tower-http layer each).

mod deadline;
pub mod future;
pub(crate) mod labels;
mod normalize;
mod observe;
mod shed;

use std::any::Any;
use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::response::{IntoResponse, Response};
use boost_rpc::rate_limit::{RateLimits, Refused};
use boost_rpc::server::request_id::{SetRequestId, SetRequestIdLayer};
use http::header::{CONTENT_LENGTH, HeaderName};
use http::{Request, StatusCode};
use http_body::Body as _;
use http_body_util::Limited;
use tower::{Layer, Service};

use self::deadline::DeadlinePolicy;
use self::future::Answer;
use self::shed::Shedder;
use crate::{HttpSettings, Problem};

/// The request id header, echoed on every response.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The kit's server layers, from the `[http]` settings: apply with
/// `Router::layer`. See the [module docs](self).
pub fn stack(settings: &HttpSettings) -> HttpLayer {
    HttpLayer {
        shared: Arc::new(Shared {
            deadline: DeadlinePolicy {
                timeout: settings.request_timeout,
                header: settings.deadline_header_name(),
            },
            shed: Shedder::new(settings.concurrency_limit, settings.retry_after),
            rate_limit: settings
                .rate_limit
                .enabled
                .then(|| RateLimits::new("http", &settings.rate_limit)),
            body_limit: settings.max_request_body_bytes(),
        }),
    }
}

/// What every route's copy of the stack shares: one concurrency limit for
/// the whole router, not one per route.
#[derive(Debug)]
struct Shared {
    deadline: DeadlinePolicy,
    shed: Shedder,
    rate_limit: Option<RateLimits>,
    body_limit: usize,
}

/// The layer [`stack`] returns. Cheap to clone; its clones share one
/// concurrency limit.
#[derive(Debug, Clone)]
pub struct HttpLayer {
    shared: Arc<Shared>,
}

impl<S> Layer<S> for HttpLayer
where
    S: Service<Request<Body>, Response = Response, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    type Service = Served<S>;

    fn layer(&self, inner: S) -> Served<S> {
        Served {
            inner: SetRequestIdLayer::always_echo().layer(Guarded {
                handler: inner,
                shared: Arc::clone(&self.shared),
                handles: Arc::new(observe::Handles::new()),
            }),
        }
    }
}

/// A route under the stack ([`HttpLayer`]'s service); opaque, so the order
/// of the layers can change.
#[derive(Clone)]
pub struct Served<S> {
    inner: SetRequestId<Guarded<S>>,
}

impl<S> std::fmt::Debug for Served<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served").finish_non_exhaustive()
    }
}

impl<S> Service<Request<Body>> for Served<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future =
        boost_rpc::server::request_id::future::ResponseFuture<future::ResponseFuture<S::Future>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        self.inner.call(req)
    }
}

/// The span, metrics, shedding, deadline, error format, panic safety and
/// body limit around the handler (the request id is set outside it).
///
/// One service and one future ([`future::ResponseFuture`]) instead of a
/// tower-http layer per concern: `CatchPanicLayer` and
/// `RequestBodyLimitLayer` each box the body again and add a future, and a
/// boxed handler allocates on every clone (axum clones a route's service for
/// every request) — allocations that `benches/benches/http.rs` measured as
/// most of the stack's cost. The body limit still uses
/// `http_body_util::Limited`, as tower-http does, so axum's extractors answer
/// `413` for it.
#[derive(Clone)]
struct Guarded<S> {
    handler: S,
    shared: Arc<Shared>,
    /// This route's histogram handles.
    handles: Arc<observe::Handles>,
}

impl<S> Service<Request<Body>> for Guarded<S>
where
    S: Service<Request<Body>, Response = Response, Error = Infallible> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = future::ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // An axum route is always ready.
        self.handler.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        let start = Instant::now();
        let method = labels::method_label(req.method());
        let route = labels::matched_route(&req);
        let span = observe::server_span(&req, method, route.as_ref().map(MatchedPath::as_str));
        let handles = Arc::clone(&self.handles);
        // Admission, the body limit and the deadline are decided now; axum
        // clones this service for every request, so the handler is called on
        // it directly (its future does nothing until polled, inside the span).
        let limited = self.shared.rate_limit.as_ref().and_then(|limits| {
            limits
                .check(limits.key_of(&req))
                .err()
                .map(|refused| rate_limited(limits, refused))
        });
        let answer = if let Some(refusal) = limited {
            let id = req.headers().get(REQUEST_ID);
            Answer::Ready(refusal.or_request_id(id).into_response())
        } else {
            match self.shared.shed.admit() {
                Err(shed::Full) => {
                    // Set by SetRequestId (the caller's, or a fresh one).
                    let id = req.headers().get(REQUEST_ID);
                    Answer::Ready(self.shared.shed.refusal().or_request_id(id).into_response())
                }
                Ok(slot) => match limit_body(&mut req, self.shared.body_limit) {
                    // Refused before the handler's request-id scope, as above.
                    Err(too_large) => {
                        let id = req.headers().get(REQUEST_ID);
                        Answer::Ready(too_large.or_request_id(id).into_response())
                    }
                    Ok(()) => {
                        let deadline = self.shared.deadline.deadline(start, req.headers());
                        let _entered = span.enter();
                        let handler = &mut self.handler;
                        match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(req))) {
                            Ok(call) => Answer::Handled {
                                slot,
                                deadline,
                                call,
                            },
                            Err(payload) => Answer::Ready(panic_response(payload)),
                        }
                    }
                },
            }
        };
        future::ResponseFuture::new(answer, span, start, method, route, handles)
    }
}

/// Refuses a body whose `content-length` is over `limit` (`413` before the
/// handler runs) and counts the bytes of any other body as it is read
/// (`http_body_util::Limited`: the extractor reading it answers `413`). A
/// request without a body (most `GET`s) passes untouched: nothing to count,
/// and no allocation for the wrapper. In place: a request is 240 bytes,
/// and moving it in and out was a copy each way on every request.
#[allow(clippy::result_large_err)] // the `Err` is the answer itself
fn limit_body(req: &mut Request<Body>, limit: usize) -> Result<(), Problem> {
    if req.body().is_end_stream() {
        return Ok(());
    }
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large(limit));
    }
    // Extractors (`Bytes`, `Json`, …) apply the same bound.
    DefaultBodyLimit::max(limit).apply(req);
    let body = std::mem::take(req.body_mut());
    *req.body_mut() = Body::new(Limited::new(body, limit));
    Ok(())
}

/// The `429` for a request whose key is over its rate.
fn rate_limited(limits: &RateLimits, refused: Refused) -> Problem {
    Problem::new(StatusCode::TOO_MANY_REQUESTS)
        .with_detail(format!(
            "rate limit of {}/s exceeded for this caller ({} bucket); retry after the delay in Retry-After",
            limits.per_second(),
            refused.bucket.as_str()
        ))
        .with_retry_after(refused.retry_after)
}

/// The `413` for a body over `http.max_request_body`.
fn too_large(limit: usize) -> Problem {
    Problem::new(StatusCode::PAYLOAD_TOO_LARGE).with_detail(format!(
        "the request body is over the limit of {limit} bytes"
    ))
}

/// The answer to a handler that panicked: `500`, no details (the payload may
/// hold anything, secrets included). The panic itself is logged by the panic
/// hook (boost-tracing's), with its location.
fn panic_response(_payload: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked; answered 500");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_detail("internal error")
        .into_response()
}
