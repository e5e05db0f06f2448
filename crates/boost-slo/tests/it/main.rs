//! boost-slo's integration tests, one binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dashboard;
mod promtool;
mod rules;
mod settings;

use boost_config::ServiceIdentity;

/// hello-service as its config names it.
pub(crate) fn identity() -> ServiceIdentity {
    let mut identity = ServiceIdentity::new("hello-service", "1.2.3");
    identity.team = "greetings".into();
    identity
}
