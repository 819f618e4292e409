//! Test support: a throwaway `redis-server` child per test (`crate::dev::RedisServer`: a free
//! loopback port, killed on drop), so tests run in parallel and never touch the machine's Redis.
// Compiled only for tests: `store/mod.rs` declares this module under #[cfg(test)].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use super::{Store, StoreConfig};
use crate::dev::RedisServer;

pub struct TestRedis {
    server: RedisServer,
}

impl TestRedis {
    pub fn start() -> TestRedis {
        let server = RedisServer::builder()
            .spawn()
            .unwrap_or_else(|e| panic!("these tests need redis-server: {e}"));
        TestRedis { server }
    }

    pub fn url(&self) -> String {
        self.server.url()
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
            session_cache_ttl: Duration::ZERO,
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
