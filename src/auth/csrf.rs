//! CSRF tokens of the sign-in portal: a pre-session cookie holding a random
//! nonce and its MAC, and a form token derived from that nonce, both
//! HMAC-SHA256 under a key derived from the data key (`CSRF_INFO`).
//!
//! Cookie value (base64url, no padding): `key id [4] | nonce [16] |
//! HMAC("cookie" | nonce) [32]`. Form token: base64url of
//! `HMAC("form" | nonce)`. Only this server can make either, so a cookie
//! planted by another site (or a sibling subdomain) has no token that goes
//! with it, and a token is worth nothing without its own cookie. Checks are
//! constant time (`ring::hmac::verify`). No I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use std::fmt;

use super::{KeyError, random_bytes};

/// HKDF `info` for the portal's CSRF MAC key (see `data_keys`).
pub const CSRF_INFO: &[u8] = b"edgeauth/portal-csrf/v1";

const COOKIE_LABEL: &[u8] = b"edgeauth-csrf-cookie\0";
const FORM_LABEL: &[u8] = b"edgeauth-csrf-form\0";
const NONCE_LEN: usize = 16;
const COOKIE_LEN: usize = 4 + NONCE_LEN + 32;
/// Far above a real cookie or token; longer input is refused unread.
const MAX_INPUT_LEN: usize = 128;

/// MAC keys, one per data key, current first (never empty when built from
/// `DataKeys::seal_key_material`).
pub struct CsrfKeys {
    keys: Vec<([u8; 4], hmac::Key)>,
}

impl fmt::Debug for CsrfKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<[u8; 4]> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("CsrfKeys").field("ids", &ids).finish()
    }
}

/// A checked CSRF cookie: the nonce and the key that made it.
#[derive(Debug, Clone)]
pub struct CsrfCookie {
    key: usize,
    nonce: [u8; NONCE_LEN],
}

fn tagged(label: &[u8], nonce: &[u8]) -> Vec<u8> {
    [label, nonce].concat()
}

impl CsrfKeys {
    /// From the derived key material of each data key (`CSRF_INFO`), current first.
    pub fn new(material: Vec<([u8; 4], [u8; 32])>) -> Self {
        let keys = material
            .into_iter()
            .map(|(id, key)| (id, hmac::Key::new(hmac::HMAC_SHA256, &key)))
            .collect();
        Self { keys }
    }

    /// A new cookie value (a fresh random nonce under the current key).
    pub fn issue(&self) -> Result<(String, CsrfCookie), KeyError> {
        let (id, key) = self
            .keys
            .first()
            .ok_or_else(|| KeyError("no CSRF key".into()))?;
        let nonce: [u8; NONCE_LEN] = random_bytes()?;
        let tag = hmac::sign(key, &tagged(COOKIE_LABEL, &nonce));
        let value = [id.as_slice(), &nonce, tag.as_ref()].concat();
        Ok((URL_SAFE_NO_PAD.encode(value), CsrfCookie { key: 0, nonce }))
    }

    /// The cookie a value stands for, when this server made it.
    pub fn open(&self, value: &str) -> Option<CsrfCookie> {
        if value.len() > MAX_INPUT_LEN {
            return None;
        }
        let bytes = URL_SAFE_NO_PAD.decode(value.trim()).ok()?;
        if bytes.len() != COOKIE_LEN {
            return None;
        }
        let (id, rest) = bytes.split_at(4);
        let (nonce, tag) = rest.split_at(NONCE_LEN);
        let key = self.keys.iter().position(|(k, _)| k.as_slice() == id)?;
        hmac::verify(&self.keys[key].1, &tagged(COOKIE_LABEL, nonce), tag).ok()?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
        Some(CsrfCookie { key, nonce })
    }

    /// The form token that goes with `cookie`.
    pub fn token(&self, cookie: &CsrfCookie) -> String {
        match self.keys.get(cookie.key) {
            Some((_, key)) => {
                URL_SAFE_NO_PAD.encode(hmac::sign(key, &tagged(FORM_LABEL, &cookie.nonce)))
            }
            None => String::new(),
        }
    }

    /// Whether `token` is the form token of `cookie` (constant time).
    pub fn check(&self, cookie: &CsrfCookie, token: &str) -> bool {
        if token.len() > MAX_INPUT_LEN {
            return false;
        }
        let (Some((_, key)), Ok(tag)) = (
            self.keys.get(cookie.key),
            URL_SAFE_NO_PAD.decode(token.trim()),
        ) else {
            return false;
        };
        hmac::verify(key, &tagged(FORM_LABEL, &cookie.nonce), &tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn keys(byte: u8) -> CsrfKeys {
        CsrfKeys::new(vec![([byte; 4], [byte; 32])])
    }

    #[test]
    fn a_token_matches_only_its_own_cookie() {
        let k = keys(1);
        let (value, cookie) = k.issue().unwrap();
        let opened = k.open(&value).unwrap();
        let token = k.token(&opened);
        assert_eq!(token, k.token(&cookie));
        assert!(k.check(&opened, &token));
        let (_, other) = k.issue().unwrap();
        assert!(!k.check(&other, &token));
        assert!(!k.check(&opened, ""));
        assert!(!k.check(&opened, "not base64!"));
        assert!(!k.check(&opened, &value));
    }

    #[test]
    fn forged_or_foreign_cookies_do_not_open() {
        let k = keys(1);
        let (value, _) = k.issue().unwrap();
        assert!(keys(2).open(&value).is_none());
        let mut bytes = URL_SAFE_NO_PAD.decode(&value).unwrap();
        bytes[10] ^= 1;
        assert!(k.open(&URL_SAFE_NO_PAD.encode(&bytes)).is_none());
        for bad in ["", "abc", &"A".repeat(200)] {
            assert!(k.open(bad).is_none(), "{bad}");
        }
        // An older key still opens its cookies after a rotation.
        let rotated = CsrfKeys::new(vec![([2; 4], [2; 32]), ([1; 4], [1; 32])]);
        let opened = rotated.open(&value).unwrap();
        assert!(rotated.check(&opened, &k.token(&k.open(&value).unwrap())));
    }
}
