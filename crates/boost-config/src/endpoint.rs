//! [`Endpoint`]: a URL whose `user:password@` part never reaches a log line,
//! a Debug print or an endpoint.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// What the userinfo of an [`Endpoint`] looks like wherever it is printed.
const USERINFO_MASK: &str = "***";

/// How every deserialisation error of an [`Endpoint`] starts. The loader
/// does not add the rejected value to such errors: it may hold credentials.
pub(crate) const ENDPOINT_ERROR: &str = "invalid URL";

/// A URL as written in the configuration, which may carry credentials
/// (`https://user:s3cret@collector:4317`).
///
/// `Debug`, `Display` and `Serialize` write it with any `user:password@` or
/// `user@` part replaced by `***@`, so `explain` output, the admin `/config`
/// endpoint, log lines and error messages show where it points but not who
/// it logs in as. The code that dials it calls [`Endpoint::expose`], which
/// makes every such use easy to find in review. A URL without userinfo is
/// shown unchanged.
///
/// ```
/// use boost_config::Endpoint;
///
/// let endpoint = Endpoint::new("https://svc:s3cret@collector:4317");
/// assert_eq!(endpoint.to_string(), "https://***@collector:4317");
/// assert_eq!(format!("{endpoint:?}"), r#""https://***@collector:4317""#);
/// assert_eq!(endpoint.expose(), "https://svc:s3cret@collector:4317");
///
/// assert_eq!(Endpoint::new("http://127.0.0.1:4317").to_string(), "http://127.0.0.1:4317");
/// ```
///
/// In a settings struct it is a plain field, deserialised from a string:
///
/// ```
/// use boost_config::Endpoint;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Deserialize, Serialize)]
/// struct Collector {
///     /// The collector's URL; credentials in it are masked wherever it is shown.
///     endpoint: Endpoint,
/// }
///
/// let collector: Collector = toml::from_str(r#"endpoint = "https://u:pw@otel:4317""#).unwrap();
/// assert_eq!(collector.endpoint.expose(), "https://u:pw@otel:4317");
/// assert_eq!(toml::to_string(&collector).unwrap(), "endpoint = \"https://***@otel:4317\"\n");
/// assert!(!format!("{collector:?}").contains("pw"));
/// ```
///
/// # What counts as userinfo
///
/// As in RFC 3986, the userinfo is everything before the last `@` of the
/// authority, which starts after `scheme://` (or at the start when there is
/// no scheme: `user:pw@host:1` shows as `***@host:1`) and ends at the first
/// `/`, `?`, `#` or `\`. An `@` after the authority (`http://host:4317/a@b`)
/// is left alone. One exception, so that a password nobody percent-encoded
/// does not show: when the text before the first `/`, `?`, `#` or `\` cannot
/// be a `host[:port]` (as in `https://user:ab/cd@host`) and an `@` comes
/// later, everything up to the last `@` is masked.
///
/// # Edge cases
///
/// - Deserialisation takes a string and rejects only text that cannot be a
///   URL at all: empty, or holding whitespace or control characters. Its
///   errors never show the value. Anything else is kept as written; the
///   code that dials it reports what is wrong (with the userinfo masked,
///   see [`mask_in`](Self::mask_in)).
/// - `Serialize` writes the masked form, so serialising and reading back
///   loses the credentials, as with [`Secret`](crate::Secret). The loader
///   knows this: a default holding credentials is not overwritten by its
///   masked form.
/// - Credentials belong in a [`Secret`](crate::Secret) (a header, a token
///   file) rather than in a URL where the protocol allows it; this type is
///   for URLs that must carry them, and for the operator who writes them
///   there anyway.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint(String);

impl Endpoint {
    /// Wraps a URL as written. Nothing is checked: see the
    /// [edge cases](Self#edge-cases).
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    /// The URL as written, credentials included: for the code that dials
    /// it. Every call site is a place where the credentials leave the
    /// wrapper: keep them few, and never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Unwraps the URL as written, credentials included.
    pub fn into_exposed(self) -> String {
        self.0
    }

    /// Whether the URL carries a `user:password@` or `user@` part (which is
    /// what `Display` masks).
    pub fn has_userinfo(&self) -> bool {
        userinfo(&self.0).is_some()
    }

