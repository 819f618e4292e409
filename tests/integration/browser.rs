//! A real browser through a real gateway: Debian's Chromium, driven by
//! `playwright-core` (`tests/browser/run.mjs`, no downloaded browser),
//! signs up and in through the portal behind nginx running the README's
//! "Put edgeauth in front of a web app" recipe, read from README.md at test
//! time with its placeholders filled in. The app behind nginx is a tiny
//! server here that echoes the path and the identity headers it was given;
//! a "mailbox" endpoint hands the script the tickets of the events stream
//! (what a mailer would send). The run ends with passkeys: one added on the
//! account page with a virtual authenticator (Chromium's DevTools WebAuthn
//! domain), then a sign-in with it alone that passes the MFA-only location.
//! Screenshots land in `target/browser-screenshots/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::nginx::Nginx;
use crate::support::node;
use crate::support::{Redis, TempDir, TestServer};

/// The README section whose `nginx` block this test runs.
const SECTION: &str = "## Put edgeauth in front of a web app";

/// The one block fenced `fence` (`nginx`, `caddyfile`) of the README's
/// web-app section, as written.
fn readme_recipe(fence: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let start = readme
        .find(SECTION)
        .unwrap_or_else(|| panic!("README.md has no section {SECTION:?}"));
    let section = &readme[start + SECTION.len()..];
    let section = section.find("\n## ").map_or(section, |end| &section[..end]);
    let opening = format!("\n```{fence}\n");
    let mut blocks = section.split(&opening).skip(1);
    let block = blocks
        .next()
        .unwrap_or_else(|| panic!("no ```{fence} block under {SECTION:?}"));
    assert!(
        blocks.next().is_none(),
        "more than one ```{fence} block under {SECTION:?}: the test runs exactly one"
    );
    let end = block.find("\n```").expect("the block is closed");
    block[..end].to_owned()
}

/// The recipe with its placeholders filled in for this machine: loopback
/// addresses, `.test` host names (which Chromium maps to 127.0.0.1).
fn filled_in(recipe: &str, listen: u16, edgeauth: SocketAddr, app: SocketAddr) -> String {
    for placeholder in [
        "EDGEAUTH_ADDR",
        "APP_UPSTREAM",
        "LISTEN_PORT",
        "app.example.com",
        "auth.example.com",
    ] {
        assert!(
            recipe.contains(placeholder),
            "the README's nginx recipe lost its placeholder {placeholder}"
        );
    }
    recipe
        .replace("EDGEAUTH_ADDR", &edgeauth.to_string())
        .replace("APP_UPSTREAM", &app.to_string())
        .replace("LISTEN_PORT", &format!("127.0.0.1:{listen}"))
        .replace("app.example.com", "app.example.test")
        .replace("auth.example.com", "auth.example.test")
}

/// `text` safe inside HTML text and attribute values.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `%XX` and `+` decoded (query values of the mailbox).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of `name` in a query string.
fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
}

/// A request head read off `stream`: (method, target, lower-cased headers).
async fn read_head(stream: &mut TcpStream) -> Option<(String, String, Vec<(String, String)>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 64 * 1024 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let mut lines = text.split("\r\n");
    let mut request = lines.next()?.split(' ');
    let method = request.next()?.to_owned();
    let target = request.next()?.to_owned();
    let headers = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some((method, target, headers))
}

async fn respond(stream: &mut TcpStream, status: &str, content_type: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         cache-control: no-store\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The app behind nginx: a page echoing the path and query it was asked
/// for and the identity headers nginx set. `/evil` (reached directly as
/// `http://evil.test:<port>/evil`, another site) is a page with forms
/// that POST to the portal: a cross-site request the portal must refuse.
async fn app(portal: String) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
    let addr = listener.local_addr().expect("app addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let portal = portal.clone();
            tokio::spawn(async move {
                let Some((method, target, headers)) = read_head(&mut stream).await else {
                    return;
                };
                let header = |name: &str| {
                    headers
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                };
                let body = if target == "/evil" {
                    format!(
                        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>A prize</title></head><body><h1>You won</h1>
<form method="post" action="{portal}/auth/ui/logout"><input type="hidden" name="csrf" value="guessed"><button>Claim the prize</button></form>
<form method="post" action="{portal}/auth/ui/account/password"><input type="hidden" name="csrf" value="guessed"><input type="hidden" name="old_password" value="x"><input type="hidden" name="new_password" value="pwned by evil.test 12345"><button>Claim another prize</button></form>
</body></html>"#
                    )
                } else {
                    format!(
                        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>The app</title></head><body><h1>The app</h1>
<dl><dt>Method</dt><dd id="method">{}</dd><dt>Path</dt><dd id="path">{}</dd><dt>User id</dt><dd id="user">{}</dd><dt>Email</dt><dd id="email">{}</dd><dt>Session</dt><dd id="session">{}</dd></dl>
</body></html>"#,
                        escape(&method),
                        escape(&target),
                        escape(&header("x-auth-user-id")),
                        escape(&header("x-auth-email")),
                        escape(&header("x-auth-session-id")),
                    )
                };
                respond(&mut stream, "200 OK", "text/html; charset=utf-8", &body).await;
            });
        }
    });
    addr
}

