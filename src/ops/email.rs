//! The verified email change: a signed-in request mails a ticket to the new
//! address; presenting that ticket (it proves the new mailbox) moves the
//! account. The two-slot move and why no interleaving or crash ever leaves
//! two accounts on one email or an account no email reaches are in
//! `store/email.rs`.
//!
//! Events: `email.change_requested` to the new address (with the ticket),
//! always — also when the address is taken, so the answer and the work are
//! the same either way (the confirm then answers `409 email_taken`, to the
//! holder of that mailbox only). `email.changed` twice on success: to the new
//! address, then to the old one, so the previous owner of the account's
//! mailbox hears of a change they did not make.
//!
//! Imports `ops::common` only among the operations; never the HTTP library,
//! the request type, the adapters or the router.

use uuid::Uuid;

use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::ops::common::{self, Caller, enforce_rate};
use crate::store::email::Clock;
use crate::store::events::{Event, EventKind};
use crate::store::{EmailChange, TicketKind};

/// Mails a change ticket to `new_email` (validated) for the caller's
/// account (the caller has passed the re-authentication gate).
pub async fn request_change(
    app: &App,
    caller: &Caller,
    new_email: &str,
    now_ms: u64,
) -> ApiResult<()> {
    // Each request mails an address the caller chooses: bound it per account.
    let limit = app.config.rate_limits.email_request_per_account;
    let subject = caller.account.to_string();
    enforce_rate(app, "email_request", &subject, limit, true).await?;
    let found = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    let ttl_ms = app.config.email_ticket_ttl.as_millis() as u64;
    // Bound to the email read here: a change landing in between makes this
    // None (and the ticket could never be spent anyway).
    let kind = TicketKind::EmailChange {
        old: &found.email,
        new: new_email,
    };
    let ticket = app
        .store
        .issue_ticket(found.id, kind, ttl_ms)
        .await?
        .ok_or_else(|| Error::Unavailable("account changed while creating its ticket".into()))?;
    app.emit(Event {
        kind: EventKind::EmailChangeRequested,
        user_id: Some(found.id),
        email: Some(new_email),
        ticket: Some(ticket),
        expires_at: Some(now_ms + ttl_ms),
        link: None,
        actor: None,
        at: now_ms,
    })
    .await
}

/// Spends a change ticket and moves the account to its new email; `clock`
/// is read afresh by each step of the move. `invalid_ticket` (unknown,
/// spent, expired, or the account's email changed since it was issued),
/// `email_taken`.
pub async fn confirm_change(app: &App, ticket: Uuid, clock: Clock<'_>) -> ApiResult<()> {
    match app.store.change_email_with_ticket(ticket, clock).await? {
        EmailChange::Changed { account, old, new } => {
            let at = clock();
            for address in [&new, &old] {
                app.emit(common::event(
                    EventKind::EmailChanged,
                    Some(account),
                    Some(address),
                    at,
                ))
                .await?;
                if old == new {
                    break;
                }
            }
            Ok(())
        }
        EmailChange::InvalidTicket => Err(Error::InvalidTicket),
        EmailChange::Taken => Err(Error::EmailTaken),
    }
}
