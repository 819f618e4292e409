//! Return URLs after sign-in (`edgeauth::return_url`): the hostile and accepted
//! tables of `support/return_urls.rs`, `http` on and off, several allowed
//! domains, the URL a gateway reports, and the sign-in URL's encoding. Pure
//! functions: no server needed.

use edgeauth::return_url::{MAX_LEN, ReturnUrls, original_url, sign_in_url};

use crate::support::return_urls::{ACCEPTED, ALLOWED_DOMAIN, HOSTILE};

fn table_urls() -> ReturnUrls {
    ReturnUrls::new(&[ALLOWED_DOMAIN.to_string()], false)
}

#[test]
fn every_hostile_return_url_is_refused() {
    assert!(HOSTILE.len() >= 40, "the hostile table shrank");
    let urls = table_urls();
    let accepted: Vec<String> = HOSTILE
        .iter()
        .filter_map(|rd| urls.check(rd).map(|got| format!("{rd:?} -> {got:?}")))
        .collect();
    assert!(
        accepted.is_empty(),
        "hostile return URLs accepted:\n{}",
        accepted.join("\n")
    );
}

#[test]
fn hostile_return_urls_stay_refused_with_http_allowed() {
    // Allowing http must not open anything else (the http entries aside).
    let urls = ReturnUrls::new(&[ALLOWED_DOMAIN.to_string()], true);
    for rd in HOSTILE {
        if rd.starts_with("http://") {
            continue;
        }
        assert_eq!(urls.check(rd), None, "hostile return URL accepted: {rd:?}");
    }
}

#[test]
fn every_accepted_return_url_is_canonical() {
    let urls = table_urls();
    for (rd, want) in ACCEPTED {
        assert_eq!(
            urls.check(rd).as_deref(),
            Some(*want),
            "return URL {rd:?} should be accepted as {want:?}"
        );
        // The canonical form is a fixed point.
        assert_eq!(
            urls.check(want).as_deref(),
            Some(*want),
            "canonical {want:?} should be accepted as itself"
        );
    }
}

#[test]
fn the_length_cap() {
    let urls = table_urls();
    let prefix = "https://example.com/";
    let fits = format!("{prefix}{}", "a".repeat(MAX_LEN - prefix.len()));
    assert_eq!(urls.check(&fits).as_deref(), Some(fits.as_str()));
    let over = format!("{fits}a");
    assert_eq!(urls.check(&over), None);
}

#[test]
fn http_only_when_allowed() {
    let strict = ReturnUrls::new(&["example.com".to_string()], false);
    let dev = ReturnUrls::new(&["example.com".to_string()], true);
    assert_eq!(strict.check("http://app.example.com/x"), None);
    assert_eq!(
        dev.check("http://app.example.com/x").as_deref(),
        Some("http://app.example.com/x")
    );
    assert_eq!(
        dev.check("HTTP://Example.com:80/").as_deref(),
        Some("http://example.com/")
    );
    assert_eq!(
        dev.check("https://example.com/").as_deref(),
        Some("https://example.com/")
    );
    assert_eq!(dev.check("http://evil.test/"), None);
    assert_eq!(dev.check("http:evil.test"), None);
    assert_eq!(dev.check("http://example.com@evil.test/"), None);
}

#[test]
fn several_allowed_domains() {
    let urls = ReturnUrls::new(
        &[
            ".Example.COM".to_string(),
            "other.test".to_string(),
            " shop.example.org ".to_string(),
            String::new(),
        ],
        false,
    );
    for (rd, want) in [
        ("https://example.com/", "https://example.com/"),
        ("https://a.example.com/", "https://a.example.com/"),
        ("https://other.test/x", "https://other.test/x"),
        ("https://www.other.test/", "https://www.other.test/"),
        ("https://shop.example.org/", "https://shop.example.org/"),
        (
            "https://eu.shop.example.org/",
            "https://eu.shop.example.org/",
        ),
    ] {
        assert_eq!(urls.check(rd).as_deref(), Some(want), "{rd:?}");
    }
    for rd in [
        "https://example.org/",
        "https://evilshop.example.org/",
        "https://another.test/",
        "https://other.test.evil.test/",
        "https://example.com.other.test.evil/",
        "https://test/",
        "https://com/",
    ] {
        assert_eq!(urls.check(rd), None, "accepted {rd:?}");
    }
    // No domain at all allows nothing.
    let none = ReturnUrls::new(&[], true);
    assert_eq!(none.check("https://example.com/"), None);
}

#[test]
fn an_ip_address_only_when_listed_exactly() {
    let urls = ReturnUrls::new(&["127.0.0.1".to_string()], true);
    assert_eq!(
        urls.check("http://127.0.0.1:8080/x").as_deref(),
        Some("http://127.0.0.1:8080/x")
    );
    for rd in [
        "http://2130706433:8080/",
        "http://0x7f.0.0.1/",
        "http://127.0.0.01/",
        "http://127.0.0.2/",
        "http://a.127.0.0.1/",
        "http://[::1]/",
    ] {
        assert_eq!(urls.check(rd), None, "accepted {rd:?}");
    }
}

