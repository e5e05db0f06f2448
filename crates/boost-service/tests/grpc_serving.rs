//! gRPC serving inside the service lifecycle: health follows readiness and
//! shutdown, in-flight calls drain, new calls are refused, reflection lists
//! the services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use boost_config::ServiceIdentity;
use boost_service::grpc::{GrpcServer, GrpcSettings};
use boost_service::{
    AdminSettings, LifecycleSettings, Phase, RunningService, Service, ServiceBuilder,
};
use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::greeter_server::{Greeter, GreeterServer};
use boost_test_proto::{FILE_DESCRIPTOR_SET, HelloReply, HelloRequest};
use tonic::service::Routes;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Sleeps for the number of milliseconds in the name (`"200"`), then greets.
struct SlowGreeter;

/// Slow calls that reached the handler (only the drain test makes them).
static SLOW_STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[tonic::async_trait]
impl Greeter for SlowGreeter {
    async fn say_hello(
        &self,
        request: tonic::Request<HelloRequest>,
    ) -> Result<tonic::Response<HelloReply>, tonic::Status> {
        let name = request.into_inner().name;
        if let Ok(ms) = name.parse() {
            SLOW_STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        Ok(tonic::Response::new(HelloReply {
            message: format!("hello {name}"),
        }))
    }
}

async fn start(drain_delay: Duration, reflection: bool) -> (RunningService, SocketAddr) {
    start_with(drain_delay, reflection, |b| b).await
}

async fn start_with(
    drain_delay: Duration,
    reflection: bool,
    extra: impl FnOnce(boost_service::ServiceBuilder) -> boost_service::ServiceBuilder,
) -> (RunningService, SocketAddr) {
    let mut settings = GrpcSettings::new("127.0.0.1:0".parse().unwrap());
    settings.server.reflection = reflection;
    let grpc = GrpcServer::new(settings, Routes::new(GreeterServer::new(SlowGreeter)))
        .file_descriptor_set(FILE_DESCRIPTOR_SET)
        .bind()
        .unwrap();
    let addr = grpc.local_addr().unwrap();
    let builder = ServiceBuilder::new(ServiceIdentity::new("grpc-test", "1.0.0"))
        .without_telemetry()
        .handle_signals(false)
        .admin(AdminSettings::new("127.0.0.1:0".parse().unwrap()))
        .lifecycle(
            LifecycleSettings::default()
                .with_drain_delay(drain_delay)
                .with_shutdown_timeout(Duration::from_secs(10)),
        )
        .grpc(grpc);
    let running = extra(builder).start().await.unwrap();
    (running, addr)
}

async fn channel(addr: SocketAddr) -> tonic::transport::Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn health(addr: SocketAddr, service: &str) -> Result<ServingStatus, tonic::Status> {
    let mut client = HealthClient::new(channel(addr).await);
    let reply = client
        .check(HealthCheckRequest {
            service: service.into(),
        })
        .await?;
    Ok(reply.into_inner().status())
}

async fn wait_for_health(addr: SocketAddr, service: &str, want: ServingStatus) -> Duration {
    let started = Instant::now();
    loop {
        if health(addr, service).await.ok() == Some(want) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "health never became {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn health_is_serving_then_not_serving_as_soon_as_shutdown_starts() {
    // A long drain delay: the server still answers while draining.
    let (running, addr) = start(Duration::from_secs(3), false).await;
    wait_for_health(addr, "", ServingStatus::Serving).await;
    wait_for_health(addr, "hello.v1.Greeter", ServingStatus::Serving).await;

    let shutdown = running.shutdown_handle();
    let lifecycle = running.lifecycle().clone();
    let run = tokio::spawn(running.wait());
    shutdown.trigger();
    let took = wait_for_health(addr, "", ServingStatus::NotServing).await;
    assert!(took < Duration::from_secs(1), "NOT_SERVING after {took:?}");
    assert_eq!(
        health(addr, "hello.v1.Greeter").await.unwrap(),
        ServingStatus::NotServing
    );
    // Still draining: calls are served while load balancers notice.
    assert_eq!(lifecycle.phase(), Phase::Draining);
    let mut client = GreeterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    client
        .say_hello(HelloRequest { name: "ada".into() })
        .await
        .unwrap();

    run.await.unwrap().unwrap();
}

#[tokio::test]
async fn health_follows_the_readiness_checks() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let upstream_down = Arc::new(AtomicBool::new(false));
    let flag = upstream_down.clone();
    let (running, addr) = start_with(Duration::ZERO, false, move |builder| {
        builder
            .lifecycle(
                LifecycleSettings::default()
                    .with_drain_delay(Duration::ZERO)
                    .with_readiness_cache_ttl(Duration::from_millis(100)),
            )
            .readiness_check("upstream", move || {
                let down = flag.load(Ordering::SeqCst);
                async move {
                    if down {
                        Err(std::io::Error::other("upstream down"))
                    } else {
                        Ok(())
                    }
                }
            })
    })
    .await;
    wait_for_health(addr, "", ServingStatus::Serving).await;

    upstream_down.store(true, Ordering::SeqCst);
    wait_for_health(addr, "", ServingStatus::NotServing).await;
    upstream_down.store(false, Ordering::SeqCst);
    wait_for_health(addr, "", ServingStatus::Serving).await;

    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_in_flight_calls_finish_and_refuses_new_ones() {
    let (running, addr) = start(Duration::ZERO, false).await;
    let client = GreeterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let shutdown = running.shutdown_handle();
    let mut phases = running.lifecycle().watch_phase();
    let run = tokio::spawn(running.wait());

    let calls: Vec<_> = (0..50)
        .map(|_| {
            let mut client = client.clone();
            tokio::spawn(async move { client.say_hello(HelloRequest { name: "200".into() }).await })
        })
        .collect();
    // Wait until all 50 are in their handlers.
    let waiting = Instant::now();
    while SLOW_STARTED.load(std::sync::atomic::Ordering::SeqCst) < 50 {
        assert!(
            waiting.elapsed() < Duration::from_secs(5),
            "calls never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let stopped_at = Instant::now();
    shutdown.trigger();
    phases.wait_for(|p| *p >= Phase::Stopping).await.unwrap();

    // New calls are refused — on a new connection (the listener is closed) and
    // as new streams on the draining connection (HTTP/2 GOAWAY). Allow the
    // server a moment to act on the stop.
    let refused_by = Instant::now() + Duration::from_secs(2);
    loop {
        let fresh = match GreeterClient::connect(format!("http://{addr}")).await {
            Ok(mut fresh) => fresh
                .say_hello(HelloRequest {
                    name: "late".into(),
                })
                .await
                .is_err(),
            Err(_) => true,
        };
        let old = client
            .clone()
            .say_hello(HelloRequest {
                name: "late".into(),
            })
            .await
            .is_err();
        if fresh && old {
            break;
        }
        assert!(
            Instant::now() < refused_by,
            "calls still served after stop_accepting"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    for call in calls {
        let reply = call.await.unwrap().expect("in-flight call completes OK");
        assert_eq!(reply.into_inner().message, "hello 200");
    }
    run.await.unwrap().expect("clean shutdown");
    assert!(
        stopped_at.elapsed() < Duration::from_secs(5),
        "drain took {:?}",
        stopped_at.elapsed()
    );
}

/// The services reflection `$version` (v1 or v1alpha) lists.
macro_rules! list_services {
    ($version:ident, $addr:expr) => {{
        use tonic_reflection::pb::$version::ServerReflectionRequest;
        use tonic_reflection::pb::$version::server_reflection_client::ServerReflectionClient;
        use tonic_reflection::pb::$version::server_reflection_request::MessageRequest;
        use tonic_reflection::pb::$version::server_reflection_response::MessageResponse;

        let mut client = ServerReflectionClient::new(channel($addr).await);
        let request = ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut replies = client
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let reply = replies.message().await.unwrap().unwrap();
        drop(replies);
        let Some(MessageResponse::ListServicesResponse(list)) = reply.message_response else {
            panic!("unexpected reply {reply:?}");
        };
        list.service
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<String>>()
    }};
}

#[tokio::test]
async fn reflection_lists_the_service() {
    let (running, addr) = start(Duration::ZERO, true).await;
    let names = list_services!(v1, addr);
    assert!(names.contains(&"hello.v1.Greeter".to_owned()), "{names:?}");
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );

    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

/// grpcio's reflection client (and older grpcurl) speak v1alpha only; both
/// versions list the same services.
#[tokio::test]
async fn reflection_v1alpha_lists_the_same_services_as_v1() {
    let (running, addr) = start(Duration::ZERO, true).await;
    let v1alpha = list_services!(v1alpha, addr);
    for service in [
        "hello.v1.Greeter",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    ] {
        assert!(
            v1alpha.contains(&service.to_owned()),
            "{service}: {v1alpha:?}"
        );
    }
    assert_eq!(list_services!(v1, addr), v1alpha);

    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test]
async fn reflection_can_be_switched_off() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;

    let (running, addr) = start(Duration::ZERO, false).await;
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let status = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);

    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

/// A service's whole configuration, as the loader makes it: no files, no
/// environment, these `--set` arguments.
fn config(sets: &[&str]) -> boost_config::Loaded<boost_service::Config<boost_service::NoSettings>> {
    let mut args = Vec::new();
    for set in [
        "admin.listen=127.0.0.1:0",
        "grpc.listen=127.0.0.1:0",
        "lifecycle.drain_delay=0s",
    ]
    .iter()
    .chain(sets)
    {
        args.extend(["--set".to_owned(), (*set).to_owned()]);
    }
    boost_config::Loader::new("grpc-config-test")
        .dir("no/such/dir")
        .env_vars([("APP_ENV", "")])
        .args(args)
        .load()
        .unwrap()
}

#[tokio::test]
async fn a_service_made_from_its_config_serves_grpc_on_grpc_listen_with_config_shown() {
    let running = Service::without_telemetry(config(&["service.team=greeters"]))
        .handle_signals(false)
        .grpc(GreeterServer::new(SlowGreeter))
        .file_descriptor_set(FILE_DESCRIPTOR_SET)
        .start()
        .await
        .unwrap();
    let addr = running.grpc_addr().unwrap();
    let mut client = GreeterClient::connect(format!("http://{addr}"))
        .await
        .unwrap();
    let reply = client
        .say_hello(HelloRequest { name: "ada".into() })
        .await
        .unwrap();
    assert_eq!(reply.into_inner().message, "hello ada");

    let config = reqwest::get(format!("http://{}/config", running.admin_addr()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let team = config
        .lines()
        .find(|l| l.starts_with("team = "))
        .unwrap_or_default();
    assert!(
        team.contains("\"greeters\"") && team.ends_with("# --set"),
        "{config}"
    );
    assert!(config.contains("[grpc.server]"), "{config}");

    running.shutdown_handle().trigger();
    running.wait().await.unwrap();
}

#[tokio::test]
async fn a_busy_grpc_listen_fails_the_start_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = format!("grpc.listen={}", taken.local_addr().unwrap());
    let err = Service::without_telemetry(config(&[busy.as_str()]))
        .handle_signals(false)
        .grpc(GreeterServer::new(SlowGreeter))
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, boost_service::Error::Grpc(_)), "{err:?}");
    assert!(err.to_string().contains("grpc.listen"), "{err}");
}
