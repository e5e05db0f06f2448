//! [`Service`]: a service made from its configuration — the kit's sections
//! start the shell, the service's own settings go to its handlers.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use boost_audit::AuditLog;
use boost_config::{ConfigError, Loaded, Loader};
use boost_db::Database;
use boost_rpc::server::MessageLimits;
use boost_switches::Switches;
use tonic::server::NamedService;
use tonic::service::Routes;

use crate::builder::ServiceBuilder;
use crate::config::{Config, NoSettings, ServiceSettings};
use crate::error::{BoxError, Error};
use crate::grpc::GrpcServer;
use crate::http::HttpServer;
use crate::kit::KitSettings;
use crate::lifecycle::Lifecycle;
use crate::readiness::ReadinessCheck;
use crate::running::RunningService;
use crate::shutdown::ShutdownHandle;
use crate::telemetry::{self, LogLevelControl, MetricsMode, TracingMode};

/// A service: its configuration, with the kit's telemetry already running,
/// and what it serves. See the [crate docs](crate) for the whole story.
///
/// Made by [`main`](crate::main) (the usual way), or by [`Service::new`]
/// from a loaded [`Config`]. Telemetry — the log subscriber and the metrics
/// recorder — starts when the `Service` is made, before your code gets the
/// settings, so clients, caches and metric handles built from them always
/// record into the real recorder, whatever order you build them in.
pub struct Service<S: ServiceSettings = NoSettings> {
    config: Loaded<Config<S>>,
    switches: Switches,
    database: Option<Database>,
    shell: ServiceBuilder,
    routes: Option<Routes>,
    /// `NamedService::NAME` of each service given to [`grpc`](Self::grpc):
    /// with the descriptor sets, what the server labels metrics with.
    grpc_services: Vec<&'static str>,
    descriptor_sets: Vec<&'static [u8]>,
    http: Option<axum::Router>,
}

impl<S: ServiceSettings + std::fmt::Debug> std::fmt::Debug for Service<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("config", &self.config)
            .field("shell", &self.shell)
            .field("grpc", &self.routes.is_some())
            .field("http", &self.http.is_some())
            .finish_non_exhaustive()
    }
}

impl<S: ServiceSettings> Service<S> {
    /// Loads the configuration of the binary `name` (its `version`): defaults,
    /// `config/default.toml`, `config/$APP_ENV.toml`, `config/local.toml`,
    /// `<NAME>__…` environment variables, `--set key=value` and `--config
    /// <file>` from the command line; every problem reported at once, each
    /// with its key and source. [`main`](crate::main) calls it.
    ///
    /// # Errors
    /// The [`ConfigError`] naming every bad key and its layer.
    pub fn load(name: &str, version: &str) -> Result<Loaded<Config<S>>, ConfigError> {
        Loader::new(name)
            .version(version)
            .args_from_env()
            .load::<Config<S>>()
    }

