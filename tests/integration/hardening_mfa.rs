//! Second-factor guessing and data-key rotation, reproduced as attacks:
//! - one per-account budget of failed TOTP / recovery codes, shared by the
//!   login step, recover, enable, disable and recovery-codes, taken before a
//!   code is checked (so concurrent guesses cannot all pass) and given back
//!   for a right code; past it `429` even for a right code; `mfa.failed`
//!   events;
//! - TOTP secrets sealed under an old data key are sealed again under the
//!   current one on use and by `edgeauth rekey`, so the old key can go.
//!
//! Codes come from the tests' own RFC 6238 implementation (`support::totp`).

use std::process::Stdio;
use std::time::Duration;

use edgeauth::auth::data_keys::DataKeys;
use edgeauth::config::RedisTarget;
use serde_json::json;

use crate::support::jwt::sub;
use crate::support::totp::Authenticator;
use crate::support::{PASSWORD, Redis, Reply, TempDir, TestServer};

// ---------------------------------------------------------------- helpers

#[track_caller]
fn assert_error(r: &Reply, status: u16, code: &str, what: &str) {
    assert_eq!(
        r.status, status,
        "{what}: expected {status} {code}: {}",
        r.text
    );
    assert_eq!(r.error(), code, "{what}: {}", r.text);
}

/// `429 rate_limited` with a `Retry-After` of whole seconds within the window.
#[track_caller]
fn assert_limited(r: &Reply, window_secs: u64, what: &str) {
    crate::support::assert_limited(r, window_secs, what);
    assert!(r.set_cookie().is_none(), "{what}: no cookie on a 429");
}

#[track_caller]
fn assert_tokens(r: &Reply, what: &str) -> String {
    assert_eq!(r.status, 200, "{what}: {}", r.text);
    assert!(r.json().get("mfa").is_none(), "{what}: {}", r.text);
    r.jwt()
}

/// Generates a secret for a signed-in account (MFA stays off until enabled).
async fn generate(s: &TestServer, jwt: &str) -> Authenticator {
    Authenticator::new(&s.mfa_generate(jwt).await)
}

/// A signed-in account with MFA on: (jwt, account id, authenticator).
async fn with_mfa(s: &TestServer, email: &str) -> (String, String, Authenticator) {
    let (jwt, auth) = s.signed_in_with_mfa(email).await;
    let account = sub(&jwt);
    (jwt, account, auth)
}

fn pending_field(redis: &Redis, account: &str) -> Option<String> {
    redis::cmd("GET")
        .arg(format!("edgeauth:{{{account}}}:mfa_pending"))
        .query(&mut redis.conn())
        .expect("GET")
}

/// The `mfa.failed` events of `account`, checking that none carries a code.
fn failed_events(s: &TestServer, account: &str, codes: &[String]) -> usize {
    let events = s.redis.events_of("mfa.failed");
    for e in &events {
        assert!(
            !e.contains_key("code") && !e.contains_key("ticket"),
            "{e:?}"
        );
        for code in codes {
            assert!(e.values().all(|v| !v.contains(code.as_str())), "{e:?}");
        }
    }
    events
        .iter()
        .filter(|e| e.get("user_id").map(String::as_str) == Some(account))
        .count()
}

/// Sends every request at once; the replies in order.
async fn concurrently(requests: Vec<reqwest::RequestBuilder>) -> Vec<Reply> {
    let handles: Vec<_> = requests
        .into_iter()
        .map(|r| tokio::spawn(async move { Reply::read(r.send().await.expect("request")).await }))
        .collect();
    let mut replies = Vec::new();
    for h in handles {
        replies.push(h.await.expect("task"));
    }
    replies
}

fn statuses(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.status).collect()
}

// ---------------------------------------------------------------- the budget

