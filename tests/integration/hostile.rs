//! Hostile input: oversized and malformed bodies,
//! strange JSON, oversized heads, odd paths, request-smuggling shapes, old
//! protocol versions — each answered with a pinned 4xx (or served normally
//! where that is the right answer) and nothing stored. Plus the slowloris
//! family: a stalled or trickled head, a trickled body and an idle keep-alive
//! connection are all cut off while `/healthz` keeps answering.
//!
//! Everything goes over raw `tokio::net::TcpStream`s: reqwest refuses to send
//! most of these requests.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{PASSWORD, TestServer};

/// How long any single exchange may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(10);

/// One HTTP response parsed off the wire.
#[derive(Debug)]
struct Wire {
    status: u16,
    /// Lower-cased header lines.
    head: String,
    body: String,
    /// Everything received, lossily decoded (for messages).
    all: String,
}

impl Wire {
    fn parse(bytes: &[u8]) -> Option<Wire> {
        let all = String::from_utf8_lossy(bytes).into_owned();
        let end = all.find("\r\n\r\n")?;
        let head = all[..end].to_ascii_lowercase();
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        let rest = &bytes[end + 4..];
        let body = String::from_utf8_lossy(&rest[..length.min(rest.len())]).into_owned();
        Some(Wire {
            status,
            head,
            body,
            all,
        })
    }

    /// The `error` code of a JSON error body.
    fn error(&self) -> Option<String> {
        if !self.head.contains("content-type: application/json") {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&self.body).ok()?;
        v["message"].as_str()?;
        v["error"].as_str().map(str::to_owned)
    }

    /// How many status lines arrived on the connection.
    fn responses(&self) -> usize {
        self.all.matches("HTTP/1.").count()
    }
}

/// Writes `request` on a fresh connection (from its own task, so a server
/// that answers before reading everything cannot deadlock the test) and
/// reads until the server closes. Panics if that takes longer than [`HANG`].
async fn exchange(addr: SocketAddr, request: Vec<u8>) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    // The write half is handed back, not dropped: dropping it would send a
    // FIN, which hyper may take for an aborted request.
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&request).await;
        write
    });
    let mut out = Vec::new();
    let read_all = async {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(HANG, read_all)
        .await
        .expect("the server neither answered nor closed the connection");
    writer.abort();
    out
}

/// A request with `Host` and `Connection: close`; a non-empty body gets a
/// `Content-Length` (unless `extra` sets framing itself) and JSON type.
fn request(method: &str, target: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut head =
        format!("{method} {target} HTTP/1.1\r\nHost: edgeauth.test\r\nConnection: close\r\n");
    let framed = extra.iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
    });
    if !body.is_empty() && !framed {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    if !body.is_empty()
        && !extra
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

fn post(path: &str, body: impl AsRef<[u8]>) -> Vec<u8> {
    request("POST", path, &[], body.as_ref())
}

/// `body` sent chunked in 1 KiB chunks.
fn chunked(path: &str, body: &[u8]) -> Vec<u8> {
    let mut encoded = Vec::new();
    for chunk in body.chunks(1024) {
        encoded.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        encoded.extend_from_slice(chunk);
        encoded.extend_from_slice(b"\r\n");
    }
    encoded.extend_from_slice(b"0\r\n\r\n");
    request("POST", path, &[("Transfer-Encoding", "chunked")], &encoded)
}

fn login_json(email: &str, password: &str) -> String {
    json!({"email": email, "password": password}).to_string()
}

/// Every key in Redis.
fn keys(s: &TestServer) -> BTreeSet<String> {
    s.redis.keys("*").into_iter().collect()
}

/// What a hostile request answers: a status and, for the server's own
/// errors, the JSON `error` code. `None` means hyper refused the request
/// before any handler ran: no JSON body then, just the status.
struct Case {
    name: &'static str,
    request: Vec<u8>,
    status: u16,
    error: Option<&'static str>,
    /// Event types the request may append (a failed login is recorded).
    events: &'static [&'static str],
}

fn case(name: &'static str, request: Vec<u8>, status: u16, error: Option<&'static str>) -> Case {
    Case {
        name,
        request,
        status,
        error,
        events: &[],
    }
}

const FAILED: &[&str] = &["login.failed"];

