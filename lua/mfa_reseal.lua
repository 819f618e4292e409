-- mfa_reseal.lua — replace a sealed TOTP secret by the same secret sealed
-- under the current data key, only if the stored value is still the one the
-- caller opened (compare-and-set).
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:mfa_pending
-- ARGV[1]  "active" (field mfa of KEYS[1]) or "pending" (KEYS[2])
-- ARGV[2]  the sealed value the caller opened
-- ARGV[3]  the same secret, sealed under the current data key
-- Returns  1 when replaced; 0 when the value is gone or differs from ARGV[2]
--          (a concurrent generate, enable, disable or re-seal won: nothing
--          is written).
--
-- The pending secret keeps its remaining TTL; mfa_step and everything else
-- are untouched, so replay protection and open login tickets are unaffected
-- (a ticket names no secret; the login step reads the current one).
if ARGV[1] == 'active' then
  if redis.call('HGET', KEYS[1], 'mfa') ~= ARGV[2] then
    return 0
  end
  redis.call('HSET', KEYS[1], 'mfa', ARGV[3])
  return 1
end
if redis.call('GET', KEYS[2]) ~= ARGV[2] then
  return 0
end
-- A pending secret always has a TTL; one without (never written so) keeps none.
local ttl = redis.call('PTTL', KEYS[2])
if ttl > 0 then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ttl)
else
  redis.call('SET', KEYS[2], ARGV[3])
end
return 1
