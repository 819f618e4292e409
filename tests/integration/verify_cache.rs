//! The verification cache keeps revocation honest: a revocation
//! is seen at once by the replica that made it, and by every other replica
//! within `EDGEAUTH_VERIFY_CACHE_TTL` (1 s).

use std::time::Duration;

use serde_json::json;

use crate::support::TestServer;

/// Polls `/auth/verify` on `s` until it answers 401; returns how long that took.
async fn time_until_rejected(s: &TestServer, jwt: &str) -> Duration {
    let started = edgeauth::clock::instant();
    loop {
        let status = s.verify(jwt).await.status;
        if status == 401 {
            return started.elapsed();
        }
        assert_eq!(status, 200);
        assert!(started.elapsed() < Duration::from_secs(5), "never rejected");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_revocation_is_seen_at_once_by_the_replica_that_made_it() {
    let s = TestServer::start().await;
    let email = "cache-local@example.com";
    s.create_account(email).await;

    // Each case: warm the cache with a verify, revoke, verify again at once.
    let (jwt, refresh) = s.login(email).await;
    assert_eq!(s.verify(&jwt).await.status, 200);
    assert_eq!(s.post_cookie("/auth/logout", &refresh).await.status, 204);
    assert_eq!(s.verify(&jwt).await.status, 401, "logout");

    let (jwt, _) = s.login(email).await;
    assert_eq!(s.verify(&jwt).await.status, 200);
    assert_eq!(
        s.post_bearer("/auth/token/revoke", &jwt, json!({}))
            .await
            .status,
        204
    );
    assert_eq!(s.verify(&jwt).await.status, 401, "revoke");

    let (jwt, refresh) = s.login(email).await;
    assert_eq!(s.verify(&jwt).await.status, 200);
    let next = s
        .post_cookie("/auth/token/refresh", &refresh)
        .await
        .refresh_cookie()
        .unwrap();
    assert_eq!(
        s.post_cookie("/auth/token/refresh", &next).await.status,
        200
    );
    // Replaying the first token outside the grace (generation 0 vs current 2) is reuse.
    assert_eq!(
        s.post_cookie("/auth/token/refresh", &refresh).await.status,
        401
    );
    assert_eq!(s.verify(&jwt).await.status, 401, "reuse detection");

    let (jwt, _) = s.login(email).await;
    assert_eq!(s.verify(&jwt).await.status, 200);
    assert_eq!(s.forgot_request(email).await.status, 204);
    let ticket = s.redis.ticket("password.reset_requested", email);
    let reset = s.reset_password(&ticket, "another password").await;
    assert_eq!(reset.status, 204);
    assert_eq!(s.verify(&jwt).await.status, 401, "password reset");

    let other = "cache-removed@example.com";
    let (jwt, _) = s.signed_in(other).await;
    assert_eq!(s.verify(&jwt).await.status, 200);
    assert_eq!(
        s.post_bearer("/auth/account/remove", &jwt, json!({}))
            .await
            .status,
        204
    );
    assert_eq!(s.verify(&jwt).await.status, 401, "account removal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_replicas_see_a_revocation_within_the_cache_ttl() {
    let a = TestServer::start().await;
    // B shares A's Redis and verifies tokens signed by A (replicas share key files).
    let dir = crate::support::TempDir::new();
    let key = dir.write("a.pem", &a.signing_pem);
    let b = TestServer::with_redis(
        a.redis.shared(),
        &[("EDGEAUTH_JWT_KEY_FILES", key.to_str().unwrap())],
    )
    .await;

    for round in 0..3 {
        let email = format!("cache-remote{round}@example.com");
        let (jwt, refresh) = a.signed_in(&email).await;
        assert_eq!(b.verify(&jwt).await.status, 200, "B caches the session");
        assert_eq!(a.post_cookie("/auth/logout", &refresh).await.status, 204);
        assert_eq!(a.verify(&jwt).await.status, 401, "A sees it at once");
        let took = time_until_rejected(&b, &jwt).await;
        assert!(
            took <= Duration::from_millis(1_300),
            "B saw the revocation after {took:?}, more than the 1 s cache TTL"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_cache_off_every_replica_sees_a_revocation_at_once() {
    let a = TestServer::with(&[("EDGEAUTH_VERIFY_CACHE_TTL", "0")]).await;
    let dir = crate::support::TempDir::new();
    let key = dir.write("a.pem", &a.signing_pem);
    let b = TestServer::with_redis(
        a.redis.shared(),
        &[
            ("EDGEAUTH_JWT_KEY_FILES", key.to_str().unwrap()),
            ("EDGEAUTH_VERIFY_CACHE_TTL", "0"),
        ],
    )
    .await;
    let (jwt, _) = a.signed_in("cache-off@example.com").await;
    assert_eq!(b.verify(&jwt).await.status, 200);
    assert_eq!(
        a.post_bearer("/auth/token/revoke", &jwt, json!({}))
            .await
            .status,
        204
    );
    assert_eq!(b.verify(&jwt).await.status, 401);
}
