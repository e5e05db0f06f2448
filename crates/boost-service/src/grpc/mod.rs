//! gRPC serving: a tonic router on `grpc.listen`, under boost-rpc's server
//! stack, with health, reflection and a graceful drain.
//!
//! ```no_run
//! use boost_service::{Service, grpc::{GrpcServer, GrpcSettings}};
//! use boost_test_proto::greeter_server::{Greeter, GreeterServer};
//! use boost_test_proto::{HelloReply, HelloRequest, FILE_DESCRIPTOR_SET};
//! use tonic::service::Routes;
//!
//! struct Hello;
//!
//! #[tonic::async_trait]
//! impl Greeter for Hello {
//!     async fn say_hello(
//!         &self,
//!         request: tonic::Request<HelloRequest>,
//!     ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
//!         let name = request.into_inner().name;
//!         Ok(tonic::Response::new(HelloReply { message: format!("hello {name}") }))
//!     }
//! }
//!
//! # async fn main_() -> Result<(), Box<dyn std::error::Error>> {
//! let identity = boost_config::ServiceIdentity::new("hello-service", "1.0.0");
//! Service::builder(identity)
//!     .grpc_with(|| {
//!         // Built once metrics are installed: clients and caches made here export theirs.
//!         let routes = Routes::new(GreeterServer::new(Hello));
//!         Ok(GrpcServer::new(GrpcSettings::default(), routes)
//!             .file_descriptor_set(FILE_DESCRIPTOR_SET)) // for reflection and per-service health
//!     })
//!     .run()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Every call then gets what [`boost_rpc::server`] gives (request id, a server
//! span joined to the caller's trace, `rpc_server_call_duration_seconds`,
//! deadlines, load shedding, panic safety, a request size limit), and the
//! server gets:
//!
//! - **`TCP_NODELAY`** on every accepted socket (tonic leaves Nagle's algorithm
//!   on for sockets it is handed, which makes small unary calls ~6× slower);
//! - **`grpc.health.v1`** (tonic-health) following the service's readiness:
//!   `SERVING` while ready, `NOT_SERVING` from the moment shutdown starts —
//!   see [`health`] for the details;
//! - **`grpc.reflection.v1`** (tonic-reflection) listing the services of the
//!   descriptor sets passed to [`GrpcServer::file_descriptor_set`] plus health,
//!   unless `grpc.server.reflection = false`;
//! - **a graceful drain**: shutdown (SIGTERM or
//!   [`ShutdownHandle::trigger`](crate::ShutdownHandle::trigger)) flips health
//!   to `NOT_SERVING` at once; calls are still accepted for
//!   `lifecycle.drain_delay` while load balancers notice; then the listener
//!   closes, each connection gets an HTTP/2 `GOAWAY` (new calls are refused),
//!   and in-flight calls finish — within `lifecycle.shutdown_timeout` — before
//!   [`ServiceBuilder::run`](crate::ServiceBuilder::run) returns.
//!
//! # `grpc_with` or `grpc`
//!
//! [`ServiceBuilder::grpc_with`](crate::ServiceBuilder::grpc_with) takes a
//! closure that builds the [`GrpcServer`] when the service starts — after the
//! metrics recorder is installed, before any task runs. Use it whenever the
//! handlers hold boost-rpc clients, boost-cache caches or metric handles:
//! those take their metric handles when built, and built before
//! [`run`](crate::ServiceBuilder::run) they bind to the no-op recorder and
//! their metrics are silently lost. An error from the closure stops the
//! service before it serves ([`Error::TaskSetup`](crate::Error::TaskSetup)).
//!
//! [`ServiceBuilder::grpc`](crate::ServiceBuilder::grpc) takes a server built
//! beforehand: fine for handlers that record no metrics of their own, and
//! the way to learn a port-`0` address up front with [`GrpcServer::bind`]
//! (tests). Both make the service's name the `ErrorInfo.domain` of
//! [`boost_rpc::ServiceError`]s.
//!
//! # The knobs
//!
//! [`GrpcSettings`] is the `[grpc]` section: `listen` and `server`
//! ([`boost_rpc::server::ServerSettings`]: `concurrency_limit`,
//! `request_timeout`, `max_request_size`, keepalive, HTTP/2, `reflection`).
//!
//! Port `0` picks a free port; call [`GrpcServer::bind`] first to learn it:
//!
//! ```no_run
//! # use boost_service::grpc::{GrpcServer, GrpcSettings};
//! # fn f(routes: tonic::service::Routes) -> Result<(), boost_service::grpc::GrpcError> {
//! let grpc = GrpcServer::new(GrpcSettings::new("127.0.0.1:0".parse().unwrap()), routes).bind()?;
//! let addr = grpc.local_addr(); // Some(127.0.0.1:<port>)
//! # Ok(()) }
//! ```
//!
//! Message sizes: tonic enforces them per generated server, so give the
//! settings to each one — `GreeterServer::new(svc).max_decoding_message_size(settings.server.max_request_message_bytes()).max_encoding_message_size(settings.server.max_response_message_bytes())`
//! (the examples do).
//!
//! # HTTP services
//!
//! boost-rpc's layers are transport-neutral where it makes sense — request
//! id, trace context and span, metrics, load shedding, panic catching, size
//! limit and `request_timeout` — so an axum router takes the same stack:
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use boost_rpc::server::{self, ServerSettings};
//! use boost_rpc::ServiceError;
//!
//! async fn profile() -> Result<String, (axum::http::StatusCode, String)> {
//!     let err = ServiceError::not_found("no such profile");
//!     // A ServiceError maps to the matching HTTP status (404 here).
//!     Err((err.http_status(), err.message().to_owned()))
//! }
//!
//! # async fn main_() -> std::io::Result<()> {
//! let mut settings = ServerSettings::default();
//! settings.request_timeout = Some(std::time::Duration::from_secs(2));
//! let app = Router::new()
//!     .route("/profile", get(profile))
//!     .layer(server::stack(&settings)); // x-request-id, span, metrics, shedding, ...
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! For an HTTP request the span has `rpc.system = http`, the metrics label
//! `rpc_system_name = http` and `rpc_method` is the path, the status comes
//! from the HTTP status (`404` → `NOT_FOUND`), and refusals are HTTP errors
//! (`429` when shed, `504` past `request_timeout`, `500` after a panic).

mod error;
pub mod health;
mod server;
mod settings;

pub use error::GrpcError;
pub use server::GrpcServer;
pub use settings::GrpcSettings;
