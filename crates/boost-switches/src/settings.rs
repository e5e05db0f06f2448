//! [`SwitchesSettings`]: the `[switches]` section, where a service declares
//! its switches and where their overrides live.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use boost_config::{Document, Endpoint, Problems, Validate};
use serde::{Deserialize, Serialize};

/// Most switches one service may declare: each is a line on `/flags`, a
/// `feature_flag_state` series and an entry of the state file.
pub const MAX_SWITCHES: usize = 256;
/// Longest switch name; names are `[a-z0-9_]`, starting with a letter.
pub const MAX_NAME_LEN: usize = 64;
/// Longest `revert_after` a change may ask for (7 days): an override meant
/// to outlive a week belongs in the config, reviewed.
pub const MAX_REVERT_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// The `[switches]` section: the switches this service declares and where
/// operators' overrides are kept.
///
/// ```
/// use boost_switches::{SwitchesSettings, SwitchKind};
///
/// let settings: SwitchesSettings = toml::from_str(r#"
///     state_file = "state/switches.json"
///     [declared.partner_hertz]
///     description = "Call Hertz for quotes; off: quote without Hertz prices."
///     owner = "cars-team"
///     default = true
///     review_by = "2027-06-30"
///     [declared.new_pricing]
///     description = "Share of callers priced by the new engine."
///     owner = "pricing-team"
///     kind = "rollout"
///     percent = 5.0
/// "#).unwrap();
/// assert_eq!(settings.declared["new_pricing"].kind, SwitchKind::Rollout);
/// assert!(boost_config::Problems::of("switches", &settings).is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = rules)]
#[non_exhaustive]
pub struct SwitchesSettings {
    /// Where overrides are kept: `"local"` (a state file on this replica's
    /// disk, `state_file`) or `"redis"` (shared by every replica on one
    /// Redis, `[switches.redis]`). Default `"local"`.
    pub backend: BackendKind,
    /// The `local` backend's state file: operators' overrides, rewritten
    /// atomically (write, fsync, rename) on every change so they survive a
    /// restart. Default `"switches.state.json"`, relative to the working
    /// directory.
    pub state_file: PathBuf,
    /// The switches this service declares, by name (`[a-z0-9_]`, starting
    /// with a letter, at most 64 characters; at most 256 switches). Code
    /// asks for them by name at start (`switches.get("name")?`): an
    /// undeclared name is an error then, never a silent `false`.
    pub declared: BTreeMap<String, SwitchDef>,
    /// The `redis` backend: where the shared overrides live.
    pub redis: RedisSwitchesSettings,
}

impl Default for SwitchesSettings {
    fn default() -> Self {
        Self {
            backend: BackendKind::Local,
            state_file: PathBuf::from("switches.state.json"),
            declared: BTreeMap::new(),
            redis: RedisSwitchesSettings::default(),
        }
    }
}

/// The `redis` backend (`[switches.redis]`): overrides in one Redis hash
/// shared by every replica, changes announced on a pub/sub channel so all
/// converge within a second, audit records also appended to a Redis stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = redis_rules)]
#[non_exhaustive]
pub struct RedisSwitchesSettings {
    /// The Redis URL, `redis://[user:password@]host:port[/db]`; credentials
    /// in it are masked wherever it is shown. Default
    /// `"redis://127.0.0.1:6379"`.
    pub url: Endpoint,
    /// Prefix of the keys: `<key_prefix>:overrides` (a hash),
    /// `<key_prefix>:changes` (the channel), `<key_prefix>:audit` (the
    /// stream). Empty: `<service name>:switches`. At most 128 bytes.
    /// Default: empty.
    pub key_prefix: String,
    /// The longest one Redis command may take; past it a change answers
    /// `503` and changes nothing. More than `0s`, at most `10s`. Default
    /// `500ms`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How often every replica reads all overrides again, besides the
    /// change announcements (which may be missed while disconnected).
    /// From `100ms` to `10m`. Default `5s`.
    #[serde(with = "humantime_serde")]
    pub resync_interval: Duration,
    /// Whether audit records also go to the `<key_prefix>:audit` stream, so
    /// the trail of every replica is in one place. Default `true`.
    pub audit_stream: bool,
    /// About how many records the audit stream keeps (`XADD MAXLEN ~`).
    /// From 100 to 10 000 000. Default `100000`.
    pub audit_stream_max_len: u64,
}

impl Default for RedisSwitchesSettings {
    fn default() -> Self {
        Self {
            url: Endpoint::new("redis://127.0.0.1:6379"),
            key_prefix: String::new(),
            timeout: Duration::from_millis(500),
            resync_interval: Duration::from_secs(5),
            audit_stream: true,
            audit_stream_max_len: 100_000,
        }
    }
}

fn redis_rules(settings: &RedisSwitchesSettings, problems: &mut Problems) {
    if !settings.url.expose().starts_with("redis://") {
        problems.add(
            "url",
            format!(
                "{} is not a redis:// URL; write it as redis://host:port[/db] \
                 (rediss://, TLS, is not supported yet)",
                settings.url
            ),
        );
    }
    if settings.key_prefix.len() > 128 {
        problems.add("key_prefix", "is longer than 128 bytes");
    }
    if settings.timeout.is_zero() || settings.timeout > Duration::from_secs(10) {
        problems.add(
            "timeout",
            "must be more than 0s and at most 10s, e.g. \"500ms\"",
        );
    }
    if settings.resync_interval < Duration::from_millis(100)
        || settings.resync_interval > Duration::from_secs(600)
    {
        problems.add("resync_interval", "must be from 100ms to 10m, e.g. \"5s\"");
    }
    if !(100..=10_000_000).contains(&settings.audit_stream_max_len) {
        problems.add("audit_stream_max_len", "must be from 100 to 10000000");
    }
}

