//! Opaque refresh tokens: account id, family id and generation in clear, authenticated
//! by HMAC-SHA256 under a key derived from the data key (see `data_keys`).
//!
//! Layout before base64url (no padding), 77 bytes → 103 characters:
//! `version u8 = 1 | key id [4] | account [16] | family [16] | generation u64 BE | HMAC [32]`.
//! The MAC covers every byte before it, version and key id included, so neither can be swapped.
//! Redis stores no token material: a token is checked here, its generation in the store.
//! No I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use std::fmt;
use uuid::Uuid;

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 4 + 16 + 16 + 8;
const TOKEN_LEN: usize = BODY_LEN + 32;
/// Far above the 103 characters of a real token; longer input is refused before any decoding work.
const MAX_INPUT_LEN: usize = 256;

/// What a refresh token carries: enough to find the session's Redis slot without a lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefreshToken {
    pub account_id: Uuid,
    pub family_id: Uuid,
    pub generation: u64,
}

/// MAC keys, one per data key. The current key signs; every key verifies, chosen by the key id
/// written in the token. Built by [`super::data_keys::DataKeys::refresh_keys`].
#[derive(Clone)]
pub struct RefreshKeys {
    current: ([u8; 4], hmac::Key),
    previous: Vec<([u8; 4], hmac::Key)>,
}

impl fmt::Debug for RefreshKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<[u8; 4]> = self.all().map(|(id, _)| *id).collect();
        f.debug_struct("RefreshKeys").field("ids", &ids).finish()
    }
}

impl RefreshKeys {
    pub(crate) fn new(current: ([u8; 4], hmac::Key), previous: Vec<([u8; 4], hmac::Key)>) -> Self {
        Self { current, previous }
    }

    /// Deterministic: the same token and key always give the same string, so the rotation
    /// grace can hand out "the token for generation c" again without storing it.
    pub fn encode(&self, t: &RefreshToken) -> String {
        let (id, key) = &self.current;
        let mut buf = [0u8; TOKEN_LEN];
        buf[0] = VERSION;
        buf[1..5].copy_from_slice(id);
        buf[5..21].copy_from_slice(t.account_id.as_bytes());
        buf[21..37].copy_from_slice(t.family_id.as_bytes());
        buf[37..BODY_LEN].copy_from_slice(&t.generation.to_be_bytes());
        let tag = hmac::sign(key, &buf[..BODY_LEN]);
        buf[BODY_LEN..].copy_from_slice(tag.as_ref());
        URL_SAFE_NO_PAD.encode(buf)
    }

    /// `None` for anything that is not a token we made: wrong length or encoding, unknown
    /// version or key id, or a bad MAC (checked in constant time by `ring::hmac::verify`).
    pub fn decode(&self, s: &str) -> Option<RefreshToken> {
        if s.len() > MAX_INPUT_LEN {
            return None;
        }
        let mut buf = [0u8; TOKEN_LEN];
        // decode_slice refuses output that would not fit; the exact length is checked below.
        // The engine also rejects padding and non-canonical trailing bits, so each token has
        // exactly one spelling.
        let n = URL_SAFE_NO_PAD.decode_slice(s, &mut buf).ok()?;
        if n != TOKEN_LEN || buf[0] != VERSION {
            return None;
        }
        let (body, tag) = buf.split_at(BODY_LEN);
        let (_, key) = self.all().find(|(id, _)| id[..] == body[1..5])?;
        hmac::verify(key, body, tag).ok()?;
        Some(RefreshToken {
            account_id: Uuid::from_slice(&body[5..21]).ok()?,
            family_id: Uuid::from_slice(&body[21..37]).ok()?,
            generation: u64::from_be_bytes(body[37..BODY_LEN].try_into().ok()?),
        })
    }

    fn all(&self) -> impl Iterator<Item = &([u8; 4], hmac::Key)> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::auth::data_keys::{DataKeys, REFRESH_INFO};
    use base64::engine::general_purpose::STANDARD;

    fn keys(bytes: &[u8]) -> DataKeys {
        let files: Vec<String> = bytes.iter().map(|b| STANDARD.encode([*b; 32])).collect();
        DataKeys::from_files(&files).unwrap()
    }

    fn token() -> RefreshToken {
        RefreshToken {
            account_id: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
            family_id: Uuid::from_u128(0xfedc_ba98_7654_3210_fedc_ba98_7654_3210),
            generation: 0x0102_0304_0506_0708,
        }
    }

    #[test]
    fn round_trip_is_deterministic_and_url_safe() {
        let k = keys(&[1]).refresh_keys();
        let s = k.encode(&token());
        assert_eq!(s.len(), 103);
        assert!(
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_eq!(s, k.encode(&token()));
        assert_eq!(k.decode(&s), Some(token()));
        let next = RefreshToken {
            generation: 0x0102_0304_0506_0709,
            ..token()
        };
        assert_ne!(k.encode(&next), s);
    }

    #[test]
    fn mac_uses_the_hkdf_refresh_key() {
        let data = keys(&[1]);
        let raw = URL_SAFE_NO_PAD
            .decode(data.refresh_keys().encode(&token()))
            .unwrap();
        let (_, derived) = data.seal_key_material(REFRESH_INFO)[0];
        let key = hmac::Key::new(hmac::HMAC_SHA256, &derived);
        assert!(hmac::verify(&key, &raw[..BODY_LEN], &raw[BODY_LEN..]).is_ok());
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let k = keys(&[1]).refresh_keys();
        let s = k.encode(&token());
        // In the binary token: every bit of version, key id, payload and MAC is covered.
        let raw = URL_SAFE_NO_PAD.decode(&s).unwrap();
        for bit in 0..raw.len() * 8 {
            let mut bad = raw.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(
                k.decode(&URL_SAFE_NO_PAD.encode(&bad)),
                None,
                "raw bit {bit}"
            );
        }
        // In the string: includes the unused low bits of the last character.
        for bit in 0..s.len() * 8 {
            let mut bad = s.clone().into_bytes();
            bad[bit / 8] ^= 1 << (bit % 8);
            if let Ok(bad) = String::from_utf8(bad) {
                assert_eq!(k.decode(&bad), None, "string bit {bit}");
            }
        }
    }

    #[test]
    fn rotation_old_keys_verify_unknown_keys_do_not() {
        let old = keys(&[1]).refresh_keys();
        let rotated = keys(&[2, 1]).refresh_keys();
        let s = old.encode(&token());
        assert_eq!(rotated.decode(&s), Some(token()));
        assert_ne!(rotated.encode(&token()), s);
        assert_eq!(keys(&[2]).refresh_keys().decode(&s), None);
    }

    #[test]
    fn malformed_input_is_rejected() {
        let k = keys(&[1]).refresh_keys();
        let s = k.encode(&token());
        let long = "A".repeat(300);
        for bad in [
            "",
            "not a token",
            &s[..102],
            &format!("{s}A"),
            &format!("{s}="),
            &long,
            &URL_SAFE_NO_PAD.encode([0u8; TOKEN_LEN]),
        ] {
            assert_eq!(k.decode(bad), None, "{bad}");
        }
    }
}
