//! The bodies of edgeauth's fuzz targets, one `pub fn(&[u8])` each.
//!
//! Shared by two runners so they cannot drift apart:
//! - libFuzzer: `fuzz/fuzz_targets/<name>.rs` (nightly, `cargo fuzz run <name>`);
//! - stable: `tests/integration/fuzz_replay.rs` includes this very file with
//!   `#[path]` and replays the seeds in `fuzz/seeds/<name>/` plus pseudo-random inputs.
//!
//! So this file uses only crates edgeauth itself depends on, and no `libfuzzer_sys`.
//! Every body must return normally for every input: a panic (an `assert!` below, or one
//! inside edgeauth) is a finding. The asserts state properties, not just "no crash". (The
//! `expect`s and `panic!`s are allowed: the includer, tests/integration.rs, allows them.)

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;

use bytes::Bytes;
use edgeauth::api::REFRESH_COOKIE;
use edgeauth::api::account::{Credentials, EmailBody, PasswordChange, ResetBody, TicketBody};
use edgeauth::api::email::ChangeRequest;
use edgeauth::api::mfa::{CodeBody, RecoverBody, TotpBody};
use edgeauth::api::session::{RefreshBody, SessionId};
use edgeauth::api::wire::PasswordConfirmation;
use edgeauth::auth::data_keys::DataKeys;
use edgeauth::auth::jwt::{Claims, JwtError, JwtKeys};
use edgeauth::auth::refresh::{RefreshKeys, RefreshToken};
use edgeauth::config::IpNet;
use edgeauth::http::{MAX_BODY_BYTES, Request};
use hyper::Method;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// A target's body: must return normally for every input.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/` file and `fuzz/seeds/` folder.
pub const TARGETS: [(&str, Target); 4] = [
    ("json_body", json_body),
    ("refresh_token", refresh_token),
    ("jwt", jwt),
    ("cookie", cookie),
];

// ---------------------------------------------------------------------------------------------
// json_body

// The body types are the JSON adapter's own (`edgeauth::api::*`), so a change to a body shape
// is fuzzed as it is, never as a copy that drifted. `Request::json` is the code under test; the
// types only pick the shape.

fn request(headers: HeaderMap, body: Bytes) -> Request {
    Request {
        method: Method::POST,
        path: "/".to_owned(),
        query: None,
        headers,
        body,
        peer: SocketAddr::from(([10, 0, 0, 1], 4000)),
    }
}

/// The input is a POST body declared `application/json`; it is decoded into every body shape
/// the API reads. Properties: a body that decodes is a JSON object (first non-blank byte `{`)
/// in valid UTF-8, every decoded field equals that member of the object, and `json` agrees
/// with `optional_json`.
pub fn json_body(data: &[u8]) {
    // Request::read refuses larger bodies before anything parses them.
    if data.len() > MAX_BODY_BYTES {
        return;
    }
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let req = request(headers, Bytes::copy_from_slice(data));

    let credentials = decode::<Credentials>(&req, data);
    if let Some(c) = &credentials {
        check_fields(data, &[("email", &c.email), ("password", &c.password)]);
    }
    if let Some(b) = decode::<EmailBody>(&req, data) {
        check_fields(data, &[("email", &b.email)]);
    }
    if let Some(b) = decode::<TicketBody>(&req, data) {
        check_fields(data, &[("ticket", &b.ticket)]);
    }
    if let Some(b) = decode::<ResetBody>(&req, data) {
        check_fields(
            data,
            &[("ticket", &b.ticket), ("new_password", &b.new_password)],
        );
    }
    if let Some(b) = decode::<CodeBody>(&req, data) {
        check_fields(data, &[("code", &b.code)]);
    }
    if let Some(b) = decode::<TotpBody>(&req, data) {
        check_fields(data, &[("code", &b.code), ("ticket", &b.ticket)]);
    }
    if let Some(b) = decode::<RecoverBody>(&req, data) {
        check_fields(
            data,
            &[("ticket", &b.ticket), ("recovery_code", &b.recovery_code)],
        );
    }
    if let Some(b) = decode::<RefreshBody>(&req, data) {
        check_fields(data, &[("refresh_token", &b.refresh_token)]);
    }
    if let Some(b) = decode::<PasswordChange>(&req, data) {
        check_fields(
            data,
            &[
                ("old_password", &b.old_password),
                ("new_password", &b.new_password),
            ],
        );
    }
    if let Some(b) = decode::<ChangeRequest>(&req, data) {
        check_fields(data, &[("new_email", &b.new_email)]);
    }
    if let Some(b) = decode::<SessionId>(&req, data) {
        check_fields(data, &[("id", &b.id)]);
    }
    if let Some(PasswordConfirmation {
        password: Some(password),
    }) = decode::<PasswordConfirmation>(&req, data)
    {
        check_fields(data, &[("password", &password)]);
    }
}

