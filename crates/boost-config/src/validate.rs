//! [`Validate`]: rules a settings type checks after it has been deserialised.

/// Checks a loaded settings value and reports *every* problem, each under its
/// full key path.
///
/// The loader runs it after deserialisation and turns the problems into one
/// [`ConfigError::Validation`](crate::ConfigError::Validation) that names, for
/// each key, the layer that set it. A type with no rules implements it with an
/// empty body (`impl Validate for Settings {}`).
///
/// Derive it: every field is checked under its key (nested sections
/// included), then the type's own rules from `#[validate(custom = fn)]`:
///
/// ```
/// use std::net::SocketAddr;
/// use boost_config::{Problems, Validate};
///
/// #[derive(Validate)]
/// #[validate(custom = Grpc::rules)]
/// struct Grpc { listen: SocketAddr, max_connections: u32 }
///
/// impl Grpc {
///     fn rules(&self, problems: &mut Problems) {
///         if self.listen.port() == 0 {
///             problems.add("listen", "port 0 is not allowed: pick a fixed port");
///         }
///         if self.max_connections == 0 {
///             problems.add("max_connections", "must be at least 1");
///         }
///     }
/// }
///
/// #[derive(Validate)]
/// struct Settings { grpc: Grpc } // `grpc` is checked: nothing to list by hand
///
/// let bad = Settings { grpc: Grpc { listen: "127.0.0.1:0".parse().unwrap(), max_connections: 0 } };
/// let problems = Problems::of("", &bad);
/// assert_eq!(problems.keys().collect::<Vec<_>>(), ["grpc.listen", "grpc.max_connections"]);
/// ```
///
/// A hand-written impl nests with [`Problems::check`]; a type with no rules
/// of its own derives it too (or writes `impl Validate for T {}`).
pub trait Validate {
    /// Adds a problem to `problems` for every rule the value breaks. The
    /// default accepts everything.
    fn validate(&self, problems: &mut Problems) {
        let _ = problems;
    }
}

/// The problems [`Validate::validate`] found, each with its full key path.
///
/// The loader turns them into a [`ConfigError::Validation`](crate::ConfigError::Validation)
/// naming the layer behind each key. Code that builds settings by hand (a
/// client or a cache made in a test, say) gets the same error from
/// [`Problems::of`] and [`into_result`](Self::into_result):
///
/// ```
/// use boost_config::{Problems, Validate};
///
/// struct Pool { size: u32 }
/// impl Validate for Pool {
///     fn validate(&self, problems: &mut Problems) {
///         if self.size == 0 {
///             problems.add("size", "must be at least 1");
///         }
///     }
/// }
///
/// let error = Problems::of("db", &Pool { size: 0 }).into_result("pool `db`").unwrap_err();
/// assert_eq!(error.problems()[0].key, "db.size");
/// assert!(error.to_string().contains("`db.size` (set in code): must be at least 1"), "{error}");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Problems {
    prefix: Vec<String>,
    found: Vec<(String, String)>,
}

impl Problems {
    /// No problems yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The problems of `value`, its keys under `section` (empty: at the top).
    pub fn of<V: Validate + ?Sized>(section: &str, value: &V) -> Self {
        let mut problems = Self::new();
        if section.is_empty() {
            value.validate(&mut problems);
        } else {
            problems.check(section, value);
        }
        problems
    }

    /// `Ok(())` when there are none, else the same
    /// [`ConfigError::Validation`](crate::ConfigError::Validation) the loader
    /// reports, for settings made in code ([`Source::Code`](crate::Source::Code)).
    /// `subject` names what was being built, e.g. ``client `profiles` ``.
    ///
    /// # Errors
    /// The error listing every problem.
    pub fn into_result(self, subject: impl Into<String>) -> Result<(), crate::ConfigError> {
        if self.found.is_empty() {
            return Ok(());
        }
        let problems = self
            .found
            .into_iter()
            .map(|(key, message)| crate::Problem {
                key,
                source: crate::Source::Code,
                line: None,
                kind: crate::ProblemKind::Invalid { message },
            })
            .collect();
        Err(crate::ConfigError::Validation {
            service: subject.into(),
            problems,
        })
    }

    /// Reports that `key` (relative to the section being checked, dotted for
    /// deeper keys) breaks a rule. Say what is wrong and what would be right.
    pub fn add(&mut self, key: &str, message: impl Into<String>) {
        let mut full = self.prefix.join(".");
        if !key.is_empty() {
            if !full.is_empty() {
                full.push('.');
            }
            full.push_str(key);
        }
        self.found.push((full, message.into()));
    }

    /// Validates a nested section, prefixing its keys with `section`.
    pub fn check<V: Validate + ?Sized>(&mut self, section: &str, value: &V) {
        self.prefix.push(section.to_owned());
        value.validate(self);
        self.prefix.pop();
    }

    /// Whether no problem was reported.
    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// How many problems were reported.
    pub fn len(&self) -> usize {
        self.found.len()
    }

