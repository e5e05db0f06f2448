//! Readiness checks: named async probes of what the service needs (a database,
//! an upstream), run with timeouts and cached briefly.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::error::BoxError;
use crate::phase::Phase;

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send>>;
type CheckFn = Arc<dyn Fn() -> CheckFuture + Send + Sync>;

/// One readiness check: a name and an async function that returns `Ok(())`
/// when the service can serve as far as this dependency goes.
///
/// A check that takes longer than its timeout counts as failed; it never holds
/// `/health/ready` up for longer than that.
///
/// ```
/// use std::time::Duration;
/// use boost_service::ReadinessCheck;
///
/// let check = ReadinessCheck::new("db", || async { Ok::<_, std::io::Error>(()) })
///     .timeout(Duration::from_millis(200));
/// assert_eq!(check.name(), "db");
/// ```
///
/// A check that uses a client clones it into each run:
///
/// ```
/// # #[derive(Clone)] struct Pool;
/// # impl Pool { async fn ping(&self) -> Result<(), std::io::Error> { Ok(()) } }
/// # let pool = Pool;
/// let check = boost_service::ReadinessCheck::new("db", move || {
///     let pool = pool.clone();
///     async move { pool.ping().await }
/// });
/// ```
///
/// A check that panics counts as failed.
#[derive(Clone)]
pub struct ReadinessCheck {
    name: String,
    timeout: Option<Duration>,
    run: CheckFn,
}

impl fmt::Debug for ReadinessCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadinessCheck")
            .field("name", &self.name)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl ReadinessCheck {
    /// A check named `name` that calls `check` each time readiness is evaluated.
    pub fn new<F, Fut, E>(name: impl Into<String>, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let run: CheckFn = Arc::new(move || {
            let fut = check();
            Box::pin(async move { fut.await.map_err(Into::into) })
        });
        Self {
            name: name.into(),
            timeout: None,
            run,
        }
    }

    /// Sets this check's timeout (default: `lifecycle.readiness_timeout`).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The check's name, as shown by `/health/ready`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// What `/health/ready` answers: the overall status and each check's result.
///
/// ```json
/// {"status":"not_ready","checks":[
///   {"name":"db","status":"ok","duration_ms":1.8,"error":null},
///   {"name":"cache","status":"timeout","duration_ms":500.4,"error":"no answer within 500ms"}]}
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ReadinessReport {
    /// The overall status.
    pub status: ReadinessStatus,
    /// One entry per registered check, in registration order; empty while
    /// starting or shutting down (checks are not run then).
    pub checks: Vec<CheckResult>,
}

impl ReadinessReport {
    /// `true` when the service should receive traffic.
    pub fn is_ready(&self) -> bool {
        self.status == ReadinessStatus::Ready
    }
}

/// The overall readiness status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReadinessStatus {
    /// Serving, and every check passed.
    Ready,
    /// Serving, but at least one check failed or timed out.
    NotReady,
    /// Tasks are still being started.
    Starting,
    /// Shutdown started.
    ShuttingDown,
}

/// One check's outcome.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct CheckResult {
    /// The check's name.
    pub name: String,
    /// How it went.
    pub status: CheckStatus,
    /// How long it ran, in milliseconds.
    pub duration_ms: f64,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// How one check went.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CheckStatus {
    /// The check returned `Ok`.
    Ok,
    /// The check returned an error (or panicked).
    Failed,
    /// The check did not answer within its timeout.
    Timeout,
}

/// The registered checks, their default timeout and the result cache.
pub(crate) struct Readiness {
    checks: Vec<ReadinessCheck>,
    default_timeout: Duration,
    cache_ttl: Duration,
    cache: Mutex<Option<(Instant, Vec<CheckResult>)>>,
}

impl Readiness {
    pub(crate) fn new(
        checks: Vec<ReadinessCheck>,
        default_timeout: Duration,
        cache_ttl: Duration,
    ) -> Self {
        Self {
            checks,
            default_timeout,
            cache_ttl,
            cache: Mutex::new(None),
        }
    }

    pub(crate) async fn report(&self, phase: Phase) -> ReadinessReport {
        let status = match phase {
            Phase::Starting => ReadinessStatus::Starting,
            Phase::Serving => ReadinessStatus::Ready,
            _ => ReadinessStatus::ShuttingDown,
        };
        if status != ReadinessStatus::Ready {
            return ReadinessReport {
                status,
                checks: Vec::new(),
            };
        }
        let checks = self.results().await;
        let all_ok = checks.iter().all(|c| c.status == CheckStatus::Ok);
        ReadinessReport {
            status: if all_ok {
                ReadinessStatus::Ready
            } else {
                ReadinessStatus::NotReady
            },
            checks,
        }
    }

    /// Cached results, or fresh ones. Concurrent callers share one evaluation.
    async fn results(&self) -> Vec<CheckResult> {
        let mut cache = self.cache.lock().await;
        if let Some((at, results)) = cache.as_ref()
            && at.elapsed() < self.cache_ttl
        {
            return results.clone();
        }
        // Each check runs in its own task: they run concurrently, a panic is a
        // failure, and a hanging one is dropped at its timeout.
        let running: Vec<_> = self
            .checks
            .iter()
            .map(|check| {
                let timeout = check.timeout.unwrap_or(self.default_timeout);
                let fut = (check.run)();
                (check.name.clone(), tokio::spawn(run_one(fut, timeout)))
            })
            .collect();
        let mut results = Vec::with_capacity(running.len());
        for (name, task) in running {
            let (status, duration, error) = match task.await {
                Ok(outcome) => outcome,
                Err(join) => (
                    CheckStatus::Failed,
                    Duration::ZERO,
                    Some(format!("check panicked: {join}")),
                ),
            };
            if status != CheckStatus::Ok {
                tracing::warn!(check = %name, status = ?status, error = error.as_deref().unwrap_or(""), "readiness check did not pass");
            }
            results.push(CheckResult {
                name,
                status,
                duration_ms: (duration.as_secs_f64() * 1e4).round() / 10.0,
                error,
            });
        }
        *cache = Some((Instant::now(), results.clone()));
        results
    }
}

async fn run_one(fut: CheckFuture, timeout: Duration) -> (CheckStatus, Duration, Option<String>) {
    let started = Instant::now();
    let outcome = tokio::time::timeout(timeout, fut).await;
    let took = started.elapsed();
    match outcome {
        Ok(Ok(())) => (CheckStatus::Ok, took, None),
        Ok(Err(e)) => (CheckStatus::Failed, took, Some(e.to_string())),
        Err(_) => (
            CheckStatus::Timeout,
            took,
            Some(format!(
                "no answer within {}",
                humantime::format_duration(timeout)
            )),
        ),
    }
}
