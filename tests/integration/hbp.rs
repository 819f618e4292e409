//! Hasura claims and HBP client compatibility (README, "Migrating from Hasura Backend Plus"): the
//! claims object with `EDGEAUTH_JWT_HASURA_CLAIMS` and not without; every
//! compat route absent without `EDGEAUTH_HBP_COMPAT` and, with it, mapped
//! onto our handlers (success and main error); openapi.yaml's `x-hbp-compat`
//! section matches the compat table; and the real `nhost-js-sdk` 2.3.4
//! driven against a live server (tests/hbp-sdk/run.mjs).

use std::path::Path;
use std::time::Duration;

use edgeauth::router::COMPAT_ROUTES;
use reqwest::header::COOKIE;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::jwt::claims as payload;
use crate::support::node;
use crate::support::totp::{code, secret_key, step_now};
use crate::support::{PASSWORD, Reply, TestServer, assert_error};

const COMPAT: &[(&str, &str)] = &[
    ("EDGEAUTH_HBP_COMPAT", "true"),
    ("EDGEAUTH_JWT_HASURA_CLAIMS", "true"),
];

const CLAIMS_NAMESPACE: &str = "https://hasura.io/jwt/claims";

/// A login answer with the refresh token in the body and no cookie.
fn body_tokens(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.set_cookie().is_none(), "cookie: false set a cookie");
    let body = r.json();
    let refresh = body["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token in {}", r.text))
        .to_owned();
    assert!(
        body["jwt_expires_in"].as_u64().unwrap_or(0) > 0,
        "{}",
        r.text
    );
    (r.jwt(), refresh)
}

/// A login answer with the refresh token in the cookie only.
fn cookie_tokens(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json().get("refresh_token").is_none(), "{}", r.text);
    (r.jwt(), r.refresh_cookie().expect("refresh cookie"))
}

async fn get_with(s: &TestServer, path: &str, cookie: Option<&str>) -> Reply {
    let mut request = s.http.get(s.url(path));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE, format!("refresh_token={cookie}"));
    }
    s.send(request).await
}

// ---------------------------------------------------------------- TOTP

/// The code of `step` for an `otp_secret`.
fn totp(secret: &str, step: u64) -> String {
    code(&secret_key(secret), step)
}

/// Turns MFA on for the account of `jwt` with a code of step `now`;
/// returns the secret and that step (a later login needs a newer one).
async fn enable_mfa(s: &TestServer, jwt: &str) -> (String, u64) {
    let secret = s.mfa_generate(jwt).await;
    let step = step_now();
    s.enable_mfa_with(jwt, &totp(&secret, step)).await;
    (secret, step)
}

// ---------------------------------------------------------------- claims

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hasura_claims_with_the_flag_and_not_without() {
    let s = TestServer::with(&[
        ("EDGEAUTH_JWT_HASURA_CLAIMS", "true"),
        ("EDGEAUTH_DEFAULT_ROLE", "member"),
    ])
    .await;
    let (jwt, refresh) = s.signed_in("claims@example.com").await;
    let claims = payload(&jwt);
    let sub = claims["sub"].as_str().expect("sub");
    assert_eq!(
        claims[CLAIMS_NAMESPACE],
        json!({
            "x-hasura-user-id": sub,
            "x-hasura-default-role": "member",
            "x-hasura-allowed-roles": ["member"],
        }),
        "{claims}"
    );
    assert_eq!(
        s.verify(&jwt).await.status,
        200,
        "claims do not break verify"
    );
    // Refreshed tokens carry them too.
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(payload(&r.jwt())[CLAIMS_NAMESPACE]["x-hasura-user-id"], sub);

    let default_role = TestServer::with(&[("EDGEAUTH_JWT_HASURA_CLAIMS", "true")]).await;
    let (jwt, _) = default_role.signed_in("role@example.com").await;
    assert_eq!(
        payload(&jwt)[CLAIMS_NAMESPACE]["x-hasura-default-role"],
        "user"
    );

    let plain = TestServer::start().await;
    let (jwt, _) = plain.signed_in("plain@example.com").await;
    let claims = payload(&jwt);
    assert!(claims.get(CLAIMS_NAMESPACE).is_none(), "{claims}");
    // The role alone (without the flag) adds nothing either.
    let role_only = TestServer::with(&[("EDGEAUTH_DEFAULT_ROLE", "member")]).await;
    let (jwt, _) = role_only.signed_in("roleonly@example.com").await;
    assert!(payload(&jwt).get(CLAIMS_NAMESPACE).is_none());
}

