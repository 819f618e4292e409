-- email_release.lua — compare-and-delete of the email index.
--
-- KEYS[1]  Pemail:<sha256 hex of the normalized email>
-- ARGV[1]  account id expected to hold it
-- Returns  1 when deleted; 0 when absent or held by another account.
--
-- The compare keeps a release (after a removal, or of a stale index) from
-- ever freeing an email that another account has claimed meanwhile.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
