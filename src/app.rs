//! `App`: the shared handles every handler needs — configuration, Redis
//! store, signing and MAC keys, the password-hash pool — built once from a
//! [`Config`] and cloned cheaply (one `Arc`) into every connection.
//!
//! Building is where I/O happens: key files are read here, never in
//! `config`.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use uuid::Uuid;

use crate::auth::amr::Amr;
use crate::auth::data_keys::{DataKeys, TICKET_INFO};
use crate::auth::device::{DEVICE_INFO, DeviceKeys};
use crate::auth::edge_cookie::{EDGE_COOKIE_INFO, EdgeCookieKeys};
use crate::auth::jwt::{Claims, HasuraClaims, JwtKeys, random_jti};
use crate::auth::recovery::RecoveryHasher;
use crate::auth::refresh::RefreshKeys;
use crate::auth::seal::Sealer;
use crate::cache::TtlCache;
use crate::clock;
use crate::config::{Config, RedisTarget};
use crate::error::{ApiResult, Error};
use crate::hasher::Hasher;
use crate::metrics::{Metrics, Snapshot};
use crate::portal::Portal;
use crate::store::events::Event;
use crate::store::{Store, StoreConfig};

/// The application state shared by every request.
#[derive(Clone)]
pub struct App(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub jwt: JwtKeys,
    pub refresh_keys: RefreshKeys,
    /// Authenticates device cookies (`auth::device`).
    pub device_keys: DeviceKeys,
    /// Authenticates edge session cookies (`auth::edge_cookie`).
    pub edge_cookie_keys: EdgeCookieKeys,
    /// Seals TOTP secrets at rest.
    pub sealer: Sealer,
    /// Keyed hashes of recovery codes.
    pub recovery: RecoveryHasher,
    pub hasher: Hasher,
    pub metrics: Metrics,
    /// A hash of a random password at the configured cost: logins for
    /// unknown emails verify against it, so they pay one hash like the rest.
    pub dummy_hash: String,
    /// Tokens whose signature, issuer and audience were already checked:
    /// SHA-256 of the token → what it says, until the token's `exp`.
    /// Saves the Ed25519 verification (~50 µs) on every repeat of a token;
    /// the digest keeps an entry small (a token is ~450 bytes) and cannot
    /// collide in practice, so a hit is as good as a verification.
    pub verified_tokens: TtlCache<[u8; 32], VerifiedToken>,
    /// The sign-in portal's texts, CSRF keys and page policy.
    pub portal: Portal,
    /// The JWKS document, rendered once.
    pub jwks: Bytes,
    /// The passkeys' relying party (WebAuthn), built once; None when passkeys are off (no
    /// `EDGEAUTH_WEBAUTHN_RP_ID`), and their endpoints answer 404.
    pub webauthn: Option<webauthn_rs::Webauthn>,
    /// The admin API's tokens (`EDGEAUTH_ADMIN_TOKEN_FILES`), as SHA-256 digests; empty: the
    /// admin API is off (404).
    pub admin_tokens: Vec<[u8; 32]>,
    /// Says once when a proxy nobody trusts seems to front this replica.
    pub(crate) proxy_hint: crate::server::ProxyHint,
    draining: AtomicBool,
}

impl Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

/// Why the server could not be built.
#[derive(Debug)]
pub enum BuildError {
    /// A setting points at something unusable (a key file that is missing
    /// or malformed, a bad Redis URL): exit status 2, like a bad value.
    Config(String),
    /// Anything else: exit status 1.
    Other(String),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Config(m) | BuildError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for BuildError {}

/// The contents of every file, or a `Config` error naming `var` and the file.
pub(crate) fn read_files(var: &str, files: &[PathBuf]) -> Result<Vec<String>, BuildError> {
    files
        .iter()
        .map(|path| {
            std::fs::read_to_string(path).map_err(|e| {
                BuildError::Config(format!("{var}: cannot read {}: {e}", path.display()))
            })
        })
        .collect()
}

/// Shortest admin token accepted.
pub const ADMIN_TOKEN_MIN_LEN: usize = 32;

/// The SHA-256 digests of the admin tokens in the contents of the token files: one token a line,
/// blank lines and `#` comments ignored, each at least [`ADMIN_TOKEN_MIN_LEN`] characters. Only
/// digests are kept, so requests are checked by comparing digests in constant time.
pub(crate) fn admin_token_digests(files: &[String]) -> Result<Vec<[u8; 32]>, BuildError> {
    let mut digests = Vec::new();
    for line in files.iter().flat_map(|f| f.lines()) {
        let token = line.trim();
        if token.is_empty() || token.starts_with('#') {
            continue;
        }
        if token.chars().count() < ADMIN_TOKEN_MIN_LEN {
            return Err(BuildError::Config(format!(
                "EDGEAUTH_ADMIN_TOKEN_FILES: a token is shorter than {ADMIN_TOKEN_MIN_LEN} characters"
            )));
        }
        digests.push(admin_token_digest(token));
    }
    if digests.is_empty() && !files.is_empty() {
        return Err(BuildError::Config(
            "EDGEAUTH_ADMIN_TOKEN_FILES: the files hold no token".into(),
        ));
    }
    Ok(digests)
}

/// SHA-256 of an admin token.
pub fn admin_token_digest(token: &str) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// What a verified access token says, as the verification cache keeps it.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedToken {
    pub account: Uuid,
    pub session: Uuid,
    pub auth_time: Option<u64>,
    pub amr: Amr,
}

