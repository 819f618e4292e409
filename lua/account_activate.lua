-- account_activate.lua — activate an account without a ticket (the admin API).
--
-- KEYS[1]  P{A}:account
-- ARGV     none
-- Returns  1 when the account exists (it is active now); 0 when it is missing or provisional.
local ready = redis.call('HGET', KEYS[1], 'ready')
if ready ~= '1' then
  return 0
end
redis.call('HSET', KEYS[1], 'active', '1')
return 1
