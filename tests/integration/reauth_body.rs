//! The optional body of a re-authentication-gated endpoint follows the
//! request conventions whatever the age of the sign-in: before, a fresh
//! sign-in skipped reading it, so a body that is not an object or a
//! `password` that is not a string was answered `200`/`204` (found by
//! schemathesis, `.ci/schemathesis`, against openapi.yaml).

use serde_json::json;

use crate::support::{TestServer, assert_error};

/// With a fresh sign-in: a mistyped body is `400 invalid_request` on every
/// gated endpoint, and nothing happens; `"password": null` is the same as
/// leaving it out (as openapi.yaml says).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sent_body_is_checked_on_a_fresh_sign_in_too() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("fresh-body@example.com").await;
    let cases = [
        ("/auth/mfa/generate", json!([null, null])),
        ("/auth/mfa/generate", json!({"password": 5})),
        ("/auth/account/remove", json!(["x"])),
        ("/auth/account/remove", json!({"password": false})),
        (
            "/auth/account/email/request",
            json!({"new_email": "new@example.com", "password": {}}),
        ),
        ("/auth/mfa/enable", json!({"code": "123456", "password": 1})),
    ];
    for (path, body) in cases {
        let r = s.post_bearer(path, &jwt, body.clone()).await;
        assert_error(&r, 400, "invalid_request");
    }
    // The account is still there: the mistyped removals removed nothing.
    let r = s
        .post_bearer("/auth/mfa/generate", &jwt, json!({"password": null}))
        .await;
    assert_eq!(r.status, 200, "{r:?}");
    let r = s
        .post_bearer(
            "/auth/account/email/request",
            &jwt,
            json!({"new_email": "new@example.com", "password": null}),
        )
        .await;
    assert_eq!(r.status, 204, "{r:?}");
}
