-- sessions_revoke_all.lua — revoke every refresh-token family of an account.
--
-- KEYS[1]  P{A}:sessions
-- ARGV[1]  session key prefix "P{A}:session:"; session hashes are named from it
--          (same hash tag as KEYS, so still a single slot in Redis Cluster)
-- Returns  the number of families that existed.
local revoked = 0
for _, family in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  revoked = revoked + redis.call('DEL', ARGV[1] .. family)
end
redis.call('DEL', KEYS[1])
return revoked
