-- mfa_recovery_replace.lua — issue a fresh set of recovery codes, given a
-- valid code for the active secret; the previous set dies.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:recovery
-- ARGV[1]  sealed active secret the code was checked against
-- ARGV[2]  the TOTP time step the code matched
-- ARGV[3..] the new codes' digests (none: the account is left without codes)
-- Returns  "not_enabled" when MFA is off (or the account is missing), or the
--          active secret differs from ARGV[1];
--          "replayed" when ARGV[2] <= mfa_step;
--          "done": mfa_step = ARGV[2], the set holds exactly ARGV[3..].
--
-- No TTL on the set: it lives while MFA is on (disable and account removal
-- delete it) and never holds more than one set.
if redis.call('HGET', KEYS[1], 'mfa') ~= ARGV[1] then
  return 'not_enabled'
end
local last = tonumber(redis.call('HGET', KEYS[1], 'mfa_step') or '-1')
if tonumber(ARGV[2]) <= last then
  return 'replayed'
end
redis.call('HSET', KEYS[1], 'mfa_step', ARGV[2])
redis.call('DEL', KEYS[2])
if #ARGV > 2 then
  redis.call('SADD', KEYS[2], unpack(ARGV, 3))
end
return 'done'
