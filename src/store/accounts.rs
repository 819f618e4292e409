//! Accounts: registration, lookup by id or by email, removal.
//!
//! Every account is also in the account index the admin API lists from (`store/admin.rs`):
//! registration adds its id before step 1 below, removal takes it out.
//!
//! Registration spans two slots (the account's, the email index's) and so cannot be one script. It
//! is three, ordered so that a crash or timeout between any two leaves nothing that blocks a later
//! registration:
//! 1. `account_create.lua` writes the account with `ready=0` and a 60 s TTL: if we die now it
//!    expires by itself.
//! 2. `email_claim.lua` sets the index if absent, else returns its holder.
//! 3. Claimed → `account_confirm.lua` sets `ready=1` and removes the TTL (if the account already
//!    expired, the index is released again and the caller gets Unavailable). Held by X that owns
//!    the email → the same script discards (deletes) our provisional account and the answer is
//!    `EmailTaken { existing: X }`. Both ways run the same
//!    commands (the holder's ownership is read either way), so a taken email cannot be told from
//!    a free one by the Redis work or its round trips. Held by X that does not (its account is missing — a crash
//!    after step 2, or between the two steps of a removal — or has moved to another email, or an
//!    email change of X died before moving X here) → the index is stale: it is deleted only if it
//!    still holds exactly the value judged, and the claim is retried once.
//!
//! "Owns" and the rule for deleting a stale index are the email index's (`store/email_index.rs`,
//! which also holds every read and write of the index; the safety argument is in `store/email.rs`):
//! X owns the email when its account (ready or provisional) has it, or carries an email-change
//! mark for it younger than 10 minutes. Checking mere existence would let a live account whose
//! email moved away block its old address forever — or, worse, let a registration delete the
//! claim of an email change about to commit.
//!
//! Readers treat a missing account, `ready=0`, or an index whose account has another email as "no
//! account", so no interleaving exposes a half-made account, and an account is reachable by
//! exactly the address in its `email` field.

use std::collections::HashMap;

use super::Connection;
use redis::AsyncCommands;
use uuid::Uuid;

use super::admin::shard_of;
use super::{Store, StoreResult, bad_reply, email_index::parse_holder};

/// How long a provisional (not yet confirmed) account lives.
const PROVISIONAL_TTL_MS: u64 = 60_000;

#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    pub id: Uuid,
    /// Normalized.
    pub email: String,
    /// PHC string.
    pub password: String,
    pub active: bool,
    /// Unix ms.
    pub created_at: u64,
    /// MFA is on: the account hash holds an active TOTP secret (field `mfa`).
    pub mfa_enabled: bool,
    /// Field `cv` (absent = 0), read together with `password`: every password reset or change
    /// bumps it, and the scripts that end a sign-in (session, MFA login ticket) refuse a version
    /// other than the one the password was checked under.
    pub credential_version: u64,
    /// Field `locked` = "1": no session starts or continues (see `account_lock.lua`).
    pub locked: bool,
    /// Why it was locked (field `locked_reason`), when it is.
    pub locked_reason: Option<String>,
    /// When it was locked (field `locked_at`, unix ms), when it is.
    pub locked_at: Option<u64>,
    /// When its newest session started (field `last_login_at`, unix ms; set by
    /// `session_create.lua`), if ever.
    pub last_login_at: Option<u64>,
}

/// Redacts the password hash, so an `Account` can be logged.
impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("email", &self.email)
            .field("active", &self.active)
            .field("created_at", &self.created_at)
            .field("mfa_enabled", &self.mfa_enabled)
            .field("credential_version", &self.credential_version)
            .field("locked", &self.locked)
            .field("locked_reason", &self.locked_reason)
            .field("locked_at", &self.locked_at)
            .field("last_login_at", &self.last_login_at)
            .finish_non_exhaustive()
    }
}

pub struct NewAccount<'a> {
    pub id: Uuid,
    /// Must already be normalized: the index key is a digest of exactly these bytes.
    pub email: &'a str,
    /// PHC string.
    pub password: &'a str,
    pub active: bool,
    pub now_ms: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Registration {
    Created,
    EmailTaken { existing: Uuid },
}

