//! `/info`: who this service is, how it was built, and since when it runs.

use std::time::{Instant, SystemTime};

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AdminState;

/// Build facts shown by `/info`.
pub(crate) struct BuildInfo {
    /// The commit the binary was built from, when known.
    pub(crate) git_commit: Option<String>,
    /// When the service started.
    pub(crate) started_at: SystemTime,
    started: Instant,
}

impl BuildInfo {
    pub(crate) fn new(git_commit: Option<String>) -> Self {
        Self {
            git_commit: git_commit.or_else(|| option_env!("GIT_COMMIT").map(str::to_owned)),
            started_at: SystemTime::now(),
            started: Instant::now(),
        }
    }
}

#[derive(Serialize)]
struct Info<'a> {
    service: &'a boost_config::ServiceIdentity,
    build: Build<'a>,
    started_at: String,
    uptime_seconds: f64,
}

#[derive(Serialize)]
struct Build<'a> {
    version: &'a str,
    git_commit: Option<&'a str>,
    rustc: &'static str,
    boost_service: &'static str,
}

pub(super) async fn info(State(state): State<AdminState>) -> Response {
    let build = &state.build;
    let info = Info {
        service: &state.identity,
        build: Build {
            version: &state.identity.version,
            git_commit: build.git_commit.as_deref(),
            rustc: env!("BOOST_SERVICE_RUSTC_VERSION"),
            boost_service: env!("CARGO_PKG_VERSION"),
        },
        started_at: humantime::format_rfc3339_millis(build.started_at).to_string(),
        uptime_seconds: (build.started.elapsed().as_secs_f64() * 1e3).round() / 1e3,
    };
    Json(info).into_response()
}
