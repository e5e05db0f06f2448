//! [`Error`]: what can go wrong when building a cache.

/// A cache could not be built from its settings.
///
/// Errors of a loader are not wrapped in this type: [`Cache::get_or_load`](crate::Cache::get_or_load)
/// hands them back to every waiting caller as an `Arc<E>` of the loader's own error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The [`CacheSettings`](crate::CacheSettings) break one or more of their rules (an empty
    /// name, `refresh_after >= ttl`, a jitter outside `0.0..=0.5`, …). It is the
    /// [`ConfigError::Validation`](boost_config::ConfigError::Validation) the config loader
    /// reports for the same settings, listing every problem, each under the cache's name
    /// (`profiles.ttl_jitter`, or `cache.name` when the name is empty) with
    /// [`Source::Code`](boost_config::Source::Code) as its layer.
    ///
    /// ```
    /// use boost_cache::{Cache, CacheSettings, Error};
    ///
    /// let mut settings = CacheSettings::new("profiles");
    /// settings.max_capacity = 0;
    /// settings.ttl_jitter = 0.9;
    /// let Err(Error::Config(error)) = Cache::<String, String>::new(settings) else {
    ///     panic!("the settings are invalid");
    /// };
    /// let keys: Vec<&str> = error.problems().iter().map(|p| p.key.as_str()).collect();
    /// assert_eq!(keys, ["profiles.max_capacity", "profiles.ttl_jitter"]);
    /// assert!(error.to_string().starts_with("configuration for cache `profiles` failed validation"));
    /// ```
    #[error(transparent)]
    Config(boost_config::ConfigError),

    /// The cache's second tier ([`CacheSettings::l2`](crate::CacheSettings::l2)) cannot be
    /// set up: the settings ask for one but the cache was built without
    /// [`CacheBuilder::build_two_tier`], the crate was built without its `redis` feature, no
    /// Tokio runtime is running, or the Redis URL cannot be used. The message says which and
    /// what to do; it never holds credentials.
    ///
    #[cfg_attr(
        feature = "redis",
        doc = "[`CacheBuilder::build_two_tier`]: crate::CacheBuilder::build_two_tier"
    )]
    #[cfg_attr(
        not(feature = "redis"),
        doc = "[`CacheBuilder::build_two_tier`]: crate#a-shared-second-tier"
    )]
    #[error("cache `{cache}`: its second tier (l2) cannot be set up: {reason}")]
    SecondTier {
        /// The cache's name.
        cache: String,
        /// What is wrong and what to do.
        reason: String,
    },
}
