//! The example proto (`hello.v1`) compiled for team-boost's own tests and
//! benches: `Greeter` and `Profiles` clients and servers.
#![allow(missing_docs)]

/// Generated code for package `hello.v1`.
pub mod hello {
    pub mod v1 {
        tonic::include_proto!("hello.v1");
    }
}

pub use hello::v1::*;

/// The encoded `FileDescriptorSet` of `hello.proto`, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/hello_descriptor.bin"));
