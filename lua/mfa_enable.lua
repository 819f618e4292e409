-- mfa_enable.lua — turn MFA on with the pending secret a valid code was for.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:mfa_pending
-- KEYS[3]  P{A}:recovery
-- ARGV[1]  sealed pending secret the code was checked against
-- ARGV[2]  the TOTP time step the code matched
-- ARGV[3..] optional: digests of a first set of recovery codes, stored in
--          the same step (the portal turns MFA on and shows the codes at once)
-- Returns  "already_enabled" when MFA is on;
--          "not_generated" when the account is missing or not ready, or the
--          pending secret is absent or differs from ARGV[1] (a newer generate
--          won: the code was for a QR code the user no longer holds);
--          "replayed" when ARGV[2] <= mfa_step (that step was accepted before);
--          "done": mfa = pending, mfa_step = ARGV[2], pending and any
--          recovery codes deleted (replaced by ARGV[3..] when given).
--
-- The compare-and-set on the pending secret makes check-then-enable safe
-- against a concurrent generate.
if redis.call('HGET', KEYS[1], 'ready') ~= '1' then
  return 'not_generated'
end
if redis.call('HEXISTS', KEYS[1], 'mfa') == 1 then
  return 'already_enabled'
end
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 'not_generated'
end
local last = tonumber(redis.call('HGET', KEYS[1], 'mfa_step') or '-1')
if tonumber(ARGV[2]) <= last then
  return 'replayed'
end
redis.call('HSET', KEYS[1], 'mfa', ARGV[1], 'mfa_step', ARGV[2])
redis.call('DEL', KEYS[2], KEYS[3])
if #ARGV > 2 then
  redis.call('SADD', KEYS[3], unpack(ARGV, 3))
end
return 'done'
