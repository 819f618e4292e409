-- mfa_login_totp.lua — the TOTP step of an MFA login: spend the ticket on a
-- right code, count a wrong one.
--
-- KEYS[1]  P{A}:ticket:T
-- KEYS[2]  P{A}:account
-- ARGV[1]  sealed active secret the code was checked against
-- ARGV[2]  the TOTP time step the code matched; "" when it matched none
-- ARGV[3]  max attempts (wrong codes) per ticket
-- Returns  "invalid_ticket" when the record is missing or not purpose "mfa"
--          (left alone), or the account is gone, has MFA off, or an active
--          secret other than ARGV[1] (MFA changed meanwhile: the record is
--          deleted);
--          "wrong_code" when no step matched, "replayed" when the step is
--          <= mfa_step (a code already used, or an older one): either way
--          attempts += 1, and the record is deleted once attempts reaches
--          ARGV[3] (the next try is "invalid_ticket");
--          "accepted": record deleted (single use), mfa_step = ARGV[2].
if redis.call('HGET', KEYS[1], 'purpose') ~= 'mfa' then
  return 'invalid_ticket'
end
local account = redis.call('HMGET', KEYS[2], 'ready', 'mfa', 'mfa_step')
if account[1] ~= '1' or account[2] ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 'invalid_ticket'
end
local step = tonumber(ARGV[2])
if not step or step <= tonumber(account[3] or '-1') then
  if redis.call('HINCRBY', KEYS[1], 'attempts', 1) >= tonumber(ARGV[3]) then
    redis.call('DEL', KEYS[1])
  end
  if step then
    return 'replayed'
  end
  return 'wrong_code'
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'mfa_step', ARGV[2])
return 'accepted'
