-- account_unlock.lua — unlock an account: sign-ins work again (the sessions
-- the lock ended stay ended).
--
-- KEYS[1]  P{A}:account
-- Returns  1, or 0 when the account does not exist.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HDEL', KEYS[1], 'locked', 'locked_reason', 'locked_at')
return 1
