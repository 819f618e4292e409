//! Multi-factor authentication: TOTP secrets (generate → enable → disable),
//! the second login step (`/auth/mfa/totp`), and one-time recovery codes.
//!
//! Secrets are sealed (AES-256-GCM, account id as associated data) before
//! they reach Redis. A code is matched here, in Rust, to a time step; the
//! store then accepts that step in one script that also refuses a step not
//! newer than the last accepted one (replay, on every replica) and checks
//! that the secret is still the one we opened (compare-and-set).

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::account::parse_ticket;
use crate::api::session::start_session;
use crate::api::{self, Caller, Delivery};
use crate::app::App;
use crate::auth::recovery::{generate_codes, normalize_code};
use crate::auth::{qr, totp};
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, json_response, no_content};
use crate::metrics::Outcome;
use crate::store::events::EventKind;
use crate::store::mfa::{MfaChange, MfaLogin, MfaState};

/// How long a generated secret waits for `enable`.
const PENDING_TTL_MS: u64 = 10 * 60 * 1000;
/// How long the ticket of a password-verified login waits for its code.
pub const LOGIN_TICKET_TTL_MS: u64 = 5 * 60 * 1000;
/// Live login tickets per account: issuing one more drops the oldest, so a
/// flood of password logins cannot pile tickets up (or make issuing slow).
pub const LOGIN_TICKETS_PER_ACCOUNT: u32 = 5;
/// Wrong codes a login ticket survives.
const MAX_ATTEMPTS: u32 = 5;

#[derive(Deserialize)]
struct CodeBody {
    code: String,
}

#[derive(Deserialize)]
struct TotpBody {
    code: String,
    ticket: String,
}

