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

/// `profile-service --print-migrations` with `--set`s, in the package
/// directory: (exit success, stdout, stderr).
fn print_migrations(sets: &[String]) -> (bool, String, String) {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_profile-service"));
    command.arg("--print-migrations");
    for set in sets {
        command.args(["--set", set]);
    }
    let out = command
        .env("APP_ENV", "")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
#[ignore = "needs postgres"]
fn print_migrations_lists_the_shipped_migrations_and_which_are_applied() {
    let migrations = format!(
        "database.migrations={}",
        concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")
    );
    let (ok, out, err) = print_migrations(&[
        "database.url=postgres://app:s3cret@127.0.0.1:1/x".to_owned(),
        migrations.clone(),
    ]);
    // A URL nobody answers on: the files, the database not checked.
    assert!(ok, "{err}");
    assert!(out.contains("not checked"), "{out}");
    assert!(out.contains("profiles") && out.contains("seed"), "{out}");
    assert!(out.contains("unknown"), "{out}");
    assert!(!format!("{out}{err}").contains("s3cret"), "{out}{err}");

    let pg = PostgresServer::start();
    let url = format!("database.url={}", pg.url());
    let (ok, out, err) = print_migrations(&[url.clone(), migrations.clone()]);
    assert!(ok, "{err}");
    assert!(out.contains("database: checked"), "{out}");
    assert_eq!(out.matches("pending").count(), 2, "{out}");
    assert!(!format!("{out}{err}").contains(boost_test_postgres::PASSWORD));
    // Nothing was applied by printing.
    assert_eq!(
        pg.psql("SELECT to_regclass('profiles') IS NULL").trim(),
        "t"
    );
}
