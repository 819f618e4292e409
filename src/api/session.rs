//! Sessions: log in (start a refresh-token family), refresh (rotate it),
//! log out (end this family), revoke (end every family of the account), and
//! the signed-in view of them: list, and end one.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::account::{Credentials, valid_email};
use crate::api::{
    self, DEVICE_COOKIE, Delivery, REFRESH_COOKIE, clear_refresh_cookie, mfa, token_response,
};
use crate::app::App;
use crate::auth::device::DeviceId;
use crate::auth::password::needs_rehash;
use crate::auth::refresh::RefreshToken;
use crate::clock;
use crate::config::RateLimit;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, json_response, no_content};
use crate::metrics::Outcome;
use crate::store::accounts::Account;
use crate::store::events::EventKind;
use crate::store::sessions::{Rotation, SessionMeta};
use hyper::StatusCode;

#[derive(Deserialize)]
struct RefreshBody {
    refresh_token: String,
}

/// `POST /auth/login`.
///
/// Unknown email and wrong password do the same work: the same two rate
/// counts, one index lookup and one account read (the store guarantees both
/// round trips), one password hash (against `dummy_hash` when there is no
/// account), one event. So neither the answer nor its timing tells whether
/// the email is registered.
pub async fn login(app: &App, req: &Request) -> ApiResult<Response> {
    login_with(app, req, Delivery::Cookie).await
}

/// [`login`], handing the refresh token out as `delivery` says (the HBP
/// route's `cookie: false` asks for [`Delivery::BodyOnly`]).
pub async fn login_with(app: &App, req: &Request, delivery: Delivery) -> ApiResult<Response> {
    let body: Credentials = req.json()?;
    let email = valid_email(&body.email)?;
    let limits = app.config.rate_limits;
    api::enforce_rate(
        app,
        "login_ip",
        &api::client_ip(app, req),
        limits.login_per_ip,
        true,
    )
    .await?;
    // A browser that signed in to this email with its password before
    // (a valid device cookie for it) has a failure budget of its own and
    // does not count against the email's: password guessing from elsewhere
    // then locks out only the guessers, never the owner's known devices.
    let device = req
        .cookie(DEVICE_COOKIE)
        .and_then(|value| app.device_keys.verify(&value, &email));
    let budget = match &device {
        Some(device) => LoginBudget {
            kind: "login_device",
            subject: device.0.as_str(),
            rate: limits.login_per_device,
        },
        None => LoginBudget {
            kind: "login_email",
            subject: email.as_str(),
            rate: limits.login_per_email,
        },
    };
    // Failed logins per email (or device): every attempt takes a slot before
    // its password is checked (looking first and counting after the check
    // would let parallel guesses all pass the look), and gives it back unless
    // the password was checked and wrong — so the owner logging in
    // successfully never uses up the allowance.
    api::enforce_rate(app, budget.kind, budget.subject, budget.rate, true).await?;
    let (account, matches) = match check_password(app, &email, &body.password).await {
        Ok(verdict) => verdict,
        Err(e) => {
            budget.refund(app).await;
            return Err(e);
        }
    };
    let account = match account {
        Some(account) if matches => account,
        other => {
            app.emit(api::event(
                EventKind::LoginFailed,
                other.map(|a| a.id),
                Some(&email),
            ))
            .await?;
            app.metrics.outcome(Outcome::LoginFailure);
            return Err(Error::InvalidCredentials);
        }
    };
    budget.refund(app).await;
    if !account.active {
        app.metrics.outcome(Outcome::LoginInactive);
        return Err(Error::AccountInactive);
    }
    if needs_rehash(&account.password, app.hasher.cost()) {
        // The cost was raised (or lowered) since this hash was made; the
        // plain password is only ever here, so upgrade now. Compare-and-set:
        // a concurrent password change wins.
        let upgraded = app.hasher.hash(&body.password).await?;
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
        // The ticket carries the credential version the password was checked
        // under, and is refused if a reset or change landed since.
        let ticket = app
            .store
            .mfa_ticket_create(
                account.id,
                mfa::LOGIN_TICKET_TTL_MS,
                clock::now_ms(),
                mfa::LOGIN_TICKETS_PER_ACCOUNT,
                account.credential_version,
            )
            .await?
            .ok_or(Error::InvalidCredentials)?;
        app.metrics.outcome(Outcome::MfaChallenge);
        let mut response = json_response(
            StatusCode::OK,
            &serde_json::json!({ "mfa": true, "ticket": ticket }),
        );
        remember_device(app, &mut response, &email, device.as_ref(), delivery);
        return Ok(response);
    }
    let mut response =
        start_session(app, req, account.id, account.credential_version, delivery).await?;
    remember_device(app, &mut response, &email, device.as_ref(), delivery);
    app.metrics.outcome(Outcome::LoginSuccess);
    Ok(response)
}

