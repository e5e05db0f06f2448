//! profile-service: `cargo run -p profile-service` (see README.md).

use boost::prelude::*;
use profile_service::{profiles::Profiles, proto::FILE_DESCRIPTOR_SET, settings::Settings};

fn main() -> std::process::ExitCode {
    boost::service::main(boost::package!(), |service: Service<Settings>| async move {
        // In PostgreSQL when `database.url` is set (with `database.migrations =
        // "examples/profile-service/migrations"` to create and seed the table);
        // else the table of the config, so it runs with nothing installed.
        let profiles = match service.database() {
            Ok(db) => Profiles::database(db.clone()),
            Err(_) => Profiles::new(&service.settings().profiles),
        }
        .into_service();
        let serving = service
            .grpc(profiles)
            .file_descriptor_set(FILE_DESCRIPTOR_SET);
        Ok(serving.run().await?)
    })
}
