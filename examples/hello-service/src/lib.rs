//! hello-service: greets callers in the language of their profile, which it
//! gets from profile-service through a resilient, cached client — and still
//! greets (in English) when profile-service is down.
//!
//! The binary (`src/main.rs`) only wires these modules into a
//! [`boost::service::Service`]:
//!
//! - [`settings`]: every configuration key and how it is loaded;
//! - [`greeter`]: the `hello.v1.Greeter` handler, its cache and its degradation;
//! - [`http`]: the same greeting as `GET /v1/hello/{name}` (JSON);
//! - [`language`]: "Hello" in each language;
//! - [`proto`]: the generated gRPC code.
#![deny(missing_docs)]

pub mod greeter;
pub mod http;
pub mod language;
pub mod proto;
pub mod settings;
