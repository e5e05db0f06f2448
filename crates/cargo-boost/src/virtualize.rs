//! `cargo boost virtualize TAPE --listen ADDR`: a recorded tape served as a
//! real gRPC server (boost-rpc's virtual upstream), with health and
//! reflection, until Ctrl-C, for tests in other languages or other services;
//! an HTTP tape (`boost-tape-http/1`) as an HTTP server (boost-http's).
//!
//! A gRPC tape holds JSON, so the server needs the protos of its methods to speak
//! protobuf: `--proto FILE` (compiled here with protox, imports resolved
//! beside it and in `--include` directories) or `--descriptors FILE` (an
//! encoded `FileDescriptorSet`, as `protoc --descriptor_set_out` or
//! `buf build -o` write).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use boost_http::client::{HttpClientError, HttpTapeSettings};
use boost_http::virtual_upstream::HttpVirtualUpstream;
use boost_rpc::RpcError;
use boost_rpc::client::{TapeMode, TapeSettings};
use boost_rpc::virtual_upstream::VirtualUpstream;

use crate::{Error, report};

/// The largest `--descriptors` file read.
const MAX_DESCRIPTORS: u64 = 64 * 1024 * 1024;

/// `cargo boost virtualize` arguments.
#[derive(clap::Args, Debug)]
pub struct VirtualizeArgs {
    /// The tape to serve (a boost-tape JSON file, e.g. tests/tapes/session.json).
    pub tape: PathBuf,
    /// Where to listen, HOST:PORT (port 0: any free port, printed at start).
    #[arg(long, value_name = "ADDR")]
    pub listen: String,
    /// A .proto defining the tape's methods (repeatable), compiled here.
    #[arg(long, value_name = "FILE")]
    pub proto: Vec<PathBuf>,
    /// A directory to resolve --proto imports in (repeatable; the proto's own directory always is).
    #[arg(long, value_name = "DIR")]
    pub include: Vec<PathBuf>,
    /// An encoded FileDescriptorSet with the tape's methods (repeatable).
    #[arg(long, value_name = "FILE")]
    pub descriptors: Vec<PathBuf>,
}

/// Serves the tape until Ctrl-C (or SIGTERM).
pub fn virtualize(args: &VirtualizeArgs) -> Result<(), Error> {
    let fail = |message: String| Error::Virtualize(message);
    let listen = resolve(&args.listen)?;
    if !args.tape.is_file() {
        return Err(fail(format!(
            "tape {}: no such file; record one with a client's tape.mode = \"record\" (docs/replay.md)",
            args.tape.display()
        )));
    }
    if is_http_tape(&args.tape) {
        if !args.proto.is_empty() || !args.descriptors.is_empty() || !args.include.is_empty() {
            return Err(fail(format!(
                "tape {} is an HTTP tape (boost-tape-http/1), served as an HTTP server: \
                 --proto, --include and --descriptors are for gRPC tapes; leave them out",
                args.tape.display()
            )));
        }
        return virtualize_http(args, listen);
    }
    let sets = descriptor_sets(args)?;
    let sets: Vec<&[u8]> = sets.iter().map(Vec::as_slice).collect();
    let upstream = VirtualUpstream::open(&TapeSettings::new(TapeMode::Replay, &args.tape), &sets)
        .map_err(|e| fail(tape_error(&args.tape, e)))?;
    let methods = upstream.methods();
    let total: usize = methods.iter().map(|(_, n)| n).sum();
    report(&format!(
        "Serving tape {} ({total} recorded call{})",
        args.tape.display(),
        plural(total)
    ));
    list(&methods, "call");
    let services = upstream.services();
    report(&format!(
        "Health: {} SERVING; reflection v1 and v1alpha",
        if services.is_empty() {
            "(no service: the tape is empty)".to_owned()
        } else {
            services.join(", ")
        }
    ));
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let upstream = upstream.on_call(move |method, answer| {
        counter.fetch_add(1, Ordering::Relaxed);
        report(&format!("{method} -> {answer}"));
    });
    serve_until_stopped(args, listen, "call", &served, |listener| async move {
        upstream
            .serve(listener, stopped())
            .await
            .map_err(|e| tape_error(&args.tape, e))
    })
}

/// An HTTP tape (`boost-tape-http/1`), served as an HTTP server.
fn virtualize_http(args: &VirtualizeArgs, listen: SocketAddr) -> Result<(), Error> {
    let tape = HttpTapeSettings::new(TapeMode::Replay, &args.tape);
    let upstream = HttpVirtualUpstream::open(&tape).map_err(|e| {
        Error::Virtualize(match e {
            HttpClientError::Tape { reason, .. } => reason,
            other => format!("tape {}: {other}", args.tape.display()),
        })
    })?;
    let requests = upstream.requests();
    let total: usize = requests.iter().map(|(_, n)| n).sum();
    report(&format!(
        "Serving HTTP tape {} ({total} recorded request{})",
        args.tape.display(),
        plural(total)
    ));
    list(&requests, "request");
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let upstream = upstream.on_call(move |request, answer| {
        counter.fetch_add(1, Ordering::Relaxed);
        report(&format!("{request} -> {answer}"));
    });
    serve_until_stopped(args, listen, "request", &served, |listener| async move {
        upstream
            .serve(listener, stopped())
            .await
            .map_err(|e| format!("serving failed: {e}"))
    })
}

