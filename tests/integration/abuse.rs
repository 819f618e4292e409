//! Abuse protection: rate limits kept in Redis (failed
//! logins per email, logins / registrations / ticket requests per client IP,
//! shared by replicas, expiring with their window, counted on `/metrics`),
//! the client IP behind trusted and untrusted proxies, equal work for an
//! unknown email and a wrong password (hash count and Redis commands), and
//! the bounded password-hash queue (503 past it, probes never starved).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::jwt::claims;
use crate::support::keys::{command_calls, reset_stats};
use crate::support::metrics::sample;
use crate::support::{PASSWORD, Redis, Reply, TestServer, assert_limited};

const WRONG: &str = "not the password";

const RATE_LIMITED: &str = r#"edgeauth_auth_outcomes_total{kind="rate_limited"}"#;
const HASHES: &str = "edgeauth_password_hash_duration_seconds_count";
const HASH_SECONDS: &str = "edgeauth_password_hash_duration_seconds_sum";
const QUEUE_DEPTH: &str = "edgeauth_password_hash_queue_depth";

/// POST with an optional `X-Forwarded-For`.
async fn post_from(s: &TestServer, path: &str, body: Value, xff: Option<&str>) -> Reply {
    let mut request = s.http.post(s.url(path)).json(&body);
    if let Some(xff) = xff {
        request = request.header("x-forwarded-for", xff);
    }
    s.send(request).await
}

async fn login(s: &TestServer, email: &str, password: &str) -> Reply {
    s.post("/auth/login", json!({"email": email, "password": password}))
        .await
}

async fn login_from(s: &TestServer, email: &str, password: &str, xff: Option<&str>) -> Reply {
    post_from(
        s,
        "/auth/login",
        json!({"email": email, "password": password}),
        xff,
    )
    .await
}

/// The `ip` recorded in the session metadata of the session of `jwt`.
fn session_ip(s: &TestServer, jwt: &str) -> String {
    let c = claims(jwt);
    let key = format!(
        "edgeauth:{{{}}}:session:{}",
        c["sub"].as_str().expect("sub"),
        c["sid"].as_str().expect("sid")
    );
    let ip: Option<String> = redis::cmd("HGET")
        .arg(&key)
        .arg("ip")
        .query(&mut s.redis.conn())
        .expect("HGET");
    ip.unwrap_or_else(|| panic!("no ip in {key}"))
}

