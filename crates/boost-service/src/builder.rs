//! [`ServiceBuilder`]: the runtime shell's parts, set one by one, then run.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use boost_config::ServiceIdentity;

use crate::error::{BoxError, Error};
use crate::grpc::GrpcServer;
use crate::http::HttpServer;
use crate::lifecycle::Lifecycle;
use crate::readiness::ReadinessCheck;
use crate::running::{CloseFn, Plan, RunningService, TaskFn};
use crate::settings::{AdminSettings, LifecycleSettings};
use crate::shutdown::ShutdownHandle;
use crate::telemetry::{LogLevelControl, MetricsMode, RenderConfig, Telemetry, TracingMode};

/// The runtime shell's parts, set one by one: identity, admin, lifecycle,
/// telemetry, readiness checks and tasks. [`run`](Self::run) starts it and
/// returns when it has shut down.
///
/// A service uses [`Service`](crate::Service), which fills all of this in from
/// its configuration. `ServiceBuilder` is for programs that configure the
/// shell themselves, and for tests: telemetry starts in
/// [`start`](Self::start), so metric handles taken before it bind to no
/// recorder.
pub struct ServiceBuilder {
    identity: ServiceIdentity,
    /// The prefix the config loader read environment variables with, for
    /// the hints in errors; `None`: the identity's name (`service.name`).
    env_prefix: Option<String>,
    admin: AdminSettings,
    lifecycle: LifecycleSettings,
    tracing: TracingMode,
    metrics: MetricsMode,
    config: Option<RenderConfig>,
    git_commit: Option<String>,
    checks: Vec<ReadinessCheck>,
    tasks: Vec<(String, TaskFn)>,
    handle_signals: bool,
    shutdown: ShutdownHandle,
    /// Telemetry started already (by [`Service`](crate::Service)).
    started: Option<Telemetry>,
    /// The bound address of the gRPC server, when it was bound up front.
    grpc_addr: Option<std::net::SocketAddr>,
    /// The bound address of the HTTP server, when it was bound up front.
    http_addr: Option<std::net::SocketAddr>,
    switches: Option<boost_switches::Switches>,
    audit: Option<boost_audit::AuditLog>,
    runbook: Option<String>,
    closers: Vec<(String, CloseFn)>,
    migrations: Option<(boost_db::Database, std::path::PathBuf)>,
}

impl fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks: Vec<&str> = self.tasks.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("ServiceBuilder")
            .field("identity", &self.identity)
            .field("admin", &self.admin)
            .field("lifecycle", &self.lifecycle)
            .field("checks", &self.checks)
            .field("tasks", &tasks)
            .field("handle_signals", &self.handle_signals)
            .finish_non_exhaustive()
    }
}

impl ServiceBuilder {
    /// A shell for the service `identity`, with default admin and lifecycle
    /// settings and default telemetry (started by [`start`](Self::start)).
    pub fn new(identity: ServiceIdentity) -> Self {
        ServiceBuilder {
            identity,
            env_prefix: None,
            admin: AdminSettings::default(),
            lifecycle: LifecycleSettings::default(),
            tracing: TracingMode::default(),
            metrics: MetricsMode::default(),
            config: None,
            git_commit: None,
            checks: Vec::new(),
            tasks: Vec::new(),
            handle_signals: true,
            shutdown: ShutdownHandle::new(),
            started: None,
            grpc_addr: None,
            http_addr: None,
            switches: None,
            audit: None,
            runbook: None,
            closers: Vec::new(),
            migrations: None,
        }
    }

    /// The environment-variable prefix the service's config was loaded with
    /// (`Loader::new`'s name, which `service.name` in a file does not
    /// change), named in the hints of errors and refusals.
    pub(crate) fn env_prefix(mut self, prefix: String) -> Self {
        self.env_prefix = Some(prefix);
        self
    }

    /// Runs `close` once every task has stopped in the graceful shutdown
    /// (in-flight calls finished), before the admin server stops: how the
    /// database pool is closed after the calls that use it.
    pub(crate) fn close_after_tasks(mut self, name: impl Into<String>, close: CloseFn) -> Self {
        self.closers.push((name.into(), close));
        self
    }

    /// The database and migrations directory `GET /migrations` reports on.
    pub(crate) fn migrations(mut self, db: boost_db::Database, dir: std::path::PathBuf) -> Self {
        self.migrations = Some((db, dir));
        self
    }

    /// The runtime switches `/flags` shows and `PUT /flags/{name}` changes
    /// (default: none).
    #[must_use]
    pub fn switches(mut self, switches: boost_switches::Switches) -> Self {
        self.switches = Some(switches);
        self
    }

    /// The audit trail state-changing admin requests (and their refusals)
    /// are recorded in, shown by `/audit` (default: in memory and the log
    /// stream only).
    #[must_use]
    pub fn audit(mut self, audit: boost_audit::AuditLog) -> Self {
        self.audit = Some(audit);
        self
    }

