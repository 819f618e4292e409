//! Proving who you are, once for every front door: the input checks
//! (email, new password, ticket, TOTP code format), the failed-login budget
//! around a password check ([`check_password_within`], used by the password
//! sign-in, the password change and re-authentication alike), the
//! re-authentication gate of sensitive changes ([`require_recent_auth`]),
//! the second-factor budget ([`second_factor`]) and what a TOTP check needs
//! (opening a sealed secret, re-sealing under the current data key), and
//! finishing a sign-in: a session ([`start_session`]) or an MFA login
//! ticket ([`issue_login_ticket`]).
//!
//! Imports `ops::common` only among the operations; never the HTTP library,
//! the request type, the adapters or the router.

use std::future::Future;

use uuid::Uuid;

use crate::app::App;
use crate::auth::amr::Amr;
use crate::auth::totp;
use crate::auth::validate::{normalize_email, password_length_ok};
use crate::config::RateLimit;
use crate::error::{ApiResult, Error};
use crate::ops::common::{self, Caller, Client, enforce_rate, refund_rate};
use crate::store::TicketKind;
use crate::store::accounts::Account;
use crate::store::events::EventKind;
use crate::store::mfa::MfaChange;
use crate::store::rekey::SealedField;
use crate::store::sessions::{NewSession, SessionMeta, SessionStart};

/// Live login tickets per account: issuing one more drops the oldest, so a
/// flood of password logins cannot pile tickets up (or make issuing slow).
pub const LOGIN_TICKETS_PER_ACCOUNT: u32 = 5;
/// Rate-limit kind of the per-account budget of failed second factors.
const MFA_BUDGET: &str = "mfa_account";

/// A normalized email, or `400 invalid_email`.
pub fn valid_email(raw: &str) -> ApiResult<String> {
    normalize_email(raw).ok_or(Error::InvalidEmail)
}

/// A new password within the configured length bounds, or `400 invalid_password`.
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

/// A new password the strength policy accepts (`EDGEAUTH_PASSWORD_MIN_SCORE`,
/// a zxcvbn score; 0 = no check), else `400 invalid_password` saying why.
/// `email` (normalized), when known, counts as a user input: its local part
/// and the whole address make a password built on them weak. Called by the
/// register, reset and change operations, whatever the front door.
pub fn check_password_strength(app: &App, password: &str, email: Option<&str>) -> ApiResult<()> {
    let min = app.config.password_min_score;
    if min == 0 {
        return Ok(());
    }
    let mut inputs: Vec<&str> = Vec::new();
    if let Some(email) = email {
        inputs.push(email);
        if let Some((local, _)) = email.split_once('@') {
            inputs.push(local);
        }
    }
    let estimate = zxcvbn::zxcvbn(password, &inputs);
    if u8::from(estimate.score()) >= min {
        return Ok(());
    }
    let why = estimate.feedback().and_then(|f| {
        let mut parts: Vec<String> = Vec::new();
        if let Some(warning) = f.warning() {
            parts.push(warning.to_string());
        }
        parts.extend(f.suggestions().first().map(ToString::to_string));
        (!parts.is_empty())
            .then(|| format!("This password is too easy to guess. {}", parts.join(" ")))
    });
    Err(Error::WeakPassword(why.unwrap_or_else(|| {
        "This password is too easy to guess.".to_owned()
    })))
}

/// A ticket: must be a UUID (else 400); whether it is known is for the
/// store to say (else 401).
pub fn parse_ticket(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw.trim()).map_err(|_| Error::invalid_request("The ticket is not a UUID."))
}

/// A TOTP code must be 6 ASCII digits (else 400).
pub fn checked_code(code: &str) -> ApiResult<&str> {
    if totp::is_code_format(code) {
        Ok(code)
    } else {
        Err(Error::invalid_request("The code must be 6 digits."))
    }
}

