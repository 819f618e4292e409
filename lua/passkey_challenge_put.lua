-- passkey_challenge_put.lua — keep the state of a passkey ceremony (registration or sign-in)
-- until its finish, single use, under a TTL.
--
-- KEYS[1]  P{A}:passkey_reg:<challenge id>      (registration: the account's slot), or
--          Ppasskey_login:{<digest of the challenge id>}   (sign-in: a slot of its own)
-- KEYS[2]  P{A}:account   (registration only: the account must exist; the same slot as KEYS[1])
-- ARGV[1]  the ceremony state (JSON, never sent to the client)
-- ARGV[2]  TTL (ms)
-- Returns  1, or 0 when KEYS[2] was given and the account does not exist
if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 0 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
