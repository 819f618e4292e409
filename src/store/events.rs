//! Events: one entry per event in a capped stream, read by a mailer or auditor through a consumer
//! group. The server never sends mail itself.
//!
//! Two streams, each capped at `EDGEAUTH_EVENTS_MAXLEN` (`XADD MAXLEN ~`):
//! - `Pevents`: what a mailer acts on (tickets, notices) and the account lifecycle;
//! - `Pevents:audit`: high-volume audit events that anyone can cause (failed sign-ins). Kept
//!   apart so a flood of them trims only its own stream, never a reset mail no mailer has read.
//!
//! [`EventKind::stream`] sorts every kind, with no catch-all: a new kind must be placed.

use uuid::Uuid;

use super::{Store, StoreResult};

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
    /// A passkey was registered to the account.
    PasskeyAdded,
    /// A passkey of the account was removed.
    PasskeyRemoved,
    /// A sign-in with a passkey (a record of the sign-in, like a password login's session).
    PasskeyLogin,
    /// A passkey sign-in whose signature counter went backwards (or stood still): refused; the
    /// authenticator may have been cloned.
    PasskeyCloned,
    /// Admin API actions (each with the acting token's fingerprint in `actor`).
    AdminLock,
    AdminUnlock,
    AdminSignOut,
    AdminActivate,
    AdminReset,
    AdminDelete,
    AdminUnthrottle,
}

/// Which stream an event goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// `Pevents`: mail-bearing and account-lifecycle events.
    Events,
    /// `Pevents:audit`: high-volume audit events anyone can cause (failed sign-ins and codes).
    Audit,
}

impl EventKind {
    /// The stream this kind goes to. Exhaustive on purpose: whoever adds a kind decides whether a
    /// stranger can flood it (then `Audit`, whose trimming never costs a mail).
    pub fn stream(self) -> Stream {
        match self {
            // Sign-ins with a passkey are as frequent as sign-ins: the audit stream, never a
            // mailer's.
            EventKind::LoginFailed | EventKind::MfaFailed | EventKind::PasskeyLogin => {
                Stream::Audit
            }
            EventKind::AccountRegistered
            | EventKind::AccountExists
            | EventKind::AccountActivationRequested
            | EventKind::AccountActivated
            | EventKind::PasswordResetRequested
            | EventKind::PasswordChanged
            | EventKind::AccountRemoved
            | EventKind::MfaEnabled
            | EventKind::MfaDisabled
            | EventKind::MfaRecoveryCodeUsed
            | EventKind::EmailChangeRequested
            | EventKind::EmailChanged
            | EventKind::RefreshTokenReused
            | EventKind::TokensRevoked
            | EventKind::PasskeyAdded
            | EventKind::PasskeyRemoved
            | EventKind::PasskeyCloned
            // Rare, and only a holder of an admin token can cause them.
            | EventKind::AdminLock
            | EventKind::AdminUnlock
            | EventKind::AdminSignOut
            | EventKind::AdminActivate
            | EventKind::AdminReset
            | EventKind::AdminDelete
            | EventKind::AdminUnthrottle => Stream::Events,
        }
    }

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
            EventKind::PasskeyAdded => "passkey.added",
            EventKind::PasskeyRemoved => "passkey.removed",
            EventKind::PasskeyLogin => "passkey.login",
            EventKind::PasskeyCloned => "passkey.cloned",
            EventKind::AdminLock => "admin.lock",
            EventKind::AdminUnlock => "admin.unlock",
            EventKind::AdminSignOut => "admin.sign_out",
            EventKind::AdminActivate => "admin.activate",
            EventKind::AdminReset => "admin.reset",
            EventKind::AdminDelete => "admin.delete",
            EventKind::AdminUnthrottle => "admin.unthrottle",
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
    /// The page the mail links to (the sign-in portal's), for ticket mails
    /// when `EDGEAUTH_PORTAL_URL` is set.
    pub link: Option<String>,
    /// Which admin token acted (its fingerprint: the first 8 bytes of its SHA-256, hex), for
    /// `admin.*` events; never the token.
    pub actor: Option<&'a str>,
    /// Unix ms.
    pub at: u64,
}

