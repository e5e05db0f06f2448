//! [`Switches`]: the declared switches, their overrides and how they change.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use boost_audit::{AuditLog, AuditRecord};
use serde::{Deserialize, Serialize};

use crate::change::{Change, Value};
use crate::error::{ChangeError, SwitchError};
use crate::metrics::SwitchMetrics;
use crate::redis_backend::RedisBackend;
use crate::settings::{BackendKind, SwitchDef, SwitchKind, SwitchesSettings};
use crate::switch::{Cell, Rollout, Switch, basis_points};
use crate::{review, state_file};

/// The actor named in records of changes the store makes by itself.
const REVERT_ACTOR: &str = "boost-switches (revert_after)";
/// How often a revert whose store failed is tried again.
const REVERT_RETRY: Duration = Duration::from_secs(1);

/// An operator's override of a switch, as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Override {
    pub(crate) value: Value,
    pub(crate) actor: String,
    pub(crate) reason: String,
    /// When it was made, milliseconds since the Unix epoch.
    pub(crate) at_ms: u64,
    /// When it returns to the default by itself, if it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) revert_at_ms: Option<u64>,
}

/// One declared switch.
#[derive(Debug)]
struct Entry {
    def: SwitchDef,
    cell: Arc<Cell>,
    /// The override in force, if any, and a generation bumped by every
    /// change, so a scheduled revert never undoes a later change.
    state: Mutex<(Option<Override>, u64)>,
    metrics: SwitchMetrics,
}

impl Entry {
    fn default_value(&self) -> Value {
        match self.def.kind {
            SwitchKind::Toggle => Value::Enabled(self.def.default),
            SwitchKind::Rollout => Value::Percent(self.def.percent),
        }
    }

    fn state(&self) -> MutexGuard<'_, (Option<Override>, u64)> {
        // A panic elsewhere while holding this lock left plain data behind;
        // the switch must keep working.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn apply(&self, value: Value) {
        let raw = match value {
            Value::Enabled(on) => u32::from(on),
            Value::Percent(percent) => basis_points(percent),
        };
        self.cell.store(raw);
        self.metrics.state(match value {
            Value::Enabled(on) => f64::from(u8::from(on)),
            Value::Percent(percent) => percent / 100.0,
        });
    }
}

#[derive(Debug)]
enum Backend {
    Local(PathBuf),
    Redis(Box<RedisBackend>),
    Memory,
}

#[derive(Debug)]
pub(crate) struct Inner {
    entries: BTreeMap<String, Entry>,
    backend: Backend,
    audit: AuditLog,
    /// Serialises this replica's changes, so the state file always holds
    /// one consistent set of overrides. Held across the backend's I/O.
    changes: tokio::sync::Mutex<()>,
}

/// A service's switches: declared in `[switches]`, evaluated through
/// [`Switch`] and [`Rollout`] handles, changed by operators through
/// [`set`](Self::set) (the admin server's `PUT /flags/{name}`), every change
/// audited. Cheap to clone. See the [crate docs](crate).
#[derive(Clone, Debug)]
pub struct Switches {
    inner: Arc<Inner>,
}

impl Switches {
    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    /// The switches `settings` declares, with the overrides its backend
    /// holds; changes are audited to `audit`. Overrides of switches no longer
    /// declared are dropped (with a warning); one whose `revert_after` passed
    /// while the service was down is reverted now (audited). A switch past
    /// its `review_by` date is a warning.
    ///
    /// With the `redis` backend the switches start at their defaults and
    /// take the shared overrides from Redis a moment later, in a task that
    /// keeps them in step (an unreachable Redis never stops a service from
    /// starting); audit records also go to its stream. Must then be called
    /// inside a Tokio runtime.
    ///
    /// # Errors
    /// [`SwitchError::Config`] naming each bad key; [`SwitchError::StateFile`]
    /// / [`SwitchError::StateIo`] when the state file cannot be read;
    /// [`SwitchError::Redis`] for an unusable URL; [`SwitchError::NoRuntime`].
    pub fn open(settings: &SwitchesSettings, audit: AuditLog) -> Result<Self, SwitchError> {
        boost_config::Problems::of("switches", settings).into_result("the [switches] section")?;
        let (backend, stored) = match settings.backend {
            BackendKind::Local => (
                Backend::Local(settings.state_file.clone()),
                state_file::read(&settings.state_file)?.overrides,
            ),
            BackendKind::Redis => {
                if tokio::runtime::Handle::try_current().is_err() {
                    return Err(SwitchError::NoRuntime);
                }
                let redis = RedisBackend::new(&settings.redis, audit.service())?;
                if settings.redis.audit_stream {
                    audit.add_sink(redis.audit_sink(settings.redis.audit_stream_max_len));
                }
                (Backend::Redis(Box::new(redis)), BTreeMap::new())
            }
        };
        let switches = Self::assemble(&settings.declared, backend, audit, stored)?;
        if let Backend::Redis(redis) = &switches.inner.backend {
            tokio::spawn(crate::sync::follow(
                Arc::downgrade(&switches.inner),
                RedisBackend::clone(redis),
            ));
        }
        Ok(switches)
    }

