//! [`ClientStatus`]: what a [`Client`](super::Client) shows on `/upstreams`
//! (see [`crate::upstreams`]).

use std::sync::Arc;
use std::time::Instant;

use super::balance::EndpointSet;
use super::retry::RetryBudget;
use super::settings::ClientSettings;
use super::stack::EndpointService;
use super::throttle::Throttle;
use crate::client::EndpointState;
use crate::upstreams::{Upstream, UpstreamEndpoint, UpstreamKind, UpstreamStatus};

/// A read-only view of one client's endpoints, throttle and retry budget.
#[derive(Debug)]
pub(crate) struct ClientStatus {
    name: String,
    target: String,
    endpoints: Arc<EndpointSet<EndpointService>>,
    throttle: Arc<Throttle>,
    budget: RetryBudget,
}

impl ClientStatus {
    pub(crate) fn new(
        name: &str,
        settings: &ClientSettings,
        endpoints: Arc<EndpointSet<EndpointService>>,
        throttle: Arc<Throttle>,
        budget: RetryBudget,
    ) -> Self {
        Self {
            name: name.to_owned(),
            target: target(settings),
            endpoints,
            throttle,
            budget,
        }
    }
}

/// The configured endpoints, or the DNS name the client resolves.
fn target(settings: &ClientSettings) -> String {
    if !settings.endpoints.is_empty() {
        return settings.endpoints.join(",");
    }
    match &settings.dns {
        Some(dns) => format!("dns:{}:{}", dns.name, dns.port),
        None => String::new(),
    }
}

impl UpstreamStatus for ClientStatus {
    fn status(&self) -> Upstream {
        let now = Instant::now();
        let mut upstream = Upstream::new(UpstreamKind::Grpc, &self.name, &self.target);
        upstream.endpoints = self
            .endpoints
            .snapshot()
            .iter()
            .map(|e| match e.health() {
                None => UpstreamEndpoint::new(e.key(), EndpointState::Ready),
                Some(h) => {
                    let mut endpoint = UpstreamEndpoint::new(e.key(), h.state());
                    endpoint.back_in = h.back_in(now);
                    endpoint.consecutive_failures = h.consecutive_failures();
                    endpoint.reason = h.reason();
                    endpoint
                }
            })
            .collect();
        upstream.throttle = Some(self.throttle.state(now));
        upstream.retry_budget = Some(self.budget.balance());
        upstream
    }
}
