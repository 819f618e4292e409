-- email_change_abort.lua — give up an email change attempt (account slot):
-- clear the account's mark if it is still this attempt's.
--
-- KEYS[1]  P{A}:account
-- ARGV[1]  attempt id X
-- Returns  1 when the mark was cleared; 0 when it belongs to another attempt
--          (or there is none), which is then left alone.
--
-- Used when the new address turned out to be taken. The ticket stays
-- unspent: the address may be free again before the ticket expires.
if redis.call('HGET', KEYS[1], 'email_pending_id') ~= ARGV[1] then
  return 0
end
redis.call('HDEL', KEYS[1], 'email_pending', 'email_pending_at', 'email_pending_id')
return 1
