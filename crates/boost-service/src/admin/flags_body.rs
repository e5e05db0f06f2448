//! The body of `PUT /flags/{name}`, checked field by field so a `400` names
//! the field at fault.

use std::time::Duration;

use boost_switches::{Change, SwitchKind, Value};
use serde_json::Map;

/// Longest `actor`.
const MAX_ACTOR: usize = 128;
/// Longest `reason`.
const MAX_REASON: usize = 1024;

const EXAMPLE: &str =
    r#"{"enabled": false, "reason": "partner down", "actor": "jo", "revert_after": "2h"}"#;

/// A field at fault and what to send instead.
#[derive(Debug, PartialEq)]
pub(super) struct BadField {
    pub(super) field: &'static str,
    pub(super) problem: String,
}

fn bad(field: &'static str, problem: impl Into<String>) -> BadField {
    BadField {
        field,
        problem: problem.into(),
    }
}

/// The change `body` asks of a switch of `kind`.
pub(super) fn parse(body: &str, kind: SwitchKind) -> Result<Change, BadField> {
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| bad("body", format!("is not JSON ({e}); send e.g. {EXAMPLE}")))?;
    let serde_json::Value::Object(fields) = value else {
        return Err(bad(
            "body",
            format!("is not a JSON object; send e.g. {EXAMPLE}"),
        ));
    };
    if let Some(unknown) = fields.keys().find(|key| {
        !["enabled", "percent", "reason", "actor", "revert_after"].contains(&key.as_str())
    }) {
        // The name is the caller's text: bounded before it is echoed.
        let shown: String = unknown.chars().take(64).collect();
        return Err(bad(
            "body",
            format!(
                "has an unknown field {shown:?}; the fields are enabled (a toggle) or percent \
                 (a rollout), reason, actor and revert_after"
            ),
        ));
    }
    let value = state(&fields, kind)?;
    let actor = text(&fields, "actor", MAX_ACTOR, "who you are, e.g. \"jo\"")?;
    let reason = text(
        &fields,
        "reason",
        MAX_REASON,
        "why, e.g. \"partner down, INC-1234\"",
    )?;
    let mut change = Change::new(value, actor, reason);
    if let Some(after) = revert_after(&fields)? {
        change = change.revert_after(after);
    }
    Ok(change)
}

fn state(fields: &Map<String, serde_json::Value>, kind: SwitchKind) -> Result<Value, BadField> {
    match (kind, fields.get("enabled"), fields.get("percent")) {
        (SwitchKind::Toggle, _, Some(_)) => Err(bad(
            "percent",
            "this switch is a toggle: send `enabled` (true or false), not `percent`",
        )),
        (SwitchKind::Rollout, Some(_), _) => Err(bad(
            "enabled",
            "this switch is a rollout: send `percent` (0 to 100), not `enabled`",
        )),
        (SwitchKind::Toggle, Some(serde_json::Value::Bool(on)), None) => Ok(Value::Enabled(*on)),
        (SwitchKind::Toggle, Some(_), None) => Err(bad("enabled", "must be true or false")),
        (SwitchKind::Toggle, None, None) => Err(bad(
            "enabled",
            "is missing: send `\"enabled\": true` or `false`",
        )),
        (SwitchKind::Rollout, None, Some(percent)) => match percent.as_f64() {
            Some(p) if (0.0..=100.0).contains(&p) => Ok(Value::Percent(p)),
            _ => Err(bad("percent", "must be a number from 0 to 100")),
        },
        (SwitchKind::Rollout, None, None) => Err(bad(
            "percent",
            "is missing: send `\"percent\"` with a share from 0 to 100",
        )),
        _ => Err(bad(
            "body",
            "names a kind of switch this release does not know",
        )),
    }
}

