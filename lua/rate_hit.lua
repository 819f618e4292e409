-- rate_hit.lua — count one attempt in a fixed window and say whether it is allowed.
--
-- KEYS[1]  Prate:<kind>:<digest of the subject>   (STRING counter, PEXPIRE window)
-- ARGV[1]  limit (attempts allowed per window)
-- ARGV[2]  window (ms)
-- ARGV[3]  "1" to count this attempt, "0" to only look, "-1" to give back one
--          counted attempt (a login counts before its password check, so that
--          parallel guesses cannot all pass; it is given back when the
--          password turns out right)
-- Returns  {allowed (1/0), ms until the window ends (0 when allowed)}
--
-- The counter's TTL is set when the window opens and never extended, so a
-- blocked client gets an honest Retry-After and every key expires. A refund
-- never creates a key (the window may have ended) and keeps the TTL.
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
if ARGV[3] == '-1' then
  if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then
    redis.call('DECR', KEYS[1])
  end
  return {1, 0}
end
local count
if ARGV[3] == '1' then
  count = redis.call('INCR', KEYS[1])
  if count == 1 then
    redis.call('PEXPIRE', KEYS[1], window)
  end
else
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local over = (ARGV[3] == '1' and count > limit) or (ARGV[3] ~= '1' and count >= limit)
if not over then
  return {1, 0}
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- A counter without a TTL (should not happen): give it one now.
  redis.call('PEXPIRE', KEYS[1], window)
  ttl = window
end
return {0, ttl}
