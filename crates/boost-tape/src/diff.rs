//! [`differences`]: where two JSON values differ, field by field.

use serde_json::Value;

/// One field that differs between a recorded request and the one made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Difference {
    /// The field's path, e.g. `name` or `items[2].id` (`[1]` first for the
    /// second message of a stream).
    pub path: String,
    /// The recorded value, as JSON (`absent` when the field was not set).
    pub recorded: String,
    /// The value of the request made.
    pub got: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: recorded {}, got {}",
            self.path, self.recorded, self.got
        )
    }
}

/// The fields where `got` differs from `recorded`, in path order; at most
/// `limit` of them.
pub fn differences(recorded: &Value, got: &Value, limit: usize) -> Vec<Difference> {
    let mut out = Vec::new();
    walk(String::new(), Some(recorded), Some(got), limit, &mut out);
    out
}

fn show(value: Option<&Value>) -> String {
    value.map_or_else(|| "absent".to_owned(), Value::to_string)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(
    path: String,
    a: Option<&Value>,
    b: Option<&Value>,
    limit: usize,
    out: &mut Vec<Difference>,
) {
    if out.len() >= limit {
        return;
    }
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                walk(join(&path, key), x.get(key), y.get(key), limit, out);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                walk(format!("{path}[{i}]"), x.get(i), y.get(i), limit, out);
            }
        }
        (a, b) if a == b => {}
        (a, b) => out.push(Difference {
            path: if path.is_empty() {
                "(message)".to_owned()
            } else {
                path
            },
            recorded: show(a),
            got: show(b),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_each_differing_field_with_both_values() {
        let d = differences(
            &json!({"name": "bob", "tags": ["a"], "same": 1}),
            &json!({"name": "zoe", "tags": ["a", "b"], "same": 1}),
            10,
        );
        let shown: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "name: recorded \"bob\", got \"zoe\"",
                "tags[1]: recorded absent, got \"b\""
            ]
        );
    }
}
