//! The MFA second login step: a ticket burnt by wrong codes, exactly one
//! winner among concurrent second steps, and tickets of other purposes
//! refused, and the configurable ticket lifetime.

use serde_json::json;

use crate::support::jwt::sub;
use crate::support::mfa::{assert_tokens, concurrent_posts, mfa_ticket};
use crate::support::{PASSWORD, Reply, TestServer, assert_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_burn_the_ticket() {
    let s = TestServer::start().await;
    let email = "burn@example.com";
    let (_, mut auth) = s.signed_in_with_mfa(email).await;
    let code = auth.fresh_lasting().await;

    let ticket = mfa_ticket(&s, email).await;
    for i in 0..5 {
        let r = s.mfa_totp(&ticket, &auth.wrong()).await;
        assert_error(&r, 401, "invalid_code");
        assert!(r.set_cookie().is_none(), "attempt {i}");
    }
    // The 6th attempt, even with the right code.
    let r = s.mfa_totp(&ticket, &code).await;
    assert_error(&r, 401, "invalid_ticket");
    assert!(r.set_cookie().is_none());

    // Four wrong codes leave the 5th attempt; the right code was not spent.
    let ticket = mfa_ticket(&s, email).await;
    for _ in 0..4 {
        let r = s.mfa_totp(&ticket, &auth.wrong()).await;
        assert_error(&r, 401, "invalid_code");
    }
    assert_tokens(&s.mfa_totp(&ticket, &code).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_totp_with_one_ticket_exactly_one_wins() {
    let s = TestServer::start().await;
    let email = "race@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = sub(&jwt);
    let mut auth = s.enable_mfa(&jwt).await;
    let ticket = mfa_ticket(&s, email).await;
    let code = auth.fresh().await;
    let families_before: u64 = redis::cmd("ZCARD")
        .arg(format!("edgeauth:{{{account}}}:sessions"))
        .query(&mut s.redis.conn())
        .expect("ZCARD");
    let bodies = (0..20)
        .map(|_| json!({ "ticket": ticket, "code": code }))
        .collect();
    let replies = concurrent_posts(&s, "/auth/mfa/totp", bodies).await;
    let winners: Vec<&Reply> = replies.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        winners.len(),
        1,
        "statuses: {:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert_tokens(winners[0]);
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 401, "{}", r.text);
        let e = r.error();
        assert!(e == "invalid_ticket" || e == "invalid_code", "{e}");
        assert!(r.set_cookie().is_none());
    }
    let families_after: u64 = redis::cmd("ZCARD")
        .arg(format!("edgeauth:{{{account}}}:sessions"))
        .query(&mut s.redis.conn())
        .expect("ZCARD");
    assert_eq!(families_after, families_before + 1, "one session started");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_live_ticket_at_once_with_one_code_exactly_one_wins() {
    let s = TestServer::start().await;
    let email = "race2@example.com";
    let (_, mut auth) = s.signed_in_with_mfa(email).await;
    let mut tickets = Vec::new();
    // As many as an account keeps live (older ones are dropped).
    for _ in 0..edgeauth::ops::login::LOGIN_TICKETS_PER_ACCOUNT {
        tickets.push(mfa_ticket(&s, email).await);
    }
    let code = auth.fresh().await;
    let bodies = tickets
        .iter()
        .map(|t| json!({ "ticket": t, "code": code }))
        .collect();
    let replies = concurrent_posts(&s, "/auth/mfa/totp", bodies).await;
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "a code is accepted once per account (replay)");
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_error(r, 401, "invalid_code");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tickets_of_other_purposes_are_not_mfa_login_tickets() {
    let s = TestServer::start().await;
    let email = "purpose@example.com";
    let (_, mut auth) = s.signed_in_with_mfa(email).await;
    let code = auth.fresh_lasting().await;

    // A password-reset ticket of this very account (MFA on).
    let r = s.forgot_request(email).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let reset = s.redis.ticket("password.reset_requested", email);
    let r = s.mfa_totp(&reset, &code).await;
    assert_error(&r, 401, "invalid_ticket");
    let r = s.mfa_recover(&reset, "aaaa-bbbb-cccc").await;
    assert_error(&r, 401, "invalid_ticket");

    // An activation ticket (of an inactive account).
    let r = s
        .post(
            "/auth/register",
            json!({"email": "inactive@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let activation = s.redis.ticket("account.registered", "inactive@example.com");
    let r = s.mfa_totp(&activation, &code).await;
    assert_error(&r, 401, "invalid_ticket");
    let r = s
        .post("/auth/account/activate", json!({ "ticket": activation }))
        .await;
    assert_eq!(
        r.status, 204,
        "the activation ticket still works: {}",
        r.text
    );

    // And an MFA login ticket is neither a reset nor an activation ticket.
    let login = mfa_ticket(&s, email).await;
    let r = s.reset_password(&login, "another password").await;
    assert_error(&r, 401, "invalid_ticket");
    let r = s
        .post("/auth/account/activate", json!({ "ticket": login }))
        .await;
    assert_error(&r, 401, "invalid_ticket");
    // The password did not change; the login ticket still opens with the code.
    mfa_ticket(&s, email).await;
    assert_tokens(&s.mfa_totp(&login, &code).await);
    // The reset ticket is still good for its own purpose.
    let r = s.reset_password(&reset, "another password").await;
    assert_eq!(r.status, 204, "{}", r.text);
}

/// `EDGEAUTH_MFA_LOGIN_TICKET_TTL` sets how long a password-verified login
/// ticket waits for its second factor: within it a wrong code is a wrong
/// code (the ticket lives), past it the ticket is gone whatever the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_ticket_lifetime_is_configurable() {
    let s = TestServer::with(&[("EDGEAUTH_MFA_LOGIN_TICKET_TTL", "1s")]).await;
    let email = "ticket-ttl@example.com";
    let (_, auth) = s.signed_in_with_mfa(email).await;
    let live = mfa_ticket(&s, email).await;
    let r = s.mfa_totp(&live, &auth.wrong()).await;
    assert_error(&r, 401, "invalid_code");
    let expiring = mfa_ticket(&s, email).await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = s.mfa_totp(&expiring, &auth.wrong()).await;
    assert_error(&r, 401, "invalid_ticket");
}
