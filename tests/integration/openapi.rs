//! `openapi.yaml` stays true to the router: every (method, path) the router
//! serves is documented, on the right listener, and nothing else is; and
//! what a live server answers to a few cheap probes of each operation is
//! among the statuses the document lists for it.
//!
//! The document is read with a line scan, not a YAML parser, so it must
//! keep the block style it is written in: a path is a line `  /…:` under
//! `paths:`, an operation a line `    get:` under it, a path's listeners its
//! `    servers:` list of `      - url: …` (else the top-level ones), and an
//! operation's statuses lines `        '204':` under `      responses:`.

use std::collections::{BTreeMap, BTreeSet};

use edgeauth::router::{Listener, ROUTES, resolve};
use hyper::Method;
use reqwest::header::CONTENT_TYPE;

use crate::support::TestServer;

const DOCUMENT: &str = include_str!("../../openapi.yaml");

/// The server URLs the document uses for the two listeners.
const PUBLIC_URL: &str = "http://localhost:8080";
const ADMIN_URL: &str = "http://localhost:9090";

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// One documented operation.
#[derive(Debug)]
struct Operation {
    listeners: BTreeSet<&'static str>,
    statuses: BTreeSet<u16>,
}

/// (METHOD, path) → operation, as the document says.
type Documented = BTreeMap<(String, String), Operation>;

fn listener_name(url: &str) -> &'static str {
    match url {
        PUBLIC_URL => "public",
        ADMIN_URL => "admin",
        other => {
            panic!("openapi.yaml: server url {other:?} is neither {PUBLIC_URL} nor {ADMIN_URL}")
        }
    }
}

/// The value of a `key: value` line, without quotes.
fn value_of<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let rest = line.trim_start().strip_prefix(key)?.strip_prefix(':')?;
    Some(rest.trim().trim_matches(|c| c == '\'' || c == '"'))
}

fn parse(document: &str) -> Documented {
    let mut top_servers = BTreeSet::new();
    let mut in_top_servers = false;
    let mut in_paths = false;
    // Per path: its servers (if any) and operations, finished at the next path.
    let mut path: Option<String> = None;
    let mut path_servers: BTreeSet<&'static str> = BTreeSet::new();
    let mut in_path_servers = false;
    let mut operations: Vec<(String, BTreeSet<u16>)> = Vec::new();
    let mut in_responses = false;
    let mut raw: Vec<(String, String, BTreeSet<&'static str>, BTreeSet<u16>)> = Vec::new();

    let mut flush = |path: &mut Option<String>,
                     servers: &mut BTreeSet<&'static str>,
                     operations: &mut Vec<(String, BTreeSet<u16>)>| {
        if let Some(p) = path.take() {
            assert!(!operations.is_empty(), "openapi.yaml: {p} has no operation");
            for (method, statuses) in operations.drain(..) {
                raw.push((method, p.clone(), servers.clone(), statuses));
            }
        }
        servers.clear();
    };

    for line in document.lines() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if indent == 0 {
            flush(&mut path, &mut path_servers, &mut operations);
            in_paths = line == "paths:";
            in_top_servers = line == "servers:";
            continue;
        }
        if in_top_servers {
            if let Some(url) = value_of(line.trim_start().trim_start_matches("- "), "url") {
                top_servers.insert(listener_name(url));
            }
            continue;
        }
        if !in_paths {
            continue;
        }
        match indent {
            2 => {
                flush(&mut path, &mut path_servers, &mut operations);
                let key = line.trim().strip_suffix(':').unwrap_or_else(|| {
                    panic!("openapi.yaml: expected a path key under paths:, got {line:?}")
                });
                assert!(key.starts_with('/'), "openapi.yaml: path {key:?}");
                path = Some(key.to_owned());
                in_path_servers = false;
            }
            4 => {
                let key = line.trim().trim_end_matches(':');
                in_path_servers = key == "servers";
                in_responses = false;
                if METHODS.contains(&key) {
                    operations.push((key.to_ascii_uppercase(), BTreeSet::new()));
                }
            }
            6 if in_path_servers => {
                if let Some(url) = value_of(line.trim_start().trim_start_matches("- "), "url") {
                    path_servers.insert(listener_name(url));
                }
            }
            6 => in_responses = line.trim() == "responses:",
            8 if in_responses => {
                let key = line.trim().split(':').next().unwrap_or("");
                let status = key.trim_matches('\'');
                if let (Ok(status), Some((_, statuses))) =
                    (status.parse::<u16>(), operations.last_mut())
                {
                    statuses.insert(status);
                }
            }
            _ => {}
        }
    }
    flush(&mut path, &mut path_servers, &mut operations);
    assert!(
        !top_servers.is_empty(),
        "openapi.yaml: no top-level servers"
    );

    let mut documented = Documented::new();
    for (method, path, servers, statuses) in raw {
        let listeners = if servers.is_empty() {
            top_servers.clone()
        } else {
            servers
        };
        assert!(
            !statuses.is_empty(),
            "openapi.yaml: {method} {path} lists no responses"
        );
        let previous = documented.insert(
            (method.clone(), path.clone()),
            Operation {
                listeners,
                statuses,
            },
        );
        assert!(previous.is_none(), "openapi.yaml: {method} {path} twice");
    }
    documented
}

