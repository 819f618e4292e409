//! Single-use tickets (activation, password reset; the email-change ticket, which also carries
//! its addresses, is created and spent in `email`).
//!
//! A ticket is a random UUIDv4 with two keys of the same TTL: the authoritative record
//! `P{A}:ticket:T` in its account's slot, so spending it and acting on the account are one script;
//! and a pointer `Pticket:T → A`, needed only because the bare ticket does not say which slot holds
//! the record. The pointer is never decisive (the spend script checks the record), so it is left to
//! expire rather than deleted in another round trip.

use redis::AsyncCommands;
use uuid::Uuid;

use super::{Store, StoreResult, accounts::parse_uuid};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketPurpose {
    Activate,
    Reset,
}

impl TicketPurpose {
    fn as_str(self) -> &'static str {
        match self {
            TicketPurpose::Activate => "activate",
            TicketPurpose::Reset => "reset",
        }
    }
}

impl Store {
    /// Creates a random UUIDv4 ticket for an existing ready account (record in the account slot +
    /// lookup pointer). None when the account does not exist.
    pub async fn create_ticket(
        &self,
        account: Uuid,
        purpose: TicketPurpose,
        ttl_ms: u64,
    ) -> StoreResult<Option<Uuid>> {
        self.run("create_ticket", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let ticket = Uuid::new_v4();
            let ttl_ms = ttl_ms.max(1);
            // Record first: if the pointer write then fails, the record is unreachable and expires
            // on its own.
            let created: i64 = s
                .ticket_create
                .key(k.account(account))
                .key(k.ticket(account, ticket))
                .arg(purpose.as_str())
                .arg(ttl_ms)
                .invoke_async(&mut conn)
                .await?;
            if created != 1 {
                return Ok(None);
            }
            self.write_ticket_pointer(&mut conn, ticket, account, ttl_ms)
                .await?;
            Ok(Some(ticket))
        })
        .await
    }

    /// Spends an Activate ticket and sets active=1 in one script. Some(account id) on success; None
    /// when the ticket is unknown, expired, of the wrong purpose, already used, or its account is
    /// gone.
    pub async fn activate_with_ticket(&self, ticket: Uuid) -> StoreResult<Option<Uuid>> {
        self.run("activate_with_ticket", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let Some(account) = self.follow_ticket_pointer(&mut conn, ticket).await? else {
                return Ok(None);
            };
            let spent: i64 = s
                .ticket_activate
                .key(k.ticket(account, ticket))
                .key(k.account(account))
                .invoke_async(&mut conn)
                .await?;
            Ok((spent == 1).then_some(account))
        })
        .await
    }

    /// Spends a Reset ticket, sets the password hash, sets active=1 and deletes every session of
    /// the account, in one script.
    pub async fn reset_password_with_ticket(
        &self,
        ticket: Uuid,
        new_hash: &str,
    ) -> StoreResult<Option<Uuid>> {
        self.run("reset_password_with_ticket", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let Some(account) = self.follow_ticket_pointer(&mut conn, ticket).await? else {
                return Ok(None);
            };
            let spent: i64 = s
                .ticket_reset
                .key(k.ticket(account, ticket))
                .key(k.account(account))
                .key(k.sessions(account))
                .arg(new_hash)
                .arg(k.session_prefix(account))
                .invoke_async(&mut conn)
                .await?;
            if spent == 1 {
                self.forget_sessions(account, None);
            }
            Ok((spent == 1).then_some(account))
        })
        .await
    }

    /// Writes the lookup pointer of a ticket whose record was just created. Record first: if this
    /// write then fails, the record is unreachable and expires on its own.
    pub(super) async fn write_ticket_pointer(
        &self,
        conn: &mut super::Connection,
        ticket: Uuid,
        account: Uuid,
        ttl_ms: u64,
    ) -> StoreResult<()> {
        let _: i64 = self
            .scripts()
            .ticket_pointer
            .key(self.keys().ticket_pointer(ticket))
            .arg(account.to_string())
            .arg(ttl_ms)
            .invoke_async(conn)
            .await?;
        Ok(())
    }

    /// Follows the lookup pointer. A read only: the decision is the spend script's.
    pub(super) async fn follow_ticket_pointer(
        &self,
        conn: &mut super::Connection,
        ticket: Uuid,
    ) -> StoreResult<Option<Uuid>> {
        let account: Option<String> = conn.get(self.keys().ticket_pointer(ticket)).await?;
        account.as_deref().map(parse_uuid).transpose()
    }
}
