//! [`ServedMethods`]: which request paths name a method of this server, so
//! that per-method metric labels and span names come from the API the
//! server serves, never from whatever path a peer sends.
//!
//! The request path is the peer's input. Labelled as sent, a scanner trying
//! a thousand made-up paths creates a thousand `rpc_method` series: it fills
//! the metrics recorder's cardinality guard (the service's real methods are
//! then folded into `other`) and the server's per-method handle cache. With a
//! closed set, every path outside it is labelled [`OTHER_METHOD`], as
//! OpenTelemetry's semantic conventions do for unknown HTTP methods.
//!
//! boost-service builds the set for you, from the services it serves and
//! their descriptor sets. Alone:
//!
//! ```
//! use boost_rpc::server::served_methods::{OTHER_METHOD, ServedMethods};
//!
//! let served = ServedMethods::only()
//!     .method("hello.v1.Greeter/SayHello") // one method, exactly
//!     .service("grpc.health.v1.Health"); // every method of a service
//! assert_eq!(served.label("hello.v1.Greeter/SayHello"), "hello.v1.Greeter/SayHello");
//! assert_eq!(served.label("grpc.health.v1.Health/Check"), "grpc.health.v1.Health/Check");
//! assert_eq!(served.label("hello.v1.Greeter/Junk"), OTHER_METHOD);
//! assert_eq!(served.label("wp-login.php"), OTHER_METHOD);
//! // The default labels every path as sent (bounded only by the caches).
//! assert_eq!(ServedMethods::any().label("wp-login.php"), "wp-login.php");
//! ```

use std::collections::HashSet;
use std::sync::Arc;

/// The label of every request path outside a closed [`ServedMethods`].
pub const OTHER_METHOD: &str = "_OTHER";

/// The methods a server serves; see the [module docs](self). Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct ServedMethods {
    /// `None`: every path is a method (the set is open).
    known: Option<Arc<Known>>,
}

/// Cloned only while a set is built (`Arc::make_mut`), never per call.
#[derive(Clone, Debug, Default)]
struct Known {
    /// Full method names, `package.Service/Method`.
    methods: HashSet<Box<str>, foldhash::fast::RandomState>,
    /// Services whose every method counts (those without a descriptor).
    services: HashSet<Box<str>, foldhash::fast::RandomState>,
}

impl ServedMethods {
    /// Every path labelled as sent: the behaviour without a set, for a
    /// server whose methods are not known up front.
    pub const fn any() -> Self {
        ServedMethods { known: None }
    }

    /// A closed set with nothing in it yet: add to it with
    /// [`method`](Self::method) and [`service`](Self::service).
    pub fn only() -> Self {
        ServedMethods {
            known: Some(Arc::default()),
        }
    }

    /// Whether paths outside the set are labelled [`OTHER_METHOD`].
    pub fn is_closed(&self) -> bool {
        self.known.is_some()
    }

    /// Adds one method, `package.Service/Method` (a leading `/` is
    /// dropped). No effect on an open set.
    #[must_use]
    pub fn method(mut self, method: &str) -> Self {
        if let Some(known) = self.known.as_mut() {
            let method = method.strip_prefix('/').unwrap_or(method);
            Arc::make_mut(known).methods.insert(method.into());
        }
        self
    }

    /// Adds every method of the service `package.Service` (for a service
    /// whose methods are not listed, e.g. one without a descriptor set).
    /// No effect on an open set.
    #[must_use]
    pub fn service(mut self, service: &str) -> Self {
        if let Some(known) = self.known.as_mut() {
            Arc::make_mut(known).services.insert(service.into());
        }
        self
    }

    /// The label of a request `path` (without its leading `/`): the path
    /// itself when it names a served method, else [`OTHER_METHOD`].
    #[inline]
    pub fn label<'a>(&self, path: &'a str) -> &'a str {
        match &self.known {
            None => path,
            Some(known) => {
                if known.methods.contains(path)
                    || path
                        .rsplit_once('/')
                        .is_some_and(|(service, _)| known.services.contains(service))
                {
                    path
                } else {
                    OTHER_METHOD
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_set_labels_only_what_it_serves() {
        let served = ServedMethods::only()
            .method("/a.v1.A/Get")
            .service("b.v1.B");
        assert!(served.is_closed());
        assert_eq!(served.label("a.v1.A/Get"), "a.v1.A/Get");
        assert_eq!(served.label("a.v1.A/Put"), OTHER_METHOD);
        assert_eq!(served.label("b.v1.B/Anything"), "b.v1.B/Anything");
        assert_eq!(served.label("b.v1.B"), OTHER_METHOD);
        assert_eq!(served.label("b.v1.Bx/Get"), OTHER_METHOD);
        assert_eq!(served.label(""), OTHER_METHOD);
        assert_eq!(served.label("a.v1.A/Get/extra"), OTHER_METHOD);
    }

    #[test]
    fn adding_to_a_shared_set_leaves_the_clone_as_it_was() {
        let first = ServedMethods::only().method("a.v1.A/Get");
        let second = first.clone().method("a.v1.A/Put");
        assert_eq!(first.label("a.v1.A/Put"), OTHER_METHOD);
        assert_eq!(second.label("a.v1.A/Put"), "a.v1.A/Put");
    }

    #[test]
    fn an_open_set_labels_every_path_and_ignores_additions() {
        let served = ServedMethods::any().method("a.v1.A/Get");
        assert!(!served.is_closed());
        assert_eq!(served.label("x/y"), "x/y");
    }
}
