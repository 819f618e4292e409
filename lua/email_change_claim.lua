-- email_change_claim.lua — email change step 2 (new address's index slot):
-- claim the index for the account, stamped with the attempt.
--
-- KEYS[1]  Pemail:<sha256 hex of the new email>
-- ARGV[1]  account id A
-- ARGV[2]  the value to write: "A:X" (X = the attempt id)
-- Returns  the value the index holds afterwards: ARGV[2] when claimed,
--          otherwise the other holder's value (untouched).
--
-- Free, or held by A already (its own earlier attempt, or a stale index left
-- from an address A had before) → written with this attempt's stamp. Always
-- rewriting, even when A holds it, is what makes stale-index deletion safe:
-- a deleter compares the exact value it judged, so a claim renewed after the
-- judgement is never deleted (see src/store/email.rs). A holder value is
-- either "<id>" (registration) or "<id>:<attempt>" (an email change).
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and string.sub(holder, 1, #ARGV[1] + 1) ~= ARGV[1] .. ':' then
  return holder
end
redis.call('SET', KEYS[1], ARGV[2])
return ARGV[2]
