//! Hardening at the edges: `X-Forwarded-For` hops with ports or that do not
//! parse, IPv6 clients counted per network prefix, device cookies against
//! the per-email lockout, `nosniff` / `no-store` headers, the `at+jwt` type
//! of access tokens, cross-site requests with the refresh cookie, keys that
//! OpenSSL reads, and unknown `EDGEAUTH_*` variables.

use std::process::Command;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::support::{PASSWORD, Reply, TempDir, TestServer};

const WRONG: &str = "not the password";

async fn login_from(s: &TestServer, email: &str, password: &str, xff: &str) -> Reply {
    s.send(
        s.http
            .post(s.url("/auth/login"))
            .header("x-forwarded-for", xff)
            .json(&json!({"email": email, "password": password})),
    )
    .await
}

/// The `ip` the server recorded for the session of `jwt`.
async fn session_ip(s: &TestServer, jwt: &str) -> String {
    let r = s
        .send(s.http.get(s.url("/auth/sessions")).bearer_auth(jwt))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let sessions = r.json()["sessions"].as_array().unwrap().clone();
    let current = sessions
        .iter()
        .find(|s| s["current"] == json!(true))
        .unwrap_or_else(|| panic!("no current session in {sessions:?}"));
    current["ip"].as_str().unwrap().to_owned()
}

fn assert_limited(r: &Reply, what: &str) {
    assert_eq!(r.status, 429, "{what}: {}", r.text);
    assert_eq!(r.error(), "rate_limited", "{what}");
}

// -------------------------------------------------------------- X-Forwarded-For

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_hops_with_ports_or_unparsable_never_pick_the_spoofed_hop() {
    let s = TestServer::with(&[
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("EDGEAUTH_RATE_LOGIN_PER_IP", "3/1m"),
    ])
    .await;
    let email = "hops@example.com";
    s.create_account(email).await;
    // The proxy wrote the client with a port: that hop is the client, not
    // the one the client wrote before it.
    for (xff, client) in [
        ("6.6.6.6, 203.0.113.5:41234", "203.0.113.5"),
        ("6.6.6.6, [2001:db8::1]:443", "2001:db8::1"),
        ("6.6.6.6, 2001:db8::2", "2001:db8::2"),
        ("6.6.6.6, 198.51.100.9, 127.0.0.1:8080", "198.51.100.9"),
        // A hop that does not parse: the nearest trusted proxy is the client.
        ("6.6.6.6, unknown", "127.0.0.1"),
        ("6.6.6.6, _obfuscated, 127.0.0.1", "127.0.0.1"),
    ] {
        let r = login_from(&s, email, PASSWORD, xff).await;
        assert_eq!(r.status, 200, "{xff}: {}", r.text);
        assert_eq!(session_ip(&s, &r.jwt()).await, client, "XFF {xff:?}");
    }

    // The attack: a fresh left-most hop per request used to be a fresh
    // per-IP budget whenever the proxy's own hop had a port or was
    // `unknown`. Now every such request counts against the real client.
    let s = TestServer::with(&[
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("EDGEAUTH_RATE_LOGIN_PER_IP", "3/1m"),
    ])
    .await;
    for (i, proxy_hop) in ["203.0.113.77:1000", "unknown", "[2001:db8:9::1]:443"]
        .iter()
        .enumerate()
    {
        for n in 1..=4 {
            let xff = format!("10.{i}.0.{n}, {proxy_hop}");
            let r = login_from(&s, "victim@example.com", WRONG, &xff).await;
            if n <= 3 {
                assert_eq!(r.status, 401, "{xff}: {}", r.text);
            } else {
                assert_limited(&r, &format!("XFF {xff:?}"));
            }
        }
    }
}

