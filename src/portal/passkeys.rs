//! Passkeys in the portal: "Sign in with a passkey" on the sign-in page and
//! the account page's passkeys (add, remove), over `ops::passkeys`.
//!
//! The WebAuthn ceremonies run in the browser (`static/passkey.js`, the
//! portal's one script); the server side is form posts like every other
//! page, CSRF-checked:
//!
//! - sign-in: the script gets options from the JSON API's
//!   `/auth/passkeys/login/begin`, asks the authenticator, and posts
//!   `challenge_id` + `credential` (the browser's `toJSON()` of it) + `rd`
//!   to `/auth/ui/login/passkey`, which signs in as the password form does
//!   (edge session and refresh cookies, `303` to the checked `rd`);
//! - adding: the script posts the form's token to
//!   `/auth/ui/account/passkeys/begin` (answered with JSON `{challenge_id,
//!   options}`), creates the credential, and submits the form to
//!   `/auth/ui/account/passkeys/finish` (`303` to the account page with a
//!   notice); removing is a plain form.
//!
//! A failed passkey sign-in always shows one text, whatever the reason.

use hyper::StatusCode;
use hyper::header::{CACHE_CONTROL, HeaderValue};
use serde_json::json;
use uuid::Uuid;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use crate::api::wire::RequestClient;
use crate::app::App;
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, json_response};
use crate::ops::credentials::SessionKind;
use crate::ops::passkeys;
use crate::portal::account::{self, Extras};
use crate::portal::pages::{ACCOUNT_PAGE, passkey_sign_in_failed, signed_in};
use crate::portal::{Cx, current_session, errors};

/// Whether passkeys are on: a relying party is configured.
pub fn enabled(app: &App) -> bool {
    app.webauthn.is_some()
}

/// A form field holding a challenge id.
fn challenge_id(value: &str) -> ApiResult<Uuid> {
    Uuid::parse_str(value.trim()).map_err(|_| Error::invalid_request("The challenge is not valid."))
}

/// `POST /auth/ui/login/passkey` (`challenge_id`, `credential`, `rd`).
pub async fn login(app: &App, req: &Request) -> ApiResult<Response> {
    if !enabled(app) {
        return Err(Error::NotFound);
    }
    let (cx, form) = Cx::post(app, req)?;
    let rd = form.text("rd");
    let client = RequestClient::of(app, req);
    let result = async {
        let id = challenge_id(form.text("challenge_id"))?;
        let credential: PublicKeyCredential = serde_json::from_str(form.text("credential"))
            .map_err(|_| Error::invalid_request("The passkey answer is not valid."))?;
        passkeys::login_finish(
            app,
            id,
            &credential,
            &client.get(),
            SessionKind::Browser,
            clock::now_ms(),
        )
        .await
    }
    .await;
    match result {
        Ok(tokens) => signed_in(&cx, &tokens, rd),
        Err(e @ (Error::Unavailable(_) | Error::Internal(_))) => Err(e),
        Err(e @ Error::RateLimited { .. }) => Ok(passkey_sign_in_failed(&cx, rd, &e)),
        Err(_) => Ok(passkey_sign_in_failed(&cx, rd, &Error::InvalidCredentials)),
    }
}

/// A JSON answer of the begin endpoint (never cached).
fn json(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = json_response(status, body);
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `{"error", "message"}` with the portal's text for `error`.
fn json_error(cx: &Cx<'_>, error: &Error) -> Response {
    match error {
        Error::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
        Error::Internal(cause) => tracing::error!(%cause, "internal error"),
        _ => {}
    }
    let (status, text) = errors::describe(cx.t(), error);
    let mut response = json(status, &json!({ "error": error.code(), "message": text }));
    errors::decorate(error, &mut response);
    response
}

/// `POST /auth/ui/account/passkeys/begin` (the form's `csrf`): the options
/// of a new passkey, as JSON `{challenge_id, options}` (`options` is the
/// `publicKey` member the browser's `parseCreationOptionsFromJSON` takes).
/// Needs the edge session and a recent sign-in: `403` with the "sign in
/// again" text otherwise.
pub async fn begin(app: &App, req: &Request) -> ApiResult<Response> {
    if !enabled(app) {
        return Err(Error::NotFound);
    }
    let (cx, _form) = Cx::post(app, req)?;
    let Some(session) = current_session(app, req).await? else {
        return Ok(json_error(&cx, &Error::ReauthenticationRequired));
    };
    match passkeys::register_begin(app, &session.caller, clock::now_ms()).await {
        Ok(challenge) => Ok(json(
            StatusCode::OK,
            &json!({
                "challenge_id": challenge.challenge_id,
                "options": challenge.options.public_key,
            }),
        )),
        Err(e) => Ok(json_error(&cx, &e)),
    }
}

/// The account page with `text` in the passkeys section, answering with
/// `status`'s status.
async fn account_with_error(
    cx: &Cx<'_>,
    session: &crate::ops::edge::EdgeSession,
    status: Error,
    text: String,
) -> ApiResult<Response> {
    let status = account::inline(status)?;
    let extras = Extras {
        passkeys_error: Some(text),
        status: Some(status),
        ..Extras::default()
    };
    account::render(cx, session, extras).await
}

/// `POST /auth/ui/account/passkeys/finish` (`challenge_id`, `name`,
/// `credential`): stores the new passkey, `303` to the account page with
/// "Passkey added.".
pub async fn finish(app: &App, req: &Request) -> ApiResult<Response> {
    if !enabled(app) {
        return Err(Error::NotFound);
    }
    let (cx, form, session) = match account::signed_in_post(app, req).await? {
        Ok(ok) => ok,
        Err(redirect) => return Ok(redirect),
    };
    let result = async {
        let id = challenge_id(form.text("challenge_id"))?;
        let name = form.text("name").trim();
        let credential: RegisterPublicKeyCredential = serde_json::from_str(form.text("credential"))
            .map_err(|_| Error::invalid_request("The passkey answer is not valid."))?;
        passkeys::register_finish(app, &session.caller, id, name, &credential, clock::now_ms())
            .await
    }
    .await;
    match result {
        Ok(_) => Ok(cx.redirect(&format!("{ACCOUNT_PAGE}?notice=passkey_added"))),
        Err(e) => {
            let text = match &e {
                Error::InvalidRequest(_)
                | Error::InvalidCredentials
                | Error::PasskeyRefused
                | Error::NotFound => cx.t().get("error.passkey_add").to_owned(),
                other => cx.error_text(other),
            };
            account_with_error(&cx, &session, e, text).await
        }
    }
}

/// `POST /auth/ui/account/passkeys/remove` (`id`): `303` to the account
/// page with "Passkey removed."; another account's or an unknown id is
/// `404` with "That passkey no longer exists.".
pub async fn remove(app: &App, req: &Request) -> ApiResult<Response> {
    if !enabled(app) {
        return Err(Error::NotFound);
    }
    let (cx, form, session) = match account::signed_in_post(app, req).await? {
        Ok(ok) => ok,
        Err(redirect) => return Ok(redirect),
    };
    let id = form.text("id").trim();
    match passkeys::remove(app, &session.caller, id, clock::now_ms()).await {
        Ok(()) => Ok(cx.redirect(&format!("{ACCOUNT_PAGE}?notice=passkey_removed"))),
        Err(Error::NotFound) => {
            let text = cx.t().get("error.passkey_gone").to_owned();
            account_with_error(&cx, &session, Error::NotFound, text).await
        }
        Err(e) => {
            let text = cx.error_text(&e);
            account_with_error(&cx, &session, e, text).await
        }
    }
}
