//! [`ServiceError`]: what a handler returns when it cannot answer, mapped to
//! the right gRPC code (or HTTP status), with a machine-readable reason and a
//! message that is safe to show the caller.
//!
//! ```
//! use boost_rpc::ServiceError;
//! use tonic_types::StatusExt;
//!
//! fn find(name: &str) -> Result<String, ServiceError> {
//!     if name.is_empty() {
//!         return Err(ServiceError::invalid_argument("name must not be empty"));
//!     }
//!     Err(ServiceError::not_found(format!("no profile named {name:?}"))
//!         .with_reason("PROFILE_NOT_FOUND")
//!         .with_metadata("name", name))
//! }
//!
//! // In a tonic handler, `?` turns it into a `tonic::Status`:
//! let status = tonic::Status::from(find("ada").unwrap_err());
//! assert_eq!(status.code(), tonic::Code::NotFound);
//! assert_eq!(status.message(), "no profile named \"ada\"");
//! let info = status.get_details_error_info().unwrap(); // google.rpc.ErrorInfo
//! assert_eq!(info.reason, "PROFILE_NOT_FOUND");
//! assert_eq!(info.metadata["name"], "ada");
//! ```
//!
//! # Internal errors stay inside
//!
//! [`ServiceError::internal`] wraps any error. The caller gets `INTERNAL` with
//! the message `"internal error"` and nothing else; the wrapped error and its
//! whole `source()` chain are logged at error level when the error becomes a
//! `Status` — inside the call's span, so the log line carries the trace id.
//!
//! ```
//! use boost_rpc::ServiceError;
//!
//! let io = std::io::Error::other("disk /var/db is full");
//! let status = tonic::Status::from(ServiceError::internal(io));
//! assert_eq!(status.code(), tonic::Code::Internal);
//! assert_eq!(status.message(), "internal error"); // the disk path is not leaked
//! ```
//!
//! # HTTP services
//!
//! [`ServiceError::http_status`] gives the matching HTTP status (`NotFound` →
//! 404, `Unavailable` → 503, …). boost-rpc does not depend on axum; a service
//! maps it in a few lines:
//!
//! ```ignore
//! impl axum::response::IntoResponse for MyError {
//!     fn into_response(self) -> axum::response::Response {
//!         let e: ServiceError = self.0;
//!         (e.http_status(), e.message().to_owned()).into_response()
//!     }
//! }
//! ```
//!
//! # Bounded by construction
//!
//! A handler often echoes its input into an error (`no profile named …`).
//! So that no input can make megabytes of trailers, the message is cut to
//! [`MAX_STATUS_MESSAGE_BYTES`](crate::status_bound::MAX_STATUS_MESSAGE_BYTES)
//! (1 KiB, noting the original length), each metadata value to 256 bytes,
//! and details that still exceed 4 KiB are sent without their metadata.
//! Better still, refuse oversized fields before using them:
//!
//! ```
//! use boost_rpc::ServiceError;
//!
//! let name = "x".repeat(1 << 20);
//! let err = ServiceError::check_length("name", &name, 1..=256).unwrap_err();
//! let status = tonic::Status::from(err);
//! assert_eq!(status.code(), tonic::Code::InvalidArgument);
//! assert_eq!(status.message(), "name is 1048576 bytes long; at most 256 are accepted");
//! ```
//!
//! # The error domain
//!
//! `ErrorInfo.domain` names the service that produced the error. It is set
//! once per process with [`set_error_domain`] (boost-service does this with
//! the service's name) or per error with [`ServiceError::with_domain`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use tonic::Code;

use crate::status_bound::{
    MAX_ERROR_METADATA_VALUE_BYTES, MAX_STATUS_DETAILS_BYTES, MAX_STATUS_MESSAGE_BYTES, truncate,
};
use tonic_types::{ErrorDetails, StatusExt};

type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

static DEFAULT_DOMAIN: OnceLock<String> = OnceLock::new();

