//! Starting the real `hello-service` and `profile-service` binaries for a test,
//! each on its own free ports, and stopping them when the test ends.
//!
//! Each service is started with `grpc.listen` and `admin.listen` on port 0 (set
//! through its `…__GRPC__LISTEN` / `…__ADMIN__LISTEN` environment variables),
//! JSON logs on stdout, no `APP_ENV`, and a fresh working directory (so each
//! binary reads its own crate's `config/default.toml`, which equals its
//! compiled-in defaults). The bound addresses are read from its "listening" log lines, so tests
//! running in parallel never race for a port.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use boost_test_proto::greeter_client::GreeterClient;
use boost_test_proto::{HelloRequest, greeter_client};

/// How long a service may take to start on a loaded 2-core machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The workspace root (this package lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The directory holding the workspace's binaries: the test executable is
/// `<target>/<profile>/deps/<test>-<hash>`, so it is two levels up (this
/// follows `CARGO_TARGET_DIR` and `--target-dir`), else `<root>/target/debug`.
fn bin_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| workspace_root().join("target").join("debug"))
}

/// The path of the example binary `name`, freshly built.
///
/// `cargo test --workspace` has built both examples before any test runs;
/// `cargo test -p boost-e2e` has not, or may leave them stale. So the first
/// call in each test process runs `cargo build -p hello-service -p
/// profile-service` into the same target directory and profile (a second or
/// so when nothing changed). If that build fails but binaries are there, they
/// are used with a warning. Set `BOOST_E2E_NO_BUILD=1` to skip the build.
pub fn binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let dir = bin_dir();
    BUILT.get_or_init(|| {
        if std::env::var_os("BOOST_E2E_NO_BUILD").is_some() {
            return;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--quiet", "-p", "hello-service", "-p", "profile-service"])
            .current_dir(workspace_root());
        if let Some(target_dir) = dir.parent() {
            cmd.arg("--target-dir").arg(target_dir);
        }
        if dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        let built = cmd.status().map(|status| status.success()).unwrap_or(false);
        let present = ["hello-service", "profile-service"].iter().all(|b| dir.join(b).is_file());
        assert!(
            built || present,
            "`cargo build -p hello-service -p profile-service` failed: the end-to-end tests need both binaries"
        );
        if !built {
            eprintln!("warning: `cargo build -p hello-service -p profile-service` failed; testing the binaries already in {}", dir.display());
        }
    });
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} not found: run `cargo build -p hello-service -p profile-service`",
        path.display()
    );
    path
}

/// Which example a [`ServiceProcess`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Example {
    /// `hello-service`.
    Hello,
    /// `profile-service`.
    Profile,
}

impl Example {
    pub fn name(self) -> &'static str {
        match self {
            Example::Hello => "hello-service",
            Example::Profile => "profile-service",
        }
    }

    pub fn prefix(self) -> &'static str {
        match self {
            Example::Hello => "HELLO_SERVICE",
            Example::Profile => "PROFILE_SERVICE",
        }
    }
}

/// A running example service, killed when dropped.
pub struct ServiceProcess {
    pub example: Example,
    child: Child,
    pub grpc: SocketAddr,
    pub admin: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    _workdir: tempfile::TempDir,
}

/// Builds the command line of an example service.
pub struct Launch {
    example: Example,
    env: Vec<(String, String)>,
    args: Vec<String>,
}

impl Launch {
    /// `example` on free loopback ports, JSON logs, no drain delay.
    pub fn new(example: Example) -> Self {
        let launch = Launch {
            example,
            env: Vec::new(),
            args: Vec::new(),
        };
        launch
            .set("GRPC__LISTEN", "127.0.0.1:0")
            .set("HTTP__LISTEN", "127.0.0.1:0")
            .set("ADMIN__LISTEN", "127.0.0.1:0")
            .set("TRACING__FORMAT", "json")
            .set("LIFECYCLE__DRAIN_DELAY", "0s")
    }

