//! Passkeys (WebAuthn) end to end, with the tests' software authenticator
//! (`support/soft_passkey.rs`) against the real server and Redis: registration and the
//! discoverable sign-in (amr, `mfa=1`, the session list), every refusal of a sign-in (wrong
//! origin or RP id, replayed or expired challenge, unknown or another account's credential, a
//! counter gone backwards, a removed passkey), the cap of 10, removal across accounts, the
//! recent sign-in registration needs, account removal, and one challenge finished by many
//! requests at once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use edgeauth::auth::amr::Amr;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::support::jwt::{claims, sid, sub};
use crate::support::soft_passkey::SoftPasskey;
use crate::support::{Reply, TestServer, assert_error};

const RP_ID: &str = "localhost";
const ORIGIN: &str = "http://localhost:8080";
const SETTINGS: &[(&str, &str)] = &[
    ("EDGEAUTH_WEBAUTHN_RP_ID", RP_ID),
    ("EDGEAUTH_WEBAUTHN_ORIGINS", ORIGIN),
];

async fn server() -> TestServer {
    TestServer::with(SETTINGS).await
}

fn authenticator() -> SoftPasskey {
    SoftPasskey::new(RP_ID, ORIGIN, false)
}

/// register/begin → (challenge id, options).
async fn register_begin(s: &TestServer, jwt: &str) -> (String, Value) {
    let r = s
        .post_bearer("/auth/passkeys/register/begin", jwt, json!({}))
        .await;
    assert_eq!(r.status, 200, "register/begin: {}", r.text);
    let body = r.json();
    (
        body["challenge_id"].as_str().expect("challenge_id").into(),
        body["options"].clone(),
    )
}

async fn register_finish(
    s: &TestServer,
    jwt: &str,
    challenge_id: &str,
    name: &str,
    credential: Value,
) -> Reply {
    s.post_bearer(
        "/auth/passkeys/register/finish",
        jwt,
        json!({"challenge_id": challenge_id, "name": name, "credential": credential}),
    )
    .await
}

/// Registers `passkey` to the account of `jwt`; asserts 201.
async fn register(s: &TestServer, jwt: &str, passkey: &mut SoftPasskey, name: &str) -> Value {
    let (challenge_id, options) = register_begin(s, jwt).await;
    let credential = passkey.register(&options);
    let r = register_finish(s, jwt, &challenge_id, name, credential).await;
    assert_eq!(r.status, 201, "register/finish: {}", r.text);
    r.json()
}

/// login/begin → (challenge id, options).
async fn login_begin(s: &TestServer) -> (String, Value) {
    let r = s.post("/auth/passkeys/login/begin", json!({})).await;
    assert_eq!(r.status, 200, "login/begin: {}", r.text);
    let body = r.json();
    (
        body["challenge_id"].as_str().expect("challenge_id").into(),
        body["options"].clone(),
    )
}

async fn login_finish(s: &TestServer, challenge_id: &str, credential: &Value) -> Reply {
    s.post(
        "/auth/passkeys/login/finish",
        json!({"challenge_id": challenge_id, "credential": credential}),
    )
    .await
}

/// One whole sign-in with `passkey`.
async fn sign_in(s: &TestServer, passkey: &mut SoftPasskey) -> Reply {
    let (challenge_id, options) = login_begin(s).await;
    let credential = passkey.assert(&options);
    login_finish(s, &challenge_id, &credential).await
}

async fn list(s: &TestServer, jwt: &str) -> Vec<Value> {
    let r = s
        .send(s.http.get(s.url("/auth/passkeys")).bearer_auth(jwt))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["passkeys"].as_array().expect("passkeys").clone()
}

fn amr(jwt: &str) -> Vec<String> {
    claims(jwt)["amr"]
        .as_array()
        .expect("amr")
        .iter()
        .map(|v| v.as_str().expect("amr value").to_owned())
        .collect()
}

