//! MFA store tests against a real `redis-server` each (see `test_redis`): the enable/disable
//! compare-and-sets, the replay guard, login tickets (attempts, races, purpose) and recovery codes.
// Compiled only for tests: a child of the store's #[cfg(test)] `tests` module.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::{collections::HashMap, time::Duration};

use redis::AsyncCommands;
use uuid::Uuid;

use crate::store::{test_redis::TestRedis, *};

const MIN: u64 = 60_000;
/// A plausible TOTP time step (unix seconds / 30).
const S: u64 = 56_666_666;
const MAX: u32 = 5;

async fn registered(store: &Store, email: &str) -> Uuid {
    let id = Uuid::new_v4();
    let new = NewAccount {
        id,
        email,
        password: "$scrypt$x",
        active: true,
        now_ms: 1_700_000_000_000,
    };
    assert_eq!(store.register(new).await.unwrap(), Registration::Created);
    id
}

/// An account with MFA on under the sealed secret "active", enabled at step `S`.
async fn with_mfa(store: &Store, email: &str) -> Uuid {
    let id = registered(store, email).await;
    assert_eq!(
        store.mfa_set_pending(id, "active", 10 * MIN).await.unwrap(),
        Some(MfaChange::Done)
    );
    assert_eq!(
        store.mfa_enable(id, "active", S).await.unwrap(),
        MfaChange::Done
    );
    id
}

async fn ticket(store: &Store, account: Uuid) -> Uuid {
    store
        .issue_ticket(
            account,
            TicketKind::MfaLogin {
                credential_version: 0,
                cap: 5,
                now_ms: NOW_MS,
            },
            5 * MIN,
        )
        .await
        .unwrap()
        .unwrap()
}

/// When the tickets of these tests are issued (unix ms).
const NOW_MS: u64 = 1_700_000_000_000;

fn digests(prefix: &str) -> Vec<String> {
    (0..10).map(|i| format!("k1:{prefix}{i}")).collect()
}

async fn pttl(raw: &mut redis::aio::MultiplexedConnection, key: &str) -> i64 {
    redis::cmd("PTTL").arg(key).query_async(raw).await.unwrap()
}

async fn exists(raw: &mut redis::aio::MultiplexedConnection, key: &str) -> bool {
    raw.exists(key).await.unwrap()
}

#[tokio::test]
async fn a_new_pending_secret_replaces_the_old_and_expires() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = registered(&store, "p@example.com").await;
    assert_eq!(
        store.mfa_state(id).await.unwrap(),
        Some(MfaState {
            active: None,
            pending: None,
            last_step: 0
        })
    );
    assert_eq!(store.mfa_state(Uuid::new_v4()).await.unwrap(), None);
    assert_eq!(
        store
            .mfa_set_pending(Uuid::new_v4(), "p1", 10 * MIN)
            .await
            .unwrap(),
        None,
        "no account"
    );

    for sealed in ["p1", "p2"] {
        assert_eq!(
            store.mfa_set_pending(id, sealed, 10 * MIN).await.unwrap(),
            Some(MfaChange::Done)
        );
    }
    let state = store.mfa_state(id).await.unwrap().unwrap();
    assert_eq!(state.pending.as_deref(), Some("p2"));
    assert_eq!(state.active, None);
    let ttl = pttl(&mut raw, &store.keys().mfa_pending(id)).await;
    assert!(ttl > 0 && ttl <= 10 * MIN as i64, "{ttl}");
    assert!(!store.account(id).await.unwrap().unwrap().mfa_enabled);

    store.mfa_set_pending(id, "p3", 20).await.unwrap();
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(store.mfa_state(id).await.unwrap().unwrap().pending, None);
    assert_eq!(
        store.mfa_enable(id, "p3", S).await.unwrap(),
        MfaChange::NotGenerated,
        "expired"
    );
}

