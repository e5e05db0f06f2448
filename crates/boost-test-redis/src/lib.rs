//! A `redis-server` of a test's own (Debian package `redis-server`), on a
//! free loopback port, in a temporary directory; killed on drop. A
//! [`persistent`](RedisServer::start_persistent) one keeps its data across
//! [`RedisServer::restart`] (append-only file, fsync always).
//!
//! Test support only: it panics when the server cannot start, which fails
//! the test that needs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    /// Its loopback port.
    pub port: u16,
    dir: tempfile::TempDir,
    persistent: bool,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port, without persistence (a restart comes
    /// back empty), and waits until it answers `PING`.
    pub fn start() -> Self {
        Self::launch(false)
    }

    /// Starts a server whose data survives [`restart`](Self::restart).
    pub fn start_persistent() -> Self {
        Self::launch(true)
    }

    fn launch(persistent: bool) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            persistent,
            child: None,
        };
        server.restart();
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, on the same port; with the data it had if
    /// persistent)
    /// and waits until it answers `PING`.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(if self.persistent {
                ["--appendonly", "yes", "--appendfsync", "always"]
            } else {
                ["--appendonly", "no", "--appendfsync", "no"]
            })
            .args(["--protected-mode", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (.ci/install-test-programs)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self
                .command(&[b"PING"])
                .is_some_and(|r| r.starts_with(b"+PONG"))
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    /// Kills the server at once and waits for it to be gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Sends one command (a RESP array of bulk strings) and returns the raw
    /// reply, or `None` when the server does not answer.
    pub fn command(&self, args: &[&[u8]]) -> Option<Vec<u8>> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg);
            request.extend_from_slice(b"\r\n");
        }
        stream.write_all(&request).ok()?;
        let mut reply = vec![0; 64 * 1024];
        let n = stream.read(&mut reply).ok()?;
        reply.truncate(n);
        (n > 0).then_some(reply)
    }

    /// An integer reply (`:<n>`) of `args`, e.g. `XLEN key`.
    pub fn integer(&self, args: &[&[u8]]) -> Option<i64> {
        let reply = self.command(args)?;
        let text = std::str::from_utf8(reply.strip_prefix(b":")?).ok()?;
        text.trim().parse().ok()
    }

    /// Writes raw bytes under `key` (for entries no client of the test wrote).
    pub fn set_raw(&self, key: &str, value: &[u8]) {
        let reply = self.command(&[b"SET", key.as_bytes(), value]);
        assert_eq!(reply.as_deref(), Some(&b"+OK\r\n"[..]), "SET {key}");
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}
