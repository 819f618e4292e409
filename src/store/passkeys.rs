//! Passkeys: an account's registered WebAuthn credentials, and the state of a passkey ceremony
//! between its begin and its finish.
//!
//! - `P{A}:passkeys`, one HASH per account: field = credential id (base64url), value = a compact
//!   JSON record ([`PasskeyRecord`]): the signature counter, last use and backup state first (the
//!   fields `passkey_use.lua` rewrites, always in that order), then the name, the creation time
//!   and the serialized passkey (opaque here: `ops::passkeys` makes and reads it). At most
//!   `cap` fields (`passkey_add.lua` refuses one more).
//! - `P{A}:passkey_reg:<challenge id>`: a registration's state, in the account's slot;
//!   `Ppasskey_login:{<digest>}`: a sign-in's state (nobody is known yet), named by a SHA-256 of
//!   the challenge id with that digest as its own hash tag. Both live 5 minutes and are spent by
//!   `passkey_challenge_take.lua` (GET + DEL in one script): of concurrent finishes with one
//!   challenge exactly one gets the state. The state never leaves the server.
//!
//! Every state change is one single-slot script; `account_remove.lua` deletes the hash with the
//! account. Must not import hyper or `auth`; time arrives as `now_ms`.

use std::collections::HashMap;

use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreResult, bad_reply};

/// One stored passkey. Serialized with its fields in this order: `passkey_use.lua` relies on
/// the record starting with `{"counter":…,"last_used_at":…,"backed_up":…,`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeyRecord {
    /// The last signature counter accepted (0 for authenticators without one).
    pub counter: u32,
    /// Unix ms of the last sign-in with it.
    pub last_used_at: Option<u64>,
    /// Whether the credential is backed up (synced) now, as its last use said.
    pub backed_up: bool,
    pub name: String,
    /// Unix ms.
    pub created_at: u64,
    /// The serialized credential (public key, id, flags) as the WebAuthn library wrote it.
    pub passkey: serde_json::Value,
}

/// The outcome of storing a new passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyAdd {
    Added,
    /// The account does not exist (removed since the ceremony began).
    NoAccount,
    /// The account has as many passkeys as it may.
    Limit,
    /// This credential is already one of the account's.
    Duplicate,
}

/// The outcome of recording a sign-in with a passkey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyUse {
    Recorded,
    /// No such passkey any more (removed meanwhile).
    Gone,
    /// The presented counter is not above the stored one: nothing was changed.
    CounterRegressed,
}

