//! The portal's pages before sign-in: sign in (password, then the second
//! factor when MFA is on), create an account, activate it (and ask for a
//! new activation link), forgotten password (ask for a link, then choose a
//! new password). Each decodes its form, calls the operation and renders.
//!
//! No page says whether an account exists: registering always says "check
//! your email", asking for a link always says one was sent if the account
//! exists, and a wrong email or password give one message. A GET never
//! spends a ticket: the mailed link opens a page whose button posts it.

use hyper::StatusCode;
use hyper::header::SET_COOKIE;

use crate::api::wire::{self, RequestClient};
use crate::app::App;
use crate::auth::refresh::RefreshToken;
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response};
use crate::ops::credentials::{
    SessionKind, SignIn, Tokens, check_new_password, parse_ticket, valid_email,
};
use crate::ops::{account, activate, edge, login, register};
use crate::portal::views::{Activate, EmailForm, Login, LoginMfa, Message, Register, Reset};
use crate::portal::{Cx, Form, allow_script, current_session, errors, passkeys, session_cookie};

/// Every portal sign-in starts an edge session.
const BROWSER: SessionKind = SessionKind::Browser;

/// The account page: where a sign-in lands without a valid `rd`.
pub const ACCOUNT_PAGE: &str = "/auth/ui/account";

/// `Ok(error)` when it is shown next to the form, else the error itself.
fn inline(error: Error) -> ApiResult<Error> {
    if errors::inline(&error) {
        Ok(error)
    } else {
        Err(error)
    }
}

/// The notices the sign-in page shows after a redirect (`?notice=`).
fn login_notice(cx: &Cx<'_>, query: &Form) -> Option<String> {
    let key = match query.get("notice")? {
        "signed_out" => "logout.done",
        "password_reset" => "reset.done",
        _ => return None,
    };
    Some(cx.t().get(key).to_owned())
}

/// The safe place to go after signing in: the checked `rd`, else the
/// account page.
pub fn destination(app: &App, rd: &str) -> String {
    checked_return_url(app, rd).unwrap_or_else(|| ACCOUNT_PAGE.to_owned())
}

/// `rd` when it is a safe return URL (`return_url::ReturnUrls::check`).
pub fn checked_return_url(app: &App, rd: &str) -> Option<String> {
    if rd.is_empty() {
        return None;
    }
    app.portal.return_urls.check(rd)
}

fn login_page(cx: &Cx<'_>, email: &str, rd: &str, error: Option<&Error>) -> Response {
    login_page_saying(cx, email, rd, error.map(|e| (e, cx.error_text(e))))
}

/// The sign-in page with `error` (its status, and the text shown).
fn login_page_saying(
    cx: &Cx<'_>,
    email: &str,
    rd: &str,
    error: Option<(&Error, String)>,
) -> Response {
    let on = passkeys::enabled(cx.app);
    let view = Login {
        f: cx
            .frame("login.heading")
            .error(error.as_ref().map(|(_, text)| text.clone()))
            .script(on),
        email,
        rd,
        passkeys: on,
    };
    let response = match error {
        Some((e, _)) => cx.page_with_error(e, &view),
        None => cx.page(StatusCode::OK, &view),
    };
    if on {
        allow_script(cx.app, response)
    } else {
        response
    }
}

/// The sign-in page after a passkey sign-in failed: one text whatever the
/// reason (an unknown passkey, a spent challenge, a bad signature), so it
/// says nothing about accounts; a rate limit says how long to wait.
pub(crate) fn passkey_sign_in_failed(cx: &Cx<'_>, rd: &str, error: &Error) -> Response {
    let text = match error {
        Error::RateLimited { .. } => cx.error_text(error),
        _ => cx.t().get("error.passkey").to_owned(),
    };
    login_page_saying(cx, "", rd, Some((error, text)))
}