#[test]
fn original_url_from_x_original_url() {
    for (header, want) in [
        (
            "https://app.example.com/a/b?c=1&d=%2F",
            "https://app.example.com/a/b?c=1&d=%2F",
        ),
        (
            "HTTP://App.Example.com:8080/",
            "http://app.example.com:8080/",
        ),
        ("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x"),
        ("https://app.example.com", "https://app.example.com/"),
    ] {
        assert_eq!(
            original_url(Some(header), None, None, None).as_deref(),
            Some(want),
            "{header:?}"
        );
    }
    for header in [
        "",
        "/a/b",
        "//evil.test/",
        "app.example.com/a",
        "ftp://app.example.com/",
        "javascript:alert(1)",
        "https://user:pw@app.example.com/",
        "https://app.example.com@evil.test/",
        "https:evil.test",
        "https://app.example.com/\r\nX: y",
        "https://app.example.com/ a",
        "https://app\\.example.com/",
        "https://ex\u{0430}mple.com/",
        "https://%65vil.test/",
        "https:///",
    ] {
        assert_eq!(
            original_url(Some(header), None, None, None),
            None,
            "X-Original-URL {header:?} accepted"
        );
    }
    // X-Original-URL, when present, is the only source: a bad one does not
    // fall back to the forwarded headers.
    assert_eq!(
        original_url(
            Some("not a url"),
            Some("https"),
            Some("app.example.com"),
            Some("/")
        ),
        None
    );
}

#[test]
fn original_url_from_forwarded_headers() {
    for ((proto, host, uri), want) in [
        (
            ("https", "app.example.com", "/a?b=1#c"),
            "https://app.example.com/a?b=1#c",
        ),
        (
            ("HTTP", "App.Example.com:8080", "/"),
            "http://app.example.com:8080/",
        ),
        (
            ("https", "app.example.com:443", "/x"),
            "https://app.example.com/x",
        ),
        (
            ("https", "app.example.com", "/a//b"),
            "https://app.example.com/a//b",
        ),
    ] {
        assert_eq!(
            original_url(None, Some(proto), Some(host), Some(uri)).as_deref(),
            Some(want),
            "{proto:?} {host:?} {uri:?}"
        );
    }
    for (proto, host, uri) in [
        (None, Some("app.example.com"), Some("/")),
        (Some("https"), None, Some("/")),
        (Some("https"), Some("app.example.com"), None),
        (Some("ftp"), Some("app.example.com"), Some("/")),
        (Some("https,http"), Some("app.example.com"), Some("/")),
        (Some(""), Some("app.example.com"), Some("/")),
        (Some("https"), Some(""), Some("/")),
        (Some("https"), Some("evil.test@app.example.com"), Some("/")),
        (Some("https"), Some("app.example.com/evil"), Some("/")),
        (Some("https"), Some("app.example.com, evil.test"), Some("/")),
        (Some("https"), Some("app.example.com:x"), Some("/")),
        (Some("https"), Some("ex\u{0430}mple.com"), Some("/")),
        (Some("https"), Some("app.example.com"), Some("")),
        (Some("https"), Some("app.example.com"), Some("a")),
        (Some("https"), Some("app.example.com"), Some("//evil.test/")),
        (Some("https"), Some("app.example.com"), Some("/\\evil.test")),
        (Some("https"), Some("app.example.com"), Some("/a\r\nX: y")),
        (Some("https"), Some("app.example.com"), Some("@evil.test")),
        (Some("https"), Some("app.example.com"), Some("?x")),
    ] {
        assert_eq!(
            original_url(None, proto, host, uri),
            None,
            "accepted {proto:?} {host:?} {uri:?}"
        );
    }
}

#[test]
fn sign_in_url_encodes_the_return_url() {
    assert_eq!(
        sign_in_url("https://auth.example.com", None),
        "https://auth.example.com/auth/ui/login"
    );
    assert_eq!(
        sign_in_url("https://auth.example.com//", None),
        "https://auth.example.com/auth/ui/login"
    );
    let rd = "https://app.example.com/a b?x=1&y=%2F&z=?#frag";
    let got = sign_in_url("https://auth.example.com/", Some(rd));
    assert_eq!(
        got,
        "https://auth.example.com/auth/ui/login?rd=\
         https%3A%2F%2Fapp.example.com%2Fa+b%3Fx%3D1%26y%3D%252F%26z%3D%3F%23frag"
    );
    // A form decoder gets the very same rd back, as the one `rd` parameter.
    let parsed = url::Url::parse(&got).unwrap();
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    assert_eq!(pairs, vec![("rd".to_string(), rd.to_string())]);
    assert_eq!(parsed.fragment(), None);
    // An empty rd is still a parameter.
    assert_eq!(
        sign_in_url("http://127.0.0.1:8080", Some("")),
        "http://127.0.0.1:8080/auth/ui/login?rd="
    );
}