#[tokio::test]
async fn enable_is_a_compare_and_set_on_the_pending_secret() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = registered(&store, "e@example.com").await;
    assert_eq!(
        store.mfa_enable(id, "p1", S).await.unwrap(),
        MfaChange::NotGenerated,
        "nothing generated"
    );
    store.mfa_set_pending(id, "p1", 10 * MIN).await.unwrap();
    // A newer generate wins: the code checked against p1 no longer enables.
    store.mfa_set_pending(id, "p2", 10 * MIN).await.unwrap();
    assert_eq!(
        store.mfa_enable(id, "p1", S).await.unwrap(),
        MfaChange::NotGenerated
    );
    let _: () = raw
        .sadd(store.keys().recovery(id), "k1:stale")
        .await
        .unwrap();
    assert_eq!(
        store.mfa_enable(id, "p2", S).await.unwrap(),
        MfaChange::Done
    );
    assert_eq!(
        store.mfa_state(id).await.unwrap().unwrap(),
        MfaState {
            active: Some("p2".into()),
            pending: None,
            last_step: S
        }
    );
    assert!(!exists(&mut raw, &store.keys().recovery(id)).await);
    let account = store.account(id).await.unwrap().unwrap();
    assert!(account.mfa_enabled);
    assert_eq!(
        store.find_by_email("e@example.com").await.unwrap(),
        Some(account)
    );

    assert_eq!(
        store.mfa_enable(id, "p2", S + 1).await.unwrap(),
        MfaChange::AlreadyEnabled
    );
    assert_eq!(
        store.mfa_set_pending(id, "p3", 10 * MIN).await.unwrap(),
        Some(MfaChange::AlreadyEnabled)
    );
    assert!(!exists(&mut raw, &store.keys().mfa_pending(id)).await);

    // No ghost account from enabling a missing one.
    let ghost = Uuid::new_v4();
    assert_eq!(
        store.mfa_enable(ghost, "p1", S).await.unwrap(),
        MfaChange::NotGenerated
    );
    assert!(!exists(&mut raw, &store.keys().account(ghost)).await);
}

#[tokio::test]
async fn enable_disable_and_recovery_refuse_replayed_steps() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = with_mfa(&store, "r@example.com").await;
    for step in [S - 1, S] {
        assert_eq!(
            store.mfa_disable(id, "active", step).await.unwrap(),
            MfaChange::Replayed
        );
        assert_eq!(
            store
                .mfa_replace_recovery_codes(id, "active", step, &digests("a"))
                .await
                .unwrap(),
            MfaChange::Replayed
        );
    }
    assert!(store.account(id).await.unwrap().unwrap().mfa_enabled);
    assert_eq!(
        store.mfa_disable(id, "active", S + 1).await.unwrap(),
        MfaChange::Done
    );
    // The guard survives a disable: a later enable cannot reuse an accepted step.
    assert_eq!(store.mfa_state(id).await.unwrap().unwrap().last_step, S);
    store.mfa_set_pending(id, "next", 10 * MIN).await.unwrap();
    assert_eq!(
        store.mfa_enable(id, "next", S).await.unwrap(),
        MfaChange::Replayed
    );
    assert_eq!(
        store
            .mfa_state(id)
            .await
            .unwrap()
            .unwrap()
            .pending
            .as_deref(),
        Some("next"),
        "a replayed enable leaves the pending secret"
    );
    assert_eq!(
        store.mfa_enable(id, "next", S + 2).await.unwrap(),
        MfaChange::Done
    );
}

