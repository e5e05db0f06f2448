//! [`RpcMetrics`]: the hot path for recording RPC durations.
//!
//! `metrics::histogram!(name, labels…)` builds a key, hashes it and looks it up
//! in the registry on every call. An RPC layer knows its methods up front, so
//! [`RpcMetrics::method`] resolves the handles once per method (and lazily once
//! per status code); recording is then an array index and an atomic push.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{Key, Label, SharedString};

use crate::conventions::{
    CLIENT, GRPC_STATUS_CODE_NAMES, RPC_CLIENT_CALL_DURATION, RPC_METHOD, RPC_SERVER_CALL_DURATION,
    RPC_SERVER_IN_FLIGHT, RPC_STATUS_CODE, RPC_SYSTEM_GRPC, RPC_SYSTEM_NAME,
};
use crate::{GaugeHandle, HistogramHandle};

/// Records `rpc_server_call_duration_seconds` or
/// `rpc_client_call_duration_seconds` for gRPC, under the conventions' labels.
///
/// ```
/// use std::time::Duration;
/// use boost_config::ServiceIdentity;
/// use boost_metrics::{MetricsHandle, MetricsSettings, RpcMetrics};
///
/// let (recorder, handle) =
///     MetricsHandle::build(&MetricsSettings::default(), &ServiceIdentity::default())?;
/// metrics::with_local_recorder(&recorder, || {
///     let say_hello = RpcMetrics::server().method("hello.v1.Greeter/SayHello");
///     let _in_flight = say_hello.in_flight();
///     say_hello.record(0, Duration::from_millis(3)); // 0 = OK
/// });
/// assert!(handle.render().contains(r#"rpc_status_code="OK",le="0.005"} 1"#));
/// # Ok::<(), boost_metrics::Error>(())
/// ```
///
/// Handles bind to the recorder current when they are first used (the global
/// one after [`install`](crate::install)); make them after installing.
#[derive(Clone, Debug)]
pub struct RpcMetrics {
    name: &'static str,
    system: &'static str,
    client: Option<SharedString>,
}

impl RpcMetrics {
    /// Server side: `rpc_server_call_duration_seconds` and `rpc_server_in_flight_calls`.
    pub fn server() -> Self {
        Self {
            name: RPC_SERVER_CALL_DURATION,
            system: RPC_SYSTEM_GRPC,
            client: None,
        }
    }

    /// Client side: `rpc_client_call_duration_seconds{client="<upstream>"}`,
    /// one observation per logical call (after retries).
    pub fn client(upstream: impl Into<SharedString>) -> Self {
        Self {
            name: RPC_CLIENT_CALL_DURATION,
            system: RPC_SYSTEM_GRPC,
            client: Some(upstream.into()),
        }
    }

    /// The `rpc_system_name` label of the calls recorded: `grpc` unless set
    /// here (boost-rpc's server layers record plain HTTP calls as `http`).
    ///
    /// ```
    /// # use boost_metrics::RpcMetrics;
    /// let http = RpcMetrics::server().with_system("http");
    /// # let _ = http;
    /// ```
    pub fn with_system(mut self, system: &'static str) -> Self {
        self.system = system;
        self
    }

    /// The handles for one full method name (`hello.v1.Greeter/SayHello`).
    /// Keep the result: it is the cheap part.
    pub fn method(&self, method: impl Into<SharedString>) -> MethodMetrics {
        let mut labels = vec![
            Label::new(RPC_SYSTEM_NAME, self.system),
            Label::new(RPC_METHOD, method.into()),
        ];
        if let Some(client) = &self.client {
            labels.push(Label::new(CLIENT, client.clone()));
        }
        MethodMetrics {
            inner: Arc::new(MethodInner {
                name: self.name,
                labels,
                by_code: std::array::from_fn(|_| OnceLock::new()),
                in_flight: OnceLock::new(),
            }),
        }
    }
}

/// Duration (and in-flight) handles for one method; cheap to clone.
#[derive(Clone, Debug)]
pub struct MethodMetrics {
    inner: Arc<MethodInner>,
}

#[derive(Debug)]
struct MethodInner {
    name: &'static str,
    labels: Vec<Label>,
    by_code: [OnceLock<HistogramHandle>; GRPC_STATUS_CODE_NAMES.len()],
    in_flight: OnceLock<GaugeHandle>,
}

impl MethodMetrics {
    /// Records one call that ended with gRPC status `code` (0 = `OK`,
    /// 14 = `UNAVAILABLE`; codes outside 0..=16 count as `UNKNOWN`).
    #[inline]
    pub fn record(&self, code: i32, elapsed: Duration) {
        self.record_seconds(code, elapsed.as_secs_f64());
    }

    /// [`record`](Self::record) with the duration already in seconds.
    #[inline]
    pub fn record_seconds(&self, code: i32, seconds: f64) {
        let index = usize::try_from(code)
            .ok()
            .filter(|i| *i < GRPC_STATUS_CODE_NAMES.len())
            .unwrap_or(2);
        self.inner.by_code[index]
            .get_or_init(|| self.inner.register(index))
            .record(seconds);
    }

    /// Counts one call in `rpc_server_in_flight_calls` until the returned guard
    /// drops. (Meaningful on the server side; a client's guard counts there too.)
    pub fn in_flight(&self) -> InFlight {
        let gauge = self.in_flight_gauge().clone();
        gauge.increment(1.0);
        InFlight { gauge }
    }

    /// The `rpc_server_in_flight_calls` gauge itself, for a caller that keeps
    /// these handles for the whole call anyway and counts the call in and out
    /// itself (one handle clone less per call than [`in_flight`](Self::in_flight)).
    /// Every `increment(1.0)` needs its `decrement(1.0)`.
    #[inline]
    pub fn in_flight_gauge(&self) -> &GaugeHandle {
        self.inner.in_flight.get_or_init(|| {
            let labels = self.inner.labels[..2].to_vec();
            let key = Key::from_parts(RPC_SERVER_IN_FLIGHT, labels);
            metrics::with_recorder(|r| GaugeHandle::register(r, &key))
        })
    }
}

impl MethodInner {
    #[cold]
    fn register(&self, index: usize) -> HistogramHandle {
        let mut labels = self.labels.clone();
        labels.push(Label::new(RPC_STATUS_CODE, GRPC_STATUS_CODE_NAMES[index]));
        let key = Key::from_parts(self.name, labels);
        metrics::with_recorder(|r| HistogramHandle::register(r, &key))
    }
}

/// One call counted in `rpc_server_in_flight_calls`; dropping it uncounts it.
#[derive(Debug)]
#[must_use = "the call stops counting as in flight when this guard drops"]
pub struct InFlight {
    gauge: GaugeHandle,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.gauge.decrement(1.0);
    }
}
