//! PostgreSQL through [sqlx](https://docs.rs/sqlx) with the kit's
//! guarantees: a pool from the `[database]` section, the caller's deadline
//! down to the statement, a span and a metric per query, errors that reach
//! the caller as the right gRPC code.
//!
//! ```no_run
//! use boost_db::{Database, DbError};
//!
//! // In a handler: `db` comes from `service.database()`.
//! async fn name_of(db: &Database, id: i64) -> Result<Option<String>, DbError> {
//!     let mut conn = db.acquire().await?; // waits no longer than the call's deadline
//!     let name = sqlx::query_scalar("SELECT name FROM profiles WHERE id = $1")
//!         .bind(id)
//!         .fetch_optional(&mut conn) // statement_timeout ≤ the deadline less the reserve
//!         .await?;
//!     Ok(name)
//! }
//! ```
//!
//! # Deadlines
//!
//! Inside a call (an inbound gRPC or HTTP request handled by the kit),
//! [`boost_rpc::deadline::remaining`] is what is left of the caller's
//! deadline. [`Database::acquire`] waits for a pool connection no longer
//! than that less `database.statement_reserve` (nor than
//! `database.acquire_timeout`), then sets the connection's
//! `statement_timeout` to what is left less the reserve, so PostgreSQL
//! itself cancels a statement that would outlive the call, and the caller
//! gets `DEADLINE_EXCEEDED` (504) in time instead of a hung handler. A
//! client-side guard ends any query through the [`Conn`] at the deadline
//! too, for a database that does not answer at all. Outside any call
//! (a background task) `database.statement_timeout` applies.
//!
//! # Observability
//!
//! Each query through a [`Conn`] runs in a client span `db.query`
//! (`db.system.name = "postgresql"`, `db.operation.name` = the statement's
//! first keyword) and records `db_client_operation_duration_seconds`
//! (labels `db_system_name`, `db_operation_name`, `outcome`). Parameter
//! values are never recorded; statement text only in the warn line of a
//! query slower than `database.slow_query`. The pool's state is in
//! `db_client_connection_count{db_client_connection_state}`,
//! `db_client_connection_max`, `db_client_connection_pending_requests` and
//! `db_client_connection_wait_time_seconds`.
//!
//! # Migrations and transactions
//!
//! [`Database::migrate`] applies a directory of sqlx migrations under
//! PostgreSQL's advisory lock (the service does it at start with
//! `database.migrations`). [`Database::transaction`] runs a closure in a
//! transaction and runs it again when PostgreSQL aborts it for a
//! serialization failure or a deadlock, within the deadline.
//!
//! # Credentials
//!
//! `database.url` is an [`Endpoint`](boost_config::Endpoint): its
//! `user:password@` is masked in `Debug`, `Display`, `/config` and every
//! error this crate makes. A password in the query (`?password=`) is
//! refused at load, since it would not be masked.

mod budget;
mod conn;
mod database;
mod error;
mod instrument;
mod migrations;
mod settings;
mod transaction;

pub use conn::Conn;
pub use database::Database;
pub use error::DbError;
pub use migrations::{MigrationEntry, MigrationReport, MigrationState};
pub use settings::{DatabaseSettings, MAX_POOL_CONNECTIONS};
pub use transaction::MAX_TRANSACTION_ATTEMPTS;

#[cfg(test)]
mod send {
    //! Handler futures must be `Send` (tonic, axum, `tokio::spawn`): what a
    //! handler does with the kit's types must keep them so.
    use super::{Database, DbError};

    fn assert_send<T: Send>(_: &T) {}

    #[allow(dead_code)]
    fn a_handlers_future_is_send(db: Database) {
        let fut = async move {
            db.ping().await?;
            let mut conn = db.acquire().await?;
            let one: i32 = sqlx::query_scalar("SELECT $1::int4")
                .bind(1_i32)
                .fetch_one(&mut conn)
                .await?;
            let rows: Vec<(i32,)> = sqlx::query_as("SELECT 1").fetch_all(&mut conn).await?;
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            Ok::<_, DbError>((one, rows))
        };
        assert_send(&fut);
        let spawned = async move {
            let _ = tokio::spawn(async move { 1 }).await;
        };
        assert_send(&spawned);
    }
}
