//! The admin API's operations: find an account (by email or id), list every account a page at a
//! time, and act on one — sign it out everywhere, activate it without a ticket, send it a
//! password reset, delete it like a self-removal, lock or unlock it (through `ops::lock`), clear
//! the rate limits of an email or an IP.
//!
//! Every action emits `admin.<action>` naming the account (`user_id`) and the acting token
//! (`actor`: its fingerprint, never the token).
//!
//! Listing walks the account index of `store::admin` (why an index and not `SCAN`: see there);
//! the cursor handed out is opaque: base64url of `<shard>:<last id>`.
//!
//! Imports `ops::common`, `ops::mail` and `ops::lock` only among the operations; never the HTTP library, the
//! request type, the adapters or the router.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::ops::common;
use crate::ops::lock;
use crate::ops::mail::{Mailed, send_ticket};
use crate::store::admin::{AccountSummary, INDEX_SHARDS, IndexCursor};
use crate::store::events::{Event, EventKind};

/// Largest page a listing may ask for.
pub const MAX_PAGE: usize = 1000;
/// The page size when none is asked for.
pub const DEFAULT_PAGE: usize = 100;

/// The rate-limit kinds whose subject is an email address.
pub const EMAIL_RATE_KINDS: &[&str] = &["login_email", "forgot_email", "activate_email"];
/// The rate-limit kinds whose subject is a client IP (as `http::rate_subject` folds it).
pub const IP_RATE_KINDS: &[&str] = &["login_ip", "register_ip", "forgot_ip", "activate_ip"];

