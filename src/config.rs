//! Configuration: every `EDGEAUTH_*` setting, its flag, default and help
//! text in one table, and the parsing of raw strings into a typed [`Config`].
//!
//! Parsing does no I/O (key files are read later, by `app`) but for resolving
//! a host name in a listen address (`localhost:8080`), and reads its
//! input through a lookup function so tests feed a map instead of touching
//! the process environment. Every error names the variable it came from;
//! `main` turns it into one line and exit status 2.

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::auth::password::ScryptCost;

/// One setting: its environment variable, the long flag that mirrors it,
/// its default (if any) and a line of help.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    pub var: &'static str,
    pub flag: &'static str,
    pub default: Option<&'static str>,
    pub help: &'static str,
}

const fn setting(
    var: &'static str,
    flag: &'static str,
    default: Option<&'static str>,
    help: &'static str,
) -> Setting {
    Setting {
        var,
        flag,
        default,
        help,
    }
}

/// Every setting `edgeauth serve` understands, in the order `--help` and the
/// README list them.
#[rustfmt::skip]
pub const SETTINGS: &[Setting] = &[
    setting("EDGEAUTH_LISTEN", "listen", Some("0.0.0.0:8080"), "Public API address (--dev: 127.0.0.1:8080)"),
    setting("EDGEAUTH_ADMIN_LISTEN", "admin-listen", Some("0.0.0.0:9090"), "Admin address (/healthz, /readyz, /metrics; --dev: 127.0.0.1:9090)"),
    setting("EDGEAUTH_ADMIN_TOKEN_FILES", "admin-token-files", None, "Files of admin API tokens, comma-separated, one token a line (at least 32 characters; blank lines and # comments ignored); unset: the admin API (/admin/ on the admin address) answers 404"),
    setting("EDGEAUTH_REDIS_URL", "redis-url", Some("redis://127.0.0.1:6379"), "Redis URL (with --dev and no URL: a throwaway redis-server)"),
    setting("EDGEAUTH_REDIS_CLUSTER_NODES", "redis-cluster-nodes", None, "Redis Cluster seed node URLs, comma-separated; when set, edgeauth uses the cluster and ignores EDGEAUTH_REDIS_URL"),
    setting("EDGEAUTH_REDIS_PREFIX", "redis-prefix", Some("edgeauth:"), "Prefix of every Redis key"),
    setting("EDGEAUTH_REDIS_POOL_SIZE", "redis-pool-size", Some("4"), "Multiplexed Redis connections per replica (commands pipeline on each)"),
    setting("EDGEAUTH_REDIS_TIMEOUT", "redis-timeout", Some("2s"), "Deadline of one Redis operation (then 503)"),
    setting("EDGEAUTH_JWT_KEY_FILES", "jwt-key-files", None, "Ed25519 PKCS#8 PEM files, comma-separated; the first signs, all verify (required unless --dev)"),
    setting("EDGEAUTH_JWT_TTL", "jwt-ttl", Some("15m"), "Lifetime of an access token"),
    setting("EDGEAUTH_JWT_ISSUER", "jwt-issuer", Some("edgeauth"), "`iss` claim, checked on verify"),
    setting("EDGEAUTH_JWT_AUDIENCE", "jwt-audience", None, "`aud` claim, checked on verify when set"),
    setting("EDGEAUTH_JWT_HASURA_CLAIMS", "jwt-hasura-claims", Some("false"), "Add the https://hasura.io/jwt/claims object (user id, default and allowed role) to access tokens"),
    setting("EDGEAUTH_DEFAULT_ROLE", "default-role", Some("user"), "Role in the Hasura claims (x-hasura-default-role and the only allowed role)"),
    setting("EDGEAUTH_REFRESH_TTL", "refresh-ttl", Some("30d"), "Idle lifetime of a refresh-token family (renewed on each rotation)"),
    setting("EDGEAUTH_REFRESH_REUSE_GRACE", "refresh-reuse-grace", Some("10s"), "Window in which the previous refresh token gets the same successor (0 = strict)"),
    setting("EDGEAUTH_REFRESH_MAX_AGE", "refresh-max-age", Some("90d"), "Absolute lifetime of a refresh-token family since its sign-in, however often it is used"),
    setting("EDGEAUTH_REAUTH_MAX_AGE", "reauth-max-age", Some("15m"), "How recent a sign-in must be for sensitive changes (email change, MFA, account removal) without the password in the body"),
    setting("EDGEAUTH_SESSIONS_PER_ACCOUNT", "sessions-per-account", Some("50"), "Refresh families kept per account; the least recently used goes"),
    setting("EDGEAUTH_VERIFY_CACHE_TTL", "verify-cache-ttl", Some("1s"), "How long a replica trusts a session it saw without asking Redis again (0-1s; revocations through this replica apply at once)"),
    setting("EDGEAUTH_VERIFY_CACHE_ENTRIES", "verify-cache-entries", Some("100000"), "Verified tokens and sessions remembered per replica"),
    setting("EDGEAUTH_DATA_KEY_FILE", "data-key-file", None, "Data key files (32 bytes, base64), comma-separated; the first is used for new values (required unless --dev)"),
    setting("EDGEAUTH_COOKIE_SECURE", "cookie-secure", Some("true"), "Secure flag of the refresh cookie (--dev forces false)"),
    setting("EDGEAUTH_COOKIE_SAMESITE", "cookie-samesite", Some("strict"), "SameSite of the refresh cookie: strict, lax or none"),
    setting("EDGEAUTH_COOKIE_DOMAIN", "cookie-domain", None, "Domain attribute of the refresh cookie"),
    setting("EDGEAUTH_PORTAL", "portal", Some("false"), "Serve the sign-in portal under /auth/ui/ (--dev: on)"),
    setting("EDGEAUTH_PORTAL_URL", "portal-url", None, "Public origin of the portal (https://auth.example.com): sign-in redirects and mail links point there (--dev: http://localhost:<listen port>)"),
    setting("EDGEAUTH_PORTAL_ALLOWED_DOMAINS", "portal-allowed-domains", None, "Domains (and their subdomains) a sign-in may return to, comma-separated (default: the session cookie domain, else the portal's host)"),
    setting("EDGEAUTH_PORTAL_STRINGS_FILE", "portal-strings-file", None, "JSON file of portal texts overriding the built-in English ones (key -> text)"),
    setting("EDGEAUTH_SESSION_COOKIE_NAME", "session-cookie-name", Some("edgeauth_session"), "Name of the edge session cookie a portal sign-in sets"),
    setting("EDGEAUTH_SESSION_COOKIE_DOMAIN", "session-cookie-domain", None, "Domain of the edge session cookie (example.com: every subdomain sends it; default: the portal's host only)"),
    setting("EDGEAUTH_SESSION_IDLE_TIMEOUT", "session-idle-timeout", Some("12h"), "An edge session unused this long ends"),
    setting("EDGEAUTH_SESSION_MAX_AGE", "session-max-age", Some("30d"), "Absolute lifetime of an edge session since its sign-in"),
    setting("EDGEAUTH_WEBAUTHN_RP_ID", "webauthn-rp-id", None, "Passkeys: the WebAuthn relying party id, a domain (default: the session cookie domain, else the portal's host; --dev: localhost); none: passkeys off"),
    setting("EDGEAUTH_WEBAUTHN_ORIGINS", "webauthn-origins", None, "Passkeys: the origins a ceremony may come from, comma-separated, each on the RP id or a subdomain of it (default: the portal URL; --dev: http://localhost:<listen port>)"),
    setting("EDGEAUTH_WEBAUTHN_RP_NAME", "webauthn-rp-name", Some("edgeauth"), "Passkeys: the relying party name authenticators may show"),
    setting("EDGEAUTH_AUTO_ACTIVATE", "auto-activate", Some("false"), "Activate accounts at registration (no activation ticket)"),
    setting("EDGEAUTH_ACTIVATION_TICKET_TTL", "activation-ticket-ttl", Some("24h"), "Lifetime of an activation ticket"),
    setting("EDGEAUTH_RESET_TICKET_TTL", "reset-ticket-ttl", Some("1h"), "Lifetime of a password-reset ticket"),
    setting("EDGEAUTH_EMAIL_TICKET_TTL", "email-ticket-ttl", Some("1h"), "Lifetime of an email-change ticket (sent to the new address)"),
    setting("EDGEAUTH_EVENTS_MAXLEN", "events-maxlen", Some("100000"), "Approximate cap of each event stream (events, and events:audit for failed sign-ins)"),
    setting("EDGEAUTH_SCRYPT_LOG_N", "scrypt-log-n", Some("17"), "scrypt cost: log2 N (OWASP: 17)"),
    setting("EDGEAUTH_SCRYPT_R", "scrypt-r", Some("8"), "scrypt block size r"),
    setting("EDGEAUTH_SCRYPT_P", "scrypt-p", Some("1"), "scrypt parallelism p"),
    setting("EDGEAUTH_HASH_CONCURRENCY", "hash-concurrency", None, "Password hashes computed at once (default: number of cores)"),
    setting("EDGEAUTH_HASH_QUEUE", "hash-queue", Some("64"), "Password hashes allowed to wait; past it: 503"),
    setting("EDGEAUTH_PASSWORD_MIN_LENGTH", "password-min-length", Some("6"), "Shortest password accepted (6-128)"),
    setting("EDGEAUTH_PASSWORD_MAX_LENGTH", "password-max-length", Some("128"), "Longest password accepted (6-128)"),
    setting("EDGEAUTH_PASSWORD_MIN_SCORE", "password-min-score", Some("2"), "Weakest new password accepted: zxcvbn score 0-4 (0 = off)"),
    setting("EDGEAUTH_MFA_ISSUER", "mfa-issuer", Some("edgeauth"), "Issuer shown by authenticator apps"),
    setting("EDGEAUTH_MFA_LOGIN_TICKET_TTL", "mfa-login-ticket-ttl", Some("5m"), "How long the ticket of a password-verified login waits for its second factor"),
    setting("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "rate-login-per-email", Some("10/15m"), "Failed logins allowed per email (N/DURATION, or off)"),
    setting("EDGEAUTH_RATE_LOGIN_PER_DEVICE", "rate-login-per-device", Some("5/15m"), "Failed logins allowed per trusted device (a device cookie from an earlier sign-in to that email); such logins skip the per-email limit"),
    setting("EDGEAUTH_RATE_LOGIN_PER_IP", "rate-login-per-ip", Some("100/5m"), "Login attempts allowed per client IP"),
    setting("EDGEAUTH_RATE_REGISTER_PER_IP", "rate-register-per-ip", Some("20/1h"), "Registrations allowed per client IP"),
    setting("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_IP", "rate-activate-request-per-ip", Some("10/1h"), "Activation-ticket requests allowed per client IP"),
    setting("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_EMAIL", "rate-activate-request-per-email", Some("3/1h"), "Activation mails sent per email address; past it requests still answer 204 but send nothing"),
    setting("EDGEAUTH_RATE_EMAIL_REQUEST_PER_ACCOUNT", "rate-email-request-per-account", Some("5/1h"), "Email-change requests allowed per account"),
    setting("EDGEAUTH_RATE_FORGOT_REQUEST_PER_IP", "rate-forgot-request-per-ip", Some("10/1h"), "Password-reset requests allowed per client IP"),
    setting("EDGEAUTH_RATE_MFA_PER_ACCOUNT", "rate-mfa-per-account", Some("10/1h"), "Wrong TOTP or recovery codes allowed per account, all MFA endpoints together; past it even a right code is refused"),
    setting("EDGEAUTH_RATE_IPV6_PREFIX", "rate-ipv6-prefix", Some("64"), "Per-IP limits count an IPv6 client by this network prefix length (1-128)"),
    setting("EDGEAUTH_RATE_FORGOT_REQUEST_PER_EMAIL", "rate-forgot-request-per-email", Some("3/1h"), "Password-reset mails sent per email address; past it requests still answer 204 but send nothing"),
    setting("EDGEAUTH_TRUSTED_PROXIES", "trusted-proxies", None, "CIDRs whose X-Forwarded-For is believed, comma-separated"),
    setting("EDGEAUTH_CORS_ORIGINS", "cors-origins", None, "Origins allowed by CORS, comma-separated"),
    setting("EDGEAUTH_HBP_COMPAT", "hbp-compat", Some("false"), "Serve the routes and options of Hasura Backend Plus clients (nhost-js-sdk 2.x); puts refresh tokens in URLs"),
    setting("EDGEAUTH_HBP_REDIRECT_URL_SUCCESS", "hbp-redirect-url-success", None, "With HBP compat: GET /auth/activate redirects here after activating (else 204)"),
    setting("EDGEAUTH_HBP_REDIRECT_URL_ERROR", "hbp-redirect-url-error", None, "With HBP compat: GET /auth/activate redirects here on a bad ticket (else the JSON error)"),
    setting("EDGEAUTH_MAX_CONNECTIONS", "max-connections", Some("10000"), "Open public connections at most; past it new ones are closed at once"),
    setting("EDGEAUTH_REQUEST_TIMEOUT", "request-timeout", Some("10s"), "Deadline of one request (then 503)"),
    setting("EDGEAUTH_HEADER_READ_TIMEOUT", "header-read-timeout", Some("5s"), "Deadline for a client to send its request headers"),
    setting("EDGEAUTH_SHUTDOWN_GRACE", "shutdown-grace", Some("25s"), "How long in-flight requests may finish after SIGTERM"),
    setting("EDGEAUTH_LOG", "log", Some("info"), "Log level or tracing filter"),
];

/// Prefixes of `EDGEAUTH_*` variables that are not settings and are ignored:
/// the ones Kubernetes injects for a Service named `edgeauth`
/// (`EDGEAUTH_SERVICE_HOST`, `EDGEAUTH_PORT_8080_TCP`, ...), and the test
/// suite's and CI's own switches (`EDGEAUTH_TEST_REDIS`, `EDGEAUTH_CI_CACHE`),
/// which the servers the tests start inherit.
const IGNORED_PREFIXES: &[&str] = &[
    "EDGEAUTH_SERVICE_",
    "EDGEAUTH_PORT",
    "EDGEAUTH_TEST_",
    "EDGEAUTH_CI_",
];

/// The first of `names` (environment variable names) that looks like a
/// setting (`EDGEAUTH_…`) but is none, as one line naming it and the
/// closest known setting: a typo such as `EDGEAUTH_COOKIE_SECUR` would
/// otherwise be silently ignored and leave the default in force.
pub fn unknown_setting<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let unknown = names.into_iter().find(|name| {
        name.starts_with("EDGEAUTH_")
            && !SETTINGS.iter().any(|s| s.var == *name)
            && !IGNORED_PREFIXES.iter().any(|p| name.starts_with(p))
    })?;
    let closest = SETTINGS
        .iter()
        .min_by_key(|s| edit_distance(unknown, s.var))
        .map_or("", |s| s.var);
    Some(format!(
        "{unknown}: unknown setting (did you mean {closest}?); `edgeauth serve --help` lists them"
    ))
}

