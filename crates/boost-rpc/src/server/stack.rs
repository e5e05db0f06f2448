//! [`stack`]: the server layers in their proper order, from [`ServerSettings`].

use tower::ServiceBuilder;
use tower_layer::Layer;

use super::{
    CatchPanicLayer, CatchPanicService, DeadlineLayer, DeadlineService, LoadShedLayer,
    LoadShedService, MetricsLayer, MetricsService, RequestIdLayer, RequestIdService,
    RequestSizeLimitLayer, RequestSizeLimitService, ServerSettings, TraceLayer, TraceService,
};

/// The default server stack for `settings`; see the [module docs](super) for
/// what each layer does and why they come in this order.
///
/// Build it once per server: its clones share one concurrency limit.
pub fn stack(settings: &ServerSettings) -> ServerStack {
    let concurrency = match settings.concurrency_limit {
        0 => usize::MAX,
        n => n,
    };
    ServerStack {
        metrics: MetricsLayer::new(),
        load_shed: LoadShedLayer::new(concurrency),
        deadline: DeadlineLayer::with_max(settings.request_timeout),
        // The same bound as tonic's per-message one, here on the whole body.
        size_limit: RequestSizeLimitLayer::new(settings.max_request_message_bytes()),
    }
}

/// The layer [`stack`] returns. Cheap to clone; clones share the concurrency limit
/// and the metric handles.
#[derive(Clone, Debug)]
pub struct ServerStack {
    metrics: MetricsLayer,
    load_shed: LoadShedLayer,
    deadline: DeadlineLayer,
    size_limit: RequestSizeLimitLayer,
}

/// A service `S` under the full server stack.
pub type Served<S> = RequestIdService<
    TraceService<
        MetricsService<
            LoadShedService<DeadlineService<CatchPanicService<RequestSizeLimitService<S>>>>,
        >,
    >,
>;

impl<S> Layer<S> for ServerStack {
    type Service = Served<S>;

    fn layer(&self, handler: S) -> Self::Service {
        ServiceBuilder::new()
            .layer(RequestIdLayer::new()) // every call has an id,
            .layer(TraceLayer::new()) // runs in a span joined to its caller's trace,
            .layer(self.metrics.clone()) // is measured,
            .layer(self.load_shed.clone()) // is refused at once when the server is full,
            .layer(self.deadline) // stops when its deadline passes,
            .layer(CatchPanicLayer::new()) // answers INTERNAL if the handler panics,
            .layer(self.size_limit) // and reads no more than the size limit.
            .service(handler)
    }
}
