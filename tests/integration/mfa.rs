//! TOTP multi-factor authentication and recovery codes:
//! the QR code, enable/disable, the second login step, replay, ticket
//! burning, recovery codes, secrets sealed at rest, data keys at start-up
//! and key rotation. Codes come from this file's own RFC 6238 implementation,
//! never from the server's.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use reqwest::header::SET_COOKIE;
use ring::hmac;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{PASSWORD, Redis, Reply, TempDir, TestServer};

// ---------------------------------------------------------------- our own TOTP (RFC 4648 / 4226 / 6238)

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const STEP_MS: u64 = 30_000;

/// RFC 4648 base32, no padding, canonical (unused trailing bits zero).
fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in text.bytes() {
        let value = BASE32_ALPHABET.iter().position(|&a| a == c)? as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    (bits < 5 && buffer == 0).then_some(out)
}

/// RFC 4226 HOTP with HMAC-SHA1 and dynamic truncation.
fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let h = tag.as_ref();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(digits),
        width = digits as usize
    )
}

/// RFC 6238 TOTP, T0 = 0, X = 30 s.
fn totp_at(key: &[u8], unix_secs: u64, digits: u32) -> String {
    hotp(key, unix_secs / 30, digits)
}

fn now_ms() -> u64 {
    edgeauth::clock::now_ms()
}

/// Plays the authenticator app for one secret. The server accepts the
/// steps now-1, now and now+1, each at most once, and only in increasing
/// order (its replay guard keeps the last accepted step), so `fresh` hands
/// out steps in increasing order starting at now-1: three codes without
/// waiting for the clock.
struct Authenticator {
    key: Vec<u8>,
    last: Option<u64>,
}

impl Authenticator {
    fn new(otp_secret: &str) -> Authenticator {
        Authenticator {
            key: base32_decode(otp_secret)
                .unwrap_or_else(|| panic!("otp_secret is not base32: {otp_secret}")),
            last: None,
        }
    }

    fn code_for_step(&self, step: u64) -> String {
        hotp(&self.key, step, 6)
    }

    /// A code of an acceptable step newer than every step handed out
    /// before. Skips now-1 in the last 3 s of a step (it could expire before
    /// the server checks it); waits for the next step only once now+1 is
    /// used up (a few seconds at most, unless a test wants a 4th code).
    async fn fresh(&mut self) -> String {
        loop {
            let ms = now_ms();
            let now = ms / STEP_MS;
            let left = STEP_MS - ms % STEP_MS;
            let mut step = self.last.map_or(now - 1, |last| (last + 1).max(now - 1));
            if step == now - 1 && left < 3_000 {
                step = now;
            }
            if step <= now + 1 {
                self.last = Some(step);
                return self.code_for_step(step);
            }
            tokio::time::sleep(Duration::from_millis(left + 50)).await;
        }
    }

    /// Like `fresh`, but never the step now-1: the code stays acceptable
    /// for at least 30 s, for tests that hold it across other requests.
    async fn fresh_lasting(&mut self) -> String {
        let now = now_ms() / STEP_MS;
        if self.last.is_none_or(|last| last < now - 1) {
            self.last = Some(now - 1);
        }
        self.fresh().await
    }

    /// A well-formed code that matches no step within two of now.
    fn wrong(&self) -> String {
        let now = now_ms() / STEP_MS;
        let near: HashSet<String> = (now - 2..=now + 2).map(|s| self.code_for_step(s)).collect();
        let mut n: u32 = self.code_for_step(now).parse().expect("digits");
        loop {
            n = (n + 1) % 1_000_000;
            let candidate = format!("{n:06}");
            if !near.contains(&candidate) {
                return candidate;
            }
        }
    }
}

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

// ---------------------------------------------------------------- helpers

fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("JWT payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url payload"))
        .expect("JSON payload")
}

/// The account id (`sub`) of a JWT.
fn account_of(jwt: &str) -> String {
    claims(jwt)["sub"].as_str().expect("sub").to_owned()
}

#[track_caller]
fn assert_error(r: &Reply, status: u16, code: &str) {
    assert_eq!(r.status, status, "expected {status} {code}: {}", r.text);
    assert_eq!(r.error(), code, "{}", r.text);
}

