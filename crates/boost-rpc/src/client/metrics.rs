//! The client's metrics, recorded through the `metrics` facade with handles
//! obtained once per label set (a macro call per record costs ~4× more).
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `rpc_client_call_duration_seconds` | histogram, per logical call | `rpc_system_name`, `rpc_method`, `rpc_status_code`, `client` |
//! | `rpc_client_attempts_total` | counter, per attempt | `client`, `rpc_method`, `outcome` (status code name), `endpoint` |
//! | `rpc_client_retries_total` | counter | `client`, `rpc_method` |
//! | `rpc_client_retry_budget_exhausted_total` | counter | `client`, `rpc_method` |
//! | `rpc_client_ejections_total` | counter | `client`, `endpoint`, `reason` |
//! | `rpc_client_endpoints` | gauge | `client`, `state` (`ready`, `ejected`, `reconnecting`) |
//! | `rpc_client_throttled_total` | counter, calls rejected locally by the throttle | `client` |
//! | `rpc_client_throttle_ratio` | gauge, 0 to 1 | `client` |
//!
//! Call durations go through boost-metrics' [`RpcMetrics`], the same handles
//! the server side uses. Per-call handles are created on the first call and
//! the endpoint gauges when the client is built, from the recorder in scope then (a
//! service's recorder is installed when its `boost_service::Service` is made).

use std::sync::{Arc, OnceLock};

use boost_metrics::conventions::{CLIENT, RPC_METHOD};
use boost_metrics::{MethodMetrics, RpcMetrics};
use metrics::{Counter, Gauge, SharedString};
use tonic::Code;

use crate::method_cache::{MethodCache, MethodRef};

// The names live in boost-metrics' conventions, which gives each its HELP text.
use boost_metrics::conventions::{
    RPC_CLIENT_ATTEMPTS_TOTAL, RPC_CLIENT_EJECTIONS_TOTAL, RPC_CLIENT_ENDPOINTS,
    RPC_CLIENT_RETRIES_TOTAL, RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL, RPC_CLIENT_THROTTLE_RATIO,
    RPC_CLIENT_THROTTLED_TOTAL,
};

/// The state of an endpoint ([`Client::endpoints`](super::Client::endpoints),
/// [`Eject::state`](super::eject::Eject::state)), as counted by the
/// `rpc_client_endpoints{state}` gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndpointState {
    /// Taking traffic.
    Ready,
    /// Ejected by outlier detection until its ejection time passes.
    Ejected,
    /// Its last connect failed; waiting for the reconnect backoff.
    Reconnecting,
}

impl EndpointState {
    /// The label value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Ejected => "ejected",
            Self::Reconnecting => "reconnecting",
        }
    }
}

use crate::status_code::code_name;

const CODES: usize = 17;

/// The attempt counters of one method, one per status code, created on first use.
#[derive(Debug)]
pub(crate) struct MethodHandles<H> {
    method: Box<str>,
    slots: [OnceLock<H>; CODES],
}

impl<H> MethodHandles<H> {
    /// The handle for `code`, made by `make(method)` the first time.
    pub(crate) fn get(&self, code: Code, make: impl FnOnce(&str) -> H) -> &H {
        let idx = (code as i32).clamp(0, CODES as i32 - 1) as usize;
        self.slots[idx].get_or_init(|| make(&self.method))
    }

    fn new(method: &str) -> Self {
        Self {
            method: method.into(),
            slots: std::array::from_fn(|_| OnceLock::new()),
        }
    }
}

/// The metric handles of one client (one upstream name).
#[derive(Debug)]
pub(crate) struct ClientMetrics {
    client: SharedString,
    calls: MethodCache<MethodMetrics>,
    retries: MethodCache<Counter>,
    exhausted: MethodCache<Counter>,
    endpoints: [Gauge; 3],
}

impl ClientMetrics {
    /// Handles for the client named `client` (the `client` label).
    pub(crate) fn new(client: &str) -> Arc<Self> {
        // Shared (`Arc<str>`): cloned per call, an owned string would be
        // copied into a fresh allocation on every clone.
        let client = SharedString::from_shared(Arc::from(client));
        let gauge = |state: EndpointState| metrics::gauge!(RPC_CLIENT_ENDPOINTS, CLIENT => client.clone(), "state" => state.as_str());
        Arc::new(Self {
            endpoints: [
                gauge(EndpointState::Ready),
                gauge(EndpointState::Ejected),
                gauge(EndpointState::Reconnecting),
            ],
            client,
            calls: MethodCache::default(),
            retries: MethodCache::default(),
            exhausted: MethodCache::default(),
        })
    }

