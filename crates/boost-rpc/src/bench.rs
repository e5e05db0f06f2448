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
