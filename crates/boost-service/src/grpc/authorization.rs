//! Who may call what: an allow-list of caller identities per gRPC service or
//! method (`[grpc.authorization]`), checked against the identity the
//! caller proved with its client certificate (mTLS).
//!
//! ```toml
//! [grpc.authorization]
//! default = "allow"   # methods not listed: anyone who got through TLS
//!
//! [grpc.authorization.allow]
//! "hello.v1.Greeter" = ["spiffe://prod.example/ns/web/sa/frontend"]
//! "hello.v1.Greeter/SayHello" = ["spiffe://prod.example/ns/web/sa/frontend", "hello.internal"]
//! ```
//!
//! For each call the most specific entry decides: the method's
//! (`package.Service/Method`), else its service's (`package.Service`), else
//! `default` (`allow`, or `deny` to refuse every method not listed).
//! An entry lists names compared exactly with the caller's URI names
//! (SPIFFE IDs), DNS names and subject (`CN=…,O=…`); an empty list lets
//! nobody in. A caller with no verified certificate is refused with
//! `UNAUTHENTICATED`, one whose identity is not listed with
//! `PERMISSION_DENIED`; both are logged with the method and the identity.
//! The identity is a metric label only where it is bounded:
//! `rpc_server_authorization_total{rule,caller,outcome}` names the
//! allow-list entry and the allow-list *name* that matched (or `unlisted`,
//! `anonymous`), values from the configuration, never from the caller.
//! `grpc.health.v1.Health` is not refused by `default = "deny"` (probes
//! carry no client certificate); list it to restrict it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use boost_config::Problems;
use boost_tls::PeerIdentity;

use crate::connections::Quiet;
use futures::future::Either;
use http::{Request, Response};
use serde::{Deserialize, Serialize};
use tower::{Layer, Service};

/// The service that `default = "deny"` never refuses.
const HEALTH_SERVICE: &str = "grpc.health.v1.Health";

/// The most entries `allow` may hold, and names per entry.
const MAX_ENTRIES: usize = 4096;

/// What happens to a method no entry names.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DefaultPolicy {
    /// Served to every caller that got through TLS.
    #[default]
    Allow,
    /// Refused (`PERMISSION_DENIED`), except `grpc.health.v1.Health`.
    Deny,
}

/// `[grpc.authorization]`: which caller identities may call which services
/// and methods. See the [module docs](self).
#[derive(
    Clone,
    Debug,
    Default,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    boost_config::Validate,
    boost_config::Document,
)]
#[validate(custom = AuthorizationSettings::rules)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthorizationSettings {
    /// For methods no entry of `allow` names: `allow` (anyone who got
    /// through TLS) or `deny` (no one; `grpc.health.v1.Health` stays open).
    /// Default: `allow`.
    pub default: DefaultPolicy,
    /// Caller identities allowed per service (`"hello.v1.Greeter"`) or per
    /// method (`"hello.v1.Greeter/SayHello"`); the method's entry wins over
    /// its service's. Names are SPIFFE IDs or other URI names, DNS names, or
    /// a subject (`"CN=hello-service"`), compared exactly. Needs
    /// `grpc.tls.client_auth`. Default: empty.
    pub allow: BTreeMap<String, Vec<String>>,
}

impl AuthorizationSettings {
    /// Whether any rule is set (a call then needs checking).
    pub fn is_active(&self) -> bool {
        self.default == DefaultPolicy::Deny || !self.allow.is_empty()
    }

    /// These settings with `identities` allowed on `target` (a service or a
    /// method).
    #[must_use]
    pub fn allow(
        mut self,
        target: impl Into<String>,
        identities: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.allow.insert(
            target.into(),
            identities.into_iter().map(Into::into).collect(),
        );
        self
    }

    /// These settings with `default` for methods no entry names.
    #[must_use]
    pub fn with_default(mut self, default: DefaultPolicy) -> Self {
        self.default = default;
        self
    }

    fn rules(&self, problems: &mut Problems) {
        if self.allow.len() > MAX_ENTRIES {
            problems.add("allow", format!("has more than {MAX_ENTRIES} entries"));
        }
        for (target, names) in &self.allow {
            let key = format!("allow.\"{target}\"");
            if !valid_target(target) {
                problems.add(
                    &key,
                    "is not a service (`package.Service`) or a method \
                     (`package.Service/Method`), e.g. `hello.v1.Greeter/SayHello`",
                );
            }
            if names.len() > MAX_ENTRIES {
                problems.add(&key, format!("lists more than {MAX_ENTRIES} names"));
            }
            if names.iter().any(|name| name.trim().is_empty()) {
                problems.add(&key, "lists an empty name");
            }
        }
    }

