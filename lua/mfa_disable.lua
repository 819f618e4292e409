-- mfa_disable.lua — turn MFA off, given a valid code for the active secret.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:recovery
-- ARGV[1]  sealed active secret the code was checked against
-- ARGV[2]  the TOTP time step the code matched
-- Returns  "not_enabled" when MFA is off (or the account is missing), or the
--          active secret differs from ARGV[1] (it changed meanwhile);
--          "replayed" when ARGV[2] <= mfa_step;
--          "done": field mfa and the recovery codes deleted.
--
-- mfa_step is kept (not reset, not advanced), so no step accepted before can
-- be accepted again after a later enable.
if redis.call('HGET', KEYS[1], 'mfa') ~= ARGV[1] then
  return 'not_enabled'
end
local last = tonumber(redis.call('HGET', KEYS[1], 'mfa_step') or '-1')
if tonumber(ARGV[2]) <= last then
  return 'replayed'
end
redis.call('HDEL', KEYS[1], 'mfa')
redis.call('DEL', KEYS[2])
return 'done'
