//! Browser sign-ins without the portal's pages: the sign-in operation called
//! on the in-process server with `SessionKind::Browser`, and what the portal
//! would hand the browser — the edge session cookie's value — plus the
//! family's refresh token (generation 0) for the revocations that take one.
//! Also the requests a gateway sends to `/auth/verify` with that cookie.

use edgeauth::auth::refresh::RefreshToken;
use edgeauth::ops::common::Client;
use edgeauth::ops::credentials::{SessionKind, SignIn, Tokens};
use edgeauth::ops::login::{self, PasswordSignIn};
use reqwest::header::COOKIE;
use uuid::Uuid;

use super::totp::Authenticator;
use super::{PASSWORD, Reply, TestServer, now_ms};

/// A browser signed in: its edge cookie value, the family's refresh token,
/// and which account and session family it is.
#[derive(Debug, Clone)]
pub struct EdgeLogin {
    pub cookie: String,
    pub refresh_token: String,
    pub account: Uuid,
    pub family: Uuid,
}

const CLIENT: Client<'static> = Client {
    rate_subject: "127.0.0.1",
    address: "127.0.0.1",
    user_agent: "edge-test-browser",
};

fn edge_login(s: &TestServer, tokens: &Tokens) -> EdgeLogin {
    EdgeLogin {
        cookie: edgeauth::ops::edge::cookie_value(&s.app, tokens),
        refresh_token: s.app.refresh_keys.encode(&RefreshToken {
            account_id: tokens.account,
            family_id: tokens.family,
            generation: tokens.generation,
        }),
        account: tokens.account,
        family: tokens.family,
    }
}

/// The password step of a browser sign-in of `email` (password `PASSWORD`).
async fn browser_password(s: &TestServer, email: &str) -> SignIn {
    login::password(
        &s.app,
        PasswordSignIn {
            email,
            password: PASSWORD,
            client: CLIENT,
            known_device: None,
            kind: SessionKind::Browser,
            now_ms: now_ms(),
        },
    )
    .await
    .unwrap_or_else(|e| panic!("browser sign-in of {email}: {e:?}"))
}

/// A browser sign-in of `email` (an active account without MFA).
pub async fn browser_sign_in(s: &TestServer, email: &str) -> EdgeLogin {
    match browser_password(s, email).await {
        SignIn::Tokens(tokens) => edge_login(s, &tokens),
        SignIn::MfaRequired { .. } => panic!("{email} has MFA on: use browser_sign_in_mfa"),
    }
}

/// The login ticket of a browser sign-in of `email`, an account with MFA on.
pub async fn browser_mfa_ticket(s: &TestServer, email: &str) -> Uuid {
    match browser_password(s, email).await {
        SignIn::MfaRequired { ticket } => ticket,
        SignIn::Tokens(_) => panic!("{email} has MFA off: no ticket"),
    }
}

/// A browser sign-in of `email` (MFA on) completed with a TOTP code.
pub async fn browser_sign_in_mfa(
    s: &TestServer,
    email: &str,
    auth: &mut Authenticator,
) -> EdgeLogin {
    let ticket = browser_mfa_ticket(s, email).await;
    let code = auth.fresh().await;
    let tokens = login::totp(
        &s.app,
        ticket,
        &code,
        CLIENT,
        SessionKind::Browser,
        now_ms(),
    )
    .await
    .unwrap_or_else(|e| panic!("browser TOTP step of {email}: {e:?}"));
    edge_login(s, &tokens)
}

/// A browser sign-in of `email` (MFA on) completed with a recovery code.
pub async fn browser_sign_in_recovery(s: &TestServer, email: &str, code: &str) -> EdgeLogin {
    let ticket = browser_mfa_ticket(s, email).await;
    let tokens = login::recovery_code(&s.app, ticket, code, CLIENT, SessionKind::Browser, now_ms())
        .await
        .unwrap_or_else(|e| panic!("browser recovery-code step of {email}: {e:?}"));
    edge_login(s, &tokens)
}

impl TestServer {
    /// `GET path` carrying the edge session cookie `cookie` (default name)
    /// and the extra `headers`.
    pub async fn get_with_cookie(
        &self,
        path: &str,
        cookie: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .get(self.url(path))
            .header(COOKIE, format!("edgeauth_session={cookie}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// `GET /auth/verify` with the edge session cookie.
    pub async fn verify_cookie(&self, cookie: &str) -> Reply {
        self.get_with_cookie("/auth/verify", cookie, &[]).await
    }
}
