//! The sign-in portal (`/auth/ui/`): every page's success and error paths
//! through real HTTP (redirects not followed, cookies kept by hand), the
//! security headers, CSRF refusals that change nothing, and the portal off.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::json;

use crate::support::totp::Authenticator;
use crate::support::{PASSWORD, Redis, Reply, TestServer};

/// A browser without JavaScript: keeps cookies, reads the CSRF token of the
/// last page, never follows redirects.
pub(crate) struct Browser {
    base: String,
    http: reqwest::Client,
    pub(crate) cookies: BTreeMap<String, String>,
    pub(crate) csrf: String,
}

impl Browser {
    pub(crate) fn new(s: &TestServer) -> Browser {
        Browser {
            base: s.url(""),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(20))
                .build()
                .unwrap(),
            cookies: BTreeMap::new(),
            csrf: String::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &Reply) {
        for value in r.headers.get_all(SET_COOKIE) {
            let value = value.to_str().unwrap();
            let (pair, attributes) = value.split_once(';').unwrap_or((value, ""));
            let (name, v) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") || v.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), v.to_owned());
            }
        }
        if let Some(token) = field_value(&r.text, "csrf") {
            self.csrf = token;
        }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> Reply {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header(COOKIE, self.cookie_header())
        };
        let r = Reply::read(request.send().await.unwrap()).await;
        self.keep(&r);
        r
    }

    pub(crate) async fn get(&mut self, path: &str) -> Reply {
        let request = self.http.get(format!("{}{path}", self.base));
        self.send(request).await
    }

    /// A form post as a browser sends it from a portal page: the page's
    /// CSRF token, same-origin fetch metadata.
    pub(crate) async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Reply {
        let csrf = self.csrf.clone();
        self.post_with(
            path,
            fields,
            Some(&csrf),
            &[("sec-fetch-site", "same-origin")],
        )
        .await
    }

    pub(crate) async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        csrf: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(csrf) = csrf {
            all.push(("csrf", csrf));
        }
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(&all).unwrap());
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        self.send(request).await
    }
}

/// The `value` of the first input named `name`.
pub(crate) fn field_value(html: &str, name: &str) -> Option<String> {
    let at = html.find(&format!("name=\"{name}\""))?;
    let tag_start = html[..at].rfind('<')?;
    let tag = &html[tag_start..at + html[at..].find('>')?];
    let value = &tag[tag.find("value=\"")? + 7..];
    Some(unescape(&value[..value.find('"')?]))
}

