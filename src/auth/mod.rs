//! Pure cryptography for edgeauth: data keys and the purpose keys derived from them (`data_keys`),
//! Ed25519 JWTs (`jwt`), opaque refresh tokens (`refresh`), scrypt password hashes (`password`),
//! input validation (`validate`), and the MFA pieces: TOTP (`totp`), AES-GCM sealing of secrets
//! at rest (`seal`), recovery codes (`recovery`) and enrolment QR codes (`qr`), and the device
//! cookies that exempt a known browser from the per-email login lockout (`device`), the edge
//! session cookie (`edge_cookie`), the authentication methods of a session (`amr`), and the
//! sign-in portal's CSRF cookie and form tokens (`csrf`).
//!
//! This module does no I/O, never reads the clock (callers pass `now`) and never imports hyper,
//! redis or tokio: everything here is a plain function of its arguments, so it is unit-tested
//! without a server and benchmarked in `benches/crypto.rs`. All primitives come from `ring`
//! (Ed25519, HMAC, HKDF, SHA-256, AES-GCM, randomness), `scrypt` and `totp-rs`; nothing is
//! hand-rolled.

pub mod amr;
pub mod csrf;
pub mod data_keys;
pub mod device;
pub mod edge_cookie;
pub mod jwt;
pub mod password;
pub mod qr;
pub mod recovery;
pub mod refresh;
pub mod seal;
pub mod totp;
pub mod validate;

use std::fmt;

/// A key could not be loaded, generated or used. The text is for operators (logs, startup
/// errors) and never contains key material.
#[derive(Debug)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

/// Fills `N` bytes from the system CSPRNG. ring's `SystemRandom` is stateless and cheap to make,
/// so there is no shared generator to pass around.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], KeyError> {
    use ring::rand::SecureRandom;
    let mut out = [0u8; N];
    ring::rand::SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| KeyError("the system random number generator failed".into()))?;
    Ok(out)
}
