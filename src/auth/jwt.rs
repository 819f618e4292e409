//! Ed25519 JWTs: signing, verification and the JWKS document.
//!
//! Keys are PKCS#8 PEM files; the first signs, all verify and are published, so keys rotate
//! without downtime. A key's `kid` is its RFC 7638 JWK thumbprint, derived from the public key,
//! so every replica and every gateway agree on it without configuration. No I/O and no clock:
//! `verify` takes `now_secs`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::digest;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use std::fmt;

use super::{KeyError, random_bytes};

/// Tokens longer than this are refused before any base64 or JSON work (cheap DoS guard); ours
/// are well under 1 KiB.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// The `typ` header of access tokens (RFC 9068 §2.1), required on verification.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// The claims edgeauth issues. `iat` and `exp` are unix seconds (RFC 7519 NumericDate).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: u64,
    pub exp: u64,
    pub iss: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    /// Unix seconds when the user last proved a credential (password, second factor) for the
    /// session; refreshes keep it. None on tokens issued before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<u64>,
    /// How the user authenticated (RFC 8176 values: `pwd`, `otp`, `mfa`, `hwk`, `swk`); kept
    /// across refreshes. Empty on tokens issued before it was recorded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    /// The Hasura claims object (`EDGEAUTH_JWT_HASURA_CLAIMS`). Issued only;
    /// [`JwtKeys::verify`] never reads it and returns `None`.
    #[serde(
        rename = "https://hasura.io/jwt/claims",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hasura: Option<HasuraClaims>,
}

/// The `https://hasura.io/jwt/claims` object Hasura reads (its default
/// `claims_namespace`): the session variables of the token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HasuraClaims {
    #[serde(rename = "x-hasura-user-id")]
    pub user_id: String,
    #[serde(rename = "x-hasura-default-role")]
    pub default_role: String,
    #[serde(rename = "x-hasura-allowed-roles")]
    pub allowed_roles: Vec<String>,
}

/// Why a token was refused. Callers map every variant to 401; the variant is for logs/metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts, bad JSON, missing claims, or too long.
    Malformed,
    /// Anything but `alg: EdDSA` (`none`, HS256, ...), or a `crit` header we cannot honour.
    Algorithm,
    /// A `typ` other than `at+jwt` (RFC 9068 §2.1), or none: a JWT signed by these keys for
    /// another purpose (an ID token, say) is never an access token.
    Type,
    /// No `kid`, or a `kid` that is none of our keys.
    UnknownKey,
    Signature,
    Expired,
    Issuer,
    Audience,
}

impl fmt::Display for JwtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl std::error::Error for JwtError {}

/// Only the header fields we act on; anything else is ignored.
#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: Option<String>,
    typ: Option<String>,
    /// RFC 7515 §4.1.11: a recipient must reject critical extensions it does not understand,
    /// and we understand none.
    crit: Option<serde_json::Value>,
}

/// Claims as received: `aud` may be a string or an array (RFC 7519 §4.1.3).
#[derive(Deserialize)]
struct ReceivedClaims {
    sub: String,
    sid: String,
    jti: String,
    iat: u64,
    exp: u64,
    iss: String,
    aud: Option<Audience>,
    #[serde(default)]
    auth_time: Option<u64>,
    #[serde(default)]
    amr: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

struct VerifyingKey {
    kid: String,
    x: String,
    public: [u8; 32],
}

/// The signing key pair and every public key that verifies.
pub struct JwtKeys {
    signing: Ed25519KeyPair,
    /// `base64url({"alg":"EdDSA","typ":"at+jwt","kid":…})`, computed once: it never changes.
    header_b64: String,
    /// Current key first, so `signing_kid` is `verifying[0].kid`.
    verifying: Vec<VerifyingKey>,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.verifying.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("JwtKeys").field("kids", &kids).finish()
    }
}

