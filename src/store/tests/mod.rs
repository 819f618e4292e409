//! Store tests against a real `redis-server` each (see `test_redis`): registration races, tickets,
//! rotation, the session cap, TTLs and events.
// Compiled only for tests: `store/mod.rs` declares this module under #[cfg(test)].
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::HashMap, time::Duration};

use redis::AsyncCommands;
use uuid::Uuid;

use super::{test_redis::TestRedis, *};
use crate::store::sessions::NewSession;

mod email;
mod mfa;
mod passkeys;

const T0: u64 = 1_700_000_000_000;
const DAY: u64 = 86_400_000;

fn new_account(id: Uuid, email: &str) -> NewAccount<'_> {
    NewAccount {
        id,
        email,
        password: "$scrypt$old",
        active: false,
        now_ms: T0,
    }
}

async fn registered(store: &Store, email: &str) -> Uuid {
    let id = Uuid::new_v4();
    assert_eq!(
        store.register(new_account(id, email)).await.unwrap(),
        Registration::Created
    );
    id
}

async fn session(store: &Store, account: Uuid, now_ms: u64, cap: u32) -> Uuid {
    let family = Uuid::new_v4();
    let meta = SessionMeta {
        user_agent: "test",
        ip: "127.0.0.1",
    };
    assert!(
        store
            .create_session(NewSession {
                account,
                family,
                meta,
                now_ms,
                ttl_ms: DAY,
                prune_after_ms: 0,
                cap,
                credential_version: 0,
                auth_time: now_ms / 1000,
                amr: 1,
                browser: false
            })
            .await
            .unwrap()
    );
    family
}

async fn pttl(raw: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(raw).await.unwrap()
}

#[tokio::test]
async fn register_creates_once() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = registered(&store, "a@example.com").await;

    let account = store.account(id).await.unwrap().unwrap();
    assert_eq!(account.email, "a@example.com");
    assert_eq!(account.password, "$scrypt$old");
    assert!(!account.active);
    assert_eq!(account.created_at, T0);
    assert_eq!(
        store.find_by_email("a@example.com").await.unwrap(),
        Some(account)
    );
    assert_eq!(store.find_by_email("b@example.com").await.unwrap(), None);
    // A confirmed account and its index are permanent.
    assert_eq!(pttl(&mut raw, &store.keys().account(id)).await, -1);
    assert_eq!(
        pttl(&mut raw, &store.keys().email("a@example.com")).await,
        -1
    );

    let second = Uuid::new_v4();
    let again = store
        .register(new_account(second, "a@example.com"))
        .await
        .unwrap();
    assert_eq!(again, Registration::EmailTaken { existing: id });
    let exists: bool = raw.exists(store.keys().account(second)).await.unwrap();
    assert!(!exists, "the loser's provisional account is deleted");
}

