//! Ticket mails (activation, password reset) and the rule that makes them
//! say nothing: a request that may send no mail (an unknown email, an active
//! account, a per-email limit reached) does the very same Redis work as one
//! that does — a ticket made for a never-existing account, and an event
//! appended to a stream that keeps nothing.
//!
//! Imports `ops::common` only among the operations; never the HTTP library,
//! the request type, the adapters or the router.

use uuid::Uuid;

use crate::app::App;
use crate::config::RateLimit;
use crate::error::{ApiResult, Error};
use crate::metrics::Outcome;
use crate::store::TicketKind;
use crate::store::events::{Event, EventKind};
use crate::store::rate::RateDecision;

/// A mailed ticket's purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mailed {
    Activate,
    Reset,
}

/// A ticket for `account`, and its lifetime in ms. With `account` None (no mail may go out) the
/// store does the very same work for a never-existing account and no ticket comes back, so the
/// Redis commands and round trips of a request say nothing about the account.
pub async fn new_ticket(
    app: &App,
    account: Option<Uuid>,
    purpose: Mailed,
) -> ApiResult<(Option<Uuid>, u64)> {
    let (ttl, kind) = match purpose {
        Mailed::Activate => (app.config.activation_ticket_ttl, TicketKind::Activate),
        Mailed::Reset => (app.config.reset_ticket_ttl, TicketKind::Reset),
    };
    let ttl_ms = ttl.as_millis() as u64;
    // A fresh v4 id is never an account's.
    let target = account.unwrap_or_else(Uuid::new_v4);
    let ticket = app.store.issue_ticket(target, kind, ttl_ms).await?;
    if account.is_some() && ticket.is_none() {
        return Err(Error::Unavailable(
            "account vanished while creating its ticket".into(),
        ));
    }
    Ok((ticket, ttl_ms))
}

/// Sends a ticket mail: creates a ticket for `account` and emits `kind` carrying it, stamped
/// `now_ms`. With `account` None, the same Redis work ([`new_ticket`], and an event appended to a
/// stream that keeps nothing) and no mail.
pub async fn send_ticket(
    app: &App,
    account: Option<Uuid>,
    email: &str,
    purpose: Mailed,
    kind: EventKind,
    now_ms: u64,
) -> ApiResult<()> {
    let (ticket, ttl_ms) = new_ticket(app, account, purpose).await?;
    let ticket = ticket.unwrap_or_else(Uuid::new_v4);
    let event = Event {
        kind,
        user_id: Some(account.unwrap_or_else(Uuid::new_v4)),
        email: Some(email),
        ticket: Some(ticket),
        expires_at: Some(now_ms + ttl_ms),
        link: portal_link(app, purpose, ticket),
        actor: None,
        at: now_ms,
    };
    match account {
        Some(_) => app.emit(event).await,
        None => Ok(app.store.emit_discarded(&event).await?),
    }
}

/// The portal page a ticket mail links to, when the portal is on and has a
/// public origin (`EDGEAUTH_PORTAL_URL`): `<origin>/auth/ui/activate?ticket=…`
/// or `<origin>/auth/ui/reset?ticket=…`.
pub fn portal_link(app: &App, purpose: Mailed, ticket: Uuid) -> Option<String> {
    let origin = app
        .config
        .portal_url
        .as_deref()
        .filter(|_| app.config.portal)?;
    let page = match purpose {
        Mailed::Activate => "activate",
        Mailed::Reset => "reset",
    };
    Some(format!("{origin}/auth/ui/{page}?ticket={ticket}"))
}

/// Counts one mail request for `email` against its per-address limit: whether a mail may still
/// go. Never an error to the caller (a 429 would say the address is being mailed): past the
/// limit the request answers as usual and sends nothing. Counted whether or not an account has
/// the address, so both cost the same.
pub async fn mail_allowed(
    app: &App,
    kind: &'static str,
    email: &str,
    rate: Option<RateLimit>,
) -> ApiResult<bool> {
    let Some(rate) = rate else {
        return Ok(true);
    };
    let window_ms = rate.window.as_millis() as u64;
    match app
        .store
        .rate_check(kind, email, rate.limit, window_ms, true)
        .await?
    {
        RateDecision::Allowed => Ok(true),
        RateDecision::Limited { .. } => {
            app.metrics.outcome(Outcome::RateLimited);
            Ok(false)
        }
    }
}
