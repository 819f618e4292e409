//! Where a browser may be sent after signing in, and the URL a gateway reports.
//!
//! Pure functions of their arguments: no I/O, no settings read here (callers pass
//! the allowed domains and the header values). A return URL (`rd`) comes from
//! the address bar, so it is hostile until proven otherwise: [`ReturnUrls::check`]
//! accepts only a plain absolute `https` URL (`http` when allowed) on one of the
//! allowed domains or a subdomain of one, and answers the URL as the WHATWG
//! parser (the `url` crate) serializes it, so a `Location` header carries the
//! canonical form. Anything unusual is refused before parsing — browsers and
//! parsers disagree on backslashes, stripped tabs and newlines, userinfo,
//! percent-encoded hosts and Unicode look-alikes, and each disagreement is an
//! open redirect. When in doubt, refuse.

use url::{Host, Url};

/// The longest return URL or reported URL considered, in bytes.
pub const MAX_LEN: usize = 2048;

/// The return URLs a sign-in may redirect to.
#[derive(Debug, Clone)]
pub struct ReturnUrls {
    /// Lowercase, without a leading or trailing dot, never empty.
    domains: Vec<String>,
    allow_http: bool,
}

impl ReturnUrls {
    /// `allowed_domains`: a host is allowed when it equals one of them or ends with
    /// `.` + one of them (compared lowercase; a leading dot is ignored, empty
    /// entries are dropped). `allow_http`: also accept `http` URLs (development).
    pub fn new(allowed_domains: &[String], allow_http: bool) -> ReturnUrls {
        let domains = allowed_domains
            .iter()
            .map(|d| {
                d.trim()
                    .trim_start_matches('.')
                    .trim_end_matches('.')
                    .to_ascii_lowercase()
            })
            .filter(|d| !d.is_empty())
            .collect();
        ReturnUrls {
            domains,
            allow_http,
        }
    }

    /// `Some(canonical URL)` when `rd` is safe to redirect to, else `None`.
    pub fn check(&self, rd: &str) -> Option<String> {
        let raw = RawUrl::split(rd)?;
        match raw.scheme {
            Scheme::Https => {}
            Scheme::Http if self.allow_http => {}
            Scheme::Http => return None,
        }
        let url = parse_consistent(rd, &raw)?;
        let allowed = match url.host() {
            Some(Host::Domain(host)) => is_plain_domain(host) && self.allows(host),
            // An IP address only when listed as such, exactly (a development
            // portal on 127.0.0.1); never as a "subdomain" of anything.
            Some(Host::Ipv4(ip)) => self.domains.iter().any(|d| *d == ip.to_string()),
            _ => false,
        };
        allowed.then(|| url.into())
    }

    fn allows(&self, host: &str) -> bool {
        self.domains.iter().any(|d| {
            host == d
                || host
                    .strip_suffix(d.as_str())
                    .is_some_and(|rest| rest.ends_with('.'))
        })
    }
}

/// The URL the browser asked for, as a gateway reports it: nginx's
/// `X-Original-URL`, or Traefik's and Caddy's `X-Forwarded-Proto`,
/// `X-Forwarded-Host` and `X-Forwarded-Uri` (all three needed). Callers pass
/// `None` for headers from peers that are not trusted proxies.
/// `X-Original-URL`, when given, is the only source looked at. `Some` only for
/// a well-formed absolute `http`/`https` URL with a host and no userinfo.
pub fn original_url(
    x_original_url: Option<&str>,
    proto: Option<&str>,
    host: Option<&str>,
    uri: Option<&str>,
) -> Option<String> {
    if let Some(original) = x_original_url {
        let raw = RawUrl::split(original)?;
        return parse_consistent(original, &raw).map(String::from);
    }
    let (proto, host, uri) = (proto?, host?, uri?);
    let proto = if proto.eq_ignore_ascii_case("https") {
        "https"
    } else if proto.eq_ignore_ascii_case("http") {
        "http"
    } else {
        return None;
    };
    // The path and query must not reopen the authority (`//host`) nor carry
    // what `RawUrl` refuses anywhere.
    if !uri.starts_with('/') || uri.starts_with("//") || host.is_empty() {
        return None;
    }
    let joined = format!("{proto}://{host}{uri}");
    let raw = RawUrl::split(&joined)?;
    if raw.authority != host {
        return None;
    }
    parse_consistent(&joined, &raw).map(String::from)
}