/// Sets the `ErrorInfo.domain` of every [`ServiceError`] that does not set its
/// own, typically the service's name. Only the first call has an effect;
/// returns whether this call set it.
pub fn set_error_domain(domain: impl Into<String>) -> bool {
    DEFAULT_DOMAIN.set(domain.into()).is_ok()
}

/// What a handler failed with, from the caller's point of view.
///
/// Build one with the constructor named after the gRPC code
/// ([`ServiceError::not_found`], …), optionally refine it with
/// [`with_reason`](ServiceError::with_reason) and
/// [`with_metadata`](ServiceError::with_metadata), and return it: it converts
/// into a [`tonic::Status`] with `?`.
///
/// It is one pointer wide (its contents are boxed), so functions returning
/// `Result<_, ServiceError>` stay cheap and pass `clippy::result_large_err`.
/// [`code`](ServiceError::code) tells which kind it is.
pub struct ServiceError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    code: Code,
    detail: Detail,
    /// Only for internal errors: logged, never sent.
    source: Option<BoxError>,
}

impl fmt::Debug for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceError")
            .field("code", &self.0.code)
            .field("detail", &self.0.detail)
            .field("source", &self.0.source)
            .finish()
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0.source {
            Some(source) => write!(f, "internal error ({}): {source}", self.0.detail.reason),
            None => write!(f, "{}: {}", describe(self.0.code), self.0.detail),
        }
    }
}

impl std::error::Error for ServiceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// The caller-visible part of a [`ServiceError`]: message, reason, metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detail {
    message: Cow<'static, str>,
    reason: Cow<'static, str>,
    domain: Option<Cow<'static, str>>,
    metadata: HashMap<String, String>,
}

impl Detail {
    fn new(message: impl Into<Cow<'static, str>>, code: Code) -> Self {
        Detail {
            message: message.into(),
            reason: Cow::Borrowed(reason_for(code)),
            domain: None,
            metadata: HashMap::new(),
        }
    }

    /// The message the caller sees.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The machine-readable reason (`ErrorInfo.reason`), `UPPER_SNAKE_CASE`.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The `ErrorInfo.metadata`.
    pub fn metadata(&self) -> &HashMap<String, String> {
        &self.metadata
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $fn:ident => $code:expr;)*) => {
        impl ServiceError {
            $(
                $(#[$doc])*
                pub fn $fn(message: impl Into<Cow<'static, str>>) -> Self {
                    ServiceError::new($code, Detail::new(message, $code), None)
                }
            )*
        }
    };
}

constructors! {
    /// The thing asked for does not exist. gRPC `NOT_FOUND`, HTTP 404.
    not_found => Code::NotFound;
    /// The request is malformed whatever the system's state.
    /// `INVALID_ARGUMENT`, 400.
    invalid_argument => Code::InvalidArgument;
    /// The system is not in the state the call needs (e.g. deleting a
    /// non-empty folder); retrying will not help until it changes.
    /// `FAILED_PRECONDITION`, 412.
    failed_precondition => Code::FailedPrecondition;
    /// The caller is known but not allowed to do this. `PERMISSION_DENIED`, 403.
    permission_denied => Code::PermissionDenied;
    /// The caller did not prove who it is. `UNAUTHENTICATED`, 401.
    unauthenticated => Code::Unauthenticated;
    /// A quota or limit is exhausted; retry later. `RESOURCE_EXHAUSTED`, 429.
    resource_exhausted => Code::ResourceExhausted;
    /// Temporarily unable to serve (a dependency is down); safe to retry.
    /// `UNAVAILABLE`, 503.
    unavailable => Code::Unavailable;
    /// What the caller tried to create exists already. `ALREADY_EXISTS`, 409.
    already_exists => Code::AlreadyExists;
    /// The work could not finish within the call's deadline.
    /// `DEADLINE_EXCEEDED`, 504.
    deadline_exceeded => Code::DeadlineExceeded;
    /// A concurrency conflict (e.g. a failed compare-and-swap); retry the whole
    /// read-modify-write. `ABORTED`, 409.
    aborted => Code::Aborted;
    /// This operation is not implemented. `UNIMPLEMENTED`, 501.
    unimplemented => Code::Unimplemented;
}

