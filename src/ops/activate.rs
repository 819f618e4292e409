//! Activation: spend an activation ticket, and ask for a new one (which
//! answers the same, and does the same Redis work, whether or not a mail
//! goes out).
//!
//! Imports `ops::common` and `ops::mail` only among the operations; never
//! the HTTP library, the request type, the adapters or the router.

use uuid::Uuid;

use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::ops::common::{self, enforce_rate};
use crate::ops::mail::{Mailed, mail_allowed, send_ticket};
use crate::store::events::EventKind;

/// Spends an activation ticket; `invalid_ticket` when it is not one.
pub async fn activate(app: &App, ticket: Uuid, now_ms: u64) -> ApiResult<()> {
    let account = app
        .store
        .activate_with_ticket(ticket)
        .await?
        .ok_or(Error::InvalidTicket)?;
    if let Some(found) = app.store.account(account).await? {
        app.emit(common::event(
            EventKind::AccountActivated,
            Some(account),
            Some(&found.email),
            now_ms,
        ))
        .await?;
    }
    Ok(())
}

/// Asks for a fresh activation ticket for `email` (validated), for a client
/// of rate subject `ip`: one is mailed only when an inactive account has
/// this email and the address has not had its activation mails for the
/// window. Every case does the same Redis work.
pub async fn request_activation(app: &App, email: &str, ip: &str, now_ms: u64) -> ApiResult<()> {
    let limits = &app.config.rate_limits;
    let limit = limits.activate_request_per_ip;
    enforce_rate(app, "activate_ip", ip, limit, true).await?;
    let mail = mail_allowed(
        app,
        "activate_email",
        email,
        limits.activate_request_per_email,
    )
    .await?;
    let found = app.store.find_by_email(email).await?;
    let account = found.filter(|a| mail && !a.active).map(|a| a.id);
    send_ticket(
        app,
        account,
        email,
        Mailed::Activate,
        EventKind::AccountActivationRequested,
        now_ms,
    )
    .await
}
