//! [`Database`]: the pool built from `[database]`, handing out connections
//! scoped to the call's deadline.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use boost_config::Endpoint;
use boost_metrics::conventions::{
    DB_CLIENT_CONNECTION_COUNT, DB_CLIENT_CONNECTION_MAX, DB_CLIENT_CONNECTION_PENDING_REQUESTS,
    DB_CLIENT_CONNECTION_STATE, DB_CLIENT_CONNECTION_WAIT_TIME, DB_CLIENT_RETRIES_TOTAL,
    DB_SYSTEM_NAME, REASON,
};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgSslMode};

use crate::budget;
use crate::conn::Conn;
use crate::error::DbError;
use crate::instrument::SYSTEM;
use crate::settings::{DatabaseSettings, Tls};

/// The config section of the database's TLS, as errors name its keys.
const TLS_SECTION: &str = "database.tls";

/// `options` with the TLS of `mode`: the files of `database.tls` are
/// checked now (each problem naming its key and file), and given to sqlx as
/// paths, which it reads again for every new connection, so rotated files
/// are used from the next connection on. The checked files come back too:
/// their [`Watch`](boost_tls::Watch) keeps the expiry gauge current and
/// reports a rotated file that does not pass the checks.
fn tls_options(
    options: PgConnectOptions,
    mode: Tls,
    settings: &DatabaseSettings,
) -> Result<(PgConnectOptions, Option<boost_tls::ClientTls>), DbError> {
    let ssl_mode = match mode {
        Tls::Off => return Ok((options.ssl_mode(PgSslMode::Disable), None)),
        Tls::VerifyFull => PgSslMode::VerifyFull,
        Tls::VerifyCa => PgSslMode::VerifyCa,
    };
    // Every file read and checked (expiry, key match, a CA that is a CA).
    let checked = boost_tls::ClientTls::from_settings(TLS_SECTION, &settings.tls).map_err(|e| {
        DbError::Config {
            key: "tls",
            problem: format!("cannot be used: {e}"),
        }
    })?;
    let tls = &settings.tls;
    let mut options = options.ssl_mode(ssl_mode);
    if let Some(ca) = &tls.ca_file {
        options = options.ssl_root_cert(ca.clone());
    }
    if let (Some(cert), Some(key)) = (&tls.cert_file, &tls.key_file) {
        options = options
            .ssl_client_cert(cert.clone())
            .ssl_client_key(key.clone());
    }
    Ok((options, Some(checked)))
}

/// A spawned task aborted when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The service's PostgreSQL pool (`[database]`); cheap to clone, every
/// clone the same pool.
///
/// Inside a call, [`acquire`](Self::acquire) waits for a connection no
/// longer than the call's remaining deadline and hands it out with a
/// statement timeout no longer than what is left of it:
///
/// ```no_run
/// use boost_db::{Database, DatabaseSettings, DbError};
///
/// async fn count(db: &Database) -> Result<i64, DbError> {
///     let mut conn = db.acquire().await?;
///     let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM profiles")
///         .fetch_one(&mut conn)
///         .await?;
///     Ok(n)
/// }
///
/// # async fn f() -> Result<(), DbError> {
/// let settings: DatabaseSettings = toml::from_str(
///     r#"url = "postgres://app:s3cret@127.0.0.1:5432/app""#,
/// ).unwrap();
/// let db = Database::new(&settings, "profile-service")?;
/// // A handler's `?` turns a DbError into DEADLINE_EXCEEDED, UNAVAILABLE
/// // or INTERNAL.
/// let n = count(&db).await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Database {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    pool: PgPool,
    url: Endpoint,
    /// Whether connections use TLS.
    tls: bool,
    /// Keeps the TLS files' expiry gauge current while the pool lives.
    tls_watch: Option<AbortOnDrop>,
    pub(crate) settings: DatabaseSettings,
    waiting: AtomicUsize,
    /// [`Conn`]s handed out and not dropped yet.
    pub(crate) checked_out: AtomicUsize,
    /// The query duration histogram's handles.
    pub(crate) histograms: crate::instrument::Histograms,
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Database")
            .field("url", &self.shared.url)
            .field("size", &self.shared.pool.size())
            .field("idle", &self.shared.pool.num_idle())
            .finish_non_exhaustive()
    }
}