/// (METHOD, path) → listeners, as the router serves them.
fn routed() -> BTreeMap<(String, String), BTreeSet<&'static str>> {
    let mut routes: BTreeMap<(String, String), BTreeSet<&'static str>> = BTreeMap::new();
    for route in ROUTES.iter().map(|s| s.route) {
        for method in route.allow().split(", ") {
            let parsed = Method::from_bytes(method.as_bytes()).expect("method");
            for (listener, name) in [(Listener::Public, "public"), (Listener::Admin, "admin")] {
                if resolve(listener, &parsed, route.template()).ok() == Some(route) {
                    routes
                        .entry((method.to_owned(), route.template().to_owned()))
                        .or_default()
                        .insert(name);
                }
            }
        }
    }
    routes
}

#[test]
fn every_route_is_documented_and_nothing_else() {
    let documented = parse(DOCUMENT);
    let routed = routed();
    assert!(routed.len() > 20, "the router walk found only {routed:?}");

    let missing: Vec<_> = routed
        .keys()
        .filter(|k| !documented.contains_key(*k))
        .collect();
    assert!(
        missing.is_empty(),
        "routed but not in openapi.yaml: {missing:?}"
    );
    let extra: Vec<_> = documented
        .keys()
        .filter(|k| !routed.contains_key(*k))
        .collect();
    assert!(
        extra.is_empty(),
        "in openapi.yaml but not routed (or missing from router::ROUTES): {extra:?}"
    );
    for (key, listeners) in &routed {
        assert_eq!(
            &documented[key].listeners, listeners,
            "{key:?}: listeners in openapi.yaml vs the router"
        );
    }
}

#[test]
fn line_scan_reads_paths_methods_servers_and_statuses() {
    let document = "\
openapi: 3.1.0
servers:
  - url: http://localhost:8080
paths:
  /a:
    post:
      responses:
        '204': {$ref: x}
        '400':
          description: bad
  /b:
    servers:
      - url: http://localhost:9090
    get:
      responses:
        '200': {$ref: y}
    head:
      responses:
        '200': {$ref: y}
components:
  responses:
    X:
      description: not a path
";
    let parsed = parse(document);
    let keys: Vec<_> = parsed.keys().cloned().collect();
    let key = |m: &str, p: &str| (m.to_owned(), p.to_owned());
    assert_eq!(
        keys,
        [key("GET", "/b"), key("HEAD", "/b"), key("POST", "/a")]
    );
    let a = &parsed[&key("POST", "/a")];
    assert_eq!(a.statuses, BTreeSet::from([204, 400]));
    assert_eq!(a.listeners, BTreeSet::from(["public"]));
    assert_eq!(
        parsed[&key("HEAD", "/b")].listeners,
        BTreeSet::from(["admin"])
    );
}

/// Cheap probes of every documented operation (no credentials, an empty
/// JSON object, a body of the wrong type, a body that is too large): each
/// answer's status must be one the document lists for that operation, and
/// an error answer must use a code from the document's `ErrorCode` enum.
#[tokio::test]
async fn live_answers_are_documented() {
    let documented = parse(DOCUMENT);
    let codes = error_codes(DOCUMENT);
    let server = TestServer::start().await;
    let large = "x".repeat(17 * 1024);
    for ((method, path), operation) in &documented {
        let base = if operation.listeners.contains("public") {
            server.url(path)
        } else {
            server.admin_url(path)
        };
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let probes = [
            ("{}", "application/json"),
            ("not json", "text/plain"),
            (large.as_str(), "application/json"),
        ];
        for (body, content_type) in probes {
            let r = server
                .send(
                    server
                        .http
                        .request(method.clone(), &base)
                        .header(CONTENT_TYPE, content_type)
                        .body(body.to_owned()),
                )
                .await;
            assert!(
                operation.statuses.contains(&r.status),
                "{method} {path} with a {content_type} body of {} bytes answered {} \
                 (documented: {:?}): {}",
                body.len(),
                r.status,
                operation.statuses,
                r.text
            );
            assert!(r.header("x-request-id").is_some(), "{method} {path}");
            if r.status >= 400 && method != reqwest::Method::HEAD {
                let code = r.error();
                assert!(codes.contains(&code), "{method} {path}: code {code}");
            }
        }
    }
}

/// The `ErrorCode` enum of the document.
fn error_codes(document: &str) -> BTreeSet<String> {
    let mut lines = document.lines().skip_while(|l| l.trim() != "ErrorCode:");
    let codes: BTreeSet<String> = lines
        .by_ref()
        .skip_while(|l| l.trim() != "enum:")
        .skip(1)
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim_start().trim_start_matches("- ").to_owned())
        .collect();
    assert!(codes.len() >= 20, "ErrorCode enum not found: {codes:?}");
    codes
}
