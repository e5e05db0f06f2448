//! [`Database::transaction`]: a closure run in a transaction, re-run when
//! PostgreSQL aborts it for a serialization failure or a deadlock — the
//! failures that are safe to retry — within the call's deadline.

use std::time::Duration;

use boost_metrics::conventions::{DB_CLIENT_TRANSACTION_RETRIES_TOTAL, DB_SYSTEM_NAME, REASON};
use futures::future::BoxFuture;

use crate::conn::Conn;
use crate::database::Database;
use crate::error::DbError;
use crate::instrument::SYSTEM;

/// Most runs of one transaction's closure (the first and two retries).
pub const MAX_TRANSACTION_ATTEMPTS: u32 = 3;

/// SQLSTATE `serialization_failure`.
const SERIALIZATION_FAILURE: &str = "40001";
/// SQLSTATE `deadlock_detected`.
const DEADLOCK_DETECTED: &str = "40P01";

impl Database {
    /// Runs `work` in a transaction on one connection: `BEGIN`, the
    /// closure, `COMMIT` (`ROLLBACK` when it fails). When PostgreSQL aborts
    /// the transaction with a serialization failure (`40001`) or a deadlock
    /// (`40P01`) — in a statement or at `COMMIT` — nothing of it stands, so
    /// the whole closure runs again, at most [`MAX_TRANSACTION_ATTEMPTS`]
    /// times and only while the call's deadline leaves time; each retry
    /// counts in `db_client_transaction_retries_total{reason}`. Any other
    /// error is returned as it is.
    ///
    /// The closure may run more than once: keep effects outside the
    /// database (a message sent, a counter) out of it. It returns a boxed
    /// future so that it can borrow the connection:
    ///
    /// ```no_run
    /// # async fn f(db: boost_db::Database) -> Result<(), boost_db::DbError> {
    /// let balance: i64 = db
    ///     .transaction(|tx| {
    ///         Box::pin(async move {
    ///             sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
    ///                 .execute(&mut *tx)
    ///                 .await?;
    ///             sqlx::query("UPDATE accounts SET balance = balance - 10 WHERE id = $1")
    ///                 .bind(7_i64)
    ///                 .execute(&mut *tx)
    ///                 .await?;
    ///             let balance = sqlx::query_scalar("SELECT balance FROM accounts WHERE id = $1")
    ///                 .bind(7_i64)
    ///                 .fetch_one(&mut *tx)
    ///                 .await?;
    ///             Ok(balance)
    ///         })
    ///     })
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The closure's error, the last retryable one when no attempt or time
    /// is left, or the [`acquire`](Self::acquire) error.
    pub async fn transaction<T, F>(&self, mut work: F) -> Result<T, DbError>
    where
        T: Send,
        F: for<'t> FnMut(&'t mut Conn) -> BoxFuture<'t, Result<T, DbError>> + Send,
    {
        let mut conn = self.acquire().await?;
        let mut attempt = 1;
        loop {
            let error = match run_once(&mut conn, &mut work).await {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let Some(reason) = retryable(&error) else {
                return Err(error);
            };
            let reserve = self.settings().statement_reserve;
            let time_left = boost_rpc::deadline::remaining().is_none_or(|left| left > reserve);
            if attempt >= MAX_TRANSACTION_ATTEMPTS || !time_left {
                return Err(error);
            }
            metrics::counter!(
                DB_CLIENT_TRANSACTION_RETRIES_TOTAL,
                DB_SYSTEM_NAME => SYSTEM,
                REASON => reason,
            )
            .increment(1);
            tracing::debug!(
                attempt,
                reason,
                "transaction aborted by the database; running it again"
            );
            // A short pause, longer each time, so the other transaction can finish.
            tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
            attempt += 1;
        }
    }
}

async fn run_once<T, F>(conn: &mut Conn, work: &mut F) -> Result<T, DbError>
where
    F: for<'t> FnMut(&'t mut Conn) -> BoxFuture<'t, Result<T, DbError>>,
{
    simple(conn, "BEGIN").await?;
    let result = work(conn).await;
    match result {
        Ok(value) => {
            if let Err(e) = simple(conn, "COMMIT").await {
                // A failed COMMIT ends the transaction already; ROLLBACK
                // only tidies up a connection left inside one.
                let _ = simple(conn, "ROLLBACK").await;
                return Err(e);
            }
            Ok(value)
        }
        Err(e) => {
            let _ = simple(conn, "ROLLBACK").await;
            Err(e)
        }
    }
}

/// `sql` (no parameters) through the instrumented connection.
fn simple<'a>(conn: &'a mut Conn, sql: &'static str) -> BoxFuture<'a, Result<(), DbError>> {
    Box::pin(async move {
        sqlx::Executor::execute(&mut *conn, sql).await?;
        Ok(())
    })
}

/// The metric's `reason` when `error` is safe to retry by re-running the
/// whole transaction.
fn retryable(error: &DbError) -> Option<&'static str> {
    match error.code()? {
        SERIALIZATION_FAILURE => Some("serialization_failure"),
        DEADLOCK_DETECTED => Some("deadlock"),
        _ => None,
    }
}
