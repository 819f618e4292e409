//! A short, readable name for the device behind a session's user agent
//! ("Chrome on Linux", "Safari on iPhone"), for the account page's session
//! list; the full user agent stays available as the name's tooltip.
//!
//! A few well-known tokens, checked in the order that disambiguates them
//! (Edge and Opera also say "Chrome", Chrome also says "Safari"); anything
//! else is the user agent's first product token. Pure, no I/O.

/// Browsers, most specific first: (token in the user agent, name).
const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("CriOS/", "Chrome"),
    ("Safari/", "Safari"),
];

/// Systems, most specific first.
const SYSTEMS: &[(&str, &str)] = &[
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("CrOS", "ChromeOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("Linux", "Linux"),
];

/// The longest name a fallback shows, in characters.
const MAX_FALLBACK: usize = 40;

/// "Browser on system", the browser or system alone when only one is
/// known, else the first product token (`curl/8.5.0` → `curl`), or `None`
/// for an empty user agent.
pub fn device_name(user_agent: &str) -> Option<String> {
    let user_agent = user_agent.trim();
    if user_agent.is_empty() {
        return None;
    }
    let find = |table: &[(&str, &'static str)]| {
        table
            .iter()
            .find(|(token, _)| user_agent.contains(token))
            .map(|(_, name)| *name)
    };
    Some(match (find(BROWSERS), find(SYSTEMS)) {
        (Some(browser), Some(system)) => format!("{browser} on {system}"),
        (Some(name), None) | (None, Some(name)) => name.to_owned(),
        (None, None) => {
            let product = user_agent.split(['/', ' ']).next().unwrap_or(user_agent);
            product.chars().take(MAX_FALLBACK).collect()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::device_name;

    #[test]
    fn common_user_agents_get_short_names() {
        for (ua, name) in [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) \
                 Chrome/126.0.0.0 Safari/537.36",
                "Chrome on Linux",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 \
                 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
                "Safari on iPhone",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like \
                 Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
                "Edge on Windows",
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 \
                 Firefox/127.0",
                "Firefox on macOS",
            ),
            ("curl/8.5.0", "curl"),
            ("Go-http-client/1.1", "Go-http-client"),
        ] {
            assert_eq!(device_name(ua).as_deref(), Some(name), "{ua}");
        }
        assert_eq!(device_name("  "), None);
        assert_eq!(device_name(&"x".repeat(100)).map(|n| n.len()), Some(40));
    }
}
