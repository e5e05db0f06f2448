//! team-boost in one dependency: everything a gRPC service needs to run in
//! production — typed config, JSON logs and traces, Prometheus metrics,
//! caches, resilient clients, health, graceful shutdown — wired by the kit,
//! the same way in every service.
//!
//! ```toml
//! [dependencies]
//! boost = { path = "../../crates/boost" }        # all features on by default
//!
//! [build-dependencies]
//! boost-build = { path = "../../crates/boost-build" }   # protos → Rust, no protoc
//! ```
//!
//! # A whole service
//!
//! The service's own settings are one struct; the kit's sections (`[service]`,
//! `[grpc]`, `[http]`, `[admin]`, `[lifecycle]`, `[tracing]`, `[metrics]`) come with the
//! kit. [`service::main`] loads both, starts telemetry, and hands you the
//! [`Service`](service::Service): add what it serves and run it.
//!
//! ```no_run
//! use boost::prelude::*;
//! use boost::tonic::{Request, Response, Status};
//! // What `boost::include_proto!("hello.v1")` generates (here: the kit's test proto).
//! use boost_test_proto::greeter_server::{Greeter, GreeterServer};
//! use boost_test_proto::{FILE_DESCRIPTOR_SET, HelloReply, HelloRequest};
//!
//! /// The service's own keys (`config/default.toml`), beside the kit's sections.
//! #[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, Document)]
//! #[serde(crate = "boost::serde", default, deny_unknown_fields)]
//! struct Settings {
//!     /// How each greeting starts.
//!     greeting: String,
//! }
//!
//! impl ServiceSettings for Settings {}
//!
//! struct Hello(String);
//!
//! #[boost::tonic::async_trait]
//! impl Greeter for Hello {
//!     async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
//!         let message = format!("{} {}", self.0, request.into_inner().name);
//!         Ok(Response::new(HelloReply { message }))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     boost::service::main(boost::package!(), |service: Service<Settings>| async move {
//!         // Build handlers, clients and caches from the settings: telemetry is up already.
//!         let hello = GreeterServer::new(Hello(service.settings().greeting.clone()));
//!         let serving = service.grpc(hello).file_descriptor_set(FILE_DESCRIPTOR_SET);
//!         Ok(serving.run().await?)
//!     })
//! }
//! ```
//!
//! `cargo run` then serves gRPC (with health and reflection) on
//! `127.0.0.1:50051` and an admin server on `127.0.0.1:8081` (`/metrics`,
//! `/health/ready`, `/config`, …), logs JSON lines, and shuts down cleanly on
//! SIGTERM. `--print-default-config` prints every key with its default and
//! documentation; `--print-config` the effective value and layer of each.
//! `examples/hello-service` is the complete version, with an upstream client,
//! a cache and graceful degradation.
//!
//! # Protos
//!
//! `build.rs`: `boost_build::protos(["hello.proto"], ["proto"]).serve(["Greeter"]).compile()?;`
//! then `boost::include_proto!("hello.v1");` in a module. The generated code
//! names only `::boost::…`, so the service needs no direct dependency on
//! tonic or prost.
//!
//! # What is in here
//!
//! The kit's crates, re-exported unchanged; their docs are the user guides:
//!
//! | module | crate | feature | what for |
//! |---|---|---|---|
//! | [`config`] | boost-config | `config` | layered, typed, validated settings; `Secret`; `Validate`/`Document` derives |
//! | [`telemetry`] | boost-tracing | `tracing` | JSON logs, spans, OTLP export, W3C propagation |
//! | [`stats`] | boost-metrics | `metrics` | Prometheus exposition, naming conventions, `service_info` |
//! | [`cache`] | boost-cache | `cache` | moka caches: one load per key, cached absence, TTL jitter |
//! | [`cache`] | boost-cache | `cache-redis` (off by default) | the caches' shared second tier on Redis (`CacheBuilder::build_two_tier`) |
//! | [`rpc`] | boost-rpc | `rpc` | client stack (deadline, retries, balancing, ejection), server layers, `ServiceError` |
//! | [`web`] | boost-http | `http` | HTTP server layers for axum routers (metrics, trace context, deadlines, shedding, problem+json), resilient HTTP client |
//! | [`db`] | boost-db | `db` (with `service`) | PostgreSQL pool from `[database]` (sqlx), the caller's deadline down to the statement, spans and pool metrics |
//! | [`service`] | boost-service | `service` | `Service`, `main`, admin HTTP, readiness, gRPC and HTTP serving, graceful shutdown |
//!
//! and the ecosystem crates service code names, at the versions the kit is
//! tested with — under their own names, so `boost::tracing::info!` is the
//! `tracing` crate's macro and `boost::metrics::counter!` the `metrics`
//! crate's: [`tokio`], [`serde`], [`tracing`](mod@tracing),
//! [`metrics`](mod@metrics), [`tonic`], [`prost`], [`prost_types`],
//! [`tonic_prost`], [`axum`], [`sqlx`](mod@sqlx). The kit's own logging and metrics setup is
//! [`telemetry`] and [`stats`], never a second `tracing` or `metrics`; its
//! HTTP crate is [`web`], so `boost::http` stays free for the `http` crate's
//! name (reach that one as `boost::axum::http`).
//!
//! All features but `cache-redis` and `tape` are on by default. `tape` (record and replay of
//! gRPC and HTTP client calls, `[<client>.tape]`, see `docs/replay.md`) is for tests: turn it on in
//! `[dev-dependencies]` (`boost = { …, features = ["tape"] }`) and the service's binary goes
//! without it. A tool that only needs configuration and logs turns the rest off:
//!
//! ```toml
//! boost = { path = "…", default-features = false, features = ["tracing"] }
//! ```
//!
//! Features pull in what they build on (`rpc` brings `tracing` and `metrics`;
//! `cache` brings `metrics`; everything brings `config`), following the
//! one-way dependencies in `docs/architecture.md`.
//!
//! # The prelude
//!
//! `use boost::prelude::*;` imports the names a service's `main`, settings and
//! handlers use: [`Service`](service::Service), [`ServiceSettings`](service::ServiceSettings),
//! the settings types, `Serialize`/`Deserialize`, the `Validate`/`Document`
//! derives, the client and cache types, and [`ServiceError`](rpc::ServiceError).
#![deny(missing_docs)]

