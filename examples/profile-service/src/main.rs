//! profile-service: `cargo run -p profile-service` (see README.md).
#![allow(clippy::print_stdout, clippy::print_stderr)] // --print-config and fatal errors go to the terminal

use std::process::ExitCode;

use boost::prelude::*;
use profile_service::{profiles::Profiles, proto::FILE_DESCRIPTOR_SET, settings};
use tonic::service::Routes;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("profile-service: {error}"); // names the key or address at fault
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), BoxError> {
    let config = settings::load()?;
    if config.print_config_requested() {
        print!("{}", config.explain());
        return Ok(());
    }
    let profiles = Profiles::new(&config.profiles)
        .into_service()
        .max_decoding_message_size(config.grpc.server.max_request_message_bytes())
        .max_encoding_message_size(config.grpc.server.max_response_message_bytes());
    let profiles = Routes::new(profiles);
    Service::builder(config.service.clone())
        .admin(config.admin.clone())
        .lifecycle(config.lifecycle.clone())
        .tracing(config.tracing.clone())
        .metrics(config.metrics.clone())
        .config_explain(config.explain())
        .grpc(
            GrpcServer::new(config.grpc.clone(), profiles).file_descriptor_set(FILE_DESCRIPTOR_SET),
        )
        .run()
        .await?;
    Ok(())
}
