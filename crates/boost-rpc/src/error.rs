//! [`RpcError`]: a failed call, with the original [`tonic::Status`] kept and
//! classified so callers can decide what to do without matching codes.
//!
//! ```
//! use boost_rpc::RpcError;
//!
//! let err = RpcError::from(tonic::Status::invalid_argument("name is empty"));
//! assert!(err.is_caller_fault());
//! assert!(!err.is_retryable());
//! let status: tonic::Status = err.into(); // back to tonic, code and message intact
//! assert_eq!(status.code(), tonic::Code::InvalidArgument);
//! ```

use tonic::{Code, Status};

/// Why an RPC failed. Every variant keeps the [`Status`] the caller would see.
///
/// Errors produced inside the client stack (deadline, no endpoint, limit) are
/// distinct variants; a status returned by the server is [`RpcError::Status`].
/// Generated tonic clients turn any of them back into the same `Status`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RpcError {
    /// The server (or a proxy) answered with this non-OK status.
    #[error("{}: {}", crate::status_code::code_name(.0.code()), .0.message())]
    Status(#[source] Status),
    /// The call's deadline passed; no further attempt was sent. Raise the
    /// client's `timeout` or the caller's deadline if the upstream is slow.
    #[error("deadline exceeded: {}", .0.message())]
    DeadlineExceeded(#[source] Status),
    /// No endpoint could take the call, the connection failed, or the server
    /// did not process the call (HTTP/2 `GOAWAY` above its stream,
    /// `REFUSED_STREAM`). `sent` says whether the request may have been
    /// processed by a server.
    #[error("upstream unavailable: {}", .status.message())]
    Unavailable {
        /// The UNAVAILABLE status, with a message saying why.
        #[source]
        status: Status,
        /// Whether the request may have been processed by a server.
        sent: bool,
    },
    /// The client's own concurrency limit was full for longer than its
    /// `max_wait`; the call was not sent. Raise `concurrency.limit` or slow down.
    #[error("client overloaded: {}", .0.message())]
    Overloaded(#[source] Status),
    /// The client could not be built from its settings: the
    /// [`ConfigError::Validation`](boost_config::ConfigError::Validation) lists
    /// every bad key as `<client>.<key>` (the key a service's config file
    /// uses) and says what would work — the same error, with the same keys,
    /// that loading the service's config reports. Its text is part of this
    /// error's message, so it is not repeated as `source()`. Boxed: an
    /// `RpcError` travels in every call's future and result, and this one
    /// only at start-up.
    #[error("invalid client settings: {0}")]
    Config(Box<boost_config::ConfigError>),
    /// The client's TLS could not be set up from its `tls` section: a
    /// certificate, key or CA file is missing, unreadable or wrong, or no
    /// trusted roots exist for `https://` endpoints without `tls.ca_file`.
    /// The error names the key (`profiles.tls.ca_file`), the file and what
    /// is wrong. Boxed, like `Config`: it only happens at start-up.
    #[error("TLS of client `{client}` cannot be set up: {error}")]
    Tls {
        /// The client's name.
        client: String,
        /// What is wrong, naming the key and the file.
        error: Box<boost_tls::TlsError>,
    },
    /// [`Client::build`](crate::client::ClientBuilder::build) (or
    /// [`client()`](crate::client())) was called outside a tokio runtime:
    /// the client spawns connection and discovery tasks. Build it inside
    /// `#[tokio::main]` or `Runtime::block_on`.
    #[error("client `{client}` must be built inside a tokio runtime (it spawns connection tasks)")]
    NoRuntime {
        /// The client's name.
        client: String,
    },
    /// The client's `tape` cannot be used: the tape file is missing (in
    /// `replay`), unreadable, over its limits or not a tape, the client has
    /// no descriptors of the protos it calls, or boost-rpc was built without
    /// its `tape` feature. The message names the file or key and what to do.
    /// Boxed, like `Config`: it only happens at start-up.
    #[error("{0}")]
    Tape(Box<TapeFailure>),
}

/// Why a client's tape cannot be used ([`RpcError::Tape`]).
#[derive(Debug, thiserror::Error)]
#[error("tape of client `{client}`: {error}")]
#[non_exhaustive]
pub struct TapeFailure {
    /// The client's name (`virtual-upstream` for a virtual upstream).
    pub client: String,
    /// What is wrong, naming the file or key and what to do.
    pub error: String,
}

impl RpcError {
    /// A [`RpcError::Tape`] of client `client`.
    pub(crate) fn tape(client: &str, error: impl Into<String>) -> Self {
        Self::Tape(Box::new(TapeFailure {
            client: client.to_owned(),
            error: error.into(),
        }))
    }
}

/// The source of a status made by [`RpcError::not_processed`]: keeps the
/// classification visible to layers above (ejection must not count a
/// GOAWAY'd stream as a failed connect) once the h2 error is dropped.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct NeverProcessed(&'static str);

impl RpcError {
    /// An unsent UNAVAILABLE for a stream the server shows it never
    /// processed (`why`), caused by `err`.
    fn not_processed(why: &'static str, err: &dyn std::fmt::Display) -> Self {
        let mut status = Status::unavailable(format!("{why}; not processed, safe to retry: {err}"));
        status.set_source(std::sync::Arc::new(NeverProcessed(why)));
        Self::Unavailable {
            status,
            sent: false,
        }
    }

    /// An UNAVAILABLE error for a request that never reached a server.
    pub fn unavailable_unsent(message: impl Into<String>) -> Self {
        Self::Unavailable {
            status: Status::unavailable(message),
            sent: false,
        }
    }

    /// A DEADLINE_EXCEEDED error with `message`.
    pub fn deadline_exceeded(message: impl Into<String>) -> Self {
        Self::DeadlineExceeded(Status::deadline_exceeded(message))
    }

    /// The status a caller sees for this error.
    pub fn status(&self) -> Status {
        match self {
            Self::Status(s) | Self::DeadlineExceeded(s) | Self::Overloaded(s) => copy(s),
            Self::Unavailable { status, .. } => copy(status),
            Self::Config(_) | Self::Tls { .. } | Self::NoRuntime { .. } | Self::Tape(_) => {
                Status::failed_precondition(self.to_string())
            }
        }
    }

    /// The gRPC code of [`status`](Self::status).
    pub fn code(&self) -> Code {
        match self {
            Self::Status(s) | Self::DeadlineExceeded(s) | Self::Overloaded(s) => s.code(),
            Self::Unavailable { status, .. } => status.code(),
            Self::Config(_) | Self::Tls { .. } | Self::NoRuntime { .. } | Self::Tape(_) => {
                Code::FailedPrecondition
            }
        }
    }

    /// Whether the request certainly did not reach a server — or the server
    /// shows it never processed it (RFC 9113 §8.7) — so that sending it again
    /// cannot apply it twice.
    pub fn is_unsent(&self) -> bool {
        matches!(
            self,
            Self::Unavailable { sent: false, .. }
                | Self::Overloaded(_)
                | Self::Config(_)
                | Self::Tls { .. }
                | Self::NoRuntime { .. }
                | Self::Tape(_)
        )
    }

    /// Whether another attempt may succeed: UNAVAILABLE (the transient code),
    /// or a request that never left this process. Whether it is *safe* to
    /// retry also depends on the method being idempotent.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Config(_)
            | Self::Tls { .. }
            | Self::NoRuntime { .. }
            | Self::Tape(_)
            | Self::DeadlineExceeded(_) => false,
            Self::Unavailable { .. } | Self::Overloaded(_) => true,
            Self::Status(s) => s.code() == Code::Unavailable,
        }
    }

    /// The caller sent something wrong (bad argument, missing entity, no
    /// permission, unknown method): fix the request, retrying will not help.
    pub fn is_caller_fault(&self) -> bool {
        matches!(
            self.code(),
            Code::InvalidArgument
                | Code::NotFound
                | Code::AlreadyExists
                | Code::PermissionDenied
                | Code::Unauthenticated
                | Code::FailedPrecondition
                | Code::OutOfRange
                | Code::Unimplemented
                | Code::Cancelled
        ) && !matches!(
            self,
            Self::Config(_) | Self::Tls { .. } | Self::NoRuntime { .. }
        )
    }

    /// The server or the path to it failed (internal error, data loss,
    /// unavailable, overloaded, too slow): page whoever owns the upstream.
    pub fn is_server_fault(&self) -> bool {
        matches!(
            self.code(),
            Code::Internal
                | Code::Unknown
                | Code::DataLoss
                | Code::Unavailable
                | Code::ResourceExhausted
                | Code::DeadlineExceeded
                | Code::Aborted
        ) && !matches!(self, Self::Overloaded(_))
    }

    /// The call ran out of time (ours or the server's DEADLINE_EXCEEDED).
    pub fn is_deadline(&self) -> bool {
        self.code() == Code::DeadlineExceeded
    }

    /// The upstream could not be reached or refused the call (UNAVAILABLE).
    pub fn is_unavailable(&self) -> bool {
        self.code() == Code::Unavailable
    }

    /// Turns any boxed error from a lower layer into an `RpcError`: an
    /// `RpcError` or `Status` is kept as is; a failed connect, or a request
    /// the server shows it never processed (HTTP/2 `GOAWAY` above the
    /// request's stream, `REFUSED_STREAM`, a request the connection closed
    /// before sending), becomes an unsent UNAVAILABLE; any other transport
    /// failure a sent UNAVAILABLE.
    pub fn from_boxed(err: Box<dyn std::error::Error + Send + Sync + 'static>) -> Self {
        let err = match err.downcast::<RpcError>() {
            Ok(e) => return *e,
            Err(e) => e,
        };
        if let Some(why) = crate::client::handshake_refusal(err.as_ref()) {
            // Refused at the handshake: the server read none of the request.
            return Self::unavailable_unsent(why);
        }
        let err = match err.downcast::<Status>() {
            Ok(s) => return Self::from(*s),
            Err(e) => e,
        };
        if has::<tonic::TimeoutExpired>(err.as_ref()) {
            // tonic's channel enforces the `grpc-timeout` we sent: our deadline.
            return Self::deadline_exceeded(format!("deadline passed: {err}"));
        }
        if let Some(why) = never_processed(err.as_ref()) {
            // tonic would call these RESOURCE_EXHAUSTED / INTERNAL ("h2
            // protocol error") or CANCELLED; they are as safe to send again
            // as a refused connect (RFC 9113 §8.7).
            return Self::not_processed(why, &err);
        }
        let unsent = is_connect_error(err.as_ref());
        let status = Status::from_error(err);
        if status.code() == Code::Unavailable || unsent {
            Self::Unavailable {
                status: Status::unavailable(status.message().to_owned()),
                sent: !unsent,
            }
        } else {
            Self::Status(status)
        }
    }
}

