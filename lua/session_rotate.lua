-- session_rotate.lua — refresh-token rotation with a reuse grace (SPEC §3).
--
-- KEYS[1]  P{A}:session:F
-- KEYS[2]  P{A}:sessions
-- ARGV[1]  family id F            ARGV[2]  presented generation g
-- ARGV[3]  now (unix ms)          ARGV[4]  grace (ms; 0 = strict rotation)
-- ARGV[5]  TTL (ms), renewed on every rotation (sliding expiry)
-- Returns  {status, generation}, with the current generation c:
--   g == c                                        -> {"advanced", c+1}
--   g == c-1, grace > 0, now - rotated_at <= grace -> {"repeated", c}  (no change)
--   family missing                                -> {"unknown", 0}
--   anything else: the family is deleted          -> {"reused", 0}
--
-- "repeated" lets concurrent refreshes with one token (two tabs, a retry) all
-- get the same successor while the family advances only once.
local cur = redis.call('HMGET', KEYS[1], 'gen', 'rotated_at')
if not cur[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'unknown', 0}
end
local c, g = tonumber(cur[1]), tonumber(ARGV[2])
local now, grace = tonumber(ARGV[3]), tonumber(ARGV[4])
if g == c then
  redis.call('HSET', KEYS[1], 'gen', tostring(c + 1), 'rotated_at', ARGV[3], 'last_used_at', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[5])
  return {'advanced', c + 1}
end
if grace > 0 and g == c - 1 and now - tonumber(cur[2]) <= grace then
  return {'repeated', c}
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return {'reused', 0}
