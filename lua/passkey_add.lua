-- passkey_add.lua — store a newly registered passkey of an account, within the cap.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:passkeys   HASH credential id (base64url) -> record (JSON)
-- ARGV[1]  credential id (base64url)
-- ARGV[2]  record (JSON)
-- ARGV[3]  cap: passkeys an account may have
-- Returns  1 stored; 0 the account does not exist or is locked (a registration begun before
--          the lock finishes nothing); -1 the cap is reached; -2 this credential is
--          already registered to the account
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('HGET', KEYS[1], 'locked') == '1' then
  return 0
end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then
  return -2
end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[3]) then
  return -1
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
