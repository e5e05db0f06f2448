//! [`check_config_dir`]: a service's shipped config files, checked in its
//! own tests, so they never drift from the code.

use std::path::Path;

use boost_config::{Loader, differences};

use crate::config::{Config, ServiceSettings};
use crate::entry::Package;
use crate::kit::KitSettings;

/// Checks the config directory `dir` of the service `package` with settings
/// `S`, and returns one line per problem (empty: all good):
///
/// - `default.toml` holds only the service's own keys (the kit's sections
///   come with the kit, so a kit release that adds a setting breaks no
///   service's files) and loads to exactly the compiled-in defaults — the
///   binary runs the same with or without the file; differing keys are
///   named one per line;
/// - every other `<environment>.toml` (except `local.toml`) loads and
///   validates as that environment, with no environment variables.
///
/// ```no_run
/// # use boost_service::{NoSettings as Settings};
/// #[test]
/// fn shipped_config_files_are_valid() {
///     let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
///     let problems = boost_service::check_config_dir::<Settings>(boost_service::package!(), &dir);
///     assert!(problems.is_empty(), "{}", problems.join("\n"));
/// }
/// ```
pub fn check_config_dir<S: ServiceSettings>(package: Package, dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let loader = |environment: &str| {
        Loader::new(package.name)
            .version(package.version)
            .dir(dir)
            .environment(environment)
            .env_vars([("APP_ENV", "")])
            .local_file(false)
    };
    let code = Loader::new(package.name)
        .version(package.version)
        .dir(dir.join(".compiled-in-defaults-only"))
        .env_vars([("APP_ENV", "")])
        .load::<Config<S>>();

    let default = dir.join("default.toml");
    match std::fs::read_to_string(&default) {
        Ok(text) => match text.parse::<toml::Table>() {
            Ok(table) => {
                for key in table
                    .keys()
                    .filter(|k| KitSettings::SECTIONS.contains(&k.as_str()))
                {
                    problems.push(format!(
                        "{}: [{key}] is a kit section; set kit keys in code \
                         (ServiceSettings::kit_defaults) or per environment, not in default.toml",
                        default.display()
                    ));
                }
            }
            Err(error) => problems.push(format!("{}: {error}", default.display())),
        },
        Err(error) => problems.push(format!("{}: {error}", default.display())),
    }
    let with_file = Loader::new(package.name)
        .version(package.version)
        .dir(dir.join(".compiled-in-defaults-only"))
        .env_vars([("APP_ENV", "")])
        .args(["--config".to_owned(), default.display().to_string()])
        .load::<Config<S>>();
    match (&with_file, &code) {
        (Ok(file), Ok(code)) => {
            for line in differences(file.get(), code.get()) {
                problems.push(format!("{}: {line} (file ≠ code)", default.display()));
            }
        }
        (Err(error), _) | (_, Err(error)) => problems.push(error.to_string()),
    }

    let mut environments: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter_map(|name| name.strip_suffix(".toml").map(str::to_owned))
                // `local.toml` is a developer's own, not shipped.
                .filter(|stem| !matches!(stem.as_str(), "default" | "local"))
                .collect()
        })
        .unwrap_or_default();
    environments.sort();
    for environment in environments {
        if let Err(error) = loader(&environment).load::<Config<S>>() {
            problems.push(format!("{environment}.toml: {error}"));
        }
    }
    problems
}