#[tokio::test]
async fn register_then_sign_in_is_multi_factor() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-flow@example.com").await;
    let account = sub(&jwt);

    // The options ask for a discoverable credential with user verification.
    let (challenge_id, options) = register_begin(&s, &jwt).await;
    let selection = &options["authenticatorSelection"];
    assert_eq!(selection["residentKey"], "required", "{options}");
    assert_eq!(selection["requireResidentKey"], true, "{options}");
    assert_eq!(selection["userVerification"], "required", "{options}");
    assert_eq!(options["rp"]["id"], RP_ID);
    let mut hardware = authenticator();
    let credential = hardware.register(&options);
    let r = register_finish(&s, &jwt, &challenge_id, " Laptop ", credential).await;
    assert_eq!(r.status, 201, "{}", r.text);
    let added = r.json();
    assert_eq!(added["id"], hardware.id());
    assert_eq!(added["name"], "Laptop");
    assert!(added["created_at"].as_u64().expect("created_at") > 0);
    assert_eq!(s.redis.events_of("passkey.added").len(), 1);

    let listed = list(&s, &jwt).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], hardware.id());
    assert_eq!(listed[0]["last_used_at"], Value::Null);
    assert_eq!(listed[0]["backed_up"], false);

    // A hardware-bound passkey: hwk + mfa, no TOTP step, a session of its own.
    let r = sign_in(&s, &mut hardware).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.refresh_cookie().is_some(), "refresh cookie as a login");
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let token = r.jwt();
    assert_eq!(sub(&token), account);
    assert_eq!(amr(&token), ["hwk", "mfa"]);
    assert!(Amr::from_claim(&amr(&token)).has_mfa());
    let verified = s
        .send(s.http.get(s.url("/auth/verify?mfa=1")).bearer_auth(&token))
        .await;
    assert_eq!(verified.status, 200, "{}", verified.text);
    let sessions = s
        .send(s.http.get(s.url("/auth/sessions")).bearer_auth(&token))
        .await
        .json();
    let ids: Vec<&str> = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&sid(&token).as_str()), "{sessions}");
    assert_eq!(ids.len(), 2, "the password session and the passkey one");
    let login_events = s.redis.events_of("passkey.login");
    assert_eq!(login_events.len(), 1);
    assert_eq!(login_events[0]["user_id"], account);
    let listed = list(&s, &token).await;
    assert!(listed[0]["last_used_at"].as_u64().is_some(), "{listed:?}");

    // A synced passkey: swk + mfa, and shown as backed up.
    let mut synced = SoftPasskey::new(RP_ID, ORIGIN, true);
    register(&s, &jwt, &mut synced, "Phone").await;
    let r = sign_in(&s, &mut synced).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(amr(&r.jwt()), ["swk", "mfa"]);
    let listed = list(&s, &jwt).await;
    let phone = listed.iter().find(|p| p["name"] == "Phone").unwrap();
    assert_eq!(phone["backed_up"], true);
}

/// Wrong origin, wrong RP id, no user verification: refused as wrong credentials.
#[tokio::test]
async fn a_wrong_origin_or_rp_id_is_refused() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-origin@example.com").await;
    let mut passkey = authenticator();
    register(&s, &jwt, &mut passkey, "Key").await;

    passkey.origin = "http://evil.localhost:8080".into();
    assert_error(&sign_in(&s, &mut passkey).await, 401, "invalid_credentials");
    passkey.origin = "https://example.com".into();
    assert_error(&sign_in(&s, &mut passkey).await, 401, "invalid_credentials");
    passkey.origin = ORIGIN.into();

    passkey.rp_id = "example.com".into();
    assert_error(&sign_in(&s, &mut passkey).await, 401, "invalid_credentials");
    passkey.rp_id = RP_ID.into();

    passkey.user_verified = false;
    assert_error(&sign_in(&s, &mut passkey).await, 401, "invalid_credentials");
    passkey.user_verified = true;

    // A registration from a wrong origin is refused too (and spends its challenge).
    let mut other = authenticator();
    other.origin = "http://evil.localhost:8080".into();
    let (challenge_id, options) = register_begin(&s, &jwt).await;
    let credential = other.register(&options);
    assert_error(
        &register_finish(&s, &jwt, &challenge_id, "Evil", credential.clone()).await,
        400,
        "invalid_request",
    );
    assert_eq!(list(&s, &jwt).await.len(), 1);

    assert_eq!(sign_in(&s, &mut passkey).await.status, 200);
}