/// The attack: a stolen Bearer token guessing codes to turn MFA off. Before
/// the budget every guess was a 401 forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_disable_codes_with_a_bearer_token_ends_in_429() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_MFA_PER_ACCOUNT", "5/15m")]).await;
    let (jwt, account, mut auth) = with_mfa(&s, "disable@example.com").await;
    let right = auth.fresh_lasting().await;
    let mut wrong = Vec::new();
    for i in 0..5 {
        let code = auth.wrong();
        let r = s
            .post_bearer("/auth/mfa/disable", &jwt, json!({ "code": code }))
            .await;
        assert_error(&r, 401, "invalid_code", &format!("guess {i}"));
        wrong.push(code);
    }
    for i in 0..3 {
        let r = s
            .post_bearer("/auth/mfa/disable", &jwt, json!({ "code": auth.wrong() }))
            .await;
        assert_limited(&r, 900, &format!("guess past the budget {i}"));
    }
    // The right code too: otherwise guessing would go on until it hit.
    let r = s
        .post_bearer("/auth/mfa/disable", &jwt, json!({ "code": right }))
        .await;
    assert_limited(&r, 900, "right code past the budget");
    assert!(
        s.redis.account_field(&account, "mfa").is_some(),
        "MFA stayed on"
    );
    assert_eq!(failed_events(&s, &account, &wrong), 5);
    // The login step shares the budget.
    let t = s.mfa_login_ticket("disable@example.com", PASSWORD).await;
    assert_limited(&s.mfa_totp(&t, &right).await, 900, "login step");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_recovery_codes_codes_with_a_bearer_token_ends_in_429() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_MFA_PER_ACCOUNT", "4/1h")]).await;
    let (jwt, account, mut auth) = with_mfa(&s, "codes@example.com").await;
    let right = auth.fresh_lasting().await;
    for i in 0..4 {
        let r = s
            .post_bearer(
                "/auth/mfa/recovery-codes",
                &jwt,
                json!({ "code": auth.wrong() }),
            )
            .await;
        assert_error(&r, 401, "invalid_code", &format!("guess {i}"));
    }
    let r = s
        .post_bearer("/auth/mfa/recovery-codes", &jwt, json!({ "code": right }))
        .await;
    assert_limited(&r, 3600, "right code past the budget");
    let recovery: u64 = redis::cmd("SCARD")
        .arg(format!("edgeauth:{{{account}}}:recovery"))
        .query(&mut s.redis.conn())
        .expect("SCARD");
    assert_eq!(recovery, 0, "no recovery codes were issued");
    assert_eq!(failed_events(&s, &account, &[]), 4);
}

/// The attack: the right password mints a fresh ticket each time, so the
/// per-ticket limit of 5 never stopped one wrong code per ticket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_wrong_code_per_fresh_login_ticket_ends_in_429() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_MFA_PER_ACCOUNT", "6/15m")]).await;
    let email = "tickets@example.com";
    let (jwt, account, mut auth) = with_mfa(&s, email).await;
    let recovery = s.recovery_codes(&jwt, &auth.fresh().await).await;
    let right = auth.fresh_lasting().await;
    for i in 0..6 {
        let t = s.mfa_login_ticket(email, PASSWORD).await;
        let r = if i % 2 == 0 {
            s.mfa_totp(&t, &auth.wrong()).await
        } else {
            s.mfa_recover(&t, "2222-3333-4444").await
        };
        assert_error(&r, 401, "invalid_code", &format!("ticket {i}"));
    }
    // The password still opens the first step; the second is closed.
    let t = s.mfa_login_ticket(email, PASSWORD).await;
    assert_limited(&s.mfa_totp(&t, &auth.wrong()).await, 900, "wrong code");
    assert_limited(&s.mfa_totp(&t, &right).await, 900, "right code");
    assert_limited(&s.mfa_recover(&t, &recovery[0]).await, 900, "recovery code");
    assert_eq!(failed_events(&s, &account, &[]), 6);
}

