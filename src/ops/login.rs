//! Signing in: the password step ([`password`]) and the second-factor steps
//! that complete a sign-in with MFA on ([`totp`], [`recovery_code`]).
//!
//! Imports `ops::common` and `ops::credentials` only among the operations;
//! never the HTTP library, the request type, the adapters or the router.

use uuid::Uuid;

use crate::app::App;
use crate::auth::amr::Amr;
use crate::auth::password::needs_rehash;
use crate::auth::recovery::normalize_code;
use crate::auth::totp;
use crate::error::{ApiResult, Error};
use crate::metrics::Outcome;
use crate::ops::common::{self, Client, enforce_rate};
use crate::ops::credentials::{
    LoginBudget, SessionKind, SessionProof, SignIn, Tokens, check_password_within,
    issue_login_ticket, open_secret, reseal_if_old, second_factor, start_session,
};
use crate::store::accounts::Account;
use crate::store::events::EventKind;
use crate::store::mfa::MfaLogin;
use crate::store::rekey::SealedField;

pub use crate::ops::credentials::LOGIN_TICKETS_PER_ACCOUNT;

/// Wrong codes a login ticket survives.
const MAX_ATTEMPTS: u32 = 5;

/// A password sign-in.
#[derive(Debug, Clone, Copy)]
pub struct PasswordSignIn<'a> {
    /// Already validated and normalized.
    pub email: &'a str,
    pub password: &'a str,
    pub client: Client<'a>,
    /// The device id of a valid device cookie for this email, when the
    /// request carried one: a browser that signed in to this email with its
    /// password before.
    pub known_device: Option<&'a str>,
    /// The front door: a browser sign-in also starts an edge session.
    pub kind: SessionKind,
    pub now_ms: u64,
}

/// The password step of a sign-in.
///
/// Unknown email and wrong password do the same work: the same two rate
/// counts, one index lookup and one account read (the store guarantees both
/// round trips), one password hash (against `dummy_hash` when there is no
/// account), one event. So neither the answer nor its timing tells whether
/// the email is registered.
pub async fn password(app: &App, input: PasswordSignIn<'_>) -> ApiResult<SignIn> {
    let PasswordSignIn {
        email,
        password,
        client,
        known_device,
        kind,
        now_ms,
    } = input;
    let limits = app.config.rate_limits;
    enforce_rate(
        app,
        "login_ip",
        client.rate_subject,
        limits.login_per_ip,
        true,
    )
    .await?;
    // A browser that signed in to this email with its password before has a
    // failure budget of its own and does not count against the email's:
    // password guessing from elsewhere then locks out only the guessers,
    // never the owner's known devices.
    let budget = match known_device {
        Some(device) => LoginBudget::device(app, device),
        None => LoginBudget::email(app, email),
    };
    let (found, right) = check_password_within(app, budget, async {
        let (account, matches) = find_and_check(app, email, password).await?;
        // Only a found account whose hash matched is a right password.
        let right = matches && account.is_some();
        Ok((account, right))
    })
    .await?;
    let account = match found {
        Some(account) if right => account,
        other => {
            app.emit(common::event(
                EventKind::LoginFailed,
                other.map(|a| a.id),
                Some(email),
                now_ms,
            ))
            .await?;
            app.metrics.outcome(Outcome::LoginFailure);
            return Err(Error::InvalidCredentials);
        }
    };
    if !account.active {
        app.metrics.outcome(Outcome::LoginInactive);
        return Err(Error::AccountInactive);
    }
    // The password was right: only now may the answer say the account is locked.
    if account.locked {
        return Err(Error::AccountLocked);
    }
    if needs_rehash(&account.password, app.hasher.cost()) {
        // The cost was raised (or lowered) since this hash was made; the
        // plain password is only ever here, so upgrade now. Compare-and-set:
        // a concurrent password change wins.
        let upgraded = app.hasher.hash(password).await?;
        // Lost means the hash this password matched is gone (a reset or
        // change won): the sign-in fails as with a wrong password.
        if !app
            .store
            .replace_password_hash(account.id, &account.password, &upgraded)
            .await?
        {
            return Err(Error::InvalidCredentials);
        }
    }
    if account.mfa_enabled {
        // Password proven; the session starts only after the second factor.
        let ticket =
            issue_login_ticket(app, account.id, account.credential_version, now_ms).await?;
        app.metrics.outcome(Outcome::MfaChallenge);
        return Ok(SignIn::MfaRequired { ticket });
    }
    let proof = SessionProof {
        client: &client,
        kind,
        amr: Amr::password(),
    };
    let tokens = start_session(app, account.id, account.credential_version, proof, now_ms).await?;
    app.metrics.outcome(Outcome::LoginSuccess);
    Ok(SignIn::Tokens(tokens))
}