/// The failure budget a password check counts against.
#[derive(Debug, Clone, Copy)]
pub struct LoginBudget<'a> {
    pub kind: &'static str,
    pub subject: &'a str,
    pub rate: Option<RateLimit>,
}

impl<'a> LoginBudget<'a> {
    /// The account's (its email's) budget: `EDGEAUTH_RATE_LOGIN_PER_EMAIL`.
    pub fn email(app: &App, email: &'a str) -> Self {
        LoginBudget {
            kind: "login_email",
            subject: email,
            rate: app.config.rate_limits.login_per_email,
        }
    }

    /// A known device's own budget: `EDGEAUTH_RATE_LOGIN_PER_DEVICE`.
    pub fn device(app: &App, device: &'a str) -> Self {
        LoginBudget {
            kind: "login_device",
            subject: device,
            rate: app.config.rate_limits.login_per_device,
        }
    }
}

/// Runs `check`, one password check (its verdict: whatever it found, and
/// whether the password was right), against `budget`.
///
/// Every check takes a slot *before* the password is checked (looking first
/// and counting after the check would let parallel guesses all pass the
/// look), and gives it back unless the password was checked and wrong — so
/// the owner proving their password never uses up the allowance, and an
/// error (a busy hash pool, Redis) costs nothing. The one implementation of
/// the failed-login budget: the password sign-in, the password change and
/// re-authentication all come through here.
pub async fn check_password_within<T>(
    app: &App,
    budget: LoginBudget<'_>,
    check: impl Future<Output = ApiResult<(T, bool)>>,
) -> ApiResult<(T, bool)> {
    enforce_rate(app, budget.kind, budget.subject, budget.rate, true).await?;
    let verdict = check.await;
    if !matches!(verdict, Ok((_, false))) {
        refund_rate(app, budget.kind, budget.subject, budget.rate).await;
    }
    verdict
}

/// `password` against `account`'s own hash, within the account's
/// `login_email` budget: a wrong one is `401 invalid_credentials` and counts
/// like a failed login, so a stolen access token is no unlimited oracle.
pub async fn check_account_password(app: &App, account: &Account, password: &str) -> ApiResult<()> {
    let budget = LoginBudget::email(app, &account.email);
    let ((), matches) = check_password_within(app, budget, async {
        Ok(((), app.hasher.verify(password, &account.password).await?))
    })
    .await?;
    if matches {
        Ok(())
    } else {
        Err(Error::InvalidCredentials)
    }
}

/// Whether the caller proved a credential within `EDGEAUTH_REAUTH_MAX_AGE`.
/// A future `auth_time` (clock skew between replicas) counts as now.
pub fn auth_is_recent(app: &App, caller: &Caller, now_ms: u64) -> bool {
    let now_secs = now_ms / 1000;
    let max_age = app.config.reauth_max_age.as_secs();
    caller
        .auth_time
        .is_some_and(|t| now_secs.saturating_sub(t) <= max_age)
}

/// The gate of sensitive changes (email change, MFA generate / enable /
/// disable / recovery codes, account removal): a stolen access token alone
/// must not take the account over. Passes when the sign-in is recent
/// ([`auth_is_recent`]), or when `password` (the request's optional one) is
/// the account's current one; else `403 reauthentication_required`. A wrong
/// password is `401 invalid_credentials`, counted as
/// [`check_account_password`] counts it.
pub async fn require_recent_auth(
    app: &App,
    caller: &Caller,
    password: Option<&str>,
    now_ms: u64,
) -> ApiResult<()> {
    if auth_is_recent(app, caller, now_ms) {
        return Ok(());
    }
    let Some(password) = password else {
        return Err(Error::ReauthenticationRequired);
    };
    let account = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    check_account_password(app, &account, password).await
}

/// A signed-in session's first tokens: generation `generation` of refresh
/// family `family`, whose access tokens carry `auth_time` (the family's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tokens {
    pub account: Uuid,
    pub family: Uuid,
    pub generation: u64,
    pub auth_time: Option<u64>,
    /// How the user authenticated; kept by the family across refreshes.
    pub amr: Amr,
}

