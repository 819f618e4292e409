//! JSON adapter of the admin API (`/admin/`, admin listener only): checks the admin token,
//! decodes the account id of the path and the query, calls `ops::admin` (and `ops::lock`), and
//! answers.
//!
//! Tokens: `Authorization: Bearer <token>`, one of the lines of `EDGEAUTH_ADMIN_TOKEN_FILES`,
//! compared as SHA-256 digests in constant time (an XOR fold over every byte), against every configured token (no early exit
//! that would tell which one came closest). Without tokens the whole API answers 404; a missing or
//! wrong token is `401 invalid_token` and nothing more. The acting token is named in events by its
//! fingerprint only: the first 8 bytes of its SHA-256, in hex.
//!
//! Imports the operations only: no other adapter, no `router`.

use std::fmt::Write;
use std::net::IpAddr;

use hyper::StatusCode;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::app::{App, admin_token_digest};
use crate::clock;
use crate::error::{ApiResult, Error};
use crate::http::{Request, Response, json_response, no_content, rate_subject};
use crate::ops::admin::{self, DEFAULT_PAGE, MAX_PAGE, RateSubject};
use crate::ops::credentials::valid_email;
use crate::store::admin::AccountSummary;

/// The prefix of every admin path.
pub const ADMIN_PREFIX: &str = "/admin/";

/// The prefix of the paths naming one account.
pub const ACCOUNT_PREFIX: &str = "/admin/accounts/";

/// The query of `GET /admin/accounts` and `DELETE /admin/rate-limits`.
#[derive(Deserialize, Default)]
struct Query {
    email: Option<String>,
    ip: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// An account as the admin API shows it.
#[derive(Serialize)]
struct Summary {
    id: String,
    email: String,
    active: bool,
    locked: bool,
    locked_reason: Option<String>,
    created_at: u64,
    last_login_at: Option<u64>,
    mfa: bool,
    passkeys: u64,
    sessions: u64,
}

impl From<AccountSummary> for Summary {
    fn from(a: AccountSummary) -> Summary {
        Summary {
            id: a.id.to_string(),
            email: a.email,
            active: a.active,
            locked: a.locked,
            locked_reason: a.locked_reason,
            created_at: a.created_at,
            last_login_at: a.last_login_at,
            mfa: a.mfa,
            passkeys: a.passkeys,
            sessions: a.sessions,
        }
    }
}

#[derive(Serialize)]
struct Page {
    accounts: Vec<Summary>,
    next_cursor: Option<String>,
}

/// Checks the admin token of `req`: the acting token's fingerprint, or 404 (admin API off) or
/// 401 (no token, or not one of ours).
pub fn authorize(app: &App, req: &Request) -> ApiResult<String> {
    if app.admin_tokens.is_empty() {
        return Err(Error::NotFound);
    }
    let presented = admin_token_digest(req.bearer_token().ok_or(Error::InvalidToken)?);
    let mut matched = false;
    for known in &app.admin_tokens {
        // Every byte of every token is compared, whatever the earlier ones gave: no early exit
        // (and the bytes compared are digests, which the caller cannot steer anyway).
        let diff = known
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        matched |= std::hint::black_box(diff) == 0;
    }
    if !matched {
        return Err(Error::InvalidToken);
    }
    let mut fingerprint = String::with_capacity(16);
    for b in &presented[..8] {
        let _ = write!(fingerprint, "{b:02x}");
    }
    Ok(fingerprint)
}

fn query(req: &Request) -> ApiResult<Query> {
    match req.query.as_deref() {
        None | Some("") => Ok(Query::default()),
        Some(q) => serde_urlencoded::from_str(q)
            .map_err(|e| Error::invalid_request(format!("Invalid query: {e}"))),
    }
}

/// The account id of `/admin/accounts/<id>[/<action>]`: `400 invalid_request` when not a UUID.
fn account_id(req: &Request) -> ApiResult<Uuid> {
    let rest = req.path.strip_prefix(ACCOUNT_PREFIX).unwrap_or_default();
    let id = rest.split('/').next().unwrap_or_default();
    Uuid::parse_str(id)
        .ok()
        .filter(|u| u.hyphenated().to_string() == id)
        .ok_or_else(|| Error::invalid_request("The account id is not a UUID."))
}

/// `GET /admin/accounts?email=` (one account) or `?cursor=&limit=` (a page of every account).
pub async fn accounts(app: &App, req: &Request) -> ApiResult<Response> {
    authorize(app, req)?;
    let q = query(req)?;
    if let Some(email) = q.email {
        let email = valid_email(&email)?;
        let found = admin::find_by_email(app, &email).await?;
        return Ok(json_response(StatusCode::OK, &Summary::from(found)));
    }
    let limit = match q.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(|| Error::invalid_request("limit must be a number from 1 to 1000."))?,
    };
    let (accounts, next_cursor) = admin::list(app, q.cursor.as_deref(), limit).await?;
    Ok(json_response(
        StatusCode::OK,
        &Page {
            accounts: accounts.into_iter().map(Summary::from).collect(),
            next_cursor,
        },
    ))
}

