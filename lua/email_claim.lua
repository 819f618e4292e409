-- email_claim.lua — registration step 2: claim the email index for an account.
--
-- KEYS[1]  Pemail:<sha256 hex of the normalized email>
-- ARGV[1]  account id claiming it
-- Returns  the account id the index holds afterwards: ARGV[1] when claimed
--          (or already ours), otherwise the current holder's id.
--
-- No TTL: the index lives as long as its account. A holder whose account is
-- missing is stale; the caller releases it with email_release.lua. SET NX then
-- GET: the same two commands whether the email is free or taken.
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('GET', KEYS[1])
