-- account_confirm.lua — registration step 3: make a provisional account real.
--
-- KEYS[1]  P{A}:account
-- ARGV     none
-- Returns  1 when the account is now ready (idempotent); 0 when it no longer
--          exists (its provisional TTL ran out: the caller releases the index).
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'ready', '1')
redis.call('PERSIST', KEYS[1])
return 1
