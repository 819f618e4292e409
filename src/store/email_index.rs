//! The email index: `<prefix>email:<SHA-256 of the normalized address>` → the account that has the
//! address. Every read and write of it is here; registration (`store/accounts.rs`), removal and the
//! email change (`store/email.rs`) build their multi-slot sequences from these operations.
//!
//! A value is `"<id>"` (written by registration) or `"<id>:<attempt>"` (written by an email change,
//! one attempt id per confirm). The index lives in the address's slot, not the account's, so no
//! script can change it together with the account: each operation here is one script or one read
//! in that slot alone.
//!
//! # Ownership
//!
//! Account H *owns* address `e` when H's account hash exists and
//! - `H.email == e` (a ready account, or a provisional one between registration's claim and
//!   confirm), or
//! - `H.email_pending == e` and that mark is younger than [`PENDING_MAX_MS`] (an email change in
//!   flight).
//!
//! Readers ([`Store::find_by_email`]) accept an index only when the account it names has exactly
//! that email, so an index naming a holder that does not own its address reaches nobody: it is
//! stale.
//!
//! # The one deletion rule
//!
//! A stale index may be deleted by anyone, under one rule ([`Store::release_if_stale`]): read the
//! index value `V` first, then judge its holder, then compare-and-delete exactly `V`
//! (`email_release.lua`). Registration, the email change's claim, its failure path and its release
//! of the old address all follow it; why it is safe against a change about to commit is argued in
//! `store/email.rs`. The one exception is removal: a deleted account never owns an address again,
//! so releasing its indexes compares only the id ([`Store::release_email_of_account`]).

use redis::AsyncCommands;
use uuid::Uuid;

use super::email::PENDING_MAX_MS;
use super::{Connection, Store, StoreResult, accounts::parse_uuid, bad_reply};

/// How an account holds an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ownership {
    /// It is the account's email (ready, or provisional during registration).
    Settled,
    /// An email change of the account to it is in flight (a mark younger than PENDING_MAX).
    InFlight,
    /// Neither: an index naming the account for this address is stale.
    None,
}

/// The account id of an email index value: `"<id>"` or `"<id>:<attempt>"`.
pub(super) fn parse_holder(value: &str) -> StoreResult<Uuid> {
    parse_uuid(value.split_once(':').map_or(value, |(id, _)| id))
}

impl Store {
    /// The index value of `email` (one GET; None when no account claims it). A read only: what it
    /// names must still be judged.
    pub(super) async fn email_index_value(
        &self,
        conn: &mut Connection,
        email: &str,
    ) -> StoreResult<Option<String>> {
        Ok(conn.get(self.keys().email(email)).await?)
    }

    /// Registration's claim, `email_claim.lua`: sets the index of `email` to `id` if absent. The
    /// value it holds afterwards (`id` when claimed, else the holder's value).
    pub(super) async fn claim_email(
        &self,
        conn: &mut Connection,
        email: &str,
        id: &str,
    ) -> StoreResult<String> {
        Ok(self
            .scripts()
            .email_claim
            .key(self.keys().email(email))
            .arg(id)
            .invoke_async(conn)
            .await?)
    }

    /// The email change's claim, `email_change_claim.lua`: writes `value` (`"<account>:<attempt>"`)
    /// when the index of `email` is free or already names `account` — rewriting even its own
    /// claim, which the deletion rule relies on. The value it holds afterwards (`value` when
    /// claimed, else the other holder's value).
    pub(super) async fn claim_email_for_change(
        &self,
        conn: &mut Connection,
        email: &str,
        account: Uuid,
        value: &str,
    ) -> StoreResult<String> {
        Ok(self
            .scripts()
            .email_change_claim
            .key(self.keys().email(email))
            .arg(account.to_string())
            .arg(value)
            .invoke_async(conn)
            .await?)
    }

    /// Whether `holder` owns `email` at `now_ms` (see the module doc): its account hash exists with
    /// that email (ready or provisional), or carries a mark for it younger than `PENDING_MAX_MS`.
    /// One read; the caller must have read the index value before calling this.
    pub(super) async fn owns_email(
        &self,
        conn: &mut Connection,
        holder: Uuid,
        email: &str,
        now_ms: u64,
    ) -> StoreResult<bool> {
        Ok(self.ownership(conn, holder, email, now_ms).await? != Ownership::None)
    }

    /// How `holder` owns `email` at `now_ms` (one HMGET of its account).
    async fn ownership(
        &self,
        conn: &mut Connection,
        holder: Uuid,
        email: &str,
        now_ms: u64,
    ) -> StoreResult<Ownership> {
        let (current, pending, pending_at): (Option<String>, Option<String>, Option<String>) =
            redis::cmd("HMGET")
                .arg(self.keys().account(holder))
                .arg("email")
                .arg("email_pending")
                .arg("email_pending_at")
                .query_async(conn)
                .await?;
        if current.as_deref() == Some(email) {
            return Ok(Ownership::Settled);
        }
        if pending.as_deref() != Some(email) {
            return Ok(Ownership::None);
        }
        let at: u64 = pending_at
            .as_deref()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad_reply("account email_pending_at"))?;
        // A mark stamped ahead of our clock (skew) is young.
        Ok(if now_ms < at.saturating_add(PENDING_MAX_MS) {
            Ownership::InFlight
        } else {
            Ownership::None
        })
    }

    /// The one rule for deleting an index someone else may rely on: `value` (already read from the
    /// index of `email`) is deleted, compared exactly, only when its holder does not own `email`
    /// at `now_ms`. How the holder owns it (`None`: the value was deleted if still there).
    pub(super) async fn release_if_stale(
        &self,
        conn: &mut Connection,
        email: &str,
        value: &str,
        now_ms: u64,
    ) -> StoreResult<Ownership> {
        let holder = parse_holder(value)?;
        let ownership = self.ownership(conn, holder, email, now_ms).await?;
        if ownership == Ownership::None {
            self.release_email(conn, &self.keys().email(email), value)
                .await?;
        }
        Ok(ownership)
    }

    /// `email_release.lua`: deletes the index (`email_key`, its key) only while it still holds
    /// exactly `holder` (an index value, as read). Only after judging that value stale (the rule
    /// above), or for a claim whose provisional account was never visible.
    pub(super) async fn release_email(
        &self,
        conn: &mut Connection,
        email_key: &str,
        holder: &str,
    ) -> StoreResult<()> {
        let _: i64 = self
            .scripts()
            .email_release
            .key(email_key)
            .arg(holder)
            .invoke_async(conn)
            .await?;
        Ok(())
    }

    /// `email_release_account.lua`: deletes the index of `email` if it names `account`, whatever
    /// attempt stamp the value carries. Only for a deleted account, which never owns an address
    /// again.
    pub(super) async fn release_email_of_account(
        &self,
        conn: &mut Connection,
        email: &str,
        account: Uuid,
    ) -> StoreResult<()> {
        let _: i64 = self
            .scripts()
            .email_release_account
            .key(self.keys().email(email))
            .arg(account.to_string())
            .invoke_async(conn)
            .await?;
        Ok(())
    }
}