    /// `text` with the credentials of this URL masked: the whole URL
    /// replaced by its masked form, and any other occurrence of its
    /// `userinfo@` replaced by `***@`. For error messages from libraries that
    /// quote the URL they were given:
    ///
    /// ```
    /// let endpoint = boost_config::Endpoint::new("https://svc:s3cret@collector:4317");
    /// let message = "invalid endpoint 'https://svc:s3cret@collector:4317': no TLS";
    /// assert_eq!(
    ///     endpoint.mask_in(message),
    ///     "invalid endpoint 'https://***@collector:4317': no TLS"
    /// );
    /// ```
    pub fn mask_in(&self, text: &str) -> String {
        let Some((start, at)) = userinfo(&self.0) else {
            return text.to_owned();
        };
        let masked = text.replace(&self.0, &self.to_string());
        let credentials = &self.0[start..=at];
        masked.replace(credentials, &format!("{USERINFO_MASK}@"))
    }
}

/// Where the userinfo is: the byte range `start..at`, `at` being its `@`.
///
/// A well-formed URL (`scheme://authority…`) has userinfo only in its
/// authority, so an `@` in its path, query or fragment is left alone. A
/// mistyped one (`postgres:/u:pw@db`, `postgres//u:pw@db`, an empty or
/// impossible authority) is what validation reports, quoting it: then
/// everything up to its last `@` is taken for credentials — masking too much
/// rather than showing a password.
fn userinfo(url: &str) -> Option<(usize, usize)> {
    let (start, well_formed) = match url.find("://") {
        Some(i) => (i + 3, true),
        None if url.starts_with("//") => (2, true),
        None => match url.find(":/") {
            // `scheme:/…`: keep the scheme in what is shown.
            Some(i) => (
                i + 2 + url[i + 2..].bytes().take_while(|&b| b == b'/').count(),
                false,
            ),
            None => (0, false),
        },
    };
    let rest = &url[start..];
    let authority_len = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let authority = &rest[..authority_len];
    let at = match authority.rfind('@') {
        Some(at) => at,
        None if !well_formed || !host_and_port(authority) => rest.rfind('@')?,
        None => return None,
    };
    Some((start, start + at))
}

/// Whether `authority` (without userinfo) can be a `host[:port]`, the host
/// possibly a bracketed IPv6 address: a host, and a port of 1–5 digits if
/// there is a `:`.
fn host_and_port(authority: &str) -> bool {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((host, "")) => return !host.is_empty(),
            Some((host, after)) => match after.strip_prefix(':') {
                Some(port) => (host, port),
                None => return false,
            },
            None => return false,
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, port),
            None => return !authority.is_empty(),
        }
    };
    !host.is_empty() && (1..=5).contains(&port.len()) && port.bytes().all(|b| b.is_ascii_digit())
}

impl From<String> for Endpoint {
    fn from(url: String) -> Self {
        Self(url)
    }
}

impl From<&str> for Endpoint {
    fn from(url: &str) -> Self {
        Self(url.to_owned())
    }
}

/// The URL with its userinfo masked as `***@`.
impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match userinfo(&self.0) {
            Some((start, at)) => {
                f.write_str(&self.0[..start])?;
                f.write_str(USERINFO_MASK)?;
                f.write_str(&self.0[at..])
            }
            None => f.write_str(&self.0),
        }
    }
}

/// Like the `Debug` of a string, of the masked URL.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.to_string(), f)
    }
}

/// Serialises the masked URL (a string).
impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom(format_args!(
                "{ENDPOINT_ERROR}: expected a URL as a string (the value is not shown)"
            ))
        })?;
        let problem = if url.is_empty() {
            Some("it is empty")
        } else if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            Some("it contains whitespace or a control character")
        } else {
            None
        };
        match problem {
            Some(problem) => Err(serde::de::Error::custom(format_args!(
                "{ENDPOINT_ERROR}: {problem}; write a URL such as \"http://collector:4317\" \
                 (the value is not shown: it may hold credentials)"
            ))),
            None => Ok(Self(url)),
        }
    }
}

