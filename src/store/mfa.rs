//! MFA state: the pending and active TOTP secrets, the replay guard, recovery codes and MFA login
//! tickets.
//!
//! Secrets arrive already sealed and codes already checked: this module stores opaque strings and
//! time steps, and never sees a plaintext secret or code (the crypto lives in `auth`, which it must
//! not import). Each check-then-act is one script that re-checks what the caller read — the sealed
//! secret it checked the code against (compare-and-set), and the last accepted step (replay) — so
//! a concurrent generate, enable, disable or login can never be lost or doubled:
//! - `mfa_set_pending.lua`: pending secret, replaced by each generate, with a TTL;
//! - `mfa_enable.lua` / `mfa_disable.lua` / `mfa_recovery_replace.lua`: the account's `mfa` and
//!   `mfa_step` fields and its recovery-code set;
//! - `mfa_ticket_create.lua` + `ticket_pointer.lua` (run by `Store::issue_ticket` in `tickets`): a
//!   login ticket of purpose "mfa", the scheme of `tickets` (record in the account slot, pointer
//!   to find it) plus an `attempts` counter;
//! - `mfa_login_totp.lua` / `mfa_login_recovery.lua`: spend that ticket on a right code, count a
//!   wrong one, burn it at the limit.

use uuid::Uuid;

use super::{Store, StoreResult, bad_reply};

/// `HMGET ready mfa mfa_step` of the account, then `GET` of the pending secret.
type StateReply = (
    (Option<String>, Option<String>, Option<String>),
    Option<String>,
);

/// What the store holds for an account's MFA. `last_step` is 0 when no step was ever accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaState {
    /// Sealed active secret; None = MFA off.
    pub active: Option<String>,
    /// Sealed pending secret (generated, not yet enabled, not expired).
    pub pending: Option<String>,
    pub last_step: u64,
}

/// Outcome of an MFA state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaChange {
    Done,
    AlreadyEnabled,
    NotEnabled,
    NotGenerated,
    /// The time step was accepted before (or an older one was): the code is refused.
    Replayed,
}

/// Outcome of one MFA login try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaLogin {
    /// The ticket is spent: issue tokens.
    Accepted,
    /// Counted against the ticket; the try that reaches the limit also burns it.
    WrongCode,
    /// The code matched a time step already accepted for the account (or an older one): counted
    /// and burning exactly like a wrong code, told apart only so the answer can say why.
    Replayed,
    /// Unknown, expired, spent, burned, of another purpose, or MFA changed meanwhile.
    InvalidTicket,
}

fn parse_change(reply: &str) -> StoreResult<MfaChange> {
    match reply {
        "done" => Ok(MfaChange::Done),
        "already_enabled" => Ok(MfaChange::AlreadyEnabled),
        "not_enabled" => Ok(MfaChange::NotEnabled),
        "not_generated" => Ok(MfaChange::NotGenerated),
        "replayed" => Ok(MfaChange::Replayed),
        other => Err(bad_reply(format!("mfa change status {other:?}"))),
    }
}

fn parse_login(reply: &str) -> StoreResult<MfaLogin> {
    match reply {
        "accepted" => Ok(MfaLogin::Accepted),
        "wrong_code" => Ok(MfaLogin::WrongCode),
        "replayed" => Ok(MfaLogin::Replayed),
        "invalid_ticket" => Ok(MfaLogin::InvalidTicket),
        other => Err(bad_reply(format!("mfa login status {other:?}"))),
    }
}