#[tokio::test]
async fn a_replayed_challenge_is_refused() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-replay@example.com").await;
    let mut passkey = authenticator();
    register(&s, &jwt, &mut passkey, "Key").await;
    let (challenge_id, options) = login_begin(&s).await;
    let credential = passkey.assert(&options);
    assert_eq!(
        login_finish(&s, &challenge_id, &credential).await.status,
        200
    );
    assert_error(
        &login_finish(&s, &challenge_id, &credential).await,
        401,
        "invalid_credentials",
    );
    // A fresh assertion for the spent challenge: still refused.
    let again = passkey.assert(&options);
    assert_error(
        &login_finish(&s, &challenge_id, &again).await,
        401,
        "invalid_credentials",
    );
    // An unknown challenge id, and one that is no UUID.
    assert_error(
        &login_finish(&s, &Uuid::new_v4().to_string(), &again).await,
        401,
        "invalid_credentials",
    );
    assert_error(
        &login_finish(&s, "nope", &again).await,
        400,
        "invalid_request",
    );
    // A registration challenge is single-use too.
    let (reg_id, reg_options) = register_begin(&s, &jwt).await;
    let mut second = authenticator();
    let credential = second.register(&reg_options);
    assert_eq!(
        register_finish(&s, &jwt, &reg_id, "Two", credential.clone())
            .await
            .status,
        201
    );
    assert_error(
        &register_finish(&s, &jwt, &reg_id, "Two again", credential).await,
        400,
        "invalid_request",
    );
}

/// The state lives 5 minutes: expired in Redis directly, the finish is refused.
#[tokio::test]
async fn an_expired_challenge_is_refused() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-expired@example.com").await;
    let mut passkey = authenticator();
    register(&s, &jwt, &mut passkey, "Key").await;
    let (challenge_id, options) = login_begin(&s).await;
    let keys = s.redis.keys("edgeauth:passkey_login:*");
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(
        !keys[0].contains(&challenge_id),
        "the key names no challenge id"
    );
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&keys[0])
        .query(&mut s.redis.conn())
        .unwrap();
    assert!(ttl > 290_000 && ttl <= 300_000, "5 minutes: {ttl}");
    let _: i64 = redis::cmd("PEXPIRE")
        .arg(&keys[0])
        .arg(1)
        .query(&mut s.redis.conn())
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let credential = passkey.assert(&options);
    assert_error(
        &login_finish(&s, &challenge_id, &credential).await,
        401,
        "invalid_credentials",
    );
    // The state is never sent to the client: the answer held only the id and the options.
    let r = s.post("/auth/passkeys/login/begin", json!({})).await;
    let body = r.json();
    let mut fields: Vec<&String> = body.as_object().unwrap().keys().collect();
    fields.sort();
    assert_eq!(fields, ["challenge_id", "options"]);
}

#[tokio::test]
async fn an_unknown_or_foreign_credential_is_refused() {
    let s = server().await;
    let (jwt_a, _) = s.signed_in("pk-a@example.com").await;
    let (jwt_b, _) = s.signed_in("pk-b@example.com").await;
    let mut key_a = authenticator();
    register(&s, &jwt_a, &mut key_a, "A").await;
    let mut key_b = authenticator();
    register(&s, &jwt_b, &mut key_b, "B").await;

    // Never registered, but naming account A.
    let mut stranger = authenticator();
    stranger.user_handle = key_a.user_handle.clone();
    assert_error(
        &sign_in(&s, &mut stranger).await,
        401,
        "invalid_credentials",
    );
    // No user handle at all.
    let mut anonymous = authenticator();
    assert_error(
        &sign_in(&s, &mut anonymous).await,
        401,
        "invalid_credentials",
    );
    // B's passkey presented for account A: A has no such credential.
    key_b.user_handle = key_a.user_handle.clone();
    assert_error(&sign_in(&s, &mut key_b).await, 401, "invalid_credentials");
    // B's credential id with A's user handle, signed by A's key: still not A's passkey.
    let mut forged = authenticator();
    forged.credential_id = key_b.credential_id.clone();
    forged.user_handle = key_a.user_handle.clone();
    assert_error(&sign_in(&s, &mut forged).await, 401, "invalid_credentials");
    // Removal of another account's passkey: 404, and it stays.
    assert_error(
        &s.post_bearer("/auth/passkeys/remove", &jwt_a, json!({"id": key_b.id()}))
            .await,
        404,
        "not_found",
    );
    assert_eq!(list(&s, &jwt_b).await.len(), 1);
    assert!(list(&s, &jwt_a).await.iter().all(|p| p["id"] != key_b.id()));
}

