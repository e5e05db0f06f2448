//! [`DnsDiscover`]: a DNS name re-resolved every `refresh`, as endpoint changes.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use tower::discover::Change;

/// Turns a name into addresses. Implement it to drive discovery from tests
/// or from another naming system.
pub trait Resolver: Send + Sync + 'static {
    /// The addresses `name` resolves to, each with `port`.
    fn resolve<'a>(
        &'a self,
        name: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The operating system's resolver (`getaddrinfo` via tokio).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(
        &'a self,
        name: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move { Ok(tokio::net::lookup_host((name, port)).await?.collect()) })
    }
}

/// Resolves a name periodically and reports what changed.
///
/// A failed lookup keeps the endpoints already known: a DNS hiccup must not
/// empty a healthy client.
pub(crate) struct DnsDiscover {
    name: String,
    port: u16,
    refresh: Duration,
    resolver: Arc<dyn Resolver>,
    current: BTreeSet<SocketAddr>,
}

impl std::fmt::Debug for DnsDiscover {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsDiscover")
            .field("name", &self.name)
            .field("port", &self.port)
            .field("refresh", &self.refresh)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

impl DnsDiscover {
    /// Discovers `name:port` through `resolver` every `refresh`.
    pub(crate) fn new(
        name: &str,
        port: u16,
        refresh: Duration,
        resolver: Arc<dyn Resolver>,
    ) -> Self {
        Self {
            name: name.to_owned(),
            port,
            refresh: refresh.max(Duration::from_millis(10)),
            resolver,
            current: BTreeSet::new(),
        }
    }

    /// `name:port`, for messages.
    pub(crate) fn target(&self) -> String {
        format!("{}:{}", self.name, self.port)
    }

    /// The re-resolve interval.
    pub(crate) fn refresh(&self) -> Duration {
        self.refresh
    }

    /// Resolves once and returns the changes since the last resolution.
    pub(crate) async fn resolve_changes(&mut self) -> io::Result<Vec<Change<String, Uri>>> {
        let resolved: BTreeSet<SocketAddr> = self
            .resolver
            .resolve(&self.name, self.port)
            .await?
            .into_iter()
            .collect();
        let mut changes = Vec::new();
        for gone in self.current.difference(&resolved) {
            changes.push(Change::Remove(gone.to_string()));
        }
        for new in resolved.difference(&self.current) {
            let uri: Uri = format!("http://{new}")
                .parse()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            changes.push(Change::Insert(new.to_string(), uri));
        }
        self.current = resolved;
        Ok(changes)
    }

    /// Whether the last successful resolution returned no address.
    pub(crate) fn is_empty(&self) -> bool {
        self.current.is_empty()
    }
}
