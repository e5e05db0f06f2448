//! [`main`]: a service's whole `main` — load, start, serve, report.

use std::future::Future;
use std::io::Write as _;
use std::process::ExitCode;

use crate::config::{Config, ServiceSettings};
use crate::error::BoxError;
use crate::service::Service;

/// The binary's name and version, as Cargo knows them: `package!()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Package {
    /// The package name, e.g. `hello-service`: the service's name, log
    /// `service` field, metric `service_name` label and environment prefix.
    pub name: &'static str,
    /// The package version, e.g. `0.2.0`.
    pub version: &'static str,
}

impl Package {
    /// A package called `name` at `version`; [`package!`](crate::package) fills both in.
    pub const fn new(name: &'static str, version: &'static str) -> Self {
        Self { name, version }
    }
}

/// The calling crate's [`Package`]: `CARGO_PKG_NAME` and `CARGO_PKG_VERSION`.
#[macro_export]
macro_rules! package {
    () => {
        $crate::Package::new(env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"))
    };
}

/// Exit code of a configuration or command-line error (nothing started).
const EXIT_USAGE: u8 = 2;

/// Flags that print something generated from the loaded configuration, then exit.
const PRINT_FROM_CONFIG: [&str; 5] = [
    "--print-alert-rules",
    "--print-migrations",
    "--print-dashboard",
    "--print-alertmanager-route",
    "--print-runbook",
];

/// Runs a service: builds the Tokio runtime, loads the configuration, starts
/// telemetry, hands the [`Service`] to `body` (which adds what it serves and
/// runs it), and turns the outcome into the process's exit code. Errors are
/// printed as one readable message naming the key, layer or address at fault.
///
/// ```no_run
/// use boost_service::{NoSettings, Service};
///
/// fn main() -> std::process::ExitCode {
///     boost_service::main(boost_service::package!(), |service: Service<NoSettings>| async move {
///         service.run().await?; // add `.grpc(MyServer::new(handler))` before `run`
///         Ok(())
///     })
/// }
/// ```
///
/// Command line (besides the loader's `--config <file>`, `--set key=value`
/// and `--print-config`):
///
/// - `--print-default-config`: every key with its default and its doc
///   comment, generated from the settings types; exits.
/// - `--print-alert-rules`: the Prometheus rules generated from `[slo]`
///   (SLI recording rules, burn-rate and kit alerts; [`boost_slo::rules`]),
///   for the configuration as loaded (`--config`, `APP_ENV`, `--set` apply);
///   exits.
/// - `--slo-time-scale <factor>` beside `--print-alert-rules`, **tests
///   only**: every window and `for` of the rules multiplied by `factor`
///   (`0.05` or `1/20`; from 0.0001 to 1), the groups evaluated every
///   `1m × factor`, so a test against a real Prometheus sees an alert fire
///   in seconds ([`boost_slo::RulesOptions::time_scale`]).
/// - `--print-alertmanager-route`: the Alertmanager route of the service's
///   team ([`boost_slo::alertmanager_route`]); exits.
/// - `--print-dashboard`: the Grafana dashboard JSON ([`boost_slo::dashboard`]); exits.
/// - `--print-runbook`: the runbook served at `GET /runbook`; exits.
/// - `--print-migrations`: the migrations of `database.migrations`
///   (version, state, checksum, description) and, when `database.url` is
///   set and answers within `database.acquire_timeout`, which are applied,
///   pending, changed since applied (`checksum_mismatch`), failed or missing
///   (read only: nothing is applied); exits 1 when one needs a person
///   (mismatch, failed, missing), else 0. The same report is
///   `GET /migrations` on the admin server.
/// - `--verify-audit <file>`: checks the hash chain of an audit file
///   (`[audit]`, [`boost_audit::verify`]) and names the first edited or
///   deleted line; exits 0 when intact, 1 when broken.
/// - `--help`: what the binary takes; exits.
///
/// Exit codes: `0` after a clean shutdown; `2` when the configuration or the
/// command line is wrong (nothing started); `1` when the service failed.
pub fn main<S, F, Fut>(package: Package, body: F) -> ExitCode
where
    S: ServiceSettings,
    F: FnOnce(Service<S>) -> Fut,
    Fut: Future<Output = Result<(), BoxError>>,
{
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        return print(&help(package));
    }
    if args.iter().any(|arg| arg == "--print-default-config") {
        return print(&reference_config::<S>(package));
    }
    if let Some(at) = args.iter().position(|arg| arg == "--verify-audit") {
        return verify_audit(package, args.get(at + 1).map(String::as_str));
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            return fail(
                package,
                &format!("cannot start the Tokio runtime: {error}"),
                1,
            );
        }
    };
    runtime.block_on(async move {
        let config = match Service::<S>::load(package.name, package.version) {
            Ok(config) => config,
            Err(error) => return fail(package, &error.to_string(), EXIT_USAGE),
        };
        let (time_scale, rest) = match time_scale(config.remaining_args()) {
            Ok(found) => found,
            Err(message) => return fail(package, &message, EXIT_USAGE),
        };
        let unknown = rest
            .iter()
            .find(|arg| !PRINT_FROM_CONFIG.contains(&arg.as_str()));
        if let Some(arg) = unknown {
            let message = format!(
                "unknown argument {arg:?}; {} takes --config <file>, --set key=value, \
                 --print-config, --print-default-config, --print-alert-rules \
                 [--slo-time-scale <factor>], --print-alertmanager-route, --print-dashboard, \
                 --print-runbook, --print-migrations and --help",
                package.name
            );
            return fail(package, &message, EXIT_USAGE);
        }
        let rules_requested = rest.iter().any(|arg| arg == "--print-alert-rules");
        if time_scale.is_some() && !rules_requested {
            return fail(
                package,
                "--slo-time-scale only shortens the windows of --print-alert-rules (tests); \
                 give both, or neither",
                EXIT_USAGE,
            );
        }
        if config.print_config_requested() {
            return print(&config.explain());
        }
        let kit = &config.get().kit;
        let origins = crate::slo::Origins::of(&config);
        let routed = rules_requested
            || args
                .iter()
                .any(|arg| arg == "--print-alertmanager-route" || arg == "--print-runbook");
        if routed && kit.service.team == boost_config::ServiceIdentity::default().team {
            // The output is still right for what was asked; the person
            // generating it must hear that nobody will be paged by name.
            warn(
                package,
                &format!(
                    "service.team is not set: the alerts carry team=\"{}\" and route to \
                     no team's receiver; set service.team (or {}__SERVICE__TEAM)",
                    kit.service.team,
                    boost_config::env_prefix(config.service_name())
                ),
            );
        }
        if rules_requested {
            return print(&crate::slo::alert_rules(kit, time_scale.unwrap_or(1.0)));
        }
        if args.iter().any(|arg| arg == "--print-dashboard") {
            return print(&boost_slo::dashboard(&kit.slo, &kit.service));
        }
        if args.iter().any(|arg| arg == "--print-alertmanager-route") {
            return print(&boost_slo::alertmanager_route(&kit.service));
        }
        if args.iter().any(|arg| arg == "--print-migrations") {
            return print_migrations(package, &kit.database).await;
        }
        if args.iter().any(|arg| arg == "--print-runbook") {
            return match crate::slo::runbook(kit, &origins) {
                Ok(text) => print(&text),
                Err(error) => fail(package, &error, EXIT_USAGE),
            };
        }
        let service = match Service::new(config) {
            Ok(service) => service,
            Err(error) => return fail(package, &error.to_string(), 1),
        };
        match body(service).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(package, &error.to_string(), 1),
        }
    })
}