/// A login-like success: 200 `{jwt_token, jwt_expires_in}` and a refresh cookie.
#[track_caller]
fn assert_tokens(r: &Reply) -> (String, String) {
    assert_eq!(r.status, 200, "{}", r.text);
    let body = r.json();
    assert!(body["jwt_expires_in"].is_u64(), "{body}");
    assert!(body.get("mfa").is_none(), "{body}");
    (
        r.jwt(),
        r.refresh_cookie()
            .unwrap_or_else(|| panic!("no refresh cookie: {:?}", r.headers)),
    )
}

/// POST /auth/mfa/generate: (otp_secret, image_url).
async fn generate(s: &TestServer, jwt: &str) -> (String, String) {
    let r = s.post_bearer("/auth/mfa/generate", jwt, json!({})).await;
    assert_eq!(r.status, 200, "generate: {}", r.text);
    let body = r.json();
    (
        body["otp_secret"].as_str().expect("otp_secret").to_owned(),
        body["image_url"].as_str().expect("image_url").to_owned(),
    )
}

/// Generates a secret and enables it with one fresh code.
async fn enable_mfa(s: &TestServer, jwt: &str) -> Authenticator {
    let (secret, _) = generate(s, jwt).await;
    let mut auth = Authenticator::new(&secret);
    let code = auth.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/enable", jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 204, "enable: {}", r.text);
    auth
}

/// Logs in an account with MFA on: returns the ticket, checking the
/// response is exactly `{"mfa": true, "ticket": <uuid>}` with no refresh cookie.
async fn mfa_ticket(s: &TestServer, email: &str) -> String {
    let r = s
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_eq!(r.status, 200, "login: {}", r.text);
    let body = r.json();
    let object = body.as_object().expect("object");
    assert_eq!(object.len(), 2, "exactly mfa and ticket: {body}");
    assert_eq!(body["mfa"], json!(true), "{body}");
    let ticket = body["ticket"].as_str().expect("ticket").to_owned();
    let parsed = Uuid::parse_str(&ticket).expect("ticket is a UUID");
    assert_eq!(parsed.get_version_num(), 4, "UUIDv4: {ticket}");
    // No session yet: no refresh cookie (the device cookie of a proven
    // password is fine).
    assert!(
        r.headers
            .get_all(SET_COOKIE)
            .iter()
            .all(|c| c.as_bytes().starts_with(b"edgeauth_device=")),
        "no refresh cookie: {:?}",
        r.headers
    );
    ticket
}

async fn totp(s: &TestServer, ticket: &str, code: &str) -> Reply {
    s.post("/auth/mfa/totp", json!({ "ticket": ticket, "code": code }))
        .await
}

async fn recover(s: &TestServer, ticket: &str, recovery_code: &str) -> Reply {
    s.post(
        "/auth/mfa/recover",
        json!({ "ticket": ticket, "recovery_code": recovery_code }),
    )
    .await
}

/// POST /auth/mfa/recovery-codes with a code; the 10 codes.
async fn recovery_codes(s: &TestServer, jwt: &str, code: &str) -> Vec<String> {
    let r = s
        .post_bearer("/auth/mfa/recovery-codes", jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 200, "recovery-codes: {}", r.text);
    r.json()["recovery_codes"]
        .as_array()
        .expect("recovery_codes array")
        .iter()
        .map(|c| c.as_str().expect("string code").to_owned())
        .collect()
}

/// A well-formed recovery code that is not `code` (one symbol changed).
fn altered(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    chars[0] = if chars[0] == '2' { '3' } else { '2' };
    chars.into_iter().collect()
}

