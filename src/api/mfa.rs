//! JSON adapter for multi-factor authentication: managing the TOTP secret
//! and recovery codes (`ops::mfa`), and the second login step with a TOTP
//! or a recovery code (`ops::login`).
//!
//! Imports `api::wire` and the operations only: no other adapter, no
//! `router`.

use hyper::StatusCode;
use serde::{Deserialize, Serialize};

use crate::api::wire::{self, Delivery, RequestClient, token_response};
use crate::app::App;
use crate::clock;
use crate::error::ApiResult;
use crate::http::{Request, Response, json_response, no_content};
use crate::ops::common::Caller;
use crate::ops::credentials::SessionKind;
use crate::ops::credentials::{checked_code, parse_ticket};
use crate::ops::{login, mfa};

/// `{code}`: TOTP enable, disable, recovery codes (plus the optional
/// re-authentication `password`).
#[derive(Deserialize)]
pub struct CodeBody {
    pub code: String,
}

/// `{code, ticket}`: the second login step.
#[derive(Deserialize)]
pub struct TotpBody {
    pub code: String,
    pub ticket: String,
}

/// `{ticket, recovery_code}`: the second login step with a recovery code.
#[derive(Deserialize)]
pub struct RecoverBody {
    pub ticket: String,
    pub recovery_code: String,
}

#[derive(Serialize)]
struct Generated {
    image_url: String,
    otp_secret: String,
}

#[derive(Serialize)]
struct RecoveryCodes {
    recovery_codes: Vec<String>,
}

/// `POST /auth/mfa/generate` — a new pending secret and its QR code.
pub async fn generate(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    wire::require_recent_auth(app, &caller, req).await?;
    let generated = mfa::generate(app, &caller).await?;
    Ok(json_response(
        StatusCode::OK,
        &Generated {
            image_url: generated.image_url,
            otp_secret: generated.otp_secret,
        },
    ))
}

/// The re-authenticated caller and the well-formed (not yet checked) code
/// of a `{code}` body.
async fn caller_and_code(app: &App, req: &Request) -> ApiResult<(Caller, String)> {
    let caller = wire::authenticate(app, req).await?;
    wire::require_recent_auth(app, &caller, req).await?;
    let body: CodeBody = req.json()?;
    let code = checked_code(&body.code)?.to_owned();
    Ok((caller, code))
}

/// `POST /auth/mfa/enable` — turns the pending secret on with a code of it.
pub async fn enable(app: &App, req: &Request) -> ApiResult<Response> {
    let (caller, code) = caller_and_code(app, req).await?;
    mfa::enable(app, &caller, &code, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /auth/mfa/disable` — turns MFA off with a code of the active secret.
pub async fn disable(app: &App, req: &Request) -> ApiResult<Response> {
    let (caller, code) = caller_and_code(app, req).await?;
    mfa::disable(app, &caller, &code, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /auth/mfa/recovery-codes` — a fresh set of one-time codes.
pub async fn recovery_codes(app: &App, req: &Request) -> ApiResult<Response> {
    let (caller, code) = caller_and_code(app, req).await?;
    let recovery_codes = mfa::recovery_codes(app, &caller, &code, clock::now_ms()).await?;
    Ok(json_response(
        StatusCode::OK,
        &RecoveryCodes { recovery_codes },
    ))
}

/// `POST /auth/mfa/totp` — the second step of a login with MFA on.
pub async fn login_totp(app: &App, req: &Request) -> ApiResult<Response> {
    let body: TotpBody = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    let code = checked_code(&body.code)?;
    let client = RequestClient::of(app, req);
    let tokens = login::totp(
        app,
        ticket,
        code,
        client.get(),
        SessionKind::Api,
        clock::now_ms(),
    )
    .await?;
    token_response(app, &tokens, Delivery::Cookie)
}

/// `POST /auth/mfa/recover` — the second login step with a recovery code.
pub async fn login_recover(app: &App, req: &Request) -> ApiResult<Response> {
    let body: RecoverBody = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    let client = RequestClient::of(app, req);
    let tokens = login::recovery_code(
        app,
        ticket,
        &body.recovery_code,
        client.get(),
        SessionKind::Api,
        clock::now_ms(),
    )
    .await?;
    token_response(app, &tokens, Delivery::Cookie)
}
