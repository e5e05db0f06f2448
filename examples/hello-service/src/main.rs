//! hello-service: `cargo run -p hello-service` (see README.md).
#![allow(clippy::print_stdout, clippy::print_stderr)] // --print-config and fatal errors go to the terminal

use std::process::ExitCode;

use boost::prelude::*;
use hello_service::{greeter::Greeter, proto::FILE_DESCRIPTOR_SET, settings};
use tonic::service::Routes;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hello-service: {error}"); // names the key or address at fault
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
    let settings = config.shared();
    Service::builder(settings.service.clone())
        .admin(settings.admin.clone())
        .lifecycle(settings.lifecycle.clone())
        .tracing(settings.tracing.clone())
        .metrics(settings.metrics.clone())
        .config_explain(config.explain())
        // Built inside the task, so the client and cache see the metrics recorder.
        .task("grpc", move |lifecycle| async move {
            boost::rpc::set_error_domain(settings.service.name.clone());
            let greeter = Routes::new(Greeter::new(&settings)?.into_service());
            let server = GrpcServer::new(settings.grpc.clone(), greeter)
                .file_descriptor_set(FILE_DESCRIPTOR_SET);
            server.serve(lifecycle).await.map_err(BoxError::from)
        })
        .run()
        .await?;
    Ok(())
}