    /// The throttle's rejection counter and probability gauge.
    pub(crate) fn throttle_handles(&self) -> (Counter, Gauge) {
        (
            metrics::counter!(RPC_CLIENT_THROTTLED_TOTAL, CLIENT => self.client.clone()),
            metrics::gauge!(RPC_CLIENT_THROTTLE_RATIO, CLIENT => self.client.clone()),
        )
    }

    /// The client name.
    pub(crate) fn client(&self) -> &str {
        &self.client
    }

    /// The duration histograms of `method`, to record once its status is known.
    pub(crate) fn call_recorder(self: &Arc<Self>, method: &str) -> CallRecorder {
        CallRecorder {
            method: self.calls.find(method, |method| {
                // Shared (`Arc<str>`): an owned string is copied on every clone.
                RpcMetrics::client(self.client.clone())
                    .method(SharedString::from_shared(Arc::from(method)))
            }),
            metrics: self.clone(),
        }
    }

    /// Counts a retry of `method`.
    pub(crate) fn record_retry(&self, method: &str) {
        let found = self.retries.find(method, |method| {
            metrics::counter!(RPC_CLIENT_RETRIES_TOTAL, CLIENT => self.client.clone(), RPC_METHOD => method.to_owned())
        });
        if let Some(counter) = self.retries.get(&found) {
            counter.increment(1);
        }
    }

    /// Counts a retry refused by the budget.
    pub(crate) fn record_budget_exhausted(&self, method: &str) {
        let found = self.exhausted.find(method, |method| {
            metrics::counter!(RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL, CLIENT => self.client.clone(), RPC_METHOD => method.to_owned())
        });
        if let Some(counter) = self.exhausted.get(&found) {
            counter.increment(1);
        }
    }

    /// Moves one endpoint between states in the endpoints gauge
    /// (`None` = not counted: added or removed).
    pub(crate) fn endpoint_moved(&self, from: Option<EndpointState>, to: Option<EndpointState>) {
        if from == to {
            return;
        }
        if let Some(s) = from {
            self.endpoints[s as usize].decrement(1.0);
        }
        if let Some(s) = to {
            self.endpoints[s as usize].increment(1.0);
        }
    }

    /// Metric handles for one endpoint of this client.
    pub(crate) fn endpoint(self: &Arc<Self>, endpoint: &str) -> EndpointMetrics {
        EndpointMetrics {
            client: self.clone(),
            endpoint: SharedString::from_shared(Arc::from(endpoint)),
            attempts: Arc::new(MethodCache::default()),
        }
    }
}

/// The metric handles of one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct EndpointMetrics {
    client: Arc<ClientMetrics>,
    endpoint: SharedString,
    attempts: Arc<MethodCache<MethodHandles<Counter>>>,
}

impl EndpointMetrics {
    /// The client's handles.
    pub(crate) fn client(&self) -> &Arc<ClientMetrics> {
        &self.client
    }

    /// The attempt counters of `method`, to count once the outcome is known.
    pub(crate) fn attempt_recorder(&self, method: &str) -> AttemptRecorder {
        AttemptRecorder {
            method: self.attempts.find(method, MethodHandles::new),
        }
    }

    /// Counts an ejection of this endpoint.
    pub(crate) fn record_ejection(&self, reason: &'static str) {
        metrics::counter!(RPC_CLIENT_EJECTIONS_TOTAL,
            CLIENT => self.client.client.clone(),
            "endpoint" => self.endpoint.clone(),
            "reason" => reason)
        .increment(1);
    }
}

/// Records one call's duration once its status is known.
#[derive(Debug)]
pub(crate) struct CallRecorder {
    metrics: Arc<ClientMetrics>,
    method: MethodRef<MethodMetrics>,
}

impl CallRecorder {
    pub(crate) fn record(&self, code: Code, seconds: f64) {
        if let Some(handles) = self.metrics.calls.get(&self.method) {
            handles.record_seconds(code as i32, seconds);
        }
    }
}

/// Counts one attempt once its outcome is known, into the endpoint's
/// counters (it keeps only where they are).
#[derive(Debug)]
pub(crate) struct AttemptRecorder {
    method: MethodRef<MethodHandles<Counter>>,
}

impl AttemptRecorder {
    pub(crate) fn record(&self, endpoint: &EndpointMetrics, code: Code) {
        let Some(handles) = endpoint.attempts.get(&self.method) else {
            return;
        };
        handles
            .get(code, |method| {
                metrics::counter!(RPC_CLIENT_ATTEMPTS_TOTAL,
                    CLIENT => endpoint.client.client.clone(),
                    RPC_METHOD => method.to_owned(),
                    "outcome" => code_name(code),
                    "endpoint" => endpoint.endpoint.clone())
            })
            .increment(1);
    }
}