/// Levenshtein distance (insertions, deletions, substitutions) between two
/// strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `row[j]`: the distance between the prefix of `a` seen so far and `b[..j]`.
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

/// A setting whose value could not be used. Displays as one line naming the
/// variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub var: &'static str,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.var, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Where Redis is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTarget {
    Url(String),
    /// `--dev` without a URL: start a throwaway `redis-server`.
    Throwaway,
}

/// `SameSite` attribute of the refresh cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Strict,
    Lax,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieConfig {
    pub secure: bool,
    pub same_site: SameSite,
    pub domain: Option<String>,
}

/// An IP network in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare address).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

impl IpNet {
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u8, prefix: u8) -> u128 {
            if prefix == 0 {
                0
            } else {
                bits >> (width - prefix)
            }
        }
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(net.into(), 128, self.prefix) == masked(ip.into(), 128, self.prefix)
            }
            _ => false,
        }
    }
}

impl std::str::FromStr for IpNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an IP network"))?;
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => width,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= width => p,
                _ => return Err(format!("{s:?} has a bad prefix length")),
            },
        };
        Ok(IpNet { addr, prefix })
    }
}

/// `N/DURATION`: at most `limit` attempts per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

/// Parses `10/15m`, or `off` (no limit).
pub fn parse_rate(v: &str) -> Result<Option<RateLimit>, String> {
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let bad = || format!("{v:?} is not a rate like 10/15m (or off)");
    let (limit, window) = v.split_once('/').ok_or_else(bad)?;
    let limit: u32 = limit.trim().parse().map_err(|_| bad())?;
    let window = parse_duration(window.trim())?;
    if limit == 0 || window.is_zero() {
        return Err(bad());
    }
    Ok(Some(RateLimit { limit, window }))
}

