//! [`Matcher`]: which recorded entry answers a call.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::diff::{Difference, differences};
use crate::tape::canonical;
use crate::{Entry, Redaction, Tape};

/// How requests are compared with the recorded ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MatchRules {
    /// Per method (`pkg.Service/Method`, or `*` for every method), the
    /// request fields not compared: dotted paths of proto field names
    /// (`request_id`, `page.token`) — ids and timestamps that differ on
    /// every run.
    pub ignored_fields: BTreeMap<String, Vec<String>>,
    /// Secret fields are masked in the tape, so they are not compared either.
    pub redaction: Redaction,
}

impl MatchRules {
    /// Rules that ignore `ignored_fields` and the fields `redaction` masks.
    pub fn new(ignored_fields: BTreeMap<String, Vec<String>>, redaction: Redaction) -> Self {
        Self {
            ignored_fields,
            redaction,
        }
    }

    /// The form a request of `method` is compared in: ignored and secret
    /// fields removed, keys sorted.
    pub fn comparable(&self, method: &str, messages: &[Value]) -> Value {
        let mut messages = Value::Array(messages.to_vec());
        self.redaction.strip(&mut messages);
        for key in [method, "*"] {
            for path in self.ignored_fields.get(key).into_iter().flatten() {
                if let Value::Array(items) = &mut messages {
                    for item in items {
                        remove_path(item, path);
                    }
                }
            }
        }
        messages
    }
}

fn remove_path(value: &mut Value, path: &str) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    match value {
        Value::Object(map) => match rest {
            None => {
                map.remove(head);
            }
            Some(rest) => {
                if let Some(inner) = map.get_mut(head) {
                    remove_path(inner, rest);
                }
            }
        },
        // A repeated field: the path applies to each element.
        Value::Array(items) => items.iter_mut().for_each(|v| remove_path(v, path)),
        _ => {}
    }
}

/// Answers calls from a [`Tape`]: the first unused entry of the same method
/// whose request compares equal (so identical requests replay in recorded
/// order; once all are used, the last one answers again).
#[derive(Debug, Clone)]
pub struct Matcher {
    tape: Tape,
    rules: MatchRules,
    /// Per entry: its method and comparable request, compact JSON.
    keys: Vec<(String, Value, String)>,
    used: Vec<bool>,
}

impl Matcher {
    /// A matcher over `tape` comparing by `rules`.
    pub fn new(tape: Tape, rules: MatchRules) -> Self {
        let mut matcher = Self {
            tape: Tape::default(),
            rules,
            keys: Vec::new(),
            used: Vec::new(),
        };
        for entry in tape.entries {
            matcher.push(entry, false);
        }
        matcher
    }

    /// Adds `entry` (a call just recorded), marked used when `used`.
    pub fn push(&mut self, entry: Entry, used: bool) {
        let comparable = self
            .rules
            .comparable(&entry.method, &entry.request.messages);
        let key = canonical(&comparable);
        self.keys.push((entry.method.clone(), comparable, key));
        self.used.push(used);
        self.tape.entries.push(entry);
    }

    /// The tape, with any entries pushed since.
    pub fn tape(&self) -> &Tape {
        &self.tape
    }

    /// The entry answering a call of `method` with request `messages`.
    ///
    /// # Errors
    /// [`Miss`], naming the closest recorded request and how it differs.
    pub fn find(&mut self, method: &str, messages: &[Value]) -> Result<&Entry, Miss> {
        let at = self.find_index(method, messages)?;
        Ok(&self.tape.entries[at])
    }

    /// As [`find`](Self::find), the entry's index in [`tape`](Self::tape).
    ///
    /// # Errors
    /// [`Miss`], naming the closest recorded request and how it differs.
    pub fn find_index(&mut self, method: &str, messages: &[Value]) -> Result<usize, Miss> {
        let comparable = self.rules.comparable(method, messages);
        let key = canonical(&comparable);
        let mut last = None;
        for (i, (m, _, k)) in self.keys.iter().enumerate() {
            if m == method && *k == key {
                if !self.used[i] {
                    self.used[i] = true;
                    return Ok(i);
                }
                last = Some(i);
            }
        }
        last.ok_or_else(|| self.miss(method, comparable))
    }

    fn miss(&self, method: &str, got: Value) -> Miss {
        let closest = self
            .keys
            .iter()
            .enumerate()
            .filter(|(_, (m, _, _))| m == method)
            .map(|(i, (_, recorded, _))| {
                let all = differences(recorded, &got, usize::MAX);
                // Fewest differing fields first; among equals, the nearest
                // values (`bob` is nearer `bobby` than `ada` is).
                let distance: usize = all
                    .iter()
                    .map(|d| strsim::levenshtein(&d.recorded, &d.got))
                    .sum();
                ((all.len(), distance), i, recorded)
            })
            .min_by_key(|(score, i, _)| (*score, *i))
            .map(|(_, i, recorded)| {
                Box::new(Closest {
                    index: i,
                    request: unwrap_unary(recorded).to_string(),
                    differences: differences(unwrap_unary(recorded), unwrap_unary(&got), 5),
                })
            });
        let mut methods: Vec<String> = self.keys.iter().map(|(m, _, _)| m.clone()).collect();
        methods.sort();
        methods.dedup();
        Miss {
            method: method.to_owned(),
            request: unwrap_unary(&got).to_string(),
            closest,
            recorded_methods: methods,
        }
    }
}