/// `  name  N calls` per row, names aligned.
fn list(rows: &[(String, usize)], noun: &str) {
    let width = rows.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
    for (name, count) in rows {
        report(&format!(
            "  {name:width$}  {count} {noun}{}",
            plural(*count)
        ));
    }
}

/// Binds `listen`, says where, runs `serve` until it ends, says how many
/// `noun`s were served.
fn serve_until_stopped<F, Fut>(
    args: &VirtualizeArgs,
    listen: SocketAddr,
    noun: &str,
    served: &AtomicUsize,
    serve: F,
) -> Result<(), Error>
where
    F: FnOnce(tokio::net::TcpListener) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let fail = |message: String| Error::Virtualize(message);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| fail(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
            fail(format!(
                "--listen {}: cannot listen on {listen} ({e}); pick a free port, or port 0 for any",
                args.listen
            ))
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| fail(format!("--listen {}: {e}", args.listen)))?;
        report(&format!(
            "Listening on {bound} (http://{bound}); Ctrl-C stops"
        ));
        serve(listener).await.map_err(fail)
    })?;
    let n = served.load(Ordering::Relaxed);
    report(&format!("Stopped after {n} {noun}{}", plural(n)));
    Ok(())
}

/// Whether `tape`'s `format` says HTTP (a file too large to look at is not).
fn is_http_tape(tape: &Path) -> bool {
    #[derive(serde::Deserialize)]
    struct Format {
        format: Option<String>,
    }
    let small = std::fs::metadata(tape).is_ok_and(|m| m.len() <= MAX_DESCRIPTORS * 16);
    small
        && std::fs::File::open(tape)
            .ok()
            .and_then(|file| {
                serde_json::from_reader::<_, Format>(std::io::BufReader::new(file)).ok()
            })
            .and_then(|f| f.format)
            .is_some_and(|f| f.starts_with("boost-tape-http/"))
}

/// Completes on Ctrl-C, or SIGTERM on Unix (a test harness or container stop).
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The failure's own words, without the client name a CLI user never gave.
fn tape_error(tape: &Path, error: RpcError) -> String {
    match error {
        RpcError::Tape(failure) => failure.error,
        other => format!("tape {}: {other}", tape.display()),
    }
}

/// `--listen` as one socket address.
fn resolve(listen: &str) -> Result<SocketAddr, Error> {
    let bad = |why: String| {
        Error::Virtualize(format!(
            "--listen {listen:?}: {why}; give HOST:PORT, e.g. 127.0.0.1:50052"
        ))
    };
    listen
        .to_socket_addrs()
        .map_err(|e| bad(e.to_string()))?
        .next()
        .ok_or_else(|| bad("resolves to no address".to_owned()))
}

/// The encoded descriptor sets of `--proto` and `--descriptors`.
fn descriptor_sets(args: &VirtualizeArgs) -> Result<Vec<Vec<u8>>, Error> {
    if args.proto.is_empty() && args.descriptors.is_empty() {
        return Err(Error::Virtualize(
            "the tape holds JSON: give the protos of its methods with --proto FILE (a .proto) \
             or --descriptors FILE (a FileDescriptorSet from protoc --descriptor_set_out or buf build -o)"
                .to_owned(),
        ));
    }
    let mut sets = Vec::new();
    for proto in &args.proto {
        sets.push(compile(proto, &args.include)?);
    }
    for file in &args.descriptors {
        sets.push(read_descriptors(file)?);
    }
    Ok(sets)
}

/// `proto` and its imports as an encoded `FileDescriptorSet`.
fn compile(proto: &Path, include: &[PathBuf]) -> Result<Vec<u8>, Error> {
    let missing = |message: &str| Error::Proto {
        file: format!("--proto {}", proto.display()),
        line: None,
        message: message.to_owned(),
    };
    if !proto.is_file() {
        return Err(missing("no such file"));
    }
    let dir = proto
        .parent()
        .map(Path::to_path_buf)
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from("."));
    let name = proto
        .file_name()
        .ok_or_else(|| missing("not a file name"))?;
    let mut includes = vec![dir.clone()];
    includes.extend(include.iter().cloned());
    let mut compiler =
        protox::Compiler::new(&includes).map_err(|e| crate::proto::parse_error(&dir, proto, &e))?;
    compiler.include_imports(true);
    compiler
        .open_file(name)
        .map_err(|e| crate::proto::parse_error(&dir, proto, &e))?;
    Ok(compiler.encode_file_descriptor_set())
}

/// A `--descriptors` file, checked to be a `FileDescriptorSet`.
fn read_descriptors(file: &Path) -> Result<Vec<u8>, Error> {
    let bad = |why: String| Error::Virtualize(format!("--descriptors {}: {why}", file.display()));
    let size = std::fs::metadata(file)
        .map_err(|e| bad(e.to_string()))?
        .len();
    if size > MAX_DESCRIPTORS {
        return Err(bad(format!(
            "{size} bytes, over the limit of {MAX_DESCRIPTORS}: is it a descriptor set?"
        )));
    }
    let bytes = std::fs::read(file).map_err(|e| bad(e.to_string()))?;
    prost_reflect::DescriptorPool::decode(bytes.as_slice()).map_err(|e| {
        bad(format!(
            "not an encoded FileDescriptorSet ({e}); write one with protoc --include_imports \
             --descriptor_set_out=FILE, or pass the .proto with --proto"
        ))
    })?;
    Ok(bytes)
}
