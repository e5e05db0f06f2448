//! team-boost in one dependency: everything a gRPC service needs to run in
//! production — typed config, JSON logs and traces, Prometheus metrics,
//! caches, resilient clients, health, graceful shutdown — wired the same way
//! in every service.
//!
//! ```toml
//! [dependencies]
//! boost = { path = "../../crates/boost" }   # all features on by default
//! ```
//!
//! # A whole service
//!
//! A service describes its settings as one struct, loads it, and hands the
//! pieces to [`Service`](service::Service). `cargo run` then gives a gRPC
//! server with health and reflection, an admin server with `/metrics`,
//! `/health/ready`, `/config`, and a clean shutdown on SIGTERM:
//!
//! ```no_run
//! use boost::prelude::*;
//! use serde::{Deserialize, Serialize};
//!
//! /// Everything the service can be configured with (`config/default.toml`).
//! #[derive(Debug, Default, Deserialize, Serialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct Settings {
//!     service: ServiceIdentity,
//!     grpc: GrpcSettings,
//!     admin: AdminSettings,
//!     lifecycle: LifecycleSettings,
//!     tracing: TracingSettings,
//!     metrics: MetricsSettings,
//! }
//!
//! impl Validate for Settings {
//!     fn validate(&self, problems: &mut Problems) {
//!         problems.check("admin", &self.admin);
//!         problems.check("lifecycle", &self.lifecycle);
//!     }
//! }
//!
//! # fn routes() -> tonic::service::Routes { tonic::service::Routes::default() }
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     // Layers: defaults < config/default.toml < config/<env>.toml < env vars < --set.
//!     let config = match Loader::new("my-service").args_from_env().load::<Settings>() {
//!         Ok(config) => config,
//!         Err(e) => {
//!             eprintln!("{e}"); // names the key and the layer that set it
//!             return std::process::ExitCode::from(2);
//!         }
//!     };
//!     if config.print_config_requested() {
//!         print!("{}", config.explain());
//!         return std::process::ExitCode::SUCCESS;
//!     }
//!     let served = Service::builder(config.service.clone())
//!         .admin(config.admin.clone())
//!         .lifecycle(config.lifecycle.clone())
//!         .tracing(config.tracing.clone())
//!         .metrics(config.metrics.clone())
//!         .config_explain(config.explain())
//!         .grpc(GrpcServer::new(config.grpc.clone(), routes()))
//!         .run()
//!         .await;
//!     match served {
//!         Ok(()) => std::process::ExitCode::SUCCESS,
//!         Err(e) => {
//!             eprintln!("{e}");
//!             std::process::ExitCode::FAILURE
//!         }
//!     }
//! }
//! ```
//!
//! `examples/hello-service` is the complete version of this, with an upstream
//! client, a cache and graceful degradation: copy it to start a new service.
//!
//! # What is in here
//!
//! Each module is one of the team's crates, re-exported unchanged; their docs
//! are the user guides:
//!
//! | module | crate | feature | what for |
//! |---|---|---|---|
//! | [`config`] | boost-config | `config` | layered, typed, validated settings; `Secret`; `--print-config` |
//! | [`tracing`](mod@tracing) | boost-tracing | `tracing` | JSON logs, spans, OTLP export, W3C propagation |
//! | [`metrics`](mod@metrics) | boost-metrics | `metrics` | Prometheus exposition, naming conventions, `service_info` |
//! | [`cache`] | boost-cache | `cache` | moka caches: one load per key, cached absence, TTL jitter |
//! | [`rpc`] | boost-rpc | `rpc` | client stack (deadline, retries, balancing, ejection), server layers, `ServiceError` |
//! | [`service`] | boost-service | `service` | admin HTTP, readiness, gRPC serving, graceful shutdown |
//!
//! All features are on by default. A tool that only needs configuration and
//! logs turns the rest off:
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
//! `use boost::prelude::*;` imports the names a service's `main` and its
//! handlers use: the settings types, [`Loader`](config::Loader),
//! [`Service`](service::Service), [`GrpcServer`](service::GrpcServer), the
//! client and cache types, and [`ServiceError`](rpc::ServiceError) for
//! handlers. Everything else is reached through the modules.
//!
//! # Edge cases
//!
//! - Metrics handles are taken when a client or a cache is built, from the
//!   recorder installed then. `Service::run` installs the recorder, so build
//!   clients and caches in the closure given to
//!   [`ServiceBuilder::grpc_with`](service::ServiceBuilder::grpc_with) (see
//!   `examples/hello-service`) or inside a task, or install metrics yourself
//!   first.
//! - Generated gRPC code refers to `tonic` and `prost` by name: a service
//!   depends on those directly (same versions as the workspace).
#![deny(missing_docs)]

#[cfg(feature = "config")]
#[doc(inline)]
pub use boost_config as config;

#[cfg(feature = "tracing")]
#[doc(inline)]
pub use boost_tracing as tracing;

#[cfg(feature = "metrics")]
#[doc(inline)]
pub use boost_metrics as metrics;

#[cfg(feature = "cache")]
#[doc(inline)]
pub use boost_cache as cache;

#[cfg(feature = "rpc")]
#[doc(inline)]
pub use boost_rpc as rpc;

#[cfg(feature = "service")]
#[doc(inline)]
pub use boost_service as service;

pub mod prelude;
