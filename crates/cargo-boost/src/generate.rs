//! `cargo boost new`: renders `templates/` for a proto into a new directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::names::Names;
use crate::proto::{Api, ServiceDef};
use crate::{Error, KitForm, report};

/// `cargo boost new` arguments.
#[derive(clap::Args, Debug)]
pub struct NewArgs {
    /// The service's name: package, binary, log `service` field, env prefix (e.g. order-service).
    pub name: String,
    /// The API to serve; a starter proto when not given.
    #[arg(long)]
    pub proto: Option<PathBuf>,
    /// An upstream to call, NAME=PROTO (repeatable): a typed client and `[NAME]` settings.
    #[arg(long, value_name = "NAME=PROTO")]
    pub upstream: Vec<String>,
    /// Where to write (default: ./NAME); must not exist.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// How to depend on the kit.
    #[arg(long, value_enum, default_value_t = KitForm::Path)]
    pub kit: KitForm,
    /// The kit checkout for `--kit path` (default: the one cargo-boost was built from).
    #[arg(long)]
    pub kit_path: Option<PathBuf>,
    /// The kit's git URL for `--kit git`.
    #[arg(long)]
    pub kit_git: Option<String>,
    /// A git revision (commit or tag) for `--kit git`.
    #[arg(long)]
    pub kit_rev: Option<String>,
    /// A named registry (from .cargo/config.toml) for `--kit registry`.
    #[arg(long)]
    pub kit_registry: Option<String>,
    /// The team paged by the service's alerts (`service.team` in config/prod.toml).
    #[arg(long, default_value = "unassigned")]
    pub team: String,
}

const KIT_VERSION: &str = env!("CARGO_PKG_VERSION");
const KIT_LOCK: &str = include_str!(concat!(env!("OUT_DIR"), "/kit.lock"));
const KIT_PROFILES: &str = include_str!(concat!(env!("OUT_DIR"), "/kit-profiles.toml"));
/// The first default port of the upstreams (`--upstream`), one each from here.
const UPSTREAM_PORTS: u16 = 50900;
const STARTER_PROTO: &str = include_str!("../templates/starter.proto");

/// Writes the service; see the crate docs.
pub fn new(args: &NewArgs) -> Result<(), Error> {
    let names = Names::new(&args.name)?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(&names.package));
    if dir.exists() {
        return Err(Error::Exists(dir.display().to_string()));
    }
    report(&format!("Creating {} in {}", names.package, dir.display()));
    let api = match &args.proto {
        Some(path) => {
            report(&format!("  parsing {}", path.display()));
            Api::parse(path)?
        }
        None => starter(&names)?,
    };
    let mut upstreams = Vec::new();
    for spec in &args.upstream {
        let (name, path) = spec
            .split_once('=')
            .ok_or_else(|| Error::BadUpstream(spec.clone()))?;
        let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name.len() <= 40
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok || upstreams.iter().any(|(n, _): &(String, Api)| n == name) {
            return Err(Error::BadUpstream(spec.clone()));
        }
        report(&format!("  parsing upstream {name}: {path}"));
        upstreams.push((name.to_owned(), Api::parse(Path::new(path))?));
    }
    let files = render_all(args, &names, &api, &upstreams)?;
    // `create_dir` (not `_all`) on the last component: never into an existing directory.
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
    }
    std::fs::create_dir(&dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => Error::Exists(dir.display().to_string()),
        _ => write_error(&dir, e),
    })?;
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| write_error(parent, e))?;
        }
        std::fs::write(&path, text).map_err(|e| write_error(&path, e))?;
        report(&format!("  wrote {rel}"));
    }
    format_sources(&dir, &files);
    let rpcs: usize = api.services.iter().map(|s| s.rpcs.len()).sum();
    report(&format!(
        "Done: {} ({} service(s), {rpcs} rpc(s), {} upstream(s)), gRPC 127.0.0.1:{}, admin 127.0.0.1:{}.\n\
         Next:\n  cd {}\n  cargo test\n  cargo run\n  then write your handlers in src/handlers/",
        names.package,
        api.services.len(),
        upstreams.len(),
        names.grpc_port,
        names.admin_port,
        dir.display()
    ));
    Ok(())
}

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.display().to_string(),
        source,
    }
}

