//! Registration. It answers the same whether or not the email was free, and
//! does the same Redis work (commands and round trips) either way; what
//! differs is only the event written to the stream.
//!
//! Imports `ops::common`, `ops::credentials` (the password strength check)
//! and `ops::mail` only among the operations; never
//! the HTTP library, the request type, the adapters or the router.

use uuid::Uuid;

use crate::app::App;
use crate::error::ApiResult;
use crate::ops::common::{self, enforce_rate};
use crate::ops::credentials::check_password_strength;
use crate::ops::mail::{Mailed, new_ticket, send_ticket};
use crate::store::accounts::{NewAccount, Registration};
use crate::store::events::EventKind;

/// Registers `email` (validated) with `password` (length-checked; its
/// strength is checked here), for a client of rate subject `ip`.
pub async fn register(
    app: &App,
    email: &str,
    password: &str,
    ip: &str,
    now_ms: u64,
) -> ApiResult<()> {
    check_password_strength(app, password, Some(email))?;
    let limit = app.config.rate_limits.register_per_ip;
    enforce_rate(app, "register_ip", ip, limit, true).await?;
    // Hash before looking at the email, so a taken email costs the same.
    let hash = app.hasher.hash(password).await?;
    let id = Uuid::new_v4();
    let active = app.config.auto_activate;
    let registration = app
        .store
        .register(NewAccount {
            id,
            email,
            password: &hash,
            active,
            now_ms,
        })
        .await?;
    // Both outcomes do the same Redis work (the store's registration does too): a ticket, real
    // or made for no account, unless accounts start active; then one event.
    match registration {
        Registration::Created if !active => {
            send_ticket(
                app,
                Some(id),
                email,
                Mailed::Activate,
                EventKind::AccountRegistered,
                now_ms,
            )
            .await
        }
        Registration::Created => {
            app.emit(common::event(
                EventKind::AccountRegistered,
                Some(id),
                Some(email),
                now_ms,
            ))
            .await
        }
        Registration::EmailTaken { existing } => {
            if !active {
                new_ticket(app, None, Mailed::Activate).await?;
            }
            app.emit(common::event(
                EventKind::AccountExists,
                Some(existing),
                Some(email),
                now_ms,
            ))
            .await
        }
    }
}