/// Whose rate-limit counters to clear.
#[derive(Debug, Clone, Copy)]
pub enum RateSubject<'a> {
    /// A normalized email.
    Email(&'a str),
    /// A client IP as the rate limiter keys it (`http::rate_subject`).
    Ip(&'a str),
}

/// The account with this (normalized) email.
pub async fn find_by_email(app: &App, email: &str) -> ApiResult<AccountSummary> {
    let account = app
        .store
        .find_by_email(email)
        .await?
        .ok_or(Error::NotFound)?;
    summary(app, account.id).await
}

/// The account with this id.
pub async fn summary(app: &App, id: Uuid) -> ApiResult<AccountSummary> {
    app.store.account_summary(id).await?.ok_or(Error::NotFound)
}

/// One page of every account, from `cursor` (None: the start), and the cursor of the next page
/// (None: that was the last). A walk starting from the beginning first makes sure accounts made
/// before the index existed are in it (once; see `store::admin`).
pub async fn list(
    app: &App,
    cursor: Option<&str>,
    limit: usize,
) -> ApiResult<(Vec<AccountSummary>, Option<String>)> {
    let from = match cursor {
        Some(c) => decode_cursor(c)
            .ok_or_else(|| Error::invalid_request("The cursor is not one this API gave out."))?,
        None => {
            app.store.backfill_account_index().await?;
            IndexCursor {
                shard: 0,
                after: None,
            }
        }
    };
    let (accounts, next) = app.store.account_page(from, limit).await?;
    Ok((accounts, next.map(|c| encode_cursor(&c))))
}

/// The opaque form of a cursor.
pub fn encode_cursor(c: &IndexCursor) -> String {
    let after = c.after.map(|a| a.to_string()).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(format!("{:x}:{after}", c.shard))
}

/// A cursor from its opaque form; None when it is not one [`encode_cursor`] makes.
pub fn decode_cursor(s: &str) -> Option<IndexCursor> {
    let raw = URL_SAFE_NO_PAD.decode(s).ok()?;
    let text = std::str::from_utf8(&raw).ok()?;
    let (shard, after) = text.split_once(':')?;
    let shard = u8::from_str_radix(shard, 16).ok()?;
    if shard >= INDEX_SHARDS {
        return None;
    }
    let after = match after {
        "" => None,
        id => Some(Uuid::parse_str(id).ok()?),
    };
    Some(IndexCursor { shard, after })
}

/// Locks the account for `reason`: every session ends at once, sign-ins are refused.
pub async fn lock_account(
    app: &App,
    id: Uuid,
    reason: &str,
    actor: &str,
    now_ms: u64,
) -> ApiResult<()> {
    if !lock::lock(app, id, reason, now_ms).await? {
        return Err(Error::NotFound);
    }
    emit_admin(app, EventKind::AdminLock, Some(id), None, actor, now_ms).await
}

/// Unlocks the account.
pub async fn unlock_account(app: &App, id: Uuid, actor: &str, now_ms: u64) -> ApiResult<()> {
    if !lock::unlock(app, id, now_ms).await? {
        return Err(Error::NotFound);
    }
    emit_admin(app, EventKind::AdminUnlock, Some(id), None, actor, now_ms).await
}

/// Revokes every session family of the account.
pub async fn sign_out(app: &App, id: Uuid, actor: &str, now_ms: u64) -> ApiResult<()> {
    let account = app.store.account(id).await?.ok_or(Error::NotFound)?;
    app.store.revoke_all_sessions(id).await?;
    app.emit(common::event(
        EventKind::TokensRevoked,
        Some(id),
        None,
        now_ms,
    ))
    .await?;
    emit_admin(
        app,
        EventKind::AdminSignOut,
        Some(id),
        Some(&account.email),
        actor,
        now_ms,
    )
    .await
}

/// Activates the account without a ticket.
pub async fn activate(app: &App, id: Uuid, actor: &str, now_ms: u64) -> ApiResult<()> {
    let account = app.store.account(id).await?.ok_or(Error::NotFound)?;
    if !app.store.activate_account(id).await? {
        return Err(Error::NotFound);
    }
    if !account.active {
        app.emit(common::event(
            EventKind::AccountActivated,
            Some(id),
            Some(&account.email),
            now_ms,
        ))
        .await?;
    }
    emit_admin(
        app,
        EventKind::AdminActivate,
        Some(id),
        Some(&account.email),
        actor,
        now_ms,
    )
    .await
}

/// Sends the account a password reset: `password.reset_requested` with a fresh ticket, as if
/// its owner had asked (no per-address mail limit: an operator asked).
pub async fn reset(app: &App, id: Uuid, actor: &str, now_ms: u64) -> ApiResult<()> {
    let account = app.store.account(id).await?.ok_or(Error::NotFound)?;
    send_ticket(
        app,
        Some(id),
        &account.email,
        Mailed::Reset,
        EventKind::PasswordResetRequested,
        now_ms,
    )
    .await?;
    emit_admin(
        app,
        EventKind::AdminReset,
        Some(id),
        Some(&account.email),
        actor,
        now_ms,
    )
    .await
}

/// Deletes the account and everything it owns, as its owner's removal does (and emits
/// `account.removed` like it).
pub async fn delete(app: &App, id: Uuid, actor: &str, now_ms: u64) -> ApiResult<()> {
    let account = app.store.account(id).await?.ok_or(Error::NotFound)?;
    app.store.remove_account(id, &account.email).await?;
    app.emit(common::event(
        EventKind::AccountRemoved,
        Some(id),
        Some(&account.email),
        now_ms,
    ))
    .await?;
    emit_admin(
        app,
        EventKind::AdminDelete,
        Some(id),
        Some(&account.email),
        actor,
        now_ms,
    )
    .await
}

/// Clears every rate-limit counter keyed by `subject`. The event names the account when the
/// subject is the email of one.
pub async fn unthrottle(
    app: &App,
    subject: RateSubject<'_>,
    actor: &str,
    now_ms: u64,
) -> ApiResult<()> {
    let (kinds, value, account) = match subject {
        RateSubject::Email(email) => (
            EMAIL_RATE_KINDS,
            email,
            app.store.find_by_email(email).await?.map(|a| a.id),
        ),
        RateSubject::Ip(ip) => (IP_RATE_KINDS, ip, None),
    };
    app.store.rate_clear(kinds, value).await?;
    let email = match subject {
        RateSubject::Email(email) => Some(email),
        RateSubject::Ip(_) => None,
    };
    emit_admin(
        app,
        EventKind::AdminUnthrottle,
        account,
        email,
        actor,
        now_ms,
    )
    .await
}

/// Emits an `admin.*` event with its actor.
pub async fn emit_admin(
    app: &App,
    kind: EventKind,
    account: Option<Uuid>,
    email: Option<&str>,
    actor: &str,
    now_ms: u64,
) -> ApiResult<()> {
    app.emit(Event {
        actor: Some(actor),
        ..common::event(kind, account, email, now_ms)
    })
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        for c in [
            IndexCursor {
                shard: 0,
                after: None,
            },
            IndexCursor {
                shard: 15,
                after: Some(Uuid::new_v4()),
            },
        ] {
            assert_eq!(decode_cursor(&encode_cursor(&c)), Some(c));
        }
        for bad in ["", "!!", "MTY6", "eDo", &URL_SAFE_NO_PAD.encode("3:nope")] {
            assert_eq!(decode_cursor(bad), None, "{bad}");
        }
    }
}
