//! Account lifecycle: register, activate (and request a new
//! ticket), forgotten password (request, reset), remove, auto-activation and
//! email normalization.

use std::collections::HashMap;

use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{PASSWORD, TestServer, now_ms};

const UNKNOWN_TICKET: &str = "8d1c1c1e-6f0a-4f57-9b59-3d1f0c6c1a11";

fn account_keys(s: &TestServer) -> Vec<String> {
    s.redis.keys("edgeauth:{*}:account")
}

async fn register(s: &TestServer, email: &str, password: &str) -> crate::support::Reply {
    s.post(
        "/auth/register",
        json!({"email": email, "password": password}),
    )
    .await
}

async fn login_status(s: &TestServer, email: &str, password: &str) -> (u16, String) {
    let r = s
        .post("/auth/login", json!({"email": email, "password": password}))
        .await;
    let code = if r.status == 200 {
        String::new()
    } else {
        r.error()
    };
    (r.status, code)
}

fn assert_uuid_v4(value: &str) {
    let id = uuid::Uuid::parse_str(value).unwrap_or_else(|_| panic!("not a UUID: {value:?}"));
    assert_eq!(id.get_version_num(), 4, "{value}");
    assert_eq!(id.hyphenated().to_string(), value, "canonical form");
}

fn one_event(s: &TestServer, kind: &str) -> HashMap<String, String> {
    let events = s.redis.events_of(kind);
    assert_eq!(events.len(), 1, "{kind}: {events:?}");
    events.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_emits_account_registered_with_a_ticket() {
    let s = TestServer::start().await;
    let before = now_ms();
    let r = register(&s, "new@example.com", PASSWORD).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    assert!(r.set_cookie().is_none());
    let after = now_ms();

    let e = one_event(&s, "account.registered");
    assert_eq!(e["email"], "new@example.com");
    assert_uuid_v4(&e["user_id"]);
    assert_uuid_v4(&e["ticket"]);
    let at: u64 = e["at"].parse().unwrap();
    let expires_at: u64 = e["expires_at"].parse().unwrap();
    assert!(
        before <= at && at <= after,
        "at {at} not in [{before}, {after}]"
    );
    assert!(expires_at > at, "expires_at {expires_at} <= at {at}");
    // The account exists under its own hash tag.
    assert_eq!(
        account_keys(&s),
        [format!("edgeauth:{{{}}}:account", e["user_id"])]
    );
    // Neither the email nor the password appears in a key name or in clear.
    let dump = s.redis.dump();
    assert!(!dump.contains(PASSWORD));
    for key in s.redis.keys("*") {
        assert!(!key.contains("new@example.com"), "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_rejects_invalid_emails() {
    let s = TestServer::start().await;
    let too_long = format!("{}@example.com", "a".repeat(255 - "@example.com".len()));
    let at_limit = format!("{}@example.com", "b".repeat(254 - "@example.com".len()));
    let cases: Vec<&str> = vec![
        "",
        "   ",
        "plainaddress",
        "@example.com",
        "user@",
        "user@localhost",
        "user@@example.com",
        "a@b@example.com",
        "us er@example.com",
        "user@.example.com",
        "user@example.com.",
        &too_long,
    ];
    for email in cases {
        let r = register(&s, email, PASSWORD).await;
        assert_eq!(r.status, 400, "{email:?}: {}", r.text);
        assert_eq!(r.error(), "invalid_email", "{email:?}");
    }
    assert!(s.redis.events().is_empty());
    // 254 bytes is still fine.
    let r = register(&s, &at_limit, PASSWORD).await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_checks_password_length_in_characters() {
    let s = TestServer::start().await;
    for (name, password) in [
        ("empty", String::new()),
        ("5 chars", "abcde".to_owned()),
        ("5 multibyte chars", "ééééé".to_owned()),
        ("129 chars", "a".repeat(129)),
        ("129 multibyte chars", "🔑".repeat(129)),
    ] {
        let r = register(&s, "pw@example.com", &password).await;
        assert_eq!(r.status, 400, "{name}: {}", r.text);
        assert_eq!(r.error(), "invalid_password", "{name}");
    }
    assert!(s.redis.events().is_empty());
    // The bounds are inclusive, and count characters, not bytes.
    for (i, password) in [
        "abcdef".to_owned(),
        "a".repeat(128),
        "🔑".repeat(128),
        "ä".repeat(128),
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("pw{i}@example.com");
        let r = register(&s, &email, &password).await;
        assert_eq!(
            r.status,
            204,
            "{} chars: {}",
            password.chars().count(),
            r.text
        );
        let ticket = s.redis.ticket("account.registered", &email);
        let r = s
            .post("/auth/account/activate", json!({ "ticket": ticket }))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(login_status(&s, &email, &password).await.0, 200, "{email}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_registration_is_204_and_emits_account_exists() {
    let s = TestServer::start().await;
    assert_eq!(register(&s, "dup@example.com", PASSWORD).await.status, 204);
    let first = one_event(&s, "account.registered");
    // Same email, another password, another spelling.
    let r = register(&s, " DUP@example.com", "another password").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.text.is_empty());
    let exists = one_event(&s, "account.exists");
    assert_eq!(exists["user_id"], first["user_id"]);
    assert_eq!(exists["email"], "dup@example.com");
    assert!(!exists.contains_key("ticket"), "{exists:?}");
    assert_eq!(s.redis.events_of("account.registered").len(), 1);
    assert_eq!(account_keys(&s).len(), 1);
    // The first password still holds; the second never took.
    s.post("/auth/account/activate", json!({"ticket": first["ticket"]}))
        .await;
    assert_eq!(login_status(&s, "dup@example.com", PASSWORD).await.0, 200);
    assert_eq!(
        login_status(&s, "dup@example.com", "another password").await,
        (401, "invalid_credentials".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_of_one_email_create_one_account() {
    // Enough hash workers that the 20 registrations reach Redis together.
    let s = TestServer::with(&[("EDGEAUTH_HASH_CONCURRENCY", "20")]).await;
    let mut set = JoinSet::new();
    for i in 0..20 {
        let http = s.http.clone();
        let url = s.url("/auth/register");
        set.spawn(async move {
            let r = http
                .post(url)
                .json(&json!({"email": "race@example.com", "password": format!("password-{i}")}))
                .send()
                .await
                .unwrap();
            r.status().as_u16()
        });
    }
    let mut statuses = Vec::new();
    while let Some(status) = set.join_next().await {
        statuses.push(status.unwrap());
    }
    assert_eq!(statuses, vec![204; 20]);
    assert_eq!(account_keys(&s).len(), 1, "{:?}", account_keys(&s));
    assert_eq!(s.redis.keys("edgeauth:email:*").len(), 1);
    let registered = one_event(&s, "account.registered");
    let exists = s.redis.events_of("account.exists");
    assert_eq!(exists.len(), 19);
    assert!(exists.iter().all(|e| e["user_id"] == registered["user_id"]));
    // The one account is usable.
    let r = s
        .post(
            "/auth/account/activate",
            json!({"ticket": registered["ticket"]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Exactly one of the 20 passwords works.
    let mut working = 0;
    for i in 0..20 {
        if login_status(&s, "race@example.com", &format!("password-{i}"))
            .await
            .0
            == 200
        {
            working += 1;
        }
    }
    assert_eq!(working, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_before_activation_is_403_account_inactive() {
    let s = TestServer::start().await;
    register(&s, "inactive@example.com", PASSWORD).await;
    assert_eq!(
        login_status(&s, "inactive@example.com", PASSWORD).await,
        (403, "account_inactive".into())
    );
    // A wrong password says nothing about the account's state.
    assert_eq!(
        login_status(&s, "inactive@example.com", "wrong password").await,
        (401, "invalid_credentials".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activate_validates_and_spends_the_ticket() {
    let s = TestServer::start().await;
    register(&s, "act@example.com", PASSWORD).await;
    let ticket = s.redis.ticket("account.registered", "act@example.com");

    for bad in [
        "",
        "not-a-ticket",
        "12345",
        "8d1c1c1e-6f0a-4f57-9b59",
        "8d1c1c1e-6f0a-4f57-9b59-3d1f0c6c1a11x",
        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
    ] {
        let r = s
            .post("/auth/account/activate", json!({ "ticket": bad }))
            .await;
        assert_eq!(r.status, 400, "{bad:?}: {}", r.text);
        assert_eq!(r.error(), "invalid_request", "{bad:?}");
    }
    for unknown in [UNKNOWN_TICKET, "00000000-0000-0000-0000-000000000000"] {
        let r = s
            .post("/auth/account/activate", json!({ "ticket": unknown }))
            .await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.error(), "invalid_ticket");
    }
    // None of that activated anything.
    assert_eq!(login_status(&s, "act@example.com", PASSWORD).await.0, 403);

    let r = s
        .post("/auth/account/activate", json!({ "ticket": ticket }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let activated = one_event(&s, "account.activated");
    assert_eq!(activated["email"], "act@example.com");
    assert_eq!(login_status(&s, "act@example.com", PASSWORD).await.0, 200);

    // Single use.
    let r = s
        .post("/auth/account/activate", json!({ "ticket": ticket }))
        .await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(r.error(), "invalid_ticket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_of_the_wrong_purpose_are_refused() {
    let s = TestServer::start().await;
    register(&s, "purpose@example.com", PASSWORD).await;
    let activation = s.redis.ticket("account.registered", "purpose@example.com");
    s.forgot_request("purpose@example.com").await;
    let reset = s
        .redis
        .ticket("password.reset_requested", "purpose@example.com");

    let r = s
        .post("/auth/account/activate", json!({ "ticket": reset }))
        .await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    let r = s.reset_password(&activation, "brand new password").await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    // Both are still good for their own purpose.
    let r = s
        .post("/auth/account/activate", json!({ "ticket": activation }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s.reset_password(&reset, "brand new password").await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_tickets_are_refused() {
    let s = TestServer::with(&[
        ("EDGEAUTH_ACTIVATION_TICKET_TTL", "1s"),
        ("EDGEAUTH_RESET_TICKET_TTL", "1s"),
    ])
    .await;
    register(&s, "late@example.com", PASSWORD).await;
    let activation = s.redis.ticket("account.registered", "late@example.com");
    s.forgot_request("late@example.com").await;
    let reset = s
        .redis
        .ticket("password.reset_requested", "late@example.com");
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = s
        .post("/auth/account/activate", json!({ "ticket": activation }))
        .await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    let r = s.reset_password(&reset, "brand new password").await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    assert_eq!(login_status(&s, "late@example.com", PASSWORD).await.0, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_request_sends_a_ticket_only_for_an_inactive_account() {
    let s = TestServer::start().await;
    register(&s, "pending@example.com", PASSWORD).await;
    s.create_account("active@example.com").await;

    for email in [
        "unknown@example.com",
        "active@example.com",
        "pending@example.com",
    ] {
        let r = s
            .post("/auth/account/activate/request", json!({ "email": email }))
            .await;
        assert_eq!(r.status, 204, "{email}: {}", r.text);
        assert!(r.text.is_empty());
    }
    let requested = one_event(&s, "account.activation_requested");
    assert_eq!(requested["email"], "pending@example.com");
    assert_uuid_v4(&requested["ticket"]);
    assert!(requested["expires_at"].parse::<u64>().unwrap() > now_ms());
    let registered = s.redis.ticket("account.registered", "pending@example.com");
    assert_ne!(requested["ticket"], registered);

    // The new ticket activates (normalized spelling of the email works too).
    let r = s
        .post(
            "/auth/account/activate",
            json!({"ticket": requested["ticket"]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        login_status(&s, "pending@example.com", PASSWORD).await.0,
        200
    );
    // Now active: asking again sends nothing more.
    let r = s
        .post(
            "/auth/account/activate/request",
            json!({"email": " Pending@Example.com "}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(s.redis.events_of("account.activation_requested").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_request_sends_a_ticket_only_when_the_account_exists() {
    let s = TestServer::start().await;
    register(&s, "pending@example.com", PASSWORD).await;
    s.create_account("active@example.com").await;
    let r = s.forgot_request("unknown@example.com").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(s.redis.events_of("password.reset_requested").is_empty());

    for email in ["active@example.com", "PENDING@example.com"] {
        let r = s.forgot_request(email).await;
        assert_eq!(r.status, 204, "{email}: {}", r.text);
        assert!(r.text.is_empty());
    }
    let events = s.redis.events_of("password.reset_requested");
    let emails: Vec<&str> = events.iter().map(|e| e["email"].as_str()).collect();
    assert_eq!(emails, ["active@example.com", "pending@example.com"]);
    for e in &events {
        assert_uuid_v4(&e["ticket"]);
        assert_uuid_v4(&e["user_id"]);
        assert!(e["expires_at"].parse::<u64>().unwrap() > e["at"].parse::<u64>().unwrap());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_checks_the_password_before_spending_the_ticket() {
    let s = TestServer::start().await;
    s.create_account("reset@example.com").await;
    s.forgot_request("reset@example.com").await;
    let ticket = s
        .redis
        .ticket("password.reset_requested", "reset@example.com");

    for short in ["", "abcde", "a".repeat(129).as_str()] {
        let r = s.reset_password(&ticket, short).await;
        assert_eq!(r.status, 400, "{}", r.text);
        assert_eq!(r.error(), "invalid_password");
    }
    // A malformed ticket is 400 before anything else.
    let r = s.reset_password("nope", "brand new password").await;
    assert_eq!((r.status, r.error()), (400, "invalid_request".into()));
    // An unknown one is 401.
    let r = s.reset_password(UNKNOWN_TICKET, "brand new password").await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    // The password did not change.
    assert_eq!(login_status(&s, "reset@example.com", PASSWORD).await.0, 200);

    // The ticket survived the refusals.
    let r = s.reset_password(&ticket, "brand new password").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        login_status(&s, "reset@example.com", PASSWORD).await,
        (401, "invalid_credentials".into())
    );
    assert_eq!(
        login_status(&s, "reset@example.com", "brand new password")
            .await
            .0,
        200
    );
    let changed = one_event(&s, "password.changed");
    assert_eq!(changed["email"], "reset@example.com");

    // Used: refused, and the password stays.
    let r = s.reset_password(&ticket, "third password").await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    assert_eq!(
        login_status(&s, "reset@example.com", "third password").await,
        (401, "invalid_credentials".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_activates_an_inactive_account() {
    let s = TestServer::start().await;
    register(&s, "never@example.com", PASSWORD).await;
    assert_eq!(login_status(&s, "never@example.com", PASSWORD).await.0, 403);
    s.forgot_request("never@example.com").await;
    let ticket = s
        .redis
        .ticket("password.reset_requested", "never@example.com");
    let r = s.reset_password(&ticket, "brand new password").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        login_status(&s, "never@example.com", "brand new password")
            .await
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_kills_every_refresh_token_and_its_jwts() {
    let s = TestServer::start().await;
    let (jwt_a, refresh_a) = s.signed_in("kill@example.com").await;
    let (jwt_b, refresh_b) = s.login("kill@example.com").await;
    assert_eq!(s.verify(&jwt_a).await.status, 200);
    assert_eq!(s.verify(&jwt_b).await.status, 200);

    s.forgot_request("kill@example.com").await;
    let ticket = s
        .redis
        .ticket("password.reset_requested", "kill@example.com");
    let r = s.reset_password(&ticket, "brand new password").await;
    assert_eq!(r.status, 204, "{}", r.text);

    for (jwt, refresh) in [(&jwt_a, &refresh_a), (&jwt_b, &refresh_b)] {
        let r = s.post_cookie("/auth/token/refresh", refresh).await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.error(), "invalid_refresh_token");
        assert!(r.clears_cookie());
        let v = s.verify(jwt).await;
        assert_eq!(v.status, 401, "{}", v.text);
        let r = s.post_bearer("/auth/account/remove", jwt, json!({})).await;
        assert_eq!((r.status, r.error()), (401, "invalid_token".into()));
    }
    assert!(s.redis.keys("edgeauth:{*}:session:*").is_empty());
    // A new login works as usual.
    let r = s
        .post(
            "/auth/login",
            json!({"email": "kill@example.com", "password": "brand new password"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(s.verify(&r.jwt()).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_requires_a_valid_bearer_token() {
    let s = TestServer::start().await;
    let (jwt, refresh) = s.signed_in("keep@example.com").await;
    let requests = [
        s.http.post(s.url("/auth/account/remove")),
        s.http
            .post(s.url("/auth/account/remove"))
            .bearer_auth("not.a.jwt"),
        s.http
            .post(s.url("/auth/account/remove"))
            .bearer_auth(format!("{jwt}x")),
        s.http
            .post(s.url("/auth/account/remove"))
            .header("authorization", format!("Basic {jwt}")),
        // A refresh token is not an access token.
        s.http
            .post(s.url("/auth/account/remove"))
            .bearer_auth(&refresh),
        s.http
            .post(s.url("/auth/account/remove"))
            .header("cookie", format!("refresh_token={refresh}")),
    ];
    for (i, request) in requests.into_iter().enumerate() {
        let r = s.send(request).await;
        assert_eq!(r.status, 401, "case {i}: {}", r.text);
        assert_eq!(r.error(), "invalid_token", "case {i}");
        assert_eq!(
            r.header("www-authenticate").as_deref(),
            Some(r#"Bearer error="invalid_token""#),
            "case {i}"
        );
    }
    assert!(s.redis.events_of("account.removed").is_empty());
    assert_eq!(s.verify(&jwt).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remove_deletes_the_account_and_frees_the_email() {
    let s = TestServer::start().await;
    s.create_account("gone@example.com").await;
    let (jwt, refresh) = s.login("gone@example.com").await;
    let (other_jwt, _) = s.login("gone@example.com").await;
    let user_id = s.redis.events_of("account.registered")[0]["user_id"].clone();
    let (bystander, _) = s.signed_in("stays@example.com").await;

    let r = s.post_bearer("/auth/account/remove", &jwt, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.clears_cookie(), "{:?}", r.set_cookie());
    let removed = one_event(&s, "account.removed");
    assert_eq!(removed["user_id"], user_id);
    assert_eq!(removed["email"], "gone@example.com");

    // Nothing of the account is left in Redis.
    for key in s.redis.keys("*") {
        assert!(!key.contains(&user_id), "left behind: {key}");
    }
    assert_eq!(
        s.redis.keys("edgeauth:email:*").len(),
        1,
        "only the bystander"
    );

    assert_eq!(
        login_status(&s, "gone@example.com", PASSWORD).await,
        (401, "invalid_credentials".into())
    );
    for token in [&jwt, &other_jwt] {
        let v = s.verify(token).await;
        assert_eq!(v.status, 401, "{}", v.text);
        assert_eq!(v.error(), "invalid_token");
    }
    let r = s.post_bearer("/auth/account/remove", &jwt, json!({})).await;
    assert_eq!((r.status, r.error()), (401, "invalid_token".into()));
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!((r.status, r.error()), (401, "invalid_refresh_token".into()));
    assert_eq!(s.verify(&bystander).await.status, 200);

    // The email is free again: a fresh account, not `account.exists`.
    let r = register(&s, "gone@example.com", "a new password").await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(s.redis.events_of("account.exists").is_empty());
    let registered = s.redis.events_of("account.registered");
    let fresh = registered
        .iter()
        .rev()
        .find(|e| e["email"] == "gone@example.com")
        .unwrap();
    assert_ne!(fresh["user_id"], user_id);
    s.post("/auth/account/activate", json!({"ticket": fresh["ticket"]}))
        .await;
    assert_eq!(
        login_status(&s, "gone@example.com", "a new password")
            .await
            .0,
        200
    );
    assert_eq!(login_status(&s, "gone@example.com", PASSWORD).await.0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_activate_skips_activation() {
    let s = TestServer::with(&[("EDGEAUTH_AUTO_ACTIVATE", "true")]).await;
    let r = register(&s, "auto@example.com", PASSWORD).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let e = one_event(&s, "account.registered");
    assert_eq!(e["email"], "auto@example.com");
    assert!(!e.contains_key("ticket"), "no activation ticket: {e:?}");
    let (jwt, _) = s.login("auto@example.com").await;
    assert_eq!(s.verify(&jwt).await.status, 200);
    // Nothing to activate.
    let r = s
        .post(
            "/auth/account/activate/request",
            json!({"email": "auto@example.com"}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert!(s.redis.events_of("account.activation_requested").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_are_trimmed_and_lowercased() {
    let s = TestServer::start().await;
    let r = register(&s, " A@B.COM ", PASSWORD).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let e = one_event(&s, "account.registered");
    assert_eq!(e["email"], "a@b.com");
    s.post("/auth/account/activate", json!({"ticket": e["ticket"]}))
        .await;
    for spelling in ["a@b.com", "A@B.COM", "\ta@B.com\n", "  a@b.COM"] {
        assert_eq!(
            login_status(&s, spelling, PASSWORD).await.0,
            200,
            "{spelling:?}"
        );
    }
    // Another spelling is the same account.
    register(&s, "a@b.com", PASSWORD).await;
    assert_eq!(one_event(&s, "account.exists")["user_id"], e["user_id"]);
    assert_eq!(account_keys(&s).len(), 1);
}

/// POSTs `body(i)` to `path` 20 times at once; the statuses, in order.
async fn twenty_at_once(
    s: &TestServer,
    path: &str,
    body: impl Fn(usize) -> serde_json::Value,
) -> Vec<u16> {
    let mut set = JoinSet::new();
    for i in 0..20 {
        let request = s.http.post(s.url(path)).json(&body(i));
        set.spawn(async move { (i, request.send().await.unwrap().status().as_u16()) });
    }
    let mut statuses = vec![0; 20];
    while let Some(done) = set.join_next().await {
        let (i, status) = done.unwrap();
        statuses[i] = status;
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticket_is_spent_once_under_concurrency() {
    let s = TestServer::with(&[("EDGEAUTH_HASH_CONCURRENCY", "20")]).await;
    register(&s, "once@example.com", PASSWORD).await;
    let activation = s.redis.ticket("account.registered", "once@example.com");
    let statuses = twenty_at_once(
        &s,
        "/auth/account/activate",
        |_| json!({ "ticket": activation }),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|&&c| c == 204).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&c| c == 401).count(),
        19,
        "{statuses:?}"
    );
    assert_eq!(s.redis.events_of("account.activated").len(), 1);

    s.forgot_request("once@example.com").await;
    let reset = s
        .redis
        .ticket("password.reset_requested", "once@example.com");
    let statuses = twenty_at_once(
        &s,
        "/auth/account/forgot",
        |i| json!({"ticket": reset, "new_password": format!("new password {i}")}),
    )
    .await;
    assert_eq!(
        statuses.iter().filter(|&&c| c == 204).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&c| c == 401).count(),
        19,
        "{statuses:?}"
    );
    let winner = statuses.iter().position(|&c| c == 204).unwrap();
    for i in 0..20 {
        let expected = if i == winner { 200 } else { 401 };
        let password = format!("new password {i}");
        assert_eq!(
            login_status(&s, "once@example.com", &password).await.0,
            expected,
            "password {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_of_a_removed_account_are_dead() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("ghost@example.com").await;
    s.forgot_request("ghost@example.com").await;
    let reset = s
        .redis
        .ticket("password.reset_requested", "ghost@example.com");
    let r = s.post_bearer("/auth/account/remove", &jwt, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s.reset_password(&reset, "brand new password").await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    // The reset did not bring back a half account.
    assert!(account_keys(&s).is_empty(), "{:?}", account_keys(&s));
    assert_eq!(
        login_status(&s, "ghost@example.com", "brand new password").await,
        (401, "invalid_credentials".into())
    );
    // And the email registers afresh.
    register(&s, "ghost@example.com", PASSWORD).await;
    assert!(s.redis.events_of("account.exists").is_empty());
}