    /// The full key paths of the problems, in the order reported.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.found.iter().map(|(key, _)| key.as_str())
    }

    /// The `(key, message)` pairs, in the order reported.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.found
            .iter()
            .map(|(key, message)| (key.as_str(), message.as_str()))
    }
}

impl Validate for crate::ServiceIdentity {
    fn validate(&self, problems: &mut Problems) {
        if self.name.trim().is_empty() {
            problems.add("name", "must not be empty");
        } else if self.name.len() > 63
            || !self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            // It becomes a Prometheus label, a YAML value, alert template text,
            // a Grafana uid and the prefix of environment variables.
            problems.add(
                "name",
                "must be 1–63 of a-z, A-Z, 0-9, '-', '_' and '.', e.g. \"hello-service\"",
            );
        }
        for (key, value) in [("team", &self.team), ("oncall", &self.oncall)] {
            if value.len() > 128
                || value.chars().any(char::is_control)
                || value.contains("{{")
                || value.contains("}}")
                || value.contains(['"', '`'])
            {
                // Both reach generated alert rules, routes and runbooks.
                problems.add(
                    key,
                    "must be at most 128 characters with no control characters, quotes, \
                     backticks or `{{`/`}}`, e.g. \"greeters\"",
                );
            }
        }
        if !self.runbook_url.is_empty() && url::Url::parse(&self.runbook_url).is_err() {
            problems.add(
                "runbook_url",
                "must be an absolute URL (https://…) or empty",
            );
        }
    }
}

macro_rules! no_rules {
    ($($ty:ty),* $(,)?) => {
        $(impl Validate for $ty {})*
    };
}

leaf_types!(no_rules);

/// The longest duration any setting may hold: one year (365 days).
///
/// No timeout, interval, backoff or lifetime needs more, and everything up to
/// it can be added to an `Instant` or multiplied by a backoff factor without
/// overflowing. Before this bound a `grpc.server.keepalive_interval` of
/// `"500000000000y"` passed validation and panicked every connection (an
/// `Instant` overflow inside hyper). Settings that mean "never" are
/// `Option`s: leave them unset. Every `Duration` field checks it, nested in
/// `Option`, `Vec` and maps too, under the field's key.
///
/// ```
/// use std::time::Duration;
/// use boost_config::{Problems, Validate};
///
/// #[derive(Validate)]
/// struct Settings { timeout: Duration, idle: Option<Duration> }
///
/// let far = Duration::from_secs(400 * 24 * 60 * 60);
/// let problems = Problems::of("svc", &Settings { timeout: far, idle: Some(far) });
/// assert_eq!(problems.keys().collect::<Vec<_>>(), ["svc.timeout", "svc.idle"]);
/// ```
pub const MAX_DURATION: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 60 * 60);

impl Validate for std::time::Duration {
    fn validate(&self, problems: &mut Problems) {
        if *self > MAX_DURATION {
            problems.add(
                "",
                format!(
                    "is {}, longer than 365days, the most any setting may hold; give a \
                     shorter duration (or leave an optional one unset for \"never\")",
                    humantime_serde::re::humantime::format_duration(*self),
                ),
            );
        }
    }
}

impl<T: Validate + ?Sized> Validate for Box<T> {
    fn validate(&self, problems: &mut Problems) {
        (**self).validate(problems);
    }
}

impl<T: Validate + ?Sized> Validate for std::sync::Arc<T> {
    fn validate(&self, problems: &mut Problems) {
        (**self).validate(problems);
    }
}

impl<T: Validate> Validate for Option<T> {
    fn validate(&self, problems: &mut Problems) {
        if let Some(value) = self {
            value.validate(problems);
        }
    }
}

impl<T: Validate> Validate for crate::Secret<T> {
    fn validate(&self, problems: &mut Problems) {
        // Rules see the value; their messages must never quote it.
        self.expose().validate(problems);
    }
}

/// Items are checked under their index: `endpoints.0`, `endpoints.1`, …
impl<T: Validate> Validate for Vec<T> {
    fn validate(&self, problems: &mut Problems) {
        for (i, item) in self.iter().enumerate() {
            problems.check(&i.to_string(), item);
        }
    }
}

/// Entries are checked under their key: `clients.billing.timeout`.
impl<K: std::fmt::Display, V: Validate> Validate for std::collections::BTreeMap<K, V> {
    fn validate(&self, problems: &mut Problems) {
        for (key, value) in self {
            problems.check(&key.to_string(), value);
        }
    }
}

/// Entries are checked under their key, in key order.
impl<K: std::fmt::Display + Ord, V: Validate, H> Validate for std::collections::HashMap<K, V, H> {
    fn validate(&self, problems: &mut Problems) {
        let mut entries: Vec<_> = self.iter().collect();
        entries.sort_by(|a, b| a.0.cmp(b.0));
        for (key, value) in entries {
            problems.check(&key.to_string(), value);
        }
    }
}
