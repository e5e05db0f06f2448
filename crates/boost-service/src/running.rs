//! [`RunningService`]: a started service, and the ordered shutdown in `wait`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tokio::task::{Id, JoinError, JoinHandle, JoinSet};

use crate::admin::{self, AdminContext, BuildInfo};
use crate::connections::ConnectionLimits;
use crate::error::{BoxError, Error};
use crate::lifecycle::{Lifecycle, Phase, deadline_after};
use crate::readiness::{Readiness, ReadinessCheck};
use crate::settings::{AdminSettings, LifecycleSettings};
use crate::shutdown::{Requests, ShutdownHandle, listen_for_signals};
use crate::telemetry::RenderConfig;
use crate::telemetry::Telemetry;

/// How long the admin server gets to close its connections at the very end.
const ADMIN_STOP_TIMEOUT: Duration = Duration::from_secs(2);
/// How long each closer (the database pool) gets after the tasks stopped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

type TaskFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), BoxError>> + Send>>;
/// A task as the shell runs it: started with the service's lifecycle.
pub(crate) type TaskFn = Box<dyn FnOnce(Lifecycle) -> TaskFuture + Send>;
/// What is closed after the tasks stopped (the database pool).
pub(crate) type CloseFn =
    Box<dyn FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> + Send>;

/// What a service starts with: everything a [`ServiceBuilder`](crate::ServiceBuilder)
/// was given, with telemetry already running.
pub(crate) struct Plan {
    pub(crate) identity: boost_config::ServiceIdentity,
    /// The prefix of the service's environment variables, for hints.
    pub(crate) env_prefix: String,
    pub(crate) admin: AdminSettings,
    pub(crate) lifecycle: LifecycleSettings,
    pub(crate) telemetry: Telemetry,
    pub(crate) config: Option<RenderConfig>,
    pub(crate) git_commit: Option<String>,
    pub(crate) checks: Vec<ReadinessCheck>,
    pub(crate) tasks: Vec<(String, TaskFn)>,
    pub(crate) handle_signals: bool,
    pub(crate) shutdown: ShutdownHandle,
    pub(crate) grpc_addr: Option<SocketAddr>,
    pub(crate) http_addr: Option<SocketAddr>,
    pub(crate) switches: boost_switches::Switches,
    pub(crate) audit: boost_audit::AuditLog,
    pub(crate) runbook: String,
    pub(crate) closers: Vec<(String, CloseFn)>,
    /// What `GET /migrations` reports on.
    pub(crate) migrations: Option<(boost_db::Database, std::path::PathBuf)>,
}

/// A started service: telemetry, admin server and tasks are running.
///
/// Get one from [`ServiceBuilder::start`](crate::ServiceBuilder::start); call [`wait`](Self::wait) to run it
/// until shutdown. Dropping it without waiting aborts everything.
pub struct RunningService {
    admin_addr: SocketAddr,
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    lifecycle: Lifecycle,
    shutdown: ShutdownHandle,
    shutdown_timeout: Duration,
    env_prefix: String,
    tasks: JoinSet<Result<(), BoxError>>,
    names: HashMap<Id, String>,
    admin: Option<(oneshot::Sender<()>, JoinHandle<std::io::Result<()>>)>,
    signals: Option<JoinHandle<()>>,
    telemetry: Telemetry,
    closers: Vec<(String, CloseFn)>,
}

impl std::fmt::Debug for RunningService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let closers: Vec<&str> = self.closers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RunningService")
            .field("admin_addr", &self.admin_addr)
            .field("grpc_addr", &self.grpc_addr)
            .field("http_addr", &self.http_addr)
            .field("lifecycle", &self.lifecycle)
            .field("tasks", &self.names)
            .field("closers", &closers)
            .finish_non_exhaustive()
    }
}

