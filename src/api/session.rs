//! JSON adapter for sessions: log in (`ops::login::password`), refresh,
//! log out and revoke (`ops::tokens`), and the signed-in view of them: list,
//! and end one (`ops::sessions`).
//!
//! Imports `api::wire` and the operations only: no other adapter, no
//! `router`.

use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::api::account::Credentials;
use crate::api::wire::{self, Delivery, REFRESH_COOKIE, clearing_refresh_cookie, token_response};
use crate::app::App;
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, json_response, no_content};
use crate::ops::credentials::valid_email;
use crate::ops::sessions;
use crate::ops::tokens::{self, LogoutScope};

/// `{refresh_token}`: refresh and logout without a cookie.
#[derive(Deserialize)]
pub struct RefreshBody {
    pub refresh_token: String,
}

/// `{id}`: end one session.
#[derive(Deserialize)]
pub struct SessionId {
    pub id: String,
}

/// `POST /auth/login`.
pub async fn login(app: &App, req: &Request) -> ApiResult<Response> {
    let body: Credentials = req.json()?;
    let email = valid_email(&body.email)?;
    wire::password_sign_in(app, req, &email, &body.password, Delivery::Cookie).await
}

/// The refresh token of a request: the cookie, else the JSON body. A
/// cookie counts only on a request no other site could have made.
fn presented_refresh_token(app: &App, req: &Request) -> ApiResult<Option<(String, Delivery)>> {
    if let Some(cookie) = req.cookie(REFRESH_COOKIE) {
        wire::check_cookie_request(app, req)?;
        return Ok(Some((cookie, Delivery::Cookie)));
    }
    Ok(req
        .optional_json::<RefreshBody>()?
        .map(|b| (b.refresh_token, Delivery::Body)))
}

/// `POST /auth/token/refresh` — rotation with a reuse grace (README,
/// "Endpoints"). Failures clear the cookie.
pub async fn refresh(app: &App, req: &Request) -> ApiResult<Response> {
    let presented = presented_refresh_token(app, req)?;
    let (raw, delivery) = match &presented {
        Some((raw, delivery)) => (Some(raw.as_str()), *delivery),
        None => (None, Delivery::Cookie),
    };
    match tokens::refresh(app, raw, clock::now_ms()).await {
        Ok(tokens) => token_response(app, &tokens, delivery),
        Err(e) => wire::refresh_failed(app, e),
    }
}

/// `POST /auth/logout` — ends this device's family; 204 whatever the token.
pub async fn logout(app: &App, req: &Request) -> ApiResult<Response> {
    let presented = presented_refresh_token(app, req)?.map(|(raw, _)| raw);
    tokens::logout(
        app,
        presented.as_deref(),
        LogoutScope::ThisDevice,
        clock::now_ms(),
    )
    .await?;
    Ok(clearing_refresh_cookie(app, no_content()))
}

/// `POST /auth/token/revoke` — signs the account out everywhere.
pub async fn revoke(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    tokens::revoke(app, &caller, clock::now_ms()).await?;
    Ok(clearing_refresh_cookie(app, no_content()))
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
    let caller = wire::authenticate(app, req).await?;
    let sessions: Vec<SessionView> = sessions::list(app, &caller)
        .await?
        .into_iter()
        .map(|s| SessionView {
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            user_agent: s.user_agent,
            ip: s.ip,
            current: s.current,
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "sessions": sessions }),
    ))
}

/// `POST /auth/sessions/revoke` — ends one session of the caller's account.
pub async fn revoke_one(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    let body: SessionId = req.json()?;
    let id = Uuid::parse_str(body.id.trim())
        .map_err(|_| Error::invalid_request("The session id is not a UUID."))?;
    let current = sessions::revoke_one(app, &caller, id).await?;
    let response = no_content();
    Ok(if current {
        clearing_refresh_cookie(app, response)
    } else {
        response
    })
}
