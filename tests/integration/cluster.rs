//! Redis Cluster only (`EDGEAUTH_TEST_REDIS=cluster`; in single-node runs these tests return at
//! once): a master dies under traffic. Each test starts a cluster of its own, since it breaks it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use tokio::sync::Mutex;

use crate::support::cluster::Cluster;
use crate::support::jwt::sub;
use crate::support::{PASSWORD, Redis, TestServer, cluster_mode};

/// The account id of a JWT (no verification: the server did that).
/// (family id, generation) written in a refresh token (layout: `auth/refresh.rs`).
fn family_and_generation(token: &str) -> (uuid::Uuid, u64) {
    let bytes = URL_SAFE_NO_PAD
        .decode(token)
        .expect("refresh token base64url");
    let family = uuid::Uuid::from_slice(&bytes[21..37]).expect("family id");
    let generation = u64::from_be_bytes(bytes[37..45].try_into().expect("generation"));
    (family, generation)
}

/// One account's session as its client sees it.
struct Family {
    email: String,
    account: String,
    token: String,
    /// Refreshes answered 200.
    refreshed: u64,
}

/// What the traffic saw.
#[derive(Default)]
struct Seen {
    unavailable: Vec<Instant>,
    /// Anything but 200 and 503: a wrong answer.
    wrong: Vec<String>,
    ok: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_dies_under_traffic_and_no_session_is_lost_or_forked() {
    if !cluster_mode() {
        eprintln!("skipped: runs with EDGEAUTH_TEST_REDIS=cluster");
        return;
    }
    let cluster = Cluster::start();
    let s = Arc::new(
        TestServer::with_redis(
            Redis::on_cluster(&cluster),
            &[("EDGEAUTH_REDIS_TIMEOUT", "500ms")],
        )
        .await,
    );

    // Accounts with one session each, spread over the masters by their hash tags.
    let mut families = Vec::new();
    for i in 0..12 {
        let email = format!("failover{i}@example.com");
        s.create_account(&email).await;
        let (jwt, token) = s.login(&email).await;
        families.push(Arc::new(Mutex::new(Family {
            email,
            account: sub(&jwt),
            token,
            refreshed: 0,
        })));
    }
    // The victim: the master holding the most of them.
    let mut masters = Vec::new();
    for family in &families {
        let account = family.lock().await.account.clone();
        masters.push(cluster.master_of(&format!("{{{account}}}")));
    }
    let victim = *masters
        .iter()
        .max_by_key(|m| masters.iter().filter(|n| n == m).count())
        .expect("a master");

    // Traffic: per account, refreshes in a chain (always the newest token) and a login now and
    // then, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(std::sync::Mutex::new(Seen::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for family in &families {
        let (s, family, stop, seen) = (s.clone(), family.clone(), stop.clone(), seen.clone());
        tasks.spawn(async move {
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                let mut f = family.lock().await;
                let r = s
                    .post("/auth/token/refresh", json!({ "refresh_token": f.token }))
                    .await;
                let status = r.status;
                if status == 200 {
                    f.token = r.json()["refresh_token"]
                        .as_str()
                        .map(str::to_owned)
                        .or_else(|| r.refresh_cookie())
                        .expect("a new refresh token");
                    f.refreshed += 1;
                }
                let login = match round % 4 {
                    0 => Some(
                        s.post(
                            "/auth/login",
                            json!({"email": f.email, "password": PASSWORD}),
                        )
                        .await,
                    ),
                    _ => None,
                };
                drop(f);
                {
                    let mut seen = seen.lock().unwrap();
                    for (what, r) in [("refresh", Some(&r)), ("login", login.as_ref())] {
                        let Some(r) = r else { continue };
                        match r.status {
                            200 => seen.ok += 1,
                            503 => seen.unavailable.push(edgeauth::clock::instant()),
                            other => seen.wrong.push(format!("{what}: {other} {}", r.text)),
                        }
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let killed = edgeauth::clock::instant();
    cluster.kill(victim);
    // The other masters still answer: the replica stays ready (see Store::ping).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ready = s.send(s.http.get(s.admin_url("/readyz"))).await;
    assert_eq!(
        ready.status, 200,
        "readyz with one master down: {}",
        ready.text
    );
    // Until a replica has taken over the victim's slots and every live node agrees.
    let promoted = {
        let cluster = &cluster;
        tokio::task::block_in_place(|| {
            let deadline = edgeauth::clock::instant() + Duration::from_secs(30);
            loop {
                let masters = cluster
                    .roles()
                    .iter()
                    .filter(|(port, role)| role == "master" && *port != victim)
                    .count();
                if masters == 3 && cluster.wait_ok(Duration::from_millis(100)) {
                    return edgeauth::clock::instant();
                }
                assert!(
                    edgeauth::clock::instant() < deadline,
                    "no replica took over in 30 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // Traffic goes on a while on the new topology.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Relaxed);
    while let Some(done) = tasks.join_next().await {
        done.expect("traffic task");
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.wrong.is_empty(), "wrong answers: {:?}", seen.wrong);
    match (seen.unavailable.first(), seen.unavailable.last()) {
        (Some(first), Some(last)) => eprintln!(
            "failover: master {victim} killed; replica promoted after {:?}; 503s from {:?} to {:?} \
             after the kill (outage window {:?}, {} × 503, {} × 200)",
            promoted - killed,
            first.saturating_duration_since(killed),
            last.saturating_duration_since(killed),
            *last - *first,
            seen.unavailable.len(),
            seen.ok
        ),
        _ => eprintln!(
            "failover: master {victim} killed; replica promoted after {:?}; no 503 seen",
            promoted - killed
        ),
    }

    // Afterwards: every account logs in, and every session's chain goes on exactly once.
    for family in &families {
        let f = family.lock().await;
        s.login(&f.email).await;
        let (family_id, generation) = family_and_generation(&f.token);
        assert_eq!(
            generation, f.refreshed,
            "{}: each successful refresh advanced the chain by exactly one",
            f.email
        );
        let key = format!("edgeauth:{{{}}}:session:{family_id}", f.account);
        let stored = || -> Option<u64> {
            redis::cmd("HGET")
                .arg(&key)
                .arg("gen")
                .query(&mut s.redis.conn())
                .expect("HGET gen")
        };
        let before = stored().unwrap_or_else(|| panic!("{}: the session was lost", f.email));
        // One more than the client knows only when a refresh ran but its answer was a 503; the
        // reuse grace then hands the same successor to the retry below.
        assert!(
            before == generation || before == generation + 1,
            "{}: stored generation {before}, the client holds {generation}",
            f.email
        );
        let r = s
            .post("/auth/token/refresh", json!({ "refresh_token": f.token }))
            .await;
        assert_eq!(r.status, 200, "{}: {}", f.email, r.text);
        let next = r.json()["refresh_token"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| r.refresh_cookie())
            .expect("a new refresh token");
        let (next_family, next_generation) = family_and_generation(&next);
        assert_eq!(next_family, family_id);
        assert_eq!(next_generation, generation + 1);
        assert_eq!(stored(), Some(generation + 1), "{}", f.email);
    }
}

/// Resharding moves an account's slot to another master while its sessions are in use: during
/// the move (keys already moved: `ASK`) and after it (a stale slot map: `MOVED`), logins and
/// refreshes are answered right.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slot_moved_to_another_master_is_followed() {
    if !cluster_mode() {
        eprintln!("skipped: runs with EDGEAUTH_TEST_REDIS=cluster");
        return;
    }
    let cluster = Cluster::start();
    let s = TestServer::with_redis(Redis::on_cluster(&cluster), &[]).await;
    let email = "moving@example.com";
    let (jwt, mut token) = s.signed_in(email).await;
    let tag = format!("{{{}}}", sub(&jwt));
    let slot: i64 = cluster.node(cluster.masters()[0], &["CLUSTER", "KEYSLOT", &tag]);
    let slot = slot.to_string();
    let from = cluster.master_of(&tag);
    let to = *cluster
        .masters()
        .iter()
        .find(|&&m| m != from)
        .expect("another master");
    let id = |port| -> String { cluster.node(port, &["CLUSTER", "MYID"]) };
    let (from_id, to_id) = (id(from), id(to));

    let refresh = async |token: &mut String, when: &str| {
        let r = s
            .post("/auth/token/refresh", json!({ "refresh_token": *token }))
            .await;
        assert_eq!(r.status, 200, "refresh {when}: {}", r.text);
        *token = r.json()["refresh_token"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| r.refresh_cookie())
            .expect("a new refresh token");
    };

    // The move begins: the keys are all still on the old master, which serves them.
    let _: () = cluster.node(to, &["CLUSTER", "SETSLOT", &slot, "IMPORTING", &from_id]);
    let _: () = cluster.node(from, &["CLUSTER", "SETSLOT", &slot, "MIGRATING", &to_id]);
    refresh(&mut token, "while the slot is migrating").await;

    // Every key moved, the slot not yet handed over: the old master answers ASK.
    let keys: Vec<String> = cluster.node(from, &["CLUSTER", "GETKEYSINSLOT", &slot, "1000"]);
    assert!(keys.len() >= 3, "the account's keys: {keys:?}");
    let to_port = to.to_string();
    let mut migrate = vec!["MIGRATE", "127.0.0.1", &to_port, "", "0", "5000", "KEYS"];
    migrate.extend(keys.iter().map(String::as_str));
    let _: () = cluster.node(from, &migrate);
    refresh(&mut token, "after the keys moved (ASK)").await;
    // A login writes a new key (its session) next to existing ones, which Redis refuses while the
    // slot is split between two nodes (TRYAGAIN): a 503, never a wrong answer.
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 503, "login mid-migration: {}", r.text);

    // Handed over: the client's slot map is stale until a MOVED makes it reload.
    for port in cluster.masters() {
        let _: () = cluster.node(port, &["CLUSTER", "SETSLOT", &slot, "NODE", &to_id]);
    }
    refresh(&mut token, "after the hand-over (MOVED)").await;
    s.login(email).await;
    assert_eq!(cluster.master_of(&tag), to);
    let left: Vec<String> = cluster.node(from, &["CLUSTER", "GETKEYSINSLOT", &slot, "1000"]);
    assert!(
        left.is_empty(),
        "nothing written to the old master: {left:?}"
    );
}
