//! Tickets, the ticket-request endpoints and the event streams, hardened:
//! nothing in Redis but the events stream holds a live ticket (a read of
//! Redis yields none to spend); reset tickets die with an email change, a
//! newer reset request, a password change, and their first use; per-email
//! limits on reset and activation mails (silent past the limit); the same
//! Redis work for known and unknown emails on the request endpoints and on
//! registration; failed sign-ins in a stream of their own, so a flood of them
//! never trims a mail; and the Redis ACL the README gives a mailer and
//! edgeauth.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::support::keys::{command_calls, reset_stats};
use crate::support::totp::{code, secret_key, step_now};
use crate::support::{PASSWORD, Redis, Reply, TestServer, contains_bytes};

const NEW_PASSWORD: &str = "another horse battery";

// ------------------------------------------------------------------ helpers

/// Signs `email` in and turns MFA on (enabled with the code of the current
/// step); returns the TOTP key. Later codes use later steps (the replay guard
/// refuses a step that is not newer).
async fn with_mfa(s: &TestServer, email: &str) -> Vec<u8> {
    let (jwt, _) = s.signed_in(email).await;
    let key = secret_key(&s.mfa_generate(&jwt).await);
    s.enable_mfa_with(&jwt, &code(&key, step_now())).await;
    key
}

async fn login_status(s: &TestServer, email: &str, password: &str) -> u16 {
    s.post("/auth/login", json!({"email": email, "password": password}))
        .await
        .status
}

#[track_caller]
fn assert_invalid_ticket(r: &Reply, what: &str) {
    assert_eq!(r.status, 401, "{what}: {}", r.text);
    assert_eq!(r.error(), "invalid_ticket", "{what}");
}

/// The reset tickets mailed to `email`, oldest first.
fn reset_tickets(s: &TestServer, email: &str) -> Vec<String> {
    s.redis
        .events_of("password.reset_requested")
        .into_iter()
        .filter(|e| e["email"] == email)
        .map(|e| e["ticket"].clone())
        .collect()
}

/// POST with an `X-Forwarded-For` (the test server trusts 127.0.0.1).
async fn post_from(s: &TestServer, path: &str, body: Value, xff: &str) -> Reply {
    s.send(
        s.http
            .post(s.url(path))
            .header("x-forwarded-for", xff)
            .json(&body),
    )
    .await
}

// ------------------------------------------------ no usable ticket in Redis