/// Which front door a sign-in came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionKind {
    /// An API client: a refresh-token family with the `EDGEAUTH_REFRESH_*` lifetimes.
    Api,
    /// A browser through the portal: the family is also an edge session (its cookie), whose
    /// first lifetime is `EDGEAUTH_SESSION_IDLE_TIMEOUT` capped by `EDGEAUTH_SESSION_MAX_AGE`.
    Browser,
}

/// How a sign-in step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// Signed in: a new session.
    Tokens(Tokens),
    /// The password was right; the session starts after the second factor,
    /// presented with this ticket.
    MfaRequired { ticket: Uuid },
}

/// Starts a new refresh-token family for `account` (a password sign-in, or
/// the second factor that completes one, through the JSON API or the
/// portal). The user proved a credential just now: that is the family's
/// `auth_time`, and `proof.amr` how.
///
/// `credential_version` is the one the password (or the MFA ticket) was
/// checked under: the store refuses the session if a password reset or
/// change landed since, which is then `invalid_credentials` — a sign-in that
/// began with the old password never ends in a live session. A locked
/// account gets no session (`account_locked`), whatever the front door.
pub async fn start_session(
    app: &App,
    account: Uuid,
    credential_version: u64,
    proof: SessionProof<'_>,
    now_ms: u64,
) -> ApiResult<Tokens> {
    let SessionProof { client, kind, amr } = proof;
    let family = Uuid::new_v4();
    let auth_time = now_ms / 1000;
    let config = &app.config;
    // A family never outlives its absolute lifetime, whatever its idle one.
    let ttl = match kind {
        SessionKind::Api => config.refresh_ttl.min(config.refresh_max_age),
        SessionKind::Browser => config.session_idle_timeout.min(config.session_max_age),
    };
    // Families of either kind share the account's index: one unused for longer than the
    // longer of the two idle lifetimes has expired, whichever kind made it.
    let prune_after = config
        .refresh_ttl
        .min(config.refresh_max_age)
        .max(config.session_idle_timeout.min(config.session_max_age));
    let session = NewSession {
        account,
        family,
        meta: SessionMeta {
            user_agent: client.user_agent,
            ip: client.address,
        },
        now_ms,
        ttl_ms: ttl.as_millis() as u64,
        prune_after_ms: prune_after.as_millis() as u64,
        cap: config.sessions_per_account,
        credential_version,
        auth_time,
        amr: amr.bits(),
        browser: kind == SessionKind::Browser,
    };
    match app.store.start_session(session).await? {
        SessionStart::Created => {}
        // The account was removed, or its password reset or changed, between
        // the password check and now.
        SessionStart::Refused => return Err(Error::InvalidCredentials),
        SessionStart::Locked => return Err(Error::AccountLocked),
    }
    Ok(Tokens {
        account,
        family,
        generation: 0,
        auth_time: Some(auth_time),
        amr,
    })
}

/// What a new session rests on: who asked, through which front door, and
/// how the user proved who they are.
#[derive(Debug, Clone, Copy)]
pub struct SessionProof<'a> {
    pub client: &'a Client<'a>,
    pub kind: SessionKind,
    pub amr: Amr,
}

/// Password proven for an account with MFA on: a login ticket for the
/// second step, living `EDGEAUTH_MFA_LOGIN_TICKET_TTL`. It carries the
/// credential version the password was checked under, and is refused if a
/// reset or change landed since (`invalid_credentials`).
pub async fn issue_login_ticket(
    app: &App,
    account: Uuid,
    credential_version: u64,
    now_ms: u64,
) -> ApiResult<Uuid> {
    let ttl_ms = app.config.mfa_login_ticket_ttl.as_millis() as u64;
    app.store
        .issue_ticket(
            account,
            TicketKind::MfaLogin {
                credential_version,
                cap: LOGIN_TICKETS_PER_ACCOUNT,
                now_ms,
            },
            ttl_ms,
        )
        .await?
        .ok_or(Error::InvalidCredentials)
}

