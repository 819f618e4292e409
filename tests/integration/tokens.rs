//! Token checks: `/auth/verify` against forged, tampered, expired
//! and misaddressed JWTs (crafted here with ring), the ids it returns,
//! refresh tokens with flipped bits, and signing-key rotation.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use edgeauth::auth::jwt::{Claims, JwtKeys, generate_pkcs8_pem};
use ring::hmac;
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde_json::{Value, json};

use crate::support::{Reply, TempDir, TestServer};

const BEARER_ERROR: &str = r#"Bearer error="invalid_token""#;

fn now_secs() -> u64 {
    edgeauth::clock::now_ms() / 1000
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Part `i` (0 header, 1 claims) of a compact JWS, as JSON.
fn part(token: &str, i: usize) -> Value {
    let raw = token.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(raw).unwrap()).unwrap()
}

fn key_pair(pem: &str) -> Ed25519KeyPair {
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&STANDARD.decode(body).unwrap()).unwrap()
}

/// `header.payload.signature` with `sign` computing the signature bytes over
/// the first two parts.
fn forge(header: &Value, payload: &Value, sign: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(payload.to_string()));
    let signature = sign(input.as_bytes());
    format!("{input}.{}", b64(signature))
}

fn ed25519(pem: &str) -> impl Fn(&[u8]) -> Vec<u8> {
    let pair = key_pair(pem);
    move |input| pair.sign(input).as_ref().to_vec()
}

fn hs256(key: &[u8]) -> impl Fn(&[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    move |input| hmac::sign(&key, input).as_ref().to_vec()
}

/// The claims of an issued token as the library's struct.
fn claims_of(token: &str) -> Claims {
    serde_json::from_value(part(token, 1)).unwrap()
}

/// Signs `claims` with the key in `pem`, exactly as the server would.
fn sign_with(pem: &str, claims: &Claims) -> String {
    JwtKeys::from_pems(&[pem.to_owned()])
        .unwrap()
        .sign(claims)
        .unwrap()
}

async fn verify_head(s: &TestServer, token: &str) -> Reply {
    s.send(s.http.head(s.url("/auth/verify")).bearer_auth(token))
        .await
}

/// GET and HEAD /auth/verify both answer 401 invalid_token with the
/// `WWW-Authenticate` challenge.
async fn assert_rejected(s: &TestServer, name: &str, token: &str) {
    let r = s.verify(token).await;
    assert_eq!(r.status, 401, "GET {name}: {}", r.text);
    assert_eq!(r.error(), "invalid_token", "GET {name}");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some(BEARER_ERROR),
        "GET {name}"
    );
    assert!(r.header("x-auth-user-id").is_none(), "GET {name}");
    let r = verify_head(s, token).await;
    assert_eq!(r.status, 401, "HEAD {name}");
    assert_eq!(
        r.header("www-authenticate").as_deref(),
        Some(BEARER_ERROR),
        "HEAD {name}"
    );
    assert!(r.header("x-auth-user-id").is_none(), "HEAD {name}");
    assert!(r.text.is_empty(), "HEAD {name}");
}