/// The rate limits, each `None` when off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Failed logins per email (a successful login does not count).
    pub login_per_email: Option<RateLimit>,
    /// Failed logins per trusted device (device cookie), which replace the
    /// per-email count for that device's logins.
    pub login_per_device: Option<RateLimit>,
    /// Login attempts per client IP.
    pub login_per_ip: Option<RateLimit>,
    pub register_per_ip: Option<RateLimit>,
    pub activate_request_per_ip: Option<RateLimit>,
    /// Activation mails per email address (past it: 204, no mail).
    pub activate_request_per_email: Option<RateLimit>,
    pub forgot_request_per_ip: Option<RateLimit>,
    /// Password-reset mails per email address (past it: 204, no mail).
    pub forgot_request_per_email: Option<RateLimit>,
    /// Email-change requests per account (each one mails an address the caller picks).
    pub email_request_per_account: Option<RateLimit>,
    /// Failed second factors (wrong TOTP or recovery codes) per account, shared by every endpoint
    /// that takes one; a right code does not count.
    pub mfa_per_account: Option<RateLimit>,
}

/// The typed configuration of `edgeauth serve`.
#[derive(Debug, Clone)]
pub struct Config {
    pub dev: bool,
    pub listen: SocketAddr,
    pub admin_listen: SocketAddr,
    /// Files of admin API tokens (read by `App::build`); empty: the admin API is off.
    pub admin_token_files: Vec<PathBuf>,
    pub redis: RedisTarget,
    /// Seed nodes of a Redis Cluster; when non-empty they are used instead of `redis`.
    pub redis_cluster_nodes: Vec<String>,
    pub redis_prefix: String,
    pub redis_pool_size: usize,
    pub redis_timeout: Duration,
    /// Empty only in `--dev`, which then signs with an ephemeral key.
    pub jwt_key_files: Vec<PathBuf>,
    pub jwt_ttl: Duration,
    /// How long a replica trusts a session it saw (at most 1 s: a revocation is seen by
    /// every replica within 1 s).
    pub verify_cache_ttl: Duration,
    pub verify_cache_entries: usize,
    pub jwt_issuer: String,
    pub jwt_audience: Option<String>,
    /// The role of the Hasura claims, when they are issued
    /// (`EDGEAUTH_JWT_HASURA_CLAIMS`; `EDGEAUTH_DEFAULT_ROLE`).
    pub hasura_role: Option<String>,
    pub refresh_ttl: Duration,
    pub refresh_reuse_grace: Duration,
    /// Absolute lifetime of a refresh family since its creation.
    pub refresh_max_age: Duration,
    /// How old `auth_time` may be for a sensitive change without the password.
    pub reauth_max_age: Duration,
    pub sessions_per_account: u32,
    /// Empty only in `--dev`, which then uses an ephemeral data key.
    pub data_key_files: Vec<PathBuf>,
    pub cookie: CookieConfig,
    /// The sign-in portal under `/auth/ui/`.
    pub portal: bool,
    /// The portal's public origin (no trailing slash): sign-in redirects and mail links.
    pub portal_url: Option<String>,
    /// Hosts (with their subdomains) a sign-in may return to, lowercase.
    pub portal_allowed_domains: Vec<String>,
    /// Operator overrides of the portal's texts.
    pub portal_strings_file: Option<PathBuf>,
    pub session_cookie_name: String,
    /// Domain attribute of the edge session cookie; None: host-only.
    pub session_cookie_domain: Option<String>,
    /// An edge session unused this long ends.
    pub session_idle_timeout: Duration,
    /// Absolute lifetime of an edge session since its sign-in.
    pub session_max_age: Duration,
    /// Passkeys: the WebAuthn relying party id (a domain); None: passkeys off.
    pub webauthn_rp_id: Option<String>,
    /// Passkeys: the origins a ceremony may come from (each on the RP id or a subdomain of it).
    pub webauthn_origins: Vec<String>,
    /// Passkeys: the relying party name.
    pub webauthn_rp_name: String,
    pub auto_activate: bool,
    pub activation_ticket_ttl: Duration,
    pub reset_ticket_ttl: Duration,
    pub email_ticket_ttl: Duration,
    /// Approximate cap of each event stream (`XADD MAXLEN ~`).
    pub events_maxlen: u64,
    pub scrypt: ScryptCost,
    pub hash_concurrency: usize,
    pub hash_queue: usize,
    pub password_min_length: usize,
    pub password_max_length: usize,
    /// Lowest zxcvbn score (0-4) of a new password; 0 turns the check off.
    pub password_min_score: u8,
    pub mfa_issuer: String,
    /// How long the ticket of a password-verified login waits for its
    /// second factor.
    pub mfa_login_ticket_ttl: Duration,
    pub rate_limits: RateLimits,
    /// Per-IP limits count an IPv6 client by its network of this prefix
    /// length: one host usually holds a whole /64.
    pub rate_ipv6_prefix: u8,
    pub trusted_proxies: Vec<IpNet>,
    pub cors_origins: Vec<String>,
    /// HBP client compatibility (`api::compat`).
    pub hbp_compat: bool,
    pub hbp_redirect_success: Option<String>,
    pub hbp_redirect_error: Option<String>,
    pub max_connections: usize,
    pub request_timeout: Duration,
    pub header_read_timeout: Duration,
    pub shutdown_grace: Duration,
    pub log: String,
}

/// Reads one setting: the explicit value if given, else its default.
struct Reader<'a> {
    lookup: &'a dyn Fn(&'static str) -> Option<String>,
}

impl Reader<'_> {
    fn setting(var: &str) -> Option<&'static Setting> {
        SETTINGS.iter().find(|s| s.var == var)
    }

    /// The explicitly given value (environment or flag), trimmed; empty counts as unset.
    fn explicit(&self, var: &'static str) -> Option<String> {
        (self.lookup)(var)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn raw(&self, var: &'static str) -> Option<String> {
        self.explicit(var).or_else(|| {
            Self::setting(var)
                .and_then(|s| s.default)
                .map(str::to_owned)
        })
    }

    fn parse<T>(
        &self,
        var: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        self.raw(var)
            .map(|v| parse(&v).map_err(|message| ConfigError { var, message }))
            .transpose()
    }

    fn required<T>(
        &self,
        var: &'static str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        self.parse(var, parse)?.ok_or(ConfigError {
            var,
            message: "is required".into(),
        })
    }

    fn string(&self, var: &'static str) -> Result<String, ConfigError> {
        self.required(var, |v| Ok(v.to_owned()))
    }

    fn list(&self, var: &'static str) -> Vec<String> {
        self.raw(var)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn bounded(&self, var: &'static str, min: u64, max: u64) -> Result<u64, ConfigError> {
        self.required(var, |v| {
            v.parse::<u64>()
                .ok()
                .filter(|n| (min..=max).contains(n))
                .ok_or_else(|| format!("{v:?} is not a whole number in {min}..={max}"))
        })
    }
}

