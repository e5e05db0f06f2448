//! hello-service: `cargo run -p hello-service` (see README.md).

use boost::prelude::*;
use hello_service::{greeter::Greeter, proto::FILE_DESCRIPTOR_SET, settings::Settings};

fn main() -> std::process::ExitCode {
    boost::service::main(boost::package!(), |service: Service<Settings>| async move {
        let greeter = Greeter::new(service.settings(), service.switches())?;
        let serving = service
            .http(hello_service::http::routes(greeter.clone()))
            .grpc(greeter.into_service())
            .file_descriptor_set(FILE_DESCRIPTOR_SET);
        Ok(serving.run().await?)
    })
}
