//! What each query through a [`Conn`](crate::Conn) records: a client span
//! (OpenTelemetry semconv), `db_client_operation_duration_seconds`, and a
//! warn-level line for a slow one, with its statement text and never its
//! parameters.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use boost_metrics::conventions::{
    DB_CLIENT_OPERATION_DURATION, DB_OPERATION_NAME, DB_SYSTEM_NAME, OUTCOME,
};
use futures::Stream;
use futures::stream::BoxStream;

use crate::error::{DeadlineGuard, QUERY_CANCELED};

/// `db.system.name` of every span and metric of this crate.
pub(crate) const SYSTEM: &str = "postgresql";

/// Longest statement text a slow-query line quotes.
const MAX_LOGGED_SQL: usize = 2048;

/// The operation of `sql` (`db.operation.name`): its first keyword, from a
/// fixed list so the metric's label set stays bounded; `OTHER` otherwise.
pub(crate) fn operation(sql: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "SELECT",
        "INSERT",
        "UPDATE",
        "DELETE",
        "WITH",
        "MERGE",
        "COPY",
        "BEGIN",
        "COMMIT",
        "ROLLBACK",
        "SAVEPOINT",
        "RELEASE",
        "SET",
        "SHOW",
        "CALL",
        "DO",
        "LOCK",
        "VALUES",
        "TRUNCATE",
        "CREATE",
        "ALTER",
        "DROP",
        "EXPLAIN",
        "LISTEN",
        "NOTIFY",
    ];
    let mut text = sql.trim_start();
    // Leading `--` comments and `(` of a parenthesised query.
    loop {
        if let Some(rest) = text.strip_prefix("--") {
            text = rest.split_once('\n').map_or("", |(_, r)| r).trim_start();
        } else if let Some(rest) = text.strip_prefix('(') {
            text = rest.trim_start();
        } else {
            break;
        }
    }
    let word: &str = text
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(word))
        .copied()
        .unwrap_or("OTHER")
}

/// The client span of one operation.
pub(crate) fn span(op: &'static str) -> tracing::Span {
    tracing::info_span!(
        "db.query",
        otel.name = op,
        otel.kind = "client",
        db.system.name = SYSTEM,
        db.operation.name = op,
        otel.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    )
}

/// Records one finished operation: metric, span status, slow-query line.
pub(crate) struct Record<'q> {
    pub(crate) op: &'static str,
    pub(crate) sql: &'q str,
    pub(crate) started: Instant,
    pub(crate) slow_query: Duration,
    pub(crate) span: tracing::Span,
}

impl Record<'_> {
    pub(crate) fn finish(&self, error: Option<&sqlx::Error>) {
        let took = self.started.elapsed();
        let outcome = match error {
            None => "ok",
            Some(e) if is_deadline(e) => "deadline",
            Some(_) => "error",
        };
        metrics::histogram!(
            DB_CLIENT_OPERATION_DURATION,
            DB_SYSTEM_NAME => SYSTEM,
            DB_OPERATION_NAME => self.op,
            OUTCOME => outcome,
        )
        .record(took.as_secs_f64());
        if let Some(e) = error {
            self.span.record("otel.status_code", "ERROR");
            self.span.record("error.type", error_type(e));
        }
        if !self.slow_query.is_zero() && took >= self.slow_query {
            let _entered = self.span.enter();
            tracing::warn!(
                db.operation.name = self.op,
                db.query.text = truncate(self.sql, MAX_LOGGED_SQL),
                duration_ms = took.as_secs_f64() * 1000.0,
                outcome,
                "slow database query"
            );
        }
    }
}

fn is_deadline(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.code().is_some_and(|c| c == QUERY_CANCELED),
        sqlx::Error::Io(io) => io
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<DeadlineGuard>().is_some()),
        _ => false,
    }
}

/// `error.type`: the SQLSTATE of a database error, else the kind.
fn error_type(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .map_or_else(|| "database".into(), |c| c.into_owned()),
        sqlx::Error::Io(_) => "io".into(),
        sqlx::Error::RowNotFound => "row_not_found".into(),
        sqlx::Error::PoolClosed => "pool_closed".into(),
        _ => "client".into(),
    }
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The guard error: the deadline passed before the database answered.
pub(crate) fn deadline_error() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        DeadlineGuard,
    ))
}

/// A query's result stream, recorded when it ends (or is dropped) and cut
/// off with the guard error at the call's deadline.
pub(crate) struct Instrumented<'e, T> {
    pub(crate) inner: BoxStream<'e, Result<T, sqlx::Error>>,
    pub(crate) guard: Option<Pin<Box<tokio::time::Sleep>>>,
    pub(crate) record: Option<Record<'e>>,
}

impl<T> Instrumented<'_, T> {
    fn finish(&mut self, error: Option<&sqlx::Error>) {
        if let Some(record) = self.record.take() {
            record.finish(error);
        }
    }
}

impl<T> Stream for Instrumented<'_, T> {
    type Item = Result<T, sqlx::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(record) = &this.record else {
            return Poll::Ready(None);
        };
        let span = record.span.clone();
        let _entered = span.enter();
        if let Poll::Ready(item) = this.inner.as_mut().poll_next(cx) {
            match &item {
                None => this.finish(None),
                Some(Err(e)) => this.finish(Some(e)),
                Some(Ok(_)) => {}
            }
            return Poll::Ready(item);
        }
        if let Some(guard) = &mut this.guard
            && guard.as_mut().poll(cx).is_ready()
        {
            let e = deadline_error();
            this.finish(Some(&e));
            return Poll::Ready(Some(Err(e)));
        }
        Poll::Pending
    }
}

impl<T> Drop for Instrumented<'_, T> {
    fn drop(&mut self) {
        // Dropped before its end (a `fetch_one` takes the first row):
        // recorded as it stands.
        self.finish(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_is_the_first_keyword_from_a_fixed_list() {
        assert_eq!(operation("select 1"), "SELECT");
        assert_eq!(operation("  -- find\n  SELECT * FROM t"), "SELECT");
        assert_eq!(operation("(select 1) union (select 2)"), "SELECT");
        assert_eq!(operation("insert into t values ($1)"), "INSERT");
        assert_eq!(operation("WITH x AS (SELECT 1) SELECT * FROM x"), "WITH");
        assert_eq!(operation("frobnicate 'secret'"), "OTHER");
        assert_eq!(operation(""), "OTHER");
    }

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
