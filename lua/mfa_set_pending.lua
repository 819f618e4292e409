-- mfa_set_pending.lua — store a freshly generated TOTP secret, pending until
-- enabled (replaces any earlier pending one).
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:mfa_pending
-- ARGV[1]  sealed pending secret   ARGV[2]  TTL (ms)
-- Returns  "done" when stored; "already_enabled" when MFA is on (nothing
--          changed); "missing" when the account is missing or not ready.
--
-- Replacing (not refusing) a pending secret means the last generate wins: the
-- QR code the user scanned last is the one that can be enabled.
if redis.call('HGET', KEYS[1], 'ready') ~= '1' then
  return 'missing'
end
if redis.call('HEXISTS', KEYS[1], 'mfa') == 1 then
  return 'already_enabled'
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 'done'
