//! [`stack`]: the server layers in their proper order, from [`ServerSettings`].

use std::task::{Context, Poll};

use http::{Request, Response};
use tower::ServiceBuilder;
use tower_layer::Layer;
use tower_service::Service;

use super::body::response_body;
use super::catch_panic::{CatchPanic, CatchPanicLayer};
use super::deadline::{Deadline, DeadlineLayer};
use super::future::ResponseFuture;
use super::load_shed::{self, LoadShed, LoadShedLayer};
use super::metrics::{self, Metrics, MetricsLayer};
use super::rate_limit::{RateLimit, RateLimitLayer};
use super::request_id::{SetRequestId, SetRequestIdLayer};
use super::served_methods::ServedMethods;
use super::settings::ServerSettings;
use super::size_limit::{LimitedBody, RequestSizeLimit, RequestSizeLimitLayer};
use super::trace::{self, Trace, TraceLayer};

/// The default server stack for `settings`; see the [module docs](super) for
/// what each layer does and why they come in this order.
///
/// Build it once per server: its clones share one concurrency limit.
pub fn stack(settings: &ServerSettings) -> ServerStack {
    ServerStack {
        trace: TraceLayer::new(),
        metrics: MetricsLayer::new(),
        rate_limit: RateLimitLayer::new("grpc", &settings.rate_limit),
        load_shed: LoadShedLayer::from_settings(settings),
        deadline: DeadlineLayer::with_max(settings.request_timeout),
        // The same bound as tonic's per-message one, here on the whole body.
        size_limit: RequestSizeLimitLayer::new(settings.max_request_message_bytes())
            .idle_timeout(settings.request_body_idle_timeout),
    }
}

/// The layer [`stack`] returns. Cheap to clone; clones share the concurrency limit
/// and the metric handles.
#[derive(Clone, Debug)]
pub struct ServerStack {
    trace: TraceLayer,
    metrics: MetricsLayer,
    rate_limit: RateLimitLayer,
    load_shed: LoadShedLayer,
    deadline: DeadlineLayer,
    size_limit: RequestSizeLimitLayer,
}

impl ServerStack {
    /// Labels metrics and names spans after `served` methods only; every
    /// other request path is `_OTHER`, so a peer's made-up paths cannot
    /// create series (see [`served_methods`](super::served_methods)).
    /// boost-service passes the methods it serves. Default: every path as
    /// sent.
    #[must_use]
    pub fn served_methods(mut self, served: ServedMethods) -> Self {
        self.trace = self.trace.served_methods(served.clone());
        self.metrics = self.metrics.served_methods(served);
        self
    }

    /// The server's concurrency limit (fixed or adaptive): its limit and
    /// calls in flight, e.g. for an admin page or a test.
    pub fn load_shed(&self) -> &LoadShedLayer {
        &self.load_shed
    }

    /// The server's per-key rate limits (`rate_limit`), when on.
    pub fn rate_limit(&self) -> &RateLimitLayer {
        &self.rate_limit
    }
}

/// The layers around a handler, outermost first (the order the module docs
/// give and explain): private, so the order can change without breaking
/// anyone's types.
type Layered<S> =
    SetRequestId<Trace<Metrics<RateLimit<LoadShed<Deadline<CatchPanic<RequestSizeLimit<S>>>>>>>>;

impl<S> Layer<S> for ServerStack {
    type Service = Served<S>;

    fn layer(&self, handler: S) -> Self::Service {
        let inner = ServiceBuilder::new()
            .layer(SetRequestIdLayer::new()) // every call has an id,
            .layer(self.trace.clone()) // runs in a span joined to its caller's trace,
            .layer(self.metrics.clone()) // is measured,
            .layer(self.rate_limit.clone()) // is refused at once when its key is over its rate,
            .layer(self.load_shed.clone()) // is refused at once when the server is full,
            .layer(self.deadline) // stops when its deadline passes,
            .layer(CatchPanicLayer::new()) // answers INTERNAL if the handler panics,
            .layer(self.size_limit) // and reads no more than the size limit.
            .service(handler);
        Served { inner }
    }
}

/// A handler `S` under the full server stack ([`ServerStack`]'s service).
///
/// Its requests reach `S` with a [`LimitedBody`]; its responses carry
/// `S`'s body as a [`ResponseBody`].
#[derive(Clone, Debug)]
pub struct Served<S> {
    inner: Layered<S>,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Served<S>
where
    S: Service<Request<LimitedBody<ReqBody>>, Response = Response<ResBody>>,
    S::Future: Send + 'static,
    ResBody: http_body::Body + Default,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        ResponseFuture {
            inner: self.inner.call(req),
        }
    }
}

/// The bodies of the layers that watch a response to its end, as nested.
pub(super) type LayeredBody<B> =
    trace::ResponseBody<metrics::ResponseBody<load_shed::ResponseBody<B>>>;

response_body! {
    /// The response body of [`Served`]: the handler's body, unchanged; the
    /// call's span, duration sample and concurrency slot end when it ends or
    /// is dropped.
    ResponseBody => LayeredBody<B>
}

impl<B: http_body::Body> ResponseBody<B> {
    /// Wraps the layers' body.
    pub(super) fn new(inner: LayeredBody<B>) -> Self {
        Self { inner }
    }
}
