//! The Lua scripts of `lua/`, compiled in and hashed once per [`Store`](super::Store).
//!
//! `redis::Script` runs EVALSHA and falls back to loading the script on NOSCRIPT (a restarted or
//! failed-over Redis), so no startup loading step is needed. Each file documents its KEYS, ARGV and
//! return value.
//!
//! The headers are also read by the single-slot check (`store::connection`): an ARGV documented as
//! a "key prefix" is one the script builds key names from, so it must carry the hash tag of the
//! script's KEYS.

use std::collections::HashMap;
use std::sync::OnceLock;

use redis::Script;

pub(crate) struct Scripts {
    pub account_create: Script,
    pub account_confirm: Script,
    pub account_remove: Script,
    pub email_claim: Script,
    pub email_release: Script,
    pub email_release_account: Script,
    pub email_ticket_create: Script,
    pub email_change_begin: Script,
    pub email_change_claim: Script,
    pub email_change_commit: Script,
    pub email_change_abort: Script,
    pub password_replace: Script,
    pub ticket_create: Script,
    pub ticket_pointer: Script,
    pub ticket_activate: Script,
    pub ticket_reset: Script,
    pub session_create: Script,
    pub session_rotate: Script,
    pub session_revoke: Script,
    pub sessions_revoke_all: Script,
    pub event_emit: Script,
    pub rate_hit: Script,
    pub password_change: Script,
    pub sessions_list: Script,
    pub mfa_set_pending: Script,
    pub mfa_enable: Script,
    pub mfa_disable: Script,
    pub mfa_recovery_replace: Script,
    pub mfa_ticket_create: Script,
    pub mfa_login_totp: Script,
    pub mfa_login_recovery: Script,
    pub mfa_reseal: Script,
}

macro_rules! lua {
    ($name:literal) => {
        Script::new(include_str!(concat!("../../lua/", $name, ".lua")))
    };
}

impl Scripts {
    pub fn new() -> Scripts {
        Scripts {
            account_create: lua!("account_create"),
            account_confirm: lua!("account_confirm"),
            account_remove: lua!("account_remove"),
            email_claim: lua!("email_claim"),
            email_release: lua!("email_release"),
            email_release_account: lua!("email_release_account"),
            email_ticket_create: lua!("email_ticket_create"),
            email_change_begin: lua!("email_change_begin"),
            email_change_claim: lua!("email_change_claim"),
            email_change_commit: lua!("email_change_commit"),
            email_change_abort: lua!("email_change_abort"),
            password_replace: lua!("password_replace"),
            ticket_create: lua!("ticket_create"),
            ticket_pointer: lua!("ticket_pointer"),
            ticket_activate: lua!("ticket_activate"),
            ticket_reset: lua!("ticket_reset"),
            session_create: lua!("session_create"),
            session_rotate: lua!("session_rotate"),
            session_revoke: lua!("session_revoke"),
            sessions_revoke_all: lua!("sessions_revoke_all"),
            event_emit: lua!("event_emit"),
            rate_hit: lua!("rate_hit"),
            password_change: lua!("password_change"),
            sessions_list: lua!("sessions_list"),
            mfa_set_pending: lua!("mfa_set_pending"),
            mfa_enable: lua!("mfa_enable"),
            mfa_disable: lua!("mfa_disable"),
            mfa_recovery_replace: lua!("mfa_recovery_replace"),
            mfa_ticket_create: lua!("mfa_ticket_create"),
            mfa_login_totp: lua!("mfa_login_totp"),
            mfa_login_recovery: lua!("mfa_login_recovery"),
            mfa_reseal: lua!("mfa_reseal"),
        }
    }
}

macro_rules! src {
    ($name:literal) => {
        ($name, include_str!(concat!("../../lua/", $name, ".lua")))
    };
}

/// Every script's file name and source (a test checks that none of `lua/` is missing).
const SOURCES: &[(&str, &str)] = &[
    src!("account_create"),
    src!("account_confirm"),
    src!("account_remove"),
    src!("email_claim"),
    src!("email_release"),
    src!("email_release_account"),
    src!("email_ticket_create"),
    src!("email_change_begin"),
    src!("email_change_claim"),
    src!("email_change_commit"),
    src!("email_change_abort"),
    src!("password_replace"),
    src!("ticket_create"),
    src!("ticket_pointer"),
    src!("ticket_activate"),
    src!("ticket_reset"),
    src!("session_create"),
    src!("session_rotate"),
    src!("session_revoke"),
    src!("sessions_revoke_all"),
    src!("event_emit"),
    src!("rate_hit"),
    src!("password_change"),
    src!("sessions_list"),
    src!("mfa_set_pending"),
    src!("mfa_enable"),
    src!("mfa_disable"),
    src!("mfa_recovery_replace"),
    src!("mfa_ticket_create"),
    src!("mfa_login_totp"),
    src!("mfa_login_recovery"),
    src!("mfa_reseal"),
];

/// The 1-based positions of the ARGVs a script's header documents as a key prefix
/// (`-- ARGV[n]  session key prefix "P{A}:session:"`).
fn prefix_positions(source: &str) -> Vec<usize> {
    let header = source.lines().take_while(|line| line.starts_with("--"));
    let mut positions = Vec::new();
    for line in header {
        // A line may document several ARGVs; each one's text runs to the next "ARGV[".
        for part in line.split("ARGV[").skip(1) {
            if let Some((n, text)) = part.split_once(']') {
                if text.contains("key prefix") {
                    positions.extend(n.parse::<usize>().ok());
                }
            }
        }
    }
    positions
}

/// The key-prefix ARGV positions of the script with this SHA-1 (empty for an unknown one).
pub(crate) fn key_prefix_args(sha: &str) -> &'static [usize] {
    static BY_SHA: OnceLock<HashMap<String, Vec<usize>>> = OnceLock::new();
    BY_SHA
        .get_or_init(|| {
            SOURCES
                .iter()
                .map(|(_, source)| {
                    (
                        Script::new(source).get_hash().to_owned(),
                        prefix_positions(source),
                    )
                })
                .collect()
        })
        .get(sha)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_script_is_listed() {
        let mut files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/lua"))
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .filter_map(|name| name.strip_suffix(".lua").map(str::to_owned))
            .collect();
        files.sort();
        let mut listed: Vec<String> = SOURCES.iter().map(|(name, _)| name.to_string()).collect();
        listed.sort();
        assert_eq!(listed, files);
    }

    #[test]
    fn key_prefix_argvs_are_read_from_the_headers() {
        let by_name: HashMap<&str, Vec<usize>> = SOURCES
            .iter()
            .map(|(name, source)| (*name, prefix_positions(source)))
            .filter(|(_, positions)| !positions.is_empty())
            .collect();
        let expected: HashMap<&str, Vec<usize>> = [
            ("account_remove", vec![1, 2]),
            ("mfa_ticket_create", vec![3]),
            ("password_change", vec![4, 5]),
            ("session_create", vec![5]),
            ("sessions_list", vec![1]),
            ("sessions_revoke_all", vec![1]),
            ("ticket_reset", vec![2, 4]),
        ]
        .into_iter()
        .collect();
        assert_eq!(by_name, expected);
        let session_create = Script::new(include_str!("../../lua/session_create.lua"));
        assert_eq!(key_prefix_args(session_create.get_hash()), &[5]);
        assert!(key_prefix_args("not a sha").is_empty());
    }
}
