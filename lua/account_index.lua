-- account_index.lua — add account ids to, or remove them from, one shard of the account index.
--
-- KEYS[1]  P{account_index:<h>}    ZSET, every score 0, member = account id whose first hex
--                                  digit is <h> (walked in id order with ZRANGEBYLEX)
-- ARGV[1]  "add" | "remove"
-- ARGV[2…] account ids (all of this shard)
-- Returns  how many members were added or removed.
--
-- The index lets the admin API list every account a page at a time, exactly once, without
-- SCAN (which may return a key twice while Redis rehashes). Registration adds the id before it
-- writes the account, removal takes it out after deleting the account: every account is always
-- indexed; an id whose account is gone (a registration that died half-way) is skipped on read.
local n = 0
for i = 2, #ARGV do
  if ARGV[1] == 'add' then
    n = n + redis.call('ZADD', KEYS[1], 0, ARGV[i])
  else
    n = n + redis.call('ZREM', KEYS[1], ARGV[i])
  end
end
return n
