//! Credentials hardening: a password change ends every sign-in still in
//! flight with the old password (credential version), live MFA login tickets
//! per account are capped, sensitive changes need a recent sign-in
//! (`auth_time`) or the password, and refresh families have an absolute
//! lifetime (`EDGEAUTH_REFRESH_MAX_AGE`).

use std::time::Duration;

use edgeauth::auth::jwt::{Claims, JwtKeys};
use edgeauth::ops::login::LOGIN_TICKETS_PER_ACCOUNT;
use edgeauth::store::TicketKind;
use edgeauth::store::sessions::{NewSession, SessionMeta};
use serde_json::{Value, json};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::support::jwt::{claims, sub};
use crate::support::totp::Authenticator;
use crate::support::{PASSWORD, Reply, TestServer, assert_error};

const NEW_PASSWORD: &str = "a brand new secret";

fn account_of(jwt: &str) -> Uuid {
    Uuid::parse_str(&sub(jwt)).expect("sub is a UUID")
}

fn now_secs() -> u64 {
    edgeauth::clock::now_ms() / 1000
}

async fn login(s: &TestServer, email: &str, password: &str) -> Reply {
    s.post("/auth/login", json!({"email": email, "password": password}))
        .await
}

async fn change_password(s: &TestServer, jwt: &str, old: &str, new: &str) -> Reply {
    s.post_bearer(
        "/auth/account/password",
        jwt,
        json!({"old_password": old, "new_password": new}),
    )
    .await
}

/// POST with a Bearer token and no body at all.
async fn post_bare(s: &TestServer, path: &str, jwt: &str) -> Reply {
    s.send(s.http.post(s.url(path)).bearer_auth(jwt)).await
}

/// A live session's tokens are refused: the JWT by `/auth/verify`, the
/// refresh token by refresh.
async fn assert_dead(s: &TestServer, what: &str, jwt: &str, refresh: &str) {
    let r = s.verify(jwt).await;
    assert_eq!(r.status, 401, "{what}: JWT still verifies: {}", r.text);
    let r = s.post_cookie("/auth/token/refresh", refresh).await;
    assert_eq!(
        r.status, 401,
        "{what}: refresh token still works: {}",
        r.text
    );
}

fn families(s: &TestServer, account: Uuid) -> u64 {
    redis::cmd("ZCARD")
        .arg(format!("edgeauth:{{{account}}}:sessions"))
        .query(&mut s.redis.conn())
        .expect("ZCARD")
}

// ------------------------------------------------------------------ credential version

