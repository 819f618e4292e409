//! The Redis key layout — the only place key names are spelled (DESIGN.md "store/").
//!
//! Every key of one account carries the hash tag `{<account id>}`, so each script touching an
//! account is single-slot in Redis Cluster. The email index is named by a SHA-256 of the normalized
//! email, so key names hold no personal data. Imports nothing from the rest of the crate.

use std::fmt::Write;

use uuid::Uuid;

pub(crate) struct Keys {
    prefix: String,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// `P{A}:` — `Uuid`'s Display is the lowercase hyphenated form.
    fn tag(&self, account: Uuid) -> String {
        format!("{}{{{account}}}:", self.prefix)
    }

    /// HASH id, email, password, active, ready, created_at; with MFA also `mfa` (sealed active
    /// secret; absent = MFA off) and `mfa_step` (last accepted TOTP step, the replay guard); during
    /// an email change `email_pending`, `email_pending_at`, `email_pending_id` (see `store/email`).
    pub fn account(&self, account: Uuid) -> String {
        self.tag(account) + "account"
    }

    /// ZSET of the account's refresh families, scored by last use.
    pub fn sessions(&self, account: Uuid) -> String {
        self.tag(account) + "sessions"
    }

    /// What scripts prepend to a family id to name its hash (same tag, same slot).
    pub fn session_prefix(&self, account: Uuid) -> String {
        self.tag(account) + "session:"
    }

    /// HASH of one refresh family.
    pub fn session(&self, account: Uuid, family: Uuid) -> String {
        format!("{}{family}", self.session_prefix(account))
    }

    /// HASH purpose (and `attempts` for "mfa"; `email` and `old` for "email"): the authoritative
    /// ticket, in the account's slot.
    pub fn ticket(&self, account: Uuid, ticket: Uuid) -> String {
        format!("{}{ticket}", self.ticket_prefix(account))
    }

    /// ZSET of the account's MFA login tickets (score: creation, unix ms), so issuing can cap them
    /// and removing the account or changing its password can delete their records.
    pub fn mfa_tickets(&self, account: Uuid) -> String {
        self.tag(account) + "mfa_tickets"
    }

    /// What scripts prepend to a ticket id to name its record (same tag, same slot).
    pub fn ticket_prefix(&self, account: Uuid) -> String {
        self.tag(account) + "ticket:"
    }

    /// STRING: the sealed pending TOTP secret, with a TTL (replaced by each generate).
    pub fn mfa_pending(&self, account: Uuid) -> String {
        self.tag(account) + "mfa_pending"
    }

    /// SET of recovery-code digests (no TTL: lives as long as MFA stays on).
    pub fn recovery(&self, account: Uuid) -> String {
        self.tag(account) + "recovery"
    }

    /// STRING → account id: how a bare ticket finds its account's slot.
    pub fn ticket_pointer(&self, ticket: Uuid) -> String {
        format!("{}ticket:{ticket}", self.prefix)
    }

    /// STRING counter of one rate limit, with its window as TTL. The subject (an email or an IP
    /// address) is hashed so key names hold no personal data.
    pub fn rate(&self, kind: &str, subject: &str) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, subject.as_bytes());
        let mut key = format!("{}rate:{kind}:", self.prefix);
        for b in &digest.as_ref()[..16] {
            let _ = write!(key, "{b:02x}");
        }
        key
    }

    /// STRING → `<account id>` (registration) or `<account id>:<attempt id>` (email change).
    /// `email` must already be normalized (trimmed, lowercased).
    pub fn email(&self, email: &str) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, email.as_bytes());
        let mut key = format!("{}email:", self.prefix);
        for b in digest.as_ref() {
            let _ = write!(key, "{b:02x}");
        }
        key
    }

    /// STREAM of events.
    pub fn events(&self) -> String {
        format!("{}events", self.prefix)
    }

    /// The prefix of every key (a walk over the account hashes matches `P{*}:account`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The account id in the name of an account hash (`P{A}:account`), or None for any other key.
    pub fn account_id(&self, key: &str) -> Option<Uuid> {
        let id = key
            .strip_prefix(self.prefix.as_str())?
            .strip_prefix('{')?
            .strip_suffix("}:account")?;
        Uuid::parse_str(id).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let k = Keys::new("edgeauth:");
        let a = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let f = Uuid::from_u128(1);
        let tag = "edgeauth:{01234567-89ab-cdef-0123-456789abcdef}:";
        assert_eq!(k.account(a), format!("{tag}account"));
        assert_eq!(k.sessions(a), format!("{tag}sessions"));
        assert_eq!(
            k.session(a, f),
            format!("{tag}session:00000000-0000-0000-0000-000000000001")
        );
        assert_eq!(
            k.ticket(a, f),
            format!("{tag}ticket:00000000-0000-0000-0000-000000000001")
        );
        assert_eq!(k.ticket_prefix(a), format!("{tag}ticket:"));
        assert_eq!(k.mfa_tickets(a), format!("{tag}mfa_tickets"));
        assert_eq!(k.mfa_pending(a), format!("{tag}mfa_pending"));
        assert_eq!(k.recovery(a), format!("{tag}recovery"));
        assert_eq!(
            k.ticket_pointer(f),
            "edgeauth:ticket:00000000-0000-0000-0000-000000000001"
        );
        assert_eq!(k.events(), "edgeauth:events");
        assert_eq!(k.account_id(&k.account(a)), Some(a));
        assert_eq!(k.account_id(&k.sessions(a)), None);
        assert_eq!(k.account_id(&Keys::new("other:").account(a)), None);
        assert_eq!(k.account_id("edgeauth:{not-a-uuid}:account"), None);
        // Every key of an account, and every key a script builds from its prefixes, in one slot.
        let slot = |key: &str| redis::cluster_routing::Slot::for_key(key);
        let one = slot(&k.account(a));
        for key in [
            k.sessions(a),
            k.session(a, f),
            k.ticket(a, f),
            k.mfa_tickets(a),
            k.mfa_pending(a),
            k.recovery(a),
            k.session_prefix(a) + "anything",
            k.ticket_prefix(a) + "anything",
        ] {
            assert_eq!(slot(&key), one, "{key}");
        }
        // SHA-256("abc"), the FIPS 180-2 test vector.
        assert_eq!(
            k.email("abc"),
            "edgeauth:email:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