fn cases() -> Vec<Case> {
    let kib = 1024;
    let ok_email = "hostile@example.com";
    let valid_login = login_json("nobody@example.com", PASSWORD);
    let ticket = "8d1c1c1e-6f0a-4f57-9b59-3d1f0c6c1a11";
    let pad = "p".repeat(10 * kib);
    vec![
        // ---- body size (16 KiB at most) -------------------------------
        case(
            "declared body of 17 KiB",
            post("/auth/account/forgot/request", " ".repeat(17 * kib)),
            413,
            Some("payload_too_large"),
        ),
        case(
            "declared Content-Length of 1 GB, nothing sent",
            request(
                "POST",
                "/auth/mfa/totp",
                &[("Content-Length", "1000000000")],
                b"",
            ),
            413,
            Some("payload_too_large"),
        ),
        case(
            "chunked body of 20 KiB",
            chunked(
                "/auth/account/activate/request",
                format!("{{\"email\":\"{}\"}}", "a".repeat(20 * kib)).as_bytes(),
            ),
            413,
            Some("payload_too_large"),
        ),
        // ---- deep and huge JSON ---------------------------------------------
        case(
            "100k '[' (over the size limit before any parsing)",
            post("/auth/login", "[".repeat(100_000)),
            413,
            Some("payload_too_large"),
        ),
        case(
            "100k '{' (over the size limit before any parsing)",
            post("/auth/login", "{".repeat(100_000)),
            413,
            Some("payload_too_large"),
        ),
        case(
            "16k '[' nested inside an object field (serde's depth limit)",
            post("/auth/login", format!("{{\"email\":{}", "[".repeat(16_000))),
            400,
            Some("invalid_request"),
        ),
        case(
            "3k nested objects in an ignored field (depth limit applies there too)",
            post("/auth/register", format!("{{{}", "\"a\":{".repeat(3_000))),
            400,
            Some("invalid_request"),
        ),
        case(
            "16 KB email string",
            post("/auth/register", login_json(&"a".repeat(16_000), PASSWORD)),
            400,
            Some("invalid_email"),
        ),
        case(
            "huge string of \\u escapes as the email",
            post(
                "/auth/login",
                format!(
                    "{{\"email\":\"{}\",\"password\":\"x\"}}",
                    "\\u0041".repeat(2_700)
                ),
            ),
            400,
            Some("invalid_email"),
        ),
        // ---- encodings -------------------------------------------------------
        case(
            "invalid UTF-8 inside a JSON string",
            post(
                "/auth/register",
                b"{\"email\":\"a\xff\xfe@example.com\",\"password\":\"secret123\"}",
            ),
            400,
            Some("invalid_request"),
        ),
        case(
            "invalid UTF-8 in the raw body",
            post("/auth/login", b"{\xc0\xaf\"email\":1}"),
            400,
            Some("invalid_request"),
        ),
        case(
            "invalid UTF-8 in an ignored (unknown) member",
            post(
                "/auth/login",
                b"{\"email\":\"a@example.com\",\"password\":\"secret123\",\"x\":\"\x8e\"}",
            ),
            400,
            Some("invalid_request"),
        ),
        case(
            "lone UTF-16 surrogate escape",
            post(
                "/auth/register",
                "{\"email\":\"\\ud800@example.com\",\"password\":\"secret123\"}",
            ),
            400,
            Some("invalid_request"),
        ),
        case(
            "UTF-8 byte-order mark before the object",
            post("/auth/login", format!("\u{feff}{valid_login}")),
            400,
            Some("invalid_request"),
        ),
        // ---- NUL bytes -------------------------------------------------------
        case(
            "escaped NUL inside the email (register)",
            post(
                "/auth/register",
                login_json("a\u{0}b@example.com", PASSWORD),
            ),
            400,
            Some("invalid_email"),
        ),
        case(
            "escaped NUL inside the email (login)",
            post("/auth/login", login_json("a\u{0}@example.com", PASSWORD)),
            400,
            Some("invalid_email"),
        ),
        case(
            "raw NUL byte inside a JSON string",
            post(
                "/auth/login",
                b"{\"email\":\"a\0@example.com\",\"password\":\"secret123\"}",
            ),
            400,
            Some("invalid_request"),
        ),
        case(
            "escaped NUL inside the password (login: a wrong password)",
            post("/auth/login", login_json(ok_email, "secret\u{0}123")),
            401,
            Some("invalid_credentials"),
        )
        .with_events(FAILED),
        // ---- lengths ---------------------------------------------------------
        case(
            "email of 255 bytes (register)",
            post(
                "/auth/register",
                login_json(&format!("{}@example.com", "a".repeat(255 - 12)), PASSWORD),
            ),
            400,
            Some("invalid_email"),
        ),
        case(
            "email of 255 bytes (login)",
            post(
                "/auth/login",
                login_json(&format!("{}@example.com", "a".repeat(255 - 12)), PASSWORD),
            ),
            400,
            Some("invalid_email"),
        ),
        case(
            "email of 10 KB (activation request)",
            post(
                "/auth/account/activate/request",
                json!({"email": format!("{}@example.com", "a".repeat(10_000))}).to_string(),
            ),
            400,
            Some("invalid_email"),
        ),
        case(
            "email of 10 KB (forgot request)",
            post(
                "/auth/account/forgot/request",
                json!({"email": format!("{}@example.com", "a".repeat(10_000))}).to_string(),
            ),
            400,
            Some("invalid_email"),
        ),
        case(
            "password of 129 characters (register)",
            post("/auth/register", login_json(ok_email, &"p".repeat(129))),
            400,
            Some("invalid_password"),
        ),
        case(
            "password of 129 multi-byte characters (register)",
            post("/auth/register", login_json(ok_email, &"é".repeat(129))),
            400,
            Some("invalid_password"),
        ),
        case(
            "password of 10 KB (register)",
            post("/auth/register", login_json(ok_email, &"p".repeat(10_000))),
            400,
            Some("invalid_password"),
        ),
        case(
            "new password of 10 KB (reset)",
            post(
                "/auth/account/forgot",
                json!({"ticket": ticket, "new_password": "p".repeat(10_000)}).to_string(),
            ),
            400,
            Some("invalid_password"),
        ),
        case(
            "ticket of 10 KB",
            post(
                "/auth/account/activate",
                json!({"ticket": "a".repeat(10_000)}).to_string(),
            ),
            400,
            Some("invalid_request"),
        ),
        // ---- JSON shapes not covered by the conventions tests ---------------
        case(
            "duplicate refresh_token key",
            post(
                "/auth/token/refresh",
                r#"{"refresh_token":"a","refresh_token":"b"}"#,
            ),
            400,
            Some("invalid_request"),
        ),
        case(
            "duplicate ticket key",
            post(
                "/auth/account/activate",
                format!(r#"{{"ticket":"{ticket}","ticket":"{ticket}"}}"#),
            ),
            400,
            Some("invalid_request"),
        ),
        case(
            "refresh_token is a number",
            post("/auth/token/refresh", r#"{"refresh_token":12345}"#),
            400,
            Some("invalid_request"),
        ),
        case(
            "TOTP code is a number",
            post(
                "/auth/mfa/totp",
                format!(r#"{{"ticket":"{ticket}","code":123456}}"#),
            ),
            400,
            Some("invalid_request"),
        ),
        case(
            "new_password is null",
            post(
                "/auth/account/forgot",
                format!(r#"{{"ticket":"{ticket}","new_password":null}}"#),
            ),
            400,
            Some("invalid_request"),
        ),
        case(
            "number too large for any type as the email",
            post("/auth/login", r#"{"email":1e400,"password":"secret123"}"#),
            400,
            Some("invalid_request"),
        ),
        // ---- credentials in headers -----------------------------------------
        case(
            "Cookie header with 5000 pairs and no refresh token",
            request(
                "POST",
                "/auth/token/refresh",
                &[("Cookie", &many_cookies(5000))],
                b"",
            ),
            401,
            Some("invalid_refresh_token"),
        ),
        case(
            "refresh_token cookie of 50 KB",
            request(
                "POST",
                "/auth/token/refresh",
                &[("Cookie", &format!("refresh_token={}", "A".repeat(50 * kib)))],
                b"",
            ),
            401,
            Some("invalid_refresh_token"),
        ),
        case(
            "Cookie header with bytes that are not visible ASCII",
            request(
                "POST",
                "/auth/token/refresh",
                &[("Cookie", "refresh_token=\u{e9}\u{e9}")],
                b"",
            ),
            401,
            Some("invalid_refresh_token"),
        ),
        case(
            "Bearer token of 60 KB (inside the head limit)",
            request(
                "GET",
                "/auth/verify",
                &[("Authorization", &format!("Bearer {}", "A".repeat(60 * kib)))],
                b"",
            ),
            401,
            Some("invalid_token"),
        ),
        case(
            "Bearer token of 1 MB",
            request(
                "GET",
                "/auth/verify",
                &[(
                    "Authorization",
                    &format!("Bearer {}", "A".repeat(1024 * kib)),
                )],
                b"",
            ),
            431,
            None,
        ),
        case(
            "header section of 100 KB (ten 10 KB headers)",
            request(
                "GET",
                "/healthz",
                &(0..10).map(|_| ("X-Pad", pad.as_str())).collect::<Vec<_>>(),
                b"",
            ),
            431,
            None,
        ),
        case(
            "101 header lines (hyper's header count limit)",
            request(
                "GET",
                "/healthz",
                &(0..101).map(|_| ("X-Pad", "p")).collect::<Vec<_>>(),
                b"",
            ),
            431,
            None,
        ),
        case(
            "request target of 70 KB",
            request(
                "GET",
                &format!("/healthz?{}", "q".repeat(70 * kib)),
                &[],
                b"",
            ),
            431,
            None,
        ),
        // ---- paths (matched exactly as sent) --------------------------------
        case(
            "/auth/%6Cogin (percent-encoded 'l')",
            post("/auth/%6Cogin", &valid_login),
            404,
            Some("not_found"),
        ),
        case(
            "//auth/login",
            post("//auth/login", &valid_login),
            404,
            Some("not_found"),
        ),
        case(
            "/auth/login%00",
            post("/auth/login%00", &valid_login),
            404,
            Some("not_found"),
        ),
        case(
            "/auth/login%20",
            post("/auth/login%20", &valid_login),
            404,
            Some("not_found"),
        ),
        case(
            "/auth/./login",
            post("/auth/./login", &valid_login),
            404,
            Some("not_found"),
        ),
        case(
            "/auth/../auth/login",
            post("/auth/../auth/login", &valid_login),
            404,
            Some("not_found"),
        ),
        case(
            "/auth/login;x=1 (matrix parameter)",
            post("/auth/login;x=1", &valid_login),
            404,
            Some("not_found"),
        ),
        case(
            "/auth/login?x=1 (a query string is ignored: routed)",
            post("/auth/login?x=1", &valid_login),
            401,
            Some("invalid_credentials"),
        )
        .with_events(FAILED),
        case(
            "/auth/login?%00 (an odd query is still ignored)",
            post("/auth/login?%00&&==", &valid_login),
            401,
            Some("invalid_credentials"),
        )
        .with_events(FAILED),
        case(
            "raw NUL byte in the path",
            post("/auth/login\0", &valid_login),
            400,
            None,
        ),
        case(
            "fragment in the request target (dropped: routed)",
            post("/auth/login#x", &valid_login),
            401,
            Some("invalid_credentials"),
        )
        .with_events(FAILED),
        // ---- framing and smuggling ------------------------------------------
        case(
            "two different Content-Lengths",
            request(
                "POST",
                "/auth/login",
                &[
                    ("Content-Length", &valid_login.len().to_string()),
                    ("Content-Length", "5"),
                ],
                valid_login.as_bytes(),
            ),
            400,
            None,
        ),
        case(
            "two identical Content-Lengths (allowed by RFC 9112: served)",
            request(
                "POST",
                "/auth/login",
                &[
                    ("Content-Length", &valid_login.len().to_string()),
                    ("Content-Length", &valid_login.len().to_string()),
                ],
                valid_login.as_bytes(),
            ),
            401,
            Some("invalid_credentials"),
        )
        .with_events(FAILED),
        case(
            "Content-Length list with two values",
            request(
                "POST",
                "/auth/login",
                &[("Content-Length", &format!("{0}, 5", valid_login.len()))],
                valid_login.as_bytes(),
            ),
            400,
            None,
        ),
        case(
            "negative Content-Length",
            request("POST", "/auth/login", &[("Content-Length", "-1")], b""),
            400,
            None,
        ),
        case(
            "Content-Length with a plus sign",
            request(
                "POST",
                "/auth/login",
                &[("Content-Length", &format!("+{}", valid_login.len()))],
                valid_login.as_bytes(),
            ),
            400,
            None,
        ),
        case(
            "Transfer-Encoding that does not end in chunked",
            request(
                "POST",
                "/auth/login",
                &[("Transfer-Encoding", "chunked, gzip")],
                b"0\r\n\r\n",
            ),
            400,
            None,
        ),
        case(
            "Transfer-Encoding: gzip alone",
            request(
                "POST",
                "/auth/login",
                &[("Transfer-Encoding", "gzip")],
                b"0\r\n\r\n",
            ),
            400,
            None,
        ),
        case(
            "malformed chunk size",
            request(
                "POST",
                "/auth/login",
                &[("Transfer-Encoding", "chunked")],
                b"zz\r\n{}\r\n0\r\n\r\n",
            ),
            400,
            Some("invalid_request"),
        ),
        case(
            "Transfer-Encoding on HTTP/1.0",
            b"POST /auth/login HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            400,
            None,
        ),
        case(
            "obsolete line folding in a header",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n"
                .to_vec(),
            400,
            None,
        ),
        case(
            "space before the header colon",
            b"GET /healthz HTTP/1.1\r\nHost : x\r\nConnection: close\r\n\r\n".to_vec(),
            400,
            None,
        ),
        case(
            "invalid method token",
            request("G(T", "/healthz", &[], b""),
            400,
            None,
        ),
        case(
            "HTTP/0.9 request line",
            b"GET /healthz\r\n\r\n".to_vec(),
            400,
            None,
        ),
        case(
            "HTTP/2 version in an HTTP/1 request line",
            b"GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n".to_vec(),
            400,
            None,
        ),
        case(
            "binary garbage",
            vec![
                0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, b'\r', b'\n',
                b'\r', b'\n',
            ],
            400,
            None,
        ),
        // ---- old versions and other request-target forms ---------------------
        case(
            "HTTP/1.0 GET /healthz",
            b"GET /healthz HTTP/1.0\r\n\r\n".to_vec(),
            200,
            None,
        ),
        case(
            "HTTP/1.0 POST /auth/login",
            format!(
                "POST /auth/login HTTP/1.0\r\nContent-Type: application/json\r\n\
                 Content-Length: {}\r\n\r\n{valid_login}",
                valid_login.len()
            )
            .into_bytes(),
            401,
            Some("invalid_credentials"),
        )
        .with_events(FAILED),
        case(
            "absolute-form URI (routed on its path)",
            post("http://elsewhere.example/auth/login", &valid_login),
            401,
            Some("invalid_credentials"),
        )
        .with_events(FAILED),
        case(
            "absolute-form URI for an unknown path",
            post("http://elsewhere.example/auth/%6Cogin", &valid_login),
            404,
            Some("not_found"),
        ),
        case(
            "asterisk-form OPTIONS *",
            request("OPTIONS", "*", &[], b""),
            404,
            Some("not_found"),
        ),
        case(
            "authority-form CONNECT",
            request("CONNECT", "elsewhere.example:443", &[], b""),
            404,
            Some("not_found"),
        ),
    ]
}

impl Case {
    fn with_events(mut self, events: &'static [&'static str]) -> Case {
        self.events = events;
        self
    }
}

fn many_cookies(n: usize) -> String {
    (0..n)
        .map(|i| format!("c{i}=v{i}"))
        .collect::<Vec<_>>()
        .join("; ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_a_clean_4xx_and_store_nothing() {
    let s = TestServer::start().await;
    // One real account, so that a hostile login can name an existing email.
    s.create_account("hostile@example.com").await;
    let mut failures = Vec::new();
    for case in cases() {
        let keys_before = keys(&s);
        let events_before = s.redis.events().len();
        let bytes = exchange(s.addr, case.request.clone()).await;
        let Some(wire) = Wire::parse(&bytes) else {
            failures.push(format!(
                "{}: no HTTP response, got {:?}",
                case.name,
                String::from_utf8_lossy(&bytes)
            ));
            continue;
        };
        let error = wire.error();
        if wire.status != case.status || error.as_deref() != case.error {
            failures.push(format!(
                "{}: expected {} {:?}, got {} {:?}: {}",
                case.name, case.status, case.error, wire.status, error, wire.all
            ));
        }
        if wire.responses() != 1 {
            failures.push(format!(
                "{}: {} responses: {}",
                case.name,
                wire.responses(),
                wire.all
            ));
        }
        // Nothing stored: only rate counters and the events this kind of
        // request is meant to leave.
        let new_keys: Vec<String> = keys(&s)
            .difference(&keys_before)
            .filter(|k| !k.starts_with("edgeauth:rate:") && !k.starts_with("edgeauth:events"))
            .cloned()
            .collect();
        if !new_keys.is_empty() {
            failures.push(format!("{}: stored {new_keys:?}", case.name));
        }
        for event in &s.redis.events()[events_before..] {
            let kind = event.get("type").cloned().unwrap_or_default();
            if !case.events.contains(&kind.as_str()) {
                failures.push(format!("{}: emitted {kind}", case.name));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The one account is untouched and the server still serves.
    s.login("hostile@example.com").await;
    assert_eq!(s.get("/healthz").await.status, 200);
}

/// Pinned, not refused: a password is any 6–128 Unicode scalar values
/// (the request conventions), and U+0000 is one. What matters is that it is data all the
/// way through — hashed as bytes, never cut at the NUL like a C string.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_inside_a_password_is_kept_as_data() {
    let s = TestServer::start().await;
    let email = "nul@example.com";
    let password = "secret\u{0}tail";
    let r = s
        .post(
            "/auth/register",
            json!({"email": email, "password": password}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let ticket = s.redis.ticket("account.registered", email);
    let r = s
        .post("/auth/account/activate", json!({ "ticket": ticket }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for wrong in ["secret", "secret\u{0}", "secret\u{0}tai", "secrettail"] {
        let r = s
            .post("/auth/login", json!({"email": email, "password": wrong}))
            .await;
        assert_eq!(r.status, 401, "{wrong:?}: {}", r.text);
        assert_eq!(r.error(), "invalid_credentials");
    }
    let r = s
        .post("/auth/login", json!({"email": email, "password": password}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_header_with_thousands_of_pairs_still_refreshes() {
    let s = TestServer::start().await;
    let (_, refresh) = s.signed_in("cookies@example.com").await;
    // 5000 other cookies, the refresh token last (~60 KB, inside the head limit).
    let header = format!("{}; refresh_token={refresh}", many_cookies(5000));
    let r = s
        .send(
            s.http
                .post(s.url("/auth/token/refresh"))
                .header("cookie", header),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let rotated = r.refresh_cookie().expect("a new refresh token");
    // And the same header with the spent token in the middle: rotated
    // already (the reuse grace still answers, with the same successor).
    let header = format!(
        "{}; refresh_token={rotated}; {}",
        many_cookies(2500),
        many_cookies(2500)
    );
    let r = s
        .send(
            s.http
                .post(s.url("/auth/token/refresh"))
                .header("cookie", header),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // The same in 200 separate Cookie lines is more than hyper's 100 header
    // lines: 431 before any handler runs.
    let mut lines: Vec<(&str, String)> = (0..200).map(|i| ("Cookie", format!("c{i}=v"))).collect();
    lines.push(("Cookie", format!("refresh_token={rotated}")));
    let extra: Vec<(&str, &str)> = lines.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let wire =
        Wire::parse(&exchange(s.addr, request("POST", "/auth/token/refresh", &extra, b"")).await)
            .expect("a response");
    assert_eq!(wire.status, 431, "{}", wire.all);
}

/// Content-Length and Transfer-Encoding together (RFC 9112 §6.3): hyper
/// frames the body by the chunked encoding, answers once and closes the
/// connection, so bytes a front proxy might have read as a second request
/// are never served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_length_with_transfer_encoding_cannot_smuggle_a_request() {
    let s = TestServer::start().await;
    let login = login_json("smuggle@example.com", PASSWORD);
    let smuggled = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    // 1: chunked body is the login; Content-Length claims only 5 bytes.
    let mut one = format!(
        "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{login}\r\n0\r\n\r\n",
        login.len()
    );
    one.push_str(smuggled);
    // 2: the reverse: an empty chunked body, with Content-Length covering the
    // "second request" as if it were body.
    let tail = format!("0\r\n\r\n{smuggled}");
    let two = format!(
        "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\nContent-Length: {}\r\n\r\n{tail}",
        tail.len()
    );
    for (name, raw, status, code) in [
        (
            "chunked login, short Content-Length",
            one,
            401,
            "invalid_credentials",
        ),
        (
            "empty chunked body, long Content-Length",
            two,
            400,
            "invalid_request",
        ),
    ] {
        let bytes = exchange(s.addr, raw.into_bytes()).await;
        let wire = Wire::parse(&bytes).expect("a response");
        assert_eq!(wire.status, status, "{name}: {}", wire.all);
        assert_eq!(wire.error().as_deref(), Some(code), "{name}");
        assert!(
            wire.head.contains("connection: close"),
            "{name}: {}",
            wire.all
        );
        assert_eq!(
            wire.responses(),
            1,
            "{name}: the smuggled request was served: {}",
            wire.all
        );
    }
    // Nothing but rate counters and the failed-login event (event streams).
    let stored: Vec<String> = keys(&s)
        .into_iter()
        .filter(|k| !k.starts_with("edgeauth:rate:") && !k.starts_with("edgeauth:events"))
        .collect();
    assert!(stored.is_empty(), "{stored:?}");
}

// ------------------------------------------------------------- slowloris

/// Reads until the server closes the connection (EOF or reset) and returns
/// what arrived; panics when it stays open past [`HANG`].
async fn read_until_closed(stream: &mut (impl AsyncReadExt + Unpin), what: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    };
    if tokio::time::timeout(HANG, read).await.is_err() {
        panic!("{what}: the connection was still open after {HANG:?}");
    }
    out
}

async fn healthz_answers(s: &TestServer) {
    let r = s.get("/healthz").await;
    assert_eq!((r.status, r.text.as_str()), (200, "OK"));
    let r = s.send(s.http.get(s.admin_url("/healthz"))).await;
    assert_eq!(r.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_trickled_head_is_cut_off_by_the_header_read_timeout() {
    let s = TestServer::with(&[("EDGEAUTH_HEADER_READ_TIMEOUT", "1s")]).await;
    // Silent: connects and sends nothing.
    let mut silent = TcpStream::connect(s.addr).await.unwrap();
    // Partial: half a head, then nothing.
    let mut partial = TcpStream::connect(s.addr).await.unwrap();
    partial
        .write_all(b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
        .await
        .unwrap();
    // Trickling: one byte of an endless header every 50 ms, so the
    // connection is never silent; the deadline is on the whole head.
    let trickle = TcpStream::connect(s.addr).await.unwrap();
    let (mut trickle_read, mut trickle_write) = trickle.into_split();
    let writer = tokio::spawn(async move {
        let mut sent = 0usize;
        if trickle_write
            .write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ")
            .await
            .is_err()
        {
            return sent;
        }
        loop {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if trickle_write.write_all(b"a").await.is_err() {
                return sent;
            }
            sent += 1;
        }
    });
    // Many more silent ones; the server keeps answering everyone else.
    let mut crowd = Vec::new();
    for _ in 0..100 {
        crowd.push(TcpStream::connect(s.addr).await.unwrap());
    }
    healthz_answers(&s).await;

    let got = read_until_closed(&mut silent, "silent connection").await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    let got = read_until_closed(&mut partial, "partial head").await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    let got = read_until_closed(&mut trickle_read, "trickled head").await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    let sent = tokio::time::timeout(HANG, writer)
        .await
        .expect("the trickling writer saw the connection close")
        .unwrap();
    // Closed on the deadline, not because the head grew too large.
    assert!(sent < 1000, "{sent} bytes trickled before the cut");
    for (i, mut stream) in crowd.into_iter().enumerate() {
        read_until_closed(&mut stream, &format!("silent connection {i}")).await;
    }
    healthz_answers(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_or_stalled_body_is_cut_off_by_the_request_timeout() {
    let s = TestServer::with(&[
        ("EDGEAUTH_HEADER_READ_TIMEOUT", "1s"),
        ("EDGEAUTH_REQUEST_TIMEOUT", "2s"),
    ])
    .await;
    let head = "POST /auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                Content-Length: 200\r\n\r\n";
    // Trickling: a byte every 50 ms would take 10 s for the whole body.
    let trickle = TcpStream::connect(s.addr).await.unwrap();
    let (mut trickle_read, mut trickle_write) = trickle.into_split();
    trickle_write.write_all(head.as_bytes()).await.unwrap();
    let writer = tokio::spawn(async move {
        for _ in 0..200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if trickle_write.write_all(b" ").await.is_err() {
                return;
            }
        }
    });
    // Stalled: the head, ten bytes of body, then nothing.
    let mut stalled = TcpStream::connect(s.addr).await.unwrap();
    stalled.write_all(head.as_bytes()).await.unwrap();
    stalled.write_all(b"{\"email\": ").await.unwrap();
    healthz_answers(&s).await;

    for (name, got) in [
        (
            "trickled body",
            read_until_closed(&mut trickle_read, "trickled body").await,
        ),
        (
            "stalled body",
            read_until_closed(&mut stalled, "stalled body").await,
        ),
    ] {
        let wire = Wire::parse(&got)
            .unwrap_or_else(|| panic!("{name}: no response: {:?}", String::from_utf8_lossy(&got)));
        assert_eq!(wire.status, 503, "{name}: {}", wire.all);
        assert_eq!(wire.error().as_deref(), Some("unavailable"), "{name}");
        assert!(wire.head.contains("retry-after: "), "{name}: {}", wire.all);
        assert_eq!(wire.responses(), 1, "{name}");
    }
    writer.abort();
    assert!(s.redis.events().is_empty(), "nothing was registered");
    healthz_answers(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_is_closed() {
    let s = TestServer::with(&[("EDGEAUTH_HEADER_READ_TIMEOUT", "1s")]).await;
    let mut stream = TcpStream::connect(s.addr).await.unwrap();
    // Two requests on the connection: keep-alive works ...
    for _ in 0..2 {
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 1024];
        while Wire::parse(&got).is_none_or(|w| !w.body.ends_with("OK")) {
            let n = tokio::time::timeout(HANG, stream.read(&mut buf))
                .await
                .expect("a response")
                .unwrap();
            assert!(n > 0, "closed early: {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
        }
        let wire = Wire::parse(&got).unwrap();
        assert_eq!(wire.status, 200, "{}", wire.all);
        assert!(!wire.head.contains("connection: close"), "{}", wire.all);
    }
    // ... and then the idle connection is closed, without a response: the
    // header read timeout restarts whenever hyper waits for the next head.
    let got = read_until_closed(&mut stream, "idle keep-alive connection").await;
    assert!(got.is_empty(), "{:?}", String::from_utf8_lossy(&got));
    healthz_answers(&s).await;
}

/// The "slow read" variant: pipelined requests whose answers are never read
/// fill the socket buffers until the server's writes block. No hyper timer
/// covers a blocked write; the server's write-stall bound (the request
/// timeout) does, and the connection is dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_its_responses_is_cut_off() {
    let s = TestServer::with(&[
        ("EDGEAUTH_HEADER_READ_TIMEOUT", "1s"),
        ("EDGEAUTH_REQUEST_TIMEOUT", "2s"),
    ])
    .await;
    let stream = TcpStream::connect(s.addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let batch = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".repeat(1000);
        let mut sent = 0usize;
        while write.write_all(&batch).await.is_ok() {
            sent += 1000;
        }
        sent
    });
    healthz_answers(&s).await;
    // The writer only stops when the server drops the connection.
    let sent = tokio::time::timeout(Duration::from_secs(30), writer)
        .await
        .expect("the connection was still open after 30 s")
        .unwrap();
    assert!(
        sent >= 1000,
        "it did pile up answers first ({sent} requests)"
    );
    drop(read);
    healthz_answers(&s).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_connection_limit_new_connections_are_closed_and_probes_still_answer() {
    let s = TestServer::with(&[
        ("EDGEAUTH_MAX_CONNECTIONS", "2"),
        ("EDGEAUTH_HEADER_READ_TIMEOUT", "5s"),
    ])
    .await;
    // Two idle connections take both slots.
    let held: Vec<TcpStream> = vec![
        TcpStream::connect(s.addr).await.unwrap(),
        TcpStream::connect(s.addr).await.unwrap(),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = s.http.get(s.url("/healthz")).send().await;
    assert!(
        refused.is_err(),
        "a third connection was served: {refused:?}"
    );
    // The admin listener is not counted.
    let admin = s.send(s.http.get(s.admin_url("/healthz"))).await;
    assert_eq!(admin.status, 200);
    // Closing one frees its slot.
    drop(held);
    let mut served = false;
    for _ in 0..50 {
        if let Ok(r) = s.http.get(s.url("/healthz")).send().await {
            served = r.status() == 200;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        served,
        "no connection was served after the held ones closed"
    );
}
