//! One logical request: attempts over the base URLs, retries within the
//! budget and the deadline, the client span and the metrics.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use boost_metrics::conventions::{CLIENT, HTTP_CLIENT_RETRIES_TOTAL, OUTCOME};
use boost_tracing::OpenTelemetrySpanExt;
use bytes::Bytes;
use http::uri::PathAndQuery;
use http::{HeaderMap, HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tracing::{Instrument, Span};

use super::endpoints::Base;
use super::observe::{client_span, failed};
use super::retry::{backoff, is_idempotent, retry_after, retryable_status};
use super::{HttpClientError, HttpResponse, Inner};
use crate::server::labels::method_label;

/// The request id header sent on every attempt.
const REQUEST_ID: http::HeaderName = http::HeaderName::from_static("x-request-id");

/// A request ready to send.
pub(crate) struct Prepared {
    pub(crate) method: Method,
    /// The path and query, checked when the request was built.
    pub(crate) path: PathAndQuery,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) idempotent: Option<bool>,
    pub(crate) timeout: Option<Duration>,
}

/// How one attempt ended, before it is turned into the request's result.
enum Attempt {
    Answered(HttpResponse),
    Timeout,
    Connect(hyper_util::client::legacy::Error),
    Transport(Box<dyn std::error::Error + Send + Sync>),
    BodyTooLarge,
}

pub(crate) async fn send(inner: &Inner, req: Prepared) -> Result<HttpResponse, HttpClientError> {
    let method = method_label(&req.method);
    let span = client_span(&inner.name, method);
    let start = Instant::now();
    let mut last = None;
    #[cfg(feature = "tape")]
    let result = match &inner.tape {
        None => {
            attempts(inner, &req, start, &mut last, &span)
                .instrument(span.clone())
                .await
        }
        Some(tape) => {
            tape.call(inner, &req, start, &mut last, &span)
                .instrument(span.clone())
                .await
        }
    };
    #[cfg(not(feature = "tape"))]
    let result = attempts(inner, &req, start, &mut last, &span)
        .instrument(span.clone())
        .await;
    let seconds = start.elapsed().as_secs_f64();
    // The base URL the last attempt went to (none if the deadline had
    // passed before the first).
    let base = last.and_then(|index| Some((index, inner.endpoints.base_at(index)?)));
    match &result {
        Ok(response) => {
            span.record(
                "http.response.status_code",
                i64::from(response.status.as_u16()),
            );
            if response.status.is_server_error() {
                span.record("otel.status_code", "ERROR");
            }
            inner
                .handles
                .answered(&inner.name, method, base, response.status, seconds);
        }
        Err(error) => {
            span.record("otel.status_code", "ERROR");
            let base = base.map(|(_, base)| base);
            failed(&inner.name, method, base, error.error_type(), seconds);
        }
    }
    result
}

/// The longest wait a deadline is computed for (100 years): larger
/// timeouts mean "no deadline" in practice and would overflow `Instant`.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

pub(crate) async fn attempts(
    inner: &Inner,
    req: &Prepared,
    start: Instant,
    last: &mut Option<usize>,
    span: &Span,
) -> Result<HttpResponse, HttpClientError> {
    let settings = &inner.settings;
    let mut timeout = settings.timeout;
    if let Some(shorter) = req.timeout {
        timeout = timeout.min(shorter);
    }
    // A timeout too large to add is "no sooner than the far future", not zero.
    let own_deadline = start.checked_add(timeout.min(FAR_FUTURE)).unwrap_or(start);
    let mut deadline = own_deadline;
    if let Some(served) = boost_rpc::deadline::current() {
        deadline = deadline.min(served);
    }
    // Running out of a caller's shorter deadline says nothing about the base
    // URL's health: only a timeout of the client's own budget counts against it.
    let timeout_is_the_upstreams = deadline >= own_deadline;
    let budget = deadline.saturating_duration_since(start);
    let idempotent = req.idempotent.unwrap_or_else(|| is_idempotent(&req.method));
    inner.budget.deposit();

    let mut sent = 0u32;
    let mut avoid = None;
    loop {
        if Instant::now() >= deadline {
            return Err(HttpClientError::Timeout {
                client: inner.name.clone(),
                budget,
                attempts: sent,
            });
        }
        sent += 1;
        let picked = inner.endpoints.pick(avoid);
        *last = Some(picked.index);
        let base = picked.base();
        if !span.is_none() {
            span.record("server.address", &*base.server_address);
            if sent > 1 {
                span.record("http.request.resend_count", sent - 1);
            }
        }
        let outcome = attempt(inner, req, base, deadline, span).await;
        let (failed, retryable) = match &outcome {
            Attempt::Answered(response) => (
                response.status.is_server_error(),
                idempotent && retryable_status(&settings.retry, response.status),
            ),
            // Nothing reached the upstream: safe to send again, whatever the method.
            Attempt::Connect(_) => (true, true),
            Attempt::Transport(_) => (true, idempotent),
            Attempt::Timeout => (timeout_is_the_upstreams, false),
            Attempt::BodyTooLarge => (false, false),
        };
        inner.endpoints.record(picked.index, failed);
        avoid = Some(picked.index);
        drop(picked);

        let wait = if retryable && sent < settings.retry.max_attempts {
            let asked = match &outcome {
                Attempt::Answered(response) => retry_after(&response.headers, SystemTime::now()),
                _ => None,
            };
            match asked {
                Some(asked) if asked > settings.retry.max_retry_after => None,
                Some(asked) => Some(asked),
                None => Some(backoff(&settings.retry, sent)),
            }
        } else {
            None
        };
        let wait = wait.filter(|wait| {
            Instant::now()
                .checked_add(*wait)
                .is_some_and(|resume| resume < deadline)
        });
        if let Some(wait) = wait {
            if inner.budget.withdraw() {
                metrics::counter!(HTTP_CLIENT_RETRIES_TOTAL,
                    CLIENT => inner.name.clone(), OUTCOME => "sent")
                .increment(1);
                tracing::debug!(client = %inner.name, endpoint = %base.label, attempt = sent,
                    outcome = describe(&outcome), wait = ?wait, "attempt failed; retrying");
                tokio::time::sleep(wait).await;
                continue;
            }
            metrics::counter!(HTTP_CLIENT_RETRIES_TOTAL,
                CLIENT => inner.name.clone(), OUTCOME => "budget_exhausted")
            .increment(1);
            tracing::debug!(client = %inner.name, endpoint = %base.label,
                outcome = describe(&outcome), "retry budget exhausted; not retrying");
        }
        return finish(inner, outcome, base, budget, sent);
    }
}