/// Whether `text` is a URL [`Endpoint`] masked: its userinfo is `***`.
/// Such a serialised default must not be read back as a URL.
pub(crate) fn is_masked(text: &str) -> bool {
    userinfo(text).is_some_and(|(start, at)| &text[start..at] == USERINFO_MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CANARY: &str = "CANARY_PW";

    fn shown(url: &str) -> String {
        Endpoint::new(url).to_string()
    }

    /// Every way the type can be printed.
    fn every_print(url: &str) -> [String; 3] {
        let endpoint = Endpoint::new(url);
        [
            endpoint.to_string(),
            format!("{endpoint:?}"),
            toml::Value::try_from(&endpoint)
                .map(|value| value.to_string())
                .unwrap_or_default(),
        ]
    }

    #[test]
    fn debug_display_and_serialize_mask_user_and_password() {
        let url = format!("https://svc:{CANARY}@collector:4317/v1");
        let [display, debug, serialized] = every_print(&url);
        assert_eq!(display, "https://***@collector:4317/v1");
        assert_eq!(debug, "\"https://***@collector:4317/v1\"");
        assert_eq!(serialized, "\"https://***@collector:4317/v1\"");
    }

    #[test]
    fn a_user_without_password_is_masked_too() {
        assert_eq!(
            shown("http://alice@collector:4317"),
            "http://***@collector:4317"
        );
    }

    #[test]
    fn urls_without_userinfo_are_unchanged() {
        for url in [
            "http://127.0.0.1:4317",
            "https://collector.internal:4317/v1/traces?x=1#top",
            "collector:4317",
            "http://[::1]:4317",
            "http://[::1]",
            "unix:///run/otel.sock",
            "",
        ] {
            let [display, debug, serialized] = every_print(url);
            assert_eq!(display, url);
            assert_eq!(debug, format!("{url:?}"));
            assert_eq!(serialized, format!("{url:?}"));
            assert!(!Endpoint::new(url).has_userinfo(), "{url}");
        }
    }

    #[test]
    fn an_at_sign_only_in_the_path_query_or_fragment_is_not_userinfo() {
        for url in [
            "http://collector:4317/a@b",
            "http://collector/a@b",
            "http://collector:4317?owner=me@example.com",
            "http://collector:4317#x@y",
            "http://[::1]:4317/a@b",
        ] {
            assert_eq!(shown(url), url);
        }
    }

    #[test]
    fn mistyped_urls_never_show_the_password() {
        for url in [
            format!("postgres:/app:{CANARY}@db/x"),
            format!("postgres//app:{CANARY}@db/x"),
            format!("postgres:///app:{CANARY}@db/x"),
            format!("redis:/u:{CANARY}@h:6379"),
            format!("redis:u:{CANARY}@h:6379"),
            format!("postgres://app:{CANARY}@"),
            format!("postgres://:@{CANARY}@db"),
            format!("http://:{CANARY}@db"),
        ] {
            for printed in every_print(&url) {
                assert!(!printed.contains(CANARY), "{url} printed as {printed}");
            }
            assert!(Endpoint::new(url.as_str()).has_userinfo(), "{url}");
            let message = format!("database.url {url:?} is not a URL");
            assert!(
                !Endpoint::new(url.as_str())
                    .mask_in(&message)
                    .contains(CANARY),
                "{url}"
            );
        }
        assert_eq!(
            shown(&format!("postgres:/app:{CANARY}@db/x")),
            "postgres:/***@db/x"
        );
    }

    #[test]
    fn odd_inputs_never_show_the_password() {
        let cases = [
            (format!("u:{CANARY}@collector:4317"), "***@collector:4317"),
            (format!("//u:{CANARY}@collector"), "//***@collector"),
            (
                format!("http://u:{CANARY}@[::1]:4317"),
                "http://***@[::1]:4317",
            ),
            (format!("http://u:{CANARY}@"), "http://***@"),
            (format!("http://u:{CANARY}@@host"), "http://***@host"),
            (format!("http://u:ab/{CANARY}@host:1"), "http://***@host:1"),
            (format!("http://u:ab?{CANARY}@host:1"), "http://***@host:1"),
            (format!("http://u:{CANARY}#@host"), "http://***@host"),
            (format!("mailto:u:{CANARY}@host"), "***@host"),
            (format!("http://[::1:{CANARY}@host"), "http://***@host"),
            (format!("://u:{CANARY}@h"), "://***@h"),
            (format!("@{CANARY}@h"), "***@h"),
        ];
        for (url, expected) in &cases {
            for printed in every_print(url) {
                assert!(!printed.contains(CANARY), "{url} printed as {printed}");
            }
            assert_eq!(&shown(url), expected, "{url}");
            assert!(Endpoint::new(url.as_str()).has_userinfo(), "{url}");
        }
        for url in ["@", "://", "//", "[", "[]:", "http://[", "é@ü", "\u{0}@"] {
            let _ = every_print(url);
        }
    }

    #[test]
    fn deserialising_then_exposing_gives_the_url_as_written() {
        let url = format!("https://svc:{CANARY}@collector:4317");
        let endpoint: Endpoint = toml::Value::String(url.clone()).try_into().unwrap();
        assert_eq!(endpoint.expose(), url);
        assert_eq!(endpoint.clone().into_exposed(), url);
        assert_eq!(endpoint, Endpoint::from(url.as_str()));
    }

    #[test]
    fn deserialising_rejects_what_cannot_be_a_url_without_showing_it() {
        for bad in [
            toml::Value::String(String::new()),
            toml::Value::String(format!("http://u:{CANARY} @host")),
            toml::Value::String(format!("http://u:{CANARY}@host\n")),
            toml::Value::Integer(4317),
        ] {
            let error = Endpoint::deserialize(bad.clone()).unwrap_err().to_string();
            assert!(error.starts_with(ENDPOINT_ERROR), "{bad}: {error}");
            assert!(!error.contains(CANARY), "{bad}: {error}");
        }
    }

    #[test]
    fn mask_in_hides_the_url_and_its_credentials_wherever_quoted() {
        let endpoint = Endpoint::new(format!("https://svc:{CANARY}@collector:4317"));
        let message = format!(
            "endpoint 'https://svc:{CANARY}@collector:4317' failed; \
             rewritten to 'http://svc:{CANARY}@collector:4317'"
        );
        let masked = endpoint.mask_in(&message);
        assert!(!masked.contains(CANARY), "{masked}");
        assert_eq!(
            masked,
            "endpoint 'https://***@collector:4317' failed; \
             rewritten to 'http://***@collector:4317'"
        );
        let plain = Endpoint::new("http://collector:4317");
        assert_eq!(plain.mask_in("as is"), "as is");
    }

    #[test]
    fn masked_urls_are_recognised() {
        assert!(is_masked("https://***@collector:4317"));
        assert!(is_masked("***@collector:4317"));
        assert!(!is_masked("https://collector:4317"));
        assert!(!is_masked("https://u:pw@collector:4317"));
        assert!(!is_masked("http://collector/***@x"));
    }
}

/// The loader's side: `explain`, seeded defaults and error messages.
#[cfg(test)]
mod loader_tests {
    use serde::{Deserialize, Serialize};

    use crate::{Endpoint, Loader, Validate};

    const CANARY: &str = "CANARY_PW";

    #[derive(Debug, Default, Deserialize, Serialize)]
    #[serde(default, deny_unknown_fields)]
    struct Settings {
        otlp: Otlp,
    }

    #[derive(Debug, Deserialize, Serialize)]
    #[serde(default, deny_unknown_fields)]
    struct Otlp {
        endpoint: Endpoint,
        enabled: bool,
    }

    impl Default for Otlp {
        fn default() -> Self {
            Self {
                endpoint: Endpoint::new(format!("https://svc:{CANARY}@default:4317")),
                enabled: false,
            }
        }
    }

    impl Validate for Settings {}

    fn load(vars: &[(&str, &str)]) -> Result<crate::Loaded<Settings>, crate::ConfigError> {
        Loader::new("demo")
            .dir("no/such/dir")
            .env_vars(vars.iter().copied())
            .load::<Settings>()
    }

    #[test]
    fn explain_shows_the_masked_url_and_where_it_came_from() {
        let url = format!("http://u:{CANARY}@127.0.0.1:1");
        let config = load(&[("DEMO__OTLP__ENDPOINT", url.as_str())]).unwrap();
        assert_eq!(config.otlp.endpoint.expose(), url);
        let explained = config.explain();
        assert!(!explained.contains(CANARY), "{explained}");
        assert!(
            explained.contains("endpoint = \"http://***@127.0.0.1:1\"  # env DEMO__OTLP__ENDPOINT"),
            "{explained}"
        );
        assert!(!format!("{config:?}").contains(CANARY));
    }

    #[test]
    fn a_default_url_with_credentials_keeps_them_when_its_section_is_set() {
        let config = load(&[("DEMO__OTLP__ENABLED", "true")]).unwrap();
        assert!(config.otlp.enabled);
        assert_eq!(
            config.otlp.endpoint.expose(),
            format!("https://svc:{CANARY}@default:4317")
        );
        assert!(!config.explain().contains(CANARY));
    }

    #[test]
    fn a_rejected_url_is_named_by_key_and_layer_but_never_shown() {
        let url = format!("http://u:{CANARY}@host:1 trailing");
        let error = load(&[("DEMO__OTLP__ENDPOINT", url.as_str())])
            .unwrap_err()
            .to_string();
        assert!(!error.contains(CANARY), "{error}");
        assert!(error.contains("otlp.endpoint"), "{error}");
        assert!(error.contains("DEMO__OTLP__ENDPOINT"), "{error}");
        assert!(error.contains("whitespace"), "{error}");
    }

    #[test]
    fn a_url_from_a_file_is_read_as_written_and_masked_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("otlp-url");
        std::fs::write(&path, format!("https://svc:{CANARY}@collector:4317\n")).unwrap();
        let path = path.to_string_lossy().into_owned();
        let config = load(&[("DEMO__OTLP__ENDPOINT_FILE", path.as_str())]).unwrap();
        assert_eq!(
            config.otlp.endpoint.expose(),
            format!("https://svc:{CANARY}@collector:4317")
        );
        let explained = config.explain();
        assert!(!explained.contains(CANARY), "{explained}");
        assert!(!explained.contains("collector"), "{explained}");
    }
}
