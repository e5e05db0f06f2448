//! Record and replay of a client's calls: tapes for tests that must not
//! depend on a partner's sandbox.
//!
//! Set a client's `[<client>.tape]` (see [`TapeSettings`]): `mode = "record"`
//! sends calls to the upstream and writes each exchange to `path`;
//! `mode = "replay"` answers every call from `path` with no network (the
//! client builds no balancer, no connection, no DNS task);
//! `replay_or_record` answers what the tape has and records the rest. The
//! default, `off`, leaves the layer out of the client altogether.
//!
//! ```no_run
//! use boost_rpc::client::{Client, ClientSettings, TapeMode, TapeSettings};
//! # async fn demo() -> Result<(), boost_rpc::RpcError> {
//! let mut settings = ClientSettings::default();
//! settings.tape = TapeSettings::new(TapeMode::Replay, "tests/tapes/greets_in_french.json");
//! let client = Client::builder("profiles", &settings)
//!     .descriptors(boost_test_proto::FILE_DESCRIPTOR_SET) // the protos it calls
//!     .build()?;
//! # let _ = client; Ok(()) }
//! ```
//!
//! The layer sits right under [`observe`](super::observe), so a replayed
//! call is traced and measured exactly like a live one (same
//! `rpc_client_call_duration_seconds` labels), and records the logical call
//! — what the caller saw after retries — once. It works at the HTTP level
//! for any generated client: the request body is buffered (up to
//! `max_message_size`), its gRPC frames decoded with the descriptors into
//! JSON (boost-tape's `Codec`), and matched by method and canonical request
//! (boost-tape's `Matcher`). A call the tape
//! has no answer for fails with FAILED_PRECONDITION, its message naming the
//! closest recorded request and the differing fields.
//!
//! Streaming calls are recorded whole: the response is handed to the
//! caller once it has ended.
//!
//! This module needs boost-rpc's `tape` feature; without it a client with a
//! tape mode other than `off` fails to build with [`RpcError::Tape`](crate::RpcError::Tape).

#[cfg(feature = "tape")]
pub(crate) mod cassette;
#[cfg(feature = "tape")]
mod exchange;
#[cfg(feature = "tape")]
pub mod future;
#[cfg(feature = "tape")]
mod layer;
mod settings;

pub use self::settings::{TapeMode, TapeSettings};

#[cfg(feature = "tape")]
pub use self::layer::TapeLayer;

#[cfg(feature = "tape")]
pub use self::service::Tape;
#[cfg(feature = "tape")]
pub(crate) use self::service::{answer_from_tape, collect_request};

#[cfg(feature = "tape")]
mod service {
    use std::sync::Arc;
    use std::task::{Context, Poll};
    use std::time::{Duration, Instant};

    use http::{Request, Response};
    use http_body_util::Full;
    use tonic::body::Body;
    use tonic::{Code, Status};
    use tower::Service;

    use boost_tape::{Entry, Fault};

    use super::cassette::{Cassette, Found};
    use super::exchange::{
        code_of, collect, name_of, replayed_body, request_metadata, response_metadata, status_of,
        trailers_only, with_body,
    };
    use super::future::ResponseFuture;
    use super::settings::TapeMode;
    use crate::RpcError;
    use crate::client::method_of;

    /// The service [`TapeLayer`](super::TapeLayer) builds: answers from the
    /// tape, or calls `inner` and records. `inner` is `None` in `replay`.
    #[derive(Debug, Clone)]
    pub struct Tape<S> {
        inner: Option<S>,
        cassette: Arc<Cassette>,
    }

    impl<S> Tape<S> {
        pub(crate) const fn new(inner: Option<S>, cassette: Arc<Cassette>) -> Self {
            Self { inner, cassette }
        }

        /// The wrapped service (`None` in `replay`).
        pub fn get_ref(&self) -> Option<&S> {
            self.inner.as_ref()
        }

        /// The wrapped service, mutably.
        pub fn get_mut(&mut self) -> Option<&mut S> {
            self.inner.as_mut()
        }

        /// Unwraps the service.
        pub fn into_inner(self) -> Option<S> {
            self.inner
        }
    }

    impl<S> Service<Request<Body>> for Tape<S>
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = RpcError>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
    {
        type Response = Response<Body>;
        type Error = RpcError;
        type Future = ResponseFuture;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), RpcError>> {
            match &mut self.inner {
                Some(inner) => inner.poll_ready(cx),
                None => Poll::Ready(Ok(())),
            }
        }