pub(crate) fn unescape(s: &str) -> String {
    s.replace("&#x2f;", "/")
        .replace("&#x2F;", "/")
        .replace("&#47;", "/")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub(crate) fn h1(html: &str) -> String {
    assert_eq!(html.matches("<h1").count(), 1, "one h1: {html}");
    let start = html.find("<h1>").expect("h1") + 4;
    let end = html.find("</h1>").expect("/h1");
    unescape(&html[start..end])
}

/// The text of the `error` element (role="alert"), if any.
pub(crate) fn error_text(html: &str) -> Option<String> {
    let at = html.find("class=\"error\" role=\"alert\">")?;
    let rest = &html[at + 27..];
    Some(unescape(&rest[..rest.find("</p>")?]))
}

pub(crate) fn notice_text(html: &str) -> Option<String> {
    let at = html.find("class=\"notice\" role=\"status\">")?;
    let rest = &html[at + 29..];
    Some(unescape(&rest[..rest.find("</p>")?]))
}

/// The headers every portal answer carries.
pub(crate) fn assert_portal_headers(r: &Reply) {
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/html; charset=utf-8"),
        "{}",
        r.text
    );
    let csp = r.header("content-security-policy").expect("CSP");
    for part in [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self' data:",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    assert_eq!(r.header("referrer-policy").as_deref(), Some("no-referrer"));
    assert_eq!(
        r.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(r.header("x-frame-options").as_deref(), Some("DENY"));
}

/// The one script tag a page may have: the passkey script, same origin.
pub(crate) const PASSKEY_SCRIPT_TAG: &str =
    "<script src=\"/auth/ui/static/passkey.js\" defer></script>";

/// A full page: lang, title, the one stylesheet, no inline script or style;
/// at most the passkey script file, and `script-src 'self'` in the policy
/// exactly when it is loaded.
pub(crate) fn assert_page(r: &Reply, status: u16, heading: &str) {
    assert_eq!(r.status, status, "{}", r.text);
    assert_portal_headers(r);
    let html = &r.text;
    assert!(html.contains("<html lang=\"en\">"), "{html}");
    assert!(html.contains("<title>"), "{html}");
    assert!(html.contains("<link rel=\"stylesheet\" href=\"/auth/ui/static/portal.css\">"));
    assert_eq!(html.matches("<link").count(), 1);
    let scripts = html.matches(PASSKEY_SCRIPT_TAG).count();
    assert!(scripts <= 1, "{html}");
    assert_eq!(html.matches("<script").count(), scripts, "{html}");
    let csp = r.header("content-security-policy").expect("CSP");
    if scripts == 1 {
        assert!(csp.contains("script-src 'self';"), "{csp}");
    } else {
        assert!(!csp.contains("script-src"), "{csp}");
    }
    for inline in ["<style", "style=", "onclick", "javascript:"] {
        assert!(!html.contains(inline), "{inline} in {html}");
    }
    assert_eq!(h1(html), heading, "{html}");
}

pub(crate) fn assert_field(html: &str, label: &str, name: &str, autocomplete: &str) {
    let label_at = html
        .find(&format!(">{label}</label>"))
        .unwrap_or_else(|| panic!("label {label} in {html}"));
    let before = &html[..label_at];
    let id = &before[before.rfind("for=\"").unwrap() + 5..];
    let id = &id[..id.find('"').unwrap()];
    let input_at = html
        .find(&format!("id=\"{id}\""))
        .expect("input of the label");
    let input = &html[input_at..];
    let input = &input[..input.find('>').unwrap()];
    assert!(input.contains(&format!("name=\"{name}\"")), "{input}");
    assert!(
        input.contains(&format!("autocomplete=\"{autocomplete}\"")),
        "{input}"
    );
}

pub(crate) fn assert_button(html: &str, text: &str) {
    assert!(
        html.contains(&format!("\">{text}</button>"))
            || html.contains(&format!(">{text}</button>")),
        "button {text} in {html}"
    );
}

pub(crate) fn location(r: &Reply) -> String {
    assert_eq!(r.status, 303, "{}", r.text);
    r.header("location").expect("Location")
}

const EMAIL: &str = "ada@example.com";

async fn portal() -> TestServer {
    TestServer::with(&[("EDGEAUTH_PORTAL", "true")]).await
}

#[tokio::test]
async fn pages_render_with_labels_and_security_headers() {
    let s = portal().await;
    let mut b = Browser::new(&s);
    let r = b
        .get("/auth/ui/login?rd=https%3A%2F%2Fapp.example.com%2F")
        .await;
    assert_page(&r, 200, "Sign in");
    assert_field(&r.text, "Email", "email", "username");
    assert_field(&r.text, "Password", "password", "current-password");
    assert_button(&r.text, "Sign in");
    for (href, text) in [
        ("/auth/ui/register", "Create an account"),
        ("/auth/ui/forgot", "Forgot your password?"),
        ("/auth/ui/activate/request", "Send a new activation link"),
    ] {
        assert!(
            r.text.contains(&format!("<a href=\"{href}\">{text}</a>")),
            "{text}"
        );
    }
    assert_eq!(
        field_value(&r.text, "rd").as_deref(),
        Some("https://app.example.com/")
    );
    // The CSRF cookie comes with the first page, once.
    let set = r.header("set-cookie").expect("csrf cookie");
    assert!(set.starts_with("edgeauth_csrf="), "{set}");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/auth/ui"] {
        assert!(set.contains(attribute), "{set}");
    }
    assert!(!b.csrf.is_empty());
    let again = b.get("/auth/ui/register").await;
    assert!(again.header("set-cookie").is_none());
    assert_page(&again, 200, "Create an account");
    assert_field(&again.text, "Email", "email", "username");
    assert_field(&again.text, "Password", "password", "new-password");
    assert_button(&again.text, "Create account");

    let r = b.get("/auth/ui/activate/request").await;
    assert_page(&r, 200, "Send a new activation link");
    assert_field(&r.text, "Email", "email", "username");
    assert_button(&r.text, "Send link");
    let r = b.get("/auth/ui/forgot").await;
    assert_page(&r, 200, "Reset your password");
    assert_field(&r.text, "Email", "email", "username");
    assert_button(&r.text, "Send reset link");
    let ticket = uuid::Uuid::new_v4().to_string();
    let r = b.get(&format!("/auth/ui/reset?ticket={ticket}")).await;
    assert_page(&r, 200, "Choose a new password");
    assert_field(&r.text, "New password", "new_password", "new-password");
    assert_button(&r.text, "Set password");
    let r = b.get(&format!("/auth/ui/activate?ticket={ticket}")).await;
    assert_page(&r, 200, "Activate your account");
    assert_button(&r.text, "Activate");
    assert_eq!(
        field_value(&r.text, "ticket").as_deref(),
        Some(ticket.as_str())
    );

    // The stylesheet: compiled in, cached, no third-party anything.
    let css = s.get("/auth/ui/static/portal.css").await;
    assert_eq!(css.status, 200);
    assert_eq!(
        css.header("content-type").as_deref(),
        Some("text/css; charset=utf-8")
    );
    assert_eq!(
        css.header("cache-control").as_deref(),
        Some("public, max-age=86400")
    );
    assert!(css.text.contains("prefers-color-scheme"));
    assert!(!css.text.contains("http"), "no remote assets");

    // Wrong method: 405 with Allow, still an HTML page; unknown page: 404.
    let r = b.post("/auth/ui/account", &[]).await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow").as_deref(), Some("GET"));
    assert_portal_headers(&r);
    let r = b.get("/auth/ui/login/mfa").await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow").as_deref(), Some("POST"));
    let r = b.get("/auth/ui/nope").await;
    assert_eq!(r.status, 404);
    assert_portal_headers(&r);
    // A JSON body on a portal path is not a form: 415.
    let r = s
        .send(
            s.http
                .post(s.url("/auth/ui/register"))
                .json(&json!({"email": EMAIL, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, 415);
    assert_portal_headers(&r);
    // JSON stays the rule elsewhere.
    let r = s
        .send(
            s.http
                .post(s.url("/auth/register"))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body("email=a%40b.example&password=xxxxxxxx"),
        )
        .await;
    assert_eq!(r.status, 415);
}

#[tokio::test]
async fn the_portal_off_is_not_there() {
    let s = TestServer::with(&[("EDGEAUTH_PORTAL", "false")]).await;
    for path in [
        "/auth/ui/login",
        "/auth/ui/account",
        "/auth/ui/static/portal.css",
    ] {
        let r = s.get(path).await;
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.error(), "not_found");
    }
    let r = s
        .send(
            s.http
                .post(s.url("/auth/ui/login"))
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body("email=a%40b.example&password=xxxxxxxx"),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn register_activate_and_sign_in() {
    let s = portal().await;
    let mut b = Browser::new(&s);
    b.get("/auth/ui/register").await;
    // Bad input: the form again, the email kept, never the password.
    let r = b
        .post(
            "/auth/ui/register",
            &[("email", "not-an-email"), ("password", PASSWORD)],
        )
        .await;
    assert_page(&r, 400, "Create an account");
    assert_eq!(
        error_text(&r.text).as_deref(),
        Some("Enter a valid email address.")
    );
    assert_eq!(
        field_value(&r.text, "email").as_deref(),
        Some("not-an-email")
    );
    assert!(!r.text.contains(PASSWORD));
    let r = b
        .post(
            "/auth/ui/register",
            &[("email", EMAIL), ("password", "abc")],
        )
        .await;
    assert_page(&r, 400, "Create an account");
    assert!(error_text(&r.text).is_some());
    assert_eq!(field_value(&r.text, "email").as_deref(), Some(EMAIL));
    let r = b.post("/auth/ui/register", &[("email", EMAIL)]).await;
    assert_page(&r, 400, "Create an account");
    assert_eq!(field_value(&r.text, "email").as_deref(), Some(EMAIL));

    let r = b
        .post(
            "/auth/ui/register",
            &[("email", EMAIL), ("password", PASSWORD)],
        )
        .await;
    assert_page(&r, 200, "Check your email");
    assert_eq!(s.redis.events_of("account.registered").len(), 1);
    // Registering a taken email says the very same.
    let again = b
        .post(
            "/auth/ui/register",
            &[("email", EMAIL), ("password", PASSWORD)],
        )
        .await;
    assert_page(&again, 200, "Check your email");
    assert_eq!(again.text, r.text);
    assert_eq!(s.redis.events_of("account.exists").len(), 1);

    // Not active yet: the inactive message.
    b.get("/auth/ui/login").await;
    let r = b
        .post(
            "/auth/ui/login",
            &[("email", EMAIL), ("password", PASSWORD), ("rd", "")],
        )
        .await;
    assert_page(&r, 403, "Sign in");
    assert!(error_text(&r.text).unwrap().contains("not activated"));

    // The mailed link's page spends nothing; its button does.
    let ticket = s.redis.ticket("account.registered", EMAIL);
    let r = b.get(&format!("/auth/ui/activate?ticket={ticket}")).await;
    assert_page(&r, 200, "Activate your account");
    let r = b.get(&format!("/auth/ui/activate?ticket={ticket}")).await;
    assert_page(&r, 200, "Activate your account");
    let json = s
        .post("/auth/login", json!({"email": EMAIL, "password": PASSWORD}))
        .await;
    assert_eq!(json.status, 403, "still inactive after two GETs");
    let r = b.post("/auth/ui/activate", &[("ticket", &ticket)]).await;
    assert_page(&r, 200, "Account activated");
    assert!(r.text.contains("<a href=\"/auth/ui/login\">Sign in</a>"));
    assert_eq!(s.redis.events_of("account.activated").len(), 1);
    // Spent: the form again with the message.
    let r = b.post("/auth/ui/activate", &[("ticket", &ticket)]).await;
    assert_page(&r, 401, "Activate your account");
    assert!(error_text(&r.text).is_some());
    let r = b.post("/auth/ui/activate", &[("ticket", "nope")]).await;
    assert_page(&r, 401, "Activate your account");
    let r = b.get("/auth/ui/activate").await;
    assert_page(&r, 401, "Activate your account");

    // Sign in.
    let r = b
        .post(
            "/auth/ui/login",
            &[("email", EMAIL), ("password", PASSWORD), ("rd", "")],
        )
        .await;
    assert_eq!(location(&r), "/auth/ui/account");
    assert_portal_headers(&r);
    assert!(b.cookies.contains_key("refresh_token"));
}

#[tokio::test]
async fn wrong_password_and_unknown_email_say_the_same() {
    let s = portal().await;
    s.create_account(EMAIL).await;
    let mut b = Browser::new(&s);
    b.get("/auth/ui/login").await;
    let wrong = b
        .post(
            "/auth/ui/login",
            &[("email", EMAIL), ("password", "wrong password")],
        )
        .await;
    assert_page(&wrong, 401, "Sign in");
    let unknown = b
        .post(
            "/auth/ui/login",
            &[
                ("email", "nobody@example.com"),
                ("password", "wrong password"),
            ],
        )
        .await;
    assert_page(&unknown, 401, "Sign in");
    assert_eq!(error_text(&wrong.text), error_text(&unknown.text));
    assert_eq!(
        error_text(&wrong.text).as_deref(),
        Some("The email or password is wrong.")
    );
    // The email is kept, the password never comes back.
    assert_eq!(field_value(&wrong.text, "email").as_deref(), Some(EMAIL));
    assert!(!wrong.text.contains("wrong password"));
    assert_eq!(s.redis.events_of("login.failed").len(), 2);
}

#[tokio::test]
async fn links_by_mail_say_nothing_about_accounts() {
    let s = portal().await;
    s.create_account(EMAIL).await;
    let inactive = "grace@example.com";
    let r = s
        .post(
            "/auth/register",
            json!({"email": inactive, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204);
    let mut b = Browser::new(&s);
    b.get("/auth/ui/forgot").await;
    let mut pages = Vec::new();
    for email in [EMAIL, "nobody@example.com"] {
        let r = b.post("/auth/ui/forgot", &[("email", email)]).await;
        assert_page(&r, 200, "Reset your password");
        pages.push(notice_text(&r.text).expect("notice"));
    }
    assert_eq!(pages[0], pages[1]);
    assert_eq!(s.redis.events_of("password.reset_requested").len(), 1);

    b.get("/auth/ui/activate/request").await;
    let mut pages = Vec::new();
    for email in [inactive, EMAIL, "nobody@example.com"] {
        let r = b
            .post("/auth/ui/activate/request", &[("email", email)])
            .await;
        assert_page(&r, 200, "Send a new activation link");
        pages.push(notice_text(&r.text).expect("notice"));
    }
    assert!(pages.iter().all(|p| p == &pages[0]));
    let requested = s.redis.events_of("account.activation_requested");
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0]["email"], inactive);

    let r = b.post("/auth/ui/forgot", &[("email", "bad")]).await;
    assert_page(&r, 400, "Reset your password");
    assert_eq!(field_value(&r.text, "email").as_deref(), Some("bad"));
}

#[tokio::test]
async fn reset_with_bad_ticket_weak_password_then_good() {
    let s = portal().await;
    s.create_account(EMAIL).await;
    let mut b = Browser::new(&s);
    b.get("/auth/ui/forgot").await;
    b.post("/auth/ui/forgot", &[("email", EMAIL)]).await;
    let ticket = s.redis.ticket("password.reset_requested", EMAIL);
    let r = b.get(&format!("/auth/ui/reset?ticket={ticket}")).await;
    assert_page(&r, 200, "Choose a new password");

    let unknown = uuid::Uuid::new_v4().to_string();
    let r = b
        .post(
            "/auth/ui/reset",
            &[("ticket", &unknown), ("new_password", "a new password")],
        )
        .await;
    assert_page(&r, 401, "Choose a new password");
    assert_eq!(
        error_text(&r.text).as_deref(),
        Some("This link is invalid, expired or already used.")
    );
    // Too short: checked before the ticket is spent.
    let r = b
        .post(
            "/auth/ui/reset",
            &[("ticket", &ticket), ("new_password", "abc")],
        )
        .await;
    assert_page(&r, 400, "Choose a new password");
    assert_eq!(
        field_value(&r.text, "ticket").as_deref(),
        Some(ticket.as_str())
    );
    let r = b
        .post(
            "/auth/ui/reset",
            &[("ticket", &ticket), ("new_password", "a new password")],
        )
        .await;
    assert_eq!(location(&r), "/auth/ui/login?notice=password_reset");
    let r = b.get("/auth/ui/login?notice=password_reset").await;
    assert_page(&r, 200, "Sign in");
    assert!(notice_text(&r.text).is_some());
    let json = s
        .post(
            "/auth/login",
            json!({"email": EMAIL, "password": "a new password"}),
        )
        .await;
    assert_eq!(json.status, 200);
    let r = b
        .post(
            "/auth/ui/reset",
            &[("ticket", &ticket), ("new_password", "another one")],
        )
        .await;
    assert_page(&r, 401, "Choose a new password");
}

#[tokio::test]
async fn mfa_step_with_code_and_recovery_code() {
    let s = portal().await;
    let (jwt, mut auth): (String, Authenticator) = s.signed_in_with_mfa(EMAIL).await;
    let code = auth.fresh().await;
    let recovery = s.recovery_codes(&jwt, &code).await;
    let mut b = Browser::new(&s);
    b.get("/auth/ui/login").await;
    let r = b
        .post(
            "/auth/ui/login",
            &[("email", EMAIL), ("password", PASSWORD), ("rd", "")],
        )
        .await;
    assert_page(&r, 200, "Two-factor authentication");
    assert_field(&r.text, "Authentication code", "code", "one-time-code");
    assert!(r.text.contains("inputmode=\"numeric\""));
    assert_field(&r.text, "Recovery code", "recovery_code", "one-time-code");
    assert_button(&r.text, "Verify");
    assert_button(&r.text, "Use a recovery code");
    let ticket = field_value(&r.text, "ticket").unwrap();
    assert!(!b.cookies.contains_key("refresh_token"));

    let wrong = auth.wrong();
    let r = b
        .post(
            "/auth/ui/login/mfa",
            &[("ticket", &ticket), ("rd", ""), ("code", &wrong)],
        )
        .await;
    assert_page(&r, 401, "Two-factor authentication");
    assert_eq!(error_text(&r.text).as_deref(), Some("The code is wrong."));
    assert_eq!(
        field_value(&r.text, "ticket").as_deref(),
        Some(ticket.as_str())
    );
    let code = auth.fresh().await;
    let r = b
        .post(
            "/auth/ui/login/mfa",
            &[("ticket", &ticket), ("rd", ""), ("code", &code)],
        )
        .await;
    assert_eq!(location(&r), "/auth/ui/account");
    assert!(b.cookies.contains_key("refresh_token"));
    // The ticket is spent.
    let r = b
        .post(
            "/auth/ui/login/mfa",
            &[("ticket", &ticket), ("rd", ""), ("code", &wrong)],
        )
        .await;
    assert_page(&r, 401, "Sign in");

    // A recovery code instead.
    let mut b = Browser::new(&s);
    b.get("/auth/ui/login").await;
    let r = b
        .post(
            "/auth/ui/login",
            &[("email", EMAIL), ("password", PASSWORD), ("rd", "")],
        )
        .await;
    let ticket = field_value(&r.text, "ticket").unwrap();
    let r = b
        .post(
            "/auth/ui/login/mfa",
            &[
                ("ticket", &ticket),
                ("rd", ""),
                ("recovery_code", "AAAA-BBBB-CCCC"),
            ],
        )
        .await;
    assert_page(&r, 401, "Two-factor authentication");
    let r = b
        .post(
            "/auth/ui/login/mfa",
            &[
                ("ticket", &ticket),
                ("rd", ""),
                ("recovery_code", &recovery[0]),
            ],
        )
        .await;
    assert_eq!(location(&r), "/auth/ui/account");
    assert_eq!(s.redis.events_of("mfa.recovery_code_used").len(), 1);
}

#[tokio::test]
async fn forged_posts_are_refused_and_change_nothing() {
    let s = portal().await;
    let mut b = Browser::new(&s);
    b.get("/auth/ui/register").await;
    let good = b.csrf.clone();
    let fields = [("email", EMAIL), ("password", PASSWORD)];
    // Another browser's cookie and token.
    let mut other = Browser::new(&s);
    other.get("/auth/ui/register").await;
    type Case<'a> = (&'a str, Option<String>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        ("no token", None, vec![]),
        ("wrong token", Some("AAAA".repeat(11)), vec![]),
        ("empty token", Some(String::new()), vec![]),
        ("token of another cookie", Some(other.csrf.clone()), vec![]),
        (
            "cross-site Origin",
            Some(good.clone()),
            vec![("origin", "https://evil.example")],
        ),
        (
            "Sec-Fetch-Site: cross-site",
            Some(good.clone()),
            vec![("sec-fetch-site", "cross-site")],
        ),
        (
            "Sec-Fetch-Site: same-site",
            Some(good.clone()),
            vec![("sec-fetch-site", "same-site")],
        ),
    ];
    for (what, token, headers) in cases {
        let r = b
            .post_with("/auth/ui/register", &fields, token.as_deref(), &headers)
            .await;
        assert_eq!(r.status, 403, "{what}: {}", r.text);
        assert_portal_headers(&r);
        assert!(error_text(&r.text).is_some(), "{what}");
    }
    // No cookie at all, with a token of some cookie.
    let mut bare = Browser::new(&s);
    let r = bare
        .post_with("/auth/ui/register", &fields, Some(&good), &[])
        .await;
    assert_eq!(r.status, 403);
    assert!(
        s.redis.events_of("account.registered").is_empty(),
        "nothing changed"
    );
    // The real thing, also from a page that sends `Origin: null`
    // (Referrer-Policy: no-referrer) or its own origin.
    let own = format!("http://{}", s.addr);
    let r = b
        .post_with(
            "/auth/ui/register",
            &fields,
            Some(&good),
            &[("origin", own.as_str()), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_page(&r, 200, "Check your email");
    let r = b
        .post_with(
            "/auth/ui/register",
            &fields,
            Some(&good),
            &[("origin", "null")],
        )
        .await;
    assert_page(&r, 200, "Check your email");
    assert_eq!(s.redis.events_of("account.registered").len(), 1);
}

/// The `Set-Cookie` of `name` in a reply.
pub(crate) fn set_cookie_of(r: &Reply, name: &str) -> Option<String> {
    r.headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(str::to_owned)
}

/// Signs `email` in through the portal's form: the browser, holding the
/// edge session cookie.
pub(crate) async fn portal_sign_in(s: &TestServer, email: &str) -> Browser {
    let mut b = Browser::new(s);
    b.get("/auth/ui/login").await;
    let r = b
        .post(
            "/auth/ui/login",
            &[("email", email), ("password", PASSWORD), ("rd", "")],
        )
        .await;
    assert_eq!(location(&r), "/auth/ui/account");
    assert!(
        b.cookies.contains_key("edgeauth_session"),
        "{:?}",
        r.headers
    );
    b
}

pub(crate) async fn verify_with_cookie(s: &TestServer, value: &str) -> Reply {
    s.send(
        s.http
            .get(s.url("/auth/verify"))
            .header(COOKIE, format!("edgeauth_session={value}")),
    )
    .await
}

#[tokio::test]
async fn sign_in_sets_the_edge_session_and_the_account_page_shows_it() {
    let s = portal().await;
    // Without a session: sign in first, then back to the account page.
    let mut anonymous = Browser::new(&s);
    let r = anonymous.get("/auth/ui/account").await;
    assert_eq!(location(&r), "/auth/ui/login?rd=%2Fauth%2Fui%2Faccount");
    assert_portal_headers(&r);

    s.create_account(EMAIL).await;
    let mut b = Browser::new(&s);
    b.get("/auth/ui/login").await;
    let r = b
        .post(
            "/auth/ui/login",
            &[("email", EMAIL), ("password", PASSWORD), ("rd", "")],
        )
        .await;
    assert_eq!(location(&r), "/auth/ui/account");
    let cookie = set_cookie_of(&r, "edgeauth_session").expect("edge cookie");
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=2592000"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "EDGEAUTH_COOKIE_SECURE=false: {cookie}"
    );
    assert!(set_cookie_of(&r, "refresh_token").is_some());
    let edge = b.cookies["edgeauth_session"].clone();
    let v = verify_with_cookie(&s, &edge).await;
    assert_eq!(v.status, 200, "{}", v.text);
    assert_eq!(v.header("x-auth-email").as_deref(), Some(EMAIL));

    let r = b.get("/auth/ui/account").await;
    assert_page(&r, 200, "Your account");
    assert!(r.text.contains(EMAIL));
    for h2 in ["Sessions", "Password", "Two-factor authentication"] {
        assert!(r.text.contains(&format!(">{h2}</h2>")), "{h2}");
    }
    assert!(r.text.contains("This device"));
    assert_button(&r.text, "Revoke");
    assert_field(
        &r.text,
        "Current password",
        "old_password",
        "current-password",
    );
    assert_field(&r.text, "New password", "new_password", "new-password");
    assert_button(&r.text, "Change password");
    assert_button(&r.text, "Set up two-factor authentication");
    assert_button(&r.text, "Sign out");

    // Signed in, a visit to the sign-in page with a safe rd goes straight there.
    let s2 = TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_PORTAL_ALLOWED_DOMAINS", "example.com"),
    ])
    .await;
    s2.create_account(EMAIL).await;
    let mut b2 = portal_sign_in(&s2, EMAIL).await;
    let r = b2
        .get("/auth/ui/login?rd=https%3A%2F%2Fapp.example.com%2Fhome")
        .await;
    assert_eq!(location(&r), "https://app.example.com/home");
    let r = b2.get("/auth/ui/login?rd=https%3A%2F%2Fevil.test%2F").await;
    assert_page(&r, 200, "Sign in");
}

#[tokio::test]
async fn revoke_a_session_and_change_the_password() {
    let s = portal().await;
    s.create_account(EMAIL).await;
    let (jwt, _) = s.login(EMAIL).await;
    let mut b = portal_sign_in(&s, EMAIL).await;
    let sessions = s
        .send(s.http.get(s.url("/auth/sessions")).bearer_auth(&jwt))
        .await
        .json();
    let other = sessions["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["current"] == json!(true))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = b.get("/auth/ui/account").await;
    assert!(r.text.contains(&other));
    let r = b
        .post("/auth/ui/account/sessions/revoke", &[("id", &other)])
        .await;
    assert_page(&r, 200, "Your account");
    assert!(notice_text(&r.text).is_some());
    assert!(!r.text.contains(&other));
    assert_eq!(s.verify(&jwt).await.status, 401);
    let r = b
        .post("/auth/ui/account/sessions/revoke", &[("id", &other)])
        .await;
    assert_page(&r, 404, "Your account");
    assert!(error_text(&r.text).is_some());

    // Wrong current password: the message in the password section.
    let r = b
        .post(
            "/auth/ui/account/password",
            &[
                ("old_password", "not it at all"),
                ("new_password", "a new password"),
            ],
        )
        .await;
    assert_page(&r, 401, "Your account");
    assert_eq!(
        error_text(&r.text).as_deref(),
        Some("The email or password is wrong.")
    );
    assert!(!r.text.contains("not it at all"));
    let r = b
        .post(
            "/auth/ui/account/password",
            &[("old_password", PASSWORD), ("new_password", "abc")],
        )
        .await;
    assert_page(&r, 400, "Your account");
    let r = b
        .post(
            "/auth/ui/account/password",
            &[
                ("old_password", PASSWORD),
                ("new_password", "a new password"),
            ],
        )
        .await;
    assert_page(&r, 200, "Your account");
    assert!(notice_text(&r.text).is_some());
    // This browser's session survives its own password change.
    let r = b.get("/auth/ui/account").await;
    assert_page(&r, 200, "Your account");
    let json = s
        .post(
            "/auth/login",
            json!({"email": EMAIL, "password": "a new password"}),
        )
        .await;
    assert_eq!(json.status, 200);
}

/// The `<li>` texts of the recovery-code list.
fn recovery_codes(html: &str) -> Vec<String> {
    let at = html
        .find("id=\"recovery-codes\"")
        .expect("recovery-codes list");
    let list = &html[at..html[at..].find("</ul>").unwrap() + at];
    list.split("<code>")
        .skip(1)
        .map(|c| c[..c.find("</code>").unwrap()].to_owned())
        .collect()
}

fn otp_secret(html: &str) -> String {
    let at = html.find("id=\"otp-secret\">").expect("otp-secret") + 16;
    html[at..at + html[at..].find('<').unwrap()].to_owned()
}

#[tokio::test]
async fn mfa_setup_recovery_codes_and_turning_it_off() {
    let s = portal().await;
    s.create_account(EMAIL).await;
    let mut b = portal_sign_in(&s, EMAIL).await;
    b.get("/auth/ui/account").await;
    let r = b.post("/auth/ui/account/mfa/generate", &[]).await;
    assert_page(&r, 200, "Your account");
    assert!(r.text.contains("alt=\"QR code\""));
    assert!(r.text.contains("src=\"data:image/png;base64,"));
    let secret = otp_secret(&r.text);
    assert_field(&r.text, "Authentication code", "code", "one-time-code");
    assert_button(&r.text, "Turn on");
    let mut auth = Authenticator::new(&secret);

    let r = b
        .post(
            "/auth/ui/account/mfa/enable",
            &[("code", &auth.wrong()), ("secret", &secret)],
        )
        .await;
    assert_page(&r, 401, "Your account");
    assert_eq!(error_text(&r.text).as_deref(), Some("The code is wrong."));
    assert_eq!(otp_secret(&r.text), secret, "the same secret shown again");
    let code = auth.fresh().await;
    let r = b
        .post(
            "/auth/ui/account/mfa/enable",
            &[("code", &code), ("secret", &secret)],
        )
        .await;
    assert_page(&r, 200, "Your account");
    let codes = recovery_codes(&r.text);
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(r.text.contains("Two-factor authentication is on"));
    assert_button(&r.text, "New recovery codes");
    assert_button(&r.text, "Turn off");
    assert_eq!(s.redis.events_of("mfa.enabled").len(), 1);

    // The first codes work at sign-in.
    let mut other = Browser::new(&s);
    other.get("/auth/ui/login").await;
    let r = other
        .post(
            "/auth/ui/login",
            &[("email", EMAIL), ("password", PASSWORD), ("rd", "")],
        )
        .await;
    let ticket = field_value(&r.text, "ticket").unwrap();
    let r = other
        .post(
            "/auth/ui/login/mfa",
            &[
                ("ticket", &ticket),
                ("rd", ""),
                ("recovery_code", &codes[0]),
            ],
        )
        .await;
    assert_eq!(location(&r), "/auth/ui/account");
    let v = verify_with_cookie(&s, &other.cookies["edgeauth_session"]).await;
    assert_eq!(v.status, 200);
    assert!(
        v.header("x-auth-amr").unwrap().contains("mfa"),
        "{:?}",
        v.headers
    );

    let r = b
        .post(
            "/auth/ui/account/mfa/recovery-codes",
            &[("code", &auth.wrong())],
        )
        .await;
    assert_page(&r, 401, "Your account");
    let code = auth.fresh().await;
    let r = b
        .post("/auth/ui/account/mfa/recovery-codes", &[("code", &code)])
        .await;
    assert_page(&r, 200, "Your account");
    let fresh = recovery_codes(&r.text);
    assert_eq!(fresh.len(), 10);
    assert_ne!(fresh, codes);

    let code = auth.fresh().await;
    let r = b
        .post("/auth/ui/account/mfa/disable", &[("code", &code)])
        .await;
    assert_page(&r, 200, "Your account");
    assert_button(&r.text, "Set up two-factor authentication");
    assert_eq!(s.redis.events_of("mfa.disabled").len(), 1);
}

#[tokio::test]
async fn mfa_setup_needs_a_recent_sign_in() {
    let s = TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_REAUTH_MAX_AGE", "1s"),
    ])
    .await;
    s.create_account(EMAIL).await;
    let mut b = portal_sign_in(&s, EMAIL).await;
    b.get("/auth/ui/account").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = b.post("/auth/ui/account/mfa/generate", &[]).await;
    assert_page(&r, 403, "Your account");
    assert_eq!(
        error_text(&r.text).as_deref(),
        Some("For this change, sign out and sign in again first.")
    );
    assert!(!r.text.contains("otp-secret"));
}

#[tokio::test]
async fn sign_out_ends_the_session_and_clears_the_cookie() {
    let s = portal().await;
    s.create_account(EMAIL).await;
    let mut b = portal_sign_in(&s, EMAIL).await;
    let edge = b.cookies["edgeauth_session"].clone();
    b.get("/auth/ui/account").await;
    // Forged sign-outs change nothing.
    let r = b
        .post_with(
            "/auth/ui/logout",
            &[],
            None,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = b
        .post_with(
            "/auth/ui/logout",
            &[],
            Some(&b.csrf.clone()),
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(verify_with_cookie(&s, &edge).await.status, 200);

    let r = b.post("/auth/ui/logout", &[]).await;
    assert_eq!(location(&r), "/auth/ui/login?notice=signed_out");
    let cleared = set_cookie_of(&r, "edgeauth_session").expect("cleared");
    assert!(cleared.starts_with("edgeauth_session=;"), "{cleared}");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(!b.cookies.contains_key("edgeauth_session"));
    assert_eq!(verify_with_cookie(&s, &edge).await.status, 401);
    let r = b.get("/auth/ui/login?notice=signed_out").await;
    assert_page(&r, 200, "Sign in");
    assert_eq!(notice_text(&r.text).as_deref(), Some("You are signed out."));
    let r = b.get("/auth/ui/account").await;
    assert_eq!(r.status, 303);
}

#[tokio::test]
async fn sign_in_never_redirects_off_site() {
    use crate::support::return_urls::{ACCEPTED, ALLOWED_DOMAIN, HOSTILE};
    let s = TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_PORTAL_ALLOWED_DOMAINS", ALLOWED_DOMAIN),
        // The tables are written with plain http refused.
        ("EDGEAUTH_COOKIE_SECURE", "true"),
    ])
    .await;
    s.create_account(EMAIL).await;
    let mut b = Browser::new(&s);
    let r = b.get("/auth/ui/login").await;
    let csrf_cookie = set_cookie_of(&r, "__Host-edgeauth_csrf").expect("__Host- cookie");
    assert!(
        csrf_cookie.contains("; Secure") && csrf_cookie.ends_with("Path=/"),
        "{csrf_cookie}"
    );
    let csp = r.header("content-security-policy").unwrap();
    assert!(
        csp.contains("form-action 'self' https://example.com:* https://*.example.com:*;"),
        "{csp}"
    );
    for rd in HOSTILE {
        let r = b
            .post(
                "/auth/ui/login",
                &[("email", EMAIL), ("password", PASSWORD), ("rd", rd)],
            )
            .await;
        assert_eq!(location(&r), "/auth/ui/account", "rd = {rd:?}");
    }
    for (rd, canonical) in ACCEPTED.iter().take(4) {
        let r = b
            .post(
                "/auth/ui/login",
                &[("email", EMAIL), ("password", PASSWORD), ("rd", rd)],
            )
            .await;
        assert_eq!(&location(&r), canonical, "rd = {rd:?}");
    }
}

#[tokio::test]
async fn mails_link_to_the_portal() {
    let s = TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_PORTAL_URL", "https://auth.example.com"),
    ])
    .await;
    let r = s
        .post(
            "/auth/register",
            json!({"email": EMAIL, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204);
    let registered = &s.redis.events_of("account.registered")[0];
    assert_eq!(
        registered["link"],
        format!(
            "https://auth.example.com/auth/ui/activate?ticket={}",
            registered["ticket"]
        )
    );
    let r = s
        .post("/auth/account/activate/request", json!({"email": EMAIL}))
        .await;
    assert_eq!(r.status, 204);
    let requested = &s.redis.events_of("account.activation_requested")[0];
    assert!(requested["link"].starts_with("https://auth.example.com/auth/ui/activate?ticket="));
    let r = s
        .post("/auth/account/forgot/request", json!({"email": EMAIL}))
        .await;
    assert_eq!(r.status, 204);
    let reset = &s.redis.events_of("password.reset_requested")[0];
    assert_eq!(
        reset["link"],
        format!(
            "https://auth.example.com/auth/ui/reset?ticket={}",
            reset["ticket"]
        )
    );
    // Without a portal URL, no link.
    let plain = portal().await;
    plain
        .post(
            "/auth/register",
            json!({"email": EMAIL, "password": PASSWORD}),
        )
        .await;
    assert!(!plain.redis.events_of("account.registered")[0].contains_key("link"));
}

#[tokio::test]
async fn strings_file_overrides_texts_and_refuses_unknown_keys() {
    let dir = crate::support::TempDir::new();
    let good = dir.write(
        "strings.json",
        r#"{"login.heading": "Anmelden", "login.submit": "Weiter"}"#,
    );
    let s = TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_PORTAL_STRINGS_FILE", good.to_str().unwrap()),
    ])
    .await;
    let mut b = Browser::new(&s);
    let r = b.get("/auth/ui/login").await;
    assert_page(&r, 200, "Anmelden");
    assert_button(&r.text, "Weiter");

    let bad = dir.write(
        "bad.json",
        r#"{"login.heading": "x", "login.haeding": "y"}"#,
    );
    let key = dir.write(
        "signing.pem",
        &edgeauth::auth::jwt::generate_pkcs8_pem().unwrap(),
    );
    let data = dir.write(
        "data.key",
        &edgeauth::auth::data_keys::generate_data_key_base64().unwrap(),
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgeauth"))
        .arg("serve")
        .env("EDGEAUTH_LISTEN", "127.0.0.1:0")
        .env("EDGEAUTH_ADMIN_LISTEN", "127.0.0.1:0")
        .env("EDGEAUTH_REDIS_URL", "redis://127.0.0.1:1")
        .env("EDGEAUTH_JWT_KEY_FILES", key)
        .env("EDGEAUTH_DATA_KEY_FILE", data)
        .env("EDGEAUTH_SCRYPT_LOG_N", "10")
        .env("EDGEAUTH_PORTAL", "true")
        .env("EDGEAUTH_PORTAL_STRINGS_FILE", &bad)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("EDGEAUTH_PORTAL_STRINGS_FILE"), "{text}");
    assert!(text.contains("login.haeding"), "{text}");
}

