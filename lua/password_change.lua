-- password_change.lua — a signed-in password change: compare-and-set of the
-- hash and revocation of every other refresh family, in one step.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:sessions
-- ARGV[1]  the PHC string the caller's old password was checked against
-- ARGV[2]  the new PHC string
-- ARGV[3]  the caller's family id (kept)
-- ARGV[4]  session key prefix "P{A}:session:" (same hash tag: one slot)
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
local revoked = 0
for _, family in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if family ~= ARGV[3] then
    revoked = revoked + redis.call('DEL', ARGV[4] .. family)
    redis.call('ZREM', KEYS[2], family)
  end
end
return revoked
