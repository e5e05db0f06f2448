//! The names a service's `main`, settings and handlers use, in one import:
//!
//! ```
//! use boost::prelude::*;
//!
//! #[derive(Debug, Clone, Default, Serialize, Deserialize, Validate, Document)]
//! #[serde(crate = "boost::serde", default, deny_unknown_fields)]
//! struct Settings {
//!     /// The upstream profile-service.
//!     profiles: ClientSettings,
//! }
//! impl ServiceSettings for Settings {}
//!
//! let error = ServiceError::not_found("no profile named \"zoe\"");
//! # let _ = (Settings::default(), error);
//! ```
//!
//! Each name is re-exported from the crate that defines it; see the
//! [crate docs](crate) for the map.

#[cfg(feature = "config")]
pub use boost_config::{
    ConfigError, Document, Loaded, Loader, Problems, Secret, ServiceIdentity, Validate,
};
#[cfg(feature = "config")]
pub use serde::{Deserialize, Serialize};

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

#[cfg(feature = "http")]
pub use boost_http::{
    HttpSettings, Problem,
    client::{HttpClient, HttpClientError, HttpClientSettings},
};

#[cfg(feature = "service")]
pub use boost_service::{
    AdminSettings, BoxError, Config, GrpcSettings, KitSettings, Lifecycle, LifecycleSettings,
    Service, ServiceSettings,
};
#[cfg(feature = "service")]
pub use boost_switches::{Rollout, Switch, SwitchDef, Switches};
