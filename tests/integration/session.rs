//! Login, refresh-token rotation with the reuse grace, logout and revoke
//! (README, "Endpoints").

use std::collections::HashSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::COOKIE;
use serde_json::json;

use crate::support::jwt::claims;
use crate::support::{PASSWORD, Reply, TestServer};

/// The cookie a successful login or refresh sets, as the spec writes it
/// (with `EDGEAUTH_COOKIE_SECURE=false`, which the harness sets).
fn expected_cookie(token: &str) -> String {
    format!("refresh_token={token}; HttpOnly; SameSite=Strict; Path=/auth; Max-Age=2592000")
}

fn sub_sid(jwt: &str) -> (String, String) {
    let c = claims(jwt);
    (
        c["sub"].as_str().expect("sub").to_owned(),
        c["sid"].as_str().expect("sid").to_owned(),
    )
}

/// The stored generation of the family of `jwt` (None once it is gone).
fn generation(s: &TestServer, jwt: &str) -> Option<u64> {
    let (sub, sid) = sub_sid(jwt);
    redis::cmd("HGET")
        .arg(format!("edgeauth:{{{sub}}}:session:{sid}"))
        .arg("gen")
        .query::<Option<u64>>(&mut s.redis.conn())
        .expect("HGET gen")
}

/// POST /auth/token/refresh with `{"refresh_token": token}` (no cookie).
async fn refresh_body(s: &TestServer, token: &str) -> Reply {
    s.post("/auth/token/refresh", json!({ "refresh_token": token }))
        .await
}

