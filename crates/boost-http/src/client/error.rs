//! [`HttpClientError`]: why a request got no usable answer.

use std::time::Duration;

/// Why an HTTP client request failed. A response with an error status is
/// *not* an error: it comes back as a [`HttpResponse`](super::HttpResponse)
/// (see [`HttpResponse::error_for_status`](super::HttpResponse::error_for_status)).
///
/// Messages name the client and the base URL, never a header, a body or a
/// query string (they may carry secrets).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HttpClientError {
    /// The settings break a rule.
    #[error("HTTP client settings are invalid: {0}")]
    Config(#[source] Box<boost_config::ConfigError>),
    /// TLS could not be set up.
    #[error("HTTP client {client:?}: TLS setup failed: {reason}")]
    Tls {
        /// The client's name.
        client: String,
        /// What failed.
        reason: String,
    },
    /// The request could not be built (a path or header that is not valid HTTP).
    #[error("HTTP client {client:?}: invalid request: {reason}")]
    InvalidRequest {
        /// The client's name.
        client: String,
        /// What is wrong.
        reason: String,
    },
    /// No answer within the request's deadline (`timeout`, or less when the
    /// request being served had less time left).
    #[error(
        "HTTP client {client:?}: no answer within {budget:?} ({attempts} attempt(s)); \
             raise `{client}.timeout` or check the upstream's latency"
    )]
    Timeout {
        /// The client's name.
        client: String,
        /// The deadline the request had.
        budget: Duration,
        /// Attempts sent.
        attempts: u32,
    },
    /// No connection could be opened to the last base URL tried (TCP, or
    /// the TLS handshake: the source then says why, e.g. `invalid peer
    /// certificate: UnknownIssuer`).
    #[error("HTTP client {client:?}: cannot connect to {endpoint} ({attempts} attempt(s)); {hint}")]
    Connect {
        /// The client's name.
        client: String,
        /// The base URL (never with credentials).
        endpoint: String,
        /// Attempts sent.
        attempts: u32,
        /// What to check: the upstream being up, or (when the TLS
        /// handshake failed) the client's `tls` settings.
        hint: &'static str,
        /// The transport error.
        #[source]
        source: hyper_util::client::legacy::Error,
    },
    /// The connection failed while the request or its answer was on the wire.
    #[error(
        "HTTP client {client:?}: transport error talking to {endpoint} ({attempts} attempt(s))"
    )]
    Transport {
        /// The client's name.
        client: String,
        /// The base URL.
        endpoint: String,
        /// Attempts sent.
        attempts: u32,
        /// The transport error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The response body was larger than `max_response_body`.
    #[error(
        "HTTP client {client:?}: response body from {endpoint} is larger than {limit} bytes; \
             raise `{client}.max_response_body` if that is expected"
    )]
    BodyTooLarge {
        /// The client's name.
        client: String,
        /// The base URL.
        endpoint: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// [`HttpResponse::error_for_status`](super::HttpResponse::error_for_status)
    /// on an error status.
    #[error("HTTP client {client:?}: upstream answered {status}")]
    Status {
        /// The client's name.
        client: String,
        /// The status.
        status: http::StatusCode,
    },
    /// The client's tape cannot be used (`[<client>.tape]`), or has no
    /// answer for a request in `replay`: the reason names the tape file,
    /// the key, or the closest recorded request and the differing fields.
    #[error("HTTP client {client:?}: {reason}")]
    Tape {
        /// The client's name.
        client: String,
        /// What is wrong and what to do.
        reason: String,
    },
    /// The body was not the JSON expected.
    #[error(
        "HTTP client {client:?}: response body is not the JSON expected ({category} error at line {line}, column {column})"
    )]
    Json {
        /// The client's name.
        client: String,
        /// What kind of problem: `syntax`, `data` (the JSON is not of the
        /// type asked for), `eof` or `io`. serde_json's own message is not
        /// kept: it quotes values from the body, which may be secrets.
        category: &'static str,
        /// The line of the body where decoding stopped (1-based).
        line: usize,
        /// The column of the body where decoding stopped (1-based).
        column: usize,
    },
}

impl HttpClientError {
    /// The `error_type` label of a request that ended with this error.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            HttpClientError::Timeout { .. } => "timeout",
            HttpClientError::Connect { .. } => "connect",
            HttpClientError::BodyTooLarge { .. } => "body_too_large",
            HttpClientError::Transport { .. } => "transport",
            HttpClientError::Tape { .. } => "tape",
            _ => "other",
        }
    }

    /// Whether the upstream (or the network to it) is to blame: worth a
    /// fallback or a degraded answer rather than a `500`.
    pub fn is_upstream_failure(&self) -> bool {
        matches!(
            self,
            HttpClientError::Timeout { .. }
                | HttpClientError::Connect { .. }
                | HttpClientError::Transport { .. }
                | HttpClientError::BodyTooLarge { .. }
        ) || matches!(self, HttpClientError::Status { status, .. } if status.is_server_error())
    }
}

/// The hint of a connect failure: a refused TLS handshake points at the
/// client's `tls` settings, anything else at the upstream.
pub(crate) fn connect_hint(error: &(dyn std::error::Error + 'static)) -> &'static str {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if is_tls(error) {
            return "the TLS handshake failed: check `tls.ca_file` (the CA that signs the \
                    upstream's certificate) and `tls.server_name` (a name it carries)";
        }
        cause = error.source();
    }
    "is the upstream up?"
}

/// Whether `error` is a rustls error, or an `io::Error` wrapping one (the
/// connector wraps tokio-rustls' `io::Error` in another, and
/// `io::Error::source` skips the wrapped error itself).
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    if error.is::<rustls::Error>() {
        return true;
    }
    match error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
    {
        Some(inner) => is_tls(inner),
        None => false,
    }
}