/// Whether the error chain contains an `E`.
fn has<E: std::error::Error + 'static>(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.is::<E>() {
            return true;
        }
        source = e.source();
    }
    false
}

/// Why the error chain shows that the server never processed the request,
/// if it does (RFC 9113 §8.7):
/// - a `GOAWAY` from the server: h2 fails with it only the streams above the
///   frame's last-stream-id and those opened after it ("were not or will
///   not be processed", §6.8); a stream at or below it that the closing
///   connection cuts off fails with a broken pipe instead;
/// - `RST_STREAM` with `REFUSED_STREAM` from the server: refused before any
///   processing;
/// - hyper's "canceled": the request was never handed to the connection
///   (it closed, or was not ready).
pub(crate) fn never_processed(err: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut source = Some(err);
    while let Some(e) = source {
        // Already classified by a layer below (the h2 error itself is gone then).
        if let Some(marker) = e.downcast_ref::<NeverProcessed>() {
            return Some(marker.0);
        }
        if let Some(h2) = e.downcast_ref::<h2::Error>() {
            if h2.is_go_away() && h2.is_remote() {
                return Some("the server closed the connection (HTTP/2 GOAWAY) before this stream");
            }
            if h2.is_reset() && h2.is_remote() && h2.reason() == Some(h2::Reason::REFUSED_STREAM) {
                return Some("the server refused the stream (REFUSED_STREAM)");
            }
            return None;
        }
        if let Some(hyper) = e.downcast_ref::<hyper::Error>()
            && hyper.is_canceled()
        {
            return Some("the connection closed before the request was sent");
        }
        source = e.source();
    }
    None
}

