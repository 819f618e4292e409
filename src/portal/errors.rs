//! The one mapping of `crate::error::Error` to what the portal shows: the
//! status, the text (from the strings table), and `Retry-After` / `Allow`.
//! Errors about what the user typed are shown next to the form again
//! ([`inline`]); the rest end the request with an error page ([`page`]).

use hyper::StatusCode;
use hyper::header::{ALLOW, HeaderValue, RETRY_AFTER};

use crate::app::App;
use crate::error::Error;
use crate::http::Response;
use crate::portal::strings::Strings;
use crate::portal::views::{Frame, Message};
use crate::portal::{html, render};

/// Whether the error is about the form's input (shown next to the form,
/// which is rendered again) rather than one that ends the request.
pub fn inline(error: &Error) -> bool {
    !matches!(
        error,
        Error::Unavailable(_)
            | Error::Internal(_)
            | Error::InvalidOrigin
            | Error::PayloadTooLarge
            | Error::UnsupportedMediaType
            | Error::MethodNotAllowed { .. }
            | Error::InvalidToken
            | Error::InvalidRefreshToken
    )
}

/// The status and the text shown for `error`.
pub fn describe(t: &Strings, error: &Error) -> (StatusCode, String) {
    use Error::*;
    let (status, key) = match error {
        InvalidRequest(_) => (StatusCode::BAD_REQUEST, "error.form"),
        InvalidEmail => (StatusCode::BAD_REQUEST, "error.email"),
        InvalidPassword => (StatusCode::BAD_REQUEST, "error.password"),
        // Says why: the strength check's own words.
        WeakPassword(why) => return (StatusCode::BAD_REQUEST, why.clone()),
        InvalidCredentials => (StatusCode::UNAUTHORIZED, "error.credentials"),
        AccountInactive => (StatusCode::FORBIDDEN, "error.inactive"),
        AccountLocked => (StatusCode::FORBIDDEN, "error.locked"),
        InvalidTicket => (StatusCode::UNAUTHORIZED, "error.ticket"),
        InvalidCode => (StatusCode::UNAUTHORIZED, "error.code"),
        ReplayedCode => (StatusCode::UNAUTHORIZED, "error.code_replayed"),
        InvalidToken | InvalidRefreshToken => (StatusCode::UNAUTHORIZED, "error.mfa_ticket"),
        MfaAlreadyEnabled => (StatusCode::CONFLICT, "error.mfa_already"),
        MfaNotEnabled => (StatusCode::CONFLICT, "error.mfa_not_enabled"),
        MfaNotGenerated => (StatusCode::CONFLICT, "error.mfa_not_generated"),
        EmailTaken => (StatusCode::CONFLICT, "error.form"),
        PasskeyLimit => (StatusCode::CONFLICT, "error.passkey_limit"),
        PasskeyRefused => (StatusCode::UNAUTHORIZED, "error.credentials"),
        ReauthenticationRequired => (StatusCode::FORBIDDEN, "error.reauth"),
        MfaRequired => (StatusCode::FORBIDDEN, "error.reauth"),
        InvalidOrigin => (StatusCode::FORBIDDEN, "error.csrf"),
        RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "error.rate_limited"),
        PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "error.too_large"),
        UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "error.form"),
        NotFound => (StatusCode::NOT_FOUND, "error.not_found"),
        MethodNotAllowed { .. } => (StatusCode::METHOD_NOT_ALLOWED, "error.method"),
        Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "error.unavailable"),
        Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "error.internal"),
    };
    let mut text = t.get(key).to_owned();
    if let RateLimited { retry_after_secs } = error {
        text = text.replace("{seconds}", &retry_after_secs.max(&1).to_string());
    }
    (status, text)
}

/// Adds the headers an error's status calls for.
pub fn decorate(error: &Error, response: &mut Response) {
    let headers = response.headers_mut();
    match error {
        Error::RateLimited { retry_after_secs } => {
            headers.insert(RETRY_AFTER, HeaderValue::from((*retry_after_secs).max(1)));
        }
        Error::Unavailable(_) => {
            headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        Error::MethodNotAllowed { allow } => {
            headers.insert(ALLOW, HeaderValue::from_static(allow));
        }
        _ => {}
    }
}

/// The error page of a request that cannot go on (it shows no form).
pub fn page(app: &App, error: Error) -> Response {
    match &error {
        Error::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
        Error::Internal(cause) => tracing::error!(%cause, "internal error"),
        _ => {}
    }
    let t = &app.portal.strings;
    let (status, text) = describe(t, &error);
    let frame = Frame::new(t, "error.heading", "").error(Some(text));
    let view = Message {
        f: frame,
        text: None,
        link: Some(("/auth/ui/login", t.get("link.back"))),
    };
    let mut response = html(app, status, render(&view), None);
    decorate(&error, &mut response);
    response
}