/// Parses `900ms`, `10s`, `15m`, `12h`, `30d` or a bare number of seconds.
pub fn parse_duration(v: &str) -> Result<Duration, String> {
    let bad = || format!("{v:?} is not a duration (e.g. 900ms, 10s, 15m, 12h, 30d)");
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(split);
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let ms_per_unit: u64 = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad()),
    };
    n.checked_mul(ms_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(bad)
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("{v:?} is not a boolean (true or false)")),
    }
}

/// A Hasura role name: printable ASCII without spaces, at most 64 bytes.
fn parse_role(v: &str) -> Result<String, String> {
    if v.len() <= 64 && v.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(v.to_owned())
    } else {
        Err(format!(
            "{v:?} is not a role name (printable ASCII, no spaces, at most 64 bytes)"
        ))
    }
}

/// An absolute http(s) URL usable as a `Location` header.
fn parse_redirect_url(v: &str) -> Result<String, String> {
    let scheme_ok = v.starts_with("https://") || v.starts_with("http://");
    if scheme_ok && v.len() <= 2048 && v.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(v.to_owned())
    } else {
        Err(format!("{v:?} is not an http(s) URL"))
    }
}

/// An http(s) origin: scheme, host and optional port, no path (a trailing
/// `/` is dropped).
fn parse_origin(v: &str) -> Result<String, String> {
    let bad = || format!("{v:?} is not an origin like https://auth.example.com");
    let trimmed = v.strip_suffix('/').unwrap_or(v);
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(bad)?;
    let host_ok = !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if host_ok && trimmed.len() <= 512 {
        Ok(trimmed.to_owned())
    } else {
        Err(bad())
    }
}

/// The host of an origin [`parse_origin`] accepted (without its port).
fn origin_host(origin: &str) -> Option<&str> {
    let authority = origin.split_once("://")?.1;
    if authority.starts_with('[') {
        return authority.split_once(']').map(|(h, _)| &h[1..]);
    }
    Some(authority.split(':').next().unwrap_or(authority))
}

/// A cookie name: an RFC 6265 token.
fn parse_cookie_name(v: &str) -> Result<String, String> {
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    ok.then(|| v.to_owned())
        .ok_or_else(|| format!("{v:?} is not a cookie name"))
}

/// An IP literal with a port (`0.0.0.0:8080`, `[::1]:8080`) as is, or a host
/// name with a port (`localhost:8080`) resolved once, here, to its first
/// address: the one place parsing touches the outside world.
fn parse_addr(v: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = v.parse() {
        return Ok(addr);
    }
    let bad = || format!("{v:?} is not an address like 0.0.0.0:8080 or localhost:8080");
    // Without a `:port` there is nothing to resolve (and `ToSocketAddrs` would say so less
    // clearly).
    match v.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {}
        _ => return Err(bad()),
    }
    let mut addrs = v
        .to_socket_addrs()
        .map_err(|e| format!("{v:?} does not resolve: {e}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("{v:?} resolves to no address"))
}

/// Whether `host` is `domain` or one of its subdomains (both lowercase).
fn within_domain(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|rest| rest.ends_with('.'))
}

/// The passkeys' relying party: its id and allowed origins, or (None, []) when passkeys are
/// off.
///
/// Given explicitly, both are checked: an RP id must be a domain (an IP address is refused, as
/// browsers refuse it), and every origin must be on it or a subdomain of it (else a browser
/// would refuse every ceremony). Derived from other settings (the session cookie domain or the
/// portal's host, the portal URL as the origin), a combination that cannot work leaves
/// passkeys off instead of refusing to start; origins given with no RP id to go with them are
/// refused.
fn webauthn_party(
    r: &Reader<'_>,
    session_cookie_domain: Option<&str>,
    portal_url: Option<&str>,
) -> Result<(Option<String>, Vec<String>), ConfigError> {
    const RP_ID: &str = "EDGEAUTH_WEBAUTHN_RP_ID";
    const ORIGINS: &str = "EDGEAUTH_WEBAUTHN_ORIGINS";
    let is_ip = |host: &str| host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok();
    let explicit_id = r.parse(RP_ID, |v| {
        let id = v.trim().trim_end_matches('.').to_ascii_lowercase();
        if is_ip(&id) {
            return Err(format!(
                "{v:?} is an IP address; the RP id must be a domain"
            ));
        }
        let ok = !id.is_empty()
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        ok.then_some(id)
            .ok_or_else(|| format!("{v:?} is not a domain name"))
    })?;
    let explicit_origins = r
        .list(ORIGINS)
        .iter()
        .map(|o| parse_origin(o))
        .collect::<Result<Vec<String>, String>>()
        .map_err(|message| ConfigError {
            var: ORIGINS,
            message,
        })?;
    // In --dev the portal URL is http://localhost:<listen port> unless told otherwise, so these
    // defaults give the RP id `localhost` and that origin.
    let rp_id = explicit_id.clone().or_else(|| {
        session_cookie_domain
            .map(str::to_owned)
            .or_else(|| {
                portal_url
                    .and_then(origin_host)
                    .map(str::to_ascii_lowercase)
            })
            .filter(|host| !is_ip(host))
    });
    let Some(rp_id) = rp_id else {
        if explicit_origins.is_empty() {
            return Ok((None, Vec::new()));
        }
        return Err(ConfigError {
            var: RP_ID,
            message: format!(
                "is needed with {ORIGINS} (no session cookie domain or portal host to default to)"
            ),
        });
    };
    let origins = if explicit_origins.is_empty() {
        portal_url.map(str::to_owned).into_iter().collect()
    } else {
        explicit_origins.clone()
    };
    let fits = |origin: &String| {
        origin_host(origin).is_some_and(|host| within_domain(&host.to_ascii_lowercase(), &rp_id))
    };
    let explicit = explicit_id.is_some() || !explicit_origins.is_empty();
    if let Some(bad) = origins.iter().find(|o| !fits(o)) {
        if !explicit {
            return Ok((None, Vec::new()));
        }
        return Err(ConfigError {
            var: ORIGINS,
            message: format!("{bad:?} is not on the RP id {rp_id:?} or a subdomain of it"),
        });
    }
    if origins.is_empty() {
        if explicit_id.is_none() {
            return Ok((None, Vec::new()));
        }
        return Err(ConfigError {
            var: ORIGINS,
            message: format!(
                "is needed with {RP_ID} (the origins passkey ceremonies come from; no \
                 EDGEAUTH_PORTAL_URL to default to)"
            ),
        });
    }
    Ok((Some(rp_id), origins))
}

fn positive(var: &'static str, d: Duration) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        Err(ConfigError {
            var,
            message: "must be more than zero".into(),
        })
    } else {
        Ok(d)
    }
}

