//! Events: one entry per event in the capped stream `Pevents`, read by a mailer or auditor through
//! a consumer group (SPEC §4). The server never sends mail itself.

use uuid::Uuid;

use super::{Store, StoreResult};

/// Approximate cap of the stream (`XADD MAXLEN ~`).
const EVENTS_MAXLEN: u64 = 100_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    AccountRegistered,
    AccountExists,
    AccountActivationRequested,
    AccountActivated,
    PasswordResetRequested,
    PasswordChanged,
    AccountRemoved,
    MfaEnabled,
    MfaDisabled,
    MfaRecoveryCodeUsed,
    /// A wrong TOTP or recovery code (any endpoint that takes one); counts against the account's
    /// budget of failed second factors.
    MfaFailed,
    EmailChangeRequested,
    EmailChanged,
    RefreshTokenReused,
    LoginFailed,
    TokensRevoked,
}

impl EventKind {
    /// The stream's `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::AccountRegistered => "account.registered",
            EventKind::AccountExists => "account.exists",
            EventKind::AccountActivationRequested => "account.activation_requested",
            EventKind::AccountActivated => "account.activated",
            EventKind::PasswordResetRequested => "password.reset_requested",
            EventKind::PasswordChanged => "password.changed",
            EventKind::AccountRemoved => "account.removed",
            EventKind::MfaEnabled => "mfa.enabled",
            EventKind::MfaDisabled => "mfa.disabled",
            EventKind::MfaRecoveryCodeUsed => "mfa.recovery_code_used",
            EventKind::MfaFailed => "mfa.failed",
            EventKind::EmailChangeRequested => "email.change_requested",
            EventKind::EmailChanged => "email.changed",
            EventKind::RefreshTokenReused => "refresh_token.reused",
            EventKind::LoginFailed => "login.failed",
            EventKind::TokensRevoked => "tokens.revoked",
        }
    }
}

pub struct Event<'a> {
    pub kind: EventKind,
    pub user_id: Option<Uuid>,
    /// Where a mail about it goes (for `email.change_requested`, the new address).
    pub email: Option<&'a str>,
    pub ticket: Option<Uuid>,
    /// Unix ms (the ticket's expiry).
    pub expires_at: Option<u64>,
    /// Unix ms.
    pub at: u64,
}

impl Store {
    /// XADD Pevents MAXLEN ~ 100000 * type T user_id U email E [ticket K] [expires_at X] at N.
    /// `user_id` and `email` are always present (empty when None) so consumers can rely on them.
    pub async fn emit(&self, event: &Event<'_>) -> StoreResult<()> {
        self.run("emit", async {
            let mut conn = self.conn().await?;
            let mut inv = self.scripts().event_emit.key(self.keys().events());
            inv.arg(EVENTS_MAXLEN)
                .arg("type")
                .arg(event.kind.as_str())
                .arg("user_id")
                .arg(event.user_id.map(|u| u.to_string()).unwrap_or_default())
                .arg("email")
                .arg(event.email.unwrap_or_default());
            if let Some(ticket) = event.ticket {
                inv.arg("ticket").arg(ticket.to_string());
            }
            if let Some(expires_at) = event.expires_at {
                inv.arg("expires_at").arg(expires_at);
            }
            inv.arg("at").arg(event.at);
            let _: String = inv.invoke_async(&mut conn).await?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::EventKind;

    #[test]
    fn type_names_follow_the_spec() {
        assert_eq!(EventKind::AccountRegistered.as_str(), "account.registered");
        assert_eq!(
            EventKind::MfaRecoveryCodeUsed.as_str(),
            "mfa.recovery_code_used"
        );
        assert_eq!(
            EventKind::RefreshTokenReused.as_str(),
            "refresh_token.reused"
        );
        assert_eq!(EventKind::TokensRevoked.as_str(), "tokens.revoked");
    }
}
