-- email_ticket_create.lua — the authoritative record of an email-change
-- ticket (sent to the new address; spent by email_change_commit.lua).
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:ticket:<id>  (<id>: a keyed MAC of the ticket)
-- ARGV[1]  the account's current email (normalized), as the caller read it
-- ARGV[2]  the new email (normalized)      ARGV[3]  TTL (ms)
-- Returns  1 when created; 0 when the account is missing, not ready, or its
--          email is no longer ARGV[1] (a change landed meanwhile).
--
-- Record: purpose "email", email (the new address), old (the address it was
-- issued for), cv (the account's credential version, absent = 0). The change
-- only proceeds while the account still has `old` and `cv`, so a ticket
-- outlived by another change, or by a password reset or change, is dead.
if redis.call('HGET', KEYS[1], 'ready') ~= '1' then
  return 0
end
if redis.call('HGET', KEYS[1], 'email') ~= ARGV[1] then
  return 0
end
local cv = redis.call('HGET', KEYS[1], 'cv') or '0'
redis.call('HSET', KEYS[2], 'purpose', 'email', 'email', ARGV[2], 'old', ARGV[1], 'cv', cv)
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