    /// Sets `<PREFIX>__<key>` (e.g. `key = "PROFILES__TIMEOUT"`).
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        let var = format!("{}__{key}", self.example.prefix());
        self.env.retain(|(k, _)| *k != var);
        self.env.push((var, value.into()));
        self
    }

    /// Adds a command-line argument.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// hello-service's upstream: `profiles.endpoints = ["http://<grpc>"]`.
    pub fn upstream(self, profiles: SocketAddr) -> Self {
        self.set("PROFILES__ENDPOINTS", format!("http://{profiles}"))
    }

    fn command(&self, workdir: &Path) -> Command {
        let mut cmd = Command::new(binary(self.example.name()));
        cmd.args(&self.args)
            .current_dir(workdir)
            .env_remove("RUST_LOG")
            .env_remove("APP_ENV")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null());
        cmd
    }

    /// Runs the binary to completion (for configuration errors, `--print-config`).
    pub fn run_to_exit(&self) -> (ExitStatus, String, String) {
        let workdir = tempfile::tempdir().unwrap();
        let mut cmd = self.command(workdir.path());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let child = cmd.spawn().expect("spawn service");
        let out = wait_output(child, START_TIMEOUT);
        (
            out.status,
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Starts the service and waits until both its servers listen.
    pub fn start(&self) -> ServiceProcess {
        let workdir = tempfile::tempdir().unwrap();
        let mut cmd = self.command(workdir.path());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn service");
        let stdout = collect_lines(child.stdout.take().unwrap());
        let stderr = collect_lines(child.stderr.take().unwrap());
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let (grpc, admin) = listening_addresses(&stdout.lock().unwrap());
            if let (Some(grpc), Some(admin)) = (grpc, admin) {
                return ServiceProcess {
                    example: self.example,
                    child,
                    grpc,
                    admin,
                    stdout,
                    stderr,
                    _workdir: workdir,
                };
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "{} exited with {status} before listening\nstdout:\n{}\nstderr:\n{}",
                    self.example.name(),
                    stdout.lock().unwrap().join("\n"),
                    stderr.lock().unwrap().join("\n")
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!(
                    "{} did not log its listening addresses within {START_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                    self.example.name(),
                    stdout.lock().unwrap().join("\n"),
                    stderr.lock().unwrap().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reads a pipe line by line into a shared list, in a thread.
fn collect_lines(pipe: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// The gRPC and admin addresses from the services' JSON "listening" log lines.
fn listening_addresses(lines: &[String]) -> (Option<SocketAddr>, Option<SocketAddr>) {
    let mut grpc = None;
    let mut admin = None;
    for line in lines {
        let Ok(json) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let message = json["message"].as_str().unwrap_or_default();
        if !message.contains("listening") {
            continue;
        }
        let addr = |key: &str| {
            json[key]
                .as_str()
                .and_then(|s| s.parse::<SocketAddr>().ok())
        };
        grpc = grpc.or_else(|| addr("grpc"));
        admin = admin.or_else(|| addr("admin"));
    }
    (grpc, admin)
}

fn wait_output(mut child: Child, timeout: Duration) -> std::process::Output {
    let stdout = collect_lines(child.stdout.take().unwrap());
    let stderr = collect_lines(child.stderr.take().unwrap());
    let status = wait_exit(&mut child, timeout).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("process did not exit within {timeout:?}")
    });
    // Let the reader threads drain the pipes.
    std::thread::sleep(Duration::from_millis(100));
    let join = |lines: &Arc<Mutex<Vec<String>>>| {
        let mut text = lines.lock().unwrap().join("\n");
        text.push('\n');
        text.into_bytes()
    };
    std::process::Output {
        status,
        stdout: join(&stdout),
        stderr: join(&stderr),
    }
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl ServiceProcess {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://<grpc address>`.
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc)
    }

    /// `http://<HTTP server address><path>`, once the HTTP server has
    /// logged that it listens (it starts as a task, just after the admin
    /// server).
    pub fn http_url(&self, path: &str) -> String {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let found = self.json_logs().iter().find_map(|line| {
                let message = line["message"].as_str().unwrap_or_default();
                if !message.contains("HTTP server listening") {
                    return None;
                }
                line["http"].as_str()?.parse::<SocketAddr>().ok()
            });
            if let Some(addr) = found {
                return format!("http://{addr}{path}");
            }
            assert!(
                Instant::now() < deadline,
                "no \"HTTP server listening\" log line\n{}",
                self.dump()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `http://<admin address><path>`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.admin)
    }

    /// A Greeter client connected to this service.
    pub async fn greeter(&self) -> GreeterClient<tonic::transport::Channel> {
        greeter_client::GreeterClient::connect(self.grpc_url())
            .await
            .expect("connect to hello-service")
    }

    /// Everything the service wrote to stdout so far.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }

    /// Everything the service wrote to stderr so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().unwrap().clone()
    }

    /// The stdout lines that parse as JSON objects.
    pub fn json_logs(&self) -> Vec<serde_json::Value> {
        self.stdout_lines()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Sends SIGTERM (with the shell's `kill` builtin, present even where
    /// procps is not installed).
    pub fn terminate(&self) {
        let status = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.pid())])
            .status()
            .expect("run sh -c kill");
        assert!(status.success(), "kill -TERM {} failed", self.pid());
    }

    /// Waits for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_exit(&mut self.child, timeout)
    }

    /// Kills the process at once (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The logs, for assertion messages.
    pub fn dump(&self) -> String {
        format!(
            "--- {} stdout\n{}\n--- stderr\n{}",
            self.example.name(),
            self.stdout_lines().join("\n"),
            self.stderr_lines().join("\n")
        )
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// profile-service, then hello-service calling it.
pub fn start_pair(
    configure_hello: impl FnOnce(Launch) -> Launch,
) -> (ServiceProcess, ServiceProcess) {
    let profiles = Launch::new(Example::Profile).start();
    let hello = configure_hello(Launch::new(Example::Hello).upstream(profiles.grpc)).start();
    (profiles, hello)
}

/// Calls SayHello(name) and returns the message.
pub async fn say_hello(
    client: &mut GreeterClient<tonic::transport::Channel>,
    name: &str,
) -> Result<String, tonic::Status> {
    client
        .say_hello(HelloRequest {
            name: name.to_owned(),
        })
        .await
        .map(|r| r.into_inner().message)
}

/// GET `url` and return status and body.
pub async fn http_get(url: &str) -> (u16, String) {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// The value of the sample `name{labels…}` whose labels contain all of
/// `labels`, summed over matching series, from a Prometheus text exposition.
pub fn sample_sum(exposition: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in exposition.lines() {
        if line.starts_with('#') {
            continue;
        }
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        let (label_text, value) = match rest.strip_prefix('{') {
            Some(rest) => match rest.split_once("} ") {
                Some((labels, value)) => (labels, value),
                None => continue,
            },
            None => match rest.strip_prefix(' ') {
                Some(value) => ("", value),
                None => continue,
            },
        };
        if labels
            .iter()
            .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")))
        {
            let value: f64 = value
                .trim()
                .split(' ')
                .next()
                .unwrap_or("0")
                .parse()
                .unwrap_or(0.0);
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}
