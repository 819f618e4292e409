-- rate_clear.lua — forget one rate-limit counter (the admin API's unthrottle).
--
-- KEYS[1]  Prate:<kind>:<digest of the subject>
-- ARGV     none
-- Returns  1 when a counter was deleted, 0 when there was none.
return redis.call('DEL', KEYS[1])
