//! What each query through a [`Conn`](crate::Conn) records: a client span
//! (OpenTelemetry semconv), `db_client_operation_duration_seconds`, and a
//! warn-level line for a slow one, with its statement text and never its
//! parameters.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
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

/// The operations `db.operation.name` takes (the metric's label set stays
/// bounded); the last, `OTHER`, for any other statement.
pub(crate) const OPERATIONS: [&str; 26] = [
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
    "OTHER",
];

/// The operation of `sql` (`db.operation.name`): its first keyword, from
/// [`OPERATIONS`]; `OTHER` otherwise.
#[cfg(test)]
pub(crate) fn operation(sql: &str) -> &'static str {
    OPERATIONS[operation_index(sql)]
}

/// The index in [`OPERATIONS`] of `sql`'s operation.
pub(crate) fn operation_index(sql: &str) -> usize {
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
    OPERATIONS[..OPERATIONS.len() - 1]
        .iter()
        .position(|k| k.eq_ignore_ascii_case(word))
        .unwrap_or(OPERATIONS.len() - 1)
}

/// Longest stretch of statement text [`collection`] looks through.
const MAX_SCANNED_SQL: usize = 1024;

/// Longest table name [`collection`] returns (PostgreSQL's own limit is 63
/// bytes per identifier; this leaves room for a schema and quotes).
const MAX_COLLECTION: usize = 256;

/// The table a simple statement works on (`db.collection.name`), as the
/// statement writes it (schema and quotes included, as the semantic
/// conventions ask): the first table after `FROM` of a `SELECT` (outside
/// parentheses), `INSERT INTO t`, `UPDATE [ONLY] t`, `DELETE FROM [ONLY] t`.
/// `None` for anything else (a `WITH`, a subquery in `FROM`, a statement
/// longer than 1 KiB before its table). A slice of `sql`: nothing is
/// allocated, and no input makes it panic.
pub(crate) fn collection<'q>(op: &str, sql: &'q str) -> Option<&'q str> {
    let end = floor_boundary(sql, MAX_SCANNED_SQL);
    let mut words = Words {
        text: &sql[..end],
        at: 0,
        depth: 0,
    };
    // The operation's own keyword.
    loop {
        match words.next()? {
            Word::Ident(w) if w.eq_ignore_ascii_case(op) => break,
            Word::Ident(_) | Word::Quoted(_) => return None,
            Word::Other => {}
        }
    }
    let after = match op {
        "SELECT" => {
            loop {
                match words.next()? {
                    Word::Ident(w) if words.depth == 0 && w.eq_ignore_ascii_case("FROM") => break,
                    _ => {}
                }
            }
            None
        }
        "INSERT" => Some("INTO"),
        "DELETE" => Some("FROM"),
        "UPDATE" => None,
        _ => return None,
    };
    if let Some(keyword) = after {
        match words.next()? {
            Word::Ident(w) if w.eq_ignore_ascii_case(keyword) => {}
            _ => return None,
        }
    }
    let start_depth = words.depth;
    let mut name = words.next()?;
    if let Word::Ident(w) = name
        && w.eq_ignore_ascii_case("ONLY")
        && op != "INSERT"
    {
        name = words.next()?;
    }
    if words.depth != start_depth {
        return None;
    }
    let first = match name {
        Word::Ident(w) | Word::Quoted(w) => w,
        Word::Other => return None,
    };
    if is_keyword(first) {
        return None;
    }
    // `schema.table` (or `db.schema.table`): extend over `.name` parts.
    let base = sql.as_ptr() as usize;
    let start = first.as_ptr() as usize - base;
    let mut stop = start + first.len();
    let text = words.text;
    let bytes = text.as_bytes();
    for _ in 0..2 {
        if bytes.get(stop) != Some(&b'.') {
            break;
        }
        words.at = stop + 1;
        match words.next() {
            Some(Word::Ident(w) | Word::Quoted(w)) if w.as_ptr() as usize - base == stop + 1 => {
                stop = stop + 1 + w.len();
            }
            _ => break,
        }
    }
    // `FROM f(…)`: a function, not a table.
    let rest = text.get(stop..).unwrap_or("").trim_start();
    if op == "SELECT" && rest.starts_with('(') {
        return None;
    }
    let name = text.get(start..stop)?;
    (name.len() <= MAX_COLLECTION).then_some(name)
}

