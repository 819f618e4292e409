//! The Lua scripts of `lua/`, compiled in and hashed once per [`Store`](super::Store).
//!
//! `redis::Script` runs EVALSHA and falls back to loading the script on NOSCRIPT (a restarted or
//! failed-over Redis), so no startup loading step is needed. Each file documents its KEYS, ARGV and
//! return value.
//!
//! Each script is named once, in the `scripts!` list below, which declares the field of
//! [`Scripts`] that runs it and its entry in `SOURCES` (the list a test compares with `lua/`, and
//! the single-slot check reads the headers from).
//!
//! The headers are also read by the single-slot check (`store::connection`): an ARGV documented as
//! a "key prefix" is one the script builds key names from, so it must carry the hash tag of the
//! script's KEYS.

use std::collections::HashMap;
use std::sync::OnceLock;

use redis::Script;

/// The one list of scripts: each name is a file `lua/<name>.lua` and a field of [`Scripts`], and
/// the list also gives [`SOURCES`]. Adding a script is adding its file and one line here (a test
/// checks that no file of `lua/` is missing).
macro_rules! scripts {
    ($($name:ident),* $(,)?) => {
        /// One `redis::Script` per file of `lua/`, hashed once.
        pub(crate) struct Scripts {
            $(pub $name: Script,)*
        }

        impl Scripts {
            pub fn new() -> Scripts {
                Scripts {
                    $($name: Script::new(source!($name)),)*
                }
            }
        }

        /// Every script's file name and source.
        const SOURCES: &[(&str, &str)] = &[$((stringify!($name), source!($name)),)*];
    };
}

/// The source of `lua/<name>.lua`, compiled in.
macro_rules! source {
    ($name:ident) => {
        include_str!(concat!("../../lua/", stringify!($name), ".lua"))
    };
}

scripts! {
    account_create,
    account_confirm,
    account_remove,
    account_lock,
    account_unlock,
    email_claim,
    email_release,
    email_release_account,
    email_ticket_create,
    email_change_begin,
    email_change_claim,
    email_change_commit,
    email_change_abort,
    password_replace,
    ticket_create,
    ticket_pointer,
    ticket_activate,
    ticket_reset,
    session_create,
    session_rotate,
    session_revoke,
    session_identity,
    edge_session_touch,
    sessions_revoke_all,
    event_emit,
    rate_hit,
    password_change,
    sessions_list,
    mfa_set_pending,
    mfa_enable,
    mfa_disable,
    mfa_recovery_replace,
    mfa_ticket_create,
    mfa_login_totp,
    mfa_login_recovery,
    mfa_reseal,
    passkey_challenge_put,
    passkey_challenge_take,
    passkey_add,
    passkey_remove,
    passkey_use,
    account_index,
    account_activate,
    rate_clear,
}

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
            ("account_lock", vec![1, 2]),
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