impl Store {
    /// XADD <stream of its kind> MAXLEN ~ <cap> * type T user_id U email E [ticket K]
    /// [expires_at X] [link L] [actor F] at N. `user_id` and `email` are always present (empty when None) so
    /// consumers can rely on them.
    pub async fn emit(&self, event: &Event<'_>) -> StoreResult<()> {
        let stream = match event.kind.stream() {
            Stream::Events => self.keys().events(),
            Stream::Audit => self.keys().events_audit(),
        };
        self.append(event, stream, self.inner.events_maxlen).await
    }

    /// The Redis work of [`Store::emit`] with nothing kept: the event goes to a stream capped at
    /// 0 entries. For requests that must send no mail (an unknown email) yet must cost what one
    /// that does costs, so timing says nothing about the account.
    pub async fn emit_discarded(&self, event: &Event<'_>) -> StoreResult<()> {
        self.append(event, self.keys().events_discard(), 0).await
    }

    async fn append(&self, event: &Event<'_>, stream: String, maxlen: u64) -> StoreResult<()> {
        self.run("emit", async {
            let mut conn = self.conn().await?;
            let mut inv = self.scripts().event_emit.key(stream);
            inv.arg(maxlen)
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
            if let Some(link) = &event.link {
                inv.arg("link").arg(link);
            }
            if let Some(actor) = event.actor {
                inv.arg("actor").arg(actor);
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
    #![allow(clippy::expect_used)]
    use super::{EventKind, Stream};

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

    #[test]
    fn only_floodable_kinds_go_to_the_audit_stream() {
        assert_eq!(EventKind::LoginFailed.stream(), Stream::Audit);
        for kind in [
            EventKind::PasswordResetRequested,
            EventKind::AccountActivationRequested,
            EventKind::AccountRegistered,
            EventKind::AccountExists,
            EventKind::EmailChangeRequested,
            EventKind::EmailChanged,
            EventKind::PasswordChanged,
        ] {
            assert_eq!(kind.stream(), Stream::Events, "{}", kind.as_str());
        }
    }

    /// Every kind. The match makes a new variant a compile error here, as a
    /// reminder to list it (and so to check the README lists it).
    fn all_kinds() -> Vec<EventKind> {
        use EventKind::*;
        let all = vec![
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
            MfaFailed,
            EmailChangeRequested,
            EmailChanged,
            RefreshTokenReused,
            LoginFailed,
            TokensRevoked,
            PasskeyAdded,
            PasskeyRemoved,
            PasskeyLogin,
            PasskeyCloned,
            AdminLock,
            AdminUnlock,
            AdminSignOut,
            AdminActivate,
            AdminReset,
            AdminDelete,
            AdminUnthrottle,
        ];
        for kind in &all {
            match kind {
                AccountRegistered
                | AccountExists
                | AccountActivationRequested
                | AccountActivated
                | PasswordResetRequested
                | PasswordChanged
                | AccountRemoved
                | MfaEnabled
                | MfaDisabled
                | MfaRecoveryCodeUsed
                | MfaFailed
                | EmailChangeRequested
                | EmailChanged
                | RefreshTokenReused
                | LoginFailed
                | TokensRevoked
                | PasskeyAdded
                | PasskeyRemoved
                | PasskeyLogin
                | PasskeyCloned
                | AdminLock
                | AdminUnlock
                | AdminSignOut
                | AdminActivate
                | AdminReset
                | AdminDelete
                | AdminUnthrottle => {}
            }
        }
        all
    }

    #[test]
    fn the_readme_lists_every_event_type_and_no_other() {
        let readme = include_str!("../../README.md");
        let start = readme
            .find("Types:\n")
            .expect("the README's list of event types");
        let list = &readme[start..];
        let list = &list[..list.find("\n\n").unwrap_or(list.len())];
        let listed: Vec<&str> = list.split('`').skip(1).step_by(2).collect();
        let mut kinds: Vec<&str> = all_kinds().iter().map(|k| k.as_str()).collect();
        let mut listed_sorted = listed.clone();
        kinds.sort_unstable();
        listed_sorted.sort_unstable();
        assert_eq!(listed_sorted, kinds, "the README's event types: {list}");
    }
}