/// The attack: logins with the old password are in flight (password read
/// and being checked) when the owner changes it; before the fix those that
/// finished afterwards held a working session made with the old password.
/// A stream of logins queues on one password hasher across the change, so
/// those that read the account while the change waits for its own hash
/// create their session only after the change has landed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_login_with_the_old_password_survives_a_concurrent_change() {
    let s = TestServer::with(&[
        ("EDGEAUTH_HASH_CONCURRENCY", "1"),
        ("EDGEAUTH_SCRYPT_LOG_N", "12"),
    ])
    .await;
    let email = "race@example.com";
    let (owner, _) = s.signed_in(email).await;

    let mut logins = JoinSet::new();
    let mut change = None;
    for i in 0..40 {
        if i == 8 {
            let request = s
                .http
                .post(s.url("/auth/account/password"))
                .bearer_auth(&owner)
                .json(&json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD}));
            change = Some(tokio::spawn(async move {
                Reply::read(request.send().await.expect("change")).await
            }));
        }
        let request = s
            .http
            .post(s.url("/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}));
        logins.spawn(async move { Reply::read(request.send().await.expect("login")).await });
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    let change = change.expect("spawned").await.expect("change task");
    assert_eq!(change.status, 204, "change: {}", change.text);

    let mut sessions = Vec::new();
    while let Some(reply) = logins.join_next().await {
        let reply = reply.expect("login task");
        match reply.status {
            200 => sessions.push((reply.jwt(), reply.refresh_cookie().expect("cookie"))),
            401 => assert_eq!(reply.error(), "invalid_credentials", "{}", reply.text),
            other => panic!("login answered {other}: {}", reply.text),
        }
    }
    for (i, (jwt, refresh)) in sessions.iter().enumerate() {
        assert_dead(&s, &format!("old-password session {i}"), jwt, refresh).await;
    }
    // Only the owner's own session is left, and the new password works.
    assert_eq!(families(&s, account_of(&owner)), 1);
    assert_eq!(login(&s, email, NEW_PASSWORD).await.status, 200);
    assert_eq!(s.verify(&owner).await.status, 200);
}

/// The scripts themselves: a session or MFA ticket asked for under a
/// credential version the account no longer has is refused.
#[tokio::test]
async fn a_stale_credential_version_starts_no_session_and_no_mfa_ticket() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("stale@example.com").await;
    let account = account_of(&jwt);
    // A change moves the version from 0 (absent) to 1.
    assert_eq!(
        change_password(&s, &jwt, PASSWORD, NEW_PASSWORD)
            .await
            .status,
        204
    );
    let store = &s.app.store;
    let now_ms = now_secs() * 1000;
    let meta = || SessionMeta {
        user_agent: "test",
        ip: "127.0.0.1",
    };
    let day = 86_400_000;
    let stale = store
        .create_session(NewSession {
            account,
            family: Uuid::new_v4(),
            meta: meta(),
            now_ms,
            ttl_ms: day,
            cap: 50,
            credential_version: 0,
            auth_time: now_ms / 1000,
            amr: 1,
            browser: false,
        })
        .await
        .expect("create_session");
    assert!(!stale, "a session under the old credential version");
    let current = store
        .create_session(NewSession {
            account,
            family: Uuid::new_v4(),
            meta: meta(),
            now_ms,
            ttl_ms: day,
            cap: 50,
            credential_version: 1,
            auth_time: now_ms / 1000,
            amr: 1,
            browser: false,
        })
        .await
        .expect("create_session");
    assert!(current, "a session under the current credential version");
    let ticket = store
        .issue_ticket(
            account,
            TicketKind::MfaLogin {
                credential_version: 0,
                cap: 5,
                now_ms,
            },
            300_000,
        )
        .await
        .expect("mfa_ticket_create");
    assert_eq!(
        ticket, None,
        "an MFA ticket under the old credential version"
    );
    assert!(
        store
            .issue_ticket(
                account,
                TicketKind::MfaLogin {
                    credential_version: 1,
                    cap: 5,
                    now_ms,
                },
                300_000,
            )
            .await
            .expect("mfa_ticket_create")
            .is_some()
    );
}

/// An MFA login ticket issued before a password change is dead: the change
/// deletes it, and a code for it is `invalid_ticket`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mfa_ticket_from_before_a_password_change_is_refused() {
    let s = TestServer::start().await;
    let email = "mfa-change@example.com";
    let (jwt, mut auth) = s.signed_in_with_mfa(email).await;
    let old_ticket = s.mfa_login_ticket(email, PASSWORD).await;
    assert_eq!(
        change_password(&s, &jwt, PASSWORD, NEW_PASSWORD)
            .await
            .status,
        204
    );
    let before = families(&s, account_of(&jwt));
    let code = auth.fresh_lasting().await;
    assert_error(&s.mfa_totp(&old_ticket, &code).await, 401, "invalid_ticket");
    assert_eq!(families(&s, account_of(&jwt)), before, "no session started");
    // The same code with a ticket of the new password signs in.
    let ticket = s.mfa_login_ticket(email, NEW_PASSWORD).await;
    assert_eq!(s.mfa_totp(&ticket, &code).await.status, 200);
}