impl JwtKeys {
    /// Each item is one PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`), v1 as written by
    /// `openssl genpkey -algorithm ed25519` and `edgeauth keygen`, or v2 as ring writes. The first
    /// signs; all verify. At least one is required.
    pub fn from_pems(pems: &[String]) -> Result<Self, KeyError> {
        let mut pairs = Vec::with_capacity(pems.len());
        for (i, pem) in pems.iter().enumerate() {
            let n = i + 1;
            let der = pem_to_der(pem).map_err(|e| KeyError(format!("JWT key #{n}: {e}")))?;
            // maybe_unchecked: v1 documents carry no public key to cross-check; ring derives it.
            let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
                .map_err(|e| KeyError(format!("JWT key #{n}: not an Ed25519 PKCS#8 key ({e})")))?;
            pairs.push(pair);
        }
        let mut pairs = pairs.into_iter();
        let signing = pairs
            .next()
            .ok_or_else(|| KeyError("no JWT signing key configured".into()))?;
        let mut verifying = vec![verifying_key(&signing)];
        for (i, pair) in pairs.enumerate() {
            let key = verifying_key(&pair);
            if verifying.iter().any(|k| k.kid == key.kid) {
                return Err(KeyError(format!("JWT key #{}: configured twice", i + 2)));
            }
            verifying.push(key);
        }
        let header = format!(
            r#"{{"alg":"EdDSA","typ":"{ACCESS_TOKEN_TYP}","kid":"{}"}}"#,
            verifying[0].kid
        );
        Ok(Self {
            signing,
            header_b64: URL_SAFE_NO_PAD.encode(header),
            verifying,
        })
    }

    /// A fresh random key, for `--dev` and tests: tokens die with the process.
    pub fn ephemeral() -> Result<Self, KeyError> {
        Self::from_pems(&[generate_pkcs8_pem()?])
    }

    pub fn signing_kid(&self) -> &str {
        // from_pems puts the signing key first and never builds an empty list.
        self.verifying.first().map_or("", |k| k.kid.as_str())
    }

    /// Compact JWS: `header.claims.signature`, each base64url without padding.
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let payload = serde_json::to_vec(claims)
            .map_err(|e| KeyError(format!("cannot serialize JWT claims: {e}")))?;
        let mut token = String::with_capacity(self.header_b64.len() + payload.len() * 4 / 3 + 92);
        token.push_str(&self.header_b64);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(payload, &mut token);
        let signature = self.signing.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    /// Accepts only alg EdDSA and typ `at+jwt` with a known kid, valid signature, exp > now,
    /// iss == issuer, and
    /// aud == audience when Some (aud claim may be a string or an array containing it). Rejects
    /// tokens longer than 8 KiB before decoding.
    ///
    /// The signature is checked before any claim is read. When `audience` is None a token that
    /// carries an `aud` is refused (RFC 7519 §4.1.3: we are not among its audiences). The
    /// returned `aud` is the configured audience that matched.
    pub fn verify(
        &self,
        token: &str,
        now_secs: u64,
        issuer: &str,
        audience: Option<&str>,
    ) -> Result<Claims, JwtError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(JwtError::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(JwtError::Malformed);
        };
        let header: Header = decode_json(header_b64)?;
        if header.alg != "EdDSA" || header.crit.is_some() {
            return Err(JwtError::Algorithm);
        }
        let kid = header.kid.ok_or(JwtError::UnknownKey)?;
        if !header.typ.as_deref().is_some_and(is_access_token_typ) {
            return Err(JwtError::Type);
        }
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| JwtError::Malformed)?;
        // The signing input is the first two parts exactly as received (RFC 7515 §5.2).
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        self.check_signature(&kid, signing_input.as_bytes(), &signature)?;

        let received: ReceivedClaims = decode_json(payload_b64)?;
        if received.exp <= now_secs {
            return Err(JwtError::Expired);
        }
        if received.iss != issuer {
            return Err(JwtError::Issuer);
        }
        let aud = match (audience, received.aud) {
            (None, None) => None,
            (Some(want), Some(Audience::One(got))) if got == want => Some(got),
            (Some(want), Some(Audience::Many(got))) if got.iter().any(|a| a == want) => {
                Some(want.to_owned())
            }
            _ => return Err(JwtError::Audience),
        };
        Ok(Claims {
            sub: received.sub,
            sid: received.sid,
            jti: received.jti,
            iat: received.iat,
            exp: received.exp,
            iss: received.iss,
            aud,
            auth_time: received.auth_time,
            amr: received.amr,
            hasura: None,
        })
    }

    /// `{"keys":[…]}` with every verifying key, current first, for `/.well-known/jwks.json`.
    pub fn jwks_json(&self) -> String {
        let keys: Vec<serde_json::Value> = self
            .verifying
            .iter()
            .map(|k| {
                serde_json::json!({
                    "kty": "OKP", "crv": "Ed25519", "x": k.x, "kid": k.kid,
                    "use": "sig", "alg": "EdDSA",
                })
            })
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    fn check_signature(&self, kid: &str, input: &[u8], signature: &[u8]) -> Result<(), JwtError> {
        let key = self
            .verifying
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(JwtError::UnknownKey)?;
        UnparsedPublicKey::new(&ED25519, &key.public)
            .verify(input, signature)
            .map_err(|_| JwtError::Signature)
    }
}

