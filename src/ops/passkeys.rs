//! Passkeys (WebAuthn, with `webauthn-rs`): registering one to the signed-in account, listing
//! and removing them, and the discoverable sign-in that starts a session with one.
//!
//! Typed WebAuthn values in and out (the adapters do the JSON). The ceremony state a begin makes
//! stays in Redis for 5 minutes and is spent by its finish (`store/passkeys.rs`): never sent to
//! the client, and of concurrent finishes with one challenge exactly one gets it. All
//! verification (challenge, origin, RP id, signature, user verification, the signature counter)
//! is the library's; this module decides what its verdicts mean for edgeauth:
//!
//! - registering needs a sign-in within the last 10 minutes (the access token's `auth_time`),
//!   else `403 reauthentication_required`, and at most 10 passkeys per account (`409
//!   passkey_limit`);
//! - a sign-in finds the account by the credential's user handle (the account id) and the
//!   credential in that account's own passkeys only; anything not accepted is `401
//!   invalid_credentials`; a signature counter that does not move forward is refused and emits
//!   `passkey.cloned`;
//! - the session it starts is multi-factor by itself: `amr` `hwk` (a credential that cannot be
//!   backed up: bound to its hardware) or `swk` (a synced one), plus `mfa`.
//!
//! Imports `ops::common` and `ops::credentials` only among the operations; never the HTTP
//! library, the request type, the adapters or the router.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyRegistration,
    PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse, WebauthnError,
};

use crate::app::{App, PASSKEY_CEREMONY_TIMEOUT};
use crate::auth::amr::Amr;
use crate::error::{ApiResult, Error};
use crate::metrics::Outcome;
use crate::ops::common::{self, Caller, Client, enforce_rate};
use crate::ops::credentials::{SessionKind, SessionProof, Tokens, start_session};
use crate::store::events::EventKind;
use crate::store::passkeys::{PasskeyAdd, PasskeyRecord, PasskeyUse};

/// Passkeys an account may have.
pub const MAX_PASSKEYS: u32 = 10;
/// How recent the sign-in must be (seconds) to register a passkey.
pub const REGISTER_MAX_AUTH_AGE_SECS: u64 = 600;
/// Longest passkey name, in characters.
pub const NAME_MAX_CHARS: usize = 64;

/// A ceremony begun: its id (what the finish presents) and the options for the browser.
#[derive(Debug, Clone)]
pub struct Challenge<T> {
    pub challenge_id: Uuid,
    pub options: T,
}

/// One passkey of an account, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// The credential id, base64url without padding.
    pub id: String,
    pub name: String,
    /// Unix ms.
    pub created_at: u64,
    /// Unix ms of the last sign-in with it.
    pub last_used_at: Option<u64>,
    /// Whether the credential is backed up (synced between devices).
    pub backed_up: bool,
}

/// The relying party, or `404 not_found` when passkeys are off.
fn relying_party(app: &App) -> ApiResult<&Webauthn> {
    app.webauthn.as_ref().ok_or(Error::NotFound)
}

fn ceremony_ttl_ms() -> u64 {
    PASSKEY_CEREMONY_TIMEOUT.as_millis() as u64
}

/// A credential id as the store and the API name it.
fn credential_name(raw: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

fn info(id: String, record: PasskeyRecord) -> PasskeyInfo {
    PasskeyInfo {
        id,
        name: record.name,
        created_at: record.created_at,
        last_used_at: record.last_used_at,
        backed_up: record.backed_up,
    }
}

fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("{what}: {e}"))
}

/// A passkey's name as given, made presentable: control characters become spaces, the ends are
/// trimmed, at most 64 characters are kept, and an empty name becomes "Passkey". Never refused:
/// the name is only a label for the account's owner.
pub fn tidy_name(raw: &str) -> String {
    let spaced: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let name: String = spaced.trim().chars().take(NAME_MAX_CHARS).collect();
    let name = name.trim_end();
    if name.is_empty() {
        "Passkey".to_owned()
    } else {
        name.to_owned()
    }
}

