//! Signed-in self-service: password change (`POST /auth/account/password`)
//! and the session list and single-session revoke (`GET, HEAD
//! /auth/sessions`, `POST /auth/sessions/revoke`) (README, "Account self-service").

use std::collections::HashSet;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, USER_AGENT};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::support::jwt::{sid, sub};
use crate::support::{PASSWORD, Reply, TestServer, now_ms};

const NEW_PASSWORD: &str = "a brand new secret";

async fn login_with(s: &TestServer, email: &str, password: &str) -> Reply {
    s.post("/auth/login", json!({"email": email, "password": password}))
        .await
}

/// Logs in with a given `User-Agent`; returns (jwt, refresh token).
async fn login_as(s: &TestServer, email: &str, user_agent: &str) -> (String, String) {
    let r = s
        .send(
            s.http
                .post(s.url("/auth/login"))
                .header(USER_AGENT, user_agent)
                .json(&json!({"email": email, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 200, "login: {}", r.text);
    (r.jwt(), r.refresh_cookie().expect("refresh cookie"))
}

async fn change(s: &TestServer, jwt: &str, old: &str, new: &str) -> Reply {
    s.post_bearer(
        "/auth/account/password",
        jwt,
        json!({"old_password": old, "new_password": new}),
    )
    .await
}

/// GET /auth/sessions as `jwt`.
async fn list(s: &TestServer, jwt: &str) -> Reply {
    s.send(s.http.get(s.url("/auth/sessions")).bearer_auth(jwt))
        .await
}

/// The sessions `jwt` sees, checking the response and every entry's shape.
async fn sessions(s: &TestServer, jwt: &str) -> Vec<Value> {
    let r = list(s, jwt).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let body = r.json();
    assert_eq!(
        body.as_object().map(|o| o.len()),
        Some(1),
        "only `sessions`: {body}"
    );
    let sessions = body["sessions"].as_array().expect("sessions array").clone();
    let keys: HashSet<&str> = [
        "id",
        "created_at",
        "last_used_at",
        "user_agent",
        "ip",
        "current",
    ]
    .into();
    for session in &sessions {
        let object = session.as_object().expect("session object");
        let got: HashSet<&str> = object.keys().map(String::as_str).collect();
        assert_eq!(got, keys, "{session}");
        uuid::Uuid::parse_str(session["id"].as_str().expect("id string")).expect("id is a UUID");
        let created = session["created_at"].as_u64().expect("created_at integer");
        let used = session["last_used_at"]
            .as_u64()
            .expect("last_used_at integer");
        assert!(created <= used, "{session}");
        assert!(session["user_agent"].is_string(), "{session}");
        assert!(session["ip"].is_string(), "{session}");
        assert!(session["current"].is_boolean(), "{session}");
    }
    let current = sessions.iter().filter(|s| s["current"] == true).count();
    assert_eq!(current, 1, "exactly one current session: {sessions:?}");
    sessions
}

fn ids(sessions: &[Value]) -> Vec<String> {
    sessions
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_owned())
        .collect()
}

fn current_id(sessions: &[Value]) -> String {
    sessions
        .iter()
        .find(|s| s["current"] == true)
        .and_then(|s| s["id"].as_str())
        .expect("a current session")
        .to_owned()
}

async fn revoke(s: &TestServer, jwt: &str, id: &str) -> Reply {
    s.post_bearer("/auth/sessions/revoke", jwt, json!({ "id": id }))
        .await
}

async fn refresh(s: &TestServer, token: &str) -> Reply {
    s.post_cookie("/auth/token/refresh", token).await
}

fn assert_invalid_token(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error(), "invalid_token");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some("Bearer error=\"invalid_token\"")
    );
}

fn assert_invalid_refresh(r: &Reply) {
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error(), "invalid_refresh_token");
}

/// The session of (jwt, refresh) is dead: its refresh token and its JWT fail.
async fn assert_dead(s: &TestServer, jwt: &str, token: &str) {
    assert_eq!(s.verify(jwt).await.status, 401, "JWT of a dead session");
    assert_invalid_token(&list(s, jwt).await);
    assert_invalid_refresh(&refresh(s, token).await);
}

