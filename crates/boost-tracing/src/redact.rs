//! Which field names have their values replaced by `"[REDACTED]"`.

/// The replacement written instead of a redacted value.
pub(crate) const REDACTED: &str = boost_config::MASK;

/// A set of field names to redact, matched case-insensitively on the whole name or on the
/// segment after its last `.` (so `http.request.header.authorization` matches
/// `authorization`).
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
        match name.rfind('.') {
            Some(dot) => self.matches(&name[dot + 1..]),
            None => false,
        }
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
        assert!(!Redactor::new::<_, &str>([]).is_redacted("password"));
    }
}
