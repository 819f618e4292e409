-- edge_session_touch.lua — check an edge session (the family a browser
-- sign-in made) and slide its idle timeout, writing at most once per
-- renewal interval (README, "Browser sessions").
--
-- KEYS[1]  P{A}:session:F     KEYS[2]  P{A}:sessions     KEYS[3]  P{A}:account
-- ARGV[1]  family id F        ARGV[2]  now (unix ms)
-- ARGV[3]  idle timeout (ms)  ARGV[4]  absolute lifetime since created_at (ms)
-- ARGV[5]  renewal interval (ms): edge_at is rewritten only when older
-- Returns  {status, email, auth_time, amr}:
--   "live"     the session is alive; nothing was written
--   "renewed"  alive, and edge_at, last_used_at and the TTLs were renewed
--   "gone"     no such family, one no browser sign-in made, idle too long or
--              past its absolute lifetime (both then deleted), or no account
--              or a locked one (the family is then deleted too)
local cur = redis.call('HMGET', KEYS[1], 'edge_at', 'created_at', 'auth_time', 'amr')
if not cur[1] then
  if not cur[2] then
    redis.call('ZREM', KEYS[2], ARGV[1])
  end
  return {'gone', '', 0, 0}
end
local now, idle = tonumber(ARGV[2]), tonumber(ARGV[3])
local edge_at = tonumber(cur[1])
local deadline = tonumber(cur[2] or '0') + tonumber(ARGV[4])
local account = redis.call('HMGET', KEYS[3], 'email', 'locked')
local email = account[1]
if now - edge_at >= idle or now >= deadline or not email or account[2] == '1' then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  return {'gone', '', 0, 0}
end
local status = 'live'
if now - edge_at >= tonumber(ARGV[5]) then
  -- A refresh of the same family may have set a longer TTL: never shorten it.
  local ttl = math.min(idle, deadline - now)
  redis.call('HSET', KEYS[1], 'edge_at', ARGV[2], 'last_used_at', ARGV[2])
  if redis.call('PTTL', KEYS[1]) < ttl then
    redis.call('PEXPIRE', KEYS[1], ttl)
  end
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
  if redis.call('PTTL', KEYS[2]) < ttl then
    redis.call('PEXPIRE', KEYS[2], ttl)
  end
  status = 'renewed'
end
return {status, email, tonumber(cur[3] or '0') or 0, tonumber(cur[4] or '0') or 0}
