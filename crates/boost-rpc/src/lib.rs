//! gRPC the way production services need it, as tower layers around tonic:
//! a resilient client for calling upstreams, and server layers that give
//! every handler tracing, metrics, deadlines, load shedding and safe errors.
//!
//! # Calling an upstream
//!
//! [`client()`] builds a [`Client`](client::Client) from
//! [`ClientSettings`](client::ClientSettings) (normally a section of your
//! config, such as `[profiles]`); hand it to any tonic-generated client:
//!
//! ```no_run
//! use boost_rpc::client::ClientSettings;
//! use boost_test_proto::{GetProfileRequest, profiles_client::ProfilesClient};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = ClientSettings::with_endpoints(["http://127.0.0.1:50052"]);
//! let mut profiles = ProfilesClient::new(boost_rpc::client("profiles", &settings)?);
//! match profiles.get_profile(GetProfileRequest { name: "ada".into() }).await {
//!     Ok(profile) => println!("{}", profile.into_inner().language),
//!     // Classify any status: retryable? whose fault?
//!     Err(status) if boost_rpc::RpcError::from(status.clone()).is_caller_fault() => {}
//!     Err(status) => return Err(status.into()),
//! }
//! # Ok(()) }
//! ```
//!
//! Every call then has one total deadline (300 ms by default, shortened by the
//! deadline of the request being served), retries of `UNAVAILABLE` within a
//! budget, balancing over the endpoints by latency, ejection of failing
//! endpoints, a concurrency limit, a client span and
//! `rpc_client_call_duration_seconds`. The [`client`](mod@client) module
//! explains each layer and its settings.
//!
//! # Settings are checked where they are loaded
//!
//! [`ClientSettings`](client::ClientSettings) and
//! [`ServerSettings`](server::ServerSettings) (and their sections) implement
//! [`boost_config::Validate`] and [`boost_config::Document`]: a service that
//! holds `profiles: ClientSettings` in its settings struct gets every value
//! that cannot work refused at start-up, named with its key and the layer that
//! set it (`profiles.timeout (env HELLO_SERVICE__PROFILES__TIMEOUT): must be
//! more than 0`), and the fields' docs in its generated reference config.
//! [`client()`] runs the same checks on settings made in code and returns
//! [`RpcError::Config`] listing all of them:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mut settings = boost_rpc::client::ClientSettings::with_endpoints(["http://127.0.0.1:50052"]);
//! settings.timeout = std::time::Duration::ZERO;
//! let error = boost_rpc::client("profiles", &settings).unwrap_err();
//! assert!(error.to_string().contains("`profiles.timeout` (set in code): must be more than 0"));
//! # }
//! ```
//!
//! # Serving
//!
//! [`server::stack`] wraps a tonic server (or an axum router) so that each call
//! gets a request id, a span joined to the caller's trace,
//! `rpc_server_call_duration_seconds`, load shedding, the caller's deadline and
//! panic safety. boost-service's `GrpcServer` applies it for you, together with
//! health, reflection and graceful shutdown; the [`server`] module shows it
//! alone.
//!
//! Handlers return [`ServiceError`] for failures a caller should understand: a
//! gRPC code, a safe message and a machine-readable reason
//! (`google.rpc.ErrorInfo`); an internal error's details are logged, never sent.
//! What a status carries is bounded ([`status_bound`]: messages ≤ 1 KiB,
//! details ≤ 4 KiB), so an input a handler echoes cannot make megabytes of
//! trailers; [`ServiceError::check_length`] refuses an oversized field up front.
//!
//! ```
//! use boost_rpc::ServiceError;
//!
//! fn find(name: &str) -> Result<&'static str, ServiceError> {
//!     match name {
//!         "ada" => Ok("en"),
//!         _ => Err(ServiceError::not_found(format!("no profile named {name:?}"))
//!             .with_reason("PROFILE_NOT_FOUND")),
//!     }
//! }
//! let status = tonic::Status::from(find("bob").unwrap_err());
//! assert_eq!(status.code(), tonic::Code::NotFound);
//! ```
//!
//! # Deadlines across services
//!
//! Inside a handler, [`deadline::remaining()`] is the time the caller has left;
//! boost-rpc clients called from the handler never wait longer than that, so a
//! deadline only shrinks down a call chain. The request id travels the same way
//! ([`server::current_request_id`]).
//!
//! # Layers alone
//!
//! Every layer of both stacks is a module of [`client`](mod@client) or
//! [`server`] with a tower `Layer`, its service and (in its `future` module)
//! the service's response future, as in tower: e.g.
//! [`client::retry::RetryLayer`], [`client::retry::Retry`],
//! `client::retry::future::ResponseFuture`. Use one alone when the whole
//! stack is not what you need; the stacks themselves are opaque
//! ([`client::Client`], [`server::Served`]), so their order can improve
//! without breaking your types.
//!
//! See `docs/rpc.md` for the settings, metric names and the reasons behind
//! each default.
#![deny(missing_docs)]

#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod bench;
pub mod client;
pub mod deadline;
mod error;
mod grpc_timeout;
mod header_scan;
mod method_cache;
pub mod rate_limit;
pub mod server;
mod service_error;
mod span_level;
pub mod status_bound;
mod status_code;
pub mod upstreams;
#[cfg(feature = "tape")]
pub mod virtual_upstream;
pub use service_error::{Detail, ServiceError, set_error_domain};

pub use client::client;
pub use error::{RpcError, TapeFailure};
