//! Account lifecycle: register, activate (and ask for a new activation
//! ticket), forgotten password (ask, then reset), password change, remove.
//!
//! Registration and the two "request" endpoints answer the same whether or
//! not the email is known, so they cannot be used to enumerate accounts;
//! they also do the same Redis work (commands and round trips), so timing
//! cannot either. What differs is only the event written to the stream (for
//! a request that sends no mail, an event appended to a stream that keeps
//! nothing). The request endpoints mail an address at most a few times per
//! window (per-email limits), silently: past it they still answer 204.

use serde::Deserialize;
use uuid::Uuid;

use crate::api::session::refund_login_email;
use crate::api::{self, clear_refresh_cookie};
use crate::app::App;
use crate::auth::validate::{normalize_email, password_length_ok};
use crate::clock;
use crate::config::RateLimit;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, no_content};
use crate::metrics::Outcome;
use crate::store::accounts::{NewAccount, Registration};
use crate::store::events::{Event, EventKind};
use crate::store::rate::RateDecision;
use crate::store::tickets::TicketPurpose;

#[derive(Deserialize)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize)]
struct EmailBody {
    email: String,
}

#[derive(Deserialize)]
struct TicketBody {
    ticket: String,
}

#[derive(Deserialize)]
struct ResetBody {
    ticket: String,
    new_password: String,
}

pub fn valid_email(raw: &str) -> ApiResult<String> {
    normalize_email(raw).ok_or(Error::InvalidEmail)
}

pub fn check_new_password(app: &App, password: &str) -> ApiResult<()> {
    let (min, max) = (
        app.config.password_min_length,
        app.config.password_max_length,
    );
    if password_length_ok(password, min, max) {
        Ok(())
    } else {
        Err(Error::InvalidPassword)
    }
}

/// A body ticket: must be a UUID (else 400); whether it is known is for the
/// store to say (else 401).
pub fn parse_ticket(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| Error::invalid_request("The ticket is not a UUID."))
}

/// A ticket for `account`, and its lifetime in ms. With `account` None (no mail may go out: an
/// unknown email, an active account, a per-email limit reached) the store does the very same work
/// for a never-existing account and no ticket comes back, so the Redis commands and round trips of
/// a request say nothing about the account.
async fn new_ticket(
    app: &App,
    account: Option<Uuid>,
    purpose: TicketPurpose,
) -> ApiResult<(Option<Uuid>, u64)> {
    let ttl = match purpose {
        TicketPurpose::Activate => app.config.activation_ticket_ttl,
        TicketPurpose::Reset => app.config.reset_ticket_ttl,
    };
    let ttl_ms = ttl.as_millis() as u64;
    // A fresh v4 id is never an account's.
    let target = account.unwrap_or_else(Uuid::new_v4);
    let ticket = app.store.create_ticket(target, purpose, ttl_ms).await?;
    if account.is_some() && ticket.is_none() {
        return Err(Error::Unavailable(
            "account vanished while creating its ticket".into(),
        ));
    }
    Ok((ticket, ttl_ms))
}

/// Sends a ticket mail: creates a ticket for `account` and emits `kind` carrying it. With
/// `account` None, the same Redis work ([`new_ticket`], and an event appended to a stream that
/// keeps nothing) and no mail.
async fn send_ticket(
    app: &App,
    account: Option<Uuid>,
    email: &str,
    purpose: TicketPurpose,
    kind: EventKind,
) -> ApiResult<()> {
    let (ticket, ttl_ms) = new_ticket(app, account, purpose).await?;
    let at = clock::now_ms();
    let event = Event {
        kind,
        user_id: Some(account.unwrap_or_else(Uuid::new_v4)),
        email: Some(email),
        ticket: Some(ticket.unwrap_or_else(Uuid::new_v4)),
        expires_at: Some(at + ttl_ms),
        at,
    };
    match account {
        Some(_) => app.emit(event).await,
        None => Ok(app.store.emit_discarded(&event).await?),
    }
}

