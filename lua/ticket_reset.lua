-- ticket_reset.lua — spend a "reset" ticket: new password, account active,
-- credential version bumped, every session and MFA login ticket revoked.
--
-- KEYS[1]  P{A}:ticket:<id>
-- KEYS[2]  P{A}:account
-- KEYS[3]  P{A}:sessions
-- KEYS[4]  P{A}:reset_ticket   id of the account's newest reset ticket
-- KEYS[5]  P{A}:mfa_tickets    the account's MFA login ticket ids (set or zset)
-- ARGV[1]  new password (PHC string)
-- ARGV[2]  session key prefix "P{A}:session:"; session hashes are named from it
-- ARGV[3]  ticket id <id> (a keyed MAC of the ticket)
-- ARGV[4]  ticket key prefix "P{A}:ticket:"; MFA ticket records are named from it
--          (both prefixes the same hash tag as KEYS, so still a single slot in
--          Redis Cluster)
-- Returns  1 when done; 0 when the ticket is unknown, expired, already spent or
--          of another purpose (left alone), or the account is gone, or the
--          ticket is no longer good: the account's email or credential version
--          (`cv`) changed since it was issued, or a newer reset ticket exists.
--
-- Activating is right: the ticket proves the mailbox. Bumping `cv` kills every
-- other ticket and in-flight sign-in made with the old password; the MFA login
-- tickets (issued after the old password) are deleted here.
local t = redis.call('HMGET', KEYS[1], 'purpose', 'email', 'cv')
if t[1] ~= 'reset' then
  return 0
end
redis.call('DEL', KEYS[1])
local a = redis.call('HMGET', KEYS[2], 'ready', 'email', 'cv')
if a[1] ~= '1' or a[2] ~= t[2] or (a[3] or '0') ~= t[3] then
  return 0
end
if redis.call('GET', KEYS[4]) ~= ARGV[3] then
  return 0
end
redis.call('DEL', KEYS[4])
redis.call('HSET', KEYS[2], 'password', ARGV[1], 'active', '1')
redis.call('HINCRBY', KEYS[2], 'cv', 1)
for _, family in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  redis.call('DEL', ARGV[2] .. family)
end
redis.call('DEL', KEYS[3])
-- The MFA ticket index: a set of ids, or a sorted set of them (scored by
-- creation) where tickets are capped per account; its members name records.
local kind = redis.call('TYPE', KEYS[5])
if type(kind) == 'table' then
  kind = kind.ok
end
local tickets = {}
if kind == 'zset' then
  tickets = redis.call('ZRANGE', KEYS[5], 0, -1)
elseif kind == 'set' then
  tickets = redis.call('SMEMBERS', KEYS[5])
end
for _, ticket in ipairs(tickets) do
  redis.call('DEL', ARGV[4] .. ticket)
end
redis.call('DEL', KEYS[5])
return 1
