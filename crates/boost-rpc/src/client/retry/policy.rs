//! [`RetryPolicy`]: which calls may be retried, and how many times.

use tonic::Code;

use crate::client::settings::RetrySettings;
use crate::status_code::parse_code;

/// gRFC A6 caps attempts at 5 whatever the configuration says.
pub(crate) const MAX_ATTEMPTS_CAP: u32 = 5;

/// Which codes are retryable, how many attempts a call gets, and which
/// methods are idempotent.
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    codes: u32,
    max_attempts: u32,
    idempotent: Vec<String>,
    on_pushback: bool,
}

impl RetryPolicy {
    /// The policy described by `settings`, which are validated first
    /// (`retry.codes` names known codes; an unknown name is left out here).
    pub(crate) fn from_settings(settings: &RetrySettings) -> Self {
        let codes = (settings.codes.iter())
            .filter_map(|name| parse_code(name))
            .fold(0u32, |codes, code| codes | 1 << (code as i32));
        Self {
            codes,
            max_attempts: settings.max_attempts.clamp(1, MAX_ATTEMPTS_CAP),
            idempotent: settings.idempotent_methods.clone(),
            on_pushback: settings.on_pushback,
        }
    }

    /// Whether an answer with `code` that came with a server pushback
    /// (`grpc-retry-pushback-ms` ≥ 0) is worth another attempt: as
    /// [`is_retryable`](Self::is_retryable), and `RESOURCE_EXHAUSTED` too
    /// unless `retry.on_pushback` is off.
    pub(crate) fn is_retryable_with_pushback(&self, code: Code) -> bool {
        self.is_retryable(code) || (self.on_pushback && code == Code::ResourceExhausted)
    }

    /// Attempts per call, the first included (1..=5).
    pub(crate) fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// Whether `code` is worth another attempt.
    pub(crate) fn is_retryable(&self, code: Code) -> bool {
        self.codes & (1 << (code as i32)) != 0
    }

    /// Whether `method` (`"pkg.Service/Method"`, no leading slash) is marked
    /// idempotent: listed exactly, or its service listed as `"pkg.Service/*"`.
    pub(crate) fn is_idempotent(&self, method: &str) -> bool {
        self.idempotent.iter().any(|m| match m.strip_suffix("/*") {
            Some(service) => method
                .strip_prefix(service)
                .is_some_and(|rest| rest.starts_with('/')),
            None => m == method,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_capped_at_five_and_codes_parsed() {
        let settings = RetrySettings {
            max_attempts: 9,
            codes: vec!["unavailable".into(), "ABORTED".into()],
            idempotent_methods: vec!["a.B/C".into(), "x.Y/*".into()],
            ..RetrySettings::default()
        };
        let p = RetryPolicy::from_settings(&settings);
        assert_eq!(p.max_attempts(), 5);
        assert!(p.is_retryable(Code::Unavailable) && p.is_retryable(Code::Aborted));
        assert!(!p.is_retryable(Code::Internal));
        assert!(p.is_idempotent("a.B/C") && p.is_idempotent("x.Y/Z"));
        assert!(!p.is_idempotent("a.B/D") && !p.is_idempotent("x.YZ/Z"));
    }
}
