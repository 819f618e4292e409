-- mfa_login_recovery.lua — the recovery-code step of an MFA login: spend one
-- recovery code and the ticket, or count a wrong try.
--
-- KEYS[1]  P{A}:ticket:T
-- KEYS[2]  P{A}:account
-- KEYS[3]  P{A}:recovery
-- ARGV[1]  max attempts (wrong codes) per ticket, shared with mfa_login_totp.lua
-- ARGV[2..] the presented code's digest under every configured data key
-- Returns  "invalid_ticket" when the record is missing or not purpose "mfa"
--          (left alone), or the account is gone or has MFA off (the record is
--          deleted);
--          "accepted" when one candidate was in the set: that code is removed
--          (single use) and the record deleted;
--          "wrong_code" otherwise: attempts += 1, and the record is deleted
--          once attempts reaches ARGV[1].
if redis.call('HGET', KEYS[1], 'purpose') ~= 'mfa' then
  return 'invalid_ticket'
end
local account = redis.call('HMGET', KEYS[2], 'ready', 'mfa')
if account[1] ~= '1' or not account[2] then
  redis.call('DEL', KEYS[1])
  return 'invalid_ticket'
end
for i = 2, #ARGV do
  if redis.call('SREM', KEYS[3], ARGV[i]) == 1 then
    redis.call('DEL', KEYS[1])
    return 'accepted'
  end
end
if redis.call('HINCRBY', KEYS[1], 'attempts', 1) >= tonumber(ARGV[1]) then
  redis.call('DEL', KEYS[1])
end
return 'wrong_code'
