//! The admin API: off without tokens, only on the admin listener, tokens (wrong, missing,
//! rotated out), every endpoint's success and error paths, `admin.*` events with the actor's
//! fingerprint (never the token), unthrottling, and the listing of every account exactly once
//! (2,500 accounts, pages of 1000, registrations running meanwhile; also on a Redis Cluster with
//! `EDGEAUTH_TEST_REDIS=cluster`).

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use edgeauth::store::accounts::{NewAccount, Registration};
use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{PASSWORD, Reply, TempDir, TestServer, assert_error, now_ms};

const TOKEN: &str = "admin-token-0123456789abcdef0123456789abcdef";
const SECOND: &str = "second-admin-token-fedcba9876543210fedcba98765";

/// The fingerprint events name a token by: the first 8 bytes of its SHA-256, hex.
fn fingerprint(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = String::new();
    for b in &digest.as_ref()[..8] {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A server with the admin API on (tokens `TOKEN` and `SECOND`, in two files).
struct Admin {
    s: TestServer,
    _dir: TempDir,
}

async fn admin_server(extra: &[(&str, &str)]) -> Admin {
    let dir = TempDir::new();
    let one = dir.write("one.tokens", &format!("# operators\n\n{TOKEN}\n"));
    let two = dir.write("two.tokens", &format!("{SECOND}\n"));
    let files = format!("{},{}", one.display(), two.display());
    let mut settings = vec![("EDGEAUTH_ADMIN_TOKEN_FILES", files.as_str())];
    settings.extend_from_slice(extra);
    Admin {
        s: TestServer::with(&settings).await,
        _dir: dir,
    }
}

async fn call(s: &TestServer, method: Method, path: &str, token: Option<&str>) -> Reply {
    let mut request = s.http.request(method, s.admin_url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    s.send(request).await
}

async fn admin(s: &TestServer, method: Method, path: &str) -> Reply {
    call(s, method, path, Some(TOKEN)).await
}

async fn admin_json(s: &TestServer, path: &str, body: Value) -> Reply {
    s.send(
        s.http
            .post(s.admin_url(path))
            .bearer_auth(TOKEN)
            .json(&body),
    )
    .await
}

async fn account_id(s: &TestServer, email: &str) -> String {
    let r = admin(s, Method::GET, &format!("/admin/accounts?email={email}")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn login(s: &TestServer, email: &str, password: &str) -> Reply {
    s.post("/auth/login", json!({"email": email, "password": password}))
        .await
}

/// Every path and method of the admin API, with a well-formed id.
fn every_admin_call() -> Vec<(Method, String)> {
    let id = Uuid::new_v4();
    let mut calls = vec![
        (Method::GET, "/admin/accounts".to_owned()),
        (
            Method::GET,
            "/admin/accounts?email=a@example.com".to_owned(),
        ),
        (Method::GET, format!("/admin/accounts/{id}")),
        (Method::DELETE, format!("/admin/accounts/{id}")),
        (Method::DELETE, "/admin/rate-limits?ip=127.0.0.1".to_owned()),
    ];
    for action in ["lock", "unlock", "sign-out", "activate", "reset"] {
        calls.push((Method::POST, format!("/admin/accounts/{id}/{action}")));
    }
    calls
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_is_off_without_token_files() {
    let s = TestServer::start().await;
    let mut calls = every_admin_call();
    calls.push((Method::PUT, "/admin/accounts".to_owned()));
    calls.push((Method::GET, "/admin/nope".to_owned()));
    for (method, path) in calls {
        for token in [None, Some(TOKEN)] {
            let r = call(&s, method.clone(), &path, token).await;
            assert_error(&r, 404, "not_found");
        }
    }
    // Metrics and probes stay open as before.
    assert_eq!(
        s.send(s.http.get(s.admin_url("/metrics"))).await.status,
        200
    );
    assert_eq!(s.send(s.http.get(s.admin_url("/readyz"))).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_needs_one_of_the_tokens() {
    let a = admin_server(&[]).await;
    let s = &a.s;
    for (method, path) in every_admin_call() {
        for token in [None, Some("wrong-token-wrong-token-wrong-token-wrong")] {
            let r = call(s, method.clone(), &path, token).await;
            assert_error(&r, 401, "invalid_token");
            assert_eq!(
                r.header("www-authenticate").as_deref(),
                Some("Bearer error=\"invalid_token\""),
                "{method} {path}"
            );
        }
        // A token sent as another scheme is no token.
        let r = s
            .send(
                s.http
                    .request(method.clone(), s.admin_url(&path))
                    .header("authorization", format!("Basic {TOKEN}")),
            )
            .await;
        assert_error(&r, 401, "invalid_token");
    }
    for token in [TOKEN, SECOND] {
        let r = call(s, Method::GET, "/admin/accounts", Some(token)).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Known path, other method: 405 with Allow.
    let r = admin(s, Method::PUT, "/admin/accounts").await;
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow").as_deref(), Some("GET"));
    let r = admin(
        s,
        Method::POST,
        &format!("/admin/accounts/{}", Uuid::new_v4()),
    )
    .await;
    assert_eq!(r.header("allow").as_deref(), Some("GET, DELETE"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_never_answers_on_the_public_port() {
    let a = admin_server(&[]).await;
    let s = &a.s;
    s.create_account("public@example.com").await;
    for (method, path) in every_admin_call() {
        let r = s
            .send(
                s.http
                    .request(method.clone(), s.url(&path))
                    .bearer_auth(TOKEN),
            )
            .await;
        assert_error(&r, 404, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_out_admin_tokens_stop_working_after_a_restart() {
    let dir = TempDir::new();
    let one = dir.write("one.tokens", &format!("{TOKEN}\n"));
    let two = dir.write("two.tokens", &format!("{SECOND}\n"));
    let files = format!("{},{}", one.display(), two.display());
    let s = TestServer::with(&[("EDGEAUTH_ADMIN_TOKEN_FILES", &files)]).await;
    for token in [TOKEN, SECOND] {
        assert_eq!(
            call(&s, Method::GET, "/admin/accounts", Some(token))
                .await
                .status,
            200
        );
    }
    // TOKEN leaves the files: after the restart it no longer works, SECOND still does.
    dir.write("one.tokens", "# rotated out\n");
    let redis = s.into_redis().await;
    let s = TestServer::with_redis(redis, &[("EDGEAUTH_ADMIN_TOKEN_FILES", &files)]).await;
    assert_error(
        &call(&s, Method::GET, "/admin/accounts", Some(TOKEN)).await,
        401,
        "invalid_token",
    );
    assert_eq!(
        call(&s, Method::GET, "/admin/accounts", Some(SECOND))
            .await
            .status,
        200
    );
    // A token shorter than 32 characters refuses to start (exit status 2).
    dir.write("one.tokens", "short\n");
    let mut map = std::collections::HashMap::new();
    map.insert("EDGEAUTH_ADMIN_TOKEN_FILES".to_owned(), files.clone());
    map.insert("EDGEAUTH_REDIS_URL".to_owned(), s.redis.url());
    let config = edgeauth::config::Config::from_map(&map, true).expect("config");
    match edgeauth::app::App::build(config).await {
        Err(edgeauth::app::BuildError::Config(m)) => {
            assert!(m.contains("EDGEAUTH_ADMIN_TOKEN_FILES"), "{m}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a short admin token was accepted"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_finds_and_shows_account_summaries() {
    let a = admin_server(&[]).await;
    let s = &a.s;
    let email = "summary@example.com";
    s.signed_in(email).await;
    let r = admin(
        s,
        Method::GET,
        "/admin/accounts?email=%20Summary@Example.com",
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let found = r.json();
    let id = found["id"].as_str().unwrap().to_owned();
    assert_eq!(found["email"], email);
    assert_eq!(found["active"], true);
    assert_eq!(found["locked"], false);
    assert_eq!(found["locked_reason"], Value::Null);
    assert_eq!(found["mfa"], false);
    assert_eq!(found["passkeys"], 0);
    assert_eq!(found["sessions"], 1);
    let created = found["created_at"].as_u64().unwrap();
    assert!(
        created <= now_ms() && created > now_ms() - 60_000,
        "{found}"
    );
    let last_login = found["last_login_at"].as_u64().unwrap();
    assert!(last_login >= created && last_login <= now_ms(), "{found}");
    let shown = admin(s, Method::GET, &format!("/admin/accounts/{id}")).await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json(), found);
    // Unknown: 404; malformed: 400.
    assert_error(
        &admin(s, Method::GET, "/admin/accounts?email=nobody@example.com").await,
        404,
        "not_found",
    );
    assert_error(
        &admin(s, Method::GET, "/admin/accounts?email=not-an-email").await,
        400,
        "invalid_email",
    );
    assert_error(
        &admin(
            s,
            Method::GET,
            &format!("/admin/accounts/{}", Uuid::new_v4()),
        )
        .await,
        404,
        "not_found",
    );
    for bad in [
        "nope",
        "0B5F1C9E-8F0E-4A57-9D53-6F7F2B0A1C2D",
        "0b5f1c9e8f0e4a579d536f7f2b0a1c2d",
    ] {
        assert_error(
            &admin(s, Method::GET, &format!("/admin/accounts/{bad}")).await,
            400,
            "invalid_request",
        );
        assert_error(
            &admin(s, Method::POST, &format!("/admin/accounts/{bad}/sign-out")).await,
            400,
            "invalid_request",
        );
    }
    for query in [
        "limit=0",
        "limit=1001",
        "limit=x",
        "cursor=garbage",
        "cursor=MTY6",
    ] {
        assert_error(
            &admin(s, Method::GET, &format!("/admin/accounts?{query}")).await,
            400,
            "invalid_request",
        );
    }
    let page = admin(s, Method::GET, "/admin/accounts?limit=1000")
        .await
        .json();
    assert_eq!(page["accounts"].as_array().unwrap().len(), 1);
    assert_eq!(page["accounts"][0], found);
    assert_eq!(page["next_cursor"], Value::Null);
}

/// The admin events of `kind`, checked to carry `actor` = the fingerprint of `token`.
fn admin_events(
    s: &TestServer,
    kind: &str,
    token: &str,
) -> Vec<std::collections::HashMap<String, String>> {
    let events = s.redis.events_of(kind);
    for e in &events {
        assert_eq!(e.get("actor"), Some(&fingerprint(token)), "{kind}: {e:?}");
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_actions_sign_out_activate_reset_delete() {
    let a = admin_server(&[]).await;
    let s = &a.s;
    let missing = Uuid::new_v4();
    for action in ["sign-out", "activate", "reset"] {
        assert_error(
            &admin(
                s,
                Method::POST,
                &format!("/admin/accounts/{missing}/{action}"),
            )
            .await,
            404,
            "not_found",
        );
    }
    assert_error(
        &admin(s, Method::DELETE, &format!("/admin/accounts/{missing}")).await,
        404,
        "not_found",
    );

    // sign-out: every session family ends.
    let email = "actions@example.com";
    let (_, refresh) = s.signed_in(email).await;
    let (_, refresh2) = s.login(email).await;
    let id = account_id(s, email).await;
    let r = admin(s, Method::POST, &format!("/admin/accounts/{id}/sign-out")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    for token in [refresh, refresh2] {
        let r = s.post_cookie("/auth/token/refresh", &token).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    let summary = admin(s, Method::GET, &format!("/admin/accounts/{id}"))
        .await
        .json();
    assert_eq!(summary["sessions"], 0);
    let events = admin_events(s, "admin.sign_out", TOKEN);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["user_id"], id);

    // activate: without a ticket.
    let pending = "pending@example.com";
    let r = s
        .post(
            "/auth/register",
            json!({"email": pending, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_error(&login(s, pending, PASSWORD).await, 403, "account_inactive");
    let pending_id = account_id(s, pending).await;
    let r = call(
        s,
        Method::POST,
        &format!("/admin/accounts/{pending_id}/activate"),
        Some(SECOND),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(login(s, pending, PASSWORD).await.status, 200);
    let events = admin_events(s, "admin.activate", SECOND);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["user_id"], pending_id);

    // reset: password.reset_requested with a fresh ticket that works.
    let r = admin(s, Method::POST, &format!("/admin/accounts/{id}/reset")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let ticket = s.redis.ticket("password.reset_requested", email);
    let r = s
        .post(
            "/auth/account/forgot",
            json!({"ticket": ticket, "new_password": "a brand new passphrase"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(login(s, email, "a brand new passphrase").await.status, 200);
    assert_eq!(admin_events(s, "admin.reset", TOKEN).len(), 1);

    // delete: as self-removal.
    let r = admin(s, Method::DELETE, &format!("/admin/accounts/{id}")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_error(
        &login(s, email, "a brand new passphrase").await,
        401,
        "invalid_credentials",
    );
    assert_error(
        &admin(s, Method::GET, &format!("/admin/accounts/{id}")).await,
        404,
        "not_found",
    );
    assert_error(
        &admin(s, Method::DELETE, &format!("/admin/accounts/{id}")).await,
        404,
        "not_found",
    );
    assert!(
        s.redis
            .events_of("account.removed")
            .iter()
            .any(|e| e["user_id"] == id)
    );
    let events = admin_events(s, "admin.delete", TOKEN);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["user_id"], id);
    // The address is free again.
    s.create_account(email).await;
    let page = admin(s, Method::GET, "/admin/accounts").await.json();
    let ids: Vec<&str> = page["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{page}");
    assert!(!ids.contains(&id.as_str()));

    // Never the token itself: not in any event, nor anywhere in Redis.
    for token in [TOKEN, SECOND] {
        assert!(
            !crate::support::contains_bytes(&s.redis.contents(), token.as_bytes()),
            "an admin token is stored in Redis"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unthrottle_lets_a_rate_limited_email_log_in_again() {
    let a = admin_server(&[
        ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "2/1h"),
        ("EDGEAUTH_RATE_LOGIN_PER_IP", "5/1h"),
    ])
    .await;
    let s = &a.s;
    let email = "throttled@example.com";
    s.create_account(email).await;
    for _ in 0..2 {
        assert_eq!(login(s, email, "wrong password").await.status, 401);
    }
    assert_eq!(login(s, email, PASSWORD).await.status, 429);
    let r = admin(
        s,
        Method::DELETE,
        "/admin/rate-limits?email=Throttled@example.com",
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(login(s, email, PASSWORD).await.status, 200);
    let events = admin_events(s, "admin.unthrottle", TOKEN);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["user_id"], account_id(s, email).await);

    // The IP's budget (5 attempts: 4 used above) runs out; clearing it lets it in again.
    assert_eq!(login(s, email, PASSWORD).await.status, 200);
    assert_eq!(login(s, email, PASSWORD).await.status, 429);
    let r = admin(s, Method::DELETE, "/admin/rate-limits?ip=127.0.0.1").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(login(s, email, PASSWORD).await.status, 200);
    assert_eq!(admin_events(s, "admin.unthrottle", TOKEN).len(), 2);

    for query in [
        "",
        "?email=a@example.com&ip=127.0.0.1",
        "?ip=not-an-ip",
        "?email=nope",
    ] {
        let r = admin(s, Method::DELETE, &format!("/admin/rate-limits{query}")).await;
        assert_eq!(r.status, 400, "{query}: {}", r.text);
    }
}

/// Registers `count` accounts straight through the store's registration path (the one the API
/// uses, without a password hash per account), `lanes` at a time; their ids.
async fn register_many(s: &TestServer, prefix: &str, count: usize, lanes: usize) -> Vec<Uuid> {
    let hash = Arc::new(s.app.hasher.hash(PASSWORD).await.unwrap());
    let mut set = tokio::task::JoinSet::new();
    for lane in 0..lanes {
        let app = s.app.clone();
        let hash = hash.clone();
        let prefix = prefix.to_owned();
        set.spawn(async move {
            let mut ids = Vec::new();
            for i in (lane..count).step_by(lanes) {
                let id = Uuid::new_v4();
                let email = format!("{prefix}{i}@example.com");
                let r = app
                    .store
                    .register(NewAccount {
                        id,
                        email: &email,
                        password: &hash,
                        active: true,
                        now_ms: now_ms(),
                    })
                    .await
                    .unwrap();
                assert_eq!(r, Registration::Created);
                ids.push(id);
            }
            ids
        });
    }
    set.join_all().await.into_iter().flatten().collect()
}

/// Walks every page (`limit` 1000): the ids in order of appearance.
async fn walk(s: &TestServer) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..100 {
        let path = match &cursor {
            Some(c) => format!("/admin/accounts?limit=1000&cursor={c}"),
            None => "/admin/accounts?limit=1000".to_owned(),
        };
        let r = admin(s, Method::GET, &path).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let page = r.json();
        let accounts = page["accounts"].as_array().unwrap();
        assert!(accounts.len() <= 1000);
        ids.extend(
            accounts
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
    panic!("the walk did not end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_gives_every_account_exactly_once_while_registrations_run() {
    let a = admin_server(&[]).await;
    let s = &a.s;
    let before: BTreeSet<String> = register_many(s, "user", 2500, 25)
        .await
        .into_iter()
        .map(|id| id.to_string())
        .collect();
    assert_eq!(before.len(), 2500);

    // Nothing changing: each account exactly once, none missing.
    let ids = walk(s).await;
    let seen: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), seen.len(), "an account came twice");
    assert_eq!(seen, before);

    // With registrations running meanwhile: the old ones exactly once, new ones at most once.
    let stop = Arc::new(AtomicBool::new(false));
    let registering = {
        let app = s.app.clone();
        let stop = stop.clone();
        let hash = s.app.hasher.hash(PASSWORD).await.unwrap();
        tokio::spawn(async move {
            let mut made = HashSet::new();
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) || i < 50 {
                let id = Uuid::new_v4();
                let email = format!("late{i}@example.com");
                let r = app
                    .store
                    .register(NewAccount {
                        id,
                        email: &email,
                        password: &hash,
                        active: false,
                        now_ms: now_ms(),
                    })
                    .await
                    .unwrap();
                assert_eq!(r, Registration::Created);
                made.insert(id.to_string());
                i += 1;
            }
            made
        })
    };
    let ids = walk(s).await;
    stop.store(true, Ordering::Relaxed);
    let late = registering.await.unwrap();
    let seen: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), seen.len(), "an account came twice");
    assert!(before.is_subset(&seen), "an account went missing");
    assert!(
        seen.difference(&before).all(|id| late.contains(id)),
        "an id that is no account"
    );
    // Afterwards, every one of them.
    let all = walk(s).await;
    assert_eq!(all.len(), 2500 + late.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_made_before_the_index_are_backfilled() {
    let a = admin_server(&[]).await;
    let s = &a.s;
    let ids: BTreeSet<String> = register_many(s, "old", 40, 4)
        .await
        .into_iter()
        .map(|id| id.to_string())
        .collect();
    // As an older version left them: no index at all.
    let mut conn = s.redis.conn();
    for shard in 0..16 {
        let _: () = redis::cmd("DEL")
            .arg(format!("edgeauth:{{account_index:{shard:x}}}"))
            .query(&mut conn)
            .unwrap();
    }
    let _: () = redis::cmd("DEL")
        .arg("edgeauth:account_index:ready")
        .query(&mut conn)
        .unwrap();
    let seen = walk(s).await;
    assert_eq!(seen.len(), 40);
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_lock_and_unlock() {
    let a = admin_server(&[]).await;
    let s = &a.s;
    let email = "locked@example.com";
    let (_, refresh) = s.signed_in(email).await;
    let id = account_id(s, email).await;
    let missing = Uuid::new_v4();
    assert_error(
        &admin_json(
            s,
            &format!("/admin/accounts/{missing}/lock"),
            json!({"reason": "x"}),
        )
        .await,
        404,
        "not_found",
    );
    assert_error(
        &admin(
            s,
            Method::POST,
            &format!("/admin/accounts/{missing}/unlock"),
        )
        .await,
        404,
        "not_found",
    );
    // The reason is required.
    for body in [json!({}), json!({"reason": 7})] {
        assert_error(
            &admin_json(s, &format!("/admin/accounts/{id}/lock"), body).await,
            400,
            "invalid_request",
        );
    }
    assert_error(
        &admin(s, Method::POST, &format!("/admin/accounts/{id}/lock")).await,
        400,
        "invalid_request",
    );

    let r = admin_json(
        s,
        &format!("/admin/accounts/{id}/lock"),
        json!({"reason": "chargeback fraud"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let summary = admin(s, Method::GET, &format!("/admin/accounts/{id}"))
        .await
        .json();
    assert_eq!(summary["locked"], true);
    assert_eq!(summary["locked_reason"], "chargeback fraud");
    assert_eq!(summary["sessions"], 0);
    assert_error(&login(s, email, PASSWORD).await, 403, "account_locked");
    assert_error(
        &s.post_cookie("/auth/token/refresh", &refresh).await,
        403,
        "account_locked",
    );
    let events = admin_events(s, "admin.lock", TOKEN);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["user_id"], id);

    let r = call(
        s,
        Method::POST,
        &format!("/admin/accounts/{id}/unlock"),
        Some(SECOND),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let summary = admin(s, Method::GET, &format!("/admin/accounts/{id}"))
        .await
        .json();
    assert_eq!(summary["locked"], false);
    assert_eq!(summary["locked_reason"], Value::Null);
    assert_eq!(login(s, email, PASSWORD).await.status, 200);
    let events = admin_events(s, "admin.unlock", SECOND);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["user_id"], id);
}