/// `GET /auth/ui/login?rd=…`.
pub async fn login_form(app: &App, req: &Request) -> ApiResult<Response> {
    let cx = Cx::get(app, req)?;
    let query = Form::query(req);
    let rd = query.text("rd");
    // Already signed in, on the way to a safe place: go there at once.
    if let Some(to) = checked_return_url(app, rd) {
        if current_session(app, req).await?.is_some() {
            return Ok(cx.redirect(&to));
        }
    }
    let on = passkeys::enabled(app);
    let view = Login {
        f: cx
            .frame("login.heading")
            .notice(login_notice(&cx, &query))
            .script(on),
        email: "",
        rd,
        passkeys: on,
    };
    let response = cx.page(StatusCode::OK, &view);
    Ok(if on {
        allow_script(app, response)
    } else {
        response
    })
}

/// The answer to a completed sign-in: the cookies, and `303` to where the
/// user was going.
pub(crate) fn signed_in(cx: &Cx<'_>, tokens: &Tokens, rd: &str) -> ApiResult<Response> {
    let app = cx.app;
    let mut response = cx.redirect(&destination(app, rd));
    let edge = edge::cookie_value(app, tokens);
    response
        .headers_mut()
        .append(SET_COOKIE, session_cookie(app, Some(&edge)));
    let refresh = app.refresh_keys.encode(&RefreshToken {
        account_id: tokens.account,
        family_id: tokens.family,
        generation: tokens.generation,
    });
    wire::set_refresh_cookie(app, &mut response, &refresh);
    Ok(response)
}

/// `POST /auth/ui/login`: the password step.
pub async fn login_submit(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form) = Cx::post(app, req)?;
    let raw_email = form.text("email");
    let rd = form.text("rd");
    let outcome = async {
        let email = valid_email(raw_email)?;
        let password = form.required("password")?;
        let client = RequestClient::of(app, req);
        let device = wire::known_device(app, req, &email);
        let outcome = login::password(
            app,
            login::PasswordSignIn {
                email: &email,
                password,
                client: client.get(),
                known_device: device.as_ref().map(|d| d.0.as_str()),
                kind: SessionKind::Browser,
                now_ms: clock::now_ms(),
            },
        )
        .await?;
        Ok::<_, Error>((email, device, outcome))
    }
    .await;
    let (email, device, outcome) = match outcome {
        Ok(done) => done,
        Err(e) => {
            let e = inline(e)?;
            return Ok(login_page(&cx, raw_email, rd, Some(&e)));
        }
    };
    let mut response = match outcome {
        SignIn::Tokens(tokens) => signed_in(&cx, &tokens, rd)?,
        SignIn::MfaRequired { ticket } => {
            let ticket = ticket.to_string();
            let view = LoginMfa {
                f: cx.frame("mfa.heading"),
                ticket: &ticket,
                rd,
            };
            cx.page(StatusCode::OK, &view)
        }
    };
    wire::remember_device(
        app,
        &mut response,
        &email,
        device.as_ref(),
        wire::Delivery::Cookie,
    );
    Ok(response)
}

/// `POST /auth/ui/login/mfa`: the second step, with a TOTP code or a
/// recovery code.
pub async fn login_mfa(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form) = Cx::post(app, req)?;
    let rd = form.text("rd");
    let raw_ticket = form.text("ticket");
    let client = RequestClient::of(app, req);
    let result = async {
        let ticket = parse_ticket(raw_ticket).map_err(|_| Error::InvalidTicket)?;
        match (form.get("code"), form.get("recovery_code")) {
            (Some(code), _) if !code.is_empty() => {
                let code = crate::ops::credentials::checked_code(code.trim())
                    .map_err(|_| Error::InvalidCode)?;
                login::totp(app, ticket, code, client.get(), BROWSER, clock::now_ms()).await
            }
            (_, Some(recovery)) => {
                login::recovery_code(
                    app,
                    ticket,
                    recovery,
                    client.get(),
                    BROWSER,
                    clock::now_ms(),
                )
                .await
            }
            _ => Err(Error::invalid_request("The form has no code.")),
        }
    }
    .await;
    match result {
        Ok(tokens) => signed_in(&cx, &tokens, rd),
        // The sign-in is over: start again from the password.
        Err(Error::InvalidTicket) => Ok(login_page(&cx, "", rd, Some(&Error::InvalidToken))),
        Err(e) => {
            let e = inline(e)?;
            let view = LoginMfa {
                f: cx.frame("mfa.heading").error(Some(cx.error_text(&e))),
                ticket: raw_ticket,
                rd,
            };
            Ok(cx.page_with_error(&e, &view))
        }
    }
}

