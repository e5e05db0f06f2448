//! [`Error`]: what went wrong while starting, running or stopping a service.

use std::net::SocketAddr;
use std::time::Duration;

/// A boxed error from a task or a readiness check.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a service failed to start, or why it did not stop cleanly.
///
/// Every message names what failed and what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The admin server could not bind its address.
    #[error(
        "admin server cannot listen on admin.listen {addr}: {source}; \
         is another process using it? set admin.listen / {env_key} to a free address"
    )]
    AdminBind {
        /// The address from `admin.listen`.
        addr: SocketAddr,
        /// The environment variable that overrides it, e.g. `HELLO_SERVICE__ADMIN__LISTEN`.
        env_key: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// `[admin.tls]` names a file that cannot be used; the message names
    /// the key and the file.
    #[error("admin server TLS: {0}")]
    AdminTls(#[source] boost_tls::TlsError),
    /// The admin server stopped with an I/O error.
    #[error(
        "admin server failed while serving: {0}; the service was shut down. If it repeats, \
         compare process_open_fds with process_max_fds and check the host's network"
    )]
    AdminServe(#[source] std::io::Error),
    /// SIGTERM/SIGINT handlers could not be installed.
    #[error(
        "cannot install SIGTERM/SIGINT handlers: {0}; \
         turn signal handling off with ServiceBuilder::handle_signals(false) if the host program owns signals"
    )]
    Signals(#[source] std::io::Error),
    /// Telemetry (tracing or metrics) could not be started.
    #[error("starting {what} failed: {source}")]
    Telemetry {
        /// `tracing` or `metrics`.
        what: &'static str,
        /// The telemetry crate's error, which says what to change.
        source: BoxError,
    },
    /// A task returned an error.
    #[error("task {task:?} failed: {source}")]
    Task {
        /// The name given to [`ServiceBuilder::task`](crate::ServiceBuilder::task).
        task: String,
        /// The task's error.
        source: BoxError,
    },
    /// The shell's `[admin]` or `[lifecycle]` settings break a rule (given
    /// by hand to a [`ServiceBuilder`](crate::ServiceBuilder); a loaded
    /// configuration is checked when it loads).
    #[error("{0}")]
    Config(#[source] Box<boost_config::ConfigError>),
    /// The runtime switches could not be opened (`[switches]`).
    #[error("{0}")]
    Switches(#[from] boost_switches::SwitchError),
    /// The database pool could not be made from `[database]`.
    #[error("{0}")]
    Database(#[from] boost_db::DbError),
    /// [`Service::database`](crate::Service::database) was asked for but
    /// `database.url` is not set.
    #[error(
        "this service has no database: database.url is not set; set it in the config or as {env_key}"
    )]
    NoDatabase {
        /// The environment variable that sets it, e.g. `HELLO_SERVICE__DATABASE__URL`.
        env_key: String,
    },
    /// The audit file could not be opened (`[audit]`).
    #[error("{0}")]
    Audit(#[from] boost_audit::AuditError),
    /// The gRPC server could not start (its address could not be bound, or
    /// reflection could not read the descriptor sets); nothing was served.
    #[error("{0}")]
    Grpc(#[from] crate::grpc::GrpcError),
    /// The HTTP server could not start (its address could not be bound, or
    /// the `[http]` settings break a rule); nothing was served.
    #[error("{0}")]
    Http(#[from] crate::http::HttpError),
    /// [`Service::new`](crate::Service::new) was called outside a Tokio
    /// runtime: telemetry starts tasks (OTLP export).
    #[error(
        "the service must be made inside a Tokio runtime (telemetry starts tasks): call \
         Service::new from async code, e.g. under #[tokio::main], or use boost_service::main"
    )]
    NoRuntime,
    /// A task panicked.
    #[error(
        "task {task:?} panicked: {message}; the service was shut down gracefully. \
         This is a bug in the task: the log has the panic's location"
    )]
    TaskPanicked {
        /// The name given to [`ServiceBuilder::task`](crate::ServiceBuilder::task).
        task: String,
        /// The panic message, when it was a string.
        message: String,
    },
    /// Tasks were still running when the shutdown timeout ran out, and were aborted.
    #[error(
        "tasks {tasks:?} did not finish within lifecycle.shutdown_timeout ({timeout:?}) and were aborted; \
         make them return once Lifecycle::stop_accepting() resolves, or raise lifecycle.shutdown_timeout / {env_key}"
    )]
    ShutdownTimedOut {
        /// The tasks that were aborted.
        tasks: Vec<String>,
        /// The configured timeout.
        timeout: Duration,
        /// The environment variable that overrides it.
        env_key: String,
    },
    /// A second shutdown request (signal or [`ShutdownHandle::force`](crate::ShutdownHandle::force))
    /// arrived during a graceful shutdown; remaining work was abandoned.
    #[error("shutdown forced by {reason}; in-flight work was abandoned")]
    Forced {
        /// What forced it, e.g. `a second SIGTERM`.
        reason: String,
    },
}