/// A unary call's one message rather than a list of one.
fn unwrap_unary(messages: &Value) -> &Value {
    match messages {
        Value::Array(items) if items.len() == 1 => &items[0],
        other => other,
    }
}

/// No recorded entry answers a call: what was asked, and the closest entry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Miss {
    /// The method called.
    pub method: String,
    /// The request as compared (ignored and secret fields removed), JSON.
    pub request: String,
    /// The recorded request of the same method with the fewest differing
    /// fields, then the nearest values (edit distance), then the first
    /// recorded, if any.
    pub closest: Option<Box<Closest>>,
    /// Every method the tape has entries for.
    pub recorded_methods: Vec<String>,
}

/// The entry nearest to a request that matched none.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Closest {
    /// Its index in the tape's `entries`.
    pub index: usize,
    /// Its request as compared, JSON.
    pub request: String,
    /// The first (up to 5) fields that differ.
    pub differences: Vec<Difference>,
}

impl std::fmt::Display for Miss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no recorded call of {} matches request {}",
            self.method, self.request
        )?;
        match &self.closest {
            Some(c) => {
                write!(
                    f,
                    "; closest is entries[{}] {}, which differs in ",
                    c.index, c.request
                )?;
                for (i, d) in c.differences.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{d}")?;
                }
            }
            None if self.recorded_methods.is_empty() => f.write_str("; the tape is empty")?,
            None => write!(
                f,
                "; the tape has no call of this method (it has: {})",
                self.recorded_methods.join(", ")
            )?,
        }
        f.write_str(
            ". Re-record the tape (mode = \"record\") or ignore the field (tape.ignored_fields)",
        )
    }
}

impl std::error::Error for Miss {}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    const M: &str = "hello.v1.Profiles/GetProfile";

    fn tape(entries: &[(Value, Value)]) -> Tape {
        let mut tape = Tape::default();
        for (req, resp) in entries {
            tape.entries.push(Entry::ok(M, req.clone(), resp.clone()));
        }
        tape
    }

    #[test]
    fn identical_requests_replay_in_recorded_order_then_the_last_repeats() {
        let t = tape(&[
            (json!({"name": "bob"}), json!({"language": "fr"})),
            (json!({"name": "bob"}), json!({"language": "de"})),
        ]);
        let mut m = Matcher::new(t, MatchRules::default());
        let mut answer = || {
            m.find(M, &[json!({"name": "bob"})])
                .unwrap()
                .response
                .messages[0]["language"]
                .clone()
        };
        assert_eq!(answer(), "fr");
        assert_eq!(answer(), "de");
        assert_eq!(answer(), "de");
    }

    #[test]
    fn ignored_fields_are_not_compared() {
        let t = tape(&[(
            json!({"name": "bob", "request_id": "1", "page": {"token": "a", "size": 2}}),
            json!({}),
        )]);
        let rules = MatchRules::new(
            BTreeMap::from([(
                M.to_owned(),
                vec!["request_id".to_owned(), "page.token".to_owned()],
            )]),
            Redaction::default(),
        );
        let mut m = Matcher::new(t, rules);
        m.find(
            M,
            &[json!({"name": "bob", "request_id": "2", "page": {"token": "b", "size": 2}})],
        )
        .unwrap();
        let miss = m
            .find(
                M,
                &[json!({"name": "bob", "request_id": "2", "page": {"token": "b", "size": 3}})],
            )
            .unwrap_err();
        assert!(
            miss.to_string().contains("page.size: recorded 2, got 3"),
            "{miss}"
        );
    }

    #[test]
    fn a_miss_names_the_closest_entry_and_the_differing_field() {
        let t = tape(&[
            (json!({"name": "ada", "lang": "x"}), json!({})),
            (json!({"name": "bob", "lang": "en"}), json!({})),
        ]);
        let mut m = Matcher::new(t, MatchRules::default());
        let miss = m
            .find(M, &[json!({"name": "zoe", "lang": "en"})])
            .unwrap_err();
        let closest = miss.closest.as_ref().unwrap();
        assert_eq!(closest.index, 1);
        assert_eq!(closest.differences.len(), 1);
        assert_eq!(closest.differences[0].path, "name");
        let text = miss.to_string();
        assert!(text.contains("entries[1]"), "{text}");
        assert!(
            text.contains("name: recorded \"bob\", got \"zoe\""),
            "{text}"
        );
        let other = m.find("a.B/C", &[json!({})]).unwrap_err().to_string();
        assert!(
            other.contains("it has: hello.v1.Profiles/GetProfile"),
            "{other}"
        );
    }
}
