-- passkey_use.lua — record a verified passkey sign-in: the signature counter moves forward
-- (compare-and-set), last_used_at and backed_up are updated.
--
-- KEYS[1]  P{A}:passkeys   HASH credential id (base64url) -> record (JSON)
-- ARGV[1]  credential id (base64url)
-- ARGV[2]  the assertion's signature counter
-- ARGV[3]  now (unix ms)
-- ARGV[4]  backed_up: "true" or "false"
-- Returns  1 recorded; 0 no such passkey (removed meanwhile); -1 the counter did not move
--          forward (a cloned authenticator, or a replayed or concurrent assertion): nothing changes
--
-- The record is written by store/passkeys.rs and starts, always in this order, with
-- {"counter":<n>,"last_used_at":<ms or null>,"backed_up":<true|false>, — the fields this script
-- owns; the rest (name, created_at, the serialized passkey) is kept byte for byte. An
-- authenticator without a counter sends 0 every time: 0 after 0 is accepted, as WebAuthn says.
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then
  return 0
end
local counter, rest = string.match(record,
  '^{"counter":(%d+),"last_used_at":[%dnul]+,"backed_up":%a+,(.*)$')
if not counter then
  return redis.error_reply('passkey record of unexpected shape')
end
local stored, presented = tonumber(counter), tonumber(ARGV[2])
if (presented > 0 or stored > 0) and presented <= stored then
  return -1
end
redis.call('HSET', KEYS[1], ARGV[1], '{"counter":' .. ARGV[2] .. ',"last_used_at":' .. ARGV[3] ..
  ',"backed_up":' .. ARGV[4] .. ',' .. rest)
return 1
