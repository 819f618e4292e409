-- session_create.lua — start a refresh-token family at generation 0.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:sessions      zset: member = family id, score = last use (ms)
-- KEYS[3]  P{A}:session:F     the new family's hash
-- ARGV[1]  now (unix ms)      ARGV[2]  TTL (ms)        ARGV[3]  cap (>= 1)
-- ARGV[4]  prune cutoff: families last used before it have expired (now minus the
--          longest idle lifetime of any kind of family: an API client's and a
--          browser's differ, and a family of either kind may be in the index)
-- ARGV[5]  session key prefix "P{A}:session:"; other families' hashes are named
--          from it (same hash tag as KEYS, so still a single slot in Redis Cluster)
-- ARGV[6]  family id F        ARGV[7]  user agent      ARGV[8]  ip
-- ARGV[9]  credential version the password (or ticket) was checked under
-- ARGV[10] auth_time: unix seconds of that credential proof, kept by the family
--          so every access token refreshed from it carries the same value
-- ARGV[11] amr: how the user authenticated (a small number, see auth/amr.rs),
--          kept like auth_time
-- ARGV[12] '1' for a browser sign-in: the family is also an edge session and
--          records edge_at, when the edge cookie last renewed it (now)
-- Returns  1 when created; 0 when the account is missing or not ready, or its
--          credential version (field cv, absent = 0) is no longer ARGV[9]: a
--          password reset or change landed after the credentials were checked,
--          and a sign-in with the old ones must not end in a session;
--          -1 when the account is locked (field locked = "1").
--
-- A created session also records the account's last_login_at (ARGV[1]).
--
-- The TTL is the idle lifetime capped by the family's absolute lifetime (the
-- caller passes the smaller); the index's TTL only ever grows here, so it
-- never expires before a family it lists.
--
-- Pruning and the cap keep the zset bounded; evicted families lose their hash
-- too, so their refresh tokens die with them (least recently used goes first).
local account = redis.call('HMGET', KEYS[1], 'ready', 'cv', 'locked')
if account[1] ~= '1' then
  return 0
end
if account[3] == '1' then
  return -1
end
if (account[2] or '0') ~= ARGV[9] then
  return 0
end
local function drop(family)
  redis.call('DEL', ARGV[5] .. family)
  redis.call('ZREM', KEYS[2], family)
end
for _, family in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])) do
  drop(family)
end
drop(ARGV[6])
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3]) + 1
if excess > 0 then
  for _, family in ipairs(redis.call('ZRANGE', KEYS[2], 0, excess - 1)) do
    drop(family)
  end
end
redis.call('HSET', KEYS[3], 'gen', '0', 'created_at', ARGV[1], 'rotated_at', ARGV[1],
  'last_used_at', ARGV[1], 'user_agent', ARGV[7], 'ip', ARGV[8], 'auth_time', ARGV[10],
  'amr', ARGV[11])
if ARGV[12] == '1' then
  redis.call('HSET', KEYS[3], 'edge_at', ARGV[1])
end
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[6])
redis.call('HSET', KEYS[1], 'last_login_at', ARGV[1])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
end
return 1
