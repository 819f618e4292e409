//! One-time MFA recovery codes: generation, the forgiving normalization of what a user
//! types back, and the keyed digests the store keeps instead of the codes.
//!
//! A code is 12 symbols of Crockford base32 (60 random bits), shown lowercase as
//! `xxxx-xxxx-xxxx`. Crockford's alphabet has no I, L, O or U, and reads I/L as 1 and O as 0, so
//! the usual transcription mistakes still match. Digests are HMAC-SHA256 under a key derived from
//! the data key (see `data_keys`): a 60-bit code hashed with plain SHA-256 could be brute-forced
//! offline from a Redis dump; keyed, the dump alone is useless. No I/O.

use ring::hmac;
use std::fmt;

use super::data_keys::hex;
use super::{KeyError, random_bytes};

/// Codes issued per set; a new set replaces the previous one entirely.
pub const CODES_PER_SET: usize = 10;
/// Symbols per code: 12 × 5 bits = 60 bits, above the 50-bit minimum the API promises.
const SYMBOLS: usize = 12;
/// Longest input worth normalizing (a code with generous separators); longer is refused before
/// any work.
const MAX_INPUT_LEN: usize = 64;
/// Crockford base32, uppercase (the canonical, stored form).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A fresh set of [`CODES_PER_SET`] distinct codes, display form (`xxxx-xxxx-xxxx`, lowercase).
/// Digest them via [`normalize_code`] like any user input.
pub fn generate_codes() -> Result<Vec<String>, KeyError> {
    let mut codes: Vec<String> = Vec::with_capacity(CODES_PER_SET);
    while codes.len() < CODES_PER_SET {
        let code = display(u64::from_be_bytes(random_bytes()?));
        // A repeat (odds ~2^-54) would become one set member in the store and work only once.
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    Ok(codes)
}

/// The low 60 bits of `bits` as 12 lowercase symbols in groups of four.
fn display(bits: u64) -> String {
    let mut out = String::with_capacity(SYMBOLS + 2);
    for i in 0..SYMBOLS {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let shift = 5 * (SYMBOLS - 1 - i);
        let symbol = ALPHABET[((bits >> shift) & 0x1f) as usize];
        out.push(char::from(symbol.to_ascii_lowercase()));
    }
    out
}

/// The canonical form of a typed code (12 uppercase Crockford symbols, no separators), or None.
/// Drops '-' and ASCII whitespace, uppercases, maps I/L → 1 and O → 0; anything else outside the
/// alphabet (including U) or a length other than 12 is refused.
pub fn normalize_code(input: &str) -> Option<String> {
    if input.len() > MAX_INPUT_LEN {
        return None;
    }
    let mut out = String::with_capacity(SYMBOLS);
    for c in input.chars() {
        if c == '-' || c.is_ascii_whitespace() {
            continue;
        }
        let c = match c.to_ascii_uppercase() {
            'I' | 'L' => '1',
            'O' => '0',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == SYMBOLS).then_some(out)
}

/// HMAC-SHA256 keys, one per data key, current first. Built by
/// [`super::data_keys::DataKeys::recovery_hasher`]; build it once.
#[derive(Clone)]
pub struct RecoveryHasher {
    current: ([u8; 4], hmac::Key),
    previous: Vec<([u8; 4], hmac::Key)>,
}

impl fmt::Debug for RecoveryHasher {
    // Key ids only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<String> = self.all().map(|(id, _)| hex(id)).collect();
        f.debug_struct("RecoveryHasher").field("ids", &ids).finish()
    }
}

impl RecoveryHasher {
    pub(crate) fn new(current: ([u8; 4], hmac::Key), previous: Vec<([u8; 4], hmac::Key)>) -> Self {
        Self { current, previous }
    }

    /// `"<key id hex>:<HMAC-SHA256 hex>"` under the current key, for storing a new set. Pass
    /// [`normalize_code`]'s output so every spelling of a code has one digest. The key id prefix
    /// keeps digests made under different data keys distinct.
    pub fn digest(&self, normalized: &str) -> String {
        one(&self.current, normalized)
    }

    /// The digest under every configured key, current first: a set stored before a key rotation
    /// still matches. The store removes whichever of these it holds.
    pub fn candidates(&self, normalized: &str) -> Vec<String> {
        self.all().map(|k| one(k, normalized)).collect()
    }

    /// Which configured key made a stored digest, by the key id it starts with. A digest cannot be
    /// recomputed under another key without its code, which only the user holds: this is how
    /// `edgeauth rekey` tells the sets that still need an older key.
    pub fn digest_key(&self, digest: &str) -> DigestKey {
        let id = digest.split_once(':').map_or("", |(id, _)| id);
        if id == hex(&self.current.0) {
            DigestKey::Current
        } else if self.previous.iter().any(|(p, _)| id == hex(p)) {
            DigestKey::Previous
        } else {
            DigestKey::Unknown
        }
    }

    fn all(&self) -> impl Iterator<Item = &([u8; 4], hmac::Key)> {
        std::iter::once(&self.current).chain(&self.previous)
    }
}

/// The key a stored digest was made with, as [`RecoveryHasher::digest_key`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DigestKey {
    /// The first data key.
    Current,
    /// An older data key that is still configured: the code still works.
    Previous,
    /// A key no longer configured (or not a digest of ours): the code can never match.
    Unknown,
}

