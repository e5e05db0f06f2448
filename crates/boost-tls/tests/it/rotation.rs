//! New files are taken without a restart; broken ones are refused and
//! counted, and the pair in use stays.

use std::time::{Duration, Instant};

use boost_test_certs::{Ca, Leaf, replace};
use boost_tls::metrics::{TLS_CERTIFICATE_EXPIRY, TLS_RELOAD_TOTAL};
use boost_tls::{ClientTls, ClientTlsSettings, ServerTls, ServerTlsSettings};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

use crate::{Files, connect, subject_of};

struct Rig {
    files: Files,
    ca: Ca,
    cert: std::path::PathBuf,
    key: std::path::PathBuf,
    client: ClientTls,
}

impl Rig {
    fn new() -> Rig {
        let files = Files::new();
        let ca = Ca::new("ca");
        let ca_file = ca.write(files.root(), "ca");
        let (cert, key) = ca
            .issue(&Leaf::new("first").dns("localhost"))
            .write(files.root(), "tls");
        let client = ClientTls::from_settings(
            "profiles.tls",
            &ClientTlsSettings::default().with_ca_file(ca_file),
        )
        .unwrap();
        Rig {
            files,
            ca,
            cert,
            key,
            client,
        }
    }

    fn server(&self) -> ServerTls {
        let settings = ServerTlsSettings::new(&self.cert, &self.key)
            .with_reload_interval(Duration::from_secs(1));
        ServerTls::from_settings("grpc.tls", &settings)
            .unwrap()
            .unwrap()
    }

    fn rotate_to(&self, cn: &str) {
        self.ca
            .issue(&Leaf::new(cn).dns("localhost"))
            .write_to(&self.cert, &self.key);
    }
}

fn counter(snapshotter: &Snapshotter, name: &str, outcome: &str) -> u64 {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .find_map(|(key, _, _, value)| {
            let key = key.key();
            let matches = key.name() == name
                && key
                    .labels()
                    .any(|l| l.key() == "outcome" && l.value() == outcome);
            match value {
                DebugValue::Counter(n) if matches => Some(n),
                _ => None,
            }
        })
        .unwrap_or(0)
}

fn gauges(snapshotter: &Snapshotter, name: &str) -> Vec<(String, f64)> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key();
            let subject = key
                .labels()
                .find(|l| l.key() == "subject")
                .map(|l| l.value().to_owned())?;
            match value {
                DebugValue::Gauge(v) if key.name() == name => Some((subject, v.into_inner())),
                _ => None,
            }
        })
        .collect()
}

#[tokio::test]
async fn a_reload_serves_new_handshakes_with_the_new_certificate() {
    let rig = Rig::new();
    let server = rig.server();
    let before = connect(&server, &rig.client).await.unwrap();
    assert_eq!(subject_of(&before.server_cert), "CN=first");
    rig.rotate_to("second");
    assert!(server.reload().unwrap());
    assert!(!server.reload().unwrap(), "nothing changed since");
    let after = connect(&server, &rig.client).await.unwrap();
    assert_eq!(subject_of(&after.server_cert), "CN=second");
}

