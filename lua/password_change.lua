-- password_change.lua — a signed-in password change: compare-and-set of the
-- hash, a new credential version, and revocation of every other refresh
-- family and of every live MFA login ticket, in one step.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:sessions
-- KEYS[3]  P{A}:mfa_tickets  zset of MFA login tickets (a plain set when
--                            written by an older version)
-- ARGV[1]  the PHC string the caller's old password was checked against
-- ARGV[2]  the new PHC string
-- ARGV[3]  the caller's family id (kept)
-- ARGV[4]  session key prefix "P{A}:session:" (same hash tag: one slot)
-- ARGV[5]  ticket key prefix "P{A}:ticket:"; MFA ticket records are named from
--          it and the members of KEYS[3] (same hash tag: one slot)
-- ARGV[6]  now (unix seconds): the caller just proved the old password, so its
--          kept family's auth_time moves here
-- Returns  the number of other families revoked;
--          -1 when the hash changed since it was checked (a concurrent change
--             or reset wins; the caller answers as for a wrong password);
--          -2 when the account or the caller's own family is gone. The
--             caller's session was checked before, but possibly through a
--             replica's cache of live sessions (up to a second stale): a
--             session revoked meanwhile must not set a password.
if redis.call('HGET', KEYS[1], 'ready') ~= '1' then
  return -2
end
if redis.call('EXISTS', ARGV[4] .. ARGV[3]) == 0 then
  return -2
end
if redis.call('HGET', KEYS[1], 'password') ~= ARGV[1] then
  return -1
end
redis.call('HSET', KEYS[1], 'password', ARGV[2])
-- Sign-ins still in flight with the old password (checked before this, not
-- yet a session or an MFA ticket) carry the old version and are refused.
redis.call('HINCRBY', KEYS[1], 'cv', 1)
redis.call('HSET', ARGV[4] .. ARGV[3], 'auth_time', ARGV[6])
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
  redis.call('DEL', ARGV[5] .. ticket)
end
redis.call('DEL', KEYS[3])
local revoked = 0
for _, family in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if family ~= ARGV[3] then
    revoked = revoked + redis.call('DEL', ARGV[4] .. family)
    redis.call('ZREM', KEYS[2], family)
  end
end
return revoked
