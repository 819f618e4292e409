-- account_remove.lua — delete an account with every one of its sessions and
-- its MFA state.
--
-- KEYS[1]  P{A}:account          (holds the active TOTP secret and mfa_step too)
-- KEYS[2]  P{A}:sessions
-- KEYS[3]  P{A}:mfa_pending
-- KEYS[4]  P{A}:recovery
-- KEYS[5]  P{A}:mfa_tickets      set of MFA login ticket ids
-- ARGV[1]  session key prefix "P{A}:session:"; session hashes are named from it
-- ARGV[2]  ticket key prefix "P{A}:ticket:"; MFA ticket records are named from it
--          (both the same hash tag as KEYS, so still a single slot in Redis Cluster)
-- Returns  1 when the account existed, 0 otherwise.
--
-- The email index lives in another slot: the caller releases it afterwards
-- with email_release.lua. Activate/reset tickets and every ticket's lookup
-- pointer expire on their own, and are re-checked against the account when
-- spent.
local existed = redis.call('DEL', KEYS[1])
for _, family in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', ARGV[1] .. family)
end
for _, ticket in ipairs(redis.call('SMEMBERS', KEYS[5])) do
  redis.call('DEL', ARGV[2] .. ticket)
end
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5])
return existed
