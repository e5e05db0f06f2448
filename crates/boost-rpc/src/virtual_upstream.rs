//! A tape served as a real gRPC server: the recorded upstream for tests in
//! other languages, or other services, with no partner sandbox running.
//!
//! It answers every call of the tape as a replaying client would (same
//! matching, faults and misses), plus gRPC health (`grpc.health.v1.Health`,
//! each taped service `SERVING`) and reflection (v1 and v1alpha), so
//! `grpcurl` and grpcio clients can discover it.
//!
//! ```no_run
//! use boost_rpc::client::{TapeMode, TapeSettings};
//! use boost_rpc::virtual_upstream::VirtualUpstream;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let tape = TapeSettings::new(TapeMode::Replay, "tests/tapes/greeter_session.json");
//! let upstream = VirtualUpstream::open(&tape, &[boost_test_proto::FILE_DESCRIPTOR_SET])?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:50052").await?;
//! upstream.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```
//!
//! [`virtualize`] is the same for a command line (`cargo boost virtualize
//! TAPE --listen ADDR`): open, bind, serve until Ctrl-C.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use tonic::body::Body;
use tonic::service::Routes;
use tower::Service;

use crate::RpcError;
use crate::client::method_of;
use crate::client::tape::cassette::Cassette;
use crate::client::tape::{TapeMode, TapeSettings, answer_from_tape, collect_request};

/// Longest a replayed delay lasts when the caller sent no `grpc-timeout`.
const MAX_DELAY: Duration = Duration::from_secs(300);

/// A tape, ready to be served. See the [module docs](self).
pub struct VirtualUpstream {
    cassette: Arc<Cassette>,
    descriptors: Vec<Vec<u8>>,
    on_call: Option<OnCall>,
}

/// What [`VirtualUpstream::on_call`] is handed for each call.
type OnCall = Arc<dyn Fn(&str, &str) + Send + Sync>;

impl std::fmt::Debug for VirtualUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualUpstream")
            .field("cassette", &self.cassette)
            .field("descriptors", &self.descriptors.len())
            .field("on_call", &self.on_call.is_some())
            .finish()
    }
}

impl VirtualUpstream {
    /// Reads the tape at `tape.path` (its `mode` is ignored: a virtual
    /// upstream only replays), with the descriptors of its protos: encoded
    /// `FileDescriptorSet`s, compiled in (`FULL_FILE_DESCRIPTOR_SET`) or read
    /// at run time (`protoc --descriptor_set_out`, or protox from `.proto`
    /// files, as a command line would).
    ///
    /// # Errors
    /// [`RpcError::Tape`] when the tape is missing, unreadable, over its
    /// limits, or there are no descriptors, or they lack a method of the tape.
    pub fn open(tape: &TapeSettings, descriptors: &[&[u8]]) -> Result<Self, RpcError> {
        let mut settings = tape.clone();
        settings.mode = TapeMode::Replay;
        let cassette = Cassette::open("virtual-upstream", &settings, MAX_DELAY, descriptors)?;
        let unknown = cassette.unknown_methods();
        if !unknown.is_empty() {
            return Err(RpcError::tape(
                "virtual-upstream",
                format!(
                    "{}: the descriptors do not define {}: give the protos that do \
                     (the same FileDescriptorSet the recording client used)",
                    settings.path.as_deref().unwrap_or(Path::new("")).display(),
                    unknown.join(", ")
                ),
            ));
        }
        Ok(Self {
            cassette: Arc::new(cassette),
            descriptors: descriptors.iter().map(|d| d.to_vec()).collect(),
            on_call: None,
        })
    }

    /// The services the tape has calls of, which health reports `SERVING`.
    pub fn services(&self) -> Vec<String> {
        self.cassette.services()
    }

    /// Calls `log(method, answer)` once per call served from the tape, with
    /// `answer` saying which entry answered (`entries[2]: NOT_FOUND`,
    /// `entries[0]: fault UNAVAILABLE`) or why none did (`no match: …`):
    /// progress for a person watching a command line.
    #[must_use]
    pub fn on_call(mut self, log: impl Fn(&str, &str) + Send + Sync + 'static) -> Self {
        self.on_call = Some(Arc::new(log));
        self
    }

    /// Every method the tape answers, with how many recorded calls each.
    pub fn methods(&self) -> Vec<(String, usize)> {
        self.cassette.methods()
    }

    /// Serves on `listener` until `shutdown` completes.
    ///
    /// # Errors
    /// [`RpcError::Tape`] when reflection cannot be built from the
    /// descriptors or the server fails.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), RpcError> {
        let fail = |error: String| RpcError::tape("virtual-upstream", error);
        let (reporter, health) = tonic_health::server::health_reporter();
        for service in self.services() {
            reporter
                .set_service_status(service, tonic_health::ServingStatus::Serving)
                .await;
        }
        let reflection = || {
            let mut builder = tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET);
            for set in &self.descriptors {
                builder = builder.register_encoded_file_descriptor_set(set);
            }
            builder
        };
        let v1 = reflection()
            .build_v1()
            .map_err(|e| fail(format!("reflection: {e}")))?;
        let v1alpha = reflection()
            .build_v1alpha()
            .map_err(|e| fail(format!("reflection: {e}")))?;
        let router = Routes::new(health)
            .add_service(v1)
            .add_service(v1alpha)
            .into_axum_router()
            .fallback_service(TapeServer {
                cassette: self.cassette.clone(),
                on_call: self.on_call.clone(),
            });
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .add_routes(Routes::from(router))
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(|e| fail(format!("serving failed: {e}")))
    }
}

/// Serves the tape at `tape` (with default limits) on `listen` until Ctrl-C:
/// the library call behind `cargo boost virtualize TAPE --listen ADDR`.
///
/// # Errors
/// [`RpcError::Tape`] when the tape cannot be read, `listen` cannot be
/// bound, or serving fails.
pub async fn virtualize(
    tape: &Path,
    descriptors: &[&[u8]],
    listen: SocketAddr,
) -> Result<(), RpcError> {
    let upstream = VirtualUpstream::open(&TapeSettings::new(TapeMode::Replay, tape), descriptors)?;
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        RpcError::tape(
            "virtual-upstream",
            format!("cannot listen on {listen}: {e}"),
        )
    })?;
    tracing::info!(tape = %tape.display(), %listen, services = ?upstream.services(), "serving the tape");
    upstream
        .serve(listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

/// Answers any method from the tape (the routes' fallback).
#[derive(Clone)]
struct TapeServer {
    cassette: Arc<Cassette>,
    on_call: Option<OnCall>,
}

impl<B> Service<Request<B>> for TapeServer
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<tonic::codegen::StdError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let cassette = self.cassette.clone();
        let on_call = self.on_call.clone();
        Box::pin(async move {
            let method = method_of(request.uri()).to_owned();
            let (parts, body) = request.into_parts();
            let messages = match collect_request(&cassette, &method, Body::new(body)).await {
                Ok(messages) => messages,
                Err(answer) => {
                    if let Some(log) = &on_call {
                        log(&method, "the request could not be read");
                    }
                    return Ok(answer);
                }
            };
            let (answer, what) =
                answer_from_tape(&cassette, &parts.headers, &method, &messages).await;
            if let Some(log) = &on_call {
                log(&method, &what);
            }
            Ok(answer)
        })
    }
}
