//! Single-use tickets: the one creator of every kind ([`Store::issue_ticket`]: activation,
//! password reset, email change, MFA login), and the spending of activation tickets (the reset ticket is
//! spent in `passwords`, with every other write of a password hash; the email-change ticket in
//! `email`, the MFA login ticket in `mfa`).
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

/// What a ticket is for, with what each kind binds at issue. One creator,
/// [`Store::issue_ticket`], dispatches to the kind's script.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TicketKind<'a> {
    /// Activation (mailed at registration or on request).
    Activate,
    /// Password reset; the account's newest one (`P{A}:reset_ticket`).
    Reset,
    /// Email change from `old` (the account's email, as the caller read it) to `new`
    /// (normalized).
    EmailChange { old: &'a str, new: &'a str },
    /// The second step of a password-verified login: refused unless the account's credential
    /// version is still `credential_version`; at most `cap` live ones per account (the oldest go),
    /// `now_ms` orders them.
    MfaLogin {
        credential_version: u64,
        cap: u32,
        now_ms: u64,
    },
}

impl Store {
    /// Issues a random UUIDv4 ticket of `kind` for `account`, living `ttl_ms`: the record in the
    /// account slot (the kind's script), then the lookup pointer. None when the script refused:
    /// the account is missing or not ready, or (email change) no longer has `old`, or (MFA login)
    /// its credential version moved on.
    ///
    /// Activation and reset tickets run the same two scripts either way (for a missing account
    /// the pointer lives 1 ms), so a caller that passes a never-existing account id for an unknown
    /// email does exactly the Redis work of a known one.
    pub async fn issue_ticket(
        &self,
        account: Uuid,
        kind: TicketKind<'_>,
        ttl_ms: u64,
    ) -> StoreResult<Option<Uuid>> {
        let name = match kind {
            TicketKind::Activate | TicketKind::Reset => "create_ticket",
            TicketKind::EmailChange { .. } => "create_email_ticket",
            TicketKind::MfaLogin { .. } => "mfa_ticket_create",
        };
        self.run(name, async {
            let (k, s) = (self.keys(), self.scripts());
            let mut conn = self.conn().await?;
            let ticket = Uuid::new_v4();
            // Named by a keyed MAC, never by the ticket.
            let id = k.ticket_id(ticket);
            let ttl_ms = ttl_ms.max(1);
            // Record first: if the pointer write then fails, the record is unreachable and expires
            // on its own.
            let created: i64 = match kind {
                TicketKind::Activate | TicketKind::Reset => {
                    let purpose = if kind == TicketKind::Activate {
                        "activate"
                    } else {
                        "reset"
                    };
                    s.ticket_create
                        .key(k.account(account))
                        .key(k.ticket_by_id(account, &id))
                        .key(k.reset_ticket(account))
                        .arg(purpose)
                        .arg(ttl_ms)
                        .arg(&id)
                        .invoke_async(&mut conn)
                        .await?
                }
                TicketKind::EmailChange { old, new } => {
                    s.email_ticket_create
                        .key(k.account(account))
                        .key(k.ticket_by_id(account, &id))
                        .arg(old)
                        .arg(new)
                        .arg(ttl_ms)
                        .invoke_async(&mut conn)
                        .await?
                }
                TicketKind::MfaLogin {
                    credential_version,
                    cap,
                    now_ms,
                } => {
                    s.mfa_ticket_create
                        .key(k.account(account))
                        .key(k.ticket_by_id(account, &id))
                        .key(k.mfa_tickets(account))
                        .arg(ttl_ms)
                        .arg(&id)
                        .arg(k.ticket_prefix(account))
                        .arg(now_ms)
                        .arg(cap.max(1))
                        .arg(credential_version)
                        .invoke_async(&mut conn)
                        .await?
                }
            };
            let pointer_ttl_ms = match kind {
                _ if created == 1 => ttl_ms,
                // Written even for a missing account (then living 1 ms): the same work either way.
                TicketKind::Activate | TicketKind::Reset => 1,
                TicketKind::EmailChange { .. } | TicketKind::MfaLogin { .. } => return Ok(None),
            };
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