// ------------------------------------------------------------- IPv6 prefixes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_clients_of_one_prefix_share_one_budget() {
    let s = TestServer::with(&[
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("EDGEAUTH_RATE_LOGIN_PER_IP", "5/1m"),
        ("EDGEAUTH_RATE_REGISTER_PER_IP", "2/1m"),
    ])
    .await;
    // Ten addresses of one /64, each a "new" client before: the sixth on is refused.
    for n in 1..=10 {
        let xff = format!("2001:db8:1:2:{n:x}::{n:x}");
        let r = login_from(&s, "nobody@example.com", WRONG, &xff).await;
        if n <= 5 {
            assert_eq!(r.status, 401, "{xff}: {}", r.text);
        } else {
            assert_limited(&r, &format!("{xff} is in the same /64"));
        }
    }
    // Another /64 has its own budget; IPv4 clients are unaffected.
    for xff in ["2001:db8:1:3::1", "203.0.113.8", "::ffff:203.0.113.9"] {
        let r = login_from(&s, "nobody@example.com", WRONG, xff).await;
        assert_eq!(r.status, 401, "{xff}: {}", r.text);
    }
    // Every per-IP limit counts by prefix (registration here).
    for n in 1..=3 {
        let r = s
            .send(
                s.http
                    .post(s.url("/auth/register"))
                    .header("x-forwarded-for", format!("2001:db8:7:7::{n}"))
                    .json(&json!({"email": format!("r{n}@example.com"), "password": PASSWORD})),
            )
            .await;
        if n <= 2 {
            assert_eq!(r.status, 204, "{}", r.text);
        } else {
            assert_limited(&r, "third registration from one /64");
        }
    }
    // The session still records the client's own address.
    let email = "v6@example.com";
    s.create_account(email).await;
    let r = login_from(&s, email, PASSWORD, "2001:db8:1:4::abcd").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(session_ip(&s, &r.jwt()).await, "2001:db8:1:4::abcd");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ipv6_prefix_is_configurable() {
    let s = TestServer::with(&[
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("EDGEAUTH_RATE_LOGIN_PER_IP", "2/1m"),
        ("EDGEAUTH_RATE_IPV6_PREFIX", "48"),
    ])
    .await;
    for (xff, limited) in [
        ("2001:db8:5:1::1", false),
        ("2001:db8:5:2::1", false),
        ("2001:db8:5:3::1", true),
        ("2001:db8:6::1", false),
    ] {
        let r = login_from(&s, "nobody@example.com", WRONG, xff).await;
        if limited {
            assert_limited(&r, &format!("{xff} in the same /48"));
        } else {
            assert_eq!(r.status, 401, "{xff}: {}", r.text);
        }
    }
}

// -------------------------------------------------------------- device cookies

/// The device cookie a response sets, if any.
fn device_cookie(r: &Reply) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| v.strip_prefix("edgeauth_device="))
        .map(|v| v.split(';').next().unwrap_or("").to_owned())
        .filter(|v| !v.is_empty())
}

async fn login_with_device(s: &TestServer, email: &str, password: &str, device: &str) -> Reply {
    s.send(
        s.http
            .post(s.url("/auth/login"))
            .header("cookie", format!("edgeauth_device={device}"))
            .json(&json!({"email": email, "password": password})),
    )
    .await
}