#[tokio::test]
async fn a_broken_new_file_is_refused_counted_once_and_the_old_pair_stays() {
    let rig = Rig::new();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let server = metrics::with_local_recorder(&recorder, || rig.server());
    replace(
        &rig.cert,
        b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
    );
    let error = metrics::with_local_recorder(&recorder, || server.reload()).unwrap_err();
    assert!(
        error.to_string().contains("`grpc.tls.cert_file`"),
        "{error}"
    );
    // The same broken content again: refused, but not counted twice.
    let again = metrics::with_local_recorder(&recorder, || server.reload());
    assert!(again.is_err());
    // Counters in a snapshot are what was added since the last one.
    assert_eq!(counter(&snapshotter, TLS_RELOAD_TOTAL, "error"), 1);
    let seen = connect(&server, &rig.client).await.unwrap();
    assert_eq!(subject_of(&seen.server_cert), "CN=first");

    // A new certificate with the old key: a mismatch, refused the same way.
    let other = rig.ca.issue(&Leaf::new("mismatched").dns("localhost"));
    replace(&rig.cert, other.cert_pem.as_bytes());
    let error = metrics::with_local_recorder(&recorder, || server.reload()).unwrap_err();
    assert!(
        error.to_string().contains("is not the private key"),
        "{error}"
    );
    assert_eq!(counter(&snapshotter, TLS_RELOAD_TOTAL, "error"), 1);
    let seen = connect(&server, &rig.client).await.unwrap();
    assert_eq!(subject_of(&seen.server_cert), "CN=first");

    rig.rotate_to("fixed");
    assert!(metrics::with_local_recorder(&recorder, || server.reload()).unwrap());
    assert_eq!(counter(&snapshotter, TLS_RELOAD_TOTAL, "success"), 1);
}

#[tokio::test]
async fn the_expiry_gauge_follows_the_certificate_in_use() {
    let rig = Rig::new();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let server = metrics::with_local_recorder(&recorder, || rig.server());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let first = gauges(&snapshotter, TLS_CERTIFICATE_EXPIRY);
    assert_eq!(first.len(), 1, "{first:?}");
    assert_eq!(first[0].0, "CN=first");
    // Leaf::new is valid for 30 days.
    assert!(
        (first[0].1 - (now + 30.0 * 86400.0)).abs() < 3600.0,
        "{first:?}"
    );

    rig.ca
        .issue(&Leaf::new("second").dns("localhost").expires_in_days(90))
        .write_to(&rig.cert, &rig.key);
    metrics::with_local_recorder(&recorder, || server.reload()).unwrap();
    let mut after = gauges(&snapshotter, TLS_CERTIFICATE_EXPIRY);
    after.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(after[0].0, "CN=first");
    assert!(
        after[0].1.is_nan(),
        "the replaced series reads NaN: {after:?}"
    );
    assert_eq!(after[1].0, "CN=second");
    assert!(
        (after[1].1 - (now + 90.0 * 86400.0)).abs() < 3600.0,
        "{after:?}"
    );
}

#[tokio::test]
async fn the_watch_takes_a_renamed_file_without_being_asked() {
    let rig = Rig::new();
    let server = rig.server();
    let watch = tokio::spawn(server.watch());
    // Let the watcher start before the files change.
    tokio::time::sleep(Duration::from_millis(300)).await;
    rig.rotate_to("watched");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let seen = connect(&server, &rig.client).await.unwrap();
        if subject_of(&seen.server_cert) == "CN=watched" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new certificate was never used"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    watch.abort();
    drop(rig.files);
}

/// A CA bundle rotation: a CA that is added lets its clients in at once, a
/// CA that is removed keeps its clients out at once, even those with a
/// session they could resume.
#[tokio::test]
async fn a_ca_bundle_rotation_adds_and_removes_trust_for_new_handshakes() {
    let files = Files::new();
    let server_ca = Ca::new("server CA");
    let old_ca = Ca::new("old client CA");
    let new_ca = Ca::new("new client CA");
    let (cert, key) = server_ca
        .issue(&Leaf::new("server").dns("localhost"))
        .write(files.root(), "server");
    let bundle = files.path("clients.crt");
    replace(&bundle, old_ca.pem().as_bytes());
    let settings = ServerTlsSettings::new(&cert, &key)
        .with_client_auth(boost_tls::ClientAuth::Require, &bundle);
    let server = ServerTls::from_settings("grpc.tls", &settings)
        .unwrap()
        .unwrap();
    let trust_server = server_ca.write(files.root(), "server-ca");
    let client_of = |ca: &Ca, stem: &str| {
        let (cert, key) = ca.issue(&Leaf::new(stem)).write(files.root(), stem);
        ClientTls::from_settings(
            "profiles.tls",
            &ClientTlsSettings::default()
                .with_ca_file(&trust_server)
                .with_identity(cert, key),
        )
        .unwrap()
    };
    let old_client = client_of(&old_ca, "old");
    let new_client = client_of(&new_ca, "new");
    connect(&server, &old_client).await.unwrap();
    connect(&server, &old_client).await.unwrap(); // now with a session to resume
    assert!(connect(&server, &new_client).await.is_err());

    replace(
        &bundle,
        format!("{}{}", old_ca.pem(), new_ca.pem()).as_bytes(),
    );
    assert!(server.reload().unwrap());
    connect(&server, &new_client).await.unwrap();
    connect(&server, &old_client).await.unwrap();

    replace(&bundle, new_ca.pem().as_bytes());
    assert!(server.reload().unwrap());
    let error = connect(&server, &old_client).await.err().unwrap();
    assert!(error.contains("UnknownIssuer"), "{error}");
    connect(&server, &new_client).await.unwrap();
}

