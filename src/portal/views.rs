//! The pages as typed askama templates (`templates/portal/`): one struct per
//! page, each with the [`Frame`] the base layout reads (texts, heading, CSRF
//! token, notice, error). Askama escapes every value for HTML.

use askama::Template;

use crate::portal::strings::Strings;

/// What the base layout shows around every page.
pub struct Frame<'a> {
    pub t: &'a Strings,
    /// The `<h1>` (also the `<title>`).
    pub title: &'a str,
    /// The form token for this browser's CSRF cookie.
    pub csrf: &'a str,
    pub notice: Option<String>,
    pub error: Option<String>,
    /// A wider card (the account page).
    pub wide: bool,
    /// Loads the passkey script (`/auth/ui/static/passkey.js`).
    pub script: bool,
}

impl<'a> Frame<'a> {
    /// A frame whose heading is the text of `key`.
    pub fn new(t: &'a Strings, key: &str, csrf: &'a str) -> Frame<'a> {
        Frame {
            t,
            title: t.get_static(key),
            csrf,
            notice: None,
            error: None,
            wide: false,
            script: false,
        }
    }

    pub fn error(mut self, error: Option<String>) -> Self {
        self.error = error;
        self
    }

    pub fn notice(mut self, notice: Option<String>) -> Self {
        self.notice = notice;
        self
    }

    pub fn script(mut self, on: bool) -> Self {
        self.script = on;
        self
    }
}

#[derive(Template)]
#[template(path = "portal/login.html")]
pub struct Login<'a> {
    pub f: Frame<'a>,
    pub email: &'a str,
    pub rd: &'a str,
    /// Shows "Sign in with a passkey" (passkeys are on).
    pub passkeys: bool,
}

#[derive(Template)]
#[template(path = "portal/login_mfa.html")]
pub struct LoginMfa<'a> {
    pub f: Frame<'a>,
    pub ticket: &'a str,
    pub rd: &'a str,
}

#[derive(Template)]
#[template(path = "portal/register.html")]
pub struct Register<'a> {
    pub f: Frame<'a>,
    pub email: &'a str,
}

/// A form asking for an email only: activation request, forgotten password.
#[derive(Template)]
#[template(path = "portal/email_form.html")]
pub struct EmailForm<'a> {
    pub f: Frame<'a>,
    pub action: &'a str,
    /// Keys of the texts.
    pub intro: &'a str,
    pub submit: &'a str,
    pub email: &'a str,
}

#[derive(Template)]
#[template(path = "portal/activate.html")]
pub struct Activate<'a> {
    pub f: Frame<'a>,
    pub ticket: &'a str,
}

#[derive(Template)]
#[template(path = "portal/reset.html")]
pub struct Reset<'a> {
    pub f: Frame<'a>,
    pub ticket: &'a str,
}

/// A page that only says something, with an optional link.
#[derive(Template)]
#[template(path = "portal/message.html")]
pub struct Message<'a> {
    pub f: Frame<'a>,
    pub text: Option<&'a str>,
    /// (href, label).
    pub link: Option<(&'a str, &'a str)>,
}

/// One entry of the account page's session list.
pub struct SessionRow {
    pub id: String,
    /// A short name ("Chrome on Linux").
    pub device: String,
    /// The full user agent (the name's tooltip).
    pub user_agent: String,
    pub ip: String,
    /// ISO 8601, UTC.
    pub last_used: String,
    pub current: bool,
}

/// One entry of the account page's passkey list.
pub struct PasskeyRow {
    /// The credential id (base64url), what "Remove" posts.
    pub id: String,
    pub name: String,
    /// `YYYY-MM-DD HH:MM UTC`.
    pub created: String,
    pub last_used: Option<String>,
    /// Synced by its provider (a backed-up credential).
    pub backed_up: bool,
}

/// A pending TOTP secret, shown for enrolment.
pub struct MfaSetup {
    pub image_url: String,
    pub otp_secret: String,
}

#[derive(Template)]
#[template(path = "portal/account.html")]
pub struct Account<'a> {
    pub f: Frame<'a>,
    pub email: &'a str,
    pub sessions: Vec<SessionRow>,
    pub sessions_error: Option<String>,
    pub password_error: Option<String>,
    pub mfa_on: bool,
    pub mfa_setup: Option<MfaSetup>,
    pub mfa_error: Option<String>,
    pub recovery_codes: Option<Vec<String>>,
    /// The account's passkeys; `None` when passkeys are off.
    pub passkeys: Option<Vec<PasskeyRow>>,
    pub passkeys_error: Option<String>,
}
