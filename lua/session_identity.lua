-- session_identity.lua — read only: the email of a session's account, when
-- the session (refresh family) still exists (what /auth/verify adds to its
-- answer as X-Auth-Email).
--
-- KEYS[1]  P{A}:session:F     KEYS[2]  P{A}:account
-- Returns  the email, or false when the family or the account is gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
return redis.call('HGET', KEYS[2], 'email')
