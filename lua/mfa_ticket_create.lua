-- mfa_ticket_create.lua — the authoritative record of an MFA login ticket
-- (issued after a correct password when MFA is on).
--
-- KEYS[1]  P{A}:account
-- KEYS[2]  P{A}:ticket:<id>
-- KEYS[3]  P{A}:mfa_tickets   zset of the account's MFA tickets: member = the
--                             ticket's id (a keyed MAC of the ticket, never the
--                             ticket; the record is ARGV[3] .. it), score = creation (ms)
-- ARGV[1]  TTL (ms)           ARGV[2]  ticket id <id>
-- ARGV[3]  ticket key prefix "P{A}:ticket:"; other tickets' records are named
--          from it (same hash tag as KEYS, so still a single slot in Redis Cluster)
-- ARGV[4]  now (unix ms)
-- ARGV[5]  cap: live MFA login tickets kept per account (>= 1); the oldest go
-- ARGV[6]  credential version the password was checked under
-- Returns  1 when created; 0 when the account is missing or not ready, or its
--          credential version (field cv, absent = 0) is no longer ARGV[6] (the
--          password was reset or changed after it was checked), or when the
--          account is locked (field locked = "1").
--
-- Record: purpose "mfa", attempts 0 (wrong codes so far), cv (the credential
-- version, so the second step starts its session only under the same one).
-- Bounded work whatever happened before: entries older than the TTL are cut
-- by score (their records have expired), then entries beyond the cap are
-- evicted oldest first with their records. A key left by an older version
-- as a plain set is dropped (its tickets were issued under the same or an
-- older credential version and expire within the TTL).
local account = redis.call('HMGET', KEYS[1], 'ready', 'cv', 'locked')
if account[1] ~= '1' or (account[2] or '0') ~= ARGV[6] or account[3] == '1' then
  return 0
end
local kind = redis.call('TYPE', KEYS[3])
if type(kind) == 'table' then
  kind = kind.ok
end
if kind ~= 'zset' and kind ~= 'none' then
  redis.call('DEL', KEYS[3])
end
redis.call('HSET', KEYS[2], 'purpose', 'mfa', 'attempts', '0', 'cv', ARGV[6])
redis.call('PEXPIRE', KEYS[2], ARGV[1])
local now = tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. tostring(now - tonumber(ARGV[1])))
redis.call('ZADD', KEYS[3], now, ARGV[2])
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[5])
if excess > 0 then
  -- One more than needed: the new ticket may tie on score and sort first.
  for _, ticket in ipairs(redis.call('ZRANGE', KEYS[3], 0, excess)) do
    if excess > 0 and ticket ~= ARGV[2] then
      redis.call('DEL', ARGV[3] .. ticket)
      redis.call('ZREM', KEYS[3], ticket)
      excess = excess - 1
    end
  end
end
if redis.call('PTTL', KEYS[3]) < tonumber(ARGV[1]) then
  redis.call('PEXPIRE', KEYS[3], ARGV[1])
end
return 1