/// Where a service keeps its switches' overrides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BackendKind {
    /// A state file on this replica (`switches.state_file`).
    #[default]
    Local,
    /// One Redis shared by every replica (`[switches.redis]`).
    Redis,
}

impl Validate for BackendKind {}
impl Document for BackendKind {}

/// What a switch answers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SwitchKind {
    /// On or off for every call ([`Switch::is_on`](crate::Switch::is_on)).
    #[default]
    Toggle,
    /// On for a share of keys, the same key always getting the same answer
    /// ([`Rollout::is_on_for`](crate::Rollout::is_on_for)).
    Rollout,
}

impl Validate for SwitchKind {}
impl Document for SwitchKind {}

/// One declared switch (`[switches.declared.<name>]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Validate, Document)]
#[serde(default, deny_unknown_fields)]
#[validate(custom = def_rules)]
#[non_exhaustive]
pub struct SwitchDef {
    /// What the switch does, for the operator reading `/flags` at night:
    /// what on means and what off means. Required, at most 512 characters.
    pub description: String,
    /// Who owns the switch (a team), so a stale one has someone to ask.
    /// Required, at most 128 characters.
    pub owner: String,
    /// `"toggle"` (on/off) or `"rollout"` (on for `percent` of keys).
    /// Default `"toggle"`.
    pub kind: SwitchKind,
    /// A toggle's state when no operator has overridden it. Default `true`.
    pub default: bool,
    /// A rollout's share of keys, 0 to 100, when no operator has overridden
    /// it. Default `0`.
    pub percent: f64,
    /// The date (`YYYY-MM-DD`) by which the owner should remove the switch
    /// or renew this date. A switch past it is a warning at start and is
    /// marked `stale` on `/flags`: old switches are debt. Optional.
    pub review_by: Option<String>,
}

impl Default for SwitchDef {
    fn default() -> Self {
        Self {
            description: String::new(),
            owner: String::new(),
            kind: SwitchKind::Toggle,
            default: true,
            percent: 0.0,
            review_by: None,
        }
    }
}

impl SwitchDef {
    /// A toggle with `default`, described and owned.
    pub fn toggle(description: impl Into<String>, owner: impl Into<String>, default: bool) -> Self {
        Self {
            description: description.into(),
            owner: owner.into(),
            default,
            ..Self::default()
        }
    }

    /// A rollout at `percent` by default, described and owned.
    pub fn rollout(description: impl Into<String>, owner: impl Into<String>, percent: f64) -> Self {
        Self {
            description: description.into(),
            owner: owner.into(),
            kind: SwitchKind::Rollout,
            percent,
            ..Self::default()
        }
    }

    /// The same switch with a review-by date (`YYYY-MM-DD`).
    #[must_use]
    pub fn review_by(mut self, date: impl Into<String>) -> Self {
        self.review_by = Some(date.into());
        self
    }
}

fn rules(settings: &SwitchesSettings, problems: &mut Problems) {
    if settings.declared.len() > MAX_SWITCHES {
        problems.add(
            "declared",
            format!(
                "declares {} switches, more than the {MAX_SWITCHES} a service may have; \
                 remove the ones whose rollout is over",
                settings.declared.len()
            ),
        );
    }
    if settings.state_file.as_os_str().is_empty() {
        problems.add(
            "state_file",
            "is empty; name the file the local backend keeps overrides in \
             (default \"switches.state.json\")",
        );
    }
    for name in settings.declared.keys() {
        if let Some(problem) = name_problem(name) {
            problems.add(&format!("declared.{name}"), problem);
        }
    }
}

/// What is wrong with `name` as a switch name, if anything.
pub(crate) fn name_problem(name: &str) -> Option<String> {
    let well_formed = name.len() <= MAX_NAME_LEN
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    (!well_formed).then(|| {
        format!(
            "{name:?} is not a switch name: use lower-case letters, digits and `_`, \
             starting with a letter, at most {MAX_NAME_LEN} characters"
        )
    })
}

fn def_rules(def: &SwitchDef, problems: &mut Problems) {
    let description = def.description.trim();
    if description.is_empty() || description.len() > 512 {
        problems.add(
            "description",
            "must say, in at most 512 characters, what on and off mean: \
             the operator flipping it at night reads only this",
        );
    }
    let owner = def.owner.trim();
    if owner.is_empty() || owner.len() > 128 {
        problems.add(
            "owner",
            "must name the owning team (at most 128 characters)",
        );
    }
    if !(0.0..=100.0).contains(&def.percent) {
        problems.add(
            "percent",
            format!("is {}; a rollout's share is from 0 to 100", def.percent),
        );
    }
    if def.kind == SwitchKind::Toggle && def.percent != 0.0 {
        problems.add(
            "percent",
            "is set on a toggle, which has no share; set `kind = \"rollout\"` or remove it",
        );
    }
    if let Some(date) = &def.review_by
        && crate::review::parse_date(date).is_none()
    {
        problems.add(
            "review_by",
            format!("{date:?} is not a date; write it as YYYY-MM-DD, e.g. \"2027-06-30\""),
        );
    }
}