async fn lock_out(s: &TestServer, email: &str) {
    for n in 1..=10 {
        let r = s
            .post("/auth/login", json!({"email": email, "password": WRONG}))
            .await;
        assert_eq!(r.status, 401, "guess {n}: {}", r.text);
    }
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_limited(&r, "the owner without a device cookie is locked out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cookie_lets_the_owner_in_through_an_email_lockout() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "10/15m")]).await;
    let email = "owner@example.com";
    s.create_account(email).await;
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let raw = r
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("edgeauth_device="))
        .expect("a device cookie")
        .to_owned();
    for attribute in [
        "; HttpOnly",
        "; SameSite=Strict",
        "; Path=/auth",
        "; Max-Age=31536000",
    ] {
        assert!(raw.contains(attribute), "{attribute} in {raw}");
    }
    assert!(
        !raw.contains("Secure"),
        "test servers set COOKIE_SECURE=false: {raw}"
    );
    let device = device_cookie(&r).unwrap();

    // The attack: ten wrong passwords from anywhere lock the email.
    lock_out(&s, email).await;

    // The owner's known browser still gets in, and its cookie is renewed
    // for the same device.
    let r = login_with_device(&s, email, PASSWORD, &device).await;
    assert_eq!(r.status, 200, "owner with the device cookie: {}", r.text);
    let renewed = device_cookie(&r).expect("renewed device cookie");
    let r = login_with_device(&s, email, PASSWORD, &renewed).await;
    assert_eq!(r.status, 200, "renewed cookie: {}", r.text);
    // Other clients stay locked out.
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_limited(&r, "a cookie-less client after the owner signed in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_or_foreign_device_cookies_give_no_exemption() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "10/15m")]).await;
    let (email, other) = ("target@example.com", "attacker@example.com");
    s.create_account(email).await;
    s.create_account(other).await;
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    let owners = device_cookie(&r).unwrap();
    // The attacker's own account gives them a genuine cookie for *their* email.
    let r = s
        .post("/auth/login", json!({"email": other, "password": PASSWORD}))
        .await;
    let attackers = device_cookie(&r).unwrap();
    lock_out(&s, email).await;

    let mut forged = URL_SAFE_NO_PAD.decode(&owners).unwrap();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    let mut other_nonce = URL_SAFE_NO_PAD.decode(&owners).unwrap();
    other_nonce[6] ^= 1;
    for (what, cookie) in [
        ("another email's cookie", attackers.clone()),
        ("a modified MAC", URL_SAFE_NO_PAD.encode(&forged)),
        ("a modified nonce", URL_SAFE_NO_PAD.encode(&other_nonce)),
        ("garbage", "x".repeat(71)),
    ] {
        let r = login_with_device(&s, email, PASSWORD, &cookie).await;
        assert_limited(&r, what);
        let r = login_with_device(&s, email, WRONG, &cookie).await;
        assert_limited(&r, what);
    }
    // Case and spaces in the email do not matter: the cookie binds the
    // normalized address.
    let r = login_with_device(&s, " Target@Example.com ", PASSWORD, &owners).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_has_its_own_small_failure_budget() {
    let s = TestServer::with(&[
        ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "10/15m"),
        ("EDGEAUTH_RATE_LOGIN_PER_DEVICE", "5/15m"),
    ])
    .await;
    let email = "budget@example.com";
    s.create_account(email).await;
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    let device = device_cookie(&r).unwrap();
    // Successful logins through the device cost nothing.
    for _ in 0..6 {
        let r = login_with_device(&s, email, PASSWORD, &device).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    for n in 1..=5 {
        let r = login_with_device(&s, email, WRONG, &device).await;
        assert_eq!(r.status, 401, "device guess {n}: {}", r.text);
    }
    let r = login_with_device(&s, email, PASSWORD, &device).await;
    assert_limited(&r, "the device's sixth attempt");
    // Those failures did not touch the email's budget: a cookie-less client
    // still has all ten.
    for n in 1..=9 {
        let r = s
            .post("/auth/login", json!({"email": email, "password": WRONG}))
            .await;
        assert_eq!(r.status, 401, "email guess {n}: {}", r.text);
    }
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

// ------------------------------------------------------------ hygiene headers

fn assert_no_store(r: &Reply, what: &str) {
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("no-store"),
        "{what}"
    );
    assert_eq!(r.header("pragma").as_deref(), Some("no-cache"), "{what}");
    assert_nosniff(r, what);
}

fn assert_nosniff(r: &Reply, what: &str) {
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff"),
        "{what}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_and_secret_answers_are_no_store_and_all_are_nosniff() {
    let s = TestServer::start().await;
    let email = "headers@example.com";
    s.create_account(email).await;
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_store(&r, "login");
    let jwt = r.jwt();
    let refresh = r.refresh_cookie().unwrap();
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_store(&r, "refresh");
    let r = s.post_bearer("/auth/mfa/generate", &jwt, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_no_store(&r, "mfa generate");
    // Every answer of these routes, errors too.
    let ticket = "6f1c8a3e-1d2b-4c5d-8e9f-0a1b2c3d4e5f";
    for (path, body) in [
        (
            "/auth/mfa/totp",
            json!({"ticket": ticket, "code": "123456"}),
        ),
        (
            "/auth/mfa/recover",
            json!({"ticket": ticket, "code": "abcd-efgh"}),
        ),
        ("/auth/mfa/recovery-codes", json!({"code": "123456"})),
        ("/auth/login", json!({"email": email, "password": WRONG})),
    ] {
        let r = s.post_bearer(path, &jwt, body).await;
        assert!(r.status >= 400, "{path}: {}", r.text);
        assert_no_store(&r, path);
    }
    // Other answers: nosniff only.
    let r = s.get("/nowhere").await;
    assert_eq!(r.status, 404);
    assert_nosniff(&r, "404");
    assert!(r.header("cache-control").is_none());
    let r = s
        .send(
            s.http
                .post(s.url("/auth/register"))
                .header("content-type", "text/plain")
                .body("x"),
        )
        .await;
    assert_eq!(r.status, 415);
    assert_nosniff(&r, "415");
    let r = s.get("/auth/login").await;
    assert_eq!(r.status, 405);
    assert_nosniff(&r, "405");
    let r = s.verify(&jwt).await;
    assert_eq!(r.status, 200);
    assert_nosniff(&r, "verify");
    for path in ["/healthz", "/readyz", "/metrics", "/nowhere"] {
        let r = s.send(s.http.get(s.admin_url(path))).await;
        assert_nosniff(&r, &format!("admin {path}"));
    }
}

// ------------------------------------------------------------ access token typ

fn signing_pair(pem: &str) -> Ed25519KeyPair {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&STANDARD.decode(body).unwrap()).unwrap()
}

fn sign(pair: &Ed25519KeyPair, header: &Value, claims: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = pair.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_at_jwt_typed_tokens_are_access_tokens() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("typ@example.com").await;
    let part = |i: usize| -> Value {
        let raw = jwt.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).unwrap()).unwrap()
    };
    let (header, claims) = (part(0), part(1));
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(s.verify(&jwt).await.status, 200);
    // The same claims, signed by the same key, under another type (an ID
    // token, a plain JWT) or none, are not access tokens.
    let pair = signing_pair(&s.signing_pem);
    for typ in [json!("JWT"), json!("id_token+jwt"), Value::Null] {
        let mut h = header.clone();
        if typ.is_null() {
            h.as_object_mut().unwrap().remove("typ");
        } else {
            h["typ"] = typ.clone();
        }
        let token = sign(&pair, &h, &claims);
        let r = s.verify(&token).await;
        assert_eq!(r.status, 401, "typ {typ}: {}", r.text);
        assert_eq!(r.error(), "invalid_token");
        let r = s
            .send(s.http.get(s.url("/auth/sessions")).bearer_auth(&token))
            .await;
        assert_eq!(r.status, 401, "typ {typ} on a Bearer endpoint");
    }
    let mut h = header.clone();
    h["typ"] = json!("at+jwt");
    assert_eq!(s.verify(&sign(&pair, &h, &claims)).await.status, 200);
}