impl RunningService {
    pub(crate) async fn start(plan: Plan) -> Result<Self, Error> {
        let Plan {
            identity,
            env_prefix,
            admin: admin_settings,
            lifecycle: settings,
            telemetry,
            config,
            git_commit,
            checks,
            tasks,
            handle_signals,
            shutdown,
            grpc_addr,
            http_addr,
            switches,
            audit,
            runbook,
            closers,
            migrations,
        } = plan;

        let readiness = Readiness::new(
            checks,
            settings.readiness_timeout,
            settings.readiness_cache_ttl,
        );
        let lifecycle = Lifecycle::new(
            settings.drain_delay,
            settings.shutdown_timeout,
            readiness,
            shutdown.clone(),
        );

        let listener = tokio::net::TcpListener::bind(admin_settings.listen)
            .await
            .map_err(|source| Error::AdminBind {
                addr: admin_settings.listen,
                env_key: format!("{env_prefix}__ADMIN__LISTEN"),
                source,
            })?;
        let admin_addr = listener.local_addr().map_err(Error::AdminServe)?;
        let admin_tls = boost_tls::ServerTls::from_settings("admin.tls", &admin_settings.tls)
            .map_err(Error::AdminTls)?;

        let signals = if handle_signals {
            Some(listen_for_signals(shutdown.clone()).map_err(Error::Signals)?)
        } else {
            None
        };

        let router = admin::router(
            AdminContext {
                identity: identity.clone(),
                env_prefix: env_prefix.clone(),
                build: BuildInfo::new(git_commit),
                lifecycle: lifecycle.clone(),
                metrics: telemetry.render_metrics(),
                log_level: telemetry.log_level(),
                config,
                token: admin_settings.token,
                switches,
                audit,
                runbook,
                upstreams: boost_rpc::upstreams::Upstreams::global(),
                refusals: admin::RefusalLimiter::default(),
                migrations,
            },
            admin_settings.request_timeout,
            admin_settings.body_timeout,
        );
        let (stop_admin, admin_stopped) = oneshot::channel::<()>();
        let limits = ConnectionLimits {
            server: "admin",
            max_connections: admin_settings.max_connections,
            probe_connections: admin_settings.probe_connections,
            idle_timeout: admin_settings.idle_timeout,
            header_read_timeout: admin_settings.header_read_timeout,
            http1: true,
        };
        let tls = admin_tls.is_some();
        let admin = tokio::spawn(admin::serve(
            listener,
            router,
            limits,
            admin_tls,
            admin_stopped,
        ));
        tracing::info!(admin = %admin_addr, tls, "admin server listening");
        if !admin_addr.ip().is_loopback() {
            tracing::warn!(admin = %admin_addr,
                "admin server listens beyond loopback: /info, /config and /metrics are readable \
                 by anyone who can reach it; keep it off public networks");
        }

        let mut set = JoinSet::new();
        let mut names = HashMap::new();
        for (name, task) in tasks {
            let handle = set.spawn(task(lifecycle.clone()));
            tracing::debug!(task = %name, "task started");
            names.insert(handle.id(), name);
        }
        lifecycle.enter(Phase::Serving);
        tracing::info!(tasks = names.len(), "service started");

        Ok(Self {
            admin_addr,
            grpc_addr,
            http_addr,
            lifecycle,
            shutdown,
            shutdown_timeout: settings.shutdown_timeout,
            env_prefix,
            tasks: set,
            names,
            admin: Some((stop_admin, admin)),
            signals,
            telemetry,
            closers,
        })
    }