impl Database {
    /// The pool `settings` describe, connecting lazily: nothing is dialled
    /// until the first [`acquire`](Self::acquire) (or `min_connections` are
    /// opened in the background), so a service starts while its database is
    /// down and reports it through readiness. `application_name` is what
    /// `pg_stat_activity` shows (the service's name).
    ///
    /// # Errors
    /// [`DbError::Config`] when `url` is unset or not a PostgreSQL URL (the
    /// message masks its credentials). Must be called inside a Tokio
    /// runtime.
    pub fn new(settings: &DatabaseSettings, application_name: &str) -> Result<Self, DbError> {
        let Some(url) = settings.url.clone() else {
            return Err(DbError::Config {
                key: "url",
                problem: "is not set; give the database URL as database.url".to_owned(),
            });
        };
        let mode = settings.tls_mode().map_err(|problem| DbError::Config {
            key: "url",
            problem,
        })?;
        let options = PgConnectOptions::from_str(url.expose()).map_err(|e| DbError::Config {
            key: "url",
            problem: url.mask_in(&e.to_string()),
        })?;
        let (options, checked_tls) = tls_options(options, mode, settings)?;
        let options = options
            .application_name(application_name)
            // The kit logs slow statements itself, without parameters.
            .log_statements(log::LevelFilter::Off)
            .log_slow_statements(log::LevelFilter::Off, std::time::Duration::MAX);
        let nonzero = |d: std::time::Duration| (!d.is_zero()).then_some(d);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .min_connections(settings.min_connections)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(nonzero(settings.idle_timeout))
            .max_lifetime(nonzero(settings.max_lifetime))
            // `acquire` sets the statement timeout on every connection it
            // hands out, which tests it as well; sqlx pings on release.
            .test_before_acquire(false)
            .connect_lazy_with(options);
        let database = Self {
            shared: Arc::new(Shared {
                pool,
                url,
                tls: mode != Tls::Off,
                tls_watch: checked_tls.map(|tls| AbortOnDrop(tokio::spawn(tls.watch()))),
                settings: settings.clone(),
                waiting: AtomicUsize::new(0),
                checked_out: AtomicUsize::new(0),
                histograms: crate::instrument::Histograms::new(),
            }),
        };
        metrics::gauge!(DB_CLIENT_CONNECTION_MAX, DB_SYSTEM_NAME => SYSTEM)
            .set(f64::from(settings.max_connections));
        database.shared.record_pool();
        Ok(database)
    }

    /// A connection for the current call: waits for one no longer than the
    /// call's remaining deadline ([`boost_rpc::deadline::remaining`]) less
    /// `database.statement_reserve` nor than `database.acquire_timeout`,
    /// and sets its `statement_timeout` to what is left of the deadline
    /// less the reserve (without a deadline: `database.statement_timeout`).
    ///
    /// # Errors
    /// [`DbError::DeadlineExceeded`] when the deadline leaves no time or
    /// passes while waiting; [`DbError::PoolExhausted`] when no connection
    /// came free within `acquire_timeout`; [`DbError::Unavailable`] when
    /// the database cannot be reached; [`DbError::Closed`] after
    /// [`close`](Self::close).
    pub async fn acquire(&self) -> Result<Conn, DbError> {
        let shared = &self.shared;
        let settings = &shared.settings;
        let deadline = boost_rpc::deadline::current();
        let (wait, bound) = budget::acquire(
            boost_rpc::deadline::remaining(),
            settings.acquire_timeout,
            settings.statement_reserve,
        )?;
        let started = Instant::now();
        shared.waiting.fetch_add(1, Ordering::Relaxed);
        shared.record_pool();
        let acquired = tokio::time::timeout(wait, self.acquire_tested()).await;
        shared.waiting.fetch_sub(1, Ordering::Relaxed);
        metrics::histogram!(DB_CLIENT_CONNECTION_WAIT_TIME, DB_SYSTEM_NAME => SYSTEM)
            .record(started.elapsed().as_secs_f64());
        shared.record_pool();
        match acquired {
            Ok(Ok(conn)) => {
                shared.checked_out.fetch_add(1, Ordering::Relaxed);
                Ok(Conn {
                    conn,
                    deadline,
                    shared: Arc::clone(shared),
                    guard: None,
                })
            }
            Ok(Err(e)) => Err(e),
            Err(_) if bound => Err(DbError::DeadlineExceeded {
                phase: "acquire",
                detail: format!("no connection free within {}ms", wait.as_millis()),
            }),
            Err(_) => Err(DbError::PoolExhausted(wait)),
        }
    }

