-- session_rotate.lua — refresh-token rotation with a reuse grace (README, "Endpoints").
--
-- KEYS[1]  P{A}:session:F
-- KEYS[2]  P{A}:sessions
-- KEYS[3]  P{A}:account           (same hash tag: one slot, one round trip)
-- ARGV[1]  family id F            ARGV[2]  presented generation g
-- ARGV[3]  now (unix ms)          ARGV[4]  grace (ms; 0 = strict rotation)
-- ARGV[5]  TTL (ms), renewed on every rotation (sliding expiry)
-- ARGV[6]  absolute lifetime of a family since its created_at (ms): past it the
--          family is deleted, and no renewal reaches beyond it
-- ARGV[7]  idle timeout (ms) and ARGV[8] absolute lifetime (ms) of an edge
--          session: a family a browser sign-in made (it has edge_at) keeps
--          them for its refresh tokens too — idle since edge_at or past
--          created_at + ARGV[8] it is deleted; a rotation is a use (edge_at
--          moves) and never renews it for longer than ARGV[7]
-- Returns  {status, generation, auth_time, amr}, with the current generation c:
--   g == c                                        -> {"advanced", c+1, t, m}
--   g == c-1, grace > 0, now - rotated_at <= grace -> {"repeated", c, t, m}  (no change)
--   the account is locked (field locked = "1"): the family, if any, is
--   deleted                                        -> {"locked", 0, 0, 0}
--   family missing, or older than ARGV[6] (then deleted) -> {"unknown", 0, 0, 0}
--   anything else: the family is deleted          -> {"reused", 0, 0, 0}
--   where t is the family's auth_time (unix seconds of the credential proof
--   that started it; 0 for a family made before it was recorded) and m its
--   amr (how the user authenticated; 0 when not recorded).
--
-- "repeated" lets concurrent refreshes with one token (two tabs, a retry) all
-- get the same successor while the family advances only once.
if redis.call('HGET', KEYS[3], 'locked') == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'locked', 0, 0, 0}
end
local cur = redis.call('HMGET', KEYS[1], 'gen', 'rotated_at', 'created_at', 'auth_time', 'amr',
  'edge_at')
if not cur[1] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'unknown', 0, 0, 0}
end
local c, g = tonumber(cur[1]), tonumber(ARGV[2])
local now, grace = tonumber(ARGV[3]), tonumber(ARGV[4])
local deadline = tonumber(cur[3] or '0') + tonumber(ARGV[6])
local edge_at = tonumber(cur[6] or '')
if edge_at then
  deadline = math.min(deadline, tonumber(cur[3] or '0') + tonumber(ARGV[8]))
  if now - edge_at >= tonumber(ARGV[7]) then
    deadline = now
  end
end
if now >= deadline then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'unknown', 0, 0, 0}
end
local auth_time = tonumber(cur[4] or '0') or 0
local amr = tonumber(cur[5] or '0') or 0
if g == c then
  local ttl = math.min(tonumber(ARGV[5]), deadline - now)
  redis.call('HSET', KEYS[1], 'gen', tostring(c + 1), 'rotated_at', ARGV[3], 'last_used_at', ARGV[3])
  if edge_at then
    ttl = math.min(ttl, tonumber(ARGV[7]))
    redis.call('HSET', KEYS[1], 'edge_at', ARGV[3])
  end
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  if redis.call('PTTL', KEYS[2]) < ttl then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  return {'advanced', c + 1, auth_time, amr}
end
if grace > 0 and g == c - 1 and now - tonumber(cur[2]) <= grace then
  return {'repeated', c, auth_time, amr}
end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return {'reused', 0, 0, 0}
