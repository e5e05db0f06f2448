//! HTTP serving: an axum router on `http.listen`, under boost-http's server
//! stack, beside gRPC, with the same lifecycle.
//!
//! ```no_run
//! use axum::{Json, Router, extract::Path, routing::get};
//! use boost_service::{NoSettings, Service};
//!
//! async fn hello(Path(name): Path<String>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "message": format!("Hello, {name}!") }))
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     boost_service::main(boost_service::package!(), |service: Service<NoSettings>| async move {
//!         let routes = Router::new().route("/v1/hello/{name}", get(hello));
//!         service.http(routes).run().await?;
//!         Ok(())
//!     })
//! }
//! ```
//!
//! Every request then gets what [`boost_http::server`] gives (a request id,
//! a span joined to the caller's trace, `http_server_request_duration_seconds`
//! by route template, a deadline outbound calls inherit, rate limits per
//! caller key with `429` + `Retry-After` (`[http.rate_limit]`, opt-in), load shedding with
//! `503` + `Retry-After`, a body limit with `413`, panics as `500`, and
//! problem+json errors), and the server gets what the kit's other servers get:
//!
//! - **`TCP_NODELAY`** and TCP keepalive on every accepted socket;
//! - **bounded connections**: at most `http.max_connections` (1024) open;
//!   more are closed as soon as they are accepted and counted in
//!   `server_connections_rejected_total{server="http"}`; a connection idle
//!   for `http.idle_timeout` (60s), or whose request head takes longer than
//!   `http.header_read_timeout` (10s), is closed; `accept()` errors back off;
//! - **a graceful drain**: on shutdown, requests are still served for
//!   `lifecycle.drain_delay` while load balancers notice readiness going
//!   false; then the listener closes, keep-alive connections are told to
//!   close (`connection: close`), and in-flight requests finish — within
//!   `lifecycle.shutdown_timeout`.
//!
//! [`Service::http`](crate::Service::http) adds routes (call it again to
//! merge more); the server is bound when the service
//! [starts](crate::Service::start) (a busy `http.listen` fails there, as
//! [`Error::Http`](crate::Error::Http)), and its address is
//! [`RunningService::http_addr`](crate::RunningService::http_addr).
//! [`HttpServer`] is the same server on its own, for
//! [`ServiceBuilder::http`](crate::ServiceBuilder::http).

mod error;
mod server;

pub use boost_http::HttpSettings;
pub use error::HttpError;
pub use server::HttpServer;