impl Store {
    pub async fn register(&self, new: NewAccount<'_>) -> StoreResult<Registration> {
        self.run("register", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let (account_key, email_key) = (k.account(new.id), k.email(new.email));
            let id = new.id.to_string();
            let shard = shard_of(new.id);

            // Indexed before it exists, so the admin listing never misses an account (see
            // `store/admin.rs`); every path below that gives up takes the id out again.
            self.index_change(&mut conn, shard, true, &[new.id]).await?;
            let created: i64 = s
                .account_create
                .key(&account_key)
                .arg(&id)
                .arg(new.email)
                .arg(new.password)
                .arg(if new.active { "1" } else { "0" })
                .arg(new.now_ms)
                .arg(PROVISIONAL_TTL_MS)
                .invoke_async(&mut conn)
                .await?;
            if created != 1 {
                // Someone else's account (ids are random v4: never in practice): leave its entry.
                return Err(bad_reply("account id already in use"));
            }

            let mut released_stale = false;
            loop {
                let holder = self.claim_email(&mut conn, new.email, &id).await?;
                // The value was read (by the claim) before this judgement, as the rule wants. Our
                // own fresh claim is judged too (it owns the address: the provisional account has
                // it), so a free email and a taken one cost the same Redis work.
                let existing = parse_holder(&holder)?;
                let live = self
                    .owns_email(&mut conn, existing, new.email, new.now_ms)
                    .await?;
                if holder == id || live {
                    let claimed = holder == id;
                    // Confirm ours, or (taken) discard it with the same script: it was never
                    // visible (ready=0), so deleting it leaves no trace.
                    let settled: i64 = s
                        .account_confirm
                        .key(&account_key)
                        .key(k.none(new.id))
                        .arg(if claimed { "1" } else { "0" })
                        .invoke_async(&mut conn)
                        .await?;
                    if !claimed {
                        self.index_change(&mut conn, shard, false, &[new.id])
                            .await?;
                        return Ok(Registration::EmailTaken { existing });
                    }
                    if settled == 1 {
                        // The taken path takes its id out of the index again; this one removes
                        // an id that is never there (the nil UUID), so a free and a taken email
                        // still cost the same Redis work.
                        self.index_change(&mut conn, shard, false, &[Uuid::nil()])
                            .await?;
                        return Ok(Registration::Created);
                    }
                    self.release_email(&mut conn, &email_key, &id).await?;
                    self.index_change(&mut conn, shard, false, &[new.id])
                        .await?;
                    return Err(bad_reply(
                        "provisional account expired before it was confirmed",
                    ));
                }
                if released_stale {
                    // Ours was never visible (ready=0): deleting it leaves no trace. A second
                    // stale holder right after releasing the first: not worth a loop.
                    self.delete_account(&mut conn, new.id).await?;
                    self.index_change(&mut conn, shard, false, &[new.id])
                        .await?;
                    return Err(bad_reply("email index contended"));
                }
                self.release_email(&mut conn, &email_key, &holder).await?;
                released_stale = true;
            }
        })
        .await
    }

    /// Always exactly two round trips (index GET, then HGETALL of the account — of a never-existing
    /// key when the index is empty) so unknown and known emails cost the same Redis work.
    pub async fn find_by_email(&self, email: &str) -> StoreResult<Option<Account>> {
        self.run("find_by_email", async {
            let mut conn = self.conn().await?;
            let holder = self.email_index_value(&mut conn, email).await?;
            // The nil UUID is never an account id (they are v4).
            let id = holder
                .as_deref()
                .map(parse_holder)
                .transpose()?
                .unwrap_or(Uuid::nil());
            let fields: HashMap<String, String> = conn.hgetall(self.keys().account(id)).await?;
            // A mismatching email means a stale index: not this email's account.
            Ok(parse_account(fields)?.filter(|a| holder.is_some() && a.email == email))
        })
        .await
    }

    pub async fn account(&self, id: Uuid) -> StoreResult<Option<Account>> {
        self.run("account", async {
            let mut conn = self.conn().await?;
            let fields: HashMap<String, String> = conn.hgetall(self.keys().account(id)).await?;
            parse_account(fields)
        })
        .await
    }

    /// Deletes the account, all its sessions and its MFA state, then releases every email index
    /// that may name it: `email` (what the caller read), and the email and pending email the
    /// account had when deleted (an email change may have landed or be in flight). false when it
    /// did not exist. `email`'s index is released even then: it cleans up after a removal that died
    /// between its steps. Releasing by id (whatever attempt stamp the value carries) is safe here
    /// only because a deleted account never owns an address again.
    pub async fn remove_account(&self, id: Uuid, email: &str) -> StoreResult<bool> {
        self.run("remove_account", async {
            let mut conn = self.conn().await?;
            let (existed, current, pending) = self.delete_account(&mut conn, id).await?;
            self.forget_sessions(id, None);
            // Out of the admin listing once gone (see `store/admin.rs`).
            self.index_change(&mut conn, shard_of(id), false, &[id])
                .await?;
            let mut emails = vec![email];
            for other in [current.as_str(), pending.as_str()] {
                if !other.is_empty() && !emails.contains(&other) {
                    emails.push(other);
                }
            }
            for address in emails {
                self.release_email_of_account(&mut conn, address, id)
                    .await?;
            }
            Ok(existed)
        })
        .await
    }

    /// `account_remove.lua`: the account, all its sessions, its MFA state (pending secret, recovery
    /// codes, live MFA login tickets), its passkeys. Whether it existed, and the email and pending email it had
    /// ("" when none).
    async fn delete_account(
        &self,
        conn: &mut Connection,
        id: Uuid,
    ) -> StoreResult<(bool, String, String)> {
        let k = self.keys();
        let (existed, email, pending): (i64, String, String) = self
            .scripts()
            .account_remove
            .key(k.account(id))
            .key(k.sessions(id))
            .key(k.mfa_pending(id))
            .key(k.recovery(id))
            .key(k.mfa_tickets(id))
            .key(k.passkeys(id))
            .arg(k.session_prefix(id))
            .arg(k.ticket_prefix(id))
            .invoke_async(conn)
            .await?;
        Ok((existed == 1, email, pending))
    }
}