/// A short description of an attempt's outcome for logs (no headers, no body).
fn describe(outcome: &Attempt) -> String {
    match outcome {
        Attempt::Answered(response) => response.status.as_str().to_owned(),
        Attempt::Timeout => "timeout".into(),
        Attempt::Connect(_) => "connect error".into(),
        Attempt::Transport(_) => "transport error".into(),
        Attempt::BodyTooLarge => "body too large".into(),
    }
}

fn finish(
    inner: &Inner,
    outcome: Attempt,
    base: &Base,
    budget: Duration,
    attempts: u32,
) -> Result<HttpResponse, HttpClientError> {
    let client = || inner.name.clone();
    let endpoint = || base.label.clone();
    match outcome {
        Attempt::Answered(response) => Ok(response),
        Attempt::Timeout => Err(HttpClientError::Timeout {
            client: client(),
            budget,
            attempts,
        }),
        Attempt::Connect(source) => Err(HttpClientError::Connect {
            client: client(),
            endpoint: endpoint(),
            attempts,
            hint: super::error::connect_hint(&source),
            source,
        }),
        Attempt::Transport(source) => Err(HttpClientError::Transport {
            client: client(),
            endpoint: endpoint(),
            attempts,
            source,
        }),
        Attempt::BodyTooLarge => Err(HttpClientError::BodyTooLarge {
            client: client(),
            endpoint: endpoint(),
            limit: inner.settings.max_response_body_bytes(),
        }),
    }
}

/// One attempt on `base`, its body read, within `deadline`.
async fn attempt(
    inner: &Inner,
    req: &Prepared,
    base: &Base,
    deadline: Instant,
    span: &Span,
) -> Attempt {
    let mut request = Request::new(Full::new(req.body.clone()));
    *request.method_mut() = req.method.clone();
    match base.uri(&req.path) {
        Ok(uri) => *request.uri_mut() = uri,
        Err(e) => return Attempt::Transport(Box::new(e)),
    }
    let headers = request.headers_mut();
    headers.clone_from(&req.headers);
    // With the client span filtered out (`none()`), the caller's span is
    // current: its trace goes on, as it did through a disabled span.
    let context = if span.is_none() {
        Span::current().context()
    } else {
        span.context()
    };
    boost_tracing::propagation::inject_headers(&context, headers);
    if let Some(id) = boost_rpc::server::current_request_id()
        && let Ok(value) = HeaderValue::from_str(id.as_str())
    {
        headers.insert(REQUEST_ID, value);
    }
    if let Some(name) = &inner.deadline_header {
        // Whole milliseconds, rounded down so the upstream never believes it
        // has longer than we will wait; at least 1 (0 often means "none").
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis();
        let millis = u64::try_from(left).unwrap_or(u64::MAX).max(1);
        headers.insert(name.clone(), HeaderValue::from(millis));
    }
    let limit = inner.settings.max_response_body_bytes();
    let exchange = async {
        let response = match inner.http.request(request).await {
            Ok(response) => response,
            Err(e) if e.is_connect() => return Attempt::Connect(e),
            Err(e) => return Attempt::Transport(Box::new(e)),
        };
        let (parts, body) = response.into_parts();
        match Limited::new(body, limit).collect().await {
            Ok(collected) => Attempt::Answered(HttpResponse {
                client: Arc::clone(&inner.shared_name),
                status: parts.status,
                headers: parts.headers,
                body: collected.to_bytes(),
            }),
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Attempt::BodyTooLarge,
            Err(e) => Attempt::Transport(e),
        }
    };
    match tokio::time::timeout_at(deadline.into(), exchange).await {
        Ok(outcome) => outcome,
        Err(_elapsed) => Attempt::Timeout,
    }
}