/// Whether the error chain shows the connection was never established.
fn is_connect_error(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(e) = source {
        if e.is::<tonic::ConnectError>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::HostUnreachable
            )
        {
            return true;
        }
        source = e.source();
    }
    false
}

/// `Status` is not `Clone`; copy what a caller can see (code, message, details, metadata).
fn copy(s: &Status) -> Status {
    Status::with_details_and_metadata(
        s.code(),
        s.message(),
        s.details().to_vec().into(),
        s.metadata().clone(),
    )
}

impl From<Status> for RpcError {
    fn from(status: Status) -> Self {
        // A plain tonic channel's status keeps the transport error as its
        // source: a never-processed request is as unsent here as in the stack.
        let source = std::error::Error::source(&status);
        if source.is_some_and(|e| e.is::<NeverProcessed>()) {
            // Made by `not_processed` below us: already says why.
            return Self::Unavailable {
                status,
                sent: false,
            };
        }
        if let Some(why) = source.and_then(never_processed) {
            return Self::not_processed(why, &status.message());
        }
        match status.code() {
            Code::DeadlineExceeded => Self::DeadlineExceeded(status),
            _ => Self::Status(status),
        }
    }
}

impl From<RpcError> for Status {
    fn from(err: RpcError) -> Self {
        match err {
            RpcError::Status(s) | RpcError::DeadlineExceeded(s) | RpcError::Overloaded(s) => s,
            RpcError::Unavailable { status, .. } => status,
            err @ (RpcError::Config(_)
            | RpcError::Tls { .. }
            | RpcError::NoRuntime { .. }
            | RpcError::Tape(_)) => err.status(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_common_codes() {
        assert!(RpcError::from(Status::unavailable("x")).is_retryable());
        assert!(RpcError::from(Status::unavailable("x")).is_server_fault());
        assert!(RpcError::from(Status::not_found("x")).is_caller_fault());
        assert!(RpcError::from(Status::deadline_exceeded("x")).is_deadline());
        assert!(!RpcError::from(Status::internal("x")).is_retryable());
        assert!(RpcError::unavailable_unsent("no endpoints").is_unsent());
    }

    #[test]
    fn settings_errors_are_nobodys_fault_upstream_and_never_retried() {
        let config =
            boost_config::Problems::of("profiles", &crate::client::ClientSettings::default())
                .into_result("client `profiles`")
                .unwrap_err();
        for err in [
            RpcError::Config(Box::new(config)),
            RpcError::NoRuntime {
                client: "profiles".into(),
            },
        ] {
            assert_eq!(err.code(), Code::FailedPrecondition);
            assert!(!err.is_retryable() && !err.is_caller_fault() && !err.is_server_fault());
            assert!(err.is_unsent());
            let status = Status::from(err);
            assert!(
                status.message().contains("profiles"),
                "{}",
                status.message()
            );
        }
    }

    #[test]
    fn an_error_stays_small_for_the_futures_that_carry_it() {
        assert!(std::mem::size_of::<RpcError>() <= 32);
    }

    #[test]
    fn status_round_trips_through_tonic() {
        let err = RpcError::Overloaded(Status::resource_exhausted("limit 10 full"));
        let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(err);
        let status = Status::from_error(boxed);
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.message(), "limit 10 full");
    }
}
