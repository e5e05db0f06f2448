//! gRPC serving: a tonic router on `grpc.listen`, under boost-rpc's server
//! stack, with health, reflection and a graceful drain.
//!
//! ```no_run
//! use boost_service::{NoSettings, Service};
//! use boost_test_proto::greeter_server::{Greeter, GreeterServer};
//! use boost_test_proto::{HelloReply, HelloRequest, FILE_DESCRIPTOR_SET};
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
//! fn main() -> std::process::ExitCode {
//!     boost_service::main(boost_service::package!(), |service: Service<NoSettings>| async move {
//!         service
//!             .grpc(GreeterServer::new(Hello))
//!             .file_descriptor_set(FILE_DESCRIPTOR_SET) // for reflection and per-service health
//!             .run()
//!             .await?;
//!         Ok(())
//!     })
//! }
//! ```
//!
//! Every call then gets what [`boost_rpc::server`] gives (request id, a server
//! span joined to the caller's trace, `rpc_server_call_duration_seconds`,
//! deadlines, load shedding, panic safety, a request size limit), and the
//! server gets:
//!
//! - **`TCP_NODELAY`** on every accepted socket (tonic leaves Nagle's algorithm
//!   on for sockets it is handed, which makes small unary calls ~6× slower);
//! - **bounded connections**: at most `grpc.server.max_connections` (512)
//!   open, plus `probe_connections` (4) that serve only `grpc.health.v1`;
//!   more are closed as soon as they are accepted and counted in
//!   `server_connections_rejected_total{server="grpc"}`; a connection with
//!   no call in flight for `max_connection_idle` (5m), or without a first
//!   complete call within `header_read_timeout` (10s), is closed; `accept()`
//!   errors such as running out of file descriptors back off and serving
//!   goes on (Envoy's connection limit, nginx's timeouts);
//! - **`grpc.health.v1`** (tonic-health) following the service's readiness:
//!   `SERVING` while ready, `NOT_SERVING` from the moment shutdown starts —
//!   see [`health`] for the details;
//! - **`grpc.reflection.v1`** and **`v1alpha`** (tonic-reflection; grpcio's
//!   reflection client and older grpcurl speak v1alpha) listing the services of the
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
//! # One way to serve
//!
//! [`Service::grpc`](crate::Service::grpc) adds a tonic service (call it once
//! per service); the server is bound when the service
//! [starts](crate::Service::start) (a busy `grpc.listen` fails there, as
//! [`Error::Grpc`](crate::Error::Grpc)) and its address is
//! [`RunningService::grpc_addr`](crate::RunningService::grpc_addr). It also
//! makes the service's name the `ErrorInfo.domain` of
//! [`boost_rpc::ServiceError`]s. [`GrpcServer`] is the same server on its
//! own, for the low-level [`ServiceBuilder::grpc`](crate::ServiceBuilder::grpc).
//!
//! # The knobs
//!
//! [`GrpcSettings`] is the `[grpc]` section: `listen` and `server`
//! ([`boost_rpc::server::ServerSettings`]: `concurrency_limit`,
//! `adaptive_limit` (a limit that follows latency, opt-in), `rate_limit`
//! (per caller key, opt-in: `RESOURCE_EXHAUSTED` with `grpc-retry-pushback-ms`), `request_timeout`, `max_request_size`, keepalive, HTTP/2, `reflection`,
//! `max_connections`, `probe_connections`, `max_connection_idle`,
//! `header_read_timeout`).
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
//! # TLS, mTLS and who may call what
//!
//! `[grpc.tls]` ([`ServerTlsSettings`]) turns on TLS, and mTLS with
//! `client_auth = "require"` (or `"optional"`); the files rotate without a
//! restart. Handshakes run in their own tasks within `handshake_timeout`,
//! under the connection cap. The caller's verified identity is a
//! [`PeerIdentity`] in each request's extensions (and `peer.identity` on the
//! server span):
//!
//! ```no_run
//! use boost_service::grpc::PeerIdentity;
//! use boost_test_proto::greeter_server::Greeter;
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
//!         // None without mTLS, or with `optional` and a caller that showed no certificate.
//!         let caller = request.extensions().get::<PeerIdentity>().map(|peer| {
//!             // "spiffe://prod/ns/web/sa/frontend", else a DNS name, else "CN=…"
//!             peer.principal().to_owned()
//!         });
//!         let message = format!("hello {}", caller.as_deref().unwrap_or("stranger"));
//!         Ok(tonic::Response::new(HelloReply { message }))
//!     }
//! }
//! ```
//!
//! `[grpc.authorization]` ([`AuthorizationSettings`]) refuses callers
//! whose identity a service's or method's allow-list does not name
//! (`PERMISSION_DENIED`; `UNAUTHENTICATED` without a certificate) — see
//! [`authorization`] and docs/security.md.
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

pub mod authorization;
mod error;
pub mod health;
mod server;
mod settings;
mod tls;

pub use authorization::{AuthorizationSettings, DefaultPolicy};
pub use boost_tls::{ClientAuth, PeerIdentity, ServerTlsSettings};
pub use error::GrpcError;
pub use server::{GrpcServer, served_methods};
pub use settings::GrpcSettings;
pub(crate) use tls::{AbortOnDrop, count_handshake_failure, describe as describe_tls_metrics};