/// Begins registering a passkey to the caller's account: the creation options (resident key
/// and user verification required; the account's passkeys excluded, so an authenticator does
/// not register twice). Needs a sign-in within the last 10 minutes.
pub async fn register_begin(
    app: &App,
    caller: &Caller,
    now_ms: u64,
) -> ApiResult<Challenge<CreationChallengeResponse>> {
    let webauthn = relying_party(app)?;
    // A future auth_time (clock skew between replicas) counts as now.
    let recent = caller
        .auth_time
        .is_some_and(|t| (now_ms / 1000).saturating_sub(t) <= REGISTER_MAX_AUTH_AGE_SECS);
    if !recent {
        return Err(Error::ReauthenticationRequired);
    }
    let account = app
        .store
        .account(caller.account)
        .await?
        .ok_or(Error::InvalidToken)?;
    let existing = app.store.passkeys(caller.account).await?;
    if existing.len() >= MAX_PASSKEYS as usize {
        return Err(Error::PasskeyLimit);
    }
    let exclude = existing
        .iter()
        .filter_map(|(id, _)| URL_SAFE_NO_PAD.decode(id).ok())
        .collect();
    let (options, state) = webauthn
        .start_passkey_registration(
            caller.account,
            &account.email,
            &account.email,
            Some(exclude),
        )
        .map_err(|e| internal("passkey registration options", e))?;
    let options = require_resident_key(options)?;
    let state = serde_json::to_string(&state).map_err(|e| internal("registration state", e))?;
    let challenge_id = Uuid::new_v4();
    if !app
        .store
        .put_passkey_registration(caller.account, challenge_id, &state, ceremony_ttl_ms())
        .await?
    {
        return Err(Error::InvalidToken);
    }
    Ok(Challenge {
        challenge_id,
        options,
    })
}

/// Asks for a discoverable credential (a passkey the authenticator keeps, so a sign-in needs no
/// email): `webauthn-rs` leaves the resident key to the authenticator for passkeys.
fn require_resident_key(
    options: CreationChallengeResponse,
) -> ApiResult<CreationChallengeResponse> {
    let mut json = serde_json::to_value(&options).map_err(|e| internal("creation options", e))?;
    let selection = json
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(serde_json::Value::as_object_mut)
        .ok_or_else(|| internal("creation options", "no authenticatorSelection"))?;
    selection.insert("residentKey".into(), "required".into());
    selection.insert("requireResidentKey".into(), true.into());
    serde_json::from_value(json).map_err(|e| internal("creation options", e))
}

/// Finishes a registration the caller began: verifies the new credential against the spent
/// challenge and stores it under `name` ([`tidy_name`]). An unknown, expired or spent challenge
/// (of this account) or a credential that does not verify (wrong origin, RP id, no user
/// verification, ...) is `401 invalid_credentials`. Emits `passkey.added`.
pub async fn register_finish(
    app: &App,
    caller: &Caller,
    challenge_id: Uuid,
    name: &str,
    credential: &RegisterPublicKeyCredential,
    now_ms: u64,
) -> ApiResult<PasskeyInfo> {
    let webauthn = relying_party(app)?;
    let name = tidy_name(name);
    let refused = |why: &str| {
        tracing::debug!(why, "passkey registration refused");
        Error::PasskeyRefused
    };
    let state = app
        .store
        .take_passkey_registration(caller.account, challenge_id)
        .await?
        .ok_or_else(|| refused("unknown, expired or spent challenge"))?;
    let state: PasskeyRegistration =
        serde_json::from_str(&state).map_err(|e| internal("registration state", e))?;
    let passkey = webauthn
        .finish_passkey_registration(credential, &state)
        .map_err(|e| {
            tracing::debug!(error = %e, "passkey registration not verified");
            refused("credential not verified")
        })?;
    let id = credential_name(passkey.cred_id().as_ref());
    let serialized = serde_json::to_value(&passkey).map_err(|e| internal("passkey", e))?;
    let flag = |name: &str| {
        serialized
            .pointer(&format!("/cred/{name}"))
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false)
    };
    let counter = serialized
        .pointer("/cred/counter")
        .and_then(serde_json::Value::as_u64)
        .and_then(|c| u32::try_from(c).ok())
        .unwrap_or(0);
    let record = PasskeyRecord {
        counter,
        last_used_at: None,
        backed_up: flag("backup_state"),
        name,
        created_at: now_ms,
        passkey: serialized,
    };
    match app
        .store
        .add_passkey(caller.account, &id, &record, MAX_PASSKEYS)
        .await?
    {
        PasskeyAdd::Added => {}
        PasskeyAdd::NoAccount => return Err(Error::InvalidToken),
        PasskeyAdd::Limit => return Err(Error::PasskeyLimit),
        PasskeyAdd::Duplicate => {
            return Err(Error::invalid_request(
                "This passkey is already registered to the account.",
            ));
        }
    }
    app.emit(common::event(
        EventKind::PasskeyAdded,
        Some(caller.account),
        None,
        now_ms,
    ))
    .await?;
    Ok(info(id, record))
}

