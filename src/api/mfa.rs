//! Multi-factor authentication: TOTP secrets (generate → enable → disable),
//! the second login step (`/auth/mfa/totp`), and one-time recovery codes.
//!
//! Secrets are sealed (AES-256-GCM, account id as associated data) before
//! they reach Redis. A code is matched here, in Rust, to a time step; the
//! store then accepts that step in one script that also refuses a step not
//! newer than the last accepted one (replay, on every replica) and checks
//! that the secret is still the one we opened (compare-and-set).
//!
//! Every code check — login step, recover, enable, disable, recovery-codes —
//! runs inside [`second_factor`]: one per-account budget of failed codes,
//! whatever the endpoint, ticket or session (see README "Second-factor
//! guessing budget").
//!
//! A secret that opens but was sealed under an older data key is written
//! back sealed under the current one once a code of it is accepted
//! ([`reseal_if_old`]), so old data keys can be retired (`edgeauth rekey`
//! does the rest).

use std::future::Future;

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
use crate::store::rekey::SealedField;

/// How long a generated secret waits for `enable`.
const PENDING_TTL_MS: u64 = 10 * 60 * 1000;
/// How long the ticket of a password-verified login waits for its code.
pub const LOGIN_TICKET_TTL_MS: u64 = 5 * 60 * 1000;
/// Live login tickets per account: issuing one more drops the oldest, so a
/// flood of password logins cannot pile tickets up (or make issuing slow).
pub const LOGIN_TICKETS_PER_ACCOUNT: u32 = 5;
/// Wrong codes a login ticket survives.
const MAX_ATTEMPTS: u32 = 5;
/// Rate-limit kind of the per-account budget of failed second factors.
const MFA_BUDGET: &str = "mfa_account";

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

/// A TOTP code must be 6 ASCII digits (else 400).
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

/// Runs `check`, one check of a TOTP or recovery code of `account`, against
/// the account's budget of failed second factors.
///
/// A slot is taken *before* the code is checked (looking first and counting
/// after would let many parallel guesses all pass the look), and given back
/// unless the check ended in `invalid_code`: only wrong codes use up the
/// budget, and each one emits `mfa.failed` (the account, never the code).
/// Past the budget every check is `429` with `Retry-After`, a right code
/// included — otherwise guessing would simply go on until it hit.
async fn second_factor<T>(
    app: &App,
    account: Uuid,
    check: impl Future<Output = ApiResult<T>>,
) -> ApiResult<T> {
    let rate = app.config.rate_limits.mfa_per_account;
    let subject = account.to_string();
    api::enforce_rate(app, MFA_BUDGET, &subject, rate, true).await?;
    let result = check.await;
    match &result {
        Err(Error::InvalidCode) => emit(app, EventKind::MfaFailed, account).await?,
        _ if rate.is_some() => {
            // Best effort: failing costs the owner one slot of the window.
            if let Err(e) = app.store.rate_refund(MFA_BUDGET, &subject).await {
                tracing::warn!(error = %e, "could not give back an mfa_account rate slot");
            }
        }
        _ => {}
    }
    result
}

/// After a code of `sealed` was accepted: when a data key other than the
/// first sealed it, stores the secret sealed under the first key, only if
/// `sealed` is still the stored value (compare-and-set: a concurrent
/// change wins). Best effort: the value stays usable as it is, and
/// `edgeauth rekey` catches whatever this misses.
async fn reseal_if_old(app: &App, account: Uuid, field: SealedField, sealed: &str) {
    if app.sealer.is_current(sealed) {
        return;
    }
    let aad = account.to_string();
    let resealed = app
        .sealer
        .open(sealed, aad.as_bytes())
        .map_err(|e| e.to_string())
        .and_then(|secret| {
            app.sealer
                .seal(&secret, aad.as_bytes())
                .map_err(|e| e.to_string())
        });
    let outcome = match resealed {
        Ok(new) => app
            .store
            .mfa_reseal(account, field, sealed, &new)
            .await
            .map(drop)
            .map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    if let Err(e) = outcome {
        tracing::warn!(error = %e, "could not re-seal a TOTP secret under the current data key");
    }
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
    second_factor(app, caller.account, async {
        let step = matched_step(app, caller.account, &pending, code)?;
        change_result(app.store.mfa_enable(caller.account, &pending, step).await?)
    })
    .await?;
    // The pending secret is now the active one.
    reseal_if_old(app, caller.account, SealedField::Active, &pending).await;
    emit(app, EventKind::MfaEnabled, caller.account).await?;
    Ok(no_content())
}

/// For endpoints that need a code of the active secret: the caller, the
/// sealed active secret and the code (well-formed, not yet checked).
async fn caller_with_active_code(app: &App, req: &Request) -> ApiResult<(Caller, String, String)> {
    let caller = api::authenticate(app, req).await?;
    api::require_recent_auth(app, &caller, req).await?;
    let body: CodeBody = req.json()?;
    let code = checked_code(&body.code)?;
    let state = mfa_state(app, caller).await?;
    let active = state.active.ok_or(Error::MfaNotEnabled)?;
    Ok((caller, active, code.to_owned()))
}

/// `POST /auth/mfa/disable` — turns MFA off with a code of the active secret.
pub async fn disable(app: &App, req: &Request) -> ApiResult<Response> {
    let (caller, active, code) = caller_with_active_code(app, req).await?;
    second_factor(app, caller.account, async {
        let step = matched_step(app, caller.account, &active, &code)?;
        change_result(app.store.mfa_disable(caller.account, &active, step).await?)
    })
    .await?;
    emit(app, EventKind::MfaDisabled, caller.account).await?;
    Ok(no_content())
}

/// `POST /auth/mfa/recovery-codes` — a fresh set of one-time codes (the
/// previous set stops working); only their keyed hashes are stored.
pub async fn recovery_codes(app: &App, req: &Request) -> ApiResult<Response> {
    let (caller, active, code) = caller_with_active_code(app, req).await?;
    let codes = generate_codes().map_err(|e| Error::Internal(e.to_string()))?;
    // Always made under the current data key.
    let digests: Vec<String> = codes
        .iter()
        .filter_map(|c| normalize_code(c))
        .map(|c| app.recovery.digest(&c))
        .collect();
    second_factor(app, caller.account, async {
        let step = matched_step(app, caller.account, &active, &code)?;
        change_result(
            app.store
                .mfa_replace_recovery_codes(caller.account, &active, step, &digests)
                .await?,
        )
    })
    .await?;
    reseal_if_old(app, caller.account, SealedField::Active, &active).await;
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
    // The account is known only now: its budget counts from here.
    second_factor(app, account, async {
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
        if outcome == MfaLogin::Accepted {
            reseal_if_old(app, account, SealedField::Active, &active).await;
        }
        finish_login(app, req, account, credential_version, outcome, delivery).await
    })
    .await
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
    // Malformed input is simply a wrong code: it still costs an attempt
    // (of the ticket and of the account's budget).
    let candidates = normalize_code(&body.recovery_code)
        .map(|c| app.recovery.candidates(&c))
        .unwrap_or_default();
    second_factor(app, account, async {
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
    })
    .await
}
