//! Passkeys (WebAuthn): registration and discoverable sign-in. This is the
//! interface the portal is written against; the operations themselves come
//! with the passkey core (until then every call answers `404 not_found`).

use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse,
};

use crate::app::App;
use crate::error::{ApiResult, Error};
use crate::ops::common::{Caller, Client};
use crate::ops::credentials::{SessionKind, Tokens};

/// A ceremony's options and the id of its server-side state.
pub struct Challenge<T> {
    pub challenge_id: Uuid,
    pub options: T,
}

/// One passkey of an account.
#[derive(Debug, Clone)]
pub struct PasskeyInfo {
    /// The credential id, base64url.
    pub id: String,
    pub name: String,
    pub created_at: u64,
    pub last_used_at: Option<u64>,
    pub backed_up: bool,
}

pub async fn register_begin(
    _app: &App,
    _caller: &Caller,
    _now_ms: u64,
) -> ApiResult<Challenge<CreationChallengeResponse>> {
    Err(Error::NotFound)
}

pub async fn register_finish(
    _app: &App,
    _caller: &Caller,
    _challenge_id: Uuid,
    _name: &str,
    _credential: &RegisterPublicKeyCredential,
    _now_ms: u64,
) -> ApiResult<PasskeyInfo> {
    Err(Error::NotFound)
}

pub async fn list(_app: &App, _caller: &Caller) -> ApiResult<Vec<PasskeyInfo>> {
    Ok(Vec::new())
}

pub async fn remove(_app: &App, _caller: &Caller, _id: &str, _now_ms: u64) -> ApiResult<()> {
    Err(Error::NotFound)
}

pub async fn login_begin(
    _app: &App,
    _client: &Client<'_>,
    _now_ms: u64,
) -> ApiResult<Challenge<RequestChallengeResponse>> {
    Err(Error::NotFound)
}

pub async fn login_finish(
    _app: &App,
    _challenge_id: Uuid,
    _credential: &PublicKeyCredential,
    _client: &Client<'_>,
    _kind: SessionKind,
    _now_ms: u64,
) -> ApiResult<Tokens> {
    Err(Error::NotFound)
}