#[derive(Deserialize)]
struct RecoverBody {
    ticket: String,
    recovery_code: String,
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

/// A TOTP code must be 6 ASCII digits (else 400, SPEC §1).
fn checked_code(code: &str) -> ApiResult<&str> {
    if totp::is_code_format(code) {
        Ok(code)
    } else {
        Err(Error::invalid_request("The code must be 6 digits."))
    }
}

fn now_secs() -> u64 {
    clock::now_ms() / 1000
}

/// Opens a sealed secret of `account`. A secret sealed under a data key
/// that is no longer configured fails closed: it is never tried with
/// another key, and the request is refused.
fn open_secret(app: &App, account: Uuid, sealed: &str) -> ApiResult<Vec<u8>> {
    app.sealer
        .open(sealed, account.to_string().as_bytes())
        .map_err(|e| Error::Internal(format!("cannot open the TOTP secret of {account}: {e}")))
}

async fn mfa_state(app: &App, caller: Caller) -> ApiResult<MfaState> {
    app.store
        .mfa_state(caller.account)
        .await?
        .ok_or(Error::InvalidToken)
}

/// The time step `code` matches for the sealed secret, or `invalid_code`.
fn matched_step(app: &App, account: Uuid, sealed: &str, code: &str) -> ApiResult<u64> {
    let secret = open_secret(app, account, sealed)?;
    totp::matching_step(&secret, code, now_secs()).ok_or(Error::InvalidCode)
}

fn change_result(change: MfaChange) -> ApiResult<()> {
    match change {
        MfaChange::Done => Ok(()),
        MfaChange::AlreadyEnabled => Err(Error::MfaAlreadyEnabled),
        MfaChange::NotEnabled => Err(Error::MfaNotEnabled),
        MfaChange::NotGenerated => Err(Error::MfaNotGenerated),
        // The step was accepted before: a replayed code is a wrong code.
        MfaChange::Replayed => Err(Error::InvalidCode),
    }
}

async fn emit(app: &App, kind: EventKind, account: Uuid) -> ApiResult<()> {
    app.emit(api::event(kind, Some(account), None)).await
}

/// `POST /auth/mfa/generate` — a new pending secret and its QR code.
pub async fn generate(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = api::authenticate(app, req).await?;
    api::require_recent_auth(app, &caller, req).await?;
    let account = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    if account.mfa_enabled {
        return Err(Error::MfaAlreadyEnabled);
    }
    let secret = totp::generate_secret().map_err(|e| Error::Internal(e.to_string()))?;
    let sealed = app
        .sealer
        .seal(&secret, account.id.to_string().as_bytes())
        .map_err(|e| Error::Internal(e.to_string()))?;
    let stored = app
        .store
        .mfa_set_pending(account.id, &sealed, PENDING_TTL_MS)
        .await?
        .ok_or(Error::InvalidToken)?;
    change_result(stored)?;
    let otp_secret = totp::base32_secret(&secret);
    let uri = totp::otpauth_uri(&app.config.mfa_issuer, &account.email, &otp_secret);
    let image_url = qr::png_data_url(&uri).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(json_response(
        hyper::StatusCode::OK,
        &Generated {
            image_url,
            otp_secret,
        },
    ))
}

/// `POST /auth/mfa/enable` — turns the pending secret on with a code of it.
pub async fn enable(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = api::authenticate(app, req).await?;
    api::require_recent_auth(app, &caller, req).await?;
    let body: CodeBody = req.json()?;
    let code = checked_code(&body.code)?;
    let state = mfa_state(app, caller).await?;
    if state.active.is_some() {
        return Err(Error::MfaAlreadyEnabled);
    }
    let pending = state.pending.ok_or(Error::MfaNotGenerated)?;
    let step = matched_step(app, caller.account, &pending, code)?;
    change_result(app.store.mfa_enable(caller.account, &pending, step).await?)?;
    emit(app, EventKind::MfaEnabled, caller.account).await?;
    Ok(no_content())
}

/// For endpoints that need a code of the active secret: the caller, the
/// sealed active secret and the step the code matched.
async fn caller_with_active_code(app: &App, req: &Request) -> ApiResult<(Caller, String, u64)> {
    let caller = api::authenticate(app, req).await?;
    api::require_recent_auth(app, &caller, req).await?;
    let body: CodeBody = req.json()?;
    let code = checked_code(&body.code)?;
    let state = mfa_state(app, caller).await?;
    let active = state.active.ok_or(Error::MfaNotEnabled)?;
    let step = matched_step(app, caller.account, &active, code)?;
    Ok((caller, active, step))
}

/// `POST /auth/mfa/disable` — turns MFA off with a code of the active secret.
pub async fn disable(app: &App, req: &Request) -> ApiResult<Response> {
    let (caller, active, step) = caller_with_active_code(app, req).await?;
    change_result(app.store.mfa_disable(caller.account, &active, step).await?)?;
    emit(app, EventKind::MfaDisabled, caller.account).await?;
    Ok(no_content())
}

/// `POST /auth/mfa/recovery-codes` — a fresh set of one-time codes (the
/// previous set stops working); only their keyed hashes are stored.
pub async fn recovery_codes(app: &App, req: &Request) -> ApiResult<Response> {
    let (caller, active, step) = caller_with_active_code(app, req).await?;
    let codes = generate_codes().map_err(|e| Error::Internal(e.to_string()))?;
    let digests: Vec<String> = codes
        .iter()
        .filter_map(|c| normalize_code(c))
        .map(|c| app.recovery.digest(&c))
        .collect();
    change_result(
        app.store
            .mfa_replace_recovery_codes(caller.account, &active, step, &digests)
            .await?,
    )?;
    Ok(json_response(
        hyper::StatusCode::OK,
        &RecoveryCodes {
            recovery_codes: codes,
        },
    ))
}

/// The answer to a second login step.
///
/// `credential_version` is the ticket's: a password reset or change since
/// the password step makes the session refuse, and the ticket is invalid.
async fn finish_login(
    app: &App,
    req: &Request,
    account: Uuid,
    credential_version: u64,
    outcome: MfaLogin,
    delivery: Delivery,
) -> ApiResult<Response> {
    app.metrics.outcome(match outcome {
        MfaLogin::Accepted => Outcome::MfaSuccess,
        MfaLogin::WrongCode | MfaLogin::InvalidTicket => Outcome::MfaFailure,
    });
    match outcome {
        MfaLogin::Accepted => start_session(app, req, account, credential_version, delivery)
            .await
            .map_err(|e| match e {
                Error::InvalidCredentials => Error::InvalidTicket,
                other => other,
            }),
        MfaLogin::WrongCode => Err(Error::InvalidCode),
        MfaLogin::InvalidTicket => Err(Error::InvalidTicket),
    }
}

/// `POST /auth/mfa/totp` — the second step of a login with MFA on.
pub async fn login_totp(app: &App, req: &Request) -> ApiResult<Response> {
    login_totp_with(app, req, Delivery::Cookie).await
}

/// [`login_totp`], handing the refresh token out as `delivery` says (the
/// HBP route's `cookie: false` asks for [`Delivery::BodyOnly`]).
pub async fn login_totp_with(app: &App, req: &Request, delivery: Delivery) -> ApiResult<Response> {
    let body: TotpBody = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    let code = checked_code(&body.code)?;
    let account = app
        .store
        .ticket_account(ticket)
        .await?
        .ok_or(Error::InvalidTicket)?;
    let credential_version = app
        .store
        .mfa_ticket_credential_version(account, ticket)
        .await?
        .ok_or(Error::InvalidTicket)?;
    let state = app
        .store
        .mfa_state(account)
        .await?
        .ok_or(Error::InvalidTicket)?;
    let active = state.active.ok_or(Error::InvalidTicket)?;
    let secret = open_secret(app, account, &active)?;
    // A code that matches no step still goes to the store: it counts
    // against the ticket's attempts there, atomically.
    let step = totp::matching_step(&secret, code, now_secs());
    let outcome = app
        .store
        .mfa_login_totp(ticket, account, &active, step, MAX_ATTEMPTS)
        .await?;
    finish_login(app, req, account, credential_version, outcome, delivery).await
}

/// `POST /auth/mfa/recover` — the second login step with a recovery code.
pub async fn login_recover(app: &App, req: &Request) -> ApiResult<Response> {
    let body: RecoverBody = req.json()?;
    let ticket = parse_ticket(&body.ticket)?;
    let account = app
        .store
        .ticket_account(ticket)
        .await?
        .ok_or(Error::InvalidTicket)?;
    let credential_version = app
        .store
        .mfa_ticket_credential_version(account, ticket)
        .await?
        .ok_or(Error::InvalidTicket)?;
    // Malformed input is simply a wrong code: it still costs an attempt.
    let candidates = normalize_code(&body.recovery_code)
        .map(|c| app.recovery.candidates(&c))
        .unwrap_or_default();
    let outcome = app
        .store
        .mfa_login_recovery(ticket, account, &candidates, MAX_ATTEMPTS)
        .await?;
    if outcome == MfaLogin::Accepted {
        emit(app, EventKind::MfaRecoveryCodeUsed, account).await?;
    }
    finish_login(
        app,
        req,
        account,
        credential_version,
        outcome,
        Delivery::Cookie,
    )
    .await
}