/// Counts one mail request for `email` against its per-address limit: whether a mail may still
/// go. Never an error to the caller (a 429 would say the address is being mailed): past the
/// limit the request answers as usual and sends nothing. Counted whether or not an account has
/// the address, so both cost the same.
async fn mail_allowed(
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

/// `POST /auth/register` — 204 whether or not the email was free.
pub async fn register(app: &App, req: &Request) -> ApiResult<Response> {
    let body: Credentials = req.json()?;
    let email = valid_email(&body.email)?;
    check_new_password(app, &body.password)?;
    let limit = app.config.rate_limits.register_per_ip;
    api::enforce_rate(app, "register_ip", &api::client_ip(app, req), limit, true).await?;
    // Hash before looking at the email, so a taken email costs the same.
    let hash = app.hasher.hash(&body.password).await?;
    let id = Uuid::new_v4();
    let active = app.config.auto_activate;
    let registration = app
        .store
        .register(NewAccount {
            id,
            email: &email,
            password: &hash,
            active,
            now_ms: clock::now_ms(),
        })
        .await?;
    // Both outcomes do the same Redis work (the store's registration does too): a ticket, real
    // or made for no account, unless accounts start active; then one event.
    match registration {
        Registration::Created if !active => {
            send_ticket(
                app,
                Some(id),
                &email,
                TicketPurpose::Activate,
                EventKind::AccountRegistered,
            )
            .await?
        }
        Registration::Created => {
            app.emit(api::event(
                EventKind::AccountRegistered,
                Some(id),
                Some(&email),
            ))
            .await?
        }
        Registration::EmailTaken { existing } => {
            if !active {
                new_ticket(app, None, TicketPurpose::Activate).await?;
            }
            app.emit(api::event(
                EventKind::AccountExists,
                Some(existing),
                Some(&email),
            ))
            .await?
        }
    }
    Ok(no_content())
}

/// `POST /auth/account/activate` — spends an activation ticket.
pub async fn activate(app: &App, req: &Request) -> ApiResult<Response> {
    let body: TicketBody = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    let account = app
        .store
        .activate_with_ticket(ticket)
        .await?
        .ok_or(Error::InvalidTicket)?;
    if let Some(found) = app.store.account(account).await? {
        app.emit(api::event(
            EventKind::AccountActivated,
            Some(account),
            Some(&found.email),
        ))
        .await?;
    }
    Ok(no_content())
}

/// `POST /auth/account/activate/request` — 204 always; a fresh ticket only
/// when an inactive account has this email and the address has not had its
/// activation mails for the window. Every case does the same Redis work.
pub async fn request_activation(app: &App, req: &Request) -> ApiResult<Response> {
    let body: EmailBody = req.json()?;
    let email = valid_email(&body.email)?;
    let limits = &app.config.rate_limits;
    let limit = limits.activate_request_per_ip;
    api::enforce_rate(app, "activate_ip", &api::client_ip(app, req), limit, true).await?;
    let mail = mail_allowed(
        app,
        "activate_email",
        &email,
        limits.activate_request_per_email,
    )
    .await?;
    let found = app.store.find_by_email(&email).await?;
    let account = found.filter(|a| mail && !a.active).map(|a| a.id);
    send_ticket(
        app,
        account,
        &email,
        TicketPurpose::Activate,
        EventKind::AccountActivationRequested,
    )
    .await?;
    Ok(no_content())
}

/// `POST /auth/account/forgot/request` — 204 always; a reset ticket only
/// when the account exists and the address has not had its reset mails for
/// the window. Every case does the same Redis work.
pub async fn request_password_reset(app: &App, req: &Request) -> ApiResult<Response> {
    let body: EmailBody = req.json()?;
    let email = valid_email(&body.email)?;
    let limits = &app.config.rate_limits;
    let limit = limits.forgot_request_per_ip;
    api::enforce_rate(app, "forgot_ip", &api::client_ip(app, req), limit, true).await?;
    let mail = mail_allowed(app, "forgot_email", &email, limits.forgot_request_per_email).await?;
    let found = app.store.find_by_email(&email).await?;
    let account = found.filter(|_| mail).map(|a| a.id);
    send_ticket(
        app,
        account,
        &email,
        TicketPurpose::Reset,
        EventKind::PasswordResetRequested,
    )
    .await?;
    Ok(no_content())
}

/// `POST /auth/account/forgot` — the new password is checked before the
/// ticket is spent; the reset activates the account and ends every session.
pub async fn reset_password(app: &App, req: &Request) -> ApiResult<Response> {
    let body: ResetBody = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    check_new_password(app, &body.new_password)?;
    let hash = app.hasher.hash(&body.new_password).await?;
    let account = app
        .store
        .reset_password_with_ticket(ticket, &hash)
        .await?
        .ok_or(Error::InvalidTicket)?;
    if let Some(found) = app.store.account(account).await? {
        app.emit(api::event(
            EventKind::PasswordChanged,
            Some(account),
            Some(&found.email),
        ))
        .await?;
    }
    Ok(no_content())
}

/// `POST /auth/account/remove` — deletes the caller's account and everything
/// it owns.
pub async fn remove(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = api::authenticate(app, req).await?;
    api::require_recent_auth(app, &caller, req).await?;
    let account = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    app.store.remove_account(account.id, &account.email).await?;
    app.emit(api::event(
        EventKind::AccountRemoved,
        Some(account.id),
        Some(&account.email),
    ))
    .await?;
    let mut response = no_content();
    clear_refresh_cookie(app, &mut response);
    Ok(response)
}

#[derive(Deserialize)]
struct PasswordChange {
    old_password: String,
    new_password: String,
}

/// `POST /auth/account/password` — a signed-in password change. The old
/// password must match; every other session ends, the caller's survives.
pub async fn change_password(app: &App, req: &Request) -> ApiResult<Response> {
    use crate::store::sessions::PasswordChange as Outcome;

    let caller = api::authenticate(app, req).await?;
    let body: PasswordChange = req.json()?;
    check_new_password(app, &body.new_password)?;
    let account = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    // A stolen access token must not become an unlimited password oracle:
    // wrong old passwords count against the account like failed logins.
    let limit = app.config.rate_limits.login_per_email;
    api::enforce_rate(app, "login_email", &account.email, limit, true).await?;
    let matches = match app
        .hasher
        .verify(&body.old_password, &account.password)
        .await
    {
        Ok(matches) => matches,
        Err(e) => {
            refund_login_email(app, &account.email).await;
            return Err(e);
        }
    };
    if !matches {
        return Err(Error::InvalidCredentials);
    }
    refund_login_email(app, &account.email).await;
    let hash = app.hasher.hash(&body.new_password).await?;
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
            clock::now_ms() / 1000,
        )
        .await?
    {
        Outcome::Changed(_) => {}
        Outcome::Stale => return Err(Error::InvalidCredentials),
        Outcome::SessionGone => return Err(Error::InvalidToken),
    }
    app.emit(api::event(
        EventKind::PasswordChanged,
        Some(account.id),
        Some(&account.email),
    ))
    .await?;
    Ok(no_content())
}
