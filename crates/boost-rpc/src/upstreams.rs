//! [`Upstreams`]: the process's registry of kit clients, read by the admin
//! server's `/upstreams` page.
//!
//! Every [`Client`](crate::client::Client) (and boost-http's `HttpClient`)
//! registers a read-only [`UpstreamStatus`] when it is built and is listed
//! while any clone of it lives; nothing here can change a client. The
//! registry is process-wide, like the metrics recorder, so a client made
//! anywhere — in a handler's constructor, in a task — is listed without
//! being handed to the service; boost-service reads it from
//! [`Upstreams::global`]. It holds weak references only, and at most
//! [`MAX_UPSTREAMS`] clients (past that a client still works, unlisted, and
//! a warning says so once).
//!
//! ```
//! # async fn demo() -> Result<(), boost_rpc::RpcError> {
//! use boost_rpc::client::ClientSettings;
//! use boost_rpc::upstreams::Upstreams;
//!
//! let settings = ClientSettings::with_endpoints(["http://127.0.0.1:50052"]);
//! let _profiles = boost_rpc::client("doc-profiles", &settings)?;
//! let listed = Upstreams::global().snapshot();
//! assert!(listed.iter().any(|u| u.name == "doc-profiles" && u.endpoints.len() == 1));
//! # Ok(()) }
//! ```

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use crate::client::retry::BudgetBalance;
use crate::client::{EndpointState, ThrottleState};

/// Clients listed at most; more still work but are not listed.
pub const MAX_UPSTREAMS: usize = 256;

/// What a client shows of itself. Implementations read atomics or take
/// short locks; they never change the client.
pub trait UpstreamStatus: Send + Sync {
    /// The client's state now.
    fn status(&self) -> Upstream;
}

/// The kind of client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UpstreamKind {
    /// A gRPC [`Client`](crate::client::Client).
    Grpc,
    /// boost-http's `HttpClient`.
    Http,
}

impl UpstreamKind {
    /// `grpc` or `http`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::Http => "http",
        }
    }
}

/// One client's state ([`UpstreamStatus::status`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Upstream {
    /// gRPC or HTTP.
    pub kind: UpstreamKind,
    /// The client's name (its config section and `client` metric label).
    pub name: String,
    /// Where it sends: its configured endpoints or base URLs, or `dns:name:port`.
    pub target: String,
    /// Its endpoints now.
    pub endpoints: Vec<UpstreamEndpoint>,
    /// Its client-side throttle, if it has one.
    pub throttle: Option<ThrottleState>,
    /// Its retry budget, if it retries.
    pub retry_budget: Option<BudgetBalance>,
}

impl Upstream {
    /// A client with no endpoints, throttle or budget yet.
    pub fn new(kind: UpstreamKind, name: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
            target: target.into(),
            endpoints: Vec::new(),
            throttle: None,
            retry_budget: None,
        }
    }
}

/// One endpoint of an [`Upstream`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UpstreamEndpoint {
    /// Its address (`http://10.0.0.7:50052`, a base URL).
    pub address: String,
    /// Ready, ejected or reconnecting.
    pub state: EndpointState,
    /// How long until an ejected or reconnecting endpoint is tried again
    /// (zero: its probe may go now or is in flight).
    pub back_in: Option<Duration>,
    /// Failed attempts in a row.
    pub consecutive_failures: u32,
    /// Why it is out, when it is.
    pub reason: Option<String>,
}

impl UpstreamEndpoint {
    /// An endpoint in `state`, with no failures recorded.
    pub fn new(address: impl Into<String>, state: EndpointState) -> Self {
        Self {
            address: address.into(),
            state,
            back_in: None,
            consecutive_failures: 0,
            reason: None,
        }
    }
}

/// The registry of live clients. See the [module docs](self).
#[derive(Default)]
pub struct Upstreams {
    clients: Mutex<Vec<Weak<dyn UpstreamStatus>>>,
    warned: AtomicBool,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let live = self
            .clients
            .lock()
            .map(|c| c.iter().filter(|w| w.strong_count() > 0).count())
            .unwrap_or(0);
        f.debug_struct("Upstreams").field("live", &live).finish()
    }
}

impl Upstreams {
    /// The process's registry, which the kit's clients register with.
    pub fn global() -> &'static Upstreams {
        static GLOBAL: OnceLock<Upstreams> = OnceLock::new();
        GLOBAL.get_or_init(Upstreams::default)
    }

    /// Lists `client` while it lives (the registry keeps a weak reference).
    /// Returns `false`, and lists nothing, when [`MAX_UPSTREAMS`] clients are
    /// already listed.
    pub fn register(&self, client: &Arc<dyn UpstreamStatus>) -> bool {
        let Ok(mut clients) = self.clients.lock() else {
            return false;
        };
        clients.retain(|w| w.strong_count() > 0);
        if clients.len() >= MAX_UPSTREAMS {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    max = MAX_UPSTREAMS,
                    "over {MAX_UPSTREAMS} clients alive: new ones work but are not listed on /upstreams"
                );
            }
            return false;
        }
        clients.push(Arc::downgrade(client));
        true
    }

    /// Every live client's state, sorted by kind and name.
    pub fn snapshot(&self) -> Vec<Upstream> {
        // Upgrade under the lock, read outside it.
        let live: Vec<Arc<dyn UpstreamStatus>> = match self.clients.lock() {
            Ok(clients) => clients.iter().filter_map(Weak::upgrade).collect(),
            Err(_) => Vec::new(),
        };
        let mut all: Vec<Upstream> = live.iter().map(|c| c.status()).collect();
        all.sort_by(|a, b| {
            (a.kind.as_str(), &a.name, &a.target).cmp(&(b.kind.as_str(), &b.name, &b.target))
        });
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str);
    impl UpstreamStatus for Fixed {
        fn status(&self) -> Upstream {
            Upstream::new(UpstreamKind::Http, self.0, "http://x")
        }
    }

    #[test]
    fn lists_live_clients_only_and_stays_bounded() {
        let registry = Upstreams::default();
        let kept: Arc<dyn UpstreamStatus> = Arc::new(Fixed("b"));
        assert!(registry.register(&kept));
        {
            let dropped: Arc<dyn UpstreamStatus> = Arc::new(Fixed("a"));
            assert!(registry.register(&dropped));
            assert_eq!(registry.snapshot().len(), 2);
        }
        let names: Vec<_> = registry.snapshot().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["b"]);

        let many: Vec<Arc<dyn UpstreamStatus>> = (0..MAX_UPSTREAMS + 5)
            .map(|_| Arc::new(Fixed("n")) as Arc<dyn UpstreamStatus>)
            .collect();
        let listed = many.iter().filter(|c| registry.register(c)).count();
        assert_eq!(listed, MAX_UPSTREAMS - 1);
        assert_eq!(registry.snapshot().len(), MAX_UPSTREAMS);
    }
}
