//! Locking an account (`ops::lock`, called on the in-process server as the
//! admin API does): every way in is closed at once — the Bearer token, the
//! refresh token, the edge session cookie, a pending MFA login ticket, a
//! password login (right password: `account_locked`; wrong: still
//! `invalid_credentials`), a passkey sign-in and the portal's sign-in page —
//! and unlocking lets sign-ins work again without bringing old sessions
//! back. Also 20 logins racing a lock: no session survives it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use edgeauth::ops::lock;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::portal::{Browser, assert_page, error_text};
use crate::support::edge::browser_sign_in;
use crate::support::jwt::sub;
use crate::support::soft_passkey::SoftPasskey;
use crate::support::{PASSWORD, Reply, TestServer, assert_error, now_ms};

const RP_ID: &str = "localhost";
const ORIGIN: &str = "http://localhost:8080";

async fn server() -> TestServer {
    TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_HBP_COMPAT", "true"),
        ("EDGEAUTH_WEBAUTHN_RP_ID", RP_ID),
        ("EDGEAUTH_WEBAUTHN_ORIGINS", ORIGIN),
    ])
    .await
}

fn id(jwt: &str) -> Uuid {
    Uuid::parse_str(&sub(jwt)).unwrap()
}

async fn lock(s: &TestServer, account: Uuid) {
    assert!(
        lock::lock(&s.app, account, "  suspected takeover  ", now_ms())
            .await
            .unwrap()
    );
}

async fn login(s: &TestServer, email: &str, password: &str) -> Reply {
    s.post("/auth/login", json!({"email": email, "password": password}))
        .await
}

async fn sessions(s: &TestServer, jwt: &str) -> Reply {
    s.send(s.http.get(s.url("/auth/sessions")).bearer_auth(jwt))
        .await
}

/// Registers `passkey` to the account of `jwt`.
async fn add_passkey(s: &TestServer, jwt: &str, passkey: &mut SoftPasskey) {
    let r = s
        .post_bearer("/auth/passkeys/register/begin", jwt, json!({}))
        .await;
    assert_eq!(r.status, 200, "register/begin: {}", r.text);
    let body = r.json();
    let credential = passkey.register(&body["options"]);
    let r = s
        .post_bearer(
            "/auth/passkeys/register/finish",
            jwt,
            json!({"challenge_id": body["challenge_id"], "name": "Key", "credential": credential}),
        )
        .await;
    assert_eq!(r.status, 201, "register/finish: {}", r.text);
}

async fn passkey_sign_in(s: &TestServer, passkey: &mut SoftPasskey) -> Reply {
    let r = s.post("/auth/passkeys/login/begin", json!({})).await;
    assert_eq!(r.status, 200, "login/begin: {}", r.text);
    let body = r.json();
    let credential = passkey.assert(&body["options"]);
    s.post(
        "/auth/passkeys/login/finish",
        json!({"challenge_id": body["challenge_id"], "credential": credential}),
    )
    .await
}

#[tokio::test]
async fn a_lock_ends_every_session_and_refuses_every_sign_in() {
    let s = server().await;
    let email = "locked@example.com";
    let (jwt, refresh) = s.signed_in(email).await;
    let account = id(&jwt);
    let mut passkey = SoftPasskey::new(RP_ID, ORIGIN, false);
    add_passkey(&s, &jwt, &mut passkey).await;
    let edge = browser_sign_in(&s, email).await;
    // A passkey registration begun before the lock.
    let begun = s
        .post_bearer("/auth/passkeys/register/begin", &jwt, json!({}))
        .await
        .json();
    // Everything works before.
    assert_eq!(s.verify(&jwt).await.status, 200);
    assert_eq!(sessions(&s, &jwt).await.status, 200);
    assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);
    let before = s.app.store.account(account).await.unwrap().unwrap();
    assert!(!before.locked);
    assert!(before.last_login_at.is_some_and(|t| t > 0), "{before:?}");

    lock(&s, account).await;
    let locked = s.app.store.account(account).await.unwrap().unwrap();
    assert!(locked.locked);
    assert_eq!(locked.locked_reason.as_deref(), Some("suspected takeover"));
    assert!(locked.locked_at.is_some_and(|t| t > 0));

    // Right after: the access token, the Bearer endpoints, the edge cookie.
    assert_error(&s.verify(&jwt).await, 401, "invalid_token");
    assert_error(&sessions(&s, &jwt).await, 401, "invalid_token");
    assert_eq!(s.verify_cookie(&edge.cookie).await.status, 401);
    // The refresh tokens: the API one and the browser family's; the cookie is cleared.
    for token in [&refresh, &edge.refresh_token] {
        let r = s.post_cookie("/auth/token/refresh", token).await;
        assert_error(&r, 403, "account_locked");
        assert!(r.clears_cookie(), "{:?}", r.headers);
    }
    // The pending passkey registration finishes nothing.
    let credential = SoftPasskey::new(RP_ID, ORIGIN, false).register(&begun["options"]);
    let r = s
        .post_bearer(
            "/auth/passkeys/register/finish",
            &jwt,
            json!({"challenge_id": begun["challenge_id"], "name": "Late", "credential": credential}),
        )
        .await;
    assert_error(&r, 401, "invalid_token");
    // Password logins: the right password says locked, a wrong one says nothing more.
    let r = login(&s, email, PASSWORD).await;
    assert_error(&r, 403, "account_locked");
    assert_eq!(r.json()["message"], "This account is locked.");
    assert!(r.refresh_cookie().is_none());
    assert_error(
        &login(&s, email, "not the password at all").await,
        401,
        "invalid_credentials",
    );
    // The HBP routes: sign-in, and refresh with the token in the query.
    let r = s
        .send(
            s.http
                .get(s.url(&format!("/auth/token/refresh?refresh_token={refresh}"))),
        )
        .await;
    assert_error(&r, 403, "account_locked");
    let r = s
        .post(
            "/auth/login",
            json!({"email": email, "password": PASSWORD, "cookie": false}),
        )
        .await;
    assert_error(&r, 403, "account_locked");
    // Passkey sign-in.
    assert_error(
        &passkey_sign_in(&s, &mut passkey).await,
        403,
        "account_locked",
    );
    // The portal's sign-in page says so.
    let mut b = Browser::new(&s);
    b.get("/auth/ui/login").await;
    let r = b
        .post(
            "/auth/ui/login",
            &[("email", email), ("password", PASSWORD), ("rd", "")],
        )
        .await;
    assert_page(&r, 403, "Sign in");
    assert!(
        error_text(&r.text).unwrap().contains("locked"),
        "{}",
        r.text
    );
    // Nothing was started by any of it.
    assert!(s.app.store.list_sessions(account).await.unwrap().is_empty());

    // Unlocked: signing in works again, the old sessions stay ended.
    assert!(lock::unlock(&s.app, account, now_ms()).await.unwrap());
    let unlocked = s.app.store.account(account).await.unwrap().unwrap();
    assert!(!unlocked.locked && unlocked.locked_reason.is_none() && unlocked.locked_at.is_none());
    let (new_jwt, _) = s.login(email).await;
    assert_eq!(s.verify(&new_jwt).await.status, 200);
    assert_eq!(passkey_sign_in(&s, &mut passkey).await.status, 200);
    assert_error(&s.verify(&jwt).await, 401, "invalid_token");
    assert_error(
        &s.post_cookie("/auth/token/refresh", &refresh).await,
        401,
        "invalid_refresh_token",
    );
    assert_eq!(s.verify_cookie(&edge.cookie).await.status, 401);
}

