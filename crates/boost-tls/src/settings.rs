//! The one `tls` shape: [`ServerTlsSettings`] for what the service accepts,
//! [`ClientTlsSettings`] for what it dials.
//!
//! Both name their files the same way: `cert_file` (the certificate chain,
//! PEM), `key_file` (its private key, PEM) and `ca_file` (the CA bundle that
//! verifies the *peer*, PEM), plus `reload_interval`. A server adds who must
//! show a certificate (`client_auth`) and how long a handshake may take; a
//! client adds the name it expects the server to have (`server_name`).
//!
//! The key file is the secret. Its path is an ordinary setting, so the
//! `_FILE` convention of container platforms works as it reads:
//! `HELLO_SERVICE__GRPC__TLS__KEY_FILE=/run/secrets/tls.key`. The key itself
//! is read by this crate, held only in memory, re-read when the file changes,
//! and never logged, printed or put in an error.

use std::path::PathBuf;
use std::time::Duration;

use boost_config::Problems;
use serde::{Deserialize, Serialize};

/// The shortest `reload_interval`: 1 s (a file check is a few small reads).
pub const MIN_RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// The default `reload_interval`: 60 s, a backstop for mounts where file
/// events do not arrive; events reload within a fraction of a second.
pub const DEFAULT_RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// Whether a server asks its callers for a certificate (mTLS).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ClientAuth {
    /// No client certificate is asked for (plain TLS).
    #[default]
    Off,
    /// A client certificate is asked for; a caller without one is still
    /// served (with no identity), a caller with one that does not verify
    /// against `ca_file` is refused at the handshake.
    Optional,
    /// A caller without a certificate that verifies against `ca_file` is
    /// refused at the handshake (mTLS).
    Require,
}

/// TLS for a server the kit runs (`[grpc.tls]`, `[admin.tls]`).
///
/// ```toml
/// [grpc.tls]
/// enabled = true
/// cert_file = "/etc/tls/tls.crt"
/// key_file = "/etc/tls/tls.key"
/// # mTLS: callers must show a certificate from this CA
/// ca_file = "/etc/tls/ca.crt"
/// client_auth = "require"
/// ```
///
/// Built into a `rustls::ServerConfig` by [`ServerTls`](crate::ServerTls).
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
#[validate(custom = ServerTlsSettings::rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ServerTlsSettings {
    /// Serve TLS only. When on, `cert_file` and `key_file` are required and
    /// plaintext connections are refused. Default: `false`.
    pub enabled: bool,
    /// The server's certificate chain, PEM: its own certificate first, then
    /// any intermediates. Re-read when it changes. Default: `""` (unset).
    #[serde(with = "file_path")]
    pub cert_file: Option<PathBuf>,
    /// The private key of `cert_file`'s first certificate, PEM (PKCS#8,
    /// PKCS#1 or SEC1). A secret: read only by the TLS layer, never logged.
    /// Re-read when it changes. Default: `""` (unset).
    #[serde(with = "file_path")]
    pub key_file: Option<PathBuf>,
    /// The CA bundle (PEM, one or more CA certificates) that client
    /// certificates must chain to. Needed when `client_auth` is `optional`
    /// or `require`. Re-read when it changes. Default: `""` (unset).
    #[serde(with = "file_path")]
    pub ca_file: Option<PathBuf>,
    /// Whether callers must show a certificate: `off`, `optional` (asked for,
    /// verified when shown) or `require` (mTLS). Default: `off`.
    pub client_auth: ClientAuth,
    /// How often the files are checked for new content, in case file events
    /// do not arrive (some network and projected volumes). Changes seen by
    /// events are picked up at once. At least `1s`. Default: `60s`.
    #[serde(with = "boost_config::duration")]
    pub reload_interval: Duration,
    /// How long a new connection may take to finish its TLS handshake; a
    /// slower one is closed (a slow or silent peer holds no slot for longer).
    /// Between `100ms` and `5m`. Default: `10s`.
    #[serde(with = "boost_config::duration")]
    pub handshake_timeout: Duration,
}