/// The DER of a PKCS#8 v1 Ed25519 private key (RFC 8410 §7) up to its 32-byte seed:
/// `SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.112 }, OCTET STRING { OCTET STRING (32) } }`.
/// This is exactly what `openssl genpkey -algorithm ed25519` writes.
const PKCS8_V1_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A new signing key file: PKCS#8 v1 (RFC 8410, the form OpenSSL writes) as PEM with
/// 64-character lines. Not ring's own v2 document (RFC 5958, with the public key attached):
/// OpenSSL 3.0 and Python's cryptography refuse that one, and tools must be able to read the
/// keys edgeauth writes.
pub fn generate_pkcs8_pem() -> Result<String, KeyError> {
    let seed: [u8; 32] = random_bytes()?;
    let mut der = Vec::with_capacity(PKCS8_V1_ED25519_PREFIX.len() + seed.len());
    der.extend_from_slice(&PKCS8_V1_ED25519_PREFIX);
    der.extend_from_slice(&seed);
    // Loading it back is the check that the document is one ring (and so edgeauth) accepts.
    Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
        .map_err(|_| KeyError("cannot generate an Ed25519 key".into()))?;
    let doc = der;
    let b64 = STANDARD.encode(&doc);
    let mut pem = String::with_capacity(b64.len() + 64);
    pem.push_str(PEM_BEGIN);
    pem.push('\n');
    // RFC 7468 §2: 64-character lines.
    for (i, c) in b64.chars().enumerate() {
        if i > 0 && i % 64 == 0 {
            pem.push('\n');
        }
        pem.push(c);
    }
    pem.push('\n');
    pem.push_str(PEM_END);
    pem.push('\n');
    Ok(pem)
}

/// 16 random bytes, base64url: unique per token without coordination between replicas.
pub fn random_jti() -> Result<String, KeyError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<16>()?))
}

fn verifying_key(pair: &Ed25519KeyPair) -> VerifyingKey {
    let mut public = [0u8; 32];
    public.copy_from_slice(pair.public_key().as_ref());
    let x = URL_SAFE_NO_PAD.encode(public);
    // RFC 7638: the required members in lexicographic order, no whitespace. `x` is base64url,
    // so it needs no JSON escaping.
    let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes()));
    VerifyingKey { kid, x, public }
}