/// A counter that goes backwards (or stands still) is refused and emits passkey.cloned; the
/// stored counter never moves back.
#[tokio::test]
async fn a_counter_regression_is_refused_as_a_clone() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-clone@example.com").await;
    let account = sub(&jwt);
    let mut passkey = authenticator();
    register(&s, &jwt, &mut passkey, "Key").await;
    passkey.counter = 10;
    assert_eq!(sign_in(&s, &mut passkey).await.status, 200);
    // The clone: the same key, an older counter.
    passkey.counter = 5;
    assert_error(&sign_in(&s, &mut passkey).await, 401, "invalid_credentials");
    let cloned = s.redis.events_of("passkey.cloned");
    assert_eq!(cloned.len(), 1);
    assert_eq!(cloned[0]["user_id"], account);
    // The same counter again: refused too.
    passkey.counter = 10;
    assert_error(&sign_in(&s, &mut passkey).await, 401, "invalid_credentials");
    assert_eq!(s.redis.events_of("passkey.cloned").len(), 2);
    // Forward again: accepted.
    passkey.counter = 11;
    assert_eq!(sign_in(&s, &mut passkey).await.status, 200);
    let stored: String = redis::cmd("HGET")
        .arg(format!("edgeauth:{{{account}}}:passkeys"))
        .arg(passkey.id())
        .query(&mut s.redis.conn())
        .unwrap();
    assert!(stored.starts_with(r#"{"counter":11,"#), "{stored}");
}

#[tokio::test]
async fn the_eleventh_passkey_is_refused() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-cap@example.com").await;
    for i in 0..9 {
        register(&s, &jwt, &mut authenticator(), &format!("Key {i}")).await;
    }
    // Two ceremonies begun at 9: the first finish makes 10, the second is refused by the
    // store's script.
    let (first_id, first_options) = register_begin(&s, &jwt).await;
    let (second_id, second_options) = register_begin(&s, &jwt).await;
    let first = authenticator().register(&first_options);
    let second = authenticator().register(&second_options);
    assert_eq!(
        register_finish(&s, &jwt, &first_id, "Tenth", first)
            .await
            .status,
        201
    );
    assert_error(
        &register_finish(&s, &jwt, &second_id, "Eleventh", second).await,
        409,
        "passkey_limit",
    );
    // At 10, a begin is refused at once.
    assert_error(
        &s.post_bearer("/auth/passkeys/register/begin", &jwt, json!({}))
            .await,
        409,
        "passkey_limit",
    );
    assert_eq!(list(&s, &jwt).await.len(), 10);
}

#[tokio::test]
async fn a_removed_passkey_no_longer_signs_in() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-remove@example.com").await;
    let mut passkey = authenticator();
    register(&s, &jwt, &mut passkey, "Key").await;
    assert_eq!(sign_in(&s, &mut passkey).await.status, 200);
    let r = s
        .post_bearer("/auth/passkeys/remove", &jwt, json!({"id": passkey.id()}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(s.redis.events_of("passkey.removed").len(), 1);
    assert!(list(&s, &jwt).await.is_empty());
    assert_error(&sign_in(&s, &mut passkey).await, 401, "invalid_credentials");
    // Removing it again: 404.
    assert_error(
        &s.post_bearer("/auth/passkeys/remove", &jwt, json!({"id": passkey.id()}))
            .await,
        404,
        "not_found",
    );
}

/// Registering needs a sign-in within the last 10 minutes.
#[tokio::test]
async fn registering_needs_a_recent_sign_in() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-reauth@example.com").await;
    let account = Uuid::parse_str(&sub(&jwt)).unwrap();
    let session = Uuid::parse_str(&sid(&jwt)).unwrap();
    let eleven_minutes_ago = crate::support::now_ms() / 1000 - 11 * 60;
    let old = s
        .app
        .issue_access_token(account, session, Some(eleven_minutes_ago), Amr::password())
        .unwrap()
        .token;
    assert_error(
        &s.post_bearer("/auth/passkeys/register/begin", &old, json!({}))
            .await,
        403,
        "reauthentication_required",
    );
    let nine_minutes_ago = crate::support::now_ms() / 1000 - 9 * 60;
    let recent = s
        .app
        .issue_access_token(account, session, Some(nine_minutes_ago), Amr::password())
        .unwrap()
        .token;
    assert_eq!(
        s.post_bearer("/auth/passkeys/register/begin", &recent, json!({}))
            .await
            .status,
        200
    );
    // No token at all: 401.
    assert_error(
        &s.post("/auth/passkeys/register/begin", json!({})).await,
        401,
        "invalid_token",
    );
}