/// `json::<T>()`, cross-checked against `optional_json::<T>()`.
fn decode<T: DeserializeOwned>(req: &Request, data: &[u8]) -> Option<T> {
    let required = req.json::<T>().ok();
    let optional = req.optional_json::<T>();
    let blank = data.iter().all(u8::is_ascii_whitespace);
    match (&required, &optional) {
        (Some(_), Ok(Some(_))) => {}
        (None, Ok(None)) => assert!(blank, "optional_json gave None for a non-blank body"),
        (None, Err(_)) => assert!(!blank, "optional_json refused a blank body"),
        (Some(_), _) | (None, Ok(Some(_))) => panic!("json and optional_json disagree"),
    }
    if required.is_some() {
        let first = data.iter().find(|b| !b.is_ascii_whitespace());
        assert_eq!(first, Some(&b'{'), "a non-object body was accepted");
        assert!(
            std::str::from_utf8(data).is_ok(),
            "a body that is not UTF-8 was accepted"
        );
    }
    required
}

/// Every decoded field is the string member of that name in the body, read independently
/// as a `serde_json::Value`.
///
/// Three differences are known and harmless, since all sit in members the API ignores:
/// serde_json does not pair `\uD800`-style surrogate escapes in a member it skips (RFC 8259
/// §8.2 leaves unpaired surrogates to the receiver), it skips a number whose exponent no `f64`
/// can hold (`2.5e3111…`) that `Value` refuses as out of range, and `Value` has its own nesting
/// limit.
fn check_fields(data: &[u8], fields: &[(&str, &str)]) {
    let value: serde_json::Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => {
            let e = e.to_string();
            assert!(
                [
                    "surrogate",
                    "hex escape",
                    "number out of range",
                    "recursion limit",
                ]
                .iter()
                .any(|known| e.contains(known)),
                "accepted body is not JSON to serde_json::Value: {e}"
            );
            return;
        }
    };
    for (name, decoded) in fields {
        assert_eq!(
            value.get(name).and_then(serde_json::Value::as_str),
            Some(*decoded),
            "field {name}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// refresh_token

fn refresh_keys() -> &'static RefreshKeys {
    static KEYS: OnceLock<RefreshKeys> = OnceLock::new();
    KEYS.get_or_init(|| DataKeys::ephemeral().expect("data key").refresh_keys())
}

/// Two parts. (1) The input as a token string: whatever `decode` accepts must be the one
/// spelling `encode` gives (no malleable padding, trailing bits or case). (2) Structured: the
/// first 40 bytes are a token (account, family, generation) made with the ephemeral key, which
/// must round-trip; the rest are mutations applied to its string, and a mutated string that
/// still decodes must be the original, unchanged.
pub fn refresh_token(data: &[u8]) {
    let keys = refresh_keys();
    if let Ok(s) = std::str::from_utf8(data)
        && let Some(t) = keys.decode(s)
    {
        assert_eq!(
            keys.encode(&t),
            s,
            "decode accepted a non-canonical spelling"
        );
    }

    let Some((fields, ops)) = data.split_first_chunk::<40>() else {
        return;
    };
    let mut account = [0u8; 16];
    let mut family = [0u8; 16];
    let mut generation = [0u8; 8];
    account.copy_from_slice(&fields[..16]);
    family.copy_from_slice(&fields[16..32]);
    generation.copy_from_slice(&fields[32..]);
    let token = RefreshToken {
        account_id: Uuid::from_bytes(account),
        family_id: Uuid::from_bytes(family),
        generation: u64::from_be_bytes(generation),
    };
    let s = keys.encode(&token);
    assert_eq!(s.len(), 103);
    assert_eq!(keys.decode(&s), Some(token));
    let mutated = mutate(s.as_bytes(), ops);
    if let Ok(m) = std::str::from_utf8(&mutated)
        && let Some(t) = keys.decode(m)
    {
        assert_eq!(m, s, "a tampered token decoded");
        assert_eq!(t, token);
    }
}

// ---------------------------------------------------------------------------------------------
// jwt

const ISS: &str = "https://auth.example";
const AUD: &str = "api";
const NOW: u64 = 1_700_000_000;

fn jwt_keys() -> &'static JwtKeys {
    static KEYS: OnceLock<JwtKeys> = OnceLock::new();
    KEYS.get_or_init(|| JwtKeys::ephemeral().expect("JWT key"))
}

