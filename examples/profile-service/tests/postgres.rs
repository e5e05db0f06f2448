//! profile-service keeping its profiles in PostgreSQL: the shipped
//! migrations create and seed the table at start, lookups read it within
//! the call's deadline, and the gRPC handler answers from it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use boost::prelude::*;
use boost::tonic;
use boost_test_postgres::PostgresServer;
use profile_service::profiles::Profiles;
use profile_service::proto::GetProfileRequest;
use profile_service::proto::profiles_server::Profiles as _;
use profile_service::settings::Settings;

#[boost::tokio::test(crate = "boost::tokio", flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn profiles_come_from_postgres_after_the_shipped_migrations() {
    let pg = PostgresServer::start();
    let migrations = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let sets = [
        "admin.listen=127.0.0.1:0".to_owned(),
        "grpc.listen=127.0.0.1:0".to_owned(),
        "lifecycle.drain_delay=0s".to_owned(),
        format!("database.url={}", pg.url()),
        format!("database.migrations={migrations}"),
    ];
    let mut args = Vec::new();
    for set in sets {
        args.extend(["--set".to_owned(), set]);
    }
    let config = boost::config::Loader::new("profile-service")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", "")])
        .args(args)
        .load::<boost::service::Config<Settings>>()
        .unwrap();
    let service = Service::without_telemetry(config).handle_signals(false);
    let profiles = Profiles::database(service.database().unwrap().clone());
    let running = service
        .grpc(profiles.clone().into_service())
        .start()
        .await
        .unwrap();

    // Seeded by 2_seed.sql; case-insensitive as the in-memory table.
    let request = tonic::Request::new(GetProfileRequest {
        name: "BOB".to_owned(),
    });
    let profile = profiles.get_profile(request).await.unwrap().into_inner();
    assert_eq!(profile.language, "fr");
    let missing = profiles.find("zoe").await.unwrap_err();
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // Inside a call with a deadline that has passed: DEADLINE_EXCEEDED, at once.
    let started = Instant::now();
    let late = boost::rpc::deadline::scope(Instant::now(), profiles.find("bob"))
        .await
        .unwrap_err();
    assert_eq!(late.code(), tonic::Code::DeadlineExceeded);
    assert!(started.elapsed() < Duration::from_secs(2));

    // Added rows are served (no cache in between).
    pg.psql("INSERT INTO profiles VALUES ('zoe', 'el')");
    assert_eq!(profiles.find("Zoe").await.unwrap().language, "el");

    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}
