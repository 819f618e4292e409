//! HTTP plumbing shared by every handler: the buffered request handed to
//! handlers, body limits and JSON decoding (HTML form bodies on the portal's
//! paths), credential extraction
//! (Bearer header, refresh cookie), client IP, and response builders.
//!
//! Knows nothing of Redis or tokens; failures are `error::Error` values.

use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderMap, HeaderValue, ORIGIN,
};
use hyper::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::IpNet;
use crate::error::{ApiResult, Error};

/// Every response edgeauth sends has a fully buffered body.
pub type Response = hyper::Response<Full<Bytes>>;

/// Largest request body accepted (16 KiB).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// A request whose body has been read (within [`MAX_BODY_BYTES`]).
#[derive(Debug)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub peer: SocketAddr,
}

impl Request {
    /// Reads the body of an incoming request, refusing more than 16 KiB
    /// before reading it when the length is declared, and while reading
    /// when it is not.
    pub async fn read(req: hyper::Request<Incoming>, peer: SocketAddr) -> ApiResult<Request> {
        let (parts, body) = req.into_parts();
        let declared = parts
            .headers
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(Error::PayloadTooLarge);
        }
        let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                return Err(Error::PayloadTooLarge);
            }
            Err(e) => {
                return Err(Error::invalid_request(format!(
                    "Could not read the body: {e}"
                )));
            }
        };
        let request = Request {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
            peer,
        };
        // A POST body must be declared JSON, also on endpoints that
        // never read it (remove, revoke, logout with a cookie), so a request
        // the client did not mean as JSON is refused before it acts. GET and
        // HEAD bodies carry no meaning and are ignored: gateways may forward
        // the original request's body to /auth/verify.
        // The sign-in portal's pages (`/auth/ui/`) take HTML forms instead:
        // `application/x-www-form-urlencoded`, and only that.
        let body_expected = request.method != Method::GET && request.method != Method::HEAD;
        if body_expected && request.has_body() {
            let content_type = request.headers.get(CONTENT_TYPE);
            let declared = if request.path.starts_with(FORM_PATH_PREFIX) {
                is_form_content_type(content_type)
            } else {
                is_json_content_type(content_type)
            };
            if !declared {
                return Err(Error::UnsupportedMediaType);
            }
        }
        Ok(request)
    }

    fn has_body(&self) -> bool {
        !self.body.iter().all(u8::is_ascii_whitespace)
    }

    /// Decodes a JSON object body into `T` (unknown fields ignored).
    pub fn json<T: DeserializeOwned>(&self) -> ApiResult<T> {
        self.optional_json()?
            .ok_or_else(|| Error::invalid_request("A JSON object body is required."))
    }

    /// Like [`Request::json`], but an empty body is `None` (endpoints whose
    /// body is optional, such as refresh with a cookie).
    pub fn optional_json<T: DeserializeOwned>(&self) -> ApiResult<Option<T>> {
        if !self.has_body() {
            return Ok(None);
        }
        if !is_json_content_type(self.headers.get(CONTENT_TYPE)) {
            return Err(Error::UnsupportedMediaType);
        }
        // serde accepts a JSON array for a struct; the spec wants objects only.
        let first = self.body.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            return Err(Error::invalid_request("The body must be a JSON object."));
        }
        // RFC 8259 §8.1: JSON text is UTF-8. serde_json checks the strings it
        // decodes but skips the members it ignores (unknown fields) unchecked,
        // so the whole body is checked here (found by the json_body fuzz target).
        let text = std::str::from_utf8(&self.body)
            .map_err(|_| Error::invalid_request("The body is not valid UTF-8."))?;
        serde_json::from_str(text)
            .map(Some)
            .map_err(|e| Error::invalid_request(format!("Invalid JSON body: {e}")))
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.headers.get(AUTHORIZATION)?.to_str().ok()?;
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }

    /// The value of the first cookie called `name`, across every `Cookie` header.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(cookie::Cookie::split_parse)
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }

    /// Whether a request that authenticates with a cookie (the refresh
    /// cookie on refresh and logout) may act, so another site cannot make a
    /// browser send it (cross-site request forgery). Refused:
    /// - a `Content-Type` other than `application/json`: the types an HTML
    ///   form or a CORS-free `fetch` can send (`application/x-www-form-urlencoded`,
    ///   `multipart/form-data`, `text/plain`); no `Content-Type` at all is
    ///   fine, as simple clients send;
    /// - unless its `Origin` is one of `allowed_origins` (exact): a request
    ///   the browser marks `Sec-Fetch-Site` other than `same-origin` (or
    ///   `none`, typed by the user), or, from a browser too old to send that,
    ///   an `Origin` that is not this server's own (its host and port equal
    ///   `Host`, or `X-Forwarded-Host` set by a trusted proxy — a gateway
    ///   commonly rewrites `Host`).
    ///
    /// Clients that are not browsers send neither header and pass: forging
    /// a request needs a victim's browser, and browsers send them.
    pub fn cookie_request_allowed(&self, allowed_origins: &[String], trusted: &[IpNet]) -> bool {
        let content_type_ok = self
            .headers
            .get(CONTENT_TYPE)
            .is_none_or(|v| is_json_content_type(Some(v)));
        if !content_type_ok {
            return false;
        }
        let origin = self.headers.get(ORIGIN);
        if origin.is_some_and(|o| allowed_origins.iter().any(|a| a.as_bytes() == o.as_bytes())) {
            return true;
        }
        match (self.headers.get("sec-fetch-site"), origin) {
            (Some(site), _) => matches!(site.as_bytes(), b"same-origin" | b"none"),
            (None, Some(origin)) => self.is_own_origin(origin, trusted),
            (None, None) => true,
        }
    }

    /// Whether `origin` (`scheme://host[:port]`) names the host the request
    /// was sent to: `Host`, or the `X-Forwarded-Host` a trusted proxy set.
    /// The scheme is not compared: behind a TLS-terminating proxy this
    /// server cannot know it.
    pub fn is_own_origin(&self, origin: &HeaderValue, trusted: &[IpNet]) -> bool {
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let Some((scheme, authority)) = origin.split_once("://") else {
            return false;
        };
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "https" => ":443",
            "http" => ":80",
            _ => return false,
        };
        let strip = |a: &str| {
            a.trim()
                .strip_suffix(default_port)
                .unwrap_or(a.trim())
                .to_ascii_lowercase()
        };
        let peer = self.peer.ip().to_canonical();
        let forwarded_host = trusted
            .iter()
            .any(|net| net.contains(peer))
            .then(|| self.header_str("x-forwarded-host"))
            .flatten()
            .and_then(|hosts| hosts.split(',').next());
        !authority.is_empty()
            && [self.header_str("host"), forwarded_host]
                .into_iter()
                .flatten()
                .any(|host| strip(authority) == strip(host))
    }

    pub fn header_str(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The client's address: the peer, or — when the peer is a trusted
    /// proxy — the right-most `X-Forwarded-For` hop that is not itself a
    /// trusted proxy (left-most hops are written by the client and can lie).
    ///
    /// Hops may carry a port (`203.0.113.5:41234`, `[2001:db8::1]:443`).
    /// Walking from the right, a hop that does not parse (`unknown`, an
    /// obfuscated name, garbage) ends the walk: the nearest trusted proxy
    /// seen so far is taken as the client. Skipping it instead would hand
    /// the choice to whatever the client wrote further left.
    pub fn client_ip(&self, trusted: &[IpNet]) -> IpAddr {
        let peer = self.peer.ip().to_canonical();
        let is_trusted = |ip: IpAddr| trusted.iter().any(|net| net.contains(ip));
        if !is_trusted(peer) {
            return peer;
        }
        let hops: Vec<&str> = self
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .flat_map(|v| v.split(','))
            .collect();
        let mut nearest_trusted = peer;
        for hop in hops.into_iter().rev() {
            match parse_forwarded_hop(hop) {
                Some(ip) if is_trusted(ip) => nearest_trusted = ip,
                Some(ip) => return ip,
                None => return nearest_trusted,
            }
        }
        nearest_trusted
    }
}