    /// The Markdown served at `GET /runbook` (default: the runbook
    /// [`boost_slo::runbook`] generates for the default `[slo]` objectives;
    /// [`Service`](crate::Service) gives the one of the service's config).
    #[must_use]
    pub fn runbook(mut self, markdown: impl Into<String>) -> Self {
        self.runbook = Some(markdown.into());
        self
    }

    /// The `[admin]` settings (default: `127.0.0.1:8081`, no token).
    pub fn admin(mut self, settings: AdminSettings) -> Self {
        self.admin = settings;
        self
    }

    /// The `[lifecycle]` settings: drain delay, shutdown timeout, readiness
    /// cache and timeout.
    pub fn lifecycle(mut self, settings: LifecycleSettings) -> Self {
        self.lifecycle = settings;
        self
    }

    /// Starts logging and tracing with `boost_tracing::init(settings, identity)`
    /// when the service starts, and flushes it last at shutdown. `/loglevel`
    /// then reads and changes its filter.
    pub fn tracing(mut self, settings: boost_tracing::TracingSettings) -> Self {
        self.tracing = TracingMode::Start(Box::new(settings));
        self
    }

    /// Installs the Prometheus recorder with `boost_metrics::install(settings,
    /// identity)` when the service starts; `/metrics` renders it.
    ///
    /// Telemetry starts inside [`start`](Self::start), before any task:
    /// metric handles taken before that (by boost-rpc clients, boost-cache
    /// caches, `metrics::counter!`) bind to no recorder. [`Service`](crate::Service)
    /// starts telemetry when it is made, so there this cannot happen.
    pub fn metrics(mut self, settings: boost_metrics::MetricsSettings) -> Self {
        self.metrics = MetricsMode::Start(Box::new(settings));
        self
    }

    /// Uses a log filter set up elsewhere for `/loglevel`, instead of starting
    /// tracing here (e.g. a `boost_tracing::LogFilter`, or a fake in tests).
    pub fn log_level_control(mut self, control: impl LogLevelControl) -> Self {
        self.tracing = TracingMode::Given(Arc::new(control));
        self
    }

    /// Uses a metrics renderer set up elsewhere for `/metrics`, instead of
    /// installing a recorder here (e.g. `move || handle.render()`).
    /// It always answers in Prometheus text; give a
    /// [`metrics_handle`](Self::metrics_handle) for OpenMetrics and exemplars.
    pub fn metrics_render(mut self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.metrics = MetricsMode::Given(Arc::new(move |_| {
            (boost_metrics::ScrapeFormat::Prometheus, render())
        }));
        self
    }

    /// Serves a `boost_metrics::MetricsHandle` built or installed elsewhere on
    /// `/metrics`, instead of installing a recorder here: the scrape is
    /// OpenMetrics with exemplars when the `Accept` header asks for
    /// `application/openmetrics-text` (Prometheus does), Prometheus text otherwise.
    pub fn metrics_handle(mut self, handle: boost_metrics::MetricsHandle) -> Self {
        self.metrics =
            MetricsMode::Given(Arc::new(move |format| (format, handle.render_as(format))));
        self
    }

    /// Starts neither tracing nor metrics (both install process-wide globals):
    /// for tests, and for programs that set telemetry up themselves. Call
    /// [`log_level_control`](Self::log_level_control) /
    /// [`metrics_render`](Self::metrics_render) after it to plug theirs in.
    /// Without any of these calls, both start with default settings.
    pub fn without_telemetry(mut self) -> Self {
        self.tracing = TracingMode::Off;
        self.metrics = MetricsMode::Off;
        self
    }

    /// The text `/config` shows: the effective configuration with provenance,
    /// secrets masked — pass `loaded.explain()` from boost-config.
    pub fn config_explain(self, explanation: impl Into<String>) -> Self {
        let explanation: Arc<str> = explanation.into().into();
        self.config_explain_with(move || explanation.to_string())
    }

    /// Like [`config_explain`](Self::config_explain), computed on each request
    /// (for configuration that reloads).
    pub fn config_explain_with(
        mut self,
        explain: impl Fn() -> String + Send + Sync + 'static,
    ) -> Self {
        self.config = Some(Arc::new(explain));
        self
    }

    /// The commit the binary was built from, shown by `/info`; e.g.
    /// `option_env!("GIT_COMMIT")` in the binary. Default: `GIT_COMMIT` at the
    /// time boost-service was compiled, if it was set.
    pub fn git_commit(mut self, commit: Option<impl Into<String>>) -> Self {
        self.git_commit = commit.map(Into::into);
        self
    }

    /// Registers a readiness check with the default timeout
    /// (`lifecycle.readiness_timeout`). `/health/ready` is `503` while any fails.
    pub fn readiness_check<F, Fut, E>(self, name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.readiness(ReadinessCheck::new(name, check))
    }

