//! A real gateway in front of `/auth/verify`: Debian's `nginx` with
//! `auth_request`, its own generated config in a temp dir (free loopback
//! ports; pid, logs and temp paths inside the dir, so it needs no root),
//! run in the foreground as a child and killed by PID on drop.
//!
//! The protected location asks edgeauth, takes `X-Auth-User-Id` from its
//! answer and passes it to a tiny upstream (a second server block that
//! echoes the header), the way the README's nginx config does.

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::support::jwt::sub as subject;
use crate::support::{Reply, TempDir, TestServer};

/// An `nginx` child with its own prefix directory.
struct Nginx {
    child: Child,
    port: u16,
    dir: TempDir,
}

/// `nginx` on PATH, else where Debian puts it (`/usr/sbin` is not on a
/// normal user's PATH).
fn nginx_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nginx"))
            .find(|candidate| candidate.is_file())
    });
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nginx"))
}

/// The gateway config: port `port` protects `/app/` with `auth_request`
/// against edgeauth at `auth`; port `upstream` is the protected app, which
/// echoes the identity headers it was given.
fn config(dir: &Path, port: u16, upstream: u16, auth: SocketAddr) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{
    worker_connections 64;
}}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/client_body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;

    server {{
        listen 127.0.0.1:{port};

        location = /_verify {{
            internal;
            proxy_pass http://{auth}/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
        }}

        location /app/ {{
            auth_request /_verify;
            auth_request_set $auth_user $upstream_http_x_auth_user_id;
            auth_request_set $auth_session $upstream_http_x_auth_session_id;
            # Set, not appended: a client's own X-Auth-User-Id never passes.
            proxy_set_header X-Auth-User-Id $auth_user;
            proxy_set_header X-Auth-Session-Id $auth_session;
            proxy_pass http://127.0.0.1:{upstream};
        }}
    }}

    server {{
        listen 127.0.0.1:{upstream};
        default_type text/plain;
        location / {{
            return 200 "user=$http_x_auth_user_id session=$http_x_auth_session_id";
        }}
    }}
}}
"#
    )
}

impl Nginx {
    fn start(auth: SocketAddr) -> Nginx {
        let dir = TempDir::new();
        let port = edgeauth::dev::free_port().expect("free port");
        let upstream = edgeauth::dev::free_port().expect("free port");
        let conf = dir.write("nginx.conf", &config(&dir.0, port, upstream, auth));
        let binary = nginx_binary();
        let child = Command::new(&binary)
            .arg("-p")
            .arg(&dir.0)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.0.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start nginx ({}: {e}); the gateway test needs it: \
                     sudo apt-get install -y nginx (or scripts/ensure-deps --test, \
                     which .ci/run runs)",
                    binary.display()
                )
            });
        let mut nginx = Nginx { child, port, dir };
        nginx.wait_until_listening(&[port, upstream]);
        nginx
    }

    fn wait_until_listening(&mut self, ports: &[u16]) {
        for _ in 0..200 {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nginx exited ({status}):\n{}", self.error_log());
            }
            let up = ports
                .iter()
                .all(|p| TcpStream::connect(("127.0.0.1", *p)).is_ok());
            if up {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("nginx did not listen within 5 s:\n{}", self.error_log());
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.0.join("error.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // `Child::kill` signals this PID only; with `master_process off`
        // there are no worker processes to leave behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `sub` claim of a JWT (the account id), read without verifying.
async fn get(server: &TestServer, url: &str, token: Option<&str>) -> Reply {
    let mut request = server.http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    server.send(request).await
}

#[tokio::test]
async fn nginx_auth_request_guards_a_location_until_revoke() {
    let server = TestServer::start().await;
    let nginx = Nginx::start(server.addr);
    let page = nginx.url("/app/page");

    let r = get(&server, &page, None).await;
    assert_eq!(r.status, 401, "no token: {}", r.text);
    let r = get(&server, &page, Some("not.a.jwt")).await;
    assert_eq!(r.status, 401, "garbage token: {}", r.text);

    let (jwt, _refresh) = server.signed_in("gateway@example.com").await;
    let user = subject(&jwt);
    let r = server
        .send(
            server
                .http
                .get(&page)
                .bearer_auth(&jwt)
                .header("x-auth-user-id", "forged"),
        )
        .await;
    assert_eq!(
        r.status,
        200,
        "fresh JWT: {}\n{}",
        r.text,
        nginx.error_log()
    );
    assert!(
        r.text.starts_with(&format!("user={user} session=")),
        "upstream saw: {}",
        r.text
    );
    let session = r.text.rsplit("session=").next().unwrap_or("");
    assert_eq!(session.len(), 36, "session id upstream: {}", r.text);

    // nginx's auth subrequest is a GET without the body, whatever the
    // client's method: a POST with a JSON body is checked the same way.
    let r = server
        .send(
            server
                .http
                .post(&page)
                .bearer_auth(&jwt)
                .json(&json!({"order": 1})),
        )
        .await;
    assert_eq!(r.status, 200, "POST with a fresh JWT: {}", r.text);
    assert!(r.text.starts_with(&format!("user={user} ")), "{}", r.text);

    let r = server
        .post_bearer("/auth/token/revoke", &jwt, json!({}))
        .await;
    assert_eq!(r.status, 204, "revoke: {}", r.text);
    let r = get(&server, &page, Some(&jwt)).await;
    assert_eq!(r.status, 401, "revoked JWT: {}", r.text);
}