// ---------------------------------------------------------------- rate limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_logins_per_email_are_limited_even_for_the_right_password() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "3/1m")]).await;
    let email = "victim@example.com";
    s.create_account(email).await;
    for i in 1..=3 {
        let r = login(&s, email, WRONG).await;
        assert_eq!(r.status, 401, "wrong password #{i}: {}", r.text);
        assert_eq!(r.error(), "invalid_credentials");
    }
    let hashes = s.metric(HASHES).await;
    let right = login(&s, email, PASSWORD).await;
    assert_limited(&right, 60, "4th attempt, right password");
    assert!(
        right.refresh_cookie().is_none(),
        "a limited login set a cookie"
    );
    assert_limited(
        &login(&s, email, WRONG).await,
        60,
        "5th attempt, wrong password",
    );
    // Refused before any work: no hash, no login.failed event for them.
    assert_eq!(s.metric(HASHES).await, hashes, "a limited login hashed");
    assert_eq!(s.redis.events_of("login.failed").len(), 3);
    // Email matching is on the normalized address.
    assert_limited(
        &login(&s, "  VICTIM@Example.COM ", PASSWORD).await,
        60,
        "same email, other spelling",
    );
    // Another email is not affected.
    s.create_account("bystander@example.com").await;
    assert_eq!(
        login(&s, "bystander@example.com", PASSWORD).await.status,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_wrong_passwords_get_no_more_guesses_than_the_limit() {
    let s = TestServer::with(&[
        ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "3/1m"),
        ("EDGEAUTH_HASH_QUEUE", "100"),
    ])
    .await;
    let email = "parallel@example.com";
    s.create_account(email).await;
    let hashes = s.metric(HASHES).await;
    let mut set = JoinSet::new();
    for _ in 0..20 {
        spawn_login(&mut set, &s, email.to_owned());
    }
    let replies = set.join_all().await;
    let mut statuses = BTreeMap::<u16, usize>::new();
    for r in &replies {
        *statuses.entry(r.status).or_default() += 1;
    }
    // Exactly the allowance is checked; every other guess is refused unseen.
    assert_eq!(statuses.get(&401), Some(&3), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&17), "{statuses:?}");
    assert_eq!(s.metric(HASHES).await - hashes, 3.0, "passwords checked");
    assert_eq!(s.redis.events_of("login.failed").len(), 3);
    assert_limited(&login(&s, email, PASSWORD).await, 60, "after the burst");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn successful_logins_do_not_count_against_the_email() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "3/1m")]).await;
    let email = "regular@example.com";
    s.create_account(email).await;
    for i in 1..=10 {
        let r = login(&s, email, PASSWORD).await;
        assert_eq!(r.status, 200, "successful login #{i}: {}", r.text);
    }
    // The limit is live all the same.
    for _ in 0..3 {
        assert_eq!(login(&s, email, WRONG).await.status, 401);
    }
    assert_limited(&login(&s, email, PASSWORD).await, 60, "after 3 failures");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_emails_are_limited_like_known_ones() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "3/1m")]).await;
    let email = "nobody@example.com";
    for i in 1..=3 {
        let r = login(&s, email, WRONG).await;
        assert_eq!(r.status, 401, "unknown email #{i}: {}", r.text);
        assert_eq!(r.error(), "invalid_credentials");
    }
    let hashes = s.metric(HASHES).await;
    assert_limited(
        &login(&s, email, WRONG).await,
        60,
        "4th unknown-email attempt",
    );
    assert_eq!(s.metric(HASHES).await, hashes, "a limited login hashed");
    // Registering the address now does not lift the limit on it.
    s.create_account(email).await;
    assert_limited(
        &login(&s, email, PASSWORD).await,
        60,
        "right password on the limited address",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_per_ip_are_limited() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_LOGIN_PER_IP", "3/1m")]).await;
    s.create_account("ip-limited@example.com").await;
    // Successes and failures, known and unknown emails: every attempt counts.
    assert_eq!(
        login(&s, "ip-limited@example.com", PASSWORD).await.status,
        200
    );
    assert_eq!(login(&s, "a@example.com", WRONG).await.status, 401);
    assert_eq!(login(&s, "b@example.com", WRONG).await.status, 401);
    let hashes = s.metric(HASHES).await;
    assert_limited(
        &login(&s, "ip-limited@example.com", PASSWORD).await,
        60,
        "4th login from the IP",
    );
    assert_limited(
        &login(&s, "c@example.com", WRONG).await,
        60,
        "5th login from the IP",
    );
    assert_eq!(s.metric(HASHES).await, hashes, "a limited login hashed");
    // Other endpoints have their own counters.
    let r = s.forgot_request("ip-limited@example.com").await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_per_ip_are_limited_and_the_refused_one_stores_nothing() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_REGISTER_PER_IP", "2/1m")]).await;
    for email in ["r1@example.com", "r2@example.com"] {
        let r = s
            .post(
                "/auth/register",
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert_eq!(r.status, 204, "{email}: {}", r.text);
    }
    let hashes = s.metric(HASHES).await;
    let keys_before = s.redis.keys("*");
    let r = s
        .post(
            "/auth/register",
            json!({"email": "r3@example.com", "password": PASSWORD}),
        )
        .await;
    assert_limited(&r, 60, "3rd registration");
    // A taken email is refused the same way (no account.exists event).
    let r = s
        .post(
            "/auth/register",
            json!({"email": "r1@example.com", "password": PASSWORD}),
        )
        .await;
    assert_limited(&r, 60, "4th registration (taken email)");
    assert_eq!(
        s.metric(HASHES).await,
        hashes,
        "a refused registration hashed"
    );
    assert_eq!(s.redis.events().len(), 2, "{:?}", s.redis.events());
    assert!(s.redis.events_of("account.exists").is_empty());
    assert_eq!(s.redis.keys("edgeauth:email:*").len(), 2);
    // Only the rate counter changed (its value): no key appeared.
    assert_eq!(s.redis.keys("*"), keys_before, "keys changed");
    let r = s
        .post(
            "/auth/login",
            json!({"email": "r3@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 401, "the refused registration exists: {}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_requests_per_ip_are_limited() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_IP", "2/1m")]).await;
    let email = "inactive@example.com";
    let r = s
        .post(
            "/auth/register",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for i in 1..=2 {
        let r = s
            .post("/auth/account/activate/request", json!({ "email": email }))
            .await;
        assert_eq!(r.status, 204, "request #{i}: {}", r.text);
    }
    assert_eq!(s.redis.events_of("account.activation_requested").len(), 2);
    let tickets_before = s.redis.keys("*ticket*");
    let r = s
        .post("/auth/account/activate/request", json!({ "email": email }))
        .await;
    assert_limited(&r, 60, "3rd activation request");
    let r = s
        .post(
            "/auth/account/activate/request",
            json!({ "email": "someone-else@example.com" }),
        )
        .await;
    assert_limited(&r, 60, "4th activation request (other email)");
    assert_eq!(s.redis.events_of("account.activation_requested").len(), 2);
    assert_eq!(
        s.redis.keys("*ticket*"),
        tickets_before,
        "a ticket was stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_requests_per_ip_are_limited() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_FORGOT_REQUEST_PER_IP", "2/1m")]).await;
    let email = "forgetful@example.com";
    s.create_account(email).await;
    for i in 1..=2 {
        let r = s.forgot_request(email).await;
        assert_eq!(r.status, 204, "request #{i}: {}", r.text);
    }
    assert_eq!(s.redis.events_of("password.reset_requested").len(), 2);
    let tickets_before = s.redis.keys("*ticket*");
    let r = s.forgot_request(email).await;
    assert_limited(&r, 60, "3rd reset request");
    let r = s.forgot_request("unknown@example.com").await;
    assert_limited(&r, 60, "4th reset request (unknown email)");
    assert_eq!(s.redis.events_of("password.reset_requested").len(), 2);
    assert_eq!(
        s.redis.keys("*ticket*"),
        tickets_before,
        "a ticket was stored"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_are_shared_by_replicas_on_one_redis() {
    let settings = [
        ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "3/1m"),
        ("EDGEAUTH_RATE_REGISTER_PER_IP", "2/1m"),
    ];
    let a = TestServer::with(&settings).await;
    let b = TestServer::with_redis(a.redis.shared(), &settings).await;
    let email = "shared@example.com";
    a.create_account(email).await;
    assert_eq!(login(&a, email, WRONG).await.status, 401);
    assert_eq!(login(&b, email, WRONG).await.status, 401);
    assert_eq!(login(&a, email, WRONG).await.status, 401);
    assert_limited(&login(&b, email, PASSWORD).await, 60, "replica b, 4th");
    assert_limited(&login(&a, email, PASSWORD).await, 60, "replica a, 5th");

    // create_account used one registration of the IP's two.
    let r = b
        .post(
            "/auth/register",
            json!({"email": "second@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for (name, s) in [("a", &a), ("b", &b)] {
        let r = s
            .post(
                "/auth/register",
                json!({"email": "third@example.com", "password": PASSWORD}),
            )
            .await;
        assert_limited(&r, 60, &format!("3rd registration on replica {name}"));
    }
    // Each replica counts only what it refused itself.
    assert_eq!(a.metric(RATE_LIMITED).await, 2.0);
    assert_eq!(b.metric(RATE_LIMITED).await, 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_keys_expire_within_their_window_and_hide_their_subject() {
    let windows: [(&str, &str, &str, u64); 7] = [
        (
            "login_email",
            "EDGEAUTH_RATE_LOGIN_PER_EMAIL",
            "50/1m",
            60_000,
        ),
        ("login_ip", "EDGEAUTH_RATE_LOGIN_PER_IP", "50/2m", 120_000),
        (
            "register_ip",
            "EDGEAUTH_RATE_REGISTER_PER_IP",
            "50/3m",
            180_000,
        ),
        (
            "activate_ip",
            "EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_IP",
            "50/4m",
            240_000,
        ),
        (
            "forgot_ip",
            "EDGEAUTH_RATE_FORGOT_REQUEST_PER_IP",
            "50/5m",
            300_000,
        ),
        (
            "activate_email",
            "EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_EMAIL",
            "50/6m",
            360_000,
        ),
        (
            "forgot_email",
            "EDGEAUTH_RATE_FORGOT_REQUEST_PER_EMAIL",
            "50/7m",
            420_000,
        ),
    ];
    let settings: Vec<(&str, &str)> = windows.iter().map(|(_, var, v, _)| (*var, *v)).collect();
    let s = TestServer::with(&settings).await;
    let email = "keys@example.com";
    s.create_account(email).await;
    assert_eq!(login(&s, email, WRONG).await.status, 401);
    assert_eq!(login(&s, email, PASSWORD).await.status, 200);
    let r = s
        .post("/auth/account/activate/request", json!({ "email": email }))
        .await;
    assert_eq!(r.status, 204);
    let r = s.forgot_request(email).await;
    assert_eq!(r.status, 204);

    let all = s.redis.keys("*");
    let rate_keys: Vec<&String> = all.iter().filter(|k| k.contains(":rate:")).collect();
    assert_eq!(rate_keys.len(), 7, "one counter per kind: {rate_keys:?}");
    let mut conn = s.redis.conn();
    for (kind, _, _, window_ms) in windows {
        let key = rate_keys
            .iter()
            .find(|k| k.contains(&format!(":{kind}:")))
            .unwrap_or_else(|| panic!("no {kind} counter among {rate_keys:?}"));
        let subject = key.rsplit(':').next().unwrap_or_default();
        assert!(
            subject.len() >= 32 && subject.bytes().all(|b| b.is_ascii_hexdigit()),
            "{key}: the subject is not a digest"
        );
        for secret in ["keys", "example", "127.0.0.1"] {
            assert!(!key.contains(secret), "{key} names its subject ({secret})");
        }
        let pttl: i64 = redis::cmd("PTTL")
            .arg(key.as_str())
            .query(&mut conn)
            .expect("PTTL");
        assert!(
            pttl > 0 && pttl as u64 <= window_ms,
            "{key}: PTTL {pttl} not in (0, {window_ms}]"
        );
    }
    // The counts: 2 logins from the IP, 1 failure for the email.
    let count = |kind: &str| -> i64 {
        let key = rate_keys
            .iter()
            .find(|k| k.contains(&format!(":{kind}:")))
            .expect("key");
        redis::cmd("GET")
            .arg(key.as_str())
            .query(&mut s.redis.conn())
            .expect("GET")
    };
    assert_eq!(count("login_ip"), 2);
    assert_eq!(count("login_email"), 1);
    assert_eq!(count("register_ip"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_lift_when_the_window_ends() {
    let s = TestServer::with(&[
        ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "2/1s"),
        ("EDGEAUTH_RATE_REGISTER_PER_IP", "2/1s"),
    ])
    .await;
    let email = "patient@example.com";
    s.create_account(email).await;
    let r = s
        .post(
            "/auth/register",
            json!({"email": "other@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s
        .post(
            "/auth/register",
            json!({"email": "third@example.com", "password": PASSWORD}),
        )
        .await;
    assert_limited(&r, 1, "3rd registration within 1 s");
    for _ in 0..2 {
        assert_eq!(login(&s, email, WRONG).await.status, 401);
    }
    assert_limited(&login(&s, email, PASSWORD).await, 1, "3rd login within 1 s");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = login(&s, email, PASSWORD).await;
    assert_eq!(r.status, 200, "after the window: {}", r.text);
    let r = s
        .post(
            "/auth/register",
            json!({"email": "third@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "after the window: {}", r.text);
    // The 1 s counters that exist now belong to new windows.
    let mut conn = s.redis.conn();
    let short = s.redis.keys("*:rate:*");
    let short = short
        .iter()
        .filter(|k| k.contains(":login_email:") || k.contains(":register_ip:"));
    for key in short {
        let pttl: i64 = redis::cmd("PTTL").arg(key).query(&mut conn).expect("PTTL");
        assert!(pttl > 0 && pttl <= 1000, "{key}: PTTL {pttl}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_requests_are_counted_on_metrics() {
    let s = TestServer::with(&[
        ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "1/1m"),
        ("EDGEAUTH_RATE_LOGIN_PER_IP", "3/1m"),
        ("EDGEAUTH_RATE_REGISTER_PER_IP", "1/1m"),
        ("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_IP", "1/1m"),
        ("EDGEAUTH_RATE_FORGOT_REQUEST_PER_IP", "1/1m"),
    ])
    .await;
    assert_eq!(s.metric(RATE_LIMITED).await, 0.0);
    // Per email (2 refusals), then per IP (1).
    assert_eq!(login(&s, "m@example.com", WRONG).await.status, 401);
    assert_eq!(login(&s, "m@example.com", WRONG).await.status, 429);
    assert_eq!(login(&s, "m@example.com", PASSWORD).await.status, 429);
    assert_eq!(login(&s, "n@example.com", WRONG).await.status, 429);
    for (path, body) in [
        (
            "/auth/register",
            json!({"email": "m@example.com", "password": PASSWORD}),
        ),
        (
            "/auth/account/activate/request",
            json!({"email": "m@example.com"}),
        ),
        (
            "/auth/account/forgot/request",
            json!({"email": "m@example.com"}),
        ),
    ] {
        assert_eq!(s.post(path, body.clone()).await.status, 204, "{path}");
        assert_eq!(s.post(path, body).await.status, 429, "{path}");
    }
    assert_eq!(s.metric(RATE_LIMITED).await, 6.0);
    assert_eq!(
        s.metric(r#"edgeauth_auth_outcomes_total{kind="login_failure"}"#)
            .await,
        1.0
    );
}

// ------------------------------------------------------------------ client IP

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spoofed_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_LOGIN_PER_IP", "3/1m")]).await;
    let email = "spoofer@example.com";
    s.create_account(email).await;
    let r = login_from(&s, email, PASSWORD, Some("9.9.9.9")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(session_ip(&s, &r.jwt()), "127.0.0.1");
    for xff in ["10.0.0.1", "1.1.1.1, 2.2.2.2"] {
        let r = login_from(&s, "x@example.com", WRONG, Some(xff)).await;
        assert_eq!(r.status, 401, "{xff}: {}", r.text);
    }
    for xff in ["3.3.3.3", "4.4.4.4", "::1", "garbage"] {
        let r = login_from(&s, "x@example.com", WRONG, Some(xff)).await;
        assert_limited(&r, 60, &format!("spoofed XFF {xff}"));
    }
    for (path, body) in [
        (
            "/auth/register",
            json!({"email": "y@example.com", "password": PASSWORD}),
        ),
        ("/auth/account/forgot/request", json!({"email": email})),
    ] {
        let r = post_from(&s, path, body, Some("5.6.7.8")).await;
        assert_eq!(r.status, 204, "{path}: {}", r.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_from_a_trusted_proxy_names_the_client() {
    let s = TestServer::with(&[
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("EDGEAUTH_RATE_LOGIN_PER_IP", "2/1m"),
    ])
    .await;
    for _ in 0..2 {
        let r = login_from(&s, "x@example.com", WRONG, Some("2.2.2.2")).await;
        assert_eq!(r.status, 401, "{}", r.text);
    }
    // The right-most hop that is not a trusted proxy is the client.
    for xff in ["2.2.2.2", "1.1.1.1, 2.2.2.2", "1.1.1.1, 2.2.2.2, 127.0.0.1"] {
        let r = login_from(&s, "x@example.com", WRONG, Some(xff)).await;
        assert_limited(&r, 60, &format!("XFF {xff:?} counts as 2.2.2.2"));
    }
    // Other clients have their own counters.
    for xff in ["3.3.3.3", "1.1.1.1", "2.2.2.2, 1.1.1.1"] {
        let r = login_from(&s, "x@example.com", WRONG, Some(xff)).await;
        assert_eq!(r.status, 401, "XFF {xff:?}: {}", r.text);
    }
    // Without a usable hop the peer itself is the client.
    let r = login_from(&s, "x@example.com", WRONG, None).await;
    assert_eq!(r.status, 401, "no XFF: {}", r.text);

    let email = "proxied@example.com";
    s.create_account(email).await;
    for (xff, client) in [
        ("5.5.5.5", "5.5.5.5"),
        ("6.6.6.6, 7.7.7.7", "7.7.7.7"),
        ("8.8.8.8, 127.0.0.1", "8.8.8.8"),
        ("2001:db8::1", "2001:db8::1"),
    ] {
        let r = login_from(&s, email, PASSWORD, Some(xff)).await;
        assert_eq!(r.status, 200, "{xff}: {}", r.text);
        assert_eq!(session_ip(&s, &r.jwt()), client, "XFF {xff:?}");
    }
}

// --------------------------------------------------------------------- timing

/// (hashes computed, Redis calls per command) of one failed login.
async fn work_of_login(
    s: &TestServer,
    conn: &mut redis::Connection,
    email: &str,
) -> (f64, BTreeMap<String, u64>) {
    let hashes = s.metric(HASHES).await;
    reset_stats(conn);
    let r = login(s, email, WRONG).await;
    let calls = command_calls(conn);
    assert_eq!(r.status, 401, "{email}: {}", r.text);
    assert_eq!(r.error(), "invalid_credentials");
    (s.metric(HASHES).await - hashes, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_email_and_wrong_password_do_the_same_work() {
    // Reads one node's command statistics: a single node in every mode.
    let s = TestServer::with_redis(Redis::start(), &[]).await;
    let known = "known@example.com";
    let unknown = "unknown@example.com";
    s.create_account(known).await;
    let mut conn = s.redis.conn();
    // Warm up (scripts loaded, pooled connection open) on a third email, so
    // the two compared ones are in the same state: no failure counted yet.
    assert_eq!(login(&s, "warmup@example.com", WRONG).await.status, 401);
    // Round 0 is each email's first failure in the window (its counter is
    // created), rounds 1 and 2 count on an existing counter.
    for round in 0..3 {
        let (known_hashes, known_calls) = work_of_login(&s, &mut conn, known).await;
        let (unknown_hashes, unknown_calls) = work_of_login(&s, &mut conn, unknown).await;
        assert_eq!(known_hashes, 1.0, "wrong password, round {round}: hashes");
        assert_eq!(unknown_hashes, 1.0, "unknown email, round {round}: hashes");
        let differing: Vec<String> = known_calls
            .keys()
            .chain(unknown_calls.keys())
            .filter(|name| known_calls.get(*name) != unknown_calls.get(*name))
            .map(|name| {
                format!(
                    "{name}: wrong password {:?}, unknown email {:?}",
                    known_calls.get(name),
                    unknown_calls.get(name)
                )
            })
            .collect();
        assert!(
            differing.is_empty(),
            "round {round}: Redis commands differ: {differing:?}\n\
             wrong password: {known_calls:?}\nunknown email: {unknown_calls:?}"
        );
        assert!(
            known_calls.contains_key("get") && known_calls.contains_key("hgetall"),
            "the email index and account reads are missing: {known_calls:?}"
        );
    }
}

// ------------------------------------------------------------------- overload

const SLOW_HASH: &[(&str, &str)] = &[
    ("EDGEAUTH_HASH_CONCURRENCY", "1"),
    ("EDGEAUTH_HASH_QUEUE", "2"),
    ("EDGEAUTH_SCRYPT_LOG_N", "16"),
];

fn spawn_login(set: &mut JoinSet<Reply>, s: &TestServer, email: String) {
    let (http, url) = (s.http.clone(), s.url("/auth/login"));
    set.spawn(async move {
        let response = http
            .post(url)
            .json(&json!({"email": email, "password": WRONG}))
            .send()
            .await
            .expect("login request");
        Reply::read(response).await
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_logins_past_the_hash_queue_gets_503() {
    let s = TestServer::with(SLOW_HASH).await;
    let mut set = JoinSet::new();
    for i in 0..30 {
        spawn_login(&mut set, &s, format!("burst{i}@example.com"));
    }
    let replies = tokio::time::timeout(Duration::from_secs(15), set.join_all())
        .await
        .expect("a login of the burst hung");
    let mut statuses = BTreeMap::<u16, usize>::new();
    for r in &replies {
        *statuses.entry(r.status).or_default() += 1;
        match r.status {
            401 => assert_eq!(r.error(), "invalid_credentials"),
            503 => {
                assert_eq!(r.error(), "unavailable");
                let retry: u64 = r
                    .header("retry-after")
                    .expect("503 without Retry-After")
                    .parse()
                    .expect("Retry-After seconds");
                assert!(retry >= 1, "Retry-After {retry}");
            }
            other => panic!("unexpected status {other}: {}", r.text),
        }
    }
    assert!(statuses.get(&503).is_some_and(|n| *n > 0), "{statuses:?}");
    assert!(statuses.get(&401).is_some_and(|n| *n >= 3), "{statuses:?}");
    let text = s.metrics_text().await;
    assert_eq!(sample(&text, QUEUE_DEPTH), Some(0.0), "queue not drained");
    let (sum, count) = (
        sample(&text, HASH_SECONDS).expect("sum"),
        sample(&text, HASHES).expect("count"),
    );
    // The startup dummy hash + one per 401.
    assert_eq!(count as usize, 1 + statuses[&401], "{statuses:?}");
    eprintln!(
        "scrypt log_n=16: {:.0} ms per hash over {count} hashes; {statuses:?}",
        sum / count * 1000.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_hash_queue_starves_no_probe() {
    let s = TestServer::with(SLOW_HASH).await;
    let (jwt, mut refresh) = s.signed_in("probe@example.com").await;

    // A flood: 30 clients logging in again and again until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let mut flood = JoinSet::new();
    for i in 0..30 {
        let (http, url, stop) = (s.http.clone(), s.url("/auth/login"), Arc::clone(&stop));
        flood.spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let response = http
                    .post(&url)
                    .json(&json!({"email": format!("flood{i}@example.com"), "password": WRONG}))
                    .send()
                    .await
                    .expect("flood login");
                let r = Reply::read(response).await;
                if r.status == 503 {
                    assert!(r.header("retry-after").is_some(), "503 without Retry-After");
                }
                statuses.push(r.status);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            statuses
        });
    }

    // Wait until the queue is seen full.
    let mut full = false;
    for _ in 0..250 {
        if sample(&s.metrics_text().await, QUEUE_DEPTH) == Some(2.0) {
            full = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(full, "the hash queue never filled");

    let bound = Duration::from_secs(1);
    for round in 0..3 {
        let r = tokio::time::timeout(bound, s.get("/healthz"))
            .await
            .unwrap_or_else(|_| panic!("/healthz took over 1 s (round {round})"));
        assert_eq!(r.status, 200, "/healthz: {}", r.text);
        let r = tokio::time::timeout(bound, s.verify(&jwt))
            .await
            .unwrap_or_else(|_| panic!("/auth/verify took over 1 s (round {round})"));
        assert_eq!(r.status, 200, "/auth/verify: {}", r.text);
        let r = tokio::time::timeout(bound, s.post_cookie("/auth/token/refresh", &refresh))
            .await
            .unwrap_or_else(|_| panic!("/auth/token/refresh took over 1 s (round {round})"));
        assert_eq!(r.status, 200, "/auth/token/refresh: {}", r.text);
        refresh = r.refresh_cookie().expect("rotated refresh token");
    }
    let still_full = sample(&s.metrics_text().await, QUEUE_DEPTH);

    stop.store(true, Ordering::Relaxed);
    let statuses: Vec<u16> = tokio::time::timeout(Duration::from_secs(15), flood.join_all())
        .await
        .expect("a flood login hung")
        .into_iter()
        .flatten()
        .collect();
    assert!(
        statuses.iter().all(|s| *s == 401 || *s == 503),
        "unexpected statuses: {statuses:?}"
    );
    assert!(statuses.contains(&503), "no 503 in the flood");
    assert!(statuses.contains(&401), "no login got hashed in the flood");
    assert_eq!(
        s.metric(QUEUE_DEPTH).await,
        0.0,
        "queue depth after the flood"
    );
    eprintln!(
        "flood: {} logins, {} answered 503; queue depth after the probes: {still_full:?}",
        statuses.len(),
        statuses.iter().filter(|s| **s == 503).count()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_change_requests_are_limited_per_account() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_EMAIL_REQUEST_PER_ACCOUNT", "2/1m")]).await;
    let (jwt, _) = s.signed_in("mailer-abuse@example.com").await;
    for i in 0..2 {
        let r = s
            .post_bearer(
                "/auth/account/email/request",
                &jwt,
                json!({"new_email": format!("victim{i}@example.com")}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }
    let limited = s
        .post_bearer(
            "/auth/account/email/request",
            &jwt,
            json!({"new_email": "victim9@example.com"}),
        )
        .await;
    assert_eq!(limited.status, 429, "{}", limited.text);
    assert_eq!(limited.error(), "rate_limited");
    assert_eq!(s.redis.events_of("email.change_requested").len(), 2);
    // Another account has its own allowance.
    let (other, _) = s.signed_in("mailer-other@example.com").await;
    let r = s
        .post_bearer(
            "/auth/account/email/request",
            &other,
            json!({"new_email": "victim9@example.com"}),
        )
        .await;
    assert_eq!(r.status, 204);
}
