//! MFA enrolment: the tests' own TOTP against the RFC vectors, generate
//! (the QR code of the exact otpauth URI, the issuer), enable and disable,
//! malformed and replayed codes, conflicts, and the endpoints' Bearer token.
//! Codes come from the tests' own RFC 6238 implementation
//! (`support::totp`), never from the server's.

use serde_json::json;
use uuid::Uuid;

use crate::support::jwt::sub;
use crate::support::mfa::{assert_tokens, event_users, generate, mfa_ticket, qr_text};
use crate::support::totp::{Authenticator, BASE32_ALPHABET, STEP_MS, base32_decode, hotp, totp_at};
use crate::support::{PASSWORD, TestServer, assert_error, now_ms};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_totp_matches_rfc6238_appendix_b_and_rfc4648() {
    // RFC 6238 Appendix B, SHA1 column (8 digits), seed "12345678901234567890".
    let seed = b"12345678901234567890";
    let vectors: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];
    for (t, expected) in vectors {
        assert_eq!(totp_at(seed, t, 8), expected, "t={t}");
        // Six digits: the same truncation mod 10^6, i.e. the last six.
        assert_eq!(totp_at(seed, t, 6), expected[2..], "t={t}");
    }
    // RFC 4226 Appendix D (HOTP, counter 0..9) for good measure.
    let hotp_vectors = [
        "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871",
        "520489",
    ];
    for (counter, expected) in hotp_vectors.iter().enumerate() {
        assert_eq!(
            hotp(seed, counter as u64, 6),
            *expected,
            "counter={counter}"
        );
    }
    // RFC 4648 §10 base32 vectors, padding stripped.
    for (b32, raw) in [
        ("", &b""[..]),
        ("MY", b"f"),
        ("MZXQ", b"fo"),
        ("MZXW6", b"foo"),
        ("MZXW6YQ", b"foob"),
        ("MZXW6YTB", b"fooba"),
        ("MZXW6YTBOI", b"foobar"),
        ("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ", seed),
    ] {
        assert_eq!(base32_decode(b32).as_deref(), Some(raw), "{b32}");
    }
    for bad in ["M", "MZX", "my", "MZ=", "MZ1Q", "MZ"] {
        // "MZ" has nonzero trailing bits (f = MY).
        assert_eq!(base32_decode(bad), None, "{bad}");
    }
    // The authenticator hands out increasing steps within the window.
    let mut a = Authenticator::new("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    let before = now_ms() / STEP_MS;
    let codes = [a.fresh().await, a.fresh().await];
    let after = now_ms() / STEP_MS;
    assert_ne!(codes[0], codes[1]);
    assert!(a.last.unwrap() <= after + 1 && a.last.unwrap() + 2 >= before);
    assert!(!codes.contains(&a.wrong()));
}

