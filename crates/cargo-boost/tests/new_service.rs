//! `cargo boost new`: refusals (bad name, broken proto, existing directory),
//! and, ignored by default because it builds a service (about 3 minutes
//! here with a warm target dir), a generated service from a proto the kit
//! has never seen that builds, passes its tests and clippy, runs, answers
//! UNIMPLEMENTED on every unary rpc and serves `/health/ready` and `/metrics`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn data(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(file)
}

fn cargo_boost(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-boost"))
        .arg("boost")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_name_is_refused_with_what_to_use() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("x");
    let (ok, err) = cargo_boost(&["new", "Order_Service", "--dir", dir.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("service name \"Order_Service\""), "{err}");
    assert!(err.contains("lowercase letters, digits and '-'"), "{err}");
    assert!(!dir.exists());
}

#[test]
fn a_proto_that_does_not_parse_names_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("svc");
    let proto = data("broken.proto");
    let (ok, err) = cargo_boost(&[
        "new",
        "svc",
        "--proto",
        proto.to_str().unwrap(),
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("broken.proto:6"), "{err}");
    assert!(!dir.exists(), "nothing written for a broken proto");
}

#[test]
fn an_existing_directory_is_never_overwritten() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
    let (ok, err) = cargo_boost(&["new", "svc", "--dir", tmp.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
        "mine"
    );
    assert!(!tmp.path().join("Cargo.toml").exists());
}

#[test]
fn the_starter_service_has_every_file_and_the_kits_lock() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("item-service");
    let (ok, err) = cargo_boost(&["new", "item-service", "--dir", dir.to_str().unwrap()]);
    assert!(ok, "{err}");
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "README.md",
        ".gitignore",
        "Dockerfile",
        "proto/item_service.proto",
        "src/main.rs",
        "src/lib.rs",
        "src/proto.rs",
        "src/settings.rs",
        "src/handlers/mod.rs",
        "src/handlers/items.rs",
        "config/default.toml",
        "config/prod.toml",
        "tests/config_files.rs",
    ] {
        assert!(dir.join(file).is_file(), "{file} missing; progress:\n{err}");
    }
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"item-service\""));
    assert!(
        manifest.contains("[profile.dev]"),
        "the kit's profiles:\n{manifest}"
    );
    let kit_lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"))
            .unwrap();
    assert_eq!(
        std::fs::read_to_string(dir.join("Cargo.lock")).unwrap(),
        kit_lock
    );
    let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
    assert!(readme.contains("ITEM_SERVICE__GRPC__LISTEN"), "{readme}");
    let handler = std::fs::read_to_string(dir.join("src/handlers/items.rs")).unwrap();
    assert!(handler.contains("// todo: implement GetItem."), "{handler}");
    // The release binary links the build stage's glibc: both stages name one Debian release.
    let dockerfile = std::fs::read_to_string(dir.join("Dockerfile")).unwrap();
    let releases: Vec<&str> = dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix("FROM "))
        .map(|image| {
            let image = image.split_whitespace().next().unwrap_or("");
            let tag = image.rsplit(':').next().unwrap_or("");
            tag.split('-')
                .find(|part| ["bookworm", "trixie"].contains(part))
                .unwrap_or(tag)
        })
        .collect();
    assert_eq!(releases.len(), 2, "{dockerfile}");
    assert!(
        releases[0] == releases[1] && ["bookworm", "trixie"].contains(&releases[0]),
        "both stages name one Debian release: {releases:?}\n{dockerfile}"
    );
}

fn cargo(dir: &Path, args: &[&str]) {
    let started = Instant::now();
    // One target dir with the workspace, so the kit's dependencies are not compiled twice.
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned()))
        .args(args)
        .current_dir(dir)
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "cargo {args:?} failed in the generated service"
    );
    eprintln!("cargo {args:?}: {:?}", started.elapsed());
}

