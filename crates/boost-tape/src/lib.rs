//! Tapes: recorded gRPC (and HTTP) exchanges that people can review, and the rules that
//! answer a call from them.
//!
//! A [`Tape`] is one JSON file per test or scenario. Each [`Entry`] holds a
//! method, the request's messages (decoded with the protos' descriptors into
//! readable JSON), and the answer: status code, message, metadata, the
//! response's messages. Files are written pretty-printed with keys sorted and
//! no timestamps, so recording the same scenario twice writes the same bytes
//! and a review shows only what changed. Latency goes beside the tape, in a
//! [`Timing`] file, so it never makes a tape differ.
//!
//! ```
//! use boost_tape::{Entry, Matcher, MatchRules, Tape};
//! use serde_json::json;
//!
//! let mut tape = Tape::default();
//! tape.entries.push(Entry::ok(
//!     "hello.v1.Profiles/GetProfile",
//!     json!({"name": "bob"}),
//!     json!({"name": "bob", "language": "fr"}),
//! ));
//! let mut matcher = Matcher::new(tape, MatchRules::default());
//! let hit = matcher.find("hello.v1.Profiles/GetProfile", &[json!({"name": "bob"})]);
//! assert_eq!(hit.unwrap().response.messages[0]["language"], "fr");
//!
//! // A request that was never recorded names the closest entry and the field.
//! let miss = matcher
//!     .find("hello.v1.Profiles/GetProfile", &[json!({"name": "zoe"})])
//!     .unwrap_err();
//! assert!(miss.to_string().contains("name: recorded \"bob\", got \"zoe\""), "{miss}");
//! ```
//!
//! The pieces, each in its own module:
//!
//! - [`Tape`], [`Entry`], [`Fault`]: the file format, read and written
//!   within [`Limits`];
//! - [`Codec`]: gRPC frames ⇄ JSON through a `prost_reflect::DescriptorPool`;
//! - [`Matcher`]: method + canonical request, ignored fields per method,
//!   repeated requests in recorded order, and a [`Miss`] that names the
//!   closest entry and the differing fields;
//! - [`Redaction`]: secret headers and field names masked before anything is
//!   written;
//! - [`HttpTape`], [`HttpEntry`], [`Body`], [`HttpMatcher`]: the same for
//!   HTTP exchanges (method, URL, headers, body; status, headers, body),
//!   matched by method, path, query and body.
//!
//! This crate knows nothing of tower, tonic or the client stack:
//! boost-rpc's and boost-http's `tape` features put it in a client
//! (`[<client>.tape]`), see
//! `docs/replay.md`.
#![deny(missing_docs)]

mod codec;
mod diff;
mod error;
mod http;
mod matcher;
mod redact;
mod tape;

pub use self::codec::{Codec, FrameError};
pub use self::diff::{Difference, differences};
pub use self::error::TapeError;
pub use self::http::{
    Body, HttpEntry, HttpFault, HttpMatcher, HttpRequest, HttpResponse, HttpTape, mask_url,
};
pub use self::matcher::{Closest, MatchRules, Matcher, Miss};
pub use self::redact::{REDACTED, Redaction, SECRET_WORDS};
pub use self::tape::{Entry, Fault, Limits, Request, Response, Tape, Timing, TimingEntry};
