//! The signed-in account page (`/auth/ui/account`) and what its forms do:
//! end a session, change the password, set up or turn off two-factor
//! authentication and renew recovery codes, sign out. Its passkey forms
//! are `portal::passkeys`'. Every handler needs
//! the browser's edge session (`ops::edge`); without one a page request is
//! sent to sign in first (`303`, `rd` = the account page).
//!
//! MFA changes need a recent sign-in (`EDGEAUTH_REAUTH_MAX_AGE`, checked by
//! `ops::credentials::require_recent_auth` against the session's sign-in
//! time); when it is too old the page says to sign in again.

use hyper::StatusCode;
use hyper::header::SET_COOKIE;
use uuid::Uuid;

use crate::api::wire;
use crate::app::App;
use crate::auth::{qr, totp};
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response};
use crate::ops::credentials::{check_new_password, checked_code, require_recent_auth};
use crate::ops::edge::EdgeSession;
use crate::ops::{account, mfa, sessions};
use crate::portal::device_name::device_name;
use crate::portal::pages::ACCOUNT_PAGE;
use crate::portal::views::{self, MfaSetup, PasskeyRow, SessionRow};
use crate::portal::{Cx, Form, allow_script, current_session, errors, passkeys, session_cookie};

/// Where a browser without a session goes: sign in, then back here.
fn sign_in_first(cx: &Cx<'_>) -> Response {
    let back = match &cx.app.config.portal_url {
        Some(origin) => format!("{origin}{ACCOUNT_PAGE}"),
        None => ACCOUNT_PAGE.to_owned(),
    };
    let query = serde_urlencoded::to_string([("rd", back.as_str())]).unwrap_or_default();
    cx.redirect(&format!("/auth/ui/login?{query}"))
}

/// What the account page shows besides the account itself.
#[derive(Default)]
pub(crate) struct Extras {
    /// The error whose status (and headers) the page answers with.
    pub status: Option<Error>,
    pub notice: Option<String>,
    pub sessions_error: Option<String>,
    pub password_error: Option<String>,
    pub mfa_error: Option<String>,
    pub mfa_setup: Option<MfaSetup>,
    pub recovery_codes: Option<Vec<String>>,
    pub passkeys_error: Option<String>,
}

/// `2026-12-04 17:20 UTC` for unix milliseconds.
pub(crate) fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let (hour, minute) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02} UTC")
}

/// Renders the account page of `session` with `extras`.
pub(crate) async fn render(
    cx: &Cx<'_>,
    session: &EdgeSession,
    extras: Extras,
) -> ApiResult<Response> {
    let app = cx.app;
    let t = cx.t();
    let rows: Vec<SessionRow> = sessions::list(app, &session.caller)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            id: s.id.to_string(),
            device: device_name(&s.user_agent)
                .unwrap_or_else(|| t.get("sessions.unknown_device").to_owned()),
            user_agent: s.user_agent,
            ip: s.ip,
            last_used: utc(s.last_used_at),
            current: s.current,
        })
        .collect();
    let mfa_on = mfa::is_enabled(app, &session.caller).await?;
    let passkeys_on = passkeys::enabled(app);
    let passkey_rows = if passkeys_on {
        let rows = crate::ops::passkeys::list(app, &session.caller).await?;
        Some(
            rows.into_iter()
                .map(|p| PasskeyRow {
                    id: p.id,
                    name: p.name,
                    created: utc(p.created_at),
                    last_used: p.last_used_at.map(utc),
                    backed_up: p.backed_up,
                })
                .collect(),
        )
    } else {
        None
    };
    let mut frame = cx
        .frame("account.heading")
        .notice(extras.notice)
        .script(passkeys_on);
    frame.wide = true;
    let view = views::Account {
        f: frame,
        email: &session.email,
        sessions: rows,
        sessions_error: extras.sessions_error,
        password_error: extras.password_error,
        mfa_on,
        mfa_setup: extras.mfa_setup.filter(|_| !mfa_on),
        mfa_error: extras.mfa_error,
        recovery_codes: extras.recovery_codes,
        passkeys: passkey_rows,
        passkeys_error: extras.passkeys_error,
    };
    let response = match extras.status {
        Some(error) => cx.page_with_error(&error, &view),
        None => cx.page(StatusCode::OK, &view),
    };
    Ok(if passkeys_on {
        allow_script(app, response)
    } else {
        response
    })
}

/// `Ok(error)` when it is shown on the page, else the error itself.
pub(crate) fn inline(error: Error) -> ApiResult<Error> {
    if errors::inline(&error) {
        Ok(error)
    } else {
        Err(error)
    }
}