        fn call(&mut self, request: Request<Body>) -> ResponseFuture {
            // The service polled ready goes with the call; a clone stays.
            let clone = self.inner.clone();
            let inner = std::mem::replace(&mut self.inner, clone);
            let cassette = self.cassette.clone();
            ResponseFuture {
                inner: Box::pin(exchange(cassette, inner, request)),
            }
        }
    }

    /// A failure of the tape itself, as the caller sees it.
    fn tape_failure(
        cassette: &Cassette,
        code: Code,
        why: impl std::fmt::Display,
    ) -> Response<Body> {
        let status = Status::new(
            code,
            format!(
                "tape {} of client `{}`: {why}",
                cassette.path.display(),
                cassette.client
            ),
        );
        trailers_only(&status, &Default::default())
    }

    async fn exchange<S>(
        cassette: Arc<Cassette>,
        inner: Option<S>,
        request: Request<Body>,
    ) -> Result<Response<Body>, RpcError>
    where
        S: Service<Request<Body>, Response = Response<Body>, Error = RpcError>,
    {
        let method = method_of(request.uri()).to_owned();
        let limit = cassette.limits.max_message_bytes;
        let (parts, body) = request.into_parts();
        let (bytes, _) = match collect(body, limit).await {
            Ok(body) => body,
            Err(status) => return Ok(trailers_only(&status, &Default::default())),
        };
        let mut messages = match cassette.codec.decode_request(&method, &bytes) {
            Ok(messages) => messages,
            Err(e) => {
                return Ok(tape_failure(
                    &cassette,
                    Code::Internal,
                    format!("cannot read the request: {e}"),
                ));
            }
        };
        if cassette.mode != TapeMode::Record {
            match cassette.find(&method, &messages) {
                Ok(found) => return Ok(replay(&cassette, &parts.headers, &method, found).await),
                Err(miss) if cassette.mode == TapeMode::Replay => {
                    return Ok(tape_failure(&cassette, Code::FailedPrecondition, miss));
                }
                Err(_) => {}
            }
        }
        let Some(mut inner) = inner else {
            return Ok(tape_failure(
                &cassette,
                Code::Internal,
                "no upstream to record from",
            ));
        };
        let mut recorded = boost_tape::Request {
            messages: Vec::new(),
            metadata: request_metadata(&parts.headers, &cassette.redaction),
        };
        for message in &mut messages {
            cassette.redaction.mask_message(message);
        }
        recorded.messages = messages;
        let started = Instant::now();
        let result = inner
            .call(Request::from_parts(parts, Body::new(Full::new(bytes))))
            .await;
        let (response, answer) = match result {
            Err(error) => {
                let status = error.status();
                (recorded_status(&status), Err(error))
            }
            Ok(response) => {
                let (head, body) = response.into_parts();
                let (data, trailers) = match collect(body, limit).await {
                    Ok(collected) => collected,
                    Err(status) => {
                        let response = recorded_status(&status);
                        cassette.record(entry(&method, recorded, response), started.elapsed());
                        return Ok(trailers_only(&status, &Default::default()));
                    }
                };
                let status = status_of(&head.headers, trailers.as_ref());
                let mut decoded = match cassette.codec.decode_response(&method, &data) {
                    Ok(decoded) => decoded,
                    Err(e) => {
                        return Ok(tape_failure(
                            &cassette,
                            Code::Internal,
                            format!("cannot read the response: {e}"),
                        ));
                    }
                };
                decoded
                    .iter_mut()
                    .for_each(|m| cassette.redaction.mask_message(m));
                let response = boost_tape::Response {
                    code: name_of(status.code()),
                    message: status.message().to_owned(),
                    metadata: response_metadata(&head.headers, &cassette.redaction),
                    messages: decoded,
                    trailers: trailers
                        .as_ref()
                        .map(|t| response_metadata(t, &cassette.redaction))
                        .unwrap_or_default(),
                };
                let answer = Response::from_parts(head, replayed_body(data, trailers));
                (response, Ok(answer))
            }
        };
        cassette.record(entry(&method, recorded, response), started.elapsed());
        answer
    }

    /// The request's messages, buffered and decoded; the answer to send
    /// when they cannot be.
    pub(crate) async fn collect_request(
        cassette: &Cassette,
        method: &str,
        body: Body,
    ) -> Result<Vec<serde_json::Value>, Response<Body>> {
        let (bytes, _) = collect(body, cassette.limits.max_message_bytes)
            .await
            .map_err(|status| trailers_only(&status, &Default::default()))?;
        cassette.codec.decode_request(method, &bytes).map_err(|e| {
            tape_failure(
                cassette,
                Code::Internal,
                format!("cannot read the request: {e}"),
            )
        })
    }

    /// The tape's answer to `method` with `messages`: the recorded (or
    /// faulted) response, or FAILED_PRECONDITION naming the closest entry;
    /// with a line saying which (`entries[0]: OK`, `no match: …`).
    pub(crate) async fn answer_from_tape(
        cassette: &Cassette,
        headers: &http::HeaderMap,
        method: &str,
        messages: &[serde_json::Value],
    ) -> (Response<Body>, String) {
        match cassette.find(method, messages) {
            Ok(found) => {
                let what = match &found.entry.fault {
                    Some(Fault {
                        code: Some(code), ..
                    }) => {
                        format!("entries[{}]: fault {code}", found.index)
                    }
                    _ => format!("entries[{}]: {}", found.index, found.entry.response.code),
                };
                (replay(cassette, headers, method, found).await, what)
            }
            Err(miss) => {
                let what = format!("no match: {miss}");
                (tape_failure(cassette, Code::FailedPrecondition, miss), what)
            }
        }
    }

    fn entry(method: &str, request: boost_tape::Request, response: boost_tape::Response) -> Entry {
        let mut entry = Entry::ok(method, serde_json::Value::Null, serde_json::Value::Null);
        entry.request = request;
        entry.response = response;
        entry
    }

    fn recorded_status(status: &Status) -> boost_tape::Response {
        let mut response = Entry::ok("", serde_json::Value::Null, serde_json::Value::Null).response;
        response.code = name_of(status.code());
        status.message().clone_into(&mut response.message);
        response.messages.clear();
        response
    }

    /// How long the call may wait for a replayed delay: the client's
    /// timeout, the request's `grpc-timeout`, the inbound deadline.
    fn budget(cassette: &Cassette, headers: &http::HeaderMap) -> Duration {
        let mut budget = cassette.timeout;
        if let Some(t) = headers
            .get(crate::grpc_timeout::HEADER)
            .and_then(|v| crate::grpc_timeout::parse(v.as_bytes()))
        {
            budget = budget.min(t);
        }
        if let Some(left) = crate::deadline::remaining() {
            budget = budget.min(left);
        }
        budget
    }

    async fn replay(
        cassette: &Cassette,
        headers: &http::HeaderMap,
        method: &str,
        found: Found,
    ) -> Response<Body> {
        let Found { entry, elapsed, .. } = found;
        let fault = entry.fault.clone().unwrap_or_default();
        let delay = fault
            .delay
            .or_else(|| cassette.replay_latency.then_some(elapsed))
            .unwrap_or_default();
        if !delay.is_zero() {
            let budget = budget(cassette, headers);
            if delay >= budget {
                tokio::time::sleep(budget).await;
                return trailers_only(
                    &Status::deadline_exceeded(format!(
                        "deadline of {budget:?} passed while the tape waited {delay:?} (replayed latency or fault delay)"
                    )),
                    &Default::default(),
                );
            }
            tokio::time::sleep(delay).await;
        }
        if let Fault {
            code: Some(code),
            message,
            ..
        } = &fault
        {
            let code = code_of(code).unwrap_or(Code::Unknown);
            let status = Status::new(
                code,
                message
                    .clone()
                    .unwrap_or_else(|| "fault injected from the tape".to_owned()),
            );
            return trailers_only(&status, &Default::default());
        }
        let response = &entry.response;
        let code = code_of(&response.code).unwrap_or(Code::Unknown);
        let status = Status::new(code, response.message.clone());
        if response.messages.is_empty() && code != Code::Ok {
            let mut metadata = response.metadata.clone();
            metadata.extend(response.trailers.clone());
            return trailers_only(&status, &metadata);
        }
        let frames = match cassette.codec.encode_response(method, &response.messages) {
            Ok(frames) => frames,
            Err(e) => {
                return tape_failure(
                    cassette,
                    Code::Internal,
                    format!("cannot replay the response: {e}"),
                );
            }
        };
        with_body(&response.metadata, frames, &status, &response.trailers)
    }
}
