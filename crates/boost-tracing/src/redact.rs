//! Which field names have their values replaced by `"[REDACTED]"`.

/// The replacement written instead of a redacted value.
pub(crate) const REDACTED: &str = boost_config::MASK;

/// A set of field names to redact, matched case-insensitively on the whole name or on any
/// part after a `.`, `_` or `-` (so `http.request.header.authorization` matches
/// `authorization`, `access_token` matches `token` and `x_api_key` matches `api_key`, while
/// `token_count` matches nothing).
#[derive(Clone, Debug, Default)]
pub(crate) struct Redactor {
    keys: Vec<Box<str>>,
    /// Bit `n` set when some key is `n` bytes long (keys up to 63 bytes), for a fast "no".
    lengths: u64,
    long_keys: bool,
}

impl Redactor {
    pub(crate) fn new<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut r = Self::default();
        for key in keys {
            let key = key.as_ref().trim().to_ascii_lowercase();
            if key.is_empty() {
                continue;
            }
            if key.len() < 64 {
                r.lengths |= 1 << key.len();
            } else {
                r.long_keys = true;
            }
            r.keys.push(key.into_boxed_str());
        }
        r
    }

    fn may_match(&self, len: usize) -> bool {
        if len < 64 {
            self.lengths & (1 << len) != 0
        } else {
            self.long_keys
        }
    }

    fn matches(&self, name: &str) -> bool {
        self.may_match(name.len()) && self.keys.iter().any(|k| k.eq_ignore_ascii_case(name))
    }

    /// Whether the value of field `name` must be redacted.
    #[inline]
    pub(crate) fn is_redacted(&self, name: &str) -> bool {
        if self.keys.is_empty() {
            return false;
        }
        if self.matches(name) {
            return true;
        }
        // Names have a few separators at most; the length mask keeps each try cheap.
        name.match_indices(['.', '_', '-'])
            .any(|(at, _)| self.matches(&name[at + 1..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::DEFAULT_REDACT;

    #[test]
    fn matches_whole_name_and_last_segment_case_insensitively() {
        let r = Redactor::new(DEFAULT_REDACT);
        for key in DEFAULT_REDACT {
            assert!(r.is_redacted(key), "{key}");
        }
        assert!(r.is_redacted("Authorization"));
        assert!(r.is_redacted("http.request.header.cookie"));
        assert!(!r.is_redacted("user"));
        assert!(!r.is_redacted("token_count"));
        assert!(!r.is_redacted("password_hash"));
        assert!(!r.is_redacted("tokenizer"));
    }

    #[test]
    fn compound_names_ending_in_a_secret_word_are_redacted() {
        let r = Redactor::new(DEFAULT_REDACT);
        for name in [
            "access_token",
            "refresh_token",
            "client_secret",
            "x_api_key",
            "db.password",
            "db-password",
            "HTTP_AUTHORIZATION",
            "session.cookie",
            "jwt_private_key",
        ] {
            assert!(r.is_redacted(name), "{name}");
        }
        assert!(!Redactor::new::<_, &str>([]).is_redacted("password"));
    }
}
