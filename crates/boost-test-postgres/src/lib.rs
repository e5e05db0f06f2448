//! A PostgreSQL cluster of a test's own (Debian package `postgresql`):
//! `initdb` and `postgres` from `/usr/lib/postgresql/<version>/bin` (or
//! `$BOOST_PG_BIN`), in a temporary directory, on a free loopback port,
//! password authentication over TCP; stopped on drop.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: then both
//! programs run as `nobody` through `setpriv` (util-linux), the directory
//! handed to that user.
//!
//! Test support only: it panics when the cluster cannot start, which fails
//! the test that needs it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::net::TcpListener;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The superuser's password in every test cluster.
pub const PASSWORD: &str = "pg-test-s3cret";
/// The unprivileged user the cluster runs as when the test runs as root.
const NOBODY: u32 = 65534;

/// TLS for a cluster ([`PostgresServer::start_tls`]): `ssl = on` with this
/// certificate and key, PEM.
#[derive(Clone, Debug)]
pub struct Tls {
    /// The server's certificate chain (for `localhost`, the name
    /// [`PostgresServer::tls_url`] connects to).
    pub cert_pem: String,
    /// Its private key.
    pub key_pem: String,
    /// A CA for client certificates: when set, TCP connections must use TLS
    /// and show a client certificate it signed (`hostssl … clientcert=verify-ca`).
    pub client_ca_pem: Option<String>,
}

/// A running PostgreSQL cluster.
#[derive(Debug)]
pub struct PostgresServer {
    /// Its loopback port.
    pub port: u16,
    /// Whether it runs with `ssl = on`.
    tls: bool,
    bin: PathBuf,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PostgresServer {
    /// Creates a cluster (`initdb`) and starts it on a free port, trying
    /// another port when the one picked is taken meanwhile; waits until it
    /// accepts connections.
    pub fn start() -> Self {
        Self::start_with(None)
    }

    /// [`start`](Self::start), with `ssl = on` and `tls`'s certificate and
    /// key (in the data directory, `server.crt` and `server.key`, the key
    /// readable by the server's user only, as PostgreSQL demands).
    pub fn start_tls(tls: Tls) -> Self {
        Self::start_with(Some(tls))
    }

    fn start_with(tls: Option<Tls>) -> Self {
        let bin = bin_dir();
        let dir = tempfile::Builder::new()
            .prefix("boost-pg-")
            .tempdir()
            .unwrap();
        if as_root() {
            chown_tree(dir.path());
        }
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, PASSWORD).unwrap();
        if as_root() {
            std::os::unix::fs::chown(&pwfile, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        let data = dir.path().join("data");
        let out = command(&bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync"])
            .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .expect("initdb must run (.ci/install-test-programs installs postgresql)");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if let Some(tls) = &tls {
            write_owned(&data.join("server.crt"), &tls.cert_pem, 0o644);
            write_owned(&data.join("server.key"), &tls.key_pem, 0o600);
            if let Some(ca) = &tls.client_ca_pem {
                write_owned(&data.join("client-ca.crt"), ca, 0o644);
                write_owned(
                    &data.join("pg_hba.conf"),
                    "local all all trust\n\
                     hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca\n",
                    0o600,
                );
                let conf = data.join("postgresql.conf");
                let mut text = std::fs::read_to_string(&conf).unwrap();
                text.push_str("\nssl_ca_file = 'client-ca.crt'\n");
                std::fs::write(&conf, text).unwrap();
            }
        }
        let mut server = Self {
            port: 0,
            tls: tls.is_some(),
            bin,
            dir,
            child: None,
        };
        for _ in 0..5 {
            server.port = free_port();
            if server.try_start() {
                return server;
            }
        }
        panic!("postgres did not start on any of 5 free ports");
    }

    /// The superuser's URL, password included:
    /// `postgres://postgres:<PASSWORD>@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// The superuser's URL for TLS, by the name the test certificate
    /// carries: `postgres://postgres:<PASSWORD>@localhost:<port>/postgres`
    /// (no `sslmode`: the settings under test choose it).
    pub fn tls_url(&self) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@localhost:{}/postgres",
            self.port
        )
    }

    /// Starts the cluster again on the same port (after [`stop`](Self::stop)).
    pub fn restart(&mut self) {
        assert!(
            self.try_start(),
            "postgres did not restart on {}",
            self.port
        );
    }

    fn try_start(&mut self) -> bool {
        assert!(self.child.is_none(), "already running");
        let log = self.dir.path().join("postgres.log");
        let log_file = std::fs::File::create(&log).unwrap();
        if as_root() {
            std::os::unix::fs::chown(&log, Some(NOBODY), Some(NOBODY)).unwrap();
        }
        let mut child = command(&self.bin.join("postgres"))
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &self.port.to_string()])
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!(
                "unix_socket_directories={}",
                self.dir.path().display()
            ))
            .args(["-c", "fsync=off", "-c", "max_connections=50"])
            .args(["-c", if self.tls { "ssl=on" } else { "ssl=off" }])
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("postgres must run (.ci/install-test-programs installs postgresql)");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                // Exited: the port was taken meanwhile, or worse (the log says).
                let text = std::fs::read_to_string(&log).unwrap_or_default();
                eprintln!("postgres on port {} exited: {text}", self.port);
                return false;
            }
            let ready = Command::new(self.bin.join("pg_isready"))
                .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-t", "2"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                self.child = Some(child);
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("postgres on port {} was not ready within 30s", self.port);
    }

    /// Stops the cluster (fast shutdown: connections are closed at once)
    /// and waits for it to be gone.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Runs `sql` through `psql` as the superuser and returns its output
    /// (unaligned, tuples only).
    pub fn psql(&self, sql: &str) -> String {
        let out = command(&self.bin.join("psql"))
            // The Unix socket (trust): works with TLS and client
            // certificates required over TCP too.
            .arg("-h")
            .arg(self.dir.path())
            .args(["-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-At", "-c", sql])
            .env("PGPASSWORD", PASSWORD)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `program` as a command, run as `nobody` when this process is root.
fn command(program: &Path) -> Command {
    if as_root() {
        let mut c = Command::new("setpriv");
        c.args([
            &format!("--reuid={NOBODY}"),
            &format!("--regid={NOBODY}"),
            "--clear-groups",
        ])
        .arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// Whether this process runs as root (the owner of `/proc/self`).
fn as_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Writes `text` to `path` with `mode`, owned by the server's user.
fn write_owned(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    if as_root() {
        std::os::unix::fs::chown(path, Some(NOBODY), Some(NOBODY)).unwrap();
    }
}

fn chown_tree(dir: &Path) {
    std::os::unix::fs::chown(dir, Some(NOBODY), Some(NOBODY)).unwrap();
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether PostgreSQL's programs are installed (where [`PostgresServer::start`]
/// looks for them): a bench skips itself when they are not.
pub fn available() -> bool {
    std::env::var_os("BOOST_PG_BIN").is_some()
        || std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| e.path().join("bin/postgres").exists())
}

/// `$BOOST_PG_BIN`, else the newest `/usr/lib/postgresql/<version>/bin`
/// that has `postgres` (Debian keeps them off `PATH`).
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("BOOST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("postgres").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .expect("no /usr/lib/postgresql/<version>/bin/postgres: apt-get install postgresql (.ci/install-test-programs)")
}
