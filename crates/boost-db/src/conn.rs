//! [`Conn`]: a pooled connection handed out for one call, its statement
//! timeout set from the call's deadline, every query through it traced and
//! measured.

use std::fmt;
use std::pin::Pin;
use std::time::Instant;

use futures::FutureExt;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Execute, Executor, PgConnection, Postgres};
use tokio::time::Sleep;

use crate::database::Shared;
use crate::instrument::{self, Instrumented, Record};

/// A connection from the [`Database`](crate::Database) pool, scoped to the
/// call that acquired it: its `statement_timeout` is the call's remaining
/// deadline less `database.statement_reserve`, and no query through it
/// outlives the deadline. Use it as any sqlx executor, `&mut conn`:
///
/// ```no_run
/// # async fn f(db: boost_db::Database) -> Result<(), boost_db::DbError> {
/// let mut conn = db.acquire().await?;
/// let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM profiles")
///     .fetch_one(&mut conn)
///     .await?;
/// # Ok(()) }
/// ```
///
/// Each query gets a client span (`db.system.name`, `db.operation.name`)
/// and a `db_client_operation_duration_seconds` sample. The connection goes
/// back to the pool when dropped; keep it for the call, not longer (the
/// statement timeout it carries is the call's).
pub struct Conn {
    pub(crate) conn: PoolConnection<Postgres>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) shared: std::sync::Arc<Shared>,
    /// The client-side deadline guard, one timer for the connection's life
    /// (re-armed only when the deadline changes): registering a timer per
    /// query wakes a runtime worker each time, which costs more than the
    /// rest of the wrapper together.
    pub(crate) guard: Option<(Instant, Pin<Box<Sleep>>)>,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Conn {
    /// The connection without the kit's spans, metrics and deadline guard
    /// (its statement timeout stays): for sqlx APIs that need a
    /// `&mut PgConnection` itself, e.g. `sqlx::Connection::begin`.
    pub fn raw(&mut self) -> &mut PgConnection {
        &mut self.conn
    }

    /// The connection and the deadline guard for one query: the earlier of
    /// the deadline the connection was handed out under and the current
    /// call's, on the connection's one timer.
    fn split(&mut self) -> (&mut PgConnection, Option<Pin<&mut Sleep>>) {
        let deadline = match (self.deadline, boost_rpc::deadline::current()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let guard = match deadline {
            None => None,
            Some(deadline) => {
                match &mut self.guard {
                    Some((at, sleep)) => {
                        if *at != deadline {
                            *at = deadline;
                            sleep.as_mut().reset(deadline.into());
                        }
                    }
                    slot @ None => {
                        *slot = Some((
                            deadline,
                            Box::pin(tokio::time::sleep_until(deadline.into())),
                        ));
                    }
                }
                self.guard.as_mut().map(|(_, sleep)| sleep.as_mut())
            }
        };
        (&mut self.conn, guard)
    }

    fn record<'q>(&self, sql: &'q str) -> Record<'q> {
        let op_index = instrument::operation_index(sql);
        let op = instrument::OPERATIONS[op_index];
        Record {
            op,
            op_index,
            shared: std::sync::Arc::clone(&self.shared),
            sql,
            started: Instant::now(),
            slow_query: self.shared.settings.slow_query,
            span: instrument::span(op, sql),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared
            .checked_out
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.shared.record_pool();
    }
}

impl<'c> Executor<'c> for &'c mut Conn {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let record = self.record(query.sql());
        let (conn, guard) = self.split();
        let inner = {
            let _entered = record.span.enter();
            conn.fetch_many(query)
        };
        Box::pin(Instrumented {
            inner,
            guard,
            record: Some(record),
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        let record = self.record(query.sql());
        let span = record.span.clone();
        let (conn, guard) = self.split();
        async move {
            let run = conn.fetch_optional(query);
            let result = match guard {
                Some(guard) => tokio::select! {
                    biased;
                    result = run => result,
                    () = guard => Err(instrument::deadline_error()),
                },
                None => run.await,
            };
            record.finish(result.as_ref().err());
            result
        }
        .instrument_with(span)
        .boxed()
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&mut *self.conn).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        (&mut *self.conn).describe(sql)
    }
}

/// `tracing::Instrument` under a name that does not clash with
/// `FutureExt`'s methods.
trait InstrumentWith: Sized {
    fn instrument_with(self, span: tracing::Span) -> tracing::instrument::Instrumented<Self>;
}

impl<F: std::future::Future> InstrumentWith for F {
    fn instrument_with(self, span: tracing::Span) -> tracing::instrument::Instrumented<Self> {
        tracing::Instrument::instrument(self, span)
    }
}
