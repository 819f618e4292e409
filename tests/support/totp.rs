//! The tests' own authenticator app: RFC 4648 base32, RFC 4226 HOTP and
//! RFC 6238 TOTP written here (checked against the RFCs' vectors in
//! `mfa_enrolment`), never the server's implementation.

use std::collections::HashSet;
use std::time::Duration;

use ring::hmac;

use super::now_ms;

pub const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
/// The TOTP time step.
pub const STEP_MS: u64 = 30_000;

/// RFC 4648 base32, no padding, canonical (unused trailing bits zero).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut buffer, mut bits) = (0u64, 0u32);
    for c in text.bytes() {
        let value = BASE32_ALPHABET.iter().position(|&a| a == c)? as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    (bits < 5 && buffer == 0).then_some(out)
}

/// The key of an `otp_secret` (panics when it is not base32).
pub fn secret_key(otp_secret: &str) -> Vec<u8> {
    base32_decode(otp_secret).unwrap_or_else(|| panic!("otp_secret is not base32: {otp_secret}"))
}

/// RFC 4226 HOTP with HMAC-SHA1 and dynamic truncation.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let h = tag.as_ref();
    let offset = usize::from(h[h.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        h[offset] & 0x7f,
        h[offset + 1],
        h[offset + 2],
        h[offset + 3],
    ]);
    format!(
        "{:0width$}",
        binary % 10u32.pow(digits),
        width = digits as usize
    )
}

/// RFC 6238 TOTP, T0 = 0, X = 30 s.
pub fn totp_at(key: &[u8], unix_secs: u64, digits: u32) -> String {
    hotp(key, unix_secs / 30, digits)
}

/// The 6-digit code of time step `step`.
pub fn code(key: &[u8], step: u64) -> String {
    hotp(key, step, 6)
}

/// The current time step.
pub fn step_now() -> u64 {
    now_ms() / STEP_MS
}

/// Plays the authenticator app for one secret. The server accepts the
/// steps now-1, now and now+1, each at most once, and only in increasing
/// order (its replay guard keeps the last accepted step), so `fresh` hands
/// out steps in increasing order starting at now-1: three codes without
/// waiting for the clock.
pub struct Authenticator {
    pub key: Vec<u8>,
    pub last: Option<u64>,
}

impl Authenticator {
    pub fn new(otp_secret: &str) -> Authenticator {
        Authenticator {
            key: secret_key(otp_secret),
            last: None,
        }
    }

    pub fn code_for_step(&self, step: u64) -> String {
        code(&self.key, step)
    }

    /// A code of an acceptable step newer than every step handed out
    /// before. Skips now-1 in the last 3 s of a step (it could expire before
    /// the server checks it); waits for the next step only once now+1 is
    /// used up (a few seconds at most, unless a test wants a 4th code).
    pub async fn fresh(&mut self) -> String {
        loop {
            let ms = now_ms();
            let now = ms / STEP_MS;
            let left = STEP_MS - ms % STEP_MS;
            let mut step = self.last.map_or(now - 1, |last| (last + 1).max(now - 1));
            if step == now - 1 && left < 3_000 {
                step = now;
            }
            if step <= now + 1 {
                self.last = Some(step);
                return self.code_for_step(step);
            }
            tokio::time::sleep(Duration::from_millis(left + 50)).await;
        }
    }

    /// Like `fresh`, but never the step now-1: the code stays acceptable
    /// for at least 30 s, for tests that hold it across other requests.
    pub async fn fresh_lasting(&mut self) -> String {
        let now = step_now();
        if self.last.is_none_or(|last| last < now - 1) {
            self.last = Some(now - 1);
        }
        self.fresh().await
    }

    /// A well-formed code that matches no step within two of now.
    pub fn wrong(&self) -> String {
        let now = step_now();
        let near: HashSet<String> = (now - 2..=now + 2).map(|s| self.code_for_step(s)).collect();
        let mut n: u32 = self.code_for_step(now).parse().expect("digits");
        loop {
            n = (n + 1) % 1_000_000;
            let candidate = format!("{n:06}");
            if !near.contains(&candidate) {
                return candidate;
            }
        }
    }
}