#[test]
#[ignore = "builds a generated service"]
fn a_generated_service_builds_passes_its_tests_and_clippy_runs_and_answers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("order-service");
    let hello = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/proto/hello.proto");
    let upstream = format!("profiles={}", hello.display());
    let (ok, err) = cargo_boost(&[
        "new",
        "order-service",
        "--proto",
        data("shop.proto").to_str().unwrap(),
        "--upstream",
        &upstream,
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    cargo(&dir, &["fmt", "--check"]);
    cargo(&dir, &["clippy", "--all-targets", "--", "-D", "warnings"]);
    cargo(&dir, &["test"]);
    cargo(&dir, &["build"]);

    // The resolve kept the kit's tested versions: nothing in the lock the kit's lock lacks.
    let kit_lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.lock"))
            .unwrap();
    let kit = locked(&kit_lock);
    let untested: Vec<_> = locked(&std::fs::read_to_string(dir.join("Cargo.lock")).unwrap())
        .into_iter()
        .filter(|(name, _)| name != "order-service")
        .filter(|entry| !kit.contains(entry))
        .collect();
    assert!(
        untested.is_empty(),
        "versions the kit never tested: {untested:?}"
    );

    // `cargo boost check`: kit version, every environment's config, the kit's next release.
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-boost"))
        .args(["boost", "check", "--dir", dir.to_str().unwrap()])
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains(&format!("kit: boost {}", env!("CARGO_PKG_VERSION"))),
        "{report}"
    );
    assert!(report.contains("config/default.toml: ok"), "{report}");
    assert!(report.contains("config/prod.toml: ok"), "{report}");
    // Right after a release the kit's `## [Unreleased]` is empty: then nothing is listed.
    if unreleased_is_empty() {
        assert!(
            report.contains("nothing listed after your version"),
            "{report}"
        );
    } else {
        assert!(
            report.contains("next kit release changes") && report.contains("Unreleased"),
            "{report}"
        );
    }
    std::fs::write(
        dir.join("config/staging.toml"),
        "[grpc]\nlisten = \"not an address\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_cargo-boost"))
        .args(["boost", "check", "--dir", dir.to_str().unwrap()])
        .env("CARGO_TARGET_DIR", &target_dir)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a bad staging.toml fails the check:\n{report}"
    );
    assert!(report.contains("config/staging.toml: INVALID"), "{report}");
    std::fs::remove_file(dir.join("config/staging.toml")).unwrap();

    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let mut child = Command::new(target.join("debug/order-service"))
        .current_dir(&dir)
        .env_remove("APP_ENV")
        .env("ORDER_SERVICE__GRPC__LISTEN", "127.0.0.1:0")
        .env("ORDER_SERVICE__ADMIN__LISTEN", "127.0.0.1:0")
        .env("ORDER_SERVICE__TRACING__FORMAT", "json")
        .env("ORDER_SERVICE__LIFECYCLE__DRAIN_DELAY", "0s")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut grpc, mut admin) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(60);
    while (grpc.is_none() || admin.is_none()) && Instant::now() < deadline {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(1)) else {
            continue;
        };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if !json["message"]
            .as_str()
            .unwrap_or_default()
            .contains("listening")
        {
            continue;
        }
        let addr = |key: &str| {
            json[key]
                .as_str()
                .and_then(|s| s.parse::<SocketAddr>().ok())
        };
        grpc = grpc.or_else(|| addr("grpc"));
        admin = admin.or_else(|| addr("admin"));
    }
    let result = std::panic::catch_unwind(|| {
        let (grpc, admin) = (
            grpc.expect("grpc address logged"),
            admin.expect("admin address logged"),
        );
        let ready = http_get(admin, "/health/ready");
        assert!(ready.starts_with("HTTP/1.1 200"), "{ready}");
        let runtime = tokio::runtime::Runtime::new().unwrap();
        for method in ["GetOrder", "CancelOrder"] {
            let path = format!("/shop.orders.v1.Orders/{method}");
            let code = runtime.block_on(call(grpc, &path));
            assert_eq!(code, tonic::Code::Unimplemented, "{path}");
        }
        let metrics = http_get(admin, "/metrics");
        assert!(
            metrics.contains("rpc_server_call_duration_seconds"),
            "{metrics}"
        );
        assert!(
            metrics.contains("rpc_method=\"shop.orders.v1.Orders/GetOrder\""),
            "{metrics}"
        );
        assert!(metrics.contains("UNIMPLEMENTED"), "{metrics}");
    });
    let _ = child.kill();
    let _ = child.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

/// `(name, version)` of every package in a Cargo.lock.
fn locked(lock: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = lock.lines().collect();
    lines
        .windows(2)
        .filter_map(|pair| {
            let name = pair[0].strip_prefix("name = \"")?.strip_suffix('"')?;
            let version = pair[1].strip_prefix("version = \"")?.strip_suffix('"')?;
            Some((name.to_owned(), version.to_owned()))
        })
        .collect()
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    text
}

/// One unary call with an empty message (every proto3 message decodes from it).
async fn call(addr: SocketAddr, path: &str) -> tonic::Code {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::try_from(path.to_owned()).unwrap();
    let reply = grpc
        .unary::<bytes::Bytes, bytes::Bytes, _>(
            tonic::Request::new(bytes::Bytes::new()),
            path,
            BytesCodec,
        )
        .await;
    match reply {
        Ok(_) => tonic::Code::Ok,
        Err(status) => status.code(),
    }
}

/// Raw bytes in and out: calls any rpc without its generated types.
#[derive(Debug, Clone, Copy, Default)]
struct BytesCodec;

impl tonic::codec::Codec for BytesCodec {
    type Encode = bytes::Bytes;
    type Decode = bytes::Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;
    fn encoder(&mut self) -> Self::Encoder {
        BytesCodec
    }
    fn decoder(&mut self) -> Self::Decoder {
        BytesCodec
    }
}

impl tonic::codec::Encoder for BytesCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn encode(
        &mut self,
        item: bytes::Bytes,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put(dst, item);
        Ok(())
    }
}

impl tonic::codec::Decoder for BytesCodec {
    type Item = bytes::Bytes;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<bytes::Bytes>, tonic::Status> {
        let len = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, len)))
    }
}

/// Whether the kit's CHANGELOG has nothing under `## [Unreleased]`.
fn unreleased_is_empty() -> bool {
    let changelog =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../CHANGELOG.md"))
            .unwrap();
    let (_, after) = changelog.split_once("## [Unreleased]").unwrap();
    let section = after.split("\n## [").next().unwrap_or("");
    section.trim().is_empty()
}
