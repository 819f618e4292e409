-- ticket_create.lua — the authoritative record of a single-use ticket.
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:ticket:T
-- ARGV[1]  purpose "activate" | "reset"   ARGV[2]  TTL (ms)
-- Returns  1 when created; 0 when the account is missing or not ready.
if redis.call('HGET', KEYS[1], 'ready') ~= '1' then
  return 0
end
redis.call('HSET', KEYS[2], 'purpose', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
