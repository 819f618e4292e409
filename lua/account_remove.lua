-- account_remove.lua — delete an account with every one of its sessions and
-- its MFA state and passkeys.
--
-- KEYS[1]  P{A}:account          (holds the active TOTP secret and mfa_step too)
-- KEYS[2]  P{A}:sessions
-- KEYS[3]  P{A}:mfa_pending
-- KEYS[4]  P{A}:recovery
-- KEYS[5]  P{A}:mfa_tickets      zset of MFA login tickets (a plain set when
--                                written by an older version)
-- KEYS[6]  P{A}:passkeys          hash of the account's passkeys
-- ARGV[1]  session key prefix "P{A}:session:"; session hashes are named from it
-- ARGV[2]  ticket key prefix "P{A}:ticket:"; MFA ticket records are named from it
--          (both the same hash tag as KEYS, so still a single slot in Redis Cluster)
-- Returns  {1 | 0 (whether the account existed), its email, its pending email}
--          (the last two "" when absent).
--
-- The email indexes live in other slots: the caller releases afterwards every
-- one that may name the account (the email it knew, the email and the pending
-- email of an email change in flight returned here) with
-- email_release_account.lua. Activate, reset and email tickets, the reset
-- ticket marker, passkey registration challenges and every
-- ticket's lookup pointer expire on their own, and are re-checked against the
-- account when spent.
local email = redis.call('HGET', KEYS[1], 'email') or ''
local pending = redis.call('HGET', KEYS[1], 'email_pending') or ''
local existed = redis.call('DEL', KEYS[1])
for _, family in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', ARGV[1] .. family)
end
local kind = redis.call('TYPE', KEYS[5])
if type(kind) == 'table' then
  kind = kind.ok
end
local tickets = {}
if kind == 'zset' then
  tickets = redis.call('ZRANGE', KEYS[5], 0, -1)
elseif kind == 'set' then
  tickets = redis.call('SMEMBERS', KEYS[5])
end
for _, ticket in ipairs(tickets) do
  redis.call('DEL', ARGV[2] .. ticket)
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
return {existed, email, pending}
