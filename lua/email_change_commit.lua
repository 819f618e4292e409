-- email_change_commit.lua — email change step 3 (account slot): spend the
-- ticket and move the account to its new email; or give up the mark.
--
-- KEYS[1]  P{A}:ticket:<id>  (<id>: a keyed MAC of the ticket)
-- KEYS[2]  P{A}:account
-- ARGV[1]  attempt id X
-- ARGV[2]  now (unix ms, from the caller's clock)
-- ARGV[3]  commit window (ms): the mark must be younger than this, which is
--          well under PENDING_MAX (the margin covers clock skew between
--          replicas and a script arriving late)
-- Returns  1 when committed: ticket spent, email = new, mark cleared.
--          0 otherwise (ticket gone or spent, account gone or its email moved
--          or its credential version changed,
--          mark replaced by another attempt or too old): the mark is cleared
--          if it is still this attempt's, the ticket is left alone.
local new = redis.call('HGET', KEYS[1], 'email')
local ok = redis.call('HGET', KEYS[1], 'purpose') == 'email'
  and redis.call('HGET', KEYS[2], 'ready') == '1'
  and redis.call('HGET', KEYS[2], 'email') == redis.call('HGET', KEYS[1], 'old')
  and (redis.call('HGET', KEYS[2], 'cv') or '0') == (redis.call('HGET', KEYS[1], 'cv') or '0')
  and redis.call('HGET', KEYS[2], 'email_pending_id') == ARGV[1]
  and redis.call('HGET', KEYS[2], 'email_pending') == new
  and tonumber(ARGV[2]) - tonumber(redis.call('HGET', KEYS[2], 'email_pending_at')) < tonumber(ARGV[3])
if not ok then
  if redis.call('HGET', KEYS[2], 'email_pending_id') == ARGV[1] then
    redis.call('HDEL', KEYS[2], 'email_pending', 'email_pending_at', 'email_pending_id')
  end
  return 0
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[2], 'email', new)
redis.call('HDEL', KEYS[2], 'email_pending', 'email_pending_at', 'email_pending_id')
return 1
