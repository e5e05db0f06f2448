//! Request ids: take the caller's `x-request-id`, or make one and tell the caller.
//!
//! [`SetRequestIdLayer`] makes sure every request carries an `x-request-id`
//! header: a caller's id is kept (when it is printable ASCII of at most 128
//! bytes), otherwise a fresh random 32-hex-digit id is set. The id is also put
//! in the request's extensions as a [`RequestId`], so a tonic handler reads it
//! with `request.extensions().get::<RequestId>()` (or from the metadata). The
//! server span records it as `request_id`.
//!
//! **Echo only what the caller needs.** An id the server *generated* is
//! echoed in the response headers of a plain HTTP call and of a gRPC call
//! that fails with its status in the headers (a trailers-only answer, which is
//! how tonic answers a handler's `Err(Status)` or a refusal by a layer): that
//! is when a caller that sent no id (`curl`, `grpcurl`, a plain tonic client)
//! has something to quote in a bug report. It is not echoed
//!
//! - when the caller sent its own id: the caller already has it (the
//!   boost-rpc client sends one on every call and records it in its span);
//! - on a successful gRPC call: nobody files a report about it, and a unique
//!   per-call header on every response costs HPACK encoding on the server and
//!   decoding plus an allocation on the client — about 3% of a loopback unary
//!   call, the largest single cost of the stack. The server span and logs
//!   still carry the id.

pub mod future;

use std::task::{Context, Poll};

use http::{HeaderName, HeaderValue, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use self::future::ResponseFuture;

tokio::task_local! {
    static CURRENT: RequestId;
}

/// The request id of the inbound call this task is serving (inside a
/// [`SetRequestIdLayer`]), or `None` outside one.
///
/// boost-rpc clients send it on the outbound calls a handler makes, so one id
/// follows a request through every service it touches; handler code can put
/// it in a reply or an audit record.
///
/// ```
/// assert!(boost_rpc::server::current_request_id().is_none(), "not serving a call here");
/// ```
pub fn current_request_id() -> Option<RequestId> {
    CURRENT.try_with(RequestId::clone).ok()
}

/// The metadata key (HTTP header) carrying the request id, for the server
/// layer and the client alike. Pre-parsed: a `&str` key is re-validated on
/// every lookup.
pub(crate) const HEADER: HeaderName = HeaderName::from_static("x-request-id");

const MAX_LEN: usize = 128;

/// The id of the request being served, found in the request's extensions.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// A fresh random id: 32 lower-case hex digits.
    pub(crate) fn generate() -> Self {
        let mut hex = [0u8; 32];
        // 16 bytes always fill the 32 digits exactly.
        let _ = hex::encode_to_slice(random_u128().to_be_bytes(), &mut hex);
        // One allocation that every clone (request header, extension, echo)
        // shares; `HeaderValue::from_bytes` would copy, and cloning that copy
        // allocates again.
        let bytes = prost::bytes::Bytes::from_owner(hex);
        // 32 hex digits always make a valid header value.
        RequestId(
            HeaderValue::from_maybe_shared(bytes)
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
        )
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Only ids that are valid ASCII are ever built.
        self.0.to_str().unwrap_or_default()
    }

    /// The id as a header value.
    pub(crate) fn header_value(&self) -> &HeaderValue {
        &self.0
    }

    /// Keeps a caller's id if it is printable ASCII of a sane length.
    fn accept(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        // `fold`, not `all`: no early exit, so the check runs many bytes at a
        // time (ids are short; a bad one is rare).
        let printable = bytes
            .iter()
            .fold(true, |ok, &b| ok & (b.wrapping_sub(b'!') <= b'~' - b'!'));
        let ok = !bytes.is_empty() && bytes.len() <= MAX_LEN && printable;
        ok.then(|| RequestId(value.clone()))
    }
}

/// 128 random bits from a per-thread generator seeded from the OS (through
/// `rand::rng()`). Request ids need to be unique, not unpredictable, so a
/// small fast generator serves: the thread-local ChaCha `rand::random`
/// costs several times more per id.
fn random_u128() -> u128 {
    use rand::{Rng, SeedableRng, rngs::SmallRng};
    use std::cell::RefCell;
    thread_local! {
        static RNG: RefCell<SmallRng> = RefCell::new(SmallRng::from_rng(&mut rand::rng()));
    }
    RNG.with(|rng| rng.borrow_mut().random())
}

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Layer that applies [`SetRequestId`]. Cheap to clone.
///
/// Every request leaves it with an `x-request-id` (the caller's, if printable
/// ASCII of at most 128 bytes, else 32 random hex digits) and a [`RequestId`]
/// extension. A *generated* id is echoed in the response headers of plain
/// HTTP calls and of gRPC calls that fail with their status in the headers
/// (how tonic answers an `Err(Status)` or a refusal): that is when a caller
/// that sent no id needs one to quote in a bug report. A caller's own id is
/// never echoed (it has it), and neither is an id on a successful gRPC call:
/// a unique header on every response costs HPACK work on both ends plus an
/// allocation on the client, about 3% of a loopback unary call.
///
/// [`always_echo`](Self::always_echo) echoes every id instead, the caller's
/// too, on every response: what HTTP APIs promise their clients (boost-http's
/// server stack uses it).
#[derive(Clone, Copy, Debug, Default)]
pub struct SetRequestIdLayer {
    always_echo: bool,
}

