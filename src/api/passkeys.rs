//! JSON adapter for passkeys (`ops::passkeys`): registering one to the signed-in account
//! (begin, finish), the list, removal, and the discoverable sign-in (begin, finish) that answers
//! like a password login (tokens and the refresh cookie).
//!
//! `options` in a begin's answer is the `publicKey` member of the WebAuthn options (what
//! `PublicKeyCredential.parseCreationOptionsFromJSON` / `parseRequestOptionsFromJSON` take);
//! `credential` in a finish's body is what `PublicKeyCredential.toJSON()` gives.
//!
//! Imports `api::wire` and the operations only: no other adapter, no `router`.

use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use crate::api::wire::{self, Delivery, RequestClient, token_response};
use crate::app::App;
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, json_response, no_content};
use crate::ops::credentials::SessionKind;
use crate::ops::passkeys::{self, PasskeyInfo};

#[derive(Deserialize)]
struct RegisterFinishBody {
    challenge_id: String,
    name: String,
    credential: RegisterPublicKeyCredential,
}

#[derive(Deserialize)]
struct RemoveBody {
    id: String,
}

#[derive(Deserialize)]
struct LoginFinishBody {
    challenge_id: String,
    credential: PublicKeyCredential,
}

#[derive(Serialize)]
struct Begun<'a, T: Serialize> {
    challenge_id: Uuid,
    options: &'a T,
}

#[derive(Serialize)]
struct PasskeyView<'a> {
    id: &'a str,
    name: &'a str,
    /// Unix ms.
    created_at: u64,
    /// Unix ms; null before the first sign-in with it.
    last_used_at: Option<u64>,
    backed_up: bool,
}

impl<'a> From<&'a PasskeyInfo> for PasskeyView<'a> {
    fn from(p: &'a PasskeyInfo) -> Self {
        PasskeyView {
            id: &p.id,
            name: &p.name,
            created_at: p.created_at,
            last_used_at: p.last_used_at,
            backed_up: p.backed_up,
        }
    }
}

fn challenge_id(raw: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(raw.trim())
        .map_err(|_| Error::invalid_request("The challenge_id is not a UUID."))
}

/// `POST /auth/passkeys/register/begin` (Bearer, signed in within the last 10 minutes).
pub async fn register_begin(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    // A body is optional; one that is sent must be a JSON object.
    let _: Option<serde_json::Map<String, serde_json::Value>> = req.optional_json()?;
    let begun = passkeys::register_begin(app, &caller, clock::now_ms()).await?;
    Ok(json_response(
        StatusCode::OK,
        &Begun {
            challenge_id: begun.challenge_id,
            options: &begun.options.public_key,
        },
    ))
}

/// `POST /auth/passkeys/register/finish` (Bearer): `{challenge_id, name, credential}` → 201.
pub async fn register_finish(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    let body: RegisterFinishBody = req.json()?;
    let challenge = challenge_id(&body.challenge_id)?;
    let added = passkeys::register_finish(
        app,
        &caller,
        challenge,
        &body.name,
        &body.credential,
        clock::now_ms(),
    )
    .await?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({
            "id": added.id,
            "name": added.name,
            "created_at": added.created_at,
        }),
    ))
}

/// `GET /auth/passkeys` (Bearer): the caller's passkeys, oldest first.
pub async fn list(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    let all = passkeys::list(app, &caller).await?;
    let views: Vec<PasskeyView<'_>> = all.iter().map(PasskeyView::from).collect();
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "passkeys": views }),
    ))
}

/// `POST /auth/passkeys/remove` (Bearer): `{id}` → 204.
pub async fn remove(app: &App, req: &Request) -> ApiResult<Response> {
    let caller = wire::authenticate(app, req).await?;
    let body: RemoveBody = req.json()?;
    passkeys::remove(app, &caller, &body.id, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /auth/passkeys/login/begin`: options for a discoverable sign-in.
pub async fn login_begin(app: &App, req: &Request) -> ApiResult<Response> {
    let _: Option<serde_json::Map<String, serde_json::Value>> = req.optional_json()?;
    let client = RequestClient::of(app, req);
    let begun = passkeys::login_begin(app, &client.get(), clock::now_ms()).await?;
    Ok(json_response(
        StatusCode::OK,
        &Begun {
            challenge_id: begun.challenge_id,
            options: &begun.options.public_key,
        },
    ))
}

/// `POST /auth/passkeys/login/finish`: `{challenge_id, credential}` → tokens and the refresh
/// cookie, as a password login.
pub async fn login_finish(app: &App, req: &Request) -> ApiResult<Response> {
    let body: LoginFinishBody = req.json()?;
    let challenge = challenge_id(&body.challenge_id)?;
    let client = RequestClient::of(app, req);
    let tokens = passkeys::login_finish(
        app,
        challenge,
        &body.credential,
        &client.get(),
        SessionKind::Api,
        clock::now_ms(),
    )
    .await?;
    token_response(app, &tokens, Delivery::Cookie)
}
