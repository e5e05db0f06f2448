//! Record and replay of an HTTP client's requests: tapes for tests that
//! must not depend on a partner's sandbox.
//!
//! Set a client's `[<client>.tape]` (see [`HttpTapeSettings`]): `record`
//! sends requests and writes each answered exchange to `path`; `replay`
//! answers every request from `path` with no network (no connection is
//! opened, no name resolved); `replay_or_record` answers what the tape has
//! and records the rest. The default, `off`, leaves the tape out of the
//! client: a request costs one branch.
//!
//! A tape sits inside the request's span and metrics, above the attempts:
//! a replayed request has the span and the
//! `http_client_request_duration_seconds` labels of a live one, and a
//! recorded one is the logical request (after retries), once. Requests are
//! matched by method, path, query and body (boost-tape's `HttpMatcher`); one
//! the tape has no answer for fails with [`HttpClientError::Tape`](super::HttpClientError::Tape), naming
//! the closest recorded request and the differing fields. A request that got
//! no answer (no connection, a timeout) is not recorded.
//!
//! This needs boost-http's `tape` feature; without it a client with a tape
//! mode other than `off` fails to build with
//! [`HttpClientError::Tape`](super::HttpClientError::Tape).

#[cfg(feature = "tape")]
mod cassette;
#[cfg(feature = "tape")]
mod headers;
#[cfg(feature = "tape")]
mod replay;
mod settings;

pub use self::settings::HttpTapeSettings;

#[cfg(feature = "tape")]
pub(crate) use self::cassette::HttpCassette;
#[cfg(feature = "tape")]
pub(crate) use self::replay::answer_of;
