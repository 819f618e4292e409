//! The verified email change: a ticket sent to the new address, then the two-slot move.
//!
//! Moving account A from `old` to `new` touches three slots — A's, the index of `new`, the index
//! of `old` — so it cannot be one script. The invariant kept under every interleaving and every
//! crash between steps: **for every ready account A, the index of `A.email` names A**. Since an
//! index names one account and readers (`find_by_email`) accept it only when that account's email
//! equals the address, this is exactly "never two accounts on one email, never an account that no
//! email reaches".
//!
//! # Ownership and the deletion rule
//!
//! Both belong to the email index and are defined with it (`store/email_index.rs`): account H
//! *owns* address `e` when H's account has `e` as its email, or carries an email-change mark for
//! `e` younger than [`PENDING_MAX_MS`]; an index naming a holder that does not own its address is
//! stale, and is deleted only by [`Store::release_if_stale`] — read the value `V`, then judge its
//! holder, then compare-and-delete exactly `V`. Registration (`store/accounts.rs`), the claim
//! below, the failure path and the release of the old address all follow it; why it is safe is
//! argued below, from the steps.
//!
//! # The steps of a confirm (attempt id X, a fresh UUID per request)
//!
//! 1. `email_change_begin.lua` (A's slot): the ticket is an email ticket of A and A still has the
//!    email it was issued for → mark `email_pending = new`, `email_pending_at = now`,
//!    `email_pending_id = X` (replacing any earlier mark). The ticket is not spent.
//! 2. `email_change_claim.lua` (new's slot): free or already A's → write `"A:X"` (always rewritten,
//!    even when A held it). Held by B ≠ A → B owns `new` → 409 `email_taken` (A's mark is cleared,
//!    the ticket stays) — after waiting a little if B owns it only by a change in flight, which
//!    settles within a request; B does not → stale: compare-and-delete and claim again.
//! 3. `email_change_commit.lua` (A's slot): the ticket is still there, A still has `old`, the mark
//!    is X's and younger than [`COMMIT_WINDOW_MS`] → spend the ticket, `email = new`, clear the
//!    mark. Otherwise clear the mark if it is X's, and release the new index if A does not own
//!    `new` (by the rule).
//! 4. Release the old index by the rule (A no longer owns `old` unless it moved back meanwhile).
//!
//! # Why deleting a judged-stale index is safe
//!
//! Say a deleter reads `V` naming A, finds at time `t` that A does not own `e`, and then deletes
//! `V`. Could A still come to own `e` through a claim the deletion removed? A owns `e` only by a
//! commit (step 3) of some attempt Y, whose step 1 stamped `p` and whose step 2 wrote `"A:Y"`:
//! - Y's step 1 before `t`: A's mark at `t` is Y's (marks are only replaced, and a replaced mark
//!   makes Y's commit fail), so the deleter saw it was older than `PENDING_MAX`; Y's commit, later
//!   still, then finds it older than `COMMIT_WINDOW` and fails. This holds as long as clock skew
//!   between replicas plus how late a script can run after its `now` was read stays under
//!   `PENDING_MAX − COMMIT_WINDOW` (9 minutes).
//! - Y's step 1 after `t`: Y's step 2 is later still. If it ran before the delete it rewrote the
//!   index to `"A:Y"` ≠ `V`, so the compare-and-delete does nothing — this is why step 2 rewrites
//!   even its own claim. If it ran after, it claims afresh (or finds another owner and gives up).
//!
//! The order "value, then judgement, then delete" matters: a value read after the judgement could
//! be a fresh claim. A registration's claim is covered by the first bullet of ownership: its
//! provisional account already exists (with the address) when the claim is written, and
//! `account_confirm.lua` fails once it has expired.
//!
//! # Crash points
//!
//! - After 1: a mark, no index. Both addresses behave as before; a retry of the confirm works.
//! - After 2: `new`'s index names A, whose email is still `old`: logins by `new` fail (the reader
//!   checks the email); registering `new` answers "taken" until the mark is older than
//!   `PENDING_MAX` (10 minutes), then the index is stale and reclaimed. A retry works.
//! - After 3: A has `new` (both login and registration see it); `old`'s index names A, which no
//!   longer owns it: logins by `old` fail and a registration of `old` reclaims it. A retry of the
//!   spent ticket is `invalid_ticket`.
//!
//! No key this adds lives without a TTL except index claims, which live as long as their account
//! owns them and are reclaimed when stale, like registration's (removal releases every index the
//! account may hold: its email and its pending email).

use std::time::Duration;

use uuid::Uuid;