/// The second login step starts its session under the credential version the
/// password step saw: a reset landing between the two (it bumps the version
/// as a change does; here done by hand, so the ticket record itself
/// survives) kills the login even with a right code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_change_between_password_and_code_kills_the_login() {
    let s = TestServer::start().await;
    let email = "mfa-between@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = account_of(&jwt);
    let mut auth = s.enable_mfa(&jwt).await;
    let ticket = s.mfa_login_ticket(email, PASSWORD).await;
    let _: i64 = redis::cmd("HINCRBY")
        .arg(format!("edgeauth:{{{account}}}:account"))
        .arg("cv")
        .arg(1)
        .query(&mut s.redis.conn())
        .expect("HINCRBY");
    let before = families(&s, account);
    let code = auth.fresh_lasting().await;
    assert_error(&s.mfa_totp(&ticket, &code).await, 401, "invalid_ticket");
    assert_eq!(families(&s, account), before, "no session started");
}

/// The same with a recovery code as the second step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_change_between_password_and_recovery_code_kills_the_login() {
    let s = TestServer::start().await;
    let email = "recover-between@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = account_of(&jwt);
    let mut auth = s.enable_mfa(&jwt).await;
    let r = s
        .post_bearer(
            "/auth/mfa/recovery-codes",
            &jwt,
            json!({ "code": auth.fresh_lasting().await }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let codes: Vec<String> =
        serde_json::from_value(r.json()["recovery_codes"].clone()).expect("recovery codes");
    let ticket = s.mfa_login_ticket(email, PASSWORD).await;
    let _: i64 = redis::cmd("HINCRBY")
        .arg(format!("edgeauth:{{{account}}}:account"))
        .arg("cv")
        .arg(1)
        .query(&mut s.redis.conn())
        .expect("HINCRBY");
    let before = families(&s, account);
    let r = s
        .post(
            "/auth/mfa/recover",
            json!({"ticket": ticket, "recovery_code": codes[0]}),
        )
        .await;
    assert_error(&r, 401, "invalid_ticket");
    assert_eq!(families(&s, account), before, "no session started");
    // A ticket issued under the current version signs in with another code.
    let ticket = s.mfa_login_ticket(email, PASSWORD).await;
    let r = s
        .post(
            "/auth/mfa/recover",
            json!({"ticket": ticket, "recovery_code": codes[1]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

// ------------------------------------------------------------------ MFA login ticket cap

fn mfa_tickets_key(account: Uuid) -> String {
    format!("edgeauth:{{{account}}}:mfa_tickets")
}

/// The attack: thousands of password logins pile up live MFA tickets and
/// make every issue walk them all. Now an account keeps the newest few; the
/// older ones are refused and the index stays that small.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_newest_mfa_login_tickets_stay_live() {
    let s = TestServer::start().await;
    let email = "many-tickets@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = account_of(&jwt);
    let mut auth = s.enable_mfa(&jwt).await;
    let cap = LOGIN_TICKETS_PER_ACCOUNT as usize;
    let mut tickets = Vec::new();
    for _ in 0..20 {
        tickets.push(s.mfa_login_ticket(email, PASSWORD).await);
        let live: u64 = redis::cmd("ZCARD")
            .arg(mfa_tickets_key(account))
            .query(&mut s.redis.conn())
            .expect("ZCARD");
        assert!(live as usize <= cap, "{live} tickets indexed");
    }
    let code = auth.fresh_lasting().await;
    for (i, ticket) in tickets[..20 - cap].iter().enumerate() {
        let r = s.mfa_totp(ticket, &code).await;
        assert_error(&r, 401, "invalid_ticket");
        assert!(r.text.contains("invalid_ticket"), "ticket {i}");
    }
    // The oldest kept one is live (a wrong code is counted against it, not
    // refused as unknown), and the newest signs in.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_error(
        &s.mfa_totp(&tickets[20 - cap], wrong).await,
        401,
        "invalid_code",
    );
    assert_eq!(s.mfa_totp(&tickets[19], &code).await.status, 200);
}

/// An index left as a plain set by an older version is replaced, not
/// misread, when the next ticket is issued; removal deletes the new kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_set_typed_ticket_index_is_replaced() {
    let s = TestServer::start().await;
    let email = "legacy-index@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = account_of(&jwt);
    let mut auth = s.enable_mfa(&jwt).await;
    let _: i64 = redis::cmd("SADD")
        .arg(mfa_tickets_key(account))
        .arg(Uuid::new_v4().to_string())
        .query(&mut s.redis.conn())
        .expect("SADD");
    let ticket = s.mfa_login_ticket(email, PASSWORD).await;
    let kind: String = redis::cmd("TYPE")
        .arg(mfa_tickets_key(account))
        .query(&mut s.redis.conn())
        .expect("TYPE");
    assert_eq!(kind, "zset");
    let code = auth.fresh_lasting().await;
    let r = s.mfa_totp(&ticket, &code).await;
    assert_eq!(r.status, 200, "{}", r.text);

    let left = s.mfa_login_ticket(email, PASSWORD).await;
    let r = s
        .post_bearer("/auth/account/remove", &r.jwt(), json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let exists: i64 = redis::cmd("EXISTS")
        .arg(mfa_tickets_key(account))
        .arg(format!("edgeauth:{{{account}}}:ticket:{left}"))
        .query(&mut s.redis.conn())
        .expect("EXISTS");
    assert_eq!(exists, 0, "removal left MFA ticket state behind");
}

// ------------------------------------------------------------------ re-authentication

/// The six sensitive changes, each as (path, body without `password`).
fn sensitive(code: &str) -> Vec<(&'static str, Value)> {
    vec![
        (
            "/auth/account/email/request",
            json!({"new_email": "thief@example.com"}),
        ),
        ("/auth/mfa/generate", json!({})),
        ("/auth/mfa/enable", json!({ "code": code })),
        ("/auth/mfa/disable", json!({ "code": code })),
        ("/auth/mfa/recovery-codes", json!({ "code": code })),
        ("/auth/account/remove", json!({})),
    ]
}

fn with_password(body: &Value, password: &str) -> Value {
    let mut body = body.clone();
    body["password"] = json!(password);
    body
}

/// The attack: a stolen access token alone moved the email, enrolled the
/// thief's TOTP secret or removed the account. Once the sign-in behind the
/// token is older than EDGEAUTH_REAUTH_MAX_AGE (1 s here), each of these
/// needs the password; without it `403 reauthentication_required`, with a
/// wrong one `401 invalid_credentials`, counted like a failed login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sensitive_changes_need_a_recent_sign_in_or_the_password() {
    let s = TestServer::with(&[
        ("EDGEAUTH_REAUTH_MAX_AGE", "1s"),
        ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "3/1h"),
    ])
    .await;
    // a: MFA on (recovery codes); b: MFA off (generate, enable, email, remove);
    // c: MFA on (disable). All enrolled while their sign-in was fresh.
    let (a, _) = s.signed_in("reauth-a@example.com").await;
    let (b, _) = s.signed_in("reauth-b@example.com").await;
    let (c, _) = s.signed_in("reauth-c@example.com").await;
    let mut auth_a = s.enable_mfa(&a).await;
    let mut auth_c = s.enable_mfa(&c).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    for jwt in [&a, &b, &c] {
        for (path, body) in sensitive("123456") {
            let r = s.post_bearer(path, jwt, body).await;
            assert_error(&r, 403, "reauthentication_required");
        }
        // Also with no body at all where none is needed.
        for path in ["/auth/mfa/generate", "/auth/account/remove"] {
            assert_error(
                &post_bare(&s, path, jwt).await,
                403,
                "reauthentication_required",
            );
        }
    }
    assert_eq!(s.verify(&b).await.status, 200, "nothing was removed");

    // A wrong password: 401, and counted against the account's login budget
    // (3 per hour here): the third wrong one is the last, then even the right
    // password is rate limited, as for logins.
    for (path, body) in sensitive("123456") {
        let r = s
            .post_bearer(path, &a, with_password(&body, "not the password"))
            .await;
        if r.status == 429 {
            assert_error(&r, 429, "rate_limited");
        } else {
            assert_error(&r, 401, "invalid_credentials");
        }
    }
    assert_error(
        &login(&s, "reauth-a@example.com", PASSWORD).await,
        429,
        "rate_limited",
    );

    // The right password: every change goes through (b's budget is untouched).
    let r = s
        .post_bearer(
            "/auth/account/email/request",
            &b,
            json!({"new_email": "b-new@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "email request: {}", r.text);
    let r = s
        .post_bearer("/auth/mfa/generate", &b, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(r.status, 200, "generate: {}", r.text);
    let mut auth_b = Authenticator::new(r.json()["otp_secret"].as_str().expect("otp_secret"));
    let code = auth_b.fresh_lasting().await;
    let r = s
        .post_bearer(
            "/auth/mfa/enable",
            &b,
            json!({"code": code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "enable: {}", r.text);
    let code = auth_c.fresh_lasting().await;
    let r = s
        .post_bearer(
            "/auth/mfa/disable",
            &c,
            json!({"code": code, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "disable: {}", r.text);
    let r = s
        .post_bearer("/auth/account/remove", &b, json!({ "password": PASSWORD }))
        .await;
    assert_eq!(r.status, 204, "remove: {}", r.text);
    assert_eq!(s.verify(&b).await.status, 401);
    // a's budget is spent: its right password is rate limited too.
    let code = auth_a.fresh_lasting().await;
    let r = s
        .post_bearer(
            "/auth/mfa/recovery-codes",
            &a,
            json!({"code": code, "password": PASSWORD}),
        )
        .await;
    assert_error(&r, 429, "rate_limited");
}

/// A right password in the body lets a stale sign-in through, and gives back
/// the budget slot it took (so the owner is never locked out by confirming).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_right_password_confirms_and_costs_no_budget() {
    let s = TestServer::with(&[
        ("EDGEAUTH_REAUTH_MAX_AGE", "1s"),
        ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "2/1h"),
    ])
    .await;
    let email = "confirm@example.com";
    let (jwt, _) = s.signed_in(email).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    for _ in 0..3 {
        let r = s
            .post_bearer("/auth/mfa/generate", &jwt, json!({ "password": PASSWORD }))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    assert_eq!(login(&s, email, PASSWORD).await.status, 200);
}

/// The seed flow still works: right after a login (password, or password and
/// code) no password is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_after_sign_in_no_password_is_needed() {
    let s = TestServer::start().await;
    let email = "fresh@example.com";
    let (_, mut auth) = s.signed_in_with_mfa(email).await;
    let ticket = s.mfa_login_ticket(email, PASSWORD).await;
    let r = s.mfa_totp(&ticket, &auth.fresh_lasting().await).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let jwt = r.jwt();
    let r = s
        .post_bearer(
            "/auth/account/email/request",
            &jwt,
            json!({"new_email": "fresh2@example.com"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Past the gate (MFA is on already).
    assert_error(
        &post_bare(&s, "/auth/mfa/generate", &jwt).await,
        409,
        "mfa_already_enabled",
    );
    assert_eq!(
        post_bare(&s, "/auth/account/remove", &jwt).await.status,
        204
    );
}

/// A refresh keeps the sign-in's `auth_time` (so refreshing never makes a
/// stolen session look recent); a password change, which proves the
/// password, moves it for the caller's session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_keeps_auth_time_and_a_password_change_renews_it() {
    let s = TestServer::with(&[("EDGEAUTH_REAUTH_MAX_AGE", "1s")]).await;
    let (jwt, refresh) = s.signed_in("keep@example.com").await;
    let auth_time = claims(&jwt)["auth_time"].as_u64().expect("auth_time");
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let refreshed = r.jwt();
    let refreshed_claims = claims(&refreshed);
    assert_eq!(refreshed_claims["auth_time"].as_u64(), Some(auth_time));
    assert!(refreshed_claims["iat"].as_u64().expect("iat") >= auth_time + 2);
    assert_error(
        &post_bare(&s, "/auth/mfa/generate", &refreshed).await,
        403,
        "reauthentication_required",
    );

    assert_eq!(
        change_password(&s, &refreshed, PASSWORD, NEW_PASSWORD)
            .await
            .status,
        204
    );
    let r = s
        .post_cookie(
            "/auth/token/refresh",
            &r.refresh_cookie().expect("refresh cookie"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let renewed = r.jwt();
    assert!(claims(&renewed)["auth_time"].as_u64().expect("auth_time") >= auth_time + 2);
    assert_eq!(
        post_bare(&s, "/auth/mfa/generate", &renewed).await.status,
        200
    );
}

/// A token without `auth_time` (issued before it existed) is never recent.
#[tokio::test]
async fn a_token_without_auth_time_is_not_recent() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("legacy-token@example.com").await;
    let issued = claims(&jwt);
    let keys = JwtKeys::from_pems(std::slice::from_ref(&s.signing_pem)).expect("keys");
    let now = now_secs();
    let legacy = keys
        .sign(&Claims {
            sub: issued["sub"].as_str().expect("sub").into(),
            sid: issued["sid"].as_str().expect("sid").into(),
            jti: "legacy".into(),
            iat: now,
            exp: now + 60,
            iss: "edgeauth".into(),
            aud: None,
            auth_time: None,
            amr: Vec::new(),
            hasura: None,
        })
        .expect("sign");
    assert_eq!(s.verify(&legacy).await.status, 200);
    assert_error(
        &post_bare(&s, "/auth/mfa/generate", &legacy).await,
        403,
        "reauthentication_required",
    );
    let r = s
        .post_bearer(
            "/auth/mfa/generate",
            &legacy,
            json!({ "password": PASSWORD }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

// ------------------------------------------------------------------ refresh absolute lifetime

/// The attack: a family used at least once per idle TTL lived forever. With
/// EDGEAUTH_REFRESH_MAX_AGE = 2 s (idle TTL 30 days) a family refreshes at
/// first, then is refused past its creation + 2 s although used in between,
/// and its Redis TTL never reaches beyond that.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_family_ends_at_its_absolute_lifetime() {
    let s = TestServer::with(&[
        ("EDGEAUTH_REFRESH_MAX_AGE", "2s"),
        ("EDGEAUTH_REFRESH_TTL", "30d"),
    ])
    .await;
    let (jwt, refresh) = s.signed_in("max-age@example.com").await;
    let family_key = format!(
        "edgeauth:{{{}}}:session:{}",
        account_of(&jwt),
        claims(&jwt)["sid"].as_str().expect("sid")
    );
    let pttl = |s: &TestServer| -> i64 {
        redis::cmd("PTTL")
            .arg(&family_key)
            .query(&mut s.redis.conn())
            .expect("PTTL")
    };
    assert!((1..=2_000).contains(&pttl(&s)), "TTL {}", pttl(&s));

    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let next = r.refresh_cookie().expect("refresh cookie");
    assert!((1..=2_000).contains(&pttl(&s)), "TTL {}", pttl(&s));
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let r = s.post_cookie("/auth/token/refresh", &next).await;
    assert_eq!(r.status, 200, "used within its lifetime: {}", r.text);
    let last = r.refresh_cookie().expect("refresh cookie");
    let last_jwt = r.jwt();
    assert!(
        pttl(&s) <= 1_000,
        "TTL {} reaches past the lifetime",
        pttl(&s)
    );

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let r = s.post_cookie("/auth/token/refresh", &last).await;
    assert_error(&r, 401, "invalid_refresh_token");
    assert!(r.clears_cookie());
    assert_eq!(s.verify(&last_jwt).await.status, 401, "the family is gone");
}