/// Every endpoint that takes a code draws on the one budget: enable,
/// disable, recovery-codes, the login step (also through the HBP route) and
/// recover.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_budget_is_shared_by_every_endpoint_that_takes_a_code() {
    let s = TestServer::with(&[
        ("EDGEAUTH_RATE_MFA_PER_ACCOUNT", "4/15m"),
        ("EDGEAUTH_HBP_COMPAT", "true"),
    ])
    .await;
    let email = "shared@example.com";
    let (jwt, account, mut auth) = with_mfa(&s, email).await;
    let right = auth.fresh_lasting().await;
    let wrong = auth.wrong();
    let r = s
        .post_bearer("/auth/mfa/disable", &jwt, json!({ "code": wrong }))
        .await;
    assert_error(&r, 401, "invalid_code", "disable");
    let r = s
        .post_bearer("/auth/mfa/recovery-codes", &jwt, json!({ "code": wrong }))
        .await;
    assert_error(&r, 401, "invalid_code", "recovery-codes");
    let t = s.mfa_login_ticket(email, PASSWORD).await;
    assert_error(&s.mfa_totp(&t, &wrong).await, 401, "invalid_code", "totp");
    assert_error(
        &s.mfa_recover(&t, "2222-3333-4444").await,
        401,
        "invalid_code",
        "recover",
    );
    for (path, body) in [
        ("/auth/mfa/disable", json!({ "code": right })),
        ("/auth/mfa/recovery-codes", json!({ "code": right })),
    ] {
        assert_limited(&s.post_bearer(path, &jwt, body).await, 900, path);
    }
    let r = s
        .post(
            "/auth/mfa/totp",
            json!({ "ticket": t, "code": right, "cookie": false }),
        )
        .await;
    assert_limited(&r, 900, "HBP totp");
    assert_eq!(failed_events(&s, &account, &[]), 4);

    // Enable: a pending secret guessed at.
    let (jwt2, _) = s.signed_in("enable@example.com").await;
    let account2 = sub(&jwt2);
    let mut auth2 = generate(&s, &jwt2).await;
    let right2 = auth2.fresh_lasting().await;
    for i in 0..4 {
        let r = s
            .post_bearer("/auth/mfa/enable", &jwt2, json!({ "code": auth2.wrong() }))
            .await;
        assert_error(&r, 401, "invalid_code", &format!("enable guess {i}"));
    }
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt2, json!({ "code": right2 }))
        .await;
    assert_limited(&r, 900, "enable with the right code");
    assert!(
        s.redis.account_field(&account2, "mfa").is_none(),
        "MFA stayed off"
    );
    assert_eq!(failed_events(&s, &account2, &[]), 4);
    // Budgets are per account: the first account's is untouched by these.
    assert_eq!(failed_events(&s, &account, &[]), 4);
}

/// The slot is taken before the code is checked: fifty guesses at once get
/// exactly the budget's worth of answers, on the Bearer endpoint and on the
/// login step (every live ticket of the account, five guesses each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_wrong_codes_get_only_the_budget_through() {
    const BUDGET: usize = 10;
    let s = TestServer::with(&[("EDGEAUTH_RATE_MFA_PER_ACCOUNT", "10/1h")]).await;
    let (jwt, account, auth) = with_mfa(&s, "burst@example.com").await;
    let requests = (0..50)
        .map(|_| {
            s.http
                .post(s.url("/auth/mfa/disable"))
                .bearer_auth(&jwt)
                .json(&json!({ "code": auth.wrong() }))
        })
        .collect();
    let replies = concurrently(requests).await;
    let guessed = replies.iter().filter(|r| r.status == 401).count();
    let limited = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        (guessed, limited),
        (BUDGET, 50 - BUDGET),
        "{:?}",
        statuses(&replies)
    );
    for r in &replies {
        if r.status == 429 {
            assert_limited(r, 3600, "burst");
        } else {
            assert_error(r, 401, "invalid_code", "burst");
        }
    }
    assert_eq!(failed_events(&s, &account, &[]), BUDGET);
    assert!(s.redis.account_field(&account, "mfa").is_some());

    // At the login step: the live tickets an account may hold at once
    // (the newest five), each guessed at five times — its own limit — at once.
    let email = "burst2@example.com";
    let (_, account2, auth2) = with_mfa(&s, email).await;
    let mut tickets = Vec::new();
    for _ in 0..5 {
        tickets.push(s.mfa_login_ticket(email, PASSWORD).await);
    }
    let requests = tickets
        .iter()
        .flat_map(|t| std::iter::repeat_n(t, 5))
        .map(|t| {
            s.http
                .post(s.url("/auth/mfa/totp"))
                .json(&json!({ "ticket": t, "code": auth2.wrong() }))
        })
        .collect();
    let replies = concurrently(requests).await;
    let guessed = replies.iter().filter(|r| r.status == 401).count();
    let limited = replies.iter().filter(|r| r.status == 429).count();
    assert_eq!(
        (guessed, limited),
        (BUDGET, 25 - BUDGET),
        "{:?}",
        statuses(&replies)
    );
    assert_eq!(failed_events(&s, &account2, &[]), BUDGET);
}

