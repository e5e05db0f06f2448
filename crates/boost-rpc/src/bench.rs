//! Hooks for the benchmarks in `benches/` (cargo feature `bench`): the
//! internals the public API does not offer, to measure each client layer
//! alone over the same endpoint a [`Client`](crate::client::Client) uses.
//! Not part of the API: anything here may change in any release.

use std::sync::Arc;

use crate::client::balance::{Balance, EndpointSet};
use tower::Layer;

use crate::client::eject::{Eject, Health};
use crate::client::sanitize::{Sanitize, SanitizeLayer};
use crate::client::{ClientMetrics, ClientSettings};

/// The bottom of a client's stack over one endpoint, as
/// [`client()`](crate::client()) builds it: `service` with its answers
/// checked (counting attempts) behind ejection (with the client's endpoint
/// metrics, key `key`), and a balancer over that one endpoint that sees its
/// health.
pub fn endpoint<S: Clone>(
    client: &str,
    settings: &ClientSettings,
    key: &str,
    service: S,
) -> (Eject<Sanitize<S>>, Balance<Eject<Sanitize<S>>>) {
    let metrics = ClientMetrics::new(client);
    let service = SanitizeLayer::with_metrics(
        settings.max_response_metadata_bytes(),
        metrics.endpoint(key),
    )
    .layer(service);
    let health = Arc::new(Health::new(
        settings.ejection.clone(),
        settings.reconnect.clone(),
        Some(metrics.endpoint(key)),
    ));
    let eject = Eject::new(service, health.clone());
    let set = EndpointSet::new(
        client,
        &settings.balance,
        settings.ejection.max_ejected_percent,
    );
    set.insert(key.to_owned(), eject.clone(), Some(health));
    set.mark_resolved(None);
    (eject, Balance::over(set))
}

/// A lazily connecting channel to `uri` (`https://host:port`) whose
/// connections go through the connector a [`Client`](crate::client::Client)
/// with `https://` endpoints uses: TCP, the TLS handshake with `tls`' config
/// (ALPN `h2`), and the wait for the server's acceptance of a TLS 1.3
/// handshake, all within `connect_timeout`. To measure new connections.
pub fn tls_channel(
    tls: &boost_tls::ClientTls,
    uri: &http::Uri,
    connect_timeout: std::time::Duration,
) -> tonic::transport::Channel {
    crate::client::tls_channel(tls, uri, connect_timeout)
}

/// The client as it was before tapes: the same stack, called directly with
/// its future boxed once, without [`Client`](crate::client::Client)'s choice
/// between a stack with or without a tape. To measure what that choice
/// costs with `tape.mode = "off"`.
#[derive(Clone)]
pub struct PlainClient {
    inner: crate::client::stack::Stack,
    _keep: Arc<dyn std::any::Any + Send + Sync>,
}

impl std::fmt::Debug for PlainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainClient").finish_non_exhaustive()
    }
}

/// A [`PlainClient`] named `name` over `settings` (its tape settings ignored).
///
/// # Errors
/// As [`client()`](crate::client()).
pub fn plain_client(name: &str, settings: &ClientSettings) -> Result<PlainClient, crate::RpcError> {
    let metrics = ClientMetrics::new(name);
    let resolver: Arc<dyn crate::client::Resolver> = Arc::new(crate::client::SystemResolver);
    let (upstream, watch, status) =
        crate::client::connect(name, settings, resolver, metrics.clone())?;
    let inner = crate::client::observe::ObserveLayer::with_metrics(metrics).layer(upstream);
    Ok(PlainClient {
        inner,
        _keep: Arc::new((watch, status)),
    })
}

type PlainFuture = std::pin::Pin<
    Box<<crate::client::stack::Stack as tower::Service<http::Request<tonic::body::Body>>>::Future>,
>;

impl tower::Service<http::Request<tonic::body::Body>> for PlainClient {
    type Response = http::Response<crate::client::observe::ResponseBody>;
    type Error = crate::RpcError;
    type Future = PlainFuture;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), crate::RpcError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> PlainFuture {
        Box::pin(self.inner.call(request))
    }
}