/// The mailbox: `GET /ticket?kind=<event type>&email=<address>` answers the
/// ticket of the newest such event in the events stream, `GET /link?…` its
/// `link` (the portal page a mailer puts in the mail), or 404.
async fn mailbox(redis: Redis) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind mailbox");
    let addr = listener.local_addr().expect("mailbox addr");
    let redis = std::sync::Arc::new(redis);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let redis = redis.clone();
            tokio::spawn(async move {
                let Some((_, target, _)) = read_head(&mut stream).await else {
                    return;
                };
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let kind = query_param(query, "kind").unwrap_or_default();
                let email = query_param(query, "email").unwrap_or_default();
                let field = match path {
                    "/ticket" => "ticket",
                    "/link" => "link",
                    _ => {
                        respond(&mut stream, "404 Not Found", "text/plain", "no such path").await;
                        return;
                    }
                };
                let value = tokio::task::spawn_blocking(move || {
                    redis
                        .events_of(&kind)
                        .into_iter()
                        .rev()
                        .find(|e| e.get("email") == Some(&email))
                        .and_then(|e| e.get(field).cloned())
                })
                .await
                .ok()
                .flatten();
                match value {
                    Some(value) => respond(&mut stream, "200 OK", "text/plain", &value).await,
                    None => {
                        respond(&mut stream, "404 Not Found", "text/plain", "no such event").await
                    }
                }
            });
        }
    });
    addr
}

/// Chromium on PATH, else where Debian puts it.
fn chromium() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    });
    let binary = on_path.unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        binary.is_file(),
        "the browser test needs Debian's Chromium ({} is missing): \
         sudo apt-get install -y chromium (or scripts/ensure-deps --test)",
        binary.display()
    );
    binary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_signs_up_and_in_through_the_portal_behind_nginx() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf();
    let chromium = chromium();
    let listen = edgeauth::dev::free_port().expect("free port");
    let portal = format!("http://auth.example.test:{listen}");
    let server = TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_PORTAL_URL", &portal),
        ("EDGEAUTH_SESSION_COOKIE_DOMAIN", "example.test"),
        ("EDGEAUTH_COOKIE_SECURE", "false"),
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
        ("EDGEAUTH_WEBAUTHN_RP_ID", "example.test"),
        ("EDGEAUTH_WEBAUTHN_ORIGINS", &portal),
    ])
    .await;
    let app = app(portal.clone()).await;
    let mailbox = mailbox(server.redis.shared()).await;
    let recipe = filled_in(&readme_recipe("nginx"), listen, server.addr, app);
    let nginx = Nginx::start(&recipe, &[listen]);

    let screenshots = root.join("target/browser-screenshots");
    std::fs::create_dir_all(&screenshots).expect("screenshot dir");
    let env = vec![
        ("APP_URL", format!("http://app.example.test:{listen}")),
        ("PORTAL_URL", portal.clone()),
        ("EVIL_URL", format!("http://evil.test:{}", app.port())),
        ("MAILBOX_URL", format!("http://{mailbox}")),
        ("CHROMIUM", chromium.display().to_string()),
        ("SCREENSHOTS", screenshots.display().to_string()),
    ];
    let output = tokio::task::spawn_blocking(move || {
        node::run_script(
            &root,
            "browser",
            "playwright-core",
            &env,
            "the browser test",
        )
    });
    let output = tokio::time::timeout(Duration::from_secs(300), output)
        .await
        .expect("the browser run finished within 5 minutes")
        .expect("the browser run did not panic");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser run failed ({}):\n{stdout}\n{stderr}\n--- nginx error log ---\n{}",
        output.status,
        nginx.error_log()
    );
    assert!(stdout.contains("browser: ok"), "{stdout}\n{stderr}");
    println!("{stdout}");
}

// ------------------------------------------------------------------- Caddy

/// A `caddy run` child with its config, data and logs in a temp dir,
/// killed by PID on drop.
struct Caddy {
    child: std::process::Child,
    dir: TempDir,
}

