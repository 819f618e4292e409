-- email_change_begin.lua — email change step 1 (account slot): mark the
-- account as moving to the ticket's address. The ticket is not spent yet.
--
-- KEYS[1]  P{A}:ticket:<id>  (<id>: a keyed MAC of the ticket)
-- KEYS[2]  P{A}:account
-- ARGV[1]  attempt id X (a fresh UUID per confirm request)
-- ARGV[2]  now (unix ms, from the caller's clock)
-- Returns  {new email, old email} when marked; {} when the ticket is unknown,
--          expired, spent or of another purpose (left alone), or the account
--          is gone or no longer has the email or the credential version (`cv`,
--          bumped by a password reset or change) the ticket was issued for
--          (then the ticket is dead for good and is deleted).
--
-- Marks email_pending = new, email_pending_at = now, email_pending_id = X,
-- replacing any earlier mark: only the attempt whose id is in the mark can
-- commit (email_change_commit.lua), and while the mark is younger than
-- PENDING_MAX the account counts as the owner of `new` for anyone who finds
-- the new address's index naming it (see src/store/email.rs).
if redis.call('HGET', KEYS[1], 'purpose') ~= 'email' then
  return {}
end
local new = redis.call('HGET', KEYS[1], 'email')
local old = redis.call('HGET', KEYS[1], 'old')
if redis.call('HGET', KEYS[2], 'ready') ~= '1' or redis.call('HGET', KEYS[2], 'email') ~= old
  or (redis.call('HGET', KEYS[2], 'cv') or '0') ~= (redis.call('HGET', KEYS[1], 'cv') or '0') then
  redis.call('DEL', KEYS[1])
  return {}
end
redis.call('HSET', KEYS[2], 'email_pending', new, 'email_pending_at', ARGV[2],
  'email_pending_id', ARGV[1])
return {new, old}
