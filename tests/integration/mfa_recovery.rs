//! MFA recovery codes: each logs in once, wrong ones cost the ticket's
//! attempts, a new set invalidates the old.

use std::collections::HashSet;

use serde_json::json;

use crate::support::jwt::sub;
use crate::support::mfa::{altered, assert_tokens, event_users, mfa_ticket};
use crate::support::{TestServer, assert_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_codes_log_in_once_each() {
    let s = TestServer::start().await;
    let email = "recovery@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = sub(&jwt);
    let mut auth = s.enable_mfa(&jwt).await;
    let r = s
        .post_bearer(
            "/auth/mfa/recovery-codes",
            &jwt,
            json!({ "code": auth.wrong() }),
        )
        .await;
    assert_error(&r, 401, "invalid_code");

    let codes = s.recovery_codes(&jwt, &auth.fresh().await).await;
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), 10, "distinct");
    for c in &codes {
        let symbols: String = c.chars().filter(|ch| ch.is_ascii_alphanumeric()).collect();
        assert!(symbols.len() >= 10, "≥ 50 bits in base32 symbols: {c}");
        assert!(
            c.contains('-') || c.contains(' '),
            "grouped for reading: {c}"
        );
    }
    // Only hashes in Redis.
    let dump = s.redis.contents();
    for c in &codes {
        let bare: String = c.chars().filter(|ch| ch.is_ascii_alphanumeric()).collect();
        for needle in [
            c.clone(),
            bare.clone(),
            bare.to_uppercase(),
            c.to_uppercase(),
        ] {
            assert!(
                !crate::support::contains_bytes(&dump, needle.as_bytes()),
                "recovery code {needle} in Redis"
            );
        }
    }

    let ticket = mfa_ticket(&s, email).await;
    let r = s.mfa_recover(&ticket, &codes[0]).await;
    let (rjwt, _) = assert_tokens(&r);
    assert_eq!(sub(&rjwt), account);
    assert_eq!(s.verify(&rjwt).await.status, 200);
    assert_eq!(event_users(&s, "mfa.recovery_code_used"), vec![account]);
    // The ticket is spent.
    let r = s.mfa_recover(&ticket, &codes[1]).await;
    assert_error(&r, 401, "invalid_ticket");

    // The same code a second time: 401; another code of the set works on
    // the same ticket.
    let ticket = mfa_ticket(&s, email).await;
    let r = s.mfa_recover(&ticket, &codes[0]).await;
    assert_error(&r, 401, "invalid_code");
    assert_tokens(&s.mfa_recover(&ticket, &codes[1]).await);
    assert_eq!(s.redis.events_of("mfa.recovery_code_used").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_recovery_codes_count_against_the_tickets_attempts() {
    let s = TestServer::start().await;
    let email = "recwrong@example.com";
    let (jwt, mut auth) = s.signed_in_with_mfa(email).await;
    let codes = s.recovery_codes(&jwt, &auth.fresh().await).await;

    let ticket = mfa_ticket(&s, email).await;
    for c in &codes[..5] {
        let r = s.mfa_recover(&ticket, &altered(c)).await;
        assert_error(&r, 401, "invalid_code");
    }
    let r = s.mfa_recover(&ticket, &codes[0]).await;
    assert_error(&r, 401, "invalid_ticket");

    // TOTP and recovery attempts share the budget of one ticket.
    let ticket = mfa_ticket(&s, email).await;
    for _ in 0..3 {
        let r = s.mfa_totp(&ticket, &auth.wrong()).await;
        assert_error(&r, 401, "invalid_code");
    }
    for c in &codes[5..7] {
        let r = s.mfa_recover(&ticket, &altered(c)).await;
        assert_error(&r, 401, "invalid_code");
    }
    let r = s.mfa_totp(&ticket, &auth.fresh().await).await;
    assert_error(&r, 401, "invalid_ticket");

    // The burned attempt did not spend the recovery code.
    let ticket = mfa_ticket(&s, email).await;
    assert_tokens(&s.mfa_recover(&ticket, &codes[0]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_set_of_recovery_codes_invalidates_the_old() {
    let s = TestServer::start().await;
    let email = "recnew@example.com";
    let (jwt, mut auth) = s.signed_in_with_mfa(email).await;
    let old = s.recovery_codes(&jwt, &auth.fresh().await).await;
    let new = s.recovery_codes(&jwt, &auth.fresh().await).await;
    assert!(
        old.iter().all(|c| !new.contains(c)),
        "two sets share a code: {old:?} {new:?}"
    );
    let ticket = mfa_ticket(&s, email).await;
    for c in &old[..3] {
        let r = s.mfa_recover(&ticket, c).await;
        assert_error(&r, 401, "invalid_code");
    }
    assert_tokens(&s.mfa_recover(&ticket, &new[0]).await);
}