/// The page again with `error` in one section.
/// The account page with the notice of `key` (an action done).
async fn with_notice(cx: &Cx<'_>, session: &EdgeSession, key: &str) -> ApiResult<Response> {
    let extras = Extras {
        notice: Some(cx.t().get(key).to_owned()),
        ..Extras::default()
    };
    render(cx, session, extras).await
}

async fn with_error(
    cx: &Cx<'_>,
    session: &EdgeSession,
    error: Error,
    place: fn(&mut Extras, String),
) -> ApiResult<Response> {
    let error = inline(error)?;
    let mut extras = Extras::default();
    place(&mut extras, cx.error_text(&error));
    extras.status = Some(error);
    render(cx, session, extras).await
}

fn in_sessions(e: &mut Extras, text: String) {
    e.sessions_error = Some(text);
}

fn in_password(e: &mut Extras, text: String) {
    e.password_error = Some(text);
}

fn in_mfa(e: &mut Extras, text: String) {
    e.mfa_error = Some(text);
}

/// The notices the account page shows after a redirect (`?notice=`).
fn account_notice(cx: &Cx<'_>, query: &Form) -> Option<String> {
    let key = match query.get("notice")? {
        "passkey_added" => "passkeys.added",
        "passkey_removed" => "passkeys.removed",
        _ => return None,
    };
    Some(cx.t().get(key).to_owned())
}

/// `GET /auth/ui/account` (`?notice=` after a redirect).
pub async fn page(app: &App, req: &Request) -> ApiResult<Response> {
    let cx = Cx::get(app, req)?;
    match current_session(app, req).await? {
        Some(session) => {
            let extras = Extras {
                notice: account_notice(&cx, &Form::query(req)),
                ..Extras::default()
            };
            render(&cx, &session, extras).await
        }
        None => Ok(sign_in_first(&cx)),
    }
}

/// A checked form post from a signed-in browser, or the answer that sends
/// it to sign in.
pub(crate) async fn signed_in_post<'r>(
    app: &'r App,
    req: &'r Request,
) -> ApiResult<Result<(Cx<'r>, Form, EdgeSession), Response>> {
    let (cx, form) = Cx::post(app, req)?;
    Ok(match current_session(app, req).await? {
        Some(session) => Ok((cx, form, session)),
        None => Err(sign_in_first(&cx)),
    })
}

/// Signs this browser out: both cookies cleared, `303` to sign in with a notice.
fn signed_out(cx: &Cx<'_>) -> Response {
    let mut response = cx.redirect("/auth/ui/login?notice=signed_out");
    response
        .headers_mut()
        .append(SET_COOKIE, session_cookie(cx.app, None));
    wire::clear_refresh_cookie(cx.app, &mut response);
    response
}

/// `POST /auth/ui/account/sessions/revoke` (`id`): ends one session of the
/// account; ending this one signs the browser out.
pub async fn revoke_session(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form, session) = match signed_in_post(app, req).await? {
        Ok(ok) => ok,
        Err(redirect) => return Ok(redirect),
    };
    let Ok(id) = Uuid::parse_str(form.text("id").trim()) else {
        return with_error(&cx, &session, Error::NotFound, in_sessions).await;
    };
    match sessions::revoke_one(app, &session.caller, id).await {
        Ok(true) => Ok(signed_out(&cx)),
        Ok(false) => with_notice(&cx, &session, "sessions.revoked").await,
        Err(Error::NotFound) => {
            let mut extras = Extras {
                sessions_error: Some(cx.t().get("error.session_gone").to_owned()),
                ..Extras::default()
            };
            extras.status = Some(Error::NotFound);
            render(&cx, &session, extras).await
        }
        Err(e) => with_error(&cx, &session, e, in_sessions).await,
    }
}

/// `POST /auth/ui/account/password` (`old_password`, `new_password`).
pub async fn change_password(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form, session) = match signed_in_post(app, req).await? {
        Ok(ok) => ok,
        Err(redirect) => return Ok(redirect),
    };
    let result = async {
        let old = form.required("old_password")?;
        let new = form.required("new_password")?;
        check_new_password(app, new)?;
        account::change_password(app, &session.caller, old, new, clock::now_ms()).await
    }
    .await;
    match result {
        Ok(()) => with_notice(&cx, &session, "password.changed").await,
        Err(e) => with_error(&cx, &session, e, in_password).await,
    }
}