impl Config {
    /// Builds the configuration from explicitly given values (`lookup`
    /// returns `None` for an unset variable) and the defaults of [`SETTINGS`].
    pub fn parse(
        lookup: &dyn Fn(&'static str) -> Option<String>,
        dev: bool,
    ) -> Result<Config, ConfigError> {
        let r = Reader { lookup };
        let duration = |var| r.required(var, parse_duration);
        let positive_duration = |var| duration(var).and_then(|d| positive(var, d));

        let redis_cluster_nodes = r.list("EDGEAUTH_REDIS_CLUSTER_NODES");
        for node in &redis_cluster_nodes {
            if !(node.starts_with("redis://") || node.starts_with("rediss://")) {
                return Err(ConfigError {
                    var: "EDGEAUTH_REDIS_CLUSTER_NODES",
                    message: format!("{node:?} is not a redis:// URL"),
                });
            }
        }
        let redis = match r.explicit("EDGEAUTH_REDIS_URL") {
            // --dev starts a throwaway Redis only when no Redis at all is given.
            None if dev && redis_cluster_nodes.is_empty() => RedisTarget::Throwaway,
            _ => RedisTarget::Url(r.string("EDGEAUTH_REDIS_URL")?),
        };
        if let RedisTarget::Url(url) = &redis {
            if !(url.starts_with("redis://")
                || url.starts_with("rediss://")
                || url.starts_with("unix://"))
            {
                return Err(ConfigError {
                    var: "EDGEAUTH_REDIS_URL",
                    message: format!("{url:?} is not a redis:// URL"),
                });
            }
        }

        let files = |var: &'static str| -> Result<Vec<PathBuf>, ConfigError> {
            let files: Vec<PathBuf> = r.list(var).into_iter().map(PathBuf::from).collect();
            if files.is_empty() && !dev {
                return Err(ConfigError {
                    var,
                    message:
                        "is required (edgeauth keygen writes one; --dev makes an ephemeral one)"
                            .into(),
                });
            }
            Ok(files)
        };

        let same_site = r.required("EDGEAUTH_COOKIE_SAMESITE", |v| {
            match v.to_ascii_lowercase().as_str() {
                "strict" => Ok(SameSite::Strict),
                "lax" => Ok(SameSite::Lax),
                "none" => Ok(SameSite::None),
                _ => Err(format!("{v:?} is not one of strict, lax, none")),
            }
        })?;

        let password_min_length = r.bounded("EDGEAUTH_PASSWORD_MIN_LENGTH", 6, 128)? as usize;
        let password_max_length = r.bounded("EDGEAUTH_PASSWORD_MAX_LENGTH", 6, 128)? as usize;
        if password_min_length > password_max_length {
            return Err(ConfigError {
                var: "EDGEAUTH_PASSWORD_MIN_LENGTH",
                message: "is larger than EDGEAUTH_PASSWORD_MAX_LENGTH".into(),
            });
        }

        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let hash_concurrency = match r.explicit("EDGEAUTH_HASH_CONCURRENCY") {
            None => cores,
            Some(_) => r.bounded("EDGEAUTH_HASH_CONCURRENCY", 1, 256)? as usize,
        };

        let trusted_proxies = r
            .list("EDGEAUTH_TRUSTED_PROXIES")
            .iter()
            .map(|s| s.parse())
            .collect::<Result<Vec<IpNet>, String>>()
            .map_err(|message| ConfigError {
                var: "EDGEAUTH_TRUSTED_PROXIES",
                message,
            })?;

        // --dev is for a person's own machine: unless told otherwise it
        // listens on loopback only, never on every interface.
        let listen = |var: &'static str, dev_default: &str| match r.explicit(var) {
            None if dev => parse_addr(dev_default).map_err(|message| ConfigError { var, message }),
            _ => r.required(var, parse_addr),
        };

        let refresh_reuse_grace = duration("EDGEAUTH_REFRESH_REUSE_GRACE")?;
        let refresh_ttl = positive_duration("EDGEAUTH_REFRESH_TTL")?;
        if refresh_reuse_grace >= refresh_ttl {
            return Err(ConfigError {
                var: "EDGEAUTH_REFRESH_REUSE_GRACE",
                message: "must be shorter than EDGEAUTH_REFRESH_TTL".into(),
            });
        }

        let domain_name = |v: &str| {
            let ok = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
            ok.then(|| v.trim_start_matches('.').to_ascii_lowercase())
                .ok_or_else(|| format!("{v:?} is not a domain name"))
        };
        let listen_addr = listen("EDGEAUTH_LISTEN", "127.0.0.1:8080")?;
        let portal_url = match r.parse("EDGEAUTH_PORTAL_URL", parse_origin)? {
            // `localhost` rather than the address: browsers allow passkeys on it over plain http.
            None if dev => Some(format!("http://localhost:{}", listen_addr.port())),
            other => other,
        };
        let session_cookie_domain = r.parse("EDGEAUTH_SESSION_COOKIE_DOMAIN", domain_name)?;
        let mut portal_allowed_domains = r
            .list("EDGEAUTH_PORTAL_ALLOWED_DOMAINS")
            .iter()
            .map(|d| domain_name(d))
            .collect::<Result<Vec<String>, String>>()
            .map_err(|message| ConfigError {
                var: "EDGEAUTH_PORTAL_ALLOWED_DOMAINS",
                message,
            })?;
        if portal_allowed_domains.is_empty() {
            portal_allowed_domains.extend(session_cookie_domain.clone().or_else(|| {
                portal_url
                    .as_deref()
                    .and_then(origin_host)
                    .map(str::to_ascii_lowercase)
            }));
        }
        let (webauthn_rp_id, webauthn_origins) =
            webauthn_party(&r, session_cookie_domain.as_deref(), portal_url.as_deref())?;
        let session_idle_timeout = positive_duration("EDGEAUTH_SESSION_IDLE_TIMEOUT")?;
        let session_max_age = positive_duration("EDGEAUTH_SESSION_MAX_AGE")?;

