//! The runtime shell of a team-boost service: it starts telemetry, an admin
//! HTTP server and your tasks, answers health probes, and shuts everything down
//! in order on SIGTERM.
//!
//! ```no_run
//! use boost_config::{Loader, ServiceIdentity, Validate};
//! use boost_service::{AdminSettings, LifecycleSettings, Service};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Default, Deserialize, Serialize)]
//! #[serde(default, deny_unknown_fields)]
//! struct Config {
//!     service: ServiceIdentity,
//!     admin: AdminSettings,
//!     lifecycle: LifecycleSettings,
//!     tracing: boost_tracing::TracingSettings,
//!     metrics: boost_metrics::MetricsSettings,
//! }
//!
//! impl Validate for Config {
//!     fn validate(&self, problems: &mut boost_config::Problems) {
//!         problems.check("admin", &self.admin);
//!         problems.check("lifecycle", &self.lifecycle);
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = Loader::new("hello-service").load::<Config>()?;
//!     Service::builder(config.service.clone())
//!         .admin(config.admin.clone())
//!         .lifecycle(config.lifecycle.clone())
//!         .tracing(config.tracing.clone())
//!         .metrics(config.metrics.clone())
//!         .config_explain(config.explain())
//!         .readiness_check("upstream", || async { Ok::<_, std::io::Error>(()) })
//!         .task("worker", |lc| async move {
//!             // Serve until told to stop accepting, then finish in-flight work.
//!             lc.stop_accepting().await;
//!             Ok::<_, std::io::Error>(())
//!         })
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
//!
//! [`run`](ServiceBuilder::run) loads nothing itself: it takes settings that
//! boost-config loaded. It returns `Ok(())` after a clean graceful shutdown and
//! an [`Error`] that says what to change otherwise.
//!
//! # The admin server
//!
//! Listens on `admin.listen` (default `127.0.0.1:8081`, loopback only):
//!
//! | endpoint | answers |
//! |---|---|
//! | `GET /metrics` | Prometheus text (`text/plain; version=0.0.4`) from boost-metrics: `service_info`, process metrics, everything recorded through the `metrics` facade |
//! | `GET /health/live` | `200 {"status":"alive"}` while the process can answer; no dependency is checked |
//! | `GET /health/ready` | `200` when serving and every readiness check passes, else `503`; JSON lists each check's status, duration and error |
//! | `GET /info` | the [`ServiceIdentity`](boost_config::ServiceIdentity), build info (version, git commit, rustc), start time (RFC 3339) and uptime |
//! | `GET /config` | the text given to [`config_explain`](ServiceBuilder::config_explain): the effective config with provenance, secrets masked |
//! | `GET /loglevel` | the log filter in force |
//! | `PUT /loglevel` | replaces it with the request body (e.g. `info,hello_service=debug`); needs the admin token |
//!
//! # Security
//!
//! Endpoints that change state (`PUT /loglevel`) need
//! `Authorization: Bearer <admin.token>`. The token is a
//! [`Secret`](boost_config::Secret), compared in constant time; a missing token
//! is `401` (with `WWW-Authenticate: Bearer`), a wrong one `403`. Without
//! `admin.token` these endpoints are off and answer `403` saying how to turn
//! them on. Every change and every refusal is a `WARN` audit event with target
//! `boost_service::audit`: who (`sha256:` + the first 8 hex digits of the
//! token's SHA-256, never the token, and the peer address), what, old → new
//! value, and when.
//!
//! # Readiness
//!
//! [`readiness_check`](ServiceBuilder::readiness_check) registers a named async
//! check. Checks run concurrently, each within its timeout
//! (`lifecycle.readiness_timeout`, or [`ReadinessCheck::timeout`]); one that
//! hangs is reported as `timeout` and never holds the probe longer. Results are
//! reused for `lifecycle.readiness_cache_ttl`. Tasks see the same answer through
//! [`Lifecycle::check_readiness`].
//!
//! # Shutdown, in order
//!
//! On SIGTERM or SIGINT (or [`ShutdownHandle::trigger`], or a task ending):
//!
//! 1. readiness turns false at once (`/health/ready` is `503`,
//!    [`Lifecycle::shutdown_started`] resolves);
//! 2. `lifecycle.drain_delay` passes while everything still serves, so load
//!    balancers stop sending;
//! 3. [`Lifecycle::stop_accepting`] resolves: tasks stop accepting and finish
//!    in-flight work by [`Lifecycle::deadline`] (`lifecycle.shutdown_timeout`);
//!    tasks still running then are aborted;
//! 4. the admin server closes (scrapes and probes work until here);
//! 5. logs and spans are flushed; `run` returns.
//!
//! A second signal (or [`ShutdownHandle::force`]) aborts everything and returns
//! [`Error::Forced`] at once. Each step is logged.
//!
//! # Plugging in a server
//!
//! A server is a task that hands [`Lifecycle::stop_accepting`] to its graceful
//! shutdown hook:
//!
//! ```no_run
//! # async fn demo(builder: boost_service::ServiceBuilder) {
//! let builder = builder.task("http", |lc| async move {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
//!     axum::serve(listener, app)
//!         .with_graceful_shutdown(lc.stop_accepting())
//!         .await
//! });
//! # }
//! ```
//!
//! For gRPC, [`ServiceBuilder::grpc_with`] adds a [`GrpcServer`] task that
//! does this, with health (`NOT_SERVING` from the moment shutdown starts) and
//! reflection: see the [`grpc`] module.
//!
//! # Build what records metrics inside the service
//!
//! [`run`](ServiceBuilder::run) installs the metrics recorder. boost-rpc
//! clients, boost-cache caches and `metrics::counter!` handles bind to the
//! recorder in place when they are *built*, so build them after that: in the
//! closure given to [`grpc_with`](ServiceBuilder::grpc_with) (the
//! recommended way to serve gRPC whenever handlers hold clients or caches),
//! or inside a [`task`](ServiceBuilder::task). Built before `run` — e.g.
//! handlers passed to [`grpc`](ServiceBuilder::grpc) — their metrics are
//! silently lost. `grpc` suits handlers that record nothing themselves, and
//! tests that [`bind`](GrpcServer::bind) a port-`0` server up front.
//!
//! # Tests
//!
//! [`start`](ServiceBuilder::start) returns a [`RunningService`] once the
//! admin server listens: use `admin.listen = "127.0.0.1:0"` and
//! [`RunningService::admin_addr`]. Tracing and metrics install process-wide
//! globals, so tests call [`without_telemetry`](ServiceBuilder::without_telemetry)
//! (optionally plugging in [`log_level_control`](ServiceBuilder::log_level_control)
//! and [`metrics_render`](ServiceBuilder::metrics_render)) and
//! [`handle_signals(false)`](ServiceBuilder::handle_signals):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), boost_service::Error> {
//! use boost_service::{AdminSettings, LifecycleSettings, Service};
//!
//! let svc = Service::builder(boost_config::ServiceIdentity::new("demo", "1.0.0"))
//!     .without_telemetry()
//!     .handle_signals(false)
//!     .admin(AdminSettings::new(([127, 0, 0, 1], 0).into()))
//!     .lifecycle(LifecycleSettings::default().with_drain_delay(std::time::Duration::ZERO))
//!     .start()
//!     .await?;
//! assert!(svc.admin_addr().port() != 0);
//! assert!(svc.lifecycle().is_ready());
//! svc.shutdown_handle().trigger();
//! svc.wait().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod admin;
mod builder;
mod check;
mod config;
mod entry;
mod error;
pub mod grpc;
mod kit;
mod lifecycle;
mod readiness;
mod running;
mod service;
mod settings;
mod shutdown;
mod telemetry;

pub use builder::ServiceBuilder;
pub use check::check_config_dir;
pub use config::{Config, NoSettings, ServiceSettings};
pub use entry::{Package, main, reference_config};
pub use kit::KitSettings;
pub use service::Service;
pub use error::{BoxError, Error};
pub use grpc::{GrpcServer, GrpcSettings};
pub use lifecycle::{Lifecycle, Phase};
pub use readiness::{CheckResult, CheckStatus, ReadinessCheck, ReadinessReport, ReadinessStatus};
pub use running::RunningService;
pub use settings::{AdminSettings, LifecycleSettings};
pub use shutdown::ShutdownHandle;
pub use telemetry::LogLevelControl;