async fn assert_accepted(s: &TestServer, name: &str, token: &str, claims: &Claims) {
    for r in [s.verify(token).await, verify_head(s, token).await] {
        assert_eq!(r.status, 200, "{name}: {}", r.text);
        assert_eq!(
            r.header("x-auth-user-id").as_deref(),
            Some(claims.sub.as_str()),
            "{name}"
        );
        assert_eq!(
            r.header("x-auth-session-id").as_deref(),
            Some(claims.sid.as_str()),
            "{name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issued_tokens_have_the_specified_shape() {
    let s = TestServer::start().await;
    s.create_account("shape@example.com").await;
    let r = s
        .post(
            "/auth/login",
            json!({"email": "shape@example.com", "password": crate::support::PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["jwt_expires_in"], 900_000);
    let jwt = r.jwt();
    let header = part(&jwt, 0);
    let jwks = s.get("/.well-known/jwks.json").await.json();
    assert_eq!(
        header,
        json!({"alg": "EdDSA", "typ": "at+jwt", "kid": jwks["keys"][0]["kid"]})
    );
    let claims = part(&jwt, 1);
    let mut names: Vec<&str> = claims
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["amr", "auth_time", "exp", "iat", "iss", "jti", "sid", "sub"],
        "{claims}"
    );
    assert_eq!(claims["amr"], json!(["pwd"]), "a password sign-in");
    let c = claims_of(&jwt);
    uuid::Uuid::parse_str(&c.sub).unwrap();
    uuid::Uuid::parse_str(&c.sid).unwrap();
    assert_eq!(c.iss, "edgeauth");
    assert_eq!(c.exp - c.iat, 900);
    // A login is a credential proof: auth_time is (within the second) the issue time.
    let auth_time = c.auth_time.expect("auth_time");
    assert!(auth_time <= c.iat && auth_time + 1 >= c.iat, "{claims}");
    let now = now_secs();
    assert!(
        c.iat <= now + 1 && c.iat + 60 >= now,
        "iat {} now {now}",
        c.iat
    );
    // jti is unique per token, sid per login.
    let again = s.login("shape@example.com").await.0;
    let c2 = claims_of(&again);
    assert_ne!(c.jti, c2.jti);
    assert_ne!(c.sid, c2.sid);
    assert_eq!(c.sub, c2.sub);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_returns_the_ids_of_the_token() {
    let s = TestServer::start().await;
    let (jwt, refresh) = s.signed_in("ids@example.com").await;
    let claims = claims_of(&jwt);
    assert_accepted(&s, "issued", &jwt, &claims).await;

    // A second session of the same account carries its own sid.
    let (jwt2, _) = s.login("ids@example.com").await;
    let claims2 = claims_of(&jwt2);
    assert_accepted(&s, "second session", &jwt2, &claims2).await;
    assert_ne!(claims.sid, claims2.sid);

    // A refreshed token keeps the session id.
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let refreshed = r.jwt();
    assert_eq!(claims_of(&refreshed).sid, claims.sid);
    assert_accepted(&s, "refreshed", &refreshed, &claims).await;

    // A token crafted here with the server's key and fresh times passes:
    // the forgery tests below change one thing at a time from this.
    let crafted = sign_with(
        &s.signing_pem,
        &Claims {
            jti: "crafted".into(),
            iat: now_secs(),
            exp: now_secs() + 60,
            ..claims.clone()
        },
    );
    assert_accepted(&s, "crafted", &crafted, &claims).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_rejects_forged_and_tampered_tokens() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("victim@example.com").await;
    let (other_jwt, _) = s.signed_in("attacker@example.com").await;
    let header = part(&jwt, 0);
    let kid = header["kid"].as_str().unwrap().to_owned();
    let payload = part(&jwt, 1);
    let signature = jwt.rsplit('.').next().unwrap().to_owned();
    let jwks = s.get("/.well-known/jwks.json").await.json();
    let x = jwks["keys"][0]["x"].as_str().unwrap().to_owned();
    let public = URL_SAFE_NO_PAD.decode(&x).unwrap();
    let server_key = ed25519(&s.signing_pem);
    let fresh_pem = generate_pkcs8_pem().unwrap();
    let fresh_kid = JwtKeys::from_pems(std::slice::from_ref(&fresh_pem))
        .unwrap()
        .signing_kid()
        .to_owned();
    assert_ne!(fresh_kid, kid);
    let now = now_secs();
    let with = |changes: Value| {
        let mut p = payload.clone();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                p.as_object_mut().unwrap().remove(k);
            } else {
                p[k] = v.clone();
            }
        }
        p
    };
    let header_with = |alg: &str, kid: Option<&str>| {
        let mut h = json!({"alg": alg, "typ": "at+jwt"});
        if let Some(kid) = kid {
            h["kid"] = json!(kid);
        }
        h
    };
    let reuse_signature =
        |h: &Value, p: &Value| format!("{}.{}.{signature}", b64(h.to_string()), b64(p.to_string()));

    let mut cases: Vec<(&str, String)> = vec![
        // alg none, with and without a signature, in any case.
        (
            "alg none, empty signature",
            format!(
                "{}.{}.",
                b64(header_with("none", Some(&kid)).to_string()),
                b64(payload.to_string())
            ),
        ),
        (
            "alg none, no kid",
            format!(
                "{}.{}.",
                b64(header_with("none", None).to_string()),
                b64(payload.to_string())
            ),
        ),
        (
            "alg none, original signature",
            reuse_signature(&header_with("none", Some(&kid)), &payload),
        ),
        (
            "alg None",
            format!(
                "{}.{}.",
                b64(header_with("None", Some(&kid)).to_string()),
                b64(payload.to_string())
            ),
        ),
        // HMAC keyed with public material an attacker has.
        (
            "HS256 keyed with the raw public key",
            forge(&header_with("HS256", Some(&kid)), &payload, hs256(&public)),
        ),
        (
            "HS256 keyed with the JWK x string",
            forge(
                &header_with("HS256", Some(&kid)),
                &payload,
                hs256(x.as_bytes()),
            ),
        ),
        (
            "HS256 keyed with the JWKS document",
            forge(
                &header_with("HS256", Some(&kid)),
                &payload,
                hs256(jwks.to_string().as_bytes()),
            ),
        ),
        (
            "HS256 keyed with the empty key",
            forge(&header_with("HS256", Some(&kid)), &payload, hs256(b"")),
        ),
        // Right key, wrong header.
        (
            "EdDSA without kid",
            forge(&header_with("EdDSA", None), &payload, &server_key),
        ),
        (
            "alg Ed25519",
            forge(&header_with("Ed25519", Some(&kid)), &payload, &server_key),
        ),
        (
            "alg ES256",
            forge(&header_with("ES256", Some(&kid)), &payload, &server_key),
        ),
        (
            "crit header",
            forge(
                &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["exp"]}),
                &payload,
                &server_key,
            ),
        ),
        // Tampered payloads under the original signature.
        (
            "payload: another account's sub",
            reuse_signature(&header, &with(json!({"sub": part(&other_jwt, 1)["sub"]}))),
        ),
        (
            "payload: another session's sid",
            reuse_signature(&header, &with(json!({"sid": part(&other_jwt, 1)["sid"]}))),
        ),
        (
            "payload: exp extended",
            reuse_signature(&header, &with(json!({"exp": now + 86_400}))),
        ),
        (
            "payload: same claims, other whitespace",
            format!(
                "{}.{}.{signature}",
                b64(header.to_string()),
                b64(serde_json::to_string_pretty(&payload).unwrap())
            ),
        ),
        (
            "another token's payload",
            format!(
                "{}.{}.{signature}",
                jwt.split('.').next().unwrap(),
                other_jwt.split('.').nth(1).unwrap()
            ),
        ),
        (
            "another token's signature",
            format!(
                "{}.{}",
                jwt.rsplit_once('.').unwrap().0,
                other_jwt.rsplit('.').next().unwrap()
            ),
        ),
        (
            "header: kid of a fresh key",
            reuse_signature(&header_with("EdDSA", Some(&fresh_kid)), &payload),
        ),
        // Keys the server does not have.
        (
            "signed by a fresh key with its own kid",
            forge(
                &header_with("EdDSA", Some(&fresh_kid)),
                &payload,
                ed25519(&fresh_pem),
            ),
        ),
        (
            "signed by a fresh key claiming the server's kid",
            forge(
                &header_with("EdDSA", Some(&kid)),
                &payload,
                ed25519(&fresh_pem),
            ),
        ),
        (
            "signed by a fresh key through the library",
            sign_with(&fresh_pem, &claims_of(&jwt)),
        ),
        // Server's key, wrong claims.
        (
            "expired",
            forge(
                &header,
                &with(json!({"iat": now - 3600, "exp": now - 60})),
                &server_key,
            ),
        ),
        (
            "expires now",
            forge(&header, &with(json!({"exp": now})), &server_key),
        ),
        (
            "wrong issuer",
            forge(&header, &with(json!({"iss": "evil"})), &server_key),
        ),
        (
            "issuer with different case",
            forge(&header, &with(json!({"iss": "EdgeAuth"})), &server_key),
        ),
        (
            "no issuer",
            forge(&header, &with(json!({"iss": null})), &server_key),
        ),
        (
            "aud while none is configured",
            forge(&header, &with(json!({"aud": "edgeauth"})), &server_key),
        ),
        (
            "no exp",
            forge(&header, &with(json!({"exp": null})), &server_key),
        ),
        (
            "no sid",
            forge(&header, &with(json!({"sid": null})), &server_key),
        ),
        (
            "sub not a UUID",
            forge(&header, &with(json!({"sub": "admin"})), &server_key),
        ),
        (
            "validly signed: another account's sid",
            forge(
                &header,
                &with(json!({"sid": part(&other_jwt, 1)["sid"]})),
                &server_key,
            ),
        ),
        (
            "validly signed: another account's sub",
            forge(
                &header,
                &with(json!({"sub": part(&other_jwt, 1)["sub"]})),
                &server_key,
            ),
        ),
        (
            "unknown sid",
            forge(
                &header,
                &with(json!({"sid": uuid::Uuid::new_v4().to_string()})),
                &server_key,
            ),
        ),
        (
            "unknown sub",
            forge(
                &header,
                &with(json!({"sub": uuid::Uuid::new_v4().to_string()})),
                &server_key,
            ),
        ),
        // Not a compact JWS at all.
        ("garbage", "garbage".into()),
        ("two parts", jwt.rsplit_once('.').unwrap().0.to_owned()),
        ("four parts", format!("{jwt}.{signature}")),
        ("trailing dot", format!("{jwt}.")),
        ("padded signature", format!("{jwt}==")),
        ("signature truncated", jwt[..jwt.len() - 4].to_owned()),
        ("oversized", format!("{jwt}{}", "A".repeat(10_000))),
    ];
    // Any single changed character of the real token.
    for i in (0..jwt.len()).step_by(7) {
        let mut bytes = jwt.clone().into_bytes();
        if bytes[i] == b'.' {
            continue;
        }
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        cases.push(("one character changed", String::from_utf8(bytes).unwrap()));
    }
    for (name, token) in &cases {
        assert_rejected(&s, name, token).await;
    }
    // Bearer endpoints refuse them the same way.
    for (name, token) in cases.iter().take(8) {
        let r = s.post_bearer("/auth/token/revoke", token, json!({})).await;
        assert_eq!(r.status, 401, "revoke {name}: {}", r.text);
        assert_eq!(r.header("www-authenticate").as_deref(), Some(BEARER_ERROR));
    }
    // Nothing of that hurt the real token.
    assert_accepted(&s, "original", &jwt, &claims_of(&jwt)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_malformed_authorization_is_401() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("header@example.com").await;
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no header", None),
        ("empty", Some(String::new())),
        ("scheme only", Some("Bearer".into())),
        ("scheme and space", Some("Bearer ".into())),
        ("Basic", Some(format!("Basic {jwt}"))),
        ("Token", Some(format!("Token {jwt}"))),
        ("no space", Some(format!("Bearer{jwt}"))),
        ("token only", Some(jwt.clone())),
    ];
    for (name, value) in cases {
        for head in [false, true] {
            let mut request = if head {
                s.http.head(s.url("/auth/verify"))
            } else {
                s.http.get(s.url("/auth/verify"))
            };
            if let Some(value) = &value {
                request = request.header("authorization", value);
            }
            let r = s.send(request).await;
            assert_eq!(r.status, 401, "{name} head={head}: {}", r.text);
            assert_eq!(
                r.header("www-authenticate").as_deref(),
                Some(BEARER_ERROR),
                "{name}"
            );
            if !head {
                assert_eq!(r.error(), "invalid_token", "{name}");
            }
        }
    }
    // The scheme is case-insensitive (RFC 7235).
    let r = s
        .send(
            s.http
                .get(s.url("/auth/verify"))
                .header("authorization", format!("bearer {jwt}")),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audience_is_checked_when_configured() {
    let s = TestServer::with(&[("EDGEAUTH_JWT_AUDIENCE", "api.example")]).await;
    let (jwt, _) = s.signed_in("aud@example.com").await;
    let claims = claims_of(&jwt);
    assert_eq!(claims.aud.as_deref(), Some("api.example"));
    assert_accepted(&s, "issued", &jwt, &claims).await;

    let header = part(&jwt, 0);
    let server_key = ed25519(&s.signing_pem);
    let with_aud = |aud: Value| {
        let mut p = part(&jwt, 1);
        if aud.is_null() {
            p.as_object_mut().unwrap().remove("aud");
        } else {
            p["aud"] = aud;
        }
        forge(&header, &p, &server_key)
    };
    for (name, aud) in [
        ("other audience", json!("other.example")),
        ("audience with different case", json!("API.EXAMPLE")),
        ("audience prefix", json!("api.example.evil")),
        ("no audience", Value::Null),
        ("empty audience", json!("")),
        ("array without ours", json!(["other.example", "x"])),
        ("empty array", json!([])),
        ("number", json!(1)),
    ] {
        assert_rejected(&s, name, &with_aud(aud)).await;
    }
    for (name, aud) in [
        ("string", json!("api.example")),
        ("array with ours", json!(["other.example", "api.example"])),
    ] {
        assert_accepted(&s, name, &with_aud(aud), &claims).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issuer_is_the_configured_one() {
    let s = TestServer::with(&[("EDGEAUTH_JWT_ISSUER", "https://auth.example")]).await;
    let (jwt, _) = s.signed_in("iss@example.com").await;
    let claims = claims_of(&jwt);
    assert_eq!(claims.iss, "https://auth.example");
    assert_accepted(&s, "issued", &jwt, &claims).await;
    let default_issuer = sign_with(
        &s.signing_pem,
        &Claims {
            iss: "edgeauth".into(),
            ..claims.clone()
        },
    );
    assert_rejected(&s, "default issuer", &default_issuer).await;
}

/// Every refresh-token failure: 401 invalid_refresh_token and a cleared cookie.
fn assert_refresh_refused(r: &Reply, name: &str) {
    assert_eq!(r.status, 401, "{name}: {}", r.text);
    assert_eq!(r.error(), "invalid_refresh_token", "{name}");
    assert!(r.clears_cookie(), "{name}: {:?}", r.set_cookie());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_token_with_any_flipped_character_or_bit_is_refused() {
    let s = TestServer::start().await;
    let (_, refresh) = s.signed_in("flip@example.com").await;
    let raw = URL_SAFE_NO_PAD.decode(&refresh).unwrap();

    let mut forged: Vec<(String, String)> = Vec::new();
    // Every bit of the decoded token (version, key id, ids, generation, MAC).
    for bit in 0..raw.len() * 8 {
        let mut bad = raw.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        forged.push((format!("raw bit {bit}"), b64(&bad)));
    }
    // Every character of the string, replaced by another of the alphabet
    // (including ones that only touch the unused bits of the last one).
    for i in 0..refresh.len() {
        let mut bytes = refresh.clone().into_bytes();
        let c = bytes[i];
        for replacement in [
            if c == b'A' { b'B' } else { b'A' },
            if c == b'-' { b'_' } else { b'-' },
            c ^ 1,
        ] {
            if replacement == c {
                continue;
            }
            bytes[i] = replacement;
            if let Ok(text) = String::from_utf8(bytes.clone()) {
                forged.push((format!("char {i} -> {:?}", replacement as char), text));
            }
        }
    }
    // Truncated, extended, padded.
    forged.push(("truncated".into(), refresh[..refresh.len() - 1].to_owned()));
    forged.push(("extended".into(), format!("{refresh}A")));
    forged.push(("padded".into(), format!("{refresh}=")));
    forged.push(("empty".into(), String::new()));

    for (name, token) in &forged {
        let r = s.post_cookie("/auth/token/refresh", token).await;
        assert_refresh_refused(&r, name);
    }
    // The JSON-body form refuses them too (a sample: every 5th).
    for (name, token) in forged.iter().step_by(5) {
        let r = s
            .post("/auth/token/refresh", json!({ "refresh_token": token }))
            .await;
        assert_refresh_refused(&r, name);
    }
    // None of them was taken as a reuse of the real one: it still rotates.
    assert!(s.redis.events_of("refresh_token.reused").is_empty());
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_key_signs_and_every_key_verifies() {
    let dir = TempDir::new();
    let first_pem = generate_pkcs8_pem().unwrap();
    let second_pem = generate_pkcs8_pem().unwrap();
    let first = dir.write("first.pem", &first_pem);
    let second = dir.write("second.pem", &second_pem);
    let files = format!("{},{}", first.display(), second.display());
    let s = TestServer::with(&[("EDGEAUTH_JWT_KEY_FILES", &files)]).await;

    let kid = |pem: &str| {
        JwtKeys::from_pems(&[pem.to_owned()])
            .unwrap()
            .signing_kid()
            .to_owned()
    };
    let x = |pem: &str| b64(key_pair(pem).public_key().as_ref());
    let (first_kid, second_kid) = (kid(&first_pem), kid(&second_pem));

    let jwks = s.get("/.well-known/jwks.json").await.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2, "{jwks}");
    assert_eq!(keys[0]["kid"], first_kid.as_str());
    assert_eq!(keys[0]["x"], x(&first_pem).as_str());
    assert_eq!(keys[1]["kid"], second_kid.as_str());
    assert_eq!(keys[1]["x"], x(&second_pem).as_str());
    for key in keys {
        assert_eq!(key["kty"], "OKP");
        assert_eq!(key["alg"], "EdDSA");
    }

    // Issued tokens come from the first key.
    let (jwt, _) = s.signed_in("rotate@example.com").await;
    assert_eq!(part(&jwt, 0)["kid"], first_kid.as_str());
    let claims = claims_of(&jwt);
    assert_accepted(&s, "signed by the first key", &jwt, &claims).await;

    // A token signed by the second key (as a replica that has not rotated
    // yet would sign it) verifies too.
    let by_second = sign_with(&second_pem, &claims);
    assert_eq!(part(&by_second, 0)["kid"], second_kid.as_str());
    assert_accepted(&s, "signed by the second key", &by_second, &claims).await;

    // But a key in neither file does not, and neither does a kid mix-up.
    let third_pem = generate_pkcs8_pem().unwrap();
    assert_rejected(&s, "third key", &sign_with(&third_pem, &claims)).await;
    let mixed = forge(
        &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": first_kid}),
        &part(&jwt, 1),
        ed25519(&second_pem),
    );
    assert_rejected(&s, "second key's signature under the first kid", &mixed).await;
}
