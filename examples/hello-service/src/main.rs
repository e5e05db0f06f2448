//! hello-service: `cargo run -p hello-service` (see README.md).
#![allow(clippy::print_stdout, clippy::print_stderr)] // --print-config and fatal errors go to the terminal

use boost::prelude::*;
use hello_service::{greeter::Greeter, proto::FILE_DESCRIPTOR_SET, settings};
use std::process::ExitCode;
use tonic::service::Routes;

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(error) = run().await {
        eprintln!("hello-service: {error}"); // names the key or address at fault
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

async fn run() -> Result<(), BoxError> {
    let config = settings::load()?;
    if config.print_config_requested() {
        print!("{}", config.explain());
        return Ok(());
    }
    let settings = config.shared();
    Service::builder(config.service.clone())
        .admin(config.admin.clone())
        .lifecycle(config.lifecycle.clone())
        .tracing(config.tracing.clone())
        .metrics(config.metrics.clone())
        .config_explain(config.explain())
        // Built once the metrics recorder is installed, so the client's and cache's metrics count.
        .grpc_with(move || {
            let greeter = Greeter::new(&settings)?
                .into_service()
                .max_decoding_message_size(settings.grpc.server.max_request_message_bytes())
                .max_encoding_message_size(settings.grpc.server.max_response_message_bytes());
            let greeter = Routes::new(greeter);
            let server = GrpcServer::new(settings.grpc.clone(), greeter);
            Ok(server.file_descriptor_set(FILE_DESCRIPTOR_SET))
        })
        .run()
        .await?;
    Ok(())
}
