//! [`Service`] and [`ServiceBuilder`]: describe a service, then run it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use boost_config::ServiceIdentity;

use crate::error::{BoxError, Error};
use crate::lifecycle::Lifecycle;
use crate::readiness::ReadinessCheck;
use crate::running::RunningService;
use crate::settings::{AdminSettings, LifecycleSettings};
use crate::shutdown::ShutdownHandle;
use crate::telemetry::{LogLevelControl, RenderConfig, RenderMetrics};

type TaskFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;
pub(crate) type TaskFn = Box<dyn FnOnce(Lifecycle) -> TaskFuture + Send>;
/// Builds a task once telemetry is up (so what it builds binds to the real
/// metrics recorder), before the tasks start.
pub(crate) type DeferredTaskFn = Box<dyn FnOnce() -> Result<TaskFn, BoxError> + Send>;

/// Entry point: `Service::builder(identity)`.
#[derive(Debug)]
#[non_exhaustive]
pub struct Service;

impl Service {
    /// Starts describing the service `identity`. See the [crate docs](crate).
    pub fn builder(identity: ServiceIdentity) -> ServiceBuilder {
        ServiceBuilder {
            identity,
            admin: AdminSettings::default(),
            lifecycle: LifecycleSettings::default(),
            tracing: TracingMode::default(),
            metrics: MetricsMode::default(),
            config: None,
            git_commit: None,
            checks: Vec::new(),
            tasks: Vec::new(),
            deferred: Vec::new(),
            handle_signals: true,
            shutdown: ShutdownHandle::new(),
        }
    }
}

/// How tracing is provided to the service.
pub(crate) enum TracingMode {
    /// `boost_tracing::init` with these settings when the service starts.
    Start(Box<boost_tracing::TracingSettings>),
    /// Someone else owns the subscriber; `/loglevel` uses this control.
    Given(Arc<dyn LogLevelControl>),
    /// No tracing set up here; `/loglevel` answers 501.
    Off,
}

impl Default for TracingMode {
    fn default() -> Self {
        Self::Start(Box::default())
    }
}

/// How metrics are provided to the service.
pub(crate) enum MetricsMode {
    /// `boost_metrics::install` with these settings when the service starts.
    Start(Box<boost_metrics::MetricsSettings>),
    /// Someone else installed a recorder; `/metrics` calls this.
    Given(RenderMetrics),
    /// No metrics; `/metrics` answers 501.
    Off,
}

impl Default for MetricsMode {
    fn default() -> Self {
        Self::Start(Box::default())
    }
}

/// Describes a service: its settings, telemetry, readiness checks and tasks.
/// [`run`](Self::run) starts it and returns when it has shut down.
pub struct ServiceBuilder {
    pub(crate) identity: ServiceIdentity,
    pub(crate) admin: AdminSettings,
    pub(crate) lifecycle: LifecycleSettings,
    pub(crate) tracing: TracingMode,
    pub(crate) metrics: MetricsMode,
    pub(crate) config: Option<RenderConfig>,
    pub(crate) git_commit: Option<String>,
    pub(crate) checks: Vec<ReadinessCheck>,
    pub(crate) tasks: Vec<(String, TaskFn)>,
    pub(crate) deferred: Vec<(String, DeferredTaskFn)>,
    pub(crate) handle_signals: bool,
    pub(crate) shutdown: ShutdownHandle,
}

impl fmt::Debug for ServiceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tasks: Vec<&str> = (self.tasks.iter().map(|(n, _)| n))
            .chain(self.deferred.iter().map(|(n, _)| n))
            .map(String::as_str)
            .collect();
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
    /// Telemetry starts inside [`start`](Self::start), before any task: create
    /// metric handles (and anything that registers them, such as boost-rpc
    /// clients and boost-cache caches) inside a task or in the closure given to
    /// [`grpc_with`](Self::grpc_with), not before `run`, or they bind to the
    /// no-op recorder and their metrics are lost.
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
    pub fn metrics_render(mut self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.metrics = MetricsMode::Given(Arc::new(render));
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

    /// Adds a task that `build` makes once telemetry has started and before
    /// any task starts; an error from `build` makes [`start`](Self::start)
    /// fail with [`Error::TaskSetup`].
    pub(crate) fn deferred_task(
        mut self,
        name: impl Into<String>,
        build: impl FnOnce() -> Result<TaskFn, BoxError> + Send + 'static,
    ) -> Self {
        self.deferred.push((name.into(), Box::new(build)));
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
        RunningService::start(self).await
    }

    /// Starts the service and runs it until it has shut down: `Ok(())` after a
    /// clean graceful shutdown.
    pub async fn run(self) -> Result<(), Error> {
        self.start().await?.wait().await
    }
}
