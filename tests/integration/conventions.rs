//! The conventions every endpoint shares: media type (415), body shape
//! (400), size (413), unknown paths (404) and methods (405 + `Allow`), the
//! JSON error body, the probes on both listeners, the JWKS document and
//! request ids.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use reqwest::header::CONTENT_TYPE;
use ring::signature::{ED25519, UnparsedPublicKey};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{PASSWORD, Reply, TestServer};

const LOGIN_BODY: &str = r#"{"email":"nobody@example.com","password":"whatever123"}"#;

/// POSTs `body` to `path` with the given `Content-Type` (None: no header).
async fn post_raw(s: &TestServer, path: &str, content_type: Option<&str>, body: &str) -> Reply {
    let mut request = s.http.post(s.url(path)).body(body.to_owned());
    if let Some(ct) = content_type {
        request = request.header(CONTENT_TYPE, ct);
    }
    s.send(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_without_json_content_type_is_415() {
    let s = TestServer::start().await;
    let cases: &[Option<&str>] = &[
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonx"),
        Some("application/json-patch+json"),
        Some("json"),
        Some(""),
    ];
    for path in ["/auth/login", "/auth/register", "/auth/account/activate"] {
        for ct in cases {
            let r = post_raw(&s, path, *ct, LOGIN_BODY).await;
            assert_eq!(r.status, 415, "{path} {ct:?}: {}", r.text);
            assert_eq!(r.error(), "unsupported_media_type", "{path} {ct:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_content_type_with_parameters_in_any_spacing_is_accepted() {
    let s = TestServer::start().await;
    for ct in [
        "application/json",
        "application/json;charset=utf-8",
        "application/json; charset=utf-8",
        "application/json ; charset=UTF-8",
        "application/json  ;charset=utf-8",
        "Application/JSON",
        "APPLICATION/JSON;CHARSET=UTF-8",
    ] {
        // An unknown email gets past the media-type and body checks: 401.
        let r = post_raw(&s, "/auth/login", Some(ct), LOGIN_BODY).await;
        assert_eq!(r.status, 401, "{ct:?}: {}", r.text);
        assert_eq!(r.error(), "invalid_credentials", "{ct:?}");
    }
    // And a real registration goes through with the common client header.
    let body = json!({"email": "ct@example.com", "password": PASSWORD}).to_string();
    let r = post_raw(
        &s,
        "/auth/register",
        Some("application/json;charset=utf-8"),
        &body,
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_invalid_request() {
    let s = TestServer::start().await;
    let login_cases: &[(&str, &str)] = &[
        ("empty body", ""),
        ("whitespace only", "  \n "),
        (
            "array",
            r#"[{"email":"a@example.com","password":"secret12"}]"#,
        ),
        ("string", r#""a@example.com""#),
        ("number", "42"),
        ("null", "null"),
        ("true", "true"),
        ("truncated", r#"{"email":"a@example.com","password":"#),
        ("not json", "email=a@example.com&password=secret12"),
        (
            "trailing garbage",
            r#"{"email":"a@example.com","password":"secret12"} x"#,
        ),
        (
            "two objects",
            r#"{"email":"a@example.com","password":"secret12"}{}"#,
        ),
        (
            "single quotes",
            "{'email':'a@example.com','password':'secret12'}",
        ),
        ("missing password", r#"{"email":"a@example.com"}"#),
        ("missing email", r#"{"password":"secret12"}"#),
        ("empty object", "{}"),
        ("email is a number", r#"{"email":1,"password":"secret12"}"#),
        ("email is null", r#"{"email":null,"password":"secret12"}"#),
        (
            "password is an array",
            r#"{"email":"a@example.com","password":["secret12"]}"#,
        ),
        (
            "password is an object",
            r#"{"email":"a@example.com","password":{}}"#,
        ),
        (
            "password is a bool",
            r#"{"email":"a@example.com","password":true}"#,
        ),
        (
            "duplicate key",
            r#"{"email":"a@example.com","email":"b@example.com","password":"secret12"}"#,
        ),
        (
            "duplicate key, same value",
            r#"{"email":"a@example.com","password":"secret12","password":"secret12"}"#,
        ),
    ];
    for (name, body) in login_cases {
        for path in ["/auth/login", "/auth/register"] {
            let r = post_raw(&s, path, Some("application/json"), body).await;
            assert_eq!(r.status, 400, "{path} {name}: {}", r.text);
            assert_eq!(r.error(), "invalid_request", "{path} {name}");
        }
    }
    let other_cases: &[(&str, &str)] = &[
        ("/auth/account/activate", "[]"),
        ("/auth/account/activate", r#"{"ticket":7}"#),
        ("/auth/account/activate", r#"{"tiket":"x"}"#),
        (
            "/auth/account/activate/request",
            r#"{"email":["a@example.com"]}"#,
        ),
        ("/auth/account/forgot/request", "\"a@example.com\""),
        ("/auth/account/forgot/request", "{}"),
        (
            "/auth/account/forgot",
            r#"{"ticket":"8d1c1c1e-6f0a-4f57-9b59-3d1f0c6c1a11"}"#,
        ),
        (
            "/auth/account/forgot",
            r#"{"ticket":"8d1c1c1e-6f0a-4f57-9b59-3d1f0c6c1a11","new_password":12345678}"#,
        ),
    ];
    for (path, body) in other_cases {
        let r = post_raw(&s, path, Some("application/json"), body).await;
        assert_eq!(r.status, 400, "{path} {body}: {}", r.text);
        assert_eq!(r.error(), "invalid_request", "{path} {body}");
    }
    // None of this created anything.
    assert!(s.redis.events_of("account.registered").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_fields_are_ignored() {
    let s = TestServer::start().await;
    let r = s
        .post(
            "/auth/register",
            json!({
                "email": "extra@example.com",
                "password": PASSWORD,
                "name": "Ada",
                "nested": {"a": [1, 2, 3]},
                "cookie": false,
            }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let ticket = s.redis.ticket("account.registered", "extra@example.com");
    let r = s
        .post(
            "/auth/account/activate",
            json!({"ticket": ticket, "unused": null}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = s
        .post(
            "/auth/login",
            json!({"email": "extra@example.com", "password": PASSWORD, "remember": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

/// A JSON object of exactly `len` bytes (a login body padded with spaces).
fn padded_login_body(len: usize) -> String {
    let mut body = String::from(LOGIN_BODY);
    body.insert_str(1, &" ".repeat(len - LOGIN_BODY.len()));
    assert_eq!(body.len(), len);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_16_kib_with_declared_length_is_413() {
    let s = TestServer::start().await;
    // At the limit: accepted and processed.
    let r = post_raw(
        &s,
        "/auth/login",
        Some("application/json"),
        &padded_login_body(16 * 1024),
    )
    .await;
    assert_eq!(r.status, 401, "16 KiB exactly: {}", r.text);
    for len in [16 * 1024 + 1, 17 * 1024, 64 * 1024] {
        for path in ["/auth/login", "/auth/register", "/auth/token/refresh"] {
            let r = post_raw(&s, path, Some("application/json"), &padded_login_body(len)).await;
            assert_eq!(r.status, 413, "{path} {len}: {}", r.text);
            assert_eq!(r.error(), "payload_too_large", "{path} {len}");
        }
    }
}

/// Sends `head` + a chunked body made of `chunks` over a raw connection and
/// returns (status, the whole response text).
async fn raw_chunked(s: &TestServer, path: &str, chunks: &[String]) -> (u16, String) {
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        s.addr
    );
    for chunk in chunks {
        request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    request.push_str("0\r\n\r\n");
    // The server may answer (and close) before reading everything: a failed
    // write is fine as long as the answer arrives.
    let _ = stream.write_all(request.as_bytes()).await;
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_over_16_kib_is_413() {
    let s = TestServer::start().await;
    // Within the limit, chunked: processed normally.
    let small: Vec<String> = vec![LOGIN_BODY[..10].to_owned(), LOGIN_BODY[10..].to_owned()];
    let (status, text) = raw_chunked(&s, "/auth/login", &small).await;
    assert_eq!(status, 401, "{text}");
    assert!(text.contains("invalid_credentials"), "{text}");

    // 20 KiB in 1 KiB chunks, no Content-Length: refused while reading.
    let body = padded_login_body(20 * 1024);
    let chunks: Vec<String> = body
        .as_bytes()
        .chunks(1024)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    let (status, text) = raw_chunked(&s, "/auth/login", &chunks).await;
    assert_eq!(status, 413, "{text}");
    assert!(text.contains(r#""error":"payload_too_large""#), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_are_404_with_a_json_body() {
    let s = TestServer::start().await;
    let paths = [
        "/",
        "/nope",
        "/auth",
        "/auth/",
        "/auth/login/",
        "/auth/register/",
        "/healthz/",
        "/auth/%6Cogin",
        "/auth%2Flogin",
        "/%61uth/register",
        "/auth/LOGIN",
        "/Auth/login",
        "/auth//login",
        "//auth/login",
        "/auth/login.json",
        "/auth/account",
        "/auth/token",
        "/.well-known/jwks",
        "/.well-known/openid-configuration",
        "/metrics",
    ];
    for path in paths {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let r = s
                .send(
                    s.http
                        .request(method.clone(), s.url(path))
                        .header(CONTENT_TYPE, "application/json")
                        .body("{}"),
                )
                .await;
            assert_eq!(r.status, 404, "{method} {path}: {}", r.text);
            assert_eq!(r.error(), "not_found", "{method} {path}");
            assert!(r.header("allow").is_none(), "{method} {path}");
        }
    }
    // Envoy's HTTP ext_authz appends the original path to `/auth/verify`
    // and keeps the method: that shape is the verify check, not a 404.
    for path in ["/auth/verify/", "/auth/verify/api/orders"] {
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let r = s.send(s.http.request(method.clone(), s.url(path))).await;
            assert_eq!(r.status, 401, "{method} {path}: {}", r.text);
            assert_eq!(r.error(), "invalid_token", "{method} {path}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_is_405_with_allow() {
    let s = TestServer::start().await;
    let post_routes = [
        "/auth/register",
        "/auth/login",
        "/auth/account/activate",
        "/auth/account/activate/request",
        "/auth/account/forgot/request",
        "/auth/account/forgot",
        "/auth/account/remove",
        "/auth/token/refresh",
        "/auth/token/revoke",
        "/auth/logout",
    ];
    let get_routes = [
        "/auth/verify",
        "/.well-known/jwks.json",
        "/healthz",
        "/readyz",
    ];
    let mut cases: Vec<(Method, &str, &str)> = Vec::new();
    for path in post_routes {
        for method in [Method::GET, Method::PUT, Method::DELETE, Method::PATCH] {
            cases.push((method, path, "POST"));
        }
    }
    for path in get_routes {
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            cases.push((method, path, "GET, HEAD"));
        }
    }
    for (method, path, allow) in cases {
        let r = s.send(s.http.request(method.clone(), s.url(path))).await;
        assert_eq!(r.status, 405, "{method} {path}: {}", r.text);
        assert_eq!(r.error(), "method_not_allowed", "{method} {path}");
        assert_eq!(r.header("allow").as_deref(), Some(allow), "{method} {path}");
    }
    // HEAD on a POST route: 405 + Allow, no body.
    let r = s.send(s.http.head(s.url("/auth/login"))).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
    assert!(r.text.is_empty());
    // The admin listener has the probes too, with the same method rules.
    let r = s.send(s.http.post(s.admin_url("/healthz"))).await;
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_body_is_json_error_and_message() {
    let s = TestServer::start().await;
    let requests = vec![
        s.http.post(s.url("/auth/login")).body("x"),
        s.http
            .post(s.url("/auth/login"))
            .header(CONTENT_TYPE, "application/json")
            .body("[]"),
        s.http.get(s.url("/missing")),
        s.http.get(s.url("/auth/login")),
        s.http.get(s.url("/auth/verify")),
        s.http.post(s.url("/auth/token/refresh")),
        s.http.post(s.url("/auth/account/remove")),
        s.http
            .post(s.url("/auth/register"))
            .json(&json!({"email": "bad", "password": PASSWORD})),
        s.http
            .post(s.url("/auth/register"))
            .json(&json!({"email": "ok@example.com", "password": "short"})),
        s.http
            .post(s.url("/auth/login"))
            .json(&json!({"email": "ok@example.com", "password": PASSWORD})),
        s.http
            .post(s.url("/auth/account/activate"))
            .json(&json!({"ticket": "8d1c1c1e-6f0a-4f57-9b59-3d1f0c6c1a11"})),
    ];
    let mut codes = Vec::new();
    for request in requests {
        let r = s.send(request).await;
        assert!(r.status >= 400, "{}: {}", r.status, r.text);
        // error() checks Content-Type, that the body is JSON, and `message`.
        let code = r.error();
        let body = r.json();
        let object = body.as_object().unwrap();
        assert_eq!(object.len(), 2, "only error and message: {}", r.text);
        assert!(!body["message"].as_str().unwrap().is_empty());
        codes.push(code);
    }
    assert_eq!(
        codes,
        [
            "unsupported_media_type",
            "invalid_request",
            "not_found",
            "method_not_allowed",
            "invalid_token",
            "invalid_refresh_token",
            "invalid_token",
            "invalid_email",
            "invalid_password",
            "invalid_credentials",
            "invalid_ticket",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_on_both_listeners() {
    let s = TestServer::start().await;
    for url in [s.url("/healthz"), s.admin_url("/healthz")] {
        let r = s.send(s.http.get(&url)).await;
        assert_eq!(r.status, 200, "{url}");
        assert_eq!(r.text, "OK", "{url}");
        let ct = r.header("content-type").unwrap();
        assert!(ct.starts_with("text/plain"), "{url}: {ct}");
        let r = s.send(s.http.head(&url)).await;
        assert_eq!(r.status, 200, "HEAD {url}");
        assert!(r.text.is_empty(), "HEAD {url}");
    }
    for url in [s.url("/readyz"), s.admin_url("/readyz")] {
        let r = s.send(s.http.get(&url)).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text);
        assert_eq!(r.text, "OK", "{url}");
    }
    // The admin listener serves probes only, never the API.
    for path in ["/auth/login", "/auth/register", "/.well-known/jwks.json"] {
        let r = s
            .send(s.http.post(s.admin_url(path)).json(&json!({})))
            .await;
        assert_eq!(r.status, 404, "admin {path}: {}", r.text);
        assert_eq!(r.error(), "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_served_on_the_public_port() {
    let s = TestServer::start().await;
    for method in [Method::GET, Method::HEAD] {
        let r = s
            .send(s.http.request(method.clone(), s.url("/metrics")))
            .await;
        assert_eq!(r.status, 404, "{method}");
        if method == Method::GET {
            assert_eq!(r.error(), "not_found");
            assert!(!r.text.contains("edgeauth_"), "{}", r.text);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwks_publishes_the_key_that_signs_issued_tokens() {
    let s = TestServer::start().await;
    let r = s.get("/.well-known/jwks.json").await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.header("cache-control").as_deref(),
        Some("public, max-age=300")
    );
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let jwks = r.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "{jwks}");
    let key = &keys[0];
    let mut fields: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["alg", "crv", "kid", "kty", "use", "x"], "{key}");
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "EdDSA");
    let kid = key["kid"].as_str().unwrap();
    assert!(!kid.is_empty());
    let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().unwrap()).unwrap();
    assert_eq!(x.len(), 32);

    // HEAD answers too, with the cache header.
    let head = s.send(s.http.head(s.url("/.well-known/jwks.json"))).await;
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("cache-control").as_deref(),
        Some("public, max-age=300")
    );

    // A JWT the server issued verifies under the published key alone.
    let (jwt, _) = s.signed_in("jwks@example.com").await;
    let (input, signature) = jwt.rsplit_once('.').unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(input.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["kid"], kid);
    let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
    let public = UnparsedPublicKey::new(&ED25519, &x);
    public.verify(input.as_bytes(), &signature).unwrap();
    // ... and the check is real: a changed input does not.
    let mut tampered = input.as_bytes().to_vec();
    let last = tampered.len() - 1;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert!(public.verify(&tampered, &signature).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_echoed_or_generated() {
    let s = TestServer::start().await;
    let id = "req-7f3a9c_0001";
    for (method, path) in [
        (Method::GET, "/healthz"),
        (Method::GET, "/nope"),
        (Method::GET, "/auth/login"),
        (Method::POST, "/auth/login"),
        (Method::GET, "/auth/verify"),
    ] {
        let r = s
            .send(
                s.http
                    .request(method.clone(), s.url(path))
                    .header("x-request-id", id),
            )
            .await;
        assert_eq!(
            r.header("x-request-id").as_deref(),
            Some(id),
            "{method} {path}"
        );
    }
    // Without one, each response still carries a fresh id.
    let a = s.get("/healthz").await.header("x-request-id").unwrap();
    let b = s.get("/healthz").await.header("x-request-id").unwrap();
    assert!(!a.is_empty());
    assert_ne!(a, b);
    // An unusable one (too long) is replaced, not echoed.
    let long = "x".repeat(300);
    let r = s
        .send(s.http.get(s.url("/healthz")).header("x-request-id", &long))
        .await;
    let got = r.header("x-request-id").unwrap();
    assert!(!got.is_empty());
    assert_ne!(got, long);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_that_ignore_the_body_still_require_json() {
    let s = TestServer::start().await;
    let (jwt, refresh) = s.signed_in("ignored@example.com").await;
    let requests = [
        (
            "remove",
            s.http.post(s.url("/auth/account/remove")).bearer_auth(&jwt),
        ),
        (
            "revoke",
            s.http.post(s.url("/auth/token/revoke")).bearer_auth(&jwt),
        ),
        (
            "logout",
            s.http
                .post(s.url("/auth/logout"))
                .header("cookie", format!("refresh_token={refresh}")),
        ),
        (
            "refresh",
            s.http
                .post(s.url("/auth/token/refresh"))
                .header("cookie", format!("refresh_token={refresh}")),
        ),
    ];
    for (name, request) in requests {
        let r = s
            .send(
                request
                    .header(CONTENT_TYPE, "text/plain")
                    .body(r#"{"confirm": true}"#),
            )
            .await;
        assert_eq!(r.status, 415, "{name}: {}", r.text);
        assert_eq!(r.error(), "unsupported_media_type", "{name}");
    }
    // None of them acted: the account, its session and its token are intact.
    assert_eq!(s.verify(&jwt).await.status, 200);
    // A gateway may forward the original request's body (any type) to
    // /auth/verify: GET and HEAD bodies are ignored.
    for method in [Method::GET, Method::HEAD] {
        let r = s
            .send(
                s.http
                    .request(method.clone(), s.url("/auth/verify"))
                    .bearer_auth(&jwt)
                    .header(CONTENT_TYPE, "multipart/form-data; boundary=x")
                    .body("--x\r\n\r\nfile\r\n--x--"),
            )
            .await;
        assert_eq!(r.status, 200, "{method}: {}", r.text);
    }
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(s.redis.events_of("account.removed").is_empty());
}

/// SECURITY.md promises only what a test proves: every `file::test` it
/// names must be a test in that file (`tests/integration/<file>.rs`, or
/// `src/<path>.rs` for unit tests), so renaming or deleting a proof breaks
/// the build of this page, not silently the page.
#[test]
fn every_test_security_md_names_exists() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let page = std::fs::read_to_string(root.join("SECURITY.md")).unwrap();
    let mut named = 0;
    for quoted in page.split('`').skip(1).step_by(2) {
        let Some((file, rest)) = quoted.split_once("::") else {
            continue;
        };
        let is_ident = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        };
        let path = if file.ends_with(".rs") {
            root.join("src").join(file)
        } else if is_ident(file) {
            root.join("tests/integration").join(format!("{file}.rs"))
        } else {
            continue;
        };
        let source = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("SECURITY.md names `{quoted}`: {}: {e}", path.display()));
        let test = rest.strip_prefix("tests::").unwrap_or(rest);
        if test == "tests" {
            assert!(source.contains("mod tests"), "`{quoted}`: no unit tests");
        } else {
            assert!(is_ident(test), "`{quoted}` is not a test name");
            let declared = [format!("fn {test}("), format!("fn {test}<")];
            assert!(
                declared.iter().any(|d| source.contains(d.as_str())),
                "SECURITY.md names `{quoted}`, which is no test in {}",
                path.display()
            );
        }
        named += 1;
    }
    assert!(named > 40, "SECURITY.md names only {named} tests");
}