/// Registers `email` from 20 tasks at once; asserts exactly one wins and every other one names it.
async fn race_registrations(redis: &TestRedis, email: &'static str) -> Uuid {
    let store = redis.store();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            let id = Uuid::new_v4();
            tokio::spawn(async move { (id, store.register(new_account(id, email)).await.unwrap()) })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let winners: Vec<Uuid> = results
        .iter()
        .filter(|(_, r)| *r == Registration::Created)
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let taken = Registration::EmailTaken {
        existing: winners[0],
    };
    assert!(
        results
            .iter()
            .all(|(_, r)| *r == Registration::Created || *r == taken)
    );
    let accounts: Vec<String> = redis.raw().await.keys("t:*:account").await.unwrap();
    assert_eq!(accounts.len(), 1, "no provisional account left behind");
    assert_eq!(
        store.find_by_email(email).await.unwrap().unwrap().id,
        winners[0]
    );
    winners[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_create_one_account() {
    let redis = TestRedis::start();
    race_registrations(&redis, "race@example.com").await;
}

#[tokio::test]
async fn stale_index_does_not_block_registration() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let email_key = store.keys().email("stale@example.com");
    let _: () = raw
        .set(&email_key, Uuid::new_v4().to_string())
        .await
        .unwrap();
    assert_eq!(
        store.find_by_email("stale@example.com").await.unwrap(),
        None
    );

    let id = registered(&store, "stale@example.com").await;
    let holder: String = raw.get(&email_key).await.unwrap();
    assert_eq!(holder, id.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_over_a_stale_index_create_one_account() {
    let redis = TestRedis::start();
    let email_key = redis.store().keys().email("stale-race@example.com");
    let _: () = redis
        .raw()
        .await
        .set(&email_key, Uuid::new_v4().to_string())
        .await
        .unwrap();
    race_registrations(&redis, "stale-race@example.com").await;
}

#[tokio::test]
async fn provisional_accounts_expire_and_are_invisible() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = Uuid::new_v4();
    let key = store.keys().account(id);
    // Step 1 alone, as if registration died right after it.
    let created: i64 = store
        .scripts()
        .account_create
        .key(&key)
        .arg(id.to_string())
        .arg("p@example.com")
        .arg("$scrypt$x")
        .arg("1")
        .arg(T0)
        .arg(60_000)
        .invoke_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(created, 1);
    let ttl = pttl(&mut raw, &key).await;
    assert!(ttl > 0 && ttl <= 60_000, "{ttl}");
    assert_eq!(store.account(id).await.unwrap(), None);
    assert_eq!(
        store
            .issue_ticket(id, TicketKind::Activate, 60_000)
            .await
            .unwrap(),
        None
    );
    let meta = SessionMeta {
        user_agent: "",
        ip: "",
    };
    assert!(
        !store
            .create_session(NewSession {
                account: id,
                family: Uuid::new_v4(),
                meta,
                now_ms: T0,
                ttl_ms: DAY,
                prune_after_ms: 0,
                cap: 5,
                credential_version: 0,
                auth_time: T0 / 1000,
                amr: 1,
                browser: false
            })
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn remove_account_frees_the_email() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = registered(&store, "gone@example.com").await;
    let family = session(&store, id, T0, 5).await;

    assert!(store.remove_account(id, "gone@example.com").await.unwrap());
    assert_eq!(store.account(id).await.unwrap(), None);
    assert!(
        !store
            .session_exists(id, family, crate::clock::now_ms())
            .await
            .unwrap()
    );
    let left: Vec<String> = redis.raw().await.keys("t:*").await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    assert!(!store.remove_account(id, "gone@example.com").await.unwrap());

    registered(&store, "gone@example.com").await;
}

#[tokio::test]
async fn password_hash_is_compare_and_set() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = registered(&store, "cas@example.com").await;
    assert!(
        !store
            .replace_password_hash(id, "$scrypt$wrong", "$scrypt$new")
            .await
            .unwrap()
    );
    assert!(
        store
            .replace_password_hash(id, "$scrypt$old", "$scrypt$new")
            .await
            .unwrap()
    );
    assert_eq!(
        store.account(id).await.unwrap().unwrap().password,
        "$scrypt$new"
    );
    assert!(
        !store
            .replace_password_hash(Uuid::new_v4(), "$scrypt$old", "$scrypt$new")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn tickets_are_single_use_and_purpose_checked() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = registered(&store, "t@example.com").await;
    assert_eq!(
        store
            .issue_ticket(Uuid::new_v4(), TicketKind::Activate, 60_000)
            .await
            .unwrap(),
        None
    );

    let ticket = store
        .issue_ticket(id, TicketKind::Activate, 60_000)
        .await
        .unwrap()
        .unwrap();
    for key in [
        store.keys().ticket(id, ticket),
        store.keys().ticket_pointer(ticket),
    ] {
        let ttl = pttl(&mut raw, &key).await;
        assert!(ttl > 0 && ttl <= 60_000, "{key}: {ttl}");
    }
    // The wrong purpose fails and does not burn it.
    assert_eq!(
        store
            .reset_password_with_ticket(ticket, "$scrypt$new")
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.activate_with_ticket(ticket).await.unwrap(), Some(id));
    assert!(store.account(id).await.unwrap().unwrap().active);
    assert_eq!(
        store.activate_with_ticket(ticket).await.unwrap(),
        None,
        "single use"
    );
    assert_eq!(
        store.activate_with_ticket(Uuid::new_v4()).await.unwrap(),
        None
    );

    let family = session(&store, id, T0, 5).await;
    let reset = store
        .issue_ticket(id, TicketKind::Reset, 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(store.activate_with_ticket(reset).await.unwrap(), None);
    assert_eq!(
        store
            .reset_password_with_ticket(reset, "$scrypt$new")
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(
        store.account(id).await.unwrap().unwrap().password,
        "$scrypt$new"
    );
    assert!(
        !store
            .session_exists(id, family, crate::clock::now_ms())
            .await
            .unwrap(),
        "a reset revokes every session"
    );
    assert_eq!(
        store
            .reset_password_with_ticket(reset, "$scrypt$again")
            .await
            .unwrap(),
        None
    );

    let short = store
        .issue_ticket(id, TicketKind::Activate, 20)
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(
        store.activate_with_ticket(short).await.unwrap(),
        None,
        "expired"
    );
}

#[tokio::test]
async fn tickets_outlive_a_data_key_rotation_and_hold_no_ticket() {
    let redis = TestRedis::start();
    let old = redis.store();
    let mut raw = redis.raw().await;
    let id = registered(&old, "rotate@example.com").await;
    let activation = old
        .issue_ticket(id, TicketKind::Activate, 60_000)
        .await
        .unwrap()
        .unwrap();
    let reset = old
        .issue_ticket(id, TicketKind::Reset, 60_000)
        .await
        .unwrap()
        .unwrap();
    // Named by a MAC: neither key names nor values hold the ticket.
    let keys: Vec<String> = raw.keys("t:*").await.unwrap();
    for ticket in [activation, reset] {
        let (hyphenated, simple) = (ticket.to_string(), ticket.simple().to_string());
        for key in &keys {
            assert!(
                !key.contains(&hyphenated) && !key.contains(&simple),
                "{key}"
            );
        }
    }
    let marker: String = raw.get(old.keys().reset_ticket(id)).await.unwrap();
    assert_eq!(marker, old.keys().ticket_id(reset));
    // A new current key, the old one kept for checking: both still spend.
    let rotated = redis.store_with_ticket_keys(vec![[9; 32], [7; 32]]);
    assert_ne!(rotated.keys().ticket_id(reset), marker);
    assert_eq!(
        rotated.activate_with_ticket(activation).await.unwrap(),
        Some(id)
    );
    assert_eq!(
        rotated
            .reset_password_with_ticket(reset, "$scrypt$new")
            .await
            .unwrap(),
        Some(id)
    );
    // Without the old key they would be unknown.
    let fresh = old
        .issue_ticket(id, TicketKind::Reset, 60_000)
        .await
        .unwrap()
        .unwrap();
    let forgotten = redis.store_with_ticket_keys(vec![[9; 32]]);
    assert_eq!(
        forgotten
            .reset_password_with_ticket(fresh, "$scrypt$other")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn a_ticket_dies_with_its_account() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = registered(&store, "x@example.com").await;
    let ticket = store
        .issue_ticket(id, TicketKind::Activate, 60_000)
        .await
        .unwrap()
        .unwrap();
    assert!(store.remove_account(id, "x@example.com").await.unwrap());
    assert_eq!(store.activate_with_ticket(ticket).await.unwrap(), None);
    assert_eq!(
        store.account(id).await.unwrap(),
        None,
        "spending must not recreate the account"
    );
}

#[tokio::test]
async fn rotation_advances_repeats_within_grace_and_revokes_on_reuse() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = registered(&store, "r@example.com").await;
    let f = session(&store, id, T0, 5).await;
    let grace = 10_000;
    assert_eq!(
        store
            .rotate_session(id, f, 0, T0 + 1_000, grace, DAY)
            .await
            .unwrap(),
        Rotation::Advanced(1)
    );
    assert_eq!(
        store
            .rotate_session(id, f, 0, T0 + 1_500, grace, DAY)
            .await
            .unwrap(),
        Rotation::Repeated(1)
    );
    assert_eq!(
        store
            .rotate_session(id, f, 0, T0 + 1_000 + grace, grace, DAY)
            .await
            .unwrap(),
        Rotation::Repeated(1)
    );
    assert_eq!(
        store.session_generation(id, f).await.unwrap(),
        Some(1),
        "repeating changes nothing"
    );
    assert_eq!(
        store
            .rotate_session(id, f, 1, T0 + 2_000, grace, DAY)
            .await
            .unwrap(),
        Rotation::Advanced(2)
    );

    // The rotation renewed the sliding TTLs and the LRU score.
    let fields: HashMap<String, String> = raw.hgetall(store.keys().session(id, f)).await.unwrap();
    assert_eq!(fields["rotated_at"], (T0 + 2_000).to_string());
    assert_eq!(fields["last_used_at"], (T0 + 2_000).to_string());
    assert_eq!(fields["created_at"], T0.to_string());
    let score: u64 = raw
        .zscore(store.keys().sessions(id), f.to_string())
        .await
        .unwrap();
    assert_eq!(score, T0 + 2_000);

    // Generation 1 again, after the grace: the whole family goes.
    assert_eq!(
        store
            .rotate_session(id, f, 1, T0 + 2_001 + grace, grace, DAY)
            .await
            .unwrap(),
        Rotation::Reused
    );
    assert!(
        !store
            .session_exists(id, f, crate::clock::now_ms())
            .await
            .unwrap()
    );
    let members: Vec<String> = raw.zrange(store.keys().sessions(id), 0, -1).await.unwrap();
    assert!(members.is_empty());
    assert_eq!(
        store
            .rotate_session(id, f, 2, T0 + 3_000, grace, DAY)
            .await
            .unwrap(),
        Rotation::Unknown
    );

    // A generation from the future, or older than the previous one, is reuse too.
    let g = session(&store, id, T0, 5).await;
    assert_eq!(
        store
            .rotate_session(id, g, 7, T0, grace, DAY)
            .await
            .unwrap(),
        Rotation::Reused
    );
    let h = session(&store, id, T0, 5).await;
    for generation in 0..3 {
        store
            .rotate_session(id, h, generation, T0, grace, DAY)
            .await
            .unwrap();
    }
    assert_eq!(
        store
            .rotate_session(id, h, 1, T0, grace, DAY)
            .await
            .unwrap(),
        Rotation::Reused
    );
}

#[tokio::test]
async fn grace_zero_is_strict_rotation() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = registered(&store, "s@example.com").await;
    let f = session(&store, id, T0, 5).await;
    assert_eq!(
        store.rotate_session(id, f, 0, T0, 0, DAY).await.unwrap(),
        Rotation::Advanced(1)
    );
    assert_eq!(
        store.rotate_session(id, f, 0, T0, 0, DAY).await.unwrap(),
        Rotation::Reused
    );
    assert!(
        !store
            .session_exists(id, f, crate::clock::now_ms())
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_of_one_generation_agree() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = registered(&store, "c@example.com").await;
    let f = session(&store, id, T0, 5).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .rotate_session(id, f, 0, T0 + 100, 10_000, DAY)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut advanced = 0;
    for t in tasks {
        match t.await.unwrap() {
            Rotation::Advanced(1) => advanced += 1,
            Rotation::Repeated(1) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(advanced, 1);
    assert_eq!(store.session_generation(id, f).await.unwrap(), Some(1));
}

#[tokio::test]
async fn session_cap_evicts_the_least_recently_used() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = registered(&store, "cap@example.com").await;
    let a = session(&store, id, T0 + 1, 3).await;
    let b = session(&store, id, T0 + 2, 3).await;
    let c = session(&store, id, T0 + 3, 3).await;
    // Using a makes b the least recently used.
    assert_eq!(
        store
            .rotate_session(id, a, 0, T0 + 4, 0, DAY)
            .await
            .unwrap(),
        Rotation::Advanced(1)
    );
    let d = session(&store, id, T0 + 5, 3).await;
    assert!(
        !store
            .session_exists(id, b, crate::clock::now_ms())
            .await
            .unwrap()
    );
    for f in [a, c, d] {
        assert!(
            store
                .session_exists(id, f, crate::clock::now_ms())
                .await
                .unwrap()
        );
    }
    let members: Vec<String> = redis
        .raw()
        .await
        .zrange(store.keys().sessions(id), 0, -1)
        .await
        .unwrap();
    assert_eq!(members.len(), 3);
}

#[tokio::test]
async fn expired_families_are_pruned_from_the_index() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = registered(&store, "prune@example.com").await;
    let old = session(&store, id, T0, 50).await;
    let new = session(&store, id, T0 + DAY + 1, 50).await;
    let members: Vec<String> = raw.zrange(store.keys().sessions(id), 0, -1).await.unwrap();
    assert_eq!(members, vec![new.to_string()]);
    assert!(
        !store
            .session_exists(id, old, crate::clock::now_ms())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn session_keys_have_ttls_and_metadata() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = registered(&store, "ttl@example.com").await;
    let family = Uuid::new_v4();
    let ua = "é".repeat(200);
    let meta = SessionMeta {
        user_agent: &ua,
        ip: "203.0.113.7",
    };
    assert!(
        store
            .create_session(NewSession {
                account: id,
                family,
                meta,
                now_ms: T0,
                ttl_ms: DAY,
                prune_after_ms: 0,
                cap: 50,
                credential_version: 0,
                auth_time: T0 / 1000,
                amr: 1,
                browser: false
            })
            .await
            .unwrap()
    );
    for key in [store.keys().session(id, family), store.keys().sessions(id)] {
        let ttl = pttl(&mut raw, &key).await;
        assert!(
            ttl > DAY as i64 - 10_000 && ttl <= DAY as i64,
            "{key}: {ttl}"
        );
    }
    let fields: HashMap<String, String> =
        raw.hgetall(store.keys().session(id, family)).await.unwrap();
    assert_eq!(fields["gen"], "0");
    assert_eq!(fields["ip"], "203.0.113.7");
    assert_eq!(fields["user_agent"].len(), 256);
    assert_eq!(
        store.session_generation(id, Uuid::new_v4()).await.unwrap(),
        None
    );

    // Rotation renews a shrunken TTL.
    let _: () = raw
        .pexpire(store.keys().session(id, family), 1_000)
        .await
        .unwrap();
    store
        .rotate_session(id, family, 0, T0, 0, DAY)
        .await
        .unwrap();
    assert!(pttl(&mut raw, &store.keys().session(id, family)).await > 1_000);
}

#[tokio::test]
async fn revoking_sessions() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = registered(&store, "rev@example.com").await;
    let families = [
        session(&store, id, T0, 5).await,
        session(&store, id, T0, 5).await,
        session(&store, id, T0, 5).await,
    ];
    assert!(store.revoke_session(id, families[0]).await.unwrap());
    assert!(!store.revoke_session(id, families[0]).await.unwrap());
    assert!(
        !store
            .session_exists(id, families[0], crate::clock::now_ms())
            .await
            .unwrap()
    );
    assert_eq!(store.revoke_all_sessions(id).await.unwrap(), 2);
    assert_eq!(store.revoke_all_sessions(id).await.unwrap(), 0);
    assert!(
        !store
            .session_exists(id, families[1], crate::clock::now_ms())
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn events_carry_the_spec_fields() {
    let redis = TestRedis::start();
    let store = redis.store();
    let user = Uuid::new_v4();
    let ticket = Uuid::new_v4();
    store
        .emit(&Event {
            kind: EventKind::AccountRegistered,
            user_id: Some(user),
            email: Some("e@example.com"),
            ticket: Some(ticket),
            expires_at: Some(T0 + 60_000),
            link: None,
            actor: None,
            at: T0,
        })
        .await
        .unwrap();
    let event = Event {
        kind: EventKind::LoginFailed,
        user_id: None,
        email: None,
        ticket: None,
        expires_at: None,
        link: None,
        actor: None,
        at: T0,
    };
    store.emit(&event).await.unwrap();

    // Failed sign-ins go to the audit stream, everything else to the events stream; a discarded
    // event is appended (the same work) and kept nowhere.
    store.emit_discarded(&event).await.unwrap();
    let mut fields: Vec<Vec<(String, String)>> = Vec::new();
    for stream in ["t:events", "t:events:audit", "t:events:discard"] {
        let entries: Vec<(String, Vec<(String, String)>)> = redis::cmd("XRANGE")
            .arg(stream)
            .arg("-")
            .arg("+")
            .query_async(&mut redis.raw().await)
            .await
            .unwrap();
        assert_eq!(
            entries.len(),
            usize::from(stream != "t:events:discard"),
            "{stream}"
        );
        fields.extend(entries.into_iter().map(|(_, f)| f));
    }
    let pairs = |v: &[(&str, String)]| {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        fields,
        vec![
            pairs(&[
                ("type", "account.registered".into()),
                ("user_id", user.to_string()),
                ("email", "e@example.com".into()),
                ("ticket", ticket.to_string()),
                ("expires_at", (T0 + 60_000).to_string()),
                ("at", T0.to_string()),
            ]),
            pairs(&[
                ("type", "login.failed".into()),
                ("user_id", "".into()),
                ("email", "".into()),
                ("at", T0.to_string())
            ]),
        ]
    );
}

#[tokio::test]
async fn scripts_survive_a_script_flush() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = registered(&store, "flush@example.com").await;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut redis.raw().await)
        .await
        .unwrap();
    assert!(
        store
            .replace_password_hash(id, "$scrypt$old", "$scrypt$new")
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_dead_or_stuck_redis_is_unavailable_within_the_timeout() {
    // Nothing listens: connection refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Accepts connections (the backlog does) but never answers.
    let stuck = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let stuck_port = stuck.local_addr().unwrap().port();
    for port in [port, stuck_port] {
        let store = Store::new(&StoreConfig {
            url: format!("redis://127.0.0.1:{port}"),
            cluster_nodes: Vec::new(),
            prefix: DEFAULT_PREFIX.into(),
            pool_size: 2,
            op_timeout: Duration::from_millis(200),
            session_cache_ttl: std::time::Duration::ZERO,
            session_cache_entries: 16,
            ticket_keys: vec![[7; 32]],
            events_maxlen: 100_000,
        })
        .unwrap();
        let started = crate::clock::instant();
        assert!(matches!(
            store.ping().await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            store.account(Uuid::new_v4()).await,
            Err(StoreError::Unavailable(_))
        ));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }
    drop(stuck);
}

#[test]
fn a_prefix_with_braces_is_refused() {
    let cfg = StoreConfig {
        url: "redis://127.0.0.1:1".into(),
        cluster_nodes: Vec::new(),
        prefix: "{x}".into(),
        pool_size: 1,
        op_timeout: Duration::from_secs(1),
        session_cache_ttl: std::time::Duration::ZERO,
        session_cache_entries: 16,
        ticket_keys: vec![[7; 32]],
        events_maxlen: 100_000,
    };
    assert!(Store::new(&cfg).is_err());
}
