//! Looking at Redis behind the server's back: key names (as the tests spell
//! them, with the default `edgeauth:` prefix; in cluster mode the namespace's
//! proxy rewrites it), the fields of an account, and the commands a request
//! ran (command statistics).

use std::collections::BTreeMap;

use super::Redis;

/// The key of an account's hash.
pub fn account_key(account: &str) -> String {
    format!("edgeauth:{{{account}}}:account")
}

/// The key of one session family's hash.
pub fn session_key(account: &str, family: &str) -> String {
    format!("edgeauth:{{{account}}}:session:{family}")
}

impl Redis {
    /// Every key whose name matches `pattern`, sorted.
    pub fn keys(&self, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query(&mut self.conn())
            .expect("KEYS");
        keys.sort();
        keys
    }

    /// An account's keys (names holding its hash tag), sorted.
    pub fn account_keys(&self, account: &str) -> Vec<String> {
        self.keys(&format!("*{{{account}}}*"))
    }

    /// One field of an account's hash.
    pub fn account_field(&self, account: &str, field: &str) -> Option<String> {
        redis::cmd("HGET")
            .arg(account_key(account))
            .arg(field)
            .query(&mut self.conn())
            .expect("HGET")
    }

    /// One field of a session family's hash.
    pub fn session_field(&self, account: &str, family: &str, field: &str) -> Option<String> {
        redis::cmd("HGET")
            .arg(session_key(account, family))
            .arg(field)
            .query(&mut self.conn())
            .expect("HGET")
    }

    /// The stored password hash of an account.
    pub fn stored_password(&self, account: &str) -> String {
        self.account_field(account, "password")
            .expect("HGET password")
    }
}

/// Calls per Redis command (top-level and inside scripts) since the last
/// `CONFIG RESETSTAT`, without the CONFIG and INFO of the measuring itself.
pub fn command_calls(conn: &mut redis::Connection) -> BTreeMap<String, u64> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(conn)
        .expect("INFO");
    info.lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .filter(|(name, _)| !name.starts_with("config") && !name.starts_with("info"))
        .collect()
}

/// Resets the command statistics (`CONFIG RESETSTAT`).
pub fn reset_stats(conn: &mut redis::Connection) {
    let _: () = redis::cmd("CONFIG")
        .arg("RESETSTAT")
        .query(conn)
        .expect("RESETSTAT");
}
