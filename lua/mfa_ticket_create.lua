-- mfa_ticket_create.lua — the authoritative record of an MFA login ticket
-- (issued after a correct password when MFA is on).
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:ticket:<id>
-- KEYS[3]  P{A}:mfa_tickets   set of the account's MFA ticket ids
-- ARGV[1]  TTL (ms)           ARGV[2]  ticket id <id> (a keyed MAC of the ticket,
--          never the ticket)
-- ARGV[3]  ticket key prefix "P{A}:ticket:"; other tickets' records are named
--          from it (same hash tag as KEYS, so still a single slot in Redis Cluster)
-- Returns  1 when created; 0 when the account is missing or not ready.
--
-- Record: purpose "mfa", attempts 0 (wrong codes so far). The id set lets
-- account_remove.lua delete live tickets; members whose record has expired or
-- been spent are pruned here, and the set lives as long as its newest ticket,
-- so it holds at most the tickets still alive.
if redis.call('HGET', KEYS[1], 'ready') ~= '1' then
  return 0
end
redis.call('HSET', KEYS[2], 'purpose', 'mfa', 'attempts', '0')
redis.call('PEXPIRE', KEYS[2], ARGV[1])
for _, ticket in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  if redis.call('EXISTS', ARGV[3] .. ticket) == 0 then
    redis.call('SREM', KEYS[3], ticket)
  end
end
redis.call('SADD', KEYS[3], ARGV[2])
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
end
return 1