/// The caller's passkeys, oldest first.
pub async fn list(app: &App, caller: &Caller) -> ApiResult<Vec<PasskeyInfo>> {
    relying_party(app)?;
    Ok(app
        .store
        .passkeys(caller.account)
        .await?
        .into_iter()
        .map(|(id, record)| info(id, record))
        .collect())
}

/// Removes passkey `id` of the caller's account (`404 not_found` for an id that is not one of
/// its passkeys, revealing nothing about other accounts). Emits `passkey.removed`.
pub async fn remove(app: &App, caller: &Caller, id: &str, now_ms: u64) -> ApiResult<()> {
    relying_party(app)?;
    if !app.store.remove_passkey(caller.account, id.trim()).await? {
        return Err(Error::NotFound);
    }
    app.emit(common::event(
        EventKind::PasskeyRemoved,
        Some(caller.account),
        None,
        now_ms,
    ))
    .await?;
    Ok(())
}

/// Begins a discoverable sign-in: request options with no credential listed (the
/// authenticator offers the user its passkeys for this site) and user verification required.
/// Counts against the same per-IP limit as a password login.
pub async fn login_begin(
    app: &App,
    client: &Client<'_>,
    _now_ms: u64,
) -> ApiResult<Challenge<RequestChallengeResponse>> {
    let webauthn = relying_party(app)?;
    enforce_rate(
        app,
        "login_ip",
        client.rate_subject,
        app.config.rate_limits.login_per_ip,
        true,
    )
    .await?;
    let (options, state) = webauthn
        .start_discoverable_authentication()
        .map_err(|e| internal("passkey request options", e))?;
    let state = serde_json::to_string(&state).map_err(|e| internal("sign-in state", e))?;
    let challenge_id = Uuid::new_v4();
    app.store
        .put_passkey_login(challenge_id, &state, ceremony_ttl_ms())
        .await?;
    Ok(Challenge {
        challenge_id,
        options,
    })
}

/// Finishes a passkey sign-in: spends the challenge, finds the credential in the account its
/// user handle names, lets `webauthn-rs` verify the assertion, moves the signature counter
/// forward (compare-and-set) and starts a session (`kind`) with `amr` `hwk`/`swk` + `mfa`.
/// Emits `passkey.login`, or `passkey.cloned` for a counter that did not move forward.
pub async fn login_finish(
    app: &App,
    challenge_id: Uuid,
    credential: &PublicKeyCredential,
    client: &Client<'_>,
    kind: SessionKind,
    now_ms: u64,
) -> ApiResult<Tokens> {
    let webauthn = relying_party(app)?;
    let outcome = verify_and_start(
        app,
        webauthn,
        challenge_id,
        credential,
        client,
        kind,
        now_ms,
    )
    .await;
    app.metrics.outcome(match &outcome {
        Ok(_) => Outcome::LoginSuccess,
        Err(Error::PasskeyRefused) => Outcome::LoginFailure,
        Err(_) => return outcome,
    });
    outcome
}

