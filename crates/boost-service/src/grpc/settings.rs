//! [`GrpcSettings`]: the `[grpc]` section of a service's configuration.

use std::net::{Ipv4Addr, SocketAddr};

use boost_config::Problems;
use boost_rpc::server::ServerSettings;
use boost_tls::{ClientAuth, ServerTlsSettings};
use serde::{Deserialize, Serialize};

use super::authorization::AuthorizationSettings;

/// Where and how the service serves gRPC (`[grpc]`).
///
/// ```toml
/// [grpc]
/// listen = "0.0.0.0:50051"
///
/// [grpc.server]
/// concurrency_limit = 256
/// reflection = false
/// ```
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
#[validate(custom = GrpcSettings::rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct GrpcSettings {
    /// Address the gRPC server listens on; port `0` picks a free one.
    /// Default: `127.0.0.1:50051` (loopback: set `0.0.0.0:50051` to serve
    /// other hosts).
    pub listen: SocketAddr,
    /// Per-call limits, keepalive, HTTP/2 and reflection
    /// ([`boost_rpc::server::ServerSettings`]). Default: its defaults.
    pub server: ServerSettings,
    /// TLS for the gRPC server, and mTLS when `client_auth` is `optional` or
    /// `require`. Certificate, key and CA files are re-read when they change
    /// (see docs/security.md). Default: off (plaintext).
    pub tls: ServerTlsSettings,
    /// Which caller identities (from their client certificates) may call
    /// which services and methods; needs `tls.client_auth`. Default: no
    /// rules (every caller that got through TLS).
    pub authorization: AuthorizationSettings,
}

impl Default for GrpcSettings {
    fn default() -> Self {
        GrpcSettings {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 50051)),
            server: ServerSettings::default(),
            tls: ServerTlsSettings::default(),
            authorization: AuthorizationSettings::default(),
        }
    }
}

impl GrpcSettings {
    /// The defaults, listening on `listen`.
    pub fn new(listen: SocketAddr) -> Self {
        GrpcSettings {
            listen,
            ..GrpcSettings::default()
        }
    }

    /// These settings serving TLS (and mTLS) as `tls` says.
    #[must_use]
    pub fn with_tls(mut self, tls: ServerTlsSettings) -> Self {
        self.tls = tls;
        self
    }

    /// These settings with `authorization` as the allow-list of callers.
    #[must_use]
    pub fn with_authorization(mut self, authorization: AuthorizationSettings) -> Self {
        self.authorization = authorization;
        self
    }

    fn rules(&self, problems: &mut Problems) {
        if self.authorization.is_active()
            && (!self.tls.enabled || self.tls.client_auth == ClientAuth::Off)
        {
            problems.add(
                "authorization",
                "needs callers' identities: set `grpc.tls.enabled = true` and \
                 `grpc.tls.client_auth = \"require\"` (or `\"optional\"`) with `grpc.tls.ca_file`",
            );
        }
        let rate_limit = &self.server.rate_limit;
        if rate_limit.enabled
            && rate_limit.key == boost_rpc::rate_limit::RateLimitKey::Peer
            && (!self.tls.enabled || self.tls.client_auth == ClientAuth::Off)
        {
            problems.add(
                "server.rate_limit.key",
                "is `peer`, which needs callers' certificates: set `grpc.tls.enabled = true` and \
                 `grpc.tls.client_auth`, or key the limit by a metadata value \
                 (`key = \"header\"`, `header = \"x-tenant\"`); without them every call would \
                 share the default bucket",
            );
        }
    }

    /// These settings with `server` as the per-call and connection settings.
    #[must_use]
    pub fn with_server(mut self, server: ServerSettings) -> Self {
        self.server = server;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_defaults_to_loopback_50051_and_server_table_nests() {
        let parsed: GrpcSettings = toml::from_str("[server]\nconcurrency_limit = 8\n").unwrap();
        assert_eq!(parsed.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(parsed.server.concurrency_limit, 8);
        assert!(parsed.server.reflection);
    }

    #[test]
    fn authorization_without_client_certificates_is_one_readable_problem() {
        let settings = GrpcSettings::default().with_authorization(
            crate::grpc::AuthorizationSettings::default().allow("hello.v1.Greeter", ["x"]),
        );
        let text = Problems::of("grpc", &settings)
            .into_result("gRPC settings")
            .unwrap_err()
            .to_string();
        assert!(text.contains("grpc.authorization"), "{text}");
        assert!(
            text.contains("`grpc.tls.enabled = true` and `grpc.tls.client_auth"),
            "{text}"
        );
        assert!(!text.contains("   "), "no run of spaces: {text}");
    }

    #[test]
    fn a_rate_limit_by_peer_without_client_certificates_is_refused() {
        let mut server = ServerSettings::default();
        server.rate_limit = boost_rpc::rate_limit::RateLimitSettings::default().by_peer();
        let settings = GrpcSettings::default().with_server(server);
        let text = Problems::of("grpc", &settings)
            .into_result("gRPC settings")
            .unwrap_err()
            .to_string();
        assert!(text.contains("grpc.server.rate_limit.key"), "{text}");
    }

    #[test]
    fn the_adaptive_limit_is_a_table_of_grpc_server_and_its_problems_are_named() {
        let parsed: GrpcSettings = toml::from_str(
            "[server]\nconcurrency_limit = 500\n[server.adaptive_limit]\nenabled = true\n\
             min_limit = 5\ntolerance = 2.0\nwindow = \"250ms\"\n",
        )
        .unwrap();
        let adaptive = &parsed.server.adaptive_limit;
        assert!(adaptive.enabled);
        assert_eq!(adaptive.min_limit, 5);
        assert_eq!(adaptive.tolerance, 2.0);
        assert_eq!(adaptive.window, std::time::Duration::from_millis(250));
        assert_eq!(Problems::of("grpc", &parsed).keys().count(), 0);

        let bad: GrpcSettings = toml::from_str(
            "[server]\nconcurrency_limit = 0\n[server.adaptive_limit]\nenabled = true\n\
             smoothing = 0.0\n",
        )
        .unwrap();
        let problems = Problems::of("grpc", &bad);
        let keys: Vec<_> = problems.keys().collect();
        assert_eq!(
            keys,
            [
                "grpc.server.adaptive_limit.smoothing",
                "grpc.server.concurrency_limit"
            ]
        );
        assert!(
            toml::from_str::<GrpcSettings>("[server.adaptive_limit]\nenabeld = true\n").is_err(),
            "a misspelt key is refused"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(toml::from_str::<GrpcSettings>("lisen = \"127.0.0.1:1\"").is_err());
    }
}
