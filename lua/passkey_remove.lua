-- passkey_remove.lua — remove one passkey of an account.
--
-- KEYS[1]  P{A}:passkeys   HASH credential id (base64url) -> record (JSON)
-- ARGV[1]  credential id (base64url)
-- Returns  1 removed, 0 the account has no such passkey
return redis.call('HDEL', KEYS[1], ARGV[1])
