//! Runtime switches: declared in config, evaluated lock-free, flipped by the
//! on-call operator through the admin server, every change audited.
//!
//! When a partner's API goes down at night, the operator turns that partner
//! off in the running service — no deploy, no call to the owning team — and
//! turns it back on, or lets it turn itself back on, when the partner
//! recovers.
//!
//! # Declare
//!
//! Switches are declared in the `[switches]` section of the service's config
//! ([`SwitchesSettings`]): what they do, who owns them, their default, and
//! optionally a date by which they should be gone (a switch past it is a
//! warning at start and `stale` on `/flags`, because old switches are debt).
//!
//! ```toml
//! [switches.declared.partner_hertz]
//! description = "Call Hertz for quotes; off: quote without Hertz prices."
//! owner = "cars-team"
//! default = true
//! review_by = "2027-06-30"
//!
//! [switches.declared.new_pricing]
//! description = "Share of callers priced by the new engine."
//! owner = "pricing-team"
//! kind = "rollout"
//! percent = 5
//! ```
//!
//! # Evaluate
//!
//! Code asks for a typed handle once, at start — an undeclared name is an
//! error then, not a silent `false` — and evaluates it per call: one relaxed
//! atomic load, no lock, no allocation (a rollout also hashes its key).
//!
//! ```
//! use boost_switches::{Change, SwitchDef, Switches, Value};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let switches = Switches::in_memory([
//!     ("partner_hertz", SwitchDef::toggle("Call Hertz; off: no Hertz prices.", "cars", true)),
//!     ("new_pricing", SwitchDef::rollout("Callers on the new engine.", "pricing", 5.0)),
//! ])?;
//! let hertz = switches.get("partner_hertz")?;
//! let pricing = switches.rollout("new_pricing")?;
//! assert!(switches.get("no_such_switch").is_err());
//!
//! assert!(hertz.is_on());
//! let off = Change::new(Value::Enabled(false), "jo", "Hertz is down");
//! switches.set("partner_hertz", off).await?;
//! assert!(!hertz.is_on(), "every handle sees the change at once");
//! let _priced_new = pricing.is_on_for("customer-42");
//! # Ok(())
//! # }
//! ```
//!
//! # Change
//!
//! The admin server (boost-service) serves `GET /flags` and, with the admin
//! token, `PUT /flags/{name}` with a JSON body
//! `{"enabled": false, "reason": "partner down", "actor": "jo", "revert_after": "2h"}`
//! (`"percent"` for a rollout). [`Switches::set`] stores the change (the
//! `local` backend's state file, written atomically, so overrides survive a
//! restart), writes one audit record ([`boost_audit`]: who, what, when, why,
//! old → new; fsynced, hash-chained), then puts it in force. A
//! `revert_after` returns the switch to its default by itself, audited too.
//! If the state or the record cannot be written, nothing changes.
//!
//! # Metrics
//!
//! `feature_flag_state{flag}` (a toggle's 0 or 1, a rollout's share from 0
//! to 1) and `feature_flag_changes_total{flag,outcome}` (`changed`,
//! `reverted`, `invalid`, `unavailable`).
#![deny(missing_docs)]

mod change;
mod error;
mod metrics;
mod redis_backend;
mod review;
mod settings;
mod state_file;
mod store;
mod switch;
mod sync;

pub use change::{Change, Value};
pub use error::{ChangeError, SwitchError};
pub use settings::{
    BackendKind, MAX_NAME_LEN, MAX_REVERT_AFTER, MAX_SWITCHES, RedisSwitchesSettings, SwitchDef,
    SwitchKind, SwitchesSettings,
};
pub use store::{SwitchView, Switches};
pub use switch::{Rollout, Switch};