#[tokio::test]
async fn removing_the_account_deletes_its_passkeys() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-gone@example.com").await;
    let account = sub(&jwt);
    let mut passkey = authenticator();
    register(&s, &jwt, &mut passkey, "Key").await;
    assert!(
        s.redis
            .account_keys(&account)
            .iter()
            .any(|k| k.ends_with(":passkeys"))
    );
    let r = s.post_bearer("/auth/account/remove", &jwt, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let left = s.redis.account_keys(&account);
    assert!(left.iter().all(|k| !k.ends_with(":passkeys")), "{left:?}");
    assert_error(&sign_in(&s, &mut passkey).await, 401, "invalid_credentials");
}

/// One challenge, many finishes at once: exactly one signs in (2, then 20 at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_challenge_signs_in_once_under_concurrency() {
    let s = server().await;
    let (jwt, _) = s.signed_in("pk-race@example.com").await;
    let mut passkey = authenticator();
    register(&s, &jwt, &mut passkey, "Key").await;
    for n in [2, 20] {
        let (challenge_id, options) = login_begin(&s).await;
        let credential = passkey.assert(&options);
        let body = json!({"challenge_id": challenge_id, "credential": credential});
        let mut set = JoinSet::new();
        for _ in 0..n {
            let request = s
                .http
                .post(s.url("/auth/passkeys/login/finish"))
                .json(&body);
            set.spawn(async move {
                let r = request.send().await.unwrap();
                (r.status().as_u16(), r.text().await.unwrap())
            });
        }
        let mut replies = Vec::new();
        while let Some(done) = set.join_next().await {
            replies.push(done.unwrap());
        }
        let ok = replies.iter().filter(|(status, _)| *status == 200).count();
        assert_eq!(ok, 1, "{n} concurrent finishes: {replies:?}");
        for (status, text) in replies.iter().filter(|(status, _)| *status != 200) {
            assert_eq!(*status, 401, "{text}");
            assert!(text.contains("invalid_credentials"), "{text}");
        }
    }
    assert_eq!(s.redis.events_of("passkey.login").len(), 2);
}

/// Without an RP id (nothing to derive one from) passkeys are off: every endpoint is 404.
#[tokio::test]
async fn passkeys_off_answer_404() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("pk-off@example.com").await;
    assert_error(
        &s.post("/auth/passkeys/login/begin", json!({})).await,
        404,
        "not_found",
    );
    assert_error(
        &s.post_bearer("/auth/passkeys/register/begin", &jwt, json!({}))
            .await,
        404,
        "not_found",
    );
    let r = s
        .send(s.http.get(s.url("/auth/passkeys")).bearer_auth(&jwt))
        .await;
    assert_error(&r, 404, "not_found");
}

/// login/begin counts against the per-IP login limit.
#[tokio::test]
async fn login_begin_is_rate_limited_per_ip() {
    let mut settings = SETTINGS.to_vec();
    settings.push(("EDGEAUTH_RATE_LOGIN_PER_IP", "3/1h"));
    let s = TestServer::with(&settings).await;
    for _ in 0..3 {
        login_begin(&s).await;
    }
    let r = s.post("/auth/passkeys/login/begin", json!({})).await;
    assert_error(&r, 429, "rate_limited");
    assert!(r.header("retry-after").is_some());
}