/// Two parts. (1) The input as a token: nobody but the holder of the (per-process, random)
/// key can make a token that verifies, so every arbitrary string is refused, with and without
/// an audience. (2) Structured: claims read from the input (strings with any characters, any
/// times, issuer and audience right or wrong) are signed, verified against the outcome they
/// must have, then the token is mutated by the rest of the input: any change is refused.
pub fn jwt(data: &[u8]) {
    let keys = jwt_keys();
    if let Ok(s) = std::str::from_utf8(data) {
        assert!(
            keys.verify(s, NOW, ISS, None).is_err(),
            "forged token accepted"
        );
        assert!(
            keys.verify(s, NOW, ISS, Some(AUD)).is_err(),
            "forged token accepted"
        );
    }

    let mut input = Reader(data);
    let flags = input.byte();
    let claims = Claims {
        sub: input.string(),
        sid: input.string(),
        jti: input.string(),
        iat: input.u64(),
        exp: if flags & 1 == 0 {
            NOW.saturating_add(u64::from(input.byte()))
                .saturating_sub(64)
        } else {
            input.u64()
        },
        iss: if flags & 2 == 0 {
            ISS.to_owned()
        } else {
            input.string()
        },
        aud: match (flags >> 2) & 3 {
            0 => None,
            1 => Some(AUD.to_owned()),
            _ => Some(input.string()),
        },
        auth_time: None,
        amr: Vec::new(),
        hasura: None,
    };
    let audience = (flags & 16 != 0).then_some(AUD);
    let token = keys.sign(&claims).expect("sign");
    let expected = if claims.exp <= NOW {
        Err(JwtError::Expired)
    } else if claims.iss != ISS {
        Err(JwtError::Issuer)
    } else if claims.aud.as_deref() != audience {
        Err(JwtError::Audience)
    } else {
        Ok(claims)
    };
    assert_eq!(keys.verify(&token, NOW, ISS, audience), expected);

    let mutated = mutate(token.as_bytes(), input.0);
    if mutated != token.as_bytes()
        && let Ok(m) = std::str::from_utf8(&mutated)
    {
        let result = keys.verify(m, NOW, ISS, audience);
        assert!(result.is_err(), "tampered token accepted: {m}");
    }
}

