//! gRPC over TLS: team-boost vs raw tonic with the same rustls configs, in
//! the same run.
//!
//! Certificates are made at start (rcgen); one `ServerConfig` (boost-tls'
//! `ServerTls`, ring) serves both servers and one `ClientConfig`
//! (boost-tls' `ClientTls`, ALPN `h2`) is used by both clients, so the only
//! differences are the kit's.
//! - servers: tonic over a tokio-rustls acceptor (handshakes in a task per
//!   connection, `TCP_NODELAY`); `boost_server` adds
//!   `boost_rpc::server::stack`;
//! - clients: `raw_tonic` is a tonic `Channel` over a plain tokio-rustls
//!   connector; `boost` is `boost_rpc::client` with an `https://` endpoint
//!   and `tls` settings (its own connector: TCP, handshake, and the wait
//!   for a TLS 1.3 server's acceptance).
//!
//! Groups:
//! - `rpc_tls_pair_sequential`: one call at a time over an established
//!   connection, raw client + raw server vs boost client + boost server
//!   (target p50 ≤ 1.05×);
//! - `rpc_tls_new_connection`: a new connection per iteration (TCP connect,
//!   TLS 1.3 handshake, HTTP/2 handshake, one call), raw connector vs the
//!   client's connector, both against the raw server (target: handshakes per
//!   second ≥ 0.95× raw, i.e. time ≤ 1.05×).
//!
//! After criterion, `PAIRED` lines measure both in alternating rounds, so
//! load from other processes hits each alike; they add the boost client
//! against the raw server (the client's share), the plaintext pair, and a
//! bare tonic `Channel` over the kit's TLS connector (the connector's share).
//!
//! Run: `cargo bench -p boost-benches --bench rpc_tls -- --warm-up-time 1 --measurement-time 3`
//! (only the `PAIRED` lines: `-- nomatch` instead of the criterion flags).

use std::future::Future;
use std::hint::black_box;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use boost_config::ServiceIdentity;
use boost_metrics::MetricsSettings;
use boost_rpc::client::ClientSettings;
use boost_rpc::server::{self, ServerSettings};
use boost_test_certs::{Ca, Leaf, TlsConn};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{HelloReply, HelloRequest};
use boost_tls::rustls::{ClientConfig, ServerConfig};
use boost_tls::rustls_pki_types::ServerName;
use boost_tls::tokio_rustls::{TlsAcceptor, TlsConnector};
use boost_tls::{ClientTls, ClientTlsSettings, ServerTls, ServerTlsSettings};
use criterion::{Criterion, criterion_group};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tonic::transport::{Channel, Endpoint};

/// The name in the server's certificate (endpoints are IP addresses).
const SERVER_NAME: &str = "bench.internal";

struct Hello;

#[tonic::async_trait]
impl Greeter for Hello {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        Ok(tonic::Response::new(HelloReply {
            message: request.into_inner().name,
        }))
    }
}

fn request() -> HelloRequest {
    HelloRequest {
        name: "bench".into(),
    }
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The two configs every server and client here share, and the client's
/// settings; the files stay in `dir`.
struct Pki {
    server: Arc<ServerConfig>,
    client: ClientTls,
    client_settings: ClientTlsSettings,
    _dir: tempfile::TempDir,
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = Ca::new("bench CA");
    let (cert, key) = ca
        .issue(&Leaf::new("bench").dns(SERVER_NAME))
        .write(dir.path(), "server");
    let server = ServerTls::from_settings("grpc.tls", &ServerTlsSettings::new(cert, key))
        .expect("server TLS")
        .expect("TLS is enabled")
        .server_config([b"h2".to_vec()]);
    let client_settings = ClientTlsSettings::default()
        .with_ca_file(ca.write(dir.path(), "ca"))
        .with_server_name(SERVER_NAME);
    let client = ClientTls::from_settings("bench.tls", &client_settings).expect("client TLS");
    Pki {
        server,
        client,
        client_settings,
        _dir: dir,
    }
}

/// A TLS server on loopback; with `boost`, under the kit's server stack.
async fn serve(config: Arc<ServerConfig>, boost: bool) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = TlsAcceptor::from(config);
    let (conns, incoming) = tokio::sync::mpsc::channel::<io::Result<TlsConn>>(64);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let _ = tcp.set_nodelay(true);
            let acceptor = acceptor.clone();
            let conns = conns.clone();
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(tcp).await {
                    let _ = conns.send(Ok(TlsConn(tls))).await;
                }
            });
        }
    });
    let incoming = tokio_stream::wrappers::ReceiverStream::new(incoming);
    if boost {
        let settings = ServerSettings::default();
        tokio::spawn(
            settings
                .apply(tonic::transport::Server::builder())
                .layer(server::stack(&settings))
                .add_service(GreeterServer::new(Hello))
                .serve_with_incoming(incoming),
        );
    } else {
        tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(GreeterServer::new(Hello))
                .serve_with_incoming(incoming),
        );
    }
    addr
}