fn pem_to_der(pem: &str) -> Result<Vec<u8>, &'static str> {
    let start = pem
        .find(PEM_BEGIN)
        .ok_or("no \"-----BEGIN PRIVATE KEY-----\" line (PKCS#8 PEM expected)")?
        + PEM_BEGIN.len();
    let len = pem[start..]
        .find(PEM_END)
        .ok_or("no \"-----END PRIVATE KEY-----\" line")?;
    let b64: String = pem[start..start + len]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    STANDARD
        .decode(b64)
        .map_err(|_| "PEM body is not valid base64")
}

/// RFC 9068 §2.1 and RFC 7515 §4.1.9: `at+jwt`, or the full media type
/// `application/at+jwt`, compared without regard to case.
fn is_access_token_typ(typ: &str) -> bool {
    let typ = typ.to_ascii_lowercase();
    typ == ACCESS_TOKEN_TYP || typ.strip_prefix("application/") == Some(ACCESS_TOKEN_TYP)
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const ISS: &str = "https://auth.example";
    const NOW: u64 = 1_700_000_000;

    /// RFC 8037 Appendix A: a published Ed25519 key, its JWK thumbprint (A.3) and a JWS (A.4).
    /// Ed25519 is deterministic, so signing must reproduce the signature exactly.
    struct Vector {
        d: &'static str,
        x: &'static str,
        thumbprint: &'static str,
        jws: &'static str,
    }

    const RFC8037: &[Vector] = &[Vector {
        d: "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A",
        x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        thumbprint: "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k",
        jws: "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    }];

    /// A PKCS#8 v1 document (the OpenSSL layout) for a raw Ed25519 seed, as PEM.
    fn v1_pem(seed: &[u8]) -> String {
        let mut der = PKCS8_V1_ED25519_PREFIX.to_vec();
        der.extend_from_slice(seed);
        format!("{PEM_BEGIN}\n{}\n{PEM_END}\n", STANDARD.encode(der))
    }

    fn rfc_keys() -> JwtKeys {
        let seed = URL_SAFE_NO_PAD.decode(RFC8037[0].d).unwrap();
        JwtKeys::from_pems(&[v1_pem(&seed)]).unwrap()
    }

    fn claims() -> Claims {
        Claims {
            sub: "0b9f5e7c-4c1e-4a59-9d5b-2b1f0e6f3c11".into(),
            sid: "5d0c7a52-7f0b-4b61-8d7c-2e4f1c9a8b10".into(),
            jti: "jti-1".into(),
            iat: NOW,
            exp: NOW + 900,
            iss: ISS.into(),
            aud: None,
            auth_time: Some(NOW - 60),
            amr: vec!["pwd".into()],
            hasura: None,
        }
    }

    #[test]
    fn hasura_claims_are_issued_and_ignored_on_verify() {
        let keys = rfc_keys();
        let with = Claims {
            hasura: Some(HasuraClaims {
                user_id: claims().sub,
                default_role: "user".into(),
                allowed_roles: vec!["user".into()],
            }),
            ..claims()
        };
        let token = keys.sign(&with).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert_eq!(
            json["https://hasura.io/jwt/claims"],
            serde_json::json!({
                "x-hasura-user-id": claims().sub,
                "x-hasura-default-role": "user",
                "x-hasura-allowed-roles": ["user"],
            })
        );
        assert_eq!(keys.verify(&token, NOW, ISS, None), Ok(claims()));
        let plain = keys.sign(&claims()).unwrap();
        let payload = plain.split('.').nth(1).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        assert!(json.get("https://hasura.io/jwt/claims").is_none(), "{json}");
    }

    /// Builds a token with an arbitrary header and payload, signed by `keys`.
    fn forge(keys: &JwtKeys, header: &str, payload: &str) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let sig = keys.signing.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    #[test]
    fn rfc8037_vectors() {
        for v in RFC8037 {
            let seed = URL_SAFE_NO_PAD.decode(v.d).unwrap();
            let keys = JwtKeys::from_pems(&[v1_pem(&seed)]).unwrap();
            assert_eq!(keys.verifying[0].x, v.x);
            assert_eq!(keys.signing_kid(), v.thumbprint);
            let (input, sig) = v.jws.rsplit_once('.').unwrap();
            let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
            assert_eq!(keys.signing.sign(input.as_bytes()).as_ref(), &sig[..]);
            assert_eq!(
                keys.check_signature(v.thumbprint, input.as_bytes(), &sig),
                Ok(())
            );
            let mut bad = sig.clone();
            bad[0] ^= 1;
            assert_eq!(
                keys.check_signature(v.thumbprint, input.as_bytes(), &bad),
                Err(JwtError::Signature)
            );
            // The vector's header has no kid, so the full verifier refuses it.
            assert_eq!(
                keys.verify(v.jws, NOW, ISS, None),
                Err(JwtError::UnknownKey)
            );
        }
    }

    #[test]
    fn sign_verify_round_trip() {
        let keys = rfc_keys();
        let token = keys.sign(&claims()).unwrap();
        let header: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            header,
            serde_json::json!({"alg": "EdDSA", "typ": "at+jwt", "kid": RFC8037[0].thumbprint})
        );
        assert_eq!(keys.verify(&token, NOW, ISS, None), Ok(claims()));
        // No "aud" member at all when None.
        assert!(!token.contains(&URL_SAFE_NO_PAD.encode("\"aud\"")));
    }

    #[test]
    fn audience_string_or_array() {
        let keys = rfc_keys();
        let kid = keys.signing_kid().to_string();
        let header = format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#);
        let with_aud = |aud: &str| {
            format!(
                r#"{{"sub":"s","sid":"f","jti":"j","iat":{NOW},"exp":{},"iss":"{ISS}","aud":{aud}}}"#,
                NOW + 60
            )
        };
        // (aud claim JSON, configured audience, expected Claims::aud or error)
        type Case = (
            &'static str,
            Option<&'static str>,
            Result<Option<&'static str>, JwtError>,
        );
        let cases: &[Case] = &[
            (r#""api""#, Some("api"), Ok(Some("api"))),
            (r#"["web","api"]"#, Some("api"), Ok(Some("api"))),
            (r#""web""#, Some("api"), Err(JwtError::Audience)),
            (r#"["web"]"#, Some("api"), Err(JwtError::Audience)),
            (r#"[]"#, Some("api"), Err(JwtError::Audience)),
            (r#""api""#, None, Err(JwtError::Audience)),
            (r#"null"#, Some("api"), Err(JwtError::Audience)),
            (r#"null"#, None, Ok(None)),
            (r#"42"#, Some("api"), Err(JwtError::Malformed)),
        ];
        for (aud, want, expected) in cases {
            let token = forge(&keys, &header, &with_aud(aud));
            let got = keys.verify(&token, NOW, ISS, *want).map(|c| c.aud);
            assert_eq!(
                got,
                expected.map(|a| a.map(String::from)),
                "aud {aud} want {want:?}"
            );
        }
        let signed = keys
            .sign(&Claims {
                aud: Some("api".into()),
                ..claims()
            })
            .unwrap();
        assert_eq!(
            keys.verify(&signed, NOW, ISS, Some("api"))
                .unwrap()
                .aud
                .as_deref(),
            Some("api")
        );
        assert_eq!(
            keys.verify(&signed, NOW, ISS, Some("web")),
            Err(JwtError::Audience)
        );
        assert_eq!(
            keys.verify(&keys.sign(&claims()).unwrap(), NOW, ISS, Some("api")),
            Err(JwtError::Audience)
        );
    }

    #[test]
    fn rejections() {
        let keys = rfc_keys();
        let other = JwtKeys::ephemeral().unwrap();
        let kid = keys.signing_kid();
        let good = keys.sign(&claims()).unwrap();
        let payload = serde_json::to_string(&claims()).unwrap();
        let (head, rest) = good.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let tampered_payload = {
            let evil = Claims {
                sub: "someone-else".into(),
                ..claims()
            };
            let p = URL_SAFE_NO_PAD.encode(serde_json::to_string(&evil).unwrap());
            format!("{head}.{p}.{sig}")
        };
        let hs256 = {
            // An HMAC token keyed with our public key: the classic algorithm-confusion attack.
            let h =
                URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","typ":"JWT","kid":"{kid}"}}"#));
            let p = URL_SAFE_NO_PAD.encode(&payload);
            let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &keys.verifying[0].public);
            let tag = ring::hmac::sign(&key, format!("{h}.{p}").as_bytes());
            format!("{h}.{p}.{}", URL_SAFE_NO_PAD.encode(tag))
        };
        let alg_none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"none","kid":"{kid}"}}"#)),
            URL_SAFE_NO_PAD.encode(&payload)
        );
        let cases: Vec<(&str, String, u64, &str, JwtError)> = vec![
            ("alg none", alg_none, NOW, ISS, JwtError::Algorithm),
            ("HS256", hs256, NOW, ISS, JwtError::Algorithm),
            (
                "tampered payload",
                tampered_payload,
                NOW,
                ISS,
                JwtError::Signature,
            ),
            (
                "unknown kid",
                other.sign(&claims()).unwrap(),
                NOW,
                ISS,
                JwtError::UnknownKey,
            ),
            (
                "right kid, wrong key",
                forge(
                    &other,
                    &format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#),
                    &payload,
                ),
                NOW,
                ISS,
                JwtError::Signature,
            ),
            (
                "crit header",
                forge(
                    &keys,
                    &format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}","crit":["x"]}}"#),
                    &payload,
                ),
                NOW,
                ISS,
                JwtError::Algorithm,
            ),
            (
                "typ JWT (not an access token)",
                forge(
                    &keys,
                    &format!(r#"{{"alg":"EdDSA","typ":"JWT","kid":"{kid}"}}"#),
                    &payload,
                ),
                NOW,
                ISS,
                JwtError::Type,
            ),
            (
                "no typ",
                forge(
                    &keys,
                    &format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#),
                    &payload,
                ),
                NOW,
                ISS,
                JwtError::Type,
            ),
            (
                "typ of an ID token",
                forge(
                    &keys,
                    &format!(r#"{{"alg":"EdDSA","typ":"id_token+jwt","kid":"{kid}"}}"#),
                    &payload,
                ),
                NOW,
                ISS,
                JwtError::Type,
            ),
            (
                "expired at exp",
                good.clone(),
                NOW + 900,
                ISS,
                JwtError::Expired,
            ),
            (
                "expired after",
                good.clone(),
                NOW + 10_000,
                ISS,
                JwtError::Expired,
            ),
            (
                "wrong issuer",
                good.clone(),
                NOW,
                "https://evil.example",
                JwtError::Issuer,
            ),
            (
                "two parts",
                format!("{head}.{sig}"),
                NOW,
                ISS,
                JwtError::Malformed,
            ),
            (
                "four parts",
                format!("{good}.x"),
                NOW,
                ISS,
                JwtError::Malformed,
            ),
            ("empty", String::new(), NOW, ISS, JwtError::Malformed),
            ("garbage", "a.b.c".into(), NOW, ISS, JwtError::Malformed),
            (
                "too long",
                format!("{good}{}", "A".repeat(MAX_TOKEN_LEN)),
                NOW,
                ISS,
                JwtError::Malformed,
            ),
            (
                "missing claim",
                forge(
                    &keys,
                    &format!(r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{kid}"}}"#),
                    r#"{"sub":"s"}"#,
                ),
                NOW,
                ISS,
                JwtError::Malformed,
            ),
        ];
        for (name, token, now, iss, expected) in cases {
            assert_eq!(keys.verify(&token, now, iss, None), Err(expected), "{name}");
        }
        assert!(keys.verify(&good, NOW + 899, ISS, None).is_ok());
        // RFC 9068 also allows the full media type, in any case.
        for typ in ["application/at+jwt", "AT+JWT"] {
            let token = forge(
                &keys,
                &format!(r#"{{"alg":"EdDSA","typ":"{typ}","kid":"{kid}"}}"#),
                &payload,
            );
            assert!(keys.verify(&token, NOW, ISS, None).is_ok(), "{typ}");
        }
    }

    #[test]
    fn rotation_first_signs_all_verify_and_publish() {
        let old = generate_pkcs8_pem().unwrap();
        let new = generate_pkcs8_pem().unwrap();
        let before = JwtKeys::from_pems(std::slice::from_ref(&old)).unwrap();
        let after = JwtKeys::from_pems(&[new, old.clone()]).unwrap();
        assert_ne!(before.signing_kid(), after.signing_kid());
        let token = before.sign(&claims()).unwrap();
        assert_eq!(after.verify(&token, NOW, ISS, None), Ok(claims()));

        let jwks: serde_json::Value = serde_json::from_str(&after.jwks_json()).unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys[0]["kid"], after.signing_kid());
        assert_eq!(keys[1]["kid"], before.signing_kid());
        for k in keys {
            assert_eq!(
                (&k["kty"], &k["crv"], &k["use"], &k["alg"]),
                (
                    &"OKP".into(),
                    &"Ed25519".into(),
                    &"sig".into(),
                    &"EdDSA".into()
                )
            );
            assert_eq!(
                URL_SAFE_NO_PAD
                    .decode(k["x"].as_str().unwrap())
                    .unwrap()
                    .len(),
                32
            );
        }
        assert!(JwtKeys::from_pems(&[old.clone(), old]).is_err());
    }

    #[test]
    fn pem_handling() {
        let pem = generate_pkcs8_pem().unwrap();
        let lines: Vec<&str> = pem.lines().collect();
        assert_eq!(lines.first(), Some(&PEM_BEGIN));
        assert_eq!(lines.last(), Some(&PEM_END));
        assert!(lines[1..lines.len() - 1].iter().all(|l| l.len() <= 64));
        assert!(lines[1].len() == 64);
        // CRLF line endings and surrounding text are fine.
        assert!(JwtKeys::from_pems(&[format!("comment\r\n{}", pem.replace('\n', "\r\n"))]).is_ok());
        let bad = [
            vec![],
            vec![pem.replace("PRIVATE KEY", "EC PRIVATE KEY")],
            vec![format!("{PEM_BEGIN}\n!!!\n{PEM_END}\n")],
            vec![format!(
                "{PEM_BEGIN}\n{}\n{PEM_END}\n",
                STANDARD.encode([0u8; 48])
            )],
        ];
        for pems in bad {
            assert!(JwtKeys::from_pems(&pems).is_err(), "{pems:?}");
        }
    }

    #[test]
    fn generated_keys_are_pkcs8_v1_and_load() {
        let pem = generate_pkcs8_pem().unwrap();
        let der = pem_to_der(&pem).unwrap();
        assert_eq!(der.len(), 48);
        assert_eq!(der[..16], PKCS8_V1_ED25519_PREFIX);
        let keys = JwtKeys::from_pems(std::slice::from_ref(&pem)).unwrap();
        // The seed is the whole key: the same seed written by hand gives the same key.
        let again = JwtKeys::from_pems(&[v1_pem(&der[16..])]).unwrap();
        assert_eq!(keys.signing_kid(), again.signing_kid());
        assert_ne!(
            keys.signing_kid(),
            JwtKeys::from_pems(&[generate_pkcs8_pem().unwrap()])
                .unwrap()
                .signing_kid()
        );
    }

    #[test]
    fn jti_is_random_base64url() {
        let a = random_jti().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(&a).unwrap().len(), 16);
        assert_ne!(a, random_jti().unwrap());
    }
}