    /// The service described by `config`, with its telemetry started now:
    /// logs and traces (`[tracing]`) and the metrics recorder (`[metrics]`).
    /// Must be called inside a Tokio runtime.
    ///
    /// The audit file (`[audit]`) and the runtime switches (`[switches]`,
    /// with the overrides their backend holds) open now too, after
    /// telemetry, so their warnings are logged and their metrics recorded.
    ///
    /// # Errors
    /// [`Error::NoRuntime`] outside a runtime; [`Error::Telemetry`] if
    /// tracing or metrics cannot start (e.g. a global subscriber or recorder
    /// is installed already); [`Error::Audit`] / [`Error::Switches`] if the
    /// audit file or the switches' state file cannot be used;
    /// [`Error::Database`] if `[database]` cannot make a pool.
    ///
    /// With `database.url` set, the PostgreSQL pool is made now too (it
    /// connects lazily: a database that is down shows on `/health/ready`
    /// as the check `database`, and does not stop the start).
    pub fn new(config: Loaded<Config<S>>) -> Result<Self, Error> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NoRuntime);
        }
        let kit = &config.kit;
        let started = telemetry::start(
            TracingMode::Start(Box::new(kit.tracing.clone())),
            MetricsMode::Start(Box::new(kit.metrics.clone())),
            &kit.service,
        )?;
        let audit = AuditLog::open(&kit.audit, &kit.service.name)?;
        let switches = Switches::open(&kit.switches, audit.clone())?;
        let database = match kit.database.url {
            Some(_) => Some(Database::new(&kit.database, &kit.service.name)?),
            None => None,
        };
        let service = Self::assemble(config, switches, audit, database);
        Ok(Self {
            shell: service.shell.started_telemetry(started),
            ..service
        })
    }

    /// The service described by `config`, starting no telemetry (which
    /// installs process-wide globals): for tests. `/metrics` and `/loglevel`
    /// answer `501` unless [`metrics_render`](Self::metrics_render) /
    /// [`log_level_control`](Self::log_level_control) plug something in.
    /// The switches `[switches]` declares and the audit trail are kept in
    /// memory only (no state file, no audit file).
    pub fn without_telemetry(config: Loaded<Config<S>>) -> Self {
        let audit = AuditLog::in_memory(&config.kit.service.name);
        let declared = config.kit.switches.declared.clone();
        // The loader validated the declarations already; a hand-made
        // invalid one leaves the service without switches (`get` says so).
        let switches = Switches::in_memory(declared).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the declared switches are invalid; serving none");
            Switches::none()
        });
        let kit = &config.kit;
        let database = match kit.database.url {
            Some(_) if tokio::runtime::Handle::try_current().is_ok() => {
                Database::new(&kit.database, &kit.service.name)
                    .inspect_err(
                        |e| tracing::error!(error = %e, "no database pool: [database] is invalid"),
                    )
                    .ok()
            }
            Some(_) => {
                tracing::error!("no database pool: made outside a Tokio runtime");
                None
            }
            None => None,
        };
        Self::assemble(config, switches, audit, database)
    }

    fn assemble(
        config: Loaded<Config<S>>,
        switches: Switches,
        audit: AuditLog,
        database: Option<Database>,
    ) -> Self {
        let kit = &config.kit;
        let explained = config.explain();
        let origins = crate::slo::Origins::of(&config);
        let mut shell = ServiceBuilder::new(kit.service.clone())
            .env_prefix(boost_config::env_prefix(config.service_name()))
            .without_telemetry()
            .admin(kit.admin.clone())
            .lifecycle(kit.lifecycle.clone())
            .config_explain(explained)
            .switches(switches.clone())
            .audit(audit)
            .runbook(crate::slo::served_runbook(kit, &origins));
        if let Some(db) = &database {
            shell = with_database(shell, db.clone());
            if let Some(dir) = &kit.database.migrations {
                shell = shell.migrations(db.clone(), dir.clone());
            }
        }
        Self {
            config,
            switches,
            database,
            shell,
            routes: None,
            grpc_services: Vec::new(),
            descriptor_sets: Vec::new(),
            http: None,
        }
    }

    /// The service's own settings.
    pub fn settings(&self) -> &S {
        &self.config.own
    }

    /// The service's runtime switches (`[switches]`): take each handle once,
    /// at start — `service.switches().get("partner_hertz")?` — and evaluate
    /// it per call. See [`boost_switches`].
    pub fn switches(&self) -> &Switches {
        &self.switches
    }

    /// The service's PostgreSQL pool (`[database]`): clone it into the
    /// handlers at start — `let db = service.database()?.clone();` — and
    /// take a connection per call with [`Database::acquire`], which keeps
    /// to the call's deadline. See [`boost_db`].
    ///
    /// # Errors
    /// [`Error::NoDatabase`] when `database.url` is not set.
    pub fn database(&self) -> Result<&Database, Error> {
        self.database.as_ref().ok_or_else(|| Error::NoDatabase {
            env_key: format!(
                "{}__DATABASE__URL",
                boost_config::env_prefix(self.config.service_name())
            ),
        })
    }

    /// The kit's sections, as loaded.
    pub fn kit(&self) -> &KitSettings {
        &self.config.kit
    }

    /// The whole loaded configuration, with the layer behind each value
    /// ([`Loaded::source_of`], [`Loaded::explain`]).
    pub fn config(&self) -> &Loaded<Config<S>> {
        &self.config
    }

    /// The configuration behind an `Arc`, for handlers and tasks that keep it.
    pub fn shared_config(&self) -> Arc<Config<S>> {
        self.config.shared()
    }

    /// Serves the generated server `service` (e.g. `GreeterServer::new(greeter)`)
    /// on `grpc.listen`, under the kit's server layers, with health and
    /// reflection, and with `grpc.server.max_request_size` /
    /// `max_response_size` applied to it ([`MessageLimits`], which
    /// `boost-build` implements for every server it generates); call again
    /// for each further service. See [`crate::grpc`].
    #[must_use]
    pub fn grpc<T>(mut self, service: T) -> Self
    where
        T: MessageLimits
            + tower::Service<http::Request<tonic::body::Body>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        T::Response: axum::response::IntoResponse,
        T::Future: Send + 'static,
    {
        let service = service.with_message_limits(&self.config.kit.grpc.server);
        self.grpc_services.push(T::NAME);
        self.routes = Some(match self.routes.take() {
            Some(routes) => routes.add_service(service),
            None => Routes::new(service),
        });
        self
    }

    /// Serves the axum `router` on `http.listen`, under boost-http's server
    /// stack, beside gRPC and in the same lifecycle; call again to merge more
    /// routes. See [`crate::http`].
    #[must_use]
    pub fn http(mut self, router: axum::Router) -> Self {
        self.http = Some(match self.http.take() {
            Some(routes) => routes.merge(router),
            None => router,
        });
        self
    }

    /// Registers an encoded `FileDescriptorSet` (the `FILE_DESCRIPTOR_SET`
    /// that `boost-build` writes) for reflection and per-service health.
    #[must_use]
    pub fn file_descriptor_set(mut self, encoded: &'static [u8]) -> Self {
        self.descriptor_sets.push(encoded);
        self
    }

    /// Registers a readiness check with the default timeout
    /// (`lifecycle.readiness_timeout`). `/health/ready` is `503` while any fails.
    #[must_use]
    pub fn readiness_check<F, Fut, E>(self, name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.readiness(ReadinessCheck::new(name, check))
    }

    /// Registers a readiness check built with [`ReadinessCheck`] (own timeout).
    #[must_use]
    pub fn readiness(self, check: ReadinessCheck) -> Self {
        self.map_shell(|shell| shell.readiness(check))
    }

    /// Adds a long-running task; see [`ServiceBuilder::task`].
    #[must_use]
    pub fn task<F, Fut, E>(self, name: impl Into<String>, task: F) -> Self
    where
        F: FnOnce(Lifecycle) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        self.map_shell(|shell| shell.task(name, task))
    }

    /// The commit the binary was built from, shown by `/info`.
    #[must_use]
    pub fn git_commit(self, commit: Option<impl Into<String>>) -> Self {
        self.map_shell(|shell| shell.git_commit(commit))
    }

    /// Whether SIGTERM/SIGINT start (and a second one forces) shutdown
    /// (default `true`; tests turn it off).
    #[must_use]
    pub fn handle_signals(self, on: bool) -> Self {
        self.map_shell(|shell| shell.handle_signals(on))
    }

    /// A log filter set up elsewhere for `/loglevel` (with [`without_telemetry`](Self::without_telemetry)).
    #[must_use]
    pub fn log_level_control(self, control: impl LogLevelControl) -> Self {
        self.map_shell(|shell| shell.log_level_control(control))
    }

    /// A metrics renderer set up elsewhere for `/metrics` (with [`without_telemetry`](Self::without_telemetry)).
    #[must_use]
    pub fn metrics_render(self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.map_shell(|shell| shell.metrics_render(render))
    }

    /// A handle that starts shutdown from code, as SIGTERM does.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shell.shutdown_handle()
    }

    /// Starts the admin server and the tasks (the gRPC server among them,
    /// bound now so a busy `grpc.listen` fails here) and returns once they
    /// run; [`RunningService::wait`] runs until shutdown. The database
    /// migrations (`database.migrations`) are applied first, before anything
    /// listens.
    ///
    /// # Errors
    /// [`Error::Database`] if a migration fails; [`Error::Grpc`] if
    /// `grpc.listen` cannot be bound, [`Error::Http`] if `http.listen`
    /// cannot be bound; the shell's errors.
    pub async fn start(self) -> Result<RunningService, Error> {
        let Self {
            config,
            switches: _,
            database,
            mut shell,
            routes,
            grpc_services,
            descriptor_sets,
            http,
        } = self;
        if let (Some(db), Some(dir)) = (&database, &config.kit.database.migrations) {
            db.migrate(dir).await?;
        }
        if let Some(routes) = routes {
            let served = crate::grpc::served_methods(&grpc_services, &descriptor_sets);
            let mut server =
                GrpcServer::new(config.kit.grpc.clone(), routes).served_methods(served);
            for set in descriptor_sets {
                server = server.file_descriptor_set(set);
            }
            shell = shell.grpc(server.bind()?);
        }
        if let Some(router) = http {
            shell = shell.http(HttpServer::new(config.kit.http.clone(), router).bind()?);
        }
        shell.start().await
    }

    /// Starts the service and runs it until it has shut down: `Ok(())` after a
    /// clean graceful shutdown.
    ///
    /// # Errors
    /// As [`start`](Self::start) and [`RunningService::wait`].
    pub async fn run(self) -> Result<(), Error> {
        self.start().await?.wait().await
    }

    fn map_shell(mut self, f: impl FnOnce(ServiceBuilder) -> ServiceBuilder) -> Self {
        self.shell = f(self.shell);
        self
    }
}

/// The readiness check `database` ([`Database::ready`]: a connection and
/// `SELECT 1`, a pool busy with calls counting as ready) and the
/// pool's close after the tasks stopped.
fn with_database(shell: ServiceBuilder, db: Database) -> ServiceBuilder {
    let check = db.clone();
    shell
        .readiness(ReadinessCheck::new("database", move || {
            let db = check.clone();
            async move { db.ready().await }
        }))
        .close_after_tasks(
            "database",
            Box::new(move || Box::pin(async move { db.close().await })),
        )
}