use super::email_index::{Ownership, parse_holder};
use super::{Connection, Store, StoreResult, bad_reply};

/// How long an email-change mark makes its account the owner of the new address, for whoever finds
/// the index naming it. Also how long a crash between steps 2 and 3 keeps that address blocked.
pub const PENDING_MAX_MS: u64 = 10 * 60 * 1000;

/// How young the mark must be for the commit. A confirm takes one request (bounded by the request
/// timeout), so a minute is ample; the 9 minutes left to [`PENDING_MAX_MS`] are the safety margin.
pub const COMMIT_WINDOW_MS: u64 = 60 * 1000;

/// Claim rounds over stale holders before answering Unavailable. Each stale holder needs a crash
/// or an attempt that just failed, so more than one in a row is already rare.
const CLAIM_ROUNDS: usize = 3;

/// Pauses while another change of the address is in flight (doubling from min to max).
const CLAIM_PAUSE_MIN: Duration = Duration::from_millis(2);
const CLAIM_PAUSE_MAX: Duration = Duration::from_millis(50);

/// The outcome of confirming an email change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmailChange {
    /// Done: the account now has `new`; `old` is what it had.
    Changed {
        account: Uuid,
        old: String,
        new: String,
    },
    /// Unknown, expired, spent or of another purpose, or its account is gone or no longer has the
    /// email the ticket was issued for.
    InvalidTicket,
    /// Another account owns the new address. The ticket stays usable until it expires.
    Taken,
}

/// The clock of a multi-step operation: each step reads it afresh (the store never reads the time
/// itself; the operations pass `clock::now_ms`, tests a fake).
pub type Clock<'a> = &'a (dyn Fn() -> u64 + Send + Sync);

/// Step 1 and 3 need to know what the ticket was for; the claim and the releases only the address.
struct Begun {
    new: String,
    old: String,
}

impl Store {
    /// Confirms an email change with its ticket: steps 1–4 of the module doc. Cut short anywhere
    /// (crash, timeout) it leaves a state the invariant holds in and a retry completes.
    pub async fn change_email_with_ticket(
        &self,
        ticket: Uuid,
        clock: Clock<'_>,
    ) -> StoreResult<EmailChange> {
        self.run("change_email_with_ticket", async {
            let mut conn = self.conn().await?;
            let Some((account, ticket)) = self.follow_ticket_pointer(&mut conn, ticket).await?
            else {
                return Ok(EmailChange::InvalidTicket);
            };
            let attempt = Uuid::new_v4();
            let Some(begun) = self
                .email_begin(&mut conn, account, &ticket, attempt, clock())
                .await?
            else {
                return Ok(EmailChange::InvalidTicket);
            };
            if !self
                .email_claim_new(&mut conn, account, attempt, &begun.new, clock)
                .await?
            {
                self.email_abort(&mut conn, account, attempt).await?;
                return Ok(EmailChange::Taken);
            }
            if !self
                .email_commit(&mut conn, account, &ticket, attempt, &begun.new, clock)
                .await?
            {
                return Ok(EmailChange::InvalidTicket);
            }
            self.email_release_old(&mut conn, account, &begun.old, clock)
                .await?;
            Ok(EmailChange::Changed {
                account,
                old: begun.old,
                new: begun.new,
            })
        })
        .await
    }

    /// Step 1, `email_change_begin.lua` (`ticket`: the id its record is named by). None: invalid
    /// ticket.
    async fn email_begin(
        &self,
        conn: &mut Connection,
        account: Uuid,
        ticket: &str,
        attempt: Uuid,
        now_ms: u64,
    ) -> StoreResult<Option<Begun>> {
        let k = self.keys();
        let reply: Vec<String> = self
            .scripts()
            .email_change_begin
            .key(k.ticket_by_id(account, ticket))
            .key(k.account(account))
            .arg(attempt.to_string())
            .arg(now_ms)
            .invoke_async(conn)
            .await?;
        match <[String; 2]>::try_from(reply) {
            Ok([new, old]) => Ok(Some(Begun { new, old })),
            Err(reply) if reply.is_empty() => Ok(None),
            Err(_) => Err(bad_reply("email_change_begin")),
        }
    }

