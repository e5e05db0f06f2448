//! [`Redaction`]: secrets masked before anything reaches a tape.

use std::collections::BTreeMap;

use serde_json::Value;

/// What masked values read as in a tape.
pub const REDACTED: &str = "<redacted>";

/// Headers masked whatever the configuration says.
const ALWAYS_SECRET: [&str; 6] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
];

/// Which metadata and fields are secrets: their values are written as
/// [`REDACTED`] (string fields) or left out (other fields), and a request's
/// redacted fields are not compared when matching (the live request carries
/// the real secret).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redaction {
    headers: Vec<String>,
    fields: Vec<String>,
}

impl Redaction {
    /// `headers` masked besides `authorization`, `proxy-authorization`,
    /// `cookie`, `set-cookie`, `x-api-key` and `x-auth-token` (names
    /// case-insensitive), and message `fields` masked wherever they appear
    /// (by proto field name, at any depth).
    pub fn new<H, F>(headers: H, fields: F) -> Self
    where
        H: IntoIterator,
        H::Item: AsRef<str>,
        F: IntoIterator,
        F::Item: Into<String>,
    {
        Self {
            headers: headers
                .into_iter()
                .map(|h| h.as_ref().to_ascii_lowercase())
                .collect(),
            fields: fields.into_iter().map(Into::into).collect(),
        }
    }

    /// Whether the header `name` is a secret.
    pub fn is_secret_header(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        ALWAYS_SECRET.contains(&name.as_str()) || self.headers.contains(&name)
    }

    /// `metadata` with secret values masked.
    pub fn mask_metadata(&self, metadata: &mut BTreeMap<String, String>) {
        for (name, value) in metadata.iter_mut() {
            if self.is_secret_header(name) {
                REDACTED.clone_into(value);
            }
        }
    }

    /// The field names masked.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// `message` with the secret fields masked, at any depth.
    pub fn mask_message(&self, message: &mut Value) {
        if self.fields.is_empty() {
            return;
        }
        match message {
            Value::Object(map) => {
                let secret: Vec<String> = map
                    .keys()
                    .filter(|k| self.fields.iter().any(|f| f == *k))
                    .cloned()
                    .collect();
                for key in secret {
                    if map.get(&key).is_some_and(Value::is_string) {
                        map.insert(key, Value::String(REDACTED.to_owned()));
                    } else {
                        map.remove(&key);
                    }
                }
                map.values_mut().for_each(|v| self.mask_message(v));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_message(v)),
            _ => {}
        }
    }

    /// `message` without its secret fields, for comparing a live request
    /// with a recorded one.
    pub(crate) fn strip(&self, message: &mut Value) {
        match message {
            Value::Object(map) => {
                map.retain(|k, _| !self.fields.iter().any(|f| f == k));
                map.values_mut().for_each(|v| self.strip(v));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.strip(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secret_headers_and_fields_are_masked() {
        let r = Redaction::new(["X-Partner-Key"], ["password", "pin"]);
        let mut md = BTreeMap::from([
            ("authorization".to_owned(), "Bearer s3cr3t".to_owned()),
            ("x-partner-key".to_owned(), "k".to_owned()),
            ("x-tenant".to_owned(), "acme".to_owned()),
        ]);
        r.mask_metadata(&mut md);
        assert_eq!(md["authorization"], REDACTED);
        assert_eq!(md["x-partner-key"], REDACTED);
        assert_eq!(md["x-tenant"], "acme");
        let mut m = json!({"user": {"password": "hunter2", "pin": 1234, "name": "bob"}});
        r.mask_message(&mut m);
        assert_eq!(m, json!({"user": {"password": REDACTED, "name": "bob"}}));
    }
}