    /// Registers a readiness check built with [`ReadinessCheck`] (own timeout).
    pub fn readiness(mut self, check: ReadinessCheck) -> Self {
        self.checks.push(check);
        self
    }

    /// Adds a long-running task, started once the admin server listens.
    ///
    /// It gets a [`Lifecycle`] and should return soon after
    /// [`Lifecycle::stop_accepting`] resolves. A task that ends before shutdown
    /// starts (with `Ok` or an error) starts shutdown; an error or panic makes
    /// [`run`](Self::run) return it.
    pub fn task<F, Fut, E>(mut self, name: impl Into<String>, task: F) -> Self
    where
        F: FnOnce(Lifecycle) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let task: TaskFn = Box::new(move |lc| {
            let fut = task(lc);
            Box::pin(async move { fut.await.map_err(Into::into) })
        });
        self.tasks.push((name.into(), task));
        self
    }

    /// Serves gRPC as one of the service's tasks: `server`'s routes under
    /// [`boost_rpc::server::stack`], with health and reflection, started with
    /// the service and drained at shutdown (see [`crate::grpc`]). Also makes
    /// the service's name the `ErrorInfo.domain` of
    /// [`boost_rpc::ServiceError`]s.
    pub fn grpc(mut self, server: GrpcServer) -> Self {
        boost_rpc::set_error_domain(self.identity.name.clone());
        if let Some(addr) = server.local_addr() {
            self.grpc_addr = Some(addr);
        }
        self.task("grpc", move |lifecycle| server.serve(lifecycle))
    }

    /// Serves HTTP as one of the service's tasks: `server`'s router under
    /// [`boost_http::server::stack`], started with the service and drained at
    /// shutdown (see [`crate::http`]).
    pub fn http(mut self, server: HttpServer) -> Self {
        if let Some(addr) = server.local_addr() {
            self.http_addr = Some(addr);
        }
        self.task("http", move |lifecycle| server.serve(lifecycle))
    }

    /// Uses telemetry that is already running (started by [`Service`](crate::Service)).
    pub(crate) fn started_telemetry(mut self, telemetry: Telemetry) -> Self {
        self.started = Some(telemetry);
        self
    }

    /// Whether SIGTERM/SIGINT start (and a second one forces) shutdown. Default
    /// `true`; turn off when the host program owns signals, and use
    /// [`shutdown_handle`](Self::shutdown_handle) instead.
    pub fn handle_signals(mut self, on: bool) -> Self {
        self.handle_signals = on;
        self
    }

    /// A handle that starts shutdown from code, as SIGTERM does.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Starts telemetry, the admin server and the tasks, and returns once they
    /// run (the admin address is then known). Call
    /// [`RunningService::wait`] to run until shutdown.
    pub async fn start(self) -> Result<RunningService, Error> {
        let mut problems = boost_config::Problems::of("admin", &self.admin);
        problems.check("lifecycle", &self.lifecycle);
        problems
            .into_result(format!("the shell of {}", self.identity.name))
            .map_err(|e| Error::Config(Box::new(e)))?;
        let telemetry = match self.started {
            Some(started) => started,
            None => crate::telemetry::start(self.tracing, self.metrics, &self.identity)?,
        };
        let audit = match self.audit {
            Some(audit) => audit,
            None => boost_audit::AuditLog::in_memory(&self.identity.name),
        };
        let runbook = self.runbook.unwrap_or_else(|| {
            let slo = boost_slo::SloSettings::default();
            let mut inputs = boost_slo::RunbookInputs::default();
            inputs.admin_url = crate::slo::admin_url(&self.admin, &slo);
            if self.admin.token.is_some() {
                inputs.token = boost_slo::AdminToken::Config("the service's code".to_owned());
            }
            boost_slo::runbook(&slo, &self.identity, &inputs)
        });
        let env_prefix = self
            .env_prefix
            .unwrap_or_else(|| self.identity.env_prefix());
        RunningService::start(Plan {
            runbook,
            env_prefix,
            identity: self.identity,
            admin: self.admin,
            lifecycle: self.lifecycle,
            telemetry,
            config: self.config,
            git_commit: self.git_commit,
            checks: self.checks,
            tasks: self.tasks,
            handle_signals: self.handle_signals,
            shutdown: self.shutdown,
            grpc_addr: self.grpc_addr,
            http_addr: self.http_addr,
            audit,
            switches: self.switches.unwrap_or_else(boost_switches::Switches::none),
            closers: self.closers,
            migrations: self.migrations,
        })
        .await
    }

    /// Starts the service and runs it until it has shut down: `Ok(())` after a
    /// clean graceful shutdown.
    pub async fn run(self) -> Result<(), Error> {
        self.start().await?.wait().await
    }
}