#[tokio::test]
async fn a_lock_ends_pending_mfa_sign_ins() {
    let s = server().await;
    let email = "locked-mfa@example.com";
    let (jwt, mut auth) = s.signed_in_with_mfa(email).await;
    let account = id(&jwt);
    let ticket = s.mfa_login_ticket(email, PASSWORD).await;
    let other = s.mfa_login_ticket(email, PASSWORD).await;
    lock(&s, account).await;
    let code = auth.fresh().await;
    let r = s.mfa_totp(&ticket, &code).await;
    assert!(
        [401, 403].contains(&r.status) && r.refresh_cookie().is_none(),
        "{}",
        r.text
    );
    assert_error(&r, 401, "invalid_ticket");
    let r = s.mfa_recover(&other, "AAAA-BBBB-CCCC").await;
    assert_error(&r, 401, "invalid_ticket");
    // No new ticket either: the password step says locked.
    assert_error(&login(&s, email, PASSWORD).await, 403, "account_locked");
    assert!(s.app.store.list_sessions(account).await.unwrap().is_empty());
    // Unlocked, the second factor works again.
    assert!(lock::unlock(&s.app, account, now_ms()).await.unwrap());
    let ticket = s.mfa_login_ticket(email, PASSWORD).await;
    let code = auth.fresh().await;
    assert_eq!(s.mfa_totp(&ticket, &code).await.status, 200);
}

#[tokio::test]
async fn unknown_accounts_are_not_locked() {
    let s = server().await;
    let nobody = Uuid::new_v4();
    assert!(!lock::lock(&s.app, nobody, "x", now_ms()).await.unwrap());
    assert!(!lock::unlock(&s.app, nobody, now_ms()).await.unwrap());
    assert!(s.app.store.account(nobody).await.unwrap().is_none());
}

#[tokio::test]
async fn logins_racing_a_lock_leave_no_live_session() {
    let s = server().await;
    let email = "race-lock@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = id(&jwt);
    let mut logins = JoinSet::new();
    for _ in 0..20 {
        let (http, url) = (s.http.clone(), s.url("/auth/login"));
        logins.spawn(async move {
            let r = http
                .post(url)
                .json(&json!({"email": email, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            Reply::read(r).await
        });
    }
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    lock(&s, account).await;
    let mut started: Vec<(String, String)> = Vec::new();
    while let Some(r) = logins.join_next().await {
        let r = r.unwrap();
        match r.status {
            200 => started.push((r.jwt(), r.refresh_cookie().unwrap())),
            _ => assert_error(&r, 403, "account_locked"),
        }
    }
    assert!(s.app.store.list_sessions(account).await.unwrap().is_empty());
    for (jwt, refresh) in &started {
        assert_error(&s.verify(jwt).await, 401, "invalid_token");
        assert_error(
            &s.post_cookie("/auth/token/refresh", refresh).await,
            403,
            "account_locked",
        );
    }
    let r: Value = s.verify(&jwt).await.json();
    assert_eq!(r["error"], "invalid_token");
}