/// The portal's sign-in page: `<portal_url>/auth/ui/login`, with `?rd=<rd>`
/// (form-encoded, so `&`, `#`, `?` and `%` in `rd` survive) when given.
pub fn sign_in_url(portal_url: &str, rd: Option<&str>) -> String {
    let mut out = format!("{}/auth/ui/login", portal_url.trim_end_matches('/'));
    if let Some(rd) = rd {
        out.push_str("?rd=");
        out.extend(url::form_urlencoded::byte_serialize(rd.as_bytes()));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

/// What the input says before any parser interprets it.
struct RawUrl<'a> {
    scheme: Scheme,
    /// Between `://` and the first `/`, `?` or `#`: `host` or `host:port`.
    authority: &'a str,
    /// The host part of `authority`, as written.
    host: &'a str,
    port: Option<&'a str>,
}

impl<'a> RawUrl<'a> {
    /// The strict pre-check: printable ASCII only (no space, tab, CR, LF, NUL,
    /// nothing above 0x7E), no backslash anywhere, `http://` or `https://`
    /// (any case) and then an authority made only of letters, digits, `-`,
    /// `.` and an optional `:port` — so no userinfo (`@`), no percent-encoding,
    /// no IPv6 literal and no empty host.
    fn split(input: &'a str) -> Option<RawUrl<'a>> {
        if input.is_empty() || input.len() > MAX_LEN {
            return None;
        }
        if !input
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b'\\')
        {
            return None;
        }
        let (scheme, rest) = if let Some(rest) = strip_prefix_ignore_case(input, "https://") {
            (Scheme::Https, rest)
        } else if let Some(rest) = strip_prefix_ignore_case(input, "http://") {
            (Scheme::Http, rest)
        } else {
            return None;
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let authority = &rest[..end];
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let host_ok = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        let port_ok = port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
        if !host_ok || !port_ok {
            return None;
        }
        Some(RawUrl {
            scheme,
            authority,
            host,
            port,
        })
    }
}

fn strip_prefix_ignore_case<'a>(input: &'a str, prefix: &str) -> Option<&'a str> {
    let head = input.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &input[prefix.len()..])
}

/// Parses `input` (already through [`RawUrl::split`]) and keeps the result only
/// when the parser saw what the pre-check saw: the same scheme, the same host
/// (lowercased), the same port, no userinfo.
fn parse_consistent(input: &str, raw: &RawUrl<'_>) -> Option<Url> {
    let url = Url::parse(input).ok()?;
    let scheme_ok = match raw.scheme {
        Scheme::Https => url.scheme() == "https",
        Scheme::Http => url.scheme() == "http",
    };
    if !scheme_ok
        || url.cannot_be_a_base()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let host_ok = match url.host() {
        Some(Host::Domain(d)) => d == raw.host.to_ascii_lowercase(),
        Some(Host::Ipv4(ip)) => raw.host.parse::<std::net::Ipv4Addr>() == Ok(ip),
        _ => false,
    };
    let port_ok = match (raw.port.map(str::parse::<u16>), url.port()) {
        (None, None) => true,
        (Some(Ok(written)), Some(parsed)) => written == parsed,
        // The scheme's default port, written out, is dropped by the parser.
        (Some(Ok(written)), None) => url.port_or_known_default() == Some(written),
        _ => false,
    };
    (host_ok && port_ok).then_some(url)
}

/// A DNS name of non-empty labels of letters, digits and inner hyphens, the
/// last one not all digits (an IPv4 address in disguise), without a trailing dot.
fn is_plain_domain(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    }) && labels
        .last()
        .is_some_and(|tld| !tld.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn urls() -> ReturnUrls {
        ReturnUrls::new(&[".Example.com".to_string()], false)
    }

    #[test]
    fn accepts_the_domain_and_its_subdomains_canonically() {
        let r = urls();
        assert_eq!(
            r.check("https://example.com").as_deref(),
            Some("https://example.com/")
        );
        assert_eq!(
            r.check("HTTPS://APP.Example.com:8443/x").as_deref(),
            Some("https://app.example.com:8443/x")
        );
        assert_eq!(
            r.check("https://example.com:443/a").as_deref(),
            Some("https://example.com/a")
        );
    }

    #[test]
    fn refuses_look_alikes_and_tricks() {
        let r = urls();
        for bad in [
            "https://evilexample.com/",
            "https://example.com.evil.test/",
            "https://example.com@evil.test/",
            "https://ev\til.example.com/",
            "https://example.com./",
            "https://a..example.com/",
            "https://example.com:/",
            "https://example.com:99999/",
            "http://example.com/",
            "//example.com/",
            "/path",
            "",
        ] {
            assert_eq!(r.check(bad), None, "accepted {bad:?}");
        }
    }

    #[test]
    fn a_domain_list_of_blanks_allows_nothing() {
        let r = ReturnUrls::new(&[String::new(), ".".to_string()], true);
        assert_eq!(r.check("https://example.com/"), None);
    }

    #[test]
    fn sign_in_url_encodes_rd() {
        assert_eq!(
            sign_in_url(
                "https://auth.example.com/",
                Some("https://a.example.com/?x=1&y#f")
            ),
            "https://auth.example.com/auth/ui/login?rd=https%3A%2F%2Fa.example.com%2F%3Fx%3D1%26y%23f"
        );
        assert_eq!(
            sign_in_url("https://auth.example.com", None),
            "https://auth.example.com/auth/ui/login"
        );
    }

    #[test]
    fn original_url_sources() {
        assert_eq!(
            original_url(None, Some("https"), Some("app.example.com"), Some("/a?b=1")).as_deref(),
            Some("https://app.example.com/a?b=1")
        );
        assert_eq!(
            original_url(
                None,
                Some("https"),
                Some("evil.test@app.example.com"),
                Some("/")
            ),
            None
        );
        assert_eq!(
            original_url(Some("http://10.0.0.1:8080/x"), None, None, None).as_deref(),
            Some("http://10.0.0.1:8080/x")
        );
    }
}
