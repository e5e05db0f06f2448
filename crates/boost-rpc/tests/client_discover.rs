//! DNS discovery (issue 6: i): a re-resolved name adds and removes endpoints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod client_support;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use boost_rpc::client::{Client, ClientSettings, DnsSettings, Resolver};
use boost_test_proto::greeter_client::GreeterClient;
use client_support::{Fault, Upstream, hello};

/// A resolver the test drives: it answers whatever was set last.
struct TestResolver {
    answer: Mutex<io::Result<Vec<SocketAddr>>>,
}

impl TestResolver {
    fn new(answer: io::Result<Vec<SocketAddr>>) -> Arc<Self> {
        Arc::new(Self {
            answer: Mutex::new(answer),
        })
    }

    fn set(&self, answer: io::Result<Vec<SocketAddr>>) {
        *self.answer.lock().unwrap() = answer;
    }
}

impl Resolver for TestResolver {
    fn resolve<'a>(
        &'a self,
        _name: &'a str,
        _port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        let answer = match &*self.answer.lock().unwrap() {
            Ok(addrs) => Ok(addrs.clone()),
            Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
        };
        Box::pin(async move { answer })
    }
}

fn dns_client(resolver: Arc<TestResolver>) -> Client {
    let mut dns = DnsSettings::default();
    dns.name = "greeter.test".into();
    dns.refresh = Duration::from_millis(50);
    let mut settings = ClientSettings::default();
    settings.dns = Some(dns);
    Client::builder("greeter", &settings)
        .resolver(resolver)
        .build()
        .unwrap()
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn re_resolution_picks_up_a_changed_address_set() {
    let a = Upstream::start(Fault::None).await;
    let b = Upstream::start(Fault::None).await;
    let resolver = TestResolver::new(Ok(vec![a.addr]));
    let client = dns_client(resolver.clone());
    let mut greeter = GreeterClient::new(client.clone());

    // The first call waits for the first resolution instead of failing.
    for _ in 0..10 {
        greeter.say_hello(hello(1)).await.unwrap();
    }
    assert_eq!((a.state.attempts(), b.state.attempts()), (10, 0));

    resolver.set(Ok(vec![b.addr]));
    wait_until(|| {
        client
            .endpoints()
            .iter()
            .map(|(k, _)| k.clone())
            .collect::<Vec<_>>()
            == [b.addr.to_string()]
    })
    .await;
    for _ in 0..10 {
        greeter.say_hello(hello(1)).await.unwrap();
    }
    assert_eq!((a.state.attempts(), b.state.attempts()), (10, 10));

    // A failed lookup keeps the endpoints already known.
    resolver.set(Err(io::Error::other("SERVFAIL")));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(client.endpoints().len(), 1);
    greeter.say_hello(hello(1)).await.unwrap();

    resolver.set(Ok(vec![a.addr, b.addr]));
    wait_until(|| client.endpoints().len() == 2).await;
    assert_eq!(client.endpoints().len(), 2);
}

#[tokio::test]
async fn a_name_with_no_addresses_fails_fast_and_says_so() {
    let resolver = TestResolver::new(Ok(vec![]));
    let mut greeter = GreeterClient::new(dns_client(resolver));
    let status = greeter.say_hello(hello(1)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert!(
        status.message().contains("greeter.test"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("no addresses"),
        "{}",
        status.message()
    );
}

/// A resolver that never answers.
struct HangingResolver;

impl Resolver for HangingResolver {
    fn resolve<'a>(
        &'a self,
        _name: &'a str,
        _port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(std::future::pending())
    }
}

#[tokio::test]
async fn waiting_for_a_first_resolution_is_bounded_by_the_deadline() {
    let mut dns = DnsSettings::default();
    dns.name = "greeter.test".into();
    let mut settings = ClientSettings::default();
    settings.dns = Some(dns);
    settings.timeout = Duration::from_millis(100);
    let client = Client::builder("greeter", &settings)
        .resolver(Arc::new(HangingResolver))
        .build()
        .unwrap();
    let started = Instant::now();
    let status = GreeterClient::new(client)
        .say_hello(hello(1))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        status.message().contains("discovery"),
        "{}",
        status.message()
    );
}
