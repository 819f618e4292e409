-- ticket_activate.lua — spend an "activate" ticket and activate the account.
--
-- KEYS[1]  P{A}:ticket:<id>
-- KEYS[2]  P{A}:account
-- ARGV     none
-- Returns  1 when spent and the account is active; 0 when the ticket is
--          unknown, expired, already spent or of another purpose, or the
--          account is gone, or its email or credential version (`cv`) is no
--          longer the one the ticket was issued for.
--
-- A ticket of another purpose is left alone: presenting it at the wrong
-- endpoint must not burn it for the right one.
local t = redis.call('HMGET', KEYS[1], 'purpose', 'email', 'cv')
if t[1] ~= 'activate' then
  return 0
end
redis.call('DEL', KEYS[1])
local a = redis.call('HMGET', KEYS[2], 'ready', 'email', 'cv')
if a[1] ~= '1' or a[2] ~= t[2] or (a[3] or '0') ~= t[3] then
  return 0
end
redis.call('HSET', KEYS[2], 'active', '1')
return 1
