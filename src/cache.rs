//! A small bounded in-process cache with per-entry expiry, for the two
//! things `/auth/verify` would otherwise recompute on every request: the
//! Ed25519 check of a token already seen, and the existence of its session.
//!
//! Sharded mutex-guarded maps: lookups are a hash and a short lock, and a
//! full shard is emptied rather than tracked for LRU (the working set
//! refills it at once; correctness never depends on a hit). Time is an
//! argument (`now_ms`), as everywhere outside `clock`.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash};
use std::sync::{Mutex, MutexGuard};

const SHARDS: usize = 16;

pub struct TtlCache<K, V> {
    shards: Vec<Mutex<HashMap<K, (V, u64)>>>,
    per_shard: usize,
    hasher: RandomState,
}

impl<K: Hash + Eq, V: Clone> TtlCache<K, V> {
    /// A cache of about `capacity` entries.
    pub fn new(capacity: usize) -> TtlCache<K, V> {
        TtlCache {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
        }
    }

    fn shard<Q: Hash + ?Sized>(&self, key: &Q) -> Option<MutexGuard<'_, HashMap<K, (V, u64)>>> {
        let index = (self.hasher.hash_one(key) as usize) % SHARDS;
        // A poisoned shard (a panic while holding it) is only a lost cache.
        self.shards.get(index)?.lock().ok()
    }

    /// The value for `key` if it has not expired at `now_ms`.
    pub fn get<Q>(&self, key: &Q, now_ms: u64) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        let mut shard = self.shard(key)?;
        match shard.get(key) {
            Some((value, expires)) if *expires > now_ms => Some(value.clone()),
            Some(_) => {
                shard.remove(key);
                None
            }
            None => None,
        }
    }

    /// Stores `value` until `expires_ms`.
    pub fn insert(&self, key: K, value: V, expires_ms: u64) {
        if let Some(mut shard) = self.shard(&key) {
            if shard.len() >= self.per_shard {
                shard.clear();
            }
            shard.insert(key, (value, expires_ms));
        }
    }

    pub fn remove<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        if let Some(mut shard) = self.shard(key) {
            shard.remove(key);
        }
    }

    /// Drops every entry for which `doomed` is true (a scan: for rare
    /// events such as "sign out everywhere").
    pub fn remove_where(&self, doomed: impl Fn(&K, &V) -> bool) {
        for shard in &self.shards {
            if let Ok(mut shard) = shard.lock() {
                shard.retain(|k, (v, _)| !doomed(k, v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn expiry_removal_and_bound() {
        let cache: TtlCache<u32, &str> = TtlCache::new(32);
        cache.insert(1, "one", 1_000);
        assert_eq!(cache.get(&1, 999), Some("one"));
        assert_eq!(cache.get(&1, 1_000), None, "expired at its deadline");
        assert_eq!(cache.get(&1, 0), None, "expired entries are dropped");
        cache.insert(2, "two", 5_000);
        cache.insert(3, "three", 5_000);
        cache.remove(&2);
        assert_eq!(cache.get(&2, 0), None);
        cache.remove_where(|k, _| *k == 3);
        assert_eq!(cache.get(&3, 0), None);
        for i in 0..10_000 {
            cache.insert(i, "x", u64::MAX);
        }
        let held: usize = cache.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(held <= 32, "bounded: {held}");
    }
}
