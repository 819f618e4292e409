//! The Redis key layout — the only place key names are spelled (docs/tokens.md, "Redis layout").
//!
//! Every key of one account carries the hash tag `{<account id>}`, so each script touching an
//! account is single-slot in Redis Cluster. The email index is named by a SHA-256 of the normalized
//! email, so key names hold no personal data. Tickets are named by a keyed MAC of the ticket (see
//! [`Keys::ticket_ids`]), so key names hold no usable ticket either. Imports nothing from the rest
//! of the crate.

use std::fmt::Write;

use ring::hmac;
use uuid::Uuid;

pub(crate) struct Keys {
    prefix: String,
    /// HMAC-SHA256 keys naming tickets, current first (one per data key; see `ticket_ids`).
    ticket_macs: Vec<hmac::Key>,
}

impl Keys {
    /// `ticket_keys`: the ticket-naming key material, current first; must not be empty (the
    /// store refuses to start without one).
    pub fn new(prefix: &str, ticket_keys: &[[u8; 32]]) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
            ticket_macs: ticket_keys
                .iter()
                .map(|k| hmac::Key::new(hmac::HMAC_SHA256, k))
                .collect(),
        }
    }

    /// The names ticket `ticket` may go by in Redis, one per configured key, current first: the
    /// lowercase hex HMAC-SHA256 of its 16 bytes. New tickets are written under the first; every
    /// one is tried when a ticket is presented, so tickets outlive a data-key rotation. Neither a
    /// key name nor a stored value ever holds the ticket itself: reading Redis (a dump, a replica,
    /// `SCAN`) yields no ticket that can be spent.
    pub fn ticket_ids(&self, ticket: Uuid) -> Vec<String> {
        self.ticket_macs
            .iter()
            .map(|key| {
                let tag = hmac::sign(key, ticket.as_bytes());
                let mut id = String::with_capacity(64);
                for b in tag.as_ref() {
                    let _ = write!(id, "{b:02x}");
                }
                id
            })
            .collect()
    }

    /// The name a new ticket is written under (the current key's, see `ticket_ids`).
    pub fn ticket_id(&self, ticket: Uuid) -> String {
        self.ticket_ids(ticket)
            .into_iter()
            .next()
            .unwrap_or_default()
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

    /// Never written: where a script spends a no-op command so that its two outcomes cost the
    /// same (see `account_confirm.lua`).
    pub fn none(&self, account: Uuid) -> String {
        self.tag(account) + "none"
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

    /// HASH purpose (and `attempts` for "mfa"; `email` and `old` for "email"; `email` and `cv`, the
    /// account's email and credential version at issue, for "activate" and "reset"): the
    /// authoritative ticket, in the account's slot, named by the ticket's current id (a ticket
    /// issued before a data-key rotation may be named by an older one: see `ticket_by_id`).
    #[cfg(test)]
    pub fn ticket(&self, account: Uuid, ticket: Uuid) -> String {
        self.ticket_by_id(account, &self.ticket_id(ticket))
    }

    /// The record of a ticket named by `id` (one of its `ticket_ids`).
    pub fn ticket_by_id(&self, account: Uuid, id: &str) -> String {
        format!("{}{id}", self.ticket_prefix(account))
    }

    /// STRING: the id of the account's newest reset ticket, with that ticket's TTL. Only the ticket
    /// it names can reset the password, so a new reset request retires every earlier one.
    pub fn reset_ticket(&self, account: Uuid) -> String {
        self.tag(account) + "reset_ticket"
    }

    /// ZSET of the account's MFA login tickets (score: creation, unix ms), so issuing can cap them
    /// and removing the account or changing its password can delete their records.
    pub fn mfa_tickets(&self, account: Uuid) -> String {
        self.tag(account) + "mfa_tickets"
    }

    /// What scripts prepend to a ticket id (see `ticket_ids`) to name its record (same tag, same
    /// slot).
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

    /// HASH credential id (base64url) → record (JSON: signature counter, last use, backup state,
    /// name, creation, the serialized passkey; see `store/passkeys.rs`), at most 10 fields.
    pub fn passkeys(&self, account: Uuid) -> String {
        self.tag(account) + "passkeys"
    }

    /// STRING, 5-minute TTL: the state of a passkey registration begun by the account, until its
    /// finish spends it.
    pub fn passkey_registration(&self, account: Uuid, challenge: Uuid) -> String {
        format!("{}passkey_reg:{challenge}", self.tag(account))
    }

    /// STRING, 5-minute TTL: the state of a passkey sign-in, until its finish spends it. Nobody is
    /// known yet, so it has a hash tag of its own: a SHA-256 of the challenge id (its first 16
    /// bytes in hex), which also keeps the challenge id out of key names.
    pub fn passkey_login(&self, challenge: Uuid) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, challenge.as_bytes());
        let mut key = format!("{}passkey_login:{{", self.prefix);
        for b in &digest.as_ref()[..16] {
            let _ = write!(key, "{b:02x}");
        }
        key.push('}');
        key
    }

    /// STRING → account id: how a bare ticket finds its account's slot, named by the ticket's
    /// current id.
    #[cfg(test)]
    pub fn ticket_pointer(&self, ticket: Uuid) -> String {
        self.ticket_pointer_by_id(&self.ticket_id(ticket))
    }

    /// The pointer of a ticket named by `id` (one of its `ticket_ids`).
    pub fn ticket_pointer_by_id(&self, id: &str) -> String {
        format!("{}ticket:{id}", self.prefix)
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

    /// ZSET, every score 0, member = account id: shard `h` (0..16) of the account index, holding
    /// the ids whose first hex digit is `h`. Each shard is its own hash tag, so the index spreads
    /// over a cluster and each shard is walked with `ZRANGEBYLEX` on one node (see
    /// `store/admin.rs`).
    pub fn account_index(&self, shard: u8) -> String {
        format!("{}{{account_index:{:x}}}", self.prefix, shard & 0xf)
    }

    /// STRING "1" once the account index has been backfilled with the accounts made before it
    /// existed (see `store/admin.rs`).
    pub fn account_index_ready(&self) -> String {
        format!("{}account_index:ready", self.prefix)
    }

    /// STREAM of the events a mailer acts on and account-lifecycle events (see `events`).
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

    /// STREAM of high-volume audit events (failed sign-ins), capped apart so a flood of them
    /// never trims a mail no mailer has read yet.
    pub fn events_audit(&self) -> String {
        format!("{}events:audit", self.prefix)
    }

    /// STREAM kept empty (`MAXLEN 0`): where a request that must not send mail (an unknown
    /// email) appends its event, so its Redis work equals that of one that does.
    pub fn events_discard(&self) -> String {
        format!("{}events:discard", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout() {
        let k = Keys::new("edgeauth:", &[[7; 32], [8; 32]]);
        let a = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let f = Uuid::from_u128(1);
        let tag = "edgeauth:{01234567-89ab-cdef-0123-456789abcdef}:";
        assert_eq!(k.account(a), format!("{tag}account"));
        assert_eq!(k.sessions(a), format!("{tag}sessions"));
        assert_eq!(
            k.session(a, f),
            format!("{tag}session:00000000-0000-0000-0000-000000000001")
        );
        // HMAC-SHA256 of the ticket's 16 bytes, under each key (current first), in hex: the
        // ticket itself is in no key name.
        let (mac7, mac8) = (
            "620355dd837c780900a9e7896f4cf86fb27bc25e90aae55c2130ad54ce483cd4",
            "1bdd7cb91afb3c8eaf8e546e9a085c5ea93a0fcec0896ff0eaae96fd79aecd8d",
        );
        assert_eq!(k.ticket_ids(f), vec![mac7.to_owned(), mac8.to_owned()]);
        assert_eq!(k.ticket_id(f), mac7);
        assert_eq!(k.ticket(a, f), format!("{tag}ticket:{mac7}"));
        assert_eq!(k.ticket_by_id(a, mac8), format!("{tag}ticket:{mac8}"));
        assert_eq!(k.reset_ticket(a), format!("{tag}reset_ticket"));
        assert_eq!(k.ticket_prefix(a), format!("{tag}ticket:"));
        assert_eq!(k.mfa_tickets(a), format!("{tag}mfa_tickets"));
        assert_eq!(k.mfa_pending(a), format!("{tag}mfa_pending"));
        assert_eq!(k.recovery(a), format!("{tag}recovery"));
        assert_eq!(k.passkeys(a), format!("{tag}passkeys"));
        assert_eq!(
            k.passkey_registration(a, f),
            format!("{tag}passkey_reg:00000000-0000-0000-0000-000000000001")
        );
        let login = k.passkey_login(f);
        assert!(login.starts_with("edgeauth:passkey_login:{"), "{login}");
        assert!(
            login.ends_with('}') && !login.contains(&f.to_string()),
            "{login}"
        );
        assert_eq!(login.len(), "edgeauth:passkey_login:{}".len() + 32);
        assert_eq!(k.ticket_pointer(f), format!("edgeauth:ticket:{mac7}"));
        assert_eq!(
            k.ticket_pointer_by_id(mac8),
            format!("edgeauth:ticket:{mac8}")
        );
        assert_eq!(k.events(), "edgeauth:events");
        assert_eq!(k.account_id(&k.account(a)), Some(a));
        assert_eq!(k.account_id(&k.sessions(a)), None);
        assert_eq!(
            k.account_id(&Keys::new("other:", &[[7; 32]]).account(a)),
            None
        );
        assert_eq!(k.account_id("edgeauth:{not-a-uuid}:account"), None);
        assert_eq!(k.events_audit(), "edgeauth:events:audit");
        assert_eq!(k.events_discard(), "edgeauth:events:discard");
        // Every key of an account, and every key a script builds from its prefixes, in one slot.
        let slot = |key: &str| redis::cluster_routing::Slot::for_key(key);
        let one = slot(&k.account(a));
        for key in [
            k.sessions(a),
            k.session(a, f),
            k.ticket(a, f),
            k.reset_ticket(a),
            k.none(a),
            k.mfa_tickets(a),
            k.mfa_pending(a),
            k.recovery(a),
            k.passkeys(a),
            k.passkey_registration(a, f),
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