fn register_page(cx: &Cx<'_>, email: &str, error: Option<&Error>) -> Response {
    let view = Register {
        f: cx
            .frame("register.heading")
            .error(error.map(|e| cx.error_text(e))),
        email,
    };
    match error {
        Some(e) => cx.page_with_error(e, &view),
        None => cx.page(StatusCode::OK, &view),
    }
}

/// `GET /auth/ui/register`.
pub async fn register_form(app: &App, req: &Request) -> ApiResult<Response> {
    let cx = Cx::get(app, req)?;
    Ok(register_page(&cx, "", None))
}

/// `POST /auth/ui/register`: "check your email", whether or not the
/// address was free.
pub async fn register_submit(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form) = Cx::post(app, req)?;
    let raw_email = form.text("email");
    let result = async {
        let email = valid_email(raw_email)?;
        let password = form.required("password")?;
        check_new_password(app, password)?;
        let client = RequestClient::of(app, req);
        register::register(
            app,
            &email,
            password,
            client.get().rate_subject,
            clock::now_ms(),
        )
        .await
    }
    .await;
    match result {
        Ok(()) => {
            let t = cx.t();
            let view = Message {
                f: cx.frame("register.done_heading"),
                text: Some(t.get("register.done_text")),
                link: Some(("/auth/ui/login", t.get("link.sign_in"))),
            };
            Ok(cx.page(StatusCode::OK, &view))
        }
        Err(e) => {
            let e = inline(e)?;
            Ok(register_page(&cx, raw_email, Some(&e)))
        }
    }
}

fn activate_page(cx: &Cx<'_>, ticket: &str, error: Option<&Error>) -> Response {
    let view = Activate {
        f: cx
            .frame("activate.heading")
            .error(error.map(|e| cx.error_text(e))),
        ticket,
    };
    match error {
        Some(e) => cx.page_with_error(e, &view),
        None => cx.page(StatusCode::OK, &view),
    }
}

/// `GET /auth/ui/activate?ticket=…`: a page whose button posts the ticket
/// (the GET spends nothing: mail scanners follow links).
pub async fn activate_form(app: &App, req: &Request) -> ApiResult<Response> {
    let cx = Cx::get(app, req)?;
    let query = Form::query(req);
    let ticket = query.text("ticket");
    let error = parse_ticket(ticket).err().map(|_| Error::InvalidTicket);
    Ok(activate_page(&cx, ticket, error.as_ref()))
}

/// `POST /auth/ui/activate`: spends the ticket.
pub async fn activate_submit(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form) = Cx::post(app, req)?;
    let raw = form.text("ticket");
    let result = async {
        let ticket = parse_ticket(raw).map_err(|_| Error::InvalidTicket)?;
        activate::activate(app, ticket, clock::now_ms()).await
    }
    .await;
    match result {
        Ok(()) => {
            let t = cx.t();
            let view = Message {
                f: cx.frame("activate.done_heading"),
                text: Some(t.get("activate.done_text")),
                link: Some(("/auth/ui/login", t.get("link.sign_in"))),
            };
            Ok(cx.page(StatusCode::OK, &view))
        }
        Err(e) => {
            let e = inline(e)?;
            Ok(activate_page(&cx, raw, Some(&e)))
        }
    }
}

/// The two "send me a link" pages.
#[derive(Clone, Copy)]
enum LinkKind {
    Activation,
    Reset,
}

impl LinkKind {
    fn keys(
        self,
    ) -> (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ) {
        match self {
            LinkKind::Activation => (
                "/auth/ui/activate/request",
                "activate_request.heading",
                "activate_request.text",
                "activate_request.submit",
                "activate_request.done",
            ),
            LinkKind::Reset => (
                "/auth/ui/forgot",
                "forgot.heading",
                "forgot.text",
                "forgot.submit",
                "forgot.done",
            ),
        }
    }
}

