//! `serve --dev` support: a throwaway `redis-server` child on a free
//! loopback port, with no persistence, killed when the server exits.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// How to get `redis-server` where it is missing.
pub const INSTALL_HINT: &str = "install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu) \
     or `brew install redis` (macOS), or point EDGEAUTH_REDIS_URL at a running Redis";

/// A `redis-server` child process. Dropping it kills the child.
pub struct ThrowawayRedis {
    child: Child,
    pub url: String,
    pub port: u16,
}

impl ThrowawayRedis {
    /// Starts `redis-server` on a free loopback port and waits until it
    /// answers PING.
    pub async fn start() -> Result<ThrowawayRedis, String> {
        let port = free_port().map_err(|e| format!("no free loopback port: {e}"))?;
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(std::env::temp_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => format!("redis-server not found: {INSTALL_HINT}"),
                _ => format!("cannot start redis-server: {e}"),
            })?;
        let mut redis = ThrowawayRedis {
            child,
            url: format!("redis://127.0.0.1:{port}"),
            port,
        };
        for _ in 0..100 {
            if ping(port).await {
                return Ok(redis);
            }
            if let Ok(Some(status)) = redis.child.try_wait() {
                return Err(format!("redis-server exited at start ({status})"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err("redis-server did not answer PING within 5 s".into())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Kills the child and waits for it, so no process outlives the server.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A port that was free a moment ago (bind to port 0, read it, release it).
pub fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG\r\n"
}
