//! Compiles `proto/hello.proto` (pure Rust: no `protoc` to install) into the
//! gRPC code of `src/proto.rs`; reflection and health describe `Greeter`, the
//! one service this binary serves.

fn main() -> Result<(), boost_build::Error> {
    boost_build::protos(["hello.proto"], ["proto"])
        .serve(["Greeter"])
        .compile()
}
