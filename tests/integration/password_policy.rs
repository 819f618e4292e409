//! The password strength policy (`EDGEAUTH_PASSWORD_MIN_SCORE`, a zxcvbn
//! score, default 2): common and guessable passwords — the email's local part
//! with a digit among them — are refused with `400 invalid_password` and a
//! message saying why, at register, reset and change through the JSON API and
//! on the portal's register and reset pages; a long passphrase passes, and
//! score 0 turns the check off. (The other tests run with score 0.)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use crate::portal::{Browser, assert_page, error_text, location};
use crate::support::{PASSWORD, Reply, TestServer, assert_error};

/// An email whose local part is no dictionary word: only as a user input
/// does it make `zorblax1` weak.
const EMAIL: &str = "zorblax@example.com";
const PASSPHRASE: &str = "violet canyon drifts at noon";
const WEAK: &[&str] = &[
    "password",
    "123456",
    "qwerty123",
    "zorblax1",
    "letmein",
    "iloveyou",
    "Password1",
];

async fn server() -> TestServer {
    TestServer::with(&[
        ("EDGEAUTH_PASSWORD_MIN_SCORE", "2"),
        ("EDGEAUTH_PORTAL", "true"),
    ])
    .await
}

/// `400 invalid_password` whose message says why (more than the bare verdict).
fn assert_weak(r: &Reply, password: &str) {
    assert_error(r, 400, "invalid_password");
    let message = r.json()["message"].as_str().unwrap().to_owned();
    assert!(
        message.starts_with("This password is too easy to guess.")
            && message.len() > "This password is too easy to guess.".len(),
        "{password}: {message}"
    );
}

fn assert_weak_page(r: &Reply, heading: &str, password: &str) {
    assert_page(r, 400, heading);
    let text = error_text(&r.text).unwrap_or_default();
    assert!(
        text.starts_with("This password is too easy to guess.")
            && text.len() > "This password is too easy to guess.".len(),
        "{password}: {text}"
    );
}

#[tokio::test]
async fn weak_passwords_are_refused_at_register_with_the_reason() {
    let s = server().await;
    for password in WEAK {
        let r = s
            .post(
                "/auth/register",
                json!({"email": EMAIL, "password": password}),
            )
            .await;
        assert_weak(&r, password);
    }
    let r = s
        .post(
            "/auth/register",
            json!({"email": EMAIL, "password": "password"}),
        )
        .await;
    assert!(
        r.json()["message"].as_str().unwrap().contains("common"),
        "{}",
        r.text
    );
    assert!(s.redis.events_of("account.registered").is_empty());
    // The local part counts only for its own email: elsewhere `zorblax1` passes.
    let r = s
        .post(
            "/auth/register",
            json!({"email": "someone@example.com", "password": "zorblax1"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s
        .post(
            "/auth/register",
            json!({"email": EMAIL, "password": PASSPHRASE}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test]
async fn weak_passwords_are_refused_at_reset_and_change() {
    let s = server().await;
    s.create_account(EMAIL).await;
    let (jwt, _) = s.login(EMAIL).await;
    for password in WEAK {
        let r = s
            .post_bearer(
                "/auth/account/password",
                &jwt,
                json!({"old_password": PASSWORD, "new_password": password}),
            )
            .await;
        assert_weak(&r, password);
    }
    assert_eq!(s.verify(&jwt).await.status, 200, "nothing changed");
    let r = s.forgot_request(EMAIL).await;
    assert_eq!(r.status, 204);
    let ticket = s.redis.ticket("password.reset_requested", EMAIL);
    for password in WEAK {
        assert_weak(&s.reset_password(&ticket, password).await, password);
    }
    // Refused before the ticket was spent: it still works.
    let r = s.reset_password(&ticket, PASSPHRASE).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s
        .post(
            "/auth/login",
            json!({"email": EMAIL, "password": PASSPHRASE}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let jwt = r.jwt();
    let r = s
        .post_bearer(
            "/auth/account/password",
            &jwt,
            json!({"old_password": PASSPHRASE, "new_password": "tidy lantern orbit"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test]
async fn the_portal_shows_why_a_password_is_refused() {
    let s = server().await;
    let mut b = Browser::new(&s);
    b.get("/auth/ui/register").await;
    for password in WEAK {
        let r = b
            .post(
                "/auth/ui/register",
                &[("email", EMAIL), ("password", password)],
            )
            .await;
        assert_weak_page(&r, "Create an account", password);
    }
    assert!(s.redis.events_of("account.registered").is_empty());
    let r = b
        .post(
            "/auth/ui/register",
            &[("email", EMAIL), ("password", PASSPHRASE)],
        )
        .await;
    assert_page(&r, 200, "Check your email");

    let other = "quorvex@example.com";
    s.create_account(other).await;
    b.get("/auth/ui/forgot").await;
    b.post("/auth/ui/forgot", &[("email", other)]).await;
    let ticket = s.redis.ticket("password.reset_requested", other);
    b.get(&format!("/auth/ui/reset?ticket={ticket}")).await;
    // This account's own local part with a digit; `zorblax1` is fine here.
    let weak = WEAK
        .iter()
        .map(|p| if *p == "zorblax1" { "quorvex1" } else { p });
    for password in weak {
        let r = b
            .post(
                "/auth/ui/reset",
                &[("ticket", &ticket), ("new_password", password)],
            )
            .await;
        assert_weak_page(&r, "Choose a new password", password);
    }
    let r = b
        .post(
            "/auth/ui/reset",
            &[("ticket", &ticket), ("new_password", PASSPHRASE)],
        )
        .await;
    assert_eq!(location(&r), "/auth/ui/login?notice=password_reset");
}

#[tokio::test]
async fn score_zero_turns_the_check_off() {
    let s = TestServer::with(&[("EDGEAUTH_PASSWORD_MIN_SCORE", "0")]).await;
    for (i, password) in WEAK.iter().enumerate() {
        let r = s
            .post(
                "/auth/register",
                json!({"email": format!("off{i}@example.com"), "password": password}),
            )
            .await;
        assert_eq!(r.status, 204, "{password}: {}", r.text);
    }
}

#[tokio::test]
async fn the_default_is_score_two() {
    let s = TestServer::start().await;
    assert_eq!(
        s.app.config.password_min_score, 0,
        "the tests' base setting"
    );
    let config = edgeauth::config::SETTINGS
        .iter()
        .find(|setting| setting.var == "EDGEAUTH_PASSWORD_MIN_SCORE")
        .unwrap();
    assert_eq!(config.default, Some("2"));
}