// ----------------------------------------------------- cross-site cookie POSTs

async fn cookie_post(s: &TestServer, path: &str, refresh: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = s
        .http
        .post(s.url(path))
        .header("cookie", format!("refresh_token={refresh}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    s.send(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_refresh_and_logout_refuse_cross_site_requests() {
    let s = TestServer::with(&[
        ("EDGEAUTH_COOKIE_SAMESITE", "none"),
        ("EDGEAUTH_CORS_ORIGINS", "https://app.example"),
    ])
    .await;
    let (_, mut refresh) = s.signed_in("csrf@example.com").await;
    let own_origin = format!("http://{}", s.addr);
    let refused: Vec<Vec<(&str, &str)>> = vec![
        vec![("content-type", "application/x-www-form-urlencoded")],
        vec![("content-type", "multipart/form-data; boundary=x")],
        vec![("content-type", "text/plain")],
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![
            ("origin", "https://evil.example"),
            ("content-type", "application/json"),
        ],
        vec![
            ("origin", "https://app.example"),
            ("content-type", "text/plain"),
        ],
        // Fetch metadata: a browser saying another site (or a sibling
        // subdomain) sent it, whatever Host says.
        vec![
            ("sec-fetch-site", "cross-site"),
            ("content-type", "application/json"),
        ],
        vec![("sec-fetch-site", "same-site")],
    ];
    for path in ["/auth/token/refresh", "/auth/logout"] {
        for headers in &refused {
            let r = cookie_post(&s, path, &refresh, headers).await;
            assert_eq!(r.status, 403, "{path} {headers:?}: {}", r.text);
            assert_eq!(r.error(), "invalid_origin");
            assert!(!r.clears_cookie(), "a refused request must not sign out");
        }
    }
    // The family survived every refused attempt: the token still works,
    // through each accepted shape.
    for headers in [
        vec![],
        vec![("content-type", "application/json")],
        vec![("content-type", "application/json; charset=utf-8")],
        vec![("origin", "https://app.example")],
        vec![
            ("origin", own_origin.as_str()),
            ("content-type", "application/json"),
        ],
        // Same origin by the browser's word, though a gateway rewrote Host.
        vec![
            ("origin", "https://www.example"),
            ("sec-fetch-site", "same-origin"),
        ],
    ] {
        let r = cookie_post(&s, "/auth/token/refresh", &refresh, &headers).await;
        assert_eq!(r.status, 200, "{headers:?}: {}", r.text);
        refresh = r.refresh_cookie().unwrap();
    }
    // A token in the body is not a cookie: no origin rule applies.
    let r = s
        .send(
            s.http
                .post(s.url("/auth/token/refresh"))
                .header("origin", "https://evil.example")
                .json(&json!({ "refresh_token": refresh })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let refresh = r.refresh_cookie().unwrap();
    let r = cookie_post(
        &s,
        "/auth/logout",
        &refresh,
        &[
            ("origin", &own_origin),
            ("content-type", "application/json"),
        ],
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 401, "logged out: {}", r.text);
}

// ------------------------------------------------------------------- keygen

#[test]
fn keygen_writes_a_key_openssl_reads() {
    let dir = TempDir::new();
    let path = dir.write("placeholder", "").with_file_name("signing.pem");
    let out = Command::new(env!("CARGO_BIN_EXE_edgeauth"))
        .args(["keygen", "--out"])
        .arg(&path)
        .output()
        .expect("run keygen");
    assert!(out.status.success(), "{out:?}");
    let pem = std::fs::read_to_string(&path).unwrap();
    let openssl = Command::new("openssl")
        .args(["pkey", "-pubout", "-outform", "DER", "-in"])
        .arg(&path)
        .output()
        .expect("openssl (scripts/ensure-deps --test installs it)");
    assert!(
        openssl.status.success(),
        "openssl refused the key: {}",
        String::from_utf8_lossy(&openssl.stderr)
    );
    // SubjectPublicKeyInfo of Ed25519: a 12-byte header, then the key.
    let spki = openssl.stdout;
    assert_eq!(spki.len(), 44, "{spki:?}");
    let jwks: Value = serde_json::from_str(
        &edgeauth::auth::jwt::JwtKeys::from_pems(&[pem])
            .unwrap()
            .jwks_json(),
    )
    .unwrap();
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        &spki[12..],
        &x[..],
        "OpenSSL and edgeauth derive the same public key"
    );
    let pair = signing_pair(&std::fs::read_to_string(&path).unwrap());
    assert_eq!(pair.public_key().as_ref(), &x[..]);
}

// ------------------------------------------------------- unknown variables

#[test]
fn an_unknown_edgeauth_variable_exits_2_naming_the_closest_setting() {
    let run = |vars: &[(&str, &str)]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_edgeauth"));
        command.args(["serve"]);
        for (k, v) in vars {
            command.env(k, v);
        }
        command.output().expect("run edgeauth")
    };
    let out = run(&[("EDGEAUTH_COOKIE_SECUR", "false")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("EDGEAUTH_COOKIE_SECUR:") && stderr.contains("EDGEAUTH_COOKIE_SECURE?"),
        "{stderr}"
    );
    // What Kubernetes and the test suite set is not a setting and is
    // ignored: startup goes on to the real settings (here a bad one, so it
    // stops before serving).
    let out = run(&[
        ("EDGEAUTH_SERVICE_HOST", "10.0.0.1"),
        ("EDGEAUTH_SERVICE_PORT_HTTP", "8080"),
        ("EDGEAUTH_PORT", "tcp://10.0.0.1:8080"),
        ("EDGEAUTH_PORT_8080_TCP_ADDR", "10.0.0.1"),
        ("EDGEAUTH_TEST_REDIS", "cluster"),
        ("EDGEAUTH_REDIS_URL", "http://not-redis"),
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("edgeauth: EDGEAUTH_REDIS_URL:"),
        "{stderr}"
    );
}
