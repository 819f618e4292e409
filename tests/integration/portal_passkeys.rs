//! Passkeys in the sign-in portal: the sign-in page's "Sign in with a
//! passkey" and the account page's "Passkeys" section render (hidden until
//! the script shows them, with `script-src 'self'` only where the script is
//! loaded), the script file itself, the begin endpoint's session and CSRF
//! checks, and the error paths (an unknown passkey to remove, a garbage
//! credential) as pages, never a 500. With passkeys off nothing of it shows.
//! And a whole passkey life without a browser, with the tests' software
//! authenticator: added on the account page, used alone to sign in (MFA on,
//! no code asked) back to the return URL, removed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};

use crate::portal::{
    Browser, PASSKEY_SCRIPT_TAG, assert_button, assert_page, error_text, field_value, location,
    notice_text, portal_sign_in, set_cookie_of, verify_with_cookie,
};
use crate::support::TestServer;
use crate::support::soft_passkey::SoftPasskey;

const EMAIL: &str = "ada@example.com";

/// A portal with passkeys on for `localhost`.
async fn portal() -> TestServer {
    TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_WEBAUTHN_RP_ID", "localhost"),
        ("EDGEAUTH_WEBAUTHN_ORIGINS", "http://localhost:8080"),
    ])
    .await
}

/// The opening tag of the element with `id`.
fn tag_with_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("#{id} in {html}"));
    let start = html[..at].rfind('<').unwrap();
    &html[start..at + html[at..].find('>').unwrap() + 1]
}

#[tokio::test]
async fn the_pages_offer_passkeys_and_load_only_the_script_file() {
    let s = portal().await;
    let mut b = Browser::new(&s);
    let r = b
        .get("/auth/ui/login?rd=https%3A%2F%2Fapp.example.com%2F")
        .await;
    assert_page(&r, 200, "Sign in");
    assert!(r.text.contains(PASSKEY_SCRIPT_TAG), "{}", r.text);
    let csp = r.header("content-security-policy").unwrap();
    for part in [
        "script-src 'self';",
        "connect-src 'self';",
        "default-src 'none'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_button(&r.text, "Sign in with a passkey");
    // Hidden until the script finds WebAuthn in the browser.
    assert!(tag_with_id(&r.text, "passkey-signin").contains(" hidden"));
    let form = tag_with_id(&r.text, "passkey-form");
    assert!(form.contains("action=\"/auth/ui/login/passkey\""), "{form}");
    assert!(
        form.contains("data-begin=\"/auth/passkeys/login/begin\""),
        "{form}"
    );
    assert!(form.contains(" hidden"), "{form}");
    let after = &r.text[r.text.find("id=\"passkey-form\"").unwrap()..];
    assert_eq!(
        field_value(after, "rd").as_deref(),
        Some("https://app.example.com/")
    );
    assert_eq!(field_value(after, "csrf").unwrap(), b.csrf);
    // The generic failure text is the page's, for the script to show.
    assert!(
        tag_with_id(&r.text, "passkey-error").contains("That passkey could not sign you in."),
        "{}",
        r.text
    );

    // Pages without passkeys load no script and allow none.
    let r = b.get("/auth/ui/register").await;
    assert_page(&r, 200, "Create an account");
    assert!(!r.text.contains("<script"));

    // The script: a same-origin file, cached like the stylesheet.
    let js = s.get("/auth/ui/static/passkey.js").await;
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        js.header("cache-control").as_deref(),
        Some("public, max-age=86400")
    );
    for needed in [
        "parseRequestOptionsFromJSON",
        "parseCreationOptionsFromJSON",
        "navigator.credentials.get",
        "navigator.credentials.create",
        "toJSON()",
    ] {
        assert!(js.text.contains(needed), "{needed}");
    }
    assert!(!js.text.contains("http"), "no remote anything");

    // The account page: the Passkeys section.
    s.create_account(EMAIL).await;
    let mut b = portal_sign_in(&s, EMAIL).await;
    let r = b.get("/auth/ui/account").await;
    assert_page(&r, 200, "Your account");
    assert!(r.text.contains(PASSKEY_SCRIPT_TAG));
    assert!(r.text.contains(">Passkeys</h2>"), "{}", r.text);
    assert!(r.text.contains("You have no passkeys yet."));
    let form = tag_with_id(&r.text, "passkey-add");
    assert!(
        form.contains("action=\"/auth/ui/account/passkeys/finish\""),
        "{form}"
    );
    assert!(
        form.contains("data-begin=\"/auth/ui/account/passkeys/begin\""),
        "{form}"
    );
    assert!(form.contains(" hidden"), "{form}");
    let label = tag_with_id(&r.text, "passkey-name");
    assert!(label.contains("name=\"name\""), "{label}");
    assert!(
        r.text
            .contains("<label for=\"passkey-name\">Passkey name</label>")
    );
    assert_button(&r.text, "Add a passkey");
    // Shown when the script cannot offer passkeys (it hides it otherwise).
    assert!(!tag_with_id(&r.text, "passkey-unsupported").contains("hidden"));
}

