-- account_lock.lua — lock an account: no session starts or continues until
-- it is unlocked, and every session it has ends now.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:sessions
-- KEYS[3]  P{A}:mfa_tickets  zset of MFA login tickets (a plain set when
--                            written by an older version)
-- ARGV[1]  session key prefix "P{A}:session:"; session hashes are named from it
-- ARGV[2]  ticket key prefix "P{A}:ticket:"; MFA ticket records are named from
--          it and the members of KEYS[3] (both the same hash tag as KEYS, so
--          still a single slot in Redis Cluster)
-- ARGV[3]  the reason (free text, shown to administrators)
-- ARGV[4]  now (unix ms)
-- Returns  -1 when the account does not exist; else the number of session
--          families that ended.
--
-- Sets locked = "1", locked_reason and locked_at; a lock of a locked account
-- replaces the reason and the time. Pending passkey registrations are not
-- indexed: their finish needs a live session of the account (all ended here)
-- and passkey_add.lua refuses a locked account. Activate, reset and email
-- tickets stay: none of them starts a session.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
redis.call('HSET', KEYS[1], 'locked', '1', 'locked_reason', ARGV[3], 'locked_at', ARGV[4])
local revoked = 0
for _, family in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  revoked = revoked + redis.call('DEL', ARGV[1] .. family)
end
redis.call('DEL', KEYS[2])
local kind = redis.call('TYPE', KEYS[3])
if type(kind) == 'table' then
  kind = kind.ok
end
local tickets = {}
if kind == 'zset' then
  tickets = redis.call('ZRANGE', KEYS[3], 0, -1)
elseif kind == 'set' then
  tickets = redis.call('SMEMBERS', KEYS[3])
end
for _, ticket in ipairs(tickets) do
  redis.call('DEL', ARGV[2] .. ticket)
end
redis.call('DEL', KEYS[3])
return revoked
