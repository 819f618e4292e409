//! TOTP second factor (RFC 6238): secret generation, the `otpauth://` enrolment URI, and
//! code checking with ±1 step of clock skew. HOTP/TOTP themselves come from `totp-rs`; this module
//! only fixes the parameters every authenticator app understands (HMAC-SHA1, 6 digits, 30 s).
//!
//! No I/O and no clock: callers pass `now_secs`. Replay protection is not here: `matching_step`
//! returns the step that matched and the store refuses a step not above the last accepted one.

use totp_rs::{Algorithm, Builder, Secret, Totp};

use super::{KeyError, random_bytes};

/// 160 bits, the length RFC 4226 §4 recommends (128 is its minimum).
pub const SECRET_LEN: usize = 20;
/// Fixed by the API (README, "Multi-factor authentication") and written into the otpauth URI; apps ignore other values anyway.
const DIGITS: usize = 6;
const PERIOD_SECS: u64 = 30;

/// A fresh random secret (ring's `SystemRandom`; totp-rs's generator is feature-gated and
/// would be a second source of randomness).
pub fn generate_secret() -> Result<Vec<u8>, KeyError> {
    Ok(random_bytes::<SECRET_LEN>()?.to_vec())
}

/// RFC 4648 base32 without padding: what authenticator apps expect for manual entry and in the
/// `secret=` parameter.
pub fn base32_secret(secret: &[u8]) -> String {
    Secret::from(secret).to_base32()
}

/// `otpauth://totp/<issuer>:<email>?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`
/// (the Key URI format used by Google Authenticator and compatible apps). Issuer and email are
/// percent-encoded so an '@', a space or a ':' inside them cannot shift the label's separator.
/// The issuer is repeated as a parameter because some apps read only that one.
pub fn otpauth_uri(issuer: &str, email: &str, secret_b32: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECS}",
        percent_encode(email),
        percent_encode(secret_b32),
    )
}

/// Exactly six ASCII digits: checked before any HMAC work, and lets the API answer a malformed
/// code the same way as a wrong one without touching the store.
pub fn is_code_format(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// The 30-s time step (unix_secs / 30) among now-1, now, now+1 whose code equals `code`
/// (constant-time compare), else None.
///
/// One step either way absorbs phone clock drift and the time spent typing (RFC 6238 §5.2).
/// A secret shorter than 128 bits never matches: it cannot be one we generated.
pub fn matching_step(secret: &[u8], code: &str, now_secs: u64) -> Option<u64> {
    if !is_code_format(code) {
        return None;
    }
    // `Token` equality inside `check` is constant time; the window is now-1..=now+1 steps and
    // the returned value is the step number, which the store keeps as the replay guard.
    totp(secret)?.check(code, now_secs)
}

/// The code for the step containing `now_secs`, or None for a secret shorter than 128 bits.
/// The server never needs this (it only checks codes); it exists for tests and tooling that
/// play the authenticator app.
pub fn code_at(secret: &[u8], now_secs: u64) -> Option<String> {
    Some(totp(secret)?.generate(now_secs).to_string())
}

/// `build` (not `build_noncompliant`) so totp-rs enforces the RFC rules (secret ≥ 128 bits,
/// 6–8 digits, non-zero step) instead of us re-checking them; a refusal means "no match".
fn totp(secret: &[u8]) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(DIGITS as u8)
        .with_skew(1)
        .with_step_duration(PERIOD_SECS)
        .with_secret(secret)
        .build()
        .ok()
}