/// `POST /auth/ui/account/mfa/generate`: a pending secret, its QR code.
pub async fn mfa_generate(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, _form, session) = match signed_in_post(app, req).await? {
        Ok(ok) => ok,
        Err(redirect) => return Ok(redirect),
    };
    let result = async {
        require_recent_auth(app, &session.caller, None, clock::now_ms()).await?;
        mfa::generate(app, &session.caller).await
    }
    .await;
    match result {
        Ok(generated) => {
            let extras = Extras {
                mfa_setup: Some(MfaSetup {
                    image_url: generated.image_url,
                    otp_secret: generated.otp_secret,
                }),
                ..Extras::default()
            };
            render(&cx, &session, extras).await
        }
        Err(e) => with_error(&cx, &session, e, in_mfa).await,
    }
}

/// The setup of the secret the enable form carried back, to show it again
/// after a wrong code (the secret is the user's own, shown on their page).
fn setup_again(app: &App, session: &EdgeSession, secret: &str) -> Option<MfaSetup> {
    let plausible = (16..=64).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
    if !plausible {
        return None;
    }
    let uri = totp::otpauth_uri(&app.config.mfa_issuer, &session.email, secret);
    let image_url = qr::png_data_url(&uri).ok()?;
    Some(MfaSetup {
        image_url,
        otp_secret: secret.to_owned(),
    })
}

/// `POST /auth/ui/account/mfa/enable` (`code`): turns MFA on and shows the
/// first recovery codes.
pub async fn mfa_enable(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form, session) = match signed_in_post(app, req).await? {
        Ok(ok) => ok,
        Err(redirect) => return Ok(redirect),
    };
    let result = async {
        let now_ms = clock::now_ms();
        require_recent_auth(app, &session.caller, None, now_ms).await?;
        let code = checked_code(form.text("code").trim()).map_err(|_| Error::InvalidCode)?;
        mfa::enable_with_recovery_codes(app, &session.caller, code, now_ms).await
    }
    .await;
    match result {
        Ok(codes) => {
            let extras = Extras {
                notice: Some(cx.t().get("mfa_setup.enabled").to_owned()),
                recovery_codes: Some(codes),
                ..Extras::default()
            };
            render(&cx, &session, extras).await
        }
        Err(e) => {
            let e = inline(e)?;
            let keep = !matches!(e, Error::MfaNotGenerated | Error::ReauthenticationRequired);
            let extras = Extras {
                mfa_error: Some(cx.error_text(&e)),
                mfa_setup: keep
                    .then(|| setup_again(app, &session, form.text("secret")))
                    .flatten(),
                status: Some(e),
                ..Extras::default()
            };
            render(&cx, &session, extras).await
        }
    }
}

/// `POST /auth/ui/account/mfa/disable` (`code`).
pub async fn mfa_disable(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form, session) = match signed_in_post(app, req).await? {
        Ok(ok) => ok,
        Err(redirect) => return Ok(redirect),
    };
    let result = async {
        let now_ms = clock::now_ms();
        require_recent_auth(app, &session.caller, None, now_ms).await?;
        let code = checked_code(form.text("code").trim()).map_err(|_| Error::InvalidCode)?;
        mfa::disable(app, &session.caller, code, now_ms).await
    }
    .await;
    match result {
        Ok(()) => with_notice(&cx, &session, "mfa_setup.disabled").await,
        Err(e) => with_error(&cx, &session, e, in_mfa).await,
    }
}

/// `POST /auth/ui/account/mfa/recovery-codes` (`code`): a fresh set.
pub async fn mfa_recovery_codes(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form, session) = match signed_in_post(app, req).await? {
        Ok(ok) => ok,
        Err(redirect) => return Ok(redirect),
    };
    let result = async {
        let now_ms = clock::now_ms();
        require_recent_auth(app, &session.caller, None, now_ms).await?;
        let code = checked_code(form.text("code").trim()).map_err(|_| Error::InvalidCode)?;
        mfa::recovery_codes(app, &session.caller, code, now_ms).await
    }
    .await;
    match result {
        Ok(codes) => {
            let extras = Extras {
                recovery_codes: Some(codes),
                ..Extras::default()
            };
            render(&cx, &session, extras).await
        }
        Err(e) => with_error(&cx, &session, e, in_mfa).await,
    }
}

/// `POST /auth/ui/logout`: ends this browser's session family, clears its
/// cookies, `303` to the sign-in page with a notice. Without a live
/// session it only clears the cookies.
pub async fn logout(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, _form) = Cx::post(app, req)?;
    if let Some(session) = current_session(app, req).await? {
        match sessions::revoke_one(app, &session.caller, session.caller.session).await {
            Ok(_) | Err(Error::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(signed_out(&cx))
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
        assert_eq!(utc(1_796_404_800_000 + 61_000), "2026-12-04 17:21 UTC");
    }
}