/// `--slo-time-scale <factor>` (or `--slo-time-scale=<factor>`) among the
/// arguments the loader left: its value, validated, and the other arguments.
fn time_scale(args: &[String]) -> Result<(Option<f64>, Vec<String>), String> {
    let mut scale = None;
    let mut rest = Vec::new();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let value = if arg == "--slo-time-scale" {
            match args.next() {
                Some(value) => value.as_str(),
                None => {
                    return Err(
                        "--slo-time-scale needs a factor, e.g. --slo-time-scale 1/20".to_owned(),
                    );
                }
            }
        } else if let Some(value) = arg.strip_prefix("--slo-time-scale=") {
            value
        } else {
            rest.push(arg.clone());
            continue;
        };
        if scale.is_some() {
            return Err("--slo-time-scale is given twice; give it once".to_owned());
        }
        scale = Some(boost_slo::RulesOptions::parse_time_scale(value).map_err(|e| e.to_string())?);
    }
    Ok((scale, rest))
}

/// The generated reference configuration of a service with settings `S`:
/// what `--print-default-config` prints.
pub fn reference_config<S: ServiceSettings>(package: Package) -> String {
    let header = format!(
        "# {name}: every configuration key, with its default and what it does.\n\
         # Generated from the settings types (`{name} --print-default-config`); do not edit.\n\
         #\n\
         # Layers, lowest precedence first: these defaults < config/default.toml (or\n\
         # --config <file>) < config/$APP_ENV.toml < config/local.toml < environment\n\
         # variables {prefix}__<SECTION>__<KEY> (a list takes comma-separated items;\n\
         # <KEY>_FILE reads a secret from a file) < --set key=value.\n\
         # `{name} --print-config` shows the effective value and layer of every key.\n\
         # Durations: \"250ms\", \"2s\", \"1m30s\". Unknown keys are an error.\n\n",
        name = package.name,
        prefix = boost_config::env_prefix(package.name),
    );
    let mut defaults = Config::<S>::default();
    // As the loader fills them in, so the file shows what the binary runs with.
    defaults.kit.service.name = package.name.to_owned();
    defaults.kit.service.version = package.version.to_owned();
    boost_config::reference_toml(&defaults, &header)
}