    /// Step 2, `email_change_claim.lua` over stale holders. Whether A now holds the index (false:
    /// another account owns the address).
    ///
    /// A holder that owns the address only by a young mark is another change in flight: its own
    /// next step decides within one request, so we wait for it (up to half the operation
    /// timeout) rather than give up at once. Giving up at once would let two accounts each see the
    /// other in flight and both abort — no winner. The holder never waits on us: its claim
    /// already succeeded, and its account's other attempts find the index their own.
    async fn email_claim_new(
        &self,
        conn: &mut Connection,
        account: Uuid,
        attempt: Uuid,
        new: &str,
        clock: Clock<'_>,
    ) -> StoreResult<bool> {
        let mine = format!("{account}:{attempt}");
        // The wait for a change in flight ends after half the operation timeout: a timer, so the
        // store still reads no clock (`clock` is for the times it stores and compares).
        let mut give_up = std::pin::pin!(tokio::time::sleep(self.inner.op_timeout / 2));
        let (mut stale_rounds, mut pause) = (0, CLAIM_PAUSE_MIN);
        loop {
            let holder = self
                .claim_email_for_change(conn, new, account, &mine)
                .await?;
            if holder == mine {
                return Ok(true);
            }
            match self.release_if_stale(conn, new, &holder, clock()).await? {
                Ownership::Settled => return Ok(false),
                Ownership::InFlight => {
                    tokio::select! {
                        biased;
                        () = &mut give_up => return Ok(false),
                        () = tokio::time::sleep(pause) => {}
                    }
                    pause = (pause * 2).min(CLAIM_PAUSE_MAX);
                }
                Ownership::None => {
                    stale_rounds += 1;
                    if stale_rounds == CLAIM_ROUNDS {
                        return Err(bad_reply("email index contended"));
                    }
                }
            }
        }
    }

    /// Step 3, `email_change_commit.lua`; on failure the new index is released unless A owns the
    /// address anyway (another attempt of A committed, or is in flight). Whether it committed.
    /// `ticket`: the id its record is named by.
    async fn email_commit(
        &self,
        conn: &mut Connection,
        account: Uuid,
        ticket: &str,
        attempt: Uuid,
        new: &str,
        clock: Clock<'_>,
    ) -> StoreResult<bool> {
        let k = self.keys();
        let committed: i64 = self
            .scripts()
            .email_change_commit
            .key(k.ticket_by_id(account, ticket))
            .key(k.account(account))
            .arg(attempt.to_string())
            .arg(clock())
            .arg(COMMIT_WINDOW_MS)
            .invoke_async(conn)
            .await?;
        if committed == 1 {
            return Ok(true);
        }
        // Our own claim: its value was written (step 2) before this judgement, as the rule wants.
        let mine = format!("{account}:{attempt}");
        self.release_if_stale(conn, new, &mine, clock()).await?;
        Ok(false)
    }

    /// `email_change_abort.lua`: clears A's mark if it is still this attempt's.
    async fn email_abort(
        &self,
        conn: &mut Connection,
        account: Uuid,
        attempt: Uuid,
    ) -> StoreResult<()> {
        let _: i64 = self
            .scripts()
            .email_change_abort
            .key(self.keys().account(account))
            .arg(attempt.to_string())
            .invoke_async(conn)
            .await?;
        Ok(())
    }

    /// Step 4: the old address's index, if it still names A, by the rule (A may have moved back to
    /// it meanwhile; then it stays).
    async fn email_release_old(
        &self,
        conn: &mut Connection,
        account: Uuid,
        old: &str,
        clock: Clock<'_>,
    ) -> StoreResult<()> {
        match self.email_index_value(conn, old).await? {
            Some(value) if parse_holder(&value)? == account => {
                self.release_if_stale(conn, old, &value, clock()).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// The steps one by one, for the crash-point tests.
#[cfg(test)]
impl Store {
    pub(super) async fn email_step_begin(
        &self,
        ticket: Uuid,
        attempt: Uuid,
        now_ms: u64,
    ) -> StoreResult<Option<(Uuid, String, String)>> {
        let mut conn = self.conn().await?;
        let Some((account, id)) = self.follow_ticket_pointer(&mut conn, ticket).await? else {
            return Ok(None);
        };
        let begun = self
            .email_begin(&mut conn, account, &id, attempt, now_ms)
            .await?;
        Ok(begun.map(|b| (account, b.new, b.old)))
    }

    pub(super) async fn email_step_claim(
        &self,
        account: Uuid,
        attempt: Uuid,
        new: &str,
        now_ms: u64,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        self.email_claim_new(&mut conn, account, attempt, new, &move || now_ms)
            .await
    }

    pub(super) async fn email_step_commit(
        &self,
        account: Uuid,
        ticket: Uuid,
        attempt: Uuid,
        new: &str,
        now_ms: u64,
    ) -> StoreResult<bool> {
        let mut conn = self.conn().await?;
        let id = self.keys().ticket_id(ticket);
        self.email_commit(&mut conn, account, &id, attempt, new, &move || now_ms)
            .await
    }
}
