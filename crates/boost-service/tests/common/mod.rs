//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::Duration;

use boost_config::ServiceIdentity;
use boost_service::{AdminSettings, LifecycleSettings, ServiceBuilder};

/// A service on 127.0.0.1:0 with no telemetry globals, no signal handling and
/// short (but generous for a loaded machine) shutdown timings.
pub fn builder(name: &str) -> ServiceBuilder {
    ServiceBuilder::new(identity(name))
        .without_telemetry()
        .handle_signals(false)
        .admin(any_port())
        .lifecycle(
            LifecycleSettings::default()
                .with_drain_delay(Duration::from_millis(50))
                .with_shutdown_timeout(Duration::from_secs(10)),
        )
}

pub fn identity(name: &str) -> ServiceIdentity {
    let mut id = ServiceIdentity::new(name, "1.2.3");
    id.team = "payments".to_owned();
    id.runbook_url = "https://runbooks.example/demo".to_owned();
    id.tier = "tier-1".to_owned();
    id.environment = "test".to_owned();
    id
}

pub fn any_port() -> AdminSettings {
    AdminSettings::new(SocketAddr::from(([127, 0, 0, 1], 0)))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("http://{addr}{path}")
}

pub async fn get(addr: SocketAddr, path: &str) -> reqwest::Response {
    client().get(url(addr, path)).send().await.unwrap()
}