    /// The address the admin server listens on (useful with `admin.listen`
    /// port `0`).
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_addr
    }

    /// The address the gRPC server listens on, when the service serves gRPC
    /// (useful with `grpc.listen` port `0`).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// The address the HTTP server listens on, when the service serves HTTP
    /// (useful with `http.listen` port `0`).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// The service's lifecycle.
    pub fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// A handle that starts shutdown, as SIGTERM does.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shutdown.clone()
    }

    /// Runs until shutdown, then shuts down in order:
    ///
    /// 1. shutdown starts (signal, [`ShutdownHandle::trigger`], or a task
    ///    ending): readiness goes false at once;
    /// 2. `drain_delay` passes while everything still serves;
    /// 3. tasks are told to stop accepting ([`Lifecycle::stop_accepting`]) and
    ///    get `shutdown_timeout` to finish; any still running are aborted;
    /// 4. what the tasks used is closed (the database pool, its in-use
    ///    connections back first), 5 s at most each; 5. the admin server
    ///    stops; 6. telemetry is flushed.
    ///
    /// A second signal (or [`ShutdownHandle::force`]) at any point aborts
    /// everything and returns [`Error::Forced`] at once.
    ///
    /// # Errors
    /// The first task error or panic, [`Error::ShutdownTimedOut`], or
    /// [`Error::Forced`].
    pub async fn wait(mut self) -> Result<(), Error> {
        let mut requests = self.shutdown.subscribe();
        let mut failure: Option<Error> = None;

        // Serving: until asked to stop, or a task ends.
        let reason = tokio::select! {
            reason = graceful_requested(&mut requests) => reason,
            Some(joined) = self.tasks.join_next_with_id() => {
                let (name, outcome) = self.outcome(joined);
                match outcome {
                    Ok(()) => format!("task {name:?} finished"),
                    Err(e) => {
                        tracing::error!(task = %name, error = %e, "task failed");
                        failure = Some(e);
                        format!("task {name:?} failed")
                    }
                }
            }
        };

        // Draining: readiness false, still serving while load balancers notice.
        self.lifecycle.enter(Phase::Draining);
        let drain_delay = self.lifecycle.drain_delay();
        tracing::info!(reason = %reason, drain_delay = ?drain_delay,
            "shutdown started: readiness is now false; draining for {} so load balancers stop sending",
            humantime::format_duration(drain_delay));
        tokio::select! {
            () = tokio::time::sleep(drain_delay) => {}
            reason = force_requested(&mut requests) => return Err(self.forced(reason)),
        }

        // Stopping: tasks stop accepting and finish in-flight work by the deadline.
        self.lifecycle.enter(Phase::Stopping);
        let deadline = self
            .lifecycle
            .deadline()
            .unwrap_or_else(|| deadline_after(self.shutdown_timeout));
        tracing::info!(tasks = self.tasks.len(), shutdown_timeout = ?self.shutdown_timeout,
            "stopping: tasks were told to stop accepting work; in-flight work has {} to finish",
            humantime::format_duration(self.shutdown_timeout));
        while !self.tasks.is_empty() {
            tokio::select! {
                Some(joined) = self.tasks.join_next_with_id() => {
                    let (name, outcome) = self.outcome(joined);
                    match outcome {
                        Ok(()) => tracing::info!(task = %name, "task stopped"),
                        Err(e) => {
                            tracing::error!(task = %name, error = %e, "task failed while stopping");
                            failure.get_or_insert(e);
                        }
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    let mut stuck: Vec<String> = self.names.values().cloned().collect();
                    stuck.sort();
                    tracing::warn!(tasks = ?stuck, "shutdown timeout reached: aborting tasks still running");
                    self.tasks.abort_all();
                    failure.get_or_insert(Error::ShutdownTimedOut {
                        tasks: stuck,
                        timeout: self.shutdown_timeout,
                        env_key: format!("{}__LIFECYCLE__SHUTDOWN_TIMEOUT", self.env_prefix),
                    });
                    break;
                }
                reason = force_requested(&mut requests) => return Err(self.forced(reason)),
            }
        }

        // Closing: what the tasks used (the database pool), now that no call
        // uses it any more.
        for (name, close) in std::mem::take(&mut self.closers) {
            tokio::select! {
                done = tokio::time::timeout(CLOSE_TIMEOUT, close()) => match done {
                    Ok(()) => tracing::info!(closed = %name, "closed"),
                    Err(_) => tracing::warn!(closed = %name, timeout = ?CLOSE_TIMEOUT,
                        "not closed within the timeout; going on"),
                },
                reason = force_requested(&mut requests) => return Err(self.forced(reason)),
            }
        }

        // Stopped: the admin server goes last, so scrapes and probes work to the end.
        self.lifecycle.enter(Phase::Stopped);
        if let Some((stop, mut server)) = self.admin.take() {
            let _ = stop.send(());
            match tokio::time::timeout(ADMIN_STOP_TIMEOUT, &mut server).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    failure.get_or_insert(Error::AdminServe(e));
                }
                Ok(Err(_)) => {}
                Err(_) => server.abort(),
            }
        }
        match &failure {
            None => tracing::info!("shutdown complete; flushing telemetry"),
            Some(e) => {
                tracing::warn!(error = %e, "shutdown complete with an error; flushing telemetry")
            }
        }
        if let Some(signals) = self.signals.take() {
            signals.abort();
        }
        std::mem::take(&mut self.telemetry).shutdown().await;
        failure.map_or(Ok(()), Err)
    }

    /// The task's name and its result, a panic turned into an error.
    fn outcome(
        &mut self,
        joined: Result<(Id, Result<(), BoxError>), JoinError>,
    ) -> (String, Result<(), Error>) {
        let (id, result) = match joined {
            Ok((id, Ok(()))) => (id, Ok(())),
            Ok((id, Err(source))) => (id, Err(source)),
            Err(join) => {
                let id = join.id();
                let name = self.names.remove(&id).unwrap_or_default();
                let message = panic_message(join);
                return (
                    name.clone(),
                    Err(Error::TaskPanicked {
                        task: name,
                        message,
                    }),
                );
            }
        };
        let name = self.names.remove(&id).unwrap_or_default();
        let result = result.map_err(|source| Error::Task {
            task: name.clone(),
            source,
        });
        (name, result)
    }

    fn forced(&mut self, reason: String) -> Error {
        tracing::error!(reason = %reason, "shutdown forced: aborting all tasks");
        self.tasks.abort_all();
        if let Some((_, server)) = self.admin.take() {
            server.abort();
        }
        self.lifecycle.enter(Phase::Stopped);
        Error::Forced { reason }
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        if let Some((_, server)) = self.admin.take() {
            server.abort();
        }
        if let Some(signals) = self.signals.take() {
            signals.abort();
        }
    }
}

async fn graceful_requested(requests: &mut watch::Receiver<Requests>) -> String {
    let reason = requests
        .wait_for(|r| r.graceful.is_some())
        .await
        .map(|r| r.graceful.clone().unwrap_or_default());
    match reason {
        Ok(reason) => reason,
        // The sender lives in the service's ShutdownHandle: never dropped first.
        Err(_) => std::future::pending().await,
    }
}

async fn force_requested(requests: &mut watch::Receiver<Requests>) -> String {
    let reason = requests
        .wait_for(|r| r.force.is_some())
        .await
        .map(|r| r.force.clone().unwrap_or_default());
    match reason {
        Ok(reason) => reason,
        // The sender lives in the service's ShutdownHandle: never dropped first.
        Err(_) => std::future::pending().await,
    }
}

fn panic_message(join: JoinError) -> String {
    if !join.is_panic() {
        return join.to_string();
    }
    let payload = join.into_panic();
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_owned()
    }
}
