-- account_create.lua — registration step 1: write a provisional account.
--
-- KEYS[1]  P{A}:account
-- ARGV[1]  account id        ARGV[2]  email (normalized)   ARGV[3]  password (PHC string)
-- ARGV[4]  active "0" | "1"  ARGV[5]  created_at (unix ms) ARGV[6]  provisional TTL (ms)
-- Returns  1 when written; 0 when the key already exists (nothing changed).
--
-- ready=0 plus a TTL: if registration dies before account_confirm.lua, the
-- account vanishes by itself and can never block a later registration.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'email', ARGV[2], 'password', ARGV[3],
  'active', ARGV[4], 'ready', '0', 'created_at', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