    /// A pool connection with its statement timeout set. The `SET` is the
    /// first thing sent on the connection, before any statement of the
    /// caller: a connection that fails it with a connection error (the
    /// server restarted or dropped it while it sat idle) is closed and
    /// another one taken, each such retry counted in
    /// `db_client_retries_total{reason="connection_lost"}`. Every idle
    /// connection may be dead after a restart, so up to `max_connections`
    /// of them are replaced; the caller's wait (bounded by the deadline)
    /// bounds it all. Any other error is returned at once.
    async fn acquire_tested(&self) -> Result<sqlx::pool::PoolConnection<sqlx::Postgres>, DbError> {
        let shared = &self.shared;
        let attempts = shared.settings.max_connections.saturating_add(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut conn = shared.pool.acquire().await.map_err(|e| match e {
                sqlx::Error::PoolTimedOut => {
                    DbError::PoolExhausted(shared.settings.acquire_timeout)
                }
                e if shared.tls && is_tls_failure(&e) => DbError::Unavailable(format!(
                    "the TLS handshake with the database failed: {}; check database.tls.ca_file \
                     (the CA the server's certificate must chain to; unset: the system's roots), \
                     the host in database.url (the name the certificate must carry) and \
                     database.tls.cert_file/key_file",
                    shared.url.mask_in(&e.to_string())
                )),
                e => DbError::from_sqlx(e, |t| shared.url.mask_in(t)),
            })?;
            let timeout = budget::statement(
                boost_rpc::deadline::remaining(),
                shared.settings.statement_timeout,
                shared.settings.statement_reserve,
            )?;
            let set = format!("SET statement_timeout = {}", budget::millis(timeout));
            match raw(&mut conn, &set).await {
                Ok(_) => return Ok(conn),
                Err(e) => {
                    conn.close_on_drop();
                    drop(conn);
                    if attempt >= attempts || !is_connection_lost(&e) {
                        return Err(DbError::from_sqlx(e, |t| shared.url.mask_in(t)));
                    }
                    metrics::counter!(
                        DB_CLIENT_RETRIES_TOTAL,
                        DB_SYSTEM_NAME => SYSTEM,
                        REASON => "connection_lost",
                    )
                    .increment(1);
                    tracing::debug!(
                        attempt,
                        "a pooled database connection was lost while idle; taking another"
                    );
                }
            }
        }
    }

    /// Whether the database answers: a connection within
    /// `database.acquire_timeout` (or the deadline) and `SELECT 1`. See
    /// [`ready`](Self::ready) for the readiness check.
    ///
    /// # Errors
    /// The [`DbError`] of the acquire or the query.
    pub async fn ping(&self) -> Result<(), DbError> {
        let mut conn = self.acquire().await?;
        raw(conn.raw(), "SELECT 1").await?;
        Ok(())
    }

    /// The readiness of the database as far as this service goes: [`ping`](Self::ping),
    /// except that a pool whose every connection is in use counts as ready
    /// (the database answers; this replica is busy). Otherwise a busy replica
    /// would leave the load balancer under load, and its peers would get
    /// its share on top of theirs. The service's readiness check `database`
    /// runs it.
    ///
    /// # Errors
    /// The [`DbError`] of the ping when the database does not answer.
    pub async fn ready(&self) -> Result<(), DbError> {
        match self.ping().await {
            Err(DbError::PoolExhausted(_)) if self.all_in_use() => Ok(()),
            other => other,
        }
    }

    /// Whether calls hold every connection. Counted from the [`Conn`]s
    /// handed out, not from the pool's size, which also counts connection
    /// attempts to a database that is down.
    fn all_in_use(&self) -> bool {
        let max = usize::try_from(self.shared.settings.max_connections).unwrap_or(usize::MAX);
        self.shared.checked_out.load(Ordering::Relaxed) >= max
    }

    /// Closes the pool: waits for connections in use to come back, closes
    /// every connection, and fails later [`acquire`](Self::acquire)s with
    /// [`DbError::Closed`]. The service calls it in its graceful shutdown,
    /// after in-flight calls have finished.
    pub async fn close(&self) {
        if let Some(watch) = &self.shared.tls_watch {
            watch.0.abort();
        }
        self.shared.pool.close().await;
        self.shared.record_pool();
    }