async fn verify_and_start(
    app: &App,
    webauthn: &Webauthn,
    challenge_id: Uuid,
    credential: &PublicKeyCredential,
    client: &Client<'_>,
    kind: SessionKind,
    now_ms: u64,
) -> ApiResult<Tokens> {
    let refused = |why: &str| {
        tracing::debug!(why, "passkey sign-in refused");
        Error::PasskeyRefused
    };
    let state = app
        .store
        .take_passkey_login(challenge_id)
        .await?
        .ok_or_else(|| refused("unknown, expired or spent challenge"))?;
    let state: DiscoverableAuthentication =
        serde_json::from_str(&state).map_err(|e| internal("sign-in state", e))?;
    let (account, raw_id) = webauthn
        .identify_discoverable_authentication(credential)
        .map_err(|_| refused("no user handle"))?;
    let id = credential_name(raw_id);
    // Only the account the user handle names is searched: a credential id registered to
    // another account is unknown here.
    let record = app
        .store
        .passkey(account, &id)
        .await?
        .ok_or_else(|| refused("unknown credential"))?;
    let passkey = stored_passkey(&record)?;
    let result = match webauthn.finish_discoverable_authentication_v2(credential, state, &passkey) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => {
            cloned(app, account, now_ms).await?;
            return Err(refused("signature counter did not move forward"));
        }
        Err(e) => {
            tracing::debug!(error = %e, "passkey assertion not verified");
            return Err(refused("assertion not verified"));
        }
    };
    if !result.user_verified() {
        return Err(refused("no user verification"));
    }
    match app
        .store
        .use_passkey(
            account,
            &id,
            result.counter(),
            now_ms,
            result.backup_state(),
        )
        .await?
    {
        PasskeyUse::Recorded => {}
        PasskeyUse::Gone => return Err(refused("passkey removed meanwhile")),
        PasskeyUse::CounterRegressed => {
            // A concurrent sign-in with the same authenticator moved the counter past this one.
            cloned(app, account, now_ms).await?;
            return Err(refused("signature counter did not move forward"));
        }
    }
    let found = app
        .store
        .account(account)
        .await?
        .ok_or_else(|| refused("account gone"))?;
    if !found.active {
        return Err(Error::AccountInactive);
    }
    if found.locked {
        return Err(Error::AccountLocked);
    }
    let proof = SessionProof {
        client,
        kind,
        amr: Amr::passkey(!result.backup_eligible()),
    };
    let tokens = start_session(app, account, found.credential_version, proof, now_ms)
        .await
        .map_err(|e| match e {
            Error::InvalidCredentials => refused("account changed meanwhile"),
            other => other,
        })?;
    app.emit(common::event(
        EventKind::PasskeyLogin,
        Some(account),
        None,
        now_ms,
    ))
    .await?;
    Ok(tokens)
}

/// The stored passkey, with the counter the store holds (the authoritative one: the record's
/// own copy inside the serialized passkey is its value at registration).
fn stored_passkey(record: &PasskeyRecord) -> ApiResult<Passkey> {
    let mut json = record.passkey.clone();
    if let Some(counter) = json.pointer_mut("/cred/counter") {
        *counter = record.counter.into();
    }
    serde_json::from_value(json).map_err(|e| internal("stored passkey", e))
}

async fn cloned(app: &App, account: Uuid, now_ms: u64) -> ApiResult<()> {
    tracing::warn!(%account, "a passkey's signature counter went backwards: possibly cloned");
    app.emit(common::event(
        EventKind::PasskeyCloned,
        Some(account),
        None,
        now_ms,
    ))
    .await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn names() {
        assert_eq!(tidy_name("  Laptop  "), "Laptop");
        assert_eq!(tidy_name("a\nb\u{7f}c"), "a b c");
        assert_eq!(tidy_name(&"é".repeat(70)).chars().count(), 64);
        assert_eq!(tidy_name(&format!("{} x", "y".repeat(63))), "y".repeat(63));
        assert_eq!(tidy_name(""), "Passkey");
        assert_eq!(tidy_name(" \t\n "), "Passkey");
    }
}