    /// Switches kept in memory only (no state file), audited in memory: for
    /// tests and examples.
    ///
    /// # Errors
    /// [`SwitchError::Config`] if a declaration is invalid.
    pub fn in_memory<N: Into<String>>(
        declared: impl IntoIterator<Item = (N, SwitchDef)>,
    ) -> Result<Self, SwitchError> {
        let declared: BTreeMap<String, SwitchDef> =
            declared.into_iter().map(|(n, d)| (n.into(), d)).collect();
        let settings = SwitchesSettings {
            declared,
            ..SwitchesSettings::default()
        };
        boost_config::Problems::of("switches", &settings).into_result("the [switches] section")?;
        Self::assemble(
            &settings.declared,
            Backend::Memory,
            AuditLog::in_memory("switches"),
            BTreeMap::new(),
        )
    }

    /// No switches at all: every [`get`](Self::get) is an error.
    pub fn none() -> Self {
        Self {
            inner: Arc::new(Inner {
                entries: BTreeMap::new(),
                backend: Backend::Memory,
                audit: AuditLog::in_memory("switches"),
                changes: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn assemble(
        declared: &BTreeMap<String, SwitchDef>,
        backend: Backend,
        audit: AuditLog,
        mut stored: BTreeMap<String, Override>,
    ) -> Result<Self, SwitchError> {
        let now = time::OffsetDateTime::now_utc();
        let mut entries = BTreeMap::new();
        for (name, def) in declared {
            let entry = Entry {
                def: def.clone(),
                cell: Arc::new(Cell::new(name, 0)),
                state: Mutex::new((None, 0)),
                metrics: SwitchMetrics::new(name),
            };
            let value = match stored.remove(name) {
                Some(found) if fits(&entry, found.value) => {
                    let value = found.value;
                    *entry.state() = (Some(found), 1);
                    value
                }
                Some(found) => {
                    tracing::warn!(switch = %name, stored = ?found.value,
                        "the stored override does not fit the switch's kind any more; dropped");
                    entry.default_value()
                }
                None => entry.default_value(),
            };
            entry.apply(value);
            if review::is_stale(def.review_by.as_deref(), now) {
                tracing::warn!(switch = %name, owner = %def.owner,
                    review_by = def.review_by.as_deref().unwrap_or_default(),
                    "switch {name} is past its review_by date: remove it, or renew the date \
                     in [switches.declared.{name}]");
            }
            entries.insert(name.clone(), entry);
        }
        for name in stored.keys() {
            tracing::warn!(switch = %name,
                "the state file overrides switch {name}, which is no longer declared; dropped");
        }
        let switches = Self {
            inner: Arc::new(Inner {
                entries,
                backend,
                audit,
                changes: tokio::sync::Mutex::new(()),
            }),
        };
        switches.schedule_stored_reverts();
        Ok(switches)
    }

    /// The toggle `name`, to evaluate with [`Switch::is_on`].
    ///
    /// # Errors
    /// [`SwitchError::Undeclared`] if no switch has that name;
    /// [`SwitchError::WrongKind`] if it is a rollout.
    pub fn get(&self, name: &str) -> Result<Switch, SwitchError> {
        let entry = self.entry(name)?;
        match entry.def.kind {
            SwitchKind::Toggle => Ok(Switch {
                cell: Arc::clone(&entry.cell),
            }),
            SwitchKind::Rollout => Err(SwitchError::WrongKind {
                name: name.to_owned(),
                actual: "rollout",
                asked: "toggle",
                hint: "use Switches::rollout and Rollout::is_on_for(key)",
            }),
        }
    }

    /// The rollout `name`, to evaluate with [`Rollout::is_on_for`].
    ///
    /// # Errors
    /// [`SwitchError::Undeclared`] if no switch has that name;
    /// [`SwitchError::WrongKind`] if it is a toggle.
    pub fn rollout(&self, name: &str) -> Result<Rollout, SwitchError> {
        let entry = self.entry(name)?;
        match entry.def.kind {
            SwitchKind::Rollout => Ok(Rollout {
                cell: Arc::clone(&entry.cell),
            }),
            SwitchKind::Toggle => Err(SwitchError::WrongKind {
                name: name.to_owned(),
                actual: "toggle",
                asked: "rollout",
                hint: "use Switches::get and Switch::is_on",
            }),
        }
    }

    fn entry(&self, name: &str) -> Result<&Entry, SwitchError> {
        self.inner
            .entries
            .get(name)
            .ok_or_else(|| SwitchError::Undeclared {
                name: name.to_owned(),
                known: self.known(),
            })
    }

    fn known(&self) -> String {
        if self.inner.entries.is_empty() {
            return "none".to_owned();
        }
        self.inner
            .entries
            .keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every switch as `/flags` shows it, by name.
    pub fn list(&self) -> Vec<SwitchView> {
        let now = time::OffsetDateTime::now_utc();
        self.inner
            .entries
            .iter()
            .map(|(name, entry)| view(name, entry, now))
            .collect()
    }

    /// The switch `name` as `/flags` shows it.
    pub fn view(&self, name: &str) -> Option<SwitchView> {
        let now = time::OffsetDateTime::now_utc();
        self.inner
            .entries
            .get_key_value(name)
            .map(|(name, entry)| view(name, entry, now))
    }

    /// Whether `name` is declared.
    pub fn contains(&self, name: &str) -> bool {
        self.inner.entries.contains_key(name)
    }

    /// The kind of switch `name`, if declared.
    pub fn kind(&self, name: &str) -> Option<SwitchKind> {
        self.inner.entries.get(name).map(|entry| entry.def.kind)
    }

    /// Counts a change refused before it reached [`set`](Self::set) (a bad
    /// request body) in `feature_flag_changes_total{outcome="invalid"}`.
    pub fn count_refused(&self, name: &str) {
        if let Some(entry) = self.inner.entries.get(name) {
            entry.metrics.change("invalid");
        }
    }

    /// The audit log changes are recorded in.
    pub fn audit(&self) -> &AuditLog {
        &self.inner.audit
    }

    /// Makes `change` to switch `name`: stored first (the state file), then
    /// audited (one record, fsynced), then in force for every handle. With
    /// `revert_after`, the switch returns to its default by itself then
    /// (audited too), unless another change came first. A change back to the
    /// default with no `revert_after` clears the override.
    ///
    /// # Errors
    /// [`ChangeError::Unknown`], [`ChangeError::Invalid`] (naming the field),
    /// [`ChangeError::Unavailable`] when the state cannot be stored,
    /// [`ChangeError::Audit`] when the record cannot be written. Nothing
    /// changes on any error.
    pub async fn set(&self, name: &str, change: Change) -> Result<SwitchView, ChangeError> {
        let Some(entry) = self.inner.entries.get(name) else {
            return Err(ChangeError::Unknown {
                name: name.to_owned(),
                known: self.known(),
            });
        };
        if let Err(e) = check(entry, &change) {
            entry.metrics.change("invalid");
            return Err(e);
        }
        if change.revert_after.is_some() && tokio::runtime::Handle::try_current().is_err() {
            return Err(ChangeError::Unavailable(SwitchError::NoRuntime));
        }
        let now = SystemTime::now();
        let at_ms = millis(now);
        let revert_at_ms = change.revert_after.map(|after| {
            at_ms.saturating_add(u64::try_from(after.as_millis()).unwrap_or(u64::MAX))
        });
        let clears = change.value == entry.default_value() && revert_at_ms.is_none();
        let new = (!clears).then(|| Override {
            value: change.value,
            actor: change.actor.clone(),
            reason: change.reason.clone(),
            at_ms,
            revert_at_ms,
        });

        let _changing = self.inner.changes.lock().await;
        let old_value = current_value(entry);
        let record = AuditRecord::new("switch.set", name, "changed")
            .actor(change.actor.clone())
            .change(old_value.to_string(), change.value.to_string())
            .reason(change.reason.clone());
        let record = with_caller(record, &change);
        let generation = match self.store_and_audit(name, entry, new, None, record).await {
            Ok(Some(generation)) => generation,
            // Only a revert's conditional store can find its override gone.
            Ok(None) => current_generation(entry),
            Err(e) => {
                let refusal = match &e {
                    ChangeError::Unavailable(cause) => {
                        Some(("unavailable", format!("not changed: {cause}")))
                    }
                    ChangeError::Uncertain(cause) => {
                        Some(("uncertain", format!("may be in force: {cause}")))
                    }
                    _ => None,
                };
                if let Some((outcome, why)) = refusal {
                    let refused = AuditRecord::new("switch.set", name, outcome)
                        .actor(change.actor.clone())
                        .change(old_value.to_string(), change.value.to_string())
                        .reason(format!("{} ({why})", change.reason));
                    self.record_best_effort(with_caller(refused, &change)).await;
                }
                entry.metrics.change(outcome_of(&e));
                return Err(e);
            }
        };
        entry.metrics.change("changed");
        tracing::info!(switch = %name, old = %old_value, new = %change.value, actor = %change.actor,
            "switch {name}: {old_value} -> {}", change.value);
        if let Some(after) = change.revert_after {
            self.schedule_revert(name, generation, after);
        }
        Ok(view(name, entry, time::OffsetDateTime::now_utc()))
    }

    /// Stores `new` as `name`'s override, audits `record`, then applies it;
    /// returns the new generation, or `None` when `expected` (a revert's
    /// override) was no longer the stored one. On a failure nothing is in
    /// force.
    async fn store_and_audit(
        &self,
        name: &str,
        entry: &Entry,
        new: Option<Override>,
        expected: Option<&Override>,
        record: AuditRecord,
    ) -> Result<Option<u64>, ChangeError> {
        let before = entry.state().0.clone();
        match &self.inner.backend {
            Backend::Redis(redis) => {
                let stored = match expected {
                    Some(expected) => redis.revert_if(name, expected).await,
                    None => redis.put(name, new.as_ref()).await.map(|()| true),
                };
                let stored = match stored {
                    Ok(stored) => stored,
                    // A timeout can come after Redis ran the command: look
                    // before saying nothing changed.
                    Err((e, timed_out)) => match redis.stored(name).await {
                        Ok(now) if now == new => true,
                        Ok(_) => return Err(ChangeError::Unavailable(e)),
                        Err(_) if timed_out => return Err(ChangeError::Uncertain(e)),
                        Err(_) => return Err(ChangeError::Unavailable(e)),
                    },
                };
                if !stored {
                    return Ok(None);
                }
            }
            Backend::Local(path) => {
                let overrides = self.overrides_with(name, new.as_ref());
                state_file::write_async(path, overrides)
                    .await
                    .map_err(ChangeError::Unavailable)?;
            }
            Backend::Memory => {}
        }
        if let Err(e) = self.inner.audit.record_async(record).await {
            // Unaudited changes are not made: put the stored state back,
            // unless another replica changed it since (theirs stands).
            let undone = match &self.inner.backend {
                Backend::Redis(redis) => redis
                    .replace_if(name, new.as_ref(), before.as_ref())
                    .await
                    .map(|_| ())
                    .map_err(|(e, _)| e),
                Backend::Local(path) => {
                    state_file::write_async(path, self.overrides_with(name, before.as_ref())).await
                }
                Backend::Memory => Ok(()),
            };
            if let Err(undo) = undone {
                tracing::error!(switch = %name, error = %undo,
                    "could not restore the stored switch state after a failed audit record");
            }
            return Err(ChangeError::Audit(e));
        }
        Ok(Some(self.put_in_force(entry, new)))
    }

    /// Makes `new` the override in force for `entry`; the new generation.
    fn put_in_force(&self, entry: &Entry, new: Option<Override>) -> u64 {
        let value = new
            .as_ref()
            .map_or_else(|| entry.default_value(), |o| o.value);
        let generation = {
            let mut state = entry.state();
            state.0 = new;
            state.1 += 1;
            state.1
        };
        entry.apply(value);
        generation
    }

    /// Every override in force, with `name`'s replaced by `new`.
    fn overrides_with(&self, name: &str, new: Option<&Override>) -> BTreeMap<String, Override> {
        let mut overrides: BTreeMap<String, Override> = self
            .inner
            .entries
            .iter()
            .filter_map(|(n, entry)| entry.state().0.clone().map(|o| (n.clone(), o)))
            .collect();
        match new {
            Some(value) => overrides.insert(name.to_owned(), value.clone()),
            None => overrides.remove(name),
        };
        overrides
    }

    /// Reads every override from Redis and follows them, holding the change
    /// lock so a snapshot read before this replica's own change cannot undo
    /// it.
    pub(crate) async fn resync(&self, redis: &RedisBackend) -> Result<(), SwitchError> {
        let _changing = self.inner.changes.lock().await;
        let overrides = redis.load().await?;
        self.follow_remote(overrides);
        Ok(())
    }

    /// Takes the overrides another replica stored (the `redis` backend):
    /// each switch whose override differs is put in force, and its
    /// `revert_after` scheduled here too.
    pub(crate) fn follow_remote(&self, mut remote: BTreeMap<String, Override>) {
        for (name, entry) in &self.inner.entries {
            let theirs = remote.remove(name).filter(|o| fits(entry, o.value));
            let ours = entry.state().0.clone();
            if theirs == ours {
                continue;
            }
            let old = current_value(entry);
            let revert_at = theirs.as_ref().and_then(|o| o.revert_at_ms);
            let generation = self.put_in_force(entry, theirs);
            tracing::info!(switch = %name, old = %old, new = %current_value(entry),
                "switch {name} changed on another replica");
            if let Some(at) = revert_at {
                let left = at.saturating_sub(millis(SystemTime::now()));
                self.schedule_revert(name, generation, Duration::from_millis(left));
            }
        }
    }

    async fn record_best_effort(&self, record: AuditRecord) {
        if let Err(e) = self.inner.audit.record_async(record).await {
            tracing::error!(error = %e, "could not write an audit record");
        }
    }

    /// Returns `name` to its default if `generation` is still the latest
    /// change; `Ok(false)` if a later change made the revert moot.
    async fn revert(&self, name: &str, generation: u64) -> Result<bool, ChangeError> {
        let Some(entry) = self.inner.entries.get(name) else {
            return Ok(false);
        };
        let _changing = self.inner.changes.lock().await;
        let (old, current) = {
            let state = entry.state();
            (state.0.clone(), state.1)
        };
        let Some(old) = old.filter(|_| current == generation) else {
            return Ok(false);
        };
        let default = entry.default_value();
        let record = AuditRecord::new("switch.revert", name, "reverted")
            .actor(REVERT_ACTOR)
            .change(old.value.to_string(), default.to_string())
            .reason(format!(
                "revert_after set by {} passed (their reason: {})",
                old.actor, old.reason
            ));
        match self
            .store_and_audit(name, entry, None, Some(&old), record)
            .await
        {
            Ok(None) => Ok(false),
            Ok(Some(_)) => {
                entry.metrics.change("reverted");
                tracing::info!(switch = %name, old = %old.value, new = %default,
                    "switch {name} reverted to its default ({default}) after revert_after");
                Ok(true)
            }
            Err(e) => {
                entry.metrics.change(outcome_of(&e));
                Err(e)
            }
        }
    }

    fn schedule_stored_reverts(&self) {
        let now = millis(SystemTime::now());
        for (name, entry) in &self.inner.entries {
            let (revert_at, generation) = {
                let state = entry.state();
                (state.0.as_ref().and_then(|o| o.revert_at_ms), state.1)
            };
            if let Some(at) = revert_at {
                self.schedule_revert(
                    name,
                    generation,
                    Duration::from_millis(at.saturating_sub(now)),
                );
            }
        }
    }

    fn schedule_revert(&self, name: &str, generation: u64, after: Duration) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(switch = %name,
                "no Tokio runtime: the switch's revert_after cannot be scheduled; it is \
                 reverted when the service next starts");
            return;
        };
        // A weak reference: dropping the last `Switches` ends pending reverts.
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let name = name.to_owned();
        runtime.spawn(async move {
            tokio::time::sleep(after).await;
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let switches = Switches { inner };
                match switches.revert(&name, generation).await {
                    Ok(_) => return,
                    Err(e) => tracing::warn!(switch = %name, error = %e,
                        "could not revert the switch after revert_after; trying again in {REVERT_RETRY:?}"),
                }
                drop(switches);
                tokio::time::sleep(REVERT_RETRY).await;
            }
        });
    }
}

fn fits(entry: &Entry, value: Value) -> bool {
    matches!(
        (entry.def.kind, value),
        (SwitchKind::Toggle, Value::Enabled(_)) | (SwitchKind::Rollout, Value::Percent(_))
    )
}

fn check(entry: &Entry, change: &Change) -> Result<(), ChangeError> {
    match (entry.def.kind, change.value) {
        (SwitchKind::Toggle, Value::Enabled(_)) => {}
        (SwitchKind::Rollout, Value::Percent(p)) if !(0.0..=100.0).contains(&p) || p.is_nan() => {
            return Err(ChangeError::Invalid {
                field: "percent",
                problem: format!("is {p}; send a share from 0 to 100"),
            });
        }
        (SwitchKind::Rollout, Value::Percent(_)) => {}
        (SwitchKind::Toggle, Value::Percent(_)) => {
            return Err(ChangeError::Invalid {
                field: "percent",
                problem: "this switch is a toggle: send `enabled` (true or false), not `percent`"
                    .to_owned(),
            });
        }
        (SwitchKind::Rollout, Value::Enabled(_)) => {
            return Err(ChangeError::Invalid {
                field: "enabled",
                problem: "this switch is a rollout: send `percent` (0 to 100), not `enabled`"
                    .to_owned(),
            });
        }
    }
    if let Some(after) = change.revert_after
        && (after.is_zero() || after > crate::settings::MAX_REVERT_AFTER)
    {
        return Err(ChangeError::Invalid {
            field: "revert_after",
            problem: format!(
                "is {}; send a duration from 1s to 7d, e.g. \"2h\"",
                humantime::format_duration(after)
            ),
        });
    }
    Ok(())
}

fn with_caller(mut record: AuditRecord, change: &Change) -> AuditRecord {
    if let Some(token) = &change.token {
        record = record.token(token.clone());
    }
    if let Some(peer) = &change.peer {
        record = record.peer(peer.clone());
    }
    record
}

fn outcome_of(error: &ChangeError) -> &'static str {
    match error {
        ChangeError::Unknown { .. } | ChangeError::Invalid { .. } => "invalid",
        ChangeError::Unavailable(_) | ChangeError::Uncertain(_) | ChangeError::Audit(_) => {
            "unavailable"
        }
    }
}

fn current_generation(entry: &Entry) -> u64 {
    entry.state().1
}

fn current_value(entry: &Entry) -> Value {
    entry
        .state()
        .0
        .as_ref()
        .map_or_else(|| entry.default_value(), |o| o.value)
}

fn millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn view(name: &str, entry: &Entry, now: time::OffsetDateTime) -> SwitchView {
    let (current, _) = entry.state().clone();
    let value = current
        .as_ref()
        .map_or_else(|| entry.default_value(), |o| o.value);
    let default = entry.default_value();
    let kind = match entry.def.kind {
        SwitchKind::Toggle => "toggle",
        SwitchKind::Rollout => "rollout",
    };
    SwitchView {
        name: name.to_owned(),
        kind,
        enabled: value.enabled(),
        percent: value.percent(),
        default_enabled: default.enabled(),
        default_percent: default.percent(),
        overridden: current.is_some(),
        description: entry.def.description.clone(),
        owner: entry.def.owner.clone(),
        changed_by: current.as_ref().map(|o| o.actor.clone()),
        changed_at: current.as_ref().map(|o| rfc3339(o.at_ms)),
        reason: current.as_ref().map(|o| o.reason.clone()),
        reverts_at: current.as_ref().and_then(|o| o.revert_at_ms).map(rfc3339),
        review_by: entry.def.review_by.clone(),
        stale: review::is_stale(entry.def.review_by.as_deref(), now),
    }
}

/// A switch as `GET /flags` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SwitchView {
    /// Its name.
    pub name: String,
    /// `"toggle"` or `"rollout"`.
    pub kind: &'static str,
    /// A toggle's state now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// A rollout's share now, 0 to 100.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// A toggle's configured default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_enabled: Option<bool>,
    /// A rollout's configured default share.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_percent: Option<f64>,
    /// Whether an operator's override is in force.
    pub overridden: bool,
    /// What the switch does.
    pub description: String,
    /// The owning team.
    pub owner: String,
    /// Who made the override in force.
    pub changed_by: Option<String>,
    /// When (RFC 3339, UTC).
    pub changed_at: Option<String>,
    /// Why, as they said.
    pub reason: Option<String>,
    /// When the override returns to the default by itself, if it does.
    pub reverts_at: Option<String>,
    /// The configured review-by date.
    pub review_by: Option<String>,
    /// Whether the review-by date has passed.
    pub stale: bool,
}
