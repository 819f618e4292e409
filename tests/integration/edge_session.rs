//! The edge session: what a browser sign-in leaves in the browser (the
//! session cookie) as `/auth/verify` and `/auth/forward-auth` see it — the
//! identity headers and `amr`, `mfa=1`, the sign-in URL on 401 and the 302
//! for a navigation, the idle timeout and absolute lifetime, sliding renewal
//! that writes Redis at most once per renewal interval, every revocation
//! ending it, `amr` in access tokens, and cookies bound to the data key.
//!
//! The browser sign-in is the sign-in operation called on the in-process
//! server (`support::edge`), exactly what the portal's pages call.

use std::time::Duration;

use edgeauth::auth::amr::Amr;
use edgeauth::ops::credentials::Tokens;
use reqwest::Method;
use reqwest::header::{COOKIE, LOCATION};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::edge::{
    EdgeLogin, browser_sign_in, browser_sign_in_mfa, browser_sign_in_recovery,
};
use crate::support::jwt::{claims, sid, sub};
use crate::support::keys::{command_calls, reset_stats};
use crate::support::{PASSWORD, Redis, Reply, TempDir, TestServer, assert_error, now_ms};

const PORTAL: &str = "https://auth.example.com";
const SIGN_IN: &str = "https://auth.example.com/auth/ui/login";
const NAVIGATION: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

/// A 200 of the gateway check naming `account`'s session `session`.
#[track_caller]
fn assert_identity(r: &Reply, account: &str, session: &str, email: &str, amr: &str) {
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("x-auth-user-id").as_deref(), Some(account));
    assert_eq!(r.header("x-auth-session-id").as_deref(), Some(session));
    assert_eq!(r.header("x-auth-email").as_deref(), Some(email));
    assert_eq!(r.header("x-auth-amr").as_deref(), Some(amr));
}

#[track_caller]
fn assert_edge_identity(r: &Reply, edge: &EdgeLogin, email: &str, amr: &str) {
    assert_identity(
        r,
        &edge.account.to_string(),
        &edge.family.to_string(),
        email,
        amr,
    );
}

/// `GET /auth/verify` with a Bearer token and the edge cookie.
async fn verify_both(s: &TestServer, bearer: &str, cookie: &str) -> Reply {
    s.send(
        s.http
            .get(s.url("/auth/verify"))
            .bearer_auth(bearer)
            .header(COOKIE, format!("edgeauth_session={cookie}")),
    )
    .await
}

/// `GET path` with a Bearer token and extra headers.
async fn get_bearer(s: &TestServer, path: &str, jwt: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = s.http.get(s.url(path)).bearer_auth(jwt);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    s.send(request).await
}

/// The session ids `jwt`'s account lists.
async fn session_ids(s: &TestServer, jwt: &str) -> Vec<String> {
    let r = s
        .send(s.http.get(s.url("/auth/sessions")).bearer_auth(jwt))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect()
}

/// A client that does not follow redirects (to see the 302 itself).
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