/// The failure budget a login attempt counts against.
struct LoginBudget<'a> {
    kind: &'static str,
    subject: &'a str,
    rate: Option<RateLimit>,
}

impl LoginBudget<'_> {
    /// Gives back the slot of an attempt that was not a wrong password.
    /// Best effort: failing costs one slot of the window, not the login.
    async fn refund(&self, app: &App) {
        if self.rate.is_none() {
            return;
        }
        if let Err(e) = app.store.rate_refund(self.kind, self.subject).await {
            tracing::warn!(error = %e, kind = self.kind, "could not give back a login rate slot");
        }
    }
}

/// After the password was proven: (re)sets the device cookie for `email`,
/// keeping the device it names when it was already a known one. Not for
/// clients that asked for no cookies (`Delivery::BodyOnly`). Best effort: a
/// failure only means the browser stays unknown.
fn remember_device(
    app: &App,
    response: &mut Response,
    email: &str,
    device: Option<&DeviceId>,
    delivery: Delivery,
) {
    if delivery == Delivery::BodyOnly {
        return;
    }
    match app.device_keys.issue(email, device) {
        Ok(value) => api::set_device_cookie(app, response, &value),
        Err(e) => tracing::warn!(error = %e, "could not issue a device cookie"),
    }
}

/// The account of `email` (if any) and whether `password` matches it: one
/// lookup and one hash either way.
async fn check_password(
    app: &App,
    email: &str,
    password: &str,
) -> ApiResult<(Option<Account>, bool)> {
    let account = app.store.find_by_email(email).await?;
    let phc = account.as_ref().map_or(&app.dummy_hash, |a| &a.password);
    let matches = app.hasher.verify(password, phc).await?;
    Ok((account, matches))
}

/// Gives back the `login_email` slot of an attempt that was not a wrong
/// password. Best effort: failing costs the owner one slot of the window,
/// not the login.
pub(super) async fn refund_login_email(app: &App, email: &str) {
    LoginBudget {
        kind: "login_email",
        subject: email,
        rate: app.config.rate_limits.login_per_email,
    }
    .refund(app)
    .await;
}

/// Starts a new refresh-token family for `account` and answers with its
/// first tokens (login, and the MFA step that completes a login). The user
/// proved a credential just now: that is the family's `auth_time`.
///
/// `credential_version` is the one the password (or the MFA ticket) was
/// checked under: the store refuses the session if a password reset or
/// change landed since, which is then `invalid_credentials` — a sign-in that
/// began with the old password never ends in a live session.
pub async fn start_session(
    app: &App,
    req: &Request,
    account: Uuid,
    credential_version: u64,
    delivery: Delivery,
) -> ApiResult<Response> {
    let family = Uuid::new_v4();
    let now_ms = clock::now_ms();
    let auth_time = now_ms / 1000;
    // A family never outlives its absolute lifetime, whatever its idle one.
    let ttl = app.config.refresh_ttl.min(app.config.refresh_max_age);
    let ip = api::client_address(app, req);
    let meta = SessionMeta {
        user_agent: req.header_str("user-agent").unwrap_or(""),
        ip: &ip,
    };
    let created = app
        .store
        .create_session(
            account,
            family,
            meta,
            now_ms,
            ttl.as_millis() as u64,
            app.config.sessions_per_account,
            credential_version,
            auth_time,
        )
        .await?;
    if !created {
        // The account was removed, or its password reset or changed, between
        // the password check and now.
        return Err(Error::InvalidCredentials);
    }
    token_response(app, account, family, 0, Some(auth_time), delivery)
}

/// The refresh token of a request: the cookie, else the JSON body. A
/// cookie counts only on a request no other site could have made.
fn presented_refresh_token(app: &App, req: &Request) -> ApiResult<Option<(String, Delivery)>> {
    if let Some(cookie) = req.cookie(REFRESH_COOKIE) {
        api::check_cookie_request(app, req)?;
        return Ok(Some((cookie, Delivery::Cookie)));
    }
    Ok(req
        .optional_json::<RefreshBody>()?
        .map(|b| (b.refresh_token, Delivery::Body)))
}

/// `POST /auth/token/refresh` — rotation with a reuse grace (README, "Endpoints").
/// Failures clear the cookie.
pub async fn refresh(app: &App, req: &Request) -> ApiResult<Response> {
    let presented = presented_refresh_token(app, req)?;
    refresh_presented(app, presented).await
}

/// [`refresh`] with the token already taken from the request (the HBP
/// route takes it from the cookie or the query), and where its successor goes.
pub async fn refresh_presented(
    app: &App,
    presented: Option<(String, Delivery)>,
) -> ApiResult<Response> {
    match rotate(app, presented).await {
        Err(Error::InvalidRefreshToken) => {
            app.metrics.outcome(Outcome::RefreshInvalid);
            let mut response = Error::InvalidRefreshToken.into_response();
            clear_refresh_cookie(app, &mut response);
            Ok(response)
        }
        other => other,
    }
}

