//! Single-use tickets (activation, password reset; the email-change ticket, which also carries
//! its addresses, is created and spent in `email`). The reset ticket is spent in `passwords`, with
//! every other write of a password hash.
//!
//! A ticket is a random UUIDv4 with two keys of the same TTL: the authoritative record
//! `P{A}:ticket:<id>` in its account's slot, so spending it and acting on the account are one
//! script; and a pointer `Pticket:<id> → A`, needed only because the bare ticket does not say which
//! slot holds the record. The pointer is never decisive (the spend script checks the record), so it
//! is left to expire rather than deleted in another round trip.
//!
//! `<id>` is a keyed MAC of the ticket (`Keys::ticket_ids`), never the ticket: whoever can read
//! Redis (a dump, a replica, a read-only user running `SCAN`) finds no ticket to spend. Only the
//! events stream carries tickets, for the mailer.
//!
//! A record also holds the account's email and credential version (`cv`) at issue; spending
//! re-checks both, and a reset needs the account's newest reset ticket (`P{A}:reset_ticket`), so a
//! ticket outlived by an email change, a password reset or change, or a newer reset request is
//! dead.

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
    ///
    /// The same two scripts run either way (for a missing account their writes expire at once), so
    /// a caller that passes a never-existing account id for an unknown email does exactly the Redis
    /// work of a known one.
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
            let id = k.ticket_id(ticket);
            let ttl_ms = ttl_ms.max(1);
            // Record first: if the pointer write then fails, the record is unreachable and expires
            // on its own.
            let created: i64 = s
                .ticket_create
                .key(k.account(account))
                .key(k.ticket_by_id(account, &id))
                .key(k.reset_ticket(account))
                .arg(purpose.as_str())
                .arg(ttl_ms)
                .arg(&id)
                .invoke_async(&mut conn)
                .await?;
            // Written even for a missing account (then living 1 ms): the same work either way.
            let pointer_ttl_ms = if created == 1 { ttl_ms } else { 1 };
            self.write_ticket_pointer(&mut conn, &id, account, pointer_ttl_ms)
                .await?;
            Ok((created == 1).then_some(ticket))
        })
        .await
    }

    /// Spends an Activate ticket and sets active=1 in one script. Some(account id) on success; None
    /// when the ticket is unknown, expired, of the wrong purpose, already used, or its account is
    /// gone or no longer has the email and credential version it was issued for.
    pub async fn activate_with_ticket(&self, ticket: Uuid) -> StoreResult<Option<Uuid>> {
        self.run("activate_with_ticket", async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let Some((account, id)) = self.follow_ticket_pointer(&mut conn, ticket).await? else {
                return Ok(None);
            };
            let spent: i64 = s
                .ticket_activate
                .key(k.ticket_by_id(account, &id))
                .key(k.account(account))
                .invoke_async(&mut conn)
                .await?;
            Ok((spent == 1).then_some(account))
        })
        .await
    }

    /// Writes the lookup pointer of a ticket (named by its `id`) whose record was just created.
    /// Record first: if this write then fails, the record is unreachable and expires on its own.
    pub(super) async fn write_ticket_pointer(
        &self,
        conn: &mut super::Connection,
        id: &str,
        account: Uuid,
        ttl_ms: u64,
    ) -> StoreResult<()> {
        let _: i64 = self
            .scripts()
            .ticket_pointer
            .key(self.keys().ticket_pointer_by_id(id))
            .arg(account.to_string())
            .arg(ttl_ms)
            .invoke_async(conn)
            .await?;
        Ok(())
    }

    /// Follows the lookup pointer: the ticket's account and the id its keys are named by. Tries
    /// the id under each configured key, current first (one GET while a single data key is
    /// configured). A read only: the decision is the spend script's.
    pub(super) async fn follow_ticket_pointer(
        &self,
        conn: &mut super::Connection,
        ticket: Uuid,
    ) -> StoreResult<Option<(Uuid, String)>> {
        for id in self.keys().ticket_ids(ticket) {
            let account: Option<String> = conn.get(self.keys().ticket_pointer_by_id(&id)).await?;
            if let Some(account) = account {
                return Ok(Some((parse_uuid(&account)?, id)));
            }
        }
        Ok(None)
    }

    /// The id the record of `ticket` (of `account`) is named by: under the current key, or under an
    /// older one whose record exists (a ticket issued before a data-key rotation). No round trip
    /// while a single data key is configured.
    pub(super) async fn ticket_record_id(
        &self,
        conn: &mut super::Connection,
        account: Uuid,
        ticket: Uuid,
    ) -> StoreResult<String> {
        let ids = self.keys().ticket_ids(ticket);
        if ids.len() > 1 {
            // One slot (the account's), so one pipeline.
            let mut pipe = redis::pipe();
            for id in &ids {
                pipe.exists(self.keys().ticket_by_id(account, id));
            }
            let found: Vec<bool> = pipe.query_async(conn).await?;
            if let Some(pos) = found.iter().position(|&exists| exists) {
                return Ok(ids[pos].clone());
            }
        }
        Ok(ids.into_iter().next().unwrap_or_default())
    }
}