/// One `X-Forwarded-For` hop: `1.2.3.4`, `1.2.3.4:port`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:port`, around optional spaces;
/// IPv4-mapped IPv6 addresses come out as IPv4.
pub fn parse_forwarded_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = match (hop.parse::<IpAddr>(), hop.parse::<SocketAddr>()) {
        (Ok(ip), _) => ip,
        (_, Ok(socket)) => socket.ip(),
        _ => {
            let bracketed = hop.strip_prefix('[')?.strip_suffix(']')?;
            IpAddr::V6(bracketed.parse().ok()?)
        }
    };
    Some(ip.to_canonical())
}

/// The subject of per-IP rate limits for a client address: an IPv4
/// address as itself, an IPv6 address as its network of `v6_prefix` bits
/// (`2001:db8:1:2::/64`), since one host is commonly handed a whole /64 and
/// could otherwise take a fresh budget with every address of it.
/// IPv4-mapped IPv6 addresses count as IPv4.
pub fn rate_subject(ip: IpAddr, v6_prefix: u8) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = v6_prefix.clamp(1, 128);
            let mask = u128::MAX << (128 - u32::from(prefix));
            let network = std::net::Ipv6Addr::from(u128::from(v6) & mask);
            format!("{network}/{prefix}")
        }
    }
}

