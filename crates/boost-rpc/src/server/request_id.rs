//! Request ids: take the caller's `x-request-id`, or make one, and echo it.
//!
//! [`RequestIdLayer`] makes sure every request carries an `x-request-id`
//! header: a caller's id is kept (when it is printable ASCII of at most 128
//! bytes), otherwise a fresh random 32-hex-digit id is set. The id is also put
//! in the request's extensions as a [`RequestId`], so a tonic handler reads it
//! with `request.extensions().get::<RequestId>()` (or from the metadata), and
//! it is echoed in the response headers so the caller can quote it in a bug
//! report. The server span records it as `request_id`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

/// The metadata key (HTTP header) carrying the request id.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

const MAX_LEN: usize = 128;

/// The id of the request being served, found in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A fresh random id: 32 lower-case hex digits.
    pub fn generate() -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = rand::random::<u128>();
        let mut hex = [0u8; 32];
        for (i, digit) in hex.iter_mut().enumerate() {
            *digit = HEX[((n >> (124 - 4 * i)) & 0xf) as usize];
        }
        // 32 hex digits always make a valid header value.
        RequestId(HeaderValue::from_bytes(&hex).unwrap_or(HeaderValue::from_static("unknown")))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ids that are valid ASCII are ever built.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// Keeps a caller's id if it is printable ASCII of a sane length.
    fn accept(value: &HeaderValue) -> Option<Self> {
        let ok = !value.is_empty()
            && value.len() <= MAX_LEN
            && value.as_bytes().iter().all(|b| b.is_ascii_graphic());
        ok.then(|| RequestId(value.clone()))
    }
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Layer that applies [`RequestIdService`]. Cheap to clone.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIdLayer;

impl RequestIdLayer {
    /// The layer.
    pub const fn new() -> Self {
        RequestIdLayer
    }
}

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestIdService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestIdService::new(inner)
    }
}

/// Ensures each request has an `x-request-id` and echoes it in the response.
#[derive(Clone, Debug)]
pub struct RequestIdService<S> {
    inner: S,
}

impl<S> RequestIdService<S> {
    /// Wraps `inner`.
    pub const fn new(inner: S) -> Self {
        RequestIdService { inner }
    }
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }
    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for RequestIdService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = RequestIdFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let id = match req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(RequestId::accept)
        {
            Some(id) => id,
            None => {
                let id = RequestId::generate();
                req.headers_mut()
                    .insert(REQUEST_ID_HEADER, id.header_value().clone());
                id
            }
        };
        let echo = id.header_value().clone();
        req.extensions_mut().insert(id);
        RequestIdFuture {
            inner: self.inner.call(req),
            echo: Some(echo),
        }
    }
}

pin_project! {
    /// Response future of [`RequestIdService`]: adds `x-request-id` to the response.
    pub struct RequestIdFuture<F> {
        #[pin]
        inner: F,
        echo: Option<HeaderValue>,
    }
}

impl<F, ResBody, E> Future for RequestIdFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut res = std::task::ready!(this.inner.poll(cx))?;
        if let Some(echo) = this.echo.take() {
            res.headers_mut().entry(REQUEST_ID_HEADER).or_insert(echo);
        }
        Poll::Ready(Ok(res))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_32_hex_digits_and_differ() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn callers_id_is_kept_unless_unprintable_or_huge() {
        let ok = HeaderValue::from_static("abc-123");
        assert_eq!(RequestId::accept(&ok).unwrap().as_str(), "abc-123");
        assert!(RequestId::accept(&HeaderValue::from_static("has space")).is_none());
        let long = HeaderValue::from_str(&"a".repeat(129)).unwrap();
        assert!(RequestId::accept(&long).is_none());
    }
}
