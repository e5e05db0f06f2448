//! boost-db against a real PostgreSQL (`boost-test-postgres`): deadlines
//! down to the statement, masked credentials, readiness when it stops.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::time::{Duration, Instant};

use boost_db::{Database, DatabaseSettings, DbError};
use boost_rpc::ServiceError;
use boost_test_postgres::{PASSWORD, PostgresServer};

fn settings(url: &str, max_connections: u32) -> DatabaseSettings {
    let mut settings: DatabaseSettings = toml::from_str(&format!(
        "url = {url:?}\nmax_connections = {max_connections}\nacquire_timeout = \"2s\""
    ))
    .unwrap();
    assert!(boost_config::Problems::of("database", &settings).is_empty());
    settings.slow_query = Duration::from_millis(100);
    settings
}

async fn within<T>(deadline: Duration, fut: impl Future<Output = T>) -> T {
    boost_rpc::deadline::scope(Instant::now() + deadline, fut).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn a_query_within_the_deadline_works_with_a_statement_timeout_under_it() {
    let pg = PostgresServer::start();
    let db = Database::new(&settings(&pg.url(), 2), "boost-db-test").unwrap();
    let (one, timeout) = within(Duration::from_secs(5), async {
        let mut conn = db.acquire().await?;
        let one: i32 = sqlx::query_scalar("SELECT $1::int4")
            .bind(1_i32)
            .fetch_one(&mut conn)
            .await?;
        let timeout: String = sqlx::query_scalar("SELECT current_setting('statement_timeout')")
            .fetch_one(&mut conn)
            .await?;
        Ok::<_, DbError>((one, timeout))
    })
    .await
    .unwrap();
    assert_eq!(one, 1);
    // `SHOW` gives e.g. "4980ms" or "4s": at most the deadline less the reserve.
    let ms: u64 = if let Some(ms) = timeout.strip_suffix("ms") {
        ms.parse().unwrap()
    } else {
        timeout.strip_suffix('s').unwrap().parse::<u64>().unwrap() * 1000
    };
    assert!(ms > 0 && ms <= 4980, "statement_timeout {timeout}");

    // Outside any call: database.statement_timeout (30s).
    let mut conn = db.acquire().await.unwrap();
    let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(timeout, "30s");
    drop(conn);
    db.close().await;
    assert!(matches!(db.acquire().await, Err(DbError::Closed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn pg_sleep_past_the_deadline_is_cancelled_in_time_and_the_connection_stays_healthy() {
    let pg = PostgresServer::start();
    // One connection: the query after the cancelled one gets the same one.
    let db = Database::new(&settings(&pg.url(), 1), "boost-db-test").unwrap();
    db.ping().await.unwrap();
    let deadline = Duration::from_millis(500);
    let started = Instant::now();
    let err = within(deadline, async {
        let mut conn = db.acquire().await?;
        sqlx::query("SELECT pg_sleep(10)")
            .execute(&mut conn)
            .await?;
        Ok::<_, DbError>(())
    })
    .await
    .unwrap_err();
    let took = started.elapsed();
    assert!(err.is_deadline(), "{err:?}");
    assert!(
        took < deadline + Duration::from_millis(1500),
        "cancelled after {took:?}"
    );
    let status = tonic::Status::from(err);
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded);

    // The same (only) connection answers, well within its next deadline.
    let n: i64 = within(Duration::from_secs(5), async {
        let mut conn = db.acquire().await?;
        let n = sqlx::query_scalar("SELECT 41::int8 + 1")
            .fetch_one(&mut conn)
            .await?;
        Ok::<_, DbError>(n)
    })
    .await
    .unwrap();
    assert_eq!(n, 42);
    // Still one connection: the cancelled one was reused, not replaced.
    assert_eq!(db.pool().size(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn acquire_waits_no_longer_than_the_deadline() {
    let pg = PostgresServer::start();
    let db = Database::new(&settings(&pg.url(), 1), "boost-db-test").unwrap();
    let held = db.acquire().await.unwrap();
    let started = Instant::now();
    let err = within(Duration::from_millis(300), db.acquire())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert!(err.is_deadline(), "{err:?}");
    assert!(took < Duration::from_millis(1300), "waited {took:?}");
    assert_eq!(
        ServiceError::from(err).http_status().as_u16(),
        504,
        "a passed deadline is a 504"
    );
    // Without a deadline: acquire_timeout (2s), then UNAVAILABLE.
    let err = db.acquire().await.unwrap_err();
    assert!(matches!(err, DbError::PoolExhausted(_)), "{err:?}");
    assert_eq!(ServiceError::from(err).code(), tonic::Code::Unavailable);
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn credentials_never_appear_in_debug_or_error_output() {
    let mut pg = PostgresServer::start();
    let good = settings(&pg.url(), 2);
    let db = Database::new(&good, "boost-db-test").unwrap();
    db.ping().await.unwrap();
    let mut shown = vec![format!("{good:?}"), format!("{db:?}")];

    // A wrong password: the server refuses it.
    let wrong = pg.url().replace(PASSWORD, "wrong-s3cret-pw");
    let refused = Database::new(&settings(&wrong, 1), "boost-db-test").unwrap();
    let err = refused.acquire().await.unwrap_err();
    shown.push(format!("{err} {err:?}"));

    // The server stopped: connection refused.
    pg.stop();
    let down = Database::new(&good, "boost-db-test").unwrap();
    let err = down.ping().await.unwrap_err();
    assert!(
        matches!(err, DbError::Unavailable(_) | DbError::PoolExhausted(_)),
        "{err:?}"
    );
    shown.push(format!("{err} {err:?}"));
    shown.push(format!("{:?}", tonic::Status::from(err)));

    // A URL sqlx cannot parse.
    let bad = boost_config::Endpoint::new(format!("postgres://u:{PASSWORD}@127.0.0.1:notaport/x"));
    let mut broken = good.clone();
    broken.url = Some(bad);
    let err = Database::new(&broken, "boost-db-test").unwrap_err();
    shown.push(format!("{err} {err:?}"));
    let problems = boost_config::Problems::of("database", &broken);
    shown.push(format!("{problems:?}"));

    for text in &shown {
        assert!(!text.contains(PASSWORD), "credentials shown: {text}");
        assert!(
            !text.contains("wrong-s3cret-pw"),
            "credentials shown: {text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn ping_fails_while_postgres_is_stopped_and_recovers_after_restart() {
    let mut pg = PostgresServer::start();
    let db = Database::new(&settings(&pg.url(), 2), "boost-db-test").unwrap();
    db.ping().await.unwrap();
    pg.stop();
    let started = Instant::now();
    assert!(db.ping().await.is_err());
    // No hang: at most acquire_timeout (2s) and a wide margin.
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    pg.restart();
    let mut ok = false;
    for _ in 0..50 {
        if db.ping().await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "ping did not recover after the restart");
}

/// The one test of this binary that reads metrics: the recorder is global.
fn metrics_snapshotter() -> &'static metrics_util::debugging::Snapshotter {
    static SNAPSHOTTER: std::sync::OnceLock<metrics_util::debugging::Snapshotter> =
        std::sync::OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::set_global_recorder(recorder).unwrap();
        snapshotter
    })
}

#[tokio::test]
#[ignore = "needs postgres"]
async fn a_query_is_a_client_span_and_a_metric_and_its_parameters_are_never_recorded() {
    const PARAM: &str = "param-value-never-shown";
    let snapshotter = metrics_snapshotter();
    let capture = boost_tracing::testing::Capture::new();
    let _guard = capture.set_default();
    let pg = PostgresServer::start();
    let db = Database::new(&settings(&pg.url(), 1), "boost-db-test").unwrap();
    let mut conn = db.acquire().await.unwrap();
    // Slower than slow_query (100ms): logged with its text, not its parameter.
    let echoed: String = sqlx::query_scalar("SELECT $1::text FROM pg_sleep(0.2)")
        .bind(PARAM)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(echoed, PARAM);
    let err = sqlx::query("SELECT * FROM no_such_table WHERE x = $1")
        .bind(PARAM)
        .execute(&mut conn)
        .await
        .unwrap_err();
    assert_eq!(DbError::from(err).code(), Some("42P01"));
    drop(conn);

    let spans = capture.spans();
    let select: Vec<_> = spans.iter().filter(|s| s.name == "SELECT").collect();
    assert_eq!(select.len(), 2, "{spans:#?}");
    for span in &select {
        assert_eq!(format!("{:?}", span.kind), "Client");
        assert_eq!(span.attributes["db.system.name"], "postgresql");
        assert_eq!(span.attributes["db.operation.name"], "SELECT");
        assert!(!format!("{span:?}").contains(PARAM), "{span:?}");
    }
    assert_eq!(select[1].attributes["error.type"], "42P01");
    assert!(
        !select[0].attributes.contains_key("db.collection.name"),
        "{:?}",
        select[0]
    );
    assert_eq!(select[1].attributes["db.collection.name"], "no_such_table");
    let slow = capture.event_with_message("slow database query").unwrap();
    let text = slow.fields["db.query.text"].as_str().unwrap();
    assert!(text.contains("pg_sleep"), "{text}");
    let everything = format!("{:?}", capture.events());
    assert!(!everything.contains(PARAM), "a parameter value was logged");

    // Other tests of this binary may record too (other operations and
    // outcomes): look for this test's two series.
    let snapshot = snapshotter.snapshot().into_vec();
    let mut series = Vec::new();
    for (key, _, _, _) in &snapshot {
        let key = key.key();
        if key.name() == "db_client_operation_duration_seconds" {
            let label = |name: &str| {
                key.labels()
                    .find(|l| l.key() == name)
                    .map(|l| l.value().to_owned())
                    .unwrap_or_default()
            };
            assert_eq!(label("db_system_name"), "postgresql");
            series.push((label("db_operation_name"), label("outcome")));
        }
    }
    for want in [("SELECT", "ok"), ("SELECT", "error")] {
        assert!(
            series
                .iter()
                .any(|(op, outcome)| (op.as_str(), outcome.as_str()) == want),
            "{want:?} not in {series:?}"
        );
    }
    let names: Vec<String> = snapshot
        .iter()
        .map(|(k, ..)| k.key().name().to_owned())
        .collect();
    for gauge in [
        "db_client_connection_count",
        "db_client_connection_max",
        "db_client_connection_pending_requests",
        "db_client_connection_wait_time_seconds",
    ] {
        assert!(
            names.iter().any(|n| n == gauge),
            "{gauge} missing: {names:?}"
        );
    }
}

fn migrations(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, sql) in files {
        std::fs::write(dir.path().join(name), sql).unwrap();
    }
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn ten_replicas_migrating_together_apply_each_migration_once() {
    let pg = PostgresServer::start();
    // Not idempotent on purpose: applied twice, the second CREATE or
    // INSERT would fail.
    let dir = migrations(&[
        (
            "1_profiles.sql",
            "CREATE TABLE profiles (id int8 PRIMARY KEY, name text NOT NULL);",
        ),
        (
            "2_seed.sql",
            "INSERT INTO profiles VALUES (1, 'ada'); SELECT pg_sleep(0.2);",
        ),
    ]);
    let mut replicas = Vec::new();
    for _ in 0..10 {
        let db = Database::new(&settings(&pg.url(), 2), "boost-db-test").unwrap();
        let path = dir.path().to_path_buf();
        replicas.push(tokio::spawn(async move { db.migrate(&path).await }));
    }
    for replica in replicas {
        replica.await.unwrap().unwrap();
    }
    assert_eq!(pg.psql("SELECT count(*) FROM profiles").trim(), "1");
    assert_eq!(
        pg.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM _sqlx_migrations WHERE success").trim(),
        "1,2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn a_failed_migration_is_an_error_naming_the_directory_and_the_version() {
    let pg = PostgresServer::start();
    let dir = migrations(&[
        ("1_ok.sql", "CREATE TABLE t (x int);"),
        ("2_broken.sql", "CREATE TABLE t (x int);"),
    ]);
    let db = Database::new(&settings(&pg.url(), 1), "boost-db-test").unwrap();
    let err = db.migrate(dir.path()).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, DbError::Migration { .. }), "{err:?}");
    assert!(text.contains(&dir.path().display().to_string()), "{text}");
    assert!(text.contains('2'), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    // The first one stands, the broken one is not recorded as applied.
    assert_eq!(
        pg.psql("SELECT count(*) FROM _sqlx_migrations WHERE success")
            .trim(),
        "1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn a_serialization_failure_reruns_the_transaction_and_both_writers_succeed() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE counter (id int PRIMARY KEY, n int NOT NULL); INSERT INTO counter VALUES (1, 0);");
    let db = Database::new(&settings(&pg.url(), 4), "boost-db-test").unwrap();
    // Both first attempts read before either writes: one of them must fail
    // to serialize, and its rerun (no barrier then) succeeds.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let runs = Arc::new(AtomicU32::new(0));
    let mut writers = Vec::new();
    for _ in 0..2 {
        let (db, barrier, runs) = (db.clone(), Arc::clone(&barrier), Arc::clone(&runs));
        writers.push(tokio::spawn(async move {
            let mut first = true;
            db.transaction(move |tx| {
                let barrier = Arc::clone(&barrier);
                let wait = std::mem::take(&mut first);
                runs.fetch_add(1, Ordering::Relaxed);
                Box::pin(async move {
                    sqlx::query("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
                        .execute(&mut *tx)
                        .await?;
                    let n: i32 = sqlx::query_scalar("SELECT n FROM counter WHERE id = 1")
                        .fetch_one(&mut *tx)
                        .await?;
                    if wait {
                        barrier.wait().await;
                    }
                    sqlx::query("UPDATE counter SET n = $1 WHERE id = 1")
                        .bind(n + 1)
                        .execute(&mut *tx)
                        .await?;
                    Ok(n)
                })
            })
            .await
        }));
    }
    for writer in writers {
        within(Duration::from_secs(20), async { writer.await.unwrap() })
            .await
            .unwrap();
    }
    assert_eq!(pg.psql("SELECT n FROM counter WHERE id = 1").trim(), "2");
    assert!(
        runs.load(Ordering::Relaxed) >= 3,
        "no transaction was rerun"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn a_transaction_that_fails_otherwise_is_rolled_back_and_not_rerun() {
    let pg = PostgresServer::start();
    pg.psql("CREATE TABLE t (x int PRIMARY KEY);");
    let db = Database::new(&settings(&pg.url(), 1), "boost-db-test").unwrap();
    let mut runs = 0;
    let err = db
        .transaction(|tx| {
            runs += 1;
            Box::pin(async move {
                sqlx::query("INSERT INTO t VALUES (1)")
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("INSERT INTO t VALUES (1)")
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            })
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("23505"), "{err:?}");
    assert_eq!(runs, 1);
    assert_eq!(pg.psql("SELECT count(*) FROM t").trim(), "0");
    // The connection is usable (not left inside the failed transaction).
    let mut conn = db.acquire().await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(one, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn a_pool_busy_with_calls_is_ready_but_not_a_stopped_database() {
    let mut pg = PostgresServer::start();
    let mut settings = settings(&pg.url(), 1);
    settings.acquire_timeout = Duration::from_millis(300);
    let db = Database::new(&settings, "boost-db-test").unwrap();
    let held = db.acquire().await.unwrap();
    assert!(matches!(db.ping().await, Err(DbError::PoolExhausted(_))));
    db.ready().await.unwrap();
    drop(held);
    db.ready().await.unwrap();
    pg.stop();
    let started = Instant::now();
    assert!(db.ready().await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn the_migration_report_says_applied_pending_and_checksum_mismatch() {
    use boost_db::{MigrationReport, MigrationState};
    let pg = PostgresServer::start();
    let dir = migrations(&[
        ("1_first.sql", "CREATE TABLE a (x int);"),
        ("2_second.sql", "CREATE TABLE b (x int);"),
    ]);
    let db = Database::new(&settings(&pg.url(), 1), "boost-db-test").unwrap();
    // Before anything is applied: both pending, and nothing is created.
    let report = MigrationReport::read(dir.path(), Some(&db)).await.unwrap();
    assert_eq!(report.database, "checked");
    let states: Vec<_> = report.migrations.iter().map(|m| m.state).collect();
    assert_eq!(states, [MigrationState::Pending, MigrationState::Pending]);
    assert_eq!(
        pg.psql("SELECT to_regclass('_sqlx_migrations') IS NULL")
            .trim(),
        "t"
    );

    db.migrate(dir.path()).await.unwrap();
    std::fs::write(dir.path().join("2_second.sql"), "CREATE TABLE b (y int);").unwrap();
    std::fs::write(dir.path().join("3_third.sql"), "CREATE TABLE c (x int);").unwrap();
    let report = MigrationReport::read(dir.path(), Some(&db)).await.unwrap();
    let states: Vec<_> = report
        .migrations
        .iter()
        .map(|m| (m.version, m.description.as_str(), m.state))
        .collect();
    assert_eq!(
        states,
        [
            (1, "first", MigrationState::Applied),
            (2, "second", MigrationState::ChecksumMismatch),
            (3, "third", MigrationState::Pending),
        ]
    );
    assert!(report.migrations.iter().all(|m| m.checksum.len() == 96));
    assert!(report.has_problems());

    // Without a database, or with one that is down: the files, state unknown.
    let offline = MigrationReport::read(dir.path(), None).await.unwrap();
    assert_eq!(offline.database, "not configured");
    assert!(
        offline
            .migrations
            .iter()
            .all(|m| m.state == MigrationState::Unknown)
    );
    drop(pg);
    let down = MigrationReport::read(dir.path(), Some(&db)).await.unwrap();
    assert!(
        down.database.starts_with("not checked"),
        "{}",
        down.database
    );
    assert!(!down.database.contains(PASSWORD), "{}", down.database);
}