    /// The decision for `method` (`package.Service/Method`).
    fn rule_for(&self, method: &str) -> Rule<'_> {
        if let Some((key, names)) = self.allow.get_key_value(method) {
            return Rule::Listed(key, names);
        }
        let service = method
            .split_once('/')
            .map_or(method, |(service, _)| service);
        if let Some((key, names)) = self.allow.get_key_value(service) {
            return Rule::Listed(key, names);
        }
        match self.default {
            DefaultPolicy::Allow => Rule::Open,
            DefaultPolicy::Deny if service == HEALTH_SERVICE => Rule::Open,
            DefaultPolicy::Deny => Rule::Closed,
        }
    }
}

/// `package.Service` or `package.Service/Method`: no leading slash, no
/// spaces, one slash at most.
fn valid_target(target: &str) -> bool {
    let (service, method) = match target.split_once('/') {
        Some((service, method)) => (service, Some(method)),
        None => (target, None),
    };
    let word = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    word(service)
        && !service.starts_with('.')
        && !service.ends_with('.')
        && method.is_none_or(|m| word(m) && !m.contains('.'))
}

enum Rule<'a> {
    Open,
    Closed,
    /// The entry's key (`hello.v1.Greeter`) and its names.
    Listed(&'a str, &'a [String]),
}

/// Counter: calls an allow-list rule decided. Labels `rule` (the `allow`
/// entry, or `default` for `default = "deny"`), `caller` (the allow-list
/// name that matched, `unlisted` or `anonymous`), `outcome` (`allowed`,
/// `denied`). Every value comes from the configuration or is one of those
/// words, so the series are bounded by the config, never by callers.
const DECISIONS: &str = boost_metrics::conventions::RPC_SERVER_AUTHORIZATION_TOTAL;

fn count(rule: &str, caller: &str, allowed: bool) {
    let outcome = if allowed { "allowed" } else { "denied" };
    metrics::counter!(DECISIONS, "rule" => rule.to_owned(), "caller" => caller.to_owned(), "outcome" => outcome)
        .increment(1);
}

/// Layer that applies [`Authorize`]; cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct AuthorizeLayer {
    settings: Arc<AuthorizationSettings>,
    logs: Arc<DenialLogs>,
}

/// Refusals are logged at most once per interval per kind (as failed TLS
/// handshakes are), with the number left out since; the counter counts
/// every one. A caller cannot flood the log by calling what it may not.
#[derive(Debug, Default)]
pub(crate) struct DenialLogs {
    anonymous: std::sync::Mutex<Quiet>,
    unlisted: std::sync::Mutex<Quiet>,
}

fn due(quiet: &std::sync::Mutex<Quiet>) -> Option<u64> {
    quiet
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .due()
}

impl AuthorizeLayer {
    pub(crate) fn new(settings: AuthorizationSettings) -> Self {
        let defs: Vec<boost_metrics::MetricDef> = boost_metrics::conventions::METRICS
            .iter()
            .filter(|def| def.name == DECISIONS)
            .copied()
            .collect();
        boost_metrics::describe_all(&defs);
        AuthorizeLayer {
            settings: Arc::new(settings),
            logs: Arc::new(DenialLogs::default()),
        }
    }
}

impl<S> Layer<S> for AuthorizeLayer {
    type Service = Authorize<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authorize {
            inner,
            settings: Arc::clone(&self.settings),
            logs: Arc::clone(&self.logs),
        }
    }
}

/// Refuses calls whose caller identity the allow-list does not name.
#[derive(Clone, Debug)]
pub(crate) struct Authorize<S> {
    inner: S,
    settings: Arc<AuthorizationSettings>,
    logs: Arc<DenialLogs>,
}

impl<S, B> Service<Request<B>> for Authorize<S>
where
    S: Service<Request<B>, Response = Response<tonic::body::Body>>,
{
    type Response = Response<tonic::body::Body>;
    type Error = S::Error;
    type Future = Either<std::future::Ready<Result<Self::Response, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let method = request.uri().path().trim_start_matches('/');
        let peer = request.extensions().get::<PeerIdentity>();
        match decide(&self.settings, &self.logs, method, peer) {
            Ok(()) => Either::Right(self.inner.call(request)),
            Err(status) => Either::Left(std::future::ready(Ok(status.into_http()))),
        }
    }
}

