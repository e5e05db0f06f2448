//! Compiles a service's `.proto` files in `build.rs`: one call, no `protoc`
//! to install (protox parses the files in pure Rust), and generated code
//! that names only the `boost` crate, so the service does not depend on
//! tonic and prost directly and their versions cannot drift from the kit's.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     boost_build::protos(["hello.proto"], ["proto"])
//!         .serve(["Greeter"]) // the services this binary serves: reflection lists these
//!         .compile()?;
//!     Ok(())
//! }
//! ```
//!
//! and in the crate, `boost::include_proto!("hello.v1");` brings in the
//! messages, `greeter_server`, `profiles_client`, … and
//! `FILE_DESCRIPTOR_SET` for reflection and health.
//!
//! # Why a helper
//!
//! tonic-prost-build has options for prost's path (`prost_path`) and the
//! codec's (`codec_path`) but none for tonic's own: generated services name
//! `tonic::…` (and method types from well-known protos name `::prost_types::…`).
//! This helper sets the first two to `::boost::prost` and
//! `::boost::tonic_prost`, and rewrites the `tonic::` and `::prost_types::`
//! paths of the generated files to go through `::boost` — a textual rewrite
//! of code tonic-build wrote, checked by the examples' builds and the tests below.
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

/// The descriptor file [`Protos::compile`] writes into `OUT_DIR`, which
/// `boost::include_proto!` includes as `FILE_DESCRIPTOR_SET`.
pub const DESCRIPTOR_FILE: &str = "boost_file_descriptor_set.bin";

/// The descriptor file of every service and message of the protos (the
/// ones a binary calls included), which `boost::include_proto!` includes as
/// `FULL_FILE_DESCRIPTOR_SET`: what a client's tape reads and writes
/// messages with (boost-rpc's `tape`).
pub const FULL_DESCRIPTOR_FILE: &str = "boost_full_file_descriptor_set.bin";