/// The paths whose POST bodies are HTML forms (the sign-in portal).
pub const FORM_PATH_PREFIX: &str = "/auth/ui/";

/// `application/x-www-form-urlencoded`, parameters in any spacing.
pub fn is_form_content_type(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// `application/json`, parameters (e.g. `; charset=utf-8`) in any spacing.
pub fn is_json_content_type(value: Option<&HeaderValue>) -> bool {
    value
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    // Serializing our own response types cannot fail; an empty object is a
    // safe fallback that keeps this path free of panics.
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = hyper::Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

pub fn text_response(status: StatusCode, text: &'static str) -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

pub fn no_content() -> Response {
    let mut response = hyper::Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn json_content_types() {
        for (value, ok) in [
            ("application/json", true),
            ("application/json;charset=utf-8", true),
            ("Application/JSON ; charset=UTF-8", true),
            ("application/json ;", true),
            ("text/plain", false),
            ("application/jsonx", false),
            ("application/x-www-form-urlencoded", false),
            ("", false),
        ] {
            let header = HeaderValue::from_str(value).unwrap();
            assert_eq!(is_json_content_type(Some(&header)), ok, "{value}");
        }
        assert!(!is_json_content_type(None));
    }

    fn request_with(headers: &[(&str, &str)], peer: &str) -> Request {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.append(
                hyper::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Request {
            method: Method::POST,
            path: "/".into(),
            query: None,
            headers: map,
            body: Bytes::new(),
            peer: peer.parse().unwrap(),
        }
    }

    #[test]
    fn forwarded_for_only_from_trusted_peers() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoofed = request_with(&[("x-forwarded-for", "1.2.3.4")], "203.0.113.9:5000");
        assert_eq!(spoofed.client_ip(&trusted).to_string(), "203.0.113.9");
        let proxied = request_with(
            &[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.2")],
            "10.0.0.1:5000",
        );
        assert_eq!(proxied.client_ip(&trusted).to_string(), "198.51.100.7");
    }

    #[test]
    fn forwarded_hops_with_ports_and_unparsable_hops() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        for (xff, client) in [
            ("6.6.6.6, 203.0.113.5:41234", "203.0.113.5"),
            ("6.6.6.6, [2001:db8::1]:443", "2001:db8::1"),
            ("6.6.6.6, [2001:db8::1]", "2001:db8::1"),
            ("6.6.6.6, 2001:db8::1", "2001:db8::1"),
            ("6.6.6.6, ::ffff:198.51.100.7", "198.51.100.7"),
            ("6.6.6.6, 198.51.100.7, 10.0.0.2:80", "198.51.100.7"),
            // Unparsable: the nearest trusted proxy is the client, never 6.6.6.6.
            ("6.6.6.6, unknown", "10.0.0.1"),
            ("6.6.6.6, unknown, 10.0.0.2", "10.0.0.2"),
            ("6.6.6.6, 203.0.113.5:99999", "10.0.0.1"),
            ("6.6.6.6, 203.0.113.5:", "10.0.0.1"),
            ("6.6.6.6, [2001:db8::1]x", "10.0.0.1"),
            ("6.6.6.6, _hidden", "10.0.0.1"),
            ("6.6.6.6,", "10.0.0.1"),
            ("", "10.0.0.1"),
        ] {
            let r = request_with(&[("x-forwarded-for", xff)], "10.0.0.1:5000");
            assert_eq!(r.client_ip(&trusted).to_string(), client, "{xff:?}");
        }
        // Two headers read as one list, in order.
        let r = request_with(
            &[
                ("x-forwarded-for", "6.6.6.6"),
                ("x-forwarded-for", "unknown, 10.0.0.3"),
            ],
            "10.0.0.1:5000",
        );
        assert_eq!(r.client_ip(&trusted).to_string(), "10.0.0.3");
    }

    #[test]
    fn ipv6_rate_subjects_are_networks() {
        let subject = |ip: &str, prefix| rate_subject(ip.parse().unwrap(), prefix);
        assert_eq!(subject("203.0.113.5", 64), "203.0.113.5");
        assert_eq!(subject("::ffff:203.0.113.5", 64), "203.0.113.5");
        assert_eq!(subject("2001:db8:1:2:aaaa::1", 64), "2001:db8:1:2::/64");
        assert_eq!(subject("2001:db8:1:2:ffff::9", 64), "2001:db8:1:2::/64");
        assert_eq!(subject("2001:db8:1:3::1", 64), "2001:db8:1:3::/64");
        assert_eq!(subject("2001:db8:1:2:aaaa::1", 48), "2001:db8:1::/48");
        assert_eq!(
            subject("2001:db8:1:2:aaaa::1", 128),
            "2001:db8:1:2:aaaa::1/128"
        );
        assert_eq!(subject("2001:db8::1", 1), "::/1");
    }

    #[test]
    fn cookie_requests_from_other_sites_are_refused() {
        let allowed = vec!["https://app.example".to_owned()];
        for (headers, ok) in [
            (vec![], true),
            (vec![("content-type", "application/json")], true),
            (
                vec![("content-type", "Application/JSON; charset=utf-8")],
                true,
            ),
            (
                vec![("content-type", "application/x-www-form-urlencoded")],
                false,
            ),
            (
                vec![("content-type", "multipart/form-data; boundary=x")],
                false,
            ),
            (vec![("content-type", "text/plain")], false),
            (vec![("origin", "https://app.example")], true),
            (vec![("origin", "https://auth.example")], true),
            (vec![("origin", "http://auth.example:80")], true),
            (vec![("origin", "https://AUTH.example:443")], true),
            (vec![("origin", "https://auth.example:8443")], false),
            (vec![("origin", "https://evil.example")], false),
            (vec![("origin", "null")], false),
            (vec![("origin", "https://app.example.evil")], false),
            (
                vec![
                    ("origin", "https://app.example"),
                    ("content-type", "text/plain"),
                ],
                false,
            ),
        ] {
            let mut all = headers.clone();
            all.push(("host", "auth.example"));
            let r = request_with(&all, "127.0.0.1:1");
            assert_eq!(r.cookie_request_allowed(&allowed, &[]), ok, "{headers:?}");
        }
        let no_host = request_with(&[("origin", "https://auth.example")], "127.0.0.1:1");
        assert!(!no_host.cookie_request_allowed(&allowed, &[]));
        // Fetch metadata decides when a browser sends it (a gateway may have
        // rewritten Host); an allowed origin passes whatever it says.
        for (site, origin, ok) in [
            ("same-origin", "https://www.example", true),
            ("none", "https://www.example", true),
            ("same-site", "https://evil.auth.example", false),
            ("cross-site", "https://auth.example", false),
            ("cross-site", "https://app.example", true),
        ] {
            let r = request_with(
                &[
                    ("host", "upstream"),
                    ("sec-fetch-site", site),
                    ("origin", origin),
                ],
                "127.0.0.1:1",
            );
            assert_eq!(
                r.cookie_request_allowed(&allowed, &[]),
                ok,
                "{site} {origin}"
            );
        }
        // X-Forwarded-Host names this server only when a trusted proxy set it.
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let forwarded = [
            ("host", "upstream"),
            ("x-forwarded-host", "www.example"),
            ("origin", "https://www.example"),
        ];
        assert!(request_with(&forwarded, "10.0.0.1:1").cookie_request_allowed(&[], &trusted));
        assert!(!request_with(&forwarded, "192.0.2.1:1").cookie_request_allowed(&[], &trusted));
    }

    #[test]
    fn invalid_utf8_is_refused_even_in_an_ignored_member() {
        #[derive(serde::Deserialize)]
        struct Body {
            #[allow(dead_code)]
            email: String,
        }
        let mut r = request_with(&[("content-type", "application/json")], "127.0.0.1:1");
        r.body = Bytes::from_static(b"{\"email\":\"a@b.example\",\"x\":\"\x8e\"}");
        assert!(r.json::<Body>().is_err());
        r.body = Bytes::from_static(b"{\"email\":\"a@b.example\",\"x\":\"\xc3\xa9\"}");
        assert!(r.json::<Body>().is_ok());
    }

    #[test]
    fn bearer_and_cookies() {
        let r = request_with(
            &[
                ("authorization", "bearer abc.def"),
                ("cookie", "a=1; refresh_token=xyz"),
                ("cookie", "refresh_token=later"),
            ],
            "127.0.0.1:1",
        );
        assert_eq!(r.bearer_token(), Some("abc.def"));
        assert_eq!(r.cookie("refresh_token").as_deref(), Some("xyz"));
        assert_eq!(r.cookie("missing"), None);
        let basic = request_with(&[("authorization", "Basic abc")], "127.0.0.1:1");
        assert_eq!(basic.bearer_token(), None);
    }
}