impl Caddy {
    /// Runs the README's Caddyfile with its names filled in, every site on
    /// `listen` over plain HTTP (no certificates), admin endpoint off.
    fn start(recipe: &str, listen: u16, edgeauth: SocketAddr, app: SocketAddr) -> Caddy {
        for name in [
            "edgeauth:8080",
            "app:3000",
            "app.example.com {",
            "auth.example.com {",
        ] {
            assert!(
                recipe.contains(name),
                "the README's Caddyfile lost {name:?}, which the test fills in"
            );
        }
        let sites = recipe
            .replace("edgeauth:8080", &edgeauth.to_string())
            .replace("app:3000", &app.to_string())
            .replace(
                "app.example.com {",
                &format!("http://app.example.test:{listen} {{"),
            )
            .replace(
                "auth.example.com {",
                &format!("http://auth.example.test:{listen} {{"),
            );
        let config =
            format!("{{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}}\n\n{sites}\n");
        let dir = TempDir::new();
        let file = dir.write("Caddyfile", &config);
        let log = std::fs::File::create(dir.0.join("caddy.log")).expect("caddy log");
        let child = Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(&file)
            .env("HOME", &dir.0)
            .env("XDG_DATA_HOME", dir.0.join("data"))
            .env("XDG_CONFIG_HOME", dir.0.join("config"))
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start caddy ({e}); the Caddy recipe test needs it: \
                     sudo apt-get install -y caddy (or scripts/ensure-deps --test)"
                )
            });
        let mut caddy = Caddy { child, dir };
        for _ in 0..400 {
            if let Ok(Some(status)) = caddy.child.try_wait() {
                panic!("caddy exited ({status}):\n{}", caddy.log());
            }
            if std::net::TcpStream::connect(("127.0.0.1", listen)).is_ok() {
                return caddy;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("caddy did not listen within 10 s:\n{}", caddy.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("caddy.log")).unwrap_or_default()
    }
}

impl Drop for Caddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn caddy_forward_auth_recipe_redirects_and_passes_the_identity() {
    let listen = edgeauth::dev::free_port().expect("free port");
    let portal = format!("http://auth.example.test:{listen}");
    let server = TestServer::with(&[
        ("EDGEAUTH_PORTAL", "true"),
        ("EDGEAUTH_PORTAL_URL", &portal),
        ("EDGEAUTH_SESSION_COOKIE_DOMAIN", "example.test"),
        ("EDGEAUTH_TRUSTED_PROXIES", "127.0.0.1/32"),
    ])
    .await;
    let app = app(portal.clone()).await;
    let caddy = Caddy::start(&readme_recipe("caddyfile"), listen, server.addr, app);
    // Caddy picks the site by Host; the requests go to its loopback port.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    let app_host = format!("app.example.test:{listen}");
    let get = |path: &str, accept: &str| {
        http.get(format!("http://127.0.0.1:{listen}{path}"))
            .header("host", &app_host)
            .header("accept", accept)
    };
    let page = "/private/page?x=1&y=two";
    let original = format!("http://{app_host}{page}");

    let r = server.send(get(page, "text/html,*/*;q=0.8")).await;
    assert_eq!(
        r.status,
        302,
        "a navigation, signed out: {}\n{}",
        r.text,
        caddy.log()
    );
    let location = r.header("location").expect("Location");
    let sign_in = url::Url::parse(&location).expect("an absolute sign-in URL");
    assert_eq!(sign_in.origin().ascii_serialization(), portal, "{location}");
    assert_eq!(sign_in.path(), "/auth/ui/login", "{location}");
    let rd = sign_in
        .query_pairs()
        .find(|(k, _)| k == "rd")
        .map(|(_, v)| v.into_owned());
    assert_eq!(rd.as_deref(), Some(original.as_str()), "{location}");

    let r = server.send(get(page, "application/json")).await;
    assert_eq!(r.status, 401, "an API call, signed out: {}", r.text);

    let email = "caddy@example.com";
    let (jwt, _) = server.signed_in(email).await;
    let user = crate::support::jwt::sub(&jwt);
    let r = server
        .send(
            get(page, "text/html")
                .bearer_auth(&jwt)
                .header("x-auth-user-id", "forged")
                .header("x-auth-email", "forged@example.com"),
        )
        .await;
    assert_eq!(r.status, 200, "signed in: {}\n{}", r.text, caddy.log());
    assert!(
        r.text.contains(&format!(r#"<dd id="user">{user}</dd>"#)),
        "the app saw: {}",
        r.text
    );
    assert!(
        r.text.contains(&format!(r#"<dd id="email">{email}</dd>"#)),
        "the app saw: {}",
        r.text
    );
    assert!(
        r.text
            .contains(r#"<dd id="path">/private/page?x=1&amp;y=two</dd>"#),
        "the app saw: {}",
        r.text
    );

    let r = server
        .send(get("/admin/panel", "text/html").bearer_auth(&jwt))
        .await;
    assert_eq!(
        r.status, 403,
        "the MFA-only path, password only: {}",
        r.text
    );

    let r = server
        .send(
            http.get(format!("http://127.0.0.1:{listen}/.well-known/jwks.json"))
                .header("host", format!("auth.example.test:{listen}")),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "the portal host reaches edgeauth: {}",
        r.text
    );
}