/// A client's own certificate rotates too: the server sees the new
/// identity on the next connection.
#[tokio::test]
async fn a_client_certificate_rotation_shows_the_server_the_new_identity() {
    let rig = Rig::new();
    let settings = ServerTlsSettings::new(&rig.cert, &rig.key)
        .with_client_auth(boost_tls::ClientAuth::Require, rig.files.path("ca.crt"));
    let server = ServerTls::from_settings("grpc.tls", &settings)
        .unwrap()
        .unwrap();
    let (cert, key) = rig
        .ca
        .issue(&Leaf::new("client-1"))
        .write(rig.files.root(), "client");
    let client = ClientTls::from_settings(
        "profiles.tls",
        &ClientTlsSettings::default()
            .with_ca_file(rig.files.path("ca.crt"))
            .with_identity(&cert, &key),
    )
    .unwrap();
    let seen = connect(&server, &client).await.unwrap();
    assert_eq!(seen.peer.unwrap().subject(), "CN=client-1");
    rig.ca.issue(&Leaf::new("client-2")).write_to(&cert, &key);
    assert!(client.reload().unwrap());
    let seen = connect(&server, &client).await.unwrap();
    assert_eq!(seen.peer.unwrap().subject(), "CN=client-2");
}

/// A good new pair with a broken new CA bundle takes neither: the pair and
/// CA in use stay, as the log line says, and no success is counted.
#[tokio::test]
async fn a_new_pair_with_a_broken_ca_bundle_is_not_half_taken() {
    let files = Files::new();
    let server_ca = Ca::new("server CA");
    let client_ca = Ca::new("client CA");
    let (cert, key) = server_ca
        .issue(&Leaf::new("server").dns("localhost"))
        .write(files.root(), "server");
    let bundle = files.path("clients.crt");
    replace(&bundle, client_ca.pem().as_bytes());
    let settings = ServerTlsSettings::new(&cert, &key)
        .with_client_auth(boost_tls::ClientAuth::Require, &bundle);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let server = metrics::with_local_recorder(&recorder, || {
        ServerTls::from_settings("grpc.tls", &settings)
            .unwrap()
            .unwrap()
    });
    let trust_server = server_ca.write(files.root(), "server-ca");
    let (client_cert, client_key) = client_ca
        .issue(&Leaf::new("client"))
        .write(files.root(), "client");
    let client = ClientTls::from_settings(
        "profiles.tls",
        &ClientTlsSettings::default()
            .with_ca_file(&trust_server)
            .with_identity(client_cert, client_key),
    )
    .unwrap();
    let seen = connect(&server, &client).await.unwrap();
    assert_eq!(subject_of(&seen.server_cert), "CN=server");

    server_ca
        .issue(&Leaf::new("rotated").dns("localhost"))
        .write_to(&cert, &key);
    replace(&bundle, b"not a CA bundle");
    let error = metrics::with_local_recorder(&recorder, || server.reload()).unwrap_err();
    assert!(error.to_string().contains("`grpc.tls.ca_file`"), "{error}");
    assert_eq!(counter(&snapshotter, TLS_RELOAD_TOTAL, "error"), 1);
    assert_eq!(counter(&snapshotter, TLS_RELOAD_TOTAL, "success"), 0);
    let seen = connect(&server, &client).await.unwrap();
    assert_eq!(
        subject_of(&seen.server_cert),
        "CN=server",
        "the old pair stays"
    );

    replace(&bundle, client_ca.pem().as_bytes());
    assert!(metrics::with_local_recorder(&recorder, || server.reload()).unwrap());
    assert_eq!(counter(&snapshotter, TLS_RELOAD_TOTAL, "success"), 1);
    let seen = connect(&server, &client).await.unwrap();
    assert_eq!(subject_of(&seen.server_cert), "CN=rotated");
}

