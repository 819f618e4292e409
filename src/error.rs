//! The error enum of the API and the one place that turns it into an HTTP
//! response: status, `error` code, `WWW-Authenticate`, `Allow`,
//! `Retry-After`. Internal causes are logged here and never sent.

use std::fmt;

use hyper::StatusCode;
use hyper::header::{ALLOW, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};

use crate::http::{Response, json_response};
use crate::store::StoreError;

/// Everything a request can fail with. The variants are the `error` codes of
/// the API (README, "Endpoints"); the strings carried are human text or (for `Unavailable` and
/// `Internal`) causes for the log.
#[derive(Debug)]
pub enum Error {
    InvalidRequest(String),
    InvalidEmail,
    InvalidPassword,
    /// A new password the strength check refused (`EDGEAUTH_PASSWORD_MIN_SCORE`): the same
    /// `invalid_password`, with a message saying why.
    WeakPassword(String),
    InvalidCredentials,
    AccountInactive,
    /// An administrator locked the account: no session starts or continues.
    AccountLocked,
    InvalidTicket,
    InvalidCode,
    /// A TOTP code of a time step already accepted for the account: the
    /// same `invalid_code` as a wrong one, but the message says to wait.
    ReplayedCode,
    InvalidToken,
    InvalidRefreshToken,
    MfaAlreadyEnabled,
    MfaNotEnabled,
    MfaNotGenerated,
    EmailTaken,
    /// The account has as many passkeys as it may (10).
    PasskeyLimit,
    /// A passkey sign-in that was not accepted (unknown credential, wrong origin or RP id, spent
    /// or expired challenge, bad signature, a counter gone backwards): the same
    /// `invalid_credentials` as a wrong password, with its own message.
    PasskeyRefused,
    /// A sensitive change needs a recent sign-in or the current password.
    ReauthenticationRequired,
    /// The gateway asked for a session that passed a second factor, and this
    /// one did not.
    MfaRequired,
    /// A cookie-authenticated request that another site could have made a
    /// browser send (see `http::Request::cookie_request_allowed`).
    InvalidOrigin,
    RateLimited {
        retry_after_secs: u64,
    },
    PayloadTooLarge,
    UnsupportedMediaType,
    NotFound,
    MethodNotAllowed {
        allow: &'static str,
    },
    /// A dependency (Redis, the hash pool) cannot serve now; try again.
    Unavailable(String),
    Internal(String),
}

impl Error {
    pub fn invalid_request(message: impl Into<String>) -> Error {
        Error::InvalidRequest(message.into())
    }

    /// The API's `error` code (`invalid_credentials`, …).
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    /// Status, error code and the message shown to the client.
    fn parts(&self) -> (StatusCode, &'static str, String) {
        use Error::*;
        let (status, code, message) = match self {
            InvalidRequest(m) => (StatusCode::BAD_REQUEST, "invalid_request", m.as_str()),
            InvalidEmail => (
                StatusCode::BAD_REQUEST,
                "invalid_email",
                "The email address is not valid.",
            ),
            InvalidPassword => (
                StatusCode::BAD_REQUEST,
                "invalid_password",
                "The password is too short or too long.",
            ),
            WeakPassword(m) => (StatusCode::BAD_REQUEST, "invalid_password", m.as_str()),
            InvalidCredentials => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The email or password is wrong.",
            ),
            AccountInactive => (
                StatusCode::FORBIDDEN,
                "account_inactive",
                "The account is not activated yet.",
            ),
            AccountLocked => (
                StatusCode::FORBIDDEN,
                "account_locked",
                "This account is locked.",
            ),
            InvalidTicket => (
                StatusCode::UNAUTHORIZED,
                "invalid_ticket",
                "The ticket is unknown, expired or already used.",
            ),
            InvalidCode => (
                StatusCode::UNAUTHORIZED,
                "invalid_code",
                "The code is wrong.",
            ),
            ReplayedCode => (
                StatusCode::UNAUTHORIZED,
                "invalid_code",
                "This code was already used; wait for the next one.",
            ),
            InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "The access token is missing, invalid, expired or revoked.",
            ),
            InvalidRefreshToken => (
                StatusCode::UNAUTHORIZED,
                "invalid_refresh_token",
                "The refresh token is missing, invalid, expired or revoked.",
            ),
            MfaAlreadyEnabled => (
                StatusCode::CONFLICT,
                "mfa_already_enabled",
                "Multi-factor authentication is already enabled.",
            ),
            MfaNotEnabled => (
                StatusCode::CONFLICT,
                "mfa_not_enabled",
                "Multi-factor authentication is not enabled.",
            ),
            MfaNotGenerated => (
                StatusCode::CONFLICT,
                "mfa_not_generated",
                "Generate an MFA secret first.",
            ),
            EmailTaken => (
                StatusCode::CONFLICT,
                "email_taken",
                "The email address is already in use.",
            ),
            PasskeyLimit => (
                StatusCode::CONFLICT,
                "passkey_limit",
                "This account has as many passkeys as it may; remove one first.",
            ),
            PasskeyRefused => (
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "The passkey was not accepted.",
            ),
            ReauthenticationRequired => (
                StatusCode::FORBIDDEN,
                "reauthentication_required",
                "Sign in again or confirm your password to do this.",
            ),
            MfaRequired => (
                StatusCode::FORBIDDEN,
                "mfa_required",
                "This needs a sign-in with a second factor.",
            ),
            InvalidOrigin => (
                StatusCode::FORBIDDEN,
                "invalid_origin",
                "A request authenticated by the refresh cookie must come from this site or an \
                 allowed origin and, when it declares a body type, declare application/json.",
            ),
            RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "Too many requests; retry later.",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is larger than 16 KiB.",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "The body must be sent as Content-Type: application/json.",
            ),
            NotFound => (StatusCode::NOT_FOUND, "not_found", "Nothing here."),
            MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This method is not allowed here.",
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The service is temporarily unavailable; retry shortly.",
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Something went wrong on our side.",
            ),
        };
        (status, code, message.to_owned())
    }

    /// The one mapping from error to response.
    pub fn into_response(self) -> Response {
        match &self {
            Error::Unavailable(cause) => tracing::warn!(%cause, "dependency unavailable"),
            Error::Internal(cause) => tracing::error!(%cause, "internal error"),
            _ => {}
        }
        let (status, code, message) = self.parts();
        let body = serde_json::json!({ "error": code, "message": message });
        let mut response = json_response(status, &body);
        let headers = response.headers_mut();
        match self {
            Error::InvalidToken => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static(r#"Bearer error="invalid_token""#),
                );
            }
            Error::MethodNotAllowed { allow } => {
                headers.insert(ALLOW, HeaderValue::from_static(allow));
            }
            Error::RateLimited { retry_after_secs } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(retry_after_secs.max(1)));
            }
            Error::Unavailable(_) => {
                headers.insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (status, code, _) = self.parts();
        write!(f, "{} {code}", status.as_u16())
    }
}

impl std::error::Error for Error {}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Error {
        Error::Unavailable(e.to_string())
    }
}

pub type ApiResult<T> = Result<T, Error>;
