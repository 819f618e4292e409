-- passkey_challenge_take.lua — spend the state of a passkey ceremony: read and delete it in one
-- step, so of any number of finishes presenting one challenge exactly one gets it.
--
-- KEYS[1]  P{A}:passkey_reg:<challenge id>  or  Ppasskey_login:{<digest of the challenge id>}
-- Returns  the state, or false (nil) when unknown, expired or already spent
local state = redis.call('GET', KEYS[1])
if state then
  redis.call('DEL', KEYS[1])
end
return state
