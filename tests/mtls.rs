//! hello-service → profile-service over mTLS, as each example's
//! `config/mtls.toml` sets it up (certificates made here with rcgen; only the
//! file paths are overridden): a caller profile-service allows is greeted in
//! its language; an identity not in `grpc.authorization` gets the upstream's
//! PERMISSION_DENIED, which hello-service turns into an English greeting
//! (`hello_degraded_total{reason="upstream"}` and a warning, as documented);
//! a hello-service without a client certificate, or with one from another
//! CA, is refused at the handshake and degrades the same way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};

use boost_test_certs::{Ca, Leaf};
use common::{Example, Launch, ServiceProcess, http_get, sample_sum, say_hello, workspace_root};

/// The SPIFFE ID profile-service's config/mtls.toml allows.
const HELLO_ID: &str = "spiffe://greeters.example/hello-service";

fn shipped(example: &str) -> PathBuf {
    workspace_root()
        .join("examples")
        .join(example)
        .join("config/mtls.toml")
}

/// `--set key=<path>` (the paths the shipped files name are relative).
fn set_path(launch: Launch, key: &str, path: &Path) -> Launch {
    launch.arg("--set").arg(format!("{key}={}", path.display()))
}

/// profile-service with its shipped mTLS config; certificates from `ca`.
fn profile_service(dir: &Path, ca: &Ca) -> ServiceProcess {
    let (cert, key) = ca
        .issue(&Leaf::new("profile-service").dns("profile-service"))
        .write(dir, "profile-service");
    let ca_file = ca.write(dir, "ca");
    let launch = Launch::new(Example::Profile)
        .arg("--config")
        .arg(shipped("profile-service").display().to_string());
    let launch = set_path(launch, "grpc.tls.cert_file", &cert);
    let launch = set_path(launch, "grpc.tls.key_file", &key);
    set_path(launch, "grpc.tls.ca_file", &ca_file).start()
}

/// hello-service with its shipped mTLS config, calling `profiles`, trusting
/// `ca`, and showing `identity` (none when `None`).
fn hello_service(
    dir: &Path,
    profiles: &ServiceProcess,
    ca: &Ca,
    identity: Option<(&Ca, Leaf)>,
    name: &str,
) -> ServiceProcess {
    let ca_file = ca.write(dir, "trusted-ca");
    let config = match &identity {
        Some(_) => shipped("hello-service"),
        None => {
            // The shipped file without its client certificate.
            let text = std::fs::read_to_string(shipped("hello-service")).unwrap();
            let kept: Vec<&str> = text
                .lines()
                .filter(|l| !l.starts_with("cert_file") && !l.starts_with("key_file"))
                .collect();
            let path = dir.join(format!("{name}.toml"));
            std::fs::write(&path, kept.join("\n")).unwrap();
            path
        }
    };
    let launch = Launch::new(Example::Hello)
        .arg("--config")
        .arg(config.display().to_string())
        .set("PROFILES__ENDPOINTS", format!("https://{}", profiles.grpc))
        .set("PROFILES__RETRY__MAX_ATTEMPTS", "1");
    let mut launch = set_path(launch, "profiles.tls.ca_file", &ca_file);
    if let Some((issuer, leaf)) = identity {
        let (cert, key) = issuer.issue(&leaf).write(dir, name);
        launch = set_path(launch, "profiles.tls.cert_file", &cert);
        launch = set_path(launch, "profiles.tls.key_file", &key);
    }
    launch.start()
}

async fn degraded(hello: &ServiceProcess) -> f64 {
    let (_, metrics) = http_get(&hello.admin_url("/metrics")).await;
    sample_sum(&metrics, "hello_degraded_total", &[("reason", "upstream")]).unwrap_or(0.0)
}

/// The `code` of hello-service's "profile lookup failed" warnings.
fn lookup_failures(hello: &ServiceProcess) -> Vec<String> {
    hello
        .json_logs()
        .iter()
        .filter(|l| {
            l["message"]
                .as_str()
                .is_some_and(|m| m.contains("profile lookup failed"))
        })
        .map(|l| format!("{} {}", l["code"], l["error"]))
        .collect()
}

