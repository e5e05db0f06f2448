//! A resilient client for the HTTP APIs a service calls.
//!
//! ```no_run
//! use boost_http::client::{HttpClient, HttpClientSettings};
//!
//! #[derive(serde::Deserialize)]
//! struct Quote { price_cents: u64 }
//!
//! # async fn demo() -> Result<(), boost_http::client::HttpClientError> {
//! let settings = HttpClientSettings::with_base_urls(["https://cars.partner.example/v2"]);
//! let cars = HttpClient::new("cars", &settings)?;
//! let quote: Quote = cars
//!     .get("/quotes?city=LIS")
//!     .send()
//!     .await?
//!     .error_for_status()?
//!     .json()?;
//! # let _ = quote.price_cents;
//! # Ok(()) }
//! ```
//!
//! Each request then has:
//!
//! - **one total deadline**: `timeout` (2 s) for all attempts, backoff and
//!   reading the body together, shortened by the deadline of the request
//!   being served (gRPC or HTTP), so a slow partner cannot hold a caller
//!   longer than the caller waits; with `deadline_header` set, the time left
//!   is sent on with every attempt (whole milliseconds), so the next hop can
//!   stop when we stop waiting;
//! - **retries** of `429`/`502`/`503`/`504` and transport failures for
//!   idempotent methods (`GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`, `DELETE`)
//!   or requests marked [`idempotent`](RequestBuilder::idempotent) (a `POST`
//!   with an idempotency key), and of connections that could not be opened
//!   for any method (nothing was sent); full-jitter backoff; `Retry-After`
//!   honoured when it fits in the deadline; all within the same **retry
//!   budget** as boost-rpc's (about 20% extra requests when the upstream is
//!   down, not 3×);
//! - **balancing** over the base URLs, with **ejection** of one that keeps
//!   failing (see [`HttpEjectionSettings`]), over **pooled connections per
//!   host** (hyper-util's pool), `TCP_NODELAY`, and HTTPS through rustls
//!   with the kit's `tls` shape (`[cars.tls]`: a CA bundle or the system's
//!   roots, a client certificate for mTLS, a server name for IP base URLs,
//!   files re-read when they rotate);
//! - **`traceparent`** (a client span, child of the current one) and the
//!   served request's **`x-request-id`** sent on every attempt;
//! - **`http_client_request_duration_seconds`** per logical request with
//!   `client`, `http_request_method` and `http_response_status_code` (or
//!   `error_type` when no answer came), and `http_client_retries_total`
//!   (the duration's handles are kept per base URL, method and common
//!   status, taken from the metrics recorder in place at the first such
//!   request: `boost_service::Service::new` installs it before a service can
//!   build a client);
//! - a **bounded response body** (`max_response_body`, 4 MiB);
//! - for tests, **record and replay** (`[cars.tape]`, [`HttpTapeSettings`],
//!   feature `tape`): requests answered from a tape file with no network,
//!   or sent and written to it; off by default, at the cost of one branch.
//!
//! Every client is listed in boost-rpc's
//! [`Upstreams`] while it lives, so the
//! admin server's `/upstreams` shows its base URLs' ejection state and its
//! retry budget's balance.
//!
//! Header values and bodies are never logged nor put in errors; headers
//! that carry credentials (`authorization`, `cookie`, `x-api-key`, …) are also
//! marked sensitive for HTTP/2 compression.

mod endpoints;
mod error;
mod observe;
mod retry;
mod send;
mod settings;
pub(crate) mod tape;
mod tls;

use std::sync::Arc;
use std::time::Duration;

use boost_config::Secret;
use boost_rpc::client::retry::RetryBudget;
use boost_rpc::upstreams::{Upstream, UpstreamKind, UpstreamStatus, Upstreams};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderName};
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

pub use self::error::HttpClientError;
pub use self::settings::{HttpClientSettings, HttpEjectionSettings, HttpRetrySettings};
pub use self::tape::HttpTapeSettings;

use self::endpoints::{Base, Endpoints};

/// Longest request path (with query) accepted.
const MAX_PATH: usize = 8192;

/// A client of one HTTP upstream. Cheap to clone; clones share connections,
/// the retry budget and the base URLs' health. See the [module docs](self).
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    name: String,
    /// The name again, shared by the responses (no allocation per request).
    shared_name: Arc<str>,
    handles: observe::Handles,
    settings: HttpClientSettings,
    http: Client<tls::Connector, Full<Bytes>>,
    endpoints: Endpoints,
    budget: RetryBudget,
    /// `settings.deadline_header`, parsed once.
    deadline_header: Option<http::HeaderName>,
    /// Keeps the TLS files current while the client lives.
    _tls_watch: Option<tls::WatchTask>,
    /// The tape, unless `tape.mode` is `off`.
    #[cfg(feature = "tape")]
    tape: Option<tape::HttpCassette>,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("name", &self.inner.name)
            .field("base_urls", &self.inner.settings.base_urls)
            .finish_non_exhaustive()
    }
}

