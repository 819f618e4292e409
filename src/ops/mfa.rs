//! Managing multi-factor authentication: TOTP secrets (generate → enable →
//! disable) and one-time recovery codes. The second login step is in
//! `ops::login`.
//!
//! Secrets are sealed (AES-256-GCM, account id as associated data) before
//! they reach Redis. A code is matched here, in Rust, to a time step; the
//! store then accepts that step in one script that also refuses a step not
//! newer than the last accepted one (replay, on every replica) and checks
//! that the secret is still the one we opened (compare-and-set).
//!
//! Every code check — login step, recover, enable, disable, recovery-codes —
//! runs inside `credentials::second_factor`: one per-account budget of
//! failed codes, whatever the endpoint, ticket or session (see README
//! "Second-factor guessing budget").
//!
//! A secret that opens but was sealed under an older data key is written
//! back sealed under the current one once a code of it is accepted
//! (`credentials::reseal_if_old`), so old data keys can be retired
//! (`edgeauth rekey` does the rest).
//!
//! Every operation here expects a caller that passed the re-authentication
//! gate (`credentials::require_recent_auth`) and codes already checked to
//! be 6 digits. Imports `ops::common` and `ops::credentials` only among the
//! operations; never the HTTP library, the request type, the adapters or
//! the router.

use uuid::Uuid;

use crate::app::App;
use crate::auth::recovery::{generate_codes, normalize_code};
use crate::auth::{qr, totp};
use crate::error::{ApiResult, Error};
use crate::ops::common::{self, Caller};
use crate::ops::credentials::{change_result, matched_step, reseal_if_old, second_factor};
use crate::store::events::EventKind;
use crate::store::mfa::MfaState;
use crate::store::rekey::SealedField;

/// How long a generated secret waits for `enable`.
const PENDING_TTL_MS: u64 = 10 * 60 * 1000;

/// A freshly generated (pending) secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The secret in base32, for typing into an authenticator app.
    pub otp_secret: String,
    /// Its `otpauth://` URI as a PNG QR code `data:` URL.
    pub image_url: String,
}

async fn mfa_state(app: &App, account: Uuid) -> ApiResult<MfaState> {
    app.store
        .mfa_state(account)
        .await?
        .ok_or(Error::InvalidToken)
}

async fn emit(app: &App, kind: EventKind, account: Uuid, now_ms: u64) -> ApiResult<()> {
    app.emit(common::event(kind, Some(account), None, now_ms))
        .await
}

/// A new pending secret and its QR code.
pub async fn generate(app: &App, caller: &Caller) -> ApiResult<Generated> {
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
    Ok(Generated {
        otp_secret,
        image_url,
    })
}

/// Whether MFA is on for the caller's account.
pub async fn is_enabled(app: &App, caller: &Caller) -> ApiResult<bool> {
    let account = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    Ok(account.mfa_enabled)
}

/// Turns the pending secret on with a code of it.
pub async fn enable(app: &App, caller: &Caller, code: &str, now_ms: u64) -> ApiResult<()> {
    enable_storing(app, caller, code, &[], now_ms).await
}

/// [`enable`], also issuing a first set of recovery codes in the same step
/// (a page that shows them at once): the codes.
pub async fn enable_with_recovery_codes(
    app: &App,
    caller: &Caller,
    code: &str,
    now_ms: u64,
) -> ApiResult<Vec<String>> {
    let codes = generate_codes().map_err(|e| Error::Internal(e.to_string()))?;
    let digests: Vec<String> = codes
        .iter()
        .filter_map(|c| normalize_code(c))
        .map(|c| app.recovery.digest(&c))
        .collect();
    enable_storing(app, caller, code, &digests, now_ms).await?;
    Ok(codes)
}

async fn enable_storing(
    app: &App,
    caller: &Caller,
    code: &str,
    digests: &[String],
    now_ms: u64,
) -> ApiResult<()> {
    let state = mfa_state(app, caller.account).await?;
    if state.active.is_some() {
        return Err(Error::MfaAlreadyEnabled);
    }
    let pending = state.pending.ok_or(Error::MfaNotGenerated)?;
    second_factor(app, caller.account, now_ms, async {
        let step = matched_step(app, caller.account, &pending, code, now_ms)?;
        change_result(
            app.store
                .mfa_enable_with_codes(caller.account, &pending, step, digests)
                .await?,
        )
    })
    .await?;
    // The pending secret is now the active one.
    reseal_if_old(app, caller.account, SealedField::Active, &pending).await;
    emit(app, EventKind::MfaEnabled, caller.account, now_ms).await
}

/// The sealed active secret, or `mfa_not_enabled`.
async fn active_secret(app: &App, caller: &Caller) -> ApiResult<String> {
    let state = mfa_state(app, caller.account).await?;
    state.active.ok_or(Error::MfaNotEnabled)
}

/// Turns MFA off with a code of the active secret.
pub async fn disable(app: &App, caller: &Caller, code: &str, now_ms: u64) -> ApiResult<()> {
    let active = active_secret(app, caller).await?;
    second_factor(app, caller.account, now_ms, async {
        let step = matched_step(app, caller.account, &active, code, now_ms)?;
        change_result(app.store.mfa_disable(caller.account, &active, step).await?)
    })
    .await?;
    emit(app, EventKind::MfaDisabled, caller.account, now_ms).await
}

/// A fresh set of one-time recovery codes, for a code of the active secret
/// (the previous set stops working); only their keyed hashes are stored.
pub async fn recovery_codes(
    app: &App,
    caller: &Caller,
    code: &str,
    now_ms: u64,
) -> ApiResult<Vec<String>> {
    let active = active_secret(app, caller).await?;
    let codes = generate_codes().map_err(|e| Error::Internal(e.to_string()))?;
    // Always made under the current data key.
    let digests: Vec<String> = codes
        .iter()
        .filter_map(|c| normalize_code(c))
        .map(|c| app.recovery.digest(&c))
        .collect();
    second_factor(app, caller.account, now_ms, async {
        let step = matched_step(app, caller.account, &active, code, now_ms)?;
        change_result(
            app.store
                .mfa_replace_recovery_codes(caller.account, &active, step, &digests)
                .await?,
        )
    })
    .await?;
    reseal_if_old(app, caller.account, SealedField::Active, &active).await;
    Ok(codes)
}
