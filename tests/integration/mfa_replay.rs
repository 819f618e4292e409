//! A TOTP code whose time step was already accepted for the account (a
//! replay) is refused as `401 invalid_code`, like a wrong code, but with a
//! message of its own that tells the user to wait for the next code — at
//! the login step, at disable and at new recovery codes. A replay still
//! costs what a wrong code costs: an attempt of the login ticket, a slot of
//! the second-factor budget and an `mfa.failed` event.

use serde_json::json;

use crate::support::jwt::sub;
use crate::support::mfa::{event_users, mfa_ticket};
use crate::support::{Reply, TestServer, assert_error};

const REPLAYED: &str = "This code was already used; wait for the next one.";
const WRONG: &str = "The code is wrong.";

fn assert_code_refused(r: &Reply, message: &str) {
    assert_error(r, 401, "invalid_code");
    assert_eq!(r.json()["message"], json!(message), "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_code_at_the_login_step_says_so_and_counts_like_a_wrong_one() {
    let s = TestServer::start().await;
    let email = "replay-login@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = sub(&jwt);
    let mut auth = crate::support::totp::Authenticator::new(&s.mfa_generate(&jwt).await);
    // A code that stays acceptable for 30 s: the replays below are replays,
    // never codes that simply expired.
    let used = auth.fresh_lasting().await;
    s.enable_mfa_with(&jwt, &used).await;

    let ticket = mfa_ticket(&s, email).await;
    assert_code_refused(&s.mfa_totp(&ticket, &used).await, REPLAYED);
    assert_code_refused(&s.mfa_totp(&ticket, &auth.wrong()).await, WRONG);
    // Three more replays: with the wrong code, five tries burn the ticket.
    for _ in 0..3 {
        assert_code_refused(&s.mfa_totp(&ticket, &used).await, REPLAYED);
    }
    let r = s.mfa_totp(&ticket, &auth.fresh().await).await;
    assert_error(&r, 401, "invalid_ticket");
    assert_eq!(
        event_users(&s, "mfa.failed"),
        vec![account; 5],
        "every replay is a failed second factor"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_use_up_the_second_factor_budget() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_MFA_PER_ACCOUNT", "3/1h")]).await;
    let email = "replay-budget@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let mut auth = crate::support::totp::Authenticator::new(&s.mfa_generate(&jwt).await);
    let used = auth.fresh_lasting().await;
    s.enable_mfa_with(&jwt, &used).await;
    for _ in 0..3 {
        let r = s
            .post_bearer("/auth/mfa/disable", &jwt, json!({ "code": used }))
            .await;
        assert_code_refused(&r, REPLAYED);
    }
    // The budget is spent: a right code is refused too.
    let r = s
        .post_bearer(
            "/auth/mfa/disable",
            &jwt,
            json!({ "code": auth.fresh().await }),
        )
        .await;
    assert_error(&r, 429, "rate_limited");
    assert!(s.redis.events_of("mfa.disabled").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enable_then_disable_with_the_same_code_is_a_replay() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("replay-disable@example.com").await;
    let account = sub(&jwt);
    let mut auth = crate::support::totp::Authenticator::new(&s.mfa_generate(&jwt).await);
    let used = auth.fresh_lasting().await;
    s.enable_mfa_with(&jwt, &used).await;

    let r = s
        .post_bearer("/auth/mfa/disable", &jwt, json!({ "code": used }))
        .await;
    assert_code_refused(&r, REPLAYED);
    let r = s
        .post_bearer("/auth/mfa/disable", &jwt, json!({ "code": auth.wrong() }))
        .await;
    assert_code_refused(&r, WRONG);
    assert_eq!(event_users(&s, "mfa.failed"), vec![account.clone(); 2]);
    assert!(s.redis.events_of("mfa.disabled").is_empty());

    // The next code works.
    let r = s
        .post_bearer(
            "/auth/mfa/disable",
            &jwt,
            json!({ "code": auth.fresh().await }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(event_users(&s, "mfa.disabled"), vec![account]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_recovery_codes_with_a_replayed_code_say_so() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("replay-recovery@example.com").await;
    let mut auth = crate::support::totp::Authenticator::new(&s.mfa_generate(&jwt).await);
    let used = auth.fresh_lasting().await;
    s.enable_mfa_with(&jwt, &used).await;

    let r = s
        .post_bearer("/auth/mfa/recovery-codes", &jwt, json!({ "code": used }))
        .await;
    assert_code_refused(&r, REPLAYED);
    let r = s
        .post_bearer(
            "/auth/mfa/recovery-codes",
            &jwt,
            json!({ "code": auth.wrong() }),
        )
        .await;
    assert_code_refused(&r, WRONG);
    let codes = s.recovery_codes(&jwt, &auth.fresh().await).await;
    assert_eq!(codes.len(), 10);
}
