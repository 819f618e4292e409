//! MFA secrets at rest: no plaintext TOTP secret in Redis, a sealed secret
//! bound to its account, data keys at start-up and rotation, and removal of
//! the account deleting its MFA state.

use std::process::Stdio;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::support::jwt::sub;
use crate::support::mfa::{assert_secret_absent, assert_tokens, generate, mfa_ticket};
use crate::support::totp::{Authenticator, base32_decode};
use crate::support::{PASSWORD, Redis, TempDir, TestServer, assert_error};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_holds_no_plaintext_totp_secret() {
    let s = TestServer::start().await;
    let email = "sealed@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = sub(&jwt);

    let (secret, _) = generate(&s, &jwt).await;
    // The pending secret is stored (sealed) somewhere in the account's keys.
    let keys = s.redis.account_keys(&account);
    assert!(
        keys.iter().any(|k| k.contains("mfa")),
        "a pending MFA key in {keys:?}"
    );
    assert_secret_absent(&s.redis, &secret, "after generate");

    let mut auth = Authenticator::new(&secret);
    let code = auth.fresh().await;
    let r = s
        .post_bearer("/auth/mfa/enable", &jwt, json!({ "code": code }))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let sealed = s
        .redis
        .account_field(&account, "mfa")
        .expect("the account's mfa field");
    assert!(sealed.len() >= 40, "sealed value: {sealed}");
    assert_secret_absent(&s.redis, &secret, "after enable");

    // And after an MFA login (ticket records, replay guard, session).
    let ticket = mfa_ticket(&s, email).await;
    assert_tokens(&s.mfa_totp(&ticket, &auth.fresh().await).await);
    assert_secret_absent(&s.redis, &secret, "after an MFA login");

    // Control: the scan does find the secret when it is there, as text
    // in a hash and as raw bytes in a set.
    let raw = base32_decode(&secret).unwrap();
    let planted = [("HSET", secret.to_lowercase().into_bytes()), ("SADD", raw)];
    for (command, value) in planted {
        let key = format!("edgeauth:{{{account}}}:planted");
        let mut cmd = redis::cmd(command);
        cmd.arg(&key);
        if command == "HSET" {
            cmd.arg("field");
        }
        let _: () = cmd.arg(value).query(&mut s.redis.conn()).unwrap();
        let found = std::panic::catch_unwind(|| {
            assert_secret_absent(&s.redis, &secret, "control");
        });
        assert!(
            found.is_err(),
            "{command}: the scan missed a planted secret"
        );
        let _: () = redis::cmd("DEL")
            .arg(&key)
            .query(&mut s.redis.conn())
            .unwrap();
    }
}

/// The same secret sealed under one account does not open under another
/// (the account id is the associated data): copying the sealed value onto
/// a second account must not give that account a working second factor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_secret_copied_to_another_account_does_not_open() {
    let s = TestServer::start().await;
    let (jwt_a, _) = s.signed_in("owner@example.com").await;
    let (jwt_b, _) = s.signed_in("thief@example.com").await;
    let (a, b) = (sub(&jwt_a), sub(&jwt_b));
    let mut auth = s.enable_mfa(&jwt_a).await;
    let sealed = s.redis.account_field(&a, "mfa").expect("mfa field");
    let _: () = redis::cmd("HSET")
        .arg(format!("edgeauth:{{{b}}}:account"))
        .arg("mfa")
        .arg(&sealed)
        .query(&mut s.redis.conn())
        .expect("HSET");
    let ticket = mfa_ticket(&s, "thief@example.com").await;
    let r = s.mfa_totp(&ticket, &auth.fresh().await).await;
    assert_ne!(r.status, 200, "{}", r.text);
    assert!(r.set_cookie().is_none());
}

// ---------------------------------------------------------------- data keys

/// Runs the real binary's `serve` with `EDGEAUTH_DATA_KEY_FILE` set to
/// `data_key_file`; returns (exit code, stderr). Fails if it keeps running.
async fn serve_exit(data_key_file: &str) -> (Option<i32>, String) {
    let dir = TempDir::new();
    let pem = dir.write(
        "signing.pem",
        &edgeauth::auth::jwt::generate_pkcs8_pem().expect("keygen"),
    );
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgeauth"))
        .arg("serve")
        .env_clear()
        .env("EDGEAUTH_LISTEN", "127.0.0.1:0")
        .env("EDGEAUTH_ADMIN_LISTEN", "127.0.0.1:0")
        .env("EDGEAUTH_REDIS_URL", "redis://127.0.0.1:1")
        .env("EDGEAUTH_JWT_KEY_FILES", &pem)
        .env("EDGEAUTH_DATA_KEY_FILE", data_key_file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn edgeauth");
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!("edgeauth serve kept running with DATA_KEY_FILE={data_key_file}")
        })
        .expect("wait");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_wrong_data_key_stops_start_up_with_status_2() {
    let dir = TempDir::new();
    let short = STANDARD.encode([7u8; 16]);
    let good = edgeauth::auth::data_keys::generate_data_key_base64().expect("data key");
    let missing = dir.0.join("no-such.key").display().to_string();
    let cases = [
        ("missing file", missing.clone()),
        (
            "16 bytes",
            dir.write("short.key", &format!("{short}\n"))
                .display()
                .to_string(),
        ),
        (
            "not base64",
            dir.write("text.key", "this is not a key\n")
                .display()
                .to_string(),
        ),
        (
            "good then missing",
            format!("{},{missing}", dir.write("good.key", &good).display()),
        ),
    ];
    for (what, value) in cases {
        let (code, stderr) = serve_exit(&value).await;
        assert_eq!(code, Some(2), "{what}: stderr {stderr}");
        assert!(
            stderr.lines().any(|l| l.contains("EDGEAUTH_DATA_KEY_FILE")),
            "{what}: no line names EDGEAUTH_DATA_KEY_FILE: {stderr}"
        );
        assert!(!stderr.contains(&short), "{what}: the key leaked: {stderr}");
        assert!(
            !stderr.contains(good.trim()),
            "{what}: the key leaked: {stderr}"
        );
    }
}

