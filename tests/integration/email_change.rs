//! The verified email change (README, "Account self-service"; ARCHITECTURE.md, "Email change"): request with a
//! Bearer token, ticket from the events stream, confirm without one. End to
//! end, every error code, and the races: two accounts for one address (20
//! concurrent confirms, exactly one wins) and a registration against a change
//! of the same address (exactly one owner, never two accounts reachable).

use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{PASSWORD, Reply, TestServer, now_ms};

const UNKNOWN_TICKET: &str = "8d1c1c1e-6f0a-4f57-9b59-3d1f0c6c1a11";

async fn request(s: &TestServer, jwt: &str, new_email: &str) -> Reply {
    s.post_bearer(
        "/auth/account/email/request",
        jwt,
        json!({ "new_email": new_email }),
    )
    .await
}

async fn confirm(s: &TestServer, ticket: &str) -> Reply {
    s.post("/auth/account/email", json!({ "ticket": ticket }))
        .await
}

async fn login(s: &TestServer, email: &str) -> u16 {
    s.post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await
        .status
}

/// Signs in `old` and asks to move it to `new`; returns (jwt, ticket).
async fn requested(s: &TestServer, old: &str, new: &str) -> (String, String) {
    let (jwt, _) = s.signed_in(old).await;
    let r = request(s, &jwt, new).await;
    assert_eq!(r.status, 204, "{}", r.text);
    (jwt, s.redis.ticket("email.change_requested", new))
}

