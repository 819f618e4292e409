//! Throwaway `redis-server` children: the one builder behind `serve --dev`,
//! the store's unit tests, the integration tests (single servers and cluster
//! nodes) and the load benchmark. Every child binds loopback only, keeps no
//! data on disk (`--save "" --appendonly no`), and is killed when its handle
//! is dropped, so nothing outlives whoever started it.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How to get `redis-server` where it is missing.
pub const INSTALL_HINT: &str = "install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) \
     or `brew install redis` (macOS), or point EDGEAUTH_REDIS_URL at a running Redis";

/// How many free ports a builder without a fixed port tries: a port found free
/// may be taken by another process before the child binds it.
const PORT_ATTEMPTS: usize = 5;

/// Settings for one `redis-server` child; see [`RedisServer::builder`].
#[derive(Debug, Clone)]
pub struct RedisServerBuilder {
    port: Option<u16>,
    dir: Option<PathBuf>,
    args: Vec<OsString>,
    inherit_stderr: bool,
    ready_timeout: Duration,
}

/// A running `redis-server` child on a loopback port. Dropping it kills (and
/// reaps) the child.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
}

impl RedisServer {
    /// A builder: a free loopback port, the temp directory as working
    /// directory, stderr discarded, 10 s to answer PING.
    pub fn builder() -> RedisServerBuilder {
        RedisServerBuilder {
            port: None,
            dir: None,
            args: Vec::new(),
            inherit_stderr: false,
            ready_timeout: Duration::from_secs(10),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The child's PID (0 once stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// How the child exited (its status), or None while it runs.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.as_mut()?.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(status.to_string()),
            Err(e) => Some(e.to_string()),
        }
    }

    /// Kills the child and waits for it (its data is gone: no persistence).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Tries on a fixed port, 100 ms apart (see `RedisServerBuilder::spawn`).
const FIXED_PORT_ATTEMPTS: u32 = 50;

impl RedisServerBuilder {
    /// This port instead of a free one (e.g. to start again where a stopped
    /// server was); no retry on another port then.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The working directory (`--dir`): where a cluster node writes its
    /// config file. The temp directory by default.
    pub fn dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Extra `redis-server` arguments, after the defaults (so they may
    /// override them), e.g. `["--cluster-enabled", "yes"]`.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Let the child's stderr through (`serve --dev` shows Redis's complaints).
    pub fn inherit_stderr(mut self) -> Self {
        self.inherit_stderr = true;
        self
    }

    /// How long the child has to answer PING.
    pub fn ready_timeout(mut self, timeout: Duration) -> Self {
        self.ready_timeout = timeout;
        self
    }

    /// Starts the child and waits until it answers PING. A missing
    /// `redis-server` is an error that says how to install it.
    pub fn spawn(&self) -> Result<RedisServer, String> {
        if let Some(port) = self.port {
            // The port may be held for a moment after a stop: a client that
            // kept reconnecting to it can end up on it itself (Linux picks
            // the same port as a local one, a self-connect), until it gives
            // up. Wait for it rather than fail.
            let mut attempt = 1;
            loop {
                match self.spawn_on(port) {
                    Err(SpawnError::Retry(_)) if attempt < FIXED_PORT_ATTEMPTS => {
                        attempt += 1;
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    other => return other.map_err(SpawnError::message),
                }
            }
        }
        let mut last = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port().map_err(|e| format!("no free loopback port: {e}"))?;
            match self.spawn_on(port) {
                Ok(server) => return Ok(server),
                Err(SpawnError::Fatal(e)) => return Err(e),
                Err(SpawnError::Retry(e)) => last = e,
            }
        }
        Err(format!(
            "redis-server did not come up on a free port in {PORT_ATTEMPTS} attempts: {last}"
        ))
    }

    fn spawn_on(&self, port: u16) -> Result<RedisServer, SpawnError> {
        let dir = self.dir.clone().unwrap_or_else(std::env::temp_dir);
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .args(&self.args)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if self.inherit_stderr {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .map_err(|e| {
                SpawnError::Fatal(match e.kind() {
                    std::io::ErrorKind::NotFound => {
                        format!("redis-server not found: {INSTALL_HINT}")
                    }
                    _ => format!("cannot start redis-server: {e}"),
                })
            })?;
        let mut server = RedisServer {
            child: Some(child),
            port,
        };
        let deadline = crate::clock::instant() + self.ready_timeout;
        loop {
            if ping(port) {
                return Ok(server);
            }
            if let Some(status) = server.exited() {
                // Most likely the port was taken meanwhile.
                return Err(SpawnError::Retry(format!(
                    "redis-server on port {port} exited at start ({status})"
                )));
            }
            if crate::clock::instant() > deadline {
                return Err(SpawnError::Fatal(format!(
                    "redis-server on port {port} did not answer PING within {:?}",
                    self.ready_timeout
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

enum SpawnError {
    /// Worth another port.
    Retry(String),
    Fatal(String),
}

impl SpawnError {
    fn message(self) -> String {
        match self {
            SpawnError::Retry(e) | SpawnError::Fatal(e) => e,
        }
    }
}

/// A port that was free a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Whether a Redis answers PING on `port`.
fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let timeout = Some(Duration::from_secs(1));
    if stream.set_read_timeout(timeout).is_err() || stream.write_all(b"PING\r\n").is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}