impl UpstreamStatus for Inner {
    fn status(&self) -> Upstream {
        let mut upstream = Upstream::new(
            UpstreamKind::Http,
            &self.name,
            self.settings.base_urls.join(","),
        );
        upstream.endpoints = self.endpoints.status();
        upstream.retry_budget = Some(self.budget.balance());
        upstream
    }
}

impl HttpClient {
    /// A client named `name` (the `client` label and the name in logs, e.g.
    /// `cars`) from its settings.
    ///
    /// # Errors
    /// [`HttpClientError::Config`] listing every rule the settings break (as
    /// when the configuration loads), [`HttpClientError::Tls`] if TLS cannot
    /// be set up: a `tls` file that is missing or wrong (the message names
    /// the key, such as `cars.tls.ca_file`, and the file), no system roots
    /// for `https://` without `tls.ca_file`, or files to watch outside a
    /// Tokio runtime.
    pub fn new(name: &str, settings: &HttpClientSettings) -> Result<Self, HttpClientError> {
        boost_config::Problems::of(name, settings)
            .into_result(format!("the HTTP client {name:?}"))
            .map_err(|e| HttpClientError::Config(Box::new(e)))?;
        let bases = settings
            .base_urls
            .iter()
            .filter_map(|url| Base::parse(url).ok())
            .collect::<Vec<_>>();
        let https = bases.iter().any(|b| b.scheme == http::uri::Scheme::HTTPS);
        let (connector, tls_watch) =
            tls::connector(name, settings.connect_timeout, &settings.tls, https)?;
        let http = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(settings.pool_idle_timeout)
            .pool_max_idle_per_host(settings.pool_max_idle_per_host)
            .build(connector);
        let retry = &settings.retry;
        #[cfg(feature = "tape")]
        let tape = match settings.tape.mode {
            boost_rpc::client::TapeMode::Off => None,
            _ => Some(tape::HttpCassette::open(
                name,
                &settings.tape,
                settings.deadline_header.as_deref(),
            )?),
        };
        #[cfg(not(feature = "tape"))]
        if settings.tape.mode != boost_rpc::client::TapeMode::Off {
            return Err(HttpClientError::Tape {
                client: name.to_owned(),
                reason: format!(
                    "{name}.tape.mode is {:?} but this build has no tapes: enable the `tape` \
                     feature of boost (or boost-http), e.g. in the service's [dev-dependencies]",
                    settings.tape.mode
                ),
            });
        }
        let client = HttpClient {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                shared_name: name.into(),
                handles: observe::Handles::new(bases.len()),
                endpoints: Endpoints::new(name, bases, settings.ejection.clone()),
                budget: RetryBudget::new(
                    retry.budget_ttl,
                    retry.budget_min_per_sec,
                    retry.budget_ratio,
                ),
                deadline_header: settings
                    .deadline_header
                    .as_deref()
                    .and_then(|name| http::HeaderName::from_bytes(name.as_bytes()).ok()),
                settings: settings.clone(),
                http,
                _tls_watch: tls_watch,
                #[cfg(feature = "tape")]
                tape,
            }),
        };
        Upstreams::global().register(&(client.inner.clone() as Arc<dyn UpstreamStatus>));
        Ok(client)
    }

    /// The client's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// A request with `method` to `path` (with its query), relative to a base
    /// URL: `/quotes?city=LIS` on `https://cars.example/v2` is
    /// `https://cars.example/v2/quotes?city=LIS`.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder<'_> {
        let mut error = None;
        let mut checked = None;
        if !path.starts_with('/') || path.len() > MAX_PATH {
            error = Some(format!(
                "the path must start with '/' and be at most {MAX_PATH} bytes"
            ));
        } else {
            match path.parse::<PathAndQuery>() {
                Ok(parsed) => checked = Some(parsed),
                Err(_) => error = Some("the path is not a valid URL path".to_owned()),
            }
        }
        RequestBuilder {
            client: self,
            method,
            path: checked,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            idempotent: None,
            timeout: None,
            error,
        }
    }

    /// A `GET` request (see [`request`](Self::request)).
    pub fn get(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::GET, path)
    }

    /// A `POST` request: not retried after it may have reached the upstream,
    /// unless marked [`idempotent`](RequestBuilder::idempotent).
    pub fn post(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::POST, path)
    }

    /// A `PUT` request.
    pub fn put(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::PUT, path)
    }

    /// A `DELETE` request.
    pub fn delete(&self, path: &str) -> RequestBuilder<'_> {
        self.request(Method::DELETE, path)
    }
}

