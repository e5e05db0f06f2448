//! TLS to a real PostgreSQL (`ssl = on`) through `database.tls`: the right
//! CA connects, another CA is refused with an error naming the setting, a
//! rotated CA file is used by the next connection, mTLS with a client
//! certificate; the password never shows.

#![allow(clippy::unwrap_used)] // test helpers outside #[test] functions

use std::path::Path;
use std::time::Duration;

use boost_db::{Database, DatabaseSettings, DbError};
use boost_test_certs::{Ca, Leaf};
use boost_test_postgres::{PASSWORD, PostgresServer, Tls};

fn settings(url: &str, extra: &str) -> DatabaseSettings {
    let settings: DatabaseSettings = toml::from_str(&format!(
        "url = {url:?}\nmax_connections = 2\nacquire_timeout = \"5s\"\n{extra}"
    ))
    .unwrap();
    let problems = boost_config::Problems::of("database", &settings);
    assert!(problems.is_empty(), "{problems:?}");
    settings
}

fn server(ca: &Ca, client_ca: Option<&Ca>) -> PostgresServer {
    let pair = ca.issue(&Leaf::new("postgres").dns("localhost"));
    PostgresServer::start_tls(Tls {
        cert_pem: pair.cert_pem,
        key_pem: pair.key_pem,
        client_ca_pem: client_ca.map(|ca| ca.pem().to_owned()),
    })
}

async fn uses_tls(db: &Database) -> Result<bool, DbError> {
    let mut conn = db.acquire().await?;
    let ssl: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await?;
    Ok(ssl)
}

fn toml_path(path: &Path) -> String {
    format!("{:?}", path.display().to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn the_right_ca_connects_with_tls_and_another_is_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("database CA");
    let other = Ca::new("another CA");
    let pg = server(&ca, None);
    let ca_file = ca.write(dir.path(), "ca");
    let other_file = other.write(dir.path(), "other");

    // ca_file alone turns TLS on, verify-full.
    let good = Database::new(
        &settings(
            &pg.tls_url(),
            &format!("[tls]\nca_file = {}", toml_path(&ca_file)),
        ),
        "boost-db-test",
    )
    .unwrap();
    assert!(uses_tls(&good).await.unwrap(), "the connection is not TLS");

    // The same with sslmode=verify-full spelled out.
    let spelled = Database::new(
        &settings(
            &format!("{}?sslmode=verify-full", pg.tls_url()),
            &format!("[tls]\nca_file = {}", toml_path(&ca_file)),
        ),
        "boost-db-test",
    )
    .unwrap();
    assert!(uses_tls(&spelled).await.unwrap());

    // Another CA: refused, the error names the setting, no password.
    let bad = Database::new(
        &settings(
            &pg.tls_url(),
            &format!("[tls]\nca_file = {}", toml_path(&other_file)),
        ),
        "boost-db-test",
    )
    .unwrap();
    let err = bad.ping().await.unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(matches!(err, DbError::Unavailable(_)), "{text}");
    assert!(text.contains("database.tls.ca_file"), "{text}");
    assert!(!text.contains(PASSWORD), "password shown: {text}");
    assert!(!format!("{bad:?}").contains(PASSWORD));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn a_rotated_ca_file_is_used_by_the_next_connection() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("database CA");
    let other = Ca::new("another CA");
    let pg = server(&ca, None);
    // Starts with the wrong CA in the file.
    let ca_file = other.write(dir.path(), "ca");
    let mut settings = settings(
        &pg.tls_url(),
        &format!("[tls]\nca_file = {}", toml_path(&ca_file)),
    );
    settings.idle_timeout = Duration::ZERO;
    let db = Database::new(&settings, "boost-db-test").unwrap();
    assert!(db.ping().await.is_err());
    // The file is replaced (rename over it, as cert-manager does): the next
    // connection reads it, without a new pool.
    boost_test_certs::replace(&ca_file, ca.pem().as_bytes());
    assert!(uses_tls(&db).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs postgres"]
async fn mtls_with_a_client_certificate_the_server_requires() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("database CA");
    let clients = Ca::new("client CA");
    let pg = server(&ca, Some(&clients));
    let ca_file = ca.write(dir.path(), "ca");
    let (cert, key) = clients
        .issue(&Leaf::new("postgres"))
        .write(dir.path(), "client");

    let with_cert = Database::new(
        &settings(
            &pg.tls_url(),
            &format!(
                "[tls]\nca_file = {}\ncert_file = {}\nkey_file = {}",
                toml_path(&ca_file),
                toml_path(&cert),
                toml_path(&key)
            ),
        ),
        "boost-db-test",
    )
    .unwrap();
    assert!(uses_tls(&with_cert).await.unwrap());

    let without = Database::new(
        &settings(
            &pg.tls_url(),
            &format!("[tls]\nca_file = {}", toml_path(&ca_file)),
        ),
        "boost-db-test",
    )
    .unwrap();
    let err = without.ping().await.unwrap_err();
    assert!(!format!("{err:?}").contains(PASSWORD), "{err:?}");
}

#[tokio::test]
async fn tls_settings_are_checked_at_start_naming_the_key() {
    let url = "postgres://app:s3cret@localhost:5432/app";
    // A missing file: Database::new names database.tls.ca_file.
    let err = Database::new(
        &settings(url, "[tls]\nca_file = \"/no/such/ca.crt\""),
        "boost-db-test",
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("database.tls.ca_file"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");

    for (url, extra, key) in [
        ("postgres://a:b@h/d?sslmode=require", "", "url"),
        ("postgres://a:b@h/d?sslmode=prefer", "", "url"),
        (
            "postgres://a:b@h/d?sslmode=disable",
            "[tls]\nca_file = \"/x\"",
            "url",
        ),
        ("postgres://a:b@h/d?sslrootcert=/x", "", "url"),
        (
            "postgres://a:b@h/d",
            "[tls]\nserver_name = \"db\"",
            "tls.server_name",
        ),
        (
            "postgres://a:b@h/d",
            "[tls]\ncert_file = \"/x\"",
            "tls.key_file",
        ),
    ] {
        let settings: DatabaseSettings =
            toml::from_str(&format!("url = {url:?}\n{extra}")).unwrap();
        let problems = boost_config::Problems::of("database", &settings);
        assert!(
            format!("{problems:?}").contains(&format!("database.{key}")),
            "{url} {extra}: {problems:?}"
        );
    }
}