fn assert_invalid_refresh(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error(), "invalid_refresh_token");
    assert!(
        r.clears_cookie(),
        "failure must clear the cookie: {:?}",
        r.set_cookie()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smoke_full_flow() {
    let s = TestServer::start().await;
    let (jwt, refresh) = s.signed_in("smoke@example.com").await;
    let v = s.verify(&jwt).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert!(v.header("x-auth-user-id").is_some());
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let next = r.refresh_cookie().unwrap();
    assert_ne!(next, refresh);
    let r = s.post_bearer("/auth/token/revoke", &jwt, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(s.verify(&jwt).await.status, 401);
}

// ---------------------------------------------------------------- login

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_returns_jwt_and_the_exact_refresh_cookie() {
    let s = TestServer::start().await;
    s.create_account("login@example.com").await;
    // Email normalized: trimmed and lowercased.
    let r = s
        .post(
            "/auth/login",
            json!({"email": "  Login@Example.COM ", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["jwt_expires_in"], json!(900000), "{body}");
    assert!(body.get("refresh_token").is_none(), "cookie login: {body}");
    let jwt = r.jwt();
    let token = r.refresh_cookie().expect("refresh cookie");
    assert_eq!(r.set_cookie().unwrap(), expected_cookie(&token));
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "URL-safe: {token}"
    );
    let c = claims(&jwt);
    let v = s.verify(&jwt).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.header("x-auth-user-id").as_deref(), c["sub"].as_str());
    assert_eq!(v.header("x-auth-session-id").as_deref(), c["sid"].as_str());
    assert_eq!(generation(&s, &jwt), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_cookie_when_configured() {
    let s = TestServer::with(&[("EDGEAUTH_COOKIE_SECURE", "true")]).await;
    s.create_account("secure@example.com").await;
    let r = s
        .post(
            "/auth/login",
            json!({"email": "secure@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let token = r.refresh_cookie().expect("refresh cookie");
    let cookie = r.set_cookie().unwrap();
    let mut parts = cookie.split("; ");
    assert_eq!(
        parts.next(),
        Some(format!("refresh_token={token}").as_str())
    );
    // Attribute order carries no meaning (RFC 6265 §5.2); compare as a set.
    let attrs: HashSet<&str> = parts.collect();
    let want: HashSet<&str> = [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/auth",
        "Max-Age=2592000",
    ]
    .into();
    assert_eq!(attrs, want, "{cookie}");
    // Refresh sets it the same way, and a failure clears it as Secure too.
    let r = s.post_cookie("/auth/token/refresh", &token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.set_cookie().unwrap().contains("; Secure"));
    let r = s.post_cookie("/auth/token/refresh", "garbage").await;
    assert_invalid_refresh(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_email_are_the_same_401() {
    let s = TestServer::start().await;
    s.create_account("known@example.com").await;
    let wrong = s
        .post(
            "/auth/login",
            json!({"email": "known@example.com", "password": "not the password"}),
        )
        .await;
    let unknown = s
        .post(
            "/auth/login",
            json!({"email": "nobody@example.com", "password": PASSWORD}),
        )
        .await;
    for r in [&wrong, &unknown] {
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.error(), "invalid_credentials");
        assert!(r.set_cookie().is_none(), "no cookie on failure");
    }
    assert_eq!(wrong.text, unknown.text, "identical bodies");
    let failed = s.redis.events_of("login.failed");
    let emails: Vec<&str> = failed
        .iter()
        .filter_map(|e| e.get("email").map(String::as_str))
        .collect();
    assert_eq!(emails, ["known@example.com", "nobody@example.com"]);
}

// ---------------------------------------------------------------- refresh

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_via_cookie_rotates() {
    let s = TestServer::start().await;
    let (jwt, t0) = s.signed_in("cookie@example.com").await;
    let r = s.post_cookie("/auth/token/refresh", &t0).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["jwt_expires_in"], json!(900000));
    assert!(
        body.get("refresh_token").is_none(),
        "cookie mode keeps it out of the body: {body}"
    );
    let t1 = r.refresh_cookie().expect("new cookie");
    assert_ne!(t1, t0, "rotation gives a new token");
    assert_eq!(r.set_cookie().unwrap(), expected_cookie(&t1));
    let jwt1 = r.jwt();
    assert_eq!(sub_sid(&jwt1), sub_sid(&jwt), "same account and family");
    assert_eq!(s.verify(&jwt1).await.status, 200);
    assert_eq!(generation(&s, &jwt), Some(1));
    // The new one rotates in turn.
    let r = s.post_cookie("/auth/token/refresh", &t1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t2 = r.refresh_cookie().unwrap();
    assert!(t2 != t1 && t2 != t0);
    assert_eq!(generation(&s, &jwt), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_via_json_body_returns_the_token_in_the_body() {
    let s = TestServer::start().await;
    let (jwt, t0) = s.signed_in("body@example.com").await;
    let r = refresh_body(&s, &t0).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert_eq!(body["jwt_expires_in"], json!(900000));
    let t1 = body["refresh_token"]
        .as_str()
        .expect("refresh_token in the body")
        .to_owned();
    assert_ne!(t1, t0);
    assert_eq!(r.refresh_cookie().as_deref(), Some(t1.as_str()));
    assert_eq!(s.verify(&r.jwt()).await.status, 200);
    assert_eq!(generation(&s, &jwt), Some(1));
    // Body and cookie tokens are interchangeable.
    let r = s.post_cookie("/auth/token/refresh", &t1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t2 = r.refresh_cookie().unwrap();
    let r = refresh_body(&s, &t2).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(generation(&s, &jwt), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn within_the_grace_the_old_token_gets_the_same_successor() {
    let s = TestServer::start().await;
    let (jwt, t0) = s.signed_in("grace@example.com").await;
    let r = s.post_cookie("/auth/token/refresh", &t0).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t1 = r.refresh_cookie().unwrap();
    // Replayed within the 10 s default grace: the very same successor.
    let again = s.post_cookie("/auth/token/refresh", &t0).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.refresh_cookie().as_deref(), Some(t1.as_str()));
    let again = refresh_body(&s, &t0).await;
    assert_eq!(again.status, 200, "{}", again.text);
    assert_eq!(again.json()["refresh_token"].as_str(), Some(t1.as_str()));
    assert_eq!(generation(&s, &jwt), Some(1), "the family did not advance");
    assert!(s.redis.events_of("refresh_token.reused").is_empty());
    // And the successor still rotates normally.
    let r = s.post_cookie("/auth/token/refresh", &t1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(generation(&s, &jwt), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_after_the_grace_revokes_the_family() {
    let s = TestServer::with(&[("EDGEAUTH_REFRESH_REUSE_GRACE", "1s")]).await;
    let (jwt0, t0) = s.signed_in("reuse@example.com").await;
    let (other_jwt, other_refresh) = s.login("reuse@example.com").await;
    let r = s.post_cookie("/auth/token/refresh", &t0).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let (jwt1, t1) = (r.jwt(), r.refresh_cookie().unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;

    let r = s.post_cookie("/auth/token/refresh", &t0).await;
    assert_invalid_refresh(&r);
    let reused = s.redis.events_of("refresh_token.reused");
    assert_eq!(reused.len(), 1, "{reused:?}");
    assert_eq!(
        reused[0].get("user_id").map(String::as_str),
        claims(&jwt0)["sub"].as_str()
    );
    // The newer token dies with its family, and so do the family's JWTs.
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &t1).await);
    assert_eq!(generation(&s, &jwt0), None);
    for jwt in [&jwt0, &jwt1] {
        let v = s.verify(jwt).await;
        assert_eq!(v.status, 401, "{}", v.text);
    }
    // The account's other session is untouched.
    assert_eq!(s.verify(&other_jwt).await.status, 200);
    let r = s.post_cookie("/auth/token/refresh", &other_refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_two_generations_old_is_reuse_even_within_the_grace() {
    let s = TestServer::start().await;
    let (jwt, t0) = s.signed_in("old@example.com").await;
    let t1 = s
        .post_cookie("/auth/token/refresh", &t0)
        .await
        .refresh_cookie()
        .unwrap();
    let r = s.post_cookie("/auth/token/refresh", &t1).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t2 = r.refresh_cookie().unwrap();
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &t0).await);
    assert_eq!(s.redis.events_of("refresh_token.reused").len(), 1);
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &t2).await);
    assert_eq!(s.verify(&jwt).await.status, 401);
}

/// Sends `n` concurrent cookie refreshes with one token.
async fn concurrent_refreshes(s: &TestServer, token: &str, n: usize) -> Vec<Reply> {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let request = s
            .http
            .post(s.url("/auth/token/refresh"))
            .header(COOKIE, format!("refresh_token={token}"));
        tasks.spawn(async move { Reply::read(request.send().await.expect("request")).await });
    }
    let mut replies = Vec::new();
    while let Some(reply) = tasks.join_next().await {
        replies.push(reply.expect("task"));
    }
    replies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_refreshes_share_one_successor() {
    let s = TestServer::start().await;
    let (jwt, t0) = s.signed_in("tabs@example.com").await;
    assert_eq!(generation(&s, &jwt), Some(0));
    let replies = concurrent_refreshes(&s, &t0, 20).await;
    assert_eq!(replies.len(), 20);
    let mut successors = HashSet::new();
    for r in &replies {
        assert_eq!(r.status, 200, "{}", r.text);
        successors.insert(r.refresh_cookie().expect("cookie"));
    }
    assert_eq!(
        successors.len(),
        1,
        "one identical new token: {successors:?}"
    );
    assert!(!successors.contains(&t0));
    assert_eq!(generation(&s, &jwt), Some(1), "advanced exactly once");
    assert!(s.redis.events_of("refresh_token.reused").is_empty());
    let t1 = successors.into_iter().next().unwrap();
    let r = s.post_cookie("/auth/token/refresh", &t1).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_grace_zero_exactly_one_concurrent_refresh_wins() {
    let s = TestServer::with(&[("EDGEAUTH_REFRESH_REUSE_GRACE", "0")]).await;
    let (_jwt, t0) = s.signed_in("strict@example.com").await;
    let replies = concurrent_refreshes(&s, &t0, 20).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        ok,
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_invalid_refresh(r);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_grace_zero_an_immediate_replay_is_reuse() {
    let s = TestServer::with(&[("EDGEAUTH_REFRESH_REUSE_GRACE", "0")]).await;
    let (jwt, t0) = s.signed_in("strict2@example.com").await;
    let r = s.post_cookie("/auth/token/refresh", &t0).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t1 = r.refresh_cookie().unwrap();
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &t0).await);
    assert_eq!(s.redis.events_of("refresh_token.reused").len(), 1);
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &t1).await);
    assert_eq!(s.verify(&jwt).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_or_missing_refresh_token_is_401_and_clears_the_cookie() {
    let s = TestServer::start().await;
    let (_jwt, token) = s.signed_in("invalid@example.com").await;
    // Missing: no cookie, no body.
    assert_invalid_refresh(&s.send(s.http.post(s.url("/auth/token/refresh"))).await);
    // Garbage in the cookie and in the body.
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", "garbage").await);
    assert_invalid_refresh(&refresh_body(&s, "garbage").await);
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", "").await);
    // A token with one flipped character (the MAC no longer matches).
    let mut flipped = token.clone().into_bytes();
    flipped[50] = if flipped[50] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &flipped).await);
    // A token of another server (another data key).
    let other = TestServer::start().await;
    let (_, foreign) = other.signed_in("invalid@example.com").await;
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &foreign).await);
    // None of that touched the real session.
    assert!(s.redis.events_of("refresh_token.reused").is_empty());
    let r = s.post_cookie("/auth/token/refresh", &token).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

// ---------------------------------------------------------------- storage

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_dump_holds_no_refresh_token_material() {
    let s = TestServer::start().await;
    let (_jwt, t0) = s.signed_in("dump@example.com").await;
    let r = s.post_cookie("/auth/token/refresh", &t0).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let t1 = r.refresh_cookie().unwrap();
    let dump = s.redis.contents();
    assert!(dump.len() > 100, "the dump is not empty");
    for token in [&t0, &t1] {
        let raw = URL_SAFE_NO_PAD.decode(token).expect("base64url token");
        let mac = &raw[raw.len() - 32..];
        assert!(
            !crate::support::contains_bytes(&dump, token.as_bytes()),
            "the token itself"
        );
        for window in mac.windows(8) {
            assert!(
                !crate::support::contains_bytes(&dump, window),
                "8 raw MAC bytes {window:?}"
            );
            let hex: String = window.iter().map(|b| format!("{b:02x}")).collect();
            assert!(
                !crate::support::contains_bytes(&dump, hex.as_bytes()),
                "MAC bytes in hex {hex}"
            );
        }
        // The token's text from the first character that is MAC only
        // (byte 45 of 77 starts at character 60 of 103).
        let mac_text = &token[token.len() - 43..];
        for start in 0..=mac_text.len() - 8 {
            let window = &mac_text[start..start + 8];
            assert!(
                !crate::support::contains_bytes(&dump, window.as_bytes()),
                "token text {window}"
            );
        }
    }
    // The harness's dump helper agrees on the token text.
    let text = s.redis.dump();
    assert!(!text.contains(&t0) && !text.contains(&t1));
}

// ---------------------------------------------------------------- revoke, logout

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_kills_every_family_of_the_account() {
    let s = TestServer::start().await;
    let (jwt1, r1) = s.signed_in("revoke@example.com").await;
    let (jwt2, r2) = s.login("revoke@example.com").await;
    let (other_jwt, other_refresh) = s.signed_in("bystander@example.com").await;
    let r = s.post_bearer("/auth/token/revoke", &jwt1, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.clears_cookie(), "{:?}", r.set_cookie());
    assert_eq!(s.redis.events_of("tokens.revoked").len(), 1);
    for jwt in [&jwt1, &jwt2] {
        let v = s.verify(jwt).await;
        assert_eq!(v.status, 401, "{}", v.text);
        assert_eq!(v.error(), "invalid_token");
        // A Bearer endpoint (a harmless one: revoke again).
        let b = s.post_bearer("/auth/token/revoke", jwt, json!({})).await;
        assert_eq!(b.status, 401, "{}", b.text);
        assert_eq!(b.error(), "invalid_token");
        assert_eq!(
            b.header("www-authenticate").as_deref(),
            Some(r#"Bearer error="invalid_token""#)
        );
    }
    for token in [&r1, &r2] {
        assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", token).await);
    }
    // Only that account.
    assert_eq!(s.verify(&other_jwt).await.status, 200);
    let r = s.post_cookie("/auth/token/refresh", &other_refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Revocation is not reuse.
    assert!(s.redis.events_of("refresh_token.reused").is_empty());
    // Logging in again works.
    let (jwt3, _) = s.login("revoke@example.com").await;
    assert_eq!(s.verify(&jwt3).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_kills_only_its_own_family() {
    let s = TestServer::start().await;
    let (jwt1, r1) = s.signed_in("logout@example.com").await;
    let (jwt2, r2) = s.login("logout@example.com").await;
    let (jwt3, r3) = s.login("logout@example.com").await;

    let r = s.post_cookie("/auth/logout", &r1).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.clears_cookie(), "{:?}", r.set_cookie());
    assert_eq!(s.verify(&jwt1).await.status, 401);
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &r1).await);
    assert_eq!(s.verify(&jwt2).await.status, 200, "other session verifies");
    assert_eq!(s.verify(&jwt3).await.status, 200);

    // Via the JSON body.
    let r = s.post("/auth/logout", json!({ "refresh_token": r2 })).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.clears_cookie());
    assert_eq!(s.verify(&jwt2).await.status, 401);
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &r2).await);

    assert_eq!(s.verify(&jwt3).await.status, 200);
    let r = s.post_cookie("/auth/token/refresh", &r3).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(s.redis.events_of("refresh_token.reused").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_answers_204_whatever_the_token() {
    let s = TestServer::start().await;
    let (jwt, token) = s.signed_in("logout204@example.com").await;
    let replies = [
        s.send(s.http.post(s.url("/auth/logout"))).await,
        s.post_cookie("/auth/logout", "garbage").await,
        s.post("/auth/logout", json!({"refresh_token": "garbage"}))
            .await,
    ];
    for r in &replies {
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(r.clears_cookie(), "{:?}", r.set_cookie());
    }
    assert_eq!(s.verify(&jwt).await.status, 200, "garbage touched nothing");
    // Twice with the real one.
    for _ in 0..2 {
        let r = s.post_cookie("/auth/logout", &token).await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert!(r.clears_cookie());
    }
    assert_eq!(s.verify(&jwt).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_session_cap_evicts_the_oldest_family() {
    let s = TestServer::with(&[("EDGEAUTH_SESSIONS_PER_ACCOUNT", "3")]).await;
    let (jwt1, r1) = s.signed_in("cap@example.com").await;
    let mut live = Vec::new();
    for _ in 0..3 {
        live.push(s.login("cap@example.com").await);
    }
    assert_invalid_refresh(&s.post_cookie("/auth/token/refresh", &r1).await);
    assert_eq!(s.verify(&jwt1).await.status, 401);
    for (jwt, token) in &live {
        assert_eq!(s.verify(jwt).await.status, 200);
        let r = s.post_cookie("/auth/token/refresh", token).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let (sub, _) = sub_sid(&jwt1);
    let members: u64 = redis::cmd("ZCARD")
        .arg(format!("edgeauth:{{{sub}}}:sessions"))
        .query(&mut s.redis.conn())
        .unwrap();
    assert_eq!(members, 3);
}

// ---------------------------------------------------------------- rehash

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rehashes_under_a_new_cost() {
    let s = TestServer::with(&[("EDGEAUTH_SCRYPT_LOG_N", "10")]).await;
    let (jwt, _) = s.signed_in("rehash@example.com").await;
    let (account, _) = sub_sid(&jwt);
    let before = s.redis.stored_password(&account);
    assert!(before.starts_with("$scrypt$ln=10,r=8,p=1$"), "{before}");

    let redis = s.into_redis().await;
    let s = TestServer::with_redis(redis, &[("EDGEAUTH_SCRYPT_LOG_N", "11")]).await;
    // A wrong password changes nothing.
    let r = s
        .post(
            "/auth/login",
            json!({"email": "rehash@example.com", "password": "wrong password"}),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(s.redis.stored_password(&account), before);

    let (jwt, _) = s.login("rehash@example.com").await;
    assert_eq!(s.verify(&jwt).await.status, 200);
    let after = s.redis.stored_password(&account);
    assert!(after.starts_with("$scrypt$ln=11,r=8,p=1$"), "{after}");
    // The upgraded hash still takes the password, and stays put.
    s.login("rehash@example.com").await;
    assert_eq!(s.redis.stored_password(&account), after);
}
