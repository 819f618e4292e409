//! `edgeauth admin <verb>`: the real binary against a test server's admin listener — find,
//! show, list (one page, every page), lock (sign-ins then 403 `account_locked`), unlock,
//! sign-out, activate, reset (the event with a ticket), delete (refused without `--yes`),
//! unthrottle by email and by IP, `--json` output, and the exit statuses: 1 for a wrong token,
//! an unreadable token file, an unknown account and an unreachable URL, 2 for usage errors.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::{PASSWORD, Reply, TempDir, TestServer};

const TOKEN: &str = "admin-token-for-the-cli-tests-0123456789abcdef";

/// A test server with the admin API on, and the token file the CLI reads.
struct Admin {
    s: TestServer,
    token_file: PathBuf,
    _dir: TempDir,
}

/// What one run of the binary did.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.stdout))
    }

    #[track_caller]
    fn ok(self) -> Run {
        assert_eq!(self.code, 0, "{self:?}");
        assert!(self.stderr.is_empty(), "{self:?}");
        self
    }
}

async fn run_binary(args: &[&str]) -> Run {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_edgeauth"))
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output()
        .await
        .expect("run edgeauth");
    Run {
        code: out.status.code().expect("an exit status"),
        stdout: String::from_utf8(out.stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("utf-8 stderr"),
    }
}

impl Admin {
    async fn start(settings: &[(&str, &str)]) -> Admin {
        let dir = TempDir::new();
        let server_tokens = dir.write("admin-tokens", &format!("# ops\n{TOKEN}\n"));
        let token_file = dir.write("token", &format!("# the CLI's token\n\n{TOKEN}\n"));
        let files = server_tokens.display().to_string();
        let mut all = vec![("EDGEAUTH_ADMIN_TOKEN_FILES", files.as_str())];
        all.extend_from_slice(settings);
        let s = TestServer::with(&all).await;
        Admin {
            s,
            token_file,
            _dir: dir,
        }
    }

    fn url(&self) -> String {
        self.s.admin_url("")
    }

    /// `edgeauth admin <args> --url … --token-file …`.
    async fn cli(&self, args: &[&str]) -> Run {
        let url = self.url();
        let token_file = self.token_file.display().to_string();
        let mut argv = vec!["admin"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(&["--url", &url, "--token-file", &token_file]);
        run_binary(&argv).await
    }

    async fn login(&self, email: &str) -> Reply {
        self.s
            .post("/auth/login", json!({"email": email, "password": PASSWORD}))
            .await
    }

    async fn id_of(&self, email: &str) -> String {
        let found = self.cli(&["find", email, "--json"]).await.ok().json();
        found["id"].as_str().expect("id").to_owned()
    }
}

#[tokio::test]
async fn find_show_and_list() {
    let a = Admin::start(&[]).await;
    a.s.create_account("ada@example.com").await;
    a.s.create_account("bob@example.com").await;
    a.s.login("ada@example.com").await;

    let found = a.cli(&["find", "ada@example.com"]).await.ok();
    assert!(
        found.stdout.contains("email:      ada@example.com\n"),
        "{found:?}"
    );
    assert!(found.stdout.contains("active:     yes\n"), "{found:?}");
    assert!(found.stdout.contains("locked:     no\n"), "{found:?}");
    assert!(found.stdout.contains("sessions:   1\n"), "{found:?}");

    let json = a
        .cli(&["find", "ada@example.com", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(json["email"], "ada@example.com");
    assert_eq!(json["active"], true);
    assert_eq!(json["locked"], false);
    assert_eq!(json["sessions"], 1);
    let id = json["id"].as_str().unwrap().to_owned();

    let shown = a.cli(&["show", &id]).await.ok();
    assert!(
        shown.stdout.starts_with(&format!("id:         {id}\n")),
        "{shown:?}"
    );
    assert_eq!(a.cli(&["show", &id, "--json"]).await.ok().json(), json);

    let table = a.cli(&["list"]).await.ok();
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{table:?}");
    assert!(lines[0].starts_with("ID "), "{table:?}");
    for email in ["ada@example.com", "bob@example.com"] {
        assert!(table.stdout.contains(email), "{table:?}");
    }

    // One page of one, with a cursor to the next; --all follows it.
    let page = a.cli(&["list", "--limit", "1", "--json"]).await.ok().json();
    assert_eq!(page["accounts"].as_array().unwrap().len(), 1, "{page}");
    assert!(page["next_cursor"].is_string(), "{page}");
    let one = a.cli(&["list", "--limit", "1"]).await;
    assert_eq!(one.code, 0, "{one:?}");
    assert_eq!(one.stdout.lines().count(), 2, "{one:?}");
    assert!(one.stderr.contains("--cursor"), "{one:?}");
    let every = a
        .cli(&["list", "--limit", "1", "--all", "--json"])
        .await
        .ok()
        .json();
    let mut emails: Vec<&str> = every["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["email"].as_str().unwrap())
        .collect();
    emails.sort_unstable();
    assert_eq!(emails, ["ada@example.com", "bob@example.com"]);
    assert!(every["next_cursor"].is_null());
    let every = a.cli(&["list", "--limit", "1", "--all"]).await.ok();
    assert_eq!(every.stdout.lines().count(), 3, "{every:?}");

    // Unknown accounts: exit 1 with the API's word for it.
    let none = a.cli(&["find", "nobody@example.com"]).await;
    assert_eq!(none.code, 1, "{none:?}");
    assert!(none.stdout.is_empty(), "{none:?}");
    assert!(
        none.stderr.contains("no account nobody@example.com"),
        "{none:?}"
    );
    assert!(none.stderr.contains("404"), "{none:?}");
    let none = a
        .cli(&["show", "00000000-0000-4000-8000-000000000000"])
        .await;
    assert_eq!(none.code, 1, "{none:?}");
}

#[tokio::test]
async fn lock_unlock_sign_out_activate_reset_delete() {
    let a = Admin::start(&[]).await;
    let email = "ada@example.com";
    let (_, refresh) = a.s.signed_in(email).await;
    let id = a.id_of(email).await;

    // lock: every session ends, sign-ins are refused.
    let locked = a
        .cli(&["lock", email, "--reason", "left the company"])
        .await
        .ok();
    assert_eq!(locked.stdout, format!("Locked {email} ({id})\n"));
    let r = a.login(email).await;
    assert_eq!(
        (r.status, r.error()),
        (403, "account_locked".into()),
        "{}",
        r.text
    );
    let r = a.s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_ne!(r.status, 200, "{}", r.text);
    let shown = a.cli(&["show", &id]).await.ok();
    assert!(
        shown
            .stdout
            .contains("locked:     yes (left the company)\n"),
        "{shown:?}"
    );
    let json = a.cli(&["show", email, "--json"]).await.ok().json();
    assert_eq!(json["locked"], true);
    assert_eq!(json["locked_reason"], "left the company");
    assert_eq!(json["sessions"], 0);
    let event = a.s.redis.events_of("admin.lock");
    assert_eq!(event.len(), 1, "{event:?}");
    assert_eq!(event[0].get("user_id"), Some(&id));
    let actor = event[0].get("actor").expect("actor");
    assert!(
        !actor.is_empty() && !TOKEN.contains(actor.as_str()),
        "{actor}"
    );

    // unlock by id.
    let unlocked = a.cli(&["unlock", &id]).await.ok();
    assert_eq!(unlocked.stdout, format!("Unlocked {email} ({id})\n"));
    let r = a.login(email).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let refresh = r.refresh_cookie().unwrap();

    // sign-out: the session ends.
    let out = a.cli(&["sign-out", email, "--json"]).await.ok().json();
    assert_eq!(out, json!({"action": "sign-out", "id": id, "email": email}));
    let r = a.s.post_cookie("/auth/token/refresh", &refresh).await;
    assert_eq!(r.status, 401, "{}", r.text);
    assert_eq!(
        a.cli(&["show", &id, "--json"]).await.ok().json()["sessions"],
        0
    );

    // activate: an account never activated can sign in.
    let r =
        a.s.post(
            "/auth/register",
            json!({"email": "new@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    let r = a.login("new@example.com").await;
    assert_eq!(r.error(), "account_inactive", "{}", r.text);
    let done = a.cli(&["activate", "new@example.com"]).await.ok();
    assert!(
        done.stdout.starts_with("Activated new@example.com ("),
        "{done:?}"
    );
    assert_eq!(a.login("new@example.com").await.status, 200);

    // reset: a password reset ticket goes out.
    let before = a.s.redis.events_of("password.reset_requested").len();
    let done = a.cli(&["reset", email]).await.ok();
    assert!(done.stdout.contains("password reset"), "{done:?}");
    let resets = a.s.redis.events_of("password.reset_requested");
    assert_eq!(resets.len(), before + 1, "{resets:?}");
    assert!(
        resets
            .last()
            .unwrap()
            .get("ticket")
            .is_some_and(|t| !t.is_empty())
    );

    // delete: refused without --yes (usage, nothing sent), done with it.
    let refused = a.cli(&["delete", email]).await;
    assert_eq!(refused.code, 2, "{refused:?}");
    assert!(refused.stderr.contains("--yes"), "{refused:?}");
    a.cli(&["show", &id]).await.ok();
    let deleted = a.cli(&["delete", email, "--yes"]).await.ok();
    assert_eq!(deleted.stdout, format!("Deleted {email} ({id})\n"));
    let gone = a.cli(&["show", &id]).await;
    assert_eq!(gone.code, 1, "{gone:?}");
    assert_eq!(a.login(email).await.status, 401);
    // Acting on an account that is gone fails before sending anything.
    let gone = a.cli(&["unlock", email]).await;
    assert_eq!(gone.code, 1, "{gone:?}");
    assert!(
        gone.stderr.contains("no account ada@example.com"),
        "{gone:?}"
    );
}

#[tokio::test]
async fn unthrottle_an_email_and_an_ip() {
    let a = Admin::start(&[("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "2/1h")]).await;
    let email = "dora@example.com";
    a.s.create_account(email).await;
    let wrong = json!({"email": email, "password": "not the password at all"});
    for _ in 0..2 {
        assert_eq!(a.s.post("/auth/login", wrong.clone()).await.status, 401);
    }
    assert_eq!(a.login(email).await.status, 429);
    let done = a.cli(&["unthrottle", "--email", email]).await.ok();
    assert_eq!(
        done.stdout,
        format!("Cleared the rate limits of email {email}\n")
    );
    assert_eq!(a.login(email).await.status, 200);

    let a = Admin::start(&[("EDGEAUTH_RATE_LOGIN_PER_IP", "2/1h")]).await;
    a.s.create_account(email).await;
    for _ in 0..2 {
        assert_eq!(a.s.post("/auth/login", wrong.clone()).await.status, 401);
    }
    assert_eq!(a.login(email).await.status, 429);
    let done = a
        .cli(&["unthrottle", "--ip", "127.0.0.1", "--json"])
        .await
        .ok()
        .json();
    assert_eq!(done, json!({"action": "unthrottle", "ip": "127.0.0.1"}));
    assert_eq!(a.login(email).await.status, 200);
}

#[tokio::test]
async fn failures_exit_1_and_usage_errors_exit_2() {
    let a = Admin::start(&[]).await;
    a.s.create_account("ada@example.com").await;
    let url = a.url();
    let dir = TempDir::new();

    // A wrong token: the API's message, exit 1.
    let wrong = dir.write("wrong", "wrong-token-of-sufficient-length-0123456789\n");
    let r = run_binary(&[
        "admin",
        "find",
        "ada@example.com",
        "--url",
        &url,
        "--token-file",
        &wrong.display().to_string(),
    ])
    .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.is_empty(), "{r:?}");
    assert!(r.stderr.contains("401 invalid_token"), "{r:?}");

    // An unreadable token file, and one holding no token.
    for (file, says) in [
        ("/nonexistent/token".to_owned(), "cannot read"),
        (
            dir.write("empty", "# nothing yet\n\n")
                .display()
                .to_string(),
            "no token",
        ),
    ] {
        let r = run_binary(&["admin", "list", "--url", &url, "--token-file", &file]).await;
        assert_eq!(r.code, 1, "{r:?}");
        assert!(r.stderr.contains(says), "{r:?}");
    }

    // Nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let r = run_binary(&[
        "admin",
        "list",
        "--url",
        &format!("http://{closed}"),
        "--token-file",
        &a.token_file.display().to_string(),
    ])
    .await;
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("cannot reach"), "{r:?}");

    // Usage errors: clap's, and the CLI's own.
    for args in [
        &["lock", "ada@example.com"][..],
        &["show", "ada"],
        &["list", "--limit", "0"],
        &["unthrottle"],
        &["frobnicate"],
        &["show", "ada@example.com", "--url", "https://127.0.0.1:9090"],
    ] {
        let r = a.cli(args).await;
        assert_eq!(r.code, 2, "{args:?}: {r:?}");
        assert!(!r.stderr.is_empty(), "{args:?}: {r:?}");
    }
    let r = run_binary(&["admin"]).await;
    assert_eq!(r.code, 2, "{r:?}");
    let r = run_binary(&["admin", "list", "--url", &url]).await;
    assert_eq!(r.code, 2, "{r:?}");
    assert!(r.stderr.contains("--token-file"), "{r:?}");
}
