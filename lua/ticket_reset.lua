-- ticket_reset.lua — spend a "reset" ticket: new password, account active,
-- every session revoked.
--
-- KEYS[1]  P{A}:ticket:T
-- KEYS[2]  P{A}:account
-- KEYS[3]  P{A}:sessions
-- ARGV[1]  new password (PHC string)
-- ARGV[2]  session key prefix "P{A}:session:"; session hashes are named from it
--          (same hash tag as KEYS, so still a single slot in Redis Cluster)
-- Returns  1 when done; 0 when the ticket is unknown, expired, already spent or
--          of another purpose (left alone), or the account is gone.
--
-- Activating is right: the ticket proves the mailbox.
if redis.call('HGET', KEYS[1], 'purpose') ~= 'reset' then
  return 0
end
redis.call('DEL', KEYS[1])
if redis.call('HGET', KEYS[2], 'ready') ~= '1' then
  return 0
end
redis.call('HSET', KEYS[2], 'password', ARGV[1], 'active', '1')
for _, family in ipairs(redis.call('ZRANGE', KEYS[3], 0, -1)) do
  redis.call('DEL', ARGV[2] .. family)
end
redis.call('DEL', KEYS[3])
return 1
