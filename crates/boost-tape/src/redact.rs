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

/// Words that make a header, a message field or a query parameter a secret
/// whatever the configuration says, as the kit's log redaction does: matched
/// on the whole name or on a part of it between `.`, `_` and `-`
/// (`access_token`, `x-session-token`, `db.password`, `client_secret`).
/// A tape is committed to a repository; a secret the configuration forgot
/// to name must not reach it.
pub const SECRET_WORDS: [&str; 9] = [
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "private_key",
];

/// Which metadata and fields are secrets: their values are written as
/// [`REDACTED`] (string fields) or left out (other fields), and a request's
/// redacted fields are not compared when matching (the live request carries
/// the real secret).
///
/// Besides the names configured, every name made of one of the
/// [`SECRET_WORDS`] is a secret: its string values are masked (a number or a
/// flag under such a name, like `token_count`, is kept as it is).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redaction {
    headers: Vec<String>,
    fields: Vec<String>,
}

/// How secret a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Secrecy {
    /// Not a secret.
    None,
    /// Named by one of the [`SECRET_WORDS`]: string values are secrets.
    Word,
    /// Configured: every value is a secret.
    Configured,
}

impl Redaction {
    /// `headers` masked besides `authorization`, `proxy-authorization`,
    /// `cookie`, `set-cookie`, `x-api-key`, `x-auth-token` and any name made
    /// of one of the [`SECRET_WORDS`] (names case-insensitive), and message
    /// `fields` masked wherever they appear (by proto field name, at any
    /// depth; the whole name, or a part of it between `.`, `_` and `-`).
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
            fields: fields
                .into_iter()
                .map(|f| f.into().to_ascii_lowercase())
                .collect(),
        }
    }

    /// Whether the header `name` is a secret.
    pub fn is_secret_header(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        ALWAYS_SECRET.contains(&name.as_str())
            || self.headers.contains(&name)
            || SECRET_WORDS.iter().any(|word| has_part(&name, word))
    }

    /// `metadata` with secret values masked.
    pub fn mask_metadata(&self, metadata: &mut BTreeMap<String, String>) {
        for (name, value) in metadata.iter_mut() {
            if self.is_secret_header(name) {
                REDACTED.clone_into(value);
            }
        }
    }

    /// The field names configured to be masked.
    pub fn fields(&self) -> &[String] {
        &self.fields
    }

    /// Whether a query parameter or a string field named `name` is masked.
    pub fn is_secret_field(&self, name: &str) -> bool {
        self.secrecy(name) != Secrecy::None
    }

    fn secrecy(&self, name: &str) -> Secrecy {
        let name = name.to_ascii_lowercase();
        if self.fields.iter().any(|field| has_part(&name, field)) {
            Secrecy::Configured
        } else if SECRET_WORDS.iter().any(|word| has_part(&name, word)) {
            Secrecy::Word
        } else {
            Secrecy::None
        }
    }

    /// Whether `value` under `name` is a secret: masked in a tape, not
    /// compared when matching.
    fn hides(&self, name: &str, value: &Value) -> bool {
        match self.secrecy(name) {
            Secrecy::None => false,
            Secrecy::Word => value.is_string(),
            Secrecy::Configured => true,
        }
    }

    /// `message` with the secret fields masked, at any depth.
    pub fn mask_message(&self, message: &mut Value) {
        match message {
            Value::Object(map) => {
                let secret: Vec<String> = map
                    .iter()
                    .filter(|(k, v)| self.hides(k, v))
                    .map(|(k, _)| k.clone())
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
                map.retain(|k, v| !self.hides(k, v));
                map.values_mut().for_each(|v| self.strip(v));
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.strip(v)),
            _ => {}
        }
    }
}

/// Whether `word` is the whole of lower-case `name` or a part of it between
/// `.`, `_` and `-` (`-` and `_` count as one: `api-key` is `api_key`).
fn has_part(name: &str, word: &str) -> bool {
    if name.len() < word.len() {
        return false;
    }
    let same = |a: u8, b: u8| a == b || (matches!(a, b'_' | b'-') && matches!(b, b'_' | b'-'));
    let separator = |c: u8| matches!(c, b'.' | b'_' | b'-');
    let (name, word) = (name.as_bytes(), word.as_bytes());
    (0..=name.len() - word.len()).any(|start| {
        let end = start + word.len();
        name[start..end]
            .iter()
            .zip(word)
            .all(|(&a, &b)| same(a, b.to_ascii_lowercase()))
            && (start == 0 || separator(name[start - 1]))
            && (end == name.len() || separator(name[end]))
    })
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

    #[test]
    fn names_made_of_a_secret_word_are_masked_without_configuration() {
        let r = Redaction::default();
        let mut md = BTreeMap::from([
            ("x-session-token".to_owned(), "t".to_owned()),
            ("x-partner-api-key".to_owned(), "k".to_owned()),
            ("x-tokenizer".to_owned(), "bpe".to_owned()),
        ]);
        r.mask_metadata(&mut md);
        assert_eq!(md["x-session-token"], REDACTED);
        assert_eq!(md["x-partner-api-key"], REDACTED);
        assert_eq!(
            md["x-tokenizer"], "bpe",
            "a word inside another word is not a part"
        );
        let mut m = json!({
            "password": "hunter2",
            "auth": {"access_token": "abc", "client-secret": "s"},
            "token_count": 42,
            "tokens": "kept",
            "name": "bob"
        });
        r.mask_message(&mut m);
        assert_eq!(
            m,
            json!({
                "password": REDACTED,
                "auth": {"access_token": REDACTED, "client-secret": REDACTED},
                "token_count": 42,
                "tokens": "kept",
                "name": "bob"
            })
        );
        let mut live = json!({"user": "bob", "page_token": "p2", "token_count": 1});
        r.strip(&mut live);
        assert_eq!(live, json!({"user": "bob", "token_count": 1}));
    }

    #[test]
    fn configured_fields_match_by_part_and_case_too() {
        let r = Redaction::new(Vec::<String>::new(), ["PIN"]);
        let mut m = json!({"card_pin": 1234, "spin": 2, "Pin": "0000"});
        r.mask_message(&mut m);
        assert_eq!(m, json!({"spin": 2, "Pin": REDACTED}));
    }
}
