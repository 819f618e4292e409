//! The verified email change: a signed-in request sends a ticket to the new
//! address; presenting that ticket (no Bearer: the ticket proves the new
//! mailbox) moves the account. The two-slot move and why no interleaving or
//! crash ever leaves two accounts on one email or an account no email
//! reaches are in `store/email.rs`.
//!
//! Events: `email.change_requested` to the new address (with the ticket),
//! always — also when the address is taken, so the answer and the work are
//! the same either way (the confirm then answers `409 email_taken`, to the
//! holder of that mailbox only). `email.changed` twice on success: to the new
//! address, then to the old one, so the previous owner of the account's
//! mailbox hears of a change they did not make.

use serde::Deserialize;

use crate::api::{self, account};
use crate::app::App;
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, no_content};
use crate::store::EmailChange;
use crate::store::events::{Event, EventKind};

#[derive(Deserialize)]
struct ChangeRequest {
    new_email: String,
}

#[derive(Deserialize)]
struct TicketBody {
    ticket: String,
}

/// `POST /auth/account/email/request` — 204; emits `email.change_requested`
/// with a ticket to the new address (whether or not it is taken).
pub async fn request_change(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = api::authenticate(app, req).await?;
    api::require_recent_auth(app, &caller, req).await?;
    let body: ChangeRequest = req.json()?;
    let new_email = account::valid_email(&body.new_email)?;
    // Each request mails an address the caller chooses: bound it per account.
    let limit = app.config.rate_limits.email_request_per_account;
    let subject = caller.account.to_string();
    api::enforce_rate(app, "email_request", &subject, limit, true).await?;
    let found = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    let ttl_ms = app.config.email_ticket_ttl.as_millis() as u64;
    // Bound to the email read here: a change landing in between makes this
    // None (and the ticket could never be spent anyway).
    let ticket = app
        .store
        .create_email_ticket(found.id, &found.email, &new_email, ttl_ms)
        .await?
        .ok_or_else(|| Error::Unavailable("account changed while creating its ticket".into()))?;
    let at = clock::now_ms();
    app.emit(Event {
        kind: EventKind::EmailChangeRequested,
        user_id: Some(found.id),
        email: Some(&new_email),
        ticket: Some(ticket),
        expires_at: Some(at + ttl_ms),
        at,
    })
    .await?;
    Ok(no_content())
}

/// `POST /auth/account/email` — spends the ticket and moves the account to
/// its new email. 401 `invalid_ticket` (unknown, spent, expired, or the
/// account's email changed since it was issued), 409 `email_taken`.
pub async fn confirm_change(app: &App, req: &Request) -> ApiResult<Response> {
    let body: TicketBody = req.json()?;
    let ticket = account::parse_ticket(&body.ticket)?;
    match app
        .store
        .change_email_with_ticket(ticket, &clock::now_ms)
        .await?
    {
        EmailChange::Changed { account, old, new } => {
            for address in [&new, &old] {
                app.emit(api::event(
                    EventKind::EmailChanged,
                    Some(account),
                    Some(address),
                ))
                .await?;
                if old == new {
                    break;
                }
            }
            Ok(no_content())
        }
        EmailChange::InvalidTicket => Err(Error::InvalidTicket),
        EmailChange::Taken => Err(Error::EmailTaken),
    }
}