fn email_page(
    cx: &Cx<'_>,
    kind: LinkKind,
    email: &str,
    notice: Option<String>,
    error: Option<&Error>,
) -> Response {
    let (action, heading, intro, submit, _) = kind.keys();
    let view = EmailForm {
        f: cx
            .frame(heading)
            .notice(notice)
            .error(error.map(|e| cx.error_text(e))),
        action,
        intro,
        submit,
        email,
    };
    match error {
        Some(e) => cx.page_with_error(e, &view),
        None => cx.page(StatusCode::OK, &view),
    }
}

async fn link_form(app: &App, req: &Request, kind: LinkKind) -> ApiResult<Response> {
    let cx = Cx::get(app, req)?;
    Ok(email_page(&cx, kind, "", None, None))
}

async fn link_submit(app: &App, req: &Request, kind: LinkKind) -> ApiResult<Response> {
    let (cx, form) = Cx::post(app, req)?;
    let raw_email = form.text("email");
    let result = async {
        let email = valid_email(raw_email)?;
        let client = RequestClient::of(app, req);
        let ip = client.get().rate_subject;
        match kind {
            LinkKind::Activation => {
                activate::request_activation(app, &email, ip, clock::now_ms()).await
            }
            LinkKind::Reset => {
                account::request_password_reset(app, &email, ip, clock::now_ms()).await
            }
        }
    }
    .await;
    match result {
        Ok(()) => {
            let done = cx.t().get(kind.keys().4).to_owned();
            Ok(email_page(&cx, kind, "", Some(done), None))
        }
        Err(e) => {
            let e = inline(e)?;
            Ok(email_page(&cx, kind, raw_email, None, Some(&e)))
        }
    }
}

/// `GET /auth/ui/activate/request`.
pub async fn activation_request_form(app: &App, req: &Request) -> ApiResult<Response> {
    link_form(app, req, LinkKind::Activation).await
}

/// `POST /auth/ui/activate/request`: says a link was sent if the account
/// is waiting for activation, whatever the case.
pub async fn activation_request_submit(app: &App, req: &Request) -> ApiResult<Response> {
    link_submit(app, req, LinkKind::Activation).await
}

/// `GET /auth/ui/forgot`.
pub async fn forgot_form(app: &App, req: &Request) -> ApiResult<Response> {
    link_form(app, req, LinkKind::Reset).await
}

/// `POST /auth/ui/forgot`: says a link was sent if the account exists,
/// whatever the case.
pub async fn forgot_submit(app: &App, req: &Request) -> ApiResult<Response> {
    link_submit(app, req, LinkKind::Reset).await
}

fn reset_page(cx: &Cx<'_>, ticket: &str, error: Option<&Error>) -> Response {
    let view = Reset {
        f: cx
            .frame("reset.heading")
            .error(error.map(|e| cx.error_text(e))),
        ticket,
    };
    match error {
        Some(e) => cx.page_with_error(e, &view),
        None => cx.page(StatusCode::OK, &view),
    }
}

/// `GET /auth/ui/reset?ticket=…`: the new-password form (spends nothing).
pub async fn reset_form(app: &App, req: &Request) -> ApiResult<Response> {
    let cx = Cx::get(app, req)?;
    let query = Form::query(req);
    let ticket = query.text("ticket");
    let error = parse_ticket(ticket).err().map(|_| Error::InvalidTicket);
    Ok(reset_page(&cx, ticket, error.as_ref()))
}

/// `POST /auth/ui/reset`: the password is checked before the ticket is
/// spent; then `303` to the sign-in page with a notice.
pub async fn reset_submit(app: &App, req: &Request) -> ApiResult<Response> {
    let (cx, form) = Cx::post(app, req)?;
    let raw = form.text("ticket");
    let result = async {
        let ticket = parse_ticket(raw).map_err(|_| Error::InvalidTicket)?;
        let password = form.required("new_password")?;
        check_new_password(app, password)?;
        account::reset_password(app, ticket, password, clock::now_ms()).await
    }
    .await;
    match result {
        Ok(()) => Ok(cx.redirect("/auth/ui/login?notice=password_reset")),
        Err(e) => {
            let e = inline(e)?;
            Ok(reset_page(&cx, raw, Some(&e)))
        }
    }
}