impl Store {
    /// Keeps the state of a registration `account` began, for `ttl_ms`. false when the account
    /// does not exist.
    pub async fn put_passkey_registration(
        &self,
        account: Uuid,
        challenge: Uuid,
        state: &str,
        ttl_ms: u64,
    ) -> StoreResult<bool> {
        self.run("put_passkey_registration", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let stored: i64 = self
                .scripts()
                .passkey_challenge_put
                .key(k.passkey_registration(account, challenge))
                .key(k.account(account))
                .arg(state)
                .arg(ttl_ms.max(1))
                .invoke_async(&mut conn)
                .await?;
            Ok(stored == 1)
        })
        .await
    }

    /// Keeps the state of a sign-in, for `ttl_ms`.
    pub async fn put_passkey_login(
        &self,
        challenge: Uuid,
        state: &str,
        ttl_ms: u64,
    ) -> StoreResult<()> {
        self.run("put_passkey_login", async {
            let mut conn = self.conn().await?;
            let _: i64 = self
                .scripts()
                .passkey_challenge_put
                .key(self.keys().passkey_login(challenge))
                .arg(state)
                .arg(ttl_ms.max(1))
                .invoke_async(&mut conn)
                .await?;
            Ok(())
        })
        .await
    }

    /// Spends the state of a registration of `account` (None: unknown, expired, spent, or
    /// another account's).
    pub async fn take_passkey_registration(
        &self,
        account: Uuid,
        challenge: Uuid,
    ) -> StoreResult<Option<String>> {
        let key = self.keys().passkey_registration(account, challenge);
        self.run("take_passkey_registration", self.take_challenge(key))
            .await
    }

    /// Spends the state of a sign-in (None: unknown, expired or spent).
    pub async fn take_passkey_login(&self, challenge: Uuid) -> StoreResult<Option<String>> {
        let key = self.keys().passkey_login(challenge);
        self.run("take_passkey_login", self.take_challenge(key))
            .await
    }

    async fn take_challenge(&self, key: String) -> StoreResult<Option<String>> {
        let mut conn = self.conn().await?;
        Ok(self
            .scripts()
            .passkey_challenge_take
            .key(key)
            .invoke_async(&mut conn)
            .await?)
    }

    /// Stores a new passkey `id` of `account`, unless it would make more than `cap`.
    pub async fn add_passkey(
        &self,
        account: Uuid,
        id: &str,
        record: &PasskeyRecord,
        cap: u32,
    ) -> StoreResult<PasskeyAdd> {
        let json = serde_json::to_string(record)
            .map_err(|e| bad_reply(format!("cannot serialize a passkey record: {e}")))?;
        self.run("add_passkey", async {
            let k = self.keys();
            let mut conn = self.conn().await?;
            let added: i64 = self
                .scripts()
                .passkey_add
                .key(k.account(account))
                .key(k.passkeys(account))
                .arg(id)
                .arg(&json)
                .arg(cap)
                .invoke_async(&mut conn)
                .await?;
            match added {
                1 => Ok(PasskeyAdd::Added),
                0 => Ok(PasskeyAdd::NoAccount),
                -1 => Ok(PasskeyAdd::Limit),
                -2 => Ok(PasskeyAdd::Duplicate),
                other => Err(bad_reply(format!("passkey_add returned {other}"))),
            }
        })
        .await
    }

    /// Every passkey of `account`: (credential id, record), oldest first.
    pub async fn passkeys(&self, account: Uuid) -> StoreResult<Vec<(String, PasskeyRecord)>> {
        self.run("passkeys", async {
            let mut conn = self.conn().await?;
            let fields: HashMap<String, String> =
                conn.hgetall(self.keys().passkeys(account)).await?;
            let mut all = fields
                .into_iter()
                .map(|(id, json)| parse_record(&json).map(|record| (id, record)))
                .collect::<StoreResult<Vec<_>>>()?;
            all.sort_by(|a, b| (a.1.created_at, &a.0).cmp(&(b.1.created_at, &b.0)));
            Ok(all)
        })
        .await
    }

    /// One passkey of `account`, by credential id.
    pub async fn passkey(&self, account: Uuid, id: &str) -> StoreResult<Option<PasskeyRecord>> {
        self.run("passkey", async {
            let mut conn = self.conn().await?;
            let json: Option<String> = conn.hget(self.keys().passkeys(account), id).await?;
            json.as_deref().map(parse_record).transpose()
        })
        .await
    }

    /// Removes passkey `id` of `account`; false when the account has none of that id.
    pub async fn remove_passkey(&self, account: Uuid, id: &str) -> StoreResult<bool> {
        self.run("remove_passkey", async {
            let mut conn = self.conn().await?;
            let removed: i64 = self
                .scripts()
                .passkey_remove
                .key(self.keys().passkeys(account))
                .arg(id)
                .invoke_async(&mut conn)
                .await?;
            Ok(removed == 1)
        })
        .await
    }

    /// Records a verified sign-in with passkey `id` of `account`: the counter moves forward to
    /// `counter` only if that is above the stored one (compare-and-set: a concurrent or replayed
    /// assertion never moves it back), with the time and the backup state.
    pub async fn use_passkey(
        &self,
        account: Uuid,
        id: &str,
        counter: u32,
        now_ms: u64,
        backed_up: bool,
    ) -> StoreResult<PasskeyUse> {
        self.run("use_passkey", async {
            let mut conn = self.conn().await?;
            let used: i64 = self
                .scripts()
                .passkey_use
                .key(self.keys().passkeys(account))
                .arg(id)
                .arg(counter)
                .arg(now_ms)
                .arg(if backed_up { "true" } else { "false" })
                .invoke_async(&mut conn)
                .await?;
            match used {
                1 => Ok(PasskeyUse::Recorded),
                0 => Ok(PasskeyUse::Gone),
                -1 => Ok(PasskeyUse::CounterRegressed),
                other => Err(bad_reply(format!("passkey_use returned {other}"))),
            }
        })
        .await
    }
}

fn parse_record(json: &str) -> StoreResult<PasskeyRecord> {
    serde_json::from_str(json).map_err(|e| bad_reply(format!("a passkey record: {e}")))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    /// `passkey_use.lua` finds its fields at the start of the record, in this order.
    #[test]
    fn the_record_starts_with_the_fields_the_script_rewrites() {
        let record = PasskeyRecord {
            counter: 7,
            last_used_at: None,
            backed_up: false,
            name: "Laptop \"work\"".into(),
            created_at: 1,
            passkey: serde_json::json!({"cred": {"counter": 7}}),
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(
            json.starts_with(r#"{"counter":7,"last_used_at":null,"backed_up":false,"name":"#),
            "{json}"
        );
        assert_eq!(parse_record(&json).unwrap(), record);
    }
}
