//! [`LogFilter`]: the log filter, changeable while the service runs.

use std::sync::{Arc, Mutex, PoisonError};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::{Directive, LevelFilter};

use crate::Error;

/// The target of audit events (boost-service's admin writes one for every
/// change or refusal). Every filter this crate builds lets them through at
/// `info` and above, whatever its directives say — a typo in a filter, or
/// `off`, cannot hide the audit trail; route or drop them downstream by target.
pub const AUDIT_TARGET: &str = "boost_service::audit";

/// The level names a directive may give (`RUST_LOG` syntax; case-insensitive).
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];

/// The target prefix of the OpenTelemetry crates' own logs: `opentelemetry`,
/// `opentelemetry_sdk`, `opentelemetry-otlp`, … (a directive's target matches by prefix).
const OTEL_TARGETS: &str = "opentelemetry";

/// Parses `RUST_LOG`-syntax directives strictly (an invalid directive is an error, not
/// silently skipped), and refuses directives that set no level (see [`named_levels`]).
///
/// Audit events ([`AUDIT_TARGET`]) pass at `info` and above whatever the directives say.
///
/// The OpenTelemetry crates log routine steps at `info` ("Global tracer provider is set…" at
/// every start); unless the directives name one of them, their logs are kept at `warn` (or
/// quieter, if the directives' default level is), so warnings and errors still show.
pub(crate) fn parse(directives: &str) -> Result<EnvFilter, Error> {
    named_levels(directives).map_err(|reason| Error::InvalidFilter {
        filter: directives.to_owned(),
        reason,
    })?;
    let filter = EnvFilter::builder()
        .parse(directives)
        .map_err(|e| Error::InvalidFilter {
            filter: directives.to_owned(),
            reason: e.to_string(),
        })?;
    let filter = match quiet_otel(directives) {
        Some(directive) => filter.add_directive(directive),
        None => filter,
    };
    // Added last, so it replaces any directive the user gave for the same target.
    Ok(match format!("{AUDIT_TARGET}=info").parse::<Directive>() {
        Ok(audit) => filter.add_directive(audit),
        Err(_) => filter,
    })
}

/// Every directive must set a level: `level` (a default) or `target=level`.
///
/// `EnvFilter` reads a bare word as a *target* with every level on, so a
/// typo (`inof`) or a forgotten level (`my_crate`) is valid syntax that sets
/// the default to "nothing" and silences every other log line. A bare word is
/// accepted only if it is a level name (or `0`..`5`); for anything else the
/// error names the directive and the nearest level name, or says to write
/// `target=trace` when every level of one target is what is meant.
pub(crate) fn named_levels(directives: &str) -> Result<(), String> {
    for directive in directives.split(',').map(str::trim) {
        if directive.is_empty() || has_level(directive) {
            continue;
        }
        let word = directive.split('[').next().unwrap_or_default().trim();
        return Err(match nearest_level(word) {
            Some(level) => format!(
                "directive {directive:?} sets no level: did you mean {level:?}? (every directive \
                 must set one: a level such as \"info\", or \"target=level\")"
            ),
            None => format!(
                "directive {directive:?} sets no level (alone it would mean every level of \
                 target {word:?} and nothing else); write \"{word}=trace\" if that is meant, or \
                 a level such as \"info\""
            ),
        });
    }
    Ok(())
}

/// `level`, or `target[span{field=value}]=level` (the `=` after any `[...]`).
fn has_level(directive: &str) -> bool {
    let after_spans = match directive.rfind(']') {
        Some(end) => &directive[end + 1..],
        None => directive,
    };
    after_spans.contains('=') || directive.parse::<LevelFilter>().is_ok()
}

/// The level name within two edits of `word`, if any.
fn nearest_level(word: &str) -> Option<&'static str> {
    // No level name is longer than 5: a longer word is never within two edits.
    if word.len() > 8 {
        return None;
    }
    let word = word.to_ascii_lowercase();
    LEVELS
        .iter()
        .map(|level| (edit_distance(&word, level), *level))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, level)| level)
}

/// Levenshtein distance, with transpositions counted as one edit (`inof`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1)
                .min(rows[i][j - 1] + 1)
                .min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
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
    use super::{AUDIT_TARGET, named_levels, parse, quiet_otel};

    #[test]
    fn a_bare_word_that_is_not_a_level_is_refused_with_the_nearest_level() {
        let reason = named_levels("inof").unwrap_err();
        assert!(
            reason.contains("\"inof\"") && reason.contains("\"info\""),
            "{reason}"
        );
        let reason = named_levels("warn,debgu").unwrap_err();
        assert!(reason.contains("\"debug\""), "{reason}");
        let reason = named_levels("info,hello_service").unwrap_err();
        assert!(reason.contains("hello_service=trace"), "{reason}");
        assert!(named_levels("[my_span]").is_err());
        assert!(parse("inof").is_err());
    }

    #[test]
    fn tracing_filter_that_sets_no_level_is_a_config_problem_under_its_key() {
        let settings = crate::TracingSettings {
            filter: "inof".to_owned(),
            ..crate::TracingSettings::default()
        };
        let mut problems = boost_config::Problems::new();
        problems.check("tracing", &settings);
        let (key, message) = problems.iter().next().unwrap();
        assert_eq!(key, "tracing.filter");
        assert!(message.contains("did you mean \"info\""), "{message}");
    }

    #[test]
    fn directives_that_set_a_level_are_accepted() {
        for directives in [
            "info",
            "INFO",
            "3",
            "off",
            "warn,my_crate=debug",
            "my_crate::module=trace",
            "info,my_crate[span{id=1}]=debug",
            "info,",
            "",
        ] {
            assert!(named_levels(directives).is_ok(), "{directives:?}");
            assert!(parse(directives).is_ok(), "{directives:?}");
        }
    }

    #[test]
    fn every_filter_lets_audit_events_through() {
        for directives in ["off", "error", &format!("info,{AUDIT_TARGET}=off")] {
            let filter = parse(directives).unwrap().to_string();
            assert!(
                filter.contains(&format!("{AUDIT_TARGET}=info"))
                    && !filter.contains(&format!("{AUDIT_TARGET}=off")),
                "{directives}: {filter}"
            );
        }
    }

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