#[tokio::test]
async fn disable_checks_the_active_secret_and_keeps_the_step() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let plain = registered(&store, "off@example.com").await;
    assert_eq!(
        store.mfa_disable(plain, "active", S).await.unwrap(),
        MfaChange::NotEnabled
    );
    assert_eq!(
        store
            .mfa_replace_recovery_codes(plain, "active", S, &digests("a"))
            .await
            .unwrap(),
        MfaChange::NotEnabled
    );
    assert!(!exists(&mut raw, &store.keys().recovery(plain)).await);
    let ghost = Uuid::new_v4();
    assert_eq!(
        store.mfa_disable(ghost, "active", S).await.unwrap(),
        MfaChange::NotEnabled
    );
    assert!(!exists(&mut raw, &store.keys().account(ghost)).await);

    let id = with_mfa(&store, "d@example.com").await;
    store
        .mfa_replace_recovery_codes(id, "active", S + 1, &digests("a"))
        .await
        .unwrap();
    assert_eq!(
        store.mfa_disable(id, "changed", S + 2).await.unwrap(),
        MfaChange::NotEnabled,
        "the secret the code was checked against is no longer active"
    );
    assert_eq!(
        store.mfa_disable(id, "active", S + 2).await.unwrap(),
        MfaChange::Done
    );
    let fields: HashMap<String, String> = raw.hgetall(store.keys().account(id)).await.unwrap();
    assert!(!fields.contains_key("mfa"));
    assert_eq!(fields.get("mfa_step"), Some(&(S + 1).to_string()));
    assert!(!exists(&mut raw, &store.keys().recovery(id)).await);
    assert!(!store.account(id).await.unwrap().unwrap().mfa_enabled);
    assert_eq!(
        store.mfa_disable(id, "active", S + 3).await.unwrap(),
        MfaChange::NotEnabled
    );
}

