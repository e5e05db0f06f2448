//! Where a client's endpoints come from: a fixed list (`StaticEndpoints`) or a
//! DNS name re-resolved periodically (`DnsDiscover`).
//!
//! Both describe endpoints as [`tower::discover::Change`]s of `key → Uri`
//! (`key` is `host:port`); the client turns each inserted `Uri` into a
//! lazily-connecting tonic channel (with `TCP_NODELAY`) behind outlier ejection,
//! and removes it when the key is removed.
//!
//! Resolution goes through the [`Resolver`] trait (public: a
//! [`ClientBuilder`](super::ClientBuilder) takes one) so tests and other
//! naming systems can supply addresses; `SystemResolver` uses the OS resolver.

mod dns;
#[path = "static.rs"]
mod fixed;

pub use dns::Resolver;
pub(crate) use dns::{DnsDiscover, SystemResolver};
pub(crate) use fixed::{StaticEndpoints, parse_endpoint};
