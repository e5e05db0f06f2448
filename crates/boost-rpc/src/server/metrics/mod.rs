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
//! (`hello.v1.Greeter/SayHello`), or `_OTHER` for a path outside the
//! server's [`ServedMethods`] when it has a closed set (boost-service's has); `rpc_system_name` is `grpc` for gRPC requests
//! and `http` otherwise. The status is read where gRPC puts it — the response
//! headers of a trailers-only answer, or the trailers — and falls back to the
//! HTTP status for HTTP services (`404` → `NOT_FOUND`). A call whose response
//! is dropped unfinished (the client cancelled) counts as `CANCELLED`.

pub mod future;

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use boost_metrics::conventions::RPC_SYSTEM_GRPC;
use boost_metrics::{MethodMetrics, RpcMetrics};
use http::{Request, Response};
use metrics::SharedString;
use tonic::Code;
use tower_layer::Layer;
use tower_service::Service;

use self::future::ResponseFuture;
use super::body::{ObservedBody, OnEnd, response_body};
use super::grpc;
use super::served_methods::ServedMethods;
use crate::method_cache::MethodCache;

/// Layer that applies [`Metrics`]. Cheap to clone; clones share the
/// metric handles they have looked up.
#[derive(Clone, Debug, Default)]
pub struct MetricsLayer {
    handles: Arc<Handles>,
    served: ServedMethods,
}

impl MetricsLayer {
    /// The layer. Metric handles are looked up in the recorder installed at
    /// the time of a method's first call and reused afterwards (a service's
    /// recorder is installed before it serves).
    pub fn new() -> Self {
        MetricsLayer::default()
    }

    /// Labels only `served` methods by name, every other path
    /// [`OTHER_METHOD`](super::served_methods::OTHER_METHOD) (see
    /// [`served_methods`](super::served_methods)).
    #[must_use]
    pub fn served_methods(mut self, served: ServedMethods) -> Self {
        self.served = served;
        self
    }
}

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics {
            inner,
            handles: self.handles.clone(),
            served: self.served.clone(),
        }
    }
}

/// Records the duration histogram and the in-flight gauge of each call.
#[derive(Clone, Debug)]
pub struct Metrics<S> {
    inner: S,
    handles: Arc<Handles>,
    served: ServedMethods,
}

impl<S> Metrics<S> {
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
/// random paths) look their handles up in the recorder on each call instead.
const MAX_CACHED_METHODS: usize = 1024;

/// Metric handles per (system, method), looked up once: boost-metrics'
/// [`RpcMetrics`] method handles, labelled `rpc_system_name="http"` for plain
/// HTTP calls.
#[derive(Debug)]
struct Handles {
    grpc: MethodCache<MethodMetrics>,
    http: MethodCache<MethodMetrics>,
}

impl Default for Handles {
    fn default() -> Self {
        Self {
            grpc: MethodCache::with_max(MAX_CACHED_METHODS),
            http: MethodCache::with_max(MAX_CACHED_METHODS),
        }
    }
}

impl Handles {
    fn get(&self, grpc: bool, method: &str) -> MethodMetrics {
        let (cache, system) = if grpc {
            (&self.grpc, RPC_SYSTEM_GRPC)
        } else {
            (&self.http, "http")
        };
        let found = cache.find(method, |method| {
            // Shared (`Arc<str>`): an owned string is copied on every clone.
            RpcMetrics::server()
                .with_system(system)
                .method(SharedString::from_shared(Arc::from(method)))
        });
        match cache.get(&found) {
            Some(handles) => handles.clone(),
            None => RpcMetrics::server()
                .with_system(system)
                .method(method.to_owned()),
        }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Metrics<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let method = self.served.label(grpc::method_of(&req));
        let handles = self.handles.get(grpc::is_grpc(&req), method);
        let record = CallRecord::start(handles);
        ResponseFuture {
            inner: self.inner.call(req),
            record: Some(record),
        }
    }
}

response_body! {
    /// The response body of [`Metrics`]: the handler's body, unchanged; the
    /// call is measured when it ends or is dropped.
    ResponseBody => ObservedBody<B, CallRecord>
}

/// One call being measured; records its sample when told how it ended.
#[derive(Debug)]
struct CallRecord {
    start: Instant,
    handles: MethodMetrics,
}

impl CallRecord {
    fn start(handles: MethodMetrics) -> Self {
        handles.in_flight_gauge().increment(1.0);
        CallRecord {
            start: Instant::now(),
            handles,
        }
    }
}

impl OnEnd for CallRecord {
    fn on_end(self, code: Code) {
        self.handles
            .record_seconds(code as i32, self.start.elapsed().as_secs_f64());
        self.handles.in_flight_gauge().decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Empty};
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};
    use tower::ServiceExt;

    /// Labels of every histogram sample recorded, as `(name, label=value…)`.
    fn histograms(recorder: &DebuggingRecorder) -> Vec<(String, Vec<String>)> {
        recorder
            .snapshotter()
            .snapshot()
            .into_vec()
            .into_iter()
            .filter(|(_, _, _, value)| matches!(value, DebugValue::Histogram(v) if !v.is_empty()))
            .map(|(key, _, _, _)| {
                let key = key.key();
                let labels = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                (key.name().to_owned(), labels)
            })
            .collect()
    }

    #[test]
    fn plain_http_calls_are_labelled_http_with_the_status_their_code_maps_to() {
        let recorder = DebuggingRecorder::new();
        let svc = MetricsLayer::new().layer(tower::service_fn(|_req: Request<()>| async {
            let mut res = Response::new(Empty::<prost::bytes::Bytes>::new());
            *res.status_mut() = http::StatusCode::NOT_FOUND;
            Ok::<_, std::convert::Infallible>(res)
        }));
        let req = Request::get("/users/7").body(()).unwrap();
        let res = metrics::with_local_recorder(&recorder, || {
            futures::executor::block_on(svc.oneshot(req)).unwrap()
        });
        metrics::with_local_recorder(&recorder, || {
            futures::executor::block_on(res.into_body().collect()).unwrap()
        });
        assert_eq!(
            histograms(&recorder),
            vec![(
                "rpc_server_call_duration_seconds".to_owned(),
                vec![
                    "rpc_system_name=http".to_owned(),
                    "rpc_method=users/7".to_owned(),
                    "rpc_status_code=NOT_FOUND".to_owned()
                ]
            )]
        );
    }
}