/// POSTs every body to `path` at once (one task each).
async fn concurrent_posts(s: &TestServer, path: &str, bodies: Vec<Value>) -> Vec<Reply> {
    let mut handles = Vec::new();
    for body in bodies {
        let request = s.http.post(s.url(path)).json(&body);
        handles.push(tokio::spawn(async move {
            Reply::read(request.send().await.expect("request")).await
        }));
    }
    let mut replies = Vec::new();
    for h in handles {
        replies.push(h.await.expect("task"));
    }
    replies
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that no rendering of the secret (or of any 8 consecutive bytes
/// or 13 consecutive base32 characters of it) is in Redis.
#[track_caller]
fn assert_secret_absent(redis: &Redis, otp_secret: &str, when: &str) {
    let dump = redis.contents();
    let raw = base32_decode(otp_secret).expect("base32");
    let mut needles: Vec<(String, Vec<u8>)> = vec![
        ("base32".into(), otp_secret.as_bytes().to_vec()),
        (
            "base32 lowercase".into(),
            otp_secret.to_lowercase().into_bytes(),
        ),
        ("raw bytes".into(), raw.clone()),
        ("hex".into(), hex(&raw).into_bytes()),
        ("HEX".into(), hex(&raw).to_uppercase().into_bytes()),
        ("base64".into(), STANDARD.encode(&raw).into_bytes()),
        (
            "base64 unpadded".into(),
            STANDARD_NO_PAD.encode(&raw).into_bytes(),
        ),
        (
            "base64url".into(),
            URL_SAFE_NO_PAD.encode(&raw).into_bytes(),
        ),
    ];
    for window in raw.windows(8) {
        needles.push((format!("8 raw bytes {window:?}"), window.to_vec()));
    }
    for start in 0..=otp_secret.len() - 13 {
        let part = &otp_secret[start..start + 13];
        needles.push((format!("base32 part {part}"), part.as_bytes().to_vec()));
        needles.push((
            format!("base32 part {part} lowercase"),
            part.to_lowercase().into_bytes(),
        ));
    }
    for (what, needle) in needles {
        assert!(
            !crate::support::contains_bytes(&dump, &needle),
            "{when}: Redis holds the TOTP secret ({what})"
        );
    }
    // The harness's own (DUMP-based) rendering agrees.
    assert!(!redis.dump().contains(otp_secret), "{when}: dump()");
}

/// The account's keys (names holding its hash tag).
fn account_keys(redis: &Redis, account: &str) -> Vec<String> {
    let mut keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("*{{{account}}}*"))
        .query(&mut redis.conn())
        .expect("KEYS");
    keys.sort();
    keys
}

fn account_field(redis: &Redis, account: &str, field: &str) -> Option<String> {
    redis::cmd("HGET")
        .arg(format!("edgeauth:{{{account}}}:account"))
        .arg(field)
        .query(&mut redis.conn())
        .expect("HGET")
}

/// Decodes the `data:image/png;base64,…` QR code to its text.
fn qr_text(image_url: &str) -> String {
    let b64 = image_url
        .strip_prefix("data:image/png;base64,")
        .unwrap_or_else(|| panic!("not a PNG data URL: {:.60}", image_url));
    let png = STANDARD.decode(b64).expect("standard base64");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "PNG signature");
    let image = image::load_from_memory(&png)
        .expect("PNG decodes")
        .to_luma8();
    let (w, h) = image.dimensions();
    let mut prepared =
        rqrr::PreparedImage::prepare_from_greyscale(w as usize, h as usize, |x, y| {
            image.get_pixel(x as u32, y as u32).0[0]
        });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code in the image");
    grids[0].decode().expect("QR code decodes").1
}

