//! [`Secret<T>`]: a value that never reaches a log line, a Debug print or an endpoint.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What a secret looks like wherever it is printed or serialised.
pub const MASK: &str = "[REDACTED]";

/// How every deserialisation error of a [`Secret`] starts.
pub(crate) const SECRET_ERROR: &str = "invalid value for a secret";

/// A configuration value that must never be printed.
///
/// `Debug`, `Display` and `Serialize` all write `[REDACTED]`; the only way to the
/// value is [`Secret::expose`], which makes every use easy to find in review.
/// `explain` output and the admin `/config` endpoint mask it too. A value that
/// does not deserialise as `T` gives an error naming only the expected type,
/// never the value.
///
/// In a settings struct, an optional secret is `Option<Secret<String>>`; the
/// loader can also read it from a file named by an environment variable ending
/// in `_FILE` (`HELLO_SERVICE__ADMIN__TOKEN_FILE=/run/secrets/admin`).
///
/// ```
/// use boost_config::Secret;
///
/// let token = Secret::new("s3cr3t".to_owned());
/// assert_eq!(format!("{token:?}"), "[REDACTED]");
/// assert_eq!(token.expose(), "s3cr3t");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret value. Every call site is a place where the secret leaves the
    /// wrapper: keep them few.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret value.
    pub fn into_exposed(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<T> Serialize for Secret<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(MASK)
    }
}

/// Deserialises like `T`, but an error never shows the rejected value: it
/// only names the expected type.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        T::deserialize(deserializer).map(Secret).map_err(|_| {
            serde::de::Error::custom(format_args!(
                "{SECRET_ERROR}, expected {} (the value is not shown)",
                short_type_name::<T>()
            ))
        })
    }
}

/// `alloc::vec::Vec<alloc::string::String>` → `Vec<String>`.
fn short_type_name<T>() -> String {
    let full = std::any::type_name::<T>();
    let mut out = String::with_capacity(full.len());
    let mut word = String::new();
    for c in full.chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            word.push(c);
        } else {
            out.push_str(word.rsplit("::").next().unwrap_or(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(word.rsplit("::").next().unwrap_or(&word));
    out
}
