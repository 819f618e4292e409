//! The integration suite: one test binary, one module per area. Every test
//! starts its own `redis-server` (free loopback port, no persistence) and
//! its own edgeauth on `127.0.0.1:0`, and talks HTTP to it, so tests run in
//! parallel without sharing state. With `EDGEAUTH_TEST_REDIS=cluster` the
//! same tests run against one local Redis Cluster per binary instead, each
//! under a key prefix of its own (see `support/cluster.rs`).
//!
//! Index:
//! - `conventions` — request conventions: 415/400/413/404/405, error bodies, probes, JWKS
//! - `account`     — register, activate, forgot, remove
//! - `admin_api`   — the admin API: tokens, every endpoint, admin events, listing every account
//!   exactly once (also on a Redis Cluster)
//! - `admin_cli`   — `edgeauth admin <verb>` (the binary) against the admin API: every verb,
//!   `--json`, exit statuses 0/1/2
//! - `account_lock` — a lock ends every session and refuses every sign-in (API, HBP, portal,
//!   passkeys, MFA steps, refresh, edge cookie); unlock; logins racing a lock
//! - `password_policy` — weak passwords refused at register, reset and change (JSON and portal)
//!   with the reason; passphrases pass; score 0 turns it off
//! - `edge_session` — the browser's edge session cookie at /auth/verify and /auth/forward-auth:
//!   identity and amr headers, mfa=1, sign-in URL and 302, idle and absolute lifetimes, sliding
//!   renewal's Redis writes, every revocation, amr in JWTs, cookies bound to the data key
//! - `email_change` — verified email change: end to end, errors, the two-slot races
//! - `session`     — login, refresh rotation and reuse, logout, revoke
//! - `tokens`      — JWT verification and refresh-token tampering
//! - `operations`  — /metrics (promtool), outcome counters, CORS, log secrecy
//! - `operations_startup` — start-up messages (flag or variable named, key file, Redis down),
//!   host-name listen addresses, 405 route labels, pool limit gauge, fractional CPU seconds
//! - `openapi`     — openapi.yaml matches the router and live answers
//! - `reauth_body` — a re-authentication body is checked also when the sign-in is fresh
//! - `gateway`     — real nginx `auth_request` in front of /auth/verify
//! - `browser`     — Chromium through the portal behind nginx, and Caddy `forward_auth`
//!   (the README's web-app recipes, read from README.md)
//! - `hbp`         — Hasura claims, HBP compat routes, the real nhost-js-sdk 2.3.4 (Node)
//! - `verify_cache` — revocation seen at once locally, within 1 s elsewhere
//! - `resilience`  — Redis down, hung, slow, killed and back; dev mode
//! - `hostile`     — hostile input table (sizes, JSON, encodings, heads, paths,
//!   smuggling shapes) and slowloris cut-offs
//! - `layout`      — the repository's shape: code map covers every module, layering, only
//!   clock/config/store read the time/environment/spell key names, no outside references
//! - `mfa_enrolment` — our own TOTP vs. the RFCs, generate (QR code), enable/disable, codes
//! - `mfa_login`   — the second login step: ticket burning, concurrency, other tickets
//! - `mfa_recovery` — recovery codes
//! - `mfa_secrets` — secrets sealed at rest, data keys at start-up and rotation, removal
//! - `mfa_replay`  — a replayed TOTP code: its own message, counted like a wrong code
//! - `passkeys`    — passkeys (WebAuthn) with the tests' software authenticator: register, the
//!   discoverable sign-in (amr, mfa=1), every refusal, the cap, removal, races on one challenge
//! - `portal`      — the sign-in portal's pages, CSRF, security headers, the portal off
//! - `portal_passkeys` — the portal's passkey button and account section, the script and its
//!   policy, the begin endpoint's checks, garbage credentials as pages, passkeys off
//! - `readme`      — the README's curl walk-through, run as written against `serve --dev`
//! - `return_urls` — where a sign-in may redirect (hostile and accepted tables), the URL a
//!   gateway reports, the sign-in URL
//! - `self_service` — password change, session list and single-session revoke
//! - `fuzz_replay` — the fuzz targets (fuzz/src/lib.rs) on stable: seeds + random inputs
//! - `cluster`     — Redis Cluster only: a master killed under traffic (failover)
//! - `abuse`       — rate limits, client IP behind proxies, equal work on failed logins, hash queue overload
//! - `hardening_credentials` — credential version vs. in-flight sign-ins, MFA ticket cap, re-authentication (`auth_time`), refresh max age
//! - `hardening_mfa` — one per-account budget of failed second factors; re-sealing under a new data key (`rekey`)
//! - `hardening_edges` — XFF hops with ports, IPv6 prefixes, device cookies, nosniff/no-store,
//!   at+jwt, cross-site cookie POSTs, OpenSSL-readable keys, unknown variables
//! - `hardening_tickets` — no usable ticket in Redis, reset tickets bound to email / credential version / newest request, per-email mail limits, equal work on ticket requests and registration, the audit stream, the Redis ACL

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

#[path = "integration/abuse.rs"]
mod abuse;
#[path = "integration/account.rs"]
mod account;
#[path = "integration/account_lock.rs"]
mod account_lock;
#[path = "integration/admin_api.rs"]
mod admin_api;
#[path = "integration/admin_cli.rs"]
mod admin_cli;
#[path = "integration/browser.rs"]
mod browser;
#[path = "integration/cluster.rs"]
mod cluster;
#[path = "integration/conventions.rs"]
mod conventions;
#[path = "integration/edge_session.rs"]
mod edge_session;
#[path = "integration/email_change.rs"]
mod email_change;
#[path = "integration/fuzz_replay.rs"]
mod fuzz_replay;
#[path = "integration/gateway.rs"]
mod gateway;
#[path = "integration/hardening_credentials.rs"]
mod hardening_credentials;
#[path = "integration/hardening_edges.rs"]
mod hardening_edges;
#[path = "integration/hardening_mfa.rs"]
mod hardening_mfa;
#[path = "integration/hardening_tickets.rs"]
mod hardening_tickets;
#[path = "integration/hbp.rs"]
mod hbp;
#[path = "integration/hostile.rs"]
mod hostile;
#[path = "integration/layout.rs"]
mod layout;
#[path = "integration/mfa_enrolment.rs"]
mod mfa_enrolment;
#[path = "integration/mfa_login.rs"]
mod mfa_login;
#[path = "integration/mfa_recovery.rs"]
mod mfa_recovery;
#[path = "integration/mfa_replay.rs"]
mod mfa_replay;
#[path = "integration/mfa_secrets.rs"]
mod mfa_secrets;
#[path = "integration/openapi.rs"]
mod openapi;
#[path = "integration/operations.rs"]
mod operations;
#[path = "integration/operations_startup.rs"]
mod operations_startup;
#[path = "integration/passkeys.rs"]
mod passkeys;
#[path = "integration/password_policy.rs"]
mod password_policy;
#[path = "integration/portal.rs"]
mod portal;
#[path = "integration/portal_passkeys.rs"]
mod portal_passkeys;
#[path = "integration/readme.rs"]
mod readme;
#[path = "integration/reauth_body.rs"]
mod reauth_body;
#[path = "integration/resilience.rs"]
mod resilience;
#[path = "integration/return_urls.rs"]
mod return_urls;
#[path = "integration/self_service.rs"]
mod self_service;
#[path = "integration/session.rs"]
mod session;
#[path = "integration/tokens.rs"]
mod tokens;
#[path = "integration/verify_cache.rs"]
mod verify_cache;