/// Takes typed values off the front of the input; past the end it yields zeros.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }

    fn u64(&mut self) -> u64 {
        (0..8).fold(0, |n, _| n << 8 | u64::from(self.byte()))
    }

    /// A length byte (mod 48) then that many bytes, lossily as UTF-8: quotes, backslashes,
    /// control characters and non-ASCII all reach the JSON encoder.
    fn string(&mut self) -> String {
        let len = usize::from(self.byte() % 48).min(self.0.len());
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        String::from_utf8_lossy(s).into_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// mutations (refresh_token, jwt)

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Applies up to 16 edits to `token`, each four bytes of `ops`: kind, position (u16 LE, taken
/// modulo the length) and a value. Edits that keep to the base64url alphabet and the `.`
/// separator get tokens past the first decoding step, where the interesting checks are.
fn mutate(token: &[u8], ops: &[u8]) -> Vec<u8> {
    let mut out = token.to_vec();
    for op in ops.chunks_exact(4).take(16) {
        let (kind, value) = (op[0], op[3]);
        let at = usize::from(u16::from_le_bytes([op[1], op[2]])) % (out.len() + 1);
        let in_range = at < out.len();
        match kind % 8 {
            0 if in_range => out[at] ^= value.max(1),
            1 if in_range => out[at] = BASE64URL[usize::from(value % 64)],
            2 => out.insert(at, BASE64URL[usize::from(value % 64)]),
            3 => out.insert(at, value),
            4 if in_range => {
                out.remove(at);
            }
            5 => out.truncate(at),
            6 => out.insert(at, b'.'),
            7 if in_range => out[at] = value,
            _ => {}
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// cookie

/// The input is split at `\n` into header values (a value cannot hold one); those that are not
/// valid `HeaderValue`s are dropped. The first is an `Authorization` header, all of them are
/// `Cookie` headers and `X-Forwarded-For` hops. Checked against plain re-statements of the
/// rules: `bearer_token` (case-insensitive `Bearer `, trimmed, non-empty), `cookie` (first
/// `name=value` pair across headers, pairs split at `;`, both sides trimmed, nameless pairs
/// skipped) and `client_ip` (right-most untrusted hop behind a trusted peer, stopping at the
/// nearest trusted proxy at a hop that does not parse).
pub fn cookie(data: &[u8]) {
    let values: Vec<HeaderValue> = data
        .split(|b| *b == b'\n')
        .filter_map(|line| HeaderValue::from_bytes(line).ok())
        .collect();
    let mut headers = HeaderMap::new();
    if let Some(first) = values.first() {
        headers.insert(AUTHORIZATION, first.clone());
    }
    for v in &values {
        headers.append(COOKIE, v.clone());
        headers.append("x-forwarded-for", v.clone());
    }
    let req = request(headers, Bytes::new());

    let expected_bearer = values.first().and_then(|v| {
        let v = v.to_str().ok()?;
        let (scheme, rest) = v.split_at_checked(7)?;
        let token = rest.trim();
        (scheme.eq_ignore_ascii_case("bearer ") && !token.is_empty()).then_some(token)
    });
    assert_eq!(req.bearer_token(), expected_bearer);

    // The refresh cookie, plus the first name the input spells, so lookups also hit.
    let texts: Vec<&str> = values.iter().filter_map(|v| v.to_str().ok()).collect();
    let mut names = vec![REFRESH_COOKIE.to_owned()];
    if let Some((name, _)) = texts.first().and_then(|t| t.split_once('=')) {
        names.push(name.rsplit(';').next().unwrap_or(name).trim().to_owned());
    }
    for name in &names {
        let expected = texts
            .iter()
            .flat_map(|t| t.split(';'))
            .filter_map(|pair| pair.split_once('='))
            .map(|(n, v)| (n.trim(), v.trim()))
            .find(|(n, _)| !n.is_empty() && n == name)
            .map(|(_, v)| v.to_owned());
        assert_eq!(req.cookie(name), expected, "cookie {name:?}");
    }

    let trusted: Vec<IpNet> = ["10.0.0.0/8", "fd00::/8"]
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect();
    // Walking from the right behind the trusted peer: a trusted hop is
    // passed (and remembered), the first untrusted one is the client, and a
    // hop that does not parse (a non-UTF-8 header counts as one) stops the
    // walk at the nearest trusted proxy.
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(ip));
    let parse = |h: &str| -> Option<IpAddr> {
        let h = h.trim();
        let ip = h
            .parse::<IpAddr>()
            .or_else(|_| h.parse::<SocketAddr>().map(|s| s.ip()))
            .ok()
            .or_else(|| {
                let inner = h.strip_prefix('[')?.strip_suffix(']')?;
                inner.parse::<std::net::Ipv6Addr>().ok().map(IpAddr::V6)
            })?;
        Some(ip.to_canonical())
    };
    let hops: Vec<Option<IpAddr>> = values
        .iter()
        .flat_map(|v| match v.to_str() {
            Ok(t) => t.split(',').map(parse).collect(),
            Err(_) => vec![None],
        })
        .collect();
    let peer = req.peer.ip().to_canonical();
    let mut expected = peer;
    for hop in hops.iter().rev() {
        match hop {
            Some(ip) if is_trusted(*ip) => expected = *ip,
            Some(ip) => {
                expected = *ip;
                break;
            }
            None => break,
        }
    }
    assert_eq!(req.client_ip(&trusted), expected, "{texts:?}");
}
