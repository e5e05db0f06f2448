//! The admin HTTP server: one router, one small file per endpoint family.

mod audit;
mod auth;
mod body;
mod flags;
mod flags_body;
mod health;
mod info;
mod loglevel;
mod migrations;
mod problem;
mod refusals;
mod runbook;
mod serve;
pub(crate) mod tls;
mod upstreams;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use boost_config::{MASK, Secret, ServiceIdentity};
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::lifecycle::Lifecycle;
use crate::telemetry::{LogLevelControl, RenderConfig, RenderMetrics};

pub(crate) use info::BuildInfo;
pub(crate) use refusals::RefusalLimiter;
pub(crate) use serve::serve;

const TEXT: &str = "text/plain; charset=utf-8";

/// Admin requests handled at once; more wait their turn (within `admin.request_timeout`).
/// Probes and scrapes come a few per second: a flood must not take memory or CPU
/// from the service itself. Health probes are not counted: they never wait
/// behind other admin requests.
const MAX_CONCURRENT_REQUESTS: usize = 32;

/// Everything the endpoints read.
pub(crate) struct AdminContext {
    pub(crate) identity: ServiceIdentity,
    /// The prefix of the service's environment variables, for hints.
    pub(crate) env_prefix: String,
    pub(crate) build: BuildInfo,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) metrics: Option<RenderMetrics>,
    pub(crate) log_level: Option<Arc<dyn LogLevelControl>>,
    pub(crate) config: Option<RenderConfig>,
    pub(crate) token: Option<Secret<String>>,
    pub(crate) switches: boost_switches::Switches,
    pub(crate) audit: boost_audit::AuditLog,
    /// The Markdown of `GET /runbook`, rendered at start.
    pub(crate) runbook: String,
    /// The kit clients `GET /upstreams` lists.
    pub(crate) upstreams: &'static boost_rpc::upstreams::Upstreams,
    /// How many refused requests become audit records.
    pub(crate) refusals: refusals::RefusalLimiter,
    /// The database and `database.migrations` that `GET /migrations` reports on.
    pub(crate) migrations: Option<(boost_db::Database, std::path::PathBuf)>,
}

pub(crate) type AdminState = Arc<AdminContext>;

/// The admin router: `/metrics`, `/health/live`, `/health/ready`, `/info`,
/// `/config`, `GET`/`PUT /loglevel`, `GET /flags`, `PUT /flags/{name}`,
/// `GET /audit`, `GET /runbook`, `GET /upstreams`, `GET /migrations`.
///
/// Bodies are read first (within `body_timeout`), outside the
/// [`MAX_CONCURRENT_REQUESTS`] handler slots; `/health/*` takes no slot at
/// all, so probes never queue behind other admin requests.
pub(crate) fn router(
    context: AdminContext,
    request_timeout: Duration,
    body_timeout: Duration,
) -> Router {
    let limited = Router::new()
        .route("/metrics", get(metrics))
        .route("/info", get(info::info))
        .route("/config", get(config))
        .route("/loglevel", get(loglevel::get).put(loglevel::put))
        .route("/flags", get(flags::list))
        .route("/flags/{name}", axum::routing::put(flags::put))
        .route("/audit", get(audit::recent))
        .route("/runbook", get(runbook::runbook))
        .route("/upstreams", get(upstreams::list))
        .route("/migrations", get(migrations::status))
        .fallback(not_found)
        .layer(GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT_REQUESTS));
    Router::new()
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .merge(limited)
        .layer(DefaultBodyLimit::max(body::MAX_BODY))
        .layer(middleware::from_fn_with_state(
            body_timeout,
            body::read_body,
        ))
        .layer(middleware::from_fn_with_state(request_timeout, time_limit))
        .with_state(Arc::new(context))
}

/// Answers `503` when a request takes longer than `admin.request_timeout` (waiting
/// for its turn included), instead of holding the connection open.
async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(path = %path, "admin request took over {limit:?} (admin.request_timeout); answered 503");
            text(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("{path} did not answer within {limit:?} (admin.request_timeout)\n"),
            )
        }
    }
}

/// The scrape, in OpenMetrics (with exemplars) when the `Accept` header asks
/// for it as Prometheus does, in Prometheus text 0.0.4 otherwise.
async fn metrics(State(state): State<AdminState>, request_headers: header::HeaderMap) -> Response {
    match &state.metrics {
        Some(render) => {
            let accept = request_headers
                .get(header::ACCEPT)
                .and_then(|value| value.to_str().ok());
            let (format, body) = render(boost_metrics::ScrapeFormat::negotiate(accept));
            (
                [
                    (header::CONTENT_TYPE, format.content_type()),
                    (header::VARY, "Accept"),
                ],
                body,
            )
                .into_response()
        }
        None => text(
            StatusCode::NOT_IMPLEMENTED,
            "metrics are off: this service was built without metrics \
             (ServiceBuilder::without_telemetry)\n",
        ),
    }
}

/// Unknown paths get the list of endpoints.
async fn not_found() -> Response {
    text(
        StatusCode::NOT_FOUND,
        "not an admin endpoint; try GET /metrics, /health/live, /health/ready, /info, /config, \
         /loglevel, /flags, /audit, /runbook, /upstreams, or PUT /loglevel, /flags/{name}\n",
    )
}

async fn config(State(state): State<AdminState>) -> Response {
    let Some(render) = &state.config else {
        return text(
            StatusCode::OK,
            "# no configuration explanation was given to this service \
             (ServiceBuilder::config_explain(loaded.explain()))\n",
        );
    };
    let mut body = render();
    // boost-config masks secrets already; the admin token is masked again here
    // in case the explanation came from somewhere else.
    if let Some(token) = &state.token
        && !token.expose().is_empty()
    {
        body = body.replace(token.expose().as_str(), MASK);
    }
    text(StatusCode::OK, body)
}

pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, TEXT)], body.into()).into_response()
}
