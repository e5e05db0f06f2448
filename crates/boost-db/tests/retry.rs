//! Connection errors before a statement was sent are retried and counted;
//! a statement already sent is never retried. Its own test binary: it reads
//! the global metrics recorder.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::time::{Duration, Instant};

use boost_db::{Database, DatabaseSettings, DbError};
use boost_test_postgres::PostgresServer;

fn settings(url: &str) -> DatabaseSettings {
    toml::from_str(&format!(
        "url = {url:?}\nmax_connections = 3\nacquire_timeout = \"5s\""
    ))
    .unwrap()
}

fn retries(snapshotter: &metrics_util::debugging::Snapshotter) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "db_client_retries_total")
        .map(|(key, _, _, value)| {
            assert!(
                key.key()
                    .labels()
                    .any(|l| l.key() == "reason" && l.value() == "connection_lost"),
                "{key:?}"
            );
            match value {
                metrics_util::debugging::DebugValue::Counter(n) => n,
                other => panic!("not a counter: {other:?}"),
            }
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn a_connection_lost_while_idle_is_replaced_and_counted_but_a_sent_statement_is_not_retried()
{
    let recorder = metrics_util::debugging::DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::set_global_recorder(recorder).unwrap();

    let mut pg = PostgresServer::start();
    let db = Database::new(&settings(&pg.url()), "boost-db-test").unwrap();
    // Three idle connections in the pool.
    {
        let a = db.acquire().await.unwrap();
        let b = db.acquire().await.unwrap();
        let c = db.acquire().await.unwrap();
        drop((a, b, c));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(retries(&snapshotter), 0);

    // Postgres restarts under the idle pool: every idle connection is dead.
    pg.stop();
    pg.restart();
    let started = Instant::now();
    let call = boost_rpc::deadline::scope(Instant::now() + Duration::from_secs(10), async {
        let mut conn = db.acquire().await?;
        let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&mut conn).await?;
        Ok::<_, DbError>(one)
    });
    assert_eq!(call.await.unwrap(), 1, "the first call after the restart");
    assert!(started.elapsed() < Duration::from_secs(10));
    let counted = retries(&snapshotter);
    assert!(
        (1..=3).contains(&counted),
        "{counted} retries counted for 3 dead idle connections"
    );

    // A statement already sent is never retried: its connection is
    // terminated while it runs, and the error reaches the caller.
    let mut conn = db.acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    // Taken now: an idle connection still dead from the restart is
    // replaced (and counted) here, not while the statement runs.
    let mut other = db.acquire().await.unwrap();
    let counted = retries(&snapshotter);
    let killer = {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let _: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
                .bind(pid)
                .fetch_one(&mut other)
                .await
                .unwrap();
        })
    };
    let err = sqlx::query("SELECT pg_sleep(5)")
        .execute(&mut conn)
        .await
        .unwrap_err();
    killer.await.unwrap();
    let err = DbError::from(err);
    assert!(!err.is_deadline(), "{err:?}");
    drop(conn);
    assert_eq!(
        retries(&snapshotter),
        counted,
        "a statement already sent was retried"
    );
    // The pool serves the next call.
    db.ping().await.unwrap();
}
