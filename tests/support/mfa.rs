//! The MFA flows the tests share: generate and enable, the login ticket,
//! the second step, recovery codes, and what the MFA tests check (the exact
//! ticket answer, the QR code, no secret in Redis).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};
use uuid::Uuid;

use super::totp::{Authenticator, base32_decode};
use super::{PASSWORD, Redis, Reply, TestServer};

impl TestServer {
    /// POST /auth/mfa/generate for the holder of `jwt`: the `otp_secret`
    /// (MFA stays off until enabled).
    pub async fn mfa_generate(&self, jwt: &str) -> String {
        let r = self.post_bearer("/auth/mfa/generate", jwt, json!({})).await;
        assert_eq!(r.status, 200, "generate: {}", r.text);
        r.json()["otp_secret"]
            .as_str()
            .expect("otp_secret")
            .to_owned()
    }

    /// Signs `email` in and turns MFA on: the JWT and the authenticator.
    pub async fn signed_in_with_mfa(&self, email: &str) -> (String, Authenticator) {
        let (jwt, _) = self.signed_in(email).await;
        let auth = self.enable_mfa(&jwt).await;
        (jwt, auth)
    }

    /// Generates a secret and enables it with one fresh code.
    pub async fn enable_mfa(&self, jwt: &str) -> Authenticator {
        let mut auth = Authenticator::new(&self.mfa_generate(jwt).await);
        let code = auth.fresh().await;
        self.enable_mfa_with(jwt, &code).await;
        auth
    }

    /// POST /auth/mfa/enable with `code`, which must succeed (204).
    pub async fn enable_mfa_with(&self, jwt: &str, code: &str) {
        let r = self
            .post_bearer("/auth/mfa/enable", jwt, json!({ "code": code }))
            .await;
        assert_eq!(r.status, 204, "enable: {}", r.text);
    }

    /// A password login of an account with MFA on: its ticket.
    pub async fn mfa_login_ticket(&self, email: &str, password: &str) -> String {
        let r = self
            .post("/auth/login", json!({"email": email, "password": password}))
            .await;
        assert_eq!(r.status, 200, "login: {}", r.text);
        assert_eq!(r.json()["mfa"], json!(true), "{}", r.text);
        r.json()["ticket"].as_str().expect("ticket").to_owned()
    }

    /// The second login step: POST /auth/mfa/totp.
    pub async fn mfa_totp(&self, ticket: &str, code: &str) -> Reply {
        self.post("/auth/mfa/totp", json!({ "ticket": ticket, "code": code }))
            .await
    }

    /// The second login step with a recovery code: POST /auth/mfa/recover.
    pub async fn mfa_recover(&self, ticket: &str, recovery_code: &str) -> Reply {
        self.post(
            "/auth/mfa/recover",
            json!({ "ticket": ticket, "recovery_code": recovery_code }),
        )
        .await
    }

    /// POST /auth/mfa/recovery-codes with a code; the 10 codes.
    pub async fn recovery_codes(&self, jwt: &str, code: &str) -> Vec<String> {
        let r = self
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
}

/// A login-like success: 200 `{jwt_token, jwt_expires_in}` and a refresh cookie.
#[track_caller]
pub fn assert_tokens(r: &Reply) -> (String, String) {
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
pub async fn generate(s: &TestServer, jwt: &str) -> (String, String) {
    let r = s.post_bearer("/auth/mfa/generate", jwt, json!({})).await;
    assert_eq!(r.status, 200, "generate: {}", r.text);
    let body = r.json();
    (
        body["otp_secret"].as_str().expect("otp_secret").to_owned(),
        body["image_url"].as_str().expect("image_url").to_owned(),
    )
}

/// Logs in an account with MFA on: returns the ticket, checking the
/// response is exactly `{"mfa": true, "ticket": <uuid>}` with no refresh cookie.
pub async fn mfa_ticket(s: &TestServer, email: &str) -> String {
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

/// A well-formed recovery code that is not `code` (one symbol changed).
pub fn altered(code: &str) -> String {
    let mut chars: Vec<char> = code.chars().collect();
    chars[0] = if chars[0] == '2' { '3' } else { '2' };
    chars.into_iter().collect()
}

/// POSTs every body to `path` at once (one task each).
pub async fn concurrent_posts(s: &TestServer, path: &str, bodies: Vec<Value>) -> Vec<Reply> {
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

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Asserts that no rendering of the secret (or of any 8 consecutive bytes
/// or 13 consecutive base32 characters of it) is in Redis.
#[track_caller]
pub fn assert_secret_absent(redis: &Redis, otp_secret: &str, when: &str) {
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

/// Decodes the `data:image/png;base64,…` QR code to its text.
pub fn qr_text(image_url: &str) -> String {
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

pub fn event_users(s: &TestServer, kind: &str) -> Vec<String> {
    s.redis
        .events_of(kind)
        .into_iter()
        .map(|e| e.get("user_id").cloned().unwrap_or_default())
        .collect()
}
