-- password_replace.lua — compare-and-set of an account's password hash.
--
-- KEYS[1]  P{A}:account
-- ARGV[1]  the PHC string expected now   ARGV[2]  the new PHC string
-- Returns  1 when replaced; 0 when the account is missing, not ready, or its
--          hash changed meanwhile (a concurrent reset wins over a rehash).
if redis.call('HGET', KEYS[1], 'ready') ~= '1' then
  return 0
end
if redis.call('HGET', KEYS[1], 'password') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'password', ARGV[2])
return 1
