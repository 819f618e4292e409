-- account_remove.lua — delete an account with every one of its sessions.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:sessions
-- ARGV[1]  session key prefix "P{A}:session:"; session hashes are named from it
--          (same hash tag as KEYS, so still a single slot in Redis Cluster)
-- Returns  1 when the account existed, 0 otherwise.
--
-- The email index lives in another slot: the caller releases it afterwards
-- with email_release.lua. Tickets expire on their own and are re-checked
-- against the account when spent.
local existed = redis.call('DEL', KEYS[1])
for _, family in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  redis.call('DEL', ARGV[1] .. family)
end
redis.call('DEL', KEYS[2])
return existed