/// `GET /admin/accounts/{id}`.
pub async fn account(app: &App, req: &Request) -> ApiResult<Response> {
    authorize(app, req)?;
    let id = account_id(req)?;
    let found = admin::summary(app, id).await?;
    Ok(json_response(StatusCode::OK, &Summary::from(found)))
}

/// `DELETE /admin/accounts/{id}`.
pub async fn delete(app: &App, req: &Request) -> ApiResult<Response> {
    let actor = authorize(app, req)?;
    admin::delete(app, account_id(req)?, &actor, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /admin/accounts/{id}/sign-out`.
pub async fn sign_out(app: &App, req: &Request) -> ApiResult<Response> {
    let actor = authorize(app, req)?;
    admin::sign_out(app, account_id(req)?, &actor, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /admin/accounts/{id}/activate`.
pub async fn activate(app: &App, req: &Request) -> ApiResult<Response> {
    let actor = authorize(app, req)?;
    admin::activate(app, account_id(req)?, &actor, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /admin/accounts/{id}/reset`.
pub async fn reset(app: &App, req: &Request) -> ApiResult<Response> {
    let actor = authorize(app, req)?;
    admin::reset(app, account_id(req)?, &actor, clock::now_ms()).await?;
    Ok(no_content())
}

/// `DELETE /admin/rate-limits?email=E` or `?ip=I`.
pub async fn unthrottle(app: &App, req: &Request) -> ApiResult<Response> {
    let actor = authorize(app, req)?;
    let q = query(req)?;
    let now = clock::now_ms();
    match (q.email, q.ip) {
        (Some(email), None) => {
            let email = valid_email(&email)?;
            admin::unthrottle(app, RateSubject::Email(&email), &actor, now).await?;
        }
        (None, Some(ip)) => {
            let ip: IpAddr = ip
                .trim()
                .parse()
                .map_err(|_| Error::invalid_request("ip is not an IP address."))?;
            let subject = rate_subject(ip, app.config.rate_ipv6_prefix);
            admin::unthrottle(app, RateSubject::Ip(&subject), &actor, now).await?;
        }
        _ => {
            return Err(Error::invalid_request("Give exactly one of email and ip."));
        }
    }
    Ok(no_content())
}

/// `{reason}`: lock.
#[derive(Deserialize)]
struct LockBody {
    reason: String,
}

/// `POST /admin/accounts/{id}/lock` `{reason}`.
pub async fn lock(app: &App, req: &Request) -> ApiResult<Response> {
    let actor = authorize(app, req)?;
    let id = account_id(req)?;
    let body: LockBody = req.json()?;
    admin::lock_account(app, id, &body.reason, &actor, clock::now_ms()).await?;
    Ok(no_content())
}

/// `POST /admin/accounts/{id}/unlock`.
pub async fn unlock(app: &App, req: &Request) -> ApiResult<Response> {
    let actor = authorize(app, req)?;
    admin::unlock_account(app, account_id(req)?, &actor, clock::now_ms()).await?;
    Ok(no_content())
}
