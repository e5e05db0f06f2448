//! An HTTP tape served as a real HTTP server: the recorded partner for tests
//! in other languages, or other services, with no sandbox running.
//!
//! Every request is answered as a replaying [`HttpClient`](crate::client::HttpClient)
//! would answer it (same matching, faults and recorded latency); a request
//! the tape has no answer for gets `501 Not Implemented`, a problem+json
//! body whose `detail` names the closest recorded request and the differing
//! field.
//!
//! ```no_run
//! use boost_http::client::HttpTapeSettings;
//! use boost_http::virtual_upstream::HttpVirtualUpstream;
//! use boost_rpc::client::TapeMode;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let tape = HttpTapeSettings::new(TapeMode::Replay, "tests/tapes/quotes.json");
//! let upstream = HttpVirtualUpstream::open(&tape)?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
//! upstream.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! `cargo boost virtualize TAPE --listen ADDR` serves an HTTP tape with it.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt as _;
use boost_rpc::client::TapeMode;
use http::StatusCode;
use http::header::CONTENT_TYPE;

use crate::PROBLEM_JSON;
use crate::client::tape::{HttpCassette, answer_of};
use crate::client::{HttpClientError, HttpTapeSettings};

/// Longest a replayed delay lasts (a virtual upstream knows no deadline).
const MAX_DELAY: Duration = Duration::from_secs(300);

/// What [`HttpVirtualUpstream::on_call`] is handed for each request.
type OnCall = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// An HTTP tape, ready to be served. See the [module docs](self).
pub struct HttpVirtualUpstream {
    cassette: Arc<HttpCassette>,
    on_call: Option<OnCall>,
}

impl std::fmt::Debug for HttpVirtualUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpVirtualUpstream")
            .field("cassette", &self.cassette)
            .field("on_call", &self.on_call.is_some())
            .finish()
    }
}

impl HttpVirtualUpstream {
    /// Reads the HTTP tape at `tape.path` (its `mode` is ignored: a virtual
    /// upstream only replays; its ignored and redacted fields apply).
    ///
    /// # Errors
    /// [`HttpClientError::Tape`] when the tape is missing, not an HTTP tape,
    /// or over its limits.
    pub fn open(tape: &HttpTapeSettings) -> Result<Self, HttpClientError> {
        let mut settings = tape.clone();
        settings.mode = TapeMode::Replay;
        let cassette = HttpCassette::open("virtual-upstream", &settings, None)?;
        Ok(Self {
            cassette: Arc::new(cassette),
            on_call: None,
        })
    }

    /// Every `METHOD /path` the tape answers, with how many recorded requests.
    pub fn requests(&self) -> Vec<(String, usize)> {
        self.cassette.requests()
    }

    /// Calls `log(request, answer)` once per request served, `request` as
    /// `GET /path?query` (redacted query values masked) and `answer` the
    /// status sent (`200`, `fault 503`) or `no match: …`.
    #[must_use]
    pub fn on_call(mut self, log: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        self.on_call = Some(Arc::new(log));
        self
    }

    /// Serves on `listener` until `shutdown` completes.
    ///
    /// # Errors
    /// The I/O error that stopped the server.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let app = axum::Router::new()
            .fallback(answer)
            .with_state(Arc::new(self));
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

/// Answers any request from the tape.
async fn answer(State(upstream): State<Arc<HttpVirtualUpstream>>, request: Request) -> Response {
    let cassette = &upstream.cassette;
    let log = |request: &str, answer: &str| {
        if let Some(log) = &upstream.on_call {
            log(request, answer);
        }
    };
    let (parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", http::uri::PathAndQuery::as_str);
    let method = parts.method.as_str();
    let bytes = match axum::body::to_bytes(body, cassette.max_body_bytes()).await {
        Ok(bytes) => bytes,
        Err(_) => {
            log(
                &format!("{method} {}", path.split('?').next().unwrap_or("/")),
                "body too large or cut",
            );
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the request body is over the tape's max_body_size, or was cut off",
            );
        }
    };
    let (url, body) = match cassette.key(path, &parts.headers, &bytes) {
        Ok(key) => key,
        Err(why) => return problem(StatusCode::PAYLOAD_TOO_LARGE, &why),
    };
    let called = format!("{method} {url}");
    match cassette.lookup(method, &url, body.as_ref()) {
        Ok((entry, elapsed)) => {
            let fault = entry.fault.clone().unwrap_or_default();
            let delay = fault
                .delay
                .or_else(|| cassette.replay_latency().then_some(elapsed))
                .unwrap_or_default()
                .min(MAX_DELAY);
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            match answer_of(&entry, &fault) {
                Ok((status, headers, body)) => {
                    let what = if fault.status.is_some() {
                        format!("fault {}", status.as_u16())
                    } else {
                        status.as_u16().to_string()
                    };
                    log(&called, &what);
                    (status, headers, body).into_response()
                }
                Err(why) => {
                    log(&called, &why);
                    problem(StatusCode::INTERNAL_SERVER_ERROR, &why)
                }
            }
        }
        Err(miss) => {
            let why = miss.to_string();
            log(&called, &format!("no match: {why}"));
            problem(StatusCode::NOT_IMPLEMENTED, &why)
        }
    }
}

/// A problem+json answer of the virtual upstream itself.
fn problem(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": "not answered from the tape",
        "status": status.as_u16(),
        "detail": detail,
    });
    (status, [(CONTENT_TYPE, PROBLEM_JSON)], body.to_string()).into_response()
}
