//! Server layers: what every handler gets without writing any of it.
//!
//! Wrap a tonic server (or any `http::Request` → `http::Response` service,
//! such as an axum router) in [`stack`] and every call
//!
//! 1. carries an `x-request-id` ([`request_id`]),
//! 2. runs in a server span joined to the caller's trace ([`trace`]),
//! 3. is measured in `rpc_server_call_duration_seconds` ([`metrics`]),
//! 4. is refused at once with `RESOURCE_EXHAUSTED` and `grpc-retry-pushback-ms`
//!    when its caller's key is over its rate, if `rate_limit` is on ([`rate_limit`]),
//!    or when the server is full, at a fixed or an adaptive limit ([`load_shed`]),
//! 5. is cancelled with `DEADLINE_EXCEEDED` when the caller's deadline passes ([`deadline`]),
//! 6. answers `INTERNAL` instead of crashing the connection if the handler panics ([`catch_panic`]),
//! 7. and reads no more request body than the limit, nor waits on a silent
//!    one longer than its idle timeout ([`size_limit`]).
//!
//! Each is a module with a tower `Layer` and its service, usable alone (the
//! service's response future is in the module's `future`):
//! [`SetRequestIdLayer`](request_id::SetRequestIdLayer) /
//! [`SetRequestId`](request_id::SetRequestId), [`TraceLayer`](trace::TraceLayer) /
//! [`Trace`](trace::Trace), [`MetricsLayer`](metrics::MetricsLayer) /
//! [`Metrics`](metrics::Metrics), [`LoadShedLayer`](load_shed::LoadShedLayer) /
//! [`LoadShed`](load_shed::LoadShed), [`RateLimitLayer`](rate_limit::RateLimitLayer) /
//! [`RateLimit`](rate_limit::RateLimit), [`DeadlineLayer`](deadline::DeadlineLayer) /
//! [`Deadline`](deadline::Deadline), [`CatchPanicLayer`](catch_panic::CatchPanicLayer) /
//! [`CatchPanic`](catch_panic::CatchPanic),
//! [`RequestSizeLimitLayer`](size_limit::RequestSizeLimitLayer) /
//! [`RequestSizeLimit`](size_limit::RequestSizeLimit). [`stack`] composes
//! them into one [`ServerStack`] layer whose service, [`Served`], keeps the
//! order out of its type.
//!
//! ```no_run
//! use boost_rpc::server::{self, ServerSettings};
//! use boost_test_proto::greeter_server::{Greeter, GreeterServer};
//! use boost_test_proto::{HelloReply, HelloRequest};
//!
//! struct Hello;
//!
//! #[tonic::async_trait]
//! impl Greeter for Hello {
//!     async fn say_hello(
//!         &self,
//!         request: tonic::Request<HelloRequest>,
//!     ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
//!         // Inside the call's span: this line carries the caller's trace id.
//!         tracing::info!(name = %request.get_ref().name, "greeting");
//!         Ok(tonic::Response::new(HelloReply { message: "hello".into() }))
//!     }
//! }
//!
//! # async fn run() -> Result<(), tonic::transport::Error> {
//! let settings = ServerSettings::default();
//! settings
//!     .apply(tonic::transport::Server::builder())
//!     .layer(server::stack(&settings))
//!     .add_service(GreeterServer::new(Hello))
//!     .serve("127.0.0.1:50051".parse().unwrap())
//!     .await
//! # }
//! ```
//!
//! boost-service does this for you (`grpc.listen`, health, reflection, graceful
//! drain); use the layers directly when you run tonic yourself.
//!
//! # The knobs
//!
//! [`ServerSettings`] holds them, each with a default that works:
//! `concurrency_limit` (1024; with `adaptive_limit` enabled, the ceiling of a
//! limit that follows latency — see [`load_shed`]), `request_timeout` (unset: the caller's
//! `grpc-timeout` rules), `max_request_size` (4 MiB), `request_body_idle_timeout`
//! (60 s: a peer that goes silent mid-request gives its slot back), keepalive and HTTP/2
//! settings (applied with [`ServerSettings::apply`]), `reflection`,
//! `rate_limit` (per caller key, off: see [`rate_limit`] and [`crate::rate_limit`]).
//!
//! # The order, and why
//!
//! The request id comes first so the span can record it; the span wraps
//! everything so that sheds, timeouts and panics are all visible in the trace;
//! metrics sit inside the span and outside the rate limit and the shedding so
//! that refused calls are counted (as `RESOURCE_EXHAUSTED`); the rate limit
//! comes before the shedding, so a call refused for its key takes no slot; the deadline sits inside the
//! shedding (a refused call needs no timer) and outside the panic catch, and
//! the panic catch sits right at the handler.
//!
//! # Status codes
//!
//! A tonic server answers an error as HTTP 200 with `grpc-status` either in the
//! headers (a "trailers-only" response, what a unary handler's `Err` becomes)
//! or in the trailers after the body (what every success and streaming errors
//! become). The span and the metrics read both, by watching the response body
//! until it ends (the layers' `ResponseBody`, e.g. [`ResponseBody`]).
//!
//! # HTTP services
//!
//! The layers work on `http::Request<B>` / `http::Response<B>` with any body
//! that has a `Default` (axum's does), so the same stack fits an axum router:
//! non-gRPC requests get `rpc.system = http`, their status is read from the
//! HTTP status (`404` → `NOT_FOUND`), and refusals are HTTP errors (`429`,
//! `504`, `500`) instead of gRPC statuses. `grpc-timeout` is gRPC-only; an
//! HTTP service bounds its calls with `request_timeout`. boost-service's docs
//! show an axum router under [`stack`].
//!
//! # Handler errors
//!
//! Return [`ServiceError`](crate::ServiceError) from handlers for a correct
//! code, a machine-readable reason, and internal details kept out of replies.

mod body;
pub mod catch_panic;
pub mod deadline;
pub mod future;
mod grpc;
pub mod load_shed;
mod message_limits;
pub mod metrics;
pub mod rate_limit;
pub mod request_id;
pub mod served_methods;
mod settings;
pub mod size_limit;
mod stack;
pub mod trace;

pub use self::load_shed::AdaptiveLimitSettings;
pub use self::message_limits::MessageLimits;
pub use self::request_id::{RequestId, current_request_id};
pub use self::served_methods::ServedMethods;
pub use self::settings::{Http2Settings, ServerSettings};
pub use self::stack::{ResponseBody, Served, ServerStack, stack};

pub(crate) use grpc::{code_name, http_status_for};
