//! Data keys: the 32-byte secrets shared by all replicas, and the purpose keys derived
//! from them with HKDF-SHA256 (refresh-token MAC, TOTP-secret sealing, recovery-code digests,
//! ticket names in Redis).
//!
//! Several data keys may be configured for rotation: the first makes new values, all are tried
//! when checking, and every value names the key that made it by a 4-byte key id. No I/O: callers
//! read the files and pass their contents.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::{aead, digest, hkdf, hmac};
use std::fmt;

use super::{KeyError, random_bytes, recovery::RecoveryHasher, refresh::RefreshKeys, seal::Sealer};

/// HKDF `info` for the refresh-token MAC key. Versioned so a future format gets a fresh key.
pub(crate) const REFRESH_INFO: &[u8] = b"edgeauth/refresh-token/v1";
/// HKDF `info` for the AES-256-GCM key sealing TOTP secrets at rest.
pub(crate) const TOTP_SEAL_INFO: &[u8] = b"edgeauth/totp-seal/v1";
/// HKDF `info` for the recovery-code HMAC key.
pub(crate) const RECOVERY_INFO: &[u8] = b"edgeauth/recovery-code/v1";
/// HKDF `info` for the HMAC key naming tickets in Redis (the store keeps a MAC of each ticket,
/// never the ticket).
pub(crate) const TICKET_INFO: &[u8] = b"edgeauth/ticket-id/v1";
/// Domain separation for key ids, so an id never equals a prefix of any derived key or MAC.
const KEY_ID_DOMAIN: &[u8] = b"edgeauth/key-id/v1";

struct DataKey {
    id: [u8; 4],
    secret: [u8; 32],
    /// Derived once here, where errors can be reported, so `refresh_keys`, `totp_sealer` and
    /// `recovery_hasher` are infallible.
    refresh: hmac::Key,
    totp_seal: aead::LessSafeKey,
    recovery: hmac::Key,
}

impl DataKey {
    fn new(secret: [u8; 32]) -> Result<Self, KeyError> {
        // Derived from the secret, not from the file's position, so rotation may reorder files
        // and old values still find their key.
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(KEY_ID_DOMAIN);
        ctx.update(&secret);
        let hash = ctx.finish();
        let mut id = [0u8; 4];
        id.copy_from_slice(&hash.as_ref()[..4]);
        let refresh = hmac::Key::new(hmac::HMAC_SHA256, &derive(&secret, REFRESH_INFO)?);
        // Only fails for a key of the wrong length; ours is always 32 bytes.
        let totp_seal =
            aead::UnboundKey::new(&aead::AES_256_GCM, &derive(&secret, TOTP_SEAL_INFO)?)
                .map(aead::LessSafeKey::new)
                .map_err(|_| KeyError("AES-256-GCM key setup failed".into()))?;
        let recovery = hmac::Key::new(hmac::HMAC_SHA256, &derive(&secret, RECOVERY_INFO)?);
        Ok(Self {
            id,
            secret,
            refresh,
            totp_seal,
            recovery,
        })
    }
}

/// HKDF-SHA256 with an empty salt: the input is already 32 uniformly random bytes, so the
/// extract step needs no salt (RFC 5869 §3.1); `info` separates the purposes.
fn derive(secret: &[u8; 32], info: &[u8]) -> Result<[u8; 32], KeyError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(secret);
    let info = [info];
    let mut out = [0u8; 32];
    // Only fails for outputs longer than 255 hash blocks; 32 bytes is one block.
    prk.expand(&info, hkdf::HKDF_SHA256)
        .and_then(|okm| okm.fill(&mut out))
        .map_err(|_| KeyError("HKDF expansion failed".into()))?;
    Ok(out)
}

/// The configured data keys, current first. Never empty: the current key is held apart from the
/// older ones so "the key that signs" needs no runtime check.
pub struct DataKeys {
    current: DataKey,
    previous: Vec<DataKey>,
}

impl fmt::Debug for DataKeys {
    // Key ids only: the secrets must never reach a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self.all().map(|k| hex(&k.id)).collect();
        f.debug_struct("DataKeys").field("ids", &ids).finish()
    }
}

