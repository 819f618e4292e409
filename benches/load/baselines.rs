//! The two non-HTTP baselines: raw EVALSHA calls to the same Redis, and raw
//! scrypt hashes at the login scenarios' cost. (The third, the hello server,
//! is an HTTP load like the scenarios.)

use std::time::Duration;

use edgeauth::auth::password::{ScryptCost, hash_password};
use redis::aio::MultiplexedConnection;

use crate::client::{KindStats, LoadResult, Window};

/// A refresh-shaped script: one HGET, one HSET, one EXPIRE on one key.
const SCRIPT: &str = "local v = redis.call('HGET', KEYS[1], 'gen') \
     redis.call('HSET', KEYS[1], 'gen', (tonumber(v) or 0) + 1) \
     redis.call('EXPIRE', KEYS[1], 3600) \
     return v";

/// `tasks` concurrent tasks, each calling EVALSHA on its own key in a closed
/// loop over one shared multiplexed connection (the connection pipelines
/// them). Reported like an HTTP load (kind "evalsha").
pub async fn evalsha(redis: &MultiplexedConnection, tasks: usize, window: Window) -> LoadResult {
    let script = redis::Script::new(SCRIPT);
    let mut conn = redis.clone();
    // Load it once, so every call below is a plain EVALSHA.
    let _: Option<String> = script
        .key("load-bench:evalsha:warm")
        .invoke_async(&mut conn)
        .await
        .expect("EVALSHA baseline script");
    let hash = script.get_hash().to_owned();
    let mut handles = Vec::new();
    for i in 0..tasks {
        let (mut conn, hash) = (redis.clone(), hash.clone());
        handles.push(tokio::spawn(async move {
            let key = format!("load-bench:evalsha:{i}");
            let mut stats = KindStats::new("evalsha");
            while edgeauth::clock::instant() < window.until {
                let sent = edgeauth::clock::instant();
                let reply: redis::RedisResult<Option<String>> = redis::cmd("EVALSHA")
                    .arg(&hash)
                    .arg(1)
                    .arg(&key)
                    .query_async(&mut conn)
                    .await;
                let done = edgeauth::clock::instant();
                if done >= window.measure_from && done <= window.until {
                    match reply {
                        Ok(_) => stats.record_ok(done - sent),
                        Err(e) => stats.record_error(format!("redis: {e}")),
                    }
                }
            }
            stats
        }));
    }
    let mut total = KindStats::new("evalsha");
    for h in handles {
        total.merge(&h.await.expect("evalsha task"));
    }
    // Clean up the baseline's keys, so they don't count as account memory.
    let mut conn = redis.clone();
    let keys: Vec<String> = (0..tasks)
        .map(|i| format!("load-bench:evalsha:{i}"))
        .collect();
    let _: redis::RedisResult<i64> = redis::cmd("DEL")
        .arg(keys)
        .arg("load-bench:evalsha:warm")
        .query_async(&mut conn)
        .await;
    LoadResult {
        kinds: vec![total],
        window: window.until - window.measure_from,
        usage: None,
    }
}

/// Raw scrypt throughput: `threads` threads hashing (fresh salt each) for
/// about `duration`. Each thread's rate is its hashes over the time up to
/// its last finished hash (no partial hash is counted or cut off), and the
/// rates add up. Returns hashes/s and the statistics of single hashes.
pub fn scrypt(log_n: u8, threads: usize, duration: Duration) -> (f64, KindStats) {
    let cost = ScryptCost {
        log_n,
        ..ScryptCost::OWASP
    };
    let start = edgeauth::clock::instant();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            std::thread::spawn(move || {
                let mut stats = KindStats::new("scrypt");
                // At least one hash, even when one takes longer than `duration`.
                loop {
                    let began = edgeauth::clock::instant();
                    hash_password("load-bench password", cost).expect("scrypt");
                    stats.record_ok(began.elapsed());
                    if start.elapsed() >= duration {
                        break;
                    }
                }
                let rate = stats.ok as f64 / start.elapsed().as_secs_f64();
                (rate, stats)
            })
        })
        .collect();
    let mut total = KindStats::new("scrypt");
    let mut rate = 0.0;
    for h in handles {
        let (r, stats) = h.join().expect("scrypt thread");
        rate += r;
        total.merge(&stats);
    }
    (rate, total)
}
