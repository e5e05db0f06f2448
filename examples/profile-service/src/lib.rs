//! profile-service: the upstream of hello-service, built with the same kit —
//! a small in-memory table of people and the language each prefers.
//!
//! - [`settings`]: every configuration key and how it is loaded;
//! - [`profiles`]: the `hello.v1.Profiles` handler and its table;
//! - [`proto`]: the generated gRPC code.
#![deny(missing_docs)]

pub mod profiles;
pub mod proto;
pub mod settings;