// ---------------------------------------------------------------- generate: QR code and secret

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_returns_a_qr_code_of_the_exact_otpauth_uri() {
    let s = TestServer::start().await;
    let email = "qr.user+tag@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let (secret, image_url) = generate(&s, &jwt).await;
    assert_eq!(
        secret.len(),
        32,
        "160 bits in base32 without padding: {secret}"
    );
    assert!(
        secret.bytes().all(|b| BASE32_ALPHABET.contains(&b)),
        "RFC 4648 alphabet, no padding: {secret}"
    );
    assert_eq!(base32_decode(&secret).expect("base32").len(), 20);
    assert_eq!(
        qr_text(&image_url),
        format!(
            "otpauth://totp/edgeauth:qr.user%2Btag%40example.com?secret={secret}\
             &issuer=edgeauth&algorithm=SHA1&digits=6&period=30"
        )
    );
    // Each generate is a new random secret.
    let (again, again_url) = generate(&s, &jwt).await;
    assert_ne!(again, secret);
    assert!(qr_text(&again_url).contains(&format!("?secret={again}&")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issuer_is_configurable_and_percent_encoded() {
    let s = TestServer::with(&[("EDGEAUTH_MFA_ISSUER", "Acme Co: Auth")]).await;
    let (jwt, _) = s.signed_in("issuer@example.com").await;
    let (secret, image_url) = generate(&s, &jwt).await;
    assert_eq!(
        qr_text(&image_url),
        format!(
            "otpauth://totp/Acme%20Co%3A%20Auth:issuer%40example.com?secret={secret}\
             &issuer=Acme%20Co%3A%20Auth&algorithm=SHA1&digits=6&period=30"
        )
    );
}

// ---------------------------------------------------------------- enable, disable, codes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independently_computed_code_enables_and_a_wrong_one_is_401() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("enable@example.com").await;
    let account = sub(&jwt);
    let (secret, _) = generate(&s, &jwt).await;
    let mut auth = Authenticator::new(&secret);
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": auth.wrong() }))
        .await;
    assert_error(&r, 401, "invalid_code");
    assert!(s.redis.events_of("mfa.enabled").is_empty());
    let code = auth.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.text, "");
    assert_eq!(event_users(&s, "mfa.enabled"), vec![account]);
    // On: login now asks for the second factor.
    mfa_ticket(&s, "enable@example.com").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_codes_are_400_and_cost_no_attempt() {
    let s = TestServer::start().await;
    let email = "format@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let (secret, _) = generate(&s, &jwt).await;
    let mut auth = Authenticator::new(&secret);
    let malformed = [
        json!("12345"),
        json!("abcdef"),
        json!("1234567"),
        json!(123456),
        json!(""),
        json!(" 12345"),
        json!(null),
    ];
    for code in &malformed {
        let r = s
            .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
            .await;
        assert_error(&r, 400, "invalid_request");
    }
    let r = s.post_bearer("/auth/mfa/enable", &jwt, json!({})).await;
    assert_error(&r, 400, "invalid_request");
    let code = auth.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    for path in ["/auth/mfa/disable", "/auth/mfa/recovery-codes"] {
        for code in &malformed {
            let r = s.post_bearer(path, &jwt, json!({ "code": code })).await;
            assert_error(&r, 400, "invalid_request");
        }
    }
    let ticket = mfa_ticket(&s, email).await;
    for code in &malformed {
        let r = s
            .post("/auth/mfa/totp", json!({ "ticket": ticket, "code": code }))
            .await;
        assert_error(&r, 400, "invalid_request");
    }
    let r = s.post("/auth/mfa/totp", json!({ "ticket": ticket })).await;
    assert_error(&r, 400, "invalid_request");
    // A ticket that is not a UUID is 400; an unknown UUID is 401.
    let code = auth.fresh_lasting().await;
    let r = s.mfa_totp("not-a-ticket", &code).await;
    assert_error(&r, 400, "invalid_request");
    let r = s.mfa_totp(&Uuid::new_v4().to_string(), &code).await;
    assert_error(&r, 401, "invalid_ticket");
    // Seven malformed requests did not burn the ticket.
    assert_tokens(&s.mfa_totp(&ticket, &code).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_generate_enable_login_totp_replay_disable() {
    let s = TestServer::start().await;
    let email = "flow@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = sub(&jwt);
    let mut auth = s.enable_mfa(&jwt).await;

    // Login: a ticket, no tokens, no cookie (checked by mfa_ticket).
    let ticket = mfa_ticket(&s, email).await;
    let r = s.mfa_totp(&ticket, &auth.wrong()).await;
    assert_error(&r, 401, "invalid_code");
    let code = auth.fresh().await;
    let r = s.mfa_totp(&ticket, &code).await;
    let (mfa_jwt, refresh) = assert_tokens(&r);
    assert_eq!(sub(&mfa_jwt), account);
    let v = s.verify(&mfa_jwt).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.header("x-auth-user-id"), Some(account.clone()));
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "the refresh cookie works: {}", r.text);

    // The ticket is spent; the code is spent for the account.
    let r = s.mfa_totp(&ticket, &code).await;
    assert_error(&r, 401, "invalid_ticket");
    let ticket2 = mfa_ticket(&s, email).await;
    let r = s.mfa_totp(&ticket2, &code).await;
    assert_error(&r, 401, "invalid_code");
    // ... also for disable.
    let r = s
        .post_bearer("/auth/mfa/disable", &mfa_jwt, json!({ "code": code }))
        .await;
    assert_error(&r, 401, "invalid_code");
    let r = s
        .post_bearer(
            "/auth/mfa/disable",
            &mfa_jwt,
            json!({ "code": auth.wrong() }),
        )
        .await;
    assert_error(&r, 401, "invalid_code");
    assert!(s.redis.events_of("mfa.disabled").is_empty());

    // Disable with a code of a newer step.
    let code = auth.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/disable", &mfa_jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(event_users(&s, "mfa.disabled"), vec![account]);

    // Off: login returns tokens directly; old MFA tickets are dead.
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_tokens(&r);
    let r = s.mfa_totp(&ticket2, &code).await;
    assert_error(&r, 401, "invalid_ticket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_accepted_by_enable_is_refused_everywhere_after() {
    let s = TestServer::start().await;
    let email = "replay@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let (secret, _) = generate(&s, &jwt).await;
    let mut auth = Authenticator::new(&secret);
    let code = auth.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for path in ["/auth/mfa/recovery-codes", "/auth/mfa/disable"] {
        let r = s.post_bearer(path, &jwt, json!({ "code": code })).await;
        assert_error(&r, 401, "invalid_code");
    }
    let ticket = mfa_ticket(&s, email).await;
    let r = s.mfa_totp(&ticket, &code).await;
    assert_error(&r, 401, "invalid_code");
    // A step older than the last accepted one is refused too, even unused.
    let older = auth.code_for_step(auth.last.unwrap() - 1);
    if older != code {
        let r = s.mfa_totp(&ticket, &older).await;
        assert_error(&r, 401, "invalid_code");
    }
    let next = auth.fresh().await;
    assert_tokens(&s.mfa_totp(&ticket, &next).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_409() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("conflict@example.com").await;
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": "123456" }))
        .await;
    assert_error(&r, 409, "mfa_not_generated");
    for path in ["/auth/mfa/disable", "/auth/mfa/recovery-codes"] {
        let r = s.post_bearer(path, &jwt, json!({ "code": "123456" })).await;
        assert_error(&r, 409, "mfa_not_enabled");
    }
    // Pending is not enabled.
    let (secret, _) = generate(&s, &jwt).await;
    for path in ["/auth/mfa/disable", "/auth/mfa/recovery-codes"] {
        let r = s.post_bearer(path, &jwt, json!({ "code": "123456" })).await;
        assert_error(&r, 409, "mfa_not_enabled");
    }
    let mut auth = Authenticator::new(&secret);
    let code = auth.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s.post_bearer("/auth/mfa/generate", &jwt, json!({})).await;
    assert_error(&r, 409, "mfa_already_enabled");
    let code = auth.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
        .await;
    assert_error(&r, 409, "mfa_already_enabled");
    assert_eq!(s.redis.events_of("mfa.enabled").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_generate_replaces_the_first() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("regen@example.com").await;
    let (first, _) = generate(&s, &jwt).await;
    let (second, _) = generate(&s, &jwt).await;
    assert_ne!(first, second);
    let mut old = Authenticator::new(&first);
    let mut new = Authenticator::new(&second);
    for code in [old.fresh().await, old.fresh().await] {
        let r = s
            .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
            .await;
        assert_error(&r, 401, "invalid_code");
    }
    let code = new.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The second secret is the active one.
    let ticket = mfa_ticket(&s, "regen@example.com").await;
    let r = s.mfa_totp(&ticket, &old.fresh().await).await;
    assert_error(&r, 401, "invalid_code");
    assert_tokens(&s.mfa_totp(&ticket, &new.fresh().await).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_endpoints_need_a_token() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("bearer@example.com").await;
    let bogus = format!("{}x", &jwt[..jwt.len() - 1]);
    for path in [
        "/auth/mfa/generate",
        "/auth/mfa/enable",
        "/auth/mfa/disable",
        "/auth/mfa/recovery-codes",
    ] {
        let r = s.post(path, json!({ "code": "123456" })).await;
        assert_error(&r, 401, "invalid_token");
        assert!(
            r.header("www-authenticate")
                .is_some_and(|h| h.starts_with("Bearer")),
            "{path}: {:?}",
            r.headers
        );
        for token in ["garbage", bogus.as_str()] {
            let r = s
                .post_bearer(path, token, json!({ "code": "123456" }))
                .await;
            assert_error(&r, 401, "invalid_token");
        }
    }
    // A revoked session cannot start MFA either.
    let r = s.post_bearer("/auth/token/revoke", &jwt, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s.post_bearer("/auth/mfa/generate", &jwt, json!({})).await;
    assert_error(&r, 401, "invalid_token");
}
