//! Passkey store tests against a real `redis-server` each (see `test_redis`): the ceremony
//! state (single use, TTL, bound to its account), the cap and duplicates, the signature
//! counter's compare-and-set, removal, and account removal.
// Compiled only for tests: a child of the store's #[cfg(test)] `tests` module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use redis::AsyncCommands;
use uuid::Uuid;

use crate::store::passkeys::{PasskeyAdd, PasskeyRecord, PasskeyUse};
use crate::store::{test_redis::TestRedis, *};

const T0: u64 = 1_700_000_000_000;
const FIVE_MIN: u64 = 300_000;

async fn registered(store: &Store, email: &str) -> Uuid {
    let id = Uuid::new_v4();
    let new = NewAccount {
        id,
        email,
        password: "$scrypt$x",
        active: true,
        now_ms: T0,
    };
    assert_eq!(store.register(new).await.unwrap(), Registration::Created);
    id
}

fn record(name: &str, counter: u32) -> PasskeyRecord {
    PasskeyRecord {
        counter,
        last_used_at: None,
        backed_up: false,
        name: name.into(),
        created_at: T0,
        passkey: serde_json::json!({"cred": {"counter": counter, "cred_id": name}}),
    }
}

#[tokio::test]
async fn ceremony_state_is_single_use_and_bound_to_its_account() {
    let redis = TestRedis::start();
    let store = redis.store();
    let a = registered(&store, "a@example.com").await;
    let b = registered(&store, "b@example.com").await;
    let challenge = Uuid::new_v4();
    assert!(
        store
            .put_passkey_registration(a, challenge, "state-a", FIVE_MIN)
            .await
            .unwrap()
    );
    // Another account cannot take it; its owner can, once.
    assert_eq!(
        store.take_passkey_registration(b, challenge).await.unwrap(),
        None
    );
    assert_eq!(
        store
            .take_passkey_registration(a, challenge)
            .await
            .unwrap()
            .as_deref(),
        Some("state-a")
    );
    assert_eq!(
        store.take_passkey_registration(a, challenge).await.unwrap(),
        None
    );
    // No registration for an account that does not exist.
    assert!(
        !store
            .put_passkey_registration(Uuid::new_v4(), challenge, "x", FIVE_MIN)
            .await
            .unwrap()
    );
    // A sign-in state: one key, with its TTL, named without the challenge id; twenty takers at
    // once, one winner.
    let login = Uuid::new_v4();
    store
        .put_passkey_login(login, "state-login", FIVE_MIN)
        .await
        .unwrap();
    let mut conn = redis.raw().await;
    let keys: Vec<String> = conn.keys("t:passkey_login:*").await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].contains(&login.to_string()));
    let ttl: i64 = conn.pttl(&keys[0]).await.unwrap();
    assert!(ttl > 0 && ttl <= FIVE_MIN as i64, "{ttl}");
    let takers = (0..20).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.take_passkey_login(login).await.unwrap() })
    });
    let mut won = 0;
    for taker in takers {
        if taker.await.unwrap().is_some() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test]
async fn the_cap_duplicates_and_removal() {
    let redis = TestRedis::start();
    let store = redis.store();
    let a = registered(&store, "cap@example.com").await;
    for i in 0..3 {
        let id = format!("id{i}");
        assert_eq!(
            store.add_passkey(a, &id, &record(&id, 0), 3).await.unwrap(),
            PasskeyAdd::Added
        );
    }
    assert_eq!(
        store
            .add_passkey(a, "id3", &record("id3", 0), 3)
            .await
            .unwrap(),
        PasskeyAdd::Limit
    );
    assert_eq!(
        store
            .add_passkey(a, "id0", &record("id0", 0), 4)
            .await
            .unwrap(),
        PasskeyAdd::Duplicate
    );
    assert_eq!(
        store
            .add_passkey(Uuid::new_v4(), "x", &record("x", 0), 3)
            .await
            .unwrap(),
        PasskeyAdd::NoAccount
    );
    let all = store.passkeys(a).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].1, record("id0", 0));
    assert!(store.remove_passkey(a, "id1").await.unwrap());
    assert!(!store.remove_passkey(a, "id1").await.unwrap());
    assert_eq!(store.passkey(a, "id1").await.unwrap(), None);
    // Account removal takes the passkeys with it.
    store.remove_account(a, "cap@example.com").await.unwrap();
    assert!(store.passkeys(a).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_counter_only_moves_forward() {
    let redis = TestRedis::start();
    let store = redis.store();
    let a = registered(&store, "counter@example.com").await;
    store
        .add_passkey(a, "k", &record("k", 5), 10)
        .await
        .unwrap();
    assert_eq!(
        store.use_passkey(a, "k", 5, T0 + 1, false).await.unwrap(),
        PasskeyUse::CounterRegressed
    );
    assert_eq!(
        store.use_passkey(a, "k", 4, T0 + 1, false).await.unwrap(),
        PasskeyUse::CounterRegressed
    );
    assert_eq!(
        store.use_passkey(a, "k", 9, T0 + 2, true).await.unwrap(),
        PasskeyUse::Recorded
    );
    let stored = store.passkey(a, "k").await.unwrap().unwrap();
    assert_eq!(
        (stored.counter, stored.last_used_at, stored.backed_up),
        (9, Some(T0 + 2), true)
    );
    // Everything but the script's fields is kept as it was.
    assert_eq!(stored.name, "k");
    assert_eq!(stored.passkey, record("k", 5).passkey);
    // Concurrent uses with one counter: exactly one moves it.
    let uses = (0..10).map(|_| {
        let store = store.clone();
        tokio::spawn(async move { store.use_passkey(a, "k", 10, T0 + 3, true).await.unwrap() })
    });
    let mut recorded = 0;
    for u in uses {
        if u.await.unwrap() == PasskeyUse::Recorded {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 1);
    // An authenticator without a counter: 0 after 0 is fine.
    store
        .add_passkey(a, "z", &record("z", 0), 10)
        .await
        .unwrap();
    for t in 1..3 {
        assert_eq!(
            store.use_passkey(a, "z", 0, T0 + t, false).await.unwrap(),
            PasskeyUse::Recorded
        );
    }
    assert_eq!(
        store.use_passkey(a, "gone", 1, T0, false).await.unwrap(),
        PasskeyUse::Gone
    );
}