/// Why the protos could not be compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `.proto` file does not parse or names something that does not exist;
    /// the message names the file and line.
    #[error("cannot compile the protos: {0}")]
    Parse(#[from] protox::Error),
    /// Generating or writing the Rust code failed.
    #[error("cannot write the generated code into {}: {source}", .dir.display())]
    Write {
        /// `OUT_DIR`.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Not run from a build script (`OUT_DIR` unset).
    #[error("OUT_DIR is not set: call boost_build from a build.rs")]
    NoOutDir,
    /// A service given to [`Protos::serve`] is not in the protos.
    #[error("service {name:?} given to serve() is not defined in the protos (defined: {defined})")]
    UnknownService {
        /// The name given.
        name: String,
        /// The services the protos define.
        defined: String,
    },
}

/// The protos to compile: see [`protos`].
#[derive(Debug, Clone)]
pub struct Protos {
    files: Vec<PathBuf>,
    includes: Vec<PathBuf>,
    served: Option<Vec<String>>,
    out_dir: Option<PathBuf>,
}

/// The `.proto` `files` (relative to one of `includes`, as in `import`
/// statements) to compile, with the directories imports are searched in.
pub fn protos<F, I>(files: F, includes: I) -> Protos
where
    F: IntoIterator,
    F::Item: AsRef<Path>,
    I: IntoIterator,
    I::Item: AsRef<Path>,
{
    Protos {
        files: files.into_iter().map(|f| f.as_ref().to_owned()).collect(),
        includes: includes
            .into_iter()
            .map(|i| i.as_ref().to_owned())
            .collect(),
        served: None,
        out_dir: None,
    }
}

impl Protos {
    /// The services (by proto name, e.g. `Greeter`) this binary serves; the
    /// descriptor set — what reflection lists and health reports — keeps only
    /// these. Default: every service of the protos.
    #[must_use]
    pub fn serve<I>(mut self, services: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.served = Some(services.into_iter().map(Into::into).collect());
        self
    }

    /// Where to write (default: `OUT_DIR`); for tests.
    #[must_use]
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Parses the protos, writes the Rust code (one `<package>.rs` per proto
    /// package), [`DESCRIPTOR_FILE`] and [`FULL_DESCRIPTOR_FILE`], and tells Cargo to rerun when an
    /// include directory changes.
    ///
    /// # Errors
    /// [`Error`] naming the file and line of a proto that does not parse, an
    /// unknown served service, or the directory that could not be written.
    pub fn compile(self) -> Result<(), Error> {
        let out = match self.out_dir.clone() {
            Some(dir) => dir,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::NoOutDir)?,
        };
        if self.out_dir.is_none() {
            rerun_if_changed(&self.includes);
        }
        let descriptors = protox::compile(&self.files, &self.includes)?;
        let write = |source| Error::Write {
            dir: out.clone(),
            source,
        };

        let mut config = tonic_prost_build::Config::new();
        config.prost_path("::boost::prost");
        config.prost_types_path("::boost::prost_types");
        tonic_prost_build::configure()
            .out_dir(&out)
            .codec_path("::boost::tonic_prost::ProstCodec")
            .compile_fds_with_config(descriptors.clone(), config)
            .map_err(write)?;
        for file in rust_files(&out) {
            let code = std::fs::read_to_string(&file).map_err(write)?;
            let mut code =
                through_boost(&code).replace(" ::prost_types::", " ::boost::prost_types::");
            // A second `compile()` in the same build script sees its own output again.
            if !code.contains(LIMITS_MARKER) {
                code.push_str(&message_limits(&code));
            }
            std::fs::write(&file, code).map_err(write)?;
        }

        std::fs::write(
            out.join(FULL_DESCRIPTOR_FILE),
            prost::Message::encode_to_vec(&descriptors),
        )
        .map_err(write)?;
        let served = self.served_only(descriptors)?;
        std::fs::write(
            out.join(DESCRIPTOR_FILE),
            prost::Message::encode_to_vec(&served),
        )
        .map_err(write)
    }

    fn served_only(
        &self,
        mut set: tonic_prost_build::FileDescriptorSet,
    ) -> Result<tonic_prost_build::FileDescriptorSet, Error> {
        let Some(served) = &self.served else {
            return Ok(set);
        };
        let defined: Vec<String> = set
            .file
            .iter()
            .flat_map(|f| f.service.iter().map(|s| s.name().to_owned()))
            .collect();
        if let Some(name) = served.iter().find(|name| !defined.contains(name)) {
            return Err(Error::UnknownService {
                name: name.clone(),
                defined: defined.join(", "),
            });
        }
        for file in &mut set.file {
            file.service
                .retain(|service| served.iter().any(|name| name == service.name()));
        }
        Ok(set)
    }
}

#[allow(clippy::print_stdout)] // how a build script talks to Cargo
fn rerun_if_changed(includes: &[PathBuf]) {
    for dir in includes {
        println!("cargo:rerun-if-changed={}", dir.display());
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|ext| ext == "rs"))
                .collect()
        })
        .unwrap_or_default()
}

/// `boost::rpc::server::MessageLimits` for every server tonic generated in
/// `code` (`pub mod greeter_server { … pub struct GreeterServer<T> … }`), so
/// `Service::grpc` applies `[grpc.server]`'s message sizes to it.
/// Marks the impls [`message_limits`] appends.
const LIMITS_MARKER: &str = "(generated by boost-build)";

fn message_limits(code: &str) -> String {
    let mut out = String::new();
    let mut module: Option<&str> = None;
    for line in code.lines().map(str::trim) {
        if let Some(name) = line
            .strip_prefix("pub mod ")
            .and_then(|rest| rest.strip_suffix(" {"))
            .filter(|name| name.ends_with("_server"))
        {
            module = Some(name);
        } else if let (Some(module), Some(server)) = (
            module,
            line.strip_prefix("pub struct ")
                .and_then(|rest| rest.strip_suffix("<T> {"))
                .filter(|name| name.ends_with("Server")),
        ) {
            out.push_str(&format!(
                "\n/// `[grpc.server]`'s message sizes for `{server}` {LIMITS_MARKER}.\n\
                 impl<T> ::boost::rpc::server::MessageLimits for {module}::{server}<T> {{\n    \
                 fn with_message_limits(self, settings: &::boost::rpc::server::ServerSettings) -> Self {{\n        \
                 self.max_decoding_message_size(settings.max_request_message_bytes())\n            \
                 .max_encoding_message_size(settings.max_response_message_bytes())\n    }}\n}}\n"
            ));
        }
    }
    out
}