impl Store {
    /// `account_lock.lua`: marks the account locked (`reason`, `now_ms`), ends every session
    /// family and MFA login ticket it has, then forgets this replica's cached sessions of it
    /// (other replicas' caches trail by at most their TTL). None when there is no such account;
    /// else how many families ended.
    pub async fn lock_account(
        &self,
        id: Uuid,
        reason: &str,
        now_ms: u64,
    ) -> StoreResult<Option<u64>> {
        self.run("lock_account", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let revoked: i64 = self
                .scripts()
                .account_lock
                .key(k.account(id))
                .key(k.sessions(id))
                .key(k.mfa_tickets(id))
                .arg(k.session_prefix(id))
                .arg(k.ticket_prefix(id))
                .arg(reason)
                .arg(now_ms)
                .invoke_async(&mut conn)
                .await?;
            self.forget_sessions(id, None);
            Ok(u64::try_from(revoked).ok())
        })
        .await
    }

    /// `account_unlock.lua`: clears the lock. false when there is no such account.
    pub async fn unlock_account(&self, id: Uuid) -> StoreResult<bool> {
        self.run("unlock_account", async {
            let mut conn = self.conn().await?;
            let done: i64 = self
                .scripts()
                .account_unlock
                .key(self.keys().account(id))
                .invoke_async(&mut conn)
                .await?;
            Ok(done == 1)
        })
        .await
    }
}

pub(super) fn parse_uuid(s: &str) -> StoreResult<Uuid> {
    Uuid::parse_str(s).map_err(|_| bad_reply("an account id that is not a UUID"))
}

/// None for a missing or provisional (`ready` not "1") account.
fn parse_account(mut f: HashMap<String, String>) -> StoreResult<Option<Account>> {
    if f.get("ready").map(String::as_str) != Some("1") {
        return Ok(None);
    }
    let mfa_enabled = f.contains_key("mfa");
    let credential_version = match f.get("cv") {
        None => 0,
        Some(cv) => cv.parse().map_err(|_| bad_reply("account cv"))?,
    };
    let time = |name: &str| -> StoreResult<Option<u64>> {
        f.get(name)
            .map(|v| v.parse().map_err(|_| bad_reply(format!("account {name}"))))
            .transpose()
    };
    let locked = f.get("locked").map(String::as_str) == Some("1");
    let (locked_at, last_login_at) = (time("locked_at")?, time("last_login_at")?);
    let locked_reason = f.remove("locked_reason").filter(|_| locked);
    let mut take = |name: &str| {
        f.remove(name)
            .ok_or_else(|| bad_reply(format!("account without {name}")))
    };
    Ok(Some(Account {
        id: parse_uuid(&take("id")?)?,
        email: take("email")?,
        password: take("password")?,
        active: take("active")? == "1",
        created_at: take("created_at")?
            .parse()
            .map_err(|_| bad_reply("account created_at"))?,
        mfa_enabled,
        credential_version,
        locked,
        locked_reason,
        locked_at: locked_at.filter(|_| locked),
        last_login_at,
    }))
}
