//! A real gRPC client in another language: Python's grpcio (with grpcio-tools
//! compiling `hello.proto`, grpcio-health-checking and grpcio-reflection)
//! calls the real hello-service.
//!
//! Needs `python3` (or `$PYTHON`) with `pip install grpcio grpcio-tools
//! grpcio-health-checking grpcio-reflection` (`.ci/install-test-programs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{start_pair, workspace_root};

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned())
}

#[test]
#[ignore = "needs python grpcio"]
fn python_grpcio_client_greets_checks_health_and_lists_services() {
    let check = Command::new(python())
        .args([
            "-c",
            "import grpc, grpc_tools, grpc_health, grpc_reflection",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; install python3", python()));
    assert!(
        check.status.success(),
        "python grpcio missing: pip install grpcio grpcio-tools grpcio-health-checking grpcio-reflection\n{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let (_profiles, hello) = start_pair(|l| l);
    let work = tempfile::tempdir().unwrap();
    let root = workspace_root();
    let out = Command::new(python())
        .arg(root.join("tests/data/python_client.py"))
        .arg(root.join("examples/hello-service/proto"))
        .arg(work.path())
        .arg(hello.grpc.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python client failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        hello.dump()
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["known"], "Bonjour, bob!");
    assert_eq!(seen["unknown"], "Hello, zoe!");
    assert_eq!(seen["empty"], "INVALID_ARGUMENT");
    assert_eq!(seen["health"][""], "SERVING");
    assert_eq!(seen["health"]["hello.v1.Greeter"], "SERVING");
    let services: Vec<&str> = seen["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert!(services.contains(&"hello.v1.Greeter"), "{services:?}");
    assert!(services.contains(&"grpc.health.v1.Health"), "{services:?}");
    assert!(
        !services.contains(&"hello.v1.Profiles"),
        "hello-service only calls Profiles: {services:?}"
    );
    assert_eq!(
        seen["services_v1alpha"], seen["services"],
        "grpc.reflection.v1alpha (grpcio's client) lists the same services as v1"
    );
}