/// Every spelling a ticket could be stored in.
fn spellings(ticket: &str) -> Vec<Vec<u8>> {
    let uuid = Uuid::parse_str(ticket).expect("ticket is a UUID");
    let hyphenated = uuid.hyphenated().to_string();
    let simple = uuid.simple().to_string();
    vec![
        hyphenated.clone().into_bytes(),
        hyphenated.to_uppercase().into_bytes(),
        simple.clone().into_bytes(),
        simple.to_uppercase().into_bytes(),
        uuid.as_bytes().to_vec(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_live_ticket_can_be_read_from_redis() {
    let s = TestServer::start().await;
    // One live ticket of every kind.
    let inactive = "inactive@example.com";
    let r = s
        .post(
            "/auth/register",
            json!({"email": inactive, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let activation = s.redis.ticket("account.registered", inactive);

    let forgetful = "forgetful@example.com";
    s.create_account(forgetful).await;
    assert_eq!(s.forgot_request(forgetful).await.status, 204);
    let reset_ticket = s.redis.ticket("password.reset_requested", forgetful);

    let moving = "moving@example.com";
    let (jwt, _) = s.signed_in(moving).await;
    let r = s
        .post_bearer(
            "/auth/account/email/request",
            &jwt,
            json!({ "new_email": "moved@example.com" }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let email_ticket = s
        .redis
        .ticket("email.change_requested", "moved@example.com");

    let careful = "careful@example.com";
    let key = with_mfa(&s, careful).await;
    let mfa_ticket = s.mfa_login_ticket(careful, PASSWORD).await;

    // Everything Redis holds but the events stream (which carries tickets
    // to the mailer by design): no live ticket in any spelling.
    let contents = s.redis.contents_except(&["edgeauth:events"]);
    let text = String::from_utf8_lossy(&contents).into_owned();
    assert!(
        text.contains("edgeauth:ticket:") && text.contains(":account"),
        "the dump holds the ticket pointers and accounts: {text}"
    );
    let events = s.redis.contents_except(&[]);
    for (kind, ticket) in [
        ("activation", &activation),
        ("reset", &reset_ticket),
        ("email change", &email_ticket),
        ("MFA login", &mfa_ticket),
    ] {
        for spelling in spellings(ticket) {
            assert!(
                !contains_bytes(&contents, &spelling),
                "the {kind} ticket {ticket} is readable in Redis ({:?}):\n{text}",
                String::from_utf8_lossy(&spelling)
            );
        }
        // The mailer still gets the mailed ones (an MFA login ticket goes
        // back in the login response only).
        assert_eq!(
            contains_bytes(&events, ticket.as_bytes()),
            kind != "MFA login",
            "{kind}: in the events stream?"
        );
    }

    // And each still works.
    let r = s
        .post("/auth/account/activate", json!({ "ticket": activation }))
        .await;
    assert_eq!(r.status, 204, "activation: {}", r.text);
    assert_eq!(login_status(&s, inactive, PASSWORD).await, 200);
    let r = s.reset_password(&reset_ticket, NEW_PASSWORD).await;
    assert_eq!(r.status, 204, "reset: {}", r.text);
    assert_eq!(login_status(&s, forgetful, NEW_PASSWORD).await, 200);
    let r = s
        .post("/auth/account/email", json!({ "ticket": email_ticket }))
        .await;
    assert_eq!(r.status, 204, "email change: {}", r.text);
    assert_eq!(login_status(&s, "moved@example.com", PASSWORD).await, 200);
    let r = s
        .post(
            "/auth/mfa/totp",
            json!({ "ticket": mfa_ticket, "code": code(&key, step_now() + 1) }),
        )
        .await;
    assert_eq!(r.status, 200, "MFA step: {}", r.text);
}

// ------------------------------------- reset tickets outlive nothing they were for

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_ticket_dies_with_an_email_change() {
    let s = TestServer::start().await;
    let (old, new) = ("mailbox@example.com", "new-mailbox@example.com");
    let (jwt, _) = s.signed_in(old).await;
    // A reset mailed to the old address (say, a mailbox the user is leaving).
    assert_eq!(s.forgot_request(old).await.status, 204);
    let stale = s.redis.ticket("password.reset_requested", old);
    // The real email change.
    let r = s
        .post_bearer(
            "/auth/account/email/request",
            &jwt,
            json!({ "new_email": new }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let ticket = s.redis.ticket("email.change_requested", new);
    let r = s
        .post("/auth/account/email", json!({ "ticket": ticket }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    // Whoever reads the old mailbox can no longer take the account.
    assert_invalid_ticket(
        &s.reset_password(&stale, NEW_PASSWORD).await,
        "reset ticket of the old address",
    );
    assert_eq!(login_status(&s, new, PASSWORD).await, 200);
    assert_eq!(login_status(&s, new, NEW_PASSWORD).await, 401);
    // A reset asked for the new address works.
    assert_eq!(s.forgot_request(new).await.status, 204);
    let fresh = s.redis.ticket("password.reset_requested", new);
    assert_eq!(s.reset_password(&fresh, NEW_PASSWORD).await.status, 204);
    assert_eq!(login_status(&s, new, NEW_PASSWORD).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_reset_request_retires_the_older_ticket() {
    let s = TestServer::start().await;
    let email = "twice@example.com";
    s.create_account(email).await;
    assert_eq!(s.forgot_request(email).await.status, 204);
    assert_eq!(s.forgot_request(email).await.status, 204);
    let tickets = reset_tickets(&s, email);
    assert_eq!(tickets.len(), 2, "{tickets:?}");
    assert_invalid_ticket(
        &s.reset_password(&tickets[0], NEW_PASSWORD).await,
        "the older reset ticket",
    );
    assert_eq!(login_status(&s, email, PASSWORD).await, 200);
    let r = s.reset_password(&tickets[1], NEW_PASSWORD).await;
    assert_eq!(r.status, 204, "the newest: {}", r.text);
    assert_eq!(login_status(&s, email, NEW_PASSWORD).await, 200);
    assert_invalid_ticket(
        &s.reset_password(&tickets[0], "yet another password").await,
        "the older one after the newest was spent",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_kills_outstanding_reset_tickets() {
    let s = TestServer::start().await;
    let email = "changer@example.com";
    let (jwt, _) = s.signed_in(email).await;
    // Requested earlier (by an attacker reading the mailbox, or forgotten).
    assert_eq!(s.forgot_request(email).await.status, 204);
    let ticket = s.redis.ticket("password.reset_requested", email);
    let r = s
        .post_bearer(
            "/auth/account/password",
            &jwt,
            json!({"old_password": PASSWORD, "new_password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "password change: {}", r.text);
    // The change bumped the account's credential version, which the ticket
    // was bound to.
    assert_invalid_ticket(
        &s.reset_password(&ticket, "attacker chosen password").await,
        "reset ticket issued before the password change",
    );
    assert_eq!(login_status(&s, email, NEW_PASSWORD).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_ticket_works_exactly_once() {
    let s = TestServer::start().await;
    let email = "once@example.com";
    s.create_account(email).await;
    assert_eq!(s.forgot_request(email).await.status, 204);
    let ticket = s.redis.ticket("password.reset_requested", email);
    let mut set = JoinSet::new();
    for i in 0..12 {
        let (http, url, ticket) = (
            s.http.clone(),
            s.url("/auth/account/forgot"),
            ticket.clone(),
        );
        set.spawn(async move {
            let body = json!({ "ticket": ticket, "new_password": format!("password number {i}") });
            let response = http.post(url).json(&body).send().await.expect("request");
            (i, Reply::read(response).await)
        });
    }
    let mut winners = Vec::new();
    while let Some(joined) = set.join_next().await {
        let (i, r) = joined.expect("task");
        match r.status {
            204 => winners.push(i),
            _ => assert_invalid_ticket(&r, "a concurrent second use"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    let password = format!("password number {}", winners[0]);
    assert_eq!(login_status(&s, email, &password).await, 200);
    assert_invalid_ticket(
        &s.reset_password(&ticket, NEW_PASSWORD).await,
        "a later use",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_ends_mfa_login_tickets_issued_with_the_old_password() {
    let s = TestServer::start().await;
    let email = "mfa-reset@example.com";
    let key = with_mfa(&s, email).await;
    // Someone who knows the old password holds a login ticket...
    let held = s.mfa_login_ticket(email, PASSWORD).await;
    // ...when the owner resets it.
    assert_eq!(s.forgot_request(email).await.status, 204);
    let ticket = s.redis.ticket("password.reset_requested", email);
    assert_eq!(s.reset_password(&ticket, NEW_PASSWORD).await.status, 204);
    let r = s
        .post(
            "/auth/mfa/totp",
            json!({ "ticket": held, "code": code(&key, step_now() + 1) }),
        )
        .await;
    assert_invalid_ticket(&r, "MFA login ticket issued before the reset");
    // The new password leads to a ticket that works.
    let fresh = s.mfa_login_ticket(email, NEW_PASSWORD).await;
    let r = s
        .post(
            "/auth/mfa/totp",
            json!({ "ticket": fresh, "code": code(&key, step_now() + 1) }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
}

// ------------------------------------------------------- per-email limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_mails_per_address_are_capped_whatever_the_ip() {
    let s = TestServer::with(&[
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("EDGEAUTH_RATE_FORGOT_REQUEST_PER_EMAIL", "3/1h"),
    ])
    .await;
    let email = "victim@example.com";
    s.create_account(email).await;
    // From rotating addresses: every answer is 204, as for an unknown email.
    for i in 0..20 {
        for who in [email, "nobody@example.com"] {
            let ip = format!("198.51.100.{i}");
            let r = post_from(
                &s,
                "/auth/account/forgot/request",
                json!({ "email": who }),
                &ip,
            )
            .await;
            assert_eq!(r.status, 204, "request #{i} for {who}: {}", r.text);
        }
    }
    let mails = s.redis.events_of("password.reset_requested");
    assert_eq!(mails.len(), 3, "{mails:?}");
    assert!(mails.iter().all(|e| e["email"] == email));
    // The newest of them is a working ticket.
    let r = s
        .reset_password(&reset_tickets(&s, email)[2], NEW_PASSWORD)
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activation_mails_per_address_are_capped_whatever_the_ip() {
    let s = TestServer::with(&[
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_EMAIL", "3/1h"),
    ])
    .await;
    let email = "pending@example.com";
    let r = s
        .post(
            "/auth/register",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    for i in 0..20 {
        for who in [email, "nobody@example.com"] {
            let ip = format!("203.0.113.{i}");
            let r = post_from(
                &s,
                "/auth/account/activate/request",
                json!({ "email": who }),
                &ip,
            )
            .await;
            assert_eq!(r.status, 204, "request #{i} for {who}: {}", r.text);
        }
    }
    let mails = s.redis.events_of("account.activation_requested");
    assert_eq!(mails.len(), 3, "{mails:?}");
    assert!(mails.iter().all(|e| e["email"] == email));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_ip_limit_still_answers_429() {
    let s = TestServer::with(&[
        ("EDGEAUTH_RATE_FORGOT_REQUEST_PER_IP", "2/1h"),
        ("EDGEAUTH_RATE_FORGOT_REQUEST_PER_EMAIL", "1/1h"),
    ])
    .await;
    let email = "limited@example.com";
    s.create_account(email).await;
    // Past the per-email limit: silent (204, no mail).
    assert_eq!(s.forgot_request(email).await.status, 204);
    assert_eq!(s.forgot_request(email).await.status, 204);
    assert_eq!(reset_tickets(&s, email).len(), 1);
    // Past the per-IP limit: 429, as before.
    let r = s.forgot_request("other@example.com").await;
    assert_eq!(r.status, 429, "{}", r.text);
    assert_eq!(r.error(), "rate_limited");
}

// -------------------------------------------------------------- equal work

/// The Redis commands (top-level and inside scripts) one request runs.
async fn work_of(
    s: &TestServer,
    conn: &mut redis::Connection,
    path: &str,
    body: Value,
) -> BTreeMap<String, u64> {
    reset_stats(conn);
    let r = s.post(path, body).await;
    let calls = command_calls(conn);
    assert_eq!(r.status, 204, "{path}: {}", r.text);
    calls
}

#[track_caller]
fn assert_same_work(what: &str, a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) {
    let differing: Vec<String> = a
        .keys()
        .chain(b.keys())
        .filter(|name| a.get(*name) != b.get(*name))
        .map(|name| format!("{name}: {:?} vs {:?}", a.get(name), b.get(name)))
        .collect();
    assert!(
        differing.is_empty(),
        "{what}: Redis commands differ: {differing:?}\n{a:?}\n{b:?}"
    );
    assert!(a.contains_key("evalsha"), "{what}: no script ran: {a:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_requests_do_the_same_work_for_every_kind_of_email() {
    // Reads one node's command statistics: a single node in every mode.
    let s = TestServer::with_redis(Redis::start(), &[]).await;
    let (active, inactive, unknown) = (
        "active@example.com",
        "inactive@example.com",
        "unknown@example.com",
    );
    for email in [active, "warm@example.com"] {
        s.create_account(email).await;
    }
    let r = s
        .post(
            "/auth/register",
            json!({"email": inactive, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let mut conn = s.redis.conn();
    // Warm up (scripts loaded, connections open) on other emails, so the
    // compared ones are in the same state: no request counted yet.
    for path in [
        "/auth/account/forgot/request",
        "/auth/account/activate/request",
    ] {
        for email in ["warm@example.com", "warm-unknown@example.com"] {
            assert_eq!(s.post(path, json!({ "email": email })).await.status, 204);
        }
    }
    // Round 0 creates each email's per-address counter, rounds 1 and 2 count
    // on it; all within the per-address limit, so the known ones get mail.
    let before = s.redis.events().len();
    for round in 0..3 {
        let path = "/auth/account/forgot/request";
        let known = work_of(&s, &mut conn, path, json!({ "email": inactive })).await;
        let nobody = work_of(&s, &mut conn, path, json!({ "email": unknown })).await;
        assert_same_work(&format!("forgot/request, round {round}"), &known, &nobody);

        let path = "/auth/account/activate/request";
        let mailed = work_of(&s, &mut conn, path, json!({ "email": inactive })).await;
        let done = work_of(&s, &mut conn, path, json!({ "email": active })).await;
        let nobody = work_of(&s, &mut conn, path, json!({ "email": unknown })).await;
        let what = format!("activate/request, round {round}");
        assert_same_work(&format!("{what}, inactive vs active"), &mailed, &done);
        assert_same_work(&format!("{what}, inactive vs unknown"), &mailed, &nobody);
    }
    // Mail went out exactly for the requests that were meant to send it.
    let kinds: Vec<(String, String)> = s.redis.events()[before..]
        .iter()
        .map(|e| (e["type"].clone(), e["email"].clone()))
        .collect();
    let reset = ("password.reset_requested".to_owned(), inactive.to_owned());
    let activation = (
        "account.activation_requested".to_owned(),
        inactive.to_owned(),
    );
    let expected: Vec<(String, String)> = (0..3)
        .flat_map(|_| [reset.clone(), activation.clone()])
        .collect();
    assert_eq!(kinds, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_does_the_same_work_for_a_free_and_a_taken_email() {
    let s = TestServer::with_redis(Redis::start(), &[]).await;
    let taken = "taken@example.com";
    s.create_account(taken).await;
    let mut conn = s.redis.conn();
    let register = |email: &str| json!({"email": email, "password": PASSWORD});
    // Warm up both paths.
    for email in ["warm@example.com", taken] {
        assert_eq!(s.post("/auth/register", register(email)).await.status, 204);
    }
    for round in 0..3 {
        let free = format!("free-{round}@example.com");
        let new = work_of(&s, &mut conn, "/auth/register", register(&free)).await;
        let exists = work_of(&s, &mut conn, "/auth/register", register(taken)).await;
        assert_same_work(&format!("register, round {round}"), &new, &exists);
        assert_eq!(
            s.redis.events_of("account.registered").last().unwrap()["email"],
            free
        );
    }
    assert_eq!(s.redis.events_of("account.exists").len(), 4);
    // Nothing of the refused registrations stayed behind.
    let accounts: Vec<String> = redis::cmd("KEYS")
        .arg("edgeauth:*:account")
        .query(&mut conn)
        .unwrap();
    assert_eq!(accounts.len(), 5, "{accounts:?}");
}

// ------------------------------------------------------------ event streams

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_failed_logins_cannot_trim_a_reset_mail() {
    let s = TestServer::with(&[("EDGEAUTH_EVENTS_MAXLEN", "100")]).await;
    let email = "flooded@example.com";
    s.create_account(email).await;
    assert_eq!(s.forgot_request(email).await.status, 204);
    let ticket = s.redis.ticket("password.reset_requested", email);
    // Anyone can cause failed logins: six times the cap of each stream.
    let mut set = JoinSet::new();
    for i in 0..600 {
        let (http, url) = (s.http.clone(), s.url("/auth/login"));
        set.spawn(async move {
            let body =
                json!({"email": format!("flood-{}@example.com", i % 7), "password": "wrong guess"});
            http.post(url)
                .json(&body)
                .send()
                .await
                .expect("request")
                .status()
        });
        if set.len() >= 16 {
            assert_eq!(set.join_next().await.unwrap().unwrap(), 401);
        }
    }
    while let Some(status) = set.join_next().await {
        assert_eq!(status.unwrap(), 401);
    }
    let audit = s.redis.stream("edgeauth:events:audit");
    assert!(
        !audit.is_empty() && audit.len() < 600,
        "the audit stream is capped: {} entries",
        audit.len()
    );
    assert!(audit.iter().all(|(_, e)| e["type"] == "login.failed"));
    let mail = s.redis.stream("edgeauth:events");
    assert!(
        mail.iter().all(|(_, e)| e["type"] != "login.failed"),
        "failed logins in the mail stream"
    );
    assert!(
        mail.iter().any(|(_, e)| e.get("ticket") == Some(&ticket)),
        "the reset mail was trimmed"
    );
    let r = s.reset_password(&ticket, NEW_PASSWORD).await;
    assert_eq!(r.status, 204, "{}", r.text);
    // The events of both streams are still read as one, in order.
    assert!(s.redis.events_of("login.failed").len() >= 100);
}

// --------------------------------------------------------------- Redis ACL

/// The `user …` lines of the README's "Redis users" section.
fn readme_acl() -> Vec<String> {
    let readme = include_str!("../../README.md");
    let section = readme
        .split("## Redis users")
        .nth(1)
        .expect("README has a Redis users section");
    let section = section.split("\n## ").next().unwrap_or_default();
    section
        .lines()
        .filter(|l| l.starts_with("user "))
        .map(str::to_owned)
        .collect()
}

fn noperm<T: std::fmt::Debug>(result: redis::RedisResult<T>, what: &str) {
    let e = result.expect_err(&format!("{what} was allowed"));
    let text = e.to_string();
    assert!(
        text.to_uppercase().contains("NOPERM") || text.contains("can't access"),
        "{what}: not a permission error: {e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_acl_confines_edgeauth_and_the_mailer() {
    let acl = readme_acl();
    assert_eq!(acl.len(), 3, "{acl:?}");
    let dir = crate::support::TempDir::new();
    // The README's lines, with passwords filled in; `default` stays on for
    // the harness (its readiness check and this test's own look at Redis).
    let file: String = acl
        .iter()
        .map(|l| match l.as_str() {
            "user default off" => "user default on nopass ~* &* +@all".to_owned(),
            _ => l
                .replace(">EDGEAUTH_PASSWORD", ">edgeauth-secret")
                .replace(">MAILER_PASSWORD", ">mailer-secret"),
        })
        .map(|l| l + "\n")
        .collect();
    let path = dir.write("users.acl", &file);
    let redis = Redis::start_with(&["--aclfile", path.to_str().expect("path")]);
    let url = format!("redis://edgeauth:edgeauth-secret@127.0.0.1:{}", redis.port);
    let mailer_url = format!("redis://mailer:mailer-secret@127.0.0.1:{}", redis.port);
    let s = TestServer::with_redis(redis, &[("EDGEAUTH_REDIS_URL", &url)]).await;
    assert_eq!(s.get("/readyz").await.status, 200);

    // edgeauth's flows work under its user.
    let email = "acl@example.com";
    s.create_account(email).await;
    let r = s
        .post(
            "/auth/register",
            json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "taken: {}", r.text);
    for who in [email, "nobody@example.com"] {
        assert_eq!(s.forgot_request(who).await.status, 204);
    }
    let ticket = s.redis.ticket("password.reset_requested", email);
    assert_eq!(s.reset_password(&ticket, NEW_PASSWORD).await.status, 204);
    assert_eq!(login_status(&s, email, PASSWORD).await, 401);
    let r = s
        .post(
            "/auth/login",
            json!({"email": email, "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 200, "login: {}", r.text);
    let (jwt, refresh) = (r.jwt(), r.refresh_cookie().expect("refresh cookie"));
    assert_eq!(s.verify(&jwt).await.status, 200);
    assert_eq!(
        s.post_cookie("/auth/token/refresh", &refresh).await.status,
        200
    );
    // A Redis that lost its scripts (restart, failover): the fallback loads
    // them again under the same user.
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query(&mut s.redis.conn())
        .unwrap();
    assert_eq!(s.forgot_request(email).await.status, 204);
    assert_eq!(login_status(&s, email, "wrong password").await, 401);

    // ...and nothing past its prefix.
    let mut edgeauth = redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("other:key")
        .arg("1")
        .query(&mut s.redis.conn())
        .unwrap();
    noperm(
        redis::cmd("GET")
            .arg("other:key")
            .query::<Option<String>>(&mut edgeauth),
        "edgeauth reading another prefix",
    );
    noperm(
        redis::cmd("EVAL")
            .arg("return redis.call('GET', 'other:key')")
            .arg(0)
            .query::<Option<String>>(&mut edgeauth),
        "a script of edgeauth reading another prefix",
    );
    noperm(
        redis::cmd("KEYS")
            .arg("*")
            .query::<Vec<String>>(&mut edgeauth),
        "edgeauth KEYS",
    );
    noperm(
        redis::cmd("FLUSHALL").query::<()>(&mut edgeauth),
        "edgeauth FLUSHALL",
    );

    // The mailer reads and acknowledges the mail stream, and nothing else.
    let mut mailer = redis::Client::open(mailer_url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let _: () = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg("edgeauth:events")
        .arg("mailer")
        .arg("0")
        .query(&mut mailer)
        .expect("XGROUP CREATE");
    let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
        .arg("GROUP")
        .arg("mailer")
        .arg("mailer-1")
        .arg("COUNT")
        .arg(100)
        .arg("STREAMS")
        .arg("edgeauth:events")
        .arg(">")
        .query(&mut mailer)
        .expect("XREADGROUP");
    let entries = &reply.keys[0].ids;
    let tickets: Vec<String> = entries
        .iter()
        .filter_map(|e| e.get::<String>("ticket"))
        .collect();
    assert!(tickets.contains(&ticket), "{tickets:?}");
    let acked: i64 = redis::cmd("XACK")
        .arg("edgeauth:events")
        .arg("mailer")
        .arg(&entries[0].id)
        .query(&mut mailer)
        .expect("XACK");
    assert_eq!(acked, 1);
    let account_key: Vec<String> = redis::cmd("KEYS")
        .arg("edgeauth:*:account")
        .query(&mut s.redis.conn())
        .unwrap();
    noperm(
        redis::cmd("HGETALL")
            .arg(&account_key[0])
            .query::<Vec<String>>(&mut mailer),
        "mailer reading an account",
    );
    noperm(
        redis::cmd("GET")
            .arg("edgeauth:x")
            .query::<Option<String>>(&mut mailer),
        "mailer GET",
    );
    noperm(
        redis::cmd("SCAN")
            .arg(0)
            .query::<(String, Vec<String>)>(&mut mailer),
        "mailer SCAN",
    );
    noperm(
        redis::cmd("XRANGE")
            .arg("edgeauth:events:audit")
            .arg("-")
            .arg("+")
            .query::<redis::Value>(&mut mailer),
        "mailer reading the audit stream",
    );
    noperm(
        redis::cmd("XADD")
            .arg("edgeauth:events")
            .arg("*")
            .arg("type")
            .arg("forged")
            .query::<String>(&mut mailer),
        "mailer writing an event",
    );
}