/// A request with `method` to `path` carrying `headers`, not following redirects.
async fn request(s: &TestServer, method: Method, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = no_redirects().request(method, s.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    s.send(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_takes_the_cookie_and_a_bearer_decides_alone() {
    let s = TestServer::start().await;
    let email = "edge-verify@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;

    // The cookie alone: the browser session's identity, amr pwd.
    let r = s.verify_cookie(&edge.cookie).await;
    assert_edge_identity(&r, &edge, email, "pwd");
    // HEAD, and a path under /auth/verify, answer the same.
    let head = s
        .send(
            s.http
                .head(s.url("/auth/verify/some/path"))
                .header(COOKIE, format!("edgeauth_session={}", edge.cookie)),
        )
        .await;
    assert_edge_identity(&head, &edge, email, "pwd");

    // Values we did not make, or made for another purpose.
    let mut tampered: Vec<char> = edge.cookie.chars().collect();
    tampered[10] = if tampered[10] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let mut truncated = edge.cookie.clone();
    truncated.pop();
    for (what, value) in [
        ("garbage", "garbage".to_owned()),
        ("empty", String::new()),
        ("tampered", tampered),
        ("truncated", truncated),
        ("refresh token", edge.refresh_token.clone()),
        ("doubled", format!("{}{}", edge.cookie, edge.cookie)),
    ] {
        let r = s.verify_cookie(&value).await;
        assert_error(&r, 401, "invalid_token");
        assert!(r.header("x-auth-user-id").is_none(), "{what}");
    }
    // No cookie, or another cookie name: 401.
    assert_error(&s.get("/auth/verify").await, 401, "invalid_token");
    let other_name = s
        .send(
            s.http
                .get(s.url("/auth/verify"))
                .header(COOKIE, format!("refresh_token={}", edge.cookie)),
        )
        .await;
    assert_error(&other_name, 401, "invalid_token");

    // A correctly MACed cookie naming a session a JSON sign-in made (no
    // browser session) is refused too.
    let (jwt, _) = s.login(email).await;
    let api_cookie = edgeauth::ops::edge::cookie_value(
        &s.app,
        &Tokens {
            account: edge.account,
            family: Uuid::parse_str(&sid(&jwt)).unwrap(),
            generation: 0,
            auth_time: None,
            amr: Amr::password(),
        },
    );
    assert_error(&s.verify_cookie(&api_cookie).await, 401, "invalid_token");

    // Bearer verify now also names the email and amr.
    let r = s.verify(&jwt).await;
    assert_identity(&r, &sub(&jwt), &sid(&jwt), email, "pwd");

    // A Bearer header decides alone: valid Bearer + garbage cookie is the
    // Bearer's session; garbage Bearer + valid cookie is 401.
    let r = verify_both(&s, &jwt, "garbage").await;
    assert_identity(&r, &sub(&jwt), &sid(&jwt), email, "pwd");
    let r = verify_both(&s, &jwt, &edge.cookie).await;
    assert_eq!(
        r.header("x-auth-session-id").as_deref(),
        Some(sid(&jwt).as_str()),
        "the Bearer's session, not the cookie's"
    );
    assert_error(
        &verify_both(&s, "garbage", &edge.cookie).await,
        401,
        "invalid_token",
    );
    // Any Authorization header decides, even one that is not a Bearer token.
    let basic_auth = s
        .send(
            s.http
                .get(s.url("/auth/verify"))
                .header("authorization", "Basic dXNlcjpwYXNz")
                .header(COOKIE, format!("edgeauth_session={}", edge.cookie)),
        )
        .await;
    assert_error(&basic_auth, 401, "invalid_token");

    // After a TOTP step the session says so: pwd,otp,mfa.
    let mfa_email = "edge-verify-mfa@example.com";
    let (_, mut auth) = s.signed_in_with_mfa(mfa_email).await;
    let edge_mfa = browser_sign_in_mfa(&s, mfa_email, &mut auth).await;
    let r = s.verify_cookie(&edge_mfa.cookie).await;
    assert_edge_identity(&r, &edge_mfa, mfa_email, "pwd,otp,mfa");
    // And the first cookie is still its own session.
    assert_edge_identity(&s.verify_cookie(&edge.cookie).await, &edge, email, "pwd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cookie_name_is_configurable() {
    let s = TestServer::with(&[("EDGEAUTH_SESSION_COOKIE_NAME", "__Host-sso")]).await;
    let email = "edge-name@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    let named = s
        .send(
            s.http
                .get(s.url("/auth/verify"))
                .header(COOKIE, format!("a=b; __Host-sso={}; c=d", edge.cookie)),
        )
        .await;
    assert_edge_identity(&named, &edge, email, "pwd");
    // The default name is no longer read.
    assert_error(&s.verify_cookie(&edge.cookie).await, 401, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mfa_is_required_on_request() {
    let s = TestServer::start().await;
    let email = "edge-require@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    let (jwt, _) = s.login(email).await;
    let asks: [(&str, &[(&str, &str)]); 4] = [
        ("/auth/verify?mfa=1", &[]),
        ("/auth/verify?x=y&mfa=1", &[]),
        ("/auth/verify", &[("x-auth-require", "mfa")]),
        ("/auth/verify", &[("x-auth-require", "MFA")]),
    ];

    // A password-only session: 403 mfa_required, by cookie and by Bearer.
    for (path, headers) in asks {
        let r = s.get_with_cookie(path, &edge.cookie, headers).await;
        assert_error(&r, 403, "mfa_required");
        assert!(r.header("x-auth-user-id").is_none());
        let r = get_bearer(&s, path, &jwt, headers).await;
        assert_error(&r, 403, "mfa_required");
    }
    // Without the requirement the same session passes; mfa=0 asks nothing.
    assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);
    let r = s
        .get_with_cookie("/auth/verify?mfa=0", &edge.cookie, &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // No session at all is still 401, not 403.
    let r = s
        .get_with_cookie("/auth/verify?mfa=1", "garbage", &[])
        .await;
    assert_error(&r, 401, "invalid_token");

    // After an MFA sign-in: 200 both ways.
    let mfa_email = "edge-require-mfa@example.com";
    let (password_jwt, mut auth) = s.signed_in_with_mfa(mfa_email).await;
    let edge_mfa = browser_sign_in_mfa(&s, mfa_email, &mut auth).await;
    let ticket = s.mfa_login_ticket(mfa_email, PASSWORD).await;
    let code = auth.fresh().await;
    let r = s.mfa_totp(&ticket, &code).await;
    let mfa_jwt = r.jwt();
    for (path, headers) in asks {
        let r = s.get_with_cookie(path, &edge_mfa.cookie, headers).await;
        assert_edge_identity(&r, &edge_mfa, mfa_email, "pwd,otp,mfa");
        let r = get_bearer(&s, path, &mfa_jwt, headers).await;
        assert_identity(&r, &sub(&mfa_jwt), &sid(&mfa_jwt), mfa_email, "pwd,otp,mfa");
        // The same account's session from before MFA was on has no second factor.
        let r = get_bearer(&s, path, &password_jwt, headers).await;
        assert_error(&r, 403, "mfa_required");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unauthenticated_verify_carries_the_sign_in_url() {
    let s = TestServer::with(&[
        ("EDGEAUTH_PORTAL_URL", PORTAL),
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let expect_rd =
        format!("{SIGN_IN}?rd=https%3A%2F%2Fapp.example.com%2Fprivate%2Fpage%3Fx%3D1%26y%3D2");

    // nginx: X-Original-URL.
    let r = s
        .get_with_cookie(
            "/auth/verify",
            "garbage",
            &[(
                "x-original-url",
                "https://app.example.com/private/page?x=1&y=2",
            )],
        )
        .await;
    assert_error(&r, 401, "invalid_token");
    assert_eq!(
        r.header("x-auth-redirect").as_deref(),
        Some(expect_rd.as_str())
    );
    // Without any cookie the same.
    let r = s
        .send(s.http.get(s.url("/auth/verify")).header(
            "x-original-url",
            "https://app.example.com/private/page?x=1&y=2",
        ))
        .await;
    assert_eq!(
        r.header("x-auth-redirect").as_deref(),
        Some(expect_rd.as_str())
    );

    // Traefik / Caddy: X-Forwarded-Proto, -Host, -Uri.
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
        ("x-forwarded-uri", "/private/page?x=1&y=2"),
    ];
    let r = request(&s, Method::GET, "/auth/verify", &forwarded).await;
    assert_error(&r, 401, "invalid_token");
    assert_eq!(
        r.header("x-auth-redirect").as_deref(),
        Some(expect_rd.as_str())
    );
    // A navigation on /auth/verify is still a 401 (nginx redirects itself).
    let mut navigation = forwarded.to_vec();
    navigation.push(("accept", NAVIGATION));
    let r = request(&s, Method::GET, "/auth/verify", &navigation).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(
        r.header("x-auth-redirect").as_deref(),
        Some(expect_rd.as_str())
    );

    // No original URL, or an unusable one: the sign-in URL without rd.
    let r = s.get("/auth/verify").await;
    assert_eq!(r.header("x-auth-redirect").as_deref(), Some(SIGN_IN));
    let r = request(
        &s,
        Method::GET,
        "/auth/verify",
        &[("x-original-url", "javascript:alert(1)")],
    )
    .await;
    assert_eq!(r.header("x-auth-redirect").as_deref(), Some(SIGN_IN));

    // A signed-in browser is not redirected.
    let email = "edge-redirect@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    let r = s
        .get_with_cookie(
            "/auth/verify",
            &edge.cookie,
            &[("x-original-url", "https://app.example.com/")],
        )
        .await;
    assert_edge_identity(&r, &edge, email, "pwd");
    assert!(r.header("x-auth-redirect").is_none());

    // From a peer that is not a trusted proxy, the headers are not believed.
    let untrusted = TestServer::with(&[("EDGEAUTH_PORTAL_URL", PORTAL)]).await;
    let r = untrusted
        .get_with_cookie(
            "/auth/verify",
            "garbage",
            &[("x-original-url", "https://app.example.com/private")],
        )
        .await;
    assert_error(&r, 401, "invalid_token");
    assert_eq!(r.header("x-auth-redirect").as_deref(), Some(SIGN_IN));
    let r = request(&untrusted, Method::GET, "/auth/verify", &forwarded).await;
    assert_eq!(r.header("x-auth-redirect").as_deref(), Some(SIGN_IN));

    // Without a portal URL: a plain 401.
    let plain = TestServer::with(&[("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let r = plain
        .get_with_cookie(
            "/auth/verify",
            "garbage",
            &[("x-original-url", "https://app.example.com/private")],
        )
        .await;
    assert_error(&r, 401, "invalid_token");
    assert!(r.header("x-auth-redirect").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_auth_redirects_navigations_only() {
    let s = TestServer::with(&[
        ("EDGEAUTH_PORTAL_URL", PORTAL),
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let expect = format!("{SIGN_IN}?rd=https%3A%2F%2Fapp.example.com%2Fdocs%2F");
    let forwarded = [
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
        ("x-forwarded-uri", "/docs/"),
    ];
    fn with<'a>(
        base: &[(&'a str, &'a str)],
        extra: &[(&'a str, &'a str)],
    ) -> Vec<(&'a str, &'a str)> {
        let mut h = base.to_vec();
        h.extend_from_slice(extra);
        h
    }

    for path in ["/auth/forward-auth", "/auth/forward-auth/some/path"] {
        // A browser navigation: 302 to the sign-in page.
        for method in [Method::GET, Method::HEAD] {
            let r = request(
                &s,
                method.clone(),
                path,
                &with(&forwarded, &[("accept", NAVIGATION)]),
            )
            .await;
            assert_eq!(r.status, 302, "{method} {path}: {}", r.text);
            assert_eq!(r.header("location").as_deref(), Some(expect.as_str()));
        }
        // An XHR or fetch: 401 with the URL for the app to use.
        let r = request(
            &s,
            Method::GET,
            path,
            &with(&forwarded, &[("accept", "application/json")]),
        )
        .await;
        assert_error(&r, 401, "invalid_token");
        assert_eq!(
            r.header("x-auth-redirect").as_deref(),
            Some(expect.as_str())
        );
        assert!(r.headers.get(LOCATION).is_none());
        // No Accept at all: 401.
        let r = request(&s, Method::GET, path, &forwarded).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text);
        // Any other method, even accepting HTML: 401.
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let r = request(
                &s,
                method.clone(),
                path,
                &with(&forwarded, &[("accept", NAVIGATION)]),
            )
            .await;
            assert_eq!(r.status, 401, "{method} {path}: {}", r.text);
            assert_eq!(
                r.header("x-auth-redirect").as_deref(),
                Some(expect.as_str())
            );
        }
    }

    // A signed-in browser passes, with any method, with the headers.
    let email = "edge-forward@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    let cookie = format!("edgeauth_session={}", edge.cookie);
    for path in ["/auth/forward-auth", "/auth/forward-auth/some/path"] {
        for method in [Method::GET, Method::HEAD, Method::POST, Method::DELETE] {
            let r = request(
                &s,
                method.clone(),
                path,
                &with(&forwarded, &[("accept", NAVIGATION), ("cookie", &cookie)]),
            )
            .await;
            assert_edge_identity(&r, &edge, email, "pwd");
        }
    }
    // mfa=1 applies here too.
    let r = request(
        &s,
        Method::GET,
        "/auth/forward-auth?mfa=1",
        &[("cookie", &cookie), ("accept", NAVIGATION)],
    )
    .await;
    assert_error(&r, 403, "mfa_required");

    // Without a portal URL a navigation gets the plain 401: there is nowhere to send it.
    let plain = TestServer::start().await;
    let r = request(
        &plain,
        Method::GET,
        "/auth/forward-auth",
        &[("accept", NAVIGATION)],
    )
    .await;
    assert_error(&r, 401, "invalid_token");
    assert!(r.headers.get(LOCATION).is_none());
    assert!(r.header("x-auth-redirect").is_none());
}

/// Verifies `cookie` every `every` until `until` has passed; every answer must be `status`.
async fn verify_until(s: &TestServer, cookie: &str, every: Duration, until: Duration, status: u16) {
    let started = edgeauth::clock::instant();
    while started.elapsed() < until {
        let r = s.verify_cookie(cookie).await;
        assert_eq!(
            r.status,
            status,
            "after {:?}: {}",
            started.elapsed(),
            r.text
        );
        tokio::time::sleep(every).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_use_slides_past_the_idle_timeout_and_dies_left_idle() {
    let s = TestServer::with(&[
        ("EDGEAUTH_SESSION_IDLE_TIMEOUT", "2s"),
        ("EDGEAUTH_SESSION_MAX_AGE", "1h"),
        ("EDGEAUTH_VERIFY_CACHE_TTL", "0"),
    ])
    .await;
    let email = "edge-idle@example.com";
    s.create_account(email).await;
    let (jwt, _) = s.login(email).await;
    let edge = browser_sign_in(&s, email).await;
    let family = edge.family.to_string();
    assert!(session_ids(&s, &jwt).await.contains(&family));

    // Used every 300 ms for 4 s: twice the idle timeout, still alive.
    verify_until(
        &s,
        &edge.cookie,
        Duration::from_millis(300),
        Duration::from_secs(4),
        200,
    )
    .await;
    assert!(session_ids(&s, &jwt).await.contains(&family));

    // Left idle for longer than the timeout: gone, from the list first
    // (no verify has looked since), then for verify, and it stays gone.
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert!(
        !session_ids(&s, &jwt).await.contains(&family),
        "an idle session is no longer listed"
    );
    for _ in 0..3 {
        assert_error(&s.verify_cookie(&edge.cookie).await, 401, "invalid_token");
    }
    assert!(!session_ids(&s, &jwt).await.contains(&family));
    // Its refresh token died with it.
    let r = s
        .post_cookie("/auth/token/refresh", &edge.refresh_token)
        .await;
    assert_error(&r, 401, "invalid_refresh_token");
    // The JSON session of the same account is untouched.
    assert_eq!(s.verify(&jwt).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_in_use_still_dies_at_its_max_age() {
    let s = TestServer::with(&[
        ("EDGEAUTH_SESSION_IDLE_TIMEOUT", "2s"),
        ("EDGEAUTH_SESSION_MAX_AGE", "5s"),
        ("EDGEAUTH_VERIFY_CACHE_TTL", "0"),
    ])
    .await;
    let email = "edge-max-age@example.com";
    s.create_account(email).await;
    let (jwt, _) = s.login(email).await;
    let before = now_ms();
    let edge = browser_sign_in(&s, email).await;
    let after = now_ms();
    let family = edge.family.to_string();

    // Used every 250 ms: alive while certainly younger than 5 s, dead once
    // certainly older (the sign-in happened between `before` and `after`).
    let mut alive = 0;
    loop {
        let asked = now_ms();
        let r = s.verify_cookie(&edge.cookie).await;
        if asked + 100 < before + 5_000 {
            assert_eq!(
                r.status,
                200,
                "{} ms after sign-in: {}",
                asked - before,
                r.text
            );
            alive += 1;
        } else if asked >= after + 5_000 {
            assert_error(&r, 401, "invalid_token");
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(alive >= 10, "used regularly: {alive} verifies");
    // After dying it stays dead, and the family is gone from the list.
    for _ in 0..3 {
        assert_error(&s.verify_cookie(&edge.cookie).await, 401, "invalid_token");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(!session_ids(&s, &jwt).await.contains(&family));
}

/// The write commands the renewal script issues, counted since the last reset.
fn renewal_writes(conn: &mut redis::Connection) -> u64 {
    let calls = command_calls(conn);
    ["hset", "pexpire", "zadd"]
        .iter()
        .map(|c| calls.get(*c).copied().unwrap_or(0))
        .sum()
}

/// Scripts run since the last reset: a script's first use on a fresh Redis
/// is an `EVALSHA` refused with NOSCRIPT, a `SCRIPT LOAD` and the `EVALSHA`
/// again, which is one run.
fn script_calls(conn: &mut redis::Connection) -> u64 {
    let calls = command_calls(conn);
    let count = |name: &str| calls.get(name).copied().unwrap_or(0);
    (count("evalsha") + count("eval")).saturating_sub(count("script|load"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sliding_renewal_writes_at_most_once_per_interval() {
    // Command statistics are read from one node: a Redis of its own in
    // every mode. The default idle timeout (12 h): a renewal at most once a minute.
    let s = TestServer::with_redis(Redis::start(), &[("EDGEAUTH_VERIFY_CACHE_TTL", "0")]).await;
    let email = "edge-writes@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    let (account, family) = (edge.account.to_string(), edge.family.to_string());
    let edge_at = s.redis.session_field(&account, &family, "edge_at");
    let last_used = s.redis.session_field(&account, &family, "last_used_at");
    assert!(edge_at.is_some(), "a browser sign-in records edge_at");

    let mut conn = s.redis.conn();
    reset_stats(&mut conn);
    for _ in 0..200 {
        assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);
    }
    let scripts = script_calls(&mut conn);
    assert!(
        scripts >= 200,
        "the cache is off: every verify reaches Redis ({scripts})"
    );
    let writes = renewal_writes(&mut conn);
    assert!(
        writes <= 3,
        "one renewal at most (HSET, PEXPIRE, ZADD): {writes}"
    );
    assert_eq!(s.redis.session_field(&account, &family, "edge_at"), edge_at);
    assert_eq!(
        s.redis.session_field(&account, &family, "last_used_at"),
        last_used
    );

    // A short idle timeout (4 s: renewal every second): writes come back
    // after each interval, once.
    let s = TestServer::with_redis(
        Redis::start(),
        &[
            ("EDGEAUTH_VERIFY_CACHE_TTL", "0"),
            ("EDGEAUTH_SESSION_IDLE_TIMEOUT", "4s"),
        ],
    )
    .await;
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    let (account, family) = (edge.account.to_string(), edge.family.to_string());
    let mut conn = s.redis.conn();
    for round in 0..2 {
        let edge_at: u64 = s
            .redis
            .session_field(&account, &family, "edge_at")
            .unwrap()
            .parse()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        reset_stats(&mut conn);
        let started = edgeauth::clock::instant();
        for _ in 0..20 {
            assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);
        }
        let calls = command_calls(&mut conn);
        if started.elapsed() < Duration::from_millis(900) {
            assert_eq!(
                calls.get("hset").copied(),
                Some(1),
                "round {round}: {calls:?}"
            );
        }
        let renewed: u64 = s
            .redis
            .session_field(&account, &family, "edge_at")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            renewed >= edge_at + 1_000,
            "round {round}: {edge_at} → {renewed}"
        );
        assert_eq!(
            s.redis.session_field(&account, &family, "last_used_at"),
            Some(renewed.to_string())
        );
    }

    // With the default verify cache (1 s), a burst costs one script call.
    let s = TestServer::with_redis(Redis::start(), &[]).await;
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    let mut conn = s.redis.conn();
    reset_stats(&mut conn);
    let started = edgeauth::clock::instant();
    for _ in 0..200 {
        assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);
    }
    let elapsed = started.elapsed();
    let scripts = script_calls(&mut conn);
    // One per second of burst at most (one, unless the machine is very slow).
    let allowed = 1 + elapsed.as_millis() as u64 / 1_000;
    assert!(
        scripts <= allowed,
        "{scripts} script calls for 200 verifies in {elapsed:?}: {:?}",
        command_calls(&mut conn)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_revocation_kind_ends_the_edge_session() {
    // The default verify cache (1 s): these revocations go through this
    // replica, so they are seen at once.
    let s = TestServer::start().await;

    /// A fresh account signed in both ways, the cookie checked (and cached).
    async fn setup(s: &TestServer, email: &str) -> (EdgeLogin, String) {
        s.create_account(email).await;
        let edge = browser_sign_in(s, email).await;
        let (jwt, _) = s.login(email).await;
        assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);
        assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);
        (edge, jwt)
    }
    #[track_caller]
    fn dead(r: &Reply, what: &str) {
        assert_eq!(r.status, 401, "{what}: {}", r.text);
        assert_eq!(r.error(), "invalid_token", "{what}");
    }

    // Logout with the family's refresh token.
    let (edge, jwt) = setup(&s, "edge-rev-logout@example.com").await;
    assert!(
        session_ids(&s, &jwt)
            .await
            .contains(&edge.family.to_string())
    );
    let r = s
        .post(
            "/auth/logout",
            json!({ "refresh_token": edge.refresh_token }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    dead(&s.verify_cookie(&edge.cookie).await, "logout");
    assert!(
        !session_ids(&s, &jwt)
            .await
            .contains(&edge.family.to_string())
    );
    assert_eq!(s.verify(&jwt).await.status, 200, "logout ends one family");

    // Revoke everywhere from another session's Bearer.
    let (edge, jwt) = setup(&s, "edge-rev-all@example.com").await;
    let r = s.post_bearer("/auth/token/revoke", &jwt, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    dead(&s.verify_cookie(&edge.cookie).await, "revoke everywhere");

    // A password reset.
    let email = "edge-rev-reset@example.com";
    let (edge, _) = setup(&s, email).await;
    assert_eq!(s.forgot_request(email).await.status, 204);
    let ticket = s.redis.ticket("password.reset_requested", email);
    let r = s.reset_password(&ticket, "a brand new password").await;
    assert_eq!(r.status, 204, "{}", r.text);
    dead(&s.verify_cookie(&edge.cookie).await, "password reset");

    // A password change from another session (which survives).
    let (edge, jwt) = setup(&s, "edge-rev-change@example.com").await;
    let r = s
        .post_bearer(
            "/auth/account/password",
            &jwt,
            json!({"old_password": PASSWORD, "new_password": "another good password"}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    dead(&s.verify_cookie(&edge.cookie).await, "password change");
    assert_eq!(
        s.verify(&jwt).await.status,
        200,
        "the changing session survives"
    );

    // A session revoke of the edge family from a JSON session, which lists it.
    let (edge, jwt) = setup(&s, "edge-rev-one@example.com").await;
    let r = s
        .send(s.http.get(s.url("/auth/sessions")).bearer_auth(&jwt))
        .await;
    let listed: Vec<Value> = r.json()["sessions"].as_array().unwrap().clone();
    let entry = listed
        .iter()
        .find(|e| e["id"] == json!(edge.family.to_string()))
        .unwrap_or_else(|| panic!("the edge family is listed: {listed:?}"));
    assert_eq!(entry["current"], json!(false));
    assert_eq!(entry["user_agent"], json!("edge-test-browser"));
    let r = s
        .post_bearer(
            "/auth/sessions/revoke",
            &jwt,
            json!({ "id": edge.family.to_string() }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    dead(&s.verify_cookie(&edge.cookie).await, "session revoke");
    assert_eq!(s.verify(&jwt).await.status, 200);

    // Reuse of the edge family's refresh token: generation 0 after the family
    // moved to 2 (outside any grace).
    let (edge, _) = setup(&s, "edge-rev-reuse@example.com").await;
    let next = s
        .post_cookie("/auth/token/refresh", &edge.refresh_token)
        .await
        .refresh_cookie()
        .expect("rotated once");
    let r = s.post_cookie("/auth/token/refresh", &next).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        s.verify_cookie(&edge.cookie).await.status,
        200,
        "rotation alone keeps the edge session"
    );
    let r = s
        .post_cookie("/auth/token/refresh", &edge.refresh_token)
        .await;
    assert_error(&r, 401, "invalid_refresh_token");
    dead(&s.verify_cookie(&edge.cookie).await, "refresh-token reuse");

    // Account removal.
    let (edge, jwt) = setup(&s, "edge-rev-remove@example.com").await;
    let r = s.post_bearer("/auth/account/remove", &jwt, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.text);
    dead(&s.verify_cookie(&edge.cookie).await, "account removal");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strict_rotation_reuse_ends_the_edge_session() {
    let s = TestServer::with(&[("EDGEAUTH_REFRESH_REUSE_GRACE", "0")]).await;
    let email = "edge-strict@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);
    let r = s
        .post_cookie("/auth/token/refresh", &edge.refresh_token)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The old generation again, at once: reuse with grace 0.
    let r = s
        .post_cookie("/auth/token/refresh", &edge.refresh_token)
        .await;
    assert_error(&r, 401, "invalid_refresh_token");
    assert_error(&s.verify_cookie(&edge.cookie).await, 401, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_carry_amr() {
    let s = TestServer::start().await;
    let email = "edge-amr@example.com";
    s.create_account(email).await;
    let (jwt, refresh) = s.login(email).await;
    assert_eq!(claims(&jwt)["amr"], json!(["pwd"]));
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(claims(&r.jwt())["amr"], json!(["pwd"]), "kept by a refresh");

    let auth = &mut s.enable_mfa(&jwt).await;
    let mfa = json!(["pwd", "otp", "mfa"]);
    // The TOTP step.
    let ticket = s.mfa_login_ticket(email, PASSWORD).await;
    let r = s.mfa_totp(&ticket, &auth.fresh().await).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let totp_jwt = r.jwt();
    assert_eq!(claims(&totp_jwt)["amr"], mfa);
    let r = s
        .post_cookie("/auth/token/refresh", &r.refresh_cookie().unwrap())
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims(&r.jwt())["amr"], mfa, "kept by a refresh");
    // The refreshed token's session still passes mfa=1.
    let r = get_bearer(&s, "/auth/verify?mfa=1", &r.jwt(), &[]).await;
    assert_eq!(r.header("x-auth-amr").as_deref(), Some("pwd,otp,mfa"));

    // The recovery-code step.
    let codes = s.recovery_codes(&totp_jwt, &auth.fresh().await).await;
    let ticket = s.mfa_login_ticket(email, PASSWORD).await;
    let r = s.mfa_recover(&ticket, &codes[0]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims(&r.jwt())["amr"], mfa);

    // A browser sign-in with a recovery code is multi-factor too, and its
    // family's access tokens (through its refresh token) carry its amr.
    let edge = browser_sign_in_recovery(&s, email, &codes[1]).await;
    assert_eq!(
        s.verify_cookie(&edge.cookie)
            .await
            .header("x-auth-amr")
            .as_deref(),
        Some("pwd,otp,mfa")
    );
    let r = s
        .post_cookie("/auth/token/refresh", &edge.refresh_token)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(claims(&r.jwt())["amr"], mfa);
    assert_eq!(sid(&r.jwt()), edge.family.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_is_bound_to_the_data_key() {
    let dir = TempDir::new();
    let key_a = dir.write(
        "a.key",
        &edgeauth::auth::data_keys::generate_data_key_base64().unwrap(),
    );
    let key_b = dir.write(
        "b.key",
        &edgeauth::auth::data_keys::generate_data_key_base64().unwrap(),
    );
    let key_a = key_a.display().to_string();
    let key_b = key_b.display().to_string();
    let a = TestServer::with(&[("EDGEAUTH_DATA_KEY_FILE", &key_a)]).await;
    let email = "edge-keys@example.com";
    a.create_account(email).await;
    let edge = browser_sign_in(&a, email).await;
    assert_eq!(a.verify_cookie(&edge.cookie).await.status, 200);

    // Another server on the same Redis (the session is there) with another
    // data key refuses the cookie; one with the same key accepts it.
    let b = TestServer::with_redis(a.redis.shared(), &[("EDGEAUTH_DATA_KEY_FILE", &key_b)]).await;
    assert_error(&b.verify_cookie(&edge.cookie).await, 401, "invalid_token");
    let same =
        TestServer::with_redis(a.redis.shared(), &[("EDGEAUTH_DATA_KEY_FILE", &key_a)]).await;
    assert_edge_identity(&same.verify_cookie(&edge.cookie).await, &edge, email, "pwd");

    // And a cookie made by b for the same session is refused by a.
    let forged = edgeauth::ops::edge::cookie_value(
        &b.app,
        &Tokens {
            account: edge.account,
            family: edge.family,
            generation: 0,
            auth_time: None,
            amr: Amr::password(),
        },
    );
    assert_ne!(forged, edge.cookie);
    assert_error(&a.verify_cookie(&forged).await, 401, "invalid_token");
    assert_eq!(b.verify_cookie(&forged).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sign_in_keeps_the_live_sessions_of_the_other_kind() {
    // A browser sign-in (idle timeout 2 s) must not take a JSON session
    // unused for longer than that (its refresh TTL is 30 days) for expired.
    let s = TestServer::with(&[("EDGEAUTH_SESSION_IDLE_TIMEOUT", "2s")]).await;
    let email = "edge-prune-api@example.com";
    s.create_account(email).await;
    let (jwt, refresh) = s.login(email).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let edge = browser_sign_in(&s, email).await;
    assert_eq!(s.verify(&jwt).await.status, 200, "the JSON session lives");
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "its refresh token too: {}", r.text);
    let listed = session_ids(&s, &r.jwt()).await;
    assert!(listed.contains(&sid(&jwt)) && listed.contains(&edge.family.to_string()));

    // The other way round: a JSON sign-in (refresh TTL 2 s) must not take an
    // edge session (idle timeout 12 h, renewed at most once a minute) for expired.
    let s = TestServer::with(&[
        ("EDGEAUTH_REFRESH_TTL", "2s"),
        ("EDGEAUTH_REFRESH_REUSE_GRACE", "0"),
        ("EDGEAUTH_VERIFY_CACHE_TTL", "0"),
    ])
    .await;
    let email = "edge-prune-browser@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);
    let (jwt, _) = s.login(email).await;
    let r = s.verify_cookie(&edge.cookie).await;
    assert_edge_identity(&r, &edge, email, "pwd");
    assert!(
        session_ids(&s, &jwt)
            .await
            .contains(&edge.family.to_string())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn x_auth_email_follows_an_email_change() {
    let s = TestServer::with(&[("EDGEAUTH_VERIFY_CACHE_TTL", "0")]).await;
    let (old, new) = ("edge-old@example.com", "edge-new@example.com");
    s.create_account(old).await;
    let edge = browser_sign_in(&s, old).await;
    let (jwt, _) = s.login(old).await;
    assert_edge_identity(&s.verify_cookie(&edge.cookie).await, &edge, old, "pwd");
    let r = s
        .post_bearer(
            "/auth/account/email/request",
            &jwt,
            json!({ "new_email": new }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let ticket = s.redis.ticket("email.change_requested", new);
    let r = s
        .post("/auth/account/email", json!({ "ticket": ticket }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_edge_identity(&s.verify_cookie(&edge.cookie).await, &edge, new, "pwd");
    let r = s.verify(&jwt).await;
    assert_identity(&r, &sub(&jwt), &sid(&jwt), new, "pwd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_sessions_refresh_token_keeps_its_lifetimes() {
    let s = TestServer::with(&[
        ("EDGEAUTH_SESSION_IDLE_TIMEOUT", "2s"),
        ("EDGEAUTH_SESSION_MAX_AGE", "1h"),
        ("EDGEAUTH_VERIFY_CACHE_TTL", "0"),
        ("EDGEAUTH_REFRESH_REUSE_GRACE", "0"),
    ])
    .await;
    let email = "edge-refresh-idle@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;

    // Refreshing is a use of the browser session: refreshed every 500 ms for
    // 3 s (past the idle timeout), the cookie still works.
    let mut token = edge.refresh_token.clone();
    for _ in 0..6 {
        let r = s.post_cookie("/auth/token/refresh", &token).await;
        assert_eq!(r.status, 200, "refresh of a browser session in use");
        token = r.refresh_cookie().expect("a new refresh cookie");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(s.verify_cookie(&edge.cookie).await.status, 200);

    // A refresh never renews it past the idle timeout (not the refresh
    // lifetime of 30 days): left idle, both the refresh token and the
    // cookie are dead.
    let r = s.post_cookie("/auth/token/refresh", &token).await;
    assert_eq!(r.status, 200);
    let token = r.refresh_cookie().expect("a new refresh cookie");
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    let r = s.post_cookie("/auth/token/refresh", &token).await;
    assert_error(&r, 401, "invalid_refresh_token");
    assert_error(&s.verify_cookie(&edge.cookie).await, 401, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_cookie_of_the_same_name_does_not_hide_the_live_one() {
    let s = TestServer::start().await;
    let email = "edge-stale@example.com";
    s.create_account(email).await;
    let old = browser_sign_in(&s, email).await;
    let live = browser_sign_in(&s, email).await;
    let r = s.post_cookie("/auth/logout", &old.refresh_token).await;
    assert_eq!(r.status, 204);
    // A browser sends every cookie of the name it holds (one left behind for
    // another domain or path, say), most specific first.
    for pair in [
        format!(
            "edgeauth_session={}; edgeauth_session={}",
            old.cookie, live.cookie
        ),
        format!("edgeauth_session=garbage; edgeauth_session={}", live.cookie),
    ] {
        let r = s
            .send(s.http.get(s.url("/auth/verify")).header(COOKIE, pair))
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-auth-session-id"), Some(live.family.to_string()));
    }
    let r = s
        .send(
            s.http
                .get(s.url("/auth/verify"))
                .header(COOKIE, format!("edgeauth_session={}", old.cookie)),
        )
        .await;
    assert_error(&r, 401, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_mfa_value_is_400_and_the_original_query_is_not_ours() {
    let s = TestServer::start().await;
    let email = "edge-mfa-query@example.com";
    s.create_account(email).await;
    let edge = browser_sign_in(&s, email).await;
    for path in ["/auth/verify?mfa=yes", "/auth/forward-auth?mfa=2"] {
        let r = s.get_with_cookie(path, &edge.cookie, &[]).await;
        assert_error(&r, 400, "invalid_request");
    }
    for path in ["/auth/verify?mfa=0", "/auth/forward-auth?mfa=false"] {
        assert_eq!(s.get_with_cookie(path, &edge.cookie, &[]).await.status, 200);
    }
    // Envoy's shape carries the original request's path and query: an app's
    // own `mfa` parameter neither fails nor tightens the check.
    for path in [
        "/auth/verify/app/page?mfa=yes",
        "/auth/verify/app/page?mfa=1",
        "/auth/forward-auth/app?mfa=1",
    ] {
        assert_eq!(
            s.get_with_cookie(path, &edge.cookie, &[]).await.status,
            200,
            "{path}"
        );
    }
    let r = s
        .get_with_cookie(
            "/auth/verify/app/page",
            &edge.cookie,
            &[("x-auth-require", "mfa")],
        )
        .await;
    assert_error(&r, 403, "mfa_required");
}
