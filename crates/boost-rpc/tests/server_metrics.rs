//! The metrics layer: one `rpc_server_call_duration_seconds` sample per call,
//! labelled with the method and the final status — whether the status came in
//! the response headers (trailers-only) or in the trailers — and an in-flight
//! gauge. A deadline the server enforces is counted as `DEADLINE_EXCEEDED`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod server_support;

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use boost_metrics::conventions::{
    RPC_METHOD, RPC_SERVER_CALL_DURATION, RPC_SERVER_IN_FLIGHT, RPC_STATUS_CODE, RPC_SYSTEM_NAME,
};
use boost_rpc::server::{self, ServerSettings};
use boost_test_proto::GetProfileRequest;
use boost_test_proto::greeter_server::GreeterServer;
use boost_test_proto::profiles_client::ProfilesClient;
use http_body_util::StreamBody;
use hyper::body::Frame;
use metrics_util::MetricKind;
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use server_support::{TestGreeter, client, hello};
use tonic::transport::server::TcpIncoming;

/// A `hello.v1.Profiles` that answers every call the way a streaming server
/// fails: HTTP 200, a message, then `grpc-status: 14` in the *trailers*.
#[derive(Clone)]
struct FailsInTrailers;

impl tonic::server::NamedService for FailsInTrailers {
    const NAME: &'static str = "hello.v1.Profiles";
}

impl tower::Service<http::Request<tonic::body::Body>> for FailsInTrailers {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: http::Request<tonic::body::Body>) -> Self::Future {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", "14".parse().unwrap());
        trailers.insert("grpc-message", "upstream%20gone".parse().unwrap());
        let frames: Vec<Result<Frame<prost::bytes::Bytes>, Infallible>> = vec![
            Ok(Frame::data(prost::bytes::Bytes::from_static(&[
                0, 0, 0, 0, 0,
            ]))),
            Ok(Frame::trailers(trailers)),
        ];
        let body = tonic::body::Body::new(StreamBody::new(futures::stream::iter(frames)));
        let mut res = http::Response::new(body);
        res.headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        std::future::ready(Ok(res))
    }
}

/// Histogram samples and gauge values seen so far, by (name, labels).
#[derive(Default)]
struct Seen {
    histograms: HashMap<(String, Vec<(String, String)>), usize>,
    gauges: HashMap<(String, Vec<(String, String)>), f64>,
}

impl Seen {
    fn take(&mut self, snapshotter: &Snapshotter) {
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let (kind, key) = key.into_parts();
            let mut labels: Vec<(String, String)> = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let id = (key.name().to_owned(), labels);
            match (kind, value) {
                (MetricKind::Histogram, DebugValue::Histogram(samples)) => {
                    *self.histograms.entry(id).or_default() += samples.len();
                }
                (MetricKind::Gauge, DebugValue::Gauge(v)) => {
                    self.gauges.insert(id, v.into_inner());
                }
                _ => {}
            }
        }
    }

    fn samples(&self, method: &str, status: &str) -> usize {
        let mut labels = vec![
            (RPC_METHOD.to_owned(), method.to_owned()),
            (RPC_STATUS_CODE.to_owned(), status.to_owned()),
            (RPC_SYSTEM_NAME.to_owned(), "grpc".to_owned()),
        ];
        labels.sort();
        self.histograms
            .get(&(RPC_SERVER_CALL_DURATION.to_owned(), labels))
            .copied()
            .unwrap_or(0)
    }
}

#[tokio::test]
async fn each_call_records_one_duration_sample_labelled_with_its_final_status() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let settings = ServerSettings::default();
    let router = tonic::transport::Server::builder()
        .layer(server::stack(&settings))
        .add_service(GreeterServer::new(TestGreeter::default()))
        .add_service(FailsInTrailers);
    tokio::spawn(router.serve_with_incoming(TcpIncoming::from(listener)));
    let mut greeter = client(addr).await;
    let mut seen = Seen::default();

    // In flight: the gauge counts a slow call while it runs.
    let mut slow = greeter.clone();
    let slow = tokio::spawn(async move { slow.say_hello(hello("slow:600")).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    seen.take(&snapshotter);
    let in_flight = (
        RPC_SERVER_IN_FLIGHT.to_owned(),
        vec![
            (
                RPC_METHOD.to_owned(),
                "hello.v1.Greeter/SayHello".to_owned(),
            ),
            (RPC_SYSTEM_NAME.to_owned(), "grpc".to_owned()),
        ],
    );
    assert_eq!(seen.gauges.get(&in_flight), Some(&1.0));
    slow.await.unwrap().unwrap();

    // OK: status 0 in the trailers. NOT_FOUND: trailers-only (status in headers).
    greeter.say_hello(hello("ada")).await.unwrap();
    greeter.say_hello(hello("fail")).await.unwrap_err();
    // UNAVAILABLE after a message, in the trailers.
    let mut profiles = ProfilesClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let status = profiles
        .get_profile(GetProfileRequest { name: "ada".into() })
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);

    // DEADLINE_EXCEEDED from the deadline layer (tonic's own grpc-timeout
    // handling outside the stack fires later and must not turn it into CANCELLED).
    let (code, _) =
        server_support::raw_say_hello(addr, "slow:1000", &[("grpc-timeout", "100m")]).await;
    assert_eq!(code, tonic::Code::DeadlineExceeded as i32);

    // Samples are recorded when the response body ends, a moment after the
    // client has its answer.
    for _ in 0..100 {
        seen.take(&snapshotter);
        if seen.samples("hello.v1.Profiles/GetProfile", "UNAVAILABLE") > 0
            && seen.samples("hello.v1.Greeter/SayHello", "OK") >= 2
            && seen.samples("hello.v1.Greeter/SayHello", "NOT_FOUND") > 0
            && seen.samples("hello.v1.Greeter/SayHello", "DEADLINE_EXCEEDED") > 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        seen.samples("hello.v1.Greeter/SayHello", "OK"),
        2,
        "{:?}",
        seen.histograms
    );
    assert_eq!(seen.samples("hello.v1.Greeter/SayHello", "NOT_FOUND"), 1);
    assert_eq!(
        seen.samples("hello.v1.Profiles/GetProfile", "UNAVAILABLE"),
        1
    );
    let total: usize = seen.histograms.values().sum();
    assert_eq!(total, 5, "one sample per call: {:?}", seen.histograms);
}
