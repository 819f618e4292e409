//! Operations: `/metrics` on the admin listener with bounded
//! labels and valid exposition (promtool), auth outcome counters, CORS, and
//! the JSON request log that never carries a secret.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::metrics::sample;
use crate::support::totp::{secret_key, totp_at};
use crate::support::{PASSWORD, Redis, TempDir, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_and_outcomes_with_bounded_labels() {
    let s = TestServer::start().await;
    let (_, refresh) = s.signed_in("metrics@example.com").await;
    let wrong = s
        .post(
            "/auth/login",
            json!({"email": "metrics@example.com", "password": "not the password"}),
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(
        s.post_cookie("/auth/token/refresh", &refresh).await.status,
        200
    );
    assert_eq!(
        s.post_cookie("/auth/token/refresh", "garbage").await.status,
        401
    );
    // Random paths must not become label values.
    for i in 0..20 {
        let path = format!("/random/{i}/{}", uuid::Uuid::new_v4());
        assert_eq!(s.get(&path).await.status, 404);
    }

    let text = s.metrics_text().await;
    for (series, at_least) in [
        (
            r#"edgeauth_http_requests_total{method="POST",route="/auth/login",status="200"}"#,
            1.0,
        ),
        (
            r#"edgeauth_http_requests_total{method="POST",route="/auth/login",status="401"}"#,
            1.0,
        ),
        (
            r#"edgeauth_http_requests_total{method="GET",route="unmatched",status="404"}"#,
            20.0,
        ),
        (r#"edgeauth_auth_outcomes_total{kind="login_success"}"#, 1.0),
        (r#"edgeauth_auth_outcomes_total{kind="login_failure"}"#, 1.0),
        (
            r#"edgeauth_auth_outcomes_total{kind="refresh_success"}"#,
            1.0,
        ),
        (
            r#"edgeauth_auth_outcomes_total{kind="refresh_invalid"}"#,
            1.0,
        ),
        ("edgeauth_password_hash_duration_seconds_count", 3.0),
        ("edgeauth_password_hash_queue_depth", 0.0),
        ("edgeauth_redis_pool_connections_max", 1.0),
        ("process_resident_memory_bytes", 1.0),
    ] {
        let value = sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert!(
            value >= at_least,
            "{series} = {value}, expected >= {at_least}"
        );
    }
    assert!(text.contains(r#"edgeauth_build_info{version=""#));
    for line in text.lines().filter(|l| l.contains("route=\"")) {
        let route = line
            .split("route=\"")
            .nth(1)
            .and_then(|r| r.split('"').next());
        let route = route.unwrap_or_default();
        assert!(
            route == "unmatched" || route == "preflight" || route.starts_with('/'),
            "unexpected route label in {line}"
        );
        assert!(
            !route.starts_with("/random"),
            "raw path leaked into labels: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool() {
    let s = TestServer::start().await;
    s.signed_in("promtool@example.com").await;
    let text = s.metrics_text().await;
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run promtool ({e}); install it with: apt-get install -y prometheus \
                 (.ci/run does this)"
            )
        });
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(text.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{report}"
    );
    assert!(
        report.trim().is_empty(),
        "promtool found problems:\n{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_only_for_listed_origins() {
    let s = TestServer::with(&[(
        "EDGEAUTH_CORS_ORIGINS",
        "https://app.example.com, https://admin.example.com",
    )])
    .await;
    let preflight = |origin: &'static str| {
        s.http
            .request(reqwest::Method::OPTIONS, s.url("/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
    };

    let ok = s.send(preflight("https://app.example.com")).await;
    assert_eq!(ok.status, 204);
    assert_eq!(
        ok.header("access-control-allow-origin").as_deref(),
        Some("https://app.example.com")
    );
    assert_eq!(
        ok.header("access-control-allow-credentials").as_deref(),
        Some("true")
    );
    assert!(
        ok.header("access-control-allow-methods")
            .is_some_and(|m| m.contains("POST"))
    );
    assert!(
        ok.header("access-control-allow-headers")
            .is_some_and(|h| h.to_ascii_lowercase().contains("content-type"))
    );

    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.io",
        "null",
    ] {
        let denied = s.send(preflight(origin)).await;
        assert_eq!(
            denied.header("access-control-allow-origin"),
            None,
            "{origin}"
        );
        assert_eq!(
            denied.header("access-control-allow-credentials"),
            None,
            "{origin}"
        );
    }

    let simple = s
        .send(
            s.http
                .get(s.url("/.well-known/jwks.json"))
                .header("origin", "https://admin.example.com"),
        )
        .await;
    assert_eq!(simple.status, 200);
    assert_eq!(
        simple.header("access-control-allow-origin").as_deref(),
        Some("https://admin.example.com")
    );
    let other = s
        .send(
            s.http
                .get(s.url("/.well-known/jwks.json"))
                .header("origin", "https://evil.example.com"),
        )
        .await;
    assert_eq!(other.header("access-control-allow-origin"), None);

    // Unknown paths stay 404 for OPTIONS too.
    let unknown = s
        .send(
            s.http
                .request(reqwest::Method::OPTIONS, s.url("/nope"))
                .header("origin", "https://app.example.com"),
        )
        .await;
    assert_eq!(unknown.status, 404);
}

/// A real edgeauth process (JSON logs on stdout) with its own Redis.
struct Process {
    child: std::process::Child,
    addr: String,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Process {
    fn start(redis: &Redis, dir: &TempDir) -> Process {
        let key = dir.write(
            "signing.pem",
            &edgeauth::auth::jwt::generate_pkcs8_pem().unwrap(),
        );
        let data = dir.write(
            "data.key",
            &edgeauth::auth::data_keys::generate_data_key_base64().unwrap(),
        );
        let mut child = Command::new(env!("CARGO_BIN_EXE_edgeauth"))
            .arg("serve")
            .env("EDGEAUTH_LISTEN", "127.0.0.1:0")
            .env("EDGEAUTH_ADMIN_LISTEN", "127.0.0.1:0")
            .env("EDGEAUTH_REDIS_URL", redis.url())
            .env("EDGEAUTH_JWT_KEY_FILES", key)
            .env("EDGEAUTH_DATA_KEY_FILE", data)
            .env("EDGEAUTH_SCRYPT_LOG_N", "10")
            .env("EDGEAUTH_COOKIE_SECURE", "false")
            .env("EDGEAUTH_LOG", "trace")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut addr = None;
        while addr.is_none() {
            let line = lines
                .recv_timeout(Duration::from_secs(20))
                .expect("edgeauth did not log `listening`");
            if let Ok(v) = serde_json::from_str::<Value>(&line) {
                if v["message"] == "listening" {
                    addr = v["public"].as_str().map(str::to_owned);
                }
            }
        }
        Process {
            child,
            addr: addr.unwrap(),
            lines,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Stops the process (SIGTERM) and returns everything it logged.
    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "edgeauth exited with {status}");
        std::thread::sleep(Duration::from_millis(100));
        self.lines.try_iter().collect()
    }
}

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value, Option<String>) {
    let r = http.post(url).json(&body).send().await.unwrap();
    let status = r.status().as_u16();
    let cookie = r
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.strip_prefix("refresh_token="))
        .and_then(|c| c.split(';').next())
        .map(str::to_owned);
    let body = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, body, cookie)
}

async fn post_bearer(http: &reqwest::Client, url: String, jwt: &str, body: Value) -> (u16, Value) {
    let r = http
        .post(url)
        .bearer_auth(jwt)
        .json(&body)
        .send()
        .await
        .unwrap();
    (
        r.status().as_u16(),
        r.json::<Value>().await.unwrap_or(Value::Null),
    )
}

fn totp_now(secret_b32: &str, offset_steps: i64) -> String {
    let now = edgeauth::clock::now_ms() / 1000;
    let at = (now as i64 + offset_steps * 30) as u64;
    totp_at(&secret_key(secret_b32), at, 6)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_log_is_json_and_never_carries_a_secret() {
    let redis = Redis::start();
    let dir = TempDir::new();
    let p = Process::start(&redis, &dir);
    let http = reqwest::Client::new();
    let email = "logs@example.com";
    let mut secrets: Vec<String> = vec![PASSWORD.to_owned()];

    let (status, _, _) = post(
        &http,
        p.url("/auth/register"),
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 204);
    let ticket = redis.ticket("account.registered", email);
    secrets.push(ticket.clone());
    assert_eq!(
        post(
            &http,
            p.url("/auth/account/activate"),
            json!({"ticket": ticket})
        )
        .await
        .0,
        204
    );
    let (status, body, refresh) = post(
        &http,
        p.url("/auth/login"),
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let jwt = body["jwt_token"].as_str().unwrap().to_owned();
    let refresh = refresh.unwrap();
    secrets.extend([jwt.clone(), refresh.clone()]);
    let r = http
        .post(p.url("/auth/token/refresh"))
        .header("cookie", format!("refresh_token={refresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let wrong = "wrong password 1234";
    secrets.push(wrong.to_owned());
    assert_eq!(
        post(
            &http,
            p.url("/auth/login"),
            json!({"email": email, "password": wrong})
        )
        .await
        .0,
        401
    );

    // MFA: secret, codes, login ticket.
    let (status, generated) =
        post_bearer(&http, p.url("/auth/mfa/generate"), &jwt, json!({})).await;
    assert_eq!(status, 200);
    let otp_secret = generated["otp_secret"].as_str().unwrap().to_owned();
    secrets.push(otp_secret.clone());
    let code = totp_now(&otp_secret, -1);
    secrets.push(code.clone());
    assert_eq!(
        post_bearer(
            &http,
            p.url("/auth/mfa/enable"),
            &jwt,
            json!({"code": code})
        )
        .await
        .0,
        204
    );
    let (status, body, _) = post(
        &http,
        p.url("/auth/login"),
        json!({"email": email, "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200);
    let mfa_ticket = body["ticket"].as_str().unwrap().to_owned();
    secrets.push(mfa_ticket.clone());
    let code = totp_now(&otp_secret, 0);
    secrets.push(code.clone());
    let (status, body, mfa_refresh) = post(
        &http,
        p.url("/auth/mfa/totp"),
        json!({"ticket": mfa_ticket, "code": code}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    secrets.push(body["jwt_token"].as_str().unwrap().to_owned());
    secrets.push(mfa_refresh.unwrap());

    // Password reset.
    assert_eq!(
        post(
            &http,
            p.url("/auth/account/forgot/request"),
            json!({"email": email})
        )
        .await
        .0,
        204
    );
    let reset = redis.ticket("password.reset_requested", email);
    secrets.push(reset.clone());
    let new_password = "a brand new password";
    secrets.push(new_password.to_owned());
    assert_eq!(
        post(
            &http,
            p.url("/auth/account/forgot"),
            json!({"ticket": reset, "new_password": new_password})
        )
        .await
        .0,
        204
    );
    let r = http
        .post(p.url("/auth/logout"))
        .header("x-request-id", "trace-me-42")
        .json(&json!({"refresh_token": refresh}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["x-request-id"], "trace-me-42");

    let lines = p.stop();
    let requests: Vec<Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["message"] == "request")
        .collect();
    assert!(requests.len() >= 12, "too few request lines: {lines:#?}");
    for line in &requests {
        for field in ["method", "route", "status", "duration_ms", "request_id"] {
            assert!(!line[field].is_null(), "{field} missing in {line}");
        }
    }
    assert!(
        requests
            .iter()
            .any(|l| l["request_id"] == "trace-me-42" && l["route"] == "/auth/logout"),
        "the incoming X-Request-Id is not logged"
    );
    for secret in &secrets {
        for line in &lines {
            assert!(
                !line.contains(secret.as_str()),
                "a secret ({secret}) leaked into: {line}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_turns_503_when_draining_while_healthz_stays_200() {
    let s = TestServer::start().await;
    assert_eq!(s.send(s.http.get(s.admin_url("/readyz"))).await.status, 200);
    // What serve() does first on SIGTERM, before closing the listeners.
    s.app.start_draining();
    for url in [s.url("/readyz"), s.admin_url("/readyz")] {
        let r = s.send(s.http.get(url)).await;
        assert_eq!(r.status, 503, "{}", r.text);
        assert_eq!(r.error(), "unavailable");
        assert!(r.header("retry-after").is_some());
    }
    assert_eq!(
        s.send(s.http.get(s.admin_url("/healthz"))).await.status,
        200
    );
}
