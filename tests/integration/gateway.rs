//! A real gateway in front of `/auth/verify`: Debian's `nginx` with
//! `auth_request` (`support/nginx.rs`: its own config in a temp dir, free
//! loopback ports, no root), run in the foreground and killed on drop.
//!
//! The protected location asks edgeauth, takes `X-Auth-User-Id` from its
//! answer and passes it to a tiny upstream (a second server block that
//! echoes the header), the way the README's nginx config does.

use std::net::SocketAddr;

use serde_json::json;

use crate::support::jwt::sub as subject;
use crate::support::nginx::Nginx;
use crate::support::{Reply, TestServer};

/// The gateway's server blocks: port `port` protects `/app/` with
/// `auth_request` against edgeauth at `auth`; port `upstream` is the
/// protected app, which echoes the identity headers it was given.
fn servers(port: u16, upstream: u16, auth: SocketAddr) -> String {
    format!(
        r#"    server {{
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
    }}"#
    )
}

/// nginx guarding `/app/` on its own port.
struct Gateway {
    nginx: Nginx,
    port: u16,
}

impl Gateway {
    fn start(auth: SocketAddr) -> Gateway {
        let port = edgeauth::dev::free_port().expect("free port");
        let upstream = edgeauth::dev::free_port().expect("free port");
        let nginx = Nginx::start(&servers(port, upstream, auth), &[port, upstream]);
        Gateway { nginx, port }
    }

    fn error_log(&self) -> String {
        self.nginx.error_log()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
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
    let nginx = Gateway::start(server.addr);
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