fn event_users(s: &TestServer, kind: &str) -> Vec<String> {
    s.redis
        .events_of(kind)
        .into_iter()
        .map(|e| e.get("user_id").cloned().unwrap_or_default())
        .collect()
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
    let account = account_of(&jwt);
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
    let r = totp(&s, "not-a-ticket", &code).await;
    assert_error(&r, 400, "invalid_request");
    let r = totp(&s, &Uuid::new_v4().to_string(), &code).await;
    assert_error(&r, 401, "invalid_ticket");
    // Seven malformed requests did not burn the ticket.
    assert_tokens(&totp(&s, &ticket, &code).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_generate_enable_login_totp_replay_disable() {
    let s = TestServer::start().await;
    let email = "flow@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = account_of(&jwt);
    let mut auth = enable_mfa(&s, &jwt).await;

    // Login: a ticket, no tokens, no cookie (checked by mfa_ticket).
    let ticket = mfa_ticket(&s, email).await;
    let r = totp(&s, &ticket, &auth.wrong()).await;
    assert_error(&r, 401, "invalid_code");
    let code = auth.fresh().await;
    let r = totp(&s, &ticket, &code).await;
    let (mfa_jwt, refresh) = assert_tokens(&r);
    assert_eq!(account_of(&mfa_jwt), account);
    let v = s.verify(&mfa_jwt).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.header("x-auth-user-id"), Some(account.clone()));
    let r = s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 200, "the refresh cookie works: {}", r.text);

    // The ticket is spent; the code is spent for the account.
    let r = totp(&s, &ticket, &code).await;
    assert_error(&r, 401, "invalid_ticket");
    let ticket2 = mfa_ticket(&s, email).await;
    let r = totp(&s, &ticket2, &code).await;
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
    let r = totp(&s, &ticket2, &code).await;
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
    let r = totp(&s, &ticket, &code).await;
    assert_error(&r, 401, "invalid_code");
    // A step older than the last accepted one is refused too, even unused.
    let older = auth.code_for_step(auth.last.unwrap() - 1);
    if older != code {
        let r = totp(&s, &ticket, &older).await;
        assert_error(&r, 401, "invalid_code");
    }
    let next = auth.fresh().await;
    assert_tokens(&totp(&s, &ticket, &next).await);
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
    let r = totp(&s, &ticket, &old.fresh().await).await;
    assert_error(&r, 401, "invalid_code");
    assert_tokens(&totp(&s, &ticket, &new.fresh().await).await);
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

// ---------------------------------------------------------------- login tickets

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_wrong_codes_burn_the_ticket() {
    let s = TestServer::start().await;
    let email = "burn@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let mut auth = enable_mfa(&s, &jwt).await;
    let code = auth.fresh_lasting().await;

    let ticket = mfa_ticket(&s, email).await;
    for i in 0..5 {
        let r = totp(&s, &ticket, &auth.wrong()).await;
        assert_error(&r, 401, "invalid_code");
        assert!(r.set_cookie().is_none(), "attempt {i}");
    }
    // The 6th attempt, even with the right code.
    let r = totp(&s, &ticket, &code).await;
    assert_error(&r, 401, "invalid_ticket");
    assert!(r.set_cookie().is_none());

    // Four wrong codes leave the 5th attempt; the right code was not spent.
    let ticket = mfa_ticket(&s, email).await;
    for _ in 0..4 {
        let r = totp(&s, &ticket, &auth.wrong()).await;
        assert_error(&r, 401, "invalid_code");
    }
    assert_tokens(&totp(&s, &ticket, &code).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_totp_with_one_ticket_exactly_one_wins() {
    let s = TestServer::start().await;
    let email = "race@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = account_of(&jwt);
    let mut auth = enable_mfa(&s, &jwt).await;
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
    let (jwt, _) = s.signed_in(email).await;
    let mut auth = enable_mfa(&s, &jwt).await;
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
    let (jwt, _) = s.signed_in(email).await;
    let mut auth = enable_mfa(&s, &jwt).await;
    let code = auth.fresh_lasting().await;

    // A password-reset ticket of this very account (MFA on).
    let r = s
        .post("/auth/account/forgot/request", json!({ "email": email }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let reset = s.redis.ticket("password.reset_requested", email);
    let r = totp(&s, &reset, &code).await;
    assert_error(&r, 401, "invalid_ticket");
    let r = recover(&s, &reset, "aaaa-bbbb-cccc").await;
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
    let r = totp(&s, &activation, &code).await;
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
    let r = s
        .post(
            "/auth/account/forgot",
            json!({ "ticket": login, "new_password": "another password" }),
        )
        .await;
    assert_error(&r, 401, "invalid_ticket");
    let r = s
        .post("/auth/account/activate", json!({ "ticket": login }))
        .await;
    assert_error(&r, 401, "invalid_ticket");
    // The password did not change; the login ticket still opens with the code.
    mfa_ticket(&s, email).await;
    assert_tokens(&totp(&s, &login, &code).await);
    // The reset ticket is still good for its own purpose.
    let r = s
        .post(
            "/auth/account/forgot",
            json!({ "ticket": reset, "new_password": "another password" }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

// ---------------------------------------------------------------- recovery codes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovery_codes_log_in_once_each() {
    let s = TestServer::start().await;
    let email = "recovery@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = account_of(&jwt);
    let mut auth = enable_mfa(&s, &jwt).await;
    let r = s
        .post_bearer(
            "/auth/mfa/recovery-codes",
            &jwt,
            json!({ "code": auth.wrong() }),
        )
        .await;
    assert_error(&r, 401, "invalid_code");

    let codes = recovery_codes(&s, &jwt, &auth.fresh().await).await;
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
    let r = recover(&s, &ticket, &codes[0]).await;
    let (rjwt, _) = assert_tokens(&r);
    assert_eq!(account_of(&rjwt), account);
    assert_eq!(s.verify(&rjwt).await.status, 200);
    assert_eq!(event_users(&s, "mfa.recovery_code_used"), vec![account]);
    // The ticket is spent.
    let r = recover(&s, &ticket, &codes[1]).await;
    assert_error(&r, 401, "invalid_ticket");

    // The same code a second time: 401; another code of the set works on
    // the same ticket.
    let ticket = mfa_ticket(&s, email).await;
    let r = recover(&s, &ticket, &codes[0]).await;
    assert_error(&r, 401, "invalid_code");
    assert_tokens(&recover(&s, &ticket, &codes[1]).await);
    assert_eq!(s.redis.events_of("mfa.recovery_code_used").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_recovery_codes_count_against_the_tickets_attempts() {
    let s = TestServer::start().await;
    let email = "recwrong@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let mut auth = enable_mfa(&s, &jwt).await;
    let codes = recovery_codes(&s, &jwt, &auth.fresh().await).await;

    let ticket = mfa_ticket(&s, email).await;
    for c in &codes[..5] {
        let r = recover(&s, &ticket, &altered(c)).await;
        assert_error(&r, 401, "invalid_code");
    }
    let r = recover(&s, &ticket, &codes[0]).await;
    assert_error(&r, 401, "invalid_ticket");

    // TOTP and recovery attempts share the budget of one ticket.
    let ticket = mfa_ticket(&s, email).await;
    for _ in 0..3 {
        let r = totp(&s, &ticket, &auth.wrong()).await;
        assert_error(&r, 401, "invalid_code");
    }
    for c in &codes[5..7] {
        let r = recover(&s, &ticket, &altered(c)).await;
        assert_error(&r, 401, "invalid_code");
    }
    let r = totp(&s, &ticket, &auth.fresh().await).await;
    assert_error(&r, 401, "invalid_ticket");

    // The burned attempt did not spend the recovery code.
    let ticket = mfa_ticket(&s, email).await;
    assert_tokens(&recover(&s, &ticket, &codes[0]).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_set_of_recovery_codes_invalidates_the_old() {
    let s = TestServer::start().await;
    let email = "recnew@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let mut auth = enable_mfa(&s, &jwt).await;
    let old = recovery_codes(&s, &jwt, &auth.fresh().await).await;
    let new = recovery_codes(&s, &jwt, &auth.fresh().await).await;
    assert!(
        old.iter().all(|c| !new.contains(c)),
        "two sets share a code: {old:?} {new:?}"
    );
    let ticket = mfa_ticket(&s, email).await;
    for c in &old[..3] {
        let r = recover(&s, &ticket, c).await;
        assert_error(&r, 401, "invalid_code");
    }
    assert_tokens(&recover(&s, &ticket, &new[0]).await);
}

// ---------------------------------------------------------------- secrets at rest

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_plaintext_totp_secret() {
    let s = TestServer::start().await;
    let email = "sealed@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = account_of(&jwt);

    let (secret, _) = generate(&s, &jwt).await;
    // The pending secret is stored (sealed) somewhere in the account's keys.
    let keys = account_keys(&s.redis, &account);
    assert!(
        keys.iter().any(|k| k.contains("mfa")),
        "a pending MFA key in {keys:?}"
    );
    assert_secret_absent(&s.redis, &secret, "after generate");

    let mut auth = Authenticator::new(&secret);
    let code = auth.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let sealed = account_field(&s.redis, &account, "mfa").expect("the account's mfa field");
    assert!(sealed.len() >= 40, "sealed value: {sealed}");
    assert_secret_absent(&s.redis, &secret, "after enable");

    // And after an MFA login (ticket records, replay guard, session).
    let ticket = mfa_ticket(&s, email).await;
    assert_tokens(&totp(&s, &ticket, &auth.fresh().await).await);
    assert_secret_absent(&s.redis, &secret, "after an MFA login");

    // Control: the scan does find the secret when it is there, as text
    // in a hash and as raw bytes in a set.
    let raw = base32_decode(&secret).unwrap();
    let planted = [("HSET", secret.to_lowercase().into_bytes()), ("SADD", raw)];
    for (command, value) in planted {
        let key = format!("edgeauth:{{{account}}}:planted");
        let mut cmd = redis::cmd(command);
        cmd.arg(&key);
        if command == "HSET" {
            cmd.arg("field");
        }
        let _: () = cmd.arg(value).query(&mut s.redis.conn()).unwrap();
        let found = std::panic::catch_unwind(|| {
            assert_secret_absent(&s.redis, &secret, "control");
        });
        assert!(
            found.is_err(),
            "{command}: the scan missed a planted secret"
        );
        let _: () = redis::cmd("DEL")
            .arg(&key)
            .query(&mut s.redis.conn())
            .unwrap();
    }
}

/// The same secret sealed under one account does not open under another
/// (the account id is the associated data): copying the sealed value onto
/// a second account must not give that account a working second factor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_secret_copied_to_another_account_does_not_open() {
    let s = TestServer::start().await;
    let (jwt_a, _) = s.signed_in("owner@example.com").await;
    let (jwt_b, _) = s.signed_in("thief@example.com").await;
    let (a, b) = (account_of(&jwt_a), account_of(&jwt_b));
    let mut auth = enable_mfa(&s, &jwt_a).await;
    let sealed = account_field(&s.redis, &a, "mfa").expect("mfa field");
    let _: () = redis::cmd("HSET")
        .arg(format!("edgeauth:{{{b}}}:account"))
        .arg("mfa")
        .arg(&sealed)
        .query(&mut s.redis.conn())
        .expect("HSET");
    let ticket = mfa_ticket(&s, "thief@example.com").await;
    let r = totp(&s, &ticket, &auth.fresh().await).await;
    assert_ne!(r.status, 200, "{}", r.text);
    assert!(r.set_cookie().is_none());
}

// ---------------------------------------------------------------- data keys

/// Runs the real binary's `serve` with `EDGEAUTH_DATA_KEY_FILE` set to
/// `data_key_file`; returns (exit code, stderr). Fails if it keeps running.
async fn serve_exit(data_key_file: &str) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let pem = dir.write(
        "signing.pem",
        &edgeauth::auth::jwt::generate_pkcs8_pem().expect("keygen"),
    );
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgeauth"))
        .arg("serve")
        .env_clear()
        .env("EDGEAUTH_LISTEN", "127.0.0.1:0")
        .env("EDGEAUTH_ADMIN_LISTEN", "127.0.0.1:0")
        .env("EDGEAUTH_REDIS_URL", "redis://127.0.0.1:1")
        .env("EDGEAUTH_JWT_KEY_FILES", &pem)
        .env("EDGEAUTH_DATA_KEY_FILE", data_key_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn edgeauth");
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!("edgeauth serve kept running with DATA_KEY_FILE={data_key_file}")
        })
        .expect("wait");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_data_key_stops_start_up_with_status_2() {
    let dir = TempDir::new();
    let short = STANDARD.encode([7u8; 16]);
    let good = edgeauth::auth::keys::generate_data_key_base64().expect("data key");
    let missing = dir.0.join("no-such.key").display().to_string();
    let cases = [
        ("missing file", missing.clone()),
        (
            "16 bytes",
            dir.write("short.key", &format!("{short}\n"))
                .display()
                .to_string(),
        ),
        (
            "not base64",
            dir.write("text.key", "this is not a key\n")
                .display()
                .to_string(),
        ),
        (
            "good then missing",
            format!("{},{missing}", dir.write("good.key", &good).display()),
        ),
    ];
    for (what, value) in cases {
        let (code, stderr) = serve_exit(&value).await;
        assert_eq!(code, Some(2), "{what}: stderr {stderr}");
        assert!(
            stderr.lines().any(|l| l.contains("EDGEAUTH_DATA_KEY_FILE")),
            "{what}: no line names EDGEAUTH_DATA_KEY_FILE: {stderr}"
        );
        assert!(!stderr.contains(&short), "{what}: the key leaked: {stderr}");
        assert!(
            !stderr.contains(good.trim()),
            "{what}: the key leaked: {stderr}"
        );
    }
}

/// Two data key files (old and new) in a directory that outlives servers.
fn two_keys(dir: &TempDir) -> (String, String) {
    let key = || edgeauth::auth::keys::generate_data_key_base64().expect("data key");
    (
        dir.write("old.key", &key()).display().to_string(),
        dir.write("new.key", &key()).display().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_sealed_under_a_removed_key_fails_closed() {
    let dir = TempDir::new();
    let (old, new) = two_keys(&dir);
    let email = "rotate@example.com";
    let a = TestServer::with(&[("EDGEAUTH_DATA_KEY_FILE", old.as_str())]).await;
    let (jwt, _) = a.signed_in(email).await;
    let account = account_of(&jwt);
    let mut auth = enable_mfa(&a, &jwt).await;
    let redis = a.into_redis().await;

    let b = TestServer::with_redis(redis, &[("EDGEAUTH_DATA_KEY_FILE", new.as_str())]).await;
    let ticket = mfa_ticket(&b, email).await;
    let code = auth.fresh().await;
    for _ in 0..2 {
        let r = totp(&b, &ticket, &code).await;
        assert_ne!(r.status, 200, "opened under another key: {}", r.text);
        assert_error(&r, 500, "internal");
        assert!(r.set_cookie().is_none());
        assert!(!r.text.contains(&account), "no internals: {}", r.text);
    }
    // Recovery codes made under the old key do not open either (none were
    // issued; a guess is just wrong), and nothing else lets the user in.
    let r = recover(&b, &ticket, "aaaa-bbbb-cccc").await;
    assert_ne!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_old_key_still_configured_the_secret_opens() {
    let dir = TempDir::new();
    let (old, new) = two_keys(&dir);
    let email = "rotate2@example.com";
    let a = TestServer::with(&[("EDGEAUTH_DATA_KEY_FILE", old.as_str())]).await;
    let (jwt, _) = a.signed_in(email).await;
    let mut auth = enable_mfa(&a, &jwt).await;
    let redis = a.into_redis().await;

    let both = format!("{new},{old}");
    let c = TestServer::with_redis(redis, &[("EDGEAUTH_DATA_KEY_FILE", both.as_str())]).await;
    let ticket = mfa_ticket(&c, email).await;
    let (cjwt, _) = assert_tokens(&totp(&c, &ticket, &auth.fresh().await).await);
    // Disable opens the old secret too.
    let r = c
        .post_bearer(
            "/auth/mfa/disable",
            &cjwt,
            json!({ "code": auth.fresh().await }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = c
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_tokens(&r);
}

// ---------------------------------------------------------------- account removal

/// Every key name in Redis that contains `needle`.
fn keys_containing(redis: &Redis, needle: &str) -> Vec<String> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query(&mut redis.conn())
        .expect("KEYS");
    keys.into_iter().filter(|k| k.contains(needle)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_account_deletes_its_mfa_state() {
    let s = TestServer::start().await;
    // One account with MFA on, recovery codes and an open login ticket.
    let email = "removed@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = account_of(&jwt);
    let mut auth = enable_mfa(&s, &jwt).await;
    let codes = recovery_codes(&s, &jwt, &auth.fresh().await).await;
    let ticket = mfa_ticket(&s, email).await;
    // One account with only a pending secret.
    let (pending_jwt, _) = s.signed_in("pending@example.com").await;
    let pending_account = account_of(&pending_jwt);
    generate(&s, &pending_jwt).await;
    // Stored under a keyed MAC of the ticket, never the ticket itself.
    assert!(keys_containing(&s.redis, &ticket).is_empty());
    assert!(
        !keys_containing(&s.redis, &format!("{account}}}:ticket:")).is_empty(),
        "the ticket is stored"
    );
    assert!(keys_containing(&s.redis, &pending_account).len() > 1);

    for (jwt, id) in [(&jwt, &account), (&pending_jwt, &pending_account)] {
        let r = s.post_bearer("/auth/account/remove", jwt, json!({})).await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(keys_containing(&s.redis, id), Vec::<String>::new());
    }
    // The ticket's record lived in the account's slot and is gone; a
    // pointer outside the slot (which a single-slot script cannot touch)
    // may remain until its own TTL, but no longer leads anywhere.
    let r = totp(&s, &ticket, &auth.fresh().await).await;
    assert_error(&r, 401, "invalid_ticket");
    let r = recover(&s, &ticket, &codes[0]).await;
    assert_error(&r, 401, "invalid_ticket");
}

/// `EDGEAUTH_MFA_LOGIN_TICKET_TTL` bounds how long the password step's
/// ticket waits for its second factor: within it a wrong code is a wrong
/// code (the ticket lives), past it the ticket is gone whatever the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_ticket_lifetime_is_configurable() {
    let s = TestServer::with(&[("EDGEAUTH_MFA_LOGIN_TICKET_TTL", "1s")]).await;
    let email = "ticket-ttl@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let auth = enable_mfa(&s, &jwt).await;
    let live = mfa_ticket(&s, email).await;
    let r = totp(&s, &live, &auth.wrong()).await;
    assert_error(&r, 401, "invalid_code");
    let expiring = mfa_ticket(&s, email).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let r = totp(&s, &expiring, &auth.wrong()).await;
    assert_error(&r, 401, "invalid_ticket");
}
