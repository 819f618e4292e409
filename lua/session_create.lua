-- session_create.lua — start a refresh-token family at generation 0.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:sessions      zset: member = family id, score = last use (ms)
-- KEYS[3]  P{A}:session:F     the new family's hash
-- ARGV[1]  now (unix ms)      ARGV[2]  TTL (ms)        ARGV[3]  cap (>= 1)
-- ARGV[4]  prune cutoff: families last used before it have expired (now - TTL)
-- ARGV[5]  session key prefix "P{A}:session:"; other families' hashes are named
--          from it (same hash tag as KEYS, so still a single slot in Redis Cluster)
-- ARGV[6]  family id F        ARGV[7]  user agent      ARGV[8]  ip
-- Returns  1 when created; 0 when the account is missing or not ready.
--
-- Pruning and the cap keep the zset bounded; evicted families lose their hash
-- too, so their refresh tokens die with them (least recently used goes first).
if redis.call('HGET', KEYS[1], 'ready') ~= '1' then
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
  'last_used_at', ARGV[1], 'user_agent', ARGV[7], 'ip', ARGV[8])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
