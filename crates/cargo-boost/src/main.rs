//! `cargo boost`: start a team-boost service in one command.
//!
//! ```sh
//! cargo install --path crates/cargo-boost
//! cargo boost new order-service --proto orders.proto --upstream profiles=hello.proto
//! cargo boost virtualize tests/tapes/session.json --listen 127.0.0.1:50052 --proto hello.proto
//! ```
//!
//! Templates are files under `templates/`, rendered by plain `{{key}}`
//! replacement (`render`): the placeholders are a handful of names, and the
//! repeated parts (one handler per service, one method per rpc) are built in
//! Rust, where the proto's types are at hand — a template engine would add a
//! dependency and a language for no gain.

mod check;
mod generate;
mod names;
mod proto;
mod virtualize;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

/// Why `cargo boost` stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `<name>` is not a usable service name.
    #[error(
        "service name {name:?} {why}; use lowercase letters, digits and '-', e.g. order-service"
    )]
    BadName {
        /// The name given (at most 80 characters of it).
        name: String,
        /// What is wrong.
        why: String,
    },
    /// A proto file does not parse or cannot be used.
    #[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
    Proto {
        /// The file.
        file: String,
        /// The line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
    /// `--upstream` is not `NAME=PROTO`.
    #[error("--upstream {0:?}: give NAME=PROTO, NAME a lowercase config key such as profiles")]
    BadUpstream(String),
    /// The target directory exists.
    #[error(
        "{0} already exists: cargo boost new never overwrites; pick another --dir or remove it"
    )]
    Exists(String),
    /// A file could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `--kit` form lacks its flag.
    #[error("{0}")]
    Kit(String),
    /// `cargo boost virtualize` cannot serve: the message names the tape or flag.
    #[error("{0}")]
    Virtualize(String),
}

#[derive(Parser, Debug)]
#[command(name = "cargo", bin_name = "cargo")]
enum Cargo {
    /// team-boost's service tool.
    Boost(Cli),
}

#[derive(clap::Args, Debug)]
#[command(version, about = "Start and keep up team-boost services")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Write a standalone service repository: Cargo.toml, lock, proto, handlers, config, tests, Dockerfile.
    New(generate::NewArgs),
    /// In a service repository: its kit version, its config for every environment, what the next kit release changes.
    Check {
        /// The service repository (default: the current directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
    },
    /// Serve a recorded tape as a real gRPC server (with health and reflection), or an HTTP tape as an HTTP server, until Ctrl-C.
    Virtualize(virtualize::VirtualizeArgs),
}

/// How the new service depends on the kit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum KitForm {
    /// `path = ` this checkout (or --kit-path).
    Path,
    /// `git = ` --kit-git (with --kit-rev).
    Git,
    /// a registry version (with --kit-registry for a private one).
    Registry,
}

fn main() -> ExitCode {
    // As a cargo subcommand the first argument is `boost`; run directly, it is not.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_none_or(|a| a != "boost") {
        args.insert(1, "boost".into());
    }
    let Cargo::Boost(cli) = Cargo::parse_from(args);
    let result = match cli.command {
        Command::New(new) => generate::new(&new).map(|()| true),
        Command::Check { dir } => check::check(&dir),
        Command::Virtualize(args) => virtualize::virtualize(&args).map(|()| true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            report(&format!("error: {error}"));
            ExitCode::from(2)
        }
    }
}

/// One line of progress or error, on stderr (stdout stays for output).
#[allow(clippy::print_stderr)]
pub fn report(line: &str) {
    eprintln!("{line}");
}

/// The kit checkout this binary was built from.
pub fn kit_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}
