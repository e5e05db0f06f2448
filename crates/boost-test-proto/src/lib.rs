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

/// The kit's message sizes, as `boost-build` generates for a service's own
/// protos (this crate is compiled with tonic-prost-build directly).
macro_rules! message_limits {
    ($($server:ty),*) => {$(
        impl<T> boost_rpc::server::MessageLimits for $server {
            fn with_message_limits(self, settings: &boost_rpc::server::ServerSettings) -> Self {
                self.max_decoding_message_size(settings.max_request_message_bytes())
                    .max_encoding_message_size(settings.max_response_message_bytes())
            }
        }
    )*};
}

message_limits!(
    greeter_server::GreeterServer<T>,
    profiles_server::ProfilesServer<T>
);