impl Default for ServerTlsSettings {
    fn default() -> Self {
        ServerTlsSettings {
            enabled: false,
            cert_file: None,
            key_file: None,
            ca_file: None,
            client_auth: ClientAuth::Off,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl ServerTlsSettings {
    /// TLS on, from a certificate chain and its key.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> Self {
        ServerTlsSettings {
            enabled: true,
            cert_file: Some(cert_file.into()),
            key_file: Some(key_file.into()),
            ..ServerTlsSettings::default()
        }
    }

    /// These settings asking callers for a certificate from `ca_file`.
    #[must_use]
    pub fn with_client_auth(
        mut self,
        client_auth: ClientAuth,
        ca_file: impl Into<PathBuf>,
    ) -> Self {
        self.client_auth = client_auth;
        self.ca_file = Some(ca_file.into());
        self
    }

    /// These settings with another `reload_interval`.
    #[must_use]
    pub fn with_reload_interval(mut self, interval: Duration) -> Self {
        self.reload_interval = interval;
        self
    }

    /// These settings with another `handshake_timeout`.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    fn rules(&self, problems: &mut Problems) {
        check_interval(self.reload_interval, problems);
        if self.handshake_timeout < Duration::from_millis(100)
            || self.handshake_timeout > Duration::from_secs(300)
        {
            problems.add(
                "handshake_timeout",
                "must be between 100ms and 5m (a handshake takes milliseconds)",
            );
        }
        if !self.enabled {
            return;
        }
        if self.cert_file.is_none() {
            problems.add(
                "cert_file",
                "is required when `enabled = true`: the PEM file of the server's certificate chain",
            );
        }
        if self.key_file.is_none() {
            problems.add(
                "key_file",
                "is required when `enabled = true`: the PEM file of the certificate's private key",
            );
        }
        match (self.client_auth, &self.ca_file) {
            (ClientAuth::Off, Some(_)) => problems.add(
                "ca_file",
                "is set but `client_auth` is `off`, so no caller would be asked for a \
                 certificate; set `client_auth = \"require\"` (or `\"optional\"`), or remove `ca_file`",
            ),
            (ClientAuth::Optional | ClientAuth::Require, None) => problems.add(
                "ca_file",
                "is required when `client_auth` is `optional` or `require`: the PEM bundle of \
                 the CA(s) that callers' certificates must chain to",
            ),
            _ => {}
        }
    }
}

/// TLS for connections the service makes (a boost-rpc client's `https`
/// endpoints, OTLP export to an `https` collector).
///
/// TLS is used when the endpoint's scheme is `https`; these settings say
/// which CAs to trust and which certificate to show.
///
/// ```toml
/// [profiles.tls]
/// ca_file = "/etc/tls/ca.crt"      # unset: the system's roots
/// cert_file = "/etc/tls/tls.crt"   # mTLS: shown to the server
/// key_file = "/etc/tls/tls.key"
/// server_name = "profile-service"  # for IP endpoints
/// ```
///
/// Built into a `rustls::ClientConfig` by [`ClientTls`](crate::ClientTls).
///
/// Embed it in a settings struct as a plain field (`tls: ClientTlsSettings`,
/// not `Option<…>`): the loader learns which keys exist from the serialised
/// default, and a `None` section hides `tls.key_file`, so
/// `…__TLS__KEY_FILE=/path` would be read as a secret *file* for a key
/// `tls.key`. The `*_file` fields serialise as `""` when unset for the same
/// reason.
#[derive(
    Clone,
    Debug,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
#[validate(custom = ClientTlsSettings::rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ClientTlsSettings {
    /// The CA bundle (PEM) that the server's certificate must chain to.
    /// `""`: the system's trusted roots. Re-read when it changes.
    /// Default: `""`.
    #[serde(with = "file_path")]
    pub ca_file: Option<PathBuf>,
    /// A client certificate chain to show the server (mTLS), PEM; needs
    /// `key_file`. Re-read when it changes. Default: `""` (none shown).
    #[serde(with = "file_path")]
    pub cert_file: Option<PathBuf>,
    /// The private key of `cert_file`, PEM. A secret: read only by the TLS
    /// layer, never logged. Default: `""` (unset).
    #[serde(with = "file_path")]
    pub key_file: Option<PathBuf>,
    /// The name the server's certificate must carry, and the SNI sent;
    /// needed when endpoints are IP addresses. Unset: each endpoint's host.
    /// Default: unset.
    pub server_name: Option<String>,
    /// How often the files are checked for new content, in case file events
    /// do not arrive. At least `1s`. Default: `60s`.
    #[serde(with = "boost_config::duration")]
    pub reload_interval: Duration,
}

impl Default for ClientTlsSettings {
    fn default() -> Self {
        ClientTlsSettings {
            ca_file: None,
            cert_file: None,
            key_file: None,
            server_name: None,
            reload_interval: DEFAULT_RELOAD_INTERVAL,
        }
    }
}

