//! [`stack`]: the layers of a [`Client`](super::Client), in order.

use std::sync::{Arc, Weak};

use http::Uri;
use tonic::transport::Channel;
use tower::discover::Change;
use tower::{Layer, ServiceBuilder};

use super::balance::{Balance, EndpointSet};
use super::deadline::{Deadline, DeadlineLayer};
use super::discover::DnsDiscover;
use super::eject::{Eject, Health};
use super::limit::{ConcurrencyLimit, ConcurrencyLimitLayer};
use super::metrics::ClientMetrics;
use super::observe::Observe;
use super::retry::{Retry, RetryLayer};
use super::sanitize::{Sanitize, SanitizeLayer, TRANSPORT_METADATA_LIMIT};
use super::settings::ClientSettings;
use super::throttle::{ThrottleLayer, ThrottleService};
use super::tls::EndpointTls;

/// One endpoint as the client sends to it: a lazily connecting tonic channel
/// whose answers are checked, behind outlier ejection.
pub(crate) type EndpointService = Eject<Sanitize<Channel>>;

/// The stack below observation: what sends a call to the upstream.
pub(crate) type Upstream =
    Deadline<ConcurrencyLimit<ThrottleService<Retry<Balance<EndpointService>>>>>;

/// The full stack of a client, outermost first.
pub(crate) type Stack = Observe<Upstream>;

/// The stack of a client with a tape: the tape answers or records under
/// observation, so replayed calls are traced and measured like live ones.
#[cfg(feature = "tape")]
pub(crate) type TapedStack = Observe<super::tape::Tape<Upstream>>;

/// The stack under [`ObserveLayer`] (which traces and measures a call
/// once, retries included). Read top to bottom, a call:
pub(crate) fn upstream(
    settings: &ClientSettings,
    metrics: Arc<ClientMetrics>,
    endpoints: Arc<EndpointSet<EndpointService>>,
) -> Upstream {
    let concurrency = &settings.concurrency;
    ServiceBuilder::new()
        // gets one deadline: the earliest of timeout, per-call and inbound
        // (enforced per attempt by tonic's channel via grpc-timeout);
        .layer(DeadlineLayer::transport_enforced(settings.timeout))
        // waits briefly for one of `limit` slots, else RESOURCE_EXHAUSTED;
        .layer(ConcurrencyLimitLayer::new(
            concurrency.limit,
            concurrency.max_wait,
        ))
        // is rejected locally while the upstream refuses most calls;
        .layer(ThrottleLayer::with_metrics(
            &settings.throttle,
            settings.timeout,
            Some(metrics.throttle_handles()),
        ))
        // is retried on UNAVAILABLE within the retry budget;
        .layer(RetryLayer::with_metrics(&settings.retry, metrics))
        // and each attempt goes to the better of two random endpoints.
        .service(Balance::over(endpoints))
}

/// Builds the service of a newly discovered endpoint: a plaintext channel,
/// or one whose connections go through `tls` when the client uses TLS.
pub(crate) fn make_endpoint(
    settings: &ClientSettings,
    metrics: &Arc<ClientMetrics>,
    tls: Option<&EndpointTls>,
    key: &str,
    uri: Uri,
) -> (EndpointService, Option<Arc<Health>>) {
    let max_metadata = settings.max_response_metadata_bytes();
    let endpoint = |uri: Uri| {
        tonic::transport::Endpoint::from(uri)
            .tcp_nodelay(true)
            // Large enough that h2 never resets or closes for a big header
            // block below it; `Sanitize` fails the one call past `max_metadata`.
            .http2_max_header_list_size(
                TRANSPORT_METADATA_LIMIT.max(u32::try_from(max_metadata).unwrap_or(u32::MAX)),
            )
    };
    let channel = match tls {
        None => endpoint(uri)
            .connect_timeout(settings.connect_timeout)
            .connect_lazy(),
        Some(tls) => {
            // The connector bounds connect + handshake by `connect_timeout`
            // itself (so a timeout is a failed connect); tonic dials the
            // `http://` form of the address, and requests carry the
            // `https://` origin.
            let (connect, origin) = tls.endpoint(&uri, settings.connect_timeout);
            endpoint(plain(&uri))
                .origin(origin)
                .connect_with_connector_lazy(connect)
        }
    };
    let checked = SanitizeLayer::with_metrics(max_metadata, metrics.endpoint(key)).layer(channel);
    let health = Arc::new(Health::new(
        settings.ejection.clone(),
        settings.reconnect.clone(),
        Some(metrics.endpoint(key)),
    ));
    (Eject::new(checked, health.clone()), Some(health))
}

/// A channel to `uri` over `tls` alone, as `make_endpoint` makes one (for
/// the benchmarks).
#[cfg(feature = "bench")]
pub(crate) fn tls_channel(
    tls: &boost_tls::ClientTls,
    uri: &Uri,
    connect_timeout: std::time::Duration,
) -> Channel {
    let (connect, origin) = EndpointTls::new(tls, None).endpoint(uri, connect_timeout);
    tonic::transport::Endpoint::from(plain(uri))
        .tcp_nodelay(true)
        .origin(origin)
        .connect_with_connector_lazy(connect)
}

/// `uri` with the `http` scheme: what tonic's channel is given to dial when
/// the connector does TLS itself (tonic would refuse `https` without its own
/// TLS).
fn plain(uri: &Uri) -> Uri {
    let mut parts = uri.clone().into_parts();
    parts.scheme = Some(http::uri::Scheme::HTTP);
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

/// Feeds `set` from `dns` until the set (the client) is dropped.
pub(crate) fn spawn_dns(
    mut dns: DnsDiscover,
    set: Weak<EndpointSet<EndpointService>>,
    settings: ClientSettings,
    metrics: Arc<ClientMetrics>,
    tls: Option<EndpointTls>,
) {
    tokio::spawn(async move {
        loop {
            let result = dns.resolve_changes().await;
            let Some(set) = set.upgrade() else { return };
            match result {
                Ok(changes) => {
                    for change in changes {
                        if let Change::Insert(key, _) = &change {
                            tracing::info!(client = metrics.client(), endpoint = %key, "endpoint added");
                        }
                        set.apply(change, |key, uri| {
                            make_endpoint(&settings, &metrics, tls.as_ref(), key, uri)
                        });
                    }
                    let why = dns
                        .is_empty()
                        .then(|| format!("DNS name {} resolved to no addresses", dns.target()));
                    set.mark_resolved(why);
                }
                Err(e) => {
                    tracing::warn!(client = metrics.client(), target = %dns.target(), error = %e, "DNS lookup failed; keeping known endpoints");
                    if set.snapshot().is_empty() {
                        set.mark_resolved(Some(format!(
                            "DNS lookup of {} failed: {e}",
                            dns.target()
                        )));
                    }
                }
            }
            drop(set);
            tokio::time::sleep(dns.refresh()).await;
        }
    });
}