impl DataKeys {
    /// Each item is one file's contents: one line of standard base64 (padding ok, surrounding
    /// whitespace ok) of exactly 32 bytes.
    pub fn from_files(contents: &[String]) -> Result<Self, KeyError> {
        let mut keys = Vec::with_capacity(contents.len());
        for (i, text) in contents.iter().enumerate() {
            let n = i + 1;
            let b64 = text.trim();
            // Accept unpadded input too: people write keys with tools that drop the '='.
            let bytes = STANDARD
                .decode(b64)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
                .map_err(|_| KeyError(format!("data key #{n}: not valid base64")))?;
            let secret: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
                KeyError(format!("data key #{n}: {} bytes, expected 32", b.len()))
            })?;
            let key = DataKey::new(secret)?;
            if keys.iter().any(|k: &DataKey| k.id == key.id) {
                return Err(KeyError(format!("data key #{n}: configured twice")));
            }
            keys.push(key);
        }
        let mut keys = keys.into_iter();
        let current = keys
            .next()
            .ok_or_else(|| KeyError("no data key configured".into()))?;
        Ok(Self {
            current,
            previous: keys.collect(),
        })
    }

    /// One random key, for `--dev` and tests: values made with it die with the process.
    pub fn ephemeral() -> Result<Self, KeyError> {
        Ok(Self {
            current: DataKey::new(random_bytes()?)?,
            previous: Vec::new(),
        })
    }

    /// The refresh-token MAC keys, one per data key, in the same order.
    pub fn refresh_keys(&self) -> RefreshKeys {
        let pair = |k: &DataKey| (k.id, k.refresh.clone());
        RefreshKeys::new(
            pair(&self.current),
            self.previous.iter().map(pair).collect(),
        )
    }

    /// The AES-256-GCM keys sealing TOTP secrets (HKDF info `edgeauth/totp-seal/v1`), one per
    /// data key, in the same order. Cheap, but meant to be built once at startup.
    pub fn totp_sealer(&self) -> Sealer {
        let pair = |k: &DataKey| (k.id, k.totp_seal.clone());
        Sealer::new(
            pair(&self.current),
            self.previous.iter().map(pair).collect(),
        )
    }

    /// The HMAC keys digesting recovery codes (HKDF info `edgeauth/recovery-code/v1`), one per
    /// data key, in the same order.
    pub fn recovery_hasher(&self) -> RecoveryHasher {
        let pair = |k: &DataKey| (k.id, k.recovery.clone());
        RecoveryHasher::new(
            pair(&self.current),
            self.previous.iter().map(pair).collect(),
        )
    }

    /// Purpose keys for `info` (e.g. an AEAD sealing key), current first, each with the id of the
    /// data key it came from. Same derivation as [`DataKeys::refresh_keys`].
    pub fn seal_key_material(&self, info: &'static [u8]) -> Vec<([u8; 4], [u8; 32])> {
        self.all()
            // `derive` cannot fail for a 32-byte output (see there), and the same derivation
            // already succeeded for every key in the constructor.
            .filter_map(|k| derive(&k.secret, info).ok().map(|d| (k.id, d)))
            .collect()
    }

    fn all(&self) -> impl Iterator<Item = &DataKey> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

/// A new data key file's contents: 32 random bytes, standard base64, one line.
pub fn generate_data_key_base64() -> Result<String, KeyError> {
    let secret: [u8; 32] = random_bytes()?;
    let mut out = STANDARD.encode(secret);
    out.push('\n');
    Ok(out)
}

/// Lowercase hex, for key ids in logs, errors and recovery-code digests.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn file(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    #[test]
    fn parses_padded_unpadded_and_whitespace() {
        let padded = file(1);
        let unpadded = padded.trim_end_matches('=').to_string();
        let spaced = format!("  {padded}\r\n");
        for text in [padded, unpadded, spaced] {
            let keys = DataKeys::from_files(&[text]).unwrap();
            assert_eq!(keys.current.secret, [1; 32]);
        }
    }

    #[test]
    fn rejects_bad_files() {
        let short = STANDARD.encode([1u8; 31]);
        let long = STANDARD.encode([1u8; 33]);
        for bad in [
            vec![],
            vec!["not base64!".to_string()],
            vec![short],
            vec![long],
            vec![file(1), file(1)],
        ] {
            assert!(DataKeys::from_files(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn key_id_is_derived_not_positional() {
        let ab = DataKeys::from_files(&[file(1), file(2)]).unwrap();
        let ba = DataKeys::from_files(&[file(2), file(1)]).unwrap();
        assert_eq!(ab.current.id, ba.previous[0].id);
        assert_ne!(ab.current.id, ba.current.id);
    }

    #[test]
    fn derivation_separates_purposes_and_keeps_order() {
        let keys = DataKeys::from_files(&[file(1), file(2)]).unwrap();
        let a = keys.seal_key_material(b"edgeauth/test-a");
        let b = keys.seal_key_material(b"edgeauth/test-b");
        assert_eq!(a.len(), 2);
        assert_eq!(a[0].0, keys.current.id);
        assert_eq!(a[1].0, keys.previous[0].id);
        assert_ne!(a[0].1, b[0].1);
        assert_ne!(a[0].1, a[1].1);
        assert_ne!(a[0].1, [1; 32]);
        // Deterministic: every replica derives the same key.
        assert_eq!(a, keys.seal_key_material(b"edgeauth/test-a"));
    }

    #[test]
    fn generated_key_round_trips_and_debug_hides_secret() {
        let text = generate_data_key_base64().unwrap();
        assert!(text.ends_with('\n'));
        let keys = DataKeys::from_files(std::slice::from_ref(&text)).unwrap();
        let debug = format!("{keys:?}");
        assert!(!debug.contains(text.trim()));
        assert!(debug.contains(&hex(&keys.current.id)));
        assert_ne!(text, generate_data_key_base64().unwrap());
        assert!(DataKeys::ephemeral().is_ok());
    }
}
