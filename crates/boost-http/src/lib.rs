//! HTTP the way the kit does gRPC: server layers for axum routers and a
//! resilient client for the HTTP APIs a service calls.
//!
//! # Serving
//!
//! [`server::stack`] gives every request of an axum router a request id, a
//! server span joined to the caller's trace, `http_server_request_duration_seconds`,
//! a deadline that outbound calls inherit, load shedding, a body limit, panic
//! safety and RFC 9457 problem+json errors ([`Problem`]). boost-service serves
//! such a router beside gRPC, in the same lifecycle, from the `[http]`
//! section ([`HttpSettings`]).
//!
//! # Calling an HTTP API
//!
//! [`client::HttpClient`] calls one upstream (one or more base URLs) with a
//! total deadline (inherited from the request being served), retries of
//! idempotent requests within a retry budget, `Retry-After`, ejection of
//! failing base URLs, `traceparent` and `x-request-id`, and
//! `http_client_request_duration_seconds`.
//!
//! For tests, the `tape` feature records a client's requests to a file and
//! replays them with no network (`[<client>.tape]`,
//! [`client::HttpTapeSettings`]; `docs/replay.md`).
//!
//! See `docs/http.md` for a walk-through.
#![deny(missing_docs)]

pub mod client;
mod handles;
mod problem;
pub mod server;
mod settings;
mod span_level;
#[cfg(feature = "tape")]
pub mod virtual_upstream;

pub use problem::{PROBLEM_JSON, Problem};
pub use settings::HttpSettings;