/// Whether a log line of `process` matches `pred` within 10 s: the lines
/// are read from the child's stdout by another thread, so a line written
/// just before the answer may not be there yet.
async fn logged(process: &ServiceProcess, pred: impl Fn(&serde_json::Value) -> bool) -> bool {
    for _ in 0..100 {
        if process.json_logs().iter().any(&pred) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test]
async fn hello_service_calls_profile_service_over_mtls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("greeters CA");
    let profiles = profile_service(dir.path(), &ca);
    let hello = hello_service(
        dir.path(),
        &profiles,
        &ca,
        Some((&ca, Leaf::new("hello-service").uri(HELLO_ID))),
        "hello",
    );
    let mut greeter = hello.greeter().await;
    assert_eq!(
        say_hello(&mut greeter, "bob").await.unwrap(),
        "Bonjour, bob!",
        "{}\n{}",
        hello.dump(),
        profiles.dump()
    );
    assert_eq!(degraded(&hello).await, 0.0, "{}", hello.dump());
    // The call arrived over mTLS: profile-service's server span names the caller.
    let listening = profiles
        .json_logs()
        .into_iter()
        .find(|l| l["message"] == "gRPC server listening")
        .unwrap();
    assert_eq!(listening["tls"], true, "{listening}");
}

#[tokio::test]
async fn an_identity_not_allowed_gets_permission_denied_and_hello_greets_in_english() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("greeters CA");
    let profiles = profile_service(dir.path(), &ca);
    let intruder = Leaf::new("intruder").uri("spiffe://greeters.example/intruder");
    let hello = hello_service(
        dir.path(),
        &profiles,
        &ca,
        Some((&ca, intruder)),
        "intruder",
    );
    let mut greeter = hello.greeter().await;
    assert_eq!(say_hello(&mut greeter, "bob").await.unwrap(), "Hello, bob!");
    assert_eq!(degraded(&hello).await, 1.0, "{}", hello.dump());
    let denied = logged(&hello, |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("profile lookup failed"))
            && l["code"].to_string().contains("PermissionDenied")
    })
    .await;
    assert!(denied, "{:?}\n{}", lookup_failures(&hello), hello.dump());
    let refused = logged(&profiles, |l| {
        l["message"]
            .as_str()
            .is_some_and(|m| m.contains("identity is not allowed"))
            && l.to_string().contains("spiffe://greeters.example/intruder")
    })
    .await;
    assert!(refused, "{}", profiles.dump());
}

#[tokio::test]
async fn without_a_client_certificate_or_with_one_from_another_ca_hello_is_refused_at_the_handshake()
 {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("greeters CA");
    let other = Ca::new("other CA");
    let profiles = profile_service(dir.path(), &ca);
    let cases = [
        ("no certificate", None),
        (
            "another CA",
            Some((&other, Leaf::new("hello-service").uri(HELLO_ID))),
        ),
        (
            "expired",
            Some((&ca, Leaf::new("hello-service").uri(HELLO_ID).expired())),
        ),
    ];
    for (case, identity) in cases {
        let expired = case == "expired";
        let name = case.replace(' ', "-");
        if expired {
            // hello-service refuses to start with an expired certificate of
            // its own, naming the key and the file: the check at start.
            let (cert, key) = ca
                .issue(&Leaf::new("hello-service").uri(HELLO_ID).expired())
                .write(dir.path(), &name);
            let launch = Launch::new(Example::Hello)
                .arg("--config")
                .arg(shipped("hello-service").display().to_string());
            let launch = set_path(launch, "profiles.tls.ca_file", &ca.write(dir.path(), "ca"));
            let launch = set_path(launch, "profiles.tls.cert_file", &cert);
            let (status, _, stderr) = set_path(launch, "profiles.tls.key_file", &key).run_to_exit();
            assert!(!status.success(), "{case}: started");
            assert!(
                stderr.contains("profiles.tls.cert_file"),
                "{case}: {stderr}"
            );
            assert!(stderr.contains("expired"), "{case}: {stderr}");
            continue;
        }
        let hello = hello_service(dir.path(), &profiles, &ca, identity, &name);
        let mut greeter = hello.greeter().await;
        assert_eq!(
            say_hello(&mut greeter, "bob").await.unwrap(),
            "Hello, bob!",
            "{case}"
        );
        assert_eq!(degraded(&hello).await, 1.0, "{case}: {}", hello.dump());
        // The log line is read from the child's stdout by another thread:
        // wait for it (up to 10 s on a loaded machine) rather than race it.
        let refused =
            |f: &String| f.contains("Unavailable") && f.contains("refused the TLS handshake");
        let mut failures = lookup_failures(&hello);
        for _ in 0..100 {
            if failures.iter().any(refused) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            failures = lookup_failures(&hello);
        }
        assert!(
            failures.iter().any(refused),
            "{case}: {failures:?}\n{}",
            hello.dump()
        );
    }
}