/// The account id of `email`, from its `account.registered` event.
fn user_of(s: &TestServer, email: &str) -> String {
    s.redis
        .events_of("account.registered")
        .into_iter()
        .find(|e| e["email"] == email)
        .map(|e| e["user_id"].clone())
        .unwrap_or_else(|| panic!("no account.registered for {email}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn change_end_to_end() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("old@example.com").await;
    let user = user_of(&s, "old@example.com");
    let before = now_ms();
    // Normalized like every email.
    let r = request(&s, &jwt, "  New@Example.COM ").await;
    assert_eq!(r.status, 204, "{}", r.text);
    let events = s.redis.events_of("email.change_requested");
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["email"], "new@example.com", "sent to the new address");
    assert_eq!(e["user_id"], user);
    let ticket = e["ticket"].clone();
    uuid::Uuid::parse_str(&ticket).unwrap();
    let expires_at: u64 = e["expires_at"].parse().unwrap();
    // Default TTL 1 h.
    assert!(expires_at >= before + 3_590_000 && expires_at <= before + 3_700_000);
    // Nothing moved yet.
    assert_eq!(login(&s, "old@example.com").await, 200);
    assert_eq!(login(&s, "new@example.com").await, 401);

    let r = confirm(&s, &ticket).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(r.text, "");
    let changed = s.redis.events_of("email.changed");
    let to: Vec<&str> = changed.iter().map(|e| e["email"].as_str()).collect();
    assert_eq!(
        to,
        ["new@example.com", "old@example.com"],
        "the old address is told too"
    );
    assert!(changed.iter().all(|e| e["user_id"] == user));

    assert_eq!(login(&s, "new@example.com").await, 200);
    let r = s
        .post(
            "/auth/login",
            json!({"email": "old@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!((r.status, r.error()), (401, "invalid_credentials".into()));
    // The session survives the change.
    assert_eq!(s.verify(&jwt).await.status, 200);

    // The old address is free for a new registration ...
    s.create_account("old@example.com").await;
    assert_eq!(login(&s, "old@example.com").await, 200);
    assert!(s.redis.events_of("account.exists").is_empty());
    // ... and the new one is taken.
    let r = s
        .post(
            "/auth/register",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204);
    let exists = s.redis.events_of("account.exists");
    assert_eq!(exists.len(), 1);
    assert_eq!(exists[0]["user_id"], user);

    // Single use.
    let r = confirm(&s, &ticket).await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors() {
    let s = TestServer::start().await;
    let (jwt, _) = s.signed_in("me@example.com").await;
    for bad in ["no-at-sign", "a@nodot", "@example.com", ""] {
        let r = request(&s, &jwt, bad).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_email".into()),
            "{bad:?}"
        );
    }
    let r = s
        .post_bearer(
            "/auth/account/email/request",
            &jwt,
            json!({"email": "x@example.com"}),
        )
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_request".into()));
    let r = s
        .post_bearer("/auth/account/email/request", &jwt, json!({"new_email": 5}))
        .await;
    assert_eq!((r.status, r.error()), (400, "invalid_request".into()));

    let r = s
        .post(
            "/auth/account/email/request",
            json!({"new_email": "x@example.com"}),
        )
        .await;
    assert_eq!((r.status, r.error()), (401, "invalid_token".into()));
    assert!(r.header("www-authenticate").is_some());
    let r = request(&s, "not.a.jwt", "x@example.com").await;
    assert_eq!((r.status, r.error()), (401, "invalid_token".into()));
    assert!(s.redis.events_of("email.change_requested").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_address_answers_the_same_and_the_confirm_is_409() {
    let s = TestServer::start().await;
    s.create_account("taken@example.com").await;
    let (_, ticket) = requested(&s, "me@example.com", "taken@example.com").await;
    // Same answer and the same event as for a free address (no enumeration).
    let events = s.redis.events_of("email.change_requested");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["user_id"], user_of(&s, "me@example.com"));

    let r = confirm(&s, &ticket).await;
    assert_eq!((r.status, r.error()), (409, "email_taken".into()));
    assert!(s.redis.events_of("email.changed").is_empty());
    assert_eq!(login(&s, "me@example.com").await, 200);
    assert_eq!(
        login(&s, "taken@example.com").await,
        200,
        "the owner is untouched"
    );

    // The address frees up while the ticket lives: the same ticket now works.
    let (other, _) = s.login("taken@example.com").await;
    let r = s
        .post_bearer("/auth/account/remove", &other, json!({}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = confirm(&s, &ticket).await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(login(&s, "taken@example.com").await, 200);
    assert_eq!(login(&s, "me@example.com").await, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirm_errors() {
    let s = TestServer::with(&[("EDGEAUTH_EMAIL_TICKET_TTL", "1s")]).await;
    for bad in ["not-a-uuid", "", "8d1c1c1e6f0a4f579b593d1f0c6c1a11x"] {
        let r = confirm(&s, bad).await;
        assert_eq!(
            (r.status, r.error()),
            (400, "invalid_request".into()),
            "{bad:?}"
        );
    }
    let r = s.post("/auth/account/email", json!({"ticket": 7})).await;
    assert_eq!((r.status, r.error()), (400, "invalid_request".into()));
    let r = confirm(&s, UNKNOWN_TICKET).await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));

    // Another purpose: refused, and not burned for its own endpoint.
    let r = s
        .post(
            "/auth/register",
            json!({"email": "fresh@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204);
    let activation = s.redis.ticket("account.registered", "fresh@example.com");
    let r = confirm(&s, &activation).await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    let r = s
        .post("/auth/account/activate", json!({ "ticket": activation }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);

    // Expired.
    let (_, ticket) = requested(&s, "me@example.com", "later@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    let r = confirm(&s, &ticket).await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    assert_eq!(login(&s, "me@example.com").await, 200);

    // Outlived by another change of the same account.
    let (jwt, _) = s.login("me@example.com").await;
    let r = request(&s, &jwt, "one@example.com").await;
    assert_eq!(r.status, 204);
    let one = s.redis.ticket("email.change_requested", "one@example.com");
    let r = request(&s, &jwt, "two@example.com").await;
    assert_eq!(r.status, 204);
    let two = s.redis.ticket("email.change_requested", "two@example.com");
    assert_eq!(confirm(&s, &two).await.status, 204);
    let r = confirm(&s, &one).await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    assert_eq!(login(&s, "two@example.com").await, 200);
    assert_eq!(login(&s, "one@example.com").await, 401);

    // The account is gone.
    let (jwt, ticket) = requested(&s, "gone@example.com", "elsewhere@example.com").await;
    assert_eq!(
        s.post_bearer("/auth/account/remove", &jwt, json!({}))
            .await
            .status,
        204
    );
    let r = confirm(&s, &ticket).await;
    assert_eq!((r.status, r.error()), (401, "invalid_ticket".into()));
    // Nothing left naming it: both addresses register afresh.
    s.create_account("gone@example.com").await;
    s.create_account("elsewhere@example.com").await;
}

/// Two accounts want one address; 20 confirms at once (10 per ticket):
/// exactly one succeeds, the other account's all say 409, and each account
/// logs in by exactly its own address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_racing_for_one_address() {
    let s = TestServer::start().await;
    let (_, ta) = requested(&s, "a@example.com", "prize@example.com").await;
    let (_, tb) = requested(&s, "b@example.com", "prize@example.com").await;
    assert_ne!(ta, tb);
    let mut set = JoinSet::new();
    for i in 0..20 {
        let url = s.url("/auth/account/email");
        let http = s.http.clone();
        let (who, ticket) = if i % 2 == 0 {
            ("a", ta.clone())
        } else {
            ("b", tb.clone())
        };
        set.spawn(async move {
            let r = http
                .post(url)
                .json(&json!({ "ticket": ticket }))
                .send()
                .await
                .unwrap();
            (who, Reply::read(r).await)
        });
    }
    let mut results = Vec::new();
    while let Some(r) = set.join_next().await {
        let (who, reply) = r.unwrap();
        let code = if reply.status == 204 {
            String::new()
        } else {
            reply.error()
        };
        results.push((who, reply.status, code));
    }
    let winners: Vec<&str> = results
        .iter()
        .filter(|(_, status, _)| *status == 204)
        .map(|(who, _, _)| *who)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let (winner, loser) = if winners[0] == "a" {
        ("a", "b")
    } else {
        ("b", "a")
    };
    for (who, status, code) in &results {
        match *status {
            204 => {}
            // The winner's other confirms find the ticket spent; the loser's find the address taken.
            401 => assert_eq!(
                (*who, code.as_str()),
                (winner, "invalid_ticket"),
                "{results:?}"
            ),
            409 => assert_eq!((*who, code.as_str()), (loser, "email_taken"), "{results:?}"),
            _ => panic!("{results:?}"),
        }
    }
    assert_eq!(login(&s, "prize@example.com").await, 200);
    assert_eq!(login(&s, &format!("{winner}@example.com")).await, 401);
    assert_eq!(login(&s, &format!("{loser}@example.com")).await, 200);
    assert_eq!(
        s.redis.events_of("email.changed").len(),
        2,
        "one change, told twice"
    );
    // The winner's old address is free, the prize is not.
    s.create_account(&format!("{winner}@example.com")).await;
    assert_eq!(s.redis.events_of("account.exists").len(), 0);
}

/// A registration and an email change for the same address, concurrently,
/// many rounds: exactly one gets it, and only that account logs in by it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_racing_an_email_change() {
    let s = TestServer::start().await;
    let (mut changes, mut registrations) = (0, 0);
    for round in 0..25 {
        let old = format!("old{round}@example.com");
        let target = format!("target{round}@example.com");
        let (_, ticket) = requested(&s, &old, &target).await;
        let user = user_of(&s, &old);

        let (http, confirm_url, register_url) = (
            s.http.clone(),
            s.url("/auth/account/email"),
            s.url("/auth/register"),
        );
        // Staggered a little, so both orders happen (registration hashes first).
        let stagger = std::time::Duration::from_millis(round % 4);
        let change = tokio::spawn({
            let http = http.clone();
            async move {
                tokio::time::sleep(stagger).await;
                let r = http
                    .post(confirm_url)
                    .json(&json!({ "ticket": ticket }))
                    .send()
                    .await
                    .unwrap();
                Reply::read(r).await
            }
        });
        let registration = tokio::spawn({
            let target = target.clone();
            async move {
                let r = http
                    .post(register_url)
                    .json(&json!({"email": target, "password": "another password"}))
                    .send()
                    .await
                    .unwrap();
                Reply::read(r).await
            }
        });
        let change = change.await.unwrap();
        let registration = registration.await.unwrap();
        assert_eq!(registration.status, 204, "{}", registration.text);

        let registered = s
            .redis
            .events_of("account.registered")
            .into_iter()
            .any(|e| e["email"] == target);
        let exists = s
            .redis
            .events_of("account.exists")
            .into_iter()
            .filter(|e| e["email"] == target)
            .collect::<Vec<_>>();
        // Who can log in by the address: the changed account (our password)
        // or the registered one (activated first; its own password).
        if change.status == 204 {
            changes += 1;
            assert!(!registered, "round {round}: both got {target}");
            assert_eq!(exists.len(), 1, "round {round}");
            assert_eq!(exists[0]["user_id"], user);
            assert_eq!(login(&s, &target).await, 200);
            assert_eq!(login(&s, &old).await, 401);
        } else {
            registrations += 1;
            assert_eq!(
                (change.status, change.error()),
                (409, "email_taken".into()),
                "round {round}"
            );
            assert!(registered, "round {round}: nobody got {target}");
            assert!(exists.is_empty(), "round {round}");
            assert_eq!(login(&s, &old).await, 200);
            let activation = s.redis.ticket("account.registered", &target);
            assert_eq!(
                s.post("/auth/account/activate", json!({ "ticket": activation }))
                    .await
                    .status,
                204
            );
            let r = s
                .post(
                    "/auth/login",
                    json!({"email": target, "password": "another password"}),
                )
                .await;
            assert_eq!(r.status, 200, "round {round}: {}", r.text);
            // Our account's password does not open it: it is someone else's.
            assert_eq!(login(&s, &target).await, 401);
        }
    }
    eprintln!("change won {changes}, registration won {registrations}");
}