/// Two data key files (old and new) in a directory that outlives servers.
fn two_keys(dir: &TempDir) -> (String, String) {
    let key = || edgeauth::auth::data_keys::generate_data_key_base64().expect("data key");
    (
        dir.write("old.key", &key()).display().to_string(),
        dir.write("new.key", &key()).display().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secret_sealed_under_a_removed_key_fails_closed() {
    let dir = TempDir::new();
    let (old, new) = two_keys(&dir);
    let email = "rotate@example.com";
    let a = TestServer::with(&[("EDGEAUTH_DATA_KEY_FILE", old.as_str())]).await;
    let (jwt, _) = a.signed_in(email).await;
    let account = sub(&jwt);
    let mut auth = a.enable_mfa(&jwt).await;
    let redis = a.into_redis().await;

    let b = TestServer::with_redis(redis, &[("EDGEAUTH_DATA_KEY_FILE", new.as_str())]).await;
    let ticket = mfa_ticket(&b, email).await;
    let code = auth.fresh().await;
    for _ in 0..2 {
        let r = b.mfa_totp(&ticket, &code).await;
        assert_ne!(r.status, 200, "opened under another key: {}", r.text);
        assert_error(&r, 500, "internal");
        assert!(r.set_cookie().is_none());
        assert!(!r.text.contains(&account), "no internals: {}", r.text);
    }
    // Recovery codes made under the old key do not open either (none were
    // issued; a guess is just wrong), and nothing else lets the user in.
    let r = b.mfa_recover(&ticket, "aaaa-bbbb-cccc").await;
    assert_ne!(r.status, 200, "{}", r.text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_old_key_still_configured_the_secret_opens() {
    let dir = TempDir::new();
    let (old, new) = two_keys(&dir);
    let email = "rotate2@example.com";
    let a = TestServer::with(&[("EDGEAUTH_DATA_KEY_FILE", old.as_str())]).await;
    let (_, mut auth) = a.signed_in_with_mfa(email).await;
    let redis = a.into_redis().await;

    let both = format!("{new},{old}");
    let c = TestServer::with_redis(redis, &[("EDGEAUTH_DATA_KEY_FILE", both.as_str())]).await;
    let ticket = mfa_ticket(&c, email).await;
    let (cjwt, _) = assert_tokens(&c.mfa_totp(&ticket, &auth.fresh().await).await);
    // Disable opens the old secret too.
    let r = c
        .post_bearer(
            "/auth/mfa/disable",
            &cjwt,
            json!({ "code": auth.fresh().await }),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = c
        .post("/auth/login", json!({"email": email, "password": PASSWORD}))
        .await;
    assert_tokens(&r);
}

// ---------------------------------------------------------------- account removal

/// Every key name in Redis that contains `needle`.
fn keys_containing(redis: &Redis, needle: &str) -> Vec<String> {
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("*")
        .query(&mut redis.conn())
        .expect("KEYS");
    keys.into_iter().filter(|k| k.contains(needle)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_the_account_deletes_its_mfa_state() {
    let s = TestServer::start().await;
    // One account with MFA on, recovery codes and an open login ticket.
    let email = "removed@example.com";
    let (jwt, _) = s.signed_in(email).await;
    let account = sub(&jwt);
    let mut auth = s.enable_mfa(&jwt).await;
    let codes = s.recovery_codes(&jwt, &auth.fresh().await).await;
    let ticket = mfa_ticket(&s, email).await;
    // One account with only a pending secret.
    let (pending_jwt, _) = s.signed_in("pending@example.com").await;
    let pending_account = sub(&pending_jwt);
    generate(&s, &pending_jwt).await;
    // Stored under a keyed MAC of the ticket, never the ticket itself.
    assert!(keys_containing(&s.redis, &ticket).is_empty());
    assert!(
        !keys_containing(&s.redis, &format!("{account}}}:ticket:")).is_empty(),
        "the ticket is stored"
    );
    assert!(keys_containing(&s.redis, &pending_account).len() > 1);

    for (jwt, id) in [(&jwt, &account), (&pending_jwt, &pending_account)] {
        let r = s.post_bearer("/auth/account/remove", jwt, json!({})).await;
        assert_eq!(r.status, 204, "{}", r.text);
        assert_eq!(keys_containing(&s.redis, id), Vec::<String>::new());
    }
    // The ticket's record lived in the account's slot and is gone; a
    // pointer outside the slot (which a single-slot script cannot touch)
    // may remain until its own TTL, but no longer leads anywhere.
    let r = s.mfa_totp(&ticket, &auth.fresh().await).await;
    assert_error(&r, 401, "invalid_ticket");
    let r = s.mfa_recover(&ticket, &codes[0]).await;
    assert_error(&r, 401, "invalid_ticket");
}
