//! The names a service's `main` and its handlers use, in one import:
//!
//! ```
//! use boost::prelude::*;
//!
//! let identity = ServiceIdentity::new("hello-service", "1.0.0");
//! let profiles = ClientSettings::with_endpoints(["http://127.0.0.1:50052"]);
//! let error = ServiceError::not_found("no profile named \"zoe\"");
//! # let _ = (identity, profiles, error);
//! ```
//!
//! Each name is re-exported from the crate that defines it; see the
//! [crate docs](crate) for the map.

#[cfg(feature = "config")]
pub use boost_config::{ConfigError, Loaded, Loader, Problems, Secret, ServiceIdentity, Validate};

#[cfg(feature = "tracing")]
pub use boost_tracing::{LogFormat, TracingSettings};

#[cfg(feature = "metrics")]
pub use boost_metrics::{MetricDef, MetricsSettings, describe_all};

#[cfg(feature = "cache")]
pub use boost_cache::{Cache, CacheSettings};

#[cfg(feature = "rpc")]
pub use boost_rpc::{
    RpcError, ServiceError, client::CallOptions, client::Client, client::ClientSettings,
};

#[cfg(feature = "service")]
pub use boost_service::{
    AdminSettings, BoxError, GrpcServer, GrpcSettings, Lifecycle, LifecycleSettings, Service,
};