impl SetRequestIdLayer {
    /// The layer: echoes only an id it generated, and on gRPC only when the
    /// call failed.
    pub const fn new() -> Self {
        SetRequestIdLayer { always_echo: false }
    }

    /// The layer, echoing every request's id (the caller's or a generated
    /// one) on every response.
    pub const fn always_echo() -> Self {
        SetRequestIdLayer { always_echo: true }
    }
}

impl<S> Layer<S> for SetRequestIdLayer {
    type Service = SetRequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        SetRequestId {
            inner,
            always_echo: self.always_echo,
        }
    }
}

/// Ensures each request has an `x-request-id`; echoes an id it generated on
/// plain HTTP responses and failed gRPC calls (see [`SetRequestIdLayer`]).
#[derive(Clone, Debug)]
pub struct SetRequestId<S> {
    inner: S,
    always_echo: bool,
}

impl<S> SetRequestId<S> {
    /// Wraps `inner` (as [`SetRequestIdLayer::new`] does).
    pub const fn new(inner: S) -> Self {
        SetRequestId {
            inner,
            always_echo: false,
        }
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for SetRequestId<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let sent = crate::header_scan::get(req.headers(), &HEADER);
        let (id, echo) = match sent.and_then(RequestId::accept) {
            // The caller knows its own id: nothing to echo, unless asked.
            Some(id) => {
                let echo = self.always_echo.then(|| id.header_value().clone());
                (id, echo)
            }
            None => {
                let id = RequestId::generate();
                let mut echo = id.header_value().clone();
                // Unique per call: never worth an HPACK table slot (indexing
                // it would evict useful entries and cost both sides an insert
                // per call).
                echo.set_sensitive(true);
                req.headers_mut().insert(HEADER, echo.clone());
                (id, Some(echo))
            }
        };
        let grpc = echo.is_some() && !self.always_echo && super::grpc::is_grpc(&req);
        req.extensions_mut().insert(id.clone());
        ResponseFuture {
            inner: CURRENT.scope(id, self.inner.call(req)),
            echo,
            grpc,
        }
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
        assert!(
            a.as_str()
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_ne!(a, b);
    }

    /// The `x-request-id` of the response to a request with `content_type`
    /// and `id`, answered with `grpc_status` in the headers (if any).
    fn echoed(
        content_type: &str,
        id: Option<&'static str>,
        grpc_status: Option<&'static str>,
    ) -> Option<String> {
        echoed_by(SetRequestIdLayer::new(), content_type, id, grpc_status)
    }

    /// [`echoed`] under `layer`.
    fn echoed_by(
        layer: SetRequestIdLayer,
        content_type: &str,
        id: Option<&'static str>,
        grpc_status: Option<&'static str>,
    ) -> Option<String> {
        let svc = tower::service_fn(move |req: Request<()>| async move {
            assert!(req.extensions().get::<RequestId>().is_some());
            let mut res = Response::new(());
            if let Some(code) = grpc_status {
                res.headers_mut()
                    .insert("grpc-status", HeaderValue::from_static(code));
            }
            Ok::<_, std::convert::Infallible>(res)
        });
        let mut req = Request::builder().header("content-type", content_type);
        if let Some(id) = id {
            req = req.header(HEADER, id);
        }
        let res =
            futures::executor::block_on(layer.layer(svc).call(req.body(()).unwrap())).unwrap();
        res.headers()
            .get(HEADER)
            .map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn generated_id_is_echoed_on_http_and_failed_grpc_calls_only() {
        assert_eq!(echoed("text/plain", None, None).unwrap().len(), 32);
        assert_eq!(
            echoed("application/grpc", None, Some("5")).unwrap().len(),
            32
        );
        assert_eq!(
            echoed("application/grpc", None, None),
            None,
            "success: trailers later"
        );
        assert_eq!(echoed("application/grpc", None, Some("0")), None);
    }

    #[test]
    fn always_echo_echoes_the_callers_id_too_and_on_grpc_successes() {
        let always = SetRequestIdLayer::always_echo();
        let own = echoed_by(always, "text/plain", Some("req-9"), None);
        assert_eq!(own.as_deref(), Some("req-9"));
        let grpc_ok = echoed_by(always, "application/grpc", None, None);
        assert_eq!(grpc_ok.map(|id| id.len()), Some(32));
        assert_eq!(
            echoed("text/plain", Some("req-9"), None),
            None,
            "new() does not"
        );
    }

    #[test]
    fn handler_code_sees_the_calls_id() {
        let svc = tower::service_fn(|req: Request<()>| async move {
            let seen = current_request_id().map(|id| id.as_str().to_owned());
            assert_eq!(
                seen.as_deref(),
                req.extensions().get::<RequestId>().map(RequestId::as_str)
            );
            Ok::<_, std::convert::Infallible>(Response::new(seen))
        });
        let req = Request::builder().header(HEADER, "req-7").body(()).unwrap();
        let res =
            futures::executor::block_on(SetRequestIdLayer::new().layer(svc).call(req)).unwrap();
        assert_eq!(res.into_body().as_deref(), Some("req-7"));
        assert!(current_request_id().is_none(), "only inside the call");
    }

    #[test]
    fn callers_id_is_never_echoed() {
        assert_eq!(echoed("text/plain", Some("req-1"), None), None);
        assert_eq!(echoed("application/grpc", Some("req-1"), Some("13")), None);
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