#[tokio::test]
async fn mfa_tickets_have_a_record_a_pointer_and_ttls() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = with_mfa(&store, "t@example.com").await;
    assert_eq!(
        store
            .issue_ticket(
                Uuid::new_v4(),
                TicketKind::MfaLogin {
                    credential_version: 0,
                    cap: 5,
                    now_ms: NOW_MS
                },
                5 * MIN,
            )
            .await
            .unwrap(),
        None
    );
    let t = ticket(&store, id).await;
    assert_eq!(store.ticket_account(t).await.unwrap(), Some(id));
    assert_eq!(store.ticket_account(Uuid::new_v4()).await.unwrap(), None);
    let record: HashMap<String, String> = raw.hgetall(store.keys().ticket(id, t)).await.unwrap();
    assert_eq!(record.get("purpose").map(String::as_str), Some("mfa"));
    assert_eq!(record.get("attempts").map(String::as_str), Some("0"));
    for key in [
        store.keys().ticket(id, t),
        store.keys().ticket_pointer(t),
        store.keys().mfa_tickets(id),
    ] {
        let ttl = pttl(&mut raw, &key).await;
        assert!(ttl > 0 && ttl <= 5 * MIN as i64, "{key}: {ttl}");
    }

    // The index is ordered by creation; a spent ticket stays until it ages out or is evicted.
    assert_eq!(
        store
            .mfa_login_totp(t, id, "active", Some(S + 1), MAX)
            .await
            .unwrap(),
        MfaLogin::Accepted
    );
    let t2 = ticket(&store, id).await;
    let members: Vec<String> = raw
        .zrange(store.keys().mfa_tickets(id), 0, -1)
        .await
        .unwrap();
    assert_eq!(members.len(), 2);
    assert!(members.contains(&store.keys().ticket_id(t2)), "{members:?}");
    // A credential version other than the account's (a reset or change since the password was
    // checked) issues nothing.
    assert_eq!(
        store
            .issue_ticket(
                id,
                TicketKind::MfaLogin {
                    credential_version: 1,
                    cap: 5,
                    now_ms: NOW_MS
                },
                5 * MIN,
            )
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn five_wrong_codes_burn_the_ticket() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = with_mfa(&store, "w@example.com").await;
    let t = ticket(&store, id).await;
    // No match, a replay of the last accepted step, an older step: all refused, all counted.
    let wrong = [
        (None, MfaLogin::WrongCode),
        (Some(S), MfaLogin::Replayed),
        (Some(S - 1), MfaLogin::Replayed),
        (None, MfaLogin::WrongCode),
    ];
    for (i, (step, expected)) in wrong.into_iter().enumerate() {
        assert_eq!(
            store
                .mfa_login_totp(t, id, "active", step, MAX)
                .await
                .unwrap(),
            expected
        );
        let attempts: String = raw
            .hget(store.keys().ticket(id, t), "attempts")
            .await
            .unwrap();
        assert_eq!(attempts, (i + 1).to_string());
    }
    assert_eq!(
        store
            .mfa_login_totp(t, id, "active", None, MAX)
            .await
            .unwrap(),
        MfaLogin::WrongCode,
        "the fifth wrong code is still answered as wrong"
    );
    assert!(!exists(&mut raw, &store.keys().ticket(id, t)).await);
    assert_eq!(
        store
            .mfa_login_totp(t, id, "active", Some(S + 1), MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket,
        "burned: even a right code is refused"
    );
    assert_eq!(
        store.mfa_state(id).await.unwrap().unwrap().last_step,
        S,
        "nothing accepted"
    );
}

#[tokio::test]
async fn a_right_code_spends_the_ticket_once_and_a_replayed_step_is_refused() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = with_mfa(&store, "ok@example.com").await;
    let t = ticket(&store, id).await;
    assert_eq!(
        store
            .mfa_login_totp(t, id, "active", Some(S), MAX)
            .await
            .unwrap(),
        MfaLogin::Replayed,
        "the enabling step was accepted already"
    );
    assert_eq!(
        store
            .mfa_login_totp(t, id, "active", Some(S + 1), MAX)
            .await
            .unwrap(),
        MfaLogin::Accepted
    );
    assert_eq!(store.mfa_state(id).await.unwrap().unwrap().last_step, S + 1);
    assert_eq!(
        store
            .mfa_login_totp(t, id, "active", Some(S + 2), MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket,
        "single use"
    );
    // A second login within the same step cannot reuse that code.
    let t2 = ticket(&store, id).await;
    assert_eq!(
        store
            .mfa_login_totp(t2, id, "active", Some(S + 1), MAX)
            .await
            .unwrap(),
        MfaLogin::Replayed
    );
    // The ticket must be presented with its own account.
    let other = with_mfa(&store, "other@example.com").await;
    assert_eq!(
        store
            .mfa_login_totp(t2, other, "active", Some(S + 5), MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket
    );
    assert_eq!(
        store
            .mfa_login_totp(t2, id, "active", Some(S + 2), MAX)
            .await
            .unwrap(),
        MfaLogin::Accepted
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_right_codes_are_accepted_exactly_once() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = with_mfa(&store, "race@example.com").await;
    let t = ticket(&store, id).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .mfa_login_totp(t, id, "active", Some(S + 1), MAX)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let accepted = results.iter().filter(|r| **r == MfaLogin::Accepted).count();
    assert_eq!(accepted, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, MfaLogin::Accepted | MfaLogin::InvalidTicket)),
        "{results:?}"
    );
}

#[tokio::test]
async fn turning_mfa_off_or_changing_it_invalidates_login_tickets() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = with_mfa(&store, "off@example.com").await;
    let t = ticket(&store, id).await;
    let r = ticket(&store, id).await;
    store
        .mfa_replace_recovery_codes(id, "active", S + 1, &digests("a"))
        .await
        .unwrap();
    // The caller read "active" before this disable landed.
    assert_eq!(
        store.mfa_disable(id, "active", S + 2).await.unwrap(),
        MfaChange::Done
    );
    assert_eq!(
        store
            .mfa_login_totp(t, id, "active", Some(S + 3), MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket
    );
    assert!(!exists(&mut raw, &store.keys().ticket(id, t)).await);
    assert_eq!(
        store
            .mfa_login_recovery(r, id, &digests("a")[..1], MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket
    );
    assert!(!exists(&mut raw, &store.keys().ticket(id, r)).await);

    // Re-enabled under another secret: a caller still holding the old one is refused too.
    store.mfa_set_pending(id, "new", 10 * MIN).await.unwrap();
    store.mfa_enable(id, "new", S + 3).await.unwrap();
    let t = ticket(&store, id).await;
    assert_eq!(
        store
            .mfa_login_totp(t, id, "active", Some(S + 4), MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket
    );
    assert_eq!(store.mfa_state(id).await.unwrap().unwrap().last_step, S + 3);
}

#[tokio::test]
async fn activation_and_mfa_tickets_do_not_stand_in_for_each_other() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = with_mfa(&store, "purpose@example.com").await;
    let activation = store
        .issue_ticket(id, TicketKind::Activate, MIN)
        .await
        .unwrap()
        .unwrap();
    let reset = store
        .issue_ticket(id, TicketKind::Reset, MIN)
        .await
        .unwrap()
        .unwrap();
    for other in [activation, reset] {
        assert_eq!(store.ticket_account(other).await.unwrap(), Some(id));
        for _ in 0..MAX + 1 {
            assert_eq!(
                store
                    .mfa_login_totp(other, id, "active", Some(S + 1), MAX)
                    .await
                    .unwrap(),
                MfaLogin::InvalidTicket
            );
            assert_eq!(
                store
                    .mfa_login_recovery(other, id, &digests("a"), MAX)
                    .await
                    .unwrap(),
                MfaLogin::InvalidTicket
            );
        }
    }
    assert_eq!(store.mfa_state(id).await.unwrap().unwrap().last_step, S);

    let t = ticket(&store, id).await;
    assert_eq!(store.activate_with_ticket(t).await.unwrap(), None);
    assert_eq!(
        store
            .reset_password_with_ticket(t, "$scrypt$new")
            .await
            .unwrap(),
        None
    );
    // Each is left alone by the other kind's endpoint and still works at its own.
    assert_eq!(
        store.activate_with_ticket(activation).await.unwrap(),
        Some(id)
    );
    assert_eq!(
        store
            .mfa_login_totp(t, id, "active", Some(S + 1), MAX)
            .await
            .unwrap(),
        MfaLogin::Accepted
    );
    // (Last: a reset deletes the MFA login tickets issued under the old password.)
    let live = ticket(&store, id).await;
    assert_eq!(
        store
            .reset_password_with_ticket(reset, "$scrypt$new")
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(
        store
            .mfa_login_totp(live, id, "active", Some(S + 2), MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket
    );
}

#[tokio::test]
async fn recovery_codes_are_single_use_and_replaced_as_a_set() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = with_mfa(&store, "rc@example.com").await;
    let old = digests("old");
    assert_eq!(
        store
            .mfa_replace_recovery_codes(id, "active", S + 1, &old)
            .await
            .unwrap(),
        MfaChange::Done
    );
    assert_eq!(store.mfa_state(id).await.unwrap().unwrap().last_step, S + 1);
    let mut set: Vec<String> = raw.smembers(store.keys().recovery(id)).await.unwrap();
    set.sort();
    assert_eq!(set, old);
    assert_eq!(
        pttl(&mut raw, &store.keys().recovery(id)).await,
        -1,
        "no TTL"
    );

    // Candidates under several data keys: any one present is enough.
    let t = ticket(&store, id).await;
    let candidates = vec!["k0:unknown".to_string(), old[3].clone()];
    assert_eq!(
        store
            .mfa_login_recovery(t, id, &candidates, MAX)
            .await
            .unwrap(),
        MfaLogin::Accepted
    );
    let left: usize = raw.scard(store.keys().recovery(id)).await.unwrap();
    assert_eq!(left, 9);
    assert_eq!(
        store
            .mfa_login_recovery(t, id, &old[4..5], MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket,
        "the ticket is spent"
    );
    let t = ticket(&store, id).await;
    assert_eq!(
        store
            .mfa_login_recovery(t, id, &candidates, MAX)
            .await
            .unwrap(),
        MfaLogin::WrongCode,
        "a used code is spent"
    );

    // A new set invalidates every old code.
    let new = digests("new");
    assert_eq!(
        store
            .mfa_replace_recovery_codes(id, "active", S + 2, &new)
            .await
            .unwrap(),
        MfaChange::Done
    );
    assert_eq!(
        store
            .mfa_login_recovery(t, id, &old[5..6], MAX)
            .await
            .unwrap(),
        MfaLogin::WrongCode
    );
    assert_eq!(
        store
            .mfa_login_recovery(t, id, &new[0..1], MAX)
            .await
            .unwrap(),
        MfaLogin::Accepted
    );
    // An empty set is allowed (and leaves no codes).
    assert_eq!(
        store
            .mfa_replace_recovery_codes(id, "active", S + 3, &[])
            .await
            .unwrap(),
        MfaChange::Done
    );
    assert!(!exists(&mut raw, &store.keys().recovery(id)).await);
}

#[tokio::test]
async fn wrong_recovery_codes_count_against_the_ticket() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let id = with_mfa(&store, "rw@example.com").await;
    let codes = digests("c");
    store
        .mfa_replace_recovery_codes(id, "active", S + 1, &codes)
        .await
        .unwrap();
    let t = ticket(&store, id).await;
    // TOTP and recovery tries share the ticket's attempts.
    for _ in 0..2 {
        assert_eq!(
            store
                .mfa_login_totp(t, id, "active", None, MAX)
                .await
                .unwrap(),
            MfaLogin::WrongCode
        );
    }
    for _ in 0..3 {
        assert_eq!(
            store
                .mfa_login_recovery(t, id, &["k1:nope".to_string()], MAX)
                .await
                .unwrap(),
            MfaLogin::WrongCode
        );
    }
    assert!(!exists(&mut raw, &store.keys().ticket(id, t)).await);
    assert_eq!(
        store
            .mfa_login_recovery(t, id, &codes[..1], MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket
    );
    let left: usize = raw.scard(store.keys().recovery(id)).await.unwrap();
    assert_eq!(left, 10, "a burned ticket spends no code");
}

#[tokio::test]
async fn removing_an_account_deletes_its_mfa_keys() {
    let redis = TestRedis::start();
    let store = redis.store();
    let mut raw = redis.raw().await;
    let pending = registered(&store, "pend@example.com").await;
    store.mfa_set_pending(pending, "p", 10 * MIN).await.unwrap();
    let id = with_mfa(&store, "gone@example.com").await;
    store
        .mfa_replace_recovery_codes(id, "active", S + 1, &digests("a"))
        .await
        .unwrap();
    let tickets = [ticket(&store, id).await, ticket(&store, id).await];

    assert!(
        store
            .remove_account(pending, "pend@example.com")
            .await
            .unwrap()
    );
    assert!(store.remove_account(id, "gone@example.com").await.unwrap());
    let keys = [
        store.keys().mfa_pending(pending),
        store.keys().account(id),
        store.keys().recovery(id),
        store.keys().mfa_tickets(id),
        store.keys().ticket(id, tickets[0]),
        store.keys().ticket(id, tickets[1]),
    ];
    for key in keys {
        assert!(!exists(&mut raw, &key).await, "{key}");
    }
    let left: Vec<String> = raw.keys("t:{*").await.unwrap();
    assert!(left.is_empty(), "{left:?}");
    // Only the lookup pointers (another slot) remain, to expire; they lead nowhere.
    assert_eq!(
        store
            .mfa_login_totp(tickets[0], id, "active", Some(S + 2), MAX)
            .await
            .unwrap(),
        MfaLogin::InvalidTicket
    );
    assert_eq!(store.mfa_state(id).await.unwrap(), None);
    assert_eq!(
        store.mfa_enable(id, "active", S + 2).await.unwrap(),
        MfaChange::NotGenerated
    );
    assert!(!exists(&mut raw, &store.keys().account(id)).await);
}

#[tokio::test]
async fn mfa_operations_fail_as_unavailable_when_redis_is_gone() {
    let redis = TestRedis::start();
    let store = redis.store();
    let id = registered(&store, "down@example.com").await;
    drop(redis);
    let started = crate::clock::instant();
    assert!(matches!(
        store.mfa_state(id).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.mfa_login_totp(id, id, "x", Some(S), MAX).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(matches!(
        store.ticket_account(id).await,
        Err(StoreError::Unavailable(_))
    ));
    assert!(started.elapsed() < Duration::from_secs(12));
}
