//! Input validation and normalization for account data: email addresses and password lengths.
//! (The email index is named by a digest of the normalized address; `store` computes it.)
//!
//! Deliberately permissive (no full RFC 5322 grammar): the address is proven by the activation
//! mail, this only refuses what can never be delivered or would confuse the index. No I/O.

/// Longest address SMTP can carry (RFC 5321 path limit minus the angle brackets).
const MAX_EMAIL_LEN: usize = 254;

/// Trims and lowercases; `None` unless there is exactly one '@', a non-empty local part, a
/// domain containing a '.' that neither starts nor ends with '.', no whitespace or control
/// characters, and at most 254 bytes. Lowercasing the local part too means `Bob@x` and `bob@x`
/// are one account, which is what users expect even though RFC 5321 allows them to differ.
pub fn normalize_email(raw: &str) -> Option<String> {
    let email = raw.trim().to_lowercase();
    if email.len() > MAX_EMAIL_LEN || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (local, domain) = email.split_once('@')?;
    let valid = !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.');
    valid.then_some(email)
}

/// Counts Unicode scalar values, not bytes, so a limit means the same in every script.
pub fn password_length_ok(p: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&p.chars().count())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn email_table() {
        let long_ok = format!("{}@example.com", "a".repeat(254 - 12));
        let too_long = format!("{}@example.com", "a".repeat(255 - 12));
        let cases: &[(&str, Option<&str>)] = &[
            ("user@example.com", Some("user@example.com")),
            ("  User@Example.COM \n", Some("user@example.com")),
            ("a@b.c", Some("a@b.c")),
            (
                "first.last+tag@sub.example.co.uk",
                Some("first.last+tag@sub.example.co.uk"),
            ),
            ("ÜSER@exämple.de", Some("üser@exämple.de")),
            (&long_ok, Some(&long_ok)),
            (&too_long, None),
            ("", None),
            ("   ", None),
            ("user", None),
            ("@example.com", None),
            ("user@", None),
            ("user@localhost", None),
            ("user@.example.com", None),
            ("user@example.com.", None),
            ("user@@example.com", None),
            ("a@b@example.com", None),
            ("us er@example.com", None),
            ("user@exa mple.com", None),
            ("user\t@example.com", None),
            ("user@example.com\u{0}", None),
            ("user\u{7f}@example.com", None),
            ("user\u{a0}@example.com", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_email(raw).as_deref(), *expected, "{raw:?}");
        }
    }

    #[test]
    fn password_length_table() {
        let cases: &[(&str, usize, usize, bool)] = &[
            ("", 0, 10, true),
            ("", 1, 10, false),
            ("abcdefgh", 8, 128, true),
            ("abcdefg", 8, 128, false),
            // 8 characters, 16+ bytes: characters count, not bytes.
            ("äöüßéèêë", 8, 8, true),
            ("🔑🔑🔑🔑🔑🔑🔑🔑", 8, 8, true),
            ("abcdefghi", 1, 8, false),
        ];
        for (p, min, max, ok) in cases {
            assert_eq!(
                password_length_ok(p, *min, *max),
                *ok,
                "{p:?} {min}..={max}"
            );
        }
    }
}