fn text(
    fields: &Map<String, serde_json::Value>,
    field: &'static str,
    max: usize,
    what: &str,
) -> Result<String, BadField> {
    match fields.get(field) {
        Some(serde_json::Value::String(value))
            if !value.trim().is_empty() && value.len() <= max =>
        {
            Ok(value.trim().to_owned())
        }
        Some(serde_json::Value::String(value)) if value.len() > max => Err(bad(
            field,
            format!("is {} bytes long; at most {max}", value.len()),
        )),
        Some(_) => Err(bad(field, format!("must be a non-empty string: {what}"))),
        None => Err(bad(field, format!("is required: say {what}"))),
    }
}

fn revert_after(fields: &Map<String, serde_json::Value>) -> Result<Option<Duration>, BadField> {
    let Some(value) = fields.get("revert_after") else {
        return Ok(None);
    };
    let serde_json::Value::String(text) = value else {
        return Err(bad(
            "revert_after",
            "must be a duration string such as \"2h\" or \"30m\"",
        ));
    };
    let after = humantime::parse_duration(text.trim()).map_err(|e| {
        let shown: String = text.chars().take(32).collect();
        bad(
            "revert_after",
            format!("{shown:?} is not a duration ({e}); send e.g. \"2h\" or \"30m\""),
        )
    })?;
    if after < Duration::from_secs(1) || after > boost_switches::MAX_REVERT_AFTER {
        return Err(bad("revert_after", "must be from 1s to 7d"));
    }
    Ok(Some(after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(body: &str, kind: SwitchKind) -> &'static str {
        parse(body, kind).err().map_or("none", |e| e.field)
    }

    #[test]
    fn a_good_body_is_a_change() {
        let change = parse(
            r#"{"enabled": false, "reason": "partner down", "actor": "jo", "revert_after": "2h"}"#,
            SwitchKind::Toggle,
        );
        let change = change.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(change.value, Value::Enabled(false));
        assert_eq!(change.actor, "jo");
        assert_eq!(change.revert_after, Some(Duration::from_secs(7200)));
        let rollout = parse(
            r#"{"percent": 12.5, "reason": "r", "actor": "a"}"#,
            SwitchKind::Rollout,
        );
        assert_eq!(rollout.map(|c| c.value), Ok(Value::Percent(12.5)));
    }

    #[test]
    fn each_bad_body_names_its_field() {
        let t = SwitchKind::Toggle;
        assert_eq!(field_of("not json", t), "body");
        assert_eq!(field_of("[1]", t), "body");
        assert_eq!(
            field_of(r#"{"enabled": false, "actor": "jo"}"#, t),
            "reason"
        );
        assert_eq!(field_of(r#"{"enabled": false, "reason": "x"}"#, t), "actor");
        assert_eq!(
            field_of(r#"{"enabled": false, "reason": " ", "actor": "jo"}"#, t),
            "reason"
        );
        assert_eq!(
            field_of(r#"{"enabled": "no", "reason": "x", "actor": "jo"}"#, t),
            "enabled"
        );
        assert_eq!(field_of(r#"{"reason": "x", "actor": "jo"}"#, t), "enabled");
        assert_eq!(
            field_of(r#"{"percent": 5, "reason": "x", "actor": "jo"}"#, t),
            "percent"
        );
        assert_eq!(
            field_of(
                r#"{"enabled": false, "reason": "x", "actor": "jo", "revert_after": "soon"}"#,
                t
            ),
            "revert_after"
        );
        assert_eq!(
            field_of(
                r#"{"enabled": false, "reason": "x", "actor": "jo", "revert_after": "30d"}"#,
                t
            ),
            "revert_after"
        );
        assert_eq!(
            field_of(
                r#"{"enabled": false, "reason": "x", "actor": "jo", "why": 1}"#,
                t
            ),
            "body"
        );
        let r = SwitchKind::Rollout;
        assert_eq!(
            field_of(r#"{"percent": 101, "reason": "x", "actor": "jo"}"#, r),
            "percent"
        );
        assert_eq!(
            field_of(r#"{"enabled": true, "reason": "x", "actor": "jo"}"#, r),
            "enabled"
        );
    }
}