        Ok(Config {
            dev,
            listen: listen_addr,
            admin_listen: listen("EDGEAUTH_ADMIN_LISTEN", "127.0.0.1:9090")?,
            admin_token_files: r
                .list("EDGEAUTH_ADMIN_TOKEN_FILES")
                .into_iter()
                .map(PathBuf::from)
                .collect(),
            redis,
            redis_cluster_nodes,
            redis_prefix: r.string("EDGEAUTH_REDIS_PREFIX")?,
            redis_pool_size: r.bounded("EDGEAUTH_REDIS_POOL_SIZE", 1, 1024)? as usize,
            redis_timeout: positive_duration("EDGEAUTH_REDIS_TIMEOUT")?,
            jwt_key_files: files("EDGEAUTH_JWT_KEY_FILES")?,
            jwt_ttl: positive_duration("EDGEAUTH_JWT_TTL")?,
            verify_cache_ttl: r.required("EDGEAUTH_VERIFY_CACHE_TTL", |v| {
                parse_duration(v).and_then(|d| {
                    if d <= Duration::from_secs(1) {
                        Ok(d)
                    } else {
                        Err(format!("{v:?} is longer than 1s"))
                    }
                })
            })?,
            verify_cache_entries: r.bounded("EDGEAUTH_VERIFY_CACHE_ENTRIES", 0, 10_000_000)?
                as usize,
            jwt_issuer: r.string("EDGEAUTH_JWT_ISSUER")?,
            jwt_audience: r.explicit("EDGEAUTH_JWT_AUDIENCE"),
            hasura_role: if r.required("EDGEAUTH_JWT_HASURA_CLAIMS", parse_bool)? {
                Some(r.required("EDGEAUTH_DEFAULT_ROLE", parse_role)?)
            } else {
                None
            },
            refresh_ttl,
            refresh_reuse_grace,
            refresh_max_age: positive_duration("EDGEAUTH_REFRESH_MAX_AGE")?,
            reauth_max_age: positive_duration("EDGEAUTH_REAUTH_MAX_AGE")?,
            sessions_per_account: r.bounded("EDGEAUTH_SESSIONS_PER_ACCOUNT", 1, 1000)? as u32,
            data_key_files: files("EDGEAUTH_DATA_KEY_FILE")?,
            cookie: CookieConfig {
                secure: !dev && r.required("EDGEAUTH_COOKIE_SECURE", parse_bool)?,
                same_site,
                domain: r.parse("EDGEAUTH_COOKIE_DOMAIN", |v| {
                    let ok = v
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
                    ok.then(|| v.to_owned())
                        .ok_or_else(|| format!("{v:?} is not a domain name"))
                })?,
            },
            portal: dev || r.required("EDGEAUTH_PORTAL", parse_bool)?,
            portal_url,
            portal_allowed_domains,
            portal_strings_file: r
                .parse("EDGEAUTH_PORTAL_STRINGS_FILE", |v| Ok(PathBuf::from(v)))?,
            session_cookie_name: r.required("EDGEAUTH_SESSION_COOKIE_NAME", parse_cookie_name)?,
            session_cookie_domain,
            session_idle_timeout,
            session_max_age,
            webauthn_rp_id,
            webauthn_origins,
            webauthn_rp_name: r.string("EDGEAUTH_WEBAUTHN_RP_NAME")?,
            auto_activate: r.required("EDGEAUTH_AUTO_ACTIVATE", parse_bool)?,
            activation_ticket_ttl: positive_duration("EDGEAUTH_ACTIVATION_TICKET_TTL")?,
            reset_ticket_ttl: positive_duration("EDGEAUTH_RESET_TICKET_TTL")?,
            email_ticket_ttl: positive_duration("EDGEAUTH_EMAIL_TICKET_TTL")?,
            events_maxlen: r.bounded("EDGEAUTH_EVENTS_MAXLEN", 1, 1_000_000_000)?,
            scrypt: ScryptCost {
                log_n: r.bounded("EDGEAUTH_SCRYPT_LOG_N", 10, 22)? as u8,
                r: r.bounded("EDGEAUTH_SCRYPT_R", 1, 32)? as u32,
                p: r.bounded("EDGEAUTH_SCRYPT_P", 1, 16)? as u32,
            },
            hash_concurrency,
            hash_queue: r.bounded("EDGEAUTH_HASH_QUEUE", 0, 100_000)? as usize,
            password_min_length,
            password_max_length,
            password_min_score: r.bounded("EDGEAUTH_PASSWORD_MIN_SCORE", 0, 4)? as u8,
            mfa_issuer: r.string("EDGEAUTH_MFA_ISSUER")?,
            mfa_login_ticket_ttl: positive_duration("EDGEAUTH_MFA_LOGIN_TICKET_TTL")?,
            rate_limits: RateLimits {
                login_per_email: r.required("EDGEAUTH_RATE_LOGIN_PER_EMAIL", parse_rate)?,
                login_per_device: r.required("EDGEAUTH_RATE_LOGIN_PER_DEVICE", parse_rate)?,
                login_per_ip: r.required("EDGEAUTH_RATE_LOGIN_PER_IP", parse_rate)?,
                register_per_ip: r.required("EDGEAUTH_RATE_REGISTER_PER_IP", parse_rate)?,
                activate_request_per_ip: r
                    .required("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_IP", parse_rate)?,
                activate_request_per_email: r
                    .required("EDGEAUTH_RATE_ACTIVATE_REQUEST_PER_EMAIL", parse_rate)?,
                forgot_request_per_ip: r
                    .required("EDGEAUTH_RATE_FORGOT_REQUEST_PER_IP", parse_rate)?,
                forgot_request_per_email: r
                    .required("EDGEAUTH_RATE_FORGOT_REQUEST_PER_EMAIL", parse_rate)?,
                email_request_per_account: r
                    .required("EDGEAUTH_RATE_EMAIL_REQUEST_PER_ACCOUNT", parse_rate)?,
                mfa_per_account: r.required("EDGEAUTH_RATE_MFA_PER_ACCOUNT", parse_rate)?,
            },
            rate_ipv6_prefix: r.bounded("EDGEAUTH_RATE_IPV6_PREFIX", 1, 128)? as u8,
            trusted_proxies,
            cors_origins: r.list("EDGEAUTH_CORS_ORIGINS"),
            hbp_compat: r.required("EDGEAUTH_HBP_COMPAT", parse_bool)?,
            hbp_redirect_success: r
                .parse("EDGEAUTH_HBP_REDIRECT_URL_SUCCESS", parse_redirect_url)?,
            hbp_redirect_error: r.parse("EDGEAUTH_HBP_REDIRECT_URL_ERROR", parse_redirect_url)?,
            max_connections: r.bounded("EDGEAUTH_MAX_CONNECTIONS", 1, 1_000_000)? as usize,
            request_timeout: positive_duration("EDGEAUTH_REQUEST_TIMEOUT")?,
            header_read_timeout: positive_duration("EDGEAUTH_HEADER_READ_TIMEOUT")?,
            shutdown_grace: duration("EDGEAUTH_SHUTDOWN_GRACE")?,
            log: r.string("EDGEAUTH_LOG")?,
        })
    }

    /// Parses from a map of variable → value (tests, embedding).
    pub fn from_map(map: &HashMap<String, String>, dev: bool) -> Result<Config, ConfigError> {
        Config::parse(&|var| map.get(var).cloned(), dev)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn minimal() -> Vec<(&'static str, &'static str)> {
        vec![
            ("EDGEAUTH_JWT_KEY_FILES", "a.pem, b.pem"),
            ("EDGEAUTH_DATA_KEY_FILE", "data.key"),
        ]
    }

    #[test]
    fn defaults_follow_the_spec() {
        let c = Config::from_map(&map(&minimal()), false).unwrap();
        assert_eq!(c.listen.to_string(), "0.0.0.0:8080");
        assert_eq!(c.admin_listen.to_string(), "0.0.0.0:9090");
        assert_eq!(c.redis, RedisTarget::Url("redis://127.0.0.1:6379".into()));
        assert_eq!(c.redis_prefix, "edgeauth:");
        assert_eq!(c.jwt_ttl, Duration::from_secs(900));
        assert_eq!(c.refresh_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(c.refresh_max_age, Duration::from_secs(90 * 86_400));
        assert_eq!(c.reauth_max_age, Duration::from_secs(15 * 60));
        assert_eq!(c.scrypt, ScryptCost::OWASP);
        assert_eq!(c.jwt_key_files.len(), 2);
        assert!(c.cookie.secure);
        assert_eq!(c.cookie.same_site, SameSite::Strict);
        assert!(!c.auto_activate);
        assert_eq!(c.sessions_per_account, 50);
    }

    /// The README's configuration table as (variable, documented default):
    /// a row names one or more variables (`A`, `B`) and gives their defaults
    /// in the same order (`17` / `8` / `1`; one cell for all of them when it
    /// has no " / "). A default is the first `code span` of its part; a part
    /// without one (`–`, `– (required)`, `cores`) documents no default.
    fn readme_settings_table(readme: &str) -> Vec<(String, Option<String>)> {
        fn code_spans(text: &str) -> Vec<&str> {
            text.split('`').skip(1).step_by(2).collect()
        }
        let start = readme
            .find("| Variable | Default | Meaning |")
            .expect("the README's configuration table");
        let mut rows = Vec::new();
        for line in readme[start..].lines().skip(2) {
            let Some(row) = line.strip_prefix('|') else {
                break;
            };
            let cells: Vec<&str> = row.split(" | ").map(str::trim).collect();
            assert!(cells.len() >= 3, "a malformed row: {line}");
            let vars = code_spans(cells[0]);
            let parts: Vec<&str> = cells[1].split(" / ").collect();
            assert!(
                parts.len() == 1 || parts.len() == vars.len(),
                "{} defaults for {} variables: {line}",
                parts.len(),
                vars.len()
            );
            for (i, var) in vars.iter().enumerate() {
                let part = parts[if parts.len() == 1 { 0 } else { i }];
                let default = code_spans(part).first().map(|d| (*d).to_owned());
                rows.push(((*var).to_owned(), default));
            }
        }
        rows
    }

    #[test]
    fn every_setting_is_documented_in_the_readme() {
        let table = readme_settings_table(include_str!("../README.md"));
        for s in SETTINGS {
            let rows: Vec<_> = table.iter().filter(|(var, _)| var == s.var).collect();
            assert_eq!(
                rows.len(),
                1,
                "{} must have one row in the README's configuration table",
                s.var
            );
            assert_eq!(
                rows[0].1.as_deref(),
                s.default,
                "the README's default of {} differs from `edgeauth serve --help`",
                s.var
            );
        }
        for (var, _) in &table {
            assert!(
                SETTINGS.iter().any(|s| s.var == var),
                "the README documents {var}, which is no setting"
            );
        }
    }

    #[test]
    fn the_readme_settings_table_reader_sees_drift() {
        let readme = "| Variable | Default | Meaning |\n|---|---|---|\n\
                      | `A` | `0.0.0.0:1` (`--dev`: `x`) | a |\n\
                      | `B`, `C` | `17` / `8` | b |\n\
                      | `D`, `E` | – | d |\n\
                      | `F` | – (required) | f |\n\n| other | table |\n";
        let some = |v: &str| Some(v.to_owned());
        assert_eq!(
            readme_settings_table(readme),
            vec![
                ("A".to_owned(), some("0.0.0.0:1")),
                ("B".to_owned(), some("17")),
                ("C".to_owned(), some("8")),
                ("D".to_owned(), None),
                ("E".to_owned(), None),
                ("F".to_owned(), None),
            ]
        );
    }

    #[test]
    fn durations() {
        for (raw, ms) in [
            ("900ms", 900),
            ("10s", 10_000),
            ("15m", 900_000),
            ("12h", 43_200_000),
            ("30d", 2_592_000_000),
            ("42", 42_000),
            ("0", 0),
        ] {
            assert_eq!(
                parse_duration(raw).unwrap(),
                Duration::from_millis(ms),
                "{raw}"
            );
        }
        for raw in ["", "s", "1.5s", "10 s", "-1", "5w", "99999999999999999999d"] {
            assert!(parse_duration(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("EDGEAUTH_JWT_TTL", "soon"),
            ("EDGEAUTH_LISTEN", "localhost"),
            ("EDGEAUTH_COOKIE_SECURE", "maybe"),
            ("EDGEAUTH_COOKIE_SAMESITE", "sometimes"),
            ("EDGEAUTH_SCRYPT_LOG_N", "40"),
            ("EDGEAUTH_PASSWORD_MIN_LENGTH", "3"),
            ("EDGEAUTH_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("EDGEAUTH_REDIS_URL", "http://x"),
            ("EDGEAUTH_REFRESH_REUSE_GRACE", "31d"),
            ("EDGEAUTH_RATE_LOGIN_PER_EMAIL", "10"),
            ("EDGEAUTH_RATE_LOGIN_PER_IP", "0/1m"),
        ] {
            let mut pairs = minimal();
            pairs.push((var, value));
            let err = Config::from_map(&map(&pairs), false).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn rates() {
        assert_eq!(
            parse_rate("10/15m").unwrap(),
            Some(RateLimit {
                limit: 10,
                window: Duration::from_secs(900)
            })
        );
        assert_eq!(parse_rate("OFF").unwrap(), None);
        for bad in ["10", "/1m", "x/1m", "5/", "5/0", "0/1m", "-1/1m"] {
            assert!(parse_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keys_are_required_outside_dev() {
        let err = Config::from_map(&map(&[]), false).unwrap_err();
        assert_eq!(err.var, "EDGEAUTH_JWT_KEY_FILES");
        let dev = Config::from_map(&map(&[]), true).unwrap();
        assert_eq!(dev.redis, RedisTarget::Throwaway);
        assert!(!dev.cookie.secure);
    }

    #[test]
    fn hasura_claims_and_hbp_compat() {
        let c = Config::from_map(&map(&minimal()), false).unwrap();
        assert_eq!(c.hasura_role, None);
        assert!(!c.hbp_compat);
        assert_eq!(c.hbp_redirect_success, None);
        let mut on = minimal();
        on.extend([
            ("EDGEAUTH_JWT_HASURA_CLAIMS", "true"),
            ("EDGEAUTH_HBP_COMPAT", "true"),
            (
                "EDGEAUTH_HBP_REDIRECT_URL_SUCCESS",
                "https://app.example/welcome",
            ),
        ]);
        let c = Config::from_map(&map(&on), false).unwrap();
        assert_eq!(c.hasura_role.as_deref(), Some("user"));
        assert!(c.hbp_compat);
        assert_eq!(
            c.hbp_redirect_success.as_deref(),
            Some("https://app.example/welcome")
        );
        on.push(("EDGEAUTH_DEFAULT_ROLE", "member"));
        let c = Config::from_map(&map(&on), false).unwrap();
        assert_eq!(c.hasura_role.as_deref(), Some("member"));
        for (var, bad) in [
            ("EDGEAUTH_DEFAULT_ROLE", "two words"),
            ("EDGEAUTH_HBP_REDIRECT_URL_ERROR", "javascript:alert(1)"),
            ("EDGEAUTH_HBP_COMPAT", "maybe"),
        ] {
            let mut bad_map = on.clone();
            bad_map.push((var, bad));
            assert_eq!(
                Config::from_map(&map(&bad_map), false).unwrap_err().var,
                var
            );
        }
    }

    #[test]
    fn webauthn_party_defaults_and_checks() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = minimal();
            pairs.extend_from_slice(extra);
            Config::from_map(&map(&pairs), false)
        };
        // Nothing to derive from: passkeys off.
        let off = with(&[]).unwrap();
        assert_eq!(off.webauthn_rp_id, None);
        assert!(off.webauthn_origins.is_empty());
        assert_eq!(off.webauthn_rp_name, "edgeauth");
        // Derived: the session cookie domain, the portal URL as the origin.
        let derived = with(&[
            ("EDGEAUTH_SESSION_COOKIE_DOMAIN", "example.com"),
            ("EDGEAUTH_PORTAL_URL", "https://auth.example.com"),
        ])
        .unwrap();
        assert_eq!(derived.webauthn_rp_id.as_deref(), Some("example.com"));
        assert_eq!(derived.webauthn_origins, ["https://auth.example.com"]);
        // Else the portal's host.
        let host = with(&[("EDGEAUTH_PORTAL_URL", "https://auth.example.com")]).unwrap();
        assert_eq!(host.webauthn_rp_id.as_deref(), Some("auth.example.com"));
        // A derived combination that cannot work: off, not a refusal to start.
        let mismatch = with(&[
            ("EDGEAUTH_SESSION_COOKIE_DOMAIN", "example.org"),
            ("EDGEAUTH_PORTAL_URL", "https://auth.example.com"),
        ])
        .unwrap();
        assert_eq!(mismatch.webauthn_rp_id, None);
        let ip_portal = with(&[("EDGEAUTH_PORTAL_URL", "http://10.0.0.1:8080")]).unwrap();
        assert_eq!(ip_portal.webauthn_rp_id, None);
        // Explicit: checked, and the errors name their variable (exit 2).
        let ok = with(&[
            ("EDGEAUTH_WEBAUTHN_RP_ID", "Example.com"),
            (
                "EDGEAUTH_WEBAUTHN_ORIGINS",
                "https://example.com, https://app.example.com:8443",
            ),
            ("EDGEAUTH_WEBAUTHN_RP_NAME", "Example"),
        ])
        .unwrap();
        assert_eq!(ok.webauthn_rp_id.as_deref(), Some("example.com"));
        assert_eq!(
            ok.webauthn_origins,
            ["https://example.com", "https://app.example.com:8443"]
        );
        assert_eq!(ok.webauthn_rp_name, "Example");
        for (extra, var) in [
            (
                vec![
                    ("EDGEAUTH_WEBAUTHN_RP_ID", "example.com"),
                    ("EDGEAUTH_WEBAUTHN_ORIGINS", "https://evil.com"),
                ],
                "EDGEAUTH_WEBAUTHN_ORIGINS",
            ),
            (
                vec![
                    ("EDGEAUTH_WEBAUTHN_RP_ID", "example.com"),
                    ("EDGEAUTH_WEBAUTHN_ORIGINS", "https://notexample.com"),
                ],
                "EDGEAUTH_WEBAUTHN_ORIGINS",
            ),
            (
                vec![
                    ("EDGEAUTH_SESSION_COOKIE_DOMAIN", "example.com"),
                    ("EDGEAUTH_WEBAUTHN_ORIGINS", "https://auth.example.org"),
                ],
                "EDGEAUTH_WEBAUTHN_ORIGINS",
            ),
            (
                vec![("EDGEAUTH_WEBAUTHN_ORIGINS", "not an origin")],
                "EDGEAUTH_WEBAUTHN_ORIGINS",
            ),
            (
                vec![("EDGEAUTH_WEBAUTHN_RP_ID", "example.com")],
                "EDGEAUTH_WEBAUTHN_ORIGINS",
            ),
            (
                vec![("EDGEAUTH_WEBAUTHN_RP_ID", "192.168.1.1")],
                "EDGEAUTH_WEBAUTHN_RP_ID",
            ),
            (
                vec![("EDGEAUTH_WEBAUTHN_RP_ID", "[::1]")],
                "EDGEAUTH_WEBAUTHN_RP_ID",
            ),
            (
                vec![("EDGEAUTH_WEBAUTHN_RP_ID", "exa mple.com")],
                "EDGEAUTH_WEBAUTHN_RP_ID",
            ),
        ] {
            let err = with(&extra).unwrap_err();
            assert_eq!(err.var, var, "{extra:?}");
            assert!(!err.to_string().contains('\n'), "{err}");
        }
        // --dev: localhost, the listen port, and the portal there too.
        let dev = Config::from_map(&map(&[("EDGEAUTH_LISTEN", "127.0.0.1:8123")]), true).unwrap();
        assert_eq!(dev.webauthn_rp_id.as_deref(), Some("localhost"));
        assert_eq!(dev.webauthn_origins, ["http://localhost:8123"]);
        assert_eq!(dev.portal_url.as_deref(), Some("http://localhost:8123"));
        // --dev with a portal URL of its own: the RP follows it.
        let dev_portal = Config::from_map(
            &map(&[("EDGEAUTH_PORTAL_URL", "https://auth.example.com")]),
            true,
        )
        .unwrap();
        assert_eq!(
            dev_portal.webauthn_rp_id.as_deref(),
            Some("auth.example.com")
        );
        assert_eq!(dev_portal.webauthn_origins, ["https://auth.example.com"]);
    }

    #[test]
    fn dev_listens_on_loopback_unless_told_otherwise() {
        let dev = Config::from_map(&map(&[]), true).unwrap();
        assert_eq!(dev.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(dev.admin_listen.to_string(), "127.0.0.1:9090");
        let explicit = Config::from_map(
            &map(&[
                ("EDGEAUTH_LISTEN", "0.0.0.0:8000"),
                ("EDGEAUTH_ADMIN_LISTEN", "0.0.0.0:9000"),
            ]),
            true,
        )
        .unwrap();
        assert_eq!(explicit.listen.to_string(), "0.0.0.0:8000");
        assert_eq!(explicit.admin_listen.to_string(), "0.0.0.0:9000");
        let err = Config::from_map(&map(&[("EDGEAUTH_LISTEN", "localhost")]), true).unwrap_err();
        assert_eq!(err.var, "EDGEAUTH_LISTEN");
    }

    #[test]
    fn ipv6_prefix_and_device_budget() {
        let c = Config::from_map(&map(&minimal()), false).unwrap();
        assert_eq!(c.rate_ipv6_prefix, 64);
        assert_eq!(
            c.rate_limits.login_per_device,
            Some(RateLimit {
                limit: 5,
                window: Duration::from_secs(900)
            })
        );
        for (value, ok) in [
            ("1", true),
            ("128", true),
            ("56", true),
            ("0", false),
            ("129", false),
        ] {
            let mut pairs = minimal();
            pairs.push(("EDGEAUTH_RATE_IPV6_PREFIX", value));
            let parsed = Config::from_map(&map(&pairs), false);
            assert_eq!(parsed.is_ok(), ok, "{value}");
            if let Err(e) = parsed {
                assert_eq!(e.var, "EDGEAUTH_RATE_IPV6_PREFIX");
            }
        }
        let mut pairs = minimal();
        pairs.push(("EDGEAUTH_RATE_LOGIN_PER_DEVICE", "off"));
        let c = Config::from_map(&map(&pairs), false).unwrap();
        assert_eq!(c.rate_limits.login_per_device, None);
    }

    #[test]
    fn unknown_variables_name_the_closest_setting() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("EDGEAUTH_LOG", "EDGEAUTH_LOG"), 0);
        let line = unknown_setting(["PATH", "EDGEAUTH_COOKIE_SECUR", "HOME"]).unwrap();
        assert!(line.starts_with("EDGEAUTH_COOKIE_SECUR: "), "{line}");
        assert!(
            line.contains("did you mean EDGEAUTH_COOKIE_SECURE?"),
            "{line}"
        );
        let line = unknown_setting(["EDGEAUTH_JWT_KEY_FILE"]).unwrap();
        assert!(line.contains("EDGEAUTH_JWT_KEY_FILES?"), "{line}");
        let line = unknown_setting(["EDGEAUTH_RATE_LOGIN_PER_MAIL"]).unwrap();
        assert!(line.contains("EDGEAUTH_RATE_LOGIN_PER_EMAIL?"), "{line}");
        // Settings, Kubernetes service links and the test suite's switches pass.
        let fine: Vec<&str> = SETTINGS.iter().map(|s| s.var).collect();
        assert_eq!(unknown_setting(fine), None);
        assert_eq!(
            unknown_setting([
                "EDGEAUTH_SERVICE_HOST",
                "EDGEAUTH_SERVICE_PORT",
                "EDGEAUTH_SERVICE_PORT_HTTP",
                "EDGEAUTH_PORT",
                "EDGEAUTH_PORT_8080_TCP_PROTO",
                "EDGEAUTH_TEST_REDIS",
                "EDGEAUTH_CI_CACHE",
                "EDGEAUTHX",
                "PATH",
            ]),
            None
        );
    }

    #[test]
    fn listen_addresses_take_host_names() {
        let with = |var: &'static str, value: &'static str| {
            let mut pairs = minimal();
            pairs.push((var, value));
            Config::from_map(&map(&pairs), false)
        };
        let c = with("EDGEAUTH_LISTEN", "localhost:8080").unwrap();
        assert!(c.listen.ip().is_loopback(), "{}", c.listen);
        assert_eq!(c.listen.port(), 8080);
        let c = with("EDGEAUTH_ADMIN_LISTEN", "localhost:9000").unwrap();
        assert!(c.admin_listen.ip().is_loopback(), "{}", c.admin_listen);
        assert_eq!(c.admin_listen.port(), 9000);
        // IP literals stay as written.
        let c = with("EDGEAUTH_LISTEN", "[::1]:8081").unwrap();
        assert_eq!(c.listen.to_string(), "[::1]:8081");
        // A name that does not resolve, or no port: an error naming the setting.
        for (var, value) in [
            ("EDGEAUTH_LISTEN", "no-such-host.invalid:8080"),
            ("EDGEAUTH_ADMIN_LISTEN", "no-such-host.invalid:9090"),
            ("EDGEAUTH_LISTEN", "localhost"),
            ("EDGEAUTH_LISTEN", "localhost:http"),
            ("EDGEAUTH_LISTEN", ":8080"),
        ] {
            let err = with(var, value).unwrap_err();
            assert_eq!(err.var, var, "{value}");
            assert!(err.message.contains(value), "{err}");
        }
    }

    #[test]
    fn cidr_membership() {
        let net: IpNet = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains("10.1.200.3".parse().unwrap()));
        assert!(net.contains("::ffff:10.1.0.1".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        let any: IpNet = "0.0.0.0/0".parse().unwrap();
        assert!(any.contains("8.8.8.8".parse().unwrap()));
        let one: IpNet = "::1".parse().unwrap();
        assert!(one.contains("::1".parse().unwrap()));
        assert!(!one.contains("::2".parse().unwrap()));
    }
}
