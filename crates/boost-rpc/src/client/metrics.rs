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
use std::sync::{Arc, Mutex, OnceLock, RwLock};

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

/// Methods whose handles are found without a lock (a client calls a few).
const FAST_METHODS: usize = 16;

/// Where [`MethodCache::find`] found a method's handles.
#[derive(Debug)]
pub(crate) enum MethodRef<H> {
    /// In the lock-free slots: an index, nothing shared is written to keep it.
    Fast(usize),
    /// Beyond them, in the map.
    Other(Arc<MethodHandles<H>>),
}

/// Handles per method × status code. The first [`FAST_METHODS`] methods are
/// found by scanning slots that are written once, without a lock or a
/// reference count (a call looks up two caches, and a shared lock word and
/// counters are written back and forth between cores on every call); later
/// methods by one read lock and one hash. Nothing is allocated after the
/// first call of a method.
#[derive(Debug)]
pub(crate) struct MethodCache<H> {
    fast: [OnceLock<MethodHandles<H>>; FAST_METHODS],
    adding: Mutex<()>,
    map: RwLock<HashMap<Box<str>, Arc<MethodHandles<H>>>>,
}

impl<H> Default for MethodCache<H> {
    fn default() -> Self {
        Self {
            fast: std::array::from_fn(|_| OnceLock::new()),
            adding: Mutex::new(()),
            map: RwLock::new(HashMap::new()),
        }
    }
}

impl<H> MethodCache<H> {
    /// Where the handles of `method` are, adding them on first use.
    pub(crate) fn find(&self, method: &str) -> MethodRef<H> {
        for (i, slot) in self.fast.iter().enumerate() {
            match slot.get() {
                Some(handles) if &*handles.method == method => return MethodRef::Fast(i),
                Some(_) => {}
                None => break,
            }
        }
        self.add(method)
    }

    /// The handles `found` refers to.
    pub(crate) fn get<'a>(&'a self, found: &'a MethodRef<H>) -> Option<&'a MethodHandles<H>> {
        match found {
            MethodRef::Fast(i) => self.fast.get(*i).and_then(OnceLock::get),
            MethodRef::Other(handles) => Some(handles),
        }
    }

    fn add(&self, method: &str) -> MethodRef<H> {
        let _adding = match self.adding.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        for (i, slot) in self.fast.iter().enumerate() {
            match slot.get() {
                Some(handles) if &*handles.method == method => return MethodRef::Fast(i),
                Some(_) => {}
                None => {
                    let _ = slot.set(MethodHandles::new(method));
                    return MethodRef::Fast(i);
                }
            }
        }
        if let Ok(map) = self.map.read()
            && let Some(handles) = map.get(method)
        {
            return MethodRef::Other(handles.clone());
        }
        let mut map = match self.map.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        MethodRef::Other(
            map.entry(method.into())
                .or_insert_with(|| Arc::new(MethodHandles::new(method)))
                .clone(),
        )
    }
}

impl<H> MethodHandles<H> {
    fn new(method: &str) -> Self {
        Self {
            method: method.into(),
            slots: std::array::from_fn(|_| OnceLock::new()),
        }
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
    pub fn record_call(self: &Arc<Self>, method: &str, code: Code, seconds: f64) {
        self.call_recorder(method).record(code, seconds);
    }

    /// The duration histograms of `method`, to record once its status is known.
    pub(crate) fn call_recorder(self: &Arc<Self>, method: &str) -> CallRecorder {
        CallRecorder {
            method: self.calls.find(method),
            metrics: self.clone(),
        }
    }

    /// Counts a retry of `method`.
    pub fn record_retry(&self, method: &str) {
        let found = self.retries.find(method);
        if let Some(handles) = self.retries.get(&found) {
            handles
                .get(Code::Ok, |method| {
                    metrics::counter!(RPC_CLIENT_RETRIES_TOTAL, CLIENT => self.client.clone(), RPC_METHOD => method.to_owned())
                })
                .increment(1);
        }
    }

    /// Counts a retry refused by the budget.
    pub fn record_budget_exhausted(&self, method: &str) {
        let found = self.exhausted.find(method);
        if let Some(handles) = self.exhausted.get(&found) {
            handles
                .get(Code::Ok, |method| {
                    metrics::counter!(RPC_CLIENT_RETRY_BUDGET_EXHAUSTED_TOTAL, CLIENT => self.client.clone(), RPC_METHOD => method.to_owned())
                })
                .increment(1);
        }
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
        self.attempt_recorder(method).record(self, code);
    }

    /// The attempt counters of `method`, to count once the outcome is known.
    pub(crate) fn attempt_recorder(&self, method: &str) -> AttemptRecorder {
        AttemptRecorder {
            method: self.attempts.find(method),
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
    metrics: Arc<ClientMetrics>,
    method: MethodRef<Histogram>,
}

impl CallRecorder {
    pub(crate) fn record(&self, code: Code, seconds: f64) {
        let Some(handles) = self.metrics.calls.get(&self.method) else {
            return;
        };
        handles
            .get(code, |method| {
                metrics::histogram!(RPC_CLIENT_CALL_DURATION,
                    RPC_SYSTEM_NAME => RPC_SYSTEM_GRPC,
                    RPC_METHOD => method.to_owned(),
                    RPC_STATUS_CODE => code_name(code),
                    CLIENT => self.metrics.client.clone())
            })
            .record(seconds);
    }
}

/// Counts one attempt once its outcome is known, into the endpoint's
/// counters (it keeps only where they are).
#[derive(Debug)]
pub(crate) struct AttemptRecorder {
    method: MethodRef<Counter>,
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
