//! The return-URL tables, shared by the unit-level check
//! (`integration/return_urls.rs`) and any end-to-end test of the sign-in
//! redirect: every entry is judged against the allowed domain `example.com`
//! with plain `http` not allowed.

/// The allowed domain both tables are written against.
pub const ALLOWED_DOMAIN: &str = "example.com";

/// Return URLs that must be refused (no redirect to them, ever).
pub const HOSTILE: &[&str] = &[
    // Other hosts, and look-alike suffixes or prefixes of the allowed domain.
    "https://evil.test/",
    "https://evilexample.com/",
    "https://example.com.evil.test/",
    "https://example.co/",
    "https://example.com-evil.test/",
    "https://wwwexample.com/",
    // Userinfo: the real host is after the `@`.
    "https://example.com@evil.test/",
    "https://user:pw@app.example.com/",
    "https://user@app.example.com/",
    "https://:@app.example.com/",
    "https://example.com:443@evil.test/",
    // Backslashes anywhere (browsers read `\` as `/` in http(s) URLs).
    "https://evil.test\\@example.com/",
    "https:\\\\evil.test/",
    "/\\evil.test",
    "\\\\evil.test",
    "https://example.com\\.evil.test/",
    "https://app.example.com/path\\x",
    // Protocol-relative, relative and scheme-without-slashes forms.
    "//evil.test",
    "//example.com/",
    "///evil.test",
    "https:evil.test",
    "https:/evil.test",
    "https:///evil.test",
    "/dashboard",
    "dashboard",
    "",
    // Whitespace and control characters anywhere (browsers drop tab, CR and LF
    // inside URLs, so the host the check sees is not the one the browser uses).
    "https://ev\til.test/",
    "https://evil.test\t.example.com/",
    "https://app.example.com/\r\nSet-Cookie: x=1",
    "https://app.example.com/\n",
    "https://app.example.com/\0",
    " https://app.example.com/",
    "https://app.example.com/ x",
    "\thttps://app.example.com/",
    "https://app.example.com/\u{7f}",
    // Percent-encoded and double-encoded slashes, colons and at-signs.
    "%2F%2Fevil.test",
    "https%3A%2F%2Fevil.test",
    "https://evil.test%2F.example.com/",
    "https://example.com%2F@evil.test/",
    "https://example.com%252F@evil.test/",
    "https://example.com%40evil.test/",
    "https://%65vil.test/",
    "https://app%2Eexample.com/",
    "%68ttps://example.com/",
    // Dangerous and unexpected schemes, any case.
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "javascript://example.com/%0Aalert(1)",
    "data:text/html,<script>alert(1)</script>",
    "DATA:text/html;base64,PHNjcmlwdD4=",
    "vbscript:msgbox(1)",
    "file:///etc/passwd",
    "FILE://example.com/etc/passwd",
    "ftp://example.com/",
    "wss://example.com/",
    "http://example.com/",
    "http://app.example.com/",
    // IDN and Unicode look-alikes: a Cyrillic `а`, full-width letters and dot,
    // punycode of a look-alike, a Unicode dot.
    "https://ex\u{0430}mple.com/",
    "https://\u{ff45}\u{ff58}\u{ff41}\u{ff4d}\u{ff50}\u{ff4c}\u{ff45}.com/",
    "https://example\u{ff0e}com/",
    "https://example\u{3002}com/",
    "https://xn--exmple-4nf.com/",
    "https://app.example.com/\u{e9}",
    // IP literals, however spelled.
    "https://127.0.0.1/",
    "https://2130706433/",
    "https://0x7f.0.0.1/",
    "https://0177.0.0.1/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    // Empty hosts, odd dots and ports.
    "https://",
    "https:///",
    "https://:443/",
    "https://.example.com/",
    "https://example.com./",
    "https://app..example.com/",
    "https://example.com:/",
    "https://example.com:99999/",
    "https://example.com:-1/",
    "https://example.com:443:443/",
    "https://example.com:0x1bb/",
    // Absurd length (over the cap).
    concat!(
        "https://example.com/",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ),
];

/// Return URLs that must be accepted, with the canonical URL the check answers
/// (lowercase scheme and host, default port dropped, a bare host given `/`,
/// the path, query and fragment kept as written).
pub const ACCEPTED: &[(&str, &str)] = &[
    ("https://example.com", "https://example.com/"),
    ("https://example.com/", "https://example.com/"),
    (
        "https://app.example.com/path?q=1&x=%2F#frag",
        "https://app.example.com/path?q=1&x=%2F#frag",
    ),
    (
        "https://APP.Example.com:8443/x",
        "https://app.example.com:8443/x",
    ),
    (
        "HTTPS://EXAMPLE.COM/Upper/Case",
        "https://example.com/Upper/Case",
    ),
    ("https://example.com:443/a", "https://example.com/a"),
    (
        "https://a.b.c.example.com/deep/path/",
        "https://a.b.c.example.com/deep/path/",
    ),
    (
        "https://app.example.com?x=1",
        "https://app.example.com/?x=1",
    ),
    (
        "https://app.example.com#top",
        "https://app.example.com/#top",
    ),
    (
        "https://app.example.com/a/../b/./c",
        "https://app.example.com/b/c",
    ),
    (
        "https://app.example.com/search?q=a%20b&next=https%3A%2F%2Fevil.test",
        "https://app.example.com/search?q=a%20b&next=https%3A%2F%2Fevil.test",
    ),
    (
        "https://app.example.com/say?m=\"hi\"<b>",
        "https://app.example.com/say?m=%22hi%22%3Cb%3E",
    ),
    ("https://my-app.example.com/", "https://my-app.example.com/"),
    (
        "https://xn--80ak6aa92e.example.com/",
        "https://xn--80ak6aa92e.example.com/",
    ),
];