/// The starter proto, named after the service.
fn starter(names: &Names) -> Result<Api, Error> {
    let package = format!("{}.v1", names.krate);
    let text = STARTER_PROTO.replace("{{proto_package}}", &package);
    let tmp = std::env::temp_dir().join(format!("cargo-boost-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| write_error(&tmp, e))?;
    let file = tmp.join(format!("{}.proto", names.krate));
    std::fs::write(&file, text).map_err(|e| write_error(&file, e))?;
    let api = Api::parse(&file);
    let _ = std::fs::remove_dir_all(&tmp);
    api
}

/// `{{key}}` → value, for every pair.
pub fn render(template: &str, vars: &[(&str, String)]) -> String {
    let mut out = template.to_owned();
    for (key, value) in vars {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

fn kit_deps(args: &NewArgs) -> Result<(String, String), Error> {
    let dep = |krate: &str| -> Result<String, Error> {
        Ok(match args.kit {
            KitForm::Path => {
                let root = args.kit_path.clone().unwrap_or_else(crate::kit_root);
                let root = root.canonicalize().unwrap_or(root);
                let path = root.join("crates").join(krate);
                format!(
                    "{{ path = {:?}, version = \"{KIT_VERSION}\" }}",
                    path.display().to_string()
                )
            }
            KitForm::Git => {
                let url = args.kit_git.as_ref().ok_or_else(|| {
                    Error::Kit("--kit git needs --kit-git URL (and --kit-rev REV)".to_owned())
                })?;
                let rev = args
                    .kit_rev
                    .as_ref()
                    .map(|r| format!(", rev = {r:?}"))
                    .unwrap_or_default();
                format!("{{ git = {url:?}{rev}, version = \"{KIT_VERSION}\" }}")
            }
            KitForm::Registry => match &args.kit_registry {
                Some(name) => format!("{{ version = \"{KIT_VERSION}\", registry = {name:?} }}"),
                None => format!("\"{KIT_VERSION}\""),
            },
        })
    };
    Ok((dep("boost")?, dep("boost-build")?))
}

fn render_all(
    args: &NewArgs,
    names: &Names,
    api: &Api,
    upstreams: &[(String, Api)],
) -> Result<Vec<(String, String)>, Error> {
    if api.services.is_empty() {
        return Err(Error::Proto {
            file: api.file.clone(),
            line: None,
            message: "defines no service: a service needs at least one `service` with an rpc"
                .to_owned(),
        });
    }
    let (kit_dep, kit_build_dep) = kit_deps(args)?;
    let mut protos: Vec<(String, String)> = api.sources.clone();
    for (_, up) in upstreams {
        for (name, text) in &up.sources {
            match protos.iter().find(|(n, _)| n == name) {
                Some((_, existing)) if existing != text => {
                    return Err(Error::Proto {
                        file: name.clone(),
                        line: None,
                        message: "two different protos have this file name; rename one".to_owned(),
                    });
                }
                Some(_) => {}
                None => protos.push((name.clone(), text.clone())),
            }
        }
    }
    let mut packages: Vec<&str> = vec![api.package.as_str()];
    for (_, up) in upstreams {
        if !packages.contains(&up.package.as_str()) {
            packages.push(&up.package);
        }
    }
    let module = |package: &str| package.replace('.', "_");
    let mut proto_modules = String::new();
    for package in &packages {
        let _ = write!(
            proto_modules,
            "\n/// Package `{package}`.\npub mod {} {{\n    boost::include_proto!(\"{package}\");\n}}\n",
            module(package)
        );
    }
    let own_mod = module(&api.package);
    let _ = write!(
        proto_modules,
        "\npub use {own_mod}::{{FILE_DESCRIPTOR_SET, FULL_FILE_DESCRIPTOR_SET}};\n"
    );

    let quoted = |items: Vec<String>| {
        items
            .into_iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let proto_files = quoted(
        std::iter::once(api.file.clone())
            .chain(upstreams.iter().map(|(_, up)| up.file.clone()))
            .filter({
                let mut seen = Vec::new();
                move |f| {
                    let new = !seen.contains(f);
                    seen.push(f.clone());
                    new
                }
            })
            .collect(),
    );
    let served = quoted(api.services.iter().map(|s| s.name.clone()).collect());

    // Settings: one ClientSettings per upstream.
    let mut settings_fields = String::new();
    let mut settings_default = String::new();
    let mut default_toml = String::new();
    let derive_default = if upstreams.is_empty() {
        settings_fields.push_str(
            "    // Your keys here, e.g.\n    // /// How many items a page holds.\n    // pub page_size: u32,\n",
        );
        ", Default".to_owned()
    } else {
        let mut fields = String::new();
        for (i, (name, up)) in upstreams.iter().enumerate() {
            // Above the range of the services' own ports (50100..50900, names.rs), so
            // an upstream's default never is this service's own port.
            let port = UPSTREAM_PORTS + u16::try_from(i).unwrap_or(0);
            let _ = write!(
                settings_fields,
                "    /// The upstream `{name}` ({}): endpoints, total time per call\n    \
                 /// (retries included), retries, ejection and balancing.\n    pub {name}: ClientSettings,\n",
                up.package
            );
            let _ = writeln!(
                fields,
                "            {name}: ClientSettings::with_endpoints([\"http://127.0.0.1:{port}\"]),"
            );
            let _ = write!(
                default_toml,
                "\n[{name}]\n# Where `{name}` listens.\nendpoints = [\"http://127.0.0.1:{port}\"]\n"
            );
        }
        let _ = write!(
            settings_default,
            "\nimpl Default for Settings {{\n    fn default() -> Self {{\n        Self {{\n{fields}        }}\n    }}\n}}\n"
        );
        String::new()
    };
    if default_toml.is_empty() {
        default_toml.push_str("# (no keys of its own yet)\n");
    }

    let mut files = Vec::new();
    let mut handlers_mod = String::from(
        "//! The handlers: one per gRPC service of the proto. Every rpc answers\n\
         //! `UNIMPLEMENTED` until you write it.\n\n",
    );
    let mut build_handlers = String::new();
    let mut grpc_calls = String::new();
    if !upstreams.is_empty() {
        build_handlers.push_str("        let upstreams = Upstreams::new(service.settings())?;\n");
    }
    for (i, svc) in api.services.iter().enumerate() {
        let snake = svc.snake();
        let camel = svc.camel();
        let _ = writeln!(handlers_mod, "mod {snake};\npub use {snake}::{camel};");
        let arg = if upstreams.is_empty() {
            String::new()
        } else if i + 1 == api.services.len() {
            "upstreams".to_owned()
        } else {
            "upstreams.clone()".to_owned()
        };
        let _ = writeln!(
            grpc_calls,
            "            .grpc({krate}::handlers::{camel}::new({arg}).into_service())",
            krate = names.krate
        );
        files.push((
            format!("src/handlers/{snake}.rs"),
            handler(api, svc, &own_mod, !upstreams.is_empty()),
        ));
    }
    files.push(("src/handlers/mod.rs".to_owned(), handlers_mod));

    let mut upstreams_mod = String::new();
    let mut upstreams_doc = String::new();
    let mut upstreams_readme = String::new();
    if !upstreams.is_empty() {
        upstreams_mod.push_str("pub mod upstreams;\n");
        upstreams_doc.push_str("\n//! - [`upstreams`]: typed clients of the services it calls.");
        let mut list = String::new();
        for (name, up) in upstreams {
            let _ = write!(list, " `{name}` ({})", up.package);
        }
        let _ = write!(
            upstreams_readme,
            "\n\nUpstreams:{list}. Each handler holds `Upstreams` (`self.upstreams()`): a typed \
             client per upstream service, with the kit's deadlines, retry budget, ejection and \
             balancing; their endpoints and timeouts are `[<name>]` in the config.\n\n\
             To test without an upstream running, record its answers once and replay them \
             (the kit's docs/replay.md): turn on the kit's `tape` feature for the tests \
             (`[dev-dependencies]` `boost = {{ …, features = [\"tape\"] }}`, the same source \
             as in `[dependencies]`), then set `[<name>.tape]` `mode` and `path` in the \
             tests' config; the clients already carry the protos' descriptors."
        );
        files.push((
            "src/upstreams.rs".to_owned(),
            upstreams_rs(upstreams, &module),
        ));
    }
    let main_use_upstreams = if upstreams.is_empty() {
        String::new()
    } else {
        format!("use {}::upstreams::Upstreams;\n", names.krate)
    };

    let vars: Vec<(&str, String)> = vec![
        ("package", names.package.clone()),
        ("krate", names.krate.clone()),
        ("env_prefix", names.env_prefix.clone()),
        ("grpc_port", names.grpc_port.to_string()),
        ("admin_port", names.admin_port.to_string()),
        ("proto_package", api.package.clone()),
        ("kit_version", KIT_VERSION.to_owned()),
        ("kit_dep", kit_dep),
        ("kit_build_dep", kit_build_dep),
        ("profiles", KIT_PROFILES.to_owned()),
        ("proto_files", proto_files),
        ("served", served),
        ("proto_modules", proto_modules),
        ("build_handlers", build_handlers),
        ("grpc_calls", grpc_calls),
        ("settings_fields", settings_fields),
        ("settings_default", settings_default),
        ("derive_default", derive_default),
        ("default_toml", default_toml),
        ("upstreams_mod", upstreams_mod),
        ("upstreams_doc", upstreams_doc),
        ("upstreams_readme", upstreams_readme),
        ("team", args.team.replace(['"', '\\'], "")),
    ];
    let t = |text: &str| render(text, &vars);
    let mut main_rs = t(include_str!("../templates/main.rs.tmpl"));
    if !main_use_upstreams.is_empty() {
        main_rs = main_rs.replace("\nfn main()", &format!("{main_use_upstreams}\nfn main()"));
    }
    files.extend([
        (
            "Cargo.toml".to_owned(),
            t(include_str!("../templates/Cargo.toml.tmpl")),
        ),
        (
            "build.rs".to_owned(),
            t(include_str!("../templates/build.rs.tmpl")),
        ),
        ("src/main.rs".to_owned(), main_rs),
        (
            "src/lib.rs".to_owned(),
            t(include_str!("../templates/lib.rs.tmpl")),
        ),
        (
            "src/proto.rs".to_owned(),
            t(include_str!("../templates/proto.rs.tmpl")),
        ),
        (
            "src/settings.rs".to_owned(),
            t(include_str!("../templates/settings.rs.tmpl")),
        ),
        (
            "config/default.toml".to_owned(),
            t(include_str!("../templates/default.toml.tmpl")),
        ),
        (
            "config/prod.toml".to_owned(),
            t(include_str!("../templates/prod.toml.tmpl")),
        ),
        (
            "tests/config_files.rs".to_owned(),
            t(include_str!("../templates/config_files.rs.tmpl")),
        ),
        (
            "README.md".to_owned(),
            t(include_str!("../templates/README.md.tmpl")),
        ),
        (
            ".gitignore".to_owned(),
            t(include_str!("../templates/gitignore.tmpl")),
        ),
        (
            "Dockerfile".to_owned(),
            t(include_str!("../templates/Dockerfile.tmpl")),
        ),
    ]);
    if !KIT_LOCK.is_empty() {
        files.push(("Cargo.lock".to_owned(), KIT_LOCK.to_owned()));
    }
    for (name, text) in protos {
        files.push((format!("proto/{name}"), text));
    }
    Ok(files)
}

fn upstreams_rs(upstreams: &[(String, Api)], module: &dyn Fn(&str) -> String) -> String {
    let mut fields = String::new();
    let mut build = String::new();
    let mut uses = String::new();
    for (name, up) in upstreams {
        let _ = writeln!(
            build,
            "        let {name} = Client::builder(\"{name}\", &settings.{name})\n            \
             .descriptors(crate::proto::FULL_FILE_DESCRIPTOR_SET)\n            .build()?;"
        );
        for svc in &up.services {
            let (snake, camel) = (svc.snake(), svc.camel());
            let field = if up.services.len() == 1 {
                name.clone()
            } else {
                format!("{name}_{snake}")
            };
            let _ = writeln!(
                uses,
                "use crate::proto::{}::{snake}_client::{camel}Client;",
                module(&up.package)
            );
            let _ = write!(
                fields,
                "    /// `{}.{}` at `[{name}]`.\n    pub {field}: {camel}Client<Client>,\n",
                up.package, svc.name
            );
            let _ = writeln!(
                build,
                "        let {field}_client = {camel}Client::new({name}.clone());"
            );
        }
    }
    let mut init = String::new();
    for (name, up) in upstreams {
        for svc in &up.services {
            let field = if up.services.len() == 1 {
                name.clone()
            } else {
                format!("{name}_{}", svc.snake())
            };
            let _ = writeln!(init, "            {field}: {field}_client,");
        }
    }
    format!(
        "//! Typed clients of the services this one calls, each through the kit's\n\
         //! client stack (deadlines, retry budget, ejection, balancing) configured\n\
         //! by its `[<name>]` section. Each is given the descriptors of every proto,\n\
         //! so its `[<name>.tape]` can record and replay its calls in tests.\n\n\
         use boost::prelude::*;\n\n{uses}\n\
         use crate::settings::Settings;\n\n\
         /// The upstream clients. Cheap to clone; clones share connections.\n\
         #[derive(Debug, Clone)]\n#[non_exhaustive]\npub struct Upstreams {{\n{fields}}}\n\n\
         impl Upstreams {{\n    /// The clients, from the settings' `[<name>]` sections.\n    ///\n    \
         /// # Errors\n    /// When a section does not make a client (its endpoints).\n    \
         pub fn new(settings: &Settings) -> Result<Self, RpcError> {{\n{build}        \
         Ok(Self {{\n{init}        }})\n    }}\n}}\n"
    )
}

/// `src/handlers/<service>.rs`: every rpc `UNIMPLEMENTED`, and a test per unary rpc.
fn handler(api: &Api, svc: &ServiceDef, module: &str, with_upstreams: bool) -> String {
    let (snake, camel) = (svc.snake(), svc.camel());
    let ty = |fq: &str| api.rust_type(fq, module);
    let mut methods = String::new();
    let mut tests = String::new();
    let mut streaming = false;
    for rpc in &svc.rpcs {
        let method = rpc.method();
        let input = ty(&rpc.input);
        let output = ty(&rpc.output);
        let request = if rpc.client_streaming {
            format!("Request<Streaming<{input}>>")
        } else {
            format!("Request<{input}>")
        };
        let response = if rpc.server_streaming {
            streaming = true;
            let _ = write!(
                methods,
                "    /// The stream `{name}` answers with.\n    type {name}Stream = \
                 Pin<Box<dyn Stream<Item = Result<{output}, Status>> + Send>>;\n\n",
                name = rpc.name
            );
            format!("Self::{}Stream", rpc.name)
        } else {
            output.clone()
        };
        let _ = write!(
            methods,
            "    /// `{pkg}.{svc}/{name}`.\n    async fn {method}(\n        &self,\n        \
             _request: {request},\n    ) -> Result<Response<{response}>, Status> {{\n        \
             // todo: implement {name}.\n        Err(Status::unimplemented(\"{name} is not implemented yet\"))\n    }}\n\n",
            pkg = api.package,
            svc = svc.name,
            name = rpc.name,
        );
        if !rpc.client_streaming {
            let call = "handler()\n            .await";
            let build_input = if input == "()" {
                "()".to_owned()
            } else {
                format!("{input}::default()")
            };
            let _ = write!(
                tests,
                "\n    #[boost::tokio::test(crate = \"boost::tokio\")]\n    \
                 async fn {test}_is_not_implemented_yet() {{\n        \
                 let result = {call}\n            .{method}(Request::new({build_input}))\n            .await;\n        \
                 let status = result.err().map(|s| s.code());\n        \
                 assert_eq!(status, Some(Code::Unimplemented));\n    }}\n",
                test = method.trim_start_matches("r#"),
            );
        }
    }
    let methods = methods.trim_end().to_owned();
    let (fields, derive, ctor, ctor_test) = if with_upstreams {
        (
            "    upstreams: Upstreams,\n",
            "#[derive(Debug, Clone)]",
            "    /// The handler, calling its upstreams through `upstreams`.\n    \
             pub fn new(upstreams: Upstreams) -> Self {\n        Self { upstreams }\n    }\n\n    \
             /// The upstream clients.\n    pub fn upstreams(&self) -> &Upstreams {\n        &self.upstreams\n    }\n",
            "    async fn handler() -> ".to_owned()
                + &camel
                + " {\n        let upstreams = Upstreams::new(&Settings::default());\n        "
                + &camel
                + "::new(upstreams.unwrap_or_else(|e| panic!(\"{e}\")))\n    }\n",
        )
    } else {
        (
            "",
            "#[derive(Debug, Clone, Default)]",
            "    /// The handler.\n    pub fn new() -> Self {\n        Self {}\n    }\n",
            "    async fn handler() -> ".to_owned()
                + &camel
                + " {\n        "
                + &camel
                + "::new()\n    }\n",
        )
    };
    let upstream_use = if with_upstreams {
        "use crate::upstreams::Upstreams;\n"
    } else {
        ""
    };
    let test_upstream_use = if with_upstreams {
        "    use crate::settings::Settings;\n"
    } else {
        ""
    };
    let stream_use = if streaming {
        "use std::pin::Pin;\n\nuse boost::tonic::codegen::tokio_stream::Stream;\n"
    } else {
        ""
    };
    let streaming_use = if svc.rpcs.iter().any(|r| r.client_streaming) {
        ", Streaming"
    } else {
        ""
    };
    let tests = if tests.is_empty() {
        String::new()
    } else {
        format!(
            "\n#[cfg(test)]\nmod tests {{\n    use boost::tonic::Code;\n\n    use super::*;\n    \
             use crate::proto::{module}::{snake}_server::{camel} as _;\n{test_upstream_use}\n{ctor_test}{tests}}}\n"
        )
    };
    format!(
        "//! The `{pkg}.{name}` handler.\n\n{stream_use}use boost::tonic::{{Request, Response, Status{streaming_use}}};\n\n\
         use crate::proto::{module}::{snake}_server::{{self, {camel}Server}};\n{upstream_use}\n\
         /// Serves `{pkg}.{name}`. Cheap to clone.\n{derive}\npub struct {camel} {{\n{fields}}}\n\n\
         impl {camel} {{\n{ctor}\n    /// This handler as a gRPC service for `Service::grpc`.\n    \
         pub fn into_service(self) -> {camel}Server<Self> {{\n        {camel}Server::new(self)\n    }}\n}}\n\n\
         #[boost::tonic::async_trait]\nimpl {snake}_server::{camel} for {camel} {{\n{methods}\n}}\n{tests}",
        pkg = api.package,
        name = svc.name,
    )
}

/// `rustfmt` over the generated Rust files, so `cargo fmt --check` passes
/// from the start; skipped (with a note) when rustfmt is not installed.
fn format_sources(dir: &Path, files: &[(String, String)]) {
    let sources: Vec<PathBuf> = files
        .iter()
        .filter(|(rel, _)| rel.ends_with(".rs"))
        .map(|(rel, _)| dir.join(rel))
        .collect();
    let formatted = std::process::Command::new("rustfmt")
        .args(["--edition", "2024"])
        .args(&sources)
        .status()
        .is_ok_and(|status| status.success());
    if !formatted {
        report("  note: rustfmt did not run; `cargo fmt` formats the sources");
    }
}