/// `--print-migrations`: the migration report of `database`; exit 1 when a
/// migration needs a person, 0 otherwise.
async fn print_migrations(package: Package, database: &boost_db::DatabaseSettings) -> ExitCode {
    let Some(dir) = &database.migrations else {
        return print("database.migrations is not set: this service applies no migrations\n");
    };
    let db = match &database.url {
        Some(_) => match boost_db::Database::new(database, package.name) {
            Ok(db) => Some(db),
            Err(error) => return fail(package, &error.to_string(), EXIT_USAGE),
        },
        None => None,
    };
    let report = boost_db::MigrationReport::read(dir, db.as_ref()).await;
    if let Some(db) = &db {
        db.close().await;
    }
    match report {
        Ok(report) => {
            let code = print(&report.to_text());
            if report.has_problems() {
                ExitCode::FAILURE
            } else {
                code
            }
        }
        Err(error) => fail(package, &error.to_string(), 1),
    }
}

/// `--verify-audit <file>`: checks an audit file's hash chain, names the
/// first broken line; exit 0 when intact, 1 when not, 2 without a file.
fn verify_audit(package: Package, file: Option<&str>) -> ExitCode {
    let Some(file) = file else {
        return fail(
            package,
            "--verify-audit needs the audit file to check, e.g. --verify-audit audit.jsonl",
            EXIT_USAGE,
        );
    };
    let (message, intact) = boost_audit::verify_command(std::path::Path::new(file));
    if intact {
        print(&format!("{message}\n"))
    } else {
        fail(package, &message, 1)
    }
}

fn help(package: Package) -> String {
    format!(
        "{name} {version}\n\n\
         usage: {name} [--config <file>] [--set key=value]... [--print-config | --print-default-config]\n\
         \x20      {name} --verify-audit <file>\n\n\
         --config <file>          read <file> instead of config/default.toml\n\
         --set key=value          set one key (highest precedence); repeatable\n\
         --print-config           print the effective configuration with the layer of each value, then exit\n\
         --print-default-config   print every key with its default and documentation, then exit\n\
         --print-alert-rules      print the Prometheus rules generated from [slo], then exit\n\
         --slo-time-scale <f>     with --print-alert-rules: every window and `for` times f (tests only, e.g. 1/20)\n\
         --print-alertmanager-route  print the Alertmanager route of service.team, then exit\n\
         --print-dashboard        print the Grafana dashboard JSON, then exit\n\
         --print-runbook          print the runbook served at GET /runbook, then exit\n\
         --print-migrations       print database.migrations and which are applied or pending, then exit\n\
         --verify-audit <file>    check an audit file's hash chain; names the first edited or deleted line\n\n\
         Environment: APP_ENV picks config/$APP_ENV.toml (default dev); {prefix}__SECTION__KEY sets a key.\n",
        name = package.name,
        version = package.version,
        prefix = boost_config::env_prefix(package.name),
    )
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a message.
fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    ExitCode::SUCCESS
}

/// A warning on stderr, named after the service; the command goes on.
fn warn(package: Package, message: &str) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{}: warning: {message}",
        package.name
    );
}

/// Reports a failure on stderr, named after the service, with its Display
/// message (never a `Debug` dump).
fn fail(package: Package, message: &str, code: u8) -> ExitCode {
    let _ = writeln!(std::io::stderr().lock(), "{}: {message}", package.name);
    ExitCode::from(code)
}
