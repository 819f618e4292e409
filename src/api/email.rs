//! JSON adapter for the verified email change (`ops::email`): request a
//! ticket to the new address (Bearer), confirm with it (no Bearer: the
//! ticket proves the new mailbox).
//!
//! Imports `api::wire` and the operations only: no other adapter, no
//! `router`.

use serde::Deserialize;

use crate::api::wire;
use crate::app::App;
use crate::clock;
use crate::error::ApiResult;
use crate::http::{Request, Response, no_content};
use crate::ops::credentials::{parse_ticket, valid_email};
use crate::ops::email;

/// `{new_email}` (and the optional re-authentication `password`).
#[derive(Deserialize)]
pub struct ChangeRequest {
    pub new_email: String,
}

/// `{ticket}`.
#[derive(Deserialize)]
pub struct TicketBody {
    pub ticket: String,
}

/// `POST /auth/account/email/request` — 204; mails a ticket to the new
/// address (whether or not it is taken).
pub async fn request_change(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    wire::require_recent_auth(app, &caller, req).await?;
    let body: ChangeRequest = req.json()?;
    let new_email = valid_email(&body.new_email)?;
    email::request_change(app, &caller, &new_email, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /auth/account/email` — spends the ticket and moves the account to
/// its new email. 401 `invalid_ticket`, 409 `email_taken`.
pub async fn confirm_change(app: &App, req: &Request) -> ApiResult<Response> {
    let body: TicketBody = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    email::confirm_change(app, ticket, &clock::now_ms).await?;
    Ok(no_content())
}
