//! A request answered from the tape: the recorded response, or the
//! entry's fault, after the recorded latency or the fault's delay.

use std::time::{Duration, Instant};

use boost_tape::{HttpEntry, HttpFault};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::HttpCassette;
use crate::client::send::Prepared;
use crate::client::{HttpClientError, HttpResponse, Inner};

/// The recorded (or faulted) answer, after the recorded latency or the
/// fault's delay, within the request's deadline.
pub(super) async fn replay(
    cassette: &HttpCassette,
    inner: &Inner,
    req: &Prepared,
    entry: HttpEntry,
    elapsed: Duration,
) -> Result<HttpResponse, HttpClientError> {
    let fault = entry.fault.clone().unwrap_or_default();
    let delay = fault
        .delay
        .or_else(|| cassette.replay_latency.then_some(elapsed))
        .unwrap_or_default();
    if !delay.is_zero() {
        let mut budget = inner.settings.timeout;
        if let Some(shorter) = req.timeout {
            budget = budget.min(shorter);
        }
        if let Some(served) = boost_rpc::deadline::current() {
            budget = budget.min(served.saturating_duration_since(Instant::now()));
        }
        if delay >= budget {
            tokio::time::sleep(budget).await;
            return Err(HttpClientError::Timeout {
                client: cassette.client.clone(),
                budget,
                attempts: 0,
            });
        }
        tokio::time::sleep(delay).await;
    }
    let (status, headers, body) = answer_of(&entry, &fault).map_err(|why| cassette.failure(why))?;
    Ok(HttpResponse {
        client: cassette.client.as_str().into(),
        status,
        headers,
        body,
    })
}

/// The status, headers and body `entry` answers with: its fault's status
/// (no headers, no body), or the recorded response.
pub(crate) fn answer_of(
    entry: &HttpEntry,
    fault: &HttpFault,
) -> Result<(StatusCode, HeaderMap, Bytes), String> {
    if let Some(status) = fault.status {
        let status = StatusCode::from_u16(status)
            .map_err(|_| format!("fault status {status} is not an HTTP status"))?;
        return Ok((status, HeaderMap::new(), Bytes::new()));
    }
    let recorded = &entry.response;
    let mut headers = HeaderMap::new();
    for (name, value) in &recorded.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    let body = match &recorded.body {
        Some(body) => Bytes::from(body.to_bytes()?),
        None => Bytes::new(),
    };
    let status = StatusCode::from_u16(recorded.status)
        .map_err(|_| format!("status {} is not an HTTP status", recorded.status))?;
    Ok((status, headers, body))
}
