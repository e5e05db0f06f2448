//! [`Change`]: what an operator asks of a switch, and [`Value`]: a state.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A switch's state: a toggle's on/off or a rollout's share.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Value {
    /// A toggle: on (`true`) or off.
    Enabled(bool),
    /// A rollout: the share of keys included, 0 to 100.
    Percent(f64),
}

impl Value {
    /// A toggle's state, if this is one.
    pub fn enabled(self) -> Option<bool> {
        match self {
            Self::Enabled(on) => Some(on),
            Self::Percent(_) => None,
        }
    }

    /// A rollout's share, if this is one.
    pub fn percent(self) -> Option<f64> {
        match self {
            Self::Percent(p) => Some(p),
            Self::Enabled(_) => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Enabled(true) => f.write_str("on"),
            Self::Enabled(false) => f.write_str("off"),
            Self::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// An operator's change to one switch ([`Switches::set`](crate::Switches::set)).
///
/// ```
/// use std::time::Duration;
/// use boost_switches::{Change, Value};
///
/// let change = Change::new(Value::Enabled(false), "jo", "partner down, INC-1234")
///     .revert_after(Duration::from_secs(2 * 3600));
/// assert_eq!(change.revert_after, Some(Duration::from_secs(7200)));
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Change {
    /// The new state.
    pub value: Value,
    /// Who asks (as they name themselves); required.
    pub actor: String,
    /// Why; required.
    pub reason: String,
    /// When the switch returns to its default by itself.
    pub revert_after: Option<Duration>,
    /// The fingerprint of the admin token used (never the token itself).
    pub token: Option<String>,
    /// The caller's address.
    pub peer: Option<String>,
}

impl Change {
    /// A change to `value`, asked by `actor` for `reason`.
    pub fn new(value: Value, actor: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            value,
            actor: actor.into(),
            reason: reason.into(),
            revert_after: None,
            token: None,
            peer: None,
        }
    }

    /// Returns the switch to its default after `after`.
    #[must_use]
    pub fn revert_after(mut self, after: Duration) -> Self {
        self.revert_after = Some(after);
        self
    }

    /// Who made the request: the admin token's fingerprint and the peer address.
    #[must_use]
    pub fn caller(mut self, token_fingerprint: impl Into<String>, peer: impl Into<String>) -> Self {
        self.token = Some(token_fingerprint.into());
        self.peer = Some(peer.into());
        self
    }
}