/// The account of `email` (if any) and whether `password` matches it: one
/// lookup and one hash either way.
async fn find_and_check(
    app: &App,
    email: &str,
    password: &str,
) -> ApiResult<(Option<Account>, bool)> {
    let account = app.store.find_by_email(email).await?;
    let phc = account.as_ref().map_or(&app.dummy_hash, |a| &a.password);
    let matches = app.hasher.verify(password, phc).await?;
    Ok((account, matches))
}

/// The account a login ticket belongs to and the credential version it was
/// issued under, or `invalid_ticket`.
async fn ticket_owner(app: &App, ticket: Uuid) -> ApiResult<(Uuid, u64)> {
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
    Ok((account, credential_version))
}

/// The end of a second login step.
///
/// `credential_version` is the ticket's: a password reset or change since
/// the password step makes the session refuse, and the ticket is invalid.
async fn finish(
    app: &App,
    account: Uuid,
    credential_version: u64,
    outcome: MfaLogin,
    client: &Client<'_>,
    kind: SessionKind,
    now_ms: u64,
) -> ApiResult<Tokens> {
    app.metrics.outcome(match outcome {
        MfaLogin::Accepted => Outcome::MfaSuccess,
        MfaLogin::WrongCode | MfaLogin::Replayed | MfaLogin::InvalidTicket => Outcome::MfaFailure,
    });
    match outcome {
        MfaLogin::Accepted => {
            let proof = SessionProof {
                client,
                kind,
                amr: Amr::password().with_otp(),
            };
            start_session(app, account, credential_version, proof, now_ms)
                .await
                .map_err(|e| match e {
                    Error::InvalidCredentials => Error::InvalidTicket,
                    other => other,
                })
        }
        MfaLogin::WrongCode => Err(Error::InvalidCode),
        MfaLogin::Replayed => Err(Error::ReplayedCode),
        MfaLogin::InvalidTicket => Err(Error::InvalidTicket),
    }
}

/// The second step of a sign-in with MFA on: the login `ticket` and a TOTP
/// `code` (already checked to be 6 digits).
pub async fn totp(
    app: &App,
    ticket: Uuid,
    code: &str,
    client: Client<'_>,
    kind: SessionKind,
    now_ms: u64,
) -> ApiResult<Tokens> {
    let (account, credential_version) = ticket_owner(app, ticket).await?;
    // The account is known only now: its budget counts from here.
    second_factor(app, account, now_ms, async {
        let state = app
            .store
            .mfa_state(account)
            .await?
            .ok_or(Error::InvalidTicket)?;
        let active = state.active.ok_or(Error::InvalidTicket)?;
        let secret = open_secret(app, account, &active)?;
        // A code that matches no step still goes to the store: it counts
        // against the ticket's attempts there, atomically.
        let step = totp::matching_step(&secret, code, now_ms / 1000);
        let outcome = app
            .store
            .mfa_login_totp(ticket, account, &active, step, MAX_ATTEMPTS)
            .await?;
        if outcome == MfaLogin::Accepted {
            reseal_if_old(app, account, SealedField::Active, &active).await;
        }
        finish(
            app,
            account,
            credential_version,
            outcome,
            &client,
            kind,
            now_ms,
        )
        .await
    })
    .await
}

/// The second step of a sign-in with MFA on, with a one-time recovery code
/// (as typed: malformed input is simply a wrong code, and still costs an
/// attempt of the ticket and of the account's budget).
pub async fn recovery_code(
    app: &App,
    ticket: Uuid,
    recovery_code: &str,
    client: Client<'_>,
    kind: SessionKind,
    now_ms: u64,
) -> ApiResult<Tokens> {
    let (account, credential_version) = ticket_owner(app, ticket).await?;
    let candidates = normalize_code(recovery_code)
        .map(|c| app.recovery.candidates(&c))
        .unwrap_or_default();
    second_factor(app, account, now_ms, async {
        let outcome = app
            .store
            .mfa_login_recovery(ticket, account, &candidates, MAX_ATTEMPTS)
            .await?;
        if outcome == MfaLogin::Accepted {
            app.emit(common::event(
                EventKind::MfaRecoveryCodeUsed,
                Some(account),
                None,
                now_ms,
            ))
            .await?;
        }
        finish(
            app,
            account,
            credential_version,
            outcome,
            &client,
            kind,
            now_ms,
        )
        .await
    })
    .await
}