impl Store {
    /// Stores a new pending secret (replacing any). AlreadyEnabled when `mfa` is set; NotEnabled is
    /// never returned; Done on success. Account missing → Ok(None).
    pub async fn mfa_set_pending(
        &self,
        account: Uuid,
        sealed: &str,
        ttl_ms: u64,
    ) -> StoreResult<Option<MfaChange>> {
        self.run("mfa_set_pending", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let reply: String = s
                .mfa_set_pending
                .key(k.account(account))
                .key(k.mfa_pending(account))
                .arg(sealed)
                .arg(ttl_ms.max(1))
                .invoke_async(&mut conn)
                .await?;
            match reply.as_str() {
                "missing" => Ok(None),
                other => parse_change(other).map(Some),
            }
        })
        .await
    }

    /// One HMGET + GET (reads only, one round trip). None when the account does not exist.
    pub async fn mfa_state(&self, account: Uuid) -> StoreResult<Option<MfaState>> {
        self.run("mfa_state", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let ((ready, active, step), pending): StateReply = redis::pipe()
                .cmd("HMGET")
                .arg(k.account(account))
                .arg(&["ready", "mfa", "mfa_step"])
                .cmd("GET")
                .arg(k.mfa_pending(account))
                .query_async(&mut conn)
                .await?;
            if ready.as_deref() != Some("1") {
                return Ok(None);
            }
            let last_step = step
                .map(|s| s.parse::<u64>())
                .transpose()
                .map_err(|_| bad_reply("account mfa_step"))?
                .unwrap_or(0);
            Ok(Some(MfaState {
                active,
                pending,
                last_step,
            }))
        })
        .await
    }

    /// One script: AlreadyEnabled if `mfa` set; NotGenerated if pending absent or != sealed_pending
    /// (CAS: a newer generate won) or the account is missing; Replayed if step <= mfa_step; else
    /// mfa = pending, mfa_step = step, DEL pending, DEL recovery → Done.
    pub async fn mfa_enable(
        &self,
        account: Uuid,
        sealed_pending: &str,
        step: u64,
    ) -> StoreResult<MfaChange> {
        self.mfa_enable_with_codes(account, sealed_pending, step, &[])
            .await
    }

    /// [`Store::mfa_enable`] that also stores a first set of recovery-code
    /// `digests`, in the same script.
    pub async fn mfa_enable_with_codes(
        &self,
        account: Uuid,
        sealed_pending: &str,
        step: u64,
        digests: &[String],
    ) -> StoreResult<MfaChange> {
        self.run("mfa_enable", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let reply: String = s
                .mfa_enable
                .key(k.account(account))
                .key(k.mfa_pending(account))
                .key(k.recovery(account))
                .arg(sealed_pending)
                .arg(step)
                .arg(digests)
                .invoke_async(&mut conn)
                .await?;
            parse_change(&reply)
        })
        .await
    }

    /// One script: NotEnabled if `mfa` absent or != sealed_active (or the account is missing);
    /// Replayed if step <= mfa_step; else HDEL mfa (keep mfa_step so a disable-then-enable cannot
    /// replay), DEL recovery → Done.
    pub async fn mfa_disable(
        &self,
        account: Uuid,
        sealed_active: &str,
        step: u64,
    ) -> StoreResult<MfaChange> {
        self.run("mfa_disable", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let reply: String = s
                .mfa_disable
                .key(k.account(account))
                .key(k.recovery(account))
                .arg(sealed_active)
                .arg(step)
                .invoke_async(&mut conn)
                .await?;
            parse_change(&reply)
        })
        .await
    }

    /// One script: NotEnabled / Replayed as disable; else mfa_step = step, DEL recovery, SADD every
    /// digest → Done.
    pub async fn mfa_replace_recovery_codes(
        &self,
        account: Uuid,
        sealed_active: &str,
        step: u64,
        digests: &[String],
    ) -> StoreResult<MfaChange> {
        self.run("mfa_replace_recovery_codes", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let reply: String = s
                .mfa_recovery_replace
                .key(k.account(account))
                .key(k.recovery(account))
                .arg(sealed_active)
                .arg(step)
                .arg(digests)
                .invoke_async(&mut conn)
                .await?;
            parse_change(&reply)
        })
        .await
    }

    /// The credential version an MFA login ticket was issued under (its record's `cv`; absent = 0),
    /// for the session its second step starts. None when the record is gone. The field never
    /// changes once written, so reading it apart from the step's script is no race: a reset or
    /// change after this read makes the session script refuse.
    pub async fn mfa_ticket_credential_version(
        &self,
        account: Uuid,
        ticket: Uuid,
    ) -> StoreResult<Option<u64>> {
        self.run("mfa_ticket_credential_version", async {
            let mut conn = self.conn().await?;
            let id = self.ticket_record_id(&mut conn, account, ticket).await?;
            let (purpose, cv): (Option<String>, Option<String>) = redis::cmd("HMGET")
                .arg(self.keys().ticket_by_id(account, &id))
                .arg("purpose")
                .arg("cv")
                .query_async(&mut conn)
                .await?;
            if purpose.as_deref() != Some("mfa") {
                return Ok(None);
            }
            cv.map_or(Ok(0), |cv| cv.parse().map_err(|_| bad_reply("ticket cv")))
                .map(Some)
        })
        .await
    }

    /// The account a ticket points at (pointer GET; not decisive). None when unknown/expired.
    pub async fn ticket_account(&self, ticket: Uuid) -> StoreResult<Option<Uuid>> {
        self.run("ticket_account", async {
            let mut conn = self.conn().await?;
            let found = self.follow_ticket_pointer(&mut conn, ticket).await?;
            Ok(found.map(|(account, _)| account))
        })
        .await
    }

    /// One script, TOTP step of an MFA login. `step` is None when the code matched no step.
    ///   record missing / purpose != "mfa" → InvalidTicket
    ///   account `mfa` absent or != sealed_active → InvalidTicket (MFA was turned off or changed
    ///   meanwhile; the record is deleted)
    ///   step None or step <= mfa_step (replay) → attempts += 1; attempts >= max_attempts → DEL
    ///   record; → WrongCode (step None) or Replayed
    ///   else → DEL record, mfa_step = step → Accepted
    pub async fn mfa_login_totp(
        &self,
        ticket: Uuid,
        account: Uuid,
        sealed_active: &str,
        step: Option<u64>,
        max_attempts: u32,
    ) -> StoreResult<MfaLogin> {
        self.run("mfa_login_totp", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let id = self.ticket_record_id(&mut conn, account, ticket).await?;
            let reply: String = s
                .mfa_login_totp
                .key(k.ticket_by_id(account, &id))
                .key(k.account(account))
                .arg(sealed_active)
                .arg(step.map(|s| s.to_string()).unwrap_or_default())
                .arg(max_attempts)
                .invoke_async(&mut conn)
                .await?;
            parse_login(&reply)
        })
        .await
    }

    /// Same with a recovery code: Accepted iff SREM of any candidate digest removed one (then DEL
    /// record); otherwise attempts as above → WrongCode / InvalidTicket. No sealed_active check:
    /// the recovery set dies with MFA (the script still refuses when `mfa` is absent).
    pub async fn mfa_login_recovery(
        &self,
        ticket: Uuid,
        account: Uuid,
        candidates: &[String],
        max_attempts: u32,
    ) -> StoreResult<MfaLogin> {
        self.run("mfa_login_recovery", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let id = self.ticket_record_id(&mut conn, account, ticket).await?;
            let reply: String = s
                .mfa_login_recovery
                .key(k.ticket_by_id(account, &id))
                .key(k.account(account))
                .key(k.recovery(account))
                .arg(max_attempts)
                .arg(candidates)
                .invoke_async(&mut conn)
                .await?;
            parse_login(&reply)
        })
        .await
    }
}