impl ServiceError {
    fn new(code: Code, detail: Detail, source: Option<BoxError>) -> Self {
        ServiceError(Box::new(Inner {
            code,
            detail,
            source,
        }))
    }

    /// A bug or an unexpected failure, wrapping `source`. The caller sees only
    /// `INTERNAL` and `"internal error"`; `source` and its chain are logged
    /// when the error becomes a `Status`, never sent. HTTP 500.
    pub fn internal(source: impl Into<BoxError>) -> Self {
        ServiceError::new(
            Code::Internal,
            Detail::new("internal error", Code::Internal),
            Some(source.into()),
        )
    }

    /// Replaces the machine-readable reason (default: the code's name, e.g.
    /// `NOT_FOUND`). Use `UPPER_SNAKE_CASE`, stable across releases:
    /// clients match on it.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<Cow<'static, str>>) -> Self {
        self.0.detail.reason = reason.into();
        self
    }

    /// Adds a key/value to `ErrorInfo.metadata` (e.g. which field was invalid).
    /// Ignored for [internal](ServiceError::internal) errors, whose details
    /// stay inside.
    #[must_use]
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        if !self.is_internal() {
            self.0.detail.metadata.insert(key.into(), value.into());
        }
        self
    }

    /// Sets `ErrorInfo.domain` for this error (default: [`set_error_domain`]).
    #[must_use]
    pub fn with_domain(mut self, domain: impl Into<Cow<'static, str>>) -> Self {
        self.0.detail.domain = Some(domain.into());
        self
    }

    /// Checks that the request field `field` is `allowed.start()` to
    /// `allowed.end()` bytes long; otherwise an `INVALID_ARGUMENT` saying
    /// so (reason `FIELD_TOO_LONG` or `FIELD_TOO_SHORT`, metadata `field`),
    /// which does not echo the value.
    ///
    /// ```
    /// # use boost_rpc::ServiceError;
    /// assert!(ServiceError::check_length("name", "ada", 1..=256).is_ok());
    /// let empty = ServiceError::check_length("name", "", 1..=256).unwrap_err();
    /// assert_eq!(empty.message(), "name must not be empty");
    /// assert_eq!(empty.reason(), "FIELD_TOO_SHORT");
    /// ```
    ///
    /// # Errors
    /// The `INVALID_ARGUMENT` above when the length is outside `allowed`.
    pub fn check_length(
        field: &str,
        value: &str,
        allowed: std::ops::RangeInclusive<usize>,
    ) -> Result<(), ServiceError> {
        let len = value.len();
        if allowed.contains(&len) {
            return Ok(());
        }
        let (min, max) = (*allowed.start(), *allowed.end());
        let (message, reason) = if len > max {
            (
                format!("{field} is {len} bytes long; at most {max} are accepted"),
                "FIELD_TOO_LONG",
            )
        } else if len == 0 {
            (format!("{field} must not be empty"), "FIELD_TOO_SHORT")
        } else {
            (
                format!("{field} is {len} bytes long; at least {min} are needed"),
                "FIELD_TOO_SHORT",
            )
        };
        Err(ServiceError::invalid_argument(message)
            .with_reason(reason)
            .with_metadata("field", truncate(field, MAX_ERROR_METADATA_VALUE_BYTES)))
    }

    /// The gRPC code the caller receives.
    pub fn code(&self) -> Code {
        self.0.code
    }

    /// Whether this is an [internal](ServiceError::internal) error.
    pub fn is_internal(&self) -> bool {
        self.0.source.is_some()
    }

    /// The HTTP status an HTTP service answers with.
    pub fn http_status(&self) -> http::StatusCode {
        crate::server::http_status_for(self.code())
    }

    /// The message the caller sees (`"internal error"` for internal errors).
    pub fn message(&self) -> &str {
        self.0.detail.message()
    }

    /// The machine-readable reason (`ErrorInfo.reason`).
    pub fn reason(&self) -> &str {
        self.0.detail.reason()
    }

    /// The caller-visible part.
    pub fn detail(&self) -> &Detail {
        &self.0.detail
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(err: ServiceError) -> Self {
        let Inner {
            code,
            detail,
            source,
        } = *err.0;
        if let Some(source) = &source {
            tracing::error!(
                reason = detail.reason(),
                error = %Chain(source.as_ref()),
                "handler failed with an internal error"
            );
        }
        let domain = detail
            .domain
            .map(Cow::into_owned)
            .or_else(|| DEFAULT_DOMAIN.get().cloned())
            .unwrap_or_default();
        let message = truncate(&detail.message, MAX_STATUS_MESSAGE_BYTES).into_owned();
        let reason = truncate(&detail.reason, MAX_ERROR_METADATA_VALUE_BYTES).into_owned();
        let domain = truncate(&domain, MAX_ERROR_METADATA_VALUE_BYTES).into_owned();
        let metadata: HashMap<String, String> = detail
            .metadata
            .into_iter()
            .map(|(k, v)| {
                let bound = |s: String| match truncate(&s, MAX_ERROR_METADATA_VALUE_BYTES) {
                    Cow::Borrowed(_) => s,
                    Cow::Owned(cut) => cut,
                };
                (bound(k), bound(v))
            })
            .collect();
        let status = tonic::Status::with_error_details(
            code,
            message.clone(),
            ErrorDetails::with_error_info(reason.clone(), domain.clone(), metadata),
        );
        if status.details().len() <= MAX_STATUS_DETAILS_BYTES {
            return status;
        }
        // Many entries: the reason and domain still fit, the metadata not.
        tonic::Status::with_error_details(
            code,
            message,
            ErrorDetails::with_error_info(reason, domain, HashMap::new()),
        )
    }
}

