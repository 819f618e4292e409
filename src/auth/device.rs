//! Device cookies ("Slow Down Online Guessing Attacks with Device Cookies",
//! OWASP): a browser that signed in to an account with its password gets a
//! cookie naming that email and a random device nonce, authenticated by
//! HMAC-SHA256 under a key derived from the data key. A login presenting a
//! valid device cookie for the email it signs in to is counted against that
//! device's own small budget instead of the email's, so an attacker guessing
//! passwords from elsewhere cannot lock the owner out of their own devices.
//!
//! Layout before base64url (no padding), 53 bytes → 71 characters:
//! `version u8 = 1 | key id [4] | nonce [16] | HMAC [32]`. The MAC covers
//! every byte before it and then the normalized email, which the cookie does
//! not carry: the email comes with the login request. No I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use std::fmt;

use super::{KeyError, random_bytes};

/// HKDF `info` for the device-cookie MAC key (see `data_keys`).
pub const DEVICE_INFO: &[u8] = b"edgeauth/device-cookie/v1";

const VERSION: u8 = 1;
const BODY_LEN: usize = 1 + 4 + 16;
const COOKIE_LEN: usize = BODY_LEN + 32;
/// Far above the 71 characters of a real cookie; longer input is refused unread.
const MAX_INPUT_LEN: usize = 128;

/// A device's random nonce, as base64url: the subject of its rate limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceId(pub String);

/// MAC keys, one per data key, current first (never empty when built from
/// `DataKeys::seal_key_material`).
pub struct DeviceKeys {
    keys: Vec<([u8; 4], hmac::Key)>,
}

impl fmt::Debug for DeviceKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<[u8; 4]> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("DeviceKeys").field("ids", &ids).finish()
    }
}

impl DeviceKeys {
    /// From the derived key material of each data key (`DEVICE_INFO`), current first.
    pub fn new(material: Vec<([u8; 4], [u8; 32])>) -> Self {
        let keys = material
            .into_iter()
            .map(|(id, key)| (id, hmac::Key::new(hmac::HMAC_SHA256, &key)))
            .collect();
        Self { keys }
    }

    /// The cookie value for `email` on the device `device` (a known one, to
    /// renew its cookie), or on a new device.
    pub fn issue(&self, email: &str, device: Option<&DeviceId>) -> Result<String, KeyError> {
        let nonce: [u8; 16] = match device.and_then(|d| decode_nonce(&d.0)) {
            Some(nonce) => nonce,
            None => random_bytes()?,
        };
        let (id, key) = self
            .keys
            .first()
            .ok_or_else(|| KeyError("no device-cookie key".into()))?;
        let mut buf = [0u8; COOKIE_LEN];
        buf[0] = VERSION;
        buf[1..5].copy_from_slice(id);
        buf[5..BODY_LEN].copy_from_slice(&nonce);
        let tag = mac(key, &buf[..BODY_LEN], email);
        buf[BODY_LEN..].copy_from_slice(tag.as_ref());
        Ok(URL_SAFE_NO_PAD.encode(buf))
    }

    /// The device of a cookie value when it was issued by us for exactly
    /// `email`; `None` for anything else (another email, a modified or
    /// forged value, an unknown key), checked in constant time.
    pub fn verify(&self, value: &str, email: &str) -> Option<DeviceId> {
        if value.len() > MAX_INPUT_LEN {
            return None;
        }
        let mut buf = [0u8; COOKIE_LEN];
        let n = URL_SAFE_NO_PAD.decode_slice(value, &mut buf).ok()?;
        if n != COOKIE_LEN || buf[0] != VERSION {
            return None;
        }
        let (body, tag) = buf.split_at(BODY_LEN);
        let (_, key) = self.keys.iter().find(|(id, _)| id[..] == body[1..5])?;
        let mut signed = Vec::with_capacity(BODY_LEN + email.len());
        signed.extend_from_slice(body);
        signed.extend_from_slice(email.as_bytes());
        hmac::verify(key, &signed, tag).ok()?;
        Some(DeviceId(URL_SAFE_NO_PAD.encode(&body[5..BODY_LEN])))
    }
}

fn mac(key: &hmac::Key, body: &[u8], email: &str) -> hmac::Tag {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(body);
    ctx.update(email.as_bytes());
    ctx.sign()
}

fn decode_nonce(id: &str) -> Option<[u8; 16]> {
    let mut nonce = [0u8; 16];
    let n = URL_SAFE_NO_PAD.decode_slice(id, &mut nonce).ok()?;
    (n == 16).then_some(nonce)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn keys(byte: u8) -> DeviceKeys {
        DeviceKeys::new(vec![([byte; 4], [byte; 32])])
    }

    #[test]
    fn bound_to_email_and_key() {
        let k = keys(1);
        let cookie = k.issue("a@example.com", None).unwrap();
        assert_eq!(cookie.len(), 71);
        let device = k.verify(&cookie, "a@example.com").unwrap();
        assert_eq!(k.verify(&cookie, "b@example.com"), None);
        assert_eq!(keys(2).verify(&cookie, "a@example.com"), None);
        // Renewing keeps the device; a new one is another device.
        let renewed = k.issue("a@example.com", Some(&device)).unwrap();
        assert_eq!(k.verify(&renewed, "a@example.com"), Some(device.clone()));
        let other = k.issue("a@example.com", None).unwrap();
        assert_ne!(k.verify(&other, "a@example.com"), Some(device));
    }

    #[test]
    fn every_modification_is_refused() {
        let k = keys(1);
        let cookie = k.issue("a@example.com", None).unwrap();
        let bytes = URL_SAFE_NO_PAD.decode(&cookie).unwrap();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert_eq!(
                k.verify(&URL_SAFE_NO_PAD.encode(&bad), "a@example.com"),
                None,
                "byte {i}"
            );
        }
        for bad in [
            "",
            "x",
            &cookie[1..],
            &format!("{cookie}A"),
            &"A".repeat(500),
        ] {
            assert_eq!(k.verify(bad, "a@example.com"), None, "{bad}");
        }
    }

    #[test]
    fn older_data_keys_still_verify() {
        let old = keys(1);
        let cookie = old.issue("a@example.com", None).unwrap();
        let rotated = DeviceKeys::new(vec![([2; 4], [2; 32]), ([1; 4], [1; 32])]);
        assert!(rotated.verify(&cookie, "a@example.com").is_some());
    }
}