fn one((id, key): &([u8; 4], hmac::Key), normalized: &str) -> String {
    let tag = hmac::sign(key, normalized.as_bytes());
    format!("{}:{}", hex(id), hex(tag.as_ref()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::auth::data_keys::{DataKeys, RECOVERY_INFO};
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    fn hasher(bytes: &[u8]) -> RecoveryHasher {
        let files: Vec<String> = bytes.iter().map(|b| STANDARD.encode([*b; 32])).collect();
        DataKeys::from_files(&files).unwrap().recovery_hasher()
    }

    #[test]
    fn generated_codes_are_distinct_grouped_and_normalize() {
        let codes = generate_codes().unwrap();
        assert_eq!(codes.len(), CODES_PER_SET);
        for (i, code) in codes.iter().enumerate() {
            assert_eq!(code.len(), 14, "{code}");
            let groups: Vec<&str> = code.split('-').collect();
            assert_eq!(groups.len(), 3, "{code}");
            assert!(groups.iter().all(|g| g.len() == 4));
            assert!(
                code.bytes()
                    .all(|b| b == b'-' || b.is_ascii_digit() || b.is_ascii_lowercase())
            );
            let n = normalize_code(code).unwrap();
            assert_eq!(n, code.replace('-', "").to_ascii_uppercase());
            assert!(!codes[..i].contains(code));
        }
        assert_ne!(codes, generate_codes().unwrap());
    }

    #[test]
    fn display_encodes_60_bits_msb_first() {
        assert_eq!(display(0), "0000-0000-0000");
        assert_eq!(display((1 << 60) - 1), "zzzz-zzzz-zzzz");
        assert_eq!(display(u64::MAX), "zzzz-zzzz-zzzz");
        assert_eq!(display(1), "0000-0000-0001");
        assert_eq!(display(31 << 55), "z000-0000-0000");
        // Symbols 20..=31, most significant first: the last twelve letters of the alphabet.
        assert_eq!(display(0x0a56_d7c6_75be_77df), "mnpq-rstv-wxyz");
        assert_eq!(display(0x0123_4567_89ab_cdef), "28t5-cy4t-qkff");
    }

    #[test]
    fn normalization_table() {
        for (input, want) in [
            ("abcd-efgh-jkmn", Some("ABCDEFGHJKMN")),
            ("ABCDEFGHJKMN", Some("ABCDEFGHJKMN")),
            ("abcd efgh jkmn", Some("ABCDEFGHJKMN")),
            (" abcd - efgh - jkmn\t\n", Some("ABCDEFGHJKMN")),
            ("a-b-c-d-e-f-g-h-j-k-m-n", Some("ABCDEFGHJKMN")),
            ("0000-0000-0000", Some("000000000000")),
            ("oooo-OOOO-0000", Some("000000000000")),
            ("iiii-llll-IL11", Some("111111111111")),
            ("pqrs-tvwx-yz00", Some("PQRSTVWXYZ00")),
            ("", None),
            ("----", None),
            ("abcd-efgh-jkm", None),   // 11 symbols
            ("abcd-efgh-jkmnp", None), // 13 symbols
            ("abcd-efgh-jkmu", None),  // U is not Crockford
            ("abcd_efgh_jkmn", None),  // only '-' and whitespace separate
            ("abcd-efgh-jkm*", None),
            ("abcd-efgh-jkmé", None),
            ("ａbcd-efgh-jkmn", None),      // fullwidth letter
            ("abcd-efgh-jkmn\u{a0}", None), // non-ASCII space
        ] {
            assert_eq!(normalize_code(input).as_deref(), want, "{input:?}");
        }
        let long = format!("{}abcdefghjkmn", " ".repeat(MAX_INPUT_LEN));
        assert_eq!(normalize_code(&long), None);
    }

    #[test]
    fn digest_is_keyed_hex_with_key_id() {
        let h = hasher(&[1]);
        let d = h.digest("ABCDEFGHJKMN");
        let (id, mac) = d.split_once(':').unwrap();
        assert_eq!(id, hex(&h.current.0));
        assert_eq!(mac.len(), 64);
        assert!(
            mac.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(d, h.digest("ABCDEFGHJKMN"));
        assert_ne!(d, h.digest("ABCDEFGHJKMP"));
        // Keyed: not the plain SHA-256, and different under another data key.
        let plain = hex(ring::digest::digest(&ring::digest::SHA256, b"ABCDEFGHJKMN").as_ref());
        assert_ne!(mac, plain);
        assert_ne!(hasher(&[2]).digest("ABCDEFGHJKMN"), d);
        // And it is the HKDF recovery key.
        let data = DataKeys::from_files(&[STANDARD.encode([1u8; 32])]).unwrap();
        let (_, material) = data.seal_key_material(RECOVERY_INFO)[0];
        let key = hmac::Key::new(hmac::HMAC_SHA256, &material);
        assert_eq!(mac, hex(hmac::sign(&key, b"ABCDEFGHJKMN").as_ref()));
    }

    #[test]
    fn digest_key_tells_which_key_made_a_digest() {
        let old = hasher(&[1]);
        let rotated = hasher(&[2, 1]);
        let newer = hasher(&[3]);
        let stored = old.digest("ABCDEFGHJKMN");
        assert_eq!(old.digest_key(&stored), DigestKey::Current);
        assert_eq!(rotated.digest_key(&stored), DigestKey::Previous);
        assert_eq!(newer.digest_key(&stored), DigestKey::Unknown);
        assert_eq!(
            rotated.digest_key(&rotated.digest("ABCDEFGHJKMN")),
            DigestKey::Current
        );
        assert_eq!(rotated.digest_key("no key id"), DigestKey::Unknown);
    }

    #[test]
    fn candidates_cover_every_key_current_first() {
        let old = hasher(&[1]);
        let rotated = hasher(&[2, 1]);
        let stored = old.digest("ABCDEFGHJKMN");
        let c = rotated.candidates("ABCDEFGHJKMN");
        assert_eq!(c.len(), 2);
        assert_eq!(c[0], rotated.digest("ABCDEFGHJKMN"));
        assert_eq!(c[1], stored);
        assert_eq!(old.candidates("ABCDEFGHJKMN"), vec![stored]);
    }
}
