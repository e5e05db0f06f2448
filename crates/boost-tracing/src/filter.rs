//! [`LogFilter`]: the log filter, changeable while the service runs.

use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{Directive, LevelFilter};

use crate::Error;

/// The target prefix of the OpenTelemetry crates' own logs: `opentelemetry`,
/// `opentelemetry_sdk`, `opentelemetry-otlp`, … (a directive's target matches by prefix).
const OTEL_TARGETS: &str = "opentelemetry";

/// Parses `RUST_LOG`-syntax directives strictly (an invalid directive is an error, not
/// silently skipped).
///
/// The OpenTelemetry crates log routine steps at `info` ("Global tracer provider is set…" at
/// every start); unless the directives name one of them, their logs are kept at `warn` (or
/// quieter, if the directives' default level is), so warnings and errors still show.
pub(crate) fn parse(directives: &str) -> Result<EnvFilter, Error> {
    let filter = EnvFilter::builder()
        .parse(directives)
        .map_err(|e| Error::InvalidFilter {
            filter: directives.to_owned(),
            reason: e.to_string(),
        })?;
    Ok(match quiet_otel(directives) {
        Some(directive) => filter.add_directive(directive),
        None => filter,
    })
}

/// `opentelemetry=warn` when `directives` would let the OpenTelemetry crates log below `warn`
/// without naming them: a default level (a directive that is only a level; the last one
/// counts, as in `EnvFilter`) more verbose than `warn`, and no directive for `opentelemetry`
/// itself (or a prefix of it). A directive for one crate (`opentelemetry_sdk=debug`) is more
/// specific than the one added, so it still applies to that crate.
fn quiet_otel(directives: &str) -> Option<Directive> {
    let mut default = LevelFilter::OFF;
    for directive in directives.split(',').map(str::trim) {
        let target = directive
            .split(['[', '='])
            .next()
            .unwrap_or_default()
            .trim();
        if !target.is_empty() && OTEL_TARGETS.starts_with(target) {
            return None;
        }
        if let Ok(level) = directive.parse::<LevelFilter>()
            && !directive.is_empty()
        {
            default = level;
        }
    }
    if default <= LevelFilter::WARN {
        return None;
    }
    format!("{OTEL_TARGETS}=warn").parse().ok()
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

#[cfg(test)]
mod tests {
    use super::quiet_otel;

    fn quieted(directives: &str) -> bool {
        quiet_otel(directives).is_some()
    }

    #[test]
    fn opentelemetry_is_kept_at_warn_under_a_verbose_default() {
        for directives in [
            "info",
            "debug",
            "trace,my_crate=warn",
            "warn,info",
            "INFO",
            "3",
        ] {
            assert!(quieted(directives), "{directives}");
        }
    }

    #[test]
    fn a_filter_naming_opentelemetry_itself_is_left_alone() {
        for directives in [
            "debug,opentelemetry=info",
            "trace,opentelemetry",
            "info,open=debug",
        ] {
            assert!(!quieted(directives), "{directives}");
        }
    }

    #[test]
    fn a_filter_naming_one_opentelemetry_crate_still_quiets_the_others() {
        // `opentelemetry_sdk=debug` is more specific than `opentelemetry=warn`: it still wins
        // for the SDK.
        for directives in [
            "info,opentelemetry_sdk=debug",
            "info,opentelemetry-otlp[export]=trace",
        ] {
            assert!(quieted(directives), "{directives}");
        }
    }

    #[test]
    fn a_default_at_warn_or_quieter_is_never_widened() {
        for directives in ["warn", "error", "off", "info,error", "", "my_crate=debug"] {
            assert!(!quieted(directives), "{directives:?}");
        }
    }
}