#[tokio::test]
async fn rate_limits_and_an_unavailable_redis_are_pages_too() {
    // A Redis of its own, also in cluster mode: the test stops it.
    let mut s = TestServer::with_redis(
        Redis::start(),
        &[
            ("EDGEAUTH_PORTAL", "true"),
            ("EDGEAUTH_RATE_LOGIN_PER_IP", "2/1h"),
        ],
    )
    .await;
    let mut b = Browser::new(&s);
    b.get("/auth/ui/login").await;
    for _ in 0..2 {
        let r = b
            .post(
                "/auth/ui/login",
                &[("email", EMAIL), ("password", "wrong password")],
            )
            .await;
        assert_eq!(r.status, 401);
    }
    let r = b
        .post(
            "/auth/ui/login",
            &[("email", EMAIL), ("password", "wrong password")],
        )
        .await;
    assert_page(&r, 429, "Sign in");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 3600);
    let text = error_text(&r.text).unwrap();
    assert!(
        text.starts_with("Too many attempts. Try again in "),
        "{text}"
    );
    assert_eq!(field_value(&r.text, "email").as_deref(), Some(EMAIL));

    s.redis.stop();
    let r = b.post("/auth/ui/forgot", &[("email", EMAIL)]).await;
    assert_eq!(r.status, 503, "{}", r.text);
    assert_portal_headers(&r);
    assert_eq!(r.header("retry-after").as_deref(), Some("1"));
    assert_eq!(
        error_text(&r.text).as_deref(),
        Some("The service is busy. Try again shortly.")
    );
}
