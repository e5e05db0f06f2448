//! [`DbError`]: what a database operation through the kit fails with, and
//! how it reaches the caller (`DEADLINE_EXCEEDED` / 504, `UNAVAILABLE` /
//! 503, `INTERNAL` / 500).

use std::time::Duration;

use boost_rpc::ServiceError;

/// SQLSTATE `query_canceled`: the statement timeout (set from the call's
/// deadline) cancelled the statement.
pub(crate) const QUERY_CANCELED: &str = "57014";

/// Why a database operation failed. Its messages never carry the URL's
/// credentials nor a query's parameter values.
///
/// It converts into a [`ServiceError`] (and so a [`tonic::Status`]) with
/// `?`: a passed deadline becomes `DEADLINE_EXCEEDED` (504), a database that
/// cannot be reached `UNAVAILABLE` (503), anything else `INTERNAL` (500,
/// the cause logged, not sent).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    /// The call's deadline passed, or left too little time for the
    /// operation (`phase`: `acquire` for a pool connection, `statement` for
    /// a statement cancelled by its timeout or the kit's guard).
    #[error("database {phase}: the call's deadline passed ({detail})")]
    DeadlineExceeded {
        /// `acquire` or `statement`.
        phase: &'static str,
        /// What ran out, e.g. `no connection free within 40ms`.
        detail: String,
    },
    /// No connection came free within `database.acquire_timeout`
    /// (the call had no shorter deadline): the pool is exhausted or the
    /// database does not answer.
    #[error(
        "no database connection free within {0:?} (database.acquire_timeout); \
         the pool is exhausted (raise database.max_connections) or the database does not answer"
    )]
    PoolExhausted(Duration),
    /// The database could not be reached or the connection broke.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The pool is closed: the service is shutting down.
    #[error("the database pool is closed (the service is shutting down)")]
    Closed,
    /// The database refused the statement (`code`: its SQLSTATE).
    #[error("database error {code}: {message}")]
    Database {
        /// The SQLSTATE, e.g. `23505` (unique violation).
        code: String,
        /// PostgreSQL's message (without its DETAIL line, which may quote
        /// values).
        message: String,
    },
    /// The statement returned no row where one was expected.
    #[error("no row returned where one was expected")]
    RowNotFound,
    /// The settings cannot make a pool (`key` under `[database]`).
    #[error("database.{key} {problem}")]
    Config {
        /// The key, e.g. `url`.
        key: &'static str,
        /// What is wrong and what to do.
        problem: String,
    },
    /// Migrations (`database.migrations`) could not be read or applied.
    #[error("database.migrations {dir}: {problem}")]
    Migration {
        /// The directory, as configured.
        dir: String,
        /// What failed (the version and the database's error), and what to do.
        problem: String,
    },
    /// Anything else (decoding a column, a protocol error).
    #[error("database client error: {0}")]
    Other(String),
}

/// The marker of the kit's own client-side guard (an `io::Error` of kind
/// `TimedOut` carrying it), told apart from the network's time-outs.
#[derive(Debug, thiserror::Error)]
#[error("the call's deadline passed before the database answered")]
pub(crate) struct DeadlineGuard;

impl DbError {
    /// Whether this is a passed deadline (`DEADLINE_EXCEEDED`).
    pub fn is_deadline(&self) -> bool {
        matches!(self, Self::DeadlineExceeded { .. })
    }

    /// The SQLSTATE of a [`DbError::Database`] error.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Database { code, .. } => Some(code),
            _ => None,
        }
    }

    /// `err` as a `DbError`, with `mask` applied to every message that
    /// could quote the URL.
    pub(crate) fn from_sqlx(err: sqlx::Error, mask: impl Fn(&str) -> String) -> Self {
        match err {
            sqlx::Error::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                if code == QUERY_CANCELED {
                    return Self::DeadlineExceeded {
                        phase: "statement",
                        detail: "cancelled by the statement timeout".to_owned(),
                    };
                }
                Self::Database {
                    code,
                    message: db.message().to_owned(),
                }
            }
            sqlx::Error::Io(io)
                if io
                    .get_ref()
                    .is_some_and(|inner| inner.downcast_ref::<DeadlineGuard>().is_some()) =>
            {
                Self::DeadlineExceeded {
                    phase: "statement",
                    detail: "no answer from the database before the deadline".to_owned(),
                }
            }
            sqlx::Error::PoolClosed => Self::Closed,
            sqlx::Error::PoolTimedOut => Self::Unavailable("timed out connecting".to_owned()),
            sqlx::Error::RowNotFound => Self::RowNotFound,
            e @ (sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Configuration(_)
            | sqlx::Error::WorkerCrashed
            | sqlx::Error::BeginFailed) => Self::Unavailable(mask(&e.to_string())),
            other => Self::Other(mask(&other.to_string())),
        }
    }
}

impl From<sqlx::Error> for DbError {
    /// For errors of `sqlx` calls on a [`Conn`](crate::Conn). A connection
    /// error there quotes no URL (connecting is the pool's, whose errors
    /// the kit masks itself).
    fn from(err: sqlx::Error) -> Self {
        Self::from_sqlx(err, str::to_owned)
    }
}

impl From<DbError> for ServiceError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::DeadlineExceeded { .. } => ServiceError::deadline_exceeded(
                "the database did not answer within the call's deadline",
            )
            .with_reason("DATABASE_DEADLINE_EXCEEDED"),
            DbError::PoolExhausted(_) | DbError::Unavailable(_) | DbError::Closed => {
                tracing::warn!(error = %err, "database unavailable");
                ServiceError::unavailable("the database is unavailable")
                    .with_reason("DATABASE_UNAVAILABLE")
            }
            other => ServiceError::internal(other),
        }
    }
}

impl From<DbError> for tonic::Status {
    fn from(err: DbError) -> Self {
        ServiceError::from(err).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_maps_to_deadline_exceeded_and_504() {
        let err = DbError::DeadlineExceeded {
            phase: "acquire",
            detail: "x".into(),
        };
        assert!(err.is_deadline());
        let service = ServiceError::from(err);
        assert_eq!(service.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(service.http_status().as_u16(), 504);
    }

    #[test]
    fn unavailable_maps_to_503() {
        let service = ServiceError::from(DbError::Closed);
        assert_eq!(service.code(), tonic::Code::Unavailable);
        assert_eq!(service.http_status().as_u16(), 503);
        let status = tonic::Status::from(DbError::PoolExhausted(Duration::from_secs(1)));
        assert_eq!(status.code(), tonic::Code::Unavailable);
    }

    #[test]
    fn the_kits_guard_is_a_deadline() {
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, DeadlineGuard);
        assert!(DbError::from(sqlx::Error::Io(io)).is_deadline());
        let io = std::io::Error::new(std::io::ErrorKind::TimedOut, "network");
        assert!(matches!(
            DbError::from(sqlx::Error::Io(io)),
            DbError::Unavailable(_)
        ));
    }

    #[test]
    fn connection_errors_are_masked() {
        let url = boost_config::Endpoint::new("postgres://app:s3cret@db:5432/x");
        let err = sqlx::Error::Configuration(
            "bad url postgres://app:s3cret@db:5432/x".to_string().into(),
        );
        let db = DbError::from_sqlx(err, |t| url.mask_in(t));
        let text = format!("{db} {db:?}");
        assert!(!text.contains("s3cret"), "{text}");
    }
}
