//! The account's password and life: the forgotten password (ask for a reset
//! ticket, then reset with it), the signed-in password change, and removal.
//!
//! Asking for a reset answers the same, and does the same Redis work,
//! whether or not the email is known; the address is mailed at most a few
//! times per window, silently.
//!
//! Imports `ops::common`, `ops::credentials` and `ops::mail` only among the
//! operations; never the HTTP library, the request type, the adapters or
//! the router.

use uuid::Uuid;

use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::ops::common::{self, Caller, enforce_rate};
use crate::ops::credentials::{check_account_password, check_password_strength};
use crate::ops::mail::{Mailed, mail_allowed, send_ticket};
use crate::store::events::EventKind;
use crate::store::sessions::PasswordChange;

/// Asks for a reset ticket for `email` (validated), for a client of rate
/// subject `ip`: one is mailed only when the account exists and the address
/// has not had its reset mails for the window. Every case does the same
/// Redis work.
pub async fn request_password_reset(
    app: &App,
    email: &str,
    ip: &str,
    now_ms: u64,
) -> ApiResult<()> {
    let limits = &app.config.rate_limits;
    let limit = limits.forgot_request_per_ip;
    enforce_rate(app, "forgot_ip", ip, limit, true).await?;
    let mail = mail_allowed(app, "forgot_email", email, limits.forgot_request_per_email).await?;
    let found = app.store.find_by_email(email).await?;
    let account = found.filter(|_| mail).map(|a| a.id);
    send_ticket(
        app,
        account,
        email,
        Mailed::Reset,
        EventKind::PasswordResetRequested,
        now_ms,
    )
    .await
}

/// Resets the password with a reset ticket: `new_password` must already be
/// length-checked; its strength is checked here, against the email of the
/// ticket's account when the ticket leads to one (both before the ticket is
/// spent). The reset activates the account and ends every session.
pub async fn reset_password(
    app: &App,
    ticket: Uuid,
    new_password: &str,
    now_ms: u64,
) -> ApiResult<()> {
    let owner = match app.store.ticket_account(ticket).await? {
        Some(id) => app.store.account(id).await?,
        None => None,
    };
    check_password_strength(app, new_password, owner.as_ref().map(|a| a.email.as_str()))?;
    let hash = app.hasher.hash(new_password).await?;
    let account = app
        .store
        .reset_password_with_ticket(ticket, &hash)
        .await?
        .ok_or(Error::InvalidTicket)?;
    if let Some(found) = app.store.account(account).await? {
        app.emit(common::event(
            EventKind::PasswordChanged,
            Some(account),
            Some(&found.email),
            now_ms,
        ))
        .await?;
    }
    Ok(())
}

/// A signed-in password change: `old_password` must match (a wrong one
/// counts against the account like a failed login), `new_password` must
/// already be length-checked (its strength is checked here, before the old
/// password). Every other session ends, the caller's survives.
pub async fn change_password(
    app: &App,
    caller: &Caller,
    old_password: &str,
    new_password: &str,
    now_ms: u64,
) -> ApiResult<()> {
    let account = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    check_password_strength(app, new_password, Some(&account.email))?;
    // A stolen access token must not become an unlimited password oracle.
    check_account_password(app, &account, old_password).await?;
    let hash = app.hasher.hash(new_password).await?;
    // Compare-and-set against the hash the old password was checked with: a
    // concurrent change or reset wins, and this one fails like a wrong password.
    // The script also rechecks the caller's session, which `authenticate` may
    // have taken from a cache that trails revocations on other replicas.
    match app
        .store
        .change_password(
            account.id,
            &account.password,
            &hash,
            caller.session,
            now_ms / 1000,
        )
        .await?
    {
        PasswordChange::Changed(_) => {}
        PasswordChange::Stale => return Err(Error::InvalidCredentials),
        PasswordChange::SessionGone => return Err(Error::InvalidToken),
    }
    app.emit(common::event(
        EventKind::PasswordChanged,
        Some(account.id),
        Some(&account.email),
        now_ms,
    ))
    .await
}

/// Deletes the caller's account and everything it owns (the caller has
/// passed the re-authentication gate).
pub async fn remove(app: &App, caller: &Caller, now_ms: u64) -> ApiResult<()> {
    let account = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    app.store.remove_account(account.id, &account.email).await?;
    app.emit(common::event(
        EventKind::AccountRemoved,
        Some(account.id),
        Some(&account.email),
        now_ms,
    ))
    .await
}