#[tokio::test]
async fn passkeys_off_show_nothing_and_their_routes_are_not_there() {
    // No relying party: no cookie domain, no portal URL, no setting.
    let s = TestServer::with(&[("EDGEAUTH_PORTAL", "true")]).await;
    let mut b = Browser::new(&s);
    let r = b.get("/auth/ui/login").await;
    assert_page(&r, 200, "Sign in");
    assert!(!r.text.contains("passkey"), "{}", r.text);
    s.create_account(EMAIL).await;
    let mut b = portal_sign_in(&s, EMAIL).await;
    let r = b.get("/auth/ui/account").await;
    assert_page(&r, 200, "Your account");
    assert!(!r.text.contains("Passkeys"), "{}", r.text);
    for path in [
        "/auth/ui/login/passkey",
        "/auth/ui/account/passkeys/begin",
        "/auth/ui/account/passkeys/finish",
        "/auth/ui/account/passkeys/remove",
    ] {
        let r = b.post(path, &[]).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text);
    }
}

#[tokio::test]
async fn begin_needs_the_form_token_and_a_session() {
    let s = portal().await;
    s.create_account(EMAIL).await;
    let mut b = portal_sign_in(&s, EMAIL).await;
    b.get("/auth/ui/account").await;
    const BEGIN: &str = "/auth/ui/account/passkeys/begin";

    // No token, a wrong one, another site: 403 before anything happens.
    let r = b
        .post_with(BEGIN, &[], None, &[("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let r = b
        .post_with(
            BEGIN,
            &[],
            Some("forged"),
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
    let csrf = b.csrf.clone();
    let r = b
        .post_with(BEGIN, &[], Some(&csrf), &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(r.status, 403, "{}", r.text);

    // A valid token without a session: 403, JSON, saying to sign in.
    let mut anonymous = Browser::new(&s);
    anonymous.get("/auth/ui/login").await;
    let r = anonymous.post(BEGIN, &[]).await;
    assert_eq!(r.status, 403, "{}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let body: Value = serde_json::from_str(&r.text).unwrap();
    assert_eq!(body["error"], "reauthentication_required");
    assert_eq!(
        body["message"],
        "For this change, sign out and sign in again first."
    );

    // Signed in just now, with the token: the creation options.
    let r = b.post(BEGIN, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.header("cache-control").as_deref(), Some("no-store"));
    let body: Value = serde_json::from_str(&r.text).unwrap();
    assert!(
        uuid::Uuid::parse_str(body["challenge_id"].as_str().unwrap()).is_ok(),
        "{body}"
    );
    let options = &body["options"];
    assert!(options["challenge"].is_string(), "{body}");
    assert_eq!(options["rp"]["id"], "localhost", "{body}");
    assert!(options["user"]["id"].is_string(), "{body}");
    assert!(
        options.get("publicKey").is_none(),
        "the publicKey member itself"
    );
}

#[tokio::test]
async fn garbage_and_unknown_passkeys_are_pages_not_failures() {
    let s = portal().await;
    s.create_account(EMAIL).await;
    let mut b = portal_sign_in(&s, EMAIL).await;
    b.get("/auth/ui/account").await;

    // Remove a passkey the account does not have: 404, said on the page.
    let r = b
        .post("/auth/ui/account/passkeys/remove", &[("id", "bm9uZQ")])
        .await;
    assert_page(&r, 404, "Your account");
    assert_eq!(
        error_text(&r.text).as_deref(),
        Some("That passkey no longer exists.")
    );

    // Finish with a garbage credential: the account page says so (400).
    let challenge = uuid::Uuid::new_v4().to_string();
    for credential in ["", "not json", "{\"id\":\"x\"}"] {
        let r = b
            .post(
                "/auth/ui/account/passkeys/finish",
                &[
                    ("challenge_id", &challenge),
                    ("name", "Laptop"),
                    ("credential", credential),
                ],
            )
            .await;
        assert_page(&r, 400, "Your account");
        assert_eq!(
            error_text(&r.text).as_deref(),
            Some("That passkey could not be added. Try again."),
            "{credential}"
        );
    }
    // A well-formed answer to a challenge that was never given: the same.
    let fake = serde_json::json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"clientDataJSON": "e30", "attestationObject": "oA"},
        "clientExtensionResults": {}
    })
    .to_string();
    let r = b
        .post(
            "/auth/ui/account/passkeys/finish",
            &[
                ("challenge_id", &challenge),
                ("name", "Laptop"),
                ("credential", &fake),
            ],
        )
        .await;
    assert!(r.status == 400 || r.status == 401, "{}", r.text);
    assert_eq!(
        error_text(&r.text).as_deref(),
        Some("That passkey could not be added. Try again.")
    );

    // Sign in with garbage: the sign-in page, one generic text, no cookie.
    let mut fresh = Browser::new(&s);
    fresh.get("/auth/ui/login").await;
    let assertion = serde_json::json!({
        "id": "AAAA", "rawId": "AAAA", "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AA", "signature": "AA", "userHandle": "AA"},
        "clientExtensionResults": {}
    })
    .to_string();
    for (id, credential) in [
        ("nope", "not json"),
        (challenge.as_str(), ""),
        (challenge.as_str(), assertion.as_str()),
    ] {
        let r = fresh
            .post(
                "/auth/ui/login/passkey",
                &[
                    ("challenge_id", id),
                    ("credential", credential),
                    ("rd", "https://app.example.com/"),
                ],
            )
            .await;
        assert_page(&r, 401, "Sign in");
        assert_eq!(
            error_text(&r.text).as_deref(),
            Some("That passkey could not sign you in."),
            "{credential}"
        );
        assert!(!fresh.cookies.contains_key("edgeauth_session"));
        // The way back is kept for the next try.
        let after = &r.text[r.text.find("id=\"passkey-form\"").unwrap()..];
        assert_eq!(
            field_value(after, "rd").as_deref(),
            Some("https://app.example.com/")
        );
    }
    // Without the form token: 403, as every portal form.
    let r = fresh
        .post_with(
            "/auth/ui/login/passkey",
            &[("challenge_id", &challenge), ("credential", &assertion)],
            None,
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text);
}

#[tokio::test]
async fn add_a_passkey_then_sign_in_with_it_alone_and_remove_it() {
    let s = TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_WEBAUTHN_RP_ID", "localhost"),
        ("EDGEAUTH_WEBAUTHN_ORIGINS", "http://localhost:8080"),
        ("EDGEAUTH_PORTAL_ALLOWED_DOMAINS", "example.com"),
    ])
    .await;
    s.create_account(EMAIL).await;
    let mut b = portal_sign_in(&s, EMAIL).await;
    // Two-factor authentication on: a passkey sign-in still asks no code.
    let (jwt, _) = s.login(EMAIL).await;
    s.enable_mfa(&jwt).await;

    // Add: begin (JSON), the authenticator's answer, finish (form).
    b.get("/auth/ui/account").await;
    let r = b.post("/auth/ui/account/passkeys/begin", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let begun: Value = serde_json::from_str(&r.text).unwrap();
    let mut key = SoftPasskey::new("localhost", "http://localhost:8080", false);
    let credential = key.register(&begun["options"]);
    let r = b
        .post(
            "/auth/ui/account/passkeys/finish",
            &[
                ("challenge_id", begun["challenge_id"].as_str().unwrap()),
                ("name", "  Work <laptop>  "),
                ("credential", &credential.to_string()),
            ],
        )
        .await;
    assert_eq!(location(&r), "/auth/ui/account?notice=passkey_added");
    let r = b.get("/auth/ui/account?notice=passkey_added").await;
    assert_page(&r, 200, "Your account");
    assert_eq!(notice_text(&r.text).as_deref(), Some("Passkey added."));
    assert!(
        r.text
            .contains("<span class=\"device\">Work &#60;laptop&#62;</span>")
            || r.text
                .contains("<span class=\"device\">Work &lt;laptop&gt;</span>"),
        "{}",
        r.text
    );
    assert!(r.text.contains("Not used yet"), "{}", r.text);
    assert!(!r.text.contains("You have no passkeys yet."));
    let list = &r.text[r.text.find("id=\"passkey-list\"").unwrap()..];
    assert_eq!(field_value(list, "id").unwrap(), key.id());
    assert_button(list, "Remove");
    assert_eq!(s.redis.events_of("passkey.added").len(), 1);

    // Sign in with it alone, in another browser: no email, no password, no code.
    let rd = "https://app.example.com/private?x=1";
    let mut other = Browser::new(&s);
    let page = other
        .get("/auth/ui/login?rd=https%3A%2F%2Fapp.example.com%2Fprivate%3Fx%3D1")
        .await;
    assert_page(&page, 200, "Sign in");
    let begun = s.post("/auth/passkeys/login/begin", json!({})).await;
    assert_eq!(begun.status, 200, "{}", begun.text);
    let begun = begun.json();
    let assertion = key.assert(&begun["options"]).to_string();
    let challenge = begun["challenge_id"].as_str().unwrap().to_owned();
    let r = other
        .post(
            "/auth/ui/login/passkey",
            &[
                ("challenge_id", &challenge),
                ("credential", &assertion),
                ("rd", rd),
            ],
        )
        .await;
    assert_eq!(location(&r), rd);
    let edge = set_cookie_of(&r, "edgeauth_session").expect("the edge session cookie");
    assert!(edge.contains("HttpOnly"), "{edge}");
    assert!(
        r.refresh_cookie().is_some(),
        "the refresh cookie, as a password sign-in: {:?}",
        r.headers
    );
    let value = other.cookies["edgeauth_session"].clone();
    let v = verify_with_cookie(&s, &value).await;
    assert_eq!(v.status, 200, "{}", v.text);
    let amr = v.header("x-auth-amr").unwrap();
    assert!(amr.contains("hwk") && amr.contains("mfa"), "{amr}");
    let v = s
        .send(
            s.http
                .get(s.url("/auth/verify?mfa=1"))
                .header(reqwest::header::COOKIE, format!("edgeauth_session={value}")),
        )
        .await;
    assert_eq!(v.status, 200, "the MFA-only check: {}", v.text);

    // The same answer again: the challenge is spent; one generic text.
    let mut third = Browser::new(&s);
    third.get("/auth/ui/login").await;
    let r = third
        .post(
            "/auth/ui/login/passkey",
            &[
                ("challenge_id", &challenge),
                ("credential", &assertion),
                ("rd", ""),
            ],
        )
        .await;
    assert_page(&r, 401, "Sign in");
    assert_eq!(
        error_text(&r.text).as_deref(),
        Some("That passkey could not sign you in.")
    );
    assert!(!third.cookies.contains_key("edgeauth_session"));

    // The account page now says when it was last used; then remove it.
    let r = other.get("/auth/ui/account").await;
    assert_page(&r, 200, "Your account");
    assert!(!r.text.contains("Not used yet"), "{}", r.text);
    let r = other
        .post("/auth/ui/account/passkeys/remove", &[("id", &key.id())])
        .await;
    assert_eq!(location(&r), "/auth/ui/account?notice=passkey_removed");
    let r = other.get("/auth/ui/account?notice=passkey_removed").await;
    assert_eq!(notice_text(&r.text).as_deref(), Some("Passkey removed."));
    assert!(r.text.contains("You have no passkeys yet."));
    assert_eq!(s.redis.events_of("passkey.removed").len(), 1);
}