fn is_keyword(w: &str) -> bool {
    const KEYWORDS: &[&str] = &["SELECT", "LATERAL", "VALUES", "WITH", "ROWS", "TABLE"];
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(w))
}

/// The largest char boundary of `s` at most `max`.
fn floor_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// A token of statement text, as far as [`collection`] needs.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Word<'a> {
    /// A bare identifier or keyword.
    Ident(&'a str),
    /// A `"quoted identifier"`, quotes included.
    Quoted(&'a str),
    /// Anything else (punctuation, a number, a string literal, a comment).
    Other,
}

/// The tokens of statement text, tracking parenthesis depth.
struct Words<'a> {
    text: &'a str,
    at: usize,
    depth: u32,
}

impl<'a> Words<'a> {
    fn next(&mut self) -> Option<Word<'a>> {
        let bytes = self.text.as_bytes();
        while bytes.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
        let start = self.at;
        let first = *bytes.get(start)?;
        let skip_to = |from: usize, end: &[u8]| -> usize {
            bytes[from..]
                .windows(end.len())
                .position(|w| w == end)
                .map_or(bytes.len(), |p| from + p + end.len())
        };
        let word = match first {
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | 0x80.. => {
                let len = bytes[start..]
                    .iter()
                    .position(|&b| {
                        !(b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80)
                    })
                    .unwrap_or(bytes.len() - start);
                self.at = start + len;
                Word::Ident(self.text.get(start..self.at)?)
            }
            b'"' => {
                self.at = skip_to(start + 1, b"\"");
                if self.at <= start + 1 || bytes.get(self.at - 1) != Some(&b'"') {
                    return None;
                }
                Word::Quoted(self.text.get(start..self.at)?)
            }
            b'\'' => {
                self.at = skip_to(start + 1, b"'");
                Word::Other
            }
            b'-' if bytes.get(start + 1) == Some(&b'-') => {
                self.at = skip_to(start + 2, b"\n");
                Word::Other
            }
            b'/' if bytes.get(start + 1) == Some(&b'*') => {
                self.at = skip_to(start + 2, b"*/");
                Word::Other
            }
            b'(' => {
                self.at += 1;
                self.depth = self.depth.saturating_add(1);
                Word::Other
            }
            b')' => {
                self.at += 1;
                self.depth = self.depth.saturating_sub(1);
                Word::Other
            }
            _ => {
                self.at += 1;
                Word::Other
            }
        };
        Some(word)
    }
}

/// The client span of one operation, with `db.collection.name` when the
/// span is recorded at all (the statement is not scanned for a span no
/// subscriber wants).
pub(crate) fn span(op: &'static str, sql: &str) -> tracing::Span {
    let span = tracing::info_span!(
        "db.query",
        otel.name = op,
        otel.kind = "client",
        db.system.name = SYSTEM,
        db.operation.name = op,
        db.collection.name = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
    );
    if !span.is_disabled()
        && let Some(name) = collection(op, sql)
    {
        span.record("db.collection.name", name);
    }
    span
}

/// `db_client_operation_duration_seconds` handles, registered on first use
/// (per operation and outcome), so a query does not look its series up.
pub(crate) struct Histograms {
    cells: [[OnceLock<metrics::Histogram>; 3]; OPERATIONS.len()],
}

impl Histograms {
    pub(crate) fn new() -> Self {
        Self {
            cells: std::array::from_fn(|_| std::array::from_fn(|_| OnceLock::new())),
        }
    }

    fn get(&self, op: usize, outcome: usize) -> Option<&metrics::Histogram> {
        let cell = self.cells.get(op)?.get(outcome)?;
        Some(cell.get_or_init(|| {
            metrics::histogram!(
                DB_CLIENT_OPERATION_DURATION,
                DB_SYSTEM_NAME => SYSTEM,
                DB_OPERATION_NAME => OPERATIONS[op],
                OUTCOME => OUTCOMES[outcome],
            )
        }))
    }
}

/// The `outcome` label's values.
const OUTCOMES: [&str; 3] = ["ok", "error", "deadline"];

