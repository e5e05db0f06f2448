//! Bearer-token authorization for state-changing endpoints, with audit events.
//!
//! A handler that changes state takes an [`Authorized`] argument; axum runs this
//! extractor first and answers `401`/`403` itself when it fails.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AdminState, text};

/// Target of audit events, so they can be routed as one stream; boost-tracing's
/// filters always let it through, so no log filter can hide the audit trail.
pub(super) const AUDIT_TARGET: &str = boost_tracing::AUDIT_TARGET;

/// Proof that the request carried the configured admin token.
pub(super) struct Authorized {
    /// `sha256:` and the first 8 hex digits of the token's SHA-256: names the
    /// token in audit logs without revealing it.
    pub(super) token_id: String,
    /// The caller's address.
    pub(super) peer: String,
}

impl FromRequestParts<AdminState> for Authorized {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AdminState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.to_string());
        let what = format!("{} {}", parts.method, parts.uri.path());

        let Some(expected) = &state.token else {
            refused(
                state,
                &peer,
                &what,
                "disabled",
                "state-changing endpoints are disabled (no admin.token)",
            )
            .await;
            let key = format!("{}__ADMIN__TOKEN", state.env_prefix);
            return Err(text(
                StatusCode::FORBIDDEN,
                format!(
                    "state-changing admin endpoints are disabled because no admin token is configured; \
                     set admin.token (or {key}) to a long random string to enable them, \
                     then send it as `Authorization: Bearer <token>`\n"
                ),
            ));
        };
        let Some(presented) = bearer(parts) else {
            refused(state, &peer, &what, "unauthenticated", "no bearer token").await;
            let mut response = text(
                StatusCode::UNAUTHORIZED,
                "this endpoint changes state: send `Authorization: Bearer <admin.token>`\n",
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"admin\""),
            );
            return Err(response);
        };
        // Trimmed as validation measures it: a token file's trailing space or
        // newline must not make every request fail.
        if !token_matches(expected.expose().trim().as_bytes(), presented) {
            refused(state, &peer, &what, "forbidden", "wrong bearer token").await;
            return Err(text(
                StatusCode::FORBIDDEN,
                "the bearer token does not match admin.token\n",
            ));
        }
        Ok(Self {
            token_id: token_fingerprint(expected.expose().trim().as_bytes()),
            peer,
        })
    }
}

/// One audit record of a refused request. The presented token is never
/// recorded, not even its fingerprint: a wrong token may be a real one of
/// another service. Written off the runtime's workers: anyone who reaches
/// the admin port can cause refusals, and each is an fsync. Bounded by
/// [`RefusalLimiter`](super::refusals::RefusalLimiter): at most 30 records a
/// minute, none once the audit file is three quarters full.
async fn refused(state: &AdminState, peer: &str, what: &str, outcome: &str, why: &str) {
    use super::refusals::{Admit, PER_WINDOW, bounded};
    let what = bounded(what);
    let reason = match state.refusals.admit(std::time::Instant::now()) {
        Admit::Count { first } => {
            if first {
                tracing::warn!(target: AUDIT_TARGET, peer = %peer, what = %what, outcome = %outcome,
                    "over {PER_WINDOW} admin requests refused this minute ({why}): further \
                     refusals are counted, and the next audit record says how many");
            }
            return;
        }
        Admit::Record {
            unrecorded_before: 0,
        } => why.to_owned(),
        Admit::Record { unrecorded_before } => format!(
            "{why} ({unrecorded_before} more refused requests before this one were not \
             recorded one by one: over {PER_WINDOW} a minute)"
        ),
    };
    let record = boost_audit::AuditRecord::new("admin.refused", what.clone(), outcome)
        .peer(peer)
        .reason(reason);
    let audit = state.audit.clone();
    let written = tokio::task::spawn_blocking(move || {
        // The last quarter of the file is for authorized actions.
        if let Some((size, max)) = audit.usage()
            && size >= max / 4 * 3
        {
            return Ok(false);
        }
        audit.record(record).map(|_| true)
    })
    .await;
    match written {
        Ok(Ok(true)) => {}
        Ok(Ok(false)) => {
            tracing::warn!(target: AUDIT_TARGET, peer = %peer, what = %what, outcome = %outcome,
                "admin request refused ({why}); not recorded in the audit file, which is three \
                 quarters full: its rest is kept for authorized actions (archive it, see \
                 docs/audit.md)");
        }
        Ok(Err(e)) => {
            tracing::error!(target: AUDIT_TARGET, error = %e, peer = %peer, what = %what, outcome = %outcome,
                "admin request refused ({why}); its audit record could not be written");
        }
        Err(e) => {
            tracing::error!(target: AUDIT_TARGET, error = %e, peer = %peer, what = %what, outcome = %outcome,
                "admin request refused ({why}); writing its audit record was interrupted");
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer(parts: &Parts) -> Option<&[u8]> {
    let value = parts.headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, rest) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = rest.trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// Constant-time comparison; hashing first hides the token's length too.
fn token_matches(expected: &[u8], presented: &[u8]) -> bool {
    let expected = Sha256::digest(expected);
    let presented = Sha256::digest(presented);
    expected.as_slice().ct_eq(presented.as_slice()).into()
}

/// `sha256:` + the first 8 hex digits of the SHA-256 of the token; an operator
/// can match it with `printf %s "$TOKEN" | sha256sum | cut -c1-8`.
fn token_fingerprint(token: &[u8]) -> String {
    let digest = Sha256::digest(token);
    let mut id = String::from("sha256:");
    for byte in &digest[..4] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_matches_sha256sum_prefix() {
        // printf %s secret | sha256sum → 2bb80d537b1da3e3…
        assert_eq!(token_fingerprint(b"secret"), "sha256:2bb80d53");
    }

    #[test]
    fn tokens_match_only_when_equal() {
        assert!(token_matches(b"abc", b"abc"));
        assert!(!token_matches(b"abc", b"abd"));
        assert!(!token_matches(b"abc", b"abcd"));
    }
}
