//! Test support: a throwaway `redis-server` child per test on a free loopback port, killed on drop,
//! so tests run in parallel and never touch the machine's Redis.
// Compiled only for tests: `store/mod.rs` declares this module under #[cfg(test)].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{
    io::{ErrorKind, Read, Write},
    net::{TcpListener, TcpStream},
    process::{Child, Command, Stdio},
    time::Duration,
};

use super::{Store, StoreConfig};

pub struct TestRedis {
    child: Child,
    port: u16,
}

impl TestRedis {
    pub fn start() -> TestRedis {
        // The free port is found by binding :0 and letting go; another process may grab it
        // meanwhile, so retry.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let spawned = Command::new("redis-server")
                .args([
                    "--port",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ])
                .current_dir(std::env::temp_dir())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match spawned {
                Ok(child) => child,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    panic!(
                        "redis-server not found on PATH; these tests need it: apt-get install -y redis-server"
                    )
                }
                Err(e) => panic!("cannot start redis-server: {e}"),
            };
            let mut redis = TestRedis { child, port };
            if redis.wait_ready() {
                return redis;
            }
        }
        panic!("redis-server did not come up on a free port in 5 attempts");
    }

    /// PINGs until PONG; false when the child exited (port taken) or never answered.
    fn wait_ready(&mut self) -> bool {
        let deadline = crate::clock::instant() + Duration::from_secs(10);
        while crate::clock::instant() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let mut buf = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut buf).is_ok()
                    && &buf == b"+PONG\r\n"
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn store(&self) -> Store {
        self.store_with_ticket_keys(vec![[7; 32]])
    }

    /// A store naming tickets under these keys, current first (a data-key rotation).
    pub fn store_with_ticket_keys(&self, ticket_keys: Vec<[u8; 32]>) -> Store {
        Store::new(&StoreConfig {
            url: self.url(),
            cluster_nodes: Vec::new(),
            prefix: "t:".into(),
            pool_size: 8,
            op_timeout: Duration::from_secs(5),
            session_cache_ttl: std::time::Duration::ZERO,
            session_cache_entries: 16,
            ticket_keys,
            events_maxlen: 100_000,
        })
        .unwrap()
    }

    /// A plain connection for inspecting keys behind the store's back.
    pub async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
