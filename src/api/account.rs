//! JSON adapter for the account lifecycle: register, activate (and ask for a
//! new activation ticket), forgotten password (ask, then reset), password
//! change, remove. Each handler decodes its body, calls the operation
//! (`ops::register`, `ops::activate`, `ops::account`) and answers.
//!
//! Imports `api::wire` and the operations only: no other adapter, no
//! `router`.

use serde::Deserialize;

use crate::api::wire::{self, RequestClient, clearing_refresh_cookie};
use crate::app::App;
use crate::clock;
use crate::error::ApiResult;
use crate::http::{Request, Response, no_content};
use crate::ops::credentials::{check_new_password, parse_ticket, valid_email};
use crate::ops::{account, activate, register};

/// `{email, password}`: register, login.
#[derive(Deserialize)]
pub struct Credentials {
    pub email: String,
    pub password: String,
}

/// `{email}`: activate-request, forgot-request.
#[derive(Deserialize)]
pub struct EmailBody {
    pub email: String,
}

/// `{ticket}`: activate.
#[derive(Deserialize)]
pub struct TicketBody {
    pub ticket: String,
}

/// `{ticket, new_password}`: forgot.
#[derive(Deserialize)]
pub struct ResetBody {
    pub ticket: String,
    pub new_password: String,
}

/// `{old_password, new_password}`: password change.
#[derive(Deserialize)]
pub struct PasswordChange {
    pub old_password: String,
    pub new_password: String,
}

/// `POST /auth/register` — 204 whether or not the email was free.
pub async fn register(app: &App, req: &Request) -> ApiResult<Response> {
    let body: Credentials = req.json()?;
    let email = valid_email(&body.email)?;
    check_new_password(app, &body.password)?;
    let client = RequestClient::of(app, req);
    let ip = client.get().rate_subject;
    register::register(app, &email, &body.password, ip, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /auth/account/activate` — spends an activation ticket.
pub async fn activate(app: &App, req: &Request) -> ApiResult<Response> {
    let body: TicketBody = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    activate::activate(app, ticket, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /auth/account/activate/request` — 204 always.
pub async fn request_activation(app: &App, req: &Request) -> ApiResult<Response> {
    let body: EmailBody = req.json()?;
    let email = valid_email(&body.email)?;
    let client = RequestClient::of(app, req);
    activate::request_activation(app, &email, client.get().rate_subject, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /auth/account/forgot/request` — 204 always.
pub async fn request_password_reset(app: &App, req: &Request) -> ApiResult<Response> {
    let body: EmailBody = req.json()?;
    let email = valid_email(&body.email)?;
    let client = RequestClient::of(app, req);
    account::request_password_reset(app, &email, client.get().rate_subject, clock::now_ms())
        .await?;
    Ok(no_content())
}

/// `POST /auth/account/forgot` — the new password is checked before the
/// ticket is spent.
pub async fn reset_password(app: &App, req: &Request) -> ApiResult<Response> {
    let body: ResetBody = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    check_new_password(app, &body.new_password)?;
    account::reset_password(app, ticket, &body.new_password, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /auth/account/remove` — deletes the caller's account.
pub async fn remove(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    wire::require_recent_auth(app, &caller, req).await?;
    account::remove(app, &caller, clock::now_ms()).await?;
    Ok(clearing_refresh_cookie(app, no_content()))
}

/// `POST /auth/account/password` — a signed-in password change.
pub async fn change_password(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    let body: PasswordChange = req.json()?;
    check_new_password(app, &body.new_password)?;
    account::change_password(
        app,
        &caller,
        &body.old_password,
        &body.new_password,
        clock::now_ms(),
    )
    .await?;
    Ok(no_content())
}
