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
//!
//! Handles are created on first use, so install the recorder (boost-metrics)
//! before the first call.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use boost_metrics::conventions::{
    CLIENT, RPC_CLIENT_CALL_DURATION, RPC_METHOD, RPC_STATUS_CODE, RPC_SYSTEM_GRPC, RPC_SYSTEM_NAME,
};
use metrics::{Counter, Gauge, Histogram, SharedString};
use tonic::Code;

// The names live in boost-metrics' conventions, which gives each its HELP text.
pub use boost_metrics::conventions::{
    RPC_CLIENT_ATTEMPTS_TOTAL, RPC_CLIENT_EJECTIONS_TOTAL, RPC_CLIENT_ENDPOINTS,
    RPC_CLIENT_RETRIES_TOTAL, RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL,
};

/// The state of an endpoint, as counted by [`RPC_CLIENT_ENDPOINTS`].
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

pub use crate::status_code::code_name;

/// Parses a code name as written in settings (`"UNAVAILABLE"`, case-insensitive).
pub fn parse_code(name: &str) -> Option<Code> {
    (0..17)
        .map(Code::from_i32)
        .find(|c| code_name(*c).eq_ignore_ascii_case(name.trim()))
}

const CODES: usize = 17;

/// The handles of one method, one per status code, created on first use.
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
}

/// Handles per method × status code. A lookup by method is one read lock and
/// one hash; nothing is allocated after the first call of a method.
#[derive(Debug)]
pub(crate) struct MethodCache<H> {
    map: RwLock<HashMap<Box<str>, Arc<MethodHandles<H>>>>,
}

impl<H> Default for MethodCache<H> {
    fn default() -> Self {
        Self {
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<H> MethodCache<H> {
    /// The handles of `method`.
    pub(crate) fn method(&self, method: &str) -> Arc<MethodHandles<H>> {
        if let Ok(map) = self.map.read()
            && let Some(handles) = map.get(method)
        {
            return handles.clone();
        }
        let mut map = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(method.into())
            .or_insert_with(|| {
                Arc::new(MethodHandles {
                    method: method.into(),
                    slots: std::array::from_fn(|_| OnceLock::new()),
                })
            })
            .clone()
    }
}

/// The metric handles of one client (one upstream name).
#[derive(Debug)]
pub struct ClientMetrics {
    client: SharedString,
    calls: MethodCache<Histogram>,
    retries: MethodCache<Counter>,
    exhausted: MethodCache<Counter>,
    endpoints: [Gauge; 3],
}

impl ClientMetrics {
    /// Handles for the client named `client` (the `client` label).
    pub fn new(client: &str) -> Arc<Self> {
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

    /// The client name.
    pub fn client(&self) -> &str {
        &self.client
    }

    /// Records one logical call.
    pub fn record_call(&self, method: &str, code: Code, seconds: f64) {
        self.call_recorder(method).record(code, seconds);
    }

    /// The duration histograms of `method`, to record once its status is known.
    pub(crate) fn call_recorder(&self, method: &str) -> CallRecorder {
        CallRecorder {
            client: self.client.clone(),
            handles: self.calls.method(method),
        }
    }

    /// Counts a retry of `method`.
    pub fn record_retry(&self, method: &str) {
        self.retries
            .method(method)
            .get(Code::Ok, |method| {
                metrics::counter!(RPC_CLIENT_RETRIES_TOTAL, CLIENT => self.client.clone(), RPC_METHOD => method.to_owned())
            })
            .increment(1);
    }

    /// Counts a retry refused by the budget.
    pub fn record_budget_exhausted(&self, method: &str) {
        self.exhausted
            .method(method)
            .get(Code::Ok, |method| {
                metrics::counter!(RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL, CLIENT => self.client.clone(), RPC_METHOD => method.to_owned())
            })
            .increment(1);
    }

    /// Moves one endpoint between states in the endpoints gauge
    /// (`None` = not counted: added or removed).
    pub fn endpoint_moved(&self, from: Option<EndpointState>, to: Option<EndpointState>) {
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
    pub fn endpoint(self: &Arc<Self>, endpoint: &str) -> EndpointMetrics {
        EndpointMetrics {
            client: self.clone(),
            endpoint: SharedString::from_shared(Arc::from(endpoint)),
            attempts: Arc::new(MethodCache::default()),
        }
    }
}

/// The metric handles of one endpoint.
#[derive(Debug, Clone)]
pub struct EndpointMetrics {
    client: Arc<ClientMetrics>,
    endpoint: SharedString,
    attempts: Arc<MethodCache<Counter>>,
}

impl EndpointMetrics {
    /// The client's handles.
    pub fn client(&self) -> &Arc<ClientMetrics> {
        &self.client
    }

    /// The endpoint label.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Counts one attempt of `method` that ended with `code`.
    pub fn record_attempt(&self, method: &str, code: Code) {
        self.attempt_recorder(method).record(code);
    }

    /// The attempt counters of `method`, to count once the outcome is known.
    pub(crate) fn attempt_recorder(&self, method: &str) -> AttemptRecorder {
        AttemptRecorder {
            endpoint: self.clone(),
            handles: self.attempts.method(method),
        }
    }

    /// Counts an ejection of this endpoint.
    pub fn record_ejection(&self, reason: &'static str) {
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
    client: SharedString,
    handles: Arc<MethodHandles<Histogram>>,
}

impl CallRecorder {
    pub(crate) fn record(&self, code: Code, seconds: f64) {
        self.handles
            .get(code, |method| {
                metrics::histogram!(RPC_CLIENT_CALL_DURATION,
                    RPC_SYSTEM_NAME => RPC_SYSTEM_GRPC,
                    RPC_METHOD => method.to_owned(),
                    RPC_STATUS_CODE => code_name(code),
                    CLIENT => self.client.clone())
            })
            .record(seconds);
    }
}

/// Counts one attempt once its outcome is known.
#[derive(Debug)]
pub(crate) struct AttemptRecorder {
    endpoint: EndpointMetrics,
    handles: Arc<MethodHandles<Counter>>,
}

impl AttemptRecorder {
    pub(crate) fn record(&self, code: Code) {
        self.handles
            .get(code, |method| {
                metrics::counter!(RPC_CLIENT_ATTEMPTS_TOTAL,
                    CLIENT => self.endpoint.client.client.clone(),
                    RPC_METHOD => method.to_owned(),
                    "outcome" => code_name(code),
                    "endpoint" => self.endpoint.endpoint.clone())
            })
            .increment(1);
    }
}