/// Generated code with every `tonic::` path (not already absolute, not part
/// of a longer name) turned into `::boost::tonic::`.
fn through_boost(code: &str) -> String {
    const FROM: &str = "tonic::";
    const TO: &str = "::boost::tonic::";
    let mut out = String::with_capacity(code.len() + code.len() / 8);
    let mut rest = code;
    while let Some(at) = rest.find(FROM) {
        let before = &rest[..at];
        let prev = before.chars().next_back();
        let word = matches!(prev, Some(c) if c.is_alphanumeric() || c == '_');
        let absolute = before.ends_with("::") && !before.ends_with("boost::");
        out.push_str(if absolute {
            &before[..before.len() - 2]
        } else {
            before
        });
        out.push_str(if word || (prev == Some(':') && !absolute) {
            FROM
        } else {
            TO
        });
        rest = &rest[at + FROM.len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tonic_paths_go_through_boost_and_nothing_else_changes() {
        let code = "use tonic::codegen::*;\n#[tonic::async_trait]\nx: ::tonic::Y, my_tonic::z, tonic_prost::C";
        assert_eq!(
            through_boost(code),
            "use ::boost::tonic::codegen::*;\n#[::boost::tonic::async_trait]\nx: ::boost::tonic::Y, my_tonic::z, tonic_prost::C"
        );
        assert_eq!(
            through_boost("::boost::tonic::X"),
            "::boost::tonic::X",
            "idempotent"
        );
    }

    #[test]
    fn every_generated_server_gets_the_kits_message_limits() {
        let code = "pub mod greeter_server {\n    pub struct GreeterServer<T> {\n    }\n}\n\
                    pub mod greeter_client {\n    pub struct GreeterClient<T> {\n    }\n}\n";
        let limits = message_limits(code);
        assert!(
            limits.contains("MessageLimits for greeter_server::GreeterServer<T>"),
            "{limits}"
        );
        assert_eq!(
            limits.matches("impl<T>").count(),
            1,
            "clients get none: {limits}"
        );
    }

    #[test]
    fn a_proto_that_does_not_parse_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("bad.proto"),
            "syntax = \"proto3\";\npackage x;\nmessage A { strin name = 1; }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let error = protos(["bad.proto"], [dir.path()])
            .out_dir(dir.path())
            .compile()
            .err()
            .map(|e| format!("{e} {e:?}"))
            .unwrap_or_default();
        assert!(error.contains("bad.proto"), "{error}");
        assert!(error.contains("strin"), "{error}");
    }

    #[test]
    fn a_second_compile_into_one_directory_adds_no_second_limits_impl() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for package in ["a", "b"] {
            std::fs::write(
                dir.path().join(format!("{package}.proto")),
                format!(
                    "syntax = \"proto3\";\npackage {package}.v1;\nmessage M {{}}\n\
                     service Real {{ rpc Get(M) returns (M); }}\n"
                ),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            // Separate calls, as a build script compiling two packages makes them.
            protos([format!("{package}.proto")], [dir.path()])
                .out_dir(dir.path())
                .compile()
                .unwrap_or_else(|e| panic!("{e}"));
        }
        let first = std::fs::read_to_string(dir.path().join("a.v1.rs")).unwrap_or_default();
        assert_eq!(
            first
                .matches("MessageLimits for real_server::RealServer<T>")
                .count(),
            1,
            "{first}"
        );
    }

    #[test]
    fn serving_a_service_the_protos_do_not_define_is_an_error() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("a.proto"),
            "syntax = \"proto3\";\npackage a.v1;\nmessage M {}\nservice Real { rpc Get(M) returns (M); }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let error = protos(["a.proto"], [dir.path()])
            .out_dir(dir.path())
            .serve(["Imaginary"])
            .compile()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            error.contains("Imaginary") && error.contains("Real"),
            "{error}"
        );
        assert!(dir.path().join("a.v1.rs").exists(), "code was generated");
    }
}