/// RFC 3986 percent-encoding of everything but the unreserved characters
/// (`A-Z a-z 0-9 - . _ ~`), byte by byte over the UTF-8 encoding.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    /// RFC 6238 Appendix B, SHA1 column: (time, 8-digit TOTP).
    const RFC_VECTORS: [(u64, &str); 6] = [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ];

    /// The 6-digit code is the same dynamic truncation mod 10^6, i.e. the last six digits.
    fn six(eight: &str) -> &str {
        &eight[2..]
    }

    #[test]
    fn rfc6238_appendix_b_sha1_vectors() {
        for (t, eight) in RFC_VECTORS {
            assert_eq!(code_at(RFC_SECRET, t).unwrap(), six(eight), "t={t}");
            assert_eq!(
                matching_step(RFC_SECRET, six(eight), t),
                Some(t / 30),
                "t={t}"
            );
        }
    }

    #[test]
    fn one_step_of_skew_each_way_is_accepted_two_are_not() {
        let (t, eight) = RFC_VECTORS[3];
        let code = six(eight);
        let step = t / 30;
        assert_eq!(matching_step(RFC_SECRET, code, t - 30), Some(step));
        assert_eq!(matching_step(RFC_SECRET, code, t + 30), Some(step));
        assert_eq!(matching_step(RFC_SECRET, code, t - 60), None);
        assert_eq!(matching_step(RFC_SECRET, code, t + 60), None);
        // Edges of the window: the last second of step+1 and the first second of step-1.
        assert_eq!(
            matching_step(RFC_SECRET, code, (step + 2) * 30 - 1),
            Some(step)
        );
        assert_eq!(matching_step(RFC_SECRET, code, (step + 2) * 30), None);
        assert_eq!(matching_step(RFC_SECRET, code, (step - 1) * 30), Some(step));
        assert_eq!(matching_step(RFC_SECRET, code, (step - 1) * 30 - 1), None);
    }

    #[test]
    fn skew_near_time_zero_does_not_underflow() {
        let code = code_at(RFC_SECRET, 0).unwrap();
        assert_eq!(matching_step(RFC_SECRET, &code, 0), Some(0));
        assert_eq!(matching_step(RFC_SECRET, &code, 30), Some(0));
    }

    #[test]
    fn wrong_format_and_wrong_code_are_refused() {
        let (t, eight) = RFC_VECTORS[0];
        let good = six(eight);
        for bad in [
            "",
            "28708",
            "2870820",
            eight,
            "+28708",
            "28708a",
            " 287082",
            "287082 ",
            "２８７０８２",
        ] {
            assert!(!is_code_format(bad), "{bad}");
            assert_eq!(matching_step(RFC_SECRET, bad, t), None, "{bad}");
        }
        assert!(is_code_format(good));
        assert!(is_code_format("000000"));
        let wrong = format!("{:06}", (good.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(matching_step(RFC_SECRET, &wrong, t), None);
        assert_eq!(matching_step(b"12345678901234567899", good, t), None);
    }

    #[test]
    fn short_secret_never_matches() {
        let short = &RFC_SECRET[..15];
        assert_eq!(code_at(short, 59), None);
        assert_eq!(matching_step(short, "287082", 59), None);
    }

    #[test]
    fn generated_secrets_are_random_160_bits_and_usable() {
        let a = generate_secret().unwrap();
        let b = generate_secret().unwrap();
        assert_eq!(a.len(), SECRET_LEN);
        assert_ne!(a, b);
        let now = 1_700_000_000;
        let code = code_at(&a, now).unwrap();
        assert_eq!(matching_step(&a, &code, now), Some(now / 30));
    }

    #[test]
    fn base32_is_rfc4648_without_padding() {
        // RFC 4648 §10 test vectors, padding stripped.
        for (raw, b32) in [
            (&b""[..], ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32_secret(raw), b32);
        }
        assert_eq!(
            base32_secret(RFC_SECRET),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        assert_eq!(base32_secret(&[0u8; SECRET_LEN]).len(), 32);
    }

    #[test]
    fn otpauth_uri_encodes_label_and_parameters() {
        assert_eq!(
            otpauth_uri("edgeauth", "bob@example.com", "GEZDGNBV"),
            "otpauth://totp/edgeauth:bob%40example.com?secret=GEZDGNBV&issuer=edgeauth\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            otpauth_uri("My Co: Auth", "a+b@x.io", "AB"),
            "otpauth://totp/My%20Co%3A%20Auth:a%2Bb%40x.io?secret=AB&issuer=My%20Co%3A%20Auth\
             &algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(percent_encode("Az09-._~"), "Az09-._~");
        assert_eq!(percent_encode("é&=?/#%"), "%C3%A9%26%3D%3F%2F%23%25");
    }
}
