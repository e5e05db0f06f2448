//! Compiles `proto/hello.proto` with protox (pure Rust: no `protoc` to install)
//! into tonic clients and servers, plus the descriptor set that gRPC
//! reflection and health describe.
#![allow(clippy::print_stdout)] // cargo reads build-script instructions from stdout

/// The services this binary serves: reflection lists only these.
const SERVED: &[&str] = &["Greeter"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(["hello.proto"], ["proto"])?;
    tonic_prost_build::configure().compile_fds(descriptors.clone())?;

    let mut served = descriptors;
    for file in &mut served.file {
        file.service
            .retain(|service| SERVED.contains(&service.name()));
    }
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
    std::fs::write(
        out.join("hello_descriptor.bin"),
        prost::Message::encode_to_vec(&served),
    )?;
    Ok(())
}