/// A raw tonic channel over a plain tokio-rustls connector with `config`.
fn raw_channel(config: Arc<ClientConfig>, addr: SocketAddr) -> Channel {
    let connect = RawConnect {
        connector: TlsConnector::from(config),
        name: ServerName::try_from(SERVER_NAME).expect("name"),
    };
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .tcp_nodelay(true)
        .origin(format!("https://{SERVER_NAME}").parse().expect("origin"))
        .connect_with_connector_lazy(connect)
}

/// The kit's client with an `https://` endpoint.
fn boost_client(tls: &ClientTlsSettings, addr: SocketAddr) -> boost_rpc::client::Client {
    let mut settings = ClientSettings::with_endpoints([format!("https://{addr}")]);
    settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
    settings.tls = tls.clone();
    boost_rpc::client("bench", &settings).expect("client")
}

/// One new connection and one call on it.
async fn connect_and_call(channel: Channel) {
    let mut client = GreeterClient::new(channel);
    black_box(client.say_hello(request()).await.expect("call"));
}

fn bench(c: &mut Criterion) {
    let rt = runtime();
    let identity = ServiceIdentity::new("bench", "0.0.0");
    let _metrics = boost_metrics::install(&MetricsSettings::default(), &identity).expect("metrics");
    let pki = pki();
    let raw_config = pki.client.client_config([b"h2".to_vec()]);
    let (raw_addr, raw, boost, boost_raw, plain) = rt.block_on(async {
        let raw_addr = serve(pki.server.clone(), false).await;
        let boost_addr = serve(pki.server.clone(), true).await;
        let raw = GreeterClient::new(raw_channel(raw_config.clone(), raw_addr));
        let boost = GreeterClient::new(boost_client(&pki.client_settings, boost_addr));
        let boost_raw = GreeterClient::new(boost_client(&pki.client_settings, raw_addr));
        raw.clone().say_hello(request()).await.expect("raw warm");
        boost
            .clone()
            .say_hello(request())
            .await
            .expect("boost warm");
        boost_raw
            .clone()
            .say_hello(request())
            .await
            .expect("boost warm");
        (raw_addr, raw, boost, boost_raw, plain_pair().await)
    });

    let mut group = c.benchmark_group("rpc_tls_pair_sequential");
    group.bench_function("raw_tonic", |b| {
        b.to_async(&rt).iter(|| {
            let mut client = raw.clone();
            async move { black_box(client.say_hello(request()).await.expect("call")) }
        });
    });
    group.bench_function("boost_pair", |b| {
        b.to_async(&rt).iter(|| {
            let mut client = boost.clone();
            async move { black_box(client.say_hello(request()).await.expect("call")) }
        });
    });
    group.finish();

    let timeout = Duration::from_secs(5);
    let uri: http::Uri = format!("https://{raw_addr}").parse().expect("uri");
    let mut group = c.benchmark_group("rpc_tls_new_connection");
    group.bench_function("raw_tonic", |b| {
        b.to_async(&rt)
            .iter(|| connect_and_call(raw_channel(raw_config.clone(), raw_addr)));
    });
    group.bench_function("boost_client", |b| {
        b.to_async(&rt)
            .iter(|| connect_and_call(boost_rpc::bench::tls_channel(&pki.client, &uri, timeout)));
    });
    group.finish();

    rt.block_on(async {
        let pairs = Pairs {
            raw: &raw,
            boost: &boost,
            boost_raw: &boost_raw,
            plain: &plain,
        };
        let connector_only = GreeterClient::new(boost_rpc::bench::tls_channel(
            &pki.client,
            &uri,
            Duration::from_secs(5),
        ));
        connector_only
            .clone()
            .say_hello(request())
            .await
            .expect("warm");
        paired(&pki, raw_config, raw_addr, pairs, &connector_only, &uri).await;
    });
}

fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

/// The same pair in plaintext (raw tonic both sides / boost both sides), as
/// `rpc_server.rs` measures it: how much of the TLS pair's ratio is the
/// kit's plaintext overhead.
async fn plain_pair() -> (
    GreeterClient<Channel>,
    GreeterClient<boost_rpc::client::Client>,
) {
    async fn listen() -> (tonic::transport::server::TcpIncoming, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        (incoming, addr)
    }
    let (incoming, raw_addr) = listen().await;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(GreeterServer::new(Hello))
            .serve_with_incoming(incoming),
    );
    let (incoming, boost_addr) = listen().await;
    let settings = ServerSettings::default();
    tokio::spawn(
        settings
            .apply(tonic::transport::Server::builder())
            .layer(server::stack(&settings))
            .add_service(GreeterServer::new(Hello))
            .serve_with_incoming(incoming),
    );
    let raw = Endpoint::from_shared(format!("http://{raw_addr}"))
        .expect("url")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("connect");
    let mut settings = ClientSettings::with_endpoints([format!("http://{boost_addr}")]);
    settings.retry.idempotent_methods = vec!["hello.v1.Greeter/SayHello".into()];
    let boost = GreeterClient::new(boost_rpc::client("bench-plain", &settings).expect("client"));
    boost.clone().say_hello(request()).await.expect("warm");
    (GreeterClient::new(raw), boost)
}

