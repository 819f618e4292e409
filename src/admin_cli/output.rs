//! What `edgeauth admin` prints for people: an account summary as a `key: value` block, a
//! page of accounts as a table, one line per action. Pure functions of the API's JSON, so
//! they are tested without a server; `--json` bypasses them.

use serde::Deserialize;

/// An account summary as the admin API sends it (unknown fields ignored, missing ones
/// default, so a newer server still prints).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct Summary {
    pub id: String,
    pub email: String,
    pub active: bool,
    pub locked: bool,
    pub locked_reason: Option<String>,
    /// Unix milliseconds.
    pub created_at: Option<u64>,
    /// Unix milliseconds; `None`: never signed in.
    pub last_login_at: Option<u64>,
    pub mfa: bool,
    pub passkeys: u64,
    pub sessions: u64,
}

/// One page of `GET /admin/accounts`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Page {
    pub accounts: Vec<Summary>,
    pub next_cursor: Option<String>,
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

/// A summary as a block of aligned `key: value` lines (ending in a newline).
pub fn summary_block(s: &Summary) -> String {
    let locked = match (s.locked, &s.locked_reason) {
        (false, _) => "no".to_owned(),
        (true, Some(reason)) if !reason.is_empty() => format!("yes ({reason})"),
        (true, _) => "yes".to_owned(),
    };
    let rows = [
        ("id", s.id.clone()),
        ("email", s.email.clone()),
        ("active", yes_no(s.active).to_owned()),
        ("locked", locked),
        ("created", s.created_at.map_or("-".to_owned(), utc)),
        (
            "last login",
            s.last_login_at.map_or("never".to_owned(), utc),
        ),
        ("mfa", yes_no(s.mfa).to_owned()),
        ("passkeys", s.passkeys.to_string()),
        ("sessions", s.sessions.to_string()),
    ];
    let mut out = String::new();
    for (key, value) in rows {
        out.push_str(&format!("{:<12}{value}\n", format!("{key}:")));
    }
    out
}

/// Accounts as a table with a header line, columns padded to their widest cell (ends in a
/// newline; only the header when there are none).
pub fn table(accounts: &[Summary]) -> String {
    let header = [
        "ID",
        "EMAIL",
        "ACTIVE",
        "LOCKED",
        "MFA",
        "PASSKEYS",
        "SESSIONS",
        "LAST LOGIN",
    ];
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for s in accounts {
        rows.push(vec![
            s.id.clone(),
            s.email.clone(),
            yes_no(s.active).to_owned(),
            yes_no(s.locked).to_owned(),
            yes_no(s.mfa).to_owned(),
            s.passkeys.to_string(),
            s.sessions.to_string(),
            s.last_login_at.map_or("never".to_owned(), utc),
        ]);
    }
    let mut widths = vec![0; header.len()];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(&format!("{cell:<w$}"));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An account action the command line can take, with the API path segment it posts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Lock,
    Unlock,
    SignOut,
    Activate,
    Reset,
    Delete,
}

impl Action {
    /// The verb on the command line (also the `action` of `--json` output).
    pub fn verb(self) -> &'static str {
        match self {
            Action::Lock => "lock",
            Action::Unlock => "unlock",
            Action::SignOut => "sign-out",
            Action::Activate => "activate",
            Action::Reset => "reset",
            Action::Delete => "delete",
        }
    }

    /// The line printed once the action is done.
    pub fn done(self, s: &Summary) -> String {
        let who = format!("{} ({})", s.email, s.id);
        match self {
            Action::Lock => format!("Locked {who}"),
            Action::Unlock => format!("Unlocked {who}"),
            Action::SignOut => format!("Signed out every session of {who}"),
            Action::Activate => format!("Activated {who}"),
            Action::Reset => {
                format!("Requested a password reset for {who}: password.reset_requested emitted")
            }
            Action::Delete => format!("Deleted {who}"),
        }
    }

    /// The `--json` line of a done action (the API answers 204, with no body of its own).
    pub fn done_json(self, s: &Summary) -> serde_json::Value {
        serde_json::json!({"action": self.verb(), "id": s.id, "email": s.email})
    }
}

