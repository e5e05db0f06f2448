//! The runtime shell of a team-boost service: it loads the configuration —
//! the kit's standard sections and the service's own settings — starts
//! telemetry, an admin HTTP server, the gRPC server and your tasks, answers
//! health probes, and shuts everything down in order on SIGTERM.
//!
//! # A whole service
//!
//! ```no_run
//! use boost_config::{Document, Validate};
//! use boost_service::{Service, ServiceSettings};
//! use serde::{Deserialize, Serialize};
//! // What `boost::include_proto!("hello.v1")` generates (here: the kit's test proto).
//! use boost_test_proto::greeter_server::{Greeter, GreeterServer};
//! use boost_test_proto::{FILE_DESCRIPTOR_SET, HelloReply, HelloRequest};
//! use tonic::{Request, Response, Status};
//!
//! /// The service's own keys; `[service]`, `[grpc]`, `[http]`, `[admin]`, `[lifecycle]`,
//! /// `[tracing]` and `[metrics]` come with the kit.
//! #[derive(Debug, Default, Deserialize, Serialize, Validate, Document)]
//! #[serde(default, deny_unknown_fields)]
//! struct Settings {
//!     /// How each greeting starts. Default: "hello".
//!     greeting: String,
//! }
//!
//! impl ServiceSettings for Settings {}
//!
//! struct Hello(String);
//!
//! #[tonic::async_trait]
//! impl Greeter for Hello {
//!     async fn say_hello(&self, request: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
//!         let message = format!("{} {}", self.0, request.into_inner().name);
//!         Ok(Response::new(HelloReply { message }))
//!     }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     boost_service::main(boost_service::package!(), |service: Service<Settings>| async move {
//!         let hello = GreeterServer::new(Hello(service.settings().greeting.clone()));
//!         let serving = service.grpc(hello).file_descriptor_set(FILE_DESCRIPTOR_SET);
//!         Ok(serving.run().await?)
//!     })
//! }
//! ```
//!
//! [`main`] loads the configuration ([`Service::load`]: defaults, `config/*.toml`,
//! `<NAME>__…` environment variables, `--set`), reports every problem at once
//! with its key and source, starts telemetry ([`Service::new`]), and runs your
//! closure; it also answers `--print-config` (the effective configuration
//! with the layer of each value), `--print-default-config` (every key with
//! its default and documentation, generated from the settings types) and
//! `--help`. Errors are printed as one readable message; the exit code is `2`
//! for a bad configuration, `1` for a failed service.
//!
//! The kit's sections are [`KitSettings`]; a service changes their defaults
//! for itself in [`ServiceSettings::kit_defaults`] (e.g. its ports) and per
//! environment in its config files. Nothing is threaded by hand: the kit
//! reads its own sections, validates them with the service's, and starts
//! what they describe.
//!
//! # Build what records metrics whenever you like
//!
//! Telemetry starts when the [`Service`] is made — before your closure gets
//! the settings — so boost-rpc clients, boost-cache caches and
//! `metrics::counter!` handles built from them record into the real
//! recorder, in whatever order you build them.
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
//! | `GET /config` | the effective configuration with the layer of each value, secrets masked ([`Loaded::explain`](boost_config::Loaded::explain)) |
//! | `GET /loglevel` | the log filter in force |
//! | `PUT /loglevel` | replaces it with the request body (e.g. `info,hello_service=debug`); needs the admin token; a directive that sets no level (`inof`) is `400` |
//! | `GET /upstreams` | every kit client in the process ([`boost_rpc::upstreams`]): its endpoints' ejection state, its throttle's reject probability and window, its retry budget's balance, as JSON |
//! | `GET /migrations` | the migrations of `database.migrations` and where each stands in the database (applied, pending, checksum_mismatch, …), as JSON ([`boost_db::MigrationReport`]); `404` when unset |
//!
//! Its bounds: at most `admin.max_connections` (64) connections, plus
//! `admin.probe_connections` (4) that serve only `/health/*` while the cap is
//! full; more are closed at once. Idle connections close after
//! `admin.idle_timeout` (60s), a request head must arrive within
//! `admin.header_read_timeout` (10s) and a body (16 KiB at most, else `413`)
//! within `admin.body_timeout` (5s, else `408`). Bodies are read before a
//! request takes one of the 32 handler slots, and `/health/*` takes none, so
//! probes never wait behind other admin requests.
//!
//! # Security
//!
//! Endpoints that change state (`PUT /loglevel`) need
//! `Authorization: Bearer <admin.token>`. The token is a
//! [`Secret`](boost_config::Secret), compared in constant time; a missing token
//! is `401` (with `WWW-Authenticate: Bearer`), a wrong one `403`. Without
//! `admin.token` these endpoints are off and answer `403` saying how to turn
//! them on. Every change and every refusal is a `WARN` audit event with target
//! `boost_service::audit` ([`boost_tracing::AUDIT_TARGET`], written whatever
//! the log filter says): who (`sha256:` + the first 8 hex digits of the
//! token's SHA-256, never the token, and the peer address), what, old → new
//! value, and when.
//!
//! # Readiness
//!
//! [`readiness_check`](Service::readiness_check) registers a named async
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
//! gRPC: [`Service::grpc`] serves a tonic service on `grpc.listen` with the
//! kit's server layers, health and reflection (see the [`grpc`] module).
//! HTTP: [`Service::http`] serves an axum router on `http.listen` with
//! boost-http's server layers (see the [`http`] module). Any other server is
//! a task that hands [`Lifecycle::stop_accepting`] to its graceful shutdown
//! hook:
//!
//! ```no_run
//! # fn demo(service: boost_service::Service) -> boost_service::Service {
//! service.task("websocket", |lc| async move {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:9000").await?;
//!     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
//!     axum::serve(listener, app)
//!         .with_graceful_shutdown(lc.stop_accepting())
//!         .await
//! })
//! # }
//! ```
//!
//! # Tests
//!
//! [`Service::without_telemetry`] makes a service from a loaded [`Config`]
//! without the process-wide subscriber and recorder;
//! [`start`](Service::start) returns a [`RunningService`] once the admin
//! server listens. Use port `0` and read the addresses back:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use boost_service::{Config, NoSettings, Service};
//!
//! let config = boost_config::Loader::new("demo")
//!     .dir("no/such/dir")
//!     .env_vars([("APP_ENV", "")])
//!     .args(["--set", "admin.listen=127.0.0.1:0", "--set", "lifecycle.drain_delay=0s"])
//!     .load::<Config<NoSettings>>()?;
//! let svc = Service::without_telemetry(config).handle_signals(false).start().await?;
//! assert!(svc.admin_addr().port() != 0);
//! assert!(svc.lifecycle().is_ready());
//! svc.shutdown_handle().trigger();
//! svc.wait().await?;
//! # Ok(()) }
//! ```
//!
//! [`check_config_dir`] keeps a service's shipped config files true in its
//! own tests. [`ServiceBuilder`] is the shell without a [`Config`], part by
//! part, for programs that load no configuration.
#![deny(missing_docs)]

mod admin;
mod builder;
mod check;
mod config;
mod connections;
mod entry;
mod error;
pub mod grpc;
pub mod http;
mod kit;
mod lifecycle;
mod phase;
mod readiness;
mod running;
mod service;
mod settings;
mod shutdown;
mod slo;
mod telemetry;

pub use builder::ServiceBuilder;
pub use check::check_config_dir;
pub use config::{Config, NoSettings, ServiceSettings};
pub use entry::{Package, main, reference_config};
pub use error::{BoxError, Error};
pub use grpc::{GrpcServer, GrpcSettings};
pub use http::{HttpServer, HttpSettings};
pub use kit::KitSettings;
pub use lifecycle::{Lifecycle, Phase};
pub use readiness::{CheckResult, CheckStatus, ReadinessCheck, ReadinessReport, ReadinessStatus};
pub use running::RunningService;
pub use service::Service;
pub use settings::{AdminSettings, LifecycleSettings};
pub use shutdown::ShutdownHandle;
pub use telemetry::LogLevelControl;