// ---------------------------------------------------------------- without the flag

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compat_routes_are_absent_without_the_flag() {
    let s = TestServer::start().await;
    let (jwt, refresh) = s.signed_in("off@example.com").await;
    for path in [
        "/auth/change-password",
        "/auth/change-password/request",
        "/auth/change-password/change",
        "/auth/change-email",
        "/auth/change-email/request",
        "/auth/change-email/change",
    ] {
        let r = s.post_bearer(path, &jwt, json!({})).await;
        assert_error(&r, 404, "not_found");
    }
    let ticket = Uuid::new_v4();
    assert_error(
        &s.get(&format!("/auth/activate?ticket={ticket}")).await,
        404,
        "not_found",
    );
    // Our own POST refresh only: a GET with the token in the URL is refused.
    let r = s
        .get(&format!("/auth/token/refresh?refresh_token={refresh}"))
        .await;
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
    // `cookie: false` means nothing: the cookie as always, no body token.
    let r = s
        .post(
            "/auth/login",
            json!({"email": "off@example.com", "password": PASSWORD, "cookie": false}),
        )
        .await;
    cookie_tokens(&r);
    // A query token does not log out (ours reads the cookie or the body only).
    let r = s
        .send(
            s.http
                .post(s.url(&format!("/auth/logout?refresh_token={refresh}"))),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        s.verify(&jwt).await.status,
        200,
        "logged out by a URL token"
    );
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

// ---------------------------------------------------------------- with the flag

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_and_totp_honour_cookie_false() {
    let s = TestServer::with(COMPAT).await;
    let email = "cookie@example.com";
    s.create_account(email).await;
    let login = |cookie: Value| {
        let mut body = json!({"email": email, "password": PASSWORD});
        if !cookie.is_null() {
            body["cookie"] = cookie;
        }
        s.post("/auth/login", body)
    };
    let (jwt, refresh) = body_tokens(&login(json!(false)).await);
    assert_eq!(s.verify(&jwt).await.status, 200);
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "the body refresh token works: {}", r.text);
    cookie_tokens(&login(json!(true)).await);
    cookie_tokens(&login(Value::Null).await);
    assert_error(&login(json!("false")).await, 400, "invalid_request");
    let r = s
        .post(
            "/auth/login",
            json!({"email": email, "password": "wrong password", "cookie": false}),
        )
        .await;
    assert_error(&r, 401, "invalid_credentials");

    let (secret, step) = enable_mfa(&s, &jwt).await;
    let r = login(json!(false)).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.set_cookie().is_none());
    let ticket = r.json()["ticket"].as_str().expect("mfa ticket").to_owned();
    assert_eq!(r.json()["mfa"], true);
    let totp_body =
        |code: String, cookie: Value| json!({"ticket": ticket, "code": code, "cookie": cookie});
    let wrong = if totp(&secret, step + 1) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = s
        .post("/auth/mfa/totp", totp_body(wrong.into(), json!(false)))
        .await;
    assert_error(&r, 401, "invalid_code");
    let r = s
        .post(
            "/auth/mfa/totp",
            totp_body(totp(&secret, step + 1), json!(false)),
        )
        .await;
    let (jwt, _) = body_tokens(&r);
    assert_eq!(s.verify(&jwt).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_by_get_with_cookie_or_query() {
    let s = TestServer::with(COMPAT).await;
    let (_, refresh) = s.signed_in("refresh@example.com").await;

    // Query token: the successor in the body only.
    let r = get_with(
        &s,
        &format!("/auth/token/refresh?refresh_token={refresh}"),
        None,
    )
    .await;
    let (_, next) = body_tokens(&r);
    assert_ne!(next, refresh);

    // Cookie and a placeholder query: the cookie wins, the successor in the cookie.
    let r = get_with(
        &s,
        "/auth/token/refresh?refresh_token=placeholder",
        Some(&next),
    )
    .await;
    let (_, cookie_next) = cookie_tokens(&r);
    // Cookie and another valid token in the query: still the cookie's family.
    let (_, other) = s.login("refresh@example.com").await;
    let r = get_with(
        &s,
        &format!("/auth/token/refresh?refresh_token={other}"),
        Some(&cookie_next),
    )
    .await;
    let (_, after) = cookie_tokens(&r);
    let r = get_with(
        &s,
        &format!("/auth/token/refresh?refresh_token={other}"),
        None,
    )
    .await;
    assert_eq!(
        r.status, 200,
        "the query's family was not touched: {}",
        r.text
    );
    assert_ne!(after, cookie_next);

    // Errors: as our refresh.
    for path in [
        "/auth/token/refresh",
        "/auth/token/refresh?refresh_token=",
        "/auth/token/refresh?refresh_token=garbage",
    ] {
        let r = s.get(path).await;
        assert_error(&r, 401, "invalid_refresh_token");
        assert!(r.clears_cookie(), "{path}");
    }
    // Our POST refresh is still there; HEAD is not a refresh.
    let r = s.post_cookie("/auth/token/refresh", &after).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = s.send(s.http.head(s.url("/auth/token/refresh"))).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow").as_deref(), Some("GET, POST"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_with_query_token_and_all() {
    let s = TestServer::with(COMPAT).await;
    let email = "logout@example.com";
    let (jwt1, refresh1) = s.signed_in(email).await;
    let (jwt2, refresh2) = s.login(email).await;

    // This device only, token in the query.
    let r = s
        .post(
            &format!("/auth/logout?refresh_token={refresh1}"),
            json!({"all": false}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert!(r.clears_cookie());
    assert_eq!(s.verify(&jwt1).await.status, 401);
    assert_eq!(s.verify(&jwt2).await.status, 200);

    // `all` with a dead token signs nobody out.
    let r = s
        .post(
            &format!("/auth/logout?refresh_token={refresh1}"),
            json!({"all": true}),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(s.verify(&jwt2).await.status, 200);

    // `all` with a live token (cookie) ends every session of the account.
    let (jwt3, _) = s.login(email).await;
    let before = s.redis.events_of("tokens.revoked").len();
    let r = s
        .send(
            s.http
                .post(s.url("/auth/logout"))
                .header(COOKIE, format!("refresh_token={refresh2}"))
                .json(&json!({"all": true})),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(s.verify(&jwt2).await.status, 401);
    assert_eq!(s.verify(&jwt3).await.status, 401);
    assert_eq!(s.redis.events_of("tokens.revoked").len(), before + 1);

    // No token at all: 204, like ours. A mistyped `all`: 400.
    assert_eq!(
        s.post("/auth/logout", json!({"all": false})).await.status,
        204
    );
    let r = s.post("/auth/logout", json!({"all": "yes"})).await;
    assert_error(&r, 400, "invalid_request");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activate_by_get() {
    let s = TestServer::with(COMPAT).await;
    let email = "activate@example.com";
    let r = s
        .post(
            "/auth/register",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204);
    let ticket = s.redis.ticket("account.registered", email);
    let r = s.get(&format!("/auth/activate?ticket={ticket}")).await;
    assert_eq!(r.status, 204, "{}", r.text);
    s.login(email).await;
    // Spent; unknown; missing; not a UUID; HEAD does not spend tickets.
    let r = s.get(&format!("/auth/activate?ticket={ticket}")).await;
    assert_error(&r, 401, "invalid_ticket");
    let r = s
        .get(&format!("/auth/activate?ticket={}", Uuid::new_v4()))
        .await;
    assert_error(&r, 401, "invalid_ticket");
    assert_error(&s.get("/auth/activate").await, 400, "invalid_request");
    assert_error(
        &s.get("/auth/activate?ticket=nope").await,
        400,
        "invalid_request",
    );
    let r = s.send(s.http.head(s.url("/auth/activate?ticket=x"))).await;
    assert_eq!(r.status, 405);

    // With HBP's redirect settings: 302 to them instead.
    let s = TestServer::with(&[
        ("EDGEAUTH_HBP_COMPAT", "true"),
        (
            "EDGEAUTH_HBP_REDIRECT_URL_SUCCESS",
            "https://app.example/activated",
        ),
        (
            "EDGEAUTH_HBP_REDIRECT_URL_ERROR",
            "https://app.example/activation-failed",
        ),
    ])
    .await;
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = s
        .post(
            "/auth/register",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204);
    let ticket = s.redis.ticket("account.registered", email);
    let url = s.url(&format!("/auth/activate?ticket={ticket}"));
    let r = s.send(no_redirects.get(&url)).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").as_deref(),
        Some("https://app.example/activated")
    );
    s.login(email).await;
    let r = s.send(no_redirects.get(&url)).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.header("location").as_deref(),
        Some("https://app.example/activation-failed")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_password_routes() {
    let s = TestServer::with(COMPAT).await;
    let email = "password@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let (other_jwt, _) = s.login(email).await;

    // Signed in: old + new.
    let r = s
        .post_bearer(
            "/auth/change-password",
            &jwt,
            json!({"old_password": "not it at all", "new_password": "brand new password"}),
        )
        .await;
    assert_error(&r, 401, "invalid_credentials");
    let r = s
        .post(
            "/auth/change-password",
            json!({"old_password": PASSWORD, "new_password": "brand new password"}),
        )
        .await;
    assert_error(&r, 401, "invalid_token");
    let r = s
        .post_bearer(
            "/auth/change-password",
            &jwt,
            json!({"old_password": PASSWORD, "new_password": "brand new password"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        s.verify(&jwt).await.status,
        200,
        "the caller's session survives"
    );
    assert_eq!(s.verify(&other_jwt).await.status, 401, "other sessions end");

    // Forgot: request, then change with the ticket.
    let r = s
        .post("/auth/change-password/request", json!({ "email": email }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s
        .post(
            "/auth/change-password/request",
            json!({ "email": "not an email" }),
        )
        .await;
    assert_error(&r, 400, "invalid_email");
    let ticket = s.redis.ticket("password.reset_requested", email);
    let change = json!({"new_password": "after the reset", "ticket": ticket});
    let r = s.post("/auth/change-password/change", change.clone()).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(
        s.verify(&jwt).await.status,
        401,
        "a reset ends every session"
    );
    let r = s.post("/auth/change-password/change", change).await;
    assert_error(&r, 401, "invalid_ticket");
    let r = s
        .post(
            "/auth/login",
            json!({"email": email, "password": "after the reset"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_email_routes() {
    let s = TestServer::with(COMPAT).await;
    for (n, path) in ["/auth/change-email", "/auth/change-email/request"]
        .into_iter()
        .enumerate()
    {
        let old = format!("old{n}@example.com");
        let new = format!("new{n}@example.com");
        let (jwt, _) = s.signed_in(&old).await;
        let r = s.post(path, json!({ "new_email": new })).await;
        assert_error(&r, 401, "invalid_token");
        let r = s.post_bearer(path, &jwt, json!({ "new_email": new })).await;
        assert_eq!(r.status, 204, "{path}: {}", r.text);
        let ticket = s.redis.ticket("email.change_requested", &new);
        let r = s
            .post("/auth/change-email/change", json!({ "ticket": ticket }))
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        let r = s
            .post("/auth/login", json!({"email": new, "password": PASSWORD}))
            .await;
        assert_eq!(r.status, 200, "login with the new email: {}", r.text);
        let r = s
            .post("/auth/change-email/change", json!({ "ticket": ticket }))
            .await;
        assert_error(&r, 401, "invalid_ticket");
    }
}

// ---------------------------------------------------------------- openapi

/// The `x-hbp-compat` section of openapi.yaml lists exactly the compat
/// table (the `paths` section is what a default server serves, checked by
/// the `openapi` module).
#[test]
fn openapi_documents_every_compat_route() {
    let document = include_str!("../../openapi.yaml");
    let mut documented = Vec::new();
    let mut in_section = false;
    let mut path = None;
    for line in document.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            in_section = line == "x-hbp-compat:";
            continue;
        }
        if !in_section {
            continue;
        }
        let key = line.trim().trim_end_matches(':');
        match indent {
            4 if key.starts_with('/') => path = Some(key.to_owned()),
            6 if ["get", "post"].contains(&key) => {
                let path = path.clone().expect("an operation under a path");
                documented.push((key.to_ascii_uppercase(), path));
            }
            _ => {}
        }
    }
    let mut routed: Vec<(String, String)> = COMPAT_ROUTES
        .iter()
        .map(|s| (s.allow.to_owned(), s.path.to_owned()))
        .collect();
    documented.sort();
    routed.sort();
    assert_eq!(
        documented, routed,
        "openapi.yaml x-hbp-compat vs COMPAT_ROUTES"
    );
}

// ---------------------------------------------------------------- the real SDK

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nhost_js_sdk_works_against_edgeauth() {
    let s = TestServer::with(COMPAT).await;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let env = vec![
        ("EDGEAUTH_URL", format!("http://{}", s.addr)),
        ("EDGEAUTH_TEST_REDIS_URL", s.redis.url()),
    ];
    let output = tokio::task::spawn_blocking(move || {
        node::run_script(&root, "hbp-sdk", "nhost-js-sdk", &env, "the HBP SDK test")
    });
    let output = tokio::time::timeout(Duration::from_secs(180), output)
        .await
        .expect("the SDK run finished within 3 minutes")
        .expect("the SDK run did not panic");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the SDK run failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
    assert!(stdout.contains("hbp sdk: ok"), "{stdout}\n{stderr}");
    println!("{stdout}");
}
