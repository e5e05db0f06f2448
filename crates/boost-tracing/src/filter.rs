//! [`LogFilter`]: the log filter, changeable while the service runs.

use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::EnvFilter;

use crate::Error;

/// Parses `RUST_LOG`-syntax directives strictly (an invalid directive is an error, not
/// silently skipped).
pub(crate) fn parse(directives: &str) -> Result<EnvFilter, Error> {
    EnvFilter::builder()
        .parse(directives)
        .map_err(|e| Error::InvalidFilter {
            filter: directives.to_owned(),
            reason: e.to_string(),
        })
}

/// The running log filter: read it, or replace it (boost-service's `/loglevel` endpoint does).
///
/// Cheap to clone; every clone controls the same filter.
///
/// ```
/// # fn main() -> Result<(), boost_tracing::Error> {
/// use boost_config::ServiceIdentity;
/// use boost_tracing::{TracingSettings, builder};
///
/// let (dispatch, guard) = builder(&TracingSettings::default(), &ServiceIdentity::new("svc", "1.0"))
///     .ignore_rust_log()
///     .writer(std::io::sink())
///     .build()?;
/// let filter = guard.log_filter();
/// assert_eq!(filter.current(), "info");
/// filter.set("warn,svc=debug")?;
/// assert_eq!(filter.current(), "warn,svc=debug");
/// assert!(filter.set("info,=nonsense[").is_err());
/// # drop(dispatch); Ok(()) }
/// ```
#[derive(Clone)]
pub struct LogFilter {
    reload: Arc<Reload>,
    current: Arc<Mutex<String>>,
}

/// Swaps the filter inside the subscriber (a `reload::Handle`, its subscriber type erased).
pub(crate) type Reload = dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync;

impl std::fmt::Debug for LogFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LogFilter").field(&self.current()).finish()
    }
}

impl LogFilter {
    pub(crate) fn new(reload: Arc<Reload>, current: String) -> Self {
        Self {
            reload,
            current: Arc::new(Mutex::new(current)),
        }
    }

    /// The filter in effect, as it was given (`RUST_LOG` syntax).
    pub fn current(&self) -> String {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the filter; takes effect for every event from now on, on every thread.
    ///
    /// # Errors
    /// [`Error::InvalidFilter`] when `directives` is not valid `RUST_LOG` syntax (the old
    /// filter stays), [`Error::FilterReload`] when the subscriber is gone.
    pub fn set(&self, directives: &str) -> Result<(), Error> {
        let filter = parse(directives)?;
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        (self.reload)(filter).map_err(Error::FilterReload)?;
        *current = directives.to_owned();
        Ok(())
    }
}