/// Right codes give their slot back: budget + 5 successful second factors in
/// a row (recovery codes and TOTP, the seed's login → totp flow included),
/// and the whole budget is still there for wrong codes afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn right_codes_do_not_use_up_the_budget() {
    let s = TestServer::with(&[("EDGEAUTH_RATE_MFA_PER_ACCOUNT", "3/15m")]).await;
    let email = "owner@example.com";
    let (jwt, account, mut auth) = with_mfa(&s, email).await;
    let recovery = s.recovery_codes(&jwt, &auth.fresh().await).await;
    for (i, code) in recovery.iter().take(3 + 5).enumerate() {
        let t = s.mfa_login_ticket(email, PASSWORD).await;
        assert_tokens(
            &s.mfa_recover(&t, code).await,
            &format!("recovery login {i}"),
        );
    }
    let t = s.mfa_login_ticket(email, PASSWORD).await;
    let jwt = assert_tokens(&s.mfa_totp(&t, &auth.fresh().await).await, "totp login");
    assert_eq!(failed_events(&s, &account, &[]), 0);
    for i in 0..3 {
        let r = s
            .post_bearer("/auth/mfa/disable", &jwt, json!({ "code": auth.wrong() }))
            .await;
        assert_error(&r, 401, "invalid_code", &format!("guess {i}"));
    }
    let r = s
        .post_bearer("/auth/mfa/disable", &jwt, json!({ "code": auth.wrong() }))
        .await;
    assert_limited(&r, 900, "past the budget");
}

// ---------------------------------------------------------------- data key rotation

/// Three data key files (A, B and an unrelated X) that outlive servers.
fn data_keys(dir: &TempDir) -> [String; 3] {
    ["a.key", "b.key", "x.key"].map(|name| {
        let key = edgeauth::auth::data_keys::generate_data_key_base64().expect("data key");
        dir.write(name, &key).display().to_string()
    })
}

/// Whether `sealed` (a TOTP secret of `account`) opens with the keys in `files` alone.
fn opens_with(files: &[&str], account: &str, sealed: &str) -> bool {
    let contents: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("key file"))
        .collect();
    DataKeys::from_files(&contents)
        .expect("data keys")
        .totp_sealer()
        .open(sealed, account.as_bytes())
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_step_reseals_a_secret_made_under_an_old_data_key() {
    let dir = TempDir::new();
    let [a, b, _] = data_keys(&dir);
    let email = "reseal@example.com";
    let s = TestServer::with(&[("EDGEAUTH_DATA_KEY_FILE", a.as_str())]).await;
    let (_, account, mut auth) = with_mfa(&s, email).await;
    let old = s
        .redis
        .account_field(&account, "mfa")
        .expect("sealed secret");
    assert!(opens_with(&[&a], &account, &old));
    assert!(!opens_with(&[&b], &account, &old));
    let redis = s.into_redis().await;

    let both = format!("{b},{a}");
    let s = TestServer::with_redis(redis, &[("EDGEAUTH_DATA_KEY_FILE", both.as_str())]).await;
    let t = s.mfa_login_ticket(email, PASSWORD).await;
    assert_tokens(
        &s.mfa_totp(&t, &auth.fresh().await).await,
        "login under [B, A]",
    );
    let new = s
        .redis
        .account_field(&account, "mfa")
        .expect("sealed secret");
    assert_ne!(new, old, "re-sealed on use");
    assert!(opens_with(&[&b], &account, &new), "B alone opens it");
    let redis = s.into_redis().await;

    // A is retired: B alone serves the account.
    let s = TestServer::with_redis(redis, &[("EDGEAUTH_DATA_KEY_FILE", b.as_str())]).await;
    let t = s.mfa_login_ticket(email, PASSWORD).await;
    assert_tokens(
        &s.mfa_totp(&t, &auth.fresh().await).await,
        "login under [B]",
    );
}