#[cfg(feature = "config")]
#[doc(inline)]
pub use boost_config as config;

#[cfg(feature = "tracing")]
#[doc(inline)]
pub use boost_tracing as telemetry;

#[cfg(feature = "metrics")]
#[doc(inline)]
pub use boost_metrics as stats;

#[cfg(feature = "cache")]
#[doc(inline)]
pub use boost_cache as cache;

#[cfg(feature = "rpc")]
#[doc(inline)]
pub use boost_rpc as rpc;

#[cfg(feature = "http")]
#[doc(inline)]
pub use boost_http as web;

#[cfg(feature = "service")]
#[doc(inline)]
pub use boost_service as service;

#[cfg(feature = "service")]
#[doc(inline)]
pub use boost_switches as switches;

#[cfg(feature = "service")]
#[doc(inline)]
pub use boost_audit as audit;

#[cfg(feature = "db")]
#[doc(inline)]
pub use boost_db as db;

#[cfg(feature = "service")]
pub use boost_service::package;

#[cfg(feature = "http")]
pub use axum;
#[cfg(feature = "metrics")]
pub use metrics;
#[cfg(feature = "rpc")]
pub use prost;
#[cfg(feature = "rpc")]
pub use prost_types;
#[cfg(feature = "config")]
pub use serde;
#[cfg(feature = "db")]
pub use sqlx;
#[cfg(feature = "rpc")]
pub use tokio;
#[cfg(feature = "rpc")]
pub use tonic;
#[cfg(feature = "rpc")]
pub use tonic_prost;
#[cfg(feature = "tracing")]
pub use tracing;

pub mod prelude;

/// Brings in the code `boost_build` generated for the proto package
/// `$package` (e.g. `"hello.v1"`): messages, `<service>_server` and
/// `<service>_client` modules, `FILE_DESCRIPTOR_SET`, the encoded
/// descriptors of the services this binary serves (for reflection and health),
/// and `FULL_FILE_DESCRIPTOR_SET`, those of every service and message of the
/// protos (for a client's tape: `Client::builder(..).descriptors(..)`).
///
/// ```ignore
/// pub mod proto {
///     boost::include_proto!("hello.v1");
/// }
/// ```
#[cfg(feature = "rpc")]
#[macro_export]
macro_rules! include_proto {
    ($package:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $package, ".rs"));

        /// The encoded `FileDescriptorSet` of the services this binary serves,
        /// for gRPC reflection and per-service health.
        pub const FILE_DESCRIPTOR_SET: &[u8] =
            include_bytes!(concat!(env!("OUT_DIR"), "/boost_file_descriptor_set.bin"));

        /// The encoded `FileDescriptorSet` of every service and message of
        /// the protos, the services this binary calls included: what a
        /// client's tape (record and replay) reads messages with.
        pub const FULL_FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(
            env!("OUT_DIR"),
            "/boost_full_file_descriptor_set.bin"
        ));
    };
}
