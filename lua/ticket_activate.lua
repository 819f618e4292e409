-- ticket_activate.lua — spend an "activate" ticket and activate the account.
--
-- KEYS[1]  P{A}:ticket:T
-- KEYS[2]  P{A}:account
-- ARGV     none
-- Returns  1 when spent and the account is active; 0 when the ticket is
--          unknown, expired, already spent or of another purpose, or the
--          account is gone.
--
-- A ticket of another purpose is left alone: presenting it at the wrong
-- endpoint must not burn it for the right one.
if redis.call('HGET', KEYS[1], 'purpose') ~= 'activate' then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[2], 'ready') ~= '1' then
  return 0
end
redis.call('HSET', KEYS[2], 'active', '1')
return 1
