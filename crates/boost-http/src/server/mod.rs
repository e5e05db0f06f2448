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
//! 4. **load shedding**: past `http.concurrency_limit` requests in flight,
//!    `503` with `Retry-After` at once;
//! 5. **a deadline**: `http.request_timeout`, shortened by
//!    `http.deadline_header` when configured; past it, `504`. Outbound calls
//!    made while serving inherit it ([`boost_rpc::deadline`]);
//! 6. **panic safety**: a handler that panics answers `500` (tower-http's
//!    `CatchPanicLayer`);
//! 7. **a body limit**: a body over `http.max_request_body` answers `413`
//!    (tower-http's `RequestBodyLimitLayer`, plus axum's `DefaultBodyLimit`
//!    set to the same bound so extractors agree).

mod deadline;
pub(crate) mod labels;
mod normalize;
mod observe;
mod shed;

use std::any::Any;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::DefaultBodyLimit;
use axum::response::{IntoResponse, Response};
use boost_rpc::server::request_id::{SetRequestId, SetRequestIdLayer};
use futures::future::BoxFuture;
use http::header::HeaderName;
use http::{Request, StatusCode};
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tracing::{Instrument, Span};

use self::deadline::DeadlinePolicy;
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
    type Service = Served;

    fn layer(&self, inner: S) -> Served {
        let limit = self.shared.body_limit;
        let handler = ServiceBuilder::new()
            .map_response(|r: http::Response<_>| r.map(Body::new))
            .layer(CatchPanicLayer::custom(panic_response as fn(_) -> _))
            .layer(RequestBodyLimitLayer::new(limit))
            .map_request(|r: Request<_>| r.map(Body::new))
            .layer(DefaultBodyLimit::max(limit))
            .service(inner);
        Served {
            inner: SetRequestIdLayer::new().layer(Guarded {
                handler: BoxCloneSyncService::new(handler),
                shared: Arc::clone(&self.shared),
                handles: Arc::new(observe::Handles::new()),
            }),
        }
    }
}

/// A route under the stack ([`HttpLayer`]'s service); opaque, so the order
/// of the layers can change.
#[derive(Clone)]
pub struct Served {
    inner: SetRequestId<Guarded>,
}

impl std::fmt::Debug for Served {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Served").finish_non_exhaustive()
    }
}

impl Service<Request<Body>> for Served {
    type Response = Response;
    type Error = Infallible;
    type Future = boost_rpc::server::request_id::future::ResponseFuture<
        BoxFuture<'static, Result<Response, Infallible>>,
    >;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        self.inner.call(req)
    }
}

/// The span, metrics, shedding, deadline and error format around the
/// handler (the request id is set outside it).
#[derive(Clone)]
struct Guarded {
    handler: BoxCloneSyncService<Request<Body>, Response, Infallible>,
    shared: Arc<Shared>,
    /// This route's histogram handles.
    handles: Arc<observe::Handles>,
}

impl Service<Request<Body>> for Guarded {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // An axum route is always ready (and so are the layers around it).
        self.handler.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let start = Instant::now();
        let method = labels::method_label(req.method());
        let route = labels::matched_route(&req).map(str::to_owned);
        let span = observe::server_span(&req, method, route.as_deref());
        // Set by SetRequestId (the caller's, or a fresh one): echoed as is.
        let id = req.headers().get(REQUEST_ID).cloned();
        let handles = Arc::clone(&self.handles);
        // Admission and the deadline are decided now; axum clones this
        // service for every request, so the handler is called on it directly
        // (its future does nothing until polled, inside the span).
        let answer = match self.shared.shed.admit() {
            Err(shed::Full) => {
                Answer::Refused(self.shared.shed.refusal().or_request_id(id.as_ref()))
            }
            Ok(slot) => {
                let deadline = self.shared.deadline.deadline(start, req.headers());
                let _entered = span.enter();
                Answer::Handled {
                    slot,
                    deadline,
                    call: self.handler.call(req),
                }
            }
        };
        let served = async move {
            let response = match answer {
                Answer::Refused(refused) => refused.into_response(),
                Answer::Handled {
                    slot,
                    deadline,
                    call,
                } => {
                    let response = within(deadline, start, call).await;
                    drop(slot);
                    response
                }
            };
            let mut response = normalize::problem_json(response).await;
            if let Some(id) = id {
                response.headers_mut().insert(REQUEST_ID, id);
            }
            observe::record(
                &handles,
                &Span::current(),
                start,
                method,
                route.as_deref(),
                response.status(),
            );
            Ok(response)
        };
        Box::pin(served.instrument(span))
    }
}

/// What `Guarded::call` decided before the response future runs.
enum Answer<F> {
    /// Shed: the `503` to send.
    Refused(Problem),
    /// Admitted: the handler's future, its slot and its deadline.
    Handled {
        slot: Option<shed::Slot>,
        deadline: Instant,
        call: F,
    },
}

/// Runs the handler's future within `deadline` (and with it as the deadline
/// outbound calls see); `504` past it.
async fn within<F>(deadline: Instant, start: Instant, call: F) -> Response
where
    F: std::future::Future<Output = Result<Response, Infallible>>,
{
    let call = boost_rpc::deadline::scope(deadline, call);
    match tokio::time::timeout_at(deadline.into(), call).await {
        Ok(Ok(response)) => response,
        Ok(Err(never)) => match never {},
        Err(_elapsed) => {
            let budget = deadline.saturating_duration_since(start);
            tracing::warn!(
                budget_ms = budget.as_millis() as u64,
                "request passed its deadline; answered 504"
            );
            deadline::timed_out(budget).into_response()
        }
    }
}

/// The answer to a handler that panicked: `500`, no details. The panic
/// itself is logged by the panic hook (boost-tracing's), with its location.
fn panic_response(_payload: Box<dyn Any + Send + 'static>) -> Response {
    tracing::error!("handler panicked; answered 500");
    Problem::new(StatusCode::INTERNAL_SERVER_ERROR)
        .with_detail("internal error")
        .into_response()
}