/// Unix milliseconds as `2026-12-04 18:19:20 UTC`.
pub fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(i64::MAX / 2);
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (
        y,
        u32::try_from(m).unwrap_or(1),
        u32::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn ada() -> Summary {
        serde_json::from_value(serde_json::json!({
            "id": "3f2a9c1e-5b7d-4e0f-9a1b-2c3d4e5f6a7b",
            "email": "ada@example.com",
            "active": true,
            "locked": true,
            "locked_reason": "left the company",
            "created_at": 1_796_400_000_000u64,
            "last_login_at": null,
            "mfa": true,
            "passkeys": 2,
            "sessions": 0,
            "something_new": [1, 2]
        }))
        .unwrap()
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc(1_796_400_000_999), "2026-12-04 16:00:00 UTC");
        assert_eq!(utc(4_102_444_799_000), "2099-12-31 23:59:59 UTC");
    }

    #[test]
    fn a_summary_is_a_block() {
        assert_eq!(
            summary_block(&ada()),
            "id:         3f2a9c1e-5b7d-4e0f-9a1b-2c3d4e5f6a7b\n\
             email:      ada@example.com\n\
             active:     yes\n\
             locked:     yes (left the company)\n\
             created:    2026-12-04 16:00:00 UTC\n\
             last login: never\n\
             mfa:        yes\n\
             passkeys:   2\n\
             sessions:   0\n"
        );
        let bob = Summary {
            locked: false,
            locked_reason: None,
            last_login_at: Some(1_796_400_060_000),
            ..ada()
        };
        let block = summary_block(&bob);
        assert!(block.contains("locked:     no\n"), "{block}");
        assert!(
            block.contains("last login: 2026-12-04 16:01:00 UTC\n"),
            "{block}"
        );
    }

    #[test]
    fn a_page_is_a_table() {
        let bob = Summary {
            id: "0b0b0b0b-0000-4000-8000-000000000000".into(),
            email: "bob@example.org".into(),
            active: false,
            locked: false,
            locked_reason: None,
            created_at: Some(0),
            last_login_at: Some(1_796_400_060_000),
            mfa: false,
            passkeys: 0,
            sessions: 12,
        };
        let out = table(&[ada(), bob]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(
            lines[0],
            "ID                                    EMAIL            ACTIVE  LOCKED  MFA  PASSKEYS  SESSIONS  LAST LOGIN"
        );
        assert_eq!(
            lines[1],
            "3f2a9c1e-5b7d-4e0f-9a1b-2c3d4e5f6a7b  ada@example.com  yes     yes     yes  2         0         never"
        );
        assert_eq!(
            lines[2],
            "0b0b0b0b-0000-4000-8000-000000000000  bob@example.org  no      no      no   0         12        2026-12-04 16:01:00 UTC"
        );
        assert_eq!(table(&[]).lines().count(), 1);
    }

    #[test]
    fn actions_say_what_they_did() {
        let s = ada();
        assert_eq!(
            Action::Lock.done(&s),
            "Locked ada@example.com (3f2a9c1e-5b7d-4e0f-9a1b-2c3d4e5f6a7b)"
        );
        assert!(
            Action::SignOut
                .done(&s)
                .starts_with("Signed out every session of ada@")
        );
        assert_eq!(
            Action::Delete.done_json(&s),
            serde_json::json!({"action": "delete", "id": s.id, "email": "ada@example.com"})
        );
    }

    #[test]
    fn a_page_parses_with_and_without_a_cursor() {
        let page: Page =
            serde_json::from_str(r#"{"accounts":[{"id":"x","email":"a@b"}],"next_cursor":"17"}"#)
                .unwrap();
        assert_eq!(page.accounts.len(), 1);
        assert_eq!(page.next_cursor.as_deref(), Some("17"));
        let page: Page = serde_json::from_str(r#"{"accounts":[],"next_cursor":null}"#).unwrap();
        assert!(page.next_cursor.is_none());
    }
}
