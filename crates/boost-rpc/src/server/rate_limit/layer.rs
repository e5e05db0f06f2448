//! [`RateLimitLayer`]: builds [`RateLimit`] services sharing one limiter.

use tower_layer::Layer;

use super::RateLimit;
use crate::rate_limit::{RateLimitSettings, RateLimits};

/// Rate limits calls per key. See the [module docs](super). Cheap to clone;
/// every service it builds shares the same buckets.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    limits: Option<RateLimits>,
}

impl RateLimitLayer {
    /// A limiter by `settings` for the server named `server` (the `server`
    /// label of the metrics); with `enabled = false`, a layer that limits
    /// nothing.
    pub fn new(server: &'static str, settings: &RateLimitSettings) -> Self {
        Self {
            limits: settings.enabled.then(|| RateLimits::new(server, settings)),
        }
    }

    /// The limiter, when on (for tests and admin pages).
    pub fn limits(&self) -> Option<&RateLimits> {
        self.limits.as_ref()
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit::new(inner, self.limits.clone())
    }
}
