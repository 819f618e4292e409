-- session_revoke.lua — revoke one refresh-token family.
--
-- KEYS[1]  P{A}:session:F
-- KEYS[2]  P{A}:sessions
-- ARGV[1]  family id F
-- Returns  1 when the family existed, 0 otherwise.
local existed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return existed
