//! [`Error`]: what can go wrong when building a cache.

/// A cache could not be built from its settings.
///
/// Errors of a loader are not wrapped in this type: [`Cache::get_or_load`](crate::Cache::get_or_load)
/// hands them back to every waiting caller as an `Arc<E>` of the loader's own error type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `name` was empty.
    #[error(
        "cache setting `name` is empty: every cache needs a short, stable name \
         (it is the `cache` label of its metrics), e.g. name = \"profiles\""
    )]
    MissingName,

    /// A setting has a value that cannot work (alone or with another setting).
    #[error("cache `{cache}`: setting `{field}` {problem}")]
    InvalidSetting {
        /// The cache's name.
        cache: String,
        /// The field at fault, as spelled in the config file.
        field: &'static str,
        /// What is wrong with it and what to do.
        problem: String,
    },
}
