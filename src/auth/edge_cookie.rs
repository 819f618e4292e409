//! The edge session cookie's value: an account id and a session family id in
//! clear, authenticated by HMAC-SHA256 under a key derived from the data key
//! for this purpose only (so no refresh token, device cookie or other MACed
//! value is ever accepted as one, nor the reverse).
//!
//! Layout before base64url (no padding), 69 bytes → 92 characters:
//! `version u8 = 1 | key id [4] | account [16] | family [16] | HMAC [32]`.
//! The MAC covers every byte before it. Like a refresh token it holds no
//! secret Redis knows: Redis keeps the family, the cookie proves which one.
//! No I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use std::fmt;
use uuid::Uuid;

/// HKDF `info` for the edge-cookie MAC key (see `data_keys`).
pub const EDGE_COOKIE_INFO: &[u8] = b"edgeauth/edge-session-cookie/v1";

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 4 + 16 + 16;
const COOKIE_LEN: usize = BODY_LEN + 32;
/// Far above the 92 characters of a real value; longer input is refused unread.
const MAX_INPUT_LEN: usize = 160;

/// Which session an edge cookie names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeCookie {
    pub account: Uuid,
    pub family: Uuid,
}

/// MAC keys, one per data key, current first (never empty when built from
/// `DataKeys::seal_key_material`).
pub struct EdgeCookieKeys {
    keys: Vec<([u8; 4], hmac::Key)>,
}

impl fmt::Debug for EdgeCookieKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<[u8; 4]> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("EdgeCookieKeys").field("ids", &ids).finish()
    }
}

impl EdgeCookieKeys {
    /// From the derived key material of each data key (`EDGE_COOKIE_INFO`), current first.
    pub fn new(material: Vec<([u8; 4], [u8; 32])>) -> Self {
        let keys = material
            .into_iter()
            .map(|(id, key)| (id, hmac::Key::new(hmac::HMAC_SHA256, &key)))
            .collect();
        Self { keys }
    }

    /// The cookie value naming `cookie`'s session, MACed under the current key.
    pub fn encode(&self, cookie: &EdgeCookie) -> String {
        let Some((id, key)) = self.keys.first() else {
            return String::new();
        };
        let mut buf = [0u8; COOKIE_LEN];
        buf[0] = VERSION;
        buf[1..5].copy_from_slice(id);
        buf[5..21].copy_from_slice(cookie.account.as_bytes());
        buf[21..BODY_LEN].copy_from_slice(cookie.family.as_bytes());
        let tag = hmac::sign(key, &buf[..BODY_LEN]);
        buf[BODY_LEN..].copy_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// `None` for anything we did not make: wrong length or encoding, unknown
    /// version or key id, or a bad MAC (checked in constant time by `ring`).
    pub fn decode(&self, s: &str) -> Option<EdgeCookie> {
        if s.len() > MAX_INPUT_LEN {
            return None;
        }
        let mut buf = [0u8; COOKIE_LEN];
        let n = URL_SAFE_NO_PAD.decode_slice(s, &mut buf).ok()?;
        if n != COOKIE_LEN || buf[0] != VERSION {
            return None;
        }
        let (body, tag) = buf.split_at(BODY_LEN);
        let (_, key) = self.keys.iter().find(|(id, _)| id[..] == body[1..5])?;
        hmac::verify(key, body, tag).ok()?;
        Some(EdgeCookie {
            account: Uuid::from_slice(&body[5..21]).ok()?,
            family: Uuid::from_slice(&body[21..BODY_LEN]).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::auth::data_keys::DataKeys;
    use base64::engine::general_purpose::STANDARD;

    fn keys(bytes: &[u8]) -> EdgeCookieKeys {
        let files: Vec<String> = bytes.iter().map(|b| STANDARD.encode([*b; 32])).collect();
        EdgeCookieKeys::new(
            DataKeys::from_files(&files)
                .unwrap()
                .seal_key_material(EDGE_COOKIE_INFO),
        )
    }

    fn cookie() -> EdgeCookie {
        EdgeCookie {
            account: Uuid::from_u128(1),
            family: Uuid::from_u128(2),
        }
    }

    #[test]
    fn round_trip_rotation_and_tampering() {
        let k = keys(&[1]);
        let s = k.encode(&cookie());
        assert_eq!(s.len(), 92);
        assert_eq!(k.decode(&s), Some(cookie()));
        assert_eq!(keys(&[2, 1]).decode(&s), Some(cookie()), "old keys verify");
        assert_eq!(keys(&[2]).decode(&s), None, "unknown keys do not");
        let raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
        for bit in 0..raw.len() * 8 {
            let mut bad = raw.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(k.decode(&URL_SAFE_NO_PAD.encode(&bad)), None, "bit {bit}");
        }
        for bad in ["", "x", &s[..91], &format!("{s}A"), &"A".repeat(200)] {
            assert_eq!(k.decode(bad), None);
        }
    }

    #[test]
    fn a_refresh_token_key_never_makes_a_cookie() {
        let data = DataKeys::from_files(&[STANDARD.encode([1u8; 32])]).unwrap();
        let refresh = data.seal_key_material(crate::auth::data_keys::REFRESH_INFO);
        let forged = EdgeCookieKeys::new(refresh).encode(&cookie());
        assert_eq!(keys(&[1]).decode(&forged), None);
    }
}