/// What `Display` says before the message: `not found: …`.
fn describe(code: Code) -> &'static str {
    match code {
        Code::NotFound => "not found",
        Code::InvalidArgument => "invalid argument",
        Code::FailedPrecondition => "failed precondition",
        Code::PermissionDenied => "permission denied",
        Code::Unauthenticated => "unauthenticated",
        Code::ResourceExhausted => "resource exhausted",
        Code::Unavailable => "unavailable",
        Code::AlreadyExists => "already exists",
        Code::DeadlineExceeded => "deadline exceeded",
        Code::Aborted => "aborted",
        Code::Unimplemented => "unimplemented",
        Code::Internal => "internal error",
        _ => "error",
    }
}

/// Displays an error and its sources: `outer: middle: root`.
struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(err) = next {
            write!(f, ": {err}")?;
            next = err.source();
        }
        Ok(())
    }
}

fn reason_for(code: Code) -> &'static str {
    crate::server::code_name(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The headers (trailers) `status` is sent as.
    fn headers_of(status: &tonic::Status) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        status.add_header(&mut headers).unwrap();
        headers
    }

    #[derive(Debug, thiserror::Error)]
    #[error("loading profile")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn each_kind_maps_to_its_code_and_http_status() {
        let cases = [
            (ServiceError::not_found("x"), Code::NotFound, 404),
            (
                ServiceError::invalid_argument("x"),
                Code::InvalidArgument,
                400,
            ),
            (
                ServiceError::failed_precondition("x"),
                Code::FailedPrecondition,
                412,
            ),
            (
                ServiceError::permission_denied("x"),
                Code::PermissionDenied,
                403,
            ),
            (
                ServiceError::unauthenticated("x"),
                Code::Unauthenticated,
                401,
            ),
            (
                ServiceError::resource_exhausted("x"),
                Code::ResourceExhausted,
                429,
            ),
            (ServiceError::unavailable("x"), Code::Unavailable, 503),
            (ServiceError::already_exists("x"), Code::AlreadyExists, 409),
            (
                ServiceError::deadline_exceeded("x"),
                Code::DeadlineExceeded,
                504,
            ),
            (
                ServiceError::internal(std::io::Error::other("x")),
                Code::Internal,
                500,
            ),
        ];
        for (err, code, http) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.http_status().as_u16(), http, "{code:?}");
            assert_eq!(tonic::Status::from(err).code(), code);
        }
    }

    #[test]
    fn default_reason_is_the_code_name() {
        assert_eq!(ServiceError::not_found("x").reason(), "NOT_FOUND");
    }

    #[test]
    fn internal_error_sends_nothing_of_its_source() {
        let err = ServiceError::internal(Outer(std::io::Error::other("password=hunter2")))
            .with_metadata("secret", "hunter2");
        let status = tonic::Status::from(err);
        assert_eq!(status.message(), "internal error");
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "INTERNAL");
        assert!(info.metadata.is_empty());
        assert!(!format!("{status:?}").contains("hunter2"));
    }

    #[test]
    fn display_names_the_kind_then_the_message() {
        assert_eq!(
            ServiceError::not_found("no profile named \"zoe\"").to_string(),
            "not found: no profile named \"zoe\""
        );
        let internal = ServiceError::internal(std::io::Error::other("disk full"));
        assert_eq!(internal.to_string(), "internal error (INTERNAL): disk full");
        assert!(std::error::Error::source(&internal).is_some());
        assert!(std::error::Error::source(&ServiceError::aborted("x")).is_none());
    }

    #[test]
    fn an_echoed_huge_input_makes_a_bounded_status() {
        let name = "n".repeat(1 << 20);
        let err = ServiceError::not_found(format!("no profile named {name:?}"))
            .with_reason("PROFILE_NOT_FOUND")
            .with_metadata("name", name.clone());
        let status = tonic::Status::from(err);
        assert!(status.message().len() <= MAX_STATUS_MESSAGE_BYTES);
        assert!(
            status.message().ends_with("(1048595 bytes)"),
            "{}",
            status.message()
        );
        assert!(status.details().len() <= MAX_STATUS_DETAILS_BYTES);
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "PROFILE_NOT_FOUND");
        assert!(info.metadata["name"].len() <= MAX_ERROR_METADATA_VALUE_BYTES);
        let headers = headers_of(&status);
        let total: usize = headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        assert!(total < 8 * 1024, "{total} bytes of trailers");
    }

    #[test]
    fn many_metadata_entries_drop_the_metadata_keep_the_reason() {
        let mut err = ServiceError::invalid_argument("bad").with_reason("BAD_INPUT");
        for i in 0..100 {
            err = err.with_metadata(format!("key{i}"), "v".repeat(200));
        }
        let status = tonic::Status::from(err);
        assert!(status.details().len() <= MAX_STATUS_DETAILS_BYTES);
        let info = status.get_details_error_info().unwrap();
        assert_eq!(info.reason, "BAD_INPUT");
        assert!(info.metadata.is_empty());
    }

    #[test]
    fn check_length_refuses_without_echoing() {
        let long = "secret-ish".repeat(100);
        let err = ServiceError::check_length("name", &long, 1..=256).unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument);
        assert_eq!(err.reason(), "FIELD_TOO_LONG");
        assert!(!err.message().contains("secret"));
        assert_eq!(err.detail().metadata()["field"], "name");
        let short = ServiceError::check_length("code", "ab", 3..=8).unwrap_err();
        assert_eq!(
            short.message(),
            "code is 2 bytes long; at least 3 are needed"
        );
        assert!(ServiceError::check_length("name", &"x".repeat(256), 1..=256).is_ok());
    }

    #[test]
    fn chain_lists_every_source() {
        let err = Outer(std::io::Error::other("disk full"));
        assert_eq!(Chain(&err).to_string(), "loading profile: disk full");
    }
}