/// One request being built; [`send`](Self::send) it.
pub struct RequestBuilder<'a> {
    client: &'a HttpClient,
    method: Method,
    /// `None` when the path is invalid (`error` says why).
    path: Option<PathAndQuery>,
    headers: HeaderMap,
    body: Bytes,
    idempotent: Option<bool>,
    timeout: Option<Duration>,
    error: Option<String>,
}

impl std::fmt::Debug for RequestBuilder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: header values, the query and the body may hold secrets.
        let path = self.path.as_ref().map_or("", PathAndQuery::path);
        f.debug_struct("RequestBuilder")
            .field("client", &self.client.inner.name)
            .field("method", &self.method)
            .field("path", &path)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_bytes", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Whether a header with this name carries credentials.
fn is_secret_header(name: &HeaderName) -> bool {
    is_secret_header_name(name.as_str())
}

/// [`is_secret_header`] of a lower-case name.
fn is_secret_header_name(name: &str) -> bool {
    matches!(
        name,
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || name.contains("token")
        || name.contains("secret")
        || name.contains("api-key")
        || name.contains("apikey")
}

impl RequestBuilder<'_> {
    /// Adds a header. Values of credential headers (`authorization`,
    /// `cookie`, names with `token`, `secret` or `api-key`) are marked
    /// sensitive; no header value is ever logged.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(name), Ok(mut value)) => {
                value.set_sensitive(is_secret_header(&name));
                self.headers.append(name, value);
            }
            _ => {
                self.error
                    .get_or_insert_with(|| format!("header {name:?} is not a valid HTTP header"));
            }
        }
        self
    }

    /// Adds `authorization: Bearer <token>`, marked sensitive.
    #[must_use]
    pub fn bearer_auth(mut self, token: &Secret<String>) -> Self {
        match HeaderValue::from_str(&format!("Bearer {}", token.expose())) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.headers.insert(AUTHORIZATION, value);
            }
            Err(_) => {
                self.error
                    .get_or_insert_with(|| "the bearer token is not a valid header value".into());
            }
        }
        self
    }

    /// The request body (sent again as is on a retry).
    #[must_use]
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// `value` as a JSON body, with `content-type: application/json`.
    #[must_use]
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = Bytes::from(body);
                self.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Err(e) => {
                self.error
                    .get_or_insert_with(|| format!("the body does not serialise as JSON: {e}"));
            }
        }
        self
    }

    /// Marks the request safe to send twice (a `POST` carrying an
    /// idempotency key), so it is retried like a `GET`; or, with `false`,
    /// never retried once it may have reached the upstream.
    #[must_use]
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// A shorter total deadline for this request than the client's `timeout`
    /// (a longer one has no effect).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request: attempts, retries and the body read, within the
    /// deadline.
    ///
    /// # Errors
    /// See [`HttpClientError`]. An error status is an `Ok` response.
    pub async fn send(self) -> Result<HttpResponse, HttpClientError> {
        let inner = &self.client.inner;
        let path = match (self.error, self.path) {
            (None, Some(path)) => path,
            (reason, _) => {
                return Err(HttpClientError::InvalidRequest {
                    client: inner.name.clone(),
                    reason: reason.unwrap_or_else(|| "the path is not a valid URL path".into()),
                });
            }
        };
        send::send(
            inner,
            send::Prepared {
                method: self.method,
                path,
                headers: self.headers,
                body: self.body,
                idempotent: self.idempotent,
                timeout: self.timeout,
            },
        )
        .await
    }
}

/// An upstream's answer, its body read (and bounded).
#[derive(Clone)]
pub struct HttpResponse {
    client: Arc<str>,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl std::fmt::Debug for HttpResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpResponse")
            .field("status", &self.status)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

impl HttpResponse {
    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded from JSON.
    ///
    /// # Errors
    /// [`HttpClientError::Json`] when it is not the JSON of a `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, HttpClientError> {
        serde_json::from_slice(&self.body).map_err(|source| HttpClientError::Json {
            client: self.client.to_string(),
            category: match source.classify() {
                serde_json::error::Category::Io => "io",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "data",
                serde_json::error::Category::Eof => "eof",
            },
            line: source.line(),
            column: source.column(),
        })
    }

    /// `self` when the status is not an error (`4xx`, `5xx`).
    ///
    /// # Errors
    /// [`HttpClientError::Status`] for an error status.
    pub fn error_for_status(self) -> Result<Self, HttpClientError> {
        if self.status.is_client_error() || self.status.is_server_error() {
            return Err(HttpClientError::Status {
                client: self.client.to_string(),
                status: self.status,
            });
        }
        Ok(self)
    }
}