/// The expiry series recorded: (role, subject, value). One snapshot.
fn expiries(snapshotter: &Snapshotter) -> Vec<(String, String, f64)> {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .filter_map(|(key, _, _, value)| {
            let key = key.key();
            let label = |name: &str| {
                key.labels()
                    .find(|l| l.key() == name)
                    .map(|l| l.value().to_owned())
            };
            match value {
                DebugValue::Gauge(v) if key.name() == TLS_CERTIFICATE_EXPIRY => {
                    Some((label("role")?, label("subject")?, v.into_inner()))
                }
                _ => None,
            }
        })
        .collect()
}

fn find(series: &[(String, String, f64)], role: &str, subject: &str) -> Option<f64> {
    series
        .iter()
        .find(|(r, s, _)| r == role && s == subject)
        .map(|(_, _, v)| *v)
}

/// The gRPC and admin servers with one certificate are two series; rotating
/// one leaves the other's alone.
#[tokio::test]
async fn two_servers_with_one_subject_keep_their_own_expiry_series() {
    let files = Files::new();
    let ca = Ca::new("ca");
    let grpc = ca
        .issue(&Leaf::new("svc").dns("localhost").expires_in_days(20))
        .write(files.root(), "grpc");
    let admin = ca
        .issue(&Leaf::new("svc").dns("localhost").expires_in_days(40))
        .write(files.root(), "admin");
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let load = |section: &str, (cert, key): &(std::path::PathBuf, std::path::PathBuf)| {
        metrics::with_local_recorder(&recorder, || {
            ServerTls::from_settings(section, &ServerTlsSettings::new(cert, key))
                .unwrap()
                .unwrap()
        })
    };
    let grpc_server = load("grpc.tls", &grpc);
    let _admin_server = load("admin.tls", &admin);
    let series = expiries(&snapshotter);
    let grpc_expiry = find(&series, "grpc_server", "CN=svc").unwrap();
    let admin_expiry = find(&series, "admin_server", "CN=svc").unwrap();
    assert!(
        admin_expiry - grpc_expiry > 19.0 * 86_400.0,
        "{grpc_expiry} {admin_expiry}"
    );

    ca.issue(&Leaf::new("svc-2").dns("localhost"))
        .write_to(&grpc.0, &grpc.1);
    assert!(metrics::with_local_recorder(&recorder, || grpc_server.reload()).unwrap());
    let series = expiries(&snapshotter);
    assert!(find(&series, "grpc_server", "CN=svc").unwrap().is_nan());
    assert!(
        find(&series, "grpc_server", "CN=svc-2")
            .unwrap()
            .is_finite()
    );
    assert!(
        !find(&series, "admin_server", "CN=svc").is_some_and(f64::is_nan),
        "the admin server's series is not retired with the gRPC server's"
    );
}