/// Runs `check`, one check of a TOTP or recovery code of `account`, against
/// the account's budget of failed second factors.
///
/// A slot is taken *before* the code is checked (looking first and counting
/// after would let many parallel guesses all pass the look), and given back
/// unless the check ended in `invalid_code`: only wrong (or replayed) codes
/// use up the budget, and each one emits `mfa.failed` (the account, never the
/// code).
/// Past the budget every check is `429` with `Retry-After`, a right code
/// included — otherwise guessing would simply go on until it hit.
pub async fn second_factor<T>(
    app: &App,
    account: Uuid,
    now_ms: u64,
    check: impl Future<Output = ApiResult<T>>,
) -> ApiResult<T> {
    let rate = app.config.rate_limits.mfa_per_account;
    let subject = account.to_string();
    enforce_rate(app, MFA_BUDGET, &subject, rate, true).await?;
    let result = check.await;
    match &result {
        Err(Error::InvalidCode | Error::ReplayedCode) => {
            app.emit(common::event(
                EventKind::MfaFailed,
                Some(account),
                None,
                now_ms,
            ))
            .await?
        }
        _ => refund_rate(app, MFA_BUDGET, &subject, rate).await,
    }
    result
}

/// Opens a sealed secret of `account`. A secret sealed under a data key
/// that is no longer configured fails closed: it is never tried with
/// another key, and the request is refused.
pub fn open_secret(app: &App, account: Uuid, sealed: &str) -> ApiResult<Vec<u8>> {
    app.sealer
        .open(sealed, account.to_string().as_bytes())
        .map_err(|e| Error::Internal(format!("cannot open the TOTP secret of {account}: {e}")))
}

/// The time step `code` matches for the sealed secret, or `invalid_code`.
pub fn matched_step(
    app: &App,
    account: Uuid,
    sealed: &str,
    code: &str,
    now_ms: u64,
) -> ApiResult<u64> {
    let secret = open_secret(app, account, sealed)?;
    totp::matching_step(&secret, code, now_ms / 1000).ok_or(Error::InvalidCode)
}

/// The answer of an MFA change script.
pub fn change_result(change: MfaChange) -> ApiResult<()> {
    match change {
        MfaChange::Done => Ok(()),
        MfaChange::AlreadyEnabled => Err(Error::MfaAlreadyEnabled),
        MfaChange::NotEnabled => Err(Error::MfaNotEnabled),
        MfaChange::NotGenerated => Err(Error::MfaNotGenerated),
        // The step was accepted before: refused like a wrong code, with its own message.
        MfaChange::Replayed => Err(Error::ReplayedCode),
    }
}

/// After a code of `sealed` was accepted: when a data key other than the
/// first sealed it, stores the secret sealed under the first key, only if
/// `sealed` is still the stored value (compare-and-set: a concurrent
/// change wins). Best effort: the value stays usable as it is, and
/// `edgeauth rekey` catches whatever this misses.
pub async fn reseal_if_old(app: &App, account: Uuid, field: SealedField, sealed: &str) {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn input_checks() {
        assert!(matches!(
            valid_email("no-at-sign"),
            Err(Error::InvalidEmail)
        ));
        assert_eq!(
            valid_email(" A@Example.com ").unwrap(),
            valid_email("a@example.com").unwrap()
        );
        let id = Uuid::new_v4();
        assert_eq!(parse_ticket(&format!(" {id} ")).unwrap(), id);
        assert!(matches!(
            parse_ticket("nope"),
            Err(Error::InvalidRequest(_))
        ));
        assert_eq!(checked_code("123456").unwrap(), "123456");
        for bad in ["12345", "1234567", "12345a", "１２３４５６"] {
            assert!(
                matches!(checked_code(bad), Err(Error::InvalidRequest(_))),
                "{bad}"
            );
        }
    }
}