fn decide(
    settings: &AuthorizationSettings,
    logs: &DenialLogs,
    method: &str,
    peer: Option<&PeerIdentity>,
) -> Result<(), tonic::Status> {
    let (rule, names) = match settings.rule_for(method) {
        Rule::Open => return Ok(()),
        Rule::Closed => ("default", &[][..]),
        Rule::Listed(rule, names) => (rule, names),
    };
    let Some(peer) = peer else {
        count(rule, "anonymous", false);
        match due(&logs.anonymous) {
            Some(quiet) => tracing::warn!(
                rpc.method = method,
                refused_since_last_log = quiet,
                "refused a call without a verified client certificate (grpc.authorization); \
                 counted in rpc_server_authorization_total"
            ),
            None => tracing::debug!(
                rpc.method = method,
                "refused a call without a verified client certificate (grpc.authorization)"
            ),
        }
        return Err(tonic::Status::unauthenticated(format!(
            "`{method}` needs a client certificate (mTLS) that verifies against the server's CA"
        )));
    };
    if let Some(name) = names.iter().find(|name| peer.matches(name)) {
        count(rule, name, true);
        return Ok(());
    }
    count(rule, "unlisted", false);
    match due(&logs.unlisted) {
        Some(quiet) => tracing::warn!(
            rpc.method = method,
            peer.identity = peer.principal(),
            tls.client.subject = peer.subject(),
            refused_since_last_log = quiet,
            "refused a call: the caller's identity is not allowed (grpc.authorization); \
             counted in rpc_server_authorization_total"
        ),
        None => tracing::debug!(
            rpc.method = method,
            peer.identity = peer.principal(),
            tls.client.subject = peer.subject(),
            "refused a call: the caller's identity is not allowed (grpc.authorization)"
        ),
    }
    Err(tonic::Status::permission_denied(format!(
        "`{}` may not call `{method}`",
        peer.principal()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(uri: &str) -> PeerIdentity {
        PeerIdentity::new("CN=x", [uri.to_owned()], [])
    }

    #[test]
    fn refusals_are_logged_once_per_interval_and_all_counted() {
        // boost_tracing's capture, not a hand-made subscriber: it keeps every
        // dispatcher consulted, so another test's thread reaching these call
        // sites first cannot leave them disabled for this one.
        let capture = boost_tracing::testing::Capture::new();
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let settings = AuthorizationSettings::default().allow("hello.v1.Greeter", ["spiffe://a"]);
        let logs = DenialLogs::default();
        {
            let _guard = capture.set_default();
            metrics::with_local_recorder(&recorder, || {
                for _ in 0..50 {
                    let stranger = peer("spiffe://stranger");
                    let _ = decide(&settings, &logs, "hello.v1.Greeter/A", Some(&stranger));
                    let _ = decide(&settings, &logs, "hello.v1.Greeter/A", None);
                }
            });
        }
        // One line for the unlisted caller, one for the anonymous one (the
        // interval is far longer than this loop).
        let warnings = capture
            .events()
            .into_iter()
            .filter(|event| event.level == tracing::Level::WARN)
            .count();
        assert_eq!(warnings, 2);
        let counted: u64 = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| match value {
                metrics_util::debugging::DebugValue::Counter(n)
                    if key.key().name() == DECISIONS =>
                {
                    Some(n)
                }
                _ => None,
            })
            .sum();
        assert_eq!(counted, 100);
    }

    #[test]
    fn the_most_specific_entry_decides() {
        let settings = AuthorizationSettings::default()
            .allow("hello.v1.Greeter", ["spiffe://a"])
            .allow("hello.v1.Greeter/SayHello", ["spiffe://b"]);
        let say = "hello.v1.Greeter/SayHello";
        assert!(
            decide(
                &settings,
                &DenialLogs::default(),
                say,
                Some(&peer("spiffe://b"))
            )
            .is_ok()
        );
        let denied = decide(
            &settings,
            &DenialLogs::default(),
            say,
            Some(&peer("spiffe://a")),
        )
        .unwrap_err();
        assert_eq!(denied.code(), tonic::Code::PermissionDenied);
        assert!(
            decide(
                &settings,
                &DenialLogs::default(),
                "hello.v1.Greeter/Other",
                Some(&peer("spiffe://a"))
            )
            .is_ok()
        );
        assert!(
            decide(
                &settings,
                &DenialLogs::default(),
                "hello.v1.Profiles/Get",
                None
            )
            .is_ok()
        );
        let anonymous = decide(&settings, &DenialLogs::default(), say, None).unwrap_err();
        assert_eq!(anonymous.code(), tonic::Code::Unauthenticated);
    }

    #[test]
    fn default_deny_refuses_unlisted_methods_but_not_health() {
        let settings = AuthorizationSettings::default()
            .with_default(DefaultPolicy::Deny)
            .allow("hello.v1.Greeter", ["spiffe://a"]);
        let id = peer("spiffe://a");
        assert!(
            decide(
                &settings,
                &DenialLogs::default(),
                "hello.v1.Greeter/SayHello",
                Some(&id)
            )
            .is_ok()
        );
        let refused = decide(
            &settings,
            &DenialLogs::default(),
            "hello.v1.Profiles/Get",
            Some(&id),
        )
        .unwrap_err();
        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(
            decide(
                &settings,
                &DenialLogs::default(),
                "grpc.health.v1.Health/Check",
                None
            )
            .is_ok()
        );
    }

    #[test]
    fn targets_must_be_services_or_methods() {
        let settings = AuthorizationSettings::default()
            .allow("/hello.v1.Greeter/SayHello", ["x"])
            .allow("hello.v1.Greeter/Say/Hello", ["x"])
            .allow("hello.v1.Greeter", [""])
            .allow("hello.v1.Greeter/SayHello", ["x"]);
        let problems = Problems::of("grpc.authorization", &settings);
        assert_eq!(
            problems.keys().collect::<Vec<_>>(),
            [
                "grpc.authorization.allow.\"/hello.v1.Greeter/SayHello\"",
                "grpc.authorization.allow.\"hello.v1.Greeter\"",
                "grpc.authorization.allow.\"hello.v1.Greeter/Say/Hello\"",
            ]
        );
    }

    #[test]
    fn decisions_are_counted_with_labels_from_the_config_only() {
        let recorder = metrics_util::debugging::DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        metrics::with_local_recorder(&recorder, || {
            let settings =
                AuthorizationSettings::default().allow("hello.v1.Greeter", ["spiffe://a"]);
            let _ = decide(
                &settings,
                &DenialLogs::default(),
                "hello.v1.Greeter/Any",
                Some(&peer("spiffe://a")),
            );
            let _ = decide(
                &settings,
                &DenialLogs::default(),
                "hello.v1.Greeter/Other",
                Some(&peer("spiffe://made-up-1")),
            );
            let _ = decide(
                &settings,
                &DenialLogs::default(),
                "hello.v1.Greeter/Third",
                Some(&peer("spiffe://made-up-2")),
            );
            let _ = decide(
                &settings,
                &DenialLogs::default(),
                "hello.v1.Greeter/Any",
                None,
            );
            let _ = decide(
                &settings,
                &DenialLogs::default(),
                "hello.v1.Profiles/Get",
                Some(&peer("spiffe://a")),
            );
        });
        let mut seen: Vec<(String, String, String, u64)> = snapshotter
            .snapshot()
            .into_vec()
            .into_iter()
            .filter_map(|(key, _, _, value)| {
                let key = key.key();
                let label = |name: &str| {
                    key.labels()
                        .find(|l| l.key() == name)
                        .map(|l| l.value().to_owned())
                        .unwrap_or_default()
                };
                match value {
                    metrics_util::debugging::DebugValue::Counter(n) if key.name() == DECISIONS => {
                        Some((label("rule"), label("caller"), label("outcome"), n))
                    }
                    _ => None,
                }
            })
            .collect();
        seen.sort();
        let rule = "hello.v1.Greeter".to_owned();
        assert_eq!(
            seen,
            [
                (rule.clone(), "anonymous".to_owned(), "denied".to_owned(), 1),
                (
                    rule.clone(),
                    "spiffe://a".to_owned(),
                    "allowed".to_owned(),
                    1
                ),
                (rule, "unlisted".to_owned(), "denied".to_owned(), 2),
            ]
        );
    }
}