/// The session of (jwt, refresh) is alive: its JWT verifies and its refresh
/// token rotates; returns the rotated (jwt, refresh).
async fn assert_alive(s: &TestServer, jwt: &str, token: &str) -> (String, String) {
    let v = s.verify(jwt).await;
    assert_eq!(v.status, 200, "{}", v.text);
    let r = refresh(s, token).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let next = r.jwt();
    assert_eq!(sid(&next), sid(jwt), "refresh stays in the family");
    assert_eq!(s.verify(&next).await.status, 200);
    (next, r.refresh_cookie().expect("rotated cookie"))
}

// ------------------------------------------------------- password change

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_keeps_the_caller_and_ends_every_other_session() {
    let s = TestServer::start().await;
    let email = "change@example.com";
    let (jwt, token) = s.signed_in(email).await;
    let (other_jwt, other_token) = s.login(email).await;
    let (third_jwt, third_token) = s.login(email).await;
    let account = sub(&jwt);
    let before = s.redis.stored_password(&account);

    let r = change(&s, &jwt, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    assert!(
        r.set_cookie().is_none(),
        "the caller keeps its cookie: {:?}",
        r.set_cookie()
    );

    // The caller continues: JWT, refresh, and the list shows only it.
    let (jwt, _) = assert_alive(&s, &jwt, &token).await;
    let listed = sessions(&s, &jwt).await;
    assert_eq!(ids(&listed), [sid(&jwt)]);
    // Every other session is gone at once.
    assert_dead(&s, &other_jwt, &other_token).await;
    assert_dead(&s, &third_jwt, &third_token).await;

    // The old password no longer logs in, the new one does.
    let r = login_with(&s, email, PASSWORD).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error(), "invalid_credentials");
    let r = login_with(&s, email, NEW_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let after = s.redis.stored_password(&account);
    assert_ne!(after, before);
    assert!(after.starts_with("$scrypt$"), "{after}");
    assert!(!after.contains(NEW_PASSWORD));

    let events = s.redis.events_of("password.changed");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(
        events[0].get("user_id").map(String::as_str),
        Some(account.as_str())
    );
    assert_eq!(events[0].get("email").map(String::as_str), Some(email));
    assert!(!events[0].contains_key("ticket"), "{:?}", events[0]);
    let at: u64 = events[0]["at"].parse().expect("at in unix ms");
    assert!(at.abs_diff(now_ms()) < 60_000, "{at}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_old_password_is_401_and_changes_nothing() {
    let s = TestServer::start().await;
    let email = "wrongold@example.com";
    let (jwt, token) = s.signed_in(email).await;
    let (other_jwt, other_token) = s.login(email).await;
    let account = sub(&jwt);
    let before = s.redis.stored_password(&account);

    let r = change(&s, &jwt, "not the password", NEW_PASSWORD).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error(), "invalid_credentials");
    assert!(r.set_cookie().is_none());

    assert_eq!(s.redis.stored_password(&account), before);
    assert!(s.redis.events_of("password.changed").is_empty());
    assert_alive(&s, &jwt, &token).await;
    assert_alive(&s, &other_jwt, &other_token).await;
    assert_eq!(login_with(&s, email, PASSWORD).await.status, 200);
    assert_eq!(login_with(&s, email, NEW_PASSWORD).await.status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_password_length_is_checked_in_unicode_scalar_values() {
    let s = TestServer::start().await;
    let email = "length@example.com";
    let (jwt, token) = s.signed_in(email).await;
    let (other_jwt, other_token) = s.login(email).await;
    let account = sub(&jwt);
    let before = s.redis.stored_password(&account);

    let too_long = "x".repeat(129);
    for bad in ["", "12345", "ééééé", too_long.as_str()] {
        let r = change(&s, &jwt, PASSWORD, bad).await;
        assert_eq!(r.status, 400, "{:?}: {}", bad, r.text);
        assert_eq!(r.error(), "invalid_password", "{bad:?}");
    }
    assert_eq!(s.redis.stored_password(&account), before);
    assert!(s.redis.events_of("password.changed").is_empty());
    assert_alive(&s, &other_jwt, &other_token).await;

    // 128 two-byte characters (256 bytes) is within the 128-value limit.
    let longest = "é".repeat(128);
    let r = change(&s, &jwt, PASSWORD, &longest).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(login_with(&s, email, &longest).await.status, 200);
    // And six is the shortest allowed.
    let (jwt, _) = assert_alive(&s, &jwt, &token).await;
    let r = change(&s, &jwt, &longest, "123456").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(login_with(&s, email, "123456").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_needs_a_live_bearer_token() {
    let s = TestServer::start().await;
    let email = "bearer@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let (dead_jwt, dead_token) = s.login(email).await;
    let r = s.post_cookie("/auth/logout", &dead_token).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let before = s.redis.stored_password(&sub(&jwt));
    let body = json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD});

    let r = s.post("/auth/account/password", body.clone()).await;
    assert_invalid_token(&r);
    for token in ["garbage", "a.b.c", &jwt[..jwt.len() - 2], dead_jwt.as_str()] {
        let r = s
            .post_bearer("/auth/account/password", token, body.clone())
            .await;
        assert_invalid_token(&r);
    }
    // Not a Bearer scheme.
    let r = s
        .send(
            s.http
                .post(s.url("/auth/account/password"))
                .basic_auth("user", Some(PASSWORD))
                .json(&body),
        )
        .await;
    assert_invalid_token(&r);

    assert_eq!(s.redis.stored_password(&sub(&jwt)), before);
    assert!(s.redis.events_of("password.changed").is_empty());
    assert_eq!(login_with(&s, email, PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_change_body_conventions() {
    let s = TestServer::start().await;
    let email = "body@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let before = s.redis.stored_password(&sub(&jwt));
    let url = s.url("/auth/account/password");

    let r = s
        .send(
            s.http
                .post(&url)
                .bearer_auth(&jwt)
                .header(CONTENT_TYPE, "text/plain")
                .body(json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD}).to_string()),
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(r.error(), "unsupported_media_type");

    let r = s.send(s.http.post(&url).bearer_auth(&jwt)).await;
    assert_eq!(r.status, 400, "no body: {}", r.text);
    assert_eq!(r.error(), "invalid_request");

    for bad in [
        json!({}),
        json!([]),
        json!("text"),
        json!({"old_password": PASSWORD}),
        json!({"new_password": NEW_PASSWORD}),
        json!({"old_password": 1, "new_password": NEW_PASSWORD}),
        json!({"old_password": PASSWORD, "new_password": null}),
    ] {
        let r = s
            .post_bearer("/auth/account/password", &jwt, bad.clone())
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.error(), "invalid_request", "{bad}");
    }
    let r = s
        .send(
            s.http
                .post(&url)
                .bearer_auth(&jwt)
                .header(CONTENT_TYPE, "application/json")
                .body("{\"old_password\": "),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.error(), "invalid_request");
    assert_eq!(s.redis.stored_password(&sub(&jwt)), before);

    // A charset parameter and unknown fields are fine.
    let r = s
        .send(
            s.http
                .post(&url)
                .bearer_auth(&jwt)
                .header(CONTENT_TYPE, "application/json; charset=utf-8")
                .body(
                    json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD, "x": [1]})
                        .to_string(),
                ),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(login_with(&s, email, NEW_PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_changes_exactly_one_wins() {
    let s = TestServer::start().await;
    let email = "cas@example.com";
    let (jwt, token) = s.signed_in(email).await;
    let mut set = JoinSet::new();
    for i in 0..20 {
        let http = s.http.clone();
        let url = s.url("/auth/account/password");
        let jwt = jwt.clone();
        set.spawn(async move {
            let new = format!("new password {i}");
            let response = http
                .post(url)
                .bearer_auth(jwt)
                .json(&json!({"old_password": PASSWORD, "new_password": new}))
                .send()
                .await
                .expect("request");
            (new, Reply::read(response).await)
        });
    }
    let mut winners = Vec::new();
    let mut losers = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (new, r) = joined.expect("task");
        if r.status == 204 {
            winners.push(new);
        } else {
            assert_eq!(r.status, 401, "{}", r.text);
            assert_eq!(r.error(), "invalid_credentials");
            losers.push(new);
        }
    }
    assert_eq!(winners.len(), 1, "exactly one change wins: {winners:?}");
    assert_eq!(s.redis.events_of("password.changed").len(), 1);
    assert_eq!(login_with(&s, email, &winners[0]).await.status, 200);
    assert_eq!(login_with(&s, email, PASSWORD).await.status, 401);
    for lost in &losers {
        assert_eq!(login_with(&s, email, lost).await.status, 401, "{lost}");
    }
    // The caller's session survived its own change.
    assert_alive(&s, &jwt, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_racing_a_change_never_loses_silently() {
    let s = TestServer::start().await;
    for round in 0..16u64 {
        let email = format!("race{round}@example.com");
        let (jwt, token) = s.signed_in(&email).await;
        let r = s.forgot_request(&email).await;
        assert_eq!(r.status, 204, "{}", r.text);
        let ticket = s.redis.ticket("password.reset_requested", &email);
        let by_change = format!("changed password {round}");
        let by_reset = format!("reset password {round}");

        let change_task = {
            let http = s.http.clone();
            let url = s.url("/auth/account/password");
            let body = json!({"old_password": PASSWORD, "new_password": by_change});
            let jwt = jwt.clone();
            tokio::spawn(async move {
                let response = http
                    .post(url)
                    .bearer_auth(jwt)
                    .json(&body)
                    .send()
                    .await
                    .expect("request");
                Reply::read(response).await
            })
        };
        let reset_task = {
            let http = s.http.clone();
            let url = s.url("/auth/account/forgot");
            let body = json!({"ticket": ticket, "new_password": by_reset});
            tokio::spawn(async move {
                // A reset is quicker than a change (one hash, not two):
                // starting it 0–2.25 ms later makes the rounds cover the
                // reset landing before, during and after the change.
                let until = edgeauth::clock::instant() + Duration::from_micros(round * 150);
                while edgeauth::clock::instant() < until {
                    tokio::task::yield_now().await;
                }
                let response = http.post(url).json(&body).send().await.expect("request");
                Reply::read(response).await
            })
        };
        let changed = change_task.await.expect("change task");
        let reset = reset_task.await.expect("reset task");

        // Each answered success or the loser's 401.
        if changed.status != 204 {
            assert_eq!(changed.status, 401, "round {round}: {}", changed.text);
            let code = changed.error();
            assert!(
                code == "invalid_credentials" || code == "invalid_token",
                "round {round}: {code}"
            );
        }
        if reset.status != 204 {
            assert_eq!(reset.status, 401, "round {round}: {}", reset.text);
            assert_eq!(reset.error(), "invalid_ticket");
        }
        assert!(
            changed.status == 204 || reset.status == 204,
            "round {round}: someone must win ({} / {})",
            changed.text,
            reset.text
        );

        // Exactly one of the two passwords is the final one; the old is gone.
        let change_works = login_with(&s, &email, &by_change).await.status == 200;
        let reset_works = login_with(&s, &email, &by_reset).await.status == 200;
        assert_eq!(login_with(&s, &email, PASSWORD).await.status, 401);
        assert!(
            change_works ^ reset_works,
            "round {round}: exactly one final password (change {change_works}, reset {reset_works})"
        );
        if change_works {
            // The change determined the hash: it answered 204, and the reset,
            // had it committed after, would have overwritten it — so it lost.
            assert_eq!(changed.status, 204, "round {round}");
            assert_ne!(reset.status, 204, "round {round}: both succeeded silently");
        } else {
            assert_eq!(reset.status, 204, "round {round}");
            // A reset ends every session, the changer's too; a change that
            // answered 204 was overwritten visibly (its session is gone).
            assert_dead(&s, &jwt, &token).await;
        }
    }
}

// ------------------------------------------------------------- sessions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_logins_two_sessions_with_the_right_current() {
    let s = TestServer::start().await;
    let email = "list@example.com";
    s.create_account(email).await;
    let start = now_ms();
    let (jwt_a, _) = login_as(&s, email, "Browser A/1.0").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (jwt_b, _) = login_as(&s, email, "Browser B/2.0").await;
    let end = now_ms();

    let seen_by_a = sessions(&s, &jwt_a).await;
    assert_eq!(seen_by_a.len(), 2, "{seen_by_a:?}");
    // Most recently used first.
    assert_eq!(ids(&seen_by_a), [sid(&jwt_b), sid(&jwt_a)]);
    assert_eq!(current_id(&seen_by_a), sid(&jwt_a));
    assert_eq!(seen_by_a[0]["user_agent"], "Browser B/2.0");
    assert_eq!(seen_by_a[1]["user_agent"], "Browser A/1.0");
    for session in &seen_by_a {
        assert_eq!(session["ip"], "127.0.0.1", "{session}");
        let created = session["created_at"].as_u64().unwrap();
        assert!(
            (start..=end).contains(&created),
            "{created} not in {start}..={end}"
        );
        // Nothing used it since the login.
        assert_eq!(session["last_used_at"], session["created_at"]);
    }

    let seen_by_b = sessions(&s, &jwt_b).await;
    assert_eq!(ids(&seen_by_b), ids(&seen_by_a));
    assert_eq!(current_id(&seen_by_b), sid(&jwt_b));
    // Only the `current` flag differs between the two views.
    for (a, b) in seen_by_a.iter().zip(&seen_by_b) {
        let mut a = a.clone();
        a["current"] = b["current"].clone();
        assert_eq!(&a, b);
    }

    // Another account sees none of them.
    let (other, _) = s.signed_in("someone@example.com").await;
    let theirs = sessions(&s, &other).await;
    assert_eq!(ids(&theirs), [sid(&other)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn last_used_at_moves_after_a_refresh() {
    let s = TestServer::start().await;
    let email = "used@example.com";
    let (jwt_a, token_a) = s.signed_in(email).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (jwt_b, _) = s.login(email).await;
    let before = sessions(&s, &jwt_b).await;
    assert_eq!(ids(&before), [sid(&jwt_b), sid(&jwt_a)]);
    let a_before = before[1].clone();

    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = refresh(&s, &token_a).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let after = sessions(&s, &jwt_b).await;
    // A is now the most recently used.
    assert_eq!(ids(&after), [sid(&jwt_a), sid(&jwt_b)]);
    let a_after = &after[0];
    assert_eq!(a_after["created_at"], a_before["created_at"]);
    assert!(
        a_after["last_used_at"].as_u64().unwrap() > a_before["last_used_at"].as_u64().unwrap(),
        "{a_before} → {a_after}"
    );
    // Listing and verifying are not uses.
    assert_eq!(s.verify(&jwt_b).await.status, 200);
    let again = sessions(&s, &jwt_b).await;
    assert_eq!(again[1]["last_used_at"], after[1]["last_used_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_agent_is_truncated_to_256_bytes() {
    let s = TestServer::start().await;
    let email = "agent@example.com";
    s.create_account(email).await;
    let long = format!("{}{}", "M".repeat(256), "overflow".repeat(10));
    let (jwt, _) = login_as(&s, email, &long).await;
    let exact = "E".repeat(256);
    login_as(&s, email, &exact).await;
    let (none, _) = s.login(email).await; // no User-Agent header at all

    let listed = sessions(&s, &jwt).await;
    let agent_of = |id: &str| {
        listed
            .iter()
            .find(|s| s["id"] == id)
            .map(|s| s["user_agent"].as_str().unwrap().to_owned())
            .expect("listed")
    };
    assert_eq!(agent_of(&sid(&jwt)), "M".repeat(256));
    assert_eq!(agent_of(&sid(&none)), "");
    assert!(listed.iter().any(|s| s["user_agent"] == exact.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_other_session_ends_it_at_once() {
    let s = TestServer::start().await;
    let email = "revoke@example.com";
    let (jwt_a, token_a) = s.signed_in(email).await;
    let (jwt_b, token_b) = s.login(email).await;
    // B's JWT is verified (and cached) before the revoke.
    assert_eq!(s.verify(&jwt_b).await.status, 200);

    let r = revoke(&s, &jwt_a, &sid(&jwt_b)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    assert!(
        r.set_cookie().is_none(),
        "the caller's cookie stays: {:?}",
        r.set_cookie()
    );

    assert_dead(&s, &jwt_b, &token_b).await;
    let (jwt_a, _) = assert_alive(&s, &jwt_a, &token_a).await;
    assert_eq!(ids(&sessions(&s, &jwt_a).await), [sid(&jwt_a)]);

    // Gone is gone: a second revoke of it is 404.
    let r = revoke(&s, &jwt_a, &sid(&jwt_b)).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.error(), "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_session_is_404_and_untouched() {
    let s = TestServer::start().await;
    let (mine, _) = s.signed_in("mine@example.com").await;
    let (theirs, their_token) = s.signed_in("theirs@example.com").await;

    let r = revoke(&s, &mine, &sid(&theirs)).await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.error(), "not_found");
    // Revealing nothing: the same answer as an id that never existed.
    let unknown = revoke(&s, &mine, &uuid::Uuid::new_v4().to_string()).await;
    assert_eq!(unknown.status, 404, "{}", unknown.text);
    assert_eq!(unknown.text, r.text);
    assert!(r.set_cookie().is_none());

    assert_eq!(ids(&sessions(&s, &theirs).await), [sid(&theirs)]);
    assert_alive(&s, &theirs, &their_token).await;
    assert_eq!(s.verify(&mine).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_checks_its_bearer_and_body() {
    let s = TestServer::start().await;
    let (jwt, token) = s.signed_in("revokebody@example.com").await;
    let me = sid(&jwt);
    let url = s.url("/auth/sessions/revoke");

    let r = s.post("/auth/sessions/revoke", json!({ "id": me })).await;
    assert_invalid_token(&r);
    let r = s
        .post_bearer("/auth/sessions/revoke", "garbage", json!({ "id": me }))
        .await;
    assert_invalid_token(&r);

    for bad in [
        json!({}),
        json!([]),
        json!({"id": 7}),
        json!({"id": null}),
        json!({"id": "not-a-uuid"}),
        json!({"id": ""}),
        json!({"id": format!("{me}x")}),
    ] {
        let r = s
            .post_bearer("/auth/sessions/revoke", &jwt, bad.clone())
            .await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text);
        assert_eq!(r.error(), "invalid_request", "{bad}");
    }
    let r = s.send(s.http.post(&url).bearer_auth(&jwt)).await;
    assert_eq!(r.status, 400, "no body: {}", r.text);
    assert_eq!(r.error(), "invalid_request");
    let r = s
        .send(
            s.http
                .post(&url)
                .bearer_auth(&jwt)
                .header(CONTENT_TYPE, "text/plain")
                .body(json!({ "id": me }).to_string()),
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert_eq!(r.error(), "unsupported_media_type");
    let r = revoke(&s, &jwt, "00000000-0000-4000-8000-000000000000").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.error(), "not_found");

    // None of that touched the session.
    assert_alive(&s, &jwt, &token).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_ones_own_session_clears_the_cookie_and_ends_it() {
    let s = TestServer::start().await;
    let email = "self@example.com";
    let (jwt, token) = s.signed_in(email).await;
    let (other_jwt, other_token) = s.login(email).await;
    assert_eq!(s.verify(&jwt).await.status, 200);

    let r = revoke(&s, &jwt, &sid(&jwt)).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.clears_cookie(), "{:?}", r.set_cookie());

    assert_dead(&s, &jwt, &token).await;
    assert_invalid_token(&revoke(&s, &jwt, &sid(&jwt)).await);
    let (other_jwt, _) = assert_alive(&s, &other_jwt, &other_token).await;
    assert_eq!(ids(&sessions(&s, &other_jwt).await), [sid(&other_jwt)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_answers_head_and_needs_a_bearer() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("head@example.com").await;

    let r = s
        .send(s.http.head(s.url("/auth/sessions")).bearer_auth(&jwt))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.text.is_empty(), "HEAD has no body: {:?}", r.text);
    let r = s.send(s.http.head(s.url("/auth/sessions"))).await;
    assert_eq!(r.status, 401);
    assert!(r.text.is_empty());

    assert_invalid_token(&s.get("/auth/sessions").await);
    assert_invalid_token(&list(&s, "garbage").await);

    let r = s.post_bearer("/auth/sessions", &jwt, json!({})).await;
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD"));
    let r = s
        .send(s.http.get(s.url("/auth/sessions/revoke")).bearer_auth(&jwt))
        .await;
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
    let r = s
        .send(
            s.http
                .get(s.url("/auth/account/password"))
                .bearer_auth(&jwt),
        )
        .await;
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_shows_at_most_the_cap() {
    let s = TestServer::with(&[("EDGEAUTH_SESSIONS_PER_ACCOUNT", "3")]).await;
    let email = "capped@example.com";
    s.create_account(email).await;
    let mut jwts = Vec::new();
    for i in 0..5 {
        jwts.push(login_as(&s, email, &format!("device {i}")).await.0);
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let newest = jwts.last().unwrap();
    let listed = sessions(&s, newest).await;
    assert_eq!(listed.len(), 3, "{listed:?}");
    let want: Vec<String> = jwts[2..].iter().rev().map(|j| sid(j)).collect();
    assert_eq!(ids(&listed), want);
    assert_eq!(current_id(&listed), sid(newest));
    let agents: Vec<&str> = listed
        .iter()
        .map(|s| s["user_agent"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["device 4", "device 3", "device 2"]);
    // The evicted ones cannot list.
    assert_invalid_token(&list(&s, &jwts[0]).await);
}

/// A session revoked through another replica is still trusted by this one
/// for up to `EDGEAUTH_VERIFY_CACHE_TTL`; a password change must not ride on
/// that: the change script itself checks that the caller's session lives.
/// (Otherwise a thief whose session the owner just ended could still set a
/// new password and end the owner's sessions.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_revoked_on_another_replica_cannot_change_the_password() {
    let a = TestServer::with(&[("EDGEAUTH_VERIFY_CACHE_TTL", "1s")]).await;
    // B shares A's Redis and signing key, as replicas do.
    let dir = crate::support::TempDir::new();
    let key = dir.write("a.pem", &a.signing_pem);
    let b = TestServer::with_redis(
        a.redis.shared(),
        &[("EDGEAUTH_JWT_KEY_FILES", key.to_str().unwrap())],
    )
    .await;
    let email = "replicas@example.com";
    let (owner, owner_token) = a.signed_in(email).await;
    let (thief, _) = a.login(email).await;
    // Replica A has seen the thief's session alive (and now caches that).
    assert_eq!(a.verify(&thief).await.status, 200);
    let before = a.redis.stored_password(&sub(&owner));

    let r = revoke(&b, &owner, &sid(&thief)).await;
    assert_eq!(r.status, 204, "{}", r.text);

    let r = change(&a, &thief, PASSWORD, "the thief's password").await;
    assert_invalid_token(&r);
    assert_eq!(a.redis.stored_password(&sub(&owner)), before);
    assert!(a.redis.events_of("password.changed").is_empty());
    assert_alive(&a, &owner, &owner_token).await;
    assert_eq!(login_with(&a, email, PASSWORD).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_old_passwords_count_like_failed_logins() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "2/1m")]).await;
    let (jwt, _) = s.signed_in("oracle@example.com").await;
    let change = |old: &'static str| {
        s.post_bearer(
            "/auth/account/password",
            &jwt,
            json!({"old_password": old, "new_password": "a new password"}),
        )
    };
    // A right old password gives its slot back.
    assert_eq!(change(PASSWORD).await.status, 204);
    let login = s
        .post(
            "/auth/login",
            json!({"email": "oracle@example.com", "password": "a new password"}),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.text);
    let jwt = login.jwt();
    let change = |old: &'static str| {
        s.post_bearer(
            "/auth/account/password",
            &jwt,
            json!({"old_password": old, "new_password": "another new one"}),
        )
    };
    assert_eq!(change("wrong guess 1").await.status, 401);
    assert_eq!(change("wrong guess 2").await.status, 401);
    let limited = change("a new password").await;
    assert_eq!(limited.status, 429, "{}", limited.text);
    assert_eq!(limited.error(), "rate_limited");
    assert!(limited.header("retry-after").is_some());
}