/// `edgeauth rekey` run as a process with the test server's settings and
/// `data_key_file`: (exit status, stdout, stderr).
async fn rekey_cli(s: &TestServer, data_key_file: &str) -> (Option<i32>, String, String) {
    let config = &s.app.config;
    let RedisTarget::Url(url) = &config.redis else {
        panic!("test servers have a Redis URL");
    };
    let jwt_keys: Vec<String> = config
        .jwt_key_files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgeauth"));
    command
        .arg("rekey")
        .env_clear()
        .env("EDGEAUTH_REDIS_URL", url)
        .env("EDGEAUTH_REDIS_PREFIX", &config.redis_prefix)
        .env("EDGEAUTH_JWT_KEY_FILES", jwt_keys.join(","))
        .env("EDGEAUTH_DATA_KEY_FILE", data_key_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if !config.redis_cluster_nodes.is_empty() {
        command.env(
            "EDGEAUTH_REDIS_CLUSTER_NODES",
            config.redis_cluster_nodes.join(","),
        );
    }
    let output = tokio::time::timeout(
        Duration::from_secs(60),
        command.spawn().expect("spawn").wait_with_output(),
    )
    .await
    .expect("edgeauth rekey finished")
    .expect("wait");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rekey_reseals_every_secret_so_the_old_data_key_can_go() {
    let dir = TempDir::new();
    let [a, b, x] = data_keys(&dir);
    let s = TestServer::with(&[("EDGEAUTH_DATA_KEY_FILE", a.as_str())]).await;
    // Three accounts with MFA on (one with recovery codes), one with only a
    // pending secret, one without MFA.
    let mut on = Vec::new();
    for i in 0..3 {
        let email = format!("on{i}@example.com");
        let (jwt, account, mut auth) = with_mfa(&s, &email).await;
        if i == 0 {
            s.recovery_codes(&jwt, &auth.fresh().await).await;
        }
        on.push((email, account, auth));
    }
    let (pending_jwt, _) = s.signed_in("pending@example.com").await;
    let pending_account = sub(&pending_jwt);
    let mut pending_auth = generate(&s, &pending_jwt).await;
    s.signed_in("plain@example.com").await;
    let redis = s.into_redis().await;

    let both = format!("{b},{a}");
    let s = TestServer::with_redis(redis, &[("EDGEAUTH_DATA_KEY_FILE", both.as_str())]).await;
    // SCAN may visit an account twice (never a value twice as "re-sealed":
    // the second visit finds it current), hence the lower bounds.
    let report = edgeauth::rekey::run(&s.app.config).await.expect("rekey");
    assert!(report.accounts >= 5, "{report}");
    assert_eq!(report.resealed, 4, "{report}");
    assert_eq!(report.failed, 0, "{report}");
    assert!(report.recovery_previous >= 1, "{report}");
    assert_eq!(report.recovery_current, 0, "{report}");
    for (_, account, _) in &on {
        let sealed = s.redis.account_field(account, "mfa").expect("sealed");
        assert!(opens_with(&[&b], account, &sealed), "{account}");
    }
    let pending = pending_field(&s.redis, &pending_account).expect("pending");
    assert!(opens_with(&[&b], &pending_account, &pending));
    let pending_ttl: i64 = redis::cmd("PTTL")
        .arg(format!("edgeauth:{{{pending_account}}}:mfa_pending"))
        .query(&mut s.redis.conn())
        .expect("PTTL");
    assert!(pending_ttl > 0, "the pending secret kept its TTL");

    // Again, through the binary: nothing left to do.
    let (status, stdout, stderr) = rekey_cli(&s, &both).await;
    assert_eq!(status, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("totp secrets re-sealed: 0"), "{stdout}");
    assert!(
        count(&stdout, "totp secrets already current") >= 4,
        "{stdout}"
    );
    assert_eq!(count(&stdout, "totp secrets failed"), 0, "{stdout}");
    // A key that made none of them: every secret fails, status 1.
    let (status, stdout, stderr) = rekey_cli(&s, &x).await;
    assert_eq!(status, Some(1), "{stdout}{stderr}");
    assert!(count(&stdout, "totp secrets failed") >= 4, "{stdout}");
    assert!(stderr.contains(&pending_account), "{stderr}");
    let redis = s.into_redis().await;

    // A is retired: B alone opens every secret.
    let s = TestServer::with_redis(redis, &[("EDGEAUTH_DATA_KEY_FILE", b.as_str())]).await;
    for (email, _, auth) in &mut on {
        let t = s.mfa_login_ticket(email, PASSWORD).await;
        assert_tokens(&s.mfa_totp(&t, &auth.fresh().await).await, email);
    }
    // (Each test server signs with a key of its own: sign in again.)
    let (jwt, _) = s.login("pending@example.com").await;
    let r = s
        .post_bearer(
            "/auth/mfa/enable",
            &jwt,
            json!({ "code": pending_auth.fresh().await }),
        )
        .await;
    assert_eq!(r.status, 204, "enable under [B]: {}", r.text);
    // Recovery codes cannot be re-keyed (only their keyed digests are
    // stored): the set made under A is reported as needing a key that is gone.
    let report = edgeauth::rekey::run(&s.app.config).await.expect("rekey");
    assert_eq!(report.failed, 0, "{report}");
    assert_eq!(report.resealed, 0, "{report}");
    assert!(report.current >= 4, "{report}");
    assert!(report.recovery_unknown >= 1, "{report}");
    assert_eq!(report.recovery_previous, 0, "{report}");
}

/// The number on the report line that starts with `label`.
fn count(report: &str, label: &str) -> u64 {
    report
        .lines()
        .find_map(|l| l.strip_prefix(label)?.strip_prefix(": ")?.parse().ok())
        .unwrap_or_else(|| panic!("no {label:?} line in {report}"))
}