/// Records one finished operation: metric, span status, slow-query line.
pub(crate) struct Record<'q> {
    pub(crate) op: &'static str,
    pub(crate) op_index: usize,
    pub(crate) shared: std::sync::Arc<crate::database::Shared>,
    pub(crate) sql: &'q str,
    pub(crate) started: Instant,
    pub(crate) slow_query: Duration,
    pub(crate) span: tracing::Span,
}

impl Record<'_> {
    pub(crate) fn finish(&self, error: Option<&sqlx::Error>) {
        let took = self.started.elapsed();
        let index = match error {
            None => 0,
            Some(e) if is_deadline(e) => 2,
            Some(_) => 1,
        };
        let outcome = OUTCOMES[index];
        if let Some(histogram) = self.shared.histograms.get(self.op_index, index) {
            histogram.record(took.as_secs_f64());
        }
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
    pub(crate) guard: Option<Pin<&'e mut tokio::time::Sleep>>,
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

    fn table(sql: &str) -> Option<&str> {
        collection(operation(sql), sql)
    }

    #[test]
    fn collection_is_the_first_table_of_a_simple_statement() {
        assert_eq!(
            table("SELECT name FROM profiles WHERE id = $1"),
            Some("profiles")
        );
        assert_eq!(
            table("select * from public.profiles p"),
            Some("public.profiles")
        );
        assert_eq!(table("SELECT 1 FROM \"My Table\""), Some("\"My Table\""));
        assert_eq!(
            table("SELECT (SELECT max(x) FROM inner_t) FROM outer_t"),
            Some("outer_t")
        );
        assert_eq!(table("SELECT 'from x' FROM real_t"), Some("real_t"));
        assert_eq!(
            table("  -- c\n SELECT a /* from y */ FROM t1, t2"),
            Some("t1")
        );
        assert_eq!(
            table("INSERT INTO profiles (id, name) VALUES ($1, $2)"),
            Some("profiles")
        );
        assert_eq!(table("UPDATE profiles SET name = $1"), Some("profiles"));
        assert_eq!(table("update only s.t set x = 1"), Some("s.t"));
        assert_eq!(
            table("DELETE FROM profiles WHERE id = $1"),
            Some("profiles")
        );
        assert_eq!(table("DELETE FROM ONLY profiles"), Some("profiles"));
    }

    #[test]
    fn collection_is_none_when_not_simply_known() {
        assert_eq!(table("SELECT 1"), None);
        assert_eq!(table("SELECT * FROM (SELECT 1) AS x"), None);
        assert_eq!(table("SELECT * FROM LATERAL f()"), None);
        assert_eq!(table("SELECT $1::text FROM pg_sleep(0.2)"), None);
        assert_eq!(table("SELECT * FROM s.f (1)"), None);
        assert_eq!(table("WITH x AS (SELECT 1) SELECT * FROM x"), None);
        assert_eq!(table("SET statement_timeout = 5"), None);
        assert_eq!(table("INSERT profiles VALUES (1)"), None);
        assert_eq!(table("SELECT * FROM \"unterminated"), None);
        assert_eq!(table("DELETE"), None);
        assert_eq!(table(""), None);
        let long = format!("SELECT {} FROM t", "x, ".repeat(400));
        assert_eq!(table(&long), None, "past the scanned length");
        let name = "n".repeat(300);
        assert_eq!(
            table(&format!("SELECT 1 FROM {name}")),
            None,
            "name too long"
        );
    }

    proptest::proptest! {
        #[test]
        fn collection_never_panics_and_is_a_slice_of_the_input(sql in "\\PC{0,300}") {
            for op in ["SELECT", "INSERT", "UPDATE", "DELETE", "OTHER"] {
                if let Some(name) = collection(op, &sql) {
                    proptest::prop_assert!(sql.contains(name));
                    proptest::prop_assert!(!name.is_empty() && name.len() <= MAX_COLLECTION);
                }
            }
        }

        #[test]
        fn collection_never_panics_on_sql_like_input(
            sql in "(SELECT|select|INSERT INTO|UPDATE|DELETE FROM|FROM|ONLY|\\(|\\)|\"|'|--|/\\*|\\*/|\\.|,| |\n|t|é|x1)*"
        ) {
            let _ = collection(operation(&sql), &sql);
        }
    }

    #[test]
    fn truncate_keeps_char_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
