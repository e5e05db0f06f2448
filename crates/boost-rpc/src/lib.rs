//! Resilient gRPC clients and server layers. (Crate guide: to be written.)
#![deny(missing_docs)]

pub mod client;
pub mod deadline;
mod error;
mod method_cache;
pub mod server;
mod service_error;
mod status_code;
pub use service_error::{Detail, ServiceError, set_error_domain};

pub use client::client;
pub use error::RpcError;
