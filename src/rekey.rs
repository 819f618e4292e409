//! `edgeauth rekey`: after a data key rotation, seal every TOTP secret again under the current
//! (first) data key, so the older keys can be retired (README "Rotating the data key").
//!
//! Walks every account (every master of a Redis Cluster), opens each sealed secret — active and
//! pending — with the configured keys, and writes back those sealed by an older key with a
//! compare-and-set (`Store::mfa_reseal`): a value a running server changed meanwhile is read and
//! judged again, never overwritten. Safe to run while servers serve, and to run again.
//!
//! Recovery codes cannot be re-keyed: only keyed digests are stored, and a digest can be
//! recomputed only from its code, which only the user holds. So this counts the recovery sets
//! that still need an older key (they keep working while that key stays configured, and stop
//! when it goes; a fresh set from `/auth/mfa/recovery-codes` is made under the current key).

use std::fmt;

use uuid::Uuid;

use crate::app::{BuildError, open_store, read_files};
use crate::auth::data_keys::DataKeys;
use crate::auth::recovery::{DigestKey, RecoveryHasher};
use crate::auth::seal::Sealer;
use crate::config::{Config, RedisTarget};
use crate::store::rekey::{AccountScan, SealedField};
use crate::store::{Store, StoreError};

/// Tries per value when servers keep changing it under us (each one re-reads it).
const CAS_TRIES: u32 = 5;
/// Failures listed by account at most (all are counted): a wrong key file fails every account.
const LISTED_FAILURES: usize = 1000;

/// What one run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Accounts walked.
    pub accounts: u64,
    /// Sealed secrets written back under the current key.
    pub resealed: u64,
    /// Sealed secrets already under the current key.
    pub current: u64,
    /// Sealed secrets that no configured key opens (made under a key no longer configured, or
    /// corrupt): the exit status is 1 while there are any.
    pub failed: u64,
    /// The first of those (up to a thousand), with their accounts and why.
    pub failures: Vec<(Uuid, String)>,
    /// Recovery-code sets made under the current key.
    pub recovery_current: u64,
    /// Recovery-code sets with a digest made under an older key that is still configured.
    pub recovery_previous: u64,
    /// Recovery-code sets with a digest made under a key no longer configured (those codes can
    /// never match again).
    pub recovery_unknown: u64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "accounts: {}", self.accounts)?;
        writeln!(f, "totp secrets re-sealed: {}", self.resealed)?;
        writeln!(f, "totp secrets already current: {}", self.current)?;
        writeln!(f, "totp secrets failed: {}", self.failed)?;
        writeln!(f, "recovery sets current: {}", self.recovery_current)?;
        writeln!(
            f,
            "recovery sets under an older key (still configured): {}",
            self.recovery_previous
        )?;
        write!(
            f,
            "recovery sets under an unknown key: {}",
            self.recovery_unknown
        )
    }
}

/// Why a run stopped before the end.
#[derive(Debug)]
pub enum RekeyError {
    /// A setting or key file is unusable (exit status 2, as for `serve`).
    Config(String),
    /// Redis failed (exit status 1); running again resumes the work.
    Store(StoreError),
    /// Sealing failed (the system's random number generator): exit status 1.
    Internal(String),
}

impl fmt::Display for RekeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RekeyError::Config(m) | RekeyError::Internal(m) => f.write_str(m),
            RekeyError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for RekeyError {}

impl From<StoreError> for RekeyError {
    fn from(e: StoreError) -> Self {
        RekeyError::Store(e)
    }
}

/// `edgeauth rekey` with the settings of `serve`: Redis (URL or cluster nodes), key prefix,
/// timeout and the data key files.
pub async fn run(config: &Config) -> Result<Report, RekeyError> {
    let RedisTarget::Url(url) = &config.redis else {
        return Err(RekeyError::Config(
            "EDGEAUTH_REDIS_URL: no Redis to connect to".into(),
        ));
    };
    let files =
        read_files("EDGEAUTH_DATA_KEY_FILE", &config.data_key_files).map_err(|e| match e {
            BuildError::Config(m) | BuildError::Other(m) => RekeyError::Config(m),
        })?;
    let keys = DataKeys::from_files(&files)
        .map_err(|e| RekeyError::Config(format!("EDGEAUTH_DATA_KEY_FILE: {e}")))?;
    let store = open_store(config, url, &keys).map_err(RekeyError::Config)?;
    rekey(&store, &keys.totp_sealer(), &keys.recovery_hasher()).await
}

/// The walk itself, with the store and keys already built.
pub async fn rekey(
    store: &Store,
    sealer: &Sealer,
    recovery: &RecoveryHasher,
) -> Result<Report, RekeyError> {
    let mut report = Report::default();
    let mut scan = AccountScan::default();
    while let Some(page) = store.next_accounts(&mut scan).await? {
        for account in page {
            report.accounts += 1;
            let sealed = store.mfa_sealed(account).await?;
            for (field, value) in [
                (SealedField::Active, sealed.active),
                (SealedField::Pending, sealed.pending),
            ] {
                reseal(store, sealer, account, field, value, &mut report).await?;
            }
            match sealed.recovery.iter().map(|d| recovery.digest_key(d)).max() {
                None => {}
                Some(DigestKey::Current) => report.recovery_current += 1,
                Some(DigestKey::Previous) => report.recovery_previous += 1,
                Some(DigestKey::Unknown) => report.recovery_unknown += 1,
            }
        }
    }
    Ok(report)
}

/// One sealed value of `account` (`value`, as read): counted as current, re-sealed
/// (compare-and-set, re-reading when a server changed it meanwhile), or failed.
async fn reseal(
    store: &Store,
    sealer: &Sealer,
    account: Uuid,
    field: SealedField,
    mut value: Option<String>,
    report: &mut Report,
) -> Result<(), RekeyError> {
    let aad = account.to_string();
    for _ in 0..CAS_TRIES {
        let Some(sealed) = value else {
            return Ok(());
        };
        let secret = match sealer.open(&sealed, aad.as_bytes()) {
            Ok(secret) => secret,
            Err(e) => {
                report.fail(account, format!("{field:?} secret: {e}"));
                return Ok(());
            }
        };
        if sealer.is_current(&sealed) {
            report.current += 1;
            return Ok(());
        }
        let new = sealer
            .seal(&secret, aad.as_bytes())
            .map_err(|e| RekeyError::Internal(format!("cannot seal: {e}")))?;
        if store.mfa_reseal(account, field, &sealed, &new).await? {
            report.resealed += 1;
            return Ok(());
        }
        // Changed meanwhile (a generate, enable, disable or re-seal on use): judge it afresh.
        let now = store.mfa_sealed(account).await?;
        value = match field {
            SealedField::Active => now.active,
            SealedField::Pending => now.pending,
        };
    }
    report.fail(
        account,
        format!("{field:?} secret changed on each of {CAS_TRIES} tries; run again"),
    );
    Ok(())
}

impl Report {
    fn fail(&mut self, account: Uuid, why: String) {
        self.failed += 1;
        if self.failures.len() < LISTED_FAILURES {
            self.failures.push((account, why));
        }
    }
}
