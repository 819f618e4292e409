//! Secrets at rest (the TOTP secret in Redis): AES-256-GCM from `ring::aead` under a key derived
//! from the data key (see `data_keys`), so a Redis dump alone yields no usable second factor.
//!
//! Layout before base64url (no padding): `version u8 = 1 | key id [4] | nonce [12] | ciphertext + tag [16]`.
//! The nonce is random (96 bits): a data key seals a few values per account, far below the
//! 2^32 messages per key at which random GCM nonces become a concern. The caller's AAD (the account
//! id) binds a sealed value to its account, so a value copied onto another account fails to
//! open. No I/O.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};
use std::fmt;

use super::data_keys::hex;
use super::{KeyError, random_bytes};

const VERSION: u8 = 1;
/// Version and key id: authenticated too (prepended to the AAD), so neither can be swapped.
const HEADER_LEN: usize = 1 + 4;
const TAG_LEN: usize = 16;
/// A sealed TOTP secret is 53 bytes → 71 characters; anything much longer is not ours and is
/// refused before decoding.
const MAX_INPUT_LEN: usize = 1024;

/// Why a sealed value could not be opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Made under a data key that is no longer configured (hex key id). An operator problem —
    /// a key removed too early — distinct from tampering, so it can be logged as such.
    UnknownKey(String),
    /// Not a value we sealed: bad encoding, version or length, wrong AAD, or failed authentication.
    Corrupt,
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::UnknownKey(id) => write!(f, "sealed with unknown data key {id}"),
            OpenError::Corrupt => f.write_str("sealed value is corrupt or not for this record"),
        }
    }
}

impl std::error::Error for OpenError {}

/// AEAD keys, one per data key. The current key seals; every key opens, chosen by the key id
/// written in the value. Built by [`super::data_keys::DataKeys::totp_sealer`]; build it once.
#[derive(Clone)]
pub struct Sealer {
    current: ([u8; 4], LessSafeKey),
    previous: Vec<([u8; 4], LessSafeKey)>,
}

impl fmt::Debug for Sealer {
    // Key ids only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self.all().map(|(id, _)| hex(id)).collect();
        f.debug_struct("Sealer").field("ids", &ids).finish()
    }
}

impl Sealer {
    pub(crate) fn new(
        current: ([u8; 4], LessSafeKey),
        previous: Vec<([u8; 4], LessSafeKey)>,
    ) -> Self {
        Self { current, previous }
    }

    /// Encrypts under the current key with a fresh random nonce: sealing the same plaintext twice
    /// gives different strings. Fails only if the system RNG does.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, KeyError> {
        let (id, key) = &self.current;
        let nonce: [u8; NONCE_LEN] = random_bytes()?;
        let mut buf = Vec::with_capacity(HEADER_LEN + NONCE_LEN + plaintext.len() + TAG_LEN);
        buf.push(VERSION);
        buf.extend_from_slice(id);
        buf.extend_from_slice(&nonce);
        let mut sealed = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(full_aad(&buf[..HEADER_LEN], aad)),
            &mut sealed,
        )
        // Only fails for plaintexts beyond GCM's ~64 GiB limit.
        .map_err(|_| KeyError("AES-GCM sealing failed".into()))?;
        buf.extend_from_slice(&sealed);
        Ok(URL_SAFE_NO_PAD.encode(buf))
    }

    /// Decrypts with the key named by the value's key id only — never "try every key" — so an
    /// unknown id fails closed as [`OpenError::UnknownKey`] and everything else that does not
    /// authenticate as [`OpenError::Corrupt`].
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, OpenError> {
        if sealed.len() > MAX_INPUT_LEN {
            return Err(OpenError::Corrupt);
        }
        let raw = URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| OpenError::Corrupt)?;
        if raw.len() < HEADER_LEN + NONCE_LEN + TAG_LEN || raw[0] != VERSION {
            return Err(OpenError::Corrupt);
        }
        let (header, rest) = raw.split_at(HEADER_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let (_, key) = self
            .all()
            .find(|(id, _)| id[..] == header[1..])
            .ok_or_else(|| OpenError::UnknownKey(hex(&header[1..])))?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| OpenError::Corrupt)?;
        let mut buf = ciphertext.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(full_aad(header, aad)), &mut buf)
            .map_err(|_| OpenError::Corrupt)?;
        Ok(plain.to_vec())
    }

    /// Whether `sealed` names the current key (the first data key). Says nothing about whether it
    /// opens: call after [`Sealer::open`] succeeded, to decide whether to seal it again under the
    /// current key so older keys can be retired.
    pub fn is_current(&self, sealed: &str) -> bool {
        let head = sealed.len().min(8);
        // 8 base64url characters carry the first 6 bytes: version and key id.
        URL_SAFE_NO_PAD
            .decode(&sealed.as_bytes()[..head])
            .is_ok_and(|raw| raw.len() >= HEADER_LEN && raw[1..HEADER_LEN] == self.current.0)
    }

    fn all(&self) -> impl Iterator<Item = &([u8; 4], LessSafeKey)> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