impl ClientTlsSettings {
    /// Trust only the CAs in `ca_file` (instead of the system's roots).
    #[must_use]
    pub fn with_ca_file(mut self, ca_file: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(ca_file.into());
        self
    }

    /// Show this certificate chain and key to servers (mTLS).
    #[must_use]
    pub fn with_identity(
        mut self,
        cert_file: impl Into<PathBuf>,
        key_file: impl Into<PathBuf>,
    ) -> Self {
        self.cert_file = Some(cert_file.into());
        self.key_file = Some(key_file.into());
        self
    }

    /// Expect (and send as SNI) this server name.
    #[must_use]
    pub fn with_server_name(mut self, server_name: impl Into<String>) -> Self {
        self.server_name = Some(server_name.into());
        self
    }

    /// These settings with another `reload_interval`.
    #[must_use]
    pub fn with_reload_interval(mut self, interval: Duration) -> Self {
        self.reload_interval = interval;
        self
    }

    fn rules(&self, problems: &mut Problems) {
        check_interval(self.reload_interval, problems);
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => problems.add(
                "key_file",
                "is required when `cert_file` is set: the PEM file of the client certificate's key",
            ),
            (None, Some(_)) => problems.add(
                "cert_file",
                "is required when `key_file` is set: the PEM file of the client certificate chain",
            ),
            _ => {}
        }
        if let Some(name) = &self.server_name
            && rustls_pki_types::ServerName::try_from(name.as_str()).is_err()
        {
            problems.add(
                "server_name",
                "is not a DNS name or IP address (e.g. `profile-service.prod.svc`)",
            );
        }
    }
}

/// A file path that is "unset" as `""`: serialised as `""` rather than
/// left out, so that the loader knows `cert_file`, `key_file` and `ca_file`
/// are keys, and reads `…__TLS__KEY_FILE=/etc/tls/tls.key` as this path —
/// not as a secret file named `…__TLS__KEY` whose *content* is the value.
mod file_path {
    use std::path::PathBuf;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) fn serialize<S: Serializer>(
        path: &Option<PathBuf>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match path {
            Some(path) => path.serialize(serializer),
            None => serializer.serialize_str(""),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<PathBuf>, D::Error> {
        let path = Option::<PathBuf>::deserialize(deserializer)?;
        Ok(path.filter(|path| !path.as_os_str().is_empty()))
    }
}

fn check_interval(interval: Duration, problems: &mut Problems) {
    if interval < MIN_RELOAD_INTERVAL {
        problems.add(
            "reload_interval",
            "must be at least 1s (file events reload at once; this is only the backstop)",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_defaults_are_off_and_valid() {
        let settings = ServerTlsSettings::default();
        assert!(!settings.enabled);
        assert!(Problems::of("tls", &settings).is_empty());
    }

    #[test]
    fn enabled_server_needs_cert_and_key_and_ca_matches_client_auth() {
        let settings: ServerTlsSettings =
            toml::from_str("enabled = true\nclient_auth = \"require\"\n").unwrap();
        let problems = Problems::of("grpc.tls", &settings);
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            [
                "grpc.tls.cert_file",
                "grpc.tls.key_file",
                "grpc.tls.ca_file"
            ]
        );
        let settings = ServerTlsSettings::new("c", "k").with_client_auth(ClientAuth::Off, "ca");
        assert_eq!(
            Problems::of("grpc.tls", &settings)
                .keys()
                .collect::<Vec<_>>(),
            ["grpc.tls.ca_file"]
        );
    }

    #[test]
    fn client_needs_both_halves_of_an_identity_and_a_real_server_name() {
        let settings = ClientTlsSettings {
            cert_file: Some("c".into()),
            server_name: Some("not a name".into()),
            reload_interval: Duration::from_millis(10),
            ..ClientTlsSettings::default()
        };
        let problems = Problems::of("profiles.tls", &settings);
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            [
                "profiles.tls.reload_interval",
                "profiles.tls.key_file",
                "profiles.tls.server_name"
            ]
        );
    }

    #[test]
    fn unknown_keys_and_unknown_client_auth_are_refused() {
        assert!(toml::from_str::<ServerTlsSettings>("cert = \"x\"").is_err());
        assert!(toml::from_str::<ServerTlsSettings>("client_auth = \"always\"").is_err());
    }
}
