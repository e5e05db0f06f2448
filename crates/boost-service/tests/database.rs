//! `[database]` through the service runtime against a real PostgreSQL
//! (`boost-test-postgres`): the pool built from config, the readiness check
//! `database`, a handler's query cut at the request's deadline (504), masked
//! credentials on `/config`, the pool closed in the graceful shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use boost_db::Database;
use boost_http::Problem;
use boost_rpc::ServiceError;
use boost_service::{NoSettings, Service};
use boost_test_postgres::{PASSWORD, PostgresServer};

fn config(sets: &[String]) -> boost_config::Loaded<boost_service::Config<NoSettings>> {
    let mut args = Vec::new();
    let fixed = [
        "admin.listen=127.0.0.1:0",
        "http.listen=127.0.0.1:0",
        "lifecycle.drain_delay=0s",
        "lifecycle.readiness_cache_ttl=100ms",
        "lifecycle.readiness_timeout=3s",
        "database.acquire_timeout=1s",
    ];
    for set in fixed
        .iter()
        .map(|s| s.to_string())
        .chain(sets.iter().cloned())
    {
        args.extend(["--set".to_owned(), set]);
    }
    boost_config::Loader::new("db-config-test")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", "")])
        .args(args)
        .load()
        .unwrap()
}

async fn sleep_in_db(State(db): State<Database>) -> Result<String, Problem> {
    let run = async {
        let mut conn = db.acquire().await?;
        sqlx::query("SELECT pg_sleep(10)")
            .execute(&mut conn)
            .await?;
        Ok::<_, boost_db::DbError>("slept".to_owned())
    };
    run.await.map_err(|e| Problem::from(ServiceError::from(e)))
}

async fn ready(admin: std::net::SocketAddr) -> (u16, String) {
    let response = reqwest::get(format!("http://{admin}/health/ready"))
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

async fn ready_becomes(admin: std::net::SocketAddr, want: u16) -> String {
    let started = Instant::now();
    loop {
        let (status, body) = ready(admin).await;
        if status == want {
            return body;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "/health/ready stayed {status}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn the_pool_from_config_is_checked_cut_at_the_deadline_and_closed_at_shutdown() {
    let mut pg = PostgresServer::start();
    let service = Service::without_telemetry(config(&[
        format!("database.url={}", pg.url()),
        "http.request_timeout=500ms".to_owned(),
    ]))
    .handle_signals(false);
    let db = service.database().unwrap().clone();
    let routes = Router::new()
        .route("/v1/sleep", get(sleep_in_db))
        .with_state(db.clone());
    let running = service.http(routes).start().await.unwrap();
    let admin = running.admin_addr();
    let base = format!("http://{}", running.http_addr().unwrap());

    // Ready, and the check is named.
    let body = ready_becomes(admin, 200).await;
    assert!(body.contains("\"name\":\"database\""), "{body}");

    // A statement longer than the request's deadline: 504 in time.
    let started = Instant::now();
    let response = reqwest::get(format!("{base}/v1/sleep")).await.unwrap();
    let took = started.elapsed();
    assert_eq!(response.status(), 504);
    assert!(
        took < Duration::from_millis(2500),
        "answered after {took:?}"
    );

    // /config shows the URL masked.
    let shown = reqwest::get(format!("http://{admin}/config"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains("database"), "{shown}");
    assert!(!shown.contains(PASSWORD), "credentials on /config: {shown}");

    // PostgreSQL stopped: not ready, naming the check; back when it is.
    pg.stop();
    let body = ready_becomes(admin, 503).await;
    assert!(body.contains("database"), "{body}");
    assert!(!body.contains(PASSWORD), "{body}");
    pg.restart();
    ready_becomes(admin, 200).await;

    // Graceful shutdown closes the pool after the servers stopped.
    running.shutdown_handle().trigger();
    tokio::time::timeout(Duration::from_secs(20), running.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(db.is_closed());
}

#[tokio::test]
async fn without_a_url_there_is_no_pool_and_asking_for_it_names_the_key() {
    let service = Service::without_telemetry(config(&[]));
    let err = service.database().unwrap_err().to_string();
    assert!(err.contains("database.url"), "{err}");
    assert!(err.contains("DB_CONFIG_TEST__DATABASE__URL"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_migrations_get_migrations_is_404_naming_the_key() {
    let running = Service::without_telemetry(config(&[]))
        .handle_signals(false)
        .start()
        .await
        .unwrap();
    let response = reqwest::get(format!("http://{}/migrations", running.admin_addr()))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body = response.text().await.unwrap();
    assert!(body.contains("database.migrations"), "{body}");
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn migrations_are_applied_before_serving_and_a_failed_one_stops_the_start() {
    let pg = PostgresServer::start();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1_profiles.sql"),
        "CREATE TABLE profiles (id int8 PRIMARY KEY, name text NOT NULL);",
    )
    .unwrap();
    let sets = [
        format!("database.url={}", pg.url()),
        format!("database.migrations={}", dir.path().display()),
    ];
    let running = Service::without_telemetry(config(&sets))
        .handle_signals(false)
        .start()
        .await
        .unwrap();
    assert_eq!(pg.psql("SELECT count(*) FROM profiles").trim(), "0");

    // GET /migrations: applied; a file added since is pending, JSON, no
    // credentials.
    std::fs::write(dir.path().join("2_more.sql"), "SELECT 1;").unwrap();
    let response = reqwest::get(format!("http://{}/migrations", running.admin_addr()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    assert!(!body.contains(PASSWORD), "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["database"], "checked", "{body}");
    let states: Vec<(i64, String)> = json["migrations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["version"].as_i64().unwrap(),
                m["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        states,
        [(1, "applied".to_owned()), (2, "pending".to_owned())],
        "{body}"
    );
    assert_eq!(
        json["migrations"][0]["checksum"].as_str().unwrap().len(),
        96
    );
    std::fs::remove_file(dir.path().join("2_more.sql")).unwrap();
    running.shutdown_handle().trigger();
    running.wait().await.unwrap();

    std::fs::write(dir.path().join("2_broken.sql"), "CREATE TABLE profiles ();").unwrap();
    let err = Service::without_telemetry(config(&sets))
        .handle_signals(false)
        .start()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("database.migrations"), "{err}");
    assert!(!err.contains(PASSWORD), "{err}");
}
