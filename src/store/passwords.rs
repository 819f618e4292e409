//! The credential: every write of an account's password hash is here, and with it the credential
//! version `cv` that each write but the rehash bumps.
//!
//! | Write | Script | `cv` | Also |
//! |---|---|---|---|
//! | registration (the first hash) | `account_create.lua`, in `store/accounts.rs` | absent (0) | the provisional account |
//! | [`Store::replace_password_hash`], the rehash on login | `password_replace.lua` | kept (same password) | — |
//! | [`Store::change_password`], by a signed-in caller | `password_change.lua` | bumped | revokes every other session and every MFA login ticket |
//! | [`Store::reset_password_with_ticket`], by a reset ticket | `ticket_reset.lua` | bumped | spends the ticket, activates, revokes every session and MFA login ticket |
//!
//! Each is a compare-and-set or a ticket spend in one script, so a write never acts on a hash read
//! in an earlier round trip. Bumping `cv` is what makes a change or reset win over a sign-in in
//! flight: the scripts that end a sign-in (`session_create.lua`, `mfa_ticket_create.lua`) refuse a
//! version other than the one the password was checked under (ARCHITECTURE.md, "Credential
//! version and sign-ins in flight").

use uuid::Uuid;

use super::{Store, StoreResult, bad_reply};

/// The outcome of [`Store::change_password`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordChange {
    /// The hash was replaced; this many other families were revoked.
    Changed(u64),
    /// The hash is no longer the one the old password was checked against.
    Stale,
    /// The account or the caller's own family is gone (revoked meanwhile).
    SessionGone,
}

impl Store {
    /// Compare-and-set (rehash on login): replaces the hash only if it still equals `old`. Returns
    /// whether it did.
    pub async fn replace_password_hash(&self, id: Uuid, old: &str, new: &str) -> StoreResult<bool> {
        self.run("replace_password_hash", async {
            let mut conn = self.conn().await?;
            let replaced: i64 = self
                .scripts()
                .password_replace
                .key(self.keys().account(id))
                .arg(old)
                .arg(new)
                .invoke_async(&mut conn)
                .await?;
            Ok(replaced == 1)
        })
        .await
    }

    /// Password change by a signed-in caller: replaces the hash if it is still `old`, bumps the
    /// credential version, revokes every family but `keep` and every live MFA login ticket (and
    /// moves `keep`'s auth_time to `now_secs`), in one script, which also checks that `keep` (the caller's own
    /// session) still exists: the caller was authenticated maybe through this replica's session
    /// cache, which can trail a revocation made through another replica.
    pub async fn change_password(
        &self,
        account: Uuid,
        old: &str,
        new: &str,
        keep: Uuid,
        now_secs: u64,
    ) -> StoreResult<PasswordChange> {
        self.run("change_password", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let revoked: i64 = self
                .scripts()
                .password_change
                .key(k.account(account))
                .key(k.sessions(account))
                .key(k.mfa_tickets(account))
                .arg(old)
                .arg(new)
                .arg(keep.to_string())
                .arg(k.session_prefix(account))
                .arg(k.ticket_prefix(account))
                .arg(now_secs)
                .invoke_async(&mut conn)
                .await?;
            match revoked {
                -1 => Ok(PasswordChange::Stale),
                -2 => {
                    self.forget_sessions(account, Some(keep));
                    Ok(PasswordChange::SessionGone)
                }
                n if n >= 0 => {
                    self.forget_sessions(account, None);
                    Ok(PasswordChange::Changed(n as u64))
                }
                other => Err(bad_reply(format!("password change {other}"))),
            }
        })
        .await
    }

    /// Spends a Reset ticket, sets the password hash, sets active=1, bumps the credential version
    /// and deletes every session and MFA login ticket of the account, in one script. None as
    /// `activate_with_ticket`, and also when a newer reset ticket was issued.
    pub async fn reset_password_with_ticket(
        &self,
        ticket: Uuid,
        new_hash: &str,
    ) -> StoreResult<Option<Uuid>> {
        self.run("reset_password_with_ticket", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let Some((account, id)) = self.follow_ticket_pointer(&mut conn, ticket).await? else {
                return Ok(None);
            };
            let spent: i64 = s
                .ticket_reset
                .key(k.ticket_by_id(account, &id))
                .key(k.account(account))
                .key(k.sessions(account))
                .key(k.reset_ticket(account))
                .key(k.mfa_tickets(account))
                .arg(new_hash)
                .arg(k.session_prefix(account))
                .arg(&id)
                .arg(k.ticket_prefix(account))
                .invoke_async(&mut conn)
                .await?;
            if spent == 1 {
                self.forget_sessions(account, None);
            }
            Ok((spent == 1).then_some(account))
        })
        .await
    }
}
