-- email_release_account.lua — delete an email index if it names an account,
-- whatever attempt stamp it carries (used once the account is deleted).
--
-- KEYS[1]  Pemail:<sha256 hex of the normalized email>
-- ARGV[1]  account id
-- Returns  1 when deleted; 0 when absent or held by another account.
--
-- Only for an account that no longer exists: a deleted account never owns an
-- address again (ids are never reused), so no claim of it can be renewed.
-- Anyone else releases by exact value (email_release.lua) after judging it.
local holder = redis.call('GET', KEYS[1])
if holder and (holder == ARGV[1] or string.sub(holder, 1, #ARGV[1] + 1) == ARGV[1] .. ':') then
  return redis.call('DEL', KEYS[1])
end
return 0