/// OTLP export's client certificate is loaded with tracing, before the
/// metrics recorder exists: its expiry series must still reach `/metrics`,
/// from the watch.
#[test]
fn a_section_loaded_before_the_recorder_gets_its_expiry_series_from_the_watch() {
    let files = Files::new();
    let ca = Ca::new("ca");
    let ca_file = ca.write(files.root(), "ca");
    let (cert, key) = ca
        .issue(&Leaf::new("exporter").expires_in_days(30))
        .write(files.root(), "otlp");
    // No recorder here: the gauge set while loading goes nowhere.
    let client = ClientTls::from_settings(
        "tracing.otlp.tls",
        &ClientTlsSettings::default()
            .with_ca_file(ca_file)
            .with_identity(cert, key),
    )
    .unwrap();
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    // A snapshot drains the debugging recorder's gauges: keep what is seen.
    let mut expiry = None;
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let watch = tokio::spawn(client.watch());
            // Well beyond the watch's first poll on a loaded machine.
            for _ in 0..100 {
                expiry = find(
                    &expiries(&snapshotter),
                    "tracing_otlp_client",
                    "CN=exporter",
                );
                if expiry.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            watch.abort();
        });
    });
    let expiry =
        expiry.expect("the watch publishes the expiry of a section loaded before the recorder");
    let in_29_days = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 29 * 86_400) as f64;
    assert!(expiry > in_29_days, "{expiry}");
}

/// A CA bundle has one expiry series (`<role>_ca`): the CA that expires
/// first, so the expiry alerts see a trust anchor running out; a new bundle
/// moves it.
#[tokio::test]
async fn the_ca_bundle_reports_the_ca_that_expires_first() {
    let files = Files::new();
    let server_ca = Ca::new("server ca");
    let (cert, key) = server_ca
        .issue(&Leaf::new("server").dns("localhost"))
        .write(files.root(), "server");
    let soon = Ca::expiring_in_days("clients soon", 10);
    let later = Ca::expiring_in_days("clients later", 200);
    let bundle = files.path("clients.crt");
    replace(&bundle, format!("{}{}", later.pem(), soon.pem()).as_bytes());
    let settings = ServerTlsSettings::new(&cert, &key)
        .with_client_auth(boost_tls::ClientAuth::Require, &bundle);
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let server = metrics::with_local_recorder(&recorder, || {
        ServerTls::from_settings("grpc.tls", &settings)
            .unwrap()
            .unwrap()
    });
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let series = expiries(&snapshotter);
    let cas: Vec<_> = series
        .iter()
        .filter(|(role, _, _)| role == "grpc_server_ca")
        .collect();
    assert_eq!(cas.len(), 1, "one series per bundle: {series:?}");
    assert_eq!(cas[0].1, "CN=clients soon", "{series:?}");
    assert!(
        (cas[0].2 - (now + 10.0 * 86_400.0)).abs() < 3600.0,
        "{series:?}"
    );
    assert!(
        find(&series, "grpc_server", "CN=server").is_some(),
        "{series:?}"
    );

    replace(&bundle, later.pem().as_bytes());
    assert!(metrics::with_local_recorder(&recorder, || server.reload()).unwrap());
    let series = expiries(&snapshotter);
    assert!(
        find(&series, "grpc_server_ca", "CN=clients soon")
            .unwrap()
            .is_nan(),
        "the CA taken out reads NaN: {series:?}"
    );
    let later_expiry = find(&series, "grpc_server_ca", "CN=clients later").unwrap();
    assert!(
        (later_expiry - (now + 200.0 * 86_400.0)).abs() < 3600.0,
        "{series:?}"
    );
}

/// A client's CA bundle (`ca_file`) is reported as `<section>_client_ca`.
#[test]
fn a_client_ca_bundle_has_its_own_series() {
    let files = Files::new();
    let ca = Ca::expiring_in_days("partner root", 30);
    let ca_file = ca.write(files.root(), "ca");
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        ClientTls::from_settings(
            "profiles.tls",
            &ClientTlsSettings::default().with_ca_file(&ca_file),
        )
        .unwrap()
    });
    let series = expiries(&snapshotter);
    assert!(
        find(&series, "profiles_client_ca", "CN=partner root").is_some_and(f64::is_finite),
        "{series:?}"
    );
}