/// Header then caller AAD. The header has a fixed length, so the concatenation is unambiguous.
fn full_aad(header: &[u8], aad: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(header.len() + aad.len());
    out.extend_from_slice(header);
    out.extend_from_slice(aad);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::auth::data_keys::DataKeys;
    use base64::engine::general_purpose::STANDARD;

    const ACCOUNT: &[u8] = b"01234567-89ab-cdef-0123-456789abcdef";
    const OTHER: &[u8] = b"fedcba98-7654-3210-fedc-ba9876543210";
    const SECRET: &[u8] = b"12345678901234567890";

    fn sealer(bytes: &[u8]) -> Sealer {
        let files: Vec<String> = bytes.iter().map(|b| STANDARD.encode([*b; 32])).collect();
        DataKeys::from_files(&files).unwrap().totp_sealer()
    }

    #[test]
    fn round_trip_with_random_nonces() {
        let s = sealer(&[1]);
        let a = s.seal(SECRET, ACCOUNT).unwrap();
        let b = s.seal(SECRET, ACCOUNT).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 71);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_eq!(s.open(&a, ACCOUNT).unwrap(), SECRET);
        assert_eq!(s.open(&b, ACCOUNT).unwrap(), SECRET);
        let empty = s.seal(b"", b"").unwrap();
        assert_eq!(s.open(&empty, b"").unwrap(), b"");
    }

    #[test]
    fn aad_mismatch_is_corrupt() {
        let s = sealer(&[1]);
        let v = s.seal(SECRET, ACCOUNT).unwrap();
        assert_eq!(s.open(&v, OTHER), Err(OpenError::Corrupt));
        assert_eq!(s.open(&v, b""), Err(OpenError::Corrupt));
    }

    #[test]
    fn unknown_key_is_reported_with_its_id() {
        let old = sealer(&[1]);
        let v = old.seal(SECRET, ACCOUNT).unwrap();
        let err = sealer(&[2]).open(&v, ACCOUNT).unwrap_err();
        let id = hex(&old.current.0);
        assert_eq!(err, OpenError::UnknownKey(id.clone()));
        assert!(err.to_string().contains(&id));
    }

    #[test]
    fn rotation_old_keys_open_new_key_seals() {
        let old = sealer(&[1]);
        let rotated = sealer(&[2, 1]);
        let v = old.seal(SECRET, ACCOUNT).unwrap();
        assert_eq!(rotated.open(&v, ACCOUNT).unwrap(), SECRET);
        let w = rotated.seal(SECRET, ACCOUNT).unwrap();
        assert!(matches!(
            old.open(&w, ACCOUNT),
            Err(OpenError::UnknownKey(_))
        ));
        // Only the named key is tried: relabelling a value with another configured key's id fails.
        let mut raw = URL_SAFE_NO_PAD.decode(&v).unwrap();
        raw[1..5].copy_from_slice(&rotated.current.0);
        assert_eq!(
            rotated.open(&URL_SAFE_NO_PAD.encode(&raw), ACCOUNT),
            Err(OpenError::Corrupt)
        );
    }

    #[test]
    fn is_current_names_the_sealing_key() {
        let old = sealer(&[1]);
        let rotated = sealer(&[2, 1]);
        let v = old.seal(SECRET, ACCOUNT).unwrap();
        let w = rotated.seal(SECRET, ACCOUNT).unwrap();
        assert!(old.is_current(&v));
        assert!(!rotated.is_current(&v));
        assert!(rotated.is_current(&w));
        assert!(!old.is_current(&w));
        for bad in ["", "AQ", "not sealed!", "********"] {
            assert!(!rotated.is_current(bad), "{bad}");
        }
    }

    #[test]
    fn every_flipped_bit_is_rejected() {
        let s = sealer(&[1]);
        let v = s.seal(SECRET, ACCOUNT).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(&v).unwrap();
        for bit in 0..raw.len() * 8 {
            let mut bad = raw.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            let res = s.open(&URL_SAFE_NO_PAD.encode(&bad), ACCOUNT);
            if (8..40).contains(&bit) {
                // A flipped key id names a key we do not have.
                assert!(matches!(res, Err(OpenError::UnknownKey(_))), "bit {bit}");
            } else {
                assert_eq!(res, Err(OpenError::Corrupt), "bit {bit}");
            }
        }
    }

    #[test]
    fn malformed_input_is_corrupt() {
        let s = sealer(&[1]);
        let v = s.seal(SECRET, ACCOUNT).unwrap();
        let long = "A".repeat(MAX_INPUT_LEN + 1);
        for bad in [
            "",
            "not sealed!",
            &v[..v.len() - 1],
            &v[..40],
            &format!("{v}="),
            &long,
            &URL_SAFE_NO_PAD.encode([1u8; HEADER_LEN + NONCE_LEN + TAG_LEN - 1]),
        ] {
            assert_eq!(s.open(bad, ACCOUNT), Err(OpenError::Corrupt), "{bad}");
        }
    }

    #[test]
    fn uses_the_hkdf_totp_seal_key() {
        use crate::auth::data_keys::TOTP_SEAL_INFO;
        use ring::aead::{AES_256_GCM, UnboundKey};
        let data = DataKeys::from_files(&[STANDARD.encode([1u8; 32])]).unwrap();
        let v = data.totp_sealer().seal(SECRET, ACCOUNT).unwrap();
        let (_, material) = data.seal_key_material(TOTP_SEAL_INFO)[0];
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &material).unwrap());
        let mut raw = URL_SAFE_NO_PAD.decode(&v).unwrap();
        let nonce = Nonce::try_assume_unique_for_key(&raw[5..17]).unwrap();
        let aad = full_aad(&raw[..5], ACCOUNT);
        let plain = key
            .open_in_place(nonce, Aad::from(aad), &mut raw[17..])
            .unwrap();
        assert_eq!(plain, SECRET);
    }
}
