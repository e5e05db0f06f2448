//! RED metrics for every call: duration by method and final status, and how
//! many calls are in flight.
//!
//! [`MetricsLayer`] records, through the `metrics` facade (so whatever recorder
//! boost-metrics installed receives them):
//!
//! - `rpc_server_call_duration_seconds{rpc_system_name, rpc_method, rpc_status_code}`,
//!   a histogram, once per call, from the moment the request arrives until the
//!   response body ends — so a streaming call is measured whole;
//! - `rpc_server_in_flight_calls{rpc_system_name, rpc_method}`, a gauge.
//!
//! `rpc_method` is the request path without its leading slash
//! (`hello.v1.Greeter/SayHello`); `rpc_system_name` is `grpc` for gRPC requests
//! and `http` otherwise. The status is read where gRPC puts it — the response
//! headers of a trailers-only answer, or the trailers — and falls back to the
//! HTTP status for HTTP services (`404` → `NOT_FOUND`). A call whose response
//! is dropped unfinished (the client cancelled) counts as `CANCELLED`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use boost_metrics::conventions::{
    RPC_METHOD, RPC_SERVER_CALL_DURATION, RPC_SERVER_IN_FLIGHT, RPC_STATUS_CODE, RPC_SYSTEM_GRPC,
    RPC_SYSTEM_NAME,
};
use http::{Request, Response};
use metrics::{Gauge, Histogram, SharedString};
use pin_project_lite::pin_project;
use tonic::Code;
use tower_layer::Layer;
use tower_service::Service;

use super::body::{ObservedBody, OnEnd};
use super::grpc;

/// Layer that applies [`MetricsService`]. Cheap to clone; clones share the
/// metric handles they have looked up.
#[derive(Clone, Debug, Default)]
pub struct MetricsLayer {
    handles: Arc<Handles>,
}

impl MetricsLayer {
    /// The layer. Metric handles are looked up in the recorder installed at
    /// the time of a method's first call and reused afterwards, so install
    /// the recorder (boost-metrics does, at startup) before serving.
    pub fn new() -> Self {
        MetricsLayer::default()
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = MetricsService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            handles: self.handles.clone(),
        }
    }
}

/// Records the duration histogram and the in-flight gauge of each call.
#[derive(Clone, Debug)]
pub struct MetricsService<S> {
    inner: S,
    handles: Arc<Handles>,
}

impl<S> MetricsService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        MetricsLayer::new().layer(inner)
    }
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// Methods whose handles are kept; calls to further methods (a scanner trying
/// random paths) are recorded through the `metrics` macros each time instead.
const MAX_CACHED_METHODS: usize = 1024;

/// Metric handles per (system, method), looked up once.
#[derive(Debug, Default)]
struct Handles {
    grpc: RwLock<HashMap<Box<str>, Arc<MethodHandles>>>,
    http: RwLock<HashMap<Box<str>, Arc<MethodHandles>>>,
}

impl Handles {
    fn get(&self, grpc: bool, method: &str) -> Arc<MethodHandles> {
        let (map, system) = if grpc {
            (&self.grpc, RPC_SYSTEM_GRPC)
        } else {
            (&self.http, "http")
        };
        let read = map.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(found) = read.get(method) {
            return found.clone();
        }
        let full = read.len() >= MAX_CACHED_METHODS;
        drop(read);
        let handles = Arc::new(MethodHandles::new(system, method));
        if !full {
            map.write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(method.into())
                .or_insert_with(|| handles.clone());
        }
        handles
    }
}

/// The in-flight gauge and the duration histograms (one per status) of a method.
#[derive(Debug)]
struct MethodHandles {
    system: &'static str,
    method: SharedString,
    in_flight: Gauge,
    durations: [OnceLock<Histogram>; CODES],
}

const CODES: usize = 17;

impl MethodHandles {
    fn new(system: &'static str, method: &str) -> Self {
        // Shared (`Arc<str>`): an owned string is copied on every clone.
        let method = SharedString::from_shared(Arc::from(method));
        let in_flight = metrics::gauge!(
            RPC_SERVER_IN_FLIGHT,
            RPC_SYSTEM_NAME => system,
            RPC_METHOD => method.clone()
        );
        MethodHandles {
            system,
            method,
            in_flight,
            durations: Default::default(),
        }
    }

    fn duration(&self, code: Code) -> &Histogram {
        let slot = (code as usize).min(CODES - 1);
        self.durations[slot].get_or_init(|| {
            metrics::histogram!(
                RPC_SERVER_CALL_DURATION,
                RPC_SYSTEM_NAME => self.system,
                RPC_METHOD => self.method.clone(),
                RPC_STATUS_CODE => grpc::code_name(code)
            )
        })
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MetricsService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ObservedBody<ResBody, CallRecord>>;
    type Error = S::Error;
    type Future = MetricsFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let handles = self.handles.get(grpc::is_grpc(&req), grpc::method_of(&req));
        let record = CallRecord::start(handles);
        MetricsFuture {
            inner: self.inner.call(req),
            record: Some(record),
        }
    }
}

/// One call being measured; records its sample when told how it ended.
#[derive(Debug)]
pub struct CallRecord {
    start: Instant,
    handles: Arc<MethodHandles>,
}

impl CallRecord {
    fn start(handles: Arc<MethodHandles>) -> Self {
        handles.in_flight.increment(1.0);
        CallRecord {
            start: Instant::now(),
            handles,
        }
    }
}

impl OnEnd for CallRecord {
    fn on_end(self, code: Code) {
        self.handles
            .duration(code)
            .record(self.start.elapsed().as_secs_f64());
        self.handles.in_flight.decrement(1.0);
    }
}

pin_project! {
    /// Response future of [`MetricsService`].
    pub struct MetricsFuture<F> {
        #[pin]
        inner: F,
        record: Option<CallRecord>,
    }

    impl<F> PinnedDrop for MetricsFuture<F> {
        fn drop(this: Pin<&mut Self>) {
            // Dropped before the handler answered: the client went away.
            if let Some(record) = this.project().record.take() {
                record.on_end(Code::Cancelled);
            }
        }
    }
}

impl<F, ResBody, E> Future for MetricsFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body,
{
    type Output = Result<Response<ObservedBody<ResBody, CallRecord>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = std::task::ready!(this.inner.poll(cx));
        let Some(record) = this.record.take() else {
            return Poll::Pending; // polled after completion
        };
        Poll::Ready(match result {
            Ok(res) => Ok(ObservedBody::wrap(res, record)),
            Err(e) => {
                record.on_end(Code::Unknown);
                Err(e)
            }
        })
    }
}