    /// Applies the sqlx migrations in `dir` not applied yet, in version
    /// order, each in its own transaction, holding a PostgreSQL advisory
    /// lock (one per database) for the whole run: replicas starting together
    /// wait for each other and each migration is applied once. The service
    /// calls it at start with `database.migrations`.
    ///
    /// # Errors
    /// [`DbError::Migration`] naming the directory and what failed (a file
    /// that cannot be read, a migration that fails, one applied before
    /// whose file changed or is missing).
    pub async fn migrate(&self, dir: &std::path::Path) -> Result<(), DbError> {
        let shown = dir.display().to_string();
        let failed = |problem: String| DbError::Migration {
            dir: shown.clone(),
            problem: self.shared.url.mask_in(&problem),
        };
        let migrator = sqlx::migrate::Migrator::new(dir.to_path_buf())
            .await
            .map_err(|e| failed(format!("cannot be read: {e}")))?;
        let versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
        let started = Instant::now();
        migrator.run(&self.shared.pool).await.map_err(|e| {
            failed(format!(
                "{e}; the start stops here, fix the migration and start again"
            ))
        })?;
        tracing::info!(
            dir = %shown,
            migrations = versions.len(),
            latest = versions.last().copied(),
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            "database migrations applied"
        );
        Ok(())
    }

    /// Whether [`close`](Self::close) has been called.
    pub fn is_closed(&self) -> bool {
        self.shared.pool.is_closed()
    }

    /// The sqlx pool itself, without the kit's deadline, spans and metrics:
    /// for what the kit does not wrap (e.g. `sqlx::migrate!`).
    pub fn pool(&self) -> &PgPool {
        &self.shared.pool
    }

    /// The settings the pool was built from.
    pub fn settings(&self) -> &DatabaseSettings {
        &self.shared.settings
    }
}

/// `sql` (no parameters: the simple query protocol, nothing prepared)
/// through `Executor::execute`, whose boxed future is `Send`. (Awaiting
/// `sqlx::raw_sql(..).execute(..)` in an `async fn` makes its future not
/// provably `Send` — "implementation of `Executor` is not general enough" —
/// and every handler future must be.)
fn raw<'a>(
    conn: &'a mut sqlx::PgConnection,
    sql: &'a str,
) -> futures::future::BoxFuture<'a, Result<sqlx::postgres::PgQueryResult, sqlx::Error>> {
    sqlx::Executor::execute(conn, sql)
}

/// Whether `e` is the TLS handshake's failure (sqlx reports rustls' errors
/// as I/O errors carrying them, or as its own `Tls` error).
fn is_tls_failure(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Tls(_) => true,
        sqlx::Error::Io(io) => io
            .get_ref()
            .is_some_and(|inner| inner.is::<boost_tls::tokio_rustls::rustls::Error>()),
        _ => false,
    }
}

/// Whether `e` says the connection is gone (rather than the statement
/// failed): an I/O or protocol error, a TLS failure, or the server's
/// "terminating connection" (SQLSTATE class `08`, `57P01`, `57P02`).
fn is_connection_lost(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Protocol(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c == "57P01" || c == "57P02"),
        _ => false,
    }
}

impl Shared {
    /// Sets the pool gauges to the pool's state now.
    pub(crate) fn record_pool(&self) {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle())
            .unwrap_or(u32::MAX)
            .min(size);
        metrics::gauge!(
            DB_CLIENT_CONNECTION_COUNT,
            DB_SYSTEM_NAME => SYSTEM,
            DB_CLIENT_CONNECTION_STATE => "used",
        )
        .set(f64::from(size - idle));
        metrics::gauge!(
            DB_CLIENT_CONNECTION_COUNT,
            DB_SYSTEM_NAME => SYSTEM,
            DB_CLIENT_CONNECTION_STATE => "idle",
        )
        .set(f64::from(idle));
        metrics::gauge!(DB_CLIENT_CONNECTION_PENDING_REQUESTS, DB_SYSTEM_NAME => SYSTEM)
            .set(self.waiting.load(Ordering::Relaxed) as f64);
    }
}