/// The long-lived clients [`paired`] alternates between.
struct Pairs<'a> {
    raw: &'a GreeterClient<Channel>,
    boost: &'a GreeterClient<boost_rpc::client::Client>,
    /// The boost client against the raw TLS server: the client's share.
    boost_raw: &'a GreeterClient<boost_rpc::client::Client>,
    plain: &'a (
        GreeterClient<Channel>,
        GreeterClient<boost_rpc::client::Client>,
    ),
}

/// `n` sequential calls' latencies, appended to `out`.
async fn calls<T>(client: &GreeterClient<T>, n: usize, out: &mut Vec<Duration>)
where
    T: tonic::client::GrpcService<tonic::body::Body> + Clone,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    for _ in 0..n {
        let mut client = client.clone();
        let start = Instant::now();
        black_box(client.say_hello(request()).await.expect("call"));
        out.push(start.elapsed());
    }
}

/// Alternating rounds of every side; prints medians and their ratios.
async fn paired(
    pki: &Pki,
    raw_config: Arc<ClientConfig>,
    raw_addr: SocketAddr,
    pairs: Pairs<'_>,
    connector_only: &GreeterClient<Channel>,
    uri: &http::Uri,
) {
    let mut p: [Vec<Duration>; 6] = Default::default();
    for _ in 0..40 {
        calls(pairs.raw, 250, &mut p[0]).await;
        calls(pairs.boost, 250, &mut p[1]).await;
        calls(pairs.boost_raw, 250, &mut p[2]).await;
        calls(&pairs.plain.0, 250, &mut p[3]).await;
        calls(&pairs.plain.1, 250, &mut p[4]).await;
        calls(connector_only, 250, &mut p[5]).await;
    }
    let [raw, boost, boost_raw, plain_raw, plain_boost, connector] = p.map(|mut v| median(&mut v));
    let ratio = |a: Duration, b: Duration| a.as_secs_f64() / b.as_secs_f64();
    eprintln!(
        "PAIRED rpc_tls_pair_sequential p50: raw_tonic {raw:?}, boost_pair {boost:?} = {:.3}x; \
         boost client + raw server {boost_raw:?} = {:.3}x; plaintext pair: raw {plain_raw:?}, \
         boost {plain_boost:?} = {:.3}x",
        ratio(boost, raw),
        ratio(boost_raw, raw),
        ratio(plain_boost, plain_raw)
    );
    eprintln!(
        "PAIRED rpc_tls_connector_only p50: a tonic Channel over the kit's TLS connector \
         {connector:?} / raw_tonic {raw:?} = {:.3}x (the connector's per-call share)",
        ratio(connector, raw)
    );

    let timeout = Duration::from_secs(5);
    let (mut raw_new, mut boost_new) = (Vec::new(), Vec::new());
    for _ in 0..20 {
        for _ in 0..25 {
            let start = Instant::now();
            connect_and_call(raw_channel(raw_config.clone(), raw_addr)).await;
            raw_new.push(start.elapsed());
        }
        for _ in 0..25 {
            let start = Instant::now();
            connect_and_call(boost_rpc::bench::tls_channel(&pki.client, uri, timeout)).await;
            boost_new.push(start.elapsed());
        }
    }
    let (raw_p50, boost_p50) = (median(&mut raw_new), median(&mut boost_new));
    eprintln!(
        "PAIRED rpc_tls_new_connection p50: raw_tonic {raw_p50:?}, boost_client {boost_p50:?}; \
         connections per second: boost / raw = {:.3}x",
        raw_p50.as_secs_f64() / boost_p50.as_secs_f64()
    );
}

criterion_group!(benches, bench);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    boost_benches::report_ratio("rpc_tls_pair_sequential", "raw_tonic", "boost_pair");
    boost_benches::report_ratio("rpc_tls_new_connection", "raw_tonic", "boost_client");
}

/// The raw side's connector: TCP (`TCP_NODELAY`) and the handshake.
#[derive(Clone)]
struct RawConnect {
    connector: TlsConnector,
    name: ServerName<'static>,
}

type Connecting = Pin<
    Box<
        dyn Future<
                Output = io::Result<TokioIo<boost_tls::tokio_rustls::client::TlsStream<TcpStream>>>,
            > + Send,
    >,
>;

impl tower::Service<http::Uri> for RawConnect {
    type Response = TokioIo<boost_tls::tokio_rustls::client::TlsStream<TcpStream>>;
    type Error = io::Error;
    type Future = Connecting;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connector = self.connector.clone();
        let name = self.name.clone();
        Box::pin(async move {
            let host = uri.host().unwrap_or_default().to_owned();
            let tcp = TcpStream::connect((host.as_str(), uri.port_u16().unwrap_or(443))).await?;
            tcp.set_nodelay(true)?;
            Ok(TokioIo::new(connector.connect(name, tcp).await?))
        })
    }
}