/// An access token and its lifetime in milliseconds.
pub struct AccessToken {
    pub token: String,
    pub expires_in_ms: u64,
}

/// How long a browser gives the user to complete a passkey ceremony: the life of its
/// challenge in Redis (`ops::passkeys`).
pub const PASSKEY_CEREMONY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The WebAuthn relying party of the configuration (`config` checked the origins against the RP
/// id already), or None when passkeys are off.
fn build_webauthn(config: &Config) -> Result<Option<webauthn_rs::Webauthn>, String> {
    use webauthn_rs::prelude::Url;
    let Some(rp_id) = config.webauthn_rp_id.as_deref() else {
        return Ok(None);
    };
    let origins = config
        .webauthn_origins
        .iter()
        .map(|o| Url::parse(o).map_err(|e| format!("EDGEAUTH_WEBAUTHN_ORIGINS: {o:?}: {e}")))
        .collect::<Result<Vec<Url>, String>>()?;
    let Some((first, rest)) = origins.split_first() else {
        return Err("EDGEAUTH_WEBAUTHN_ORIGINS: no origin for passkeys".into());
    };
    let refused = |e: webauthn_rs::prelude::WebauthnError| {
        format!("EDGEAUTH_WEBAUTHN_ORIGINS: not usable with the RP id {rp_id:?}: {e}")
    };
    let builder = webauthn_rs::WebauthnBuilder::new(rp_id, first)
        .map_err(refused)?
        .rp_name(&config.webauthn_rp_name)
        .timeout(PASSKEY_CEREMONY_TIMEOUT);
    let builder = rest
        .iter()
        .fold(builder, |b, origin| b.append_allowed_origin(origin));
    builder.build().map(Some).map_err(refused)
}

impl App {
    /// Loads keys and prepares the Redis pool (which connects lazily, so a
    /// Redis that is down at start only makes `/readyz` fail).
    pub async fn build(config: Config) -> Result<App, BuildError> {
        let RedisTarget::Url(url) = &config.redis else {
            return Err(BuildError::Config(
                "EDGEAUTH_REDIS_URL: no Redis to connect to".into(),
            ));
        };
        let data_keys = if config.data_key_files.is_empty() {
            DataKeys::ephemeral()
        } else {
            DataKeys::from_files(&read_files(
                "EDGEAUTH_DATA_KEY_FILE",
                &config.data_key_files,
            )?)
        }
        .map_err(|e| BuildError::Config(format!("EDGEAUTH_DATA_KEY_FILE: {e}")))?;

        let portal = Portal::build(&config, &data_keys)?;
        let webauthn = build_webauthn(&config).map_err(BuildError::Config)?;

        let store = open_store(&config, url, &data_keys).map_err(BuildError::Config)?;

        let jwt = if config.jwt_key_files.is_empty() {
            JwtKeys::ephemeral()
        } else {
            JwtKeys::from_pems(&read_files(
                "EDGEAUTH_JWT_KEY_FILES",
                &config.jwt_key_files,
            )?)
        }
        .map_err(|e| BuildError::Config(format!("EDGEAUTH_JWT_KEY_FILES: {e}")))?;

        let admin_tokens = admin_token_digests(&read_files(
            "EDGEAUTH_ADMIN_TOKEN_FILES",
            &config.admin_token_files,
        )?)?;

        let metrics =
            Metrics::new().map_err(|e| BuildError::Other(format!("metrics registry: {e}")))?;
        let hasher = Hasher::new(
            config.scrypt,
            config.hash_concurrency,
            config.hash_queue,
            metrics.hash_duration.clone(),
        )
        .map_err(|e| BuildError::Other(format!("cannot start the password hash threads: {e}")))?;
        let dummy_password = Uuid::new_v4().to_string();
        let dummy_hash = hasher
            .hash(&dummy_password)
            .await
            .map_err(|e| BuildError::Other(format!("password hashing does not work: {e}")))?;

        Ok(App(Arc::new(Inner {
            jwks: Bytes::from(jwt.jwks_json()),
            verified_tokens: TtlCache::new(config.verify_cache_entries),
            refresh_keys: data_keys.refresh_keys(),
            device_keys: DeviceKeys::new(data_keys.seal_key_material(DEVICE_INFO)),
            edge_cookie_keys: EdgeCookieKeys::new(data_keys.seal_key_material(EDGE_COOKIE_INFO)),
            sealer: data_keys.totp_sealer(),
            recovery: data_keys.recovery_hasher(),
            jwt,
            store,
            hasher,
            metrics,
            dummy_hash,
            portal,
            webauthn,
            config,
            admin_tokens,
            proxy_hint: crate::server::ProxyHint::new(),
            draining: AtomicBool::new(false),
        })))
    }

    /// The Prometheus text exposition of this replica.
    pub fn render_metrics(&self) -> Result<String, prometheus::Error> {
        let (connections, in_flight) = self.store.pool_status();
        self.metrics.render(Snapshot {
            hash_queue_depth: self.hasher.queue_depth(),
            redis_errors_total: self.store.error_count(),
            redis_connections: connections,
            redis_in_flight: in_flight,
        })
    }

    /// Marks the server as shutting down: `/readyz` answers 503 from now on.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// Signs an access token for session `sid` of account `sub`.
    /// `auth_time`: unix seconds of the credential proof behind the session (None only for a
    /// session started before it was recorded); `amr`: how the user authenticated.
    pub fn issue_access_token(
        &self,
        sub: Uuid,
        sid: Uuid,
        auth_time: Option<u64>,
        amr: Amr,
    ) -> ApiResult<AccessToken> {
        let now_secs = clock::now_ms() / 1000;
        let ttl_secs = self.config.jwt_ttl.as_secs().max(1);
        let claims = Claims {
            sub: sub.to_string(),
            sid: sid.to_string(),
            jti: random_jti().map_err(|e| Error::Internal(e.to_string()))?,
            iat: now_secs,
            exp: now_secs + ttl_secs,
            iss: self.config.jwt_issuer.clone(),
            aud: self.config.jwt_audience.clone(),
            auth_time,
            amr: amr.as_claim().into_iter().map(str::to_owned).collect(),
            hasura: self.config.hasura_role.as_ref().map(|role| HasuraClaims {
                user_id: sub.to_string(),
                default_role: role.clone(),
                allowed_roles: vec![role.clone()],
            }),
        };
        let token = self
            .jwt
            .sign(&claims)
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(AccessToken {
            token,
            expires_in_ms: ttl_secs * 1000,
        })
    }

    /// Appends an event to the stream; in `--dev` also prints it (with its
    /// ticket) so a person can follow the flows without a mailer.
    pub async fn emit(&self, event: Event<'_>) -> ApiResult<()> {
        if self.config.dev {
            let ticket = event.ticket.map(|t| t.to_string()).unwrap_or_default();
            tracing::info!(
                event = event.kind.as_str(),
                email = event.email.unwrap_or(""),
                ticket = %ticket,
                "event (dev mode prints tickets)"
            );
        }
        self.store.emit(&event).await?;
        Ok(())
    }
}

/// The store of `config` (one Redis at `url`, or the cluster nodes), for the
/// server and for `edgeauth rekey`; an error names the variable.
pub(crate) fn open_store(
    config: &Config,
    url: &str,
    data_keys: &DataKeys,
) -> Result<Store, String> {
    Store::new(&StoreConfig {
        url: url.to_owned(),
        cluster_nodes: config.redis_cluster_nodes.clone(),
        prefix: config.redis_prefix.clone(),
        pool_size: config.redis_pool_size,
        op_timeout: config.redis_timeout,
        session_cache_ttl: config.verify_cache_ttl,
        session_cache_entries: config.verify_cache_entries,
        // Tickets are named in Redis by a MAC under this key, never by themselves.
        ticket_keys: data_keys
            .seal_key_material(TICKET_INFO)
            .into_iter()
            .map(|(_, key)| key)
            .collect(),
        events_maxlen: config.events_maxlen,
    })
    .map_err(|e| {
        let var = match config.redis_cluster_nodes.is_empty() {
            true => "EDGEAUTH_REDIS_URL",
            false => "EDGEAUTH_REDIS_CLUSTER_NODES",
        };
        format!("{var}: {e}")
    })
}