async fn rotate(app: &App, presented: Option<(String, Delivery)>) -> ApiResult<Response> {
    let (raw, delivery) = presented.ok_or(Error::InvalidRefreshToken)?;
    let RefreshToken {
        account_id,
        family_id,
        generation,
    } = app
        .refresh_keys
        .decode(&raw)
        .ok_or(Error::InvalidRefreshToken)?;
    // Past its absolute lifetime (EDGEAUTH_REFRESH_MAX_AGE) a family is
    // unknown however recently it was used; the access token keeps the
    // family's auth_time, so refreshing never makes a sign-in look recent.
    let (rotation, auth_time) = app
        .store
        .rotate_session_within(
            account_id,
            family_id,
            generation,
            clock::now_ms(),
            app.config.refresh_reuse_grace.as_millis() as u64,
            app.config.refresh_ttl.as_millis() as u64,
            app.config.refresh_max_age.as_millis() as u64,
        )
        .await?;
    match rotation {
        Rotation::Advanced(next) | Rotation::Repeated(next) => {
            app.metrics.outcome(Outcome::RefreshSuccess);
            token_response(app, account_id, family_id, next, auth_time, delivery)
        }
        Rotation::Reused => {
            app.metrics.outcome(Outcome::RefreshReuseDetected);
            app.emit(api::event(
                EventKind::RefreshTokenReused,
                Some(account_id),
                None,
            ))
            .await?;
            Err(Error::InvalidRefreshToken)
        }
        Rotation::Unknown => Err(Error::InvalidRefreshToken),
    }
}

/// `POST /auth/logout` — ends this device's family; 204 whatever the token.
pub async fn logout(app: &App, req: &Request) -> ApiResult<Response> {
    let presented = presented_refresh_token(app, req)?.map(|(raw, _)| raw);
    logout_presented(app, presented.as_deref(), LogoutScope::ThisDevice).await
}

/// Which sessions a logout ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutScope {
    /// The presented token's family.
    ThisDevice,
    /// Every family of the account (HBP's `{"all": true}`), as
    /// `/auth/token/revoke` does — but only when the presented token's
    /// family was still alive, so a token from a revoked family signs
    /// nobody out.
    Everywhere,
}

/// [`logout`] with the token already taken from the request.
pub async fn logout_presented(
    app: &App,
    raw: Option<&str>,
    scope: LogoutScope,
) -> ApiResult<Response> {
    if let Some(token) = raw.and_then(|raw| app.refresh_keys.decode(raw)) {
        let alive = app
            .store
            .revoke_session(token.account_id, token.family_id)
            .await?;
        if alive && scope == LogoutScope::Everywhere {
            app.store.revoke_all_sessions(token.account_id).await?;
            app.emit(api::event(
                EventKind::TokensRevoked,
                Some(token.account_id),
                None,
            ))
            .await?;
        }
    }
    let mut response = no_content();
    clear_refresh_cookie(app, &mut response);
    Ok(response)
}

/// `POST /auth/token/revoke` — signs the account out everywhere.
pub async fn revoke(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = api::authenticate(app, req).await?;
    app.store.revoke_all_sessions(caller.account).await?;
    app.emit(api::event(
        EventKind::TokensRevoked,
        Some(caller.account),
        None,
    ))
    .await?;
    let mut response = no_content();
    clear_refresh_cookie(app, &mut response);
    Ok(response)
}

#[derive(Serialize)]
struct SessionView {
    id: Uuid,
    /// Unix ms.
    created_at: u64,
    /// Unix ms.
    last_used_at: u64,
    user_agent: String,
    ip: String,
    current: bool,
}

/// `GET /auth/sessions` — the caller's sessions, most recently used first.
pub async fn list(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = api::authenticate(app, req).await?;
    let sessions: Vec<SessionView> = app
        .store
        .list_sessions(caller.account)
        .await?
        .into_iter()
        .map(|s| SessionView {
            current: s.id == caller.session,
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            user_agent: s.user_agent,
            ip: s.ip,
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "sessions": sessions }),
    ))
}

#[derive(Deserialize)]
struct SessionId {
    id: String,
}

/// `POST /auth/sessions/revoke` — ends one session of the caller's account.
/// An id of another account's session is `404`, like one that never existed.
pub async fn revoke_one(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = api::authenticate(app, req).await?;
    let body: SessionId = req.json()?;
    let id = Uuid::parse_str(body.id.trim())
        .map_err(|_| Error::invalid_request("The session id is not a UUID."))?;
    // Keys are per account, so another account's session id is simply absent here.
    if !app.store.revoke_session(caller.account, id).await? {
        return Err(Error::NotFound);
    }
    let mut response = no_content();
    if id == caller.session {
        clear_refresh_cookie(app, &mut response);
    }
    Ok(response)
}
