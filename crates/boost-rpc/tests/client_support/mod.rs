//! In-process upstreams for the client tests: real tonic servers on
//! 127.0.0.1 that count attempts, remember what metadata they saw, and inject
//! faults. Each stops when dropped.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::profiles_server::{Profiles, ProfilesServer};
use boost_test_proto::{GetProfileRequest, HelloReply, HelloRequest, Profile};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::{Request, Response, Status};

/// What an upstream does with each attempt.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer at once.
    None,
    /// Answer UNAVAILABLE to every `n`th attempt (1st, n+1th, ...).
    UnavailableEvery(usize),
    /// Always answer UNAVAILABLE.
    Unavailable,
    /// Answer after sleeping this long.
    Delay(Duration),
    /// Answer UNAVAILABLE after sleeping this long.
    SlowUnavailable(Duration),
    /// Accept one attempt in `n` (the 1st, n+1th, ...), answer the others
    /// RESOURCE_EXHAUSTED, as an overloaded upstream does.
    AcceptEvery(usize),
    /// Answer UNAVAILABLE to the first attempt with this
    /// `grpc-retry-pushback-ms`, then OK.
    PushbackOnce(&'static str),
    /// Answer RESOURCE_EXHAUSTED to the first attempt with this
    /// `grpc-retry-pushback-ms` (as a shedding kit server does), then OK.
    ExhaustedPushbackOnce(&'static str),
}

/// Metadata an upstream saw on one attempt.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: std::time::Instant,
    pub grpc_timeout: Option<Duration>,
    pub previous_attempts: Option<u32>,
    pub request_id: Option<String>,
    pub traceparent: Option<String>,
}

/// Shared state of one upstream.
#[derive(Debug)]
pub struct State {
    pub attempts: AtomicUsize,
    pub fault: Mutex<Fault>,
    pub seen: Mutex<Vec<Seen>>,
    pub name: String,
}

impl State {
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
    pub fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
    }
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    async fn handle(&self, metadata: &tonic::metadata::MetadataMap) -> Result<(), Status> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst);
        let text = |k: &str| {
            metadata
                .get(k)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        self.seen.lock().unwrap().push(Seen {
            at: std::time::Instant::now(),
            grpc_timeout: text("grpc-timeout").and_then(|v| parse_grpc_timeout(&v)),
            previous_attempts: text("grpc-previous-rpc-attempts").and_then(|v| v.parse().ok()),
            request_id: text("x-request-id"),
            traceparent: text("traceparent"),
        });
        let fault = self.fault.lock().unwrap().clone();
        match fault {
            Fault::None => Ok(()),
            Fault::UnavailableEvery(k) if n.is_multiple_of(k) => {
                Err(Status::unavailable("injected"))
            }
            Fault::UnavailableEvery(_) => Ok(()),
            Fault::Unavailable => Err(Status::unavailable("injected")),
            Fault::AcceptEvery(k) if n.is_multiple_of(k) => Ok(()),
            Fault::AcceptEvery(_) => Err(Status::resource_exhausted("injected overload")),
            Fault::PushbackOnce(ms) if n == 0 => {
                let mut status = Status::unavailable("injected, with pushback");
                status
                    .metadata_mut()
                    .insert("grpc-retry-pushback-ms", ms.parse().unwrap());
                Err(status)
            }
            Fault::PushbackOnce(_) => Ok(()),
            Fault::ExhaustedPushbackOnce(ms) if n == 0 => {
                let mut status = Status::resource_exhausted("injected shedding, with pushback");
                status
                    .metadata_mut()
                    .insert("grpc-retry-pushback-ms", ms.parse().unwrap());
                Err(status)
            }
            Fault::ExhaustedPushbackOnce(_) => Ok(()),
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Fault::SlowUnavailable(d) => {
                tokio::time::sleep(d).await;
                Err(Status::unavailable("injected, slowly"))
            }
        }
    }
}

#[derive(Clone)]
struct Svc(Arc<State>);

#[tonic::async_trait]
impl Greeter for Svc {
    async fn say_hello(
        &self,
        request: Request<HelloRequest>,
    ) -> Result<Response<HelloReply>, Status> {
        self.0.handle(request.metadata()).await?;
        Ok(Response::new(HelloReply {
            message: format!(
                "hello {} from {}",
                request.get_ref().name.len(),
                self.0.name
            ),
        }))
    }
}

#[tonic::async_trait]
impl Profiles for Svc {
    async fn get_profile(
        &self,
        request: Request<GetProfileRequest>,
    ) -> Result<Response<Profile>, Status> {
        self.0.handle(request.metadata()).await?;
        Ok(Response::new(Profile {
            name: request.into_inner().name,
            language: self.0.name.clone(),
        }))
    }
}

/// A running upstream serving Greeter and Profiles.
pub struct Upstream {
    pub addr: SocketAddr,
    pub state: Arc<State>,
    stop: Option<oneshot::Sender<()>>,
}

impl Upstream {
    /// Starts on a free port.
    pub async fn start(fault: Fault) -> Self {
        Self::start_on("127.0.0.1:0".parse().unwrap(), fault).await
    }

    /// Starts on `addr` (e.g. to bring a closed port back).
    pub async fn start_on(addr: SocketAddr, fault: Fault) -> Self {
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            attempts: AtomicUsize::new(0),
            fault: Mutex::new(fault),
            seen: Mutex::new(Vec::new()),
            name: addr.to_string(),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        // Nagle off on accepted sockets: tonic leaves it on for a handed-in listener.
        let incoming = TcpListenerStream::new(listener).map(|s| {
            let s = s?;
            s.set_nodelay(true)?;
            Ok::<_, std::io::Error>(s)
        });
        let svc = Svc(state.clone());
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(GreeterServer::new(svc.clone()))
                .add_service(ProfilesServer::new(svc))
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                }),
        );
        Self {
            addr,
            state,
            stop: Some(stop),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A port on 127.0.0.1 with nothing listening (bound, then released).
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    l.local_addr().unwrap()
}

/// A greeting request whose name has `len` bytes.
pub fn hello(len: usize) -> HelloRequest {
    HelloRequest {
        name: "x".repeat(len),
    }
}

/// The test binary's metrics recorder, installed on first use: call it before
/// building a client whose metrics a test reads (handles bind at creation).
/// A snapshot drains the counters, so take one per assertion.
pub fn metrics() -> &'static metrics_util::debugging::Snapshotter {
    static SNAPSHOTTER: std::sync::OnceLock<metrics_util::debugging::Snapshotter> =
        std::sync::OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().unwrap();
        snapshotter
    })
}

/// A `grpc-timeout` value as the gRPC spec writes it (at most 8 digits and
/// a unit), parsed here independently of the client that wrote it.
pub fn parse_grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}
